//! Store tests: the writer and its preconditions, the projection language on a real database,
//! verification of projections, and proofs from storage — on the backend selected by
//! `KIROKU_TEST_BACKEND`. A test-only context ([`exercise`]) puts every operation of the
//! projection language to work; the store knows no real context.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod exercise;
mod preconditions;
mod projections;
mod support;
mod writer;
