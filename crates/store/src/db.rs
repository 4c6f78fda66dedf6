//! The interface both backends implement: a small set of bounded, dialect-free operations
//! the writer, the readers and the verifier need. Each backend keeps its SQL to itself.

use crate::url::DatabaseUrl;
use crate::{Result, StoreError};
use kiroku_domain::projection::{Change, TableSpec, Value};
use kiroku_ledger::Hash;

/// A signed checkpoint as stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredCheckpoint {
    /// Tree size.
    pub size: u64,
    /// Root hash (as stored; `verify` recomputes it).
    pub root: Vec<u8>,
    /// The signed note.
    pub note: String,
    /// When it was signed (RFC 3339).
    pub created_at: String,
}

/// An entry row as stored; `verify` checks every field.
#[derive(Clone, Debug)]
pub(crate) struct EntryRow {
    pub idx: u64,
    pub leaf_hash: Vec<u8>,
    pub body: Vec<u8>,
}

/// What one group commit writes.
pub(crate) struct AppendBatch<'a> {
    /// Index of the first entry.
    pub first: u64,
    /// Leaf hash and body of each entry, in order.
    pub entries: Vec<(Hash, &'a [u8])>,
    /// Completed tree nodes at tile levels ≥ 1: (tile level, index, hash).
    pub nodes: Vec<(u8, u64, Hash)>,
    /// Blobs (content-addressed; an existing one is kept).
    pub blobs: Vec<(Hash, &'a [u8])>,
    /// Projection rows.
    pub changes: Vec<Change>,
    /// The batch's checkpoint.
    pub checkpoint: StoredCheckpoint,
}

/// One database connection.
pub(crate) trait Db: Send {
    /// Applies the embedded migrations not yet applied.
    fn migrate(&mut self) -> Result<()>;
    /// Starts an append transaction, taking the cross-process append lock, and returns the
    /// latest checkpoint's tree size and root (0 and `None` for an empty ledger).
    fn begin_append(&mut self) -> Result<(u64, Option<Hash>)>;
    /// Writes a batch inside the append transaction.
    fn write_batch(&mut self, batch: &AppendBatch<'_>) -> Result<()>;
    /// Commits (with the backend's durable fsync).
    fn commit(&mut self) -> Result<()>;
    /// Rolls back whatever transaction is open.
    fn rollback(&mut self);
    /// The latest checkpoint.
    fn latest_checkpoint(&mut self) -> Result<Option<StoredCheckpoint>>;
    /// Up to `limit` checkpoints with size ≥ `from`, by size.
    fn checkpoints(&mut self, from: u64, limit: u64) -> Result<Vec<StoredCheckpoint>>;
    /// Leaf hashes of entries `start..end`.
    fn leaf_hashes(&mut self, start: u64, end: u64) -> Result<Vec<Hash>>;
    /// Stored node hashes at tile `level` ≥ 1, indices `start..end`.
    fn node_hashes(&mut self, level: u8, start: u64, end: u64) -> Result<Vec<Hash>>;
    /// Up to `limit` stored nodes after (level, idx), ordered by (level, idx).
    fn nodes_after(&mut self, after: (u8, i64), limit: u64) -> Result<Vec<(u8, u64, Vec<u8>)>>;
    /// The highest stored entry index.
    fn max_entry_index(&mut self) -> Result<Option<u64>>;
    /// Up to `limit` entry rows with index ≥ `from`, by index.
    fn entries(&mut self, from: u64, limit: u64) -> Result<Vec<EntryRow>>;
    /// Bodies of entries `start..end`; a gap is an error.
    fn bodies(&mut self, start: u64, end: u64) -> Result<Vec<Vec<u8>>> {
        let rows = self.entries(start, end.saturating_sub(start))?;
        let mut bodies = Vec::with_capacity(rows.len());
        for row in rows {
            let expected = start + bodies.len() as u64;
            if row.idx != expected {
                return Err(StoreError::Corrupt(format!("entry {expected} is missing")));
            }
            bodies.push(row.body);
        }
        let found = start + bodies.len() as u64;
        if found != end {
            return Err(StoreError::Corrupt(format!("entry {found} is missing")));
        }
        Ok(bodies)
    }
    /// A blob by its SHA-256.
    fn blob(&mut self, sha256: &Hash) -> Result<Option<Vec<u8>>>;
    /// A page of a projection table, by key.
    fn rows(&mut self, table: &TableSpec, page: Page) -> Result<Vec<Vec<Value>>>;
    /// The rows of a projection table with keys `from..=to`, by key (at most `to - from + 1`,
    /// keys being unique).
    fn rows_range(&mut self, table: &TableSpec, from: i64, to: i64) -> Result<Vec<Vec<Value>>> {
        if to < from {
            return Ok(Vec::new());
        }
        let mut rows = self.rows(
            table,
            Page {
                after: from.checked_sub(1),
                limit: (to - from) as u64 + 1,
                descending: false,
            },
        )?;
        rows.retain(|row| matches!(row.first(), Some(Value::Int(k)) if *k <= to));
        Ok(rows)
    }
    /// Inside an append transaction: empties projection tables.
    fn clear_projections(&mut self, tables: &[&TableSpec]) -> Result<()> {
        for table in tables {
            self.execute_raw(&format!("DELETE FROM {}", table.name))?;
        }
        Ok(())
    }
    /// Inside an append transaction: applies projection rows.
    fn apply_projection(&mut self, changes: &[Change]) -> Result<()>;
    /// Creates the plain benchmark tables (no ledger) if missing and empties them.
    fn baseline_prepare(&mut self) -> Result<()>;
    /// Inserts rows into the benchmark tables in one durable transaction.
    fn baseline_insert(&mut self, rows: &[(u64, Hash, &[u8])], changes: &[Change]) -> Result<()>;
    /// Runs raw SQL; tests use it to tamper.
    fn execute_raw(&mut self, sql: &str) -> Result<()>;
    /// The settings that make a commit durable, as the database reports them (e.g.
    /// `journal_mode=wal synchronous=2`).
    fn durability(&mut self) -> Result<String>;
    /// Has the connection failed for good (so the pool must not hand it out again)?
    fn is_broken(&self) -> bool {
        false
    }
}

/// The migrations still to apply over schema version `current`, refusing a schema newer than
/// this program knows.
pub(crate) fn pending_migrations<'a>(
    migrations: &'a [(i64, &'a str)],
    current: i64,
) -> Result<impl Iterator<Item = &'a (i64, &'a str)>> {
    let known = migrations.last().map_or(0, |m| m.0);
    if current > known {
        return Err(StoreError::SchemaTooNew {
            found: current,
            known,
        });
    }
    Ok(migrations.iter().filter(move |m| m.0 > current))
}

