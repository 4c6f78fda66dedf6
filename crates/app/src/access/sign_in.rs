//! Signing in and out, choosing a password, and the one-time initial secret an ID is issued
//! with. A sign-in attempt on an existing account is an entry whatever its outcome, made under
//! the account's sign-in stream so concurrent attempts are counted one by one; the lockout
//! ([`kiroku_access::lockout`]) refuses attempts unchecked while it holds. An attempt on an id
//! that does not exist writes nothing, but costs the same Argon2 time, so the answer does not
//! tell which ids exist.

use crate::access::sessions::{csrf_of, session_id, Pending, Session};
use crate::access::Access;
use crate::config::SecondFactor;
use crate::rows::{decoded, first};
use crate::{blocking, Error, Result};
use kiroku_access::account::{AccountState, Profile, Status};
use kiroku_access::credential::{self, Credential, CredentialKind, Outcome, SignInState};
use kiroku_access::lockout::Verdict;
use kiroku_access::password;
use kiroku_core::{AccountId, Actor, Conflict, Date, Draft, Entropy, Request, Timestamp};
use kiroku_store::read;
use kiroku_store::writer::AppendError;
use kiroku_store::Store;
use std::sync::Arc;

/// Letters of initial secrets and session tokens' visible parts: no 0/O, 1/I/L.
const SECRET_ALPHABET: &[u8] = b"ABCDEFGHJKMNPQRSTUVWXYZ23456789";
/// How often an attempt is retried when another attempt on the account won the race.
pub(crate) const ATTEMPT_RETRIES_MAX: usize = 4;

/// A hash no one knows the secret of, checked for attempts on ids that do not exist so they
/// cost the same Argon2 time as real ones. Made once, from a secret drawn and dropped.
pub(crate) fn decoy_hash() -> &'static str {
    static DECOY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DECOY.get_or_init(|| {
        let entropy = kiroku_store::system::OsEntropy;
        let mut secret = [0u8; 32];
        entropy.fill(&mut secret);
        let secret: String = secret.iter().map(|b| format!("{b:02x}")).collect();
        password::hash(&secret, &entropy).unwrap_or_default()
    })
}

/// A new one-time initial secret: 16 letters and digits in four groups (about 79 bits).
pub fn new_secret(entropy: &dyn Entropy) -> String {
    let mut bytes = [0u8; 16];
    entropy.fill(&mut bytes);
    let letters: Vec<char> = bytes
        .iter()
        .map(|b| char::from(SECRET_ALPHABET[usize::from(*b) % SECRET_ALPHABET.len()]))
        .collect();
    letters
        .chunks(4)
        .map(|c| c.iter().collect::<String>())
        .collect::<Vec<_>>()
        .join("-")
}

/// A new session token: 32 random bytes, URL-safe base64.
pub(crate) fn new_token(entropy: &dyn Entropy) -> String {
    use base64::Engine as _;
    let mut bytes = [0u8; 32];
    entropy.fill(&mut bytes);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// The entry recording the state of the session of `token` (`begins`: it begins with it).
pub(crate) fn session_draft(token: &str, session: &Session, begins: bool) -> Draft {
    kiroku_access::session::state(
        &session_id(token),
        session.account.as_str(),
        (!begins).then_some(session.created),
        session.must_change,
        session.pending.as_str(),
    )
}

/// The account acting on its own sessions.
fn actor_of(account: &AccountId) -> Actor {
    Actor {
        account: account.clone(),
        session: Some("web".into()),
    }
}

/// A signed-in session's token and what it may do.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignedIn {
    /// The session token (for the cookie).
    pub token: String,
    /// The account.
    pub account: AccountId,
    /// The CSRF token its forms carry.
    pub csrf: String,
    /// Signed in with the initial secret: a password must be chosen first.
    pub must_change: bool,
    /// Where the session must go first, if anywhere (choose a password, give the second
    /// factor's code, enrol one).
    pub next: Option<&'static str>,
}

