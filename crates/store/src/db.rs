//! The interface both backends implement: a small set of bounded operations the writer, the
//! readers and the replay engine need. Each backend binds parameters and decodes rows its own
//! way; the SQL of projection tables is generated once ([`crate::sql`]) and the operations
//! built on it are written here, once.

use crate::sql::{self, Dialect, Param};
use crate::url::DatabaseUrl;
use crate::{Result, StoreError};
use kiroku_core::projection::{Key, Net, Row, TableSpec};
use kiroku_core::query::{Query, Stored};
use kiroku_core::{ColumnType, Value};
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

/// An entry row as stored; the replay engine checks every field.
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
    /// The net effect on the projections.
    pub net: &'a Net,
    /// The batch's checkpoint.
    pub checkpoint: Option<StoredCheckpoint>,
}

/// Converts a stored integer to an index or count, refusing a negative one (a wrap would
/// silently turn damage into a huge number).
pub(crate) fn to_u64(value: i64, what: &str) -> Result<u64> {
    u64::try_from(value).map_err(|_| StoreError::Corrupt(format!("{what} is negative ({value})")))
}

/// Converts an index or count to the signed integer SQL stores.
pub(crate) fn to_i64(value: u64) -> Result<i64> {
    i64::try_from(value).map_err(|_| StoreError::Limit(format!("{value} is beyond 2^63 − 1")))
}

/// One database connection.
pub(crate) trait Db: Send {
    /// Which SQL this connection speaks.
    fn dialect(&self) -> Dialect;

    // --- The primitives each backend implements -----------------------------------------

