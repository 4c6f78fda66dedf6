//! The entry envelope: what every change and every disclosure becomes, and its canonical bytes.
//!
//! An entry is a JSON object in the canonical form of RFC 8785 (JCS) restricted to what Kiroku
//! writes — keys are ASCII and sorted, numbers are integers, no insignificant whitespace — so
//! that `serde_json`'s sorted-map output is the canonical form byte for byte. Its fields are
//! `v` (encoding version, 1), `kind` (e.g. `ledger.note/2`), `time`, `actor`, optional `subject`
//! and `reason`, a 16-byte random `salt`, and either `payload` (inline) or `payload_sha256` and
//! `payload_bytes` (the payload's canonical bytes live in the blob store). See
//! `docs/ledger-format.md`. What a payload means is its kind's business ([`crate::context`]).

use crate::id::AccountId;
use crate::timestamp::Timestamp;
use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use kiroku_ledger::Hash;
use serde_json::Value as Json;
use std::borrow::Cow;
use std::fmt;

/// Bytes of random salt in every entry.
pub const SALT_BYTES: usize = 16;
/// Deepest nesting accepted in a payload.
pub const PAYLOAD_DEPTH_MAX: usize = 32;
/// Longest kind, session or subject text (in bytes).
pub const LABEL_BYTES_MAX: usize = 128;
/// Longest reason text (in bytes).
pub const REASON_BYTES_MAX: usize = 2048;

/// Why an entry could not be made or read. Messages name fields and limits, never content.
#[derive(Clone, Debug, thiserror::Error, PartialEq, Eq)]
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
    /// JSON serialisation failed (a payload type that cannot be written as JSON).
    #[error("the entry cannot be encoded as JSON")]
    Encode,
}

pub(crate) fn field(field: &'static str, why: &'static str) -> EntryError {
    EntryError::Field { field, why }
}

/// A versioned entry kind, `family.name/version`, e.g. `ledger.note/2`. Old kinds stay
/// readable forever; a changed meaning gets a new version.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct KindName(Cow<'static, str>);

impl KindName {
    /// Checks the form `[a-z][a-z0-9_]*(.[a-z0-9_]+)*/[1-9][0-9]{0,5}`.
    pub fn parse(text: &str) -> Result<KindName, EntryError> {
        check_kind(text)?;
        Ok(KindName(Cow::Owned(text.to_owned())))
    }

    /// A kind name from a constant, checked.
    pub fn from_static(text: &'static str) -> Result<KindName, EntryError> {
        check_kind(text)?;
        Ok(KindName(Cow::Borrowed(text)))
    }

    /// A kind name from a kind's constant, unchecked: sealing refuses it unless a registered
    /// context declares it, and registration checks the name.
    pub(crate) fn declared(text: &'static str) -> KindName {
        KindName(Cow::Borrowed(text))
    }

    /// The kind's text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for KindName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

fn check_kind(text: &str) -> Result<(), EntryError> {
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
        Ok(())
    } else {
        Err(bad())
    }
}

pub(crate) fn check_label(name: &'static str, text: &str, max: usize) -> Result<(), EntryError> {
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

/// Who acted: an account and, where there is one, the session or channel.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Actor {
    /// The account.
    pub account: AccountId,
    /// Session id or channel, e.g. `cli`.
    pub session: Option<String>,
}

impl Actor {
    /// The system itself (start-up, verification).
    pub fn system() -> Actor {
        Actor {
            account: AccountId::system(),
            session: None,
        }
    }

    /// The operator acting through `channel` (`cli`, `api`, `web`).
    pub fn operator(channel: &str) -> Actor {
        Actor {
            account: AccountId::operator(),
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
    pub kind: KindName,
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

/// Rejects what the canonical form does not allow: non-integer numbers, non-ASCII keys,
/// nesting beyond [`PAYLOAD_DEPTH_MAX`].
pub(crate) fn check_json(value: &Json, depth: usize) -> Result<(), EntryError> {
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
        // One backend cannot store U+0000 in text: an entry holds none, so that a value both
        // accept is the only kind there is.
        Json::String(text) if text.contains('\0') => Err(field(
            "payload",
            "holds the character U+0000, which no entry may hold",
        )),
        _ => Ok(()),
    }
}

/// The canonical bytes of a JSON value: object keys sorted (they are ASCII, so byte order is
/// RFC 8785's order), no whitespace, strings escaped as `serde_json` escapes them. Written here
/// rather than left to `serde_json`'s map, whose order a dependency may switch to insertion
/// order (its `preserve_order` feature is additive across the whole build).
pub fn canonical_json(value: &Json) -> Vec<u8> {
    let mut out = Vec::new();
    write_canonical(value, &mut out);
    out
}

fn write_canonical(value: &Json, out: &mut Vec<u8>) {
    match value {
        Json::Null => out.extend_from_slice(b"null"),
        Json::Bool(true) => out.extend_from_slice(b"true"),
        Json::Bool(false) => out.extend_from_slice(b"false"),
        Json::Number(n) => out.extend_from_slice(n.to_string().as_bytes()),
        Json::String(s) => write_string(s, out),
        Json::Array(items) => {
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_canonical(item, out);
            }
            out.push(b']');
        }
        Json::Object(map) => {
            let mut entries: Vec<(&String, &Json)> = map.iter().collect();
            entries.sort_unstable_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
            out.push(b'{');
            for (i, (key, item)) in entries.into_iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_string(key, out);
                out.push(b':');
                write_canonical(item, out);
            }
            out.push(b'}');
        }
    }
}

