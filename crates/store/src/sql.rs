//! SQL text generated from table declarations, written once for both dialects: they differ only
//! in placeholders (`?1` / `$1`), column types, and PostgreSQL's explicit `COLLATE "C"` that
//! makes text order byte order on both (so pages, keys and verification agree).

use kiroku_core::projection::{Column, ColumnType, TableSpec, LAST_ENTRY};
use kiroku_core::query::{Order, Query};
use kiroku_core::Value;

/// The two SQL dialects.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum Dialect {
    /// SQLite (STRICT tables).
    Sqlite,
    /// PostgreSQL.
    Postgres,
}

/// A parameter and the column type it binds as (PostgreSQL needs the type of a NULL).
pub(crate) type Param = (Value, ColumnType);

impl Dialect {
    /// The `i`-th placeholder (1-based).
    pub(crate) fn param(self, i: usize) -> String {
        match self {
            Dialect::Sqlite => format!("?{i}"),
            Dialect::Postgres => format!("${i}"),
        }
    }

    fn column_type(self, ty: ColumnType) -> &'static str {
        match (self, ty) {
            (Dialect::Sqlite, ColumnType::Int | ColumnType::Entry) => "INTEGER",
            (Dialect::Sqlite, ColumnType::Text) => "TEXT",
            (Dialect::Postgres, ColumnType::Int | ColumnType::Entry) => "BIGINT",
            (Dialect::Postgres, ColumnType::Text) => "TEXT COLLATE \"C\"",
        }
    }
}

/// Every column of a table, then `last_entry`.
pub(crate) fn column_list(table: &TableSpec) -> String {
    let mut names: Vec<&str> = table.columns.iter().map(|c| c.name).collect();
    names.push(LAST_ENTRY);
    names.join(", ")
}

fn key_names(table: &TableSpec) -> Vec<&'static str> {
    table.key_columns().iter().map(|c| c.name).collect()
}

/// The statements that create a table and its indexes.
pub(crate) fn create_table(d: Dialect, table: &TableSpec) -> Vec<String> {
    let mut columns: Vec<String> = table
        .columns
        .iter()
        .map(|c| {
            let null = if c.nullable { "" } else { " NOT NULL" };
            format!("{} {}{null}", c.name, d.column_type(c.ty))
        })
        .collect();
    columns.push(format!(
        "{LAST_ENTRY} {} NOT NULL",
        d.column_type(ColumnType::Entry)
    ));
    let key = key_names(table).join(", ");
    // SQLite: a lone integer key is the rowid (fastest); other keys make a WITHOUT ROWID
    // table clustered on the key. STRICT refuses values of the wrong type.
    let options = match d {
        Dialect::Sqlite if table.key == 1 && table.columns[0].ty != ColumnType::Text => " STRICT",
        Dialect::Sqlite => " STRICT, WITHOUT ROWID",
        Dialect::Postgres => "",
    };
    let mut statements = vec![format!(
        "CREATE TABLE {} ({}, PRIMARY KEY ({key})){options}",
        table.name,
        columns.join(", ")
    )];
    for (i, index) in table.indexes.iter().enumerate() {
        statements.push(format!(
            "CREATE INDEX {}_i{i} ON {} ({})",
            table.name,
            table.name,
            index.join(", ")
        ));
    }
    statements
}

/// `c = excluded.c, …` for every non-key column and `last_entry`.
pub(crate) fn update_set(table: &TableSpec) -> String {
    let mut sets: Vec<String> = table.columns[table.key..]
        .iter()
        .map(|c| format!("{0} = excluded.{0}", c.name))
        .collect();
    sets.push(format!("{LAST_ENTRY} = excluded.{LAST_ENTRY}"));
    sets.join(", ")
}

/// `a = ?1 AND b = ?2` over the first `len` key columns, placeholders from `first`.
fn key_equals(d: Dialect, table: &TableSpec, len: usize, first: usize) -> String {
    table.columns[..len]
        .iter()
        .enumerate()
        .map(|(i, c)| format!("{} = {}", c.name, d.param(first + i)))
        .collect::<Vec<_>>()
        .join(" AND ")
}

/// Deletes the row with a whole key, or every row under a key prefix of `len` columns.
pub(crate) fn delete(d: Dialect, table: &TableSpec, len: usize) -> String {
    format!(
        "DELETE FROM {} WHERE {}",
        table.name,
        key_equals(d, table, len, 1)
    )
}

/// The row with a whole key.
pub(crate) fn select_key(d: Dialect, table: &TableSpec) -> String {
    format!(
        "SELECT {} FROM {} WHERE {}",
        column_list(table),
        table.name,
        key_equals(d, table, table.key, 1)
    )
}

