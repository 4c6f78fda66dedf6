//! The access wing's JSON API (`/api/access/…`), the OAuth 2.0 token and revocation endpoints and
//! the discovery documents.

use crate::router::AppState;
use axum::routing::{get, post, put};
use axum::Router;

/// The routes.
pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route(
            "/api/access/reports",
            post(super::lifecycle::report).get(super::lifecycle::reports),
        )
        .route(
            "/api/access/reports/{id}/handling",
            post(super::lifecycle::handle),
        )
        .route(
            "/api/access/reviews",
            post(super::lifecycle::open).get(super::lifecycle::reviews),
        )
        .route("/api/access/reviews/{id}", get(super::lifecycle::review))
        .route(
            "/api/access/reviews/{id}/decisions",
            post(super::lifecycle::decide),
        )
        .route(
            "/api/access/reviews/{id}/closure",
            post(super::lifecycle::close),
        )
        .route(
            "/.well-known/oauth-authorization-server",
            get(super::clients::authorization_server),
        )
        .route(
            "/.well-known/smart-configuration",
            get(super::clients::smart_configuration),
        )
        .route("/oauth/token", post(super::clients::token))
        .route("/oauth/revoke", post(super::clients::revoke))
        .route("/api/access/me", get(super::clients::me))
        .route("/api/access/clients", get(super::clients::clients))
        .route(
            "/api/access/clients/{id}/scopes",
            put(super::clients::grant),
        )
        .route(
            "/api/access/clients/{id}/jwks",
            put(super::clients::register_keys),
        )
        .route(
            "/api/access/tokens/{id}/revocation",
            post(super::clients::revoke_by_administrator),
        )
        .route("/api/access/accounts", get(super::accounts::accounts))
        .route("/api/access/accounts/{id}", get(super::accounts::account))
        .route(
            "/api/access/accounts/{id}/suspension",
            post(super::accounts::suspend),
        )
        .route(
            "/api/access/accounts/{id}/reinstatement",
            post(super::accounts::reinstate),
        )
        .route(
            "/api/access/accounts/{id}/deactivation",
            post(super::accounts::deactivate),
        )
        .route(
            "/api/access/accounts/{id}/roles",
            post(super::accounts::appoint),
        )
        .route(
            "/api/access/accounts/{id}/roles/dismissal",
            post(super::accounts::dismiss),
        )
        .route("/api/access/roles", get(super::accounts::roles))
        .route(
            "/api/access/staff-identities",
            post(super::accounts::bind_staff_identity),
        )
        .route(
            "/api/access/accounts/{id}/supervisor",
            put(super::accounts::assign_supervisor),
        )
        .route("/api/access/codes/{list}", get(super::accounts::codes))
        .route(
            "/api/access/codes/{list}/{code}",
            put(super::accounts::define_code),
        )
        .route(
            "/api/access/applications",
            post(super::accounts::submit).get(super::accounts::applications),
        )
        .route(
            "/api/access/applications/{id}",
            get(super::accounts::application),
        )
        .route(
            "/api/access/applications/{id}/endorsement",
            post(super::accounts::endorse),
        )
        .route(
            "/api/access/applications/{id}/approval",
            post(super::accounts::approve),
        )
        .route(
            "/api/access/applications/{id}/rejection",
            post(super::accounts::reject),
        )
}
