//! The tlog endpoints under `/ledger/`: the signed checkpoint, the verifier key and hash tiles
//! (public, for witnesses), inclusion and consistency proofs (JSON, base64 hashes). Entry
//! bundles are not public: entries will name patients.

use super::{blocking, AppState};
use crate::error::AppError;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use kiroku_ledger::Tile;
use kiroku_store::read;
use serde_json::json;
use std::collections::HashMap;

pub(super) async fn checkpoint(State(state): State<AppState>) -> Result<Response, AppError> {
    let store = state.store.clone();
    let latest = blocking(move || Ok(read::latest_checkpoint(&store)?)).await?;
    let Some(latest) = latest else {
        return Err(AppError::new(
            StatusCode::NOT_FOUND,
            "no_checkpoint",
            "台帳にはまだチェックポイントがありません。",
            "The ledger has no checkpoint yet.",
        ));
    };
    Ok((
        [
            (CONTENT_TYPE, "text/plain; charset=utf-8"),
            (CACHE_CONTROL, "no-store"),
        ],
        latest.note,
    )
        .into_response())
}

pub(super) async fn key(State(state): State<AppState>) -> Response {
    (
        [(CONTENT_TYPE, "text/plain; charset=utf-8")],
        format!("{}\n", state.verifier_key),
    )
        .into_response()
}

pub(super) async fn tile(
    State(state): State<AppState>,
    Path(path): Path<String>,
) -> Result<Response, AppError> {
    if path == "entries" || path.starts_with("entries/") {
        return Err(AppError::new(
            StatusCode::FORBIDDEN,
            "entries_not_public",
            "エントリ本体は公開されていません。患者を特定し得る内容を含むため、監査担当者のみが閲覧できます。",
            "Entry bundles are not public: entries may name patients, and only auditors may read them.",
        ));
    }
    let tile = Tile::parse_path(&path).map_err(|_| {
        AppError::bad_request(
            "bad_tile_path",
            "タイルのパスが不正です。形式は tile/<レベル>/<番号>[.p/<幅>] です（例: tile/0/x001/234.p/8）。",
            "Malformed tile path. The form is tile/<level>/<index>[.p/<width>] (e.g. tile/0/x001/234.p/8).",
        )
    })?;
    let store = state.store.clone();
    let bytes = blocking(move || Ok(read::tile(&store, tile)?)).await?;
    let cache = if tile.is_full() {
        "public, max-age=31536000, immutable"
    } else {
        "public, max-age=60"
    };
    Ok((
        [
            (CONTENT_TYPE, "application/octet-stream"),
            (CACHE_CONTROL, cache),
        ],
        bytes,
    )
        .into_response())
}

/// Reads a required whole-number query parameter, with a clear error in both languages.
fn number(params: &HashMap<String, String>, name: &'static str) -> Result<u64, AppError> {
    let value = params.get(name).ok_or_else(|| {
        AppError::bad_request(
            "missing_parameter",
            format!("パラメータ {name} が必要です。"),
            format!("The parameter {name} is required."),
        )
    })?;
    if value.is_empty() || value.len() > 19 || !value.bytes().all(|b| b.is_ascii_digit()) {
        return Err(AppError::bad_request(
            "bad_parameter",
            format!("パラメータ {name} は 0 以上の整数で指定してください。"),
            format!("The parameter {name} must be a whole number, 0 or more."),
        ));
    }
    value.parse().map_err(|_| {
        AppError::bad_request(
            "bad_parameter",
            format!("パラメータ {name} が大きすぎます。"),
            format!("The parameter {name} is too large."),
        )
    })
}

fn query(
    params: Result<Query<HashMap<String, String>>, QueryRejection>,
) -> Result<HashMap<String, String>, AppError> {
    params.map(|Query(p)| p).map_err(|_| {
        AppError::bad_request(
            "bad_query",
            "クエリ文字列を解釈できません。",
            "The query string cannot be parsed.",
        )
    })
}

async fn signed_size(state: &AppState) -> Result<u64, AppError> {
    let store = state.store.clone();
    blocking(move || Ok(read::latest_checkpoint(&store)?.map_or(0, |c| c.size))).await
}

fn beyond(name: &str, size: u64) -> AppError {
    AppError::new(
        StatusCode::NOT_FOUND,
        "beyond_tree",
        format!("{name} が署名済みの木の大きさ（{size}）を超えています。"),
        format!("{name} exceeds the signed tree size ({size})."),
    )
}

pub(super) async fn inclusion(
    State(state): State<AppState>,
    params: Result<Query<HashMap<String, String>>, QueryRejection>,
) -> Result<Json<serde_json::Value>, AppError> {
    let params = query(params)?;
    let index = number(&params, "index")?;
    let size = number(&params, "size")?;
    let signed = signed_size(&state).await?;
    if size == 0 || index >= size {
        return Err(AppError::bad_request(
            "bad_range",
            "index は size より小さく、size は 1 以上でなければなりません。",
            "index must be less than size, and size at least 1.",
        ));
    }
    if size > signed {
        return Err(beyond("size", signed));
    }
    let store = state.store.clone();
    let hashes = blocking(move || Ok(read::inclusion_proof(&store, index, size)?)).await?;
    Ok(Json(json!({
        "index": index,
        "tree_size": size,
        "hashes": hashes.iter().map(|h| h.to_base64()).collect::<Vec<_>>(),
    })))
}

pub(super) async fn consistency(
    State(state): State<AppState>,
    params: Result<Query<HashMap<String, String>>, QueryRejection>,
) -> Result<Json<serde_json::Value>, AppError> {
    let params = query(params)?;
    let old = number(&params, "old")?;
    let new = number(&params, "new")?;
    let signed = signed_size(&state).await?;
    if old == 0 || old > new {
        return Err(AppError::bad_request(
            "bad_range",
            "old は 1 以上 new 以下でなければなりません。",
            "old must be at least 1 and at most new.",
        ));
    }
    if new > signed {
        return Err(beyond("new", signed));
    }
    let store = state.store.clone();
    let hashes = blocking(move || Ok(read::consistency_proof(&store, old, new)?)).await?;
    Ok(Json(json!({
        "old": old,
        "new": new,
        "hashes": hashes.iter().map(|h| h.to_base64()).collect::<Vec<_>>(),
    })))
}
