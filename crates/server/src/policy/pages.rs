//! The policy wing's web pages (`/policy…`).

use crate::router::AppState;
use axum::routing::{get, post};
use axum::Router;

/// The routes.
pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route(
            "/policy",
            get(super::versions::policy_page).post(super::versions::propose_form),
        )
        .route("/policy/explain", get(super::versions::explain_page))
        .route("/policy/versions/{n}", get(super::versions::version_page))
        .route(
            "/policy/versions/{n}/approve",
            post(super::versions::approve_form),
        )
        .route(
            "/policy/versions/{n}/reject",
            post(super::versions::reject_form),
        )
}
