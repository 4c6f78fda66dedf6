//! Reads for the outside world: the latest checkpoint, hash tiles, entry bundles, proofs and
//! projection pages — each bounded, and each limited to the tree of the latest signed
//! checkpoint, so nothing is served that a checkpoint does not cover.

use crate::db::{Db, StoredCheckpoint};
use crate::{Result, Store, StoreError};
use kiroku_core::entry::{decode_fields, Payload};
use kiroku_core::query::{Query, Stored};
use kiroku_core::{Entry, EntryIndex};
use kiroku_ledger::hash::content_hash;
use kiroku_ledger::tree::perfect_root;
use kiroku_ledger::{proof, Hash, HashSource, Tile, TILE_HEIGHT};

/// Why a read could not be answered.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    /// What was asked lies outside the signed tree.
    #[error("{what}")]
    OutOfRange {
        /// What was asked.
        what: String,
        /// The signed tree size.
        signed: u64,
    },
    /// Storage failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A [`HashSource`] over a connection: tile-level hashes come straight from storage (leaf
/// hashes, or stored nodes at tile levels ≥ 1), and the levels between are hashed on the fly.
pub(crate) struct DbSource<'a>(pub &'a mut dyn Db);

impl HashSource for DbSource<'_> {
    type Error = StoreError;

    fn subtree(&mut self, height: u8, index: u64) -> Result<Hash> {
        let level = height / TILE_HEIGHT;
        let rest = height % TILE_HEIGHT;
        let start = index << rest;
        let end = (index + 1) << rest;
        let hashes = if level == 0 {
            self.0.leaf_hashes(start, end)?
        } else {
            self.0.node_hashes(level, start, end)?
        };
        Ok(perfect_root(&hashes))
    }
}

/// The latest signed checkpoint, if the ledger has any.
pub fn latest_checkpoint(store: &Store) -> Result<Option<StoredCheckpoint>> {
    store.reader()?.db().latest_checkpoint()
}

fn signed_size(db: &mut dyn Db) -> Result<u64> {
    Ok(db.latest_checkpoint()?.map_or(0, |c| c.size))
}

fn check_tile(tile: Tile, size: u64) -> Result<(), ReadError> {
    match Tile::in_tree(tile.level, tile.index, size) {
        Some(have) if have.width >= tile.width => Ok(()),
        _ => Err(ReadError::OutOfRange {
            what: format!(
                "tile {} is not in the signed tree of size {size}",
                tile.path()
            ),
            signed: size,
        }),
    }
}

/// The hashes of a tile (32 bytes each, concatenated).
pub fn tile(store: &Store, tile: Tile) -> Result<Vec<u8>, ReadError> {
    let mut reader = store.reader()?;
    let db = reader.db();
    check_tile(tile, signed_size(db)?)?;
    let start = tile.first();
    let end = start + u64::from(tile.width);
    let hashes = if tile.level == 0 {
        db.leaf_hashes(start, end)?
    } else {
        db.node_hashes(tile.level, start, end)?
    };
    Ok(hashes.iter().flat_map(|h| h.0).collect())
}

/// The entry bundle of a level-0 tile: its entries' bytes, each prefixed with its length
/// (C2SP tlog-tiles). Not public: the caller decides who may read it, and records that they did.
pub fn entry_bundle(store: &Store, tile: Tile) -> Result<Vec<u8>, ReadError> {
    let mut reader = store.reader()?;
    let db = reader.db();
    check_tile(tile, signed_size(db)?)?;
    let start = tile.first();
    let bodies = db.bodies(start, start + u64::from(tile.width))?;
    kiroku_ledger::tile::encode_bundle(bodies.iter().map(Vec::as_slice)).map_err(|e| {
        ReadError::Store(StoreError::Corrupt(format!(
            "entries {start}.. cannot be bundled: {e}"
        )))
    })
}

/// The inclusion proof of entry `index` in the tree of `size` entries.
pub fn inclusion_proof(store: &Store, index: u64, size: u64) -> Result<Vec<Hash>, ReadError> {
    let mut reader = store.reader()?;
    let db = reader.db();
    let signed = signed_size(db)?;
    if size == 0 || size > signed || index >= size {
        return Err(ReadError::OutOfRange {
            what: format!(
                "need index < size ≤ {signed} (the signed tree size); got index {index}, size {size}"
            ),
            signed,
        });
    }
    proof::inclusion_proof(&mut DbSource(db), index, size).map_err(|e| match e {
        proof::ProofError::OutOfRange { what } => ReadError::OutOfRange { what, signed },
        proof::ProofError::Source(e) => ReadError::Store(e),
    })
}

