//! The application: routes, shared state, and the middleware every response passes through
//! (request logging without patient data, security headers, localised errors).

mod api;
mod ledger;
mod ops;
mod web;

use crate::config::Limits;
use crate::error::AppError;
use crate::i18n::Lang;
use crate::instance::Instance;
use crate::pages;
use axum::body::Body;
use axum::extract::{DefaultBodyLimit, MatchedPath, Request, State};
use axum::http::header::{
    CONTENT_SECURITY_POLICY, CONTENT_TYPE, X_CONTENT_TYPE_OPTIONS, X_FRAME_OPTIONS,
};
use axum::http::{HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use kiroku_domain::Clock;
use kiroku_store::writer::WriterHandle;
use kiroku_store::Store;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

/// What every handler can reach.
#[derive(Clone)]
pub(crate) struct AppState(Arc<Inner>);

pub(crate) struct Inner {
    pub store: Arc<Store>,
    pub writer: WriterHandle,
    pub origin: String,
    pub verifier_key: String,
    pub limits: Limits,
    pub operator_token_sha256: [u8; 32],
    pub clock: Arc<dyn Clock>,
    pub http_responses: [AtomicU64; 5],
}

impl AppState {
    /// State for an instance.
    pub(crate) fn new(instance: &Instance) -> AppState {
        AppState(Arc::new(Inner {
            store: instance.store.clone(),
            writer: instance.writer(),
            origin: instance.config.origin.clone(),
            verifier_key: instance.verifier.to_text(),
            limits: instance.config.limits.clone(),
            operator_token_sha256: instance.operator_token_sha256,
            clock: instance.clock.clone(),
            http_responses: Default::default(),
        }))
    }
}

impl std::ops::Deref for AppState {
    type Target = Inner;
    fn deref(&self) -> &Inner {
        &self.0
    }
}

/// Runs blocking store work off the async threads.
pub(crate) async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, AppError> + Send + 'static,
) -> Result<T, AppError> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| AppError::internal(&e))?
}

/// The application for an instance.
pub fn app(instance: &Instance) -> Router {
    let state = AppState::new(instance);
    let body_limit = state.limits.body_bytes_max;
    Router::new()
        .route("/", get(web::status))
        .route("/assets/kiroku.css", get(|| async { pages::css() }))
        .route("/healthz", get(ops::healthz))
        .route("/metrics", get(ops::metrics))
        .route("/ledger/checkpoint", get(ledger::checkpoint))
        .route("/ledger/key", get(ledger::key))
        .route("/ledger/tile/{*path}", get(ledger::tile))
        .route("/ledger/proof/inclusion", get(ledger::inclusion))
        .route("/ledger/proof/consistency", get(ledger::consistency))
        .route("/api/operator/notes", post(api::post_note))
        .fallback(|| async { AppError::not_found() })
        .layer(middleware::from_fn_with_state(
            state.clone(),
            refuse_oversized,
        ))
        .layer(middleware::from_fn(localize_errors))
        .layer(middleware::from_fn_with_state(state.clone(), observe))
        .layer(DefaultBodyLimit::max(body_limit))
        .with_state(state)
}

/// Logs each request (method, route template, status, duration — no query, no body), counts
/// responses by class, and adds security headers.
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
    let class = usize::from(status.as_u16() / 100).clamp(1, 5) - 1;
    state.http_responses[class].fetch_add(1, Ordering::Relaxed);
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
    headers.insert(
        CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("default-src 'self'; frame-ancestors 'none'; form-action 'self'"),
    );
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
    if declared.is_some_and(|len| len > state.limits.body_bytes_max as u64) {
        return StatusCode::PAYLOAD_TOO_LARGE.into_response();
    }
    next.run(request).await
}

/// Renders [`AppError`]s — and the framework's own bare 404/405 answers — in the request's
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
        None if status == StatusCode::METHOD_NOT_ALLOWED => AppError::new(
            status,
            "method_not_allowed",
            "このアドレスはその HTTP メソッドを受け付けません。",
            "This address does not accept that HTTP method.",
        ),
        None if status == StatusCode::NOT_FOUND => AppError::not_found(),
        None if status == StatusCode::PAYLOAD_TOO_LARGE => AppError::new(
            status,
            "body_too_large",
            "リクエストの本文が大きすぎます。何も記録されていません。",
            "The request body is too large. Nothing was recorded.",
        ),
        None => return response,
    };
    let (mut parts, _) = response.into_parts();
    let api = wants_json
        || path.starts_with("/api/")
        || path.starts_with("/ledger/")
        || path == "/healthz"
        || path == "/metrics";
    let lang = if api { api_lang } else { page_lang };
    let message = lang.pick(&error.ja, &error.en).to_owned();
    let body = if api {
        parts
            .headers
            .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        serde_json::json!({ "error": { "code": error.code, "message": message } }).to_string()
    } else {
        parts.headers.insert(
            CONTENT_TYPE,
            HeaderValue::from_static("text/html; charset=utf-8"),
        );
        let title = lang.pick("エラー", "Error");
        // The language switch of an error page leads home: the failed path is the client's
        // text and must not become a link.
        pages::layout(
            lang,
            title,
            "/",
            &format!(
                r#"<div class="error" role="alert"><p>{}</p><p class="muted">{}: <code>{}</code></p></div>"#,
                pages::esc(&message),
                lang.pick("エラーコード", "Error code"),
                error.code
            ),
        )
    };
    parts.headers.remove(axum::http::header::CONTENT_LENGTH);
    Response::from_parts(parts, Body::from(body)).into_response()
}
