//! The PostgreSQL backend. Commits are durable with `synchronous_commit = on` (which the
//! connection sets explicitly). Appends from several processes serialise on a
//! transaction-level advisory lock; a batch is three round trips: lock and latest checkpoint,
//! one prepared statement writing everything through `UNNEST` of arrays, and the commit.

use crate::db::{
    contiguous_hashes, pending_migrations, rows_sql, upsert_sql, AppendBatch, Db, EntryRow, Page,
    StoredCheckpoint,
};
use crate::{Result, StoreError};
use kiroku_domain::projection::{Change, ColumnType, TableSpec, Value, TABLES};
use kiroku_ledger::Hash;
use postgres::types::ToSql;
use postgres::{Client, NoTls, Row, SimpleQueryMessage, Statement};
use std::collections::{BTreeMap, HashMap};

/// Migrations, in order; each runs once, in a transaction.
const MIGRATIONS: &[(i64, &str)] = &[(1, include_str!("../migrations/postgres/0001_ledger.sql"))];

/// The advisory lock key that serialises appends (and migrations) across processes.
const APPEND_LOCK: i64 = 0x4b49_524f_4b55; // "KIROKU"

pub(crate) struct PostgresDb {
    client: Client,
    /// Statements prepared on this connection, by text.
    statements: HashMap<String, Statement>,
}

impl PostgresDb {
    pub(crate) fn connect(url: &str) -> Result<PostgresDb> {
        let mut client = Client::connect(url, NoTls)?;
        client.batch_execute("SET synchronous_commit = on")?;
        Ok(PostgresDb {
            client,
            statements: HashMap::new(),
        })
    }
}

fn to_i64(value: u64) -> Result<i64> {
    i64::try_from(value).map_err(|_| StoreError::Corrupt(format!("index {value} out of range")))
}

fn read_checkpoint(row: &Row) -> StoredCheckpoint {
    StoredCheckpoint {
        size: row.get::<_, i64>(0) as u64,
        root: row.get(1),
        note: row.get(2),
        created_at: row.get(3),
    }
}

/// Projection rows grouped by table in declaration order, the last change to a key winning (as
/// applying them in order would), so each table takes one multi-row upsert.
type TableRows<'a> = (&'static TableSpec, Vec<&'a Vec<Value>>);

fn group_changes(changes: &[Change]) -> Result<Vec<TableRows<'_>>> {
    let mut by_table: BTreeMap<&str, BTreeMap<Value, &Vec<Value>>> = BTreeMap::new();
    for change in changes {
        let key = change.row.first().cloned().unwrap_or(Value::Null);
        by_table
            .entry(change.table.name)
            .or_default()
            .insert(key, &change.row);
    }
    let grouped = TABLES
        .iter()
        .map(|table| {
            let rows = by_table
                .remove(table.name)
                .map(|rows| rows.into_values().collect())
                .unwrap_or_default();
            (*table, rows)
        })
        .collect();
    if let Some(name) = by_table.keys().next() {
        return Err(StoreError::Corrupt(format!(
            "{name} is not a declared projection table"
        )));
    }
    Ok(grouped)
}

/// The column arrays of `rows` for `UNNEST`, appended to `params`.
fn unnest_params(table: &TableSpec, rows: &[&Vec<Value>], params: &mut Vec<Box<dyn ToSql + Sync>>) {
    for (i, column) in table.columns.iter().enumerate() {
        match column.ty {
            ColumnType::Int => {
                let values: Vec<Option<i64>> = rows
                    .iter()
                    .map(|r| match r.get(i) {
                        Some(Value::Int(v)) => Some(*v),
                        _ => None,
                    })
                    .collect();
                params.push(Box::new(values));
            }
            ColumnType::Text => {
                let values: Vec<Option<String>> = rows
                    .iter()
                    .map(|r| match r.get(i) {
                        Some(Value::Text(v)) => Some(v.clone()),
                        _ => None,
                    })
                    .collect();
                params.push(Box::new(values));
            }
        }
    }
}