/// The shape of a [`Query`]: what its SQL text depends on (its values are parameters), and
/// whether it selects the rows' last entries.
type Shape = (Dialect, &'static str, Order, usize, usize, bool, bool);

thread_local! {
    /// The SQL text of each query shape met on this thread: written once, reused by every
    /// query of that shape (as the statement cache reuses its plan).
    static TEXTS: std::cell::RefCell<std::collections::HashMap<Shape, std::rc::Rc<str>>> =
        std::cell::RefCell::new(std::collections::HashMap::new());
}

/// Most query shapes one thread keeps the text of (every shape is a query some context
/// declares, so they are few; the bound is a guard).
const TEXTS_MAX: usize = 1024;

/// The bounded, ordered SELECT of a [`Query`] and its parameters: of the table's columns and
/// each row's last entry, or (`columns_only`) of the table's columns alone — which an index
/// that holds them all answers without reading the rows.
pub(crate) fn query(d: Dialect, q: &Query, columns_only: bool) -> (std::rc::Rc<str>, Vec<Param>) {
    let order = q.order_columns();
    let mut params: Vec<Param> = Vec::with_capacity(q.eq.len() + 2);
    for (value, column) in q.eq.iter().zip(&order) {
        params.push((value.clone(), column.ty));
    }
    let mut after_len = 0;
    if let Some(after) = &q.after {
        for (value, column) in after.iter().zip(order.iter().skip(q.eq.len())) {
            params.push((value.clone(), column.ty));
            after_len += 1;
        }
    }
    params.push((
        Value::Int(i64::try_from(q.limit).unwrap_or(i64::MAX)),
        ColumnType::Int,
    ));
    let shape: Shape = (
        d,
        q.table.name,
        q.order,
        q.eq.len().min(order.len()),
        after_len,
        q.descending,
        columns_only,
    );
    let text = TEXTS.with(|texts| {
        if let Some(text) = texts.borrow().get(&shape) {
            return text.clone();
        }
        let text: std::rc::Rc<str> = query_text(d, q, columns_only).into();
        let mut texts = texts.borrow_mut();
        if texts.len() >= TEXTS_MAX {
            texts.clear();
        }
        texts.insert(shape, text.clone());
        text
    });
    (text, params)
}

/// The SQL text of a [`Query`]'s shape.
fn query_text(d: Dialect, q: &Query, columns_only: bool) -> String {
    let order = q.order_columns();
    let mut params: Vec<Param> = Vec::new();
    let mut filters: Vec<String> = Vec::new();
    for (value, column) in q.eq.iter().zip(&order) {
        params.push((value.clone(), column.ty));
        filters.push(format!("{} = {}", column.name, d.param(params.len())));
    }
    if let Some(after) = &q.after {
        let rest: Vec<&Column> = order.iter().skip(q.eq.len()).take(after.len()).collect();
        if !rest.is_empty() {
            let mut placeholders = Vec::new();
            for (value, column) in after.iter().zip(&rest) {
                params.push((value.clone(), column.ty));
                placeholders.push(d.param(params.len()));
            }
            let names: Vec<&str> = rest.iter().map(|c| c.name).collect();
            let cmp = if q.descending { "<" } else { ">" };
            filters.push(format!(
                "({}) {cmp} ({})",
                names.join(", "),
                placeholders.join(", ")
            ));
        }
    }
    let direction = if q.descending { " DESC" } else { "" };
    let order_by: Vec<String> = order
        .iter()
        .map(|c| format!("{}{direction}", c.name))
        .collect();
    params.push((
        Value::Int(i64::try_from(q.limit).unwrap_or(i64::MAX)),
        ColumnType::Int,
    ));
    let filter = if filters.is_empty() {
        String::new()
    } else {
        format!(" WHERE {}", filters.join(" AND "))
    };
    let columns = if columns_only {
        q.table
            .columns
            .iter()
            .map(|c| c.name)
            .collect::<Vec<_>>()
            .join(", ")
    } else {
        column_list(q.table)
    };
    // SQLite is told the index to use. Without statistics its planner may walk the key instead
    // of seeking a secondary index that lacks a column the query reads (`last_entry`), and then
    // a search costs every row of its leading key column: an identifier search grew with the
    // hospital so. PostgreSQL keeps statistics, and its planner is left to them.
    let from = match (d, q.order) {
        (Dialect::Sqlite, kiroku_core::query::Order::Index(i)) if i < q.table.indexes.len() => {
            format!("{0} INDEXED BY {0}_i{i}", q.table.name)
        }
        _ => q.table.name.to_owned(),
    };
    format!(
        "SELECT {columns} FROM {from}{filter} ORDER BY {} LIMIT {}",
        order_by.join(", "),
        d.param(params.len())
    )
}

/// Rows whose first key column lies in `?1..=?2`, in key order, at most `?3` (verification
/// reads a page's rows this way when the table is keyed by entry).
pub(crate) fn first_key_range(d: Dialect, table: &TableSpec) -> String {
    let first = table.columns[0].name;
    format!(
        "SELECT {} FROM {} WHERE {first} >= {} AND {first} <= {} ORDER BY {} LIMIT {}",
        column_list(table),
        table.name,
        d.param(1),
        d.param(2),
        key_names(table).join(", "),
        d.param(3)
    )
}

/// A row under a key prefix of `len` columns put at or before entry `?len+1` (one that a
/// prefix delete at that entry should have removed).
pub(crate) fn stale_under_prefix(d: Dialect, table: &TableSpec, len: usize) -> String {
    format!(
        "SELECT {} FROM {} WHERE {} AND {LAST_ENTRY} < {} LIMIT 1",
        column_list(table),
        table.name,
        key_equals(d, table, len, 1),
        d.param(len + 1)
    )
}

/// The first row (in key order) put at or after entry `?1`.
pub(crate) fn put_from(d: Dialect, table: &TableSpec) -> String {
    format!(
        "SELECT {} FROM {} WHERE {LAST_ENTRY} >= {} ORDER BY {} LIMIT 1",
        column_list(table),
        table.name,
        d.param(1),
        key_names(table).join(", ")
    )
}

/// A page of a table in key order after a whole key (or from the start).
pub(crate) fn scan(d: Dialect, table: &TableSpec, after: bool) -> String {
    let keys = key_names(table);
    let filter = if after {
        let placeholders: Vec<String> = (1..=keys.len()).map(|i| d.param(i)).collect();
        format!(
            " WHERE ({}) > ({})",
            keys.join(", "),
            placeholders.join(", ")
        )
    } else {
        String::new()
    };
    let limit = if after { keys.len() + 1 } else { 1 };
    format!(
        "SELECT {} FROM {}{filter} ORDER BY {} LIMIT {}",
        column_list(table),
        table.name,
        keys.join(", "),
        d.param(limit)
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use kiroku_core::projection::TableRole;

    static T: TableSpec = TableSpec {
        name: "t",
        about: "",
        columns: &[
            Column::entry("a"),
            Column::text("b"),
            Column::int("v").nullable(),
        ],
        key: 2,
        indexes: &[&["v", "a"]],
        role: TableRole::Plain,
    };

    // Shows the generated DDL and statements for a composite-key table on both dialects.
    #[test]
    fn generated_sql() {
        assert_eq!(
            create_table(Dialect::Sqlite, &T),
            vec![
                "CREATE TABLE t (a INTEGER NOT NULL, b TEXT NOT NULL, v INTEGER, last_entry INTEGER NOT NULL, PRIMARY KEY (a, b)) STRICT, WITHOUT ROWID",
                "CREATE INDEX t_i0 ON t (v, a)",
            ]
        );
        assert_eq!(
            create_table(Dialect::Postgres, &T)[0],
            "CREATE TABLE t (a BIGINT NOT NULL, b TEXT COLLATE \"C\" NOT NULL, v BIGINT, last_entry BIGINT NOT NULL, PRIMARY KEY (a, b))"
        );
        assert_eq!(
            update_set(&T),
            "v = excluded.v, last_entry = excluded.last_entry"
        );
        assert_eq!(delete(Dialect::Sqlite, &T, 1), "DELETE FROM t WHERE a = ?1");
        let q = Query::table(&T, 10)
            .by_index(0)
            .matching(vec![Value::Int(3)])
            .descending()
            .after(Some(vec![Value::Int(7)]));
        let (sql, params) = query(Dialect::Sqlite, &q, false);
        assert_eq!(
            &*sql,
            "SELECT a, b, v, last_entry FROM t INDEXED BY t_i0 WHERE v = ?1 AND (a) < (?2) ORDER BY v DESC, a DESC, b DESC LIMIT ?3"
        );
        assert_eq!(params.len(), 3);
        // The same shape with other values reuses the text; another shape gets its own.
        let (again, _) = query(
            Dialect::Sqlite,
            &q.clone()
                .matching(vec![Value::Int(4)])
                .after(Some(vec![Value::Int(9)])),
            false,
        );
        assert!(std::rc::Rc::ptr_eq(&sql, &again));
        let (columns, _) = query(Dialect::Sqlite, &q, true);
        assert_eq!(
            &*columns,
            "SELECT a, b, v FROM t INDEXED BY t_i0 WHERE v = ?1 AND (a) < (?2) ORDER BY v DESC, a DESC, b DESC LIMIT ?3"
        );
        let (ascending, params) = query(
            Dialect::Sqlite,
            &Query::table(&T, 10)
                .by_index(0)
                .matching(vec![Value::Int(3)]),
            false,
        );
        assert_eq!(
            &*ascending,
            "SELECT a, b, v, last_entry FROM t INDEXED BY t_i0 WHERE v = ?1 ORDER BY v, a, b LIMIT ?2"
        );
        assert_eq!(params.len(), 2);
        // PostgreSQL's planner is left to its statistics.
        let (postgres, _) = query(
            Dialect::Postgres,
            &Query::table(&T, 10)
                .by_index(0)
                .matching(vec![Value::Int(3)]),
            false,
        );
        assert!(!postgres.contains("INDEXED BY"), "{postgres}");
    }
}
