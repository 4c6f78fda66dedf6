//! The projection language: the tables derived from the ledger, declared once, and the changes an
//! entry makes to them.
//!
//! A table ([`TableSpec`]) has typed columns, a primary key of its first `key` columns (so keys
//! may be composite), declared secondary indexes, and a role: a plain table, a **stream** table
//! whose rows carry a version that each extending entry raises by one, or a **claims** table
//! whose keys are unique and owned. The store adds one column to every table, `last_entry`: the
//! index of the entry that last put the row.
//!
//! An entry's projection is a list of [`Change`]s: upsert a whole row, delete a row by key, or
//! delete every row under a key prefix. Values may name the entry itself or a neighbour in the
//! same request ([`Value::Entry`]) before the writer has assigned indices.
//!
//! What a sequence of changes *means* is defined here, once, by [`Net`]: several changes to one
//! row in one batch net to what applying them in order would leave, and both backends apply the
//! net result. [`Model`] is the in-order reference the property tests compare it with.

use crate::id::EntryIndex;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

/// The column the store adds to every table: the index of the entry that last put the row.
pub const LAST_ENTRY: &str = "last_entry";

/// The version of the rules every projection's output passes through ([`Change::sanitise`]),
/// part of the tables' fingerprint so that a change of them rebuilds the tables by replay.
pub const OUTPUT_RULES: &str = "text-without-nul/1";

/// A column's type.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ColumnType {
    /// A 64-bit integer.
    Int,
    /// UTF-8 text.
    Text,
    /// The index of an entry (an integer in SQL).
    Entry,
}

/// A column of a projection table.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Column {
    /// Its name.
    pub name: &'static str,
    /// Its type.
    pub ty: ColumnType,
    /// May it be NULL? (Key columns may not.)
    pub nullable: bool,
}

impl Column {
    /// A NOT NULL integer column.
    pub const fn int(name: &'static str) -> Column {
        Column {
            name,
            ty: ColumnType::Int,
            nullable: false,
        }
    }

    /// A NOT NULL text column.
    pub const fn text(name: &'static str) -> Column {
        Column {
            name,
            ty: ColumnType::Text,
            nullable: false,
        }
    }

    /// A NOT NULL column holding an entry index.
    pub const fn entry(name: &'static str) -> Column {
        Column {
            name,
            ty: ColumnType::Entry,
            nullable: false,
        }
    }

    /// The same column, allowed to be NULL.
    pub const fn nullable(self) -> Column {
        Column {
            nullable: true,
            ..self
        }
    }
}

/// What a table's rows are, beyond data.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TableRole {
    /// Rows are data.
    Plain,
    /// Each row is a stream, keyed by the stream's id, with an integer version column. An entry
    /// that upserts a row *extends* that stream: the row's new version must be the stored
    /// version plus one (1 for a new stream), checked by the writer under the append lock.
    /// Rows of a stream table are never deleted.
    Stream {
        /// The version column.
        version: &'static str,
    },
    /// Each row is a unique claim (a login name, a patient identifier, an idempotency key)
    /// held by its owner. An upsert of a key that another owner holds fails its request.
    Claims {
        /// The owner column.
        owner: &'static str,
    },
}

/// A projection table, declared once; the store generates its DDL from this.
#[derive(Debug)]
pub struct TableSpec {
    /// Table name (`[a-z][a-z0-9_]*`, unique across contexts).
    pub name: &'static str,
    /// What the table holds, for the documentation and the code map.
    pub about: &'static str,
    /// Columns, key columns first.
    pub columns: &'static [Column],
    /// How many leading columns form the primary key (at least 1).
    pub key: usize,
    /// Secondary indexes, each a list of column names.
    pub indexes: &'static [&'static [&'static str]],
    /// Plain, stream or claims.
    pub role: TableRole,
}

impl PartialEq for TableSpec {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name
    }
}
impl Eq for TableSpec {}

