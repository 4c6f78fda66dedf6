//! WebAuthn passkeys as a second factor (W3C Web Authentication, Level 2), with the algorithms
//! the specification recommends a relying party accept: ES256 (every platform and security
//! key), EdDSA (Ed25519: security keys) and RS256 (Windows Hello). The checks are written here
//! rather than taken from a relying-party crate: they are few, each is tested, and the crates
//! that exist pull in a CBOR stack and their own session handling that this server does not
//! need.
//!
//! Registration asks for no attestation (`attestation: "none"`), so nothing about the
//! authenticator's make is checked; the browser hands over the new credential's public key as
//! SubjectPublicKeyInfo (`AuthenticatorAttestationResponse.getPublicKey()`), and the COSE key
//! inside the authenticator data must carry the same point, so no CBOR decoder is needed. A
//! sign-in checks, in order: the client data's type, challenge, origin and that it was not
//! made in a cross-origin frame; the authenticator data's relying-party hash and the
//! user-presence flag; the ECDSA signature over the authenticator data and the client data's
//! SHA-256; and the signature counter, which must grow unless the authenticator keeps none
//! (both zero) — a counter that goes back means a cloned key.
//!
//! Tables: [`PASSKEYS`] (each account's registered keys) and [`PASSKEY_COUNTERS`] (the counter
//! each key last showed, written with the sign-in that used it). Registering, using and
//! removing a passkey are entries; the public key is not secret, so it is stored in clear.

use crate::account::{history, ACCOUNT_HISTORY};
use crate::error::AccessError;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use kiroku_core::projection::{Column, TableRole, TableSpec, Value};
use kiroku_core::query::{BadRow, Query, Stored};
use kiroku_core::{
    AccountId, Actor, Change, Draft, EntryKind, EntryMeta, Invalid, Projection, Request, Timestamp,
};
use p256::ecdsa::signature::Verifier as _;
use p256::ecdsa::{Signature, VerifyingKey};
use p256::pkcs8::DecodePublicKey as _;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// COSE's number for ES256 (ECDSA with P-256 and SHA-256).
pub const ES256: i64 = -7;
/// COSE's number for EdDSA (here Ed25519).
pub const EDDSA: i64 = -8;
/// COSE's number for RS256 (RSASSA-PKCS1-v1_5 with SHA-256).
pub const RS256: i64 = -257;
/// The algorithms accepted, in the order offered.
pub const ALGORITHMS: [i64; 3] = [ES256, EDDSA, RS256];
/// RSA moduli accepted, in bits.
const RSA_BITS: std::ops::RangeInclusive<usize> = 2048..=4096;
/// The DER header of an Ed25519 SubjectPublicKeyInfo, before its 32-byte key.
const ED25519_SPKI: [u8; 12] = [
    0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00,
];
/// Bytes of a challenge.
pub const CHALLENGE_BYTES: usize = 32;
/// The longest credential id WebAuthn allows, in bytes.
pub const CREDENTIAL_ID_MAX: usize = 1023;
/// The longest public key accepted (DER SubjectPublicKeyInfo; P-256's is 91 bytes, a 4096-bit
/// RSA key's about 550).
const PUBLIC_KEY_MAX: usize = 1024;
/// The longest name a person gives a passkey, in characters.
pub const LABEL_MAX: usize = 64;
/// Most passkeys one account may register.
pub const PASSKEYS_MAX: usize = 10;

/// Authenticator-data flag: the user was present (touched the key, or unlocked the device).
const FLAG_UP: u8 = 0x01;
/// Authenticator-data flag: the user was verified (PIN or biometrics).
const FLAG_UV: u8 = 0x04;
/// Authenticator-data flag: attested credential data follows.
const FLAG_AT: u8 = 0x40;

/// Each account's registered passkeys.
pub static PASSKEYS: TableSpec = TableSpec {
    name: "access_passkeys",
    about: "Each account's registered WebAuthn passkeys: the credential id and its public key (base64url; DER SubjectPublicKeyInfo), the name the person gave it, and when it was registered.",
    columns: &[
        Column::text("account"),
        Column::text("credential"),
        Column::text("public_key"),
        Column::text("label"),
        Column::int("registered"),
    ],
    key: 2,
    indexes: &[],
    role: TableRole::Plain,
};

/// The signature counter each passkey last showed.
pub static PASSKEY_COUNTERS: TableSpec = TableSpec {
    name: "access_passkey_counters",
    about: "The signature counter each passkey last showed, and when it was last used to sign in.",
    columns: &[
        Column::text("account"),
        Column::text("credential"),
        Column::int("counter"),
        Column::int("used").nullable(),
    ],
    key: 2,
    indexes: &[],
    role: TableRole::Plain,
};

fn check_account(account: &str) -> Result<(), Invalid> {
    AccountId::parse(account).map(|_| ()).map_err(|_| Invalid {
        field: "account",
        why: "is not an account id",
    })
}

fn check_credential(credential: &str) -> Result<(), Invalid> {
    match URL_SAFE_NO_PAD.decode(credential) {
        Ok(bytes) if !bytes.is_empty() && bytes.len() <= CREDENTIAL_ID_MAX => Ok(()),
        _ => Err(Invalid {
            field: "credential",
            why: "must be 1 to 1023 bytes in base64url without padding",
        }),
    }
}

/// Checks a passkey's name: 1 to 64 characters, no control characters.
pub fn check_label(label: &str) -> Result<(), Invalid> {
    let chars = label.chars().count();
    if chars == 0 || chars > LABEL_MAX || label.chars().any(char::is_control) {
        return Err(Invalid {
            field: "label",
            why: "must be 1 to 64 characters without control characters",
        });
    }
    Ok(())
}