/// Opens a connection for the URL's backend.
pub(crate) fn connect(url: &DatabaseUrl) -> Result<Box<dyn Db>> {
    match url {
        DatabaseUrl::Sqlite(path) => Ok(Box::new(crate::sqlite_db::SqliteDb::open(path)?)),
        DatabaseUrl::Postgres(url) => Ok(Box::new(crate::postgres_db::PostgresDb::connect(url)?)),
    }
}

/// Reads a 32-byte hash column.
pub(crate) fn hash_column(bytes: &[u8], what: &str) -> Result<Hash> {
    Hash::from_slice(bytes).ok_or_else(|| StoreError::Corrupt(format!("{what} is not 32 bytes")))
}

/// The hashes of indices `start..end` from `(index, hash bytes)` rows in index order; a gap or a
/// short read is an error naming the first missing index through `missing`.
pub(crate) fn contiguous_hashes(
    start: u64,
    end: u64,
    rows: Vec<(u64, Vec<u8>)>,
    what: &str,
    missing: impl Fn(u64) -> String,
) -> Result<Vec<Hash>> {
    let mut out = Vec::with_capacity(rows.len());
    for (idx, bytes) in rows {
        if idx != start + out.len() as u64 {
            break;
        }
        out.push(hash_column(&bytes, what)?);
    }
    let found = start + out.len() as u64;
    if found != end {
        return Err(StoreError::Corrupt(missing(found)));
    }
    Ok(out)
}

/// The `INSERT … ON CONFLICT (key) DO UPDATE` statement for a projection table, with
/// placeholders made by `placeholder(i)` (1-based).
pub(crate) fn upsert_sql(table: &TableSpec, placeholder: impl Fn(usize) -> String) -> String {
    let names: Vec<&str> = table.columns.iter().map(|c| c.name).collect();
    let values: Vec<String> = (1..=names.len()).map(placeholder).collect();
    let key = names[0];
    let updates: Vec<String> = names[1..]
        .iter()
        .map(|n| format!("{n} = excluded.{n}"))
        .collect();
    let action = if updates.is_empty() {
        "NOTHING".to_string()
    } else {
        format!("UPDATE SET {}", updates.join(", "))
    };
    format!(
        "INSERT INTO {} ({}) VALUES ({}) ON CONFLICT ({key}) DO {action}",
        table.name,
        names.join(", "),
        values.join(", ")
    )
}

/// A page of a projection table: rows after a key (exclusive), in key order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Page {
    /// Start after this key; `None` for the first page.
    pub after: Option<i64>,
    /// Most rows.
    pub limit: u64,
    /// Newest (largest key) first.
    pub descending: bool,
}

/// The bounded, key-ordered SELECT of a projection table; `p1` and `p2` are the placeholders of
/// the key bound and the limit.
pub(crate) fn rows_sql(table: &TableSpec, page: Page, p1: &str, p2: &str) -> String {
    let names: Vec<&str> = table.columns.iter().map(|c| c.name).collect();
    let key = names[0];
    let (cmp, order) = if page.descending {
        ("<", "DESC")
    } else {
        (">", "ASC")
    };
    // The first page has no bound (its parameter is NULL), so no key is out of reach; the two
    // forms stay separate so that a bounded page is an index range scan.
    let filter = match page.after {
        Some(_) => format!("{key} {cmp} {p1}"),
        None => format!("{p1} IS NULL"),
    };
    format!(
        "SELECT {} FROM {} WHERE {filter} ORDER BY {key} {order} LIMIT {p2}",
        names.join(", "),
        table.name,
    )
}
