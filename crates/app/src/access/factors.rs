//! Second factors for the use cases: the key that seals TOTP secrets (a file of the data
//! directory, mode 0600, made when first needed), offering and enrolling a TOTP secret, and the
//! second step of signing in. A sealed secret is bound to its account (the account id is the
//! cipher's associated data), so a sealed value copied onto another account does not open.
//! Each TOTP step is accepted once per account while the server runs.

use crate::access::sessions::Pending;
use crate::access::Access;
use crate::datadir::{read_secret, write_secret};
use crate::rows::first;
use crate::{blocking, Error, Result};
use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use kiroku_access::credential::{self, Outcome, SignInState};
use kiroku_access::factor::{self, Enrolled};
use kiroku_access::lockout::Verdict;
use kiroku_core::{AccountId, Actor, Conflict, Entropy};
use kiroku_store::writer::AppendError;
use kiroku_store::Store;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// Bytes of the sealing key.
pub(crate) const KEY_BYTES: usize = 32;
/// Bytes of an XChaCha20 nonce.
const NONCE_BYTES: usize = 24;

/// The last TOTP step accepted per account (a code is good once).
#[derive(Debug, Default)]
pub(crate) struct UsedSteps(Mutex<HashMap<AccountId, i64>>);

impl UsedSteps {
    fn last(&self, account: &AccountId) -> Option<i64> {
        self.0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(account)
            .copied()
    }

    fn mark(&self, account: &AccountId, step: i64) {
        let mut held = self.0.lock().unwrap_or_else(|e| e.into_inner());
        let entry = held.entry(account.clone()).or_insert(step);
        *entry = (*entry).max(step);
    }

    /// Claims `step` for `account` if no step at or after it was accepted: returns the step
    /// accepted before (for [`UsedSteps::release`]), or `None` if the code is spent. Checking
    /// and claiming is one act, so of two sign-ins racing with one code only one gets it.
    fn claim(&self, account: &AccountId, step: i64) -> Option<Option<i64>> {
        let mut held = self.0.lock().unwrap_or_else(|e| e.into_inner());
        let before = held.get(account).copied();
        if before.is_some_and(|used| used >= step) {
            return None;
        }
        held.insert(account.clone(), step);
        Some(before)
    }

    /// Gives back a claim whose attempt was not recorded (it lost a race and is tried again),
    /// unless a later step was accepted meanwhile.
    fn release(&self, account: &AccountId, step: i64, before: Option<i64>) {
        let mut held = self.0.lock().unwrap_or_else(|e| e.into_inner());
        if held.get(account) == Some(&step) {
            match before {
                Some(used) => held.insert(account.clone(), used),
                None => held.remove(account),
            };
        }
    }
}

/// What an offered TOTP secret looks like to the person: the secret to type into an
/// authenticator app, and the URI to paste or scan.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Offer {
    /// Base32, as authenticator apps take it.
    pub secret: String,
    /// `otpauth://totp/…`.
    pub uri: String,
}

fn cipher(key: &[u8; KEY_BYTES]) -> Result<XChaCha20Poly1305> {
    XChaCha20Poly1305::new_from_slice(key).map_err(|_| Error::Corrupt("the factor key".into()))
}

/// Seals `secret` for `account`.
pub(crate) fn seal(
    key: &[u8; KEY_BYTES],
    account: &str,
    secret: &[u8],
    entropy: &dyn Entropy,
) -> Result<String> {
    let mut nonce = [0u8; NONCE_BYTES];
    entropy.fill(&mut nonce);
    let sealed = cipher(key)?
        .encrypt(
            XNonce::from_slice(&nonce),
            Payload {
                msg: secret,
                aad: account.as_bytes(),
            },
        )
        .map_err(|_| Error::Unavailable("cannot seal a second factor".into()))?;
    let mut out = nonce.to_vec();
    out.extend_from_slice(&sealed);
    Ok(STANDARD.encode(out))
}

/// Opens what [`seal`] sealed for `account`.
pub(crate) fn open(key: &[u8; KEY_BYTES], account: &str, sealed: &str) -> Result<Vec<u8>> {
    let bytes = STANDARD
        .decode(sealed)
        .map_err(|_| Error::Corrupt(format!("the sealed secret of {account} is not base64")))?;
    if bytes.len() <= NONCE_BYTES {
        return Err(Error::Corrupt(format!(
            "the sealed secret of {account} is short"
        )));
    }
    let (nonce, sealed) = bytes.split_at(NONCE_BYTES);
    cipher(key)?
        .decrypt(
            XNonce::from_slice(nonce),
            Payload {
                msg: sealed,
                aad: account.as_bytes(),
            },
        )
        .map_err(|_| {
            Error::Corrupt(format!(
                "the sealed secret of {account} does not open with this data directory's key"
            ))
        })
}