/// What an attempt needs to know of the account.
pub(crate) struct Standing {
    pub state: AccountState,
    pub profile: Profile,
    pub credential: Credential,
    pub sign_in: SignInState,
    /// A TOTP or at least one passkey is enrolled.
    pub has_factor: bool,
}

/// Does `secret` match the credential of `found` (its sealed hash opened with `key`)? An
/// account that is not found is checked against the decoy hash, and a locked one is not
/// checked at all, so that neither answers sooner than a real check: a guesser learns nothing.
pub(crate) fn secret_matches(
    key: &[u8; crate::access::factors::KEY_BYTES],
    account: &str,
    found: Option<&Standing>,
    secret: &str,
    now: Timestamp,
) -> Result<bool> {
    let hash = match found {
        Some(f) => crate::access::factors::opened_hash(key, account, &f.credential.hash)?,
        None => decoy_hash().to_owned(),
    };
    let locked = found.is_some_and(|f| f.sign_in.lockout.verdict(now) != Verdict::Open);
    Ok(!locked && password::verify(secret, &hash))
}

pub(crate) fn standing(store: &Store, account: &str) -> Result<Option<Standing>> {
    let Some(state) = first(store, &AccountState::query(account), AccountState::from_row)? else {
        return Ok(None);
    };
    let Some(credential) = first(store, &Credential::query(account), Credential::from_row)? else {
        return Ok(None);
    };
    let profile = first(store, &Profile::query(account), Profile::from_row)?
        .ok_or_else(|| Error::Corrupt(format!("account {account} has no profile")))?;
    let sign_in =
        first(store, &SignInState::query(account), SignInState::from_row)?.unwrap_or_default();
    Ok(Some(Standing {
        state,
        profile,
        credential,
        sign_in,
        has_factor: crate::access::factors::has_any(store, account)?,
    }))
}

/// Is the account usable today?
pub(crate) fn usable(state: &AccountState, profile: &Profile, now: Timestamp) -> bool {
    state.status == Status::Active && profile.valid_on(Date::in_japan(now))
}

