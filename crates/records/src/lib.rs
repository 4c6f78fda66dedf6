//! The `records` context: legally retained clinical records as FHIR R4 (4.0.1) resources with
//! JP Core profiles, each version kept as it was sent and ledgered, with authenticity,
//! readability and preservation (真正性・見読性・保存性, Art. 14).
//!
//! Being built (issue 7; the plan is `docs/design/records.md`). So far:
//! - [`json`]: the FHIR JSON that keeps a resource's text as sent (decimals, escapes,
//!   characters outside the BMP and variation selectors) and refuses duplicate member names;
//! - [`normalise`]: names as search compares them, across full and half width, hiragana and
//!   katakana;
//! - [`resource`]: a body as a resource of a type this server keeps, and its stored form with
//!   the server's `id` and `meta` set and the rest as sent;
//! - [`index`]: what a version is found by (patient, encounter, date, search terms);
//! - [`record`]: the kinds — versions of resources, disclosures, refusals — their tables,
//!   rules and queries.
//! - [`transaction`]: a transaction Bundle as the writes it asks for, with the references
//!   between its entries resolved.
//! - [`validate`]: a resource checked against the FHIR R4 structure and the JP Core profiles it
//!   claims.
//! - [`care`]: who takes part in each patient's care, as the encounters and care teams say,
//!   and the flags of a patient's security labels;
//! - [`search`]: what a search, a history or a Provenance lookup asks, read from its
//!   parameters;
//! - [`emergency`]: break-the-glass accesses and their review;
//! - [`assignment`]: writes that change who takes part in care or a chart's flags, each a
//!   policy question of its own, a person's recorded with a reason and queued for review.

pub mod assignment;
pub mod care;
pub mod emergency;
pub mod index;
pub mod json;
pub mod normalise;
pub mod record;
pub mod resource;
pub mod search;
pub mod transaction;
pub mod validate;

use kiroku_core::projection::TableSpec;
use kiroku_core::{kind, Context, KindHandler};

/// The records context.
#[derive(Clone, Copy, Debug, Default)]
pub struct Records;

/// Every table the context owns.
pub static TABLES: &[&TableSpec] = &[
    &record::CURRENT,
    &record::VERSIONS,
    &record::TERMS,
    &record::IDENTIFIERS,
    &record::PENDING,
    &record::CONFIRMATIONS,
    &care::CARE,
    &emergency::GRANTS,
    &emergency::QUEUE,
    &emergency::REVIEWS,
];

impl Context for Records {
    fn name(&self) -> &'static str {
        "records"
    }

    fn tables(&self) -> &'static [&'static TableSpec] {
        TABLES
    }

    fn kinds(&self) -> Vec<Box<dyn KindHandler>> {
        vec![
            kind::<record::ResourceVersion>(),
            kind::<record::Confirmation>(),
            kind::<record::Disclosure>(),
            kind::<record::Denial>(),
            kind::<emergency::Emergency>(),
            kind::<emergency::Review>(),
            kind::<assignment::Assignment>(),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kiroku_core::{Actor, Entry, KindName, Payload, Registry, Timestamp, Value};

    // Shows that a version an older release kept with U+0000 in a string (as `\u0000` in its
    // text, and decoded in its search terms) still replays, on either backend alike: the kind
    // reads it, and its search term's U+0000 becomes U+FFFD in the projection (PostgreSQL's
    // text cannot hold it). New writes refuse such strings before anything is kept.
    #[test]
    fn an_old_version_holding_nul_replays() {
        let registry = Registry::new(&[&Records]).unwrap();
        let payload = serde_json::json!({
            "type": "Patient",
            "id": "p1",
            "version": 1,
            "state": "confirmed",
            "text": r#"{"resourceType":"Patient","name":[{"family":"A\u0000B"}]}"#,
            "index": {
                "patient": "p1",
                "terms": [{ "param": "name", "value": "a\u{0}b", "system": "" }]
            },
            "imported": true
        });
        let entry = Entry {
            kind: KindName::parse("records.resource/1").unwrap(),
            time: Timestamp::EPOCH,
            actor: Actor::system(),
            subject: None,
            reason: None,
            payload: Payload::Inline(payload.clone()),
            salt: [0; 16],
        };
        let changes = registry.interpret(&entry, payload).unwrap();
        let texts: Vec<&Value> = changes
            .iter()
            .filter(|c| c.table().name == record::TERMS.name)
            .flat_map(|c| c.key().iter())
            .collect();
        assert!(
            texts.contains(&&Value::Text("a\u{fffd}b".into())),
            "{texts:?}"
        );
        assert!(!texts
            .iter()
            .any(|v| matches!(v, Value::Text(t) if t.contains('\0'))));
    }
}
