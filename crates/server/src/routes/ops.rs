//! Operations endpoints: `/healthz` for load balancers and `/metrics` (Prometheus text) for the
//! operations manager — writer queue depth, batch sizes, commit and fsync latency, checkpoint
//! age, tree size, responses by class.

use super::{blocking, AppState};
use crate::error::AppError;
use axum::extract::State;
use axum::http::header::CONTENT_TYPE;
use axum::response::{IntoResponse, Response};
use axum::Json;
use kiroku_domain::Timestamp;
use kiroku_store::read;
use serde_json::json;
use std::fmt::Write as _;
use std::sync::atomic::Ordering;

pub(super) async fn healthz(
    State(state): State<AppState>,
) -> Result<Json<serde_json::Value>, AppError> {
    let store = state.store.clone();
    let size = blocking(move || Ok(read::latest_checkpoint(&store)?.map_or(0, |c| c.size))).await?;
    Ok(Json(json!({ "status": "ok", "tree_size": size })))
}

pub(super) async fn metrics(State(state): State<AppState>) -> Result<Response, AppError> {
    let store = state.store.clone();
    let latest = blocking(move || Ok(read::latest_checkpoint(&store)?)).await?;
    let mut out = String::new();
    state.writer.metrics().render(&mut out);
    let size = latest.as_ref().map_or(0, |c| c.size);
    let _ = writeln!(
        out,
        "# HELP kiroku_ledger_tree_size Entries covered by the latest signed checkpoint.\n# TYPE kiroku_ledger_tree_size gauge\nkiroku_ledger_tree_size {size}"
    );
    if let Some(signed_at) = latest.and_then(|c| Timestamp::parse(&c.created_at)) {
        let age = (state.clock.now().0 - signed_at.0).max(0) as f64 / 1e6;
        let _ = writeln!(
            out,
            "# HELP kiroku_ledger_checkpoint_age_seconds Seconds since the latest checkpoint was signed.\n# TYPE kiroku_ledger_checkpoint_age_seconds gauge\nkiroku_ledger_checkpoint_age_seconds {age}"
        );
    }
    let _ = writeln!(
        out,
        "# HELP kiroku_http_responses_total HTTP responses by status class.\n# TYPE kiroku_http_responses_total counter"
    );
    for (i, count) in state.http_responses.iter().enumerate() {
        let _ = writeln!(
            out,
            "kiroku_http_responses_total{{class=\"{}xx\"}} {}",
            i + 1,
            count.load(Ordering::Relaxed)
        );
    }
    Ok((
        [(CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")],
        out,
    )
        .into_response())
}
