//! Refused governance steps: an attempt the access policy refused (to approve an application,
//! suspend an account, appoint a role, propose a policy …) is an entry, as a refused read or
//! write of a record is in the records context, so that the ledger holds every attempt to do
//! what one may not.

use kiroku_core::{Actor, Change, Draft, EntryKind, EntryMeta, Invalid, Projection};
use serde::{Deserialize, Serialize};

/// `access.denial/1`: the policy refused the entry's actor the governance action `action`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Denied {
    /// The action refused (`DecideApplication`, `ChangeAccountStatus`, …).
    pub action: String,
}

impl EntryKind for Denied {
    const KIND: &'static str = "access.denial/1";
    const PROJECTION: Projection = Projection::Nothing(
        "the entry itself is the record of the refused attempt; the oversight context will index them",
    );

    fn check(&self, _: &EntryMeta<'_>) -> Result<(), Invalid> {
        if self.action.is_empty()
            || self.action.len() > 64
            || !self.action.bytes().all(|b| b.is_ascii_alphanumeric())
        {
            return Err(Invalid {
                field: "action",
                why: "is not an action's name",
            });
        }
        Ok(())
    }

    fn project(&self, _: &EntryMeta<'_>, _: &mut Vec<Change>) {}

    fn example() -> Self {
        Denied {
            action: "DecideApplication".into(),
        }
    }
}

/// The entry recording that `actor` was refused `action`.
pub fn denied(actor: Actor, action: &str) -> Draft {
    Draft::new(
        actor,
        Denied {
            action: action.to_owned(),
        },
    )
}
