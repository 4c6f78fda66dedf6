//! Signed-in sessions. What a session is — its account, when it began, when it was last used
//! (to within five minutes), which step of signing in is pending — is kept in the ledger
//! (`kiroku_access::session`), so that every server process sharing the database knows it and
//! a restart signs nobody out; each use reads it there, so a sign-out or a suspension anywhere
//! ends it at once everywhere. A session is a random token in a cookie whose SHA-256 names it;
//! the token every form must echo (CSRF) is derived from it. Sessions end on sign-out, after 30
//! idle minutes, after 12 hours whatever happens, when the account signs out everywhere, and at
//! once when the account is suspended. What changes on every request and matters for a minute
//! (a WebAuthn challenge, an authenticator offered for enrolment) is held here, in this
//! process's memory, and a restart forgets it.
use kiroku_core::{AccountId, Timestamp};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::sync::Mutex;

/// Idle time after which a session ends, in seconds.
pub const IDLE_S: i64 = 30 * 60;
/// Time after which a session ends whatever happens, in seconds.
pub const ABSOLUTE_S: i64 = 12 * 3600;
/// Most sessions held at once (the oldest are dropped beyond it).
pub const SESSIONS_MAX: usize = 10_000;

/// One signed-in session.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Session {
    /// Who.
    pub account: AccountId,
    /// When it began.
    pub created: Timestamp,
    /// When it was last used.
    pub last_seen: Timestamp,
    /// The token every form of this session must carry.
    pub csrf: String,
    /// Signed in with the initial secret: only choosing a password is allowed.
    pub must_change: bool,
    /// A step of signing in still to take.
    pub pending: Pending,
    /// The TOTP secret offered for enrolment, until a code made with it confirms it.
    pub offered_factor: Option<Vec<u8>>,
    /// The WebAuthn challenge last given to the session, until it is answered (once).
    pub challenge: Option<Challenge>,
}

/// A WebAuthn challenge given to a session: good once, for one ceremony, for five minutes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Challenge {
    /// The random bytes.
    pub bytes: Vec<u8>,
    /// What it is for.
    pub purpose: Purpose,
    /// When it was given.
    pub issued: Timestamp,
}

/// What a WebAuthn challenge is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Purpose {
    /// Registering a passkey.
    Register,
    /// The second step of signing in.
    SignIn,
}

/// Seconds a WebAuthn challenge stays good.
pub const CHALLENGE_S: i64 = 5 * 60;

/// A step of signing in the session must take before anything else.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum Pending {
    /// None: the session may do what its account may.
    #[default]
    Nothing,
    /// The password was right; the second factor's code is still to come.
    SecondFactor,
    /// A second factor must be enrolled.
    Enrol,
}

impl Session {
    /// Where the session must go before anything else, if anywhere: choosing a password, the
    /// second factor's code, or enrolling one.
    pub fn must_go(&self) -> Option<&'static str> {
        // The code first (an account with a factor proves both before anything else), then
        // the first password, then enrolment.
        if self.pending == Pending::SecondFactor {
            return Some("/sign-in/second-factor");
        }
        if self.must_change {
            return Some("/me/password");
        }
        match self.pending {
            Pending::Enrol => Some("/me/second-factor"),
            Pending::Nothing | Pending::SecondFactor => None,
        }
    }
}

impl Pending {
    /// The step as the ledger keeps it.
    pub fn as_str(&self) -> &'static str {
        match self {
            Pending::Nothing => "nothing",
            Pending::SecondFactor => "second-factor",
            Pending::Enrol => "enrol",
        }
    }

    /// The step of its kept name (an unknown one asks for the second factor: the safe side).
    pub fn parse(text: &str) -> Pending {
        match text {
            "nothing" => Pending::Nothing,
            "enrol" => Pending::Enrol,
            _ => Pending::SecondFactor,
        }
    }
}

/// The name a session is kept under: the SHA-256 of its token, in lower-case hex.
pub fn session_id(token: &str) -> String {
    key(token).iter().map(|b| format!("{b:02x}")).collect()
}