/// Why a declaration or a change does not fit its table.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ChangeError {
    /// The table declaration itself is malformed.
    #[error("table {table} is declared wrongly: {why}")]
    Declaration {
        /// The table.
        table: &'static str,
        /// What is wrong.
        why: String,
    },
    /// A kind's projection wrote to a table its declaration does not list.
    #[error("the projection writes to table {table}, which its kind does not declare")]
    Undeclared {
        /// The table.
        table: &'static str,
    },
    /// A row or key has the wrong number of values.
    #[error("a change to {table} has {found} values where {expected} belong")]
    Arity {
        /// The table.
        table: &'static str,
        /// Expected count (or most, for a prefix).
        expected: usize,
        /// Found.
        found: usize,
    },
    /// A value does not fit its column.
    #[error("column {table}.{column} cannot hold that value ({why})")]
    Value {
        /// The table.
        table: &'static str,
        /// The column.
        column: &'static str,
        /// What is wrong.
        why: &'static str,
    },
    /// Stream rows are never deleted.
    #[error("rows of stream table {table} are never deleted")]
    StreamDelete {
        /// The table.
        table: &'static str,
    },
    /// A relative entry reference points outside the ledger's range.
    #[error("an entry reference in {table} points outside the ledger")]
    Reference {
        /// The table.
        table: &'static str,
    },
}

fn declaration(table: &'static str, why: impl Into<String>) -> ChangeError {
    ChangeError::Declaration {
        table,
        why: why.into(),
    }
}

fn is_identifier(name: &str) -> bool {
    name.len() <= 63
        && name.starts_with(|c: char| c.is_ascii_lowercase())
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}

impl TableSpec {
    /// The key columns.
    pub fn key_columns(&self) -> &'static [Column] {
        &self.columns[..self.key.min(self.columns.len())]
    }

    /// A column's position.
    pub fn column(&self, name: &str) -> Option<usize> {
        self.columns.iter().position(|c| c.name == name)
    }

    /// The position of the stream version or claim owner column, where the role has one.
    pub fn role_column(&self) -> Option<usize> {
        match self.role {
            TableRole::Plain => None,
            TableRole::Stream { version } => self.column(version),
            TableRole::Claims { owner } => self.column(owner),
        }
    }

    /// Checks the declaration: names are SQL identifiers, none reserved or repeated, the key
    /// is 1..=columns and NOT NULL, indexes name columns, the role's column exists and fits.
    pub fn check(&'static self) -> Result<(), ChangeError> {
        let name = self.name;
        if !is_identifier(name) {
            return Err(declaration(name, "the name is not [a-z][a-z0-9_]*"));
        }
        if self.key == 0 || self.key > self.columns.len() {
            return Err(declaration(name, "the key must be 1 to all columns"));
        }
        let mut seen = BTreeSet::new();
        for column in self.columns {
            if !is_identifier(column.name) || column.name == LAST_ENTRY {
                return Err(declaration(
                    name,
                    format!("column {} is not a usable name", column.name),
                ));
            }
            if !seen.insert(column.name) {
                return Err(declaration(
                    name,
                    format!("column {} is repeated", column.name),
                ));
            }
        }
        if self.key_columns().iter().any(|c| c.nullable) {
            return Err(declaration(name, "key columns may not be NULL"));
        }
        for index in self.indexes {
            if index.is_empty() || index.iter().any(|c| self.column(c).is_none()) {
                return Err(declaration(
                    name,
                    "an index names no column or an unknown one",
                ));
            }
        }
        match self.role {
            TableRole::Plain => {}
            TableRole::Stream { version } => {
                let fits = self.column(version).is_some_and(|i| {
                    let c = self.columns[i];
                    i >= self.key && c.ty == ColumnType::Int && !c.nullable
                });
                if !fits {
                    return Err(declaration(
                        name,
                        "the stream version must be a NOT NULL integer column outside the key",
                    ));
                }
            }
            TableRole::Claims { owner } => {
                let fits = self
                    .column(owner)
                    .is_some_and(|i| i >= self.key && !self.columns[i].nullable);
                if !fits {
                    return Err(declaration(
                        name,
                        "the claim owner must be a NOT NULL column outside the key",
                    ));
                }
            }
        }
        Ok(())
    }
}

/// A column value in a change. After the writer assigns indices (see [`Change::resolve`]) only
/// `Null`, `Int` and `Text` remain.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Value {
    /// SQL NULL.
    Null,
    /// A 64-bit integer (also an entry index, once resolved).
    Int(i64),
    /// UTF-8 text.
    Text(String),
    /// The index of the entry `offset` positions from the one making the change, in the same
    /// request: `Entry(0)` is the entry itself, `Entry(-1)` the one before it.
    Entry(i64),
}

impl Value {
    /// The index of the entry making the change.
    pub const THIS_ENTRY: Value = Value::Entry(0);

    /// An entry index as a value.
    pub fn index(index: EntryIndex) -> Value {
        index.to_i64().map_or(Value::Null, Value::Int)
    }

