//! The SQLite backend: one file in WAL mode with `synchronous=FULL`, so a commit returns only
//! after its WAL frames are fsync'd. Appends from several processes serialise on SQLite's
//! write lock (`BEGIN IMMEDIATE`, waiting up to the busy timeout).

use crate::db::{
    key_params, pending_migrations, to_i64, to_u64, AppendBatch, Db, EntryRow, StoredCheckpoint,
};
use crate::sql::{self, Dialect, Param};
use crate::{Result, StoreError};
use kiroku_core::projection::{Net, Row, TableSpec};
use kiroku_core::query::Stored;
use kiroku_core::{ColumnType, EntryIndex, Value};
use kiroku_ledger::Hash;
use rusqlite::types::{ToSqlOutput, Value as SqlValue, ValueRef};
use rusqlite::{params, Connection, OptionalExtension, ToSql};
use std::path::Path;

/// The text of every migration, for the fingerprint of test templates.
pub(crate) const MIGRATIONS_TEXT: &str = concat!(
    include_str!("../migrations/sqlite/0001_ledger.sql"),
    include_str!("../migrations/sqlite/0002_projection_schema.sql"),
);

/// Migrations, in order; each runs once, in a transaction.
const MIGRATIONS: &[(i64, &str)] = &[
    (1, include_str!("../migrations/sqlite/0001_ledger.sql")),
    (
        2,
        include_str!("../migrations/sqlite/0002_projection_schema.sql"),
    ),
];

/// Rows per multi-row INSERT: one statement step per 64 rows instead of one per row (at most
/// 64 × 8 parameters, far below SQLite's limit of 32766).
const ROWS_PER_STATEMENT: usize = 64;

/// `INSERT INTO <target> VALUES (?, …), …<tail>` for `rows` rows of `width` values.
fn values_insert(target: &str, width: usize, rows: usize, tail: &str) -> String {
    let row = format!("({})", vec!["?"; width].join(", "));
    format!(
        "INSERT INTO {target} VALUES {}{tail}",
        vec![row.as_str(); rows].join(", ")
    )
}

/// How long a connection waits for another's write lock.
const BUSY_TIMEOUT_MS: u64 = 30_000;

pub(crate) struct SqliteDb {
    conn: Connection,
}

impl SqliteDb {
    pub(crate) fn open(path: &Path) -> Result<SqliteDb> {
        let conn = Connection::open(path)?;
        conn.busy_timeout(std::time::Duration::from_millis(BUSY_TIMEOUT_MS))?;
        // WAL keeps readers off the writer's back; FULL makes every commit durable.
        let mode: String = conn.query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(StoreError::Refused(format!(
                "SQLite refused WAL mode (got {mode}); is the file on a local disk?"
            )));
        }
        // A 16 MiB page cache: larger ones cost the writer on every commit, because SQLite
        // scans the whole cache at the end of any transaction that rebalanced a B-tree page
        // (as inserts into the middle of an index do). Statement journals (multi-row writes)
        // stay in memory instead of temporary files. Checkpoints every 4000 WAL pages.
        conn.execute_batch(
            "PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON; \
             PRAGMA cache_size = -16384; PRAGMA wal_autocheckpoint = 4000; \
             PRAGMA temp_store = MEMORY;",
        )?;
        conn.set_prepared_statement_cache_capacity(128);
        // The query planner's stability guarantee: a cached statement keeps its plan whatever
        // is bound to it. Without it SQLite (built with STAT4) marks a statement whose LIMIT or
        // comparison is a bound parameter to be parsed and planned again at every rebinding —
        // every execution of a bounded, keyed query here — which measured a quarter of the
        // server's CPU under reads.
        conn.set_db_config(
            rusqlite::config::DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG,
            true,
        )?;
        Ok(SqliteDb { conn })
    }

    /// A connection for one pass over the ledger, with a 2 MiB page cache.
    pub(crate) fn open_scan(path: &Path) -> Result<SqliteDb> {
        let db = SqliteDb::open(path)?;
        db.conn.execute_batch("PRAGMA cache_size = -2048;")?;
        Ok(db)
    }
}

