//! The ops wing at the HTTP edge: the transparency log's endpoints (`ledger.rs`), operators'
//! notes as JSON (`notes_api.rs`) and as pages with the status page (`notes_pages.rs`), health
//! and metrics (`health.rs`); the route tables are `api.rs` and `pages.rs`.

pub(crate) mod api;
mod errors;
mod health;
mod ledger;
mod notes_api;
mod notes_pages;
pub(crate) mod pages;

use crate::router::AppState;
use axum::Router;

/// The wing's routes, API and pages.
pub(crate) fn routes() -> Router<AppState> {
    api::routes().merge(pages::routes())
}
