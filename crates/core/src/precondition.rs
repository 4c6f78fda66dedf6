//! Requests and their preconditions: what must still hold when the writer, under the append
//! lock, takes a request — checked against committed state and the requests before it in the
//! same batch.
//!
//! Two rules hold for every request without being asked: an entry that upserts a row of a
//! stream table must raise its version by exactly one (so two updates from one version cannot
//! both win), and an entry that upserts a claim must not take one another owner holds (so two
//! patients cannot share an identifier). A request may add [`Expect`]ations about rows it only
//! reads ("approve only if the account is still at version 4"). A request whose preconditions
//! fail is refused alone, with a [`Conflict`]; the rest of the batch commits.

use crate::context::Draft;
use crate::projection::{Key, TableSpec};
use std::fmt;

/// Something a request expects of the state it was decided on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Expect {
    /// The stream `key` of stream table `table` is at `version` (0: it does not exist yet).
    Version {
        /// A stream table.
        table: &'static TableSpec,
        /// The stream's key.
        key: Key,
        /// Its expected version.
        version: u64,
    },
    /// Nobody holds the claim `key` of claims table `table`.
    Unclaimed {
        /// A claims table.
        table: &'static TableSpec,
        /// The claim's key.
        key: Key,
    },
}

/// What failed: the request was decided on state that has moved on. Messages name tables,
/// stream ids and versions, never a claim's value (it may be a patient identifier).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Conflict {
    /// A stream is not at the version the request expected.
    #[error("stream {table} {key} is at version {found}, not {expected}")]
    Version {
        /// The stream table.
        table: &'static str,
        /// The stream's key, as ids.
        key: String,
        /// The version the request was decided on.
        expected: u64,
        /// The version stored (or left by an earlier request of the batch).
        found: u64,
    },
    /// A claim is held by another owner.
    #[error("a claim in {table} is already held (by {holder})")]
    Claimed {
        /// The claims table.
        table: &'static str,
        /// The holder (the owner column's value: an id).
        holder: String,
    },
}

/// Appends entries atomically: all of a request's entries commit together, consecutively, or
/// none do.
#[derive(Debug, Default)]
pub struct Request {
    /// The entries, in order.
    pub drafts: Vec<Draft>,
    /// Extra preconditions.
    pub expect: Vec<Expect>,
}

impl Request {
    /// A request of one entry.
    pub fn one(draft: Draft) -> Request {
        Request {
            drafts: vec![draft],
            expect: Vec::new(),
        }
    }

    /// A request of these entries.
    pub fn of(drafts: Vec<Draft>) -> Request {
        Request {
            drafts,
            expect: Vec::new(),
        }
    }

    /// With an expectation.
    pub fn expecting(mut self, expect: Expect) -> Request {
        self.expect.push(expect);
        self
    }
}

/// Renders a stream key for messages: its values joined by `/`.
pub fn key_text(key: &[crate::projection::Value]) -> String {
    struct Joined<'a>(&'a [crate::projection::Value]);
    impl fmt::Display for Joined<'_> {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            for (i, value) in self.0.iter().enumerate() {
                if i > 0 {
                    f.write_str("/")?;
                }
                value.fmt(f)?;
            }
            Ok(())
        }
    }
    Joined(key).to_string()
}
