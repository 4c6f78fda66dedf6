//! The access wing at the HTTP edge: its JSON API and OAuth endpoints (`api.rs`) and its pages
//! (`pages.rs`), with their handlers by subject — accounts, roles, codes and applications
//! (`accounts.rs`, `registers.rs` for the pages), signing in and my account (`session.rs`),
//! passkeys (`passkeys.rs`), system clients, tokens and discovery (`clients.rs`), reports and
//! reviews (`lifecycle.rs`).

mod accounts;
pub(crate) mod api;
mod clients;
mod errors;
mod lifecycle;
pub(crate) mod pages;
mod passkeys;
mod registers;
pub(crate) mod session;

use crate::router::AppState;
use axum::Router;

/// The wing's routes, API and pages.
pub(crate) fn routes() -> Router<AppState> {
    api::routes().merge(pages::routes())
}
