//! Kiroku's server: the data directory and its configuration, the running [`Instance`] (store,
//! writer, keys), and the axum application — tlog endpoints under `/ledger/`, the JSON API
//! under `/api/`, web pages in Japanese and English, `/healthz` and `/metrics`.
//!
//! Knows no SQL dialect: everything stored goes through `kiroku-store`.

pub mod config;
pub mod datadir;
pub mod demo;
pub mod error;
pub mod i18n;
pub mod instance;
pub mod logging;
mod pages;
mod routes;

pub use config::{Config, Limits};
pub use error::AppError;
pub use instance::Instance;
pub use routes::app;
