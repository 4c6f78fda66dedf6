//! Kiroku's kernel: the entry envelope and its canonical bytes, typed ids, the clock and the
//! entropy every rule takes as parameters, the projection language, requests and their
//! preconditions, and the [`Context`] trait with the [`Registry`] of contexts.
//!
//! Pure and synchronous: no I/O, no SQL text, no HTTP, and no knowledge of any one context
//! (ops, access, records…): contexts depend on the kernel, never the other way round. Time and
//! randomness come in as parameters so that every rule can be replayed from a seed.

pub mod context;
pub mod entropy;
pub mod entry;
pub mod id;
pub mod precondition;
pub mod projection;
pub mod query;
pub mod text;
pub mod timestamp;

pub use context::{
    kind, Context, Draft, EntryKind, EntryMeta, Invalid, KindError, KindHandler, Projection,
    Registry, RegistryError, SealError, SealLimits, Sealed,
};
pub use entropy::{Entropy, SeededEntropy};
pub use entry::{Actor, Entry, EntryError, KindName, Payload, Subject};
pub use id::{AccountId, EntryIndex};
pub use precondition::{Conflict, Expect, Request};
pub use projection::{Change, Column, ColumnType, Key, Net, Row, TableRole, TableSpec, Value};
pub use query::{Order, Query, Stored};
pub use timestamp::{Civil, Clock, ClockError, Date, Timestamp, JST_OFFSET_SECONDS};