    /// The integer, if this is one.
    pub fn as_int(&self) -> Option<i64> {
        match self {
            Value::Int(i) => Some(*i),
            _ => None,
        }
    }

    /// The text, if this is text.
    pub fn as_text(&self) -> Option<&str> {
        match self {
            Value::Text(t) => Some(t),
            _ => None,
        }
    }
}

impl fmt::Display for Value {
    /// Used to name stream keys (ids) in messages; claim keys are never displayed.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Null => f.write_str("NULL"),
            Value::Int(i) => write!(f, "{i}"),
            Value::Text(t) => write!(f, "{t:?}"),
            Value::Entry(o) => write!(f, "(entry{o:+})"),
        }
    }
}

/// One change an entry makes to a table.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Change {
    /// Insert the row, or replace the row with the same key. Values in column order.
    Upsert {
        /// The table.
        table: &'static TableSpec,
        /// Every column's value.
        row: Vec<Value>,
    },
    /// Delete the row with this key, if there is one.
    Delete {
        /// The table.
        table: &'static TableSpec,
        /// The key's values.
        key: Vec<Value>,
    },
    /// Delete every row whose leading key columns equal `prefix`.
    DeletePrefix {
        /// The table.
        table: &'static TableSpec,
        /// Values of the first key columns (at least one, fewer than all).
        prefix: Vec<Value>,
    },
}

impl Change {
    /// An upsert.
    pub fn upsert(table: &'static TableSpec, row: Vec<Value>) -> Change {
        Change::Upsert { table, row }
    }

    /// A delete by key.
    pub fn delete(table: &'static TableSpec, key: Vec<Value>) -> Change {
        Change::Delete { table, key }
    }

    /// A delete by key prefix.
    pub fn delete_prefix(table: &'static TableSpec, prefix: Vec<Value>) -> Change {
        Change::DeletePrefix { table, prefix }
    }

    /// The table changed.
    pub fn table(&self) -> &'static TableSpec {
        match self {
            Change::Upsert { table, .. }
            | Change::Delete { table, .. }
            | Change::DeletePrefix { table, .. } => table,
        }
    }

    fn values(&self) -> &[Value] {
        match self {
            Change::Upsert { row, .. } => row,
            Change::Delete { key, .. } => key,
            Change::DeletePrefix { prefix, .. } => prefix,
        }
    }

    /// Holds the change to what both backends store alike: U+0000 in a text value becomes
    /// U+FFFD (PostgreSQL's text cannot hold U+0000; SQLite's can). New entries cannot carry
    /// one (sealing refuses it), but a ledger written before that rule may, and must still
    /// replay, verify and migrate on either backend.
    pub fn sanitise(&mut self) {
        for value in self.values_mut() {
            if let Value::Text(text) = value {
                if text.contains('\0') {
                    *text = text.replace('\0', "\u{fffd}");
                }
            }
        }
    }

    fn values_mut(&mut self) -> &mut Vec<Value> {
        match self {
            Change::Upsert { row, .. } => row,
            Change::Delete { key, .. } => key,
            Change::DeletePrefix { prefix, .. } => prefix,
        }
    }

    /// Checks that the change fits its table: the number of values, each value's type and
    /// nullability, and the table role's rules (stream rows are never deleted).
    pub fn check(&self) -> Result<(), ChangeError> {
        let table = self.table();
        let values = self.values();
        let (min, max) = match self {
            Change::Upsert { .. } => (table.columns.len(), table.columns.len()),
            Change::Delete { .. } => (table.key, table.key),
            Change::DeletePrefix { .. } => (1, table.key.saturating_sub(1)),
        };
        if values.len() < min || values.len() > max {
            return Err(ChangeError::Arity {
                table: table.name,
                expected: max,
                found: values.len(),
            });
        }
        if !matches!(self, Change::Upsert { .. }) && matches!(table.role, TableRole::Stream { .. })
        {
            return Err(ChangeError::StreamDelete { table: table.name });
        }
        for (value, column) in values.iter().zip(table.columns) {
            let bad = |why| {
                Err(ChangeError::Value {
                    table: table.name,
                    column: column.name,
                    why,
                })
            };
            match (value, column.ty) {
                (Value::Null, _) if !column.nullable => return bad("NULL in a NOT NULL column"),
                (Value::Int(i), ColumnType::Entry) if *i < 0 => {
                    return bad("a negative entry index")
                }
                (Value::Null, _)
                | (Value::Int(_), ColumnType::Int | ColumnType::Entry)
                | (Value::Text(_), ColumnType::Text)
                | (Value::Entry(_), ColumnType::Entry) => {}
                _ => return bad("a value of another type"),
            }
        }
        if let (TableRole::Stream { .. }, Change::Upsert { row, .. }) = (table.role, self) {
            let version = table.role_column().and_then(|i| row.get(i));
            if !matches!(version, Some(Value::Int(v)) if *v >= 1) {
                return Err(ChangeError::Value {
                    table: table.name,
                    column: table.columns[table.role_column().unwrap_or(0)].name,
                    why: "a stream version is 1 or more",
                });
            }
        }
        Ok(())
    }

    /// Does a value still name an entry by offset?
    pub fn has_references(&self) -> bool {
        self.values().iter().any(|v| matches!(v, Value::Entry(_)))
    }

    /// Replaces each [`Value::Entry`] offset with the index it names, now that the entry making
    /// the change has the index `index`.
    pub fn resolve(&mut self, index: EntryIndex) -> Result<(), ChangeError> {
        let table = self.table().name;
        let base = index.to_i64().ok_or(ChangeError::Reference { table })?;
        for value in self.values_mut() {
            if let Value::Entry(offset) = value {
                let target = base
                    .checked_add(*offset)
                    .filter(|t| *t >= 0)
                    .ok_or(ChangeError::Reference { table })?;
                *value = Value::Int(target);
            }
        }
        Ok(())
    }

    /// The key of an upsert's row or of a delete.
    pub fn key(&self) -> &[Value] {
        let table = self.table();
        match self {
            Change::Upsert { row, .. } => &row[..table.key.min(row.len())],
            Change::Delete { key, .. } => key,
            Change::DeletePrefix { prefix, .. } => prefix,
        }
    }
}

