//! The records wing's FHIR R4 API (`/fhir…`) and JSON API (`/api/records/…`).

use crate::router::AppState;
use axum::routing::{get, post};
use axum::Router;

/// The routes.
pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/fhir", post(super::fhir::transaction))
        // Clients post a transaction to the base URL, often with its final slash.
        .route("/fhir/", post(super::fhir::transaction))
        .route("/fhir/metadata", get(super::fhir::metadata))
        .route(
            "/fhir/{type}",
            get(super::fhir::search).post(super::fhir::create),
        )
        .route(
            "/fhir/{type}/{id}",
            get(super::fhir::read)
                .put(super::fhir::update)
                .delete(super::fhir::delete),
        )
        .route("/fhir/{type}/{id}/_history", get(super::fhir::history))
        .route(
            "/fhir/{type}/{id}/_history/{version}",
            get(super::fhir::vread),
        )
        .route(
            "/fhir/{type}/{id}/_history/{version}/$confirm",
            post(super::fhir::confirm),
        )
        .route(
            "/fhir/{type}/{id}/_history/{version}/$proof",
            get(super::fhir::proof),
        )
        .route(
            "/fhir/{type}/{id}/$break-the-glass",
            post(super::fhir::break_glass),
        )
        .route("/api/records/pending", get(super::chart::pending))
        .route("/api/records/emergencies", get(super::break_glass::queue))
        .route(
            "/api/records/emergencies/{entry}/review",
            post(super::break_glass::review),
        )
}
