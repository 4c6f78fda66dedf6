//! The ops wing: the ledger itself — its checkpoints, tiles and proofs, verification, rebuild
//! and export — and the operations notes kept in it.

mod error;
pub use error::Error;
pub mod ledger;
pub mod notes;

/// The use cases of the ledger and its notes: `app.ops()`.
#[derive(Clone, Copy)]
pub struct Ops<'a> {
    pub(crate) app: &'a crate::App,
}

impl crate::App {
    /// The use cases of the ledger and its notes.
    pub fn ops(&self) -> Ops<'_> {
        Ops { app: self }
    }
}
