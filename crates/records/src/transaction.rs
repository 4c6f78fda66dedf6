//! Transaction Bundles (`POST /fhir`, `Bundle.type` `transaction`): the writes they ask for,
//! all or nothing. Each entry creates (`POST Type`) or updates (`PUT Type/id`) one resource;
//! an entry's `fullUrl` (`urn:uuid:…` or `urn:oid:…`) names the resource it makes, and a
//! `reference` elsewhere in the Bundle that names that `fullUrl` is rewritten to the server's
//! `Type/id` before anything is stored. Reads, deletes, conditional updates and nested Bundles
//! are refused: a transaction here only writes.

use crate::json::{self, Json, Text};
use crate::resource::{is_id, Resource, ResourceError};
use std::collections::BTreeMap;

/// Most entries one transaction may hold.
pub const ENTRIES_MAX: usize = 100;

/// What one entry asks.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Method {
    /// Create a resource; with `if_none_exist` (`system|value` of an identifier), only if no
    /// patient holds it.
    Create {
        /// The identifier condition.
        if_none_exist: Option<(String, String)>,
    },
    /// Add a version to `id` (or create it with that id); `if_match`: the version seen.
    Update {
        /// The id.
        id: String,
        /// The version the client saw.
        if_match: Option<u64>,
    },
}

/// One entry of a transaction.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    /// Its `fullUrl`, when it names a resource of the Bundle (`urn:uuid:` or `urn:oid:`).
    pub full_url: Option<String>,
    /// What it asks.
    pub method: Method,
    /// The resource.
    pub resource: Resource,
}

/// Why a Bundle is not a transaction this server takes. `entry` is the entry's position, from 0.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum TransactionError {
    /// The body is not a resource at all (not JSON, duplicate names…).
    #[error(transparent)]
    Body(#[from] ResourceError),
    /// Not a Bundle of type `transaction`.
    #[error("not a transaction Bundle")]
    NotTransaction,
    /// No entries, or more than [`ENTRIES_MAX`].
    #[error("a transaction holds 1 to {ENTRIES_MAX} entries")]
    Size,
    /// An entry's `request` is missing or cannot be used.
    #[error("entry {entry}: {problem}")]
    Request {
        /// The entry.
        entry: usize,
        /// What is wrong.
        problem: Problem,
    },
    /// An entry's resource is not one this server takes.
    #[error("entry {entry}: {error}")]
    Resource {
        /// The entry.
        entry: usize,
        /// Why.
        error: ResourceError,
    },
    /// An entry's resource does not conform to FHIR R4 or to a JP Core profile it claims.
    #[error("entry {entry}: {invalid}")]
    Invalid {
        /// The entry.
        entry: usize,
        /// What is wrong.
        invalid: crate::validate::Invalid,
    },
    /// Two entries name one `fullUrl`, or one resource.
    #[error("entry {entry} names a resource another entry names")]
    Duplicate {
        /// The entry.
        entry: usize,
    },
}

/// What is wrong with an entry's request.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Problem {
    /// No `request`, or one without `method` and `url`.
    #[error("request.method and request.url are required")]
    NoRequest,
    /// No `resource`.
    #[error("the entry has no resource")]
    NoResource,
    /// A method other than POST and PUT.
    #[error("only POST and PUT are accepted in a transaction")]
    Method,
    /// A `url` the method cannot use (`Type` for POST, `Type/id` for PUT).
    #[error("request.url must be Type for POST and Type/id for PUT")]
    Url,
    /// The id in `url` is not an FHIR id.
    #[error("the id in request.url is not an FHIR id")]
    BadId,
    /// The resource's own id is not the one in `url`.
    #[error("the resource's id is not the one in request.url")]
    IdMismatch,
    /// `ifMatch` is not `W/"n"`.
    #[error("ifMatch must be W/\"version\"")]
    BadIfMatch,
    /// `ifNoneExist` is not `identifier=system|value`.
    #[error("ifNoneExist must be identifier=system|value")]
    BadIfNoneExist,
    /// A condition this server does not take here (`ifMatch` on a create, `ifNoneExist` on an
    /// update, `ifModifiedSince`, `ifNoneMatch`).
    #[error("the entry asks a condition this server does not support there")]
    Condition,
}

fn member<'a>(tree: &'a Json, name: &str) -> Option<&'a Json> {
    tree.get(name)
}

fn string(tree: &Json, name: &str) -> Option<String> {
    member(tree, name).and_then(Json::as_str)
}

/// The `W/"n"` (or `"n"`) of an ETag.
fn etag_version(text: &str) -> Option<u64> {
    let text = text.trim();
    let text = text.strip_prefix("W/").unwrap_or(text);
    let inner = text.strip_prefix('"')?.strip_suffix('"')?;
    if inner.is_empty() || inner.len() > 19 || !inner.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    inner.parse().ok().filter(|v| *v >= 1)
}

