//! A FHIR resource as it arrives and as it is stored: a JSON object with a `resourceType` this
//! server keeps, and — once stored — the server's `id` and `meta.versionId` and
//! `meta.lastUpdated`. Everything else the sender wrote stays as written, the sender's own
//! `meta` members (profiles, tags, security labels) included.

use crate::json::{self, Json, JsonError, Text};

/// The hospital's staff ids (JP Core's namespace of the ids a medical institution gives its
/// doctors, with the institution's number): a note's author and a Provenance's agent are named
/// by account in it.
pub const STAFF_ID_SYSTEM: &str = "urn:oid:1.2.392.100495.20.3.41.11318814790";

/// The resource types this server keeps.
pub const TYPES: [&str; 14] = [
    "AllergyIntolerance",
    "Binary",
    "CareTeam",
    "Composition",
    "Condition",
    "DocumentReference",
    "Encounter",
    "MedicationRequest",
    "Observation",
    "Organization",
    "Patient",
    "Practitioner",
    "PractitionerRole",
    "Provenance",
];

/// Why a body is not a resource this server takes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ResourceError {
    /// Not JSON, or JSON FHIR does not allow (duplicate names).
    #[error(transparent)]
    Json(#[from] JsonError),
    /// The body is not a JSON object.
    #[error("a resource is a JSON object")]
    NotObject,
    /// `resourceType` is missing or not a string.
    #[error("resourceType is missing")]
    NoType,
    /// `resourceType` names a type this server does not keep.
    #[error("this server does not keep that resource type")]
    UnknownType,
    /// The type is not the one the URL names.
    #[error("resourceType does not match the URL")]
    WrongType,
    /// `id` is not a FHIR id (1–64 of `A–Z a–z 0–9 - .`).
    #[error("id is not a FHIR id")]
    BadId,
    /// `meta` is present but not an object.
    #[error("meta is not an object")]
    BadMeta,
    /// A string holds a control character FHIR does not allow (any below U+0020 but tab,
    /// line feed and carriage return).
    #[error("a string holds a control character other than tab, line feed or carriage return")]
    ControlCharacter,
}

/// The start of the ids of the Provenance resources the server makes from the ledger
/// (`ledger-{entry}`): no stored Provenance may take one.
pub const LEDGER_PROVENANCE: &str = "ledger-";

/// Is `id` a FHIR id: 1 to 64 of `A–Z`, `a–z`, `0–9`, `-` and `.`?
pub fn is_id(id: &str) -> bool {
    (1..=64).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.')
}

/// A parsed resource.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Resource {
    /// Its type, one of [`TYPES`].
    pub kind: &'static str,
    /// The tree, as sent.
    pub tree: Json,
}

impl Resource {
    /// Parses a body meant to be a resource of `expected` type (when the URL names one).
    pub fn parse(bytes: &[u8], expected: Option<&str>) -> Result<Resource, ResourceError> {
        Resource::from_tree(json::parse(bytes)?, expected)
    }

    /// A parsed tree (a transaction's entry, say) as a resource of `expected` type.
    pub fn from_tree(tree: Json, expected: Option<&str>) -> Result<Resource, ResourceError> {
        if !matches!(tree, Json::Object(_)) {
            return Err(ResourceError::NotObject);
        }
        let named = tree
            .get("resourceType")
            .and_then(Json::as_str)
            .ok_or(ResourceError::NoType)?;
        let kind = TYPES
            .iter()
            .find(|t| **t == named)
            .copied()
            .ok_or(ResourceError::UnknownType)?;
        if expected.is_some_and(|e| e != kind) {
            return Err(ResourceError::WrongType);
        }
        if let Some(id) = tree.get("id") {
            if !id.as_str().is_some_and(|i| is_id(&i)) {
                return Err(ResourceError::BadId);
            }
        }
        if tree
            .get("meta")
            .is_some_and(|m| !matches!(m, Json::Object(_)))
        {
            return Err(ResourceError::BadMeta);
        }
        Ok(Resource { kind, tree })
    }

    /// Refuses a resource whose strings hold a control character FHIR does not allow (any
    /// below U+0020 but tab, LF and CR), as every write does before anything is kept, so that
    /// no backend is ever asked to store one (PostgreSQL's text cannot hold U+0000 at all).
    /// Reading stored versions does not ask it: what an older release kept stays readable and
    /// replays.
    pub fn refuse_controls(&self) -> Result<(), ResourceError> {
        if self.tree.has_forbidden_control() {
            return Err(ResourceError::ControlCharacter);
        }
        Ok(())
    }

    /// Checks the resource against FHIR R4 and the JP Core profiles it claims
    /// ([`crate::validate`]). Writes check; reading a stored version back does not, so versions
    /// written under older rules stay readable.
    pub fn check(&self) -> Result<(), crate::validate::Invalid> {
        crate::validate::check(&self.tree)
    }

