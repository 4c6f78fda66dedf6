//! The access wing's web pages: signing in and out, my account, applications, accounts, reports,
//! reviews, roles and clients.

use crate::router::AppState;
use axum::routing::{get, post};
use axum::Router;

/// The routes.
pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route(
            "/sign-in",
            get(super::session::sign_in_form).post(super::session::sign_in),
        )
        .route("/sign-out", post(super::session::sign_out))
        .route("/me", get(super::session::me))
        .route(
            "/sign-in/second-factor",
            get(super::session::second_factor_form).post(super::session::second_factor),
        )
        .route(
            "/me/second-factor",
            get(super::session::enrol_form).post(super::session::enrol),
        )
        .route("/me/passkeys", post(super::passkeys::register))
        .route(
            "/me/passkeys/challenge",
            post(super::passkeys::creation_options),
        )
        .route("/me/passkeys/removal", post(super::passkeys::remove))
        .route("/sign-in/passkey", post(super::passkeys::sign_in))
        .route(
            "/sign-in/passkey/challenge",
            post(super::passkeys::request_options),
        )
        .route(
            "/applications",
            get(super::registers::applications).post(super::registers::submit),
        )
        .route("/applications/new", get(super::registers::new_application))
        .route("/applications/{id}", get(super::registers::application))
        .route(
            "/applications/{id}/print",
            get(super::registers::application_print),
        )
        .route(
            "/applications/{id}/endorse",
            post(super::registers::endorse),
        )
        .route(
            "/applications/{id}/approve",
            post(super::registers::approve),
        )
        .route("/applications/{id}/reject", post(super::registers::reject))
        .route("/accounts", get(super::registers::accounts))
        .route("/accounts/{id}", get(super::lifecycle::account_page))
        .route("/accounts/{id}/{step}", post(super::lifecycle::status_form))
        .route(
            "/reports",
            get(super::lifecycle::reports_page).post(super::lifecycle::report_form),
        )
        .route("/reports/{id}/handle", post(super::lifecycle::handle_form))
        .route(
            "/reviews",
            get(super::lifecycle::reviews_page).post(super::lifecycle::open_form),
        )
        .route("/reviews/{id}", get(super::lifecycle::review_page))
        .route("/reviews/{id}/close", post(super::lifecycle::close_form))
        .route(
            "/reviews/{id}/members/{account}/confirm",
            post(super::lifecycle::confirm_form),
        )
        .route(
            "/reviews/{id}/members/{account}/revoke",
            post(super::lifecycle::revoke_form),
        )
        .route("/roles", get(super::registers::roles))
        .route("/clients", get(super::clients::clients_page))
        .route("/clients/{id}/scopes", post(super::clients::grant_form))
        .route(
            "/clients/tokens/{id}/revoke",
            post(super::clients::revoke_form),
        )
        .route(
            "/me/password",
            get(super::session::password_form).post(super::session::change_password),
        )
}
