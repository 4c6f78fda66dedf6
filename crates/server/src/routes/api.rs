//! The JSON API. For now one call: an operator appends a note (運用記録) with the operator
//! token from the data directory. Accounts and roles arrive with the next issue.

use super::AppState;
use crate::error::AppError;
use crate::instance::note_draft;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::header::{AUTHORIZATION, CONTENT_TYPE};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use kiroku_domain::projection::{validate_note, NoteError};
use kiroku_store::writer::AppendError;
use serde::Deserialize;
use serde_json::json;
use sha2::{Digest, Sha256};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NoteRequest {
    text: Option<String>,
}

/// Checks the bearer token against the stored digest, in constant time.
fn authorize(state: &AppState, headers: &HeaderMap) -> Result<(), AppError> {
    let presented = headers
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim);
    let ok = presented.is_some_and(|token| {
        let digest: [u8; 32] = Sha256::digest(token.as_bytes()).into();
        digest
            .iter()
            .zip(state.operator_token_sha256.iter())
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0
    });
    if ok {
        Ok(())
    } else {
        Err(AppError::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "運用担当者トークンが必要です（Authorization: Bearer <トークン>）。",
            "An operator token is required (Authorization: Bearer <token>).",
        ))
    }
}

fn note_error(error: NoteError) -> AppError {
    let (ja, en) = match error {
        NoteError::Missing => (
            "text（記録する文）を指定してください。",
            "Give the text of the note.",
        ),
        NoteError::Empty => ("記録する文が空です。", "The note is empty."),
        NoteError::TooLong => (
            "記録する文は 4000 文字以内にしてください。",
            "The note must be at most 4000 characters.",
        ),
        NoteError::ControlCharacters => (
            "記録する文に制御文字を含めることはできません（改行とタブは可）。",
            "The note may not hold control characters (newlines and tabs are fine).",
        ),
    };
    AppError::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid_note", ja, en)
}

pub(super) async fn post_note(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, AppError> {
    authorize(&state, &headers)?;
    let is_json = headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.split(';')
                .next()
                .is_some_and(|t| t.trim().eq_ignore_ascii_case("application/json"))
        });
    if !is_json {
        return Err(AppError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "not_json",
            "本文は JSON（Content-Type: application/json）で送ってください。",
            "Send the body as JSON (Content-Type: application/json).",
        ));
    }
    let request: NoteRequest = serde_json::from_slice(&body).map_err(|_| {
        AppError::bad_request(
            "bad_json",
            "本文を解釈できません。{\"text\": \"…\"} の形で送ってください。",
            "The body cannot be parsed. Send {\"text\": \"...\"}.",
        )
    })?;
    validate_note(request.text.as_deref()).map_err(note_error)?;
    let draft = note_draft(request.text.as_deref().unwrap_or_default(), "api")
        .map_err(|e| AppError::internal(&e))?;
    let receipt = state
        .writer
        .append(vec![draft])
        .await
        .map_err(|e| match e {
            AppendError::Invalid(e) => AppError::bad_request(
                "invalid_entry",
                "記録できない内容です。何も記録されていません。",
                format!("The entry was refused ({e}). Nothing was recorded."),
            ),
            AppendError::Count { .. } => AppError::internal(&e),
            AppendError::Failed(_) | AppendError::Stopped => AppError::unavailable(&e),
        })?;
    Ok((
        StatusCode::CREATED,
        Json(json!({
            "index": receipt.first.0,
            "tree_size": receipt.tree_size,
            "time": receipt.time.to_string(),
        })),
    )
        .into_response())
}
