//! The ops wing's endpoints: the transparency log (`/ledger/…`), operators' notes
//! (`/api/operator/…`), health and metrics.

use crate::router::AppState;
use axum::routing::{get, post};
use axum::Router;

/// The routes.
pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/healthz", get(super::health::healthz))
        .route("/metrics", get(super::health::metrics))
        .route("/ledger/checkpoint", get(super::ledger::checkpoint))
        .route("/ledger/key", get(super::ledger::key))
        .route("/ledger/tile/{*path}", get(super::ledger::tile))
        .route("/ledger/proof/inclusion", get(super::ledger::inclusion))
        .route("/ledger/proof/consistency", get(super::ledger::consistency))
        .route(
            "/api/operator/notes",
            post(super::notes_api::write_note).get(super::notes_api::list_notes),
        )
        .route("/api/operator/notes/{note}", get(super::notes_api::note))
        .route(
            "/api/operator/notes/{note}/amendments",
            post(super::notes_api::amend_note),
        )
        .route(
            "/api/operator/notes/{note}/withdrawal",
            post(super::notes_api::withdraw_note),
        )
}
