//! Ledger entries: what every change and every disclosure becomes.
//!
//! An entry is a JSON object in the canonical form of RFC 8785 (JCS) restricted to what Kiroku
//! writes — keys are ASCII and sorted, numbers are integers, no insignificant whitespace — so
//! that `serde_json`'s sorted-map output is the canonical form byte for byte. Its fields are
//! `v` (encoding version, 1), `kind` (e.g. `ledger.note/1`), `time`, `actor`, optional `subject`
//! and `reason`, a 16-byte random `salt`, and either `payload` (inline) or `payload_sha256` and
//! `payload_bytes` (the payload's canonical bytes live in the blob store). See
//! `docs/ledger-format.md`.

use crate::timestamp::Timestamp;
use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use kiroku_ledger::hash::content_hash;
use kiroku_ledger::{leaf_hash, Hash, ENTRY_BYTES_MAX};
use serde_json::{Map, Value as Json};
use std::fmt;

/// Bytes of random salt in every entry.
pub const SALT_BYTES: usize = 16;
/// Deepest nesting accepted in a payload.
pub const PAYLOAD_DEPTH_MAX: usize = 32;
/// Longest kind, account, session, subject or reason text (in bytes).
const LABEL_BYTES_MAX: usize = 128;
/// Longest reason text (in bytes).
const REASON_BYTES_MAX: usize = 2048;

/// Position of an entry in the ledger, from 0.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct EntryIndex(pub u64);

impl fmt::Display for EntryIndex {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// Why an entry could not be made or read. Messages name fields and limits, never content.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum EntryError {
    /// A field is missing, of the wrong type, or malformed.
    #[error("entry field `{field}` is invalid: {why}")]
    Field {
        /// The field.
        field: &'static str,
        /// What is wrong.
        why: &'static str,
    },
    /// The encoded entry exceeds the limit even with its payload moved to the blob store.
    #[error("entry is {len} bytes, over the limit of {max} bytes")]
    TooLarge {
        /// Encoded length.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// The payload exceeds the blob limit.
    #[error("payload is {len} bytes, over the limit of {max} bytes")]
    PayloadTooLarge {
        /// Its length.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// The bytes are not JSON, or not in canonical form.
    #[error("entry bytes are not canonical JSON: {0}")]
    NotCanonical(&'static str),
}

fn field(field: &'static str, why: &'static str) -> EntryError {
    EntryError::Field { field, why }
}

/// A versioned entry kind, `family.name/version`, e.g. `ledger.note/1`. Old kinds stay
/// readable forever; a changed meaning gets a new version.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Kind(String);

impl Kind {
    /// The ledger's first entry: its origin and verifier key.
    pub const LEDGER_INIT: &'static str = "ledger.init/1";
    /// An operator's note (運用記録).
    pub const LEDGER_NOTE: &'static str = "ledger.note/1";
    /// The result of a `kiroku verify` run.
    pub const LEDGER_VERIFICATION: &'static str = "ledger.verification/1";

    /// Checks the form `[a-z][a-z0-9_]*(.[a-z0-9_]+)*/[1-9][0-9]*`.
    pub fn new(text: &str) -> Result<Kind, EntryError> {
        let bad = || field("kind", "must look like family.name/1");
        if text.len() > LABEL_BYTES_MAX {
            return Err(bad());
        }
        let (name, version) = text.split_once('/').ok_or_else(bad)?;
        let name_ok = name.starts_with(|c: char| c.is_ascii_lowercase())
            && name.split('.').all(|part| {
                !part.is_empty()
                    && part
                        .bytes()
                        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
            });
        let version_ok = !version.is_empty()
            && !version.starts_with('0')
            && version.len() <= 6
            && version.bytes().all(|b| b.is_ascii_digit());
        if name_ok && version_ok {
            Ok(Kind(text.to_owned()))
        } else {
            Err(bad())
        }
    }

    /// The kind's text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

fn check_label(name: &'static str, text: &str, max: usize) -> Result<(), EntryError> {
    if text.is_empty() {
        return Err(field(name, "is empty"));
    }
    if text.len() > max {
        return Err(field(name, "is too long"));
    }
    if text.chars().any(char::is_control) {
        return Err(field(name, "holds control characters"));
    }
    Ok(())
}

/// Who acted: an account and, where there is one, the session.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Actor {
    /// Account id, e.g. `system` or `operator`; accounts proper arrive with the accounts issue.
    pub account: String,
    /// Session id or channel, e.g. `cli`.
    pub session: Option<String>,
}

impl Actor {
    /// The system itself (start-up, verification).
    pub fn system() -> Actor {
        Actor {
            account: "system".into(),
            session: None,
        }
    }

    /// An operator acting through `channel` (`cli`, `api`).
    pub fn operator(channel: &str) -> Actor {
        Actor {
            account: "operator".into(),
            session: Some(channel.into()),
        }
    }
}

/// What an entry is about: a patient, an account, an asset…
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Subject {
    /// The subject's type, e.g. `patient`.
    pub kind: String,
    /// Its id.
    pub id: String,
}

/// An entry's payload: inline JSON, or the hash and length of its canonical bytes in the blob
/// store.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Payload {
    /// Carried in the entry.
    Inline(Json),
    /// Carried in the blob store.
    Blob {
        /// SHA-256 of the blob.
        sha256: Hash,
        /// Its length.
        bytes: u64,
    },
}

/// An entry, decoded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    /// What happened.
    pub kind: Kind,
    /// When (sequencing time, assigned when the entry was made).
    pub time: Timestamp,
    /// Who.
    pub actor: Actor,
    /// About whom or what.
    pub subject: Option<Subject>,
    /// Why, where a reason is required.
    pub reason: Option<String>,
    /// What.
    pub payload: Payload,
    /// Random salt.
    pub salt: [u8; SALT_BYTES],
}

/// What a caller asks to record; [`Sealed::seal`] turns it into an entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Draft {
    /// What happened.
    pub kind: Kind,
    /// Who.
    pub actor: Actor,
    /// About whom or what.
    pub subject: Option<Subject>,
    /// Why.
    pub reason: Option<String>,
    /// What: a JSON object.
    pub payload: Json,
}

