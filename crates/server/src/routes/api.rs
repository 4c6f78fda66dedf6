//! The JSON API of operators' notes, authorised by the operator token of the data directory
//! (`Authorization: Bearer <token>`) until accounts exist. Writing takes an optional
//! `Idempotency-Key`: a retried request writes nothing twice.

use super::AppState;
use crate::catalogue::Code;
use crate::error::AppError;
use crate::extract::{ApiJson, ApiQuery};
use axum::extract::{FromRequestParts, Path, State};
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use kiroku_app::ops::notes::{NoteSummary, NoteView};
use kiroku_core::{Actor, EntryIndex};
use kiroku_ops::note::NoteState;
use serde::Deserialize;
use serde_json::{json, Value};

/// The caller, authenticated as the bearer of the operator token — before any body is read.
pub(super) struct Operator(pub(super) Actor);

impl FromRequestParts<AppState> for Operator {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, AppError> {
        let token = parts
            .headers
            .get(AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .ok_or(AppError::new(Code::Unauthorized))?;
        Ok(Operator(state.app.authenticate_operator(token, "api")?))
    }
}

/// A note id from the path; anything else is a page that does not exist.
pub(super) fn note_id(text: &str) -> Result<EntryIndex, AppError> {
    if text.is_empty() || text.len() > 19 || !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(AppError::not_found());
    }
    text.parse()
        .map(EntryIndex)
        .map_err(|_| AppError::not_found())
}

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
    let view = state.app.ops().note(note_id(&note)?).await?;
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
    let note = note_id(&note)?;
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
    let note = note_id(&note)?;
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
