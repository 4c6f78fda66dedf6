//! The records wing's web pages: patients, charts, notes, records, the confirmation queue and
//! break-the-glass.

use crate::router::AppState;
use axum::routing::{get, post};
use axum::Router;

/// The routes.
pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route(
            "/emergency",
            get(super::break_glass::form_page).post(super::break_glass::open_form),
        )
        .route("/patients", get(super::chart::patients))
        .route("/patients/{id}", get(super::chart::chart))
        .route("/patients/{id}/notes/new", get(super::chart::new_note))
        .route("/patients/{id}/notes", post(super::chart::create_note))
        .route(
            "/records/DocumentReference/{id}/edit",
            get(super::chart::edit_note).post(super::chart::save_edit),
        )
        .route("/records/{type}/{id}", get(super::chart::record))
        .route("/records/{type}/{id}/history", get(super::chart::history))
        .route(
            "/records/{type}/{id}/_history/{version}",
            get(super::chart::record_version),
        )
        .route(
            "/records/{type}/{id}/_history/{version}/confirm",
            post(super::chart::confirm),
        )
        .route(
            "/records/{type}/{id}/_history/{version}/print",
            get(super::chart::print),
        )
        .route(
            "/records/{type}/{id}/_history/{version}/proof",
            get(super::chart::proof),
        )
        .route(
            "/queue",
            get(super::chart::queue_page).post(super::chart::confirm_selected),
        )
        .route("/emergencies", get(super::break_glass::queue_page))
        .route(
            "/emergencies/{entry}/review",
            post(super::break_glass::review_form),
        )
}