/// A key: the values of a table's key columns.
pub type Key = Vec<Value>;
/// A row: every column's value.
pub type Row = Vec<Value>;

/// The net effect of a sequence of changes on one table: delete the pre-existing rows under
/// `prefix_deletes` and at `deletes`, then upsert `upserts`. Each part remembers the entry that
/// made it (the writer stores the upserting one as `last_entry`; verification names them).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NetTable {
    /// The table.
    pub table: &'static TableSpec,
    /// Prefixes deleted, with the entry that deleted each (the last one, if repeated).
    pub prefix_deletes: BTreeMap<Key, EntryIndex>,
    /// Keys deleted, with the deleting entry.
    pub deletes: BTreeMap<Key, EntryIndex>,
    /// Rows in force at the end, with the entry that put each.
    pub upserts: BTreeMap<Key, (Row, EntryIndex)>,
}

impl NetTable {
    fn new(table: &'static TableSpec) -> NetTable {
        NetTable {
            table,
            prefix_deletes: BTreeMap::new(),
            deletes: BTreeMap::new(),
            upserts: BTreeMap::new(),
        }
    }

    /// What the batch leaves at `key`: `Some(Some(row))` put here, `Some(None)` deleted here,
    /// `None` untouched (the stored row stands).
    pub fn lookup(&self, key: &[Value]) -> Option<Option<&(Row, EntryIndex)>> {
        if let Some(found) = self.upserts.get(key) {
            return Some(Some(found));
        }
        let deleted = self.deletes.contains_key(key)
            || self
                .prefix_deletes
                .keys()
                .any(|prefix| key.starts_with(prefix));
        deleted.then_some(None)
    }
}

/// The net effect of changes on every table they touch, in table-name order.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Net {
    tables: BTreeMap<&'static str, NetTable>,
}

impl Net {
    /// Nothing changed.
    pub fn new() -> Net {
        Net::default()
    }

    /// Adds a resolved change made by entry `entry`, after every change added before it.
    pub fn add(&mut self, change: Change, entry: EntryIndex) {
        let table = change.table();
        let net = self
            .tables
            .entry(table.name)
            .or_insert_with(|| NetTable::new(table));
        match change {
            Change::Upsert { row, .. } => {
                let key = row[..table.key.min(row.len())].to_vec();
                net.upserts.insert(key, (row, entry));
            }
            Change::Delete { key, .. } => {
                net.upserts.remove(&key);
                net.deletes.insert(key, entry);
            }
            Change::DeletePrefix { prefix, .. } => {
                let covered: Vec<Key> = net
                    .upserts
                    .range(prefix.clone()..)
                    .take_while(|(k, _)| k.starts_with(&prefix))
                    .map(|(k, _)| k.clone())
                    .collect();
                for key in covered {
                    net.upserts.remove(&key);
                }
                net.prefix_deletes.insert(prefix, entry);
            }
        }
    }