/// `access.passkey/1`: `account` registered a passkey.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PasskeyRegistered {
    /// The account.
    pub account: String,
    /// The credential id, base64url.
    pub credential: String,
    /// The public key, base64url of DER SubjectPublicKeyInfo (P-256).
    pub public_key: String,
    /// The name the person gave it.
    pub label: String,
    /// The signature counter at registration.
    pub counter: u32,
}

impl EntryKind for PasskeyRegistered {
    const KIND: &'static str = "access.passkey/1";
    const PROJECTION: Projection =
        Projection::Into(&[&PASSKEYS, &PASSKEY_COUNTERS, &ACCOUNT_HISTORY]);

    fn check(&self, _: &EntryMeta<'_>) -> Result<(), Invalid> {
        check_account(&self.account)?;
        check_credential(&self.credential)?;
        let key = URL_SAFE_NO_PAD
            .decode(&self.public_key)
            .ok()
            .filter(|k| k.len() <= PUBLIC_KEY_MAX);
        if key.is_none_or(|k| VerifyingKey::from_public_key_der(&k).is_err()) {
            return Err(Invalid {
                field: "public_key",
                why: "must be a P-256 SubjectPublicKeyInfo in base64url",
            });
        }
        check_label(&self.label)
    }

    fn project(&self, meta: &EntryMeta<'_>, out: &mut Vec<Change>) {
        out.push(history(meta, &self.account, "passkey_registered"));
        out.push(Change::upsert(
            &PASSKEYS,
            vec![
                Value::Text(self.account.clone()),
                Value::Text(self.credential.clone()),
                Value::Text(self.public_key.clone()),
                Value::Text(self.label.clone()),
                Value::Int(meta.time.micros()),
            ],
        ));
        out.push(Change::upsert(
            &PASSKEY_COUNTERS,
            vec![
                Value::Text(self.account.clone()),
                Value::Text(self.credential.clone()),
                Value::Int(i64::from(self.counter)),
                Value::Null,
            ],
        ));
    }

    fn example() -> Self {
        PasskeyRegistered {
            account: "sato.hanako".into(),
            credential: "AAAAAAAAAAAAAAAAAAAAAA".into(),
            // The generator point of P-256, as SubjectPublicKeyInfo.
            public_key: "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEaxfR8uEsQkf4vOblY6RA8ncDfYEt6zOg9KE5RdiYwpZP40Li_hp_m47n60p8D54WK84zV2sxXs7LtkBoN79R9Q".into(),
            label: "ノート PC".into(),
            counter: 0,
        }
    }
}

/// `access.passkey_use/1`: `account` signed in with the passkey `credential`, which showed
/// the signature counter `counter`. Made together with the successful sign-in attempt.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PasskeyUsed {
    /// The account.
    pub account: String,
    /// The credential id, base64url.
    pub credential: String,
    /// The counter it showed.
    pub counter: u32,
}

impl EntryKind for PasskeyUsed {
    const KIND: &'static str = "access.passkey_use/1";
    const PROJECTION: Projection = Projection::Into(&[&PASSKEY_COUNTERS]);

    fn check(&self, _: &EntryMeta<'_>) -> Result<(), Invalid> {
        check_account(&self.account)?;
        check_credential(&self.credential)
    }

    fn project(&self, meta: &EntryMeta<'_>, out: &mut Vec<Change>) {
        out.push(Change::upsert(
            &PASSKEY_COUNTERS,
            vec![
                Value::Text(self.account.clone()),
                Value::Text(self.credential.clone()),
                Value::Int(i64::from(self.counter)),
                Value::Int(meta.time.micros()),
            ],
        ));
    }

    fn example() -> Self {
        PasskeyUsed {
            account: "sato.hanako".into(),
            credential: "AAAAAAAAAAAAAAAAAAAAAA".into(),
            counter: 7,
        }
    }
}

/// `access.passkey_removal/1`: the passkey `credential` of `account` was removed (lost,
/// replaced), by the account itself.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PasskeyRemoved {
    /// The account.
    pub account: String,
    /// The credential id, base64url.
    pub credential: String,
}

impl EntryKind for PasskeyRemoved {
    const KIND: &'static str = "access.passkey_removal/1";
    const PROJECTION: Projection =
        Projection::Into(&[&PASSKEYS, &PASSKEY_COUNTERS, &ACCOUNT_HISTORY]);

    fn check(&self, _: &EntryMeta<'_>) -> Result<(), Invalid> {
        check_account(&self.account)?;
        check_credential(&self.credential)
    }

    fn project(&self, meta: &EntryMeta<'_>, out: &mut Vec<Change>) {
        out.push(history(meta, &self.account, "passkey_removed"));
        let key = vec![
            Value::Text(self.account.clone()),
            Value::Text(self.credential.clone()),
        ];
        out.push(Change::delete(&PASSKEYS, key.clone()));
        out.push(Change::delete(&PASSKEY_COUNTERS, key));
    }

    fn example() -> Self {
        PasskeyRemoved {
            account: "sato.hanako".into(),
            credential: "AAAAAAAAAAAAAAAAAAAAAA".into(),
        }
    }
}

/// A registered passkey, as read back.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Passkey {
    /// The credential id, base64url.
    pub credential: String,
    /// The public key, base64url of DER SubjectPublicKeyInfo.
    pub public_key: String,
    /// Its name.
    pub label: String,
    /// When it was registered.
    pub registered: Timestamp,
}

impl Passkey {
    /// The query for `account`'s passkeys, oldest first.
    pub fn of(account: &str) -> Query {
        Query::table(&PASSKEYS, PASSKEYS_MAX as u64 + 1).matching(vec![Value::Text(account.into())])
    }