    /// Applies the embedded migrations of the ledger tables not yet applied.
    fn migrate(&mut self) -> Result<()>;
    /// Runs SQL without parameters (DDL, tests' tampering).
    fn execute_raw(&mut self, sql: &str) -> Result<()>;
    /// Runs a statement with parameters; returns the rows affected.
    fn exec(&mut self, sql: &str, params: &[Param]) -> Result<u64>;
    /// Runs a SELECT of `table`'s columns and `last_entry`, decoding each row.
    fn select(&mut self, sql: &str, params: &[Param], table: &TableSpec) -> Result<Vec<Stored>>;
    /// Runs a SELECT of `table`'s columns alone, decoding each row.
    fn select_columns(
        &mut self,
        sql: &str,
        params: &[Param],
        table: &TableSpec,
    ) -> Result<Vec<Row>>;
    /// Runs a SELECT of one integer.
    fn select_int(&mut self, sql: &str, params: &[Param]) -> Result<Option<i64>>;
    /// Starts an append transaction, taking the cross-process append lock, and returns the
    /// latest checkpoint's tree size and root (0 and `None` for an empty ledger).
    fn begin_append(&mut self) -> Result<(u64, Option<Hash>)>;
    /// Writes a batch inside the append transaction.
    fn write_batch(&mut self, batch: &AppendBatch<'_>) -> Result<()>;
    /// Commits (with the backend's durable fsync).
    fn commit(&mut self) -> Result<()>;
    /// Rolls back whatever transaction is open.
    fn rollback(&mut self);
    /// Up to `limit` checkpoints with size ≥ `from`, by size.
    fn checkpoints(&mut self, from: u64, limit: u64) -> Result<Vec<StoredCheckpoint>>;
    /// The latest checkpoint.
    fn latest_checkpoint(&mut self) -> Result<Option<StoredCheckpoint>>;
    /// (index, hash) of stored leaves `start..end`, in order (gaps left to the caller).
    fn leaf_rows(&mut self, start: u64, end: u64) -> Result<Vec<(u64, Vec<u8>)>>;
    /// (index, hash) of stored nodes at tile `level`, indices from `from`, at most `limit`.
    fn node_rows(&mut self, level: u8, from: u64, limit: u64) -> Result<Vec<(u64, Vec<u8>)>>;
    /// A stored node at a level that no tile has (0, or above 7).
    fn odd_node(&mut self) -> Result<Option<(u8, u64)>>;
    /// The highest stored entry index.
    fn max_entry_index(&mut self) -> Result<Option<u64>>;
    /// Up to `limit` entry rows with index ≥ `from`, by index.
    fn entries(&mut self, from: u64, limit: u64) -> Result<Vec<EntryRow>>;
    /// A blob by its SHA-256.
    fn blob(&mut self, sha256: &Hash) -> Result<Option<Vec<u8>>>;
    /// Applies a net effect on the projections (inside a transaction).
    fn apply_net(&mut self, net: &Net) -> Result<()>;
    /// Bulk-loads ledger rows that a replay has checked (import, migration), inside a
    /// transaction.
    fn load(&mut self, batch: &AppendBatch<'_>, checkpoints: &[StoredCheckpoint]) -> Result<()>;
    /// Starts a plain transaction (rebuild, import), taking the append lock.
    fn begin_locked(&mut self) -> Result<()> {
        self.begin_append().map(|_| ())
    }
    /// Starts a plain transaction without the append lock (the benchmark's baseline).
    fn begin(&mut self) -> Result<()>;
    /// The settings that make a commit durable, as the database reports them.
    fn durability(&mut self) -> Result<String>;
    /// Has the connection failed for good (so the pool must not hand it out again)?
    fn is_broken(&self) -> bool {
        false
    }

    // --- Built on the primitives, once for both backends ---------------------------------

    /// The projection schema recorded in the database: its fingerprint and its tables.
    fn projection_schema(&mut self) -> Result<Option<(String, Vec<String>)>> {
        let rows = self.select(
            "SELECT fingerprint, tables, CAST(0 AS BIGINT) FROM projection_schema WHERE id = 1",
            &[],
            &SCHEMA_ROW,
        )?;
        Ok(rows
            .into_iter()
            .next()
            .and_then(|s| match (s.row.first(), s.row.get(1)) {
                (Some(Value::Text(f)), Some(Value::Text(t))) => Some((
                    f.clone(),
                    t.split(',')
                        .filter(|n| !n.is_empty())
                        .map(str::to_owned)
                        .collect(),
                )),
                _ => None,
            }))
    }

    /// Records the projection schema.
    fn set_projection_schema(&mut self, fingerprint: &str, tables: &[&TableSpec]) -> Result<()> {
        let names: Vec<&str> = tables.iter().map(|t| t.name).collect();
        let d = self.dialect();
        self.exec(
            &format!(
                "INSERT INTO projection_schema (id, fingerprint, tables) VALUES (1, {}, {}) \
                 ON CONFLICT (id) DO UPDATE SET fingerprint = excluded.fingerprint, tables = excluded.tables",
                d.param(1),
                d.param(2)
            ),
            &[
                (Value::Text(fingerprint.into()), ColumnType::Text),
                (Value::Text(names.join(",")), ColumnType::Text),
            ],
        )?;
        Ok(())
    }

    /// The stored rows with these whole keys, in the same order (`None` where absent).
    fn lookup(&mut self, table: &TableSpec, keys: &[Key]) -> Result<Vec<Option<Stored>>> {
        let sql = sql::select_key(self.dialect(), table);
        let mut out = Vec::with_capacity(keys.len());
        for key in keys {
            let params = key_params(table, key);
            out.push(self.select(&sql, &params, table)?.into_iter().next());
        }
        Ok(out)
    }

    /// The rows a query asks for.
    fn query(&mut self, q: &Query) -> Result<Vec<Stored>> {
        let (sql, params) = sql::query(self.dialect(), q, false);
        self.select(&sql, &params, q.table)
    }

    /// The rows a query asks for, their columns alone (not the entries that put them).
    fn query_columns(&mut self, q: &Query) -> Result<Vec<Row>> {
        let (sql, params) = sql::query(self.dialect(), q, true);
        self.select_columns(&sql, &params, q.table)
    }

    /// Rows whose first key column lies in `from..=to`, in key order, at most `limit`.
    fn first_key_range(
        &mut self,
        table: &TableSpec,
        from: i64,
        to: i64,
        limit: u64,
    ) -> Result<Vec<Stored>> {
        let sql = sql::first_key_range(self.dialect(), table);
        self.select(
            &sql,
            &[
                (Value::Int(from), ColumnType::Int),
                (Value::Int(to), ColumnType::Int),
                (Value::Int(to_i64(limit)?), ColumnType::Int),
            ],
            table,
        )
    }

    /// A row under `prefix` put before entry `before` (one that entry put after deleting the
    /// prefix — replacing a set of rows — is its own).
    fn stale_under_prefix(
        &mut self,
        table: &TableSpec,
        prefix: &Key,
        before: i64,
    ) -> Result<Option<Stored>> {
        let sql = sql::stale_under_prefix(self.dialect(), table, prefix.len());
        let mut params = key_params(table, prefix);
        params.push((Value::Int(before), ColumnType::Int));
        Ok(self.select(&sql, &params, table)?.into_iter().next())
    }

    /// The first row (by key) put at or after entry `from`.
    fn put_from(&mut self, table: &TableSpec, from: i64) -> Result<Option<Stored>> {
        let sql = sql::put_from(self.dialect(), table);
        Ok(self
            .select(&sql, &[(Value::Int(from), ColumnType::Int)], table)?
            .into_iter()
            .next())
    }

    /// A page of a table in key order, after `after` (a whole key).
    fn scan(&mut self, table: &TableSpec, after: Option<&Key>, limit: u64) -> Result<Vec<Stored>> {
        let sql = sql::scan(self.dialect(), table, after.is_some());
        let mut params = after.map(|k| key_params(table, k)).unwrap_or_default();
        params.push((Value::Int(to_i64(limit)?), ColumnType::Int));
        self.select(&sql, &params, table)
    }

    /// The number of rows of a table.
    fn count(&mut self, table: &TableSpec) -> Result<u64> {
        let n = self
            .select_int(&format!("SELECT COUNT(*) FROM {}", table.name), &[])?
            .unwrap_or(0);
        to_u64(n, "a row count")
    }

    /// Empties projection tables (inside a transaction).
    fn clear_projections(&mut self, tables: &[&TableSpec]) -> Result<()> {
        for table in tables {
            self.execute_raw(&format!("DELETE FROM {}", table.name))?;
        }
        Ok(())
    }

    /// Leaf hashes of entries `start..end`; a gap is an error naming the first missing entry.
    fn leaf_hashes(&mut self, start: u64, end: u64) -> Result<Vec<Hash>> {
        let rows = self.leaf_rows(start, end)?;
        contiguous_hashes(start, end, rows, "leaf hash", |i| {
            format!("entry {i} is missing")
        })
    }

    /// Stored node hashes at tile `level` ≥ 1, indices `start..end`.
    fn node_hashes(&mut self, level: u8, start: u64, end: u64) -> Result<Vec<Hash>> {
        let rows = self.node_rows(level, start, end.saturating_sub(start))?;
        contiguous_hashes(start, end, rows, "tree node", |i| {
            format!("tree node {level}/{i} is missing")
        })
    }

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

    /// Rows that lie beyond the signed tree of `size` entries, which only someone writing
    /// behind the writer's back can have put there: the entry concerned (if an entry) and what.
    fn planted_beyond(&mut self, size: u64) -> Result<Option<(Option<u64>, String)>> {
        if self.max_entry_index()?.is_some_and(|max| max >= size) {
            if let Some(row) = self.entries(size, 1)?.first() {
                return Ok(Some((
                    Some(row.idx),
                    format!(
                        "entry {} is stored beyond the signed tree of size {size}",
                        row.idx
                    ),
                )));
            }
        }
        for level in 1..=7u8 {
            let first_beyond = size >> (8 * u32::from(level));
            if let Some((idx, _)) = self.node_rows(level, first_beyond, 1)?.first() {
                return Ok(Some((
                    None,
                    format!(
                        "tree node {level}/{idx} is stored beyond the signed tree of size {size}"
                    ),
                )));
            }
        }
        Ok(None)
    }
}

/// The parameters binding a key (or key prefix).
pub(crate) fn key_params(table: &TableSpec, key: &[Value]) -> Vec<Param> {
    key.iter()
        .zip(table.columns)
        .map(|(v, c)| (v.clone(), c.ty))
        .collect()
}

/// The declared shape of the one row of `projection_schema`, for decoding it.
static SCHEMA_ROW: TableSpec = TableSpec {
    name: "projection_schema",
    about: "",
    columns: &[
        kiroku_core::Column::text("fingerprint"),
        kiroku_core::Column::text("tables"),
    ],
    key: 1,
    indexes: &[],
    role: kiroku_core::TableRole::Plain,
};

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

/// A connection for one pass over the ledger (a replay's reader, workers and checks). Each
/// page is read once and the operating system caches the file anyway, so SQLite keeps a small
/// page cache: the memory of a verification does not depend on the connections it opens.
pub(crate) fn connect_scan(url: &DatabaseUrl) -> Result<Box<dyn Db>> {
    match url {
        DatabaseUrl::Sqlite(path) => Ok(Box::new(crate::sqlite_db::SqliteDb::open_scan(path)?)),
        DatabaseUrl::Postgres(_) => connect(url),
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