struct Bind<'a>(&'a Value);

impl ToSql for Bind<'_> {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(match self.0 {
            Value::Null => ToSqlOutput::Owned(SqlValue::Null),
            Value::Int(i) => ToSqlOutput::Owned(SqlValue::Integer(*i)),
            Value::Text(s) => ToSqlOutput::Borrowed(ValueRef::Text(s.as_bytes())),
            Value::Entry(_) => {
                return Err(rusqlite::Error::ToSqlConversionFailure(
                    "an unresolved entry reference reached the database".into(),
                ))
            }
        })
    }
}

fn decode_row(row: &rusqlite::Row<'_>, table: &TableSpec) -> Result<Stored> {
    let values = decode_columns(row, table)?;
    let last = row.get::<_, i64>(table.columns.len())?;
    Ok(Stored {
        row: values,
        last_entry: EntryIndex(to_u64(last, "last_entry")?),
    })
}

/// The table's columns of a row, in declared order.
fn decode_columns(row: &rusqlite::Row<'_>, table: &TableSpec) -> Result<Row> {
    let mut values = Vec::with_capacity(table.columns.len());
    for (i, column) in table.columns.iter().enumerate() {
        values.push(match (row.get_ref(i)?, column.ty) {
            (ValueRef::Null, _) => Value::Null,
            (ValueRef::Integer(v), ColumnType::Int | ColumnType::Entry) => Value::Int(v),
            (ValueRef::Text(t), ColumnType::Text) => Value::Text(
                std::str::from_utf8(t)
                    .map_err(|_| {
                        StoreError::Corrupt(format!(
                            "{}.{} holds text that is not UTF-8",
                            table.name, column.name
                        ))
                    })?
                    .to_owned(),
            ),
            _ => {
                return Err(StoreError::Corrupt(format!(
                    "{}.{} holds a value of the wrong type",
                    table.name, column.name
                )))
            }
        });
    }
    Ok(values)
}

fn read_checkpoint(row: &rusqlite::Row<'_>) -> rusqlite::Result<(i64, StoredCheckpoint)> {
    Ok((
        row.get(0)?,
        StoredCheckpoint {
            size: 0,
            root: row.get(1)?,
            note: row.get(2)?,
            created_at: row.get(3)?,
        },
    ))
}

fn checkpoint(row: (i64, StoredCheckpoint)) -> Result<StoredCheckpoint> {
    let (size, mut checkpoint) = row;
    checkpoint.size = to_u64(size, "a checkpoint's tree size")?;
    Ok(checkpoint)
}

impl SqliteDb {
    /// Rows of (index, blob) from a query of those two columns.
    fn index_and_blob(
        &self,
        sql: &str,
        params: impl rusqlite::Params,
    ) -> Result<Vec<(u64, Vec<u8>)>> {
        let mut stmt = self.conn.prepare_cached(sql)?;
        let rows = stmt.query_map(params, |r| Ok((r.get::<_, i64>(0)?, r.get(1)?)))?;
        rows.map(|row| {
            let (idx, hash) = row?;
            Ok((to_u64(idx, "an index")?, hash))
        })
        .collect()
    }