/// An entry ready to append: its decoded form, canonical bytes, leaf hash, and the blob that
/// holds its payload where the payload was moved out.
#[derive(Clone, Debug)]
pub struct Sealed {
    /// Decoded form.
    pub entry: Entry,
    /// Canonical bytes (the leaf's content).
    pub bytes: Vec<u8>,
    /// `SHA-256(0x00 || bytes)`.
    pub leaf: Hash,
    /// Canonical payload bytes, when stored as a blob.
    pub blob: Option<Vec<u8>>,
}

impl Sealed {
    /// Checks a draft and encodes it. The payload moves to the blob store when the entry would
    /// exceed `entry_bytes_max`; blobs are limited to `blob_bytes_max`.
    pub fn seal(
        draft: Draft,
        time: Timestamp,
        salt: [u8; SALT_BYTES],
        entry_bytes_max: usize,
        blob_bytes_max: usize,
    ) -> Result<Sealed, EntryError> {
        let entry_bytes_max = entry_bytes_max.min(ENTRY_BYTES_MAX);
        check_label("actor.account", &draft.actor.account, LABEL_BYTES_MAX)?;
        if let Some(session) = &draft.actor.session {
            check_label("actor.session", session, LABEL_BYTES_MAX)?;
        }
        if let Some(subject) = &draft.subject {
            check_label("subject.type", &subject.kind, LABEL_BYTES_MAX)?;
            check_label("subject.id", &subject.id, LABEL_BYTES_MAX)?;
        }
        if let Some(reason) = &draft.reason {
            check_label("reason", reason, REASON_BYTES_MAX)?;
        }
        if !draft.payload.is_object() {
            return Err(field("payload", "must be a JSON object"));
        }
        check_json(&draft.payload, 0)?;
        let mut entry = Entry {
            kind: draft.kind,
            time,
            actor: draft.actor,
            subject: draft.subject,
            reason: draft.reason,
            payload: Payload::Inline(draft.payload),
            salt,
        };
        let bytes = encode(&entry);
        if bytes.len() <= entry_bytes_max {
            let leaf = leaf_hash(&bytes);
            return Ok(Sealed {
                entry,
                bytes,
                leaf,
                blob: None,
            });
        }
        let Payload::Inline(payload) = &entry.payload else {
            return Err(field("payload", "is not inline"));
        };
        let blob =
            serde_json::to_vec(payload).map_err(|_| field("payload", "cannot be encoded"))?;
        if blob.len() > blob_bytes_max {
            return Err(EntryError::PayloadTooLarge {
                len: blob.len(),
                max: blob_bytes_max,
            });
        }
        entry.payload = Payload::Blob {
            sha256: content_hash(&blob),
            bytes: blob.len() as u64,
        };
        let bytes = encode(&entry);
        if bytes.len() > entry_bytes_max {
            return Err(EntryError::TooLarge {
                len: bytes.len(),
                max: entry_bytes_max,
            });
        }
        let leaf = leaf_hash(&bytes);
        Ok(Sealed {
            entry,
            bytes,
            leaf,
            blob: Some(blob),
        })
    }
}

