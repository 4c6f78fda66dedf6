//! Auditors' reads of the ledger itself. Entry bundles hold every entry's content, so only
//! auditors (and the audit manager) may read them (Art. 8), and each read is an entry, durable
//! before the bundle leaves the server: nothing leaves the system unrecorded.

use crate::error::AccessError;
use crate::role::{Role, Roles};
use kiroku_core::{Actor, Date, Draft, EntryKind, EntryMeta, Invalid, Projection, Request};
use serde::{Deserialize, Serialize};

/// `access.entry_bundle_read/1`: an auditor read entries `first .. first + count` of the ledger.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EntryBundleRead {
    /// The first entry read.
    pub first: u64,
    /// How many.
    pub count: u64,
}

impl EntryKind for EntryBundleRead {
    const KIND: &'static str = "access.entry_bundle_read/1";
    const PROJECTION: Projection = Projection::Nothing(
        "the entry itself is the record of the read; the oversight context will index reads",
    );

    fn check(&self, _: &EntryMeta<'_>) -> Result<(), Invalid> {
        if self.count == 0 || self.count > 256 {
            return Err(Invalid {
                field: "count",
                why: "must be 1 to 256 (one tile)",
            });
        }
        Ok(())
    }

    fn project(&self, _: &EntryMeta<'_>, _: &mut Vec<kiroku_core::Change>) {}

    fn example() -> Self {
        EntryBundleRead {
            first: 256,
            count: 256,
        }
    }
}

/// The entry recording that `by` reads entries `first .. first + count`: only an auditor or the
/// audit manager, in force today.
pub fn read_entries(
    by: &Roles,
    actor: Actor,
    first: u64,
    count: u64,
    today: Date,
) -> Result<Request, AccessError> {
    if !by.holds(Role::Auditor, None, today) && !by.holds(Role::AuditManager, None, today) {
        return Err(AccessError::NotPermitted {
            role: Role::Auditor,
        });
    }
    Ok(Request::one(Draft::new(
        actor,
        EntryBundleRead { first, count },
    )))
}