    /// The `id` the sender wrote, if any.
    pub fn id(&self) -> Option<String> {
        self.tree.get("id").and_then(Json::as_str)
    }

    /// The resource as stored: the server's `id`, and `meta.versionId` and `meta.lastUpdated`
    /// (an FHIR instant), set where the sender had them or placed after `resourceType`; the
    /// sender's other `meta` members kept.
    pub fn stored(&self, id: &str, version: u64, last_updated: &str) -> Json {
        let mut tree = self.tree.clone();
        let string = |s: &str| Json::String(Text::from_value(s));
        tree.set("id", string(id), 1);
        let mut meta = tree
            .get("meta")
            .cloned()
            .unwrap_or(Json::Object(Vec::new()));
        meta.set("versionId", string(&version.to_string()), 0);
        meta.set("lastUpdated", string(last_updated), 1);
        let at = match &tree {
            Json::Object(members) => members
                .iter()
                .position(|(k, _)| k.raw() == "id")
                .map_or(1, |i| i + 1),
            _ => 1,
        };
        tree.set("meta", meta, at);
        tree
    }
}

/// The end of the JSON value that starts at `at` in compact, valid JSON text.
fn value_end(bytes: &[u8], at: usize) -> Option<usize> {
    let mut depth = 0usize;
    let mut i = at;
    loop {
        match *bytes.get(i)? {
            b'"' => {
                i += 1;
                loop {
                    match *bytes.get(i)? {
                        b'\\' => i += 2,
                        b'"' => break,
                        _ => i += 1,
                    }
                }
                i += 1;
            }
            b'{' | b'[' => {
                depth += 1;
                i += 1;
            }
            b'}' | b']' if depth > 0 => {
                depth -= 1;
                i += 1;
            }
            // The end of a number, `true`, `false` or `null` at the top.
            b',' | b'}' | b']' if depth == 0 => return Some(i),
            _ => i += 1,
        }
        if depth == 0 && matches!(bytes.get(at), Some(b'"' | b'{' | b'[')) {
            return Some(i);
        }
    }
}

/// The members of the compact, valid JSON object text `object`: each name's text between its
/// quotes and the value's text. `None` if it is not an object, or a name has an escape (the
/// tree handles those).
fn members(object: &[u8]) -> Option<Vec<(&[u8], &[u8])>> {
    if object.first() != Some(&b'{') {
        return None;
    }
    let mut out = Vec::new();
    let mut i = 1;
    if object.get(i) == Some(&b'}') {
        return Some(out);
    }
    loop {
        if object.get(i) != Some(&b'"') {
            return None;
        }
        let name_start = i + 1;
        let name_end = name_start + object[name_start..].iter().position(|b| *b == b'"')?;
        let name = &object[name_start..name_end];
        if name.contains(&b'\\') || object.get(name_end + 1) != Some(&b':') {
            return None;
        }
        let value_start = name_end + 2;
        let end = value_end(object, value_start)?;
        out.push((name, &object[value_start..end]));
        match object.get(end) {
            Some(b',') => i = end + 1,
            Some(b'}') if end + 1 == object.len() => return Some(out),
            _ => return None,
        }
    }
}

/// Sets member `name` of `members` to `value`: where it stands, or inserted at `at` (clamped).
fn set_member<'a>(
    members: &mut Vec<(&'a [u8], Vec<u8>)>,
    name: &'a [u8],
    value: Vec<u8>,
    at: usize,
) {
    match members.iter_mut().find(|(n, _)| *n == name) {
        Some(slot) => slot.1 = value,
        None => {
            let at = at.min(members.len());
            members.insert(at, (name, value));
        }
    }
}

fn write_object(members: &[(&[u8], Vec<u8>)]) -> Vec<u8> {
    let size = members
        .iter()
        .map(|(n, v)| n.len() + v.len() + 4)
        .sum::<usize>()
        + 2;
    let mut out = Vec::with_capacity(size);
    out.push(b'{');
    for (i, (name, value)) in members.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        out.push(b'"');
        out.extend_from_slice(name);
        out.extend_from_slice(b"\":");
        out.extend_from_slice(value);
    }
    out.push(b'}');
    out
}