/// What proves one entry to someone outside: its bytes, its payload's blob when the payload
/// was moved to the blob store, the latest signed checkpoint, and the entry's inclusion proof in
/// that checkpoint's tree.
#[derive(Clone, Debug)]
pub struct EntryProof {
    /// The entry's index.
    pub index: u64,
    /// The entry's bytes (the leaf content).
    pub body: Vec<u8>,
    /// The payload's canonical bytes, when the entry holds only their hash.
    pub blob: Option<Vec<u8>>,
    /// The checkpoint the proof leads to.
    pub checkpoint: StoredCheckpoint,
    /// The inclusion proof, leaf side first.
    pub hashes: Vec<Hash>,
}

/// The proof of entry `index` against the latest signed checkpoint. Refuses an entry beyond the
/// signed tree, and one whose bytes or blob do not match what was signed.
pub fn entry_proof(store: &Store, index: EntryIndex) -> Result<EntryProof, ReadError> {
    let mut reader = store.reader()?;
    let db = reader.db();
    let checkpoint = db
        .latest_checkpoint()?
        .ok_or_else(|| ReadError::OutOfRange {
            what: "no checkpoint has been signed".into(),
            signed: 0,
        })?;
    if index.0 >= checkpoint.size {
        return Err(ReadError::OutOfRange {
            what: format!("entry {index} is not in the signed tree"),
            signed: checkpoint.size,
        });
    }
    let (body, _, blob) = checked_entry(db, index)?;
    let hashes = proof::inclusion_proof(&mut DbSource(db), index.0, checkpoint.size).map_err(
        |e| match e {
            proof::ProofError::OutOfRange { what } => ReadError::OutOfRange {
                what,
                signed: checkpoint.size,
            },
            proof::ProofError::Source(e) => ReadError::Store(e),
        },
    )?;
    Ok(EntryProof {
        index: index.0,
        body,
        blob,
        checkpoint,
        hashes,
    })
}

/// The consistency proof from the tree of `old` entries to the tree of `new` entries.
pub fn consistency_proof(store: &Store, old: u64, new: u64) -> Result<Vec<Hash>, ReadError> {
    let mut reader = store.reader()?;
    let db = reader.db();
    let signed = signed_size(db)?;
    if old == 0 || old > new || new > signed {
        return Err(ReadError::OutOfRange {
            what: format!(
                "need 0 < old ≤ new ≤ {signed} (the signed tree size); got old {old}, new {new}"
            ),
            signed,
        });
    }
    proof::consistency_proof(&mut DbSource(db), old, new).map_err(|e| match e {
        proof::ProofError::OutOfRange { what } => ReadError::OutOfRange { what, signed },
        proof::ProofError::Source(e) => ReadError::Store(e),
    })
}

/// The rows a query asks for.
pub fn query(store: &Store, query: &Query) -> Result<Vec<Stored>> {
    store.reader()?.db().query(query)
}

/// The rows a query asks for, their columns alone: when the index the query orders by holds
/// every column (as the key of a table keyed by all its columns does), the database reads the
/// index alone, not each row besides (for the entry that put it).
pub fn query_columns(store: &Store, query: &Query) -> Result<Vec<kiroku_core::projection::Row>> {
    store.reader()?.db().query_columns(query)
}

/// A page of a projection table in key order, after `after` (a whole key): for tools and tests
/// that compare whole tables.
pub fn scan(
    store: &Store,
    table: &kiroku_core::TableSpec,
    after: Option<&kiroku_core::Key>,
    limit: u64,
) -> Result<Vec<Stored>> {
    store.reader()?.db().scan(table, after, limit)
}

/// One entry, decoded, with its payload (from the blob store where it was moved there) — for
/// use cases that read what an entry said, such as a note's first version. Refuses an entry
/// beyond the signed tree, one whose bytes do not match its leaf hash, and a blob that does not
/// match its entry.
pub fn entry(store: &Store, index: EntryIndex) -> Result<(Entry, serde_json::Value)> {
    let mut reader = store.reader()?;
    let signed = signed_size(reader.db())?;
    entry_in(reader.db(), index, signed)
}

