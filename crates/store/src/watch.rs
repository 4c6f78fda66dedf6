//! The ledger as the caches above the store see it. What a server remembers about who is asking
//! — a token's client, an account as the policy sees it, the policy in force — is only as good
//! as the last entry that could change it. The watch counts such entries (of the kinds the
//! composition root names; every kind until it does) whichever process appended them: the
//! writer counts its own as it commits them, before it answers anyone; a reader finds what
//! other processes appended — a `kiroku account suspend` on the same SQLite file, another
//! server on the same PostgreSQL — by comparing the signed size with what the watch has seen,
//! and reading the kinds of the entries in between. A cache entry is good while the count it
//! was made at is the count.

use crate::db::Db;
use crate::Result;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock};

/// Most entries another process may have appended that a refresh reads the kinds of; beyond
/// it, the watch counts a change without looking.
const SCAN_MAX: u64 = 4096;

/// Counts the entries that change what access caches hold.
#[derive(Debug, Default)]
pub struct Watch {
    relevant: OnceLock<fn(&str) -> bool>,
    epoch: AtomicU64,
    /// Every entry below this size has been counted.
    seen: Mutex<u64>,
    /// `seen`, for the lock-free check.
    seen_now: AtomicU64,
}

impl Watch {
    /// A watch that has seen the first `size` entries.
    pub(crate) fn new(size: u64) -> Watch {
        Watch {
            seen: Mutex::new(size),
            seen_now: AtomicU64::new(size),
            ..Watch::default()
        }
    }

    /// Names the kinds whose entries change what access caches hold (once; later calls are
    /// ignored). Until it is called, every entry counts.
    pub fn watch_kinds(&self, relevant: fn(&str) -> bool) {
        let _ = self.relevant.set(relevant);
    }

    /// Does an entry of `kind` count?
    pub(crate) fn counts(&self, kind: &str) -> bool {
        self.relevant.get().is_none_or(|relevant| relevant(kind))
    }

    /// The count of entries that change access, as this process knows it now.
    pub fn epoch(&self) -> u64 {
        self.epoch.load(Ordering::Acquire)
    }

    /// Counts a change without knowing which.
    pub(crate) fn bump(&self) {
        self.epoch.fetch_add(1, Ordering::AcqRel);
    }

    /// The writer committed entries `first..size`, of which some counted (`relevant`).
    pub(crate) fn committed(&self, first: u64, size: u64, relevant: bool) {
        if relevant {
            self.bump();
        }
        if let Ok(mut seen) = self.seen.lock() {
            // Entries below `first` that nobody has seen were appended by another process:
            // a reader's refresh will read them.
            if *seen >= first && size > *seen {
                *seen = size;
                self.seen_now.store(size, Ordering::Release);
            }
        }
    }

    /// Brings the count up to date with what any process appended up to the signed size, and
    /// answers the count and that size.
    pub(crate) fn refresh(&self, db: &mut dyn Db) -> Result<(u64, u64)> {
        let signed = db.latest_checkpoint()?.map_or(0, |c| c.size);
        if signed <= self.seen_now.load(Ordering::Acquire) {
            return Ok((self.epoch(), signed));
        }
        let mut seen = match self.seen.lock() {
            Ok(seen) => seen,
            Err(poisoned) => poisoned.into_inner(),
        };
        if signed > *seen {
            let from = *seen;
            if signed - from > SCAN_MAX {
                self.bump();
            } else {
                let bodies = db.bodies(from, signed)?;
                let changed = bodies.iter().any(|body| {
                    // An entry whose kind cannot be read counts: better forget than trust.
                    kiroku_core::entry::decode_raw(body)
                        .map_or(true, |(entry, _)| self.counts(entry.kind.as_str()))
                });
                if changed {
                    self.bump();
                }
            }
            *seen = signed;
            self.seen_now.store(signed, Ordering::Release);
        }
        Ok((self.epoch(), signed))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Shows the writer's own commits counted only when a relevant kind was among them, and a gap
    // left by another process not papered over by the writer.
    #[test]
    fn commits_count_relevant_entries() {
        let watch = Watch::new(10);
        watch.watch_kinds(|kind| kind.starts_with("access."));
        assert!(watch.counts("access.token_revocation/1"));
        assert!(!watch.counts("records.disclosure/1"));
        watch.committed(10, 12, false);
        assert_eq!(watch.epoch(), 0);
        watch.committed(12, 13, true);
        assert_eq!(watch.epoch(), 1);
        // Entries 13..20 came from another process: seen stays at 13 for a reader to read.
        watch.committed(20, 22, false);
        assert_eq!(*watch.seen.lock().unwrap(), 13);
    }
}
