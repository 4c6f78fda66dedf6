//! Admission: under the append lock, the writer decides request by request whether each still
//! holds — against committed state and the requests admitted before it in the same batch.
//!
//! What is checked: a request's explicit [`Expect`]ations; every upsert of a stream row (its
//! version must be the current one plus one, 1 for a new stream); every upsert of a claim (no
//! other owner may hold it). Committed rows are read once per batch, in one lookup per table,
//! for every concrete key any request needs. Keys that name an entry of this batch (a new note's
//! own stream, say) cannot be committed yet and are not read.

use crate::db::Db;
use crate::Result;
use kiroku_core::precondition::key_text;
use kiroku_core::projection::{Change, Key, TableRole, TableSpec, Value};
use kiroku_core::{Conflict, Expect};
use std::collections::{BTreeMap, HashMap};

/// What admission needs of a row of a stream or claims table: its role column (the version
/// or the owner) — not the whole row, so admitting a request copies no text.
type RoleValue = Option<Value>;

/// Rows as the batch sees them: committed values read under the lock, overlaid by what admitted
/// requests changed.
pub(crate) struct View {
    committed: HashMap<&'static str, HashMap<Key, RoleValue>>,
    overlay: Overlay,
}

/// Changes to stream and claims tables made by admitted requests, in order: `Some(value)` for
/// a row put, `None` for a row deleted.
#[derive(Default, Clone)]
struct Overlay {
    rows: HashMap<&'static str, HashMap<Key, Option<RoleValue>>>,
    prefixes: Vec<(&'static str, Key)>,
}

impl Overlay {
    /// What the overlay says of a key: `Some(row's role value, or none if deleted)`, or
    /// `None` if it does not know.
    fn get(&self, table: &'static str, key: &[Value]) -> Option<Option<&RoleValue>> {
        if let Some(found) = self.rows.get(table).and_then(|rows| rows.get(key)) {
            return Some(found.as_ref());
        }
        self.prefixes
            .iter()
            .any(|(t, p)| *t == table && key.starts_with(p))
            .then_some(None)
    }

    fn apply(&mut self, change: &Change) {
        let table = change.table();
        let rows = self.rows.entry(table.name).or_default();
        match change {
            Change::Upsert { row, .. } => {
                let role = table.role_column().and_then(|i| row.get(i)).cloned();
                rows.insert(change.key().to_vec(), Some(role));
            }
            Change::Delete { key, .. } => {
                rows.insert(key.clone(), None);
            }
            Change::DeletePrefix { prefix, .. } => {
                rows.retain(|k, _| !k.starts_with(prefix));
                self.prefixes.push((table.name, prefix.clone()));
            }
        }
    }

