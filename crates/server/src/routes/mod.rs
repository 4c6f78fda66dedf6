//! The application: routes, shared state, and the middleware every response passes through
//! (request logging without patient data, security headers, localised errors).

mod access;
mod api;
mod chart;
mod clients;
mod emergency;
mod fhir;
mod ledger;
mod lifecycle;
mod ops;
mod passkeys;
mod policy;
mod registers;
mod session;
mod web;

use crate::catalogue::Code;
use crate::error::AppError;
use crate::i18n::Lang;
use crate::pages::{self, ErrorPage};
use axum::body::Body;
use axum::extract::{DefaultBodyLimit, MatchedPath, Request, State};
use axum::http::header::{
    CONTENT_SECURITY_POLICY, CONTENT_TYPE, REFERRER_POLICY, X_CONTENT_TYPE_OPTIONS, X_FRAME_OPTIONS,
};
use axum::http::{HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use kiroku_app::App;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;
use std::sync::atomic::AtomicU64;
use std::sync::Arc;
use std::time::Instant;

/// The labels of the HTTP response counter.
type ClassLabels = Vec<(&'static str, &'static str)>;

/// What every handler can reach.
#[derive(Clone)]
pub(crate) struct AppState(Arc<Inner>);

pub(crate) struct Inner {
    pub app: Arc<App>,
    pub verifier_key: String,
    pub metrics: Registry,
    pub http_responses: Family<ClassLabels, Counter>,
    pub tree_size: Gauge,
    pub checkpoint_age: Gauge<f64, AtomicU64>,
    /// Failed sign-ins and client authentications per source address.
    pub attempts: crate::throttle::Attempts,
}

impl AppState {
    fn new(app: Arc<App>) -> AppState {
        let mut metrics = Registry::default();
        app.writer_metrics().register(&mut metrics);
        let http_responses = Family::<ClassLabels, Counter>::default();
        let tree_size = Gauge::default();
        let checkpoint_age = Gauge::<f64, AtomicU64>::default();
        metrics.register(
            "kiroku_http_responses",
            "HTTP responses by status class",
            http_responses.clone(),
        );
        metrics.register(
            "kiroku_ledger_tree_size",
            "Entries covered by the latest signed checkpoint",
            tree_size.clone(),
        );
        metrics.register(
            "kiroku_ledger_checkpoint_age_seconds",
            "Seconds since the latest checkpoint was signed",
            checkpoint_age.clone(),
        );
        AppState(Arc::new(Inner {
            verifier_key: app.verifier().to_text(),
            app,
            metrics,
            http_responses,
            tree_size,
            checkpoint_age,
            attempts: crate::throttle::Attempts::default(),
        }))
    }
}

impl std::ops::Deref for AppState {
    type Target = Inner;
    fn deref(&self) -> &Inner {
        &self.0
    }
}

/// The application for a running Kiroku.
pub fn app(app: Arc<App>) -> Router {
    let state = AppState::new(app);
    let body_limit = state.app.config.limits.body_bytes_max;
    Router::new()
        .route("/", get(web::status))
        .route("/notes", get(web::notes).post(web::write_note))
        .route("/notes/{note}", get(web::note))
        .route("/notes/{note}/amend", post(web::amend_note))
        .route("/notes/{note}/withdraw", post(web::withdraw_note))
        .route(
            "/sign-in",
            get(session::sign_in_form).post(session::sign_in),
        )
        .route("/sign-out", post(session::sign_out))
        .route("/me", get(session::me))
        .route(
            "/sign-in/second-factor",
            get(session::second_factor_form).post(session::second_factor),
        )
        .route(
            "/me/second-factor",
            get(session::enrol_form).post(session::enrol),
        )
        .route("/me/passkeys", post(passkeys::register))
        .route("/me/passkeys/challenge", post(passkeys::creation_options))
        .route("/me/passkeys/removal", post(passkeys::remove))
        .route("/sign-in/passkey", post(passkeys::sign_in))
        .route(
            "/sign-in/passkey/challenge",
            post(passkeys::request_options),
        )
        .route(
            "/applications",
            get(registers::applications).post(registers::submit),
        )
        .route("/applications/new", get(registers::new_application))
        .route("/applications/{id}", get(registers::application))
        .route(
            "/applications/{id}/print",
            get(registers::application_print),
        )
        .route("/applications/{id}/endorse", post(registers::endorse))
        .route("/applications/{id}/approve", post(registers::approve))
        .route("/applications/{id}/reject", post(registers::reject))
        .route("/accounts", get(registers::accounts))
        .route("/accounts/{id}", get(lifecycle::account_page))
        .route("/accounts/{id}/{step}", post(lifecycle::status_form))
        .route(
            "/reports",
            get(lifecycle::reports_page).post(lifecycle::report_form),
        )
        .route("/reports/{id}/handle", post(lifecycle::handle_form))
        .route(
            "/reviews",
            get(lifecycle::reviews_page).post(lifecycle::open_form),
        )
        .route("/reviews/{id}", get(lifecycle::review_page))
        .route("/reviews/{id}/close", post(lifecycle::close_form))
        .route(
            "/reviews/{id}/members/{account}/confirm",
            post(lifecycle::confirm_form),
        )
        .route(
            "/reviews/{id}/members/{account}/revoke",
            post(lifecycle::revoke_form),
        )
        .route(
            "/api/access/reports",
            post(lifecycle::report).get(lifecycle::reports),
        )
        .route("/api/access/reports/{id}/handling", post(lifecycle::handle))
        .route(
            "/api/access/reviews",
            post(lifecycle::open).get(lifecycle::reviews),
        )
        .route("/api/access/reviews/{id}", get(lifecycle::review))
        .route(
            "/api/access/reviews/{id}/decisions",
            post(lifecycle::decide),
        )
        .route("/api/access/reviews/{id}/closure", post(lifecycle::close))
        .route(
            "/policy",
            get(policy::policy_page).post(policy::propose_form),
        )
        .route("/policy/explain", get(policy::explain_page))
        .route("/policy/versions/{n}", get(policy::version_page))
        .route("/policy/versions/{n}/approve", post(policy::approve_form))
        .route("/policy/versions/{n}/reject", post(policy::reject_form))
        .route("/roles", get(registers::roles))
        .route("/clients", get(clients::clients_page))
        .route("/clients/{id}/scopes", post(clients::grant_form))
        .route("/clients/tokens/{id}/revoke", post(clients::revoke_form))
        .route(
            "/.well-known/oauth-authorization-server",
            get(clients::authorization_server),
        )
        .route(
            "/.well-known/smart-configuration",
            get(clients::smart_configuration),
        )
        .route("/oauth/token", post(clients::token))
        .route("/oauth/revoke", post(clients::revoke))
        .route("/api/access/me", get(clients::me))
        .route("/api/access/clients", get(clients::clients))
        .route(
            "/api/access/clients/{id}/scopes",
            axum::routing::put(clients::grant),
        )
        .route(
            "/api/access/clients/{id}/jwks",
            axum::routing::put(clients::register_keys),
        )
        .route(
            "/api/access/tokens/{id}/revocation",
            post(clients::revoke_by_administrator),
        )
        .route(
            "/me/password",
            get(session::password_form).post(session::change_password),
        )
        .route("/assets/kiroku.css", get(|| async { pages::css() }))
        .route("/assets/passkey.js", get(|| async { pages::passkey_js() }))
        .route("/assets/print.js", get(|| async { pages::print_js() }))
        .route("/healthz", get(ops::healthz))
        .route("/metrics", get(ops::metrics))
        .route("/ledger/checkpoint", get(ledger::checkpoint))
        .route("/ledger/key", get(ledger::key))
        .route("/ledger/tile/{*path}", get(ledger::tile))
        .route("/ledger/proof/inclusion", get(ledger::inclusion))
        .route("/ledger/proof/consistency", get(ledger::consistency))
        .route(
            "/api/operator/notes",
            post(api::write_note).get(api::list_notes),
        )
        .route("/api/operator/notes/{note}", get(api::note))
        .route(
            "/api/operator/notes/{note}/amendments",
            post(api::amend_note),
        )
        .route(
            "/api/operator/notes/{note}/withdrawal",
            post(api::withdraw_note),
        )
        .route("/api/access/accounts", get(access::accounts))
        .route("/api/access/accounts/{id}", get(access::account))
        .route(
            "/api/access/accounts/{id}/suspension",
            post(access::suspend),
        )
        .route(
            "/api/access/accounts/{id}/reinstatement",
            post(access::reinstate),
        )
        .route(
            "/api/access/accounts/{id}/deactivation",
            post(access::deactivate),
        )
        .route("/api/access/accounts/{id}/roles", post(access::appoint))
        .route(
            "/api/access/accounts/{id}/roles/dismissal",
            post(access::dismiss),
        )
        .route("/api/access/roles", get(access::roles))
        .route(
            "/api/access/staff-identities",
            post(access::bind_staff_identity),
        )
        .route(
            "/api/access/accounts/{id}/supervisor",
            axum::routing::put(access::assign_supervisor),
        )
        .route(
            "/api/policy/versions",
            get(policy::versions).post(policy::propose),
        )
        .route("/api/policy/versions/{n}", get(policy::version))
        .route("/api/policy/versions/{n}/approval", post(policy::approve))
        .route("/api/policy/versions/{n}/rejection", post(policy::reject))
        .route("/api/policy/in-force", get(policy::in_force))
        .route("/api/policy/decision", get(policy::decision))
        .route("/api/access/codes/{list}", get(access::codes))
        .route(
            "/api/access/codes/{list}/{code}",
            axum::routing::put(access::define_code),
        )
        .route(
            "/api/access/applications",
            post(access::submit).get(access::applications),
        )
        .route("/api/access/applications/{id}", get(access::application))
        .route(
            "/api/access/applications/{id}/endorsement",
            post(access::endorse),
        )
        .route(
            "/api/access/applications/{id}/approval",
            post(access::approve),
        )
        .route(
            "/api/access/applications/{id}/rejection",
            post(access::reject),
        )
        .route("/fhir", post(fhir::transaction))
        // Clients post a transaction to the base URL, often with its final slash.
        .route("/fhir/", post(fhir::transaction))
        .route("/fhir/metadata", get(fhir::metadata))
        .route("/fhir/{type}", get(fhir::search).post(fhir::create))
        .route(
            "/fhir/{type}/{id}",
            get(fhir::read).put(fhir::update).delete(fhir::delete),
        )
        .route("/fhir/{type}/{id}/_history", get(fhir::history))
        .route("/fhir/{type}/{id}/_history/{version}", get(fhir::vread))
        .route(
            "/fhir/{type}/{id}/_history/{version}/$confirm",
            post(fhir::confirm),
        )
        .route(
            "/fhir/{type}/{id}/_history/{version}/$proof",
            get(fhir::proof),
        )
        .route(
            "/fhir/{type}/{id}/$break-the-glass",
            post(fhir::break_glass),
        )
        .route(
            "/emergency",
            get(emergency::form_page).post(emergency::open_form),
        )
        .route("/patients", get(chart::patients))
        .route("/patients/{id}", get(chart::chart))
        .route("/patients/{id}/notes/new", get(chart::new_note))
        .route("/patients/{id}/notes", post(chart::create_note))
        .route(
            "/records/DocumentReference/{id}/edit",
            get(chart::edit_note).post(chart::save_edit),
        )
        .route("/records/{type}/{id}", get(chart::record))
        .route("/records/{type}/{id}/history", get(chart::history))
        .route(
            "/records/{type}/{id}/_history/{version}",
            get(chart::record_version),
        )
        .route(
            "/records/{type}/{id}/_history/{version}/confirm",
            post(chart::confirm),
        )
        .route(
            "/records/{type}/{id}/_history/{version}/print",
            get(chart::print),
        )
        .route(
            "/records/{type}/{id}/_history/{version}/proof",
            get(chart::proof),
        )
        .route(
            "/queue",
            get(chart::queue_page).post(chart::confirm_selected),
        )
        .route("/api/records/pending", get(chart::pending))
        .route("/emergencies", get(emergency::queue_page))
        .route("/emergencies/{entry}/review", post(emergency::review_form))
        .route("/api/records/emergencies", get(emergency::queue))
        .route(
            "/api/records/emergencies/{entry}/review",
            post(emergency::review),
        )
        .fallback(|| async { AppError::not_found() })
        .layer(middleware::from_fn_with_state(
            state.clone(),
            read_whole_body,
        ))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            refuse_oversized,
        ))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            throttle_failures,
        ))
        .layer(middleware::from_fn(localize_errors))
        .layer(middleware::from_fn_with_state(state.clone(), observe))
        .layer(DefaultBodyLimit::max(body_limit))
        .with_state(state)
}

