//! What Kiroku records: entry kinds, their canonical encoding, the clock and entropy they are
//! made with, and the projections (tables) derived from them.
//!
//! Pure and synchronous: no I/O, no SQL, no HTTP. Time and randomness come in as parameters so
//! that every rule can be replayed from a seed.

pub mod entropy;
pub mod entry;
pub mod projection;
pub mod timestamp;

pub use entropy::{Entropy, SeededEntropy};
pub use entry::{Actor, Entry, EntryError, EntryIndex, Kind, Sealed, Subject};
pub use projection::{Change, Column, TableSpec, Value};
pub use timestamp::{Clock, Timestamp};