/// Rejects what the canonical form does not allow: non-integer numbers, non-ASCII keys,
/// nesting beyond [`PAYLOAD_DEPTH_MAX`].
fn check_json(value: &Json, depth: usize) -> Result<(), EntryError> {
    if depth > PAYLOAD_DEPTH_MAX {
        return Err(field("payload", "is nested too deeply"));
    }
    match value {
        // RFC 8785 writes numbers as IEEE doubles: only integers a double holds exactly.
        Json::Number(n) if n.as_i64().is_none_or(|i| i.unsigned_abs() >= 1u64 << 53) => Err(field(
            "payload",
            "holds a number that is not an integer within ±(2^53 − 1)",
        )),
        Json::Array(items) => items.iter().try_for_each(|v| check_json(v, depth + 1)),
        Json::Object(map) => map.iter().try_for_each(|(k, v)| {
            if !k.is_ascii() {
                return Err(field("payload", "holds a non-ASCII key"));
            }
            check_json(v, depth + 1)
        }),
        _ => Ok(()),
    }
}

/// The canonical bytes of an entry.
pub fn encode(entry: &Entry) -> Vec<u8> {
    let mut object = Map::new();
    object.insert("v".into(), Json::from(1));
    object.insert("kind".into(), Json::from(entry.kind.as_str()));
    object.insert("time".into(), Json::from(entry.time.to_string()));
    let mut actor = Map::new();
    actor.insert("account".into(), Json::from(entry.actor.account.as_str()));
    if let Some(session) = &entry.actor.session {
        actor.insert("session".into(), Json::from(session.as_str()));
    }
    object.insert("actor".into(), Json::Object(actor));
    if let Some(subject) = &entry.subject {
        let mut map = Map::new();
        map.insert("type".into(), Json::from(subject.kind.as_str()));
        map.insert("id".into(), Json::from(subject.id.as_str()));
        object.insert("subject".into(), Json::Object(map));
    }
    if let Some(reason) = &entry.reason {
        object.insert("reason".into(), Json::from(reason.as_str()));
    }
    match &entry.payload {
        Payload::Inline(value) => {
            object.insert("payload".into(), value.clone());
        }
        Payload::Blob { sha256, bytes } => {
            object.insert("payload_sha256".into(), Json::from(sha256.to_hex()));
            object.insert("payload_bytes".into(), Json::from(*bytes));
        }
    }
    object.insert("salt".into(), Json::from(STANDARD.encode(entry.salt)));
    // A map of strings, integers and objects always serialises.
    serde_json::to_vec(&Json::Object(object)).unwrap_or_default()
}

