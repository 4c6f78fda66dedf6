//! The `records` context: legally retained clinical records as FHIR R4 (4.0.1) resources with
//! JP Core profiles, each version kept as it was sent and ledgered, with authenticity,
//! readability and preservation (真正性・見読性・保存性, Art. 14).
//!
//! Being built (issue 7; the plan is `docs/design/records.md`). So far:
//! - [`json`]: the FHIR JSON that keeps a resource's text as sent (decimals, escapes,
//!   characters outside the BMP and variation selectors) and refuses duplicate member names;
//! - [`normalise`]: names as search compares them, across full and half width, hiragana and
//!   katakana.
//! - [`resource`]: a body as a resource of a type this server keeps, and its stored form with
//!   the server's `id` and `meta` set and the rest as sent.
//!
//! The context's kinds, tables and rules come next; until then it is not in the registry.

pub mod json;
pub mod normalise;
pub mod resource;
