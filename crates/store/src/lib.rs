//! Kiroku's storage: SQLite (the embedded default) and PostgreSQL behind one interface chosen by
//! the database URL; embedded migrations of the ledger tables and projection tables generated
//! from the contexts' declarations; the group-commit [`writer`] with its preconditions; the
//! blob store; reads of tiles, checkpoints, proofs and projection rows; and one [`replay`]
//! engine behind verification, rebuild, export, import and migration.
//!
//! Knows nothing of HTTP and nothing of any one context: it gets the [`Registry`] of contexts
//! at run time. Every query is bounded.

pub mod bench;
mod db;
pub mod export;
pub mod metrics;
pub mod migrate;
mod postgres_db;
mod preconditions;
pub mod read;
pub mod replay;
mod schema;
pub mod scratch;
mod sql;
mod sqlite_db;
pub mod system;
pub mod url;
pub mod verify;
pub mod watch;
pub mod writer;

use kiroku_core::Registry;
use std::sync::Arc;
use std::time::Duration;

pub use db::StoredCheckpoint;
pub use url::DatabaseUrl;

/// What storage can fail with. Messages carry ids, sizes and limits, never entry content.
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
    /// Stored data is not what the ledger wrote: run `kiroku verify`.
    #[error("stored data is inconsistent: {0}")]
    Corrupt(String),
    /// Rows were put beyond the signed tree behind the writer's back; nothing was appended.
    #[error("{0} — put there behind the writer's back; nothing was appended (run kiroku verify)")]
    Planted(String),
    /// An entry was refused.
    #[error(transparent)]
    Entry(#[from] kiroku_core::EntryError),
    /// An entry's kind or payload was refused.
    #[error(transparent)]
    Kind(#[from] kiroku_core::KindError),
    /// A projection change does not fit its table.
    #[error(transparent)]
    Change(#[from] kiroku_core::projection::ChangeError),
    /// The clock cannot be trusted.
    #[error(transparent)]
    Clock(#[from] kiroku_core::ClockError),
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
    /// No reader connection became free in time (the database is slow or unreachable).
    #[error("no database connection became free within {0:?}")]
    PoolTimeout(Duration),
    /// Signing a checkpoint failed.
    #[error("signing the checkpoint failed: {0}")]
    Sign(String),
    /// A file could not be read or written.
    #[error("{what} {path}: {source}")]
    Io {
        /// What was being done.
        what: &'static str,
        /// Which file.
        path: std::path::PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// A number is beyond what the ledger can hold.
    #[error("out of range: {0}")]
    Limit(String),
    /// The operation was refused because its precondition does not hold (a target that is
    /// not empty, a source that changed meanwhile); nothing was written.
    #[error("{0}")]
    Refused(String),
    /// A defect of this program (a poisoned lock, a thread that could not start).
    #[error("internal error: {0}")]
    Internal(String),
}

impl StoreError {
    /// Is this a problem with the stored data itself (as opposed to a transient fault)?
    pub fn is_corruption(&self) -> bool {
        matches!(self, StoreError::Corrupt(_) | StoreError::Planted(_))
    }

    /// Did the database refuse the data it was given — a value it cannot hold, a constraint,
    /// a size beyond its limits — rather than fail? Such a refusal belongs to one request of a
    /// batch, which the writer then finds and refuses alone.
    pub fn is_data_refusal(&self) -> bool {
        match self {
            // Classes 22 (data exception), 23 (integrity constraint violation) and 54 (program
            // limit exceeded: an index row too large).
            StoreError::Postgres(e) => e
                .code()
                .is_some_and(|code| matches!(code.code().get(..2), Some("22" | "23" | "54"))),
            StoreError::Sqlite(rusqlite::Error::SqliteFailure(e, _)) => matches!(
                e.code,
                rusqlite::ErrorCode::ConstraintViolation
                    | rusqlite::ErrorCode::TooBig
                    | rusqlite::ErrorCode::TypeMismatch
            ),
            _ => false,
        }
    }
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

/// How long a reader waits for a free connection before giving up.
const POOL_WAIT: Duration = Duration::from_secs(10);

/// Opens connections for the pool.
struct Manager {
    url: DatabaseUrl,
}

impl r2d2::ManageConnection for Manager {
    type Connection = Box<dyn db::Db>;
    type Error = StoreError;

    fn connect(&self) -> Result<Box<dyn db::Db>> {
        db::connect(&self.url)
    }

    fn is_valid(&self, _: &mut Box<dyn db::Db>) -> Result<()> {
        Ok(())
    }

    fn has_broken(&self, conn: &mut Box<dyn db::Db>) -> bool {
        conn.is_broken()
    }
}

/// Opened storage: the database URL, the registry of contexts, and a bounded pool of reader
/// connections.
pub struct Store {
    url: DatabaseUrl,
    registry: Arc<Registry>,
    pool: r2d2::Pool<Manager>,
    watch: Arc<watch::Watch>,
}

impl Store {
    /// Connects, applies embedded migrations, makes the projection tables match the registry's
    /// declarations (replaying the ledger into them when they change), and keeps up to
    /// `readers_max` reader connections.
    pub fn open(url: &DatabaseUrl, registry: Arc<Registry>, readers_max: usize) -> Result<Store> {
        let mut first = db::connect(url)?;
        first.migrate()?;
        schema::ensure(first.as_mut(), url, &registry)?;
        let signed = first.latest_checkpoint()?.map_or(0, |c| c.size);
        drop(first);
        let pool = r2d2::Pool::builder()
            .max_size(u32::try_from(readers_max.max(1)).unwrap_or(u32::MAX))
            .min_idle(Some(0))
            .connection_timeout(POOL_WAIT)
            .test_on_check_out(false)
            .error_handler(Box::new(r2d2::NopErrorHandler))
            .build_unchecked(Manager { url: url.clone() });
        Ok(Store {
            url: url.clone(),
            registry,
            pool,
            watch: Arc::new(watch::Watch::new(signed)),
        })
    }

    /// The database URL (with any password masked when displayed).
    pub fn url(&self) -> &DatabaseUrl {
        &self.url
    }

    /// The registry of contexts.
    pub fn registry(&self) -> &Arc<Registry> {
        &self.registry
    }

    /// What counts the entries that change access caches ([`watch::Watch`]).
    pub fn watch(&self) -> &Arc<watch::Watch> {
        &self.watch
    }

    /// Brings the watch up to date with what any process appended (one read of the signed
    /// size, and the kinds of any entries another process appended since): the count of
    /// entries that change access, and the signed size.
    pub fn refresh_watch(&self) -> Result<(u64, u64)> {
        self.watch.refresh(self.reader()?.db())
    }

    /// A reader connection from the pool, waiting up to ten seconds for one to be free.
    pub fn reader(&self) -> Result<Reader> {
        match self.pool.get() {
            Ok(conn) => Ok(Reader(conn)),
            // The pool reports only a timeout; a connection error is retried until then.
            Err(_) => Err(match db::connect(&self.url) {
                Err(e) => e,
                Ok(_) => StoreError::PoolTimeout(POOL_WAIT),
            }),
        }
    }

    /// A connection of its own (for the writer, or a long verification).
    pub(crate) fn connect(&self) -> Result<Box<dyn db::Db>> {
        db::connect(&self.url)
    }

    /// A connection for one pass over the ledger ([`db::connect_scan`]).
    pub(crate) fn connect_scan(&self) -> Result<Box<dyn db::Db>> {
        db::connect_scan(&self.url)
    }
}

/// A pooled reader connection; returns to the pool when dropped.
pub struct Reader(r2d2::PooledConnection<Manager>);

impl Reader {
    pub(crate) fn db(&mut self) -> &mut dyn db::Db {
        self.0.as_mut()
    }
}
