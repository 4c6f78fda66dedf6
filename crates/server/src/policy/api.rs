//! The policy wing's JSON API (`/api/policy/…`).

use crate::router::AppState;
use axum::routing::{get, post};
use axum::Router;

/// The routes.
pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route(
            "/api/policy/versions",
            get(super::versions::versions).post(super::versions::propose),
        )
        .route("/api/policy/versions/{n}", get(super::versions::version))
        .route(
            "/api/policy/versions/{n}/approval",
            post(super::versions::approve),
        )
        .route(
            "/api/policy/versions/{n}/rejection",
            post(super::versions::reject),
        )
        .route("/api/policy/in-force", get(super::versions::in_force))
        .route("/api/policy/decision", get(super::versions::decision))
}
