//! The PostgreSQL backend. Commits are durable with `synchronous_commit = on` (which the
//! connection sets explicitly). Appends from several processes serialise on a
//! transaction-level advisory lock. A batch is few round trips: lock and latest checkpoint,
//! deletes (only when the batch deletes), one prepared statement writing entries, nodes, blobs,
//! projection rows and the checkpoint through `UNNEST`ed arrays, and the commit. Every value is
//! read with `try_get`, so a column of an unexpected type is an error, never a panic.

use crate::db::{pending_migrations, to_i64, to_u64, AppendBatch, Db, EntryRow, StoredCheckpoint};
use crate::sql::{self, Dialect, Param};
use crate::{Result, StoreError};
use kiroku_core::projection::{Net, NetTable, TableSpec, LAST_ENTRY};
use kiroku_core::query::Stored;
use kiroku_core::{ColumnType, EntryIndex, Value};
use kiroku_ledger::Hash;
use postgres::binary_copy::BinaryCopyInWriter;
use postgres::types::{ToSql, Type};
use postgres::{Client, NoTls, Row, SimpleQueryMessage, Statement};
use std::collections::HashMap;

/// The text of every migration, for the fingerprint of test templates.
pub(crate) const MIGRATIONS_TEXT: &str = concat!(
    include_str!("../migrations/postgres/0001_ledger.sql"),
    include_str!("../migrations/postgres/0002_projection_schema.sql"),
);

/// Migrations, in order; each runs once, in a transaction.
const MIGRATIONS: &[(i64, &str)] = &[
    (1, include_str!("../migrations/postgres/0001_ledger.sql")),
    (
        2,
        include_str!("../migrations/postgres/0002_projection_schema.sql"),
    ),
];

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

    /// A prepared statement, prepared once per connection.
    fn prepared(&mut self, sql: &str) -> Result<Statement> {
        if let Some(statement) = self.statements.get(sql) {
            return Ok(statement.clone());
        }
        let statement = self.client.prepare(sql)?;
        self.statements.insert(sql.to_owned(), statement.clone());
        Ok(statement)
    }
}

type Bound = Box<dyn ToSql + Sync>;

fn bind(value: &Value, ty: ColumnType) -> Result<Bound> {
    Ok(match (value, ty) {
        (Value::Null, ColumnType::Text) => Box::new(None::<String>),
        (Value::Null, _) => Box::new(None::<i64>),
        (Value::Int(i), _) => Box::new(*i),
        (Value::Text(t), _) => Box::new(t.clone()),
        (Value::Entry(_), _) => {
            return Err(StoreError::Internal(
                "an unresolved entry reference reached the database".into(),
            ))
        }
    })
}

fn bind_all(params: &[Param]) -> Result<Vec<Bound>> {
    params.iter().map(|(v, ty)| bind(v, *ty)).collect()
}

fn refs(bound: &[Bound]) -> Vec<&(dyn ToSql + Sync)> {
    bound
        .iter()
        .map(|b| b.as_ref() as &(dyn ToSql + Sync))
        .collect()
}

fn get<'a, T: postgres::types::FromSql<'a>>(row: &'a Row, i: usize, what: &str) -> Result<T> {
    row.try_get(i)
        .map_err(|_| StoreError::Corrupt(format!("{what} holds a value of the wrong type")))
}

fn decode_row(row: &Row, table: &TableSpec) -> Result<Stored> {
    let values = decode_columns(row, table)?;
    let last: i64 = get(
        row,
        table.columns.len(),
        &format!("{}.{LAST_ENTRY}", table.name),
    )?;
    Ok(Stored {
        row: values,
        last_entry: EntryIndex(to_u64(last, "last_entry")?),
    })
}

/// The table's columns of a row, in declared order.
fn decode_columns(row: &Row, table: &TableSpec) -> Result<Vec<Value>> {
    let mut values = Vec::with_capacity(table.columns.len());
    for (i, column) in table.columns.iter().enumerate() {
        let what = || format!("{}.{}", table.name, column.name);
        values.push(match column.ty {
            ColumnType::Int | ColumnType::Entry => {
                get::<Option<i64>>(row, i, &what())?.map_or(Value::Null, Value::Int)
            }
            ColumnType::Text => {
                get::<Option<String>>(row, i, &what())?.map_or(Value::Null, Value::Text)
            }
        });
    }
    Ok(values)
}