fn write_string(s: &str, out: &mut Vec<u8>) {
    // Writing a string into a vector cannot fail.
    let _ = serde_json::to_writer(&mut *out, s);
}

/// The canonical bytes of an entry.
pub fn encode(entry: &Entry) -> Result<Vec<u8>, EntryError> {
    // The envelope's members in their canonical (sorted) order, written straight out: the
    // payload is written where it stands rather than copied into a map to be sorted.
    let mut out = Vec::with_capacity(256);
    let member = |out: &mut Vec<u8>, first: bool, key: &str| {
        if !first {
            out.push(b',');
        }
        write_string(key, out);
        out.push(b':');
    };
    out.push(b'{');
    member(&mut out, true, "actor");
    out.push(b'{');
    write_string("account", &mut out);
    out.push(b':');
    write_string(entry.actor.account.as_str(), &mut out);
    if let Some(session) = &entry.actor.session {
        out.push(b',');
        write_string("session", &mut out);
        out.push(b':');
        write_string(session, &mut out);
    }
    out.push(b'}');
    member(&mut out, false, "kind");
    write_string(entry.kind.as_str(), &mut out);
    match &entry.payload {
        Payload::Inline(value) => {
            member(&mut out, false, "payload");
            write_canonical(value, &mut out);
        }
        Payload::Blob { sha256, bytes } => {
            member(&mut out, false, "payload_bytes");
            write_canonical(&Json::from(*bytes), &mut out);
            member(&mut out, false, "payload_sha256");
            write_string(&sha256.to_hex(), &mut out);
        }
    }
    if let Some(reason) = &entry.reason {
        member(&mut out, false, "reason");
        write_string(reason, &mut out);
    }
    member(&mut out, false, "salt");
    write_string(&STANDARD.encode(entry.salt), &mut out);
    if let Some(subject) = &entry.subject {
        member(&mut out, false, "subject");
        out.push(b'{');
        write_string("id", &mut out);
        out.push(b':');
        write_string(&subject.id, &mut out);
        out.push(b',');
        write_string("type", &mut out);
        out.push(b':');
        write_string(&subject.kind, &mut out);
        out.push(b'}');
    }
    member(&mut out, false, "time");
    write_string(&entry.time.to_string(), &mut out);
    member(&mut out, false, "v");
    out.push(b'1');
    out.push(b'}');
    Ok(out)
}

