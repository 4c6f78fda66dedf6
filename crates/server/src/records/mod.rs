//! The records wing at the HTTP edge: the FHIR R4 API and the records' JSON API (`api.rs`) and
//! the clinicians' pages (`pages.rs`), with their handlers — FHIR interactions (`fhir.rs`),
//! Provenance made from versions (`provenance.rs`), the chart, editor, record, history, print,
//! proof and queue pages (`chart.rs`, reading FHIR JSON through `clinical.rs`) and
//! break-the-glass (`break_glass.rs`).

pub(crate) mod api;
mod break_glass;
mod chart;
pub(crate) mod clinical;
mod errors;
pub(crate) mod fhir;
pub(crate) mod pages;
pub(crate) mod provenance;

use crate::router::AppState;
use axum::Router;

/// The wing's routes, API and pages.
pub(crate) fn routes() -> Router<AppState> {
    api::routes().merge(pages::routes())
}
