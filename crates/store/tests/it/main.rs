//! Store tests: the writer, proofs from storage and verification, on the backend selected by
//! `KIROKU_TEST_BACKEND` (`sqlite` by default; `postgres` with `KIROKU_TEST_POSTGRES_URL`).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;
mod writer;
