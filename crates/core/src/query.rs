//! Read queries as data. A context describes what it reads — a table, the key or a declared
//! index to order by, equal values for its leading columns, where to start, how many rows —
//! and decodes the rows it gets back; the store turns the description into each dialect's
//! SQL. So contexts read their tables without knowing SQL, and every read is bounded and keyed.

use crate::id::EntryIndex;
use crate::projection::{Column, Row, TableSpec, Value};

/// Which order a query walks a table in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
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
