//! Exports of the whole ledger (`kiroku export`): each is recorded as an entry before the file
//! is written, so that the ledger that leaves the system holds the record of its own leaving —
//! who took it, into which file, at which tree size.

use kiroku_core::{Change, EntryKind, EntryMeta, Invalid, Projection};
use serde::{Deserialize, Serialize};

/// The longest file name recorded.
pub const FILE_BYTES_MAX: usize = 255;

/// `ledger.export/1`: the whole ledger is being written to a file.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Export {
    /// The file's name (without its folder, which may name a person's home).
    pub file: String,
}

impl EntryKind for Export {
    const KIND: &'static str = "ledger.export/1";
    const PROJECTION: Projection = Projection::Nothing(
        "an export is read back from the ledger itself; its file holds this entry and every one before it",
    );

    fn check(&self, _: &EntryMeta<'_>) -> Result<(), Invalid> {
        if self.file.is_empty()
            || self.file.len() > FILE_BYTES_MAX
            || self.file.chars().any(|c| c.is_control() || c == '/')
        {
            return Err(Invalid {
                field: "file",
                why: "is 1–255 bytes of a file name, without control characters or slashes",
            });
        }
        Ok(())
    }

    fn project(&self, _: &EntryMeta<'_>, _: &mut Vec<Change>) {}

    fn example() -> Self {
        Export {
            file: "ledger-2026-12-07.kiroku".into(),
        }
    }
}
