//! Store tests: the writer, proofs from storage, verification and tampering, on SQLite and,
//! when `KIROKU_TEST_POSTGRES_URL` names a server, on PostgreSQL too.

mod support;
mod writer;
