//! Kiroku's storage: SQLite (the embedded default) and PostgreSQL behind one interface chosen by
//! the database URL; embedded migrations; the group-commit [`writer`]; the blob store; the
//! projections applied in the writer's transaction; reads of tiles, checkpoints and proofs; and
//! [`verify`], which replays the whole ledger.
//!
//! Knows nothing of HTTP. Every query is bounded.

pub mod bench;
mod db;
pub mod metrics;
mod postgres_db;
pub mod read;
pub mod scratch;
mod sqlite_db;
pub mod system;
pub mod url;
pub mod verify;
pub mod writer;

use std::sync::{Condvar, Mutex};
use std::time::Duration;

pub use db::{Page, StoredCheckpoint};
pub use url::DatabaseUrl;

/// What storage can fail with. Messages carry ids and limits, never entry content.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// SQLite failed.
    #[error("SQLite: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// PostgreSQL failed.
    #[error("PostgreSQL: {}", postgres_message(.0))]
    Postgres(#[from] postgres::Error),
    /// The database URL is not one Kiroku understands.
    #[error("database URL: {0}")]
    Url(String),
    /// Stored data is not what the ledger wrote.
    #[error("stored data is inconsistent: {0}")]
    Corrupt(String),
    /// An entry was refused.
    #[error(transparent)]
    Entry(#[from] kiroku_domain::EntryError),
    /// The writer has stopped.
    #[error("the ledger writer has stopped")]
    WriterStopped,
    /// The database schema is newer than this program.
    #[error("database schema version {found} is newer than this program's {known}")]
    SchemaTooNew {
        /// Found in the database.
        found: i64,
        /// The newest this program knows.
        known: i64,
    },
    /// No reader connection became free in time.
    #[error("no database connection became free within {0:?}")]
    PoolTimeout(Duration),
    /// Signing a checkpoint failed.
    #[error("signing the checkpoint failed: {0}")]
    Sign(String),
}

/// The server's message where there is one (not its detail, which can quote values).
fn postgres_message(error: &postgres::Error) -> String {
    match error.as_db_error() {
        Some(db) => format!("{} ({})", db.message(), db.code().code()),
        None => error.to_string(),
    }
}

/// Result with [`StoreError`].
pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// Opened storage: the database URL, and a bounded pool of reader connections.
pub struct Store {
    url: DatabaseUrl,
    idle: Mutex<PoolState>,
    freed: Condvar,
    readers_max: usize,
}

struct PoolState {
    idle: Vec<Box<dyn db::Db>>,
    open: usize,
}

/// How long a reader waits for a free connection before giving up.
const POOL_WAIT: Duration = Duration::from_secs(10);

impl Store {
    /// Connects, applies embedded migrations, and keeps up to `readers_max` reader connections.
    pub fn open(url: &DatabaseUrl, readers_max: usize) -> Result<Store> {
        let mut first = db::connect(url)?;
        first.migrate()?;
        Ok(Store {
            url: url.clone(),
            idle: Mutex::new(PoolState {
                idle: vec![first],
                open: 1,
            }),
            freed: Condvar::new(),
            readers_max: readers_max.max(1),
        })
    }

    /// The database URL (with any password masked when displayed).
    pub fn url(&self) -> &DatabaseUrl {
        &self.url
    }

    /// A reader connection from the pool, waiting up to ten seconds for one to be free.
    pub fn reader(&self) -> Result<Reader<'_>> {
        let mut state = self
            .idle
            .lock()
            .map_err(|_| StoreError::Corrupt("pool lock poisoned".into()))?;
        loop {
            if let Some(conn) = state.idle.pop() {
                return Ok(Reader {
                    store: self,
                    conn: Some(conn),
                });
            }
            if state.open < self.readers_max {
                state.open += 1;
                drop(state);
                return match db::connect(&self.url) {
                    Ok(conn) => Ok(Reader {
                        store: self,
                        conn: Some(conn),
                    }),
                    Err(e) => {
                        if let Ok(mut state) = self.idle.lock() {
                            state.open -= 1;
                        }
                        Err(e)
                    }
                };
            }
            let (next, timeout) = self
                .freed
                .wait_timeout(state, POOL_WAIT)
                .map_err(|_| StoreError::Corrupt("pool lock poisoned".into()))?;
            state = next;
            if timeout.timed_out() && state.idle.is_empty() {
                return Err(StoreError::PoolTimeout(POOL_WAIT));
            }
        }
    }

    /// A connection of its own (for the writer, or a long verification).
    pub(crate) fn connect(&self) -> Result<Box<dyn db::Db>> {
        db::connect(&self.url)
    }
}

/// A pooled reader connection; returns to the pool when dropped.
pub struct Reader<'a> {
    store: &'a Store,
    conn: Option<Box<dyn db::Db>>,
}

impl Reader<'_> {
    pub(crate) fn db(&mut self) -> &mut dyn db::Db {
        match self.conn.as_mut() {
            Some(conn) => conn.as_mut(),
            None => unreachable_conn(),
        }
    }
}

#[allow(clippy::panic)]
fn unreachable_conn() -> ! {
    // A Reader holds its connection until dropped; this cannot happen.
    panic!("reader used after release")
}

impl Drop for Reader<'_> {
    fn drop(&mut self) {
        if let (Some(conn), Ok(mut state)) = (self.conn.take(), self.store.idle.lock()) {
            if conn.is_broken() {
                // A dead connection is dropped; the next reader opens a fresh one.
                state.open -= 1;
            } else {
                state.idle.push(conn);
            }
            self.store.freed.notify_one();
        }
    }
}
