//! The ledger's first entry: its origin and the key that verifies its checkpoints, so that the
//! ledger names its own key from index 0 on.

use kiroku_core::{Change, EntryKind, EntryMeta, Invalid, Projection};
use serde::{Deserialize, Serialize};

/// `ledger.init/1`: always entry 0.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LedgerInit {
    /// The origin line of every checkpoint (also the key's name).
    pub origin: String,
    /// The verifier key, in the signed-note format.
    pub verifier_key: String,
    /// The software that made the ledger.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub software: Option<String>,
}

impl EntryKind for LedgerInit {
    const KIND: &'static str = "ledger.init/1";
    const PROJECTION: Projection =
        Projection::Nothing("the origin and key live in the data directory; entry 0 records them");

    fn check(&self, _: &EntryMeta<'_>) -> Result<(), Invalid> {
        if self.origin.is_empty() || self.verifier_key.is_empty() {
            return Err(Invalid {
                field: "origin",
                why: "and verifier_key are required",
            });
        }
        Ok(())
    }

    fn project(&self, _: &EntryMeta<'_>, _: &mut Vec<Change>) {}

    fn example() -> Self {
        LedgerInit {
            origin: "osaki-hospital.example/kiroku".into(),
            verifier_key: "osaki-hospital.example/kiroku+01234567+AQ".into(),
            software: Some("kiroku 0.1.0".into()),
        }
    }
}