/// `INSERT INTO t (…) SELECT * FROM UNNEST($n::type[], …) ON CONFLICT (key) DO …`, its
/// placeholders numbered from `first`.
fn unnest_upsert_sql(table: &TableSpec, first: usize) -> String {
    let casts: Vec<String> = table
        .columns
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let ty = match c.ty {
                ColumnType::Int => "bigint",
                ColumnType::Text => "text",
            };
            format!("${}::{ty}[]", first + i)
        })
        .collect();
    let single = upsert_sql(table, |i| format!("${i}"));
    // `INSERT … VALUES (…) ON CONFLICT …` becomes `INSERT … SELECT * FROM UNNEST(…) ON CONFLICT …`.
    let (head, tail) = single
        .split_once(" VALUES (")
        .and_then(|(head, rest)| {
            rest.split_once(") ON CONFLICT")
                .map(|(_, tail)| (head, tail))
        })
        .unwrap_or((single.as_str(), ""));
    format!(
        "{head} SELECT * FROM UNNEST({}) ON CONFLICT{tail}",
        casts.join(", ")
    )
}

/// The one statement that writes a whole batch: entries, tree nodes, blobs and every
/// projection table as data-modifying CTEs, and the checkpoint. Fixed text, prepared once.
fn batch_sql() -> String {
    let mut ctes = vec![
        "e AS (INSERT INTO entries (idx, leaf_hash, body) SELECT * FROM UNNEST($1::bigint[], $2::bytea[], $3::bytea[]))".to_string(),
        "n AS (INSERT INTO tree_nodes (level, idx, hash) SELECT * FROM UNNEST($4::smallint[], $5::bigint[], $6::bytea[]))".to_string(),
        "b AS (INSERT INTO blobs (sha256, content) SELECT * FROM UNNEST($7::bytea[], $8::bytea[]) ON CONFLICT (sha256) DO NOTHING)".to_string(),
    ];
    let mut next = 13;
    for (i, table) in TABLES.iter().enumerate() {
        ctes.push(format!("p{i} AS ({})", unnest_upsert_sql(table, next)));
        next += table.columns.len();
    }
    format!(
        "WITH {} INSERT INTO checkpoints (tree_size, root, note, created_at) VALUES ($9, $10, $11, $12)",
        ctes.join(", ")
    )
}

impl PostgresDb {
    /// A prepared statement, prepared once per connection.
    fn prepared(&mut self, sql: &str) -> Result<Statement> {
        if let Some(statement) = self.statements.get(sql) {
            return Ok(statement.clone());
        }
        let statement = self.client.prepare(sql)?;
        self.statements.insert(sql.to_owned(), statement.clone());
        Ok(statement)
    }

    /// Applies projection changes, one upsert per table.
    fn apply_changes(&mut self, changes: &[Change]) -> Result<()> {
        for (table, rows) in group_changes(changes)? {
            if rows.is_empty() {
                continue;
            }
            let mut params: Vec<Box<dyn ToSql + Sync>> = Vec::new();
            unnest_params(table, &rows, &mut params);
            let statement = self.prepared(&unnest_upsert_sql(table, 1))?;
            let refs: Vec<&(dyn ToSql + Sync)> = params.iter().map(|p| p.as_ref()).collect();
            self.client.execute(&statement, &refs)?;
        }
        Ok(())
    }
}

