//! The SQLite backend: one file in WAL mode with `synchronous=FULL`, so a commit returns only
//! after its WAL frames are fsync'd. Appends from several processes serialise on SQLite's
//! write lock (`BEGIN IMMEDIATE`, waiting up to the busy timeout).

use crate::db::{
    contiguous_hashes, hash_column, pending_migrations, rows_sql, upsert_sql, AppendBatch, Db,
    EntryRow, Page, StoredCheckpoint,
};
use crate::{Result, StoreError};
use kiroku_domain::projection::{Change, ColumnType, TableSpec, Value};
use kiroku_ledger::Hash;
use rusqlite::types::{ToSqlOutput, Value as SqlValue, ValueRef};
use rusqlite::{params, Connection, OptionalExtension, ToSql};
use std::path::Path;

/// Migrations, in order; each runs once, in a transaction.
const MIGRATIONS: &[(i64, &str)] = &[(1, include_str!("../migrations/sqlite/0001_ledger.sql"))];

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
            return Err(StoreError::Corrupt(format!(
                "SQLite refused WAL mode (got {mode})"
            )));
        }
        conn.execute_batch("PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON;")?;
        conn.set_prepared_statement_cache_capacity(64);
        Ok(SqliteDb { conn })
    }
}

struct Param<'a>(&'a Value);

impl ToSql for Param<'_> {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(match self.0 {
            Value::Null => ToSqlOutput::Owned(SqlValue::Null),
            Value::Int(i) => ToSqlOutput::Owned(SqlValue::Integer(*i)),
            Value::Text(s) => ToSqlOutput::Borrowed(ValueRef::Text(s.as_bytes())),
            Value::ThisEntry => {
                return Err(rusqlite::Error::ToSqlConversionFailure(
                    "an unresolved entry index reached the database".into(),
                ))
            }
        })
    }
}

fn u64_to_i64(value: u64) -> Result<i64> {
    i64::try_from(value).map_err(|_| StoreError::Corrupt(format!("index {value} out of range")))
}

fn apply_changes(conn: &Connection, changes: &[Change]) -> Result<()> {
    // One statement text per table, made once per call rather than once per row.
    let mut statements: Vec<(&str, String)> = Vec::new();
    for change in changes {
        let name = change.table.name;
        let sql = match statements.iter().find(|(table, _)| *table == name) {
            Some((_, sql)) => sql,
            None => {
                statements.push((name, upsert_sql(change.table, |i| format!("?{i}"))));
                &statements[statements.len() - 1].1
            }
        };
        let mut stmt = conn.prepare_cached(sql)?;
        let params: Vec<Param<'_>> = change.row.iter().map(Param).collect();
        stmt.execute(rusqlite::params_from_iter(params.iter()))?;
    }
    Ok(())
}

fn read_checkpoint(row: &rusqlite::Row<'_>) -> rusqlite::Result<StoredCheckpoint> {
    Ok(StoredCheckpoint {
        size: row.get::<_, i64>(0)? as u64,
        root: row.get(1)?,
        note: row.get(2)?,
        created_at: row.get(3)?,
    })
}

impl SqliteDb {
    /// Rows of (index, blob) from a query of those two columns.
    fn index_and_blob(
        &self,
        sql: &str,
        params: impl rusqlite::Params,
    ) -> Result<Vec<(u64, Vec<u8>)>> {
        let mut stmt = self.conn.prepare_cached(sql)?;
        let rows = stmt.query_map(params, |r| Ok((r.get::<_, i64>(0)? as u64, r.get(1)?)))?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }
}

impl Db for SqliteDb {
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