/// `identifier=system|value`, form-encoded as a query string (the only condition this server
/// takes, in a transaction's `ifNoneExist` and in the `If-None-Exist` header alike).
pub fn identifier_condition(text: &str) -> Option<(String, String)> {
    let value = text.trim_start_matches('?').strip_prefix("identifier=")?;
    if value.contains('&') {
        return None;
    }
    let value = kiroku_core::text::percent_decode(value, true)?;
    let (system, value) = value.split_once('|')?;
    (!system.is_empty() && !value.is_empty()).then(|| (system.to_owned(), value.to_owned()))
}

/// Parses a transaction Bundle into its entries, in order.
pub fn parse(bytes: &[u8]) -> Result<Vec<Entry>, TransactionError> {
    let tree = json::parse(bytes).map_err(ResourceError::from)?;
    if !matches!(tree, Json::Object(_)) {
        return Err(ResourceError::NotObject.into());
    }
    if string(&tree, "resourceType").as_deref() != Some("Bundle")
        || string(&tree, "type").as_deref() != Some("transaction")
    {
        return Err(TransactionError::NotTransaction);
    }
    let items = match member(&tree, "entry") {
        Some(Json::Array(items)) => items.clone(),
        _ => Vec::new(),
    };
    if items.is_empty() || items.len() > ENTRIES_MAX {
        return Err(TransactionError::Size);
    }
    let mut entries = Vec::with_capacity(items.len());
    for (at, item) in items.into_iter().enumerate() {
        let bad = |problem| TransactionError::Request { entry: at, problem };
        let request = member(&item, "request").ok_or(bad(Problem::NoRequest))?;
        let method = string(request, "method").ok_or(bad(Problem::NoRequest))?;
        let url = string(request, "url").ok_or(bad(Problem::NoRequest))?;
        let url = url.split('?').next().unwrap_or_default().to_owned();
        if request.get("ifModifiedSince").is_some() || request.get("ifNoneMatch").is_some() {
            return Err(bad(Problem::Condition));
        }
        let tree = member(&item, "resource")
            .cloned()
            .ok_or(bad(Problem::NoResource))?;
        let parts: Vec<&str> = url.split('/').collect();
        let (kind, method) = match (method.as_str(), parts.as_slice()) {
            ("POST", [kind]) => {
                if request.get("ifMatch").is_some() {
                    return Err(bad(Problem::Condition));
                }
                let if_none_exist = match string(request, "ifNoneExist") {
                    None => None,
                    Some(c) => Some(identifier_condition(&c).ok_or(bad(Problem::BadIfNoneExist))?),
                };
                (*kind, Method::Create { if_none_exist })
            }
            ("PUT", [kind, id]) => {
                if !is_id(id) {
                    return Err(bad(Problem::BadId));
                }
                if request.get("ifNoneExist").is_some() {
                    return Err(bad(Problem::Condition));
                }
                let if_match = match string(request, "ifMatch") {
                    None => None,
                    Some(tag) => Some(etag_version(&tag).ok_or(bad(Problem::BadIfMatch))?),
                };
                (
                    *kind,
                    Method::Update {
                        id: (*id).to_owned(),
                        if_match,
                    },
                )
            }
            ("POST" | "PUT", _) => return Err(bad(Problem::Url)),
            _ => return Err(bad(Problem::Method)),
        };
        let resource = Resource::from_tree(tree, Some(kind))
            .map_err(|error| TransactionError::Resource { entry: at, error })?;
        resource
            .refuse_controls()
            .map_err(|error| TransactionError::Resource { entry: at, error })?;
        resource
            .check()
            .map_err(|invalid| TransactionError::Invalid { entry: at, invalid })?;
        if let Method::Update { id, .. } = &method {
            if resource.id().is_some_and(|sent| &sent != id) {
                return Err(bad(Problem::IdMismatch));
            }
        }
        let full_url = string(&item, "fullUrl")
            .filter(|u| u.starts_with("urn:uuid:") || u.starts_with("urn:oid:"));
        entries.push(Entry {
            full_url,
            method,
            resource,
        });
    }
    for (at, entry) in entries.iter().enumerate() {
        let clash = entries[..at].iter().any(|before| {
            (entry.full_url.is_some() && before.full_url == entry.full_url)
                || match (&entry.method, &before.method) {
                    (Method::Update { id: a, .. }, Method::Update { id: b, .. }) => {
                        a == b && entry.resource.kind == before.resource.kind
                    }
                    _ => false,
                }
        });
        if clash {
            return Err(TransactionError::Duplicate { entry: at });
        }
    }
    Ok(entries)
}