    /// The query for one passkey of `account`.
    pub fn one(account: &str, credential: &str) -> Query {
        Query::table(&PASSKEYS, 1).matching(vec![
            Value::Text(account.into()),
            Value::Text(credential.into()),
        ])
    }

    /// Decodes a row of [`PASSKEYS`].
    pub fn from_row(stored: &Stored) -> Result<Passkey, BadRow> {
        let c = stored.cells(&PASSKEYS);
        Ok(Passkey {
            credential: c.text(1)?,
            public_key: c.text(2)?,
            label: c.text(3)?,
            registered: c.time(4)?,
        })
    }

    /// The query for the counter of one passkey of `account`.
    pub fn counter(account: &str, credential: &str) -> Query {
        Query::table(&PASSKEY_COUNTERS, 1).matching(vec![
            Value::Text(account.into()),
            Value::Text(credential.into()),
        ])
    }

    /// Decodes the counter of a row of [`PASSKEY_COUNTERS`].
    pub fn counter_of_row(stored: &Stored) -> Result<u32, BadRow> {
        let c = stored.cells(&PASSKEY_COUNTERS);
        u32::try_from(c.uint(2)?).map_err(|_| c.bad())
    }
}

/// The entry registering a verified passkey for `actor`'s own account: at most
/// [`PASSKEYS_MAX`] per account (`held` is how many it has), each credential once.
pub fn register(
    actor: Actor,
    held: &[Passkey],
    key: NewPasskey,
    label: &str,
) -> Result<Request, AccessError> {
    let label = label.trim();
    check_label(label).map_err(|_| AccessError::PasskeyLabel)?;
    if held.len() >= PASSKEYS_MAX {
        return Err(AccessError::TooManyPasskeys(PASSKEYS_MAX));
    }
    let credential = URL_SAFE_NO_PAD.encode(&key.credential_id);
    if held.iter().any(|p| p.credential == credential) {
        return Err(AccessError::PasskeyRegistered);
    }
    let account = actor.account.to_string();
    Ok(Request::one(Draft::new(
        actor,
        PasskeyRegistered {
            account,
            credential,
            public_key: URL_SAFE_NO_PAD.encode(&key.public_key),
            label: label.into(),
            counter: key.counter,
        },
    )))
}

/// The entry removing `actor`'s own passkey `credential`, one of `held`. The last second
/// factor stays (`totp`: the account has a TOTP too): the password was chosen under the
/// shorter rule that holds with a second factor, and a lost factor is replaced by registering
/// another first.
pub fn remove(
    actor: Actor,
    held: &[Passkey],
    totp: bool,
    credential: &str,
) -> Result<Request, AccessError> {
    if !held.iter().any(|p| p.credential == credential) {
        return Err(AccessError::NoSuchPasskey);
    }
    if held.len() == 1 && !totp {
        return Err(AccessError::LastFactor);
    }
    let account = actor.account.to_string();
    Ok(Request::one(Draft::new(
        actor,
        PasskeyRemoved {
            account,
            credential: credential.into(),
        },
    )))
}

/// The entry recording that `account` signed in with `credential` showing `counter` (made by
/// the account, under its sign-in).
pub fn used(account: &str, credential: &str, counter: u32) -> Draft {
    let actor = Actor {
        account: AccountId::parse(account).unwrap_or_else(|_| AccountId::system()),
        session: Some("sign-in".into()),
    };
    Draft::new(
        actor,
        PasskeyUsed {
            account: account.into(),
            credential: credential.into(),
            counter,
        },
    )
}

// ── Verification ────────────────────────────────────────────────────────────────────────────

/// Why a passkey's response was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PasskeyError {
    /// A part of the response is missing or malformed.
    #[error("the response's {0} is malformed")]
    Malformed(&'static str),
    /// The client data is of the other ceremony.
    #[error("the client data is not of this ceremony")]
    WrongType,
    /// The challenge is not the one this session was given (or it was given none).
    #[error("the challenge is not the one given")]
    WrongChallenge,
    /// The page that asked is not this server's.
    #[error("the origin is not this server's")]
    WrongOrigin,
    /// The authenticator scoped the credential to another relying party.
    #[error("the credential is for another relying party")]
    WrongRelyingParty,
    /// The authenticator did not report the user present.
    #[error("the user was not present")]
    NotPresent,
    /// The key is not ES256, EdDSA (Ed25519) or RS256 (2048 to 4096 bits).
    #[error("only ES256 (P-256), EdDSA (Ed25519) and RS256 (2048–4096-bit) keys are accepted")]
    UnsupportedAlgorithm,
    /// The public key given is not the one the authenticator data carries.
    #[error("the public key does not match the authenticator data")]
    KeyMismatch,
    /// The signature does not verify.
    #[error("the signature does not verify")]
    BadSignature,
    /// The counter did not grow: the key may have been cloned.
    #[error("the signature counter did not grow")]
    CounterWentBack,
}

/// Who the browser must be talking to: the relying party id (the host name, which passkeys
/// are scoped to) and the origin pages are served from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RelyingParty {
    /// The host name, e.g. `kiroku.hospital.example`.
    pub id: String,
    /// `https://kiroku.hospital.example` (or `http://localhost:8080`).
    pub origin: String,
}

/// What a new credential's creation returned (`navigator.credentials.create()`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Registration {
    /// `rawId`.
    pub credential_id: Vec<u8>,
    /// `response.clientDataJSON`.
    pub client_data_json: Vec<u8>,
    /// `response.getAuthenticatorData()`.
    pub authenticator_data: Vec<u8>,
    /// `response.getPublicKey()`: DER SubjectPublicKeyInfo.
    pub public_key: Vec<u8>,
    /// `response.getPublicKeyAlgorithm()`.
    pub algorithm: i64,
}