impl Access<'_> {
    /// Signs `account` in with `secret` (its password, or its initial secret before the first
    /// sign-in). Every attempt on an existing account is recorded.
    pub async fn sign_in(self, account: &str, secret: &str) -> Result<SignedIn> {
        let id = AccountId::parse(account)
            .map_err(|_| Error::Access(crate::access::Error::SignInFailed))?;
        for _ in 0..ATTEMPT_RETRIES_MAX {
            let store: Arc<Store> = self.app.store().clone();
            let now = self.app.now()?;
            let (who, secret_owned) = (id.to_string(), secret.to_owned());
            let key = self.factor_key()?;
            let (found, matches, kept) = self
                .app
                .hashing(move || {
                    // A system client signs in at the token endpoint only: here it is no account.
                    let found = standing(&store, &who)?
                        .filter(|f| f.profile.job_type != kiroku_access::client::CLIENT_JOB_TYPE);
                    let matches = secret_matches(&key, &who, found.as_ref(), &secret_owned, now)?;
                    // The account's sessions as kept, so that a new one ends those expired.
                    let kept = match &found {
                        Some(_) => crate::rows::all(
                            &store,
                            &kiroku_access::session::Kept::of_account(&who),
                            kiroku_access::session::Kept::from_row,
                        )?,
                        None => Vec::new(),
                    };
                    Ok((found, matches, kept))
                })
                .await?;
            let Some(found) = found else {
                return Err(Error::Access(crate::access::Error::SignInFailed));
            };
            let outcome = match found.sign_in.lockout.verdict(now) {
                Verdict::Locked(_) => Outcome::Locked,
                Verdict::Open if !matches => Outcome::Failure,
                Verdict::Open if !usable(&found.state, &found.profile, now) => Outcome::Inactive,
                Verdict::Open => Outcome::Success,
            };
            // With a second factor enrolled, a right password is only the first step: the
            // attempt is recorded when the code comes (so the password step cannot reset the
            // count of wrong codes).
            let two_steps = outcome == Outcome::Success && found.has_factor;
            let (mut request, lockout) =
                credential::attempt(id.as_str(), found.sign_in, outcome, now);
            // A session begins in the same request as the successful attempt (alone, when the
            // attempt waits for the second factor).
            let begun = (outcome == Outcome::Success).then(|| {
                let token = new_token(self.app.entropy().as_ref());
                let must_change = found.credential.kind == CredentialKind::Initial;
                let pending = if two_steps {
                    Pending::SecondFactor
                } else if !must_change && self.app.config.second_factor == SecondFactor::Required {
                    Pending::Enrol
                } else {
                    Pending::Nothing
                };
                let session = Session {
                    account: id.clone(),
                    created: now,
                    last_seen: now,
                    csrf: csrf_of(&token),
                    must_change,
                    pending,
                    offered_factor: None,
                    challenge: None,
                };
                (token, session)
            });
            if let Some((token, session)) = &begun {
                let draft = session_draft(token, session, true);
                if two_steps {
                    request = Request::one(draft);
                } else {
                    request.drafts.push(draft);
                }
                // Sessions of the account that expired unended go now.
                for expired in kept
                    .iter()
                    .filter(|k| !crate::access::sessions::alive(k.created, k.seen, now))
                {
                    request.drafts.push(kiroku_access::session::end(
                        actor_of(&id),
                        id.as_str(),
                        Some(&expired.session),
                    ));
                }
            }
            match self.app.writer().append(request).await {
                Ok(_) => {}
                // Another attempt on this account won the race: count this one after it.
                Err(AppendError::Conflict(Conflict::Version { .. })) => continue,
                Err(e) => return Err(e.into()),
            }
            return match outcome {
                Outcome::Success => {
                    let Some((token, session)) = begun else {
                        return Err(Error::Corrupt("a sign-in without its session".into()));
                    };
                    let (csrf, must_change) = (session.csrf.clone(), session.must_change);
                    let next = session.must_go();
                    self.app.sessions().hold(&token, session);
                    Ok(SignedIn {
                        token,
                        account: id,
                        csrf,
                        must_change,
                        next,
                    })
                }
                Outcome::Failure => match lockout.until {
                    Some(until) if lockout.failures == 0 => {
                        Err(Error::Access(crate::access::Error::Locked(until)))
                    }
                    _ => Err(Error::Access(crate::access::Error::SignInFailed)),
                },
                Outcome::Locked => Err(Error::Access(crate::access::Error::Locked(
                    lockout.until.unwrap_or(now),
                ))),
                Outcome::Inactive => Err(Error::Access(crate::access::Error::AccountInactive)),
            };
        }
        Err(Error::Unavailable(
            "too many concurrent sign-in attempts".into(),
        ))
    }

    /// The live session of `token`, as the actor it acts as, read from the ledger's record of
    /// sessions (so a sign-out or suspension by any process counts at once, and a restart
    /// signs nobody out). Ends it if it has expired or its account is no longer usable
    /// (suspended, deactivated, past its validity). Its use is recorded at most every five
    /// minutes.
    pub async fn session(self, token: &str) -> Result<(Actor, Session)> {
        let now = self.app.now()?;
        let store = self.app.store().clone();
        let id = session_id(token);
        let found = blocking(move || {
            let Some(kept) = first(
                &store,
                &kiroku_access::session::Kept::query(&id),
                kiroku_access::session::Kept::from_row,
            )?
            else {
                return Ok(None);
            };
            let state = first(
                &store,
                &AccountState::query(&kept.account),
                AccountState::from_row,
            )?;
            let profile = first(&store, &Profile::query(&kept.account), Profile::from_row)?;
            let usable = matches!((state, profile), (Some(s), Some(p)) if usable(&s, &p, now));
            Ok(Some((kept, usable)))
        })
        .await?;
        let Some((kept, still)) = found else {
            self.app.sessions().end(token);
            return Err(Error::Unauthorized);
        };
        let account = AccountId::parse(&kept.account)
            .map_err(|_| Error::Corrupt("a session's account".into()))?;
        // Refused without a write: a refused request writes nothing. (A suspension ends the
        // account's sessions in its own request; an expired session's row goes when its
        // account next signs in.)
        if !still {
            self.app.sessions().end_all(&account);
            return Err(Error::Unauthorized);
        }
        if !crate::access::sessions::alive(kept.created, kept.seen, now) {
            self.app.sessions().end(token);
            return Err(Error::Unauthorized);
        }
        let session = Session {
            account: account.clone(),
            created: kept.created,
            last_seen: now,
            csrf: csrf_of(token),
            must_change: kept.must_change,
            pending: Pending::parse(&kept.pending),
            offered_factor: None,
            challenge: None,
        };
        if now.micros() - kept.seen.micros() >= kiroku_access::session::SEEN_EVERY_S * 1_000_000 {
            self.keep_session(token, &session, false).await?;
        } else {
            self.app.sessions().hold(token, session.clone());
        }
        let session = self.app.sessions().get(token).unwrap_or(session);
        let actor = Actor {
            account,
            session: Some("web".into()),
        };
        Ok((actor, session))
    }

    /// Records the state of the session of `token` in the ledger — durable before it counts —
    /// and holds it in this process (`begins`: the session begins with this entry).
    pub(crate) async fn keep_session(
        self,
        token: &str,
        session: &Session,
        begins: bool,
    ) -> Result<()> {
        self.app
            .writer()
            .append(Request::one(session_draft(token, session, begins)))
            .await?;
        self.app.sessions().hold(token, session.clone());
        Ok(())
    }

    /// Ends the session of `token` — or, without one, every session of `account` — in the
    /// ledger and here.
    pub(crate) async fn end_sessions(self, account: &AccountId, token: Option<&str>) -> Result<()> {
        let id = token.map(session_id);
        let draft = kiroku_access::session::end(actor_of(account), account.as_str(), id.as_deref());
        self.app.writer().append(Request::one(draft)).await?;
        match token {
            Some(token) => {
                self.app.sessions().end(token);
            }
            None => {
                self.app.sessions().end_all(account);
            }
        }
        Ok(())
    }

    /// A random token for a form that no session protects yet (the sign-in form).
    pub fn new_form_token(self) -> String {
        new_token(self.app.entropy().as_ref())
    }

    /// Ends the session of `token` (signing out), recorded in the ledger; returns its account.
    pub async fn sign_out(self, token: &str) -> Result<Option<AccountId>> {
        match self.session(token).await {
            Ok((_, session)) => {
                self.end_sessions(&session.account, Some(token)).await?;
                Ok(Some(session.account))
            }
            Err(Error::Unauthorized) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Ends every session of `account` (sign out everywhere), recorded in the ledger.
    pub async fn sign_out_everywhere(self, account: &AccountId) -> Result<()> {
        self.end_sessions(account, None).await
    }

    /// The signed-in account chooses a new password: the current secret must match, the new
    /// one must follow the rules and not be one of the recent ones. Ends the account's other
    /// sessions; the session of `token` may then do everything its roles allow.
    pub async fn change_password(self, token: &str, current: &str, new: &str) -> Result<()> {
        let (actor, session) = self.session(token).await?;
        if session.pending == Pending::SecondFactor {
            // A password alone does not change the password of an account with two factors.
            return Err(Error::Unauthorized);
        }
        let store = self.app.store().clone();
        let account = session.account.to_string();
        let (current, new) = (current.to_owned(), new.to_owned());
        let entropy = self.app.entropy().clone();
        let key = self.factor_key()?;
        let (request, has_factor) = self
            .app
            .hashing(move || {
                let found = standing(&store, &account)?.ok_or(Error::Unauthorized)?;
                let current_hash =
                    crate::access::factors::opened_hash(&key, &account, &found.credential.hash)?;
                if !password::verify(&current, &current_hash) {
                    return Err(Error::Access(crate::access::Error::SignInFailed));
                }
                let names = [
                    account.as_str(),
                    found.profile.family_name.as_str(),
                    found.profile.given_name.as_str(),
                    found.profile.family_kana.as_str(),
                    found.profile.given_kana.as_str(),
                ];
                // With a second factor the shorter rule applies; without, the longer.
                password::check(&new, found.has_factor, &names)?;
                let recent: Vec<String> = read::query(
                    &store,
                    &Credential::recent(&account, password::RECENT_MAX as u64),
                )?
                .iter()
                .map(|s| {
                    let stored = decoded(Credential::hash_of_row(s))?;
                    crate::access::factors::opened_hash(&key, &account, &stored)
                })
                .collect::<Result<_>>()?;
                if password::reused(&new, &recent) || password::verify(&new, &current_hash) {
                    return Err(Error::Access(crate::access::Error::Password(
                        password::PasswordError::Reused,
                    )));
                }
                let hash = password::hash(&new, entropy.as_ref())
                    .map_err(|e| Error::Unavailable(e.to_string()))?;
                let hash =
                    crate::access::factors::seal_hash(&key, &account, &hash, entropy.as_ref())?;
                Ok((
                    Request::one(credential::set(
                        actor,
                        &account,
                        found.credential.version,
                        CredentialKind::Password,
                        hash,
                    )),
                    found.has_factor,
                ))
            })
            .await?;
        // The new password, the end of every other session of the account, and this one's new
        // state: one request.
        let now = self.app.now()?;
        let kept = Session {
            must_change: false,
            pending: if !has_factor && self.app.config.second_factor == SecondFactor::Required {
                Pending::Enrol
            } else {
                session.pending.clone()
            },
            last_seen: now,
            ..session
        };
        let mut request = request;
        request.drafts.push(kiroku_access::session::end(
            actor_of(&kept.account),
            kept.account.as_str(),
            None,
        ));
        request.drafts.push(kiroku_access::session::state(
            &session_id(token),
            kept.account.as_str(),
            Some(kept.created),
            kept.must_change,
            kept.pending.as_str(),
        ));
        self.app.writer().append(request).await?;
        self.app.sessions().end_all(&kept.account);
        self.app.sessions().hold(token, kept);
        Ok(())
    }
}

/// The credential draft of a new account's initial secret (its hash sealed under `key`), and
/// the secret.
pub fn initial_secret_draft(
    actor: Actor,
    account: &str,
    entropy: &dyn Entropy,
    key: &[u8; crate::access::factors::KEY_BYTES],
) -> Result<(Draft, String)> {
    let secret = new_secret(entropy);
    let hash = password::hash(&secret, entropy).map_err(|e| Error::Unavailable(e.to_string()))?;
    let sealed = crate::access::factors::seal_hash(key, account, &hash, entropy)?;
    Ok((
        credential::set(actor, account, 0, CredentialKind::Initial, sealed),
        secret,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use kiroku_core::SeededEntropy;

    // Shows that the decoy hash is an Argon2id hash at the real parameters (so it costs the
    // same) that no guess matches, and initial secrets' form.
    #[test]
    fn decoy_and_secrets() {
        assert!(decoy_hash().starts_with("$argon2id$v=19$m=19456,t=2,p=1$"));
        assert!(!password::verify("", decoy_hash()));
        let secret = new_secret(&SeededEntropy::new(3));
        assert_eq!(secret.len(), 19);
        assert!(secret
            .split('-')
            .all(|g| g.len() == 4 && g.bytes().all(|b| SECRET_ALPHABET.contains(&b))));
    }
}
