//! Projections: the tables derived from the ledger. Each is declared once here as a
//! [`TableSpec`], and [`project`] says, purely, which rows an entry puts into them. The store
//! applies those changes in the writer's transaction, and replays them to rebuild or check the
//! tables (`kiroku verify`), so a projection can always be recomputed from the ledger.

use crate::entry::{Entry, EntryError, EntryIndex, Kind};
use serde_json::Value as Json;

/// A column value.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Value {
    /// SQL NULL.
    Null,
    /// A 64-bit integer.
    Int(i64),
    /// UTF-8 text.
    Text(String),
    /// The index of the entry that puts the row, filled in by [`Change::resolve`] once the
    /// writer has sequenced the entry. Never stored.
    ThisEntry,
}

/// A column's SQL type.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ColumnType {
    /// 64-bit integer.
    Int,
    /// Text.
    Text,
}

/// A column of a projection table.
#[derive(Clone, Copy, Debug)]
pub struct Column {
    /// Its name.
    pub name: &'static str,
    /// Its type.
    pub ty: ColumnType,
    /// May it be NULL?
    pub nullable: bool,
}

const fn col(name: &'static str, ty: ColumnType, nullable: bool) -> Column {
    Column { name, ty, nullable }
}

/// A projection table; its first column is the primary key.
#[derive(Clone, Copy, Debug)]
pub struct TableSpec {
    /// Table name.
    pub name: &'static str,
    /// Columns, key first.
    pub columns: &'static [Column],
}

/// One row put into a table: inserted, or replacing the row with the same key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Change {
    /// The table.
    pub table: &'static TableSpec,
    /// Values in column order.
    pub row: Vec<Value>,
}

/// Operators' notes (運用記録).
pub static OPERATOR_NOTES: TableSpec = TableSpec {
    name: "operator_notes",
    columns: &[
        col("entry_index", ColumnType::Int, false),
        col("time", ColumnType::Text, false),
        col("account", ColumnType::Text, false),
        col("body", ColumnType::Text, false),
    ],
};

/// Results of ledger verifications.
pub static VERIFICATIONS: TableSpec = TableSpec {
    name: "verifications",
    columns: &[
        col("entry_index", ColumnType::Int, false),
        col("time", ColumnType::Text, false),
        col("outcome", ColumnType::Text, false),
        col("tree_size", ColumnType::Int, false),
        col("detail", ColumnType::Text, true),
    ],
};

/// Every projection table.
pub static TABLES: &[&TableSpec] = &[&OPERATOR_NOTES, &VERIFICATIONS];

/// The longest operator note, in characters.
pub const NOTE_CHARS_MAX: usize = 4000;

fn payload_error(why: &'static str) -> EntryError {
    EntryError::Field {
        field: "payload",
        why,
    }
}

/// Why an operator's note was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum NoteError {
    /// No text.
    #[error("the note has no text")]
    Missing,
    /// Only whitespace.
    #[error("the note is empty")]
    Empty,
    /// Longer than [`NOTE_CHARS_MAX`].
    #[error("the note is longer than {NOTE_CHARS_MAX} characters")]
    TooLong,
    /// Holds control characters other than newline and tab.
    #[error("the note holds control characters")]
    ControlCharacters,
}

/// Checks an operator's note text.
pub fn validate_note(text: Option<&str>) -> Result<(), NoteError> {
    let text = text.ok_or(NoteError::Missing)?;
    if text.trim().is_empty() {
        return Err(NoteError::Empty);
    }
    if text.chars().count() > NOTE_CHARS_MAX {
        return Err(NoteError::TooLong);
    }
    if text
        .chars()
        .any(|c| c.is_control() && c != '\n' && c != '\t')
    {
        return Err(NoteError::ControlCharacters);
    }
    Ok(())
}

/// Checks a payload of a known kind before it is sealed; unknown kinds pass.
pub fn validate(kind: &Kind, payload: &Json) -> Result<(), EntryError> {
    match kind.as_str() {
        Kind::LEDGER_NOTE => {
            validate_note(payload.get("text").and_then(Json::as_str)).map_err(|e| {
                payload_error(match e {
                    NoteError::Missing => "needs a `text` string",
                    NoteError::Empty => "`text` is empty",
                    NoteError::TooLong => "`text` is longer than 4000 characters",
                    NoteError::ControlCharacters => "`text` holds control characters",
                })
            })
        }
        Kind::LEDGER_VERIFICATION => {
            let outcome = payload.get("outcome").and_then(Json::as_str);
            if !matches!(outcome, Some("intact" | "failed")) {
                return Err(payload_error("`outcome` is intact or failed"));
            }
            if payload.get("tree_size").and_then(Json::as_i64).is_none() {
                return Err(payload_error("needs a `tree_size` integer"));
            }
            Ok(())
        }
        Kind::LEDGER_INIT => {
            for key in ["origin", "verifier_key"] {
                if payload.get(key).and_then(Json::as_str).is_none() {
                    return Err(payload_error("needs `origin` and `verifier_key`"));
                }
            }
            Ok(())
        }
        _ => Ok(()),
    }
}

