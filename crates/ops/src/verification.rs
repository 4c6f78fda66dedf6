//! Results of `kiroku verify`: each run is recorded as an entry, so the ledger holds its own
//! inspection record, and the status page shows the latest one.

use kiroku_core::projection::{Column, TableRole, TableSpec, Value};
use kiroku_core::query::{Query, Stored};
use kiroku_core::{Change, EntryIndex, EntryKind, EntryMeta, Invalid, Projection, Timestamp};
use serde::{Deserialize, Serialize};

/// One row per verification run.
pub static VERIFICATIONS: TableSpec = TableSpec {
    name: "verifications",
    about: "The result of each kiroku verify run.",
    columns: &[
        Column::entry("entry"),
        Column::int("time"),
        Column::text("outcome"),
        Column::int("tree_size"),
        Column::text("detail").nullable(),
    ],
    key: 1,
    indexes: &[],
    role: TableRole::Plain,
};

/// Intact or not.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    /// Every check passed.
    Intact,
    /// A problem was found.
    Failed,
}

/// `ledger.verification/1`. The counts and root are optional because the first release did not
/// require them; every run since records them.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Verification {
    /// Intact or failed.
    pub outcome: Outcome,
    /// The signed tree size verified.
    pub tree_size: u64,
    /// Entries checked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entries: Option<u64>,
    /// Checkpoints checked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checkpoints: Option<u64>,
    /// The recomputed root (base64).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub root: Option<String>,
    /// The problem found (indices and tables, never content).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

impl EntryKind for Verification {
    const KIND: &'static str = "ledger.verification/1";
    const PROJECTION: Projection = Projection::Into(&[&VERIFICATIONS]);

    fn check(&self, _: &EntryMeta<'_>) -> Result<(), Invalid> {
        if i64::try_from(self.tree_size).is_err() {
            return Err(Invalid {
                field: "tree_size",
                why: "is out of range",
            });
        }
        Ok(())
    }

    fn project(&self, meta: &EntryMeta<'_>, out: &mut Vec<Change>) {
        let outcome = match self.outcome {
            Outcome::Intact => "intact",
            Outcome::Failed => "failed",
        };
        out.push(Change::upsert(
            &VERIFICATIONS,
            vec![
                Value::THIS_ENTRY,
                Value::Int(meta.time.micros()),
                Value::Text(outcome.into()),
                i64::try_from(self.tree_size).map_or(Value::Null, Value::Int),
                self.detail.clone().map_or(Value::Null, Value::Text),
            ],
        ));
    }

    fn example() -> Self {
        Verification {
            outcome: Outcome::Intact,
            tree_size: 42,
            entries: Some(42),
            checkpoints: Some(7),
            root: Some("47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=".into()),
            detail: None,
        }
    }
}

/// A recorded verification, as the status page shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerificationRecord {
    /// The entry that recorded it.
    pub entry: EntryIndex,
    /// When.
    pub time: Timestamp,
    /// Intact or failed.
    pub outcome: Outcome,
    /// The tree size verified.
    pub tree_size: u64,
    /// The problem, if any.
    pub detail: Option<String>,
}

impl VerificationRecord {
    /// The query for the latest one.
    pub fn latest() -> Query {
        Query::table(&VERIFICATIONS, 1).descending()
    }

    /// Decodes a row, or `None` if it does not have the declared shape.
    pub fn from_row(stored: &Stored) -> Option<VerificationRecord> {
        match stored.row.as_slice() {
            [Value::Int(entry), Value::Int(time), Value::Text(outcome), Value::Int(size), detail] => {
                Some(VerificationRecord {
                    entry: EntryIndex::from_i64(*entry)?,
                    time: Timestamp::from_micros(*time)?,
                    outcome: match outcome.as_str() {
                        "intact" => Outcome::Intact,
                        "failed" => Outcome::Failed,
                        _ => return None,
                    },
                    tree_size: u64::try_from(*size).ok()?,
                    detail: detail.as_text().map(str::to_owned),
                })
            }
            _ => None,
        }
    }
}