fn read_checkpoint(row: &Row) -> Result<StoredCheckpoint> {
    Ok(StoredCheckpoint {
        size: to_u64(
            get(row, 0, "checkpoints.tree_size")?,
            "a checkpoint's tree size",
        )?,
        root: get(row, 1, "checkpoints.root")?,
        note: get(row, 2, "checkpoints.note")?,
        created_at: get(row, 3, "checkpoints.created_at")?,
    })
}

fn array_type(ty: ColumnType) -> &'static str {
    match ty {
        ColumnType::Int | ColumnType::Entry => "bigint[]",
        ColumnType::Text => "text[]",
    }
}

/// One column of rows as an array parameter.
fn column_array<'a>(ty: ColumnType, values: impl Iterator<Item = &'a Value>) -> Result<Bound> {
    Ok(match ty {
        ColumnType::Int | ColumnType::Entry => Box::new(
            values
                .map(|v| match v {
                    Value::Int(i) => Ok(Some(*i)),
                    Value::Null => Ok(None),
                    _ => Err(StoreError::Internal("a value of the wrong type".into())),
                })
                .collect::<Result<Vec<Option<i64>>>>()?,
        ),
        ColumnType::Text => Box::new(
            values
                .map(|v| match v {
                    Value::Text(t) => Ok(Some(t.clone())),
                    Value::Null => Ok(None),
                    _ => Err(StoreError::Internal("a value of the wrong type".into())),
                })
                .collect::<Result<Vec<Option<String>>>>()?,
        ),
    })
}

/// `INSERT INTO t (…) SELECT * FROM UNNEST($n::…[], …) ON CONFLICT (key) DO UPDATE …`, with
/// placeholders from `first`.
fn unnest_upsert(table: &TableSpec, first: usize) -> String {
    let mut casts: Vec<String> = table
        .columns
        .iter()
        .enumerate()
        .map(|(i, c)| format!("${}::{}", first + i, array_type(c.ty)))
        .collect();
    casts.push(format!("${}::bigint[]", first + table.columns.len()));
    let key: Vec<&str> = table.key_columns().iter().map(|c| c.name).collect();
    format!(
        "INSERT INTO {} ({}) SELECT * FROM UNNEST({}) ON CONFLICT ({}) DO UPDATE SET {}",
        table.name,
        sql::column_list(table),
        casts.join(", "),
        key.join(", "),
        sql::update_set(table)
    )
}

/// The arrays of a table's net upserts, in column order then `last_entry`.
fn upsert_arrays(table: &NetTable) -> Result<Vec<Bound>> {
    let spec = table.table;
    let mut arrays = Vec::with_capacity(spec.columns.len() + 1);
    for (i, column) in spec.columns.iter().enumerate() {
        arrays.push(column_array(
            column.ty,
            table.upserts.values().map(|(row, _)| &row[i]),
        )?);
    }
    let last = table
        .upserts
        .values()
        .map(|(_, e)| to_i64(e.0))
        .collect::<Result<Vec<i64>>>()?;
    arrays.push(Box::new(last));
    Ok(arrays)
}

/// `DELETE FROM t WHERE (k…) IN (SELECT * FROM UNNEST(…))` over the first `len` key columns.
fn unnest_delete(table: &TableSpec, len: usize) -> String {
    let names: Vec<&str> = table.columns[..len].iter().map(|c| c.name).collect();
    let casts: Vec<String> = table.columns[..len]
        .iter()
        .enumerate()
        .map(|(i, c)| format!("${}::{}", i + 1, array_type(c.ty)))
        .collect();
    format!(
        "DELETE FROM {} WHERE ({}) IN (SELECT * FROM UNNEST({}))",
        table.name,
        names.join(", "),
        casts.join(", ")
    )
}