    fn begin_append(&mut self) -> Result<(u64, Option<Hash>)> {
        self.conn.execute_batch("BEGIN IMMEDIATE")?;
        let latest = self
            .conn
            .query_row(
                "SELECT tree_size, root FROM checkpoints ORDER BY tree_size DESC LIMIT 1",
                [],
                |r| Ok((r.get::<_, i64>(0)? as u64, r.get::<_, Vec<u8>>(1)?)),
            )
            .optional()
            .inspect_err(|_| self.rollback())?;
        Ok(match latest {
            Some((size, root)) => (size, Some(hash_column(&root, "checkpoint root")?)),
            None => (0, None),
        })
    }

    fn write_batch(&mut self, batch: &AppendBatch<'_>) -> Result<()> {
        let conn = &self.conn;
        {
            let mut stmt = conn
                .prepare_cached("INSERT INTO entries (idx, leaf_hash, body) VALUES (?1, ?2, ?3)")?;
            for (offset, (leaf, body)) in batch.entries.iter().enumerate() {
                stmt.execute(params![
                    u64_to_i64(batch.first + offset as u64)?,
                    &leaf.0[..],
                    body
                ])?;
            }
        }
        if !batch.nodes.is_empty() {
            let mut stmt = conn
                .prepare_cached("INSERT INTO tree_nodes (level, idx, hash) VALUES (?1, ?2, ?3)")?;
            for (level, idx, hash) in &batch.nodes {
                stmt.execute(params![level, u64_to_i64(*idx)?, &hash.0[..]])?;
            }
        }
        if !batch.blobs.is_empty() {
            let mut stmt = conn
                .prepare_cached("INSERT OR IGNORE INTO blobs (sha256, content) VALUES (?1, ?2)")?;
            for (hash, content) in &batch.blobs {
                stmt.execute(params![&hash.0[..], content])?;
            }
        }
        apply_changes(conn, &batch.changes)?;
        let cp = &batch.checkpoint;
        conn.prepare_cached(
            "INSERT INTO checkpoints (tree_size, root, note, created_at) VALUES (?1, ?2, ?3, ?4)",
        )?
        .execute(params![
            u64_to_i64(cp.size)?,
            cp.root,
            cp.note,
            cp.created_at
        ])?;
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
        Ok(self
            .conn
            .prepare_cached(
                "SELECT tree_size, root, note, created_at FROM checkpoints
                 ORDER BY tree_size DESC LIMIT 1",
            )?
            .query_row([], read_checkpoint)
            .optional()?)
    }