/// Decodes canonical entry bytes, refusing anything that is not exactly the canonical form.
pub fn decode(bytes: &[u8]) -> Result<Entry, EntryError> {
    let entry = decode_fields(bytes)?;
    if encode(&entry)? != bytes {
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
    kind: Cow<'a, str>,
    #[serde(borrow)]
    time: Cow<'a, str>,
    #[serde(borrow)]
    actor: WireActor<'a>,
    #[serde(borrow, default)]
    subject: Option<WireSubject<'a>>,
    #[serde(borrow, default)]
    reason: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    payload: Option<&'a serde_json::value::RawValue>,
    #[serde(borrow, default)]
    payload_sha256: Option<Cow<'a, str>>,
    #[serde(default)]
    payload_bytes: Option<u64>,
    #[serde(borrow)]
    salt: Cow<'a, str>,
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct WireActor<'a> {
    #[serde(borrow)]
    account: Cow<'a, str>,
    #[serde(borrow, default)]
    session: Option<Cow<'a, str>>,
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct WireSubject<'a> {
    #[serde(borrow, rename = "type")]
    kind: Cow<'a, str>,
    #[serde(borrow)]
    id: Cow<'a, str>,
}

/// Decodes entry bytes field by field — every field present, of the right type, no others —
/// without checking that the bytes are in canonical form. For replaying a ledger whose leaf
/// hashes (which bind the exact bytes) are checked separately; [`decode`] is the strict form.
pub fn decode_fields(bytes: &[u8]) -> Result<Entry, EntryError> {
    let (mut entry, raw) = decode_raw(bytes)?;
    if let Some(raw) = raw {
        entry.payload = Payload::Inline(
            serde_json::from_str(raw.get()).map_err(|_| field("payload", "is not JSON"))?,
        );
    }
    Ok(entry)
}

/// [`decode_fields`] that leaves an inline payload as the raw JSON text it is in the bytes, for
/// a replay that reads it straight into its kind's type. When the payload is inline, it is
/// returned beside the entry and the entry's own `payload` holds JSON `null`; when it is in a
/// blob, the entry names the blob and nothing is returned beside it.
pub fn decode_raw(
    bytes: &[u8],
) -> Result<(Entry, Option<&serde_json::value::RawValue>), EntryError> {
    let wire: Wire<'_> = serde_json::from_slice(bytes)
        .map_err(|_| EntryError::NotCanonical("not an entry object"))?;
    if wire.v != 1 {
        return Err(field("v", "is not 1"));
    }
    let (payload, raw) = match (wire.payload, wire.payload_sha256, wire.payload_bytes) {
        (Some(raw), None, None) => (Payload::Inline(Json::Null), Some(raw)),
        (None, Some(hash), Some(bytes)) => (
            Payload::Blob {
                sha256: Hash::from_hex(&hash)
                    .ok_or(field("payload_sha256", "is not a SHA-256 hash"))?,
                bytes,
            },
            None,
        ),
        _ => return Err(field("payload", "is missing or doubled")),
    };
    let salt: [u8; SALT_BYTES] = STANDARD
        .decode(wire.salt.as_bytes())
        .ok()
        .and_then(|s| s.try_into().ok())
        .ok_or(field("salt", "is not 16 bytes of base64"))?;
    Ok((
        Entry {
            kind: KindName::parse(&wire.kind)?,
            time: Timestamp::parse(&wire.time).ok_or(field("time", "is not an RFC 3339 time"))?,
            actor: Actor {
                account: AccountId::parse(&wire.actor.account)
                    .map_err(|_| field("actor.account", "is not an account id"))?,
                session: wire.actor.session.map(Cow::into_owned),
            },
            subject: wire.subject.map(|s| Subject {
                kind: s.kind.into_owned(),
                id: s.id.into_owned(),
            }),
            reason: wire.reason.map(Cow::into_owned),
            payload,
            salt,
        },
        raw,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Map;

    /// The exact bytes of an operator's note as the foundation (issue 2) wrote them: they must
    /// decode, unchanged, forever.
    pub(crate) const ISSUE_2_NOTE: &str = r#"{"actor":{"account":"operator","session":"cli"},"kind":"ledger.note/1","payload":{"b":[1,2],"text":"バックアップテープ5を搬出"},"salt":"AAAAAAAAAAAAAAAAAAAAAA==","time":"1970-01-01T00:00:01.000000Z","v":1}"#;

    // Shows that entry bytes written by the first release still decode strictly and re-encode to
    // the same bytes.
    #[test]
    fn first_release_bytes_round_trip() {
        let entry = decode(ISSUE_2_NOTE.as_bytes()).unwrap();
        assert_eq!(entry.kind.as_str(), "ledger.note/1");
        assert_eq!(entry.actor, Actor::operator("cli"));
        assert_eq!(encode(&entry).unwrap(), ISSUE_2_NOTE.as_bytes());
        assert_eq!(decode_fields(ISSUE_2_NOTE.as_bytes()).unwrap(), entry);
    }

    // Shows that non-canonical bytes (whitespace, reordered or extra fields, another encoding
    // version) are refused.
    #[test]
    fn non_canonical_bytes_are_refused() {
        let text = ISSUE_2_NOTE.to_string();
        let extra = text.replacen("{\"actor\"", "{\"zzz\":1,\"actor\"", 1);
        assert!(decode_fields(extra.as_bytes()).is_err(), "unknown fields");
        for bad in [
            text.replacen(",", ", ", 1),
            extra.clone(),
            text.replacen("\"v\":1", "\"v\":2", 1),
            text.replacen("\"operator\"", "\"Operator\"", 1),
            "[]".to_string(),
            "not json".to_string(),
        ] {
            assert!(decode(bad.as_bytes()).is_err(), "{bad}");
        }
    }

    // Shows the kind syntax and its boundaries.
    #[test]
    fn kind_names() {
        assert!(KindName::parse("ledger.note/1").is_ok());
        assert!(KindName::parse("ops.a_b.c/999999").is_ok());
        for bad in [
            "",
            "Ledger.note/1",
            "ledger.note",
            "ledger.note/0",
            "ledger.note/1234567",
            "ledger..note/1",
            "ledger note/1",
        ] {
            assert!(KindName::parse(bad).is_err(), "{bad}");
        }
    }

    /// The envelope as a JSON object, sorted by the general canonical writer: what
    /// [`encode`] must equal.
    fn by_the_map(entry: &Entry) -> Vec<u8> {
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
        canonical_json(&Json::Object(object))
    }

    // Shows the envelope written member by member equal to the envelope sorted as a map, for
    // every shape an envelope takes: with and without a session, a subject, a reason, and with
    // the payload inline or in a blob.
    #[test]
    fn envelopes_are_written_in_canonical_order() {
        let base = decode(ISSUE_2_NOTE.as_bytes()).unwrap();
        let mut shapes = vec![base.clone()];
        let mut e = base.clone();
        e.actor.session = None;
        e.subject = Some(Subject {
            kind: "patient".into(),
            id: "p-\"1".into(),
        });
        e.reason = Some("訂正：\n転記誤り".into());
        shapes.push(e.clone());
        e.payload = Payload::Blob {
            sha256: kiroku_ledger::Hash([7; 32]),
            bytes: 70_000,
        };
        shapes.push(e);
        for entry in shapes {
            assert_eq!(encode(&entry).unwrap(), by_the_map(&entry));
        }
    }
}
