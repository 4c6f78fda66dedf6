//! The JSON API of operators' notes, authorised by the operator token of the data directory
//! (`Authorization: Bearer <token>`) until accounts exist. Writing takes an optional
//! `Idempotency-Key`: a retried request writes nothing twice.

use crate::callers::Operator;
use crate::catalogue::Code;
use crate::error::AppError;
use crate::extract::{ApiJson, ApiQuery};
use crate::router::AppState;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use kiroku_app::ops::notes::{NoteSummary, NoteView};
use kiroku_core::EntryIndex;
use kiroku_ops::note::NoteState;
use serde::Deserialize;
use serde_json::{json, Value};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct NewNote {
    text: Option<String>,
    #[serde(default)]
    tags: Vec<String>,
}

pub(super) async fn write_note(
    State(state): State<AppState>,
    Operator(actor): Operator,
    headers: HeaderMap,
    ApiJson(request): ApiJson<NewNote>,
) -> Result<Response, AppError> {
    let key = match headers.get("idempotency-key") {
        None => None,
        Some(value) => Some(
            value
                .to_str()
                .map_err(|_| AppError::new(Code::BadIdempotencyKey))?
                .to_owned(),
        ),
    };
    kiroku_ops::note::check_text(request.text.as_deref())?;
    let text = request.text.unwrap_or_default();
    let written = state
        .app
        .ops()
        .write_note(actor, &text, request.tags, key)
        .await?;
    let status = if written.replayed {
        StatusCode::OK
    } else {
        StatusCode::CREATED
    };
    Ok((
        status,
        Json(json!({
            "note": written.note.0,
            "index": written.note.0,
            "version": 1,
            "tree_size": written.tree_size,
            "time": written.time.to_string(),
            "replayed": written.replayed,
        })),
    )
        .into_response())
}

fn state_json(state: &NoteState, tags: &[String]) -> Value {
    json!({
        "note": state.note.0,
        "version": state.version,
        "state": state.state.as_str(),
        "text": state.text,
        "tags": tags,
        "time": state.time.to_string(),
        "account": state.account,
        "last_entry": state.last_entry.0,
    })
}

fn view_json(view: &NoteView) -> Value {
    let mut value = state_json(&view.state, &view.tags);
    if let Some(map) = value.as_object_mut() {
        map.insert(
            "versions".into(),
            view.versions
                .iter()
                .map(|v| {
                    json!({
                        "version": v.version,
                        "entry": v.entry.0,
                        "change": v.change.as_str(),
                        "text": v.text,
                        "reason": v.reason,
                        "time": v.time.to_string(),
                        "account": v.account,
                    })
                })
                .collect::<Vec<_>>()
                .into(),
        );
    }
    value
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct ListQuery {
    after: Option<u64>,
    limit: Option<u64>,
    tag: Option<String>,
}

pub(super) async fn list_notes(
    State(state): State<AppState>,
    _: Operator,
    ApiQuery(query): ApiQuery<ListQuery>,
) -> Result<Json<Value>, AppError> {
    let limit = query.limit.unwrap_or(50);
    let notes: Vec<NoteSummary> = state
        .app
        .ops()
        .notes(query.after.map(EntryIndex), limit, query.tag)
        .await?;
    let next = (notes.len() as u64 >= limit.clamp(1, state.app.config.limits.page_rows_max))
        .then(|| notes.last().map(|n| n.state.note.0))
        .flatten();
    Ok(Json(json!({
        "notes": notes.iter().map(|n| state_json(&n.state, &n.tags)).collect::<Vec<_>>(),
        "next_after": next,
    })))
}

pub(super) async fn note(
    State(state): State<AppState>,
    _: Operator,
    Path(note): Path<String>,
) -> Result<Json<Value>, AppError> {
    let view = state
        .app
        .ops()
        .note(crate::extract::entry_in_path(&note)?)
        .await?;
    Ok(Json(view_json(&view)))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct Amendment {
    version: u64,
    text: Option<String>,
    tags: Option<Vec<String>>,
    reason: Option<String>,
}

pub(super) async fn amend_note(
    State(state): State<AppState>,
    Operator(actor): Operator,
    Path(note): Path<String>,
    ApiJson(request): ApiJson<Amendment>,
) -> Result<Response, AppError> {
    let note = crate::extract::entry_in_path(&note)?;
    if request.version == 0 {
        return Err(AppError::new(Code::BadVersion));
    }
    kiroku_ops::note::check_text(request.text.as_deref())?;
    let tags = match request.tags {
        Some(tags) => tags,
        // Tags not given: keep the note's current ones.
        None => state.app.ops().note(note).await?.tags,
    };
    let changed = state
        .app
        .ops()
        .amend_note(
            actor,
            note,
            request.version,
            request.text.as_deref().unwrap_or_default(),
            tags,
            request.reason.as_deref().unwrap_or_default(),
        )
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(json!({
            "note": changed.note.0,
            "version": changed.version,
            "entry": changed.entry.0,
            "tree_size": changed.tree_size,
        })),
    )
        .into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct Withdrawal {
    version: u64,
    reason: Option<String>,
}

pub(super) async fn withdraw_note(
    State(state): State<AppState>,
    Operator(actor): Operator,
    Path(note): Path<String>,
    ApiJson(request): ApiJson<Withdrawal>,
) -> Result<Response, AppError> {
    let note = crate::extract::entry_in_path(&note)?;
    if request.version == 0 {
        return Err(AppError::new(Code::BadVersion));
    }
    let changed = state
        .app
        .ops()
        .withdraw_note(
            actor,
            note,
            request.version,
            request.reason.as_deref().unwrap_or_default(),
        )
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(json!({
            "note": changed.note.0,
            "version": changed.version,
            "entry": changed.entry.0,
            "tree_size": changed.tree_size,
        })),
    )
        .into_response())
}