/// The token a session's forms must echo, derived from the session's own token (so that every
/// process knows it without keeping it): unguessable without the token, and not the token.
pub fn csrf_of(token: &str) -> String {
    Sha256::digest(format!("kiroku-csrf\0{token}").as_bytes())
        .iter()
        .take(16)
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Is a session that began at `created` and was last recorded as used at `seen` still alive
/// at `now`?
pub fn alive(created: Timestamp, seen: Timestamp, now: Timestamp) -> bool {
    let idle = now.micros() - seen.micros();
    let age = now.micros() - created.micros();
    idle < IDLE_S * 1_000_000 && age < ABSOLUTE_S * 1_000_000
}

impl Session {
    fn alive(&self, now: Timestamp) -> bool {
        let idle = now.micros() - self.last_seen.micros();
        let age = now.micros() - self.created.micros();
        idle < IDLE_S * 1_000_000 && age < ABSOLUTE_S * 1_000_000
    }
}

fn key(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

/// The sessions of a running server.
#[derive(Debug, Default)]
pub struct Sessions {
    held: Mutex<HashMap<[u8; 32], Session>>,
}

impl Sessions {
    fn with<T>(&self, work: impl FnOnce(&mut HashMap<[u8; 32], Session>) -> T) -> T {
        // A panic while holding the lock cannot leave a session half-made: every change below
        // is one insert or remove.
        let mut held = self.held.lock().unwrap_or_else(|e| e.into_inner());
        work(&mut held)
    }

    /// Starts a session under `token`.
    pub fn start(&self, token: &str, session: Session) {
        self.with(|held| {
            if held.len() >= SESSIONS_MAX {
                let now = session.created;
                held.retain(|_, s| s.alive(now));
                if held.len() >= SESSIONS_MAX {
                    if let Some(oldest) = held
                        .iter()
                        .min_by_key(|(_, s)| s.last_seen)
                        .map(|(k, _)| *k)
                    {
                        held.remove(&oldest);
                    }
                }
            }
            held.insert(key(token), session);
        });
    }

    /// The live session of `token` at `now`, marked used; an expired one is ended.
    pub fn touch(&self, token: &str, now: Timestamp) -> Option<Session> {
        self.with(|held| {
            let k = key(token);
            let alive = held.get(&k).is_some_and(|s| s.alive(now));
            if !alive {
                held.remove(&k);
                return None;
            }
            let session = held.get_mut(&k)?;
            session.last_seen = now;
            Some(session.clone())
        })
    }

    /// The session of `token` as this process holds it, if it does.
    pub fn get(&self, token: &str) -> Option<Session> {
        self.with(|held| held.get(&key(token)).cloned())
    }

    /// Holds `session` for `token` (replacing what was held), keeping what only this process
    /// knows of it (a challenge, an authenticator offered).
    pub fn hold(&self, token: &str, mut session: Session) {
        if let Some(held) = self.get(token) {
            session.offered_factor = held.offered_factor;
            session.challenge = held.challenge;
        }
        self.start(token, session);
    }

    /// Changes the session of `token` (if alive) with `change`.
    pub fn update(&self, token: &str, change: impl FnOnce(&mut Session)) -> bool {
        self.with(|held| match held.get_mut(&key(token)) {
            Some(s) => {
                change(s);
                true
            }
            None => false,
        })
    }

    /// Takes the challenge the session of `token` was given for `purpose`, if it is still good
    /// at `now`: a challenge is answered once, right or wrong.
    pub fn take_challenge(&self, token: &str, purpose: Purpose, now: Timestamp) -> Option<Vec<u8>> {
        self.with(|held| {
            let session = held.get_mut(&key(token))?;
            let challenge = session.challenge.take()?;
            let age = now.micros() - challenge.issued.micros();
            (challenge.purpose == purpose && (0..CHALLENGE_S * 1_000_000).contains(&age))
                .then_some(challenge.bytes)
        })
    }

    /// Ends the session of `token`; returns its account.
    pub fn end(&self, token: &str) -> Option<AccountId> {
        self.with(|held| held.remove(&key(token)).map(|s| s.account))
    }

    /// Ends every session of `account`; returns how many.
    pub fn end_all(&self, account: &AccountId) -> usize {
        self.with(|held| {
            let before = held.len();
            held.retain(|_, s| &s.account != account);
            before - held.len()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(seconds: i64) -> Timestamp {
        Timestamp::from_micros(1_800_000_000_000_000 + seconds * 1_000_000).unwrap()
    }

    fn session(account: &str, created: i64) -> Session {
        Session {
            account: AccountId::parse(account).unwrap(),
            created: at(created),
            last_seen: at(created),
            csrf: "c".into(),
            must_change: false,
            pending: Pending::Nothing,
            offered_factor: None,
            challenge: None,
        }
    }

    // Shows the session rules: a session lives while used within 30 minutes, never past 12
    // hours, ends on sign-out, and all of an account's sessions end together.
    #[test]
    fn idle_and_absolute_expiry() {
        let sessions = Sessions::default();
        sessions.start("t1", session("sato.hanako", 0));
        assert!(sessions.touch("t1", at(IDLE_S - 1)).is_some());
        assert!(
            sessions.touch("t1", at(2 * IDLE_S - 2)).is_some(),
            "use renews it"
        );
        assert!(
            sessions.touch("t1", at(3 * IDLE_S)).is_none(),
            "idle too long"
        );
        assert!(sessions.touch("t1", at(3 * IDLE_S)).is_none(), "and gone");
        sessions.start("t2", session("sato.hanako", 0));
        let mut t = 0;
        while t + IDLE_S / 2 < ABSOLUTE_S {
            t += IDLE_S / 2;
            assert!(sessions.touch("t2", at(t)).is_some(), "{t}");
        }
        assert!(
            sessions.touch("t2", at(ABSOLUTE_S)).is_none(),
            "12 hours at most"
        );
        sessions.start("t3", session("sato.hanako", 0));
        sessions.start("t4", session("sato.hanako", 0));
        sessions.start("t5", session("ito.kei", 0));
        assert_eq!(
            sessions.end_all(&AccountId::parse("sato.hanako").unwrap()),
            2
        );
        assert!(sessions.touch("t5", at(1)).is_some());
        assert_eq!(
            sessions.end("t5").map(|a| a.to_string()),
            Some("ito.kei".into())
        );
        assert!(sessions.touch("t5", at(1)).is_none());
        assert!(sessions.touch("unknown", at(1)).is_none());
    }
}