    /// The tables touched, in name order.
    pub fn tables(&self) -> impl Iterator<Item = &NetTable> {
        self.tables.values()
    }

    /// The net effect on each table touched, in name order, taken apart.
    pub fn into_tables(self) -> impl Iterator<Item = NetTable> {
        self.tables.into_values()
    }

    /// The net effect on one table, if the changes touched it.
    pub fn table(&self, name: &str) -> Option<&NetTable> {
        self.tables.get(name)
    }

    /// Did the changes touch nothing?
    pub fn is_empty(&self) -> bool {
        self.tables.is_empty()
    }
}

/// The reference semantics: tables as ordered maps, changes applied one after another. Tests
/// hold [`Net`] and both backends to it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Model {
    /// Rows by table name and key, with the entry that last put each.
    pub tables: BTreeMap<&'static str, BTreeMap<Key, (Row, EntryIndex)>>,
}

impl Model {
    /// Applies one resolved change made by `entry`.
    pub fn apply(&mut self, change: &Change, entry: EntryIndex) {
        let table = change.table();
        let rows = self.tables.entry(table.name).or_default();
        match change {
            Change::Upsert { row, .. } => {
                rows.insert(row[..table.key].to_vec(), (row.clone(), entry));
            }
            Change::Delete { key, .. } => {
                rows.remove(key);
            }
            Change::DeletePrefix { prefix, .. } => rows.retain(|k, _| !k.starts_with(prefix)),
        }
        if rows.is_empty() {
            self.tables.remove(table.name);
        }
    }