/// What the check of a second step found.
pub(crate) struct Proof {
    /// The proof is right.
    pub right: bool,
    /// An entry to make with the successful attempt (a passkey's counter).
    pub record: Option<kiroku_core::Draft>,
    /// The TOTP step it claimed, and the step accepted before (to give the claim back if the
    /// attempt is not recorded).
    pub step: Option<(i64, Option<i64>)>,
}

impl Proof {
    pub(crate) fn failed() -> Proof {
        Proof {
            right: false,
            record: None,
            step: None,
        }
    }
}

/// Has `account` a second factor: a TOTP, or at least one passkey?
pub(crate) fn has_any(store: &Store, account: &str) -> Result<bool> {
    Ok(enrolled(store, account)?.is_some()
        || first(
            store,
            &kiroku_access::passkey::Passkey::of(account),
            kiroku_access::passkey::Passkey::from_row,
        )?
        .is_some())
}

/// `account`'s enrolled factor, if any.
pub(crate) fn enrolled(store: &Store, account: &str) -> Result<Option<Enrolled>> {
    first(store, &Enrolled::of(account), Enrolled::from_row)
}

/// The data directory's sealing key at `path`: read, or made there now (written whole, 0600).
pub(crate) fn secret_key(path: &std::path::Path, entropy: &dyn Entropy) -> Result<[u8; KEY_BYTES]> {
    let parse = |text: &str| -> Result<[u8; KEY_BYTES]> {
        STANDARD
            .decode(text.trim())
            .ok()
            .and_then(|b| <[u8; KEY_BYTES]>::try_from(b).ok())
            .ok_or_else(|| Error::Corrupt(format!("{} is not a key", path.display())))
    };
    if path.exists() {
        let text = read_secret(path).map_err(|e| Error::Unavailable(e.to_string()))?;
        return parse(&text);
    }
    let mut key = [0u8; KEY_BYTES];
    entropy.fill(&mut key);
    match write_secret(path, &(STANDARD.encode(key) + "\n")) {
        Ok(()) => Ok(key),
        // Another process made it first: use theirs.
        Err(_) if path.exists() => {
            let text = read_secret(path).map_err(|e| Error::Unavailable(e.to_string()))?;
            parse(&text)
        }
        Err(e) => Err(Error::Unavailable(e.to_string())),
    }
}

/// What a sealed password hash is bound to: the account, as a credential (never usable as a
/// sealed second factor of the same account, nor the other way round).
fn credential_binding(account: &str) -> String {
    format!("credential:{account}")
}

/// Seals `account`'s password hash (an Argon2id PHC string) under the data directory's key.
pub(crate) fn seal_hash(
    key: &[u8; KEY_BYTES],
    account: &str,
    hash: &str,
    entropy: &dyn Entropy,
) -> Result<String> {
    seal(key, &credential_binding(account), hash.as_bytes(), entropy)
}

/// The PHC string of a credential as the tables hold it: opened when sealed, as it is when it
/// was written in clear (before `access.credential/2`).
pub(crate) fn opened_hash(key: &[u8; KEY_BYTES], account: &str, stored: &str) -> Result<String> {
    match stored.strip_prefix(kiroku_access::credential::SEALED_PREFIX) {
        Some(sealed) => String::from_utf8(open(key, &credential_binding(account), sealed)?)
            .map_err(|_| Error::Corrupt(format!("the credential of {account} is not text"))),
        None => Ok(stored.to_owned()),
    }
}