    fn checkpoints(&mut self, from: u64, limit: u64) -> Result<Vec<StoredCheckpoint>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT tree_size, root, note, created_at FROM checkpoints
             WHERE tree_size >= ?1 ORDER BY tree_size LIMIT ?2",
        )?;
        let rows = stmt.query_map(
            params![u64_to_i64(from)?, u64_to_i64(limit)?],
            read_checkpoint,
        )?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    fn leaf_hashes(&mut self, start: u64, end: u64) -> Result<Vec<Hash>> {
        let rows = self.index_and_blob(
            "SELECT idx, leaf_hash FROM entries WHERE idx >= ?1 AND idx < ?2 ORDER BY idx",
            params![u64_to_i64(start)?, u64_to_i64(end)?],
        )?;
        contiguous_hashes(start, end, rows, "leaf hash", |i| {
            format!("entry {i} is missing")
        })
    }

    fn node_hashes(&mut self, level: u8, start: u64, end: u64) -> Result<Vec<Hash>> {
        let rows = self.index_and_blob(
            "SELECT idx, hash FROM tree_nodes WHERE level = ?1 AND idx >= ?2 AND idx < ?3 ORDER BY idx",
            params![level, u64_to_i64(start)?, u64_to_i64(end)?],
        )?;
        contiguous_hashes(start, end, rows, "tree node", |i| {
            format!("tree node {level}/{i} is missing")
        })
    }

    fn nodes_after(&mut self, after: (u8, i64), limit: u64) -> Result<Vec<(u8, u64, Vec<u8>)>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT level, idx, hash FROM tree_nodes WHERE (level, idx) > (?1, ?2)
             ORDER BY level, idx LIMIT ?3",
        )?;
        let rows = stmt.query_map(params![after.0, after.1, u64_to_i64(limit)?], |r| {
            Ok((
                r.get::<_, u8>(0)?,
                r.get::<_, i64>(1)? as u64,
                r.get::<_, Vec<u8>>(2)?,
            ))
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    fn max_entry_index(&mut self) -> Result<Option<u64>> {
        let max: Option<i64> = self
            .conn
            .query_row("SELECT MAX(idx) FROM entries", [], |r| r.get(0))?;
        Ok(max.map(|m| m as u64))
    }

    fn entries(&mut self, from: u64, limit: u64) -> Result<Vec<EntryRow>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT idx, leaf_hash, body FROM entries WHERE idx >= ?1 ORDER BY idx LIMIT ?2",
        )?;
        let rows = stmt.query_map(params![u64_to_i64(from)?, u64_to_i64(limit)?], |r| {
            Ok(EntryRow {
                idx: r.get::<_, i64>(0)? as u64,
                leaf_hash: r.get(1)?,
                body: r.get(2)?,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    fn blob(&mut self, sha256: &Hash) -> Result<Option<Vec<u8>>> {
        Ok(self
            .conn
            .prepare_cached("SELECT content FROM blobs WHERE sha256 = ?1")?
            .query_row([&sha256.0[..]], |r| r.get(0))
            .optional()?)
    }

    fn rows(&mut self, table: &TableSpec, page: Page) -> Result<Vec<Vec<Value>>> {
        let sql = rows_sql(table, page, "?1", "?2");
        let mut stmt = self.conn.prepare_cached(&sql)?;
        let mut rows = stmt.query(params![page.after, u64_to_i64(page.limit)?])?;
        let mut out = Vec::new();
        while let Some(row) = rows.next()? {
            let mut values = Vec::with_capacity(table.columns.len());
            for (i, column) in table.columns.iter().enumerate() {
                values.push(match (row.get_ref(i)?, column.ty) {
                    (ValueRef::Null, _) => Value::Null,
                    (ValueRef::Integer(v), ColumnType::Int) => Value::Int(v),
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
            out.push(values);
        }
        Ok(out)
    }

    fn apply_projection(&mut self, changes: &[Change]) -> Result<()> {
        apply_changes(&self.conn, changes)
    }

    fn baseline_prepare(&mut self) -> Result<()> {
        self.conn.execute_batch(
            "CREATE TABLE IF NOT EXISTS bench_entries (
                 idx INTEGER PRIMARY KEY, leaf_hash BLOB NOT NULL, body BLOB NOT NULL);
             CREATE TABLE IF NOT EXISTS bench_notes (
                 entry_index INTEGER PRIMARY KEY, time TEXT NOT NULL, account TEXT NOT NULL,
                 body TEXT NOT NULL);
             DELETE FROM bench_entries; DELETE FROM bench_notes;",
        )?;
        Ok(())
    }

    fn baseline_insert(&mut self, rows: &[(u64, Hash, &[u8])], changes: &[Change]) -> Result<()> {
        let tx = self.conn.transaction()?;
        {
            let mut stmt = tx.prepare_cached(
                "INSERT INTO bench_entries (idx, leaf_hash, body) VALUES (?1, ?2, ?3)",
            )?;
            for (idx, leaf, body) in rows {
                stmt.execute(params![u64_to_i64(*idx)?, &leaf.0[..], body])?;
            }
            let mut notes = tx.prepare_cached(
                "INSERT INTO bench_notes (entry_index, time, account, body) VALUES (?1, ?2, ?3, ?4)",
            )?;
            for change in changes {
                let params: Vec<Param<'_>> = change.row.iter().map(Param).collect();
                notes.execute(rusqlite::params_from_iter(params.iter()))?;
            }
        }
        tx.commit()?;
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

    fn execute_raw(&mut self, sql: &str) -> Result<()> {
        self.conn.execute_batch(sql)?;
        Ok(())
    }
}
