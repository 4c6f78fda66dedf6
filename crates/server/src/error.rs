//! One error type for every handler. It carries a catalogued [`Code`] and the values of its
//! placeholders; a middleware renders it in the request's language, as JSON for the API and the
//! ledger endpoints and as a page for the web UI. An internal cause is logged, never sent.

use crate::catalogue::{fill, Code};
use axum::response::{IntoResponse, Response};
use kiroku_app::ops::ledger::ReadFailure;
use kiroku_app::Error;
use kiroku_core::Conflict;

/// An error answered to a client.
#[derive(Clone, Debug)]
pub struct AppError {
    /// What it is.
    pub code: Code,
    /// Values of the message's placeholders.
    pub values: Vec<(&'static str, String)>,
    /// Problems found in one document, each with where it is (a FHIRPath expression); a
    /// FHIR OperationOutcome lists them as issues.
    pub issues: Vec<(String, AppError)>,
    /// The patient whose records a break-the-glass access would open: the error page offers
    /// one.
    pub emergency: Option<String>,
}

impl AppError {
    /// An error without placeholders.
    pub fn new(code: Code) -> AppError {
        AppError {
            code,
            values: Vec::new(),
            issues: Vec::new(),
            emergency: None,
        }
    }

    /// Offering a break-the-glass access to `patient`'s records, when the error is the want of
    /// a care relationship.
    pub fn offering_emergency(mut self, patient: &str) -> AppError {
        if self.code == Code::NoCareRelationship {
            self.emergency = Some(patient.to_owned());
        }
        self
    }

    /// With a placeholder's value.
    pub fn with(mut self, name: &'static str, value: impl ToString) -> AppError {
        self.values.push((name, value.to_string()));
        self
    }

    /// The message in Japanese.
    pub fn ja(&self) -> String {
        fill(self.code.ja(), &self.values)
    }

    /// The message in English.
    pub fn en(&self) -> String {
        fill(self.code.en(), &self.values)
    }

    /// The message in `lang`.
    pub fn message(&self, lang: crate::i18n::Lang) -> String {
        match lang {
            crate::i18n::Lang::Ja => self.ja(),
            crate::i18n::Lang::En => self.en(),
        }
    }

    /// 404.
    pub fn not_found() -> AppError {
        AppError::new(Code::NotFound)
    }

    /// 500, with the cause logged here and not sent.
    pub fn internal(cause: &dyn std::fmt::Display) -> AppError {
        tracing::error!(%cause, "internal error");
        AppError::new(Code::Internal)
    }

    /// 503, with the cause logged here and not sent.
    pub fn unavailable(cause: &dyn std::fmt::Display) -> AppError {
        tracing::error!(%cause, "service unavailable");
        AppError::new(Code::Unavailable)
    }
}

impl IntoResponse for AppError {
    /// Leaves the body to the localising middleware, which knows the request's language.
    fn into_response(self) -> Response {
        let mut response = self.code.status().into_response();
        response.extensions_mut().insert(self);
        response
    }
}

impl From<Conflict> for AppError {
    fn from(conflict: Conflict) -> AppError {
        match conflict {
            Conflict::Version {
                table,
                expected,
                found,
                ..
            } => AppError::new(if table == kiroku_ops::note::NOTES.name {
                Code::StaleVersion
            } else {
                Code::StaleRecord
            })
            .with("expected", expected)
            .with("current", found),
            other => AppError::new(Code::Conflict).with("detail", other),
        }
    }
}

impl From<Error> for AppError {
    fn from(error: Error) -> AppError {
        match error {
            Error::Unauthorized => AppError::new(Code::Unauthorized),
            Error::Conflict(conflict) => conflict.into(),
            Error::Policy(e) => e.into(),
            Error::Invalid(detail) => AppError::new(Code::InvalidEntry).with("detail", detail),
            Error::Refused(detail) => AppError::new(Code::InvalidEntry).with("detail", detail),
            Error::Corrupt(cause) => {
                tracing::error!(%cause, "stored data is inconsistent");
                AppError::new(Code::Corrupt)
            }
            Error::Unavailable(cause) => AppError::unavailable(&cause),
            Error::Access(e) => e.into(),
            Error::Records(e) => e.into(),
            Error::Ops(e) => e.into(),
        }
    }
}

impl From<ReadFailure> for AppError {
    fn from(error: ReadFailure) -> AppError {
        match error {
            ReadFailure::OutOfRange { signed, .. } => {
                AppError::new(Code::BeyondTree).with("size", signed)
            }
            ReadFailure::Failed(e) => e.into(),
        }
    }
}
