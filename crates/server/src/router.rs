//! The application: routes, shared state, and the middleware every response passes through
//! (request logging without patient data, security headers, localised errors).

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
use axum::routing::get;
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
        .route("/assets/kiroku.css", get(|| async { pages::css() }))
        .route("/assets/passkey.js", get(|| async { pages::passkey_js() }))
        .route("/assets/print.js", get(|| async { pages::print_js() }))
        .merge(crate::access::routes())
        .merge(crate::policy::routes())
        .merge(crate::records::routes())
        .merge(crate::ops::routes())
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
pub(crate) fn see_other(path: &str) -> Response {
    (
        StatusCode::SEE_OTHER,
        [(axum::http::header::LOCATION, path.to_owned())],
    )
        .into_response()
}

/// The version a form says its author saw (1 or more).
pub(crate) fn form_version(text: &str) -> Result<u64, AppError> {
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
        parts.headers.insert(
            CONTENT_TYPE,
            HeaderValue::from_static(crate::records::fhir::FHIR_JSON),
        );
        parts.headers.remove(axum::http::header::CONTENT_LENGTH);
        return Response::from_parts(
            parts,
            Body::from(crate::records::fhir::outcome(&error, api_lang)),
        )
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
