//! End-to-end tests of Kiroku through what its users touch: HTTP against a running server, the
//! `kiroku` binary, and real Chromium — plus the checks that hold the whole workspace to its
//! layout and every kind to its declaration. The backend (SQLite or PostgreSQL) is chosen by
//! the environment; `scripts/test` runs this suite on both. Tests in `cross` use both backends
//! at once, whichever is selected.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod access;
mod browser;
mod chart;
mod cli;
mod clients;
mod crash;
mod cross;
mod factor;
mod fhir;
mod http;
mod layout;
mod lifecycle;
mod matrix;
mod notes;
mod passkey;
mod policy;
mod registry;
mod support;
mod tamper;
mod versions;
