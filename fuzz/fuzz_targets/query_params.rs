//! A query string or a form body, read as the server's extractors read them (form-urlencoded
//! into name–value pairs, and into typed forms with optional, defaulted and numeric fields,
//! as the note editor's and the token endpoint's), then given to the parsers of searches,
//! histories, Provenance lookups and version numbers of every resource type: each answers any
//! text without panicking, and what it takes keeps its limits.
#![no_main]

use kiroku_core::text::percent_decode;
use kiroku_records::resource::TYPES;
use kiroku_records::search::{
    version_number, HistoryQuery, ProvenanceQuery, SearchQuery, PAGE_MAX,
};
use libfuzzer_sys::fuzz_target;
use serde::Deserialize;

/// Shaped like the web pages' forms: a required field, defaulted ones, optional ones.
#[derive(Deserialize)]
#[allow(dead_code)]
struct NoteLikeForm {
    csrf: String,
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    s0: String,
    #[serde(default)]
    reason: Option<String>,
}

/// Shaped like the token endpoint's form and the listings' queries.
#[derive(Deserialize)]
#[allow(dead_code)]
struct TokenLikeForm {
    grant_type: Option<String>,
    scope: Option<String>,
    client_assertion: Option<String>,
    limit: Option<u64>,
    before: Option<u64>,
}

fuzz_target!(|data: &[u8]| {
    let _ = serde_urlencoded::from_bytes::<NoteLikeForm>(data);
    let _ = serde_urlencoded::from_bytes::<TokenLikeForm>(data);
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = percent_decode(text, true);
        let _ = percent_decode(text, false);
        if let Some(v) = version_number(text) {
            assert!(v >= 1 && i64::try_from(v).is_ok());
        }
    }
    let Ok(params) = serde_urlencoded::from_bytes::<Vec<(String, String)>>(data) else {
        return;
    };
    for kind in TYPES {
        if let Ok(search) = SearchQuery::parse(kind, &params) {
            assert!((1..=PAGE_MAX).contains(&search.count));
        }
    }
    if let Ok(history) = HistoryQuery::parse(&params) {
        assert!(history.before.is_none_or(|b| i64::try_from(b).is_ok()));
    }
    if let Ok(target) = ProvenanceQuery::parse(&params) {
        assert!(target.version.is_none_or(|v| v >= 1));
    }
});
