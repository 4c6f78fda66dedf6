//! Passkeys (WebAuthn) for the use cases: the options the browser's script passes to
//! `navigator.credentials`, registering a passkey as a second factor, signing in with one as
//! the second step, and removing one. Each ceremony answers a challenge the session was given
//! for it, good once and for five minutes.
//!
//! The relying party — the host name passkeys are scoped to, and the origin pages come from —
//! is the configured `public_url`. Without one, passkeys work only when the browser reached
//! the server as `localhost` (a workstation, or a test): taking the name from any `Host`
//! header would let a look-alike site in front of the server pass its own origin off.

use crate::access::factors::Proof;
use crate::access::sessions::{Challenge, Pending, Purpose};
use crate::access::Access;
use crate::rows::{all, first};
use crate::{blocking, Error, Result};
use kiroku_access::passkey::{
    self, encode_base64url, Assertion, Passkey, Registration, RelyingParty, CHALLENGE_BYTES,
};
use kiroku_core::Timestamp;
use kiroku_store::Store;
use serde::Serialize;
use std::sync::Arc;

/// How long the browser offers to wait for the person, in milliseconds.
const TIMEOUT_MS: u32 = 120_000;

/// A credential named in options: `{type: "public-key", id}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Descriptor {
    /// Always `public-key`.
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// The credential id, base64url.
    pub id: String,
}

/// The relying party as `navigator.credentials.create()` takes it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Party {
    /// The host name.
    pub id: String,
    /// What the browser shows.
    pub name: &'static str,
}

/// The account as the authenticator keeps it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct User {
    /// An opaque handle, base64url.
    pub id: String,
    /// The account id (what the person signs in with).
    pub name: String,
    /// The same, shown by the browser.
    pub display_name: String,
}

/// An algorithm offered: `{type: "public-key", alg: -7}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Algorithm {
    /// Always `public-key`.
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// COSE's number.
    pub alg: i64,
}

/// What the authenticator must be able to do.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Selection {
    /// `preferred`: a discoverable credential where the authenticator can hold one.
    pub resident_key: &'static str,
    /// `preferred`: a PIN or biometrics where the authenticator has them (the password is
    /// the first factor already).
    pub user_verification: &'static str,
}

/// Options for `navigator.credentials.create()`, binary values in base64url.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CreationOptions {
    /// The challenge.
    pub challenge: String,
    /// Who asks.
    pub rp: Party,
    /// For whom.
    pub user: User,
    /// ES256, EdDSA and RS256, in that order of preference.
    pub pub_key_cred_params: Vec<Algorithm>,
    /// How long to wait.
    pub timeout: u32,
    /// The account's passkeys already registered (not to be registered twice).
    pub exclude_credentials: Vec<Descriptor>,
    /// What the authenticator must do.
    pub authenticator_selection: Selection,
    /// `none`: the authenticator's make is not asked.
    pub attestation: &'static str,
}

/// Options for `navigator.credentials.get()`, binary values in base64url.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RequestOptions {
    /// The challenge.
    pub challenge: String,
    /// The relying party's id.
    pub rp_id: String,
    /// How long to wait.
    pub timeout: u32,
    /// The account's passkeys.
    pub allow_credentials: Vec<Descriptor>,
    /// `preferred`.
    pub user_verification: &'static str,
}

/// An account's second factors, as its own page shows them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Factors {
    /// A TOTP is enrolled.
    pub totp: bool,
    /// Its passkeys, oldest first.
    pub passkeys: Vec<Passkey>,
}

fn descriptors(held: &[Passkey]) -> Vec<Descriptor> {
    held.iter()
        .map(|p| Descriptor {
            kind: "public-key",
            id: p.credential.clone(),
        })
        .collect()
}

fn passkeys_of(store: &Store, account: &str) -> Result<Vec<Passkey>> {
    all(store, &Passkey::of(account), Passkey::from_row)
}

/// The relying party of `url` (`scheme://host[:port]`, nothing after): its host and origin.
pub fn relying_party_of(url: &str) -> Option<RelyingParty> {
    let url = url.trim_end_matches('/');
    let (scheme, rest) = url.split_once("://")?;
    if !matches!(scheme, "https" | "http") || rest.is_empty() || rest.contains(['/', '?', '#', '@'])
    {
        return None;
    }
    let (host, port) = match rest.rsplit_once(':') {
        Some((host, port)) if !port.is_empty() && port.bytes().all(|b| b.is_ascii_digit()) => {
            (host, Some(port.parse::<u16>().ok()?))
        }
        Some(_) => return None,
        None => (rest, None),
    };
    // A passkey is scoped to a host name, never an IP address.
    let name_like = host.contains(|c: char| c.is_ascii_alphabetic())
        && host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.');
    if !name_like || (scheme == "http" && host != "localhost") {
        return None;
    }
    let host = host.to_ascii_lowercase();
    // Browsers write an origin without its scheme's default port.
    let origin = match port {
        Some(443) if scheme == "https" => format!("{scheme}://{host}"),
        Some(80) if scheme == "http" => format!("{scheme}://{host}"),
        Some(port) => format!("{scheme}://{host}:{port}"),
        None => format!("{scheme}://{host}"),
    };
    Some(RelyingParty { id: host, origin })
}

