//! End-to-end tests of Kiroku through what its users touch: HTTP against a running server, the
//! `kiroku` binary, and real Chromium. The backend (SQLite or PostgreSQL) is chosen by the
//! environment; `scripts/test` runs this suite on both.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod browser;
mod cli;
mod crash;
mod http;
mod support;
mod tamper;