impl Db for PostgresDb {
    fn migrate(&mut self) -> Result<()> {
        let mut tx = self.client.transaction()?;
        tx.execute("SELECT pg_advisory_xact_lock($1)", &[&APPEND_LOCK])?;
        tx.batch_execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations (
                 version BIGINT PRIMARY KEY, applied_at TIMESTAMPTZ NOT NULL DEFAULT now())",
        )?;
        let current: i64 = tx
            .query_one(
                "SELECT COALESCE(MAX(version), 0) FROM schema_migrations",
                &[],
            )?
            .get(0);
        for (version, sql) in pending_migrations(MIGRATIONS, current)? {
            tx.batch_execute(sql)?;
            tx.execute(
                "INSERT INTO schema_migrations (version) VALUES ($1)",
                &[version],
            )?;
        }
        tx.commit()?;
        Ok(())
    }

    fn begin_append(&mut self) -> Result<(u64, Option<Hash>)> {
        // One round trip. READ COMMITTED gives each statement its own snapshot, so the latest
        // checkpoint is read after the lock is held and sees the previous holder's commit
        // (whatever the role's default isolation level).
        let sql = format!(
            "BEGIN ISOLATION LEVEL READ COMMITTED; SELECT pg_advisory_xact_lock({APPEND_LOCK}); \
             SELECT tree_size, encode(root, 'hex') FROM checkpoints ORDER BY tree_size DESC LIMIT 1"
        );
        let messages = match self.client.simple_query(&sql) {
            Ok(messages) => messages,
            Err(e) => {
                self.rollback();
                return Err(e.into());
            }
        };
        let latest = messages.iter().rev().find_map(|m| match m {
            SimpleQueryMessage::Row(row) if row.len() == 2 => Some((row.get(0), row.get(1))),
            _ => None,
        });
        let parsed = match latest {
            None => Ok((0, None)),
            Some((Some(size), Some(root))) => match (size.parse::<u64>(), Hash::from_hex(root)) {
                (Ok(size), Some(root)) => Ok((size, Some(root))),
                _ => Err(StoreError::Corrupt(
                    "the latest checkpoint cannot be read".into(),
                )),
            },
            Some(_) => Err(StoreError::Corrupt(
                "the latest checkpoint cannot be read".into(),
            )),
        };
        if parsed.is_err() {
            self.rollback();
        }
        parsed
    }

    fn write_batch(&mut self, batch: &AppendBatch<'_>) -> Result<()> {
        let first = to_i64(batch.first)?;
        let count = batch.entries.len() as i64;
        let idx: Vec<i64> = (first..first + count).collect();
        let leaves: Vec<&[u8]> = batch.entries.iter().map(|(l, _)| &l.0[..]).collect();
        let bodies: Vec<&[u8]> = batch.entries.iter().map(|(_, b)| *b).collect();
        let levels: Vec<i16> = batch.nodes.iter().map(|n| i16::from(n.0)).collect();
        let node_idx = batch
            .nodes
            .iter()
            .map(|n| to_i64(n.1))
            .collect::<Result<Vec<i64>>>()?;
        let node_hashes: Vec<&[u8]> = batch.nodes.iter().map(|n| &n.2 .0[..]).collect();
        let blob_hashes: Vec<&[u8]> = batch.blobs.iter().map(|b| &b.0 .0[..]).collect();
        let blob_contents: Vec<&[u8]> = batch.blobs.iter().map(|b| b.1).collect();
        let cp = &batch.checkpoint;
        let size = to_i64(cp.size)?;
        let mut projection_params: Vec<Box<dyn ToSql + Sync>> = Vec::new();
        for (table, rows) in group_changes(&batch.changes)? {
            unnest_params(table, &rows, &mut projection_params);
        }
        let mut params: Vec<&(dyn ToSql + Sync)> = vec![
            &idx,
            &leaves,
            &bodies,
            &levels,
            &node_idx,
            &node_hashes,
            &blob_hashes,
            &blob_contents,
            &size,
            &cp.root,
            &cp.note,
            &cp.created_at,
        ];
        params.extend(projection_params.iter().map(|p| p.as_ref()));
        let statement = self.prepared(&batch_sql())?;
        self.client.execute(&statement, &params)?;
        Ok(())
    }

    fn commit(&mut self) -> Result<()> {
        self.client.batch_execute("COMMIT")?;
        Ok(())
    }

    fn rollback(&mut self) {
        // Outside a transaction ROLLBACK only warns; a broken connection is replaced by the
        // writer on its next error.
        let _ = self.client.batch_execute("ROLLBACK");
    }

    fn latest_checkpoint(&mut self) -> Result<Option<StoredCheckpoint>> {
        Ok(self
            .client
            .query_opt(
                "SELECT tree_size, root, note, created_at FROM checkpoints
                 ORDER BY tree_size DESC LIMIT 1",
                &[],
            )?
            .as_ref()
            .map(read_checkpoint))
    }

    fn checkpoints(&mut self, from: u64, limit: u64) -> Result<Vec<StoredCheckpoint>> {
        Ok(self
            .client
            .query(
                "SELECT tree_size, root, note, created_at FROM checkpoints
                 WHERE tree_size >= $1 ORDER BY tree_size LIMIT $2",
                &[&to_i64(from)?, &to_i64(limit)?],
            )?
            .iter()
            .map(read_checkpoint)
            .collect())
    }

    fn leaf_hashes(&mut self, start: u64, end: u64) -> Result<Vec<Hash>> {
        let rows = self.client.query(
            "SELECT idx, leaf_hash FROM entries WHERE idx >= $1 AND idx < $2 ORDER BY idx",
            &[&to_i64(start)?, &to_i64(end)?],
        )?;
        let rows = rows
            .iter()
            .map(|r| (r.get::<_, i64>(0) as u64, r.get(1)))
            .collect();
        contiguous_hashes(start, end, rows, "leaf hash", |i| {
            format!("entry {i} is missing")
        })
    }

    fn node_hashes(&mut self, level: u8, start: u64, end: u64) -> Result<Vec<Hash>> {
        let rows = self.client.query(
            "SELECT idx, hash FROM tree_nodes WHERE level = $1 AND idx >= $2 AND idx < $3 ORDER BY idx",
            &[&i16::from(level), &to_i64(start)?, &to_i64(end)?],
        )?;
        let rows = rows
            .iter()
            .map(|r| (r.get::<_, i64>(0) as u64, r.get(1)))
            .collect();
        contiguous_hashes(start, end, rows, "tree node", |i| {
            format!("tree node {level}/{i} is missing")
        })
    }

    fn nodes_after(&mut self, after: (u8, i64), limit: u64) -> Result<Vec<(u8, u64, Vec<u8>)>> {
        Ok(self
            .client
            .query(
                "SELECT level, idx, hash FROM tree_nodes WHERE (level, idx) > ($1, $2)
                 ORDER BY level, idx LIMIT $3",
                &[&i16::from(after.0), &after.1, &to_i64(limit)?],
            )?
            .iter()
            .map(|r| {
                (
                    r.get::<_, i16>(0) as u8,
                    r.get::<_, i64>(1) as u64,
                    r.get(2),
                )
            })
            .collect())
    }

    fn max_entry_index(&mut self) -> Result<Option<u64>> {
        let max: Option<i64> = self
            .client
            .query_one("SELECT MAX(idx) FROM entries", &[])?
            .get(0);
        Ok(max.map(|m| m as u64))
    }

    fn entries(&mut self, from: u64, limit: u64) -> Result<Vec<EntryRow>> {
        Ok(self
            .client
            .query(
                "SELECT idx, leaf_hash, body FROM entries WHERE idx >= $1 ORDER BY idx LIMIT $2",
                &[&to_i64(from)?, &to_i64(limit)?],
            )?
            .iter()
            .map(|r| EntryRow {
                idx: r.get::<_, i64>(0) as u64,
                leaf_hash: r.get(1),
                body: r.get(2),
            })
            .collect())
    }

    fn blob(&mut self, sha256: &Hash) -> Result<Option<Vec<u8>>> {
        Ok(self
            .client
            .query_opt(
                "SELECT content FROM blobs WHERE sha256 = $1",
                &[&&sha256.0[..]],
            )?
            .map(|r| r.get(0)))
    }

    fn rows(&mut self, table: &TableSpec, page: Page) -> Result<Vec<Vec<Value>>> {
        let sql = rows_sql(table, page, "$1::bigint", "$2");
        let rows = self
            .client
            .query(sql.as_str(), &[&page.after, &to_i64(page.limit)?])?;
        Ok(rows
            .iter()
            .map(|row| {
                table
                    .columns
                    .iter()
                    .enumerate()
                    .map(|(i, column)| match column.ty {
                        ColumnType::Int => {
                            row.get::<_, Option<i64>>(i).map_or(Value::Null, Value::Int)
                        }
                        ColumnType::Text => row
                            .get::<_, Option<String>>(i)
                            .map_or(Value::Null, Value::Text),
                    })
                    .collect()
            })
            .collect())
    }

    fn apply_projection(&mut self, changes: &[Change]) -> Result<()> {
        self.apply_changes(changes)
    }

    fn baseline_prepare(&mut self) -> Result<()> {
        self.client.batch_execute(
            "CREATE TABLE IF NOT EXISTS bench_entries (
                 idx BIGINT PRIMARY KEY, leaf_hash BYTEA NOT NULL, body BYTEA NOT NULL);
             CREATE TABLE IF NOT EXISTS bench_notes (
                 entry_index BIGINT PRIMARY KEY, time TEXT NOT NULL, account TEXT NOT NULL,
                 body TEXT NOT NULL);
             TRUNCATE bench_entries, bench_notes;",
        )?;
        Ok(())
    }

    fn baseline_insert(&mut self, rows: &[(u64, Hash, &[u8])], changes: &[Change]) -> Result<()> {
        let idx = rows
            .iter()
            .map(|r| to_i64(r.0))
            .collect::<Result<Vec<i64>>>()?;
        let leaves: Vec<&[u8]> = rows.iter().map(|r| &r.1 .0[..]).collect();
        let bodies: Vec<&[u8]> = rows.iter().map(|r| r.2).collect();
        // Prepared once, as a competent plain application would.
        let insert_entries = self.prepared(
            "INSERT INTO bench_entries (idx, leaf_hash, body)
             SELECT * FROM UNNEST($1::bigint[], $2::bytea[], $3::bytea[])",
        )?;
        let insert_notes = self.prepared(
            "INSERT INTO bench_notes (entry_index, time, account, body)
             SELECT * FROM UNNEST($1::bigint[], $2::text[], $3::text[], $4::text[])",
        )?;
        let mut tx = self.client.transaction()?;
        tx.execute(&insert_entries, &[&idx, &leaves, &bodies])?;
        let column = |i: usize| -> Vec<Option<String>> {
            changes
                .iter()
                .map(|c| match c.row.get(i) {
                    Some(Value::Text(t)) => Some(t.clone()),
                    _ => None,
                })
                .collect()
        };
        let keys: Vec<Option<i64>> = changes
            .iter()
            .map(|c| match c.row.first() {
                Some(Value::Int(v)) => Some(*v),
                _ => None,
            })
            .collect();
        tx.execute(&insert_notes, &[&keys, &column(1), &column(2), &column(3)])?;
        tx.commit()?;
        Ok(())
    }

    fn durability(&mut self) -> Result<String> {
        let commit: String = self
            .client
            .query_one("SHOW synchronous_commit", &[])?
            .get(0);
        let fsync: String = self.client.query_one("SHOW fsync", &[])?.get(0);
        Ok(format!("synchronous_commit={commit} fsync={fsync}"))
    }

    fn execute_raw(&mut self, sql: &str) -> Result<()> {
        self.client.batch_execute(sql)?;
        Ok(())
    }

    fn is_broken(&self) -> bool {
        self.client.is_closed()
    }
}