impl Access<'_> {
    /// The key that seals second factors and password hashes: read from the data directory,
    /// or made there now.
    /// Read once, then kept: it never changes under a running server, and every sign-in and
    /// token request needs it.
    pub(crate) fn factor_key(self) -> Result<[u8; KEY_BYTES]> {
        if let Some(key) = self.app.sealing_key.get() {
            return Ok(*key);
        }
        let key = secret_key(
            &self.app.dir.join(&self.app.config.factor_key_file),
            self.app.entropy().as_ref(),
        )?;
        Ok(*self.app.sealing_key.get_or_init(|| key))
    }

    /// Offers the session of `token` a new TOTP secret to enrol (kept in the session until a
    /// code confirms it).
    pub async fn offer_factor(self, token: &str) -> Result<Offer> {
        let (_, session) = self.session(token).await?;
        if session.must_change {
            return Err(Error::Unauthorized);
        }
        let mut secret = vec![0u8; factor::SECRET_BYTES];
        self.app.entropy().fill(&mut secret);
        let offer = Offer {
            secret: factor::base32(&secret),
            uri: factor::otpauth_uri("Kiroku", session.account.as_str(), &secret),
        };
        self.app
            .sessions()
            .update(token, |s| s.offered_factor = Some(secret));
        Ok(offer)
    }

    /// Enrols the secret offered to the session of `token`, once `code` shows the person's
    /// authenticator makes its codes: an entry holding the secret sealed.
    pub async fn enrol_factor(self, token: &str, code: &str) -> Result<()> {
        let (actor, session) = self.session(token).await?;
        let secret = session
            .offered_factor
            .clone()
            .ok_or(Error::Access(crate::access::Error::NoFactorOffered))?;
        let now = self.app.now()?;
        let step = factor::verify(&secret, code, now, None)
            .ok_or(Error::Access(crate::access::Error::SecondFactorFailed))?;
        let sealed = seal(
            &self.factor_key()?,
            session.account.as_str(),
            &secret,
            self.app.entropy().as_ref(),
        )?;
        let mut request = kiroku_access::factor::enrol(actor, session.account.as_str(), sealed)?;
        request.drafts.push(factor::step_used(
            Actor::system(),
            session.account.as_str(),
            step,
        ));
        // The session that enrolled it may act from now on: recorded in the same request.
        let mut enrolled = session.clone();
        if enrolled.pending == Pending::Enrol {
            enrolled.pending = Pending::Nothing;
            request.drafts.push(crate::access::sign_in::session_draft(
                token, &enrolled, false,
            ));
        }
        self.app.writer().append(request).await?;
        self.app.used_steps().mark(&session.account, step);
        enrolled.offered_factor = None;
        self.app.sessions().hold(token, enrolled);
        self.app
            .sessions()
            .update(token, |s| s.offered_factor = None);
        Ok(())
    }

    /// The second step of signing in: the code of the account's TOTP. Right, the attempt is
    /// recorded as a success and the session may act; wrong, as a failure that counts towards
    /// the lockout (which then ends the session).
    pub async fn second_factor(self, token: &str, code: &str) -> Result<()> {
        let (_, session) = self.session(token).await?;
        let account = session.account.clone();
        let key = self.factor_key()?;
        let used = self.app.used_steps().clone();
        let code = code.to_owned();
        // An account without a TOTP (passkeys only) that sends a code sends a wrong one.
        let check = move |store: &Store, now| -> Result<Proof> {
            let who = account.as_str();
            let Some(factor) = enrolled(store, who)? else {
                return Ok(Proof::failed());
            };
            let secret = open(&key, who, &factor.sealed)?;
            // The last step accepted is the ledger's (as any process or an earlier run of this
            // one recorded it), or this process's own if later.
            let recorded = first(store, &factor::last_step(who), factor::used_step)?;
            if let Some(step) = recorded {
                used.mark(&account, step);
            }
            let claimed = factor::verify(&secret, &code, now, used.last(&account))
                .and_then(|step| used.claim(&account, step).map(|before| (step, before)));
            Ok(match claimed {
                // The step is claimed in the ledger with the attempt: of two processes
                // accepting one code, the writer lets one through.
                Some(step) => Proof {
                    right: true,
                    record: Some(factor::step_used(Actor::system(), who, step.0)),
                    step: Some(step),
                },
                None => Proof::failed(),
            })
        };
        self.second_step(
            token,
            &session,
            check,
            Error::Access(crate::access::Error::SecondFactorFailed),
        )
        .await
    }

    /// The second step of signing in, whichever the factor: `check` reads what it needs and
    /// says whether the proof is right. The attempt is recorded (with what `check` adds to it)
    /// under the account's sign-in stream, counted towards the lockout when wrong; a locked
    /// account's proof is not checked, and the lockout ends the session. `failed` is the error
    /// of a wrong proof.
    pub(crate) async fn second_step<F>(
        self,
        token: &str,
        session: &crate::access::sessions::Session,
        check: F,
        failed: Error,
    ) -> Result<()>
    where
        F: Fn(&Store, kiroku_core::Timestamp) -> Result<Proof> + Clone + Send + 'static,
    {
        if session.pending != Pending::SecondFactor {
            return Err(Error::Unauthorized);
        }
        let account = session.account.clone();
        for _ in 0..crate::access::sign_in::ATTEMPT_RETRIES_MAX {
            let now = self.app.now()?;
            let store: Arc<Store> = self.app.store().clone();
            let who = account.to_string();
            let check = check.clone();
            let (state, proof) = blocking(move || {
                let state = first(&store, &SignInState::query(&who), SignInState::from_row)?
                    .unwrap_or_default();
                // A locked account's proof is not checked: a guesser learns nothing.
                let proof = match state.lockout.verdict(now) {
                    Verdict::Locked(_) => None,
                    Verdict::Open => Some(check(&store, now)?),
                };
                Ok((state, proof))
            })
            .await?;
            let outcome = match &proof {
                None => Outcome::Locked,
                Some(p) if p.right => Outcome::Success,
                Some(_) => Outcome::Failure,
            };
            let (mut request, lockout) = credential::attempt(account.as_str(), state, outcome, now);
            let proof = proof.unwrap_or_else(Proof::failed);
            let mut completed = session.clone();
            completed.pending = Pending::Nothing;
            if outcome == Outcome::Success {
                request.drafts.extend(proof.record);
                // The session may act from now on: recorded with the attempt.
                request.drafts.push(crate::access::sign_in::session_draft(
                    token, &completed, false,
                ));
            }
            let appended = self.app.writer().append(request).await;
            if let (Err(_), Some((step, before))) = (&appended, proof.step) {
                self.app.used_steps().release(&account, step, before);
            }
            match appended {
                Ok(_) => {}
                // Another attempt on this account won the race: count this one after it.
                Err(AppendError::Conflict(Conflict::Version { .. })) => continue,
                // Another process accepted the same code first: it is spent.
                Err(AppendError::Conflict(Conflict::Claimed { table, .. }))
                    if table == factor::USED_STEPS.name =>
                {
                    return Err(failed)
                }
                Err(e) => return Err(e.into()),
            }
            return match outcome {
                Outcome::Success => {
                    self.app.sessions().hold(token, completed);
                    Ok(())
                }
                _ => match lockout.until {
                    Some(until) => {
                        self.end_sessions(&account, Some(token)).await?;
                        Err(Error::Access(crate::access::Error::Locked(until)))
                    }
                    None => Err(failed),
                },
            };
        }
        Err(Error::Unavailable(
            "too many concurrent sign-in attempts".into(),
        ))
    }

    /// Enrols a TOTP secret for `account` directly, as the operator seeding the demo does:
    /// returns the secret in base32 (for the demo's credentials file).
    pub async fn enrol_factor_for_demo(self, account: &str) -> Result<String> {
        let mut secret = vec![0u8; factor::SECRET_BYTES];
        self.app.entropy().fill(&mut secret);
        let sealed = seal(
            &self.factor_key()?,
            account,
            &secret,
            self.app.entropy().as_ref(),
        )?;
        let actor = Actor::operator("demo");
        let request = kiroku_access::factor::enrol(actor, account, sealed)?;
        self.app.writer().append(request).await?;
        Ok(factor::base32(&secret))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Shows that a TOTP step is claimed once: of two claims of one step only the first holds,
    // an earlier step cannot be claimed after a later one, and a claim given back (its attempt
    // lost a race and is tried again) can be claimed anew — unless a later step came meanwhile.
    #[test]
    fn steps_are_claimed_once() {
        let used = UsedSteps::default();
        let who = AccountId::parse("sato.hanako").unwrap();
        assert_eq!(used.claim(&who, 10), Some(None));
        assert_eq!(used.claim(&who, 10), None, "the same step twice");
        assert_eq!(used.claim(&who, 9), None, "an earlier step");
        used.release(&who, 10, None);
        assert_eq!(used.last(&who), None);
        assert_eq!(used.claim(&who, 10), Some(None), "claimed anew");
        assert_eq!(used.claim(&who, 11), Some(Some(10)));
        used.release(&who, 10, None);
        assert_eq!(used.last(&who), Some(11), "a later step stays");
    }
}