impl Access<'_> {
    /// Where passkeys work without a configured public URL: `localhost` at the port the
    /// server listens on.
    pub fn local_relying_party(self) -> Option<RelyingParty> {
        relying_party_of(&format!("http://localhost:{}", self.app.port()?))
    }

    /// Who passkeys are for: the configured public URL (whatever `Host` a proxy passes on);
    /// without one, `localhost` at the server's own port — and only for a browser that
    /// reached it so (`host`, the `Host` header), so another address is told plainly rather
    /// than left to fail. The expected origin never comes from the request.
    pub fn relying_party(self, host: Option<&str>) -> Result<RelyingParty> {
        if let Some(url) = &self.app.config.public_url {
            return relying_party_of(url)
                .ok_or(Error::Access(crate::access::Error::PasskeysUnavailable));
        }
        let local = self
            .local_relying_party()
            .ok_or(Error::Access(crate::access::Error::PasskeysUnavailable))?;
        let reached = host.and_then(|h| relying_party_of(&format!("http://{h}")));
        if reached.as_ref() == Some(&local) {
            Ok(local)
        } else {
            Err(Error::Access(crate::access::Error::PasskeysUnavailable))
        }
    }

    fn give_challenge(self, token: &str, purpose: Purpose, now: Timestamp) -> Vec<u8> {
        let mut bytes = vec![0u8; CHALLENGE_BYTES];
        self.app.entropy().fill(&mut bytes);
        let given = bytes.clone();
        self.app.sessions().update(token, |s| {
            s.challenge = Some(Challenge {
                bytes: given,
                purpose,
                issued: now,
            });
        });
        bytes
    }

    /// `account`'s passkeys, oldest first.
    async fn passkeys(self, account: &str) -> Result<Vec<Passkey>> {
        let store: Arc<Store> = self.app.store().clone();
        let account = account.to_owned();
        blocking(move || passkeys_of(&store, &account)).await
    }

    /// `account`'s second factors.
    pub async fn factors(self, account: &str) -> Result<Factors> {
        let store: Arc<Store> = self.app.store().clone();
        let account = account.to_owned();
        blocking(move || {
            Ok(Factors {
                totp: crate::access::factors::enrolled(&store, &account)?.is_some(),
                passkeys: passkeys_of(&store, &account)?,
            })
        })
        .await
    }

    /// The options for registering a passkey for the session of `token` (signed in, the
    /// password chosen, not half-way through signing in).
    pub async fn passkey_creation(self, token: &str, rp: &RelyingParty) -> Result<CreationOptions> {
        let (_, session) = self.session(token).await?;
        if session.must_change || session.pending == Pending::SecondFactor {
            return Err(Error::Unauthorized);
        }
        let account = session.account.to_string();
        let held = self.passkeys(&account).await?;
        let challenge = self.give_challenge(token, Purpose::Register, self.app.now()?);
        Ok(CreationOptions {
            challenge: encode_base64url(&challenge),
            rp: Party {
                id: rp.id.clone(),
                name: "Kiroku",
            },
            user: User {
                id: encode_base64url(&passkey::user_handle(&account)),
                name: account.clone(),
                display_name: account,
            },
            pub_key_cred_params: passkey::ALGORITHMS
                .iter()
                .map(|alg| Algorithm {
                    kind: "public-key",
                    alg: *alg,
                })
                .collect(),
            timeout: TIMEOUT_MS,
            exclude_credentials: descriptors(&held),
            authenticator_selection: Selection {
                resident_key: "preferred",
                user_verification: "preferred",
            },
            attestation: "none",
        })
    }

    /// Registers the passkey the browser created, named `label`, once it answers the
    /// challenge this session was given: an entry. Enrolling satisfies a required second
    /// factor.
    pub async fn register_passkey(
        self,
        token: &str,
        rp: &RelyingParty,
        response: &Registration,
        label: &str,
    ) -> Result<()> {
        let (actor, session) = self.session(token).await?;
        if session.must_change || session.pending == Pending::SecondFactor {
            return Err(Error::Unauthorized);
        }
        let challenge = self
            .app
            .sessions()
            .take_challenge(token, Purpose::Register, self.app.now()?)
            .ok_or(Error::Access(crate::access::Error::NoPasskeyChallenge))?;
        let key = passkey::verify_registration(rp, &challenge, response)
            .map_err(|e| Error::Access(crate::access::Error::PasskeyRefused(e)))?;
        let held = self.passkeys(session.account.as_str()).await?;
        let mut request = passkey::register(actor, &held, key, label)?;
        // A session that had to enrol may act from now on: recorded in the same request.
        let mut enrolled = self.app.sessions().get(token).unwrap_or(session);
        let enrols = enrolled.pending == Pending::Enrol;
        if enrols {
            enrolled.pending = Pending::Nothing;
            request.drafts.push(crate::access::sign_in::session_draft(
                token, &enrolled, false,
            ));
        }
        self.app.writer().append(request).await?;
        if enrols {
            self.app.sessions().hold(token, enrolled);
        }
        Ok(())
    }

    /// The options for the second step of signing in with a passkey.
    pub async fn passkey_request(self, token: &str, rp: &RelyingParty) -> Result<RequestOptions> {
        let (_, session) = self.session(token).await?;
        if session.pending != Pending::SecondFactor {
            return Err(Error::Unauthorized);
        }
        let held = self.passkeys(session.account.as_str()).await?;
        if held.is_empty() {
            return Err(Error::Access(crate::access::Error::NoPasskey));
        }
        let challenge = self.give_challenge(token, Purpose::SignIn, self.app.now()?);
        Ok(RequestOptions {
            challenge: encode_base64url(&challenge),
            rp_id: rp.id.clone(),
            timeout: TIMEOUT_MS,
            allow_credentials: descriptors(&held),
            user_verification: "preferred",
        })
    }

    /// The second step of signing in with a passkey: the browser's answer to the challenge.
    /// Right, the attempt is recorded as a success with the passkey's counter; wrong (another
    /// account's key, a bad signature, a counter gone back, a stale challenge), as a failure
    /// that counts towards the lockout.
    pub async fn passkey_second_factor(
        self,
        token: &str,
        rp: &RelyingParty,
        response: &Assertion,
    ) -> Result<()> {
        let (_, session) = self.session(token).await?;
        if session.pending != Pending::SecondFactor {
            return Err(Error::Unauthorized);
        }
        // Taken now, whatever follows: a challenge is answered once.
        let challenge = self
            .app
            .sessions()
            .take_challenge(token, Purpose::SignIn, self.app.now()?);
        let account = session.account.to_string();
        let (rp, response) = (rp.clone(), response.clone());
        let check = move |store: &Store, _now| -> Result<Proof> {
            let Some(challenge) = &challenge else {
                return Ok(Proof::failed());
            };
            let credential = encode_base64url(&response.credential_id);
            let Some(key) = first(
                store,
                &Passkey::one(&account, &credential),
                Passkey::from_row,
            )?
            else {
                return Ok(Proof::failed());
            };
            let counter = first(
                store,
                &Passkey::counter(&account, &credential),
                Passkey::counter_of_row,
            )?
            .unwrap_or(0);
            let public_key = passkey::decode_base64url(&key.public_key, "public key")
                .map_err(|_| Error::Corrupt(format!("a passkey of {account} is not base64url")))?;
            Ok(
                match passkey::verify_assertion(&rp, challenge, &public_key, counter, &response) {
                    Ok(counter) => Proof {
                        right: true,
                        record: Some(passkey::used(&account, &credential, counter)),
                        step: None,
                    },
                    Err(_) => Proof::failed(),
                },
            )
        };
        self.second_step(
            token,
            &session,
            check,
            Error::Access(crate::access::Error::PasskeyFailed),
        )
        .await
    }

    /// The signed-in account removes one of its passkeys (lost, replaced): an entry.
    pub async fn remove_passkey(self, token: &str, credential: &str) -> Result<()> {
        let (actor, session) = self.session(token).await?;
        if session.must_go().is_some() {
            return Err(Error::Unauthorized);
        }
        let factors = self.factors(session.account.as_str()).await?;
        let request = passkey::remove(actor, &factors.passkeys, factors.totp, credential)?;
        self.app.writer().append(request).await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Shows which public URLs make a relying party: a host name over HTTPS, or localhost over
    // plain HTTP; never an IP address, a path, or another scheme.
    #[test]
    fn relying_party_from_public_url() {
        let rp = relying_party_of("https://Kiroku.Hospital.example/").unwrap();
        assert_eq!(rp.id, "kiroku.hospital.example");
        assert_eq!(rp.origin, "https://kiroku.hospital.example");
        let rp = relying_party_of("https://kiroku.example:8443").unwrap();
        assert_eq!(
            (rp.id.as_str(), rp.origin.as_str()),
            ("kiroku.example", "https://kiroku.example:8443")
        );
        let rp = relying_party_of("http://localhost:8080").unwrap();
        assert_eq!(
            (rp.id.as_str(), rp.origin.as_str()),
            ("localhost", "http://localhost:8080")
        );
        // Default ports are not part of an origin.
        assert_eq!(
            relying_party_of("https://kiroku.example:443")
                .unwrap()
                .origin,
            "https://kiroku.example"
        );
        assert_eq!(
            relying_party_of("http://localhost:80").unwrap().origin,
            "http://localhost"
        );
        for bad in [
            "http://kiroku.example",
            "https://10.0.0.1",
            "https://kiroku.example/path",
            "ftp://kiroku.example",
            "https://kiroku.example:port",
            "https://kiroku.example:65536",
            "https://user@kiroku.example",
            "kiroku.example",
            "https://",
        ] {
            assert_eq!(relying_party_of(bad), None, "{bad}");
        }
    }
}