/// [`Resource::stored`] written straight from a resource's compact text, as the tree would
/// write it, without building the tree: `None` where the text is not of the form this handles
/// (a member name with an escape), and the tree is to be used.
pub fn stored_text(text: &[u8], id: &str, version: u64, last_updated: &str) -> Option<Vec<u8>> {
    let quoted = |s: &str| {
        let mut v = Vec::with_capacity(s.len() + 2);
        v.push(b'"');
        v.extend_from_slice(Text::from_value(s).raw().as_bytes());
        v.push(b'"');
        v
    };
    let sent = members(text)?;
    let mut top: Vec<(&[u8], Vec<u8>)> = sent.iter().map(|(n, v)| (*n, v.to_vec())).collect();
    set_member(&mut top, b"id", quoted(id), 1);
    let mut meta: Vec<(&[u8], Vec<u8>)> = match sent.iter().find(|(n, _)| *n == b"meta") {
        Some((_, value)) => members(value)?
            .into_iter()
            .map(|(n, v)| (n, v.to_vec()))
            .collect(),
        None => Vec::new(),
    };
    set_member(&mut meta, b"versionId", quoted(&version.to_string()), 0);
    set_member(&mut meta, b"lastUpdated", quoted(last_updated), 1);
    let at = top
        .iter()
        .position(|(n, _)| *n == b"id")
        .map_or(1, |i| i + 1);
    set_member(&mut top, b"meta", write_object(&meta), at);
    Some(write_object(&top))
}

/// A `Binary` resource holding `bytes` of `content_type` (as a client sends an attachment in its
/// own format, FHIR's raw Binary), with its security context — the patient it belongs to — when
/// given (`X-Security-Context`).
pub fn binary(content_type: &str, bytes: &[u8], security_context: Option<&str>) -> Vec<u8> {
    use base64::Engine as _;
    let mut out = String::with_capacity(bytes.len() * 4 / 3 + 128);
    out.push_str("{\"resourceType\":\"Binary\",\"contentType\":\"");
    out.push_str(Text::from_value(content_type).raw());
    out.push('"');
    if let Some(context) = security_context {
        out.push_str(",\"securityContext\":{\"reference\":\"");
        out.push_str(Text::from_value(context).raw());
        out.push_str("\"}");
    }
    out.push_str(",\"data\":\"");
    base64::engine::general_purpose::STANDARD.encode_string(bytes, &mut out);
    out.push_str("\"}");
    out.into_bytes()
}