/// Decodes canonical entry bytes, refusing anything that is not exactly the canonical form.
pub fn decode(bytes: &[u8]) -> Result<Entry, EntryError> {
    let value: Json =
        serde_json::from_slice(bytes).map_err(|_| EntryError::NotCanonical("not JSON"))?;
    let Json::Object(object) = value else {
        return Err(EntryError::NotCanonical("not an object"));
    };
    let text = |name: &'static str| -> Result<&str, EntryError> {
        object
            .get(name)
            .and_then(Json::as_str)
            .ok_or(field(name, "is missing or not a string"))
    };
    if object.get("v").and_then(Json::as_u64) != Some(1) {
        return Err(field("v", "is not 1"));
    }
    let kind = Kind::new(text("kind")?)?;
    let time = Timestamp::parse(text("time")?).ok_or(field("time", "is not an RFC 3339 time"))?;
    let actor = match object.get("actor") {
        Some(Json::Object(map)) => Actor {
            account: map
                .get("account")
                .and_then(Json::as_str)
                .ok_or(field("actor.account", "is missing"))?
                .to_owned(),
            session: map.get("session").and_then(Json::as_str).map(str::to_owned),
        },
        _ => return Err(field("actor", "is missing")),
    };
    let subject = match object.get("subject") {
        None => None,
        Some(Json::Object(map)) => Some(Subject {
            kind: map
                .get("type")
                .and_then(Json::as_str)
                .ok_or(field("subject.type", "is missing"))?
                .to_owned(),
            id: map
                .get("id")
                .and_then(Json::as_str)
                .ok_or(field("subject.id", "is missing"))?
                .to_owned(),
        }),
        Some(_) => return Err(field("subject", "is not an object")),
    };
    let reason = match object.get("reason") {
        None => None,
        Some(Json::String(s)) => Some(s.clone()),
        Some(_) => return Err(field("reason", "is not a string")),
    };
    let payload = match (object.get("payload"), object.get("payload_sha256")) {
        (Some(value), None) => Payload::Inline(value.clone()),
        (None, Some(hash)) => Payload::Blob {
            sha256: hash
                .as_str()
                .and_then(Hash::from_hex)
                .ok_or(field("payload_sha256", "is not a SHA-256 hash"))?,
            bytes: object
                .get("payload_bytes")
                .and_then(Json::as_u64)
                .ok_or(field("payload_bytes", "is missing"))?,
        },
        _ => return Err(field("payload", "is missing or doubled")),
    };
    let salt: [u8; SALT_BYTES] = STANDARD
        .decode(text("salt")?)
        .ok()
        .and_then(|s| s.try_into().ok())
        .ok_or(field("salt", "is not 16 bytes of base64"))?;
    let entry = Entry {
        kind,
        time,
        actor,
        subject,
        reason,
        payload,
        salt,
    };
    if encode(&entry) != bytes {
        return Err(EntryError::NotCanonical(
            "fields or layout differ from the canonical form",
        ));
    }
    Ok(entry)
}