/// Rewrites every `reference` in `tree` that names a key of `targets` (a `fullUrl`) to its
/// value (`Type/id`). Everything else is left as sent.
pub fn resolve(tree: &mut Json, targets: &BTreeMap<String, String>) {
    match tree {
        Json::Object(members) => {
            for (name, value) in members.iter_mut() {
                if name.value() == "reference" {
                    if let Some(target) = value.as_str().and_then(|r| targets.get(&r)) {
                        *value = Json::String(Text::from_value(target));
                        continue;
                    }
                }
                resolve(value, targets);
            }
        }
        Json::Array(items) => items.iter_mut().for_each(|i| resolve(i, targets)),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bundle(entries: &str) -> Vec<u8> {
        format!(r#"{{"resourceType":"Bundle","type":"transaction","entry":[{entries}]}}"#)
            .into_bytes()
    }

    // Shows what a transaction's entries say, and the references between them resolved.
    #[test]
    fn entries_and_references() {
        let body = bundle(
            r#"{"fullUrl":"urn:uuid:61ebe359-bfdc-4613-8bf2-c5e300945f0a","resource":{"resourceType":"Patient","name":[{"text":"𠮷田"}]},"request":{"method":"POST","url":"Patient","ifNoneExist":"identifier=urn:oid:1.2%7C42"}},
               {"resource":{"resourceType":"Observation","status":"final","code":{"text":"HbA1c"},"valueQuantity":{"value":6.50},"subject":{"reference":"urn:uuid:61ebe359-bfdc-4613-8bf2-c5e300945f0a"}},"request":{"method":"PUT","url":"Observation/o-1","ifMatch":"W/\"3\""}}"#,
        );
        let mut entries = parse(&body).unwrap();
        assert_eq!(entries.len(), 2);
        assert_eq!(
            entries[0].method,
            Method::Create {
                if_none_exist: Some(("urn:oid:1.2".into(), "42".into()))
            }
        );
        assert_eq!(
            entries[1].method,
            Method::Update {
                id: "o-1".into(),
                if_match: Some(3)
            }
        );
        let targets = BTreeMap::from([(
            entries[0].full_url.clone().unwrap(),
            "Patient/abc".to_owned(),
        )]);
        resolve(&mut entries[1].resource.tree, &targets);
        let text = String::from_utf8(entries[1].resource.tree.to_bytes()).unwrap();
        assert!(
            text.contains(r#""subject":{"reference":"Patient/abc"}"#),
            "{text}"
        );
        assert!(text.contains("6.50"), "decimals as sent: {text}");
    }

    // Shows each refusal, naming the entry at fault.
    #[test]
    fn refusals() {
        let patient = r#"{"resourceType":"Patient"}"#;
        let cases: Vec<(Vec<u8>, TransactionError)> = vec![
            (
                br#"{"resourceType":"Bundle","type":"batch","entry":[]}"#.to_vec(),
                TransactionError::NotTransaction,
            ),
            (bundle(""), TransactionError::Size),
            (
                bundle(&format!(r#"{{"resource":{patient}}}"#)),
                TransactionError::Request {
                    entry: 0,
                    problem: Problem::NoRequest,
                },
            ),
            (
                bundle(&format!(
                    r#"{{"resource":{patient},"request":{{"method":"POST","url":"Patient"}}}},{{"resource":{patient},"request":{{"method":"DELETE","url":"Patient/x"}}}}"#
                )),
                TransactionError::Request {
                    entry: 1,
                    problem: Problem::Method,
                },
            ),
            (
                bundle(&format!(
                    r#"{{"resource":{patient},"request":{{"method":"PUT","url":"Patient/a b"}}}}"#
                )),
                TransactionError::Request {
                    entry: 0,
                    problem: Problem::BadId,
                },
            ),
            (
                bundle(&format!(
                    r#"{{"resource":{patient},"request":{{"method":"PUT","url":"Observation/x"}}}}"#
                )),
                TransactionError::Resource {
                    entry: 0,
                    error: ResourceError::WrongType,
                },
            ),
            (
                bundle(&format!(
                    r#"{{"resource":{patient},"request":{{"method":"PUT","url":"Patient/x"}}}},{{"resource":{patient},"request":{{"method":"PUT","url":"Patient/x"}}}}"#
                )),
                TransactionError::Duplicate { entry: 1 },
            ),
            (
                bundle(&format!(
                    r#"{{"resource":{patient},"request":{{"method":"PUT","url":"Patient/x","ifMatch":"3"}}}}"#
                )),
                TransactionError::Request {
                    entry: 0,
                    problem: Problem::BadIfMatch,
                },
            ),
            (
                br#"{"resourceType":"Bundle","type":"transaction","type":"transaction"}"#.to_vec(),
                TransactionError::Body(ResourceError::Json(json::JsonError::DuplicateKey {
                    offset: 46,
                })),
            ),
        ];
        for (body, expected) in cases {
            assert_eq!(
                parse(&body),
                Err(expected),
                "{}",
                String::from_utf8_lossy(&body)
            );
        }
    }
}
