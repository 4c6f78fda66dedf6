//! The `ops` context: the ledger's own records — its first entry, operators' notes (運用記録)
//! with their amendments and withdrawals, the results of verification runs, and exports.
//!
//! Declares its tables and versioned kinds for the registry, its rules as pure functions
//! (`state, command -> request`), and its read queries as data with their row decoders. Knows
//! nothing of HTTP, SQL dialects or other contexts' tables.

pub mod amendment;
pub mod export;
pub mod init;
pub mod note;
pub mod verification;

use kiroku_core::projection::TableSpec;
use kiroku_core::{kind, Context, KindHandler};

/// The ops context.
#[derive(Clone, Copy, Debug, Default)]
pub struct Ops;

/// Every table the context owns.
pub static TABLES: &[&TableSpec] = &[
    &note::NOTES,
    &note::NOTE_VERSIONS,
    &note::NOTE_TAGS,
    &note::NOTE_KEYS,
    &verification::VERIFICATIONS,
];

impl Context for Ops {
    fn name(&self) -> &'static str {
        "ops"
    }

    fn tables(&self) -> &'static [&'static TableSpec] {
        TABLES
    }

    fn kinds(&self) -> Vec<Box<dyn KindHandler>> {
        vec![
            kind::<init::LedgerInit>(),
            kind::<note::NoteV1>(),
            kind::<note::Note>(),
            kind::<amendment::NoteAmendment>(),
            kind::<amendment::NoteWithdrawal>(),
            kind::<verification::Verification>(),
            kind::<export::Export>(),
        ]
    }
}
