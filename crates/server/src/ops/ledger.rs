//! The tlog endpoints under `/ledger/`: the signed checkpoint, the verifier key and hash tiles
//! (public, for witnesses), inclusion and consistency proofs (JSON, base64 hashes). Entry
//! bundles are not public — entries will name patients: a signed-in auditor (or the audit
//! manager) may read them, and each read is a ledger entry before the bundle is sent.

use crate::callers::SignedIn;
use crate::catalogue::Code;
use crate::error::AppError;
use crate::extract::ApiQuery;
use crate::router::AppState;
use axum::extract::{Path, State};
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE};
use axum::response::{IntoResponse, Response};
use axum::Json;
use kiroku_access::AccessError;
use kiroku_app::ops::ledger::ReadFailure;
use kiroku_app::Error;
use kiroku_ledger::Tile;
use kiroku_policy::PolicyError;
use serde_json::json;
use std::collections::HashMap;

pub(super) async fn checkpoint(State(state): State<AppState>) -> Result<Response, AppError> {
    let Some(latest) = state.app.ops().checkpoint().await? else {
        return Err(AppError::new(Code::NoCheckpoint));
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
    me: Option<SignedIn>,
    Path(path): Path<String>,
) -> Result<Response, AppError> {
    if let Some(rest) = path.strip_prefix("entries/") {
        let Some(me) = me.filter(|m| m.session.must_go().is_none()) else {
            return Err(AppError::new(Code::EntriesNotPublic));
        };
        let tile = Tile::parse_entries_path(rest).map_err(|_| AppError::new(Code::BadTilePath))?;
        let bundle = state
            .app
            .access()
            .entry_bundle(me.actor, tile)
            .await
            .map_err(|e| match e {
                ReadFailure::Failed(
                    Error::Access(kiroku_app::access::Error::Rule(AccessError::NotPermitted {
                        ..
                    }))
                    | Error::Policy(PolicyError::Denied(_)),
                ) => AppError::new(Code::EntriesNotPublic),
                other => other.into(),
            })?;
        return Ok((
            [
                (CONTENT_TYPE, "application/octet-stream"),
                (CACHE_CONTROL, "no-store"),
            ],
            bundle,
        )
            .into_response());
    }
    if path == "entries" {
        return Err(AppError::new(Code::EntriesNotPublic));
    }
    let tile = Tile::parse_path(&path).map_err(|_| AppError::new(Code::BadTilePath))?;
    let bytes = state.app.ops().tile(tile).await?;
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

/// Reads a required whole-number query parameter.
fn number(params: &HashMap<String, String>, name: &'static str) -> Result<u64, AppError> {
    let value = params
        .get(name)
        .ok_or_else(|| AppError::new(Code::MissingParameter).with("name", name))?;
    if value.is_empty() || value.len() > 19 || !value.bytes().all(|b| b.is_ascii_digit()) {
        return Err(AppError::new(Code::BadParameter).with("name", name));
    }
    value
        .parse()
        .map_err(|_| AppError::new(Code::BadParameter).with("name", name))
}

pub(super) async fn inclusion(
    State(state): State<AppState>,
    ApiQuery(params): ApiQuery<HashMap<String, String>>,
) -> Result<Json<serde_json::Value>, AppError> {
    let index = number(&params, "index")?;
    let size = number(&params, "size")?;
    if size == 0 || index >= size {
        return Err(AppError::new(Code::BadInclusionRange));
    }
    let hashes = state.app.ops().inclusion_proof(index, size).await?;
    Ok(Json(json!({
        "index": index,
        "tree_size": size,
        "hashes": hashes.iter().map(|h| h.to_base64()).collect::<Vec<_>>(),
    })))
}

pub(super) async fn consistency(
    State(state): State<AppState>,
    ApiQuery(params): ApiQuery<HashMap<String, String>>,
) -> Result<Json<serde_json::Value>, AppError> {
    let old = number(&params, "old")?;
    let new = number(&params, "new")?;
    if old == 0 || old > new {
        return Err(AppError::new(Code::BadConsistencyRange));
    }
    let hashes = state.app.ops().consistency_proof(old, new).await?;
    Ok(Json(json!({
        "old": old,
        "new": new,
        "hashes": hashes.iter().map(|h| h.to_base64()).collect::<Vec<_>>(),
    })))
}