/// The wire form, read field by field without building a JSON tree.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Wire<'a> {
    v: u8,
    #[serde(borrow)]
    kind: std::borrow::Cow<'a, str>,
    #[serde(borrow)]
    time: std::borrow::Cow<'a, str>,
    #[serde(borrow)]
    actor: WireActor<'a>,
    #[serde(borrow, default)]
    subject: Option<WireSubject<'a>>,
    #[serde(borrow, default)]
    reason: Option<std::borrow::Cow<'a, str>>,
    #[serde(borrow, default)]
    payload: Option<&'a serde_json::value::RawValue>,
    #[serde(borrow, default)]
    payload_sha256: Option<std::borrow::Cow<'a, str>>,
    #[serde(default)]
    payload_bytes: Option<u64>,
    #[serde(borrow)]
    salt: std::borrow::Cow<'a, str>,
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct WireActor<'a> {
    #[serde(borrow)]
    account: std::borrow::Cow<'a, str>,
    #[serde(borrow, default)]
    session: Option<std::borrow::Cow<'a, str>>,
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct WireSubject<'a> {
    #[serde(borrow, rename = "type")]
    kind: std::borrow::Cow<'a, str>,
    #[serde(borrow)]
    id: std::borrow::Cow<'a, str>,
}

/// Decodes entry bytes field by field — every field present, of the right type, no others —
/// without checking that the bytes are in canonical form. For replaying a ledger whose leaf
/// hashes (which bind the exact bytes) are checked separately; [`decode`] is the strict form.
pub fn decode_fields(bytes: &[u8]) -> Result<Entry, EntryError> {
    let wire: Wire<'_> = serde_json::from_slice(bytes)
        .map_err(|_| EntryError::NotCanonical("not an entry object"))?;
    if wire.v != 1 {
        return Err(field("v", "is not 1"));
    }
    let payload = match (wire.payload, wire.payload_sha256, wire.payload_bytes) {
        (Some(raw), None, None) => Payload::Inline(
            serde_json::from_str(raw.get()).map_err(|_| field("payload", "is not JSON"))?,
        ),
        (None, Some(hash), Some(bytes)) => Payload::Blob {
            sha256: Hash::from_hex(&hash)
                .ok_or(field("payload_sha256", "is not a SHA-256 hash"))?,
            bytes,
        },
        _ => return Err(field("payload", "is missing or doubled")),
    };
    let salt: [u8; SALT_BYTES] = STANDARD
        .decode(wire.salt.as_bytes())
        .ok()
        .and_then(|s| s.try_into().ok())
        .ok_or(field("salt", "is not 16 bytes of base64"))?;
    Ok(Entry {
        kind: Kind::new(&wire.kind)?,
        time: Timestamp::parse(&wire.time).ok_or(field("time", "is not an RFC 3339 time"))?,
        actor: Actor {
            account: wire.actor.account.into_owned(),
            session: wire.actor.session.map(std::borrow::Cow::into_owned),
        },
        subject: wire.subject.map(|s| Subject {
            kind: s.kind.into_owned(),
            id: s.id.into_owned(),
        }),
        reason: wire.reason.map(std::borrow::Cow::into_owned),
        payload,
        salt,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn draft(payload: Json) -> Draft {
        Draft {
            kind: Kind::new(Kind::LEDGER_NOTE).unwrap_or_else(|_| unreachable!()),
            actor: Actor::operator("cli"),
            subject: None,
            reason: None,
            payload,
        }
    }

    // Shows the exact canonical bytes of an entry and that decoding inverts encoding.
    #[test]
    fn canonical_bytes_and_round_trip() {
        let sealed = Sealed::seal(
            draft(json!({"text": "バックアップテープ5を搬出", "b": [1, 2]})),
            Timestamp(1_000_000),
            [0; 16],
            4096,
            1 << 20,
        );
        let Ok(sealed) = sealed else { unreachable!() };
        assert_eq!(
            String::from_utf8_lossy(&sealed.bytes),
            r#"{"actor":{"account":"operator","session":"cli"},"kind":"ledger.note/1","payload":{"b":[1,2],"text":"バックアップテープ5を搬出"},"salt":"AAAAAAAAAAAAAAAAAAAAAA==","time":"1970-01-01T00:00:01.000000Z","v":1}"#
        );
        assert_eq!(decode(&sealed.bytes), Ok(sealed.entry.clone()));
        assert_eq!(decode_fields(&sealed.bytes), Ok(sealed.entry.clone()));
        assert_eq!(sealed.leaf, leaf_hash(&sealed.bytes));
    }

    // Shows that non-canonical bytes (whitespace, reordered keys, extra fields) are refused.
    #[test]
    fn non_canonical_bytes_are_refused() {
        let Ok(sealed) = Sealed::seal(
            draft(json!({"text": "x"})),
            Timestamp(0),
            [1; 16],
            4096,
            4096,
        ) else {
            unreachable!()
        };
        let text = String::from_utf8_lossy(&sealed.bytes).to_string();
        let extra = text.replacen("{\"actor\"", "{\"zzz\":1,\"actor\"", 1);
        assert!(
            decode_fields(extra.as_bytes()).is_err(),
            "unknown fields are refused"
        );
        assert!(decode_fields(text.replacen("\"v\":1", "\"v\":2", 1).as_bytes()).is_err());
        for bad in [
            text.replacen(",", ", ", 1),
            extra.clone(),
            text.replacen("\"v\":1", "\"v\":2", 1),
            "[]".to_string(),
            "not json".to_string(),
        ] {
            assert!(decode(bad.as_bytes()).is_err(), "{bad}");
        }
    }

    // Shows the boundary of the entry limit: a payload that fits stays inline, one byte more
    // moves it to a blob, and a blob over its limit is refused.
    #[test]
    fn large_payloads_move_to_blobs() {
        let base = Sealed::seal(
            draft(json!({"text": ""})),
            Timestamp(0),
            [0; 16],
            65535,
            1 << 20,
        );
        let Ok(base) = base else { unreachable!() };
        let limit = base.bytes.len() + 100;
        let fits = Sealed::seal(
            draft(json!({"text": "a".repeat(100)})),
            Timestamp(0),
            [0; 16],
            limit,
            1 << 20,
        );
        assert!(matches!(fits, Ok(Sealed { blob: None, .. })));
        let over = Sealed::seal(
            draft(json!({"text": "a".repeat(101)})),
            Timestamp(0),
            [0; 16],
            limit,
            1 << 20,
        );
        let Ok(over) = over else { unreachable!() };
        let Some(blob) = &over.blob else {
            unreachable!()
        };
        assert_eq!(
            over.entry.payload,
            Payload::Blob {
                sha256: content_hash(blob),
                bytes: blob.len() as u64
            }
        );
        assert_eq!(decode(&over.bytes), Ok(over.entry.clone()));
        let too_big = Sealed::seal(
            draft(json!({"text": "a".repeat(2000)})),
            Timestamp(0),
            [0; 16],
            300,
            1000,
        );
        assert!(matches!(too_big, Err(EntryError::PayloadTooLarge { .. })));
    }

    // Shows that bad drafts are refused with the field named.
    #[test]
    fn bad_drafts_are_refused() {
        let seal = |d: Draft| Sealed::seal(d, Timestamp(0), [0; 16], 4096, 4096).map(|_| ());
        assert!(seal(draft(json!("not an object"))).is_err());
        assert!(seal(draft(json!({"x": 1.5}))).is_err());
        assert!(seal(draft(json!({"x": 9_007_199_254_740_991_i64}))).is_ok());
        assert!(seal(draft(json!({"x": 9_007_199_254_740_992_i64}))).is_err());
        assert!(seal(draft(json!({"ключ": 1}))).is_err());
        let mut deep = json!(1);
        for _ in 0..40 {
            deep = json!([deep]);
        }
        assert!(seal(draft(json!({ "d": deep }))).is_err());
        let mut d = draft(json!({}));
        d.actor.account = String::new();
        assert_eq!(seal(d), Err(field("actor.account", "is empty")));
        for bad in [
            "",
            "Ledger.note/1",
            "ledger.note",
            "ledger.note/0",
            "ledger..note/1",
            "ledger note/1",
        ] {
            assert!(Kind::new(bad).is_err(), "{bad}");
        }
    }
}