    fn merge(&mut self, later: Overlay) {
        for (table, rows) in later.rows {
            self.rows.entry(table).or_default().extend(rows);
        }
        self.prefixes.extend(later.prefixes);
    }
}

/// Does this change need admission (a stream or claim upsert)?
fn guarded(change: &Change) -> bool {
    matches!(change, Change::Upsert { .. }) && !matches!(change.table().role, TableRole::Plain)
}

/// Is every value concrete (no reference to an entry not yet indexed)?
fn concrete(key: &[Value]) -> bool {
    !key.iter().any(|v| matches!(v, Value::Entry(_)))
}

impl View {
    /// Reads, under the lock, every committed row named by a concrete key of these
    /// expectations and changes.
    pub(crate) fn load<'a>(
        db: &mut dyn Db,
        expectations: impl Iterator<Item = &'a Expect>,
        changes: impl Iterator<Item = &'a Change>,
    ) -> Result<View> {
        let mut wanted: BTreeMap<&'static str, (&'static TableSpec, Vec<Key>)> = BTreeMap::new();
        let mut want = |table: &'static TableSpec, key: &[Value]| {
            if concrete(key) {
                let entry = wanted.entry(table.name).or_insert((table, Vec::new()));
                if !entry.1.iter().any(|k| k.as_slice() == key) {
                    entry.1.push(key.to_vec());
                }
            }
        };
        for expect in expectations {
            match expect {
                Expect::Version { table, key, .. } | Expect::Unclaimed { table, key } => {
                    want(table, key)
                }
            }
        }
        for change in changes.filter(|c| guarded(c)) {
            want(change.table(), change.key());
        }
        let mut committed: HashMap<&'static str, HashMap<Key, RoleValue>> = HashMap::new();
        for (name, (table, keys)) in wanted {
            let rows = db.lookup(table, &keys)?;
            let column = table.role_column();
            let found = committed.entry(name).or_default();
            for (key, row) in keys.into_iter().zip(rows) {
                if let Some(stored) = row {
                    found.insert(key, column.and_then(|i| stored.row.get(i)).cloned());
                }
            }
        }
        Ok(View {
            committed,
            overlay: Overlay::default(),
        })
    }

    /// The role value of the row at `key` as the batch sees it; `None` if there is no row.
    fn current<'s>(
        &'s self,
        local: &'s Overlay,
        table: &'static TableSpec,
        key: &[Value],
    ) -> Option<&'s RoleValue> {
        if let Some(found) = local.get(table.name, key) {
            return found;
        }
        if let Some(found) = self.overlay.get(table.name, key) {
            return found;
        }
        // A key that names an entry of this batch is new; so is one never committed.
        self.committed
            .get(table.name)
            .and_then(|rows| rows.get(key))
    }

    /// Admits a request whose changes are resolved to their entries' indices: checks every
    /// expectation and guarded change against the view, and on success adds its changes to the
    /// view for the requests after it.
    pub(crate) fn admit<'c>(
        &mut self,
        expect: &[Expect],
        changes: impl Iterator<Item = &'c Change>,
    ) -> Result<(), Conflict> {
        let mut local = Overlay::default();
        for expectation in expect {
            match expectation {
                Expect::Version {
                    table,
                    key,
                    version,
                } => {
                    let found = version_of(self.current(&local, table, key));
                    if found != *version {
                        return Err(Conflict::Version {
                            table: table.name,
                            key: key_text(key),
                            expected: *version,
                            found,
                        });
                    }
                }
                Expect::Unclaimed { table, key } => {
                    if let Some(held) = self.current(&local, table, key) {
                        return Err(Conflict::Claimed {
                            table: table.name,
                            holder: owner_of(held),
                        });
                    }
                }
            }
        }
        for change in changes {
            if guarded(change) {
                self.check_change(&local, change)?;
            }
            if !matches!(change.table().role, TableRole::Plain) {
                local.apply(change);
            }
        }
        self.overlay.merge(local);
        Ok(())
    }

    fn check_change(&self, local: &Overlay, change: &Change) -> Result<(), Conflict> {
        let Change::Upsert { table, row } = change else {
            return Ok(());
        };
        let key = change.key();
        let current = self.current(local, table, key);
        let claimed = table.role_column().and_then(|i| row.get(i));
        match table.role {
            TableRole::Stream { .. } => {
                let found = version_of(current);
                let new = version_of(Some(&claimed.cloned()));
                if new != found + 1 {
                    return Err(Conflict::Version {
                        table: table.name,
                        key: key_text(key),
                        expected: new.saturating_sub(1),
                        found,
                    });
                }
            }
            TableRole::Claims { .. } => {
                if let Some(held) = current {
                    if held.as_ref() != claimed {
                        return Err(Conflict::Claimed {
                            table: table.name,
                            holder: owner_of(held),
                        });
                    }
                }
            }
            TableRole::Plain => {}
        }
        Ok(())
    }
}

fn version_of(role: Option<&RoleValue>) -> u64 {
    role.and_then(|v| v.as_ref())
        .and_then(Value::as_int)
        .and_then(|v| u64::try_from(v).ok())
        .unwrap_or(0)
}

fn owner_of(role: &RoleValue) -> String {
    role.as_ref().map_or_else(|| "?".into(), |v| v.to_string())
}
