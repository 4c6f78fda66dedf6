//! Read queries as data. A context describes what it reads — a table, the key or a declared
//! index to order by, equal values for its leading columns, where to start, how many rows —
//! and decodes the rows it gets back; the store turns the description into each dialect's
//! SQL. So contexts read their tables without knowing SQL, and every read is bounded and keyed.

use crate::id::EntryIndex;
use crate::projection::{Column, Row, TableSpec, Value};

/// Which order a query walks a table in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Order {
    /// The primary key.
    Key,
    /// Declared index `i` of the table, then the key columns it lacks.
    Index(usize),
}

/// A bounded, keyed read of one table.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Query {
    /// The table.
    pub table: &'static TableSpec,
    /// The order.
    pub order: Order,
    /// Values the leading order columns must equal.
    pub eq: Vec<Value>,
    /// Start after this position: values of the order columns that follow `eq` (exclusive).
    pub after: Option<Vec<Value>>,
    /// Newest (largest) first?
    pub descending: bool,
    /// Most rows.
    pub limit: u64,
}

impl Query {
    /// The rows of `table` in key order, up to `limit`.
    pub fn table(table: &'static TableSpec, limit: u64) -> Query {
        Query {
            table,
            order: Order::Key,
            eq: Vec::new(),
            after: None,
            descending: false,
            limit,
        }
    }

    /// The row with this whole key, if any (a query of at most one row).
    pub fn key(table: &'static TableSpec, key: Vec<Value>) -> Query {
        Query {
            eq: key,
            ..Query::table(table, 1)
        }
    }

    /// Only rows whose leading order columns equal `eq`.
    pub fn matching(mut self, eq: Vec<Value>) -> Query {
        self.eq = eq;
        self
    }

    /// Ordered by declared index `index` instead of the key.
    pub fn by_index(mut self, index: usize) -> Query {
        self.order = Order::Index(index);
        self
    }

    /// Largest first.
    pub fn descending(mut self) -> Query {
        self.descending = true;
        self
    }

    /// Starting after this position.
    pub fn after(mut self, after: Option<Vec<Value>>) -> Query {
        self.after = after;
        self
    }

    /// The columns the query orders by: the index's columns (or the key's), then the key
    /// columns the index lacks, so that the order is total.
    pub fn order_columns(&self) -> Vec<Column> {
        let key = self.table.key_columns();
        let mut columns: Vec<Column> = match self.order {
            Order::Key => key.to_vec(),
            Order::Index(i) => self
                .table
                .indexes
                .get(i)
                .map(|names| {
                    names
                        .iter()
                        .filter_map(|n| self.table.column(n).map(|c| self.table.columns[c]))
                        .collect()
                })
                .unwrap_or_default(),
        };
        for column in key {
            if !columns.iter().any(|c| c.name == column.name) {
                columns.push(*column);
            }
        }
        columns
    }
}

/// A stored row and the entry that last put it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Stored {
    /// Every column's value, in declared order.
    pub row: Row,
    /// The entry that last put the row.
    pub last_entry: EntryIndex,
}

/// A stored row that does not have its table's declared shape: the projection is damaged (run
/// `kiroku verify`). Names the table only: rows may hold personal data.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("a row of {0} does not have the declared shape (run kiroku verify)")]
pub struct BadRow(pub &'static str);

/// Typed reads of a stored row's cells, each failing with [`BadRow`] rather than guessing.
#[derive(Clone, Copy, Debug)]
pub struct Cells<'a> {
    row: &'a [Value],
    table: &'static str,
}

impl Stored {
    /// This row's cells, for decoding a row of `table`.
    pub fn cells(&self, table: &'static TableSpec) -> Cells<'_> {
        Cells {
            row: &self.row,
            table: table.name,
        }
    }
}

impl<'a> Cells<'a> {
    /// The cells of a row of `table` read without its last entry
    /// (`kiroku_store::read::query_columns`).
    pub fn of(row: &'a [Value], table: &'static TableSpec) -> Cells<'a> {
        Cells {
            row,
            table: table.name,
        }
    }
}

impl Cells<'_> {
    /// The error for this table.
    pub fn bad(&self) -> BadRow {
        BadRow(self.table)
    }

    /// A non-negative integer.
    pub fn uint(&self, i: usize) -> Result<u64, BadRow> {
        self.row
            .get(i)
            .and_then(Value::as_int)
            .and_then(|v| u64::try_from(v).ok())
            .ok_or(self.bad())
    }

    /// An entry index.
    pub fn entry(&self, i: usize) -> Result<EntryIndex, BadRow> {
        self.uint(i).map(EntryIndex)
    }

    /// Text.
    pub fn text(&self, i: usize) -> Result<String, BadRow> {
        self.row
            .get(i)
            .and_then(Value::as_text)
            .map(str::to_owned)
            .ok_or(self.bad())
    }

    /// Text or NULL.
    pub fn optional_text(&self, i: usize) -> Result<Option<String>, BadRow> {
        match self.row.get(i) {
            Some(Value::Null) => Ok(None),
            Some(Value::Text(t)) => Ok(Some(t.clone())),
            _ => Err(self.bad()),
        }
    }

    /// An instant stored as microseconds.
    pub fn time(&self, i: usize) -> Result<crate::Timestamp, BadRow> {
        self.row
            .get(i)
            .and_then(Value::as_int)
            .and_then(crate::Timestamp::from_micros)
            .ok_or(self.bad())
    }

    /// A date stored as `YYYY-MM-DD`.
    pub fn date(&self, i: usize) -> Result<crate::Date, BadRow> {
        self.row
            .get(i)
            .and_then(Value::as_text)
            .and_then(crate::Date::parse)
            .ok_or(self.bad())
    }

    /// A date or NULL.
    pub fn optional_date(&self, i: usize) -> Result<Option<crate::Date>, BadRow> {
        match self.row.get(i) {
            Some(Value::Null) => Ok(None),
            _ => self.date(i).map(Some),
        }
    }

    /// Text parsed by `parse` (an enumeration's stored name, say).
    pub fn parsed<T>(&self, i: usize, parse: impl FnOnce(&str) -> Option<T>) -> Result<T, BadRow> {
        self.row
            .get(i)
            .and_then(Value::as_text)
            .and_then(parse)
            .ok_or(self.bad())
    }
}