/// Logs each request (method, route template, status, duration — no query, no body), counts
/// responses by class, and adds security headers (and `Cache-Control: no-store` where the
/// handler set no caching of its own).
async fn observe(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = request.method().clone();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or("(unmatched)", |p| p.as_str())
        .to_owned();
    let mut response = next.run(request).await;
    let status = response.status();
    let class = match status.as_u16() / 100 {
        1 => "1xx",
        2 => "2xx",
        3 => "3xx",
        4 => "4xx",
        _ => "5xx",
    };
    state
        .http_responses
        .get_or_create(&vec![("class", class)])
        .inc();
    tracing::info!(
        %method,
        route,
        status = status.as_u16(),
        ms = started.elapsed().as_secs_f64() * 1e3,
        "request"
    );
    let headers = response.headers_mut();
    headers.insert(X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    // Nothing is kept in a cache — patients' records, a Binary's content, accounts — unless
    // its handler said otherwise (the ledger's immutable tiles).
    if !headers.contains_key(axum::http::header::CACHE_CONTROL) {
        headers.insert(
            axum::http::header::CACHE_CONTROL,
            HeaderValue::from_static("no-store"),
        );
    }
    // A response that set its own policy (a Binary's content) keeps it.
    if !headers.contains_key(CONTENT_SECURITY_POLICY) {
        headers.insert(
            CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(
                "default-src 'self'; script-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'",
            ),
        );
    }
    response
}

/// Slows down guessing ([`crate::throttle`]): an address that has failed to sign in or to
/// authenticate as a client too often lately is answered 429 before anything is checked, and
/// each failure (401, 403, 429) of those requests is counted. Requests without a peer address
/// (a server not started with one) are not counted.
async fn throttle_failures(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    let address = request
        .extensions()
        .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
        .map(|info| info.0.ip());
    let counted = request.method() == axum::http::Method::POST
        && crate::throttle::counted(request.uri().path());
    let Some(address) = address.filter(|_| counted) else {
        return next.run(request).await;
    };
    if let Some(wait) = state.attempts.blocked(address, Instant::now()) {
        let seconds = wait.as_secs().max(1);
        let mut response = AppError::new(Code::TooManyAttempts)
            .with("seconds", seconds)
            .into_response();
        response
            .headers_mut()
            .insert(axum::http::header::RETRY_AFTER, HeaderValue::from(seconds));
        return response;
    }
    let response = next.run(request).await;
    if matches!(response.status().as_u16(), 401 | 403 | 429) {
        state.attempts.failed(address, Instant::now());
    }
    response
}

/// Refuses a body whose declared length is over the limit before reading any of it (a client
/// that sent `Expect: 100-continue` is spared the upload). Bodies without a declared length
/// are cut off at the limit by `DefaultBodyLimit`.
async fn refuse_oversized(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let declared = request
        .headers()
        .get(axum::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|len| len > state.app.config.limits.body_bytes_max as u64) {
        return AppError::new(Code::BodyTooLarge).into_response();
    }
    next.run(request).await
}

/// Reads a request's whole body (within the limit) before any handler or extractor sees it,
/// so that a request refused before its body is read (not signed in, say) is still answered
/// over a connection that stays whole: a server that answers and closes while the client is
/// still sending makes the client see a reset instead of the answer.
async fn read_whole_body(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let (parts, body) = request.into_parts();
    match axum::body::to_bytes(body, state.app.config.limits.body_bytes_max).await {
        Ok(bytes) => {
            next.run(Request::from_parts(parts, Body::from(bytes)))
                .await
        }
        Err(_) => AppError::new(Code::BodyTooLarge).into_response(),
    }
}

/// Is this path the API's (errors as JSON) rather than a page's?
/// A redirect to `path` (after a form, or to where a session must go).
fn see_other(path: &str) -> Response {
    (
        StatusCode::SEE_OTHER,
        [(axum::http::header::LOCATION, path.to_owned())],
    )
        .into_response()
}

/// The version a form says its author saw (1 or more).
fn form_version(text: &str) -> Result<u64, AppError> {
    text.trim()
        .parse::<u64>()
        .ok()
        .filter(|v| (1..=i64::MAX as u64).contains(v))
        .ok_or(AppError::new(Code::BadVersion))
}

fn is_api(path: &str) -> bool {
    path.starts_with("/api/")
        || path.starts_with("/oauth/")
        || path.starts_with("/.well-known/")
        || path.starts_with("/ledger/")
        || path == "/healthz"
        || matches!(
            path,
            "/me/passkeys"
                | "/me/passkeys/challenge"
                | "/sign-in/passkey"
                | "/sign-in/passkey/challenge"
        )
        || path == "/metrics"
}

/// Renders [`AppError`]s — and the framework's own bare 404/405/413 answers — in the request's
/// language: JSON `{"error": {"code", "message"}}` for the API and the ledger, a page for the
/// web UI.
async fn localize_errors(request: Request, next: Next) -> Response {
    let (parts, body) = request.into_parts();
    let api_lang = Lang::of_request(&parts);
    let page_lang = Lang::of_page(&parts);
    let path = parts.uri.path().to_owned();
    let wants_json = parts
        .headers
        .get(axum::http::header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|accept| accept.contains("application/json") && !accept.contains("text/html"));
    let response = next.run(Request::from_parts(parts, body)).await;
    let status = response.status();
    if !(status.is_client_error() || status.is_server_error()) {
        return response;
    }
    let error = match response.extensions().get::<AppError>() {
        Some(error) => error.clone(),
        None if status == StatusCode::METHOD_NOT_ALLOWED => AppError::new(Code::MethodNotAllowed),
        None if status == StatusCode::NOT_FOUND => AppError::not_found(),
        None if status == StatusCode::PAYLOAD_TOO_LARGE => AppError::new(Code::BodyTooLarge),
        None => return response,
    };
    let (mut parts, _) = response.into_parts();
    if path == "/fhir" || path.starts_with("/fhir/") {
        parts
            .headers
            .insert(CONTENT_TYPE, HeaderValue::from_static(fhir::FHIR_JSON));
        parts.headers.remove(axum::http::header::CONTENT_LENGTH);
        return Response::from_parts(parts, Body::from(fhir::outcome(&error, api_lang)))
            .into_response();
    }
    let api = wants_json || is_api(&path);
    let lang = if api { api_lang } else { page_lang };
    let message = error.message(lang);
    let body = if api {
        parts
            .headers
            .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        serde_json::json!({ "error": { "code": error.code.code(), "message": message } })
            .to_string()
    } else {
        parts.headers.insert(
            CONTENT_TYPE,
            HeaderValue::from_static("text/html; charset=utf-8"),
        );
        // The language switch of an error page leads home: the failed path is the client's
        // text and must not become a link.
        pages::render(&ErrorPage {
            lang,
            title: lang.pick("エラー", "Error").into(),
            switch: pages::switch(lang, "/"),
            message,
            code: error.code.code(),
            emergency: error.emergency.clone(),
        })
    };
    parts.headers.remove(axum::http::header::CONTENT_LENGTH);
    Response::from_parts(parts, Body::from(body)).into_response()
}