/// What signing in with a credential returned (`navigator.credentials.get()`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Assertion {
    /// `rawId`.
    pub credential_id: Vec<u8>,
    /// `response.clientDataJSON`.
    pub client_data_json: Vec<u8>,
    /// `response.authenticatorData`.
    pub authenticator_data: Vec<u8>,
    /// `response.signature` (DER ECDSA for ES256; 64 bytes for EdDSA; PKCS #1 v1.5 for RS256).
    pub signature: Vec<u8>,
}

/// A verified new passkey.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewPasskey {
    /// The credential id.
    pub credential_id: Vec<u8>,
    /// DER SubjectPublicKeyInfo.
    pub public_key: Vec<u8>,
    /// The signature counter it started at.
    pub counter: u32,
    /// Whether the user was verified (PIN or biometrics), not only present.
    pub verified: bool,
}

#[derive(Deserialize)]
struct ClientData {
    #[serde(rename = "type")]
    kind: String,
    challenge: String,
    origin: String,
    #[serde(rename = "crossOrigin", default)]
    cross_origin: bool,
}

fn check_client_data(
    json: &[u8],
    kind: &str,
    challenge: &[u8],
    rp: &RelyingParty,
) -> Result<(), PasskeyError> {
    let data: ClientData =
        serde_json::from_slice(json).map_err(|_| PasskeyError::Malformed("client data"))?;
    if data.kind != kind {
        return Err(PasskeyError::WrongType);
    }
    let given = URL_SAFE_NO_PAD
        .decode(data.challenge.trim_end_matches('='))
        .map_err(|_| PasskeyError::WrongChallenge)?;
    if challenge.is_empty() || given != challenge {
        return Err(PasskeyError::WrongChallenge);
    }
    if data.origin != rp.origin || data.cross_origin {
        return Err(PasskeyError::WrongOrigin);
    }
    Ok(())
}

/// Authenticator data, parsed as far as this module needs.
#[derive(Debug, PartialEq, Eq)]
struct AuthenticatorData<'a> {
    rp_id_hash: &'a [u8],
    flags: u8,
    counter: u32,
    /// With the AT flag: the credential id and what follows it (the COSE key, then any
    /// extensions).
    attested: Option<(&'a [u8], &'a [u8])>,
}

fn parse_authenticator_data(bytes: &[u8]) -> Result<AuthenticatorData<'_>, PasskeyError> {
    let bad = PasskeyError::Malformed("authenticator data");
    if bytes.len() < 37 {
        return Err(bad);
    }
    let flags = bytes[32];
    let counter = u32::from_be_bytes([bytes[33], bytes[34], bytes[35], bytes[36]]);
    let attested = if flags & FLAG_AT != 0 {
        // AAGUID (16 bytes), the credential id's length (2), the id, the COSE key.
        let rest = bytes.get(37 + 16..).ok_or(bad)?;
        let (length, rest) = rest.split_at_checked(2).ok_or(bad)?;
        let length = usize::from(u16::from_be_bytes([length[0], length[1]]));
        let (id, key) = rest.split_at_checked(length).ok_or(bad)?;
        if id.is_empty() || id.len() > CREDENTIAL_ID_MAX || key.is_empty() {
            return Err(bad);
        }
        Some((id, key))
    } else {
        None
    };
    Ok(AuthenticatorData {
        rp_id_hash: &bytes[..32],
        flags,
        counter,
        attested,
    })
}

fn check_authenticator(
    data: &AuthenticatorData<'_>,
    rp: &RelyingParty,
) -> Result<(), PasskeyError> {
    if data.rp_id_hash != Sha256::digest(rp.id.as_bytes()).as_slice() {
        return Err(PasskeyError::WrongRelyingParty);
    }
    if data.flags & FLAG_UP == 0 {
        return Err(PasskeyError::NotPresent);
    }
    Ok(())
}

/// A passkey's public key, of one of the [`ALGORITHMS`].
enum PublicKey {
    Es256(VerifyingKey),
    EdDsa(ed25519_dalek::VerifyingKey),
    Rs256(rsa::RsaPublicKey),
}

/// CBOR's header of a byte string of `len` bytes.
fn bstr(len: usize) -> Vec<u8> {
    match len {
        0..=23 => vec![0x40 | len as u8],
        24..=255 => vec![0x58, len as u8],
        _ => vec![0x59, (len >> 8) as u8, len as u8],
    }
}

impl PublicKey {
    /// The key a DER SubjectPublicKeyInfo holds, if it is of an accepted algorithm and size.
    fn from_der(der: &[u8]) -> Option<PublicKey> {
        if der.len() > PUBLIC_KEY_MAX {
            return None;
        }
        if let Ok(key) = VerifyingKey::from_public_key_der(der) {
            return Some(PublicKey::Es256(key));
        }
        if let Some(raw) = der.strip_prefix(&ED25519_SPKI[..]) {
            let raw: [u8; 32] = raw.try_into().ok()?;
            return ed25519_dalek::VerifyingKey::from_bytes(&raw)
                .ok()
                .map(PublicKey::EdDsa);
        }
        let key =
            <rsa::RsaPublicKey as rsa::pkcs8::DecodePublicKey>::from_public_key_der(der).ok()?;
        RSA_BITS
            .contains(&(rsa::traits::PublicKeyParts::size(&key) * 8))
            .then_some(PublicKey::Rs256(key))
    }

