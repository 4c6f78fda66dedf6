//! A fresh store per test, cloned from the template of the selected backend, with a writer on
//! a deterministic clock and entropy.

use kiroku_core::{Actor, Clock, ClockError, Draft, EntryKind, Request, SeededEntropy, Timestamp};
use kiroku_ledger::Signer;
use kiroku_store::scratch::{Backend, ScratchDb};
use kiroku_store::verify::{verify, Report};
use kiroku_store::writer::{AppendError, Receipt, Writer, WriterConfig, WriterHandle};
use kiroku_store::Store;
use std::path::PathBuf;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

pub const ORIGIN: &str = "kiroku.test/ledger";

/// A clock that ticks one millisecond per reading.
pub struct TickingClock(pub AtomicI64);

impl Clock for TickingClock {
    fn now(&self) -> Result<Timestamp, ClockError> {
        Timestamp::from_micros(self.0.fetch_add(1000, Ordering::Relaxed))
            .ok_or(ClockError::OutOfRange)
    }
}

pub struct Fixture {
    pub store: Store,
    pub signer: Signer,
    pub scratch: ScratchDb,
    dir: PathBuf,
}

impl Fixture {
    /// A fixture on the backend the run selects, with the exercise context.
    pub fn new(tag: &str) -> Fixture {
        Fixture::with(tag, crate::exercise::registry())
    }

    pub fn with(tag: &str, registry: Arc<kiroku_core::Registry>) -> Fixture {
        let backend = Backend::from_env().unwrap();
        let dir = std::env::temp_dir().join(kiroku_store::scratch::unique_name(tag));
        let scratch = ScratchDb::new(&backend, &registry, &dir, tag).unwrap();
        let store = Store::open(&scratch.url, registry, 4).unwrap();
        Fixture {
            store,
            signer: Signer::from_seed(ORIGIN, [42; 32]).unwrap(),
            scratch,
            dir,
        }
    }

    pub fn writer(&self, config: WriterConfig) -> Writer {
        Writer::start(
            &self.store,
            self.signer.clone(),
            ORIGIN.into(),
            Arc::new(TickingClock(AtomicI64::new(1_700_000_000_000_000))),
            Arc::new(SeededEntropy::new(7)),
            config,
        )
        .unwrap()
    }

    pub fn backend(&self) -> &'static str {
        self.store.url().backend_name()
    }

    pub fn verify(&self) -> Report {
        verify(&self.store, ORIGIN, &self.signer.verifier(), &mut |_, _| {}).unwrap()
    }

    /// Runs raw SQL as an attacker would: the append-only guards of the ledger tables
    /// removed first.
    pub fn tamper(&self, sql: &str) {
        let unguard = match self.backend() {
            "sqlite" => {
                let mut sql = String::new();
                for table in ["entries", "tree_nodes", "checkpoints", "blobs"] {
                    sql.push_str(&format!(
                        "DROP TRIGGER IF EXISTS {table}_no_update; DROP TRIGGER IF EXISTS {table}_no_delete;"
                    ));
                }
                sql
            }
            _ => "ALTER TABLE entries DISABLE TRIGGER USER; ALTER TABLE tree_nodes DISABLE TRIGGER USER; ALTER TABLE checkpoints DISABLE TRIGGER USER; ALTER TABLE blobs DISABLE TRIGGER USER;".into(),
        };
        kiroku_store::read::execute_raw(&self.store, &unguard).unwrap();
        kiroku_store::read::execute_raw(&self.store, sql).unwrap();
    }
}

impl Drop for Fixture {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Appends one entry of kind `K` by the system.
pub fn append<K: EntryKind>(writer: &WriterHandle, payload: K) -> Result<Receipt, AppendError> {
    writer.append_blocking(Request::one(Draft::new(Actor::system(), payload)))
}