impl Change {
    /// Puts the entry's index where the row has [`Value::ThisEntry`].
    pub fn resolve(&mut self, index: EntryIndex) -> Result<(), EntryError> {
        let key = i64::try_from(index.0).map_err(|_| payload_error("index out of range"))?;
        for value in &mut self.row {
            if *value == Value::ThisEntry {
                *value = Value::Int(key);
            }
        }
        Ok(())
    }
}

/// The rows entry `index` puts into the projections. `payload` is the entry's payload,
/// resolved from the blob store where it was moved there (the entry's own `payload` field is
/// not read).
pub fn project(index: EntryIndex, entry: Entry, payload: Json) -> Result<Vec<Change>, EntryError> {
    let mut changes = project_deferred(entry, payload)?;
    for change in &mut changes {
        change.resolve(index)?;
    }
    Ok(changes)
}

/// The rows an entry puts, with [`Value::ThisEntry`] for its index: callers compute these in
/// parallel before the writer assigns indices.
pub fn project_deferred(entry: Entry, payload: Json) -> Result<Vec<Change>, EntryError> {
    validate(&entry.kind, &payload)?;
    let key = Value::ThisEntry;
    // The entry and payload are consumed so their strings move into the rows.
    let mut fields = match payload {
        Json::Object(map) => map,
        _ => serde_json::Map::new(),
    };
    let mut text = |name: &str| match fields.remove(name) {
        Some(Json::String(s)) => Some(s),
        _ => None,
    };
    Ok(match entry.kind.as_str() {
        Kind::LEDGER_NOTE => vec![Change {
            table: &OPERATOR_NOTES,
            row: vec![
                key,
                Value::Text(entry.time.to_string()),
                Value::Text(entry.actor.account),
                Value::Text(text("text").unwrap_or_default()),
            ],
        }],
        Kind::LEDGER_VERIFICATION => {
            let outcome = text("outcome").unwrap_or_default();
            let detail = text("detail").map_or(Value::Null, Value::Text);
            let tree_size = fields.get("tree_size").and_then(Json::as_i64).unwrap_or(0);
            vec![Change {
                table: &VERIFICATIONS,
                row: vec![
                    key,
                    Value::Text(entry.time.to_string()),
                    Value::Text(outcome),
                    Value::Int(tree_size),
                    detail,
                ],
            }]
        }
        _ => Vec::new(),
    })
}

impl PartialEq for TableSpec {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name
    }
}
impl Eq for TableSpec {}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::entry::{Actor, Payload};
    use crate::timestamp::Timestamp;
    use serde_json::json;

    fn entry(kind: &str, payload: Json) -> Entry {
        Entry {
            kind: Kind::new(kind).unwrap_or_else(|_| unreachable!()),
            time: Timestamp(0),
            actor: Actor::operator("cli"),
            subject: None,
            reason: None,
            payload: Payload::Inline(payload),
            salt: [0; 16],
        }
    }

    // Shows that a note puts one row keyed by its index, and unknown kinds put none.
    #[test]
    fn notes_project_to_one_row() {
        let payload = json!({"text": "tape 5 off-site"});
        let changes = project(
            EntryIndex(7),
            entry(Kind::LEDGER_NOTE, payload.clone()),
            payload,
        );
        assert_eq!(
            changes.map(|c| c.into_iter().map(|c| c.row).collect::<Vec<_>>()),
            Ok(vec![vec![
                Value::Int(7),
                Value::Text("1970-01-01T00:00:00.000000Z".into()),
                Value::Text("operator".into()),
                Value::Text("tape 5 off-site".into()),
            ]])
        );
        let other = json!({});
        assert_eq!(
            project(EntryIndex(1), entry("future.kind/3", other.clone()), other),
            Ok(vec![])
        );
    }

    // Shows the note limits: empty, too long and control characters are refused, and the
    // longest allowed note passes.
    #[test]
    fn note_payloads_are_validated() {
        let kind = Kind::new(Kind::LEDGER_NOTE).unwrap_or_else(|_| unreachable!());
        assert!(validate(&kind, &json!({"text": "ok"})).is_ok());
        assert!(validate(&kind, &json!({"text": "あ".repeat(NOTE_CHARS_MAX)})).is_ok());
        assert!(validate(&kind, &json!({"text": "あ".repeat(NOTE_CHARS_MAX + 1)})).is_err());
        assert!(validate(&kind, &json!({"text": "  "})).is_err());
        assert!(validate(&kind, &json!({"text": "a\u{1b}b"})).is_err());
        assert!(validate(&kind, &json!({})).is_err());
    }
}
