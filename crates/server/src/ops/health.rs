//! Operations endpoints: `/healthz` for load balancers and `/metrics` (OpenMetrics text) for
//! the operations manager — writer queue depth, batch sizes, commit and fsync latency,
//! refused requests, checkpoint age, tree size, responses by class.

use crate::error::AppError;
use crate::router::AppState;
use axum::extract::State;
use axum::http::header::CONTENT_TYPE;
use axum::response::{IntoResponse, Response};
use axum::Json;
use kiroku_core::Timestamp;
use serde_json::json;

pub(super) async fn healthz(
    State(state): State<AppState>,
) -> Result<Json<serde_json::Value>, AppError> {
    let size = state.app.ops().tree_size().await?;
    Ok(Json(json!({ "status": "ok", "tree_size": size })))
}

pub(super) async fn metrics(State(state): State<AppState>) -> Result<Response, AppError> {
    let latest = state.app.ops().checkpoint().await?;
    let size = latest.as_ref().map_or(0, |c| c.size);
    state.tree_size.set(i64::try_from(size).unwrap_or(i64::MAX));
    if let (Some(signed), Ok(now)) = (
        latest.and_then(|c| Timestamp::parse(&c.created_at)),
        state.app.clock().now(),
    ) {
        let age = (now.micros() - signed.micros()).max(0) as f64 / 1e6;
        state.checkpoint_age.set(age);
    }
    let mut out = String::new();
    prometheus_client::encoding::text::encode(&mut out, &state.metrics)
        .map_err(|e| AppError::internal(&e))?;
    Ok((
        [(
            CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        out,
    )
        .into_response())
}