    /// Its COSE algorithm.
    fn algorithm(&self) -> i64 {
        match self {
            PublicKey::Es256(_) => ES256,
            PublicKey::EdDsa(_) => EDDSA,
            PublicKey::Rs256(_) => RS256,
        }
    }

    /// Does the COSE key `cose` carry this key? Looks for the map's entries as CBOR writes
    /// them rather than decoding the map: for ES256 kty 2, alg −7, crv 1, x and y; for EdDSA
    /// kty 1, alg −8, crv 6 and x; for RS256 kty 3, alg −257, n and e.
    fn carried_by(&self, cose: &[u8]) -> bool {
        let has = |needle: &[u8]| cose.windows(needle.len()).any(|w| w == needle);
        let entry = |label: u8, value: &[u8]| -> Vec<u8> {
            let mut out = vec![label];
            out.extend(bstr(value.len()));
            out.extend_from_slice(value);
            out
        };
        match self {
            PublicKey::Es256(key) => {
                let point = key.to_encoded_point(false);
                match (point.x(), point.y()) {
                    (Some(x), Some(y)) => cose_carries(cose, x, y),
                    _ => false,
                }
            }
            PublicKey::EdDsa(key) => {
                has(&[0x01, 0x01])
                    && has(&[0x03, 0x27])
                    && has(&[0x20, 0x06])
                    && has(&entry(0x21, key.as_bytes()))
            }
            PublicKey::Rs256(key) => {
                use rsa::traits::PublicKeyParts as _;
                has(&[0x01, 0x03])
                    && has(&[0x03, 0x39, 0x01, 0x00])
                    && has(&entry(0x20, &key.n().to_bytes_be()))
                    && has(&entry(0x21, &key.e().to_bytes_be()))
            }
        }
    }

    /// Does `signature` sign `signed` with this key?
    fn verifies(&self, signed: &[u8], signature: &[u8]) -> bool {
        match self {
            PublicKey::Es256(key) => {
                let Ok(signature) = Signature::from_der(signature) else {
                    return false;
                };
                // ECDSA signatures come in two forms (s and n − s); both are the
                // authenticator's.
                let signature = signature.normalize_s().unwrap_or(signature);
                key.verify(signed, &signature).is_ok()
            }
            PublicKey::EdDsa(key) => ed25519_dalek::Signature::from_slice(signature)
                .is_ok_and(|signature| key.verify_strict(signed, &signature).is_ok()),
            PublicKey::Rs256(key) => {
                use rsa::signature::Verifier as _;
                let verifying = rsa::pkcs1v15::VerifyingKey::<Sha256>::new(key.clone());
                rsa::pkcs1v15::Signature::try_from(signature)
                    .is_ok_and(|signature| verifying.verify(signed, &signature).is_ok())
            }
        }
    }
}

/// Does the COSE key `cose` carry the EC2 P-256 point (`x`, `y`) for ES256? Looks for the
/// map's entries as CBOR writes them (kty 2, alg −7, crv 1, x and y as 32-byte strings)
/// rather than decoding the map.
fn cose_carries(cose: &[u8], x: &[u8], y: &[u8]) -> bool {
    let has = |needle: &[u8]| cose.windows(needle.len()).any(|w| w == needle);
    let entry = |label: u8, value: &[u8]| -> Vec<u8> {
        let mut out = vec![label, 0x58, 0x20];
        out.extend_from_slice(value);
        out
    };
    x.len() == 32
        && y.len() == 32
        && has(&[0x01, 0x02])
        && has(&[0x03, 0x26])
        && has(&[0x20, 0x01])
        && has(&entry(0x21, x))
        && has(&entry(0x22, y))
}

/// Verifies a new credential against the `challenge` this session was given.
pub fn verify_registration(
    rp: &RelyingParty,
    challenge: &[u8],
    response: &Registration,
) -> Result<NewPasskey, PasskeyError> {
    check_client_data(&response.client_data_json, "webauthn.create", challenge, rp)?;
    let data = parse_authenticator_data(&response.authenticator_data)?;
    check_authenticator(&data, rp)?;
    let (id, cose) = data
        .attested
        .ok_or(PasskeyError::Malformed("authenticator data"))?;
    if id != response.credential_id.as_slice() {
        return Err(PasskeyError::Malformed("credential id"));
    }
    if response.public_key.len() > PUBLIC_KEY_MAX {
        return Err(PasskeyError::Malformed("public key"));
    }
    let key = PublicKey::from_der(&response.public_key)
        .filter(|k| k.algorithm() == response.algorithm && ALGORITHMS.contains(&response.algorithm))
        .ok_or(PasskeyError::UnsupportedAlgorithm)?;
    if !key.carried_by(cose) {
        return Err(PasskeyError::KeyMismatch);
    }
    Ok(NewPasskey {
        credential_id: id.to_vec(),
        public_key: response.public_key.clone(),
        counter: data.counter,
        verified: data.flags & FLAG_UV != 0,
    })
}

/// Verifies a sign-in with the passkey whose public key is `public_key` (DER
/// SubjectPublicKeyInfo) and whose counter was last `counter`, against the `challenge` this
/// session was given. Returns the counter to keep.
pub fn verify_assertion(
    rp: &RelyingParty,
    challenge: &[u8],
    public_key: &[u8],
    counter: u32,
    response: &Assertion,
) -> Result<u32, PasskeyError> {
    check_client_data(&response.client_data_json, "webauthn.get", challenge, rp)?;
    let data = parse_authenticator_data(&response.authenticator_data)?;
    check_authenticator(&data, rp)?;
    let key = PublicKey::from_der(public_key).ok_or(PasskeyError::Malformed("public key"))?;
    let mut signed = response.authenticator_data.clone();
    signed.extend_from_slice(&Sha256::digest(&response.client_data_json));
    if !key.verifies(&signed, &response.signature) {
        return Err(PasskeyError::BadSignature);
    }
    if (counter != 0 || data.counter != 0) && data.counter <= counter {
        return Err(PasskeyError::CounterWentBack);
    }
    Ok(data.counter)
}

