//! One error type for every handler. It carries a stable code and the message in Japanese and
//! English; a middleware renders it in the request's language, as JSON for the API and the
//! ledger endpoints and as a page for the web UI. An internal cause is logged, never sent.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

/// An error answered to a client.
#[derive(Clone, Debug)]
pub struct AppError {
    /// HTTP status.
    pub status: StatusCode,
    /// Stable machine-readable code, e.g. `bad_tile_path`.
    pub code: &'static str,
    /// The message in Japanese.
    pub ja: String,
    /// The message in English.
    pub en: String,
}

impl AppError {
    /// An error with a status, code and both messages.
    pub fn new(
        status: StatusCode,
        code: &'static str,
        ja: impl Into<String>,
        en: impl Into<String>,
    ) -> AppError {
        AppError {
            status,
            code,
            ja: ja.into(),
            en: en.into(),
        }
    }

    /// 400 Bad Request.
    pub fn bad_request(
        code: &'static str,
        ja: impl Into<String>,
        en: impl Into<String>,
    ) -> AppError {
        AppError::new(StatusCode::BAD_REQUEST, code, ja, en)
    }

    /// 404 Not Found.
    pub fn not_found() -> AppError {
        AppError::new(
            StatusCode::NOT_FOUND,
            "not_found",
            "指定されたページまたはリソースは存在しません。",
            "The page or resource does not exist.",
        )
    }

    /// 500, with the cause logged here and not sent.
    pub fn internal(cause: &dyn std::fmt::Display) -> AppError {
        tracing::error!(%cause, "internal error");
        AppError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "サーバー内部でエラーが発生しました。記録済みです。時間をおいて再度お試しください。",
            "An internal error occurred and has been logged. Please try again later.",
        )
    }

    /// 503, when the ledger cannot take or serve data right now.
    pub fn unavailable(cause: &dyn std::fmt::Display) -> AppError {
        tracing::error!(%cause, "service unavailable");
        AppError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "unavailable",
            "台帳が一時的に利用できません。何も記録されていません。時間をおいて再度お試しください。",
            "The ledger is temporarily unavailable. Nothing was recorded. Please try again later.",
        )
    }
}

impl IntoResponse for AppError {
    /// Leaves the body to the localising middleware, which knows the request's language.
    fn into_response(self) -> Response {
        let mut response = self.status.into_response();
        response.extensions_mut().insert(self);
        response
    }
}

impl From<kiroku_store::read::ReadError> for AppError {
    fn from(error: kiroku_store::read::ReadError) -> AppError {
        match error {
            kiroku_store::read::ReadError::OutOfRange(_) => AppError::new(
                StatusCode::NOT_FOUND,
                "beyond_tree",
                "要求された範囲は署名済みの木の外にあります。",
                "What was asked lies outside the signed tree.",
            ),
            kiroku_store::read::ReadError::Store(e) => AppError::unavailable(&e),
        }
    }
}

impl From<kiroku_store::StoreError> for AppError {
    fn from(error: kiroku_store::StoreError) -> AppError {
        AppError::unavailable(&error)
    }
}
