//! The ops wing's web pages: the status page and operators' notes.

use crate::router::AppState;
use axum::routing::{get, post};
use axum::Router;

/// The routes.
pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/", get(super::notes_pages::status))
        .route(
            "/notes",
            get(super::notes_pages::notes).post(super::notes_pages::write_note),
        )
        .route("/notes/{note}", get(super::notes_pages::note))
        .route("/notes/{note}/amend", post(super::notes_pages::amend_note))
        .route(
            "/notes/{note}/withdraw",
            post(super::notes_pages::withdraw_note),
        )
}