impl PostgresDb {
    /// Deletes what a net effect deletes: key deletes in one statement per table, prefix
    /// deletes in one per table and prefix length.
    fn apply_deletes(&mut self, net: &Net) -> Result<()> {
        for table in net.tables() {
            let spec = table.table;
            let mut groups: Vec<(usize, Vec<&Vec<Value>>)> = Vec::new();
            for prefix in table.prefix_deletes.keys() {
                match groups.iter_mut().find(|(len, _)| *len == prefix.len()) {
                    Some((_, keys)) => keys.push(prefix),
                    None => groups.push((prefix.len(), vec![prefix])),
                }
            }
            if !table.deletes.is_empty() {
                groups.push((spec.key, table.deletes.keys().collect()));
            }
            for (len, keys) in groups {
                let mut arrays = Vec::with_capacity(len);
                for (i, column) in spec.columns[..len].iter().enumerate() {
                    arrays.push(column_array(column.ty, keys.iter().map(|k| &k[i]))?);
                }
                let statement = self.prepared(&unnest_delete(spec, len))?;
                self.client.execute(&statement, &refs(&arrays))?;
            }
        }
        Ok(())
    }

    /// The statement writing a batch's ledger rows, the upserts of `tables` and its
    /// checkpoints, as data-modifying CTEs over arrays. Fixed text per set of tables.
    fn batch_statement(&mut self, tables: &[&TableSpec]) -> Result<Statement> {
        let mut ctes = vec![
            "e AS (INSERT INTO entries (idx, leaf_hash, body) SELECT * FROM UNNEST($1::bigint[], $2::bytea[], $3::bytea[]))".to_string(),
            "n AS (INSERT INTO tree_nodes (level, idx, hash) SELECT * FROM UNNEST($4::smallint[], $5::bigint[], $6::bytea[]))".to_string(),
            "b AS (INSERT INTO blobs (sha256, content) SELECT * FROM UNNEST($7::bytea[], $8::bytea[]) ON CONFLICT (sha256) DO NOTHING)".to_string(),
        ];
        let mut next = 13;
        for (i, table) in tables.iter().enumerate() {
            ctes.push(format!("p{i} AS ({})", unnest_upsert(table, next)));
            next += table.columns.len() + 1;
        }
        let sql = format!(
            "WITH {} INSERT INTO checkpoints (tree_size, root, note, created_at) \
             SELECT * FROM UNNEST($9::bigint[], $10::bytea[], $11::text[], $12::text[])",
            ctes.join(", ")
        );
        self.prepared(&sql)
    }

    /// Writes ledger rows, net upserts and checkpoints in one statement (deletes first).
    fn write_all(
        &mut self,
        batch: &AppendBatch<'_>,
        checkpoints: &[&StoredCheckpoint],
    ) -> Result<()> {
        self.apply_deletes(batch.net)?;
        let first = to_i64(batch.first)?;
        let count = i64::try_from(batch.entries.len())
            .map_err(|_| StoreError::Limit("too many entries in one batch".into()))?;
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
        let sizes = checkpoints
            .iter()
            .map(|c| to_i64(c.size))
            .collect::<Result<Vec<i64>>>()?;
        let roots: Vec<&[u8]> = checkpoints.iter().map(|c| c.root.as_slice()).collect();
        let notes: Vec<&str> = checkpoints.iter().map(|c| c.note.as_str()).collect();
        let created: Vec<&str> = checkpoints.iter().map(|c| c.created_at.as_str()).collect();
        let upserting: Vec<&NetTable> = batch
            .net
            .tables()
            .filter(|t| !t.upserts.is_empty())
            .collect();
        let mut projection = Vec::new();
        for table in &upserting {
            projection.extend(upsert_arrays(table)?);
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
            &sizes,
            &roots,
            &notes,
            &created,
        ];
        params.extend(projection.iter().map(|p| p.as_ref() as &(dyn ToSql + Sync)));
        let tables: Vec<&TableSpec> = upserting.iter().map(|t| t.table).collect();
        let statement = self.batch_statement(&tables)?;
        self.client.execute(&statement, &params)?;
        Ok(())
    }
}

impl Db for PostgresDb {
    fn dialect(&self) -> Dialect {
        Dialect::Postgres
    }

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
            .try_get(0)?;
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

    fn execute_raw(&mut self, sql: &str) -> Result<()> {
        self.client.batch_execute(sql)?;
        Ok(())
    }

    fn exec(&mut self, sql: &str, params: &[Param]) -> Result<u64> {
        let statement = self.prepared(sql)?;
        let bound = bind_all(params)?;
        Ok(self.client.execute(&statement, &refs(&bound))?)
    }