/// [`entry`] with the payload as its JSON text (for a caller that reads it straight into its
/// kind's type, without building a JSON tree first), for a caller that knows a signed size (a
/// gate that has just read it): an entry below it is read without reading the size again; one
/// beyond it (appended since) only once the size is read again and covers it.
pub fn entry_text_within(
    store: &Store,
    index: EntryIndex,
    signed: u64,
) -> Result<(Entry, Vec<u8>)> {
    let mut reader = store.reader()?;
    let db = reader.db();
    let signed = if index.0 < signed {
        signed
    } else {
        signed_size(db)?
    };
    if index.0 >= signed {
        return Err(StoreError::Refused(format!(
            "entry {index} is not in the signed tree"
        )));
    }
    let row = checked_row(db, index)?;
    let (mut entry, raw) = kiroku_core::entry::decode_raw(&row.body)?;
    let text = match (&entry.payload, raw) {
        (Payload::Inline(_), Some(raw)) => raw.get().as_bytes().to_vec(),
        (Payload::Blob { sha256, bytes }, _) => db
            .blob(sha256)?
            .filter(|b| content_hash(b) == *sha256 && b.len() as u64 == *bytes)
            .ok_or_else(|| {
                StoreError::Corrupt(format!("the payload blob of entry {index} is damaged"))
            })?,
        (Payload::Inline(_), None) => {
            return Err(StoreError::Corrupt(format!("entry {index} has no payload")))
        }
    };
    entry.payload = Payload::Inline(serde_json::Value::Null);
    Ok((entry, text))
}

fn entry_in(db: &mut dyn Db, index: EntryIndex, signed: u64) -> Result<(Entry, serde_json::Value)> {
    if index.0 >= signed {
        return Err(StoreError::Refused(format!(
            "entry {index} is not in the signed tree"
        )));
    }
    let (_, mut entry, blob) = checked_entry(db, index)?;
    let payload = match (&entry.payload, blob) {
        (Payload::Inline(value), _) => value.clone(),
        (Payload::Blob { .. }, Some(blob)) => serde_json::from_slice(&blob).map_err(|_| {
            StoreError::Corrupt(format!("the payload blob of entry {index} is not JSON"))
        })?,
        (Payload::Blob { .. }, None) => {
            return Err(StoreError::Corrupt(format!(
                "the payload blob of entry {index} is missing"
            )))
        }
    };
    entry.payload = Payload::Inline(serde_json::Value::Null);
    Ok((entry, payload))
}

/// Entry `index` as stored — its bytes, decoded, and its payload's blob when it was moved to the
/// blob store — once its bytes are checked against its leaf hash and the blob against its entry.
/// Entry `index`'s row, its bytes checked against its leaf hash.
fn checked_row(db: &mut dyn Db, index: EntryIndex) -> Result<crate::db::EntryRow> {
    let row = db
        .entries(index.0, 1)?
        .into_iter()
        .next()
        .filter(|r| r.idx == index.0)
        .ok_or_else(|| StoreError::Corrupt(format!("entry {index} is missing")))?;
    if kiroku_ledger::leaf_hash(&row.body).0[..] != row.leaf_hash[..] {
        return Err(StoreError::Corrupt(format!(
            "entry {index} does not match its stored hash"
        )));
    }
    Ok(row)
}

fn checked_entry(db: &mut dyn Db, index: EntryIndex) -> Result<(Vec<u8>, Entry, Option<Vec<u8>>)> {
    let row = checked_row(db, index)?;
    let entry = decode_fields(&row.body)?;
    let blob = match &entry.payload {
        Payload::Inline(_) => None,
        Payload::Blob { sha256, bytes } => Some(
            db.blob(sha256)?
                .filter(|b| content_hash(b) == *sha256 && b.len() as u64 == *bytes)
                .ok_or_else(|| {
                    StoreError::Corrupt(format!("the payload blob of entry {index} is damaged"))
                })?,
        ),
    };
    Ok((row.body, entry, blob))
}

/// The leaf hash of one entry (for tests and tools).
pub fn leaf_hash(store: &Store, index: u64) -> Result<Hash> {
    let hashes = store.reader()?.db().leaf_hashes(index, index + 1)?;
    hashes
        .first()
        .copied()
        .ok_or_else(|| StoreError::Corrupt(format!("entry {index} is missing")))
}

/// Raw entry bytes of entries `start..end` (bounded by the caller).
pub fn entry_bodies(store: &Store, start: u64, end: u64) -> Result<Vec<Vec<u8>>> {
    store.reader()?.db().bodies(start, end)
}

/// The settings that make commits durable, as the database reports them.
pub fn durability(store: &Store) -> Result<String> {
    store.reader()?.db().durability()
}

/// Runs raw SQL on a pooled connection. Only tests use it, to tamper as an attacker with
/// database access would.
pub fn execute_raw(store: &Store, sql: &str) -> Result<()> {
    store.reader()?.db().execute_raw(sql)
}