/// A passkey's id or key as the browser's script sends it: base64url, padded or not.
pub fn decode_base64url(text: &str, field: &'static str) -> Result<Vec<u8>, PasskeyError> {
    URL_SAFE_NO_PAD
        .decode(text.trim_end_matches('='))
        .map_err(|_| PasskeyError::Malformed(field))
}

/// Bytes as base64url without padding, as the browser's script takes them.
pub fn encode_base64url(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// The user handle a passkey of `account` carries: the SHA-256 of the account id, so the
/// authenticator holds no id in clear.
pub fn user_handle(account: &str) -> Vec<u8> {
    Sha256::digest(format!("kiroku user {account}").as_bytes()).to_vec()
}

/// A software authenticator: makes the answers a browser hands over, from a key it holds in
/// memory — for tests of the checks above and of the server's passkey endpoints, never for
/// production use.
#[cfg(any(test, feature = "soft-authenticator"))]
#[allow(clippy::unwrap_used, clippy::expect_used)]
pub mod soft {
    use super::*;
    use p256::ecdsa::signature::Signer as _;
    use p256::ecdsa::SigningKey;

    /// `key` as DER SubjectPublicKeyInfo: the fixed header of an id-ecPublicKey on P-256,
    /// then the uncompressed point.
    pub fn spki(key: &VerifyingKey) -> Vec<u8> {
        const HEADER: [u8; 26] = [
            0x30, 0x59, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, 0x06,
            0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07, 0x03, 0x42, 0x00,
        ];
        let mut out = HEADER.to_vec();
        out.extend_from_slice(key.to_encoded_point(false).as_bytes());
        out
    }

    /// A software authenticator holding one credential.
    pub struct Soft {
        /// Its private key.
        pub key: SigningKey,
        /// The credential id.
        pub id: Vec<u8>,
        /// The signature counter, raised by each [`Soft::get`].
        pub counter: u32,
    }

    /// `localhost` served at port 8080.
    pub fn rp() -> RelyingParty {
        RelyingParty {
            id: "localhost".into(),
            origin: "http://localhost:8080".into(),
        }
    }

    /// Client data as a browser writes it.
    pub fn client_data(kind: &str, challenge: &[u8], origin: &str) -> Vec<u8> {
        format!(
            r#"{{"type":"{kind}","challenge":"{}","origin":"{origin}","crossOrigin":false}}"#,
            URL_SAFE_NO_PAD.encode(challenge)
        )
        .into_bytes()
    }

    impl Soft {
        /// An authenticator whose key and credential id follow from `seed`.
        pub fn new(seed: u8) -> Soft {
            let mut bytes = [seed; 32];
            bytes[0] = 1;
            Soft {
                key: SigningKey::from_slice(&bytes).unwrap(),
                id: vec![seed; 16],
                counter: 0,
            }
        }

        fn cose(&self) -> Vec<u8> {
            let point = self.key.verifying_key().to_encoded_point(false);
            let mut out = vec![0xa5, 0x01, 0x02, 0x03, 0x26, 0x20, 0x01, 0x21, 0x58, 0x20];
            out.extend_from_slice(point.x().unwrap());
            out.extend_from_slice(&[0x22, 0x58, 0x20]);
            out.extend_from_slice(point.y().unwrap());
            out
        }

        /// Authenticator data for `rp_id` with `flags`, with the credential attested or not.
        pub fn auth_data(&self, rp_id: &str, flags: u8, attested: bool) -> Vec<u8> {
            let mut out = Sha256::digest(rp_id.as_bytes()).to_vec();
            out.push(flags | if attested { FLAG_AT } else { 0 });
            // (A credential id is at most 1023 bytes, so its length fits.)
            out.extend_from_slice(&self.counter.to_be_bytes());
            if attested {
                out.extend_from_slice(&[0u8; 16]);
                out.extend_from_slice(&(self.id.len() as u16).to_be_bytes());
                out.extend_from_slice(&self.id);
                out.extend_from_slice(&self.cose());
            }
            out
        }

        /// The answer to `navigator.credentials.create()` with `challenge` at `rp`.
        pub fn create(&self, rp: &RelyingParty, challenge: &[u8]) -> Registration {
            Registration {
                credential_id: self.id.clone(),
                client_data_json: client_data("webauthn.create", challenge, &rp.origin),
                authenticator_data: self.auth_data(&rp.id, FLAG_UP | FLAG_UV, true),
                public_key: spki(self.key.verifying_key()),
                algorithm: ES256,
            }
        }

        /// The answer to `navigator.credentials.get()` with `challenge` at `rp`.
        pub fn get(&mut self, rp: &RelyingParty, challenge: &[u8]) -> Assertion {
            self.counter += 1;
            let authenticator_data = self.auth_data(&rp.id, FLAG_UP, false);
            let client_data_json = client_data("webauthn.get", challenge, &rp.origin);
            let mut signed = authenticator_data.clone();
            signed.extend_from_slice(&Sha256::digest(&client_data_json));
            let signature: Signature = self.key.sign(&signed);
            Assertion {
                credential_id: self.id.clone(),
                client_data_json,
                authenticator_data,
                signature: signature.to_der().as_bytes().to_vec(),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::soft::{client_data, rp, Soft};
    use super::*;
    use p256::ecdsa::signature::Signer as _;

    /// Authenticator data for `rp` with the credential `id` and its COSE key `cose` attested
    /// (or not, for a sign-in), at `counter`.
    fn auth_data_with(rp: &RelyingParty, id: &[u8], cose: Option<&[u8]>, counter: u32) -> Vec<u8> {
        let mut out = Sha256::digest(rp.id.as_bytes()).to_vec();
        out.push(FLAG_UP | if cose.is_some() { FLAG_AT } else { 0 });
        out.extend_from_slice(&counter.to_be_bytes());
        if let Some(cose) = cose {
            out.extend_from_slice(&[0u8; 16]);
            out.extend_from_slice(&(id.len() as u16).to_be_bytes());
            out.extend_from_slice(id);
            out.extend_from_slice(cose);
        }
        out
    }

    /// Registers a key (its SPKI, COSE form and algorithm) and signs in with it (`sign`),
    /// answering whether each was accepted; also tries the registration under another
    /// algorithm, and a signature over other data.
    fn register_and_sign_in(
        spki: &[u8],
        cose: &[u8],
        algorithm: i64,
        sign: &dyn Fn(&[u8]) -> Vec<u8>,
    ) {
        let rp = rp();
        let id = vec![4u8; 16];
        let challenge = [9u8; CHALLENGE_BYTES];
        let registration = Registration {
            credential_id: id.clone(),
            client_data_json: client_data("webauthn.create", &challenge, &rp.origin),
            authenticator_data: auth_data_with(&rp, &id, Some(cose), 0),
            public_key: spki.to_vec(),
            algorithm,
        };
        let key = verify_registration(&rp, &challenge, &registration).unwrap();
        assert_eq!(key.public_key, spki);
        let mislabelled = Registration {
            algorithm: ES256,
            ..registration.clone()
        };
        if algorithm != ES256 {
            assert_eq!(
                verify_registration(&rp, &challenge, &mislabelled),
                Err(PasskeyError::UnsupportedAlgorithm)
            );
        }
        let mut other_cose = cose.to_vec();
        let last = other_cose.len() - 1;
        other_cose[last] ^= 1;
        let mismatched = Registration {
            authenticator_data: auth_data_with(&rp, &id, Some(&other_cose), 0),
            ..registration
        };
        assert_eq!(
            verify_registration(&rp, &challenge, &mismatched),
            Err(PasskeyError::KeyMismatch)
        );
        let authenticator_data = auth_data_with(&rp, &id, None, 1);
        let client_data_json = client_data("webauthn.get", &challenge, &rp.origin);
        let mut signed = authenticator_data.clone();
        signed.extend_from_slice(&Sha256::digest(&client_data_json));
        let assertion = Assertion {
            credential_id: id,
            client_data_json,
            authenticator_data,
            signature: sign(&signed),
        };
        assert_eq!(
            verify_assertion(&rp, &challenge, spki, 0, &assertion),
            Ok(1)
        );
        let forged = Assertion {
            signature: sign(b"something else"),
            ..assertion
        };
        assert_eq!(
            verify_assertion(&rp, &challenge, spki, 0, &forged),
            Err(PasskeyError::BadSignature)
        );
    }

    // Shows EdDSA (Ed25519, as security keys make) registered and used to sign in: the COSE
    // key must carry the SPKI's key, the algorithm must be the key's, a wrong signature fails.
    #[test]
    fn eddsa_passkeys() {
        let signing = ed25519_dalek::SigningKey::from_bytes(&[5u8; 32]);
        let public = signing.verifying_key();
        let spki = [&ED25519_SPKI[..], public.as_bytes()].concat();
        let mut cose = vec![0xa4, 0x01, 0x01, 0x03, 0x27, 0x20, 0x06, 0x21, 0x58, 0x20];
        cose.extend_from_slice(public.as_bytes());
        register_and_sign_in(&spki, &cose, EDDSA, &|signed| {
            use ed25519_dalek::Signer as _;
            signing.sign(signed).to_bytes().to_vec()
        });
    }

    /// The operating system's randomness, as the RSA key generation of a test asks for it.
    struct Os;

    impl rsa::rand_core::RngCore for Os {
        fn next_u32(&mut self) -> u32 {
            let mut b = [0u8; 4];
            self.fill_bytes(&mut b);
            u32::from_le_bytes(b)
        }
        fn next_u64(&mut self) -> u64 {
            let mut b = [0u8; 8];
            self.fill_bytes(&mut b);
            u64::from_le_bytes(b)
        }
        fn fill_bytes(&mut self, dest: &mut [u8]) {
            getrandom::getrandom(dest).unwrap();
        }
        fn try_fill_bytes(&mut self, dest: &mut [u8]) -> Result<(), rsa::rand_core::Error> {
            self.fill_bytes(dest);
            Ok(())
        }
    }

    impl rsa::rand_core::CryptoRng for Os {}

    // Shows RS256 (RSASSA-PKCS1-v1_5 with SHA-256, as Windows Hello makes) registered and used
    // to sign in, with the same refusals.
    #[test]
    fn rs256_passkeys() {
        use rsa::pkcs8::EncodePublicKey as _;
        use rsa::signature::{SignatureEncoding as _, Signer as _};
        use rsa::traits::PublicKeyParts as _;
        let private = rsa::RsaPrivateKey::new(&mut Os, 2048).unwrap();
        let public = private.to_public_key();
        let spki = public.to_public_key_der().unwrap().as_bytes().to_vec();
        let n = public.n().to_bytes_be();
        let e = public.e().to_bytes_be();
        let mut cose = vec![0xa4, 0x01, 0x03, 0x03, 0x39, 0x01, 0x00, 0x20];
        cose.extend(bstr(n.len()));
        cose.extend_from_slice(&n);
        cose.push(0x21);
        cose.extend(bstr(e.len()));
        cose.extend_from_slice(&e);
        let signing = rsa::pkcs1v15::SigningKey::<Sha256>::new(private);
        register_and_sign_in(&spki, &cose, RS256, &|signed| signing.sign(signed).to_vec());
    }

    // Shows a registration accepted, and refused for each way it can be wrong: the ceremony's
    // type, the challenge, the origin, the relying party, presence, the algorithm, a key that
    // is not the authenticator's, a credential id that is not the one attested.
    #[test]
    fn registration_checks() {
        let rp = rp();
        let soft = Soft::new(7);
        let challenge = [9u8; CHALLENGE_BYTES];
        let good = soft.create(&rp, &challenge);
        let key = verify_registration(&rp, &challenge, &good).unwrap();
        assert_eq!(key.credential_id, soft.id);
        assert!(key.verified);
        assert_eq!(key.counter, 0);

        let wrong = |change: &dyn Fn(&mut Registration)| {
            let mut response = good.clone();
            change(&mut response);
            verify_registration(&rp, &challenge, &response).unwrap_err()
        };
        assert_eq!(
            wrong(&|r| r.client_data_json = client_data("webauthn.get", &challenge, &rp.origin)),
            PasskeyError::WrongType
        );
        assert_eq!(
            wrong(&|r| r.client_data_json = client_data("webauthn.create", &[8; 32], &rp.origin)),
            PasskeyError::WrongChallenge
        );
        assert_eq!(
            wrong(&|r| {
                r.client_data_json =
                    client_data("webauthn.create", &challenge, "https://evil.example")
            }),
            PasskeyError::WrongOrigin
        );
        assert_eq!(
            wrong(&|r| r.authenticator_data = soft.auth_data("evil.example", FLAG_UP, true)),
            PasskeyError::WrongRelyingParty
        );
        assert_eq!(
            wrong(&|r| r.authenticator_data = soft.auth_data(&rp.id, 0, true)),
            PasskeyError::NotPresent
        );
        assert_eq!(
            wrong(&|r| r.algorithm = -8),
            PasskeyError::UnsupportedAlgorithm
        );
        let other = Soft::new(8);
        assert_eq!(
            wrong(&|r| r.public_key = other.create(&rp, &challenge).public_key),
            PasskeyError::KeyMismatch
        );
        assert_eq!(
            wrong(&|r| r.credential_id = vec![1, 2, 3]),
            PasskeyError::Malformed("credential id")
        );
        assert_eq!(
            wrong(&|r| r.authenticator_data.truncate(60)),
            PasskeyError::Malformed("authenticator data")
        );
        assert!(
            verify_registration(&rp, &[], &good).is_err(),
            "no challenge"
        );
    }

    // Shows a sign-in accepted, the counter growing, and refusals: a signature by another
    // key, altered client data, a counter that did not grow, another origin.
    #[test]
    fn assertion_checks() {
        let rp = rp();
        let mut soft = Soft::new(7);
        let challenge = [5u8; CHALLENGE_BYTES];
        let key = verify_registration(&rp, &challenge, &soft.create(&rp, &challenge)).unwrap();
        let first = soft.get(&rp, &challenge);
        assert_eq!(
            verify_assertion(&rp, &challenge, &key.public_key, 0, &first),
            Ok(1)
        );
        assert_eq!(
            verify_assertion(&rp, &challenge, &key.public_key, 1, &first),
            Err(PasskeyError::CounterWentBack),
            "replayed"
        );
        let second = soft.get(&rp, &challenge);
        assert_eq!(
            verify_assertion(&rp, &challenge, &key.public_key, 1, &second),
            Ok(2)
        );
        let mut forged = Soft::new(9);
        forged.id = soft.id.clone();
        forged.counter = 10;
        assert_eq!(
            verify_assertion(
                &rp,
                &challenge,
                &key.public_key,
                2,
                &forged.get(&rp, &challenge)
            ),
            Err(PasskeyError::BadSignature)
        );
        let mut altered = soft.get(&rp, &challenge);
        altered.client_data_json = client_data("webauthn.get", &challenge, "http://localhost:8081");
        assert_eq!(
            verify_assertion(&rp, &challenge, &key.public_key, 2, &altered),
            Err(PasskeyError::WrongOrigin)
        );
        let mut tampered = soft.get(&rp, &challenge);
        tampered.authenticator_data[36] ^= 1;
        assert_eq!(
            verify_assertion(&rp, &challenge, &key.public_key, 2, &tampered),
            Err(PasskeyError::BadSignature)
        );
        // Authenticators that keep no counter show zero every time.
        let mut still = Soft::new(7);
        let zero = {
            let mut a = still.get(&rp, &challenge);
            still.counter = 0;
            a.authenticator_data = still.auth_data(&rp.id, FLAG_UP, false);
            let mut signed = a.authenticator_data.clone();
            signed.extend_from_slice(&Sha256::digest(&a.client_data_json));
            let signature: Signature = still.key.sign(&signed);
            a.signature = signature.to_der().as_bytes().to_vec();
            a
        };
        assert_eq!(
            verify_assertion(&rp, &challenge, &key.public_key, 0, &zero),
            Ok(0)
        );
    }

    // Shows the example key is a real P-256 key, so the kind's example passes its check.
    #[test]
    fn example_key_parses() {
        let example = PasskeyRegistered::example();
        let key = URL_SAFE_NO_PAD.decode(&example.public_key).unwrap();
        assert!(VerifyingKey::from_public_key_der(&key).is_ok());
    }
}