    /// Applies a net effect the way the store does: prefix deletes, deletes, then upserts.
    pub fn apply_net(&mut self, net: &Net) {
        for table in net.tables() {
            let rows = self.tables.entry(table.table.name).or_default();
            rows.retain(|k, _| {
                !table.prefix_deletes.keys().any(|p| k.starts_with(p))
                    && !table.deletes.contains_key(k)
            });
            for (key, row) in &table.upserts {
                rows.insert(key.clone(), row.clone());
            }
            if rows.is_empty() {
                self.tables.remove(table.table.name);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    static PAIRS: TableSpec = TableSpec {
        name: "pairs",
        about: "test",
        columns: &[
            Column::int("a"),
            Column::text("b"),
            Column::text("v").nullable(),
        ],
        key: 2,
        indexes: &[&["v"]],
        role: TableRole::Plain,
    };
    static STREAMS: TableSpec = TableSpec {
        name: "streams",
        about: "test",
        columns: &[Column::entry("id"), Column::int("version")],
        key: 1,
        indexes: &[],
        role: TableRole::Stream { version: "version" },
    };

    fn text(s: &str) -> Value {
        Value::Text(s.into())
    }

    // Shows that a projection's text never holds U+0000 (which PostgreSQL cannot store): it
    // becomes U+FFFD in keys and values alike, and every other character, controls included,
    // is left as it is — so an old entry that decodes to a NUL replays alike on both backends.
    #[test]
    fn text_is_sanitised_alike_for_both_backends() {
        let mut change = Change::upsert(
            &PAIRS,
            vec![Value::Int(1), text("a\0b"), text("\0\u{1}\u{fffe}")],
        );
        change.sanitise();
        assert_eq!(
            change.values(),
            &[
                Value::Int(1),
                text("a\u{fffd}b"),
                text("\u{fffd}\u{1}\u{fffe}")
            ]
        );
        let mut delete = Change::delete(&PAIRS, vec![Value::Int(1), text("\0")]);
        delete.sanitise();
        assert_eq!(delete.key(), &[Value::Int(1), text("\u{fffd}")]);
    }

    // Shows that well-formed declarations pass and malformed ones are named.
    #[test]
    fn declarations_are_checked() {
        PAIRS.check().unwrap();
        STREAMS.check().unwrap();
        static BAD_KEY: TableSpec = TableSpec {
            name: "bad",
            about: "",
            columns: &[Column::int("a").nullable()],
            key: 1,
            indexes: &[],
            role: TableRole::Plain,
        };
        static RESERVED: TableSpec = TableSpec {
            name: "bad",
            about: "",
            columns: &[Column::int("last_entry")],
            key: 1,
            indexes: &[],
            role: TableRole::Plain,
        };
        static BAD_INDEX: TableSpec = TableSpec {
            name: "bad",
            about: "",
            columns: &[Column::int("a")],
            key: 1,
            indexes: &[&["nope"]],
            role: TableRole::Plain,
        };
        static BAD_STREAM: TableSpec = TableSpec {
            name: "bad",
            about: "",
            columns: &[Column::int("a"), Column::text("version")],
            key: 1,
            indexes: &[],
            role: TableRole::Stream { version: "version" },
        };
        for bad in [&BAD_KEY, &RESERVED, &BAD_INDEX, &BAD_STREAM] {
            assert!(bad.check().is_err(), "{bad:?}");
        }
    }

    // Shows each rule of a change against its table: arity, types, NULLs, negative indices,
    // stream rows that would be deleted or carry no version.
    #[test]
    fn changes_are_checked_against_their_table() {
        let ok = Change::upsert(&PAIRS, vec![Value::Int(1), text("x"), Value::Null]);
        ok.check().unwrap();
        let bad = [
            Change::upsert(&PAIRS, vec![Value::Int(1), text("x")]),
            Change::upsert(&PAIRS, vec![text("1"), text("x"), Value::Null]),
            Change::upsert(&PAIRS, vec![Value::Int(1), Value::Null, Value::Null]),
            Change::delete(&PAIRS, vec![Value::Int(1)]),
            Change::delete_prefix(&PAIRS, vec![Value::Int(1), text("x")]),
            Change::delete(&STREAMS, vec![Value::Int(1)]),
            Change::upsert(&STREAMS, vec![Value::Int(-1), Value::Int(1)]),
            Change::upsert(&STREAMS, vec![Value::THIS_ENTRY, Value::Int(0)]),
        ];
        for change in bad {
            assert!(change.check().is_err(), "{change:?}");
        }
        Change::delete_prefix(&PAIRS, vec![Value::Int(1)])
            .check()
            .unwrap();
        Change::upsert(&STREAMS, vec![Value::THIS_ENTRY, Value::Int(1)])
            .check()
            .unwrap();
    }

    // Shows that entry references resolve relative to the entry's index, and one that would
    // point before the ledger's start is refused.
    #[test]
    fn references_resolve() {
        let mut change = Change::upsert(&STREAMS, vec![Value::Entry(-2), Value::Int(1)]);
        change.resolve(EntryIndex(10)).unwrap();
        assert_eq!(change.key(), &[Value::Int(8)]);
        let mut change = Change::upsert(&STREAMS, vec![Value::Entry(-2), Value::Int(1)]);
        assert!(change.resolve(EntryIndex(1)).is_err());
    }

    fn change_strategy() -> impl Strategy<Value = Change> {
        let key = (0i64..4, prop::sample::select(vec!["p", "q", "r"]));
        prop_oneof![
            (key.clone(), prop::option::of("[a-c]")).prop_map(|((a, b), v)| Change::upsert(
                &PAIRS,
                vec![Value::Int(a), text(b), v.map_or(Value::Null, Value::Text)]
            )),
            key.prop_map(|(a, b)| Change::delete(&PAIRS, vec![Value::Int(a), text(b)])),
            (0i64..4).prop_map(|a| Change::delete_prefix(&PAIRS, vec![Value::Int(a)])),
        ]
    }

    proptest! {
        // Shows that netting a batch of changes and applying the net effect leaves exactly what
        // applying the changes one by one leaves, whatever was there before — several changes
        // to one row in one batch included. This is what makes the two backends agree.
        #[test]
        fn net_effect_equals_applying_in_order(
            before in prop::collection::vec(change_strategy(), 0..12),
            batch in prop::collection::vec(change_strategy(), 0..24),
        ) {
            let mut start = Model::default();
            for (i, change) in before.iter().enumerate() {
                start.apply(change, EntryIndex(i as u64));
            }
            let mut in_order = start.clone();
            let mut net = Net::new();
            for (i, change) in batch.iter().enumerate() {
                let entry = EntryIndex(100 + i as u64);
                in_order.apply(change, entry);
                net.add(change.clone(), entry);
            }
            let mut netted = start;
            netted.apply_net(&net);
            prop_assert_eq!(netted, in_order);
        }
    }
}
