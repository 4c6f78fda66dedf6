//! Request extractors whose rejections are [`AppError`]s, so that a malformed body, query or
//! form gets the same localised error shape as every other error — and says nothing of what was
//! sent (parser messages can quote the input).

use crate::catalogue::Code;
use crate::error::AppError;
use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::StatusCode;
use kiroku_core::EntryIndex;
use serde::de::DeserializeOwned;

/// A JSON body (`Content-Type: application/json`).
pub struct ApiJson<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for ApiJson<T> {
    type Rejection = AppError;

    async fn from_request(request: Request, state: &S) -> Result<Self, AppError> {
        match axum::Json::<T>::from_request(request, state).await {
            Ok(axum::Json(value)) => Ok(ApiJson(value)),
            Err(JsonRejection::MissingJsonContentType(_)) => Err(AppError::new(Code::NotJson)),
            Err(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => {
                Err(AppError::new(Code::BodyTooLarge))
            }
            Err(_) => Err(AppError::new(Code::BadJson)),
        }
    }
}

/// A query string.
pub struct ApiQuery<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, AppError> {
        axum::extract::Query::<T>::from_request_parts(parts, state)
            .await
            .map(|axum::extract::Query(value)| ApiQuery(value))
            .map_err(|_: QueryRejection| AppError::new(Code::BadQuery))
    }
}

/// A form body (`application/x-www-form-urlencoded`), from the web pages.
pub struct WebForm<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for WebForm<T> {
    type Rejection = AppError;

    async fn from_request(request: Request, state: &S) -> Result<Self, AppError> {
        match axum::Form::<T>::from_request(request, state).await {
            Ok(axum::Form(value)) => Ok(WebForm(value)),
            Err(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => {
                Err(AppError::new(Code::BodyTooLarge))
            }
            Err(_) => Err(AppError::new(Code::BadForm)),
        }
    }
}

/// An entry index from the path (a note's, an application's, a report's, a
/// review's); anything else is a page that does not exist.
pub(crate) fn entry_in_path(text: &str) -> Result<EntryIndex, AppError> {
    if text.is_empty() || text.len() > 19 || !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(AppError::not_found());
    }
    text.parse()
        .map(EntryIndex)
        .map_err(|_| AppError::not_found())
}
