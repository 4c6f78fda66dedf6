//! Kiroku's HTTP edge: the axum application over a running [`kiroku_app::App`] — tlog endpoints
//! under `/ledger/`, the JSON API under `/api/`, web pages in Japanese and English, `/healthz`
//! and `/metrics` — with the one error type, its catalogue, and the extractors whose rejections
//! share its shape.
//!
//! Thin: every handler parses, calls one use case, and renders. Knows no SQL and cannot reach
//! the ledger writer (it does not depend on the store).

mod access;
mod callers;
pub mod catalogue;
pub mod error;
pub mod extract;
pub mod i18n;
pub mod json;
pub mod logging;
mod ops;
mod pages;
mod policy;
mod records;
mod router;
pub mod throttle;

pub use error::AppError;
pub use router::app;