/// The content type and the decoded bytes of a stored `Binary` (none if it holds no data, or
/// data that is not base64, which validation refuses).
pub fn binary_content(stored: &[u8]) -> Option<(String, Vec<u8>)> {
    use base64::Engine as _;
    let tree = crate::json::parse(stored).ok()?;
    let content_type = tree.get("contentType")?.as_str()?;
    let data = tree.get("data")?.as_str()?;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(data.as_bytes())
        .ok()?;
    Some((content_type, bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    // Shows what is taken and what is refused, each with its reason.
    // Shows the writes' refusal of control characters, and that reading stays possible: a
    // resource holding U+0000 parses (an older release may have kept one) but is refused as a
    // new write.
    #[test]
    fn control_characters_are_refused_for_writes_only() {
        let body = br#"{"resourceType":"Patient","name":[{"family":"\u0000"}]}"#;
        let resource = Resource::parse(body, None).unwrap();
        assert_eq!(
            resource.refuse_controls(),
            Err(ResourceError::ControlCharacter)
        );
        let fine = Resource::parse(
            br#"{"resourceType":"Patient","name":[{"family":"a\tb"}]}"#,
            None,
        )
        .unwrap();
        assert_eq!(fine.refuse_controls(), Ok(()));
    }

    #[test]
    fn parsing_and_refusals() {
        let patient = Resource::parse(br#"{"resourceType":"Patient","id":"p-1.a"}"#, None).unwrap();
        assert_eq!(
            (patient.kind, patient.id()),
            ("Patient", Some("p-1.a".into()))
        );
        assert!(Resource::parse(br#"{"resourceType":"Patient"}"#, Some("Patient")).is_ok());
        for (body, expected, why) in [
            (&br#"[]"#[..], None, ResourceError::NotObject),
            (br#"{"id":"x"}"#, None, ResourceError::NoType),
            (br#"{"resourceType":1}"#, None, ResourceError::NoType),
            (
                br#"{"resourceType":"Account"}"#,
                None,
                ResourceError::UnknownType,
            ),
            (
                br#"{"resourceType":"Patient"}"#,
                Some("Observation"),
                ResourceError::WrongType,
            ),
            (
                br#"{"resourceType":"Patient","id":"a b"}"#,
                None,
                ResourceError::BadId,
            ),
            (
                br#"{"resourceType":"Patient","id":""}"#,
                None,
                ResourceError::BadId,
            ),
            (
                br#"{"resourceType":"Patient","id":7}"#,
                None,
                ResourceError::BadId,
            ),
            (
                br#"{"resourceType":"Patient","meta":[]}"#,
                None,
                ResourceError::BadMeta,
            ),
        ] {
            assert_eq!(
                Resource::parse(body, expected),
                Err(why),
                "{}",
                String::from_utf8_lossy(body)
            );
        }
        let long = format!(r#"{{"resourceType":"Patient","id":"{}"}}"#, "a".repeat(65));
        assert_eq!(
            Resource::parse(long.as_bytes(), None),
            Err(ResourceError::BadId)
        );
        assert!(matches!(
            Resource::parse(
                br#"{"resourceType":"Patient","resourceType":"Patient"}"#,
                None
            ),
            Err(ResourceError::Json(JsonError::DuplicateKey { .. }))
        ));
    }

    // Shows the server's fields set and everything else kept as sent: with no id or meta,
    // they follow resourceType; a sent id is replaced in place; the sender's profile stays.
    #[test]
    fn stored_form() {
        let sent =
            br#"{"resourceType":"Observation","status":"final","valueQuantity":{"value":6.50}}"#;
        let stored =
            Resource::parse(sent, None)
                .unwrap()
                .stored("o1", 1, "2026-11-25T09:00:00.000+09:00");
        assert_eq!(
            String::from_utf8(stored.to_bytes()).unwrap(),
            r#"{"resourceType":"Observation","id":"o1","meta":{"versionId":"1","lastUpdated":"2026-11-25T09:00:00.000+09:00"},"status":"final","valueQuantity":{"value":6.50}}"#
        );
        let sent = br#"{"resourceType":"Patient","meta":{"profile":["http://jpfhir.jp/fhir/core/StructureDefinition/JP_Patient"],"versionId":"9"},"id":"client","gender":"female"}"#;
        let stored =
            Resource::parse(sent, None)
                .unwrap()
                .stored("p1", 2, "2026-11-25T09:00:00.000+09:00");
        assert_eq!(
            String::from_utf8(stored.to_bytes()).unwrap(),
            r#"{"resourceType":"Patient","meta":{"profile":["http://jpfhir.jp/fhir/core/StructureDefinition/JP_Patient"],"lastUpdated":"2026-11-25T09:00:00.000+09:00","versionId":"2"},"id":"p1","gender":"female"}"#
        );
    }

    // Shows a raw attachment wrapped as a Binary that parses as one, and its bytes read back,
    // its media type and security context escaped as JSON strings.
    #[test]
    fn raw_attachments_round_trip() {
        let bytes: Vec<u8> = (0..=255u8).collect();
        let made = binary("text/plain; charset=\"utf-8\"", &bytes, Some("Patient/p-1"));
        let resource = Resource::parse(&made, Some("Binary")).unwrap();
        assert_eq!(resource.kind, "Binary");
        let (media, back) = binary_content(&made).unwrap();
        assert_eq!(media, "text/plain; charset=\"utf-8\"");
        assert_eq!(back, bytes);
        assert_eq!(
            binary_content(br#"{"resourceType":"Binary","contentType":"x/y"}"#),
            None
        );
    }

    proptest::proptest! {
        // Shows, for any resource-like document — any members, an id and a meta with or
        // without versionId and lastUpdated, anywhere — that the stored form written straight
        // from the text is the tree's, byte for byte.
        #[test]
        fn stored_text_is_the_trees(
            mut members in proptest::collection::vec(
                ("[a-z]{1,3}|id|meta|versionId", crate::json::tests::tree()), 0..6),
            meta in proptest::option::of(proptest::collection::vec(
                ("[a-z]{1,3}|versionId|lastUpdated|id", crate::json::tests::tree()), 0..5)),
            meta_at in 0usize..6,
            version in 1u64..1_000_000,
        ) {
            use crate::json::{Json, Text};
            let mut seen = std::collections::BTreeSet::new();
            members.retain(|(name, _)| name != "meta" && seen.insert(name.clone()));
            let mut object: Vec<(Text, Json)> = vec![(
                Text::from_value("resourceType"),
                Json::String(Text::from_value("Observation")),
            )];
            object.extend(members.into_iter().map(|(n, v)| (Text::from_value(&n), v)));
            if let Some(meta) = meta {
                let mut seen = std::collections::BTreeSet::new();
                let meta: Vec<(Text, Json)> = meta
                    .into_iter()
                    .filter(|(n, _)| seen.insert(n.clone()))
                    .map(|(n, v)| (Text::from_value(&n), v))
                    .collect();
                let at = meta_at.min(object.len());
                object.insert(at, (Text::from_value("meta"), Json::Object(meta)));
            }
            let text = Json::Object(object).to_bytes();
            let resource = Resource {
                kind: "Observation",
                tree: crate::json::parse(&text).unwrap(),
            };
            let by_tree = resource.stored("o-1", version, "2026-12-07T10:00:00.000000+09:00").to_bytes();
            let by_text = stored_text(&text, "o-1", version, "2026-12-07T10:00:00.000000+09:00");
            proptest::prop_assert_eq!(by_text, Some(by_tree));
        }
    }
}
