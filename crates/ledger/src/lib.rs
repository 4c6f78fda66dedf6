//! The verifiable ledger's mathematics: RFC 6962 / RFC 9162 Merkle hashing (C2SP `merkle-tree`),
//! inclusion and consistency proofs, C2SP `tlog-tiles` coordinates and entry bundles, and C2SP
//! `tlog-checkpoint` checkpoints carried in C2SP `signed-note`s with Ed25519 keys.
//!
//! This crate knows nothing of I/O, databases or HTTP: callers hand it bytes and hashes, and
//! where it needs hashes of a stored tree it asks a [`HashSource`].

pub mod checkpoint;
pub mod hash;
pub mod note;
pub mod proof;
pub mod tile;
pub mod tree;

pub use checkpoint::{Checkpoint, CheckpointError};
pub use hash::{leaf_hash, node_hash, Hash, HASH_SIZE};
pub use note::{KeyError, NoteError, Signer, Verifier};
pub use proof::{ProofError, VerifyError};
pub use tile::{Tile, TileError, TILE_HEIGHT, TILE_WIDTH};
pub use tree::{Frontier, HashSource};

/// The largest entry a tile-based log can carry: entry bundles prefix each entry with a
/// big-endian `u16` length (C2SP `tlog-tiles`).
pub const ENTRY_BYTES_MAX: usize = u16::MAX as usize;
