//! The ops wing: the ledger itself — its checkpoints, tiles and proofs, verification, rebuild
//! and export — and the operations notes kept in it.

pub mod ledger;
pub mod notes;
