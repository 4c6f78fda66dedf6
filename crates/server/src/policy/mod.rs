//! The policy wing at the HTTP edge: the versions of the access policy, proposed, decided and
//! explained, as JSON (`api.rs`) and as pages (`pages.rs`), handled in `versions.rs`.

pub(crate) mod api;
mod errors;
pub(crate) mod pages;
mod versions;

use crate::router::AppState;
use axum::Router;

/// The wing's routes, API and pages.
pub(crate) fn routes() -> Router<AppState> {
    api::routes().merge(pages::routes())
}
