//! Projection tables generated from the registry's declarations. The DDL is generated per
//! dialect ([`crate::sql::create_table`]) and fingerprinted; the fingerprint of the tables in a
//! database is kept in `projection_schema`. When a program with other declarations opens the
//! database — a new table, a changed column, the first start after an upgrade — the old tables
//! are dropped (they are derived), the declared ones created, and the ledger replayed into them,
//! all in one transaction under the append lock. So the tables always match the declarations:
//! no hand-written migration can drift from them.

use crate::db::Db;
use crate::sql;
use crate::url::DatabaseUrl;
use crate::{Result, StoreError};
use kiroku_core::Registry;
use sha2::{Digest, Sha256};

/// The fingerprint of the generated DDL of every declared table.
pub(crate) fn fingerprint(db: &dyn Db, registry: &Registry) -> String {
    let mut hasher = Sha256::new();
    hasher.update(kiroku_core::projection::OUTPUT_RULES.as_bytes());
    hasher.update(b"\n");
    for table in registry.tables() {
        for statement in sql::create_table(db.dialect(), table) {
            hasher.update(statement.as_bytes());
            hasher.update(b"\n");
        }
    }
    hasher
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Makes the projection tables match the registry, rebuilding them by replay if they did not.
/// Returns whether they were rebuilt.
pub(crate) fn ensure(db: &mut dyn Db, url: &DatabaseUrl, registry: &Registry) -> Result<bool> {
    let want = fingerprint(db, registry);
    if db
        .projection_schema()?
        .is_some_and(|(have, _)| have == want)
    {
        return Ok(false);
    }
    let (size, _) = db.begin_append()?;
    let result = (|| -> Result<bool> {
        // Another process may have done it while this one waited for the lock.
        let stored = db.projection_schema()?;
        if stored.as_ref().is_some_and(|(have, _)| *have == want) {
            return Ok(false);
        }
        let mut drop: Vec<String> = stored.map(|(_, tables)| tables).unwrap_or_default();
        drop.extend(registry.tables().iter().map(|t| t.name.to_owned()));
        for name in &drop {
            if !is_identifier(name) {
                return Err(StoreError::Corrupt(format!(
                    "projection_schema names a table {name:?} that cannot be one"
                )));
            }
            db.execute_raw(&format!("DROP TABLE IF EXISTS {name}"))?;
        }
        for table in registry.tables() {
            for statement in sql::create_table(db.dialect(), table) {
                db.execute_raw(&statement)?;
            }
        }
        db.set_projection_schema(&want, registry.tables())?;
        if size > 0 {
            tracing::warn!(
                entries = size,
                "projection tables changed with this version: rebuilding them from the ledger"
            );
            crate::replay::rebuild_in(db, url, registry, size)?;
        }
        Ok(true)
    })();
    match result {
        Ok(rebuilt) => {
            db.commit()?;
            Ok(rebuilt)
        }
        Err(e) => {
            db.rollback();
            Err(e)
        }
    }
}

fn is_identifier(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 63
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}