    fn select(&mut self, sql: &str, params: &[Param], table: &TableSpec) -> Result<Vec<Stored>> {
        let statement = self.prepared(sql)?;
        let bound = bind_all(params)?;
        self.client
            .query(&statement, &refs(&bound))?
            .iter()
            .map(|row| decode_row(row, table))
            .collect()
    }

    fn select_columns(
        &mut self,
        sql: &str,
        params: &[Param],
        table: &TableSpec,
    ) -> Result<Vec<Vec<Value>>> {
        let statement = self.prepared(sql)?;
        let bound = bind_all(params)?;
        self.client
            .query(&statement, &refs(&bound))?
            .iter()
            .map(|row| decode_columns(row, table))
            .collect()
    }

    fn select_int(&mut self, sql: &str, params: &[Param]) -> Result<Option<i64>> {
        let statement = self.prepared(sql)?;
        let bound = bind_all(params)?;
        match self.client.query_opt(&statement, &refs(&bound))? {
            Some(row) => get::<Option<i64>>(&row, 0, "a count"),
            None => Ok(None),
        }
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
        let checkpoints: Vec<&StoredCheckpoint> = batch.checkpoint.iter().collect();
        self.write_all(batch, &checkpoints)
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
        let statement = self.prepared(
            "SELECT tree_size, root, note, created_at FROM checkpoints
             ORDER BY tree_size DESC LIMIT 1",
        )?;
        self.client
            .query_opt(&statement, &[])?
            .as_ref()
            .map(read_checkpoint)
            .transpose()
    }

    fn checkpoints(&mut self, from: u64, limit: u64) -> Result<Vec<StoredCheckpoint>> {
        let statement = self.prepared(
            "SELECT tree_size, root, note, created_at FROM checkpoints
             WHERE tree_size >= $1 ORDER BY tree_size LIMIT $2",
        )?;
        self.client
            .query(&statement, &[&to_i64(from)?, &to_i64(limit)?])?
            .iter()
            .map(read_checkpoint)
            .collect()
    }

    fn leaf_rows(&mut self, start: u64, end: u64) -> Result<Vec<(u64, Vec<u8>)>> {
        let statement = self.prepared(
            "SELECT idx, leaf_hash FROM entries WHERE idx >= $1 AND idx < $2 ORDER BY idx",
        )?;
        self.client
            .query(&statement, &[&to_i64(start)?, &to_i64(end)?])?
            .iter()
            .map(|r| {
                Ok((
                    to_u64(get(r, 0, "entries.idx")?, "an entry index")?,
                    get(r, 1, "entries.leaf_hash")?,
                ))
            })
            .collect()
    }

    fn node_rows(&mut self, level: u8, from: u64, limit: u64) -> Result<Vec<(u64, Vec<u8>)>> {
        let statement = self.prepared(
            "SELECT idx, hash FROM tree_nodes WHERE level = $1 AND idx >= $2 ORDER BY idx LIMIT $3",
        )?;
        self.client
            .query(
                &statement,
                &[&i16::from(level), &to_i64(from)?, &to_i64(limit)?],
            )?
            .iter()
            .map(|r| {
                Ok((
                    to_u64(get(r, 0, "tree_nodes.idx")?, "a node index")?,
                    get(r, 1, "tree_nodes.hash")?,
                ))
            })
            .collect()
    }

    fn odd_node(&mut self) -> Result<Option<(u8, u64)>> {
        let statement = self.prepared(
            "SELECT level, idx FROM tree_nodes WHERE level < 1 OR level > 7 ORDER BY level, idx LIMIT 1",
        )?;
        self.client
            .query_opt(&statement, &[])?
            .map(|r| {
                let level: i16 = get(&r, 0, "tree_nodes.level")?;
                Ok((
                    u8::try_from(level).unwrap_or(u8::MAX),
                    to_u64(get(&r, 1, "tree_nodes.idx")?, "a node index")?,
                ))
            })
            .transpose()
    }

    fn max_entry_index(&mut self) -> Result<Option<u64>> {
        let row = self.client.query_one("SELECT MAX(idx) FROM entries", &[])?;
        get::<Option<i64>>(&row, 0, "entries.idx")?
            .map(|m| to_u64(m, "an entry index"))
            .transpose()
    }