    fn insert_ledger_rows(&self, batch: &AppendBatch<'_>) -> Result<()> {
        let conn = &self.conn;
        for (n, chunk) in batch.entries.chunks(ROWS_PER_STATEMENT).enumerate() {
            let start = batch.first + (n * ROWS_PER_STATEMENT) as u64;
            let idx = (0..chunk.len() as u64)
                .map(|i| to_i64(start + i))
                .collect::<Result<Vec<i64>>>()?;
            let leaves: Vec<&[u8]> = chunk.iter().map(|(leaf, _)| &leaf.0[..]).collect();
            let mut params: Vec<&dyn ToSql> = Vec::with_capacity(chunk.len() * 3);
            for (i, (_, body)) in chunk.iter().enumerate() {
                params.push(&idx[i]);
                params.push(&leaves[i]);
                params.push(body);
            }
            let sql = values_insert("entries (idx, leaf_hash, body)", 3, chunk.len(), "");
            conn.prepare_cached(&sql)?
                .execute(rusqlite::params_from_iter(params))?;
        }
        if !batch.nodes.is_empty() {
            let mut stmt = conn
                .prepare_cached("INSERT INTO tree_nodes (level, idx, hash) VALUES (?1, ?2, ?3)")?;
            for (level, idx, hash) in &batch.nodes {
                stmt.execute(params![level, to_i64(*idx)?, &hash.0[..]])?;
            }
        }
        if !batch.blobs.is_empty() {
            let mut stmt = conn
                .prepare_cached("INSERT OR IGNORE INTO blobs (sha256, content) VALUES (?1, ?2)")?;
            for (hash, content) in &batch.blobs {
                stmt.execute(params![&hash.0[..], content])?;
            }
        }
        Ok(())
    }

    /// Applies a net effect: prefix deletes and deletes row by row, then the upserts of each
    /// table in multi-row statements with their values bound by reference.
    fn apply(&mut self, net: &Net) -> Result<()> {
        let d = Dialect::Sqlite;
        for table in net.tables() {
            let spec = table.table;
            for prefix in table.prefix_deletes.keys() {
                self.exec(
                    &sql::delete(d, spec, prefix.len()),
                    &key_params(spec, prefix),
                )?;
            }
            for key in table.deletes.keys() {
                self.exec(&sql::delete(d, spec, spec.key), &key_params(spec, key))?;
            }
            let rows: Vec<&(Vec<Value>, EntryIndex)> = table.upserts.values().collect();
            let width = spec.columns.len() + 1;
            let target = format!("{} ({})", spec.name, sql::column_list(spec));
            let conflict = format!(
                " ON CONFLICT ({}) DO UPDATE SET {}",
                spec.key_columns()
                    .iter()
                    .map(|c| c.name)
                    .collect::<Vec<_>>()
                    .join(", "),
                sql::update_set(spec)
            );
            for chunk in rows.chunks(ROWS_PER_STATEMENT) {
                let last = chunk
                    .iter()
                    .map(|(_, e)| to_i64(e.0))
                    .collect::<Result<Vec<i64>>>()?;
                let binds: Vec<Bind<'_>> = chunk
                    .iter()
                    .flat_map(|(row, _)| row.iter().map(Bind))
                    .collect();
                let mut params: Vec<&dyn ToSql> = Vec::with_capacity(chunk.len() * width);
                for (i, row) in binds.chunks(spec.columns.len()).enumerate() {
                    params.extend(row.iter().map(|b| b as &dyn ToSql));
                    params.push(&last[i]);
                }
                let statement = values_insert(&target, width, chunk.len(), &conflict);
                self.conn
                    .prepare_cached(&statement)?
                    .execute(rusqlite::params_from_iter(params))?;
            }
        }
        Ok(())
    }

    fn insert_checkpoint(&self, cp: &StoredCheckpoint) -> Result<()> {
        self.conn
            .prepare_cached(
                "INSERT INTO checkpoints (tree_size, root, note, created_at) VALUES (?1, ?2, ?3, ?4)",
            )?
            .execute(params![to_i64(cp.size)?, cp.root, cp.note, cp.created_at])?;
        Ok(())
    }
}

impl Db for SqliteDb {
    fn dialect(&self) -> Dialect {
        Dialect::Sqlite
    }

