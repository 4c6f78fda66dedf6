//! A fresh store per test: a temporary SQLite file, or a scratch PostgreSQL database.

use kiroku_domain::{Clock, SeededEntropy, Timestamp};
use kiroku_ledger::Signer;
use kiroku_store::writer::{Writer, WriterConfig};
use kiroku_store::{DatabaseUrl, Store};
use std::path::PathBuf;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

pub const ORIGIN: &str = "kiroku.test/ledger";

/// A clock that ticks one millisecond per reading.
pub struct TickingClock(AtomicI64);

impl Clock for TickingClock {
    fn now(&self) -> Timestamp {
        Timestamp(self.0.fetch_add(1000, Ordering::Relaxed))
    }
}

pub struct Fixture {
    pub store: Store,
    pub signer: Signer,
    dir: PathBuf,
    pg: Option<(DatabaseUrl, String)>,
}

fn unique(tag: &str) -> String {
    static COUNTER: AtomicI64 = AtomicI64::new(0);
    format!(
        "kiroku_{}_{}_{}",
        tag,
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}

impl Fixture {
    /// A fixture on the backend the run selects.
    pub fn new(tag: &str) -> Fixture {
        match std::env::var("KIROKU_TEST_BACKEND").as_deref() {
            Ok("postgres") => Fixture::postgres(
                tag,
                &std::env::var("KIROKU_TEST_POSTGRES_URL")
                    .expect("KIROKU_TEST_BACKEND=postgres needs KIROKU_TEST_POSTGRES_URL"),
            ),
            _ => Fixture::sqlite(tag),
        }
    }

    fn sqlite(tag: &str) -> Fixture {
        let dir = std::env::temp_dir().join(unique(tag));
        std::fs::create_dir_all(&dir).unwrap();
        let store = Store::open(&DatabaseUrl::sqlite(dir.join("ledger.db")), 4).unwrap();
        Fixture {
            store,
            signer: signer(),
            dir,
            pg: None,
        }
    }

    fn postgres(tag: &str, server: &str) -> Fixture {
        let server = DatabaseUrl::parse(server).unwrap();
        let name = unique(tag);
        let url = kiroku_store::scratch::create_postgres_database(&server, &name).unwrap();
        let store = Store::open(&url, 4).unwrap();
        let dir = std::env::temp_dir().join(&name);
        Fixture {
            store,
            signer: signer(),
            dir,
            pg: Some((server, name)),
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
}

impl Drop for Fixture {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
        if let Some((server, name)) = &self.pg {
            let _ = kiroku_store::scratch::drop_postgres_database(server, name);
        }
    }
}

pub fn signer() -> Signer {
    Signer::from_seed(ORIGIN, [42; 32]).unwrap()
}