    fn entries(&mut self, from: u64, limit: u64) -> Result<Vec<EntryRow>> {
        let statement = self.prepared(
            "SELECT idx, leaf_hash, body FROM entries WHERE idx >= $1 ORDER BY idx LIMIT $2",
        )?;
        self.client
            .query(&statement, &[&to_i64(from)?, &to_i64(limit)?])?
            .iter()
            .map(|r| {
                Ok(EntryRow {
                    idx: to_u64(get(r, 0, "entries.idx")?, "an entry index")?,
                    leaf_hash: get(r, 1, "entries.leaf_hash")?,
                    body: get(r, 2, "entries.body")?,
                })
            })
            .collect()
    }

    fn blob(&mut self, sha256: &Hash) -> Result<Option<Vec<u8>>> {
        let statement = self.prepared("SELECT content FROM blobs WHERE sha256 = $1")?;
        self.client
            .query_opt(&statement, &[&&sha256.0[..]])?
            .map(|r| get(&r, 0, "blobs.content"))
            .transpose()
    }

    fn apply_net(&mut self, net: &Net) -> Result<()> {
        self.apply_deletes(net)?;
        for table in net.tables().filter(|t| !t.upserts.is_empty()) {
            let arrays = upsert_arrays(table)?;
            let statement = self.prepared(&unnest_upsert(table.table, 1))?;
            self.client.execute(&statement, &refs(&arrays))?;
        }
        Ok(())
    }

    fn load(&mut self, batch: &AppendBatch<'_>, checkpoints: &[StoredCheckpoint]) -> Result<()> {
        // Ledger rows are plain inserts into tables a load starts empty: binary COPY, the
        // fastest way in. Blobs may repeat (content-addressed), and projection rows are
        // upserts: statements.
        let first = to_i64(batch.first)?;
        let mut copy = BinaryCopyInWriter::new(
            self.client
                .copy_in("COPY entries (idx, leaf_hash, body) FROM STDIN BINARY")?,
            &[Type::INT8, Type::BYTEA, Type::BYTEA],
        );
        for (offset, (leaf, body)) in batch.entries.iter().enumerate() {
            let idx =
                first + i64::try_from(offset).map_err(|_| StoreError::Limit("a page".into()))?;
            copy.write(&[&idx, &&leaf.0[..], body])?;
        }
        copy.finish()?;
        if !batch.nodes.is_empty() {
            let mut copy = BinaryCopyInWriter::new(
                self.client
                    .copy_in("COPY tree_nodes (level, idx, hash) FROM STDIN BINARY")?,
                &[Type::INT2, Type::INT8, Type::BYTEA],
            );
            for (level, idx, hash) in &batch.nodes {
                copy.write(&[&i16::from(*level), &to_i64(*idx)?, &&hash.0[..]])?;
            }
            copy.finish()?;
        }
        if !checkpoints.is_empty() {
            let mut copy = BinaryCopyInWriter::new(
                self.client.copy_in(
                    "COPY checkpoints (tree_size, root, note, created_at) FROM STDIN BINARY",
                )?,
                &[Type::INT8, Type::BYTEA, Type::TEXT, Type::TEXT],
            );
            for c in checkpoints {
                copy.write(&[&to_i64(c.size)?, &c.root, &c.note, &c.created_at])?;
            }
            copy.finish()?;
        }
        if !batch.blobs.is_empty() {
            let statement = self.prepared(
                "INSERT INTO blobs (sha256, content) SELECT * FROM UNNEST($1::bytea[], $2::bytea[]) ON CONFLICT (sha256) DO NOTHING",
            )?;
            let hashes: Vec<&[u8]> = batch.blobs.iter().map(|b| &b.0 .0[..]).collect();
            let contents: Vec<&[u8]> = batch.blobs.iter().map(|b| b.1).collect();
            self.client.execute(&statement, &[&hashes, &contents])?;
        }
        self.apply_net(batch.net)
    }

    fn begin(&mut self) -> Result<()> {
        self.client.batch_execute("BEGIN")?;
        Ok(())
    }

    fn durability(&mut self) -> Result<String> {
        let commit: String = self
            .client
            .query_one("SHOW synchronous_commit", &[])?
            .try_get(0)?;
        let fsync: String = self.client.query_one("SHOW fsync", &[])?.try_get(0)?;
        Ok(format!("synchronous_commit={commit} fsync={fsync}"))
    }

    fn is_broken(&self) -> bool {
        self.client.is_closed()
    }
}