    fn migrate(&mut self) -> Result<()> {
        let tx = self
            .conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        tx.execute_batch(
            "CREATE TABLE IF NOT EXISTS schema_migrations (
                 version INTEGER PRIMARY KEY, applied_at TEXT NOT NULL DEFAULT CURRENT_TIMESTAMP)",
        )?;
        let current: i64 = tx.query_row(
            "SELECT COALESCE(MAX(version), 0) FROM schema_migrations",
            [],
            |r| r.get(0),
        )?;
        for (version, sql) in pending_migrations(MIGRATIONS, current)? {
            tx.execute_batch(sql)?;
            tx.execute(
                "INSERT INTO schema_migrations (version) VALUES (?1)",
                [version],
            )?;
        }
        tx.commit()?;
        Ok(())
    }

    fn execute_raw(&mut self, sql: &str) -> Result<()> {
        self.conn.execute_batch(sql)?;
        Ok(())
    }

    fn exec(&mut self, sql: &str, params: &[Param]) -> Result<u64> {
        let mut stmt = self.conn.prepare_cached(sql)?;
        let binds: Vec<Bind<'_>> = params.iter().map(|(v, _)| Bind(v)).collect();
        Ok(stmt.execute(rusqlite::params_from_iter(binds.iter()))? as u64)
    }

    fn select(&mut self, sql: &str, params: &[Param], table: &TableSpec) -> Result<Vec<Stored>> {
        let mut stmt = self.conn.prepare_cached(sql)?;
        let binds: Vec<Bind<'_>> = params.iter().map(|(v, _)| Bind(v)).collect();
        let mut rows = stmt.query(rusqlite::params_from_iter(binds.iter()))?;
        let mut out = Vec::new();
        while let Some(row) = rows.next()? {
            out.push(decode_row(row, table)?);
        }
        Ok(out)
    }

    fn select_columns(
        &mut self,
        sql: &str,
        params: &[Param],
        table: &TableSpec,
    ) -> Result<Vec<Row>> {
        let mut stmt = self.conn.prepare_cached(sql)?;
        let binds: Vec<Bind<'_>> = params.iter().map(|(v, _)| Bind(v)).collect();
        let mut rows = stmt.query(rusqlite::params_from_iter(binds.iter()))?;
        let mut out = Vec::new();
        while let Some(row) = rows.next()? {
            out.push(decode_columns(row, table)?);
        }
        Ok(out)
    }

    fn select_int(&mut self, sql: &str, params: &[Param]) -> Result<Option<i64>> {
        let mut stmt = self.conn.prepare_cached(sql)?;
        let binds: Vec<Bind<'_>> = params.iter().map(|(v, _)| Bind(v)).collect();
        Ok(stmt
            .query_row(rusqlite::params_from_iter(binds.iter()), |r| {
                r.get::<_, Option<i64>>(0)
            })
            .optional()?
            .flatten())
    }

    fn begin_append(&mut self) -> Result<(u64, Option<Hash>)> {
        self.conn.execute_batch("BEGIN IMMEDIATE")?;
        let latest = self
            .conn
            .query_row(
                "SELECT tree_size, root FROM checkpoints ORDER BY tree_size DESC LIMIT 1",
                [],
                |r| Ok((r.get::<_, i64>(0)?, r.get::<_, Vec<u8>>(1)?)),
            )
            .optional()
            .inspect_err(|_| self.rollback())?;
        Ok(match latest {
            Some((size, root)) => (
                to_u64(size, "a checkpoint's tree size")?,
                Some(crate::db::hash_column(&root, "checkpoint root")?),
            ),
            None => (0, None),
        })
    }

    fn write_batch(&mut self, batch: &AppendBatch<'_>) -> Result<()> {
        self.insert_ledger_rows(batch)?;
        self.apply(batch.net)?;
        if let Some(cp) = &batch.checkpoint {
            self.insert_checkpoint(cp)?;
        }
        Ok(())
    }

    fn commit(&mut self) -> Result<()> {
        self.conn.execute_batch("COMMIT")?;
        Ok(())
    }

    fn rollback(&mut self) {
        if !self.conn.is_autocommit() {
            // Nothing more can be done if rollback itself fails: the connection is dropped
            // by the writer on the next error and SQLite rolls back on close.
            let _ = self.conn.execute_batch("ROLLBACK");
        }
    }

    fn latest_checkpoint(&mut self) -> Result<Option<StoredCheckpoint>> {
        self.conn
            .prepare_cached(
                "SELECT tree_size, root, note, created_at FROM checkpoints
                 ORDER BY tree_size DESC LIMIT 1",
            )?
            .query_row([], read_checkpoint)
            .optional()?
            .map(checkpoint)
            .transpose()
    }

    fn checkpoints(&mut self, from: u64, limit: u64) -> Result<Vec<StoredCheckpoint>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT tree_size, root, note, created_at FROM checkpoints
             WHERE tree_size >= ?1 ORDER BY tree_size LIMIT ?2",
        )?;
        let rows = stmt.query_map(params![to_i64(from)?, to_i64(limit)?], read_checkpoint)?;
        rows.map(|row| checkpoint(row?)).collect()
    }

    fn leaf_rows(&mut self, start: u64, end: u64) -> Result<Vec<(u64, Vec<u8>)>> {
        self.index_and_blob(
            "SELECT idx, leaf_hash FROM entries WHERE idx >= ?1 AND idx < ?2 ORDER BY idx",
            params![to_i64(start)?, to_i64(end)?],
        )
    }

    fn node_rows(&mut self, level: u8, from: u64, limit: u64) -> Result<Vec<(u64, Vec<u8>)>> {
        self.index_and_blob(
            "SELECT idx, hash FROM tree_nodes WHERE level = ?1 AND idx >= ?2 ORDER BY idx LIMIT ?3",
            params![level, to_i64(from)?, to_i64(limit)?],
        )
    }

    fn odd_node(&mut self) -> Result<Option<(u8, u64)>> {
        let row = self
            .conn
            .query_row(
                "SELECT level, idx FROM tree_nodes WHERE level < 1 OR level > 7 ORDER BY level, idx LIMIT 1",
                [],
                |r| Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)?)),
            )
            .optional()?;
        row.map(|(level, idx)| {
            Ok((
                u8::try_from(level).unwrap_or(u8::MAX),
                to_u64(idx, "a tree node index")?,
            ))
        })
        .transpose()
    }

    fn max_entry_index(&mut self) -> Result<Option<u64>> {
        let max: Option<i64> = self
            .conn
            .query_row("SELECT MAX(idx) FROM entries", [], |r| r.get(0))?;
        max.map(|m| to_u64(m, "an entry index")).transpose()
    }

    fn entries(&mut self, from: u64, limit: u64) -> Result<Vec<EntryRow>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT idx, leaf_hash, body FROM entries WHERE idx >= ?1 ORDER BY idx LIMIT ?2",
        )?;
        let rows = stmt.query_map(params![to_i64(from)?, to_i64(limit)?], |r| {
            Ok((r.get::<_, i64>(0)?, r.get(1)?, r.get(2)?))
        })?;
        rows.map(|row| {
            let (idx, leaf_hash, body) = row?;
            Ok(EntryRow {
                idx: to_u64(idx, "an entry index")?,
                leaf_hash,
                body,
            })
        })
        .collect()
    }

    fn blob(&mut self, sha256: &Hash) -> Result<Option<Vec<u8>>> {
        Ok(self
            .conn
            .prepare_cached("SELECT content FROM blobs WHERE sha256 = ?1")?
            .query_row([&sha256.0[..]], |r| r.get(0))
            .optional()?)
    }

    fn apply_net(&mut self, net: &Net) -> Result<()> {
        self.apply(net)
    }

    fn load(&mut self, batch: &AppendBatch<'_>, checkpoints: &[StoredCheckpoint]) -> Result<()> {
        self.insert_ledger_rows(batch)?;
        self.apply(batch.net)?;
        for cp in checkpoints {
            self.insert_checkpoint(cp)?;
        }
        Ok(())
    }

    fn begin(&mut self) -> Result<()> {
        self.conn.execute_batch("BEGIN")?;
        Ok(())
    }

    fn durability(&mut self) -> Result<String> {
        let mode: String = self
            .conn
            .query_row("PRAGMA journal_mode", [], |r| r.get(0))?;
        let sync: i64 = self
            .conn
            .query_row("PRAGMA synchronous", [], |r| r.get(0))?;
        Ok(format!("journal_mode={mode} synchronous={sync}"))
    }
}
