//! Kiroku's use cases: what a person or a program can do, each written once for every edge
//! (HTTP, web pages, the `kiroku` command). A use case authenticates the caller, loads the state
//! its rule needs, runs the rule (a pure function of a context), appends the resulting request
//! with its preconditions, and answers — so this crate is the only caller of the writer. It
//! also owns what both edges need: the data directory, its configuration, and the registry of
//! contexts.
//!
//! Knows nothing of HTTP or SQL dialects.

pub mod access;
pub mod config;
pub mod datadir;
pub mod gate;
pub mod ops;
pub mod policy;
pub mod records;
mod rows;

use crate::config::Config;
use crate::datadir::DataDirError;
use kiroku_core::{Actor, Clock, Conflict, Entropy, Registry};
use kiroku_ledger::{Checkpoint, Signer, Verifier};
use kiroku_store::system::{OsEntropy, SystemClock};
use kiroku_store::writer::{AppendError, Writer, WriterHandle};
use kiroku_store::{Store, StoreError};
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};
use subtle::ConstantTimeEq as _;

pub use config::Limits;
pub use kiroku_store::metrics::WriterMetrics;
pub use kiroku_store::DatabaseUrl;

/// Every context of this build, registered once.
pub fn registry() -> Arc<Registry> {
    static REGISTRY: OnceLock<Arc<Registry>> = OnceLock::new();
    REGISTRY
        .get_or_init(|| {
            // The contexts are this crate's own constants; a registry they cannot form is a
            // defect the registry tests catch before any release.
            match Registry::new(&[
                &kiroku_ops::Ops,
                &kiroku_access::Access,
                &kiroku_policy::Policy,
                &kiroku_records::Records,
            ]) {
                Ok(registry) => Arc::new(registry),
                Err(e) => {
                    #[allow(clippy::panic)]
                    {
                        panic!("the built-in contexts do not form a registry: {e}")
                    }
                }
            }
        })
        .clone()
}

/// Do entries of this kind change who may do what — accounts, roles, tokens, scopes, policy
/// versions?
fn access_changes(kind: &str) -> bool {
    kind.starts_with("access.") || kind.starts_with("policy.")
}

/// Why a use case failed. The edges turn each into a status and a message in the user's
/// language; causes of system faults are logged there, not shown.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The caller is not who they claim to be.
    #[error("not authenticated")]
    Unauthorized,
    #[error(transparent)]
    Policy(#[from] kiroku_policy::PolicyError),
    /// The state moved on under the request; nothing was written.
    #[error(transparent)]
    Conflict(Conflict),
    /// The request was refused (an export over an existing file, a non-empty target…).
    #[error("{0}")]
    Refused(String),
    /// An entry could not be made from the request (a limit, an invalid field).
    #[error("the entry was refused: {0}")]
    Invalid(String),
    /// Stored data is damaged: run `kiroku verify`.
    #[error("stored data is inconsistent: {0}")]
    Corrupt(String),
    /// The ledger cannot take or serve data right now (database down, writer stopped).
    #[error("the ledger is unavailable: {0}")]
    Unavailable(String),
    /// A step about people and access was refused.
    #[error(transparent)]
    Access(#[from] access::Error),
    /// A step about clinical records was refused.
    #[error(transparent)]
    Records(#[from] records::Error),
    /// A step about the ledger or its notes was refused.
    #[error(transparent)]
    Ops(#[from] ops::Error),
}

impl From<kiroku_ops::note::NoteError> for Error {
    fn from(error: kiroku_ops::note::NoteError) -> Error {
        Error::Ops(ops::Error::Note(error))
    }
}

impl From<kiroku_ops::amendment::AmendError> for Error {
    fn from(error: kiroku_ops::amendment::AmendError) -> Error {
        Error::Ops(ops::Error::Amend(error))
    }
}

impl From<kiroku_access::AccessError> for Error {
    fn from(error: kiroku_access::AccessError) -> Error {
        Error::Access(access::Error::Rule(error))
    }
}

impl From<kiroku_access::password::PasswordError> for Error {
    fn from(error: kiroku_access::password::PasswordError) -> Error {
        Error::Access(access::Error::Password(error))
    }
}

impl From<kiroku_records::record::RecordError> for Error {
    fn from(error: kiroku_records::record::RecordError) -> Error {
        Error::Records(records::Error::Record(error))
    }
}

impl From<records::SearchError> for Error {
    fn from(error: records::SearchError) -> Error {
        Error::Records(records::Error::Search(error))
    }
}

impl From<kiroku_records::emergency::EmergencyError> for Error {
    fn from(error: kiroku_records::emergency::EmergencyError) -> Error {
        Error::Records(records::Error::Emergency(error))
    }
}

impl From<kiroku_records::transaction::TransactionError> for Error {
    fn from(error: kiroku_records::transaction::TransactionError) -> Error {
        Error::Records(records::Error::Transaction(error))
    }
}

impl From<StoreError> for Error {
    fn from(error: StoreError) -> Error {
        match error {
            StoreError::Refused(what) => Error::Refused(what),
            e if e.is_corruption() => Error::Corrupt(e.to_string()),
            e => Error::Unavailable(e.to_string()),
        }
    }
}

impl From<AppendError> for Error {
    fn from(error: AppendError) -> Error {
        match error {
            AppendError::Conflict(conflict) => Error::Conflict(conflict),
            AppendError::Invalid(e) => Error::Invalid(e.to_string()),
            AppendError::Reference { .. }
            | AppendError::Count { .. }
            | AppendError::Rejected(_) => Error::Invalid(error.to_string()),
            AppendError::Clock(_) | AppendError::Failed(_) | AppendError::Stopped => {
                Error::Unavailable(error.to_string())
            }
        }
    }
}

/// Result of a use case.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Settings given on the command line that override the configuration file.
#[derive(Clone, Debug, Default)]
pub struct Overrides {
    /// `--database-url`.
    pub database_url: Option<String>,
    /// `--listen`.
    pub listen: Option<String>,
}

/// A running Kiroku: the configuration, store, writer and keys of one data directory, checked
/// against each other at start-up (the database must hold this origin's ledger, signed by this
/// key) before anything is served.
pub struct App {
    /// The data directory.
    pub dir: PathBuf,
    /// Its configuration (with overrides applied).
    pub config: Config,
    store: Arc<Store>,
    verifier: Verifier,
    operator_token_sha256: [u8; 32],
    clock: Arc<dyn Clock>,
    entropy: Arc<dyn Entropy>,
    sessions: access::sessions::Sessions,
    policy: Arc<gate::PolicyCache>,
    bearer_tokens: Arc<access::clients::BearerTokens>,
    used_steps: Arc<access::factors::UsedSteps>,
    listening: OnceLock<std::net::SocketAddr>,
    writer: Writer,
    unaudited_reads: std::sync::atomic::AtomicBool,
    /// Password hashes computed at once: Argon2id takes 19 MiB and a core's worth of time
    /// each, so a burst of sign-ins (for unknown ids too) waits here rather than exhausting
    /// the machine.
    hashes: Arc<tokio::sync::Semaphore>,
    /// The data directory's sealing key (`factor.key`), once read or made.
    sealing_key: OnceLock<[u8; 32]>,
}

/// Password hashes (Argon2id) computed at once, at most: one per core of this two-core class
/// of machine, so that signing in never starves the ledger's own work.
pub const PASSWORD_HASHES_MAX: usize = 2;

/// How long a sign-in waits for its turn to hash before it is told the server is busy.
const HASH_WAIT: std::time::Duration = std::time::Duration::from_secs(10);

impl App {
    /// Opens a data directory with the system clock and entropy.
    pub fn open(dir: &Path, overrides: &Overrides) -> Result<App, DataDirError> {
        App::open_with(dir, overrides, Arc::new(SystemClock), Arc::new(OsEntropy))
    }

    /// Opens a data directory with the given clock and entropy.
    pub fn open_with(
        dir: &Path,
        overrides: &Overrides,
        clock: Arc<dyn Clock>,
        entropy: Arc<dyn Entropy>,
    ) -> Result<App, DataDirError> {
        let config = config_with(dir, overrides)?;
        let signer = datadir::load_signer(dir, &config)?;
        let token = datadir::load_operator_token(dir, &config)?;
        let url = config.database(dir)?;
        let store = Store::open(&url, registry(), config.limits.db_readers_max)?;
        // What the gates remember about who is asking is good until an entry of these kinds
        // is appended, by this process or another.
        store.watch().watch_kinds(access_changes);
        check_ledger(&store, &config.origin, &signer)?;
        let verifier = signer.verifier();
        let writer = Writer::start(
            &store,
            signer,
            config.origin.clone(),
            clock.clone(),
            entropy.clone(),
            config.limits.writer(),
        )?;
        Ok(App {
            dir: dir.to_path_buf(),
            config,
            store: Arc::new(store),
            verifier,
            operator_token_sha256: Sha256::digest(token.as_bytes()).into(),
            clock,
            entropy,
            sessions: access::sessions::Sessions::default(),
            policy: Arc::default(),
            bearer_tokens: Arc::default(),
            used_steps: Arc::default(),
            listening: OnceLock::new(),
            writer,
            unaudited_reads: std::sync::atomic::AtomicBool::new(false),
            hashes: Arc::new(tokio::sync::Semaphore::new(PASSWORD_HASHES_MAX)),
            sealing_key: OnceLock::new(),
        })
    }

    /// Runs `work`, which hashes or checks a password, on a worker thread once one of the
    /// [`PASSWORD_HASHES_MAX`] turns is free; after [`HASH_WAIT`] without one the caller is
    /// told the server is busy, and nothing was checked.
    pub(crate) async fn hashing<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> Result<T> + Send + 'static,
    ) -> Result<T> {
        let turn = tokio::time::timeout(HASH_WAIT, self.hashes.clone().acquire_owned())
            .await
            .map_err(|_| Error::Unavailable("too many sign-ins are being checked at once".into()))?
            .map_err(|_| Error::Unavailable("the server is stopping".into()))?;
        let result = blocking(work).await;
        drop(turn);
        result
    }

    /// The entropy salts, secrets and session tokens are drawn from.
    pub(crate) fn entropy(&self) -> &Arc<dyn Entropy> {
        &self.entropy
    }

    /// Tells the app the address its server listens on, once bound (the configured port may
    /// be 0): passkeys without a `public_url` are scoped to `localhost` at this port.
    pub fn listening_on(&self, addr: std::net::SocketAddr) {
        let _ = self.listening.set(addr);
    }

    /// The port the server listens on: as bound, or as configured.
    pub(crate) fn port(&self) -> Option<u16> {
        self.listening
            .get()
            .map(std::net::SocketAddr::port)
            .or_else(|| self.config.listen_addr().ok().map(|a| a.port()))
    }

    /// The server's own base URL for the links it answers with (`Location`, a Bundle's
    /// `fullUrl`): the configured public URL, or else the address it listens on — never the
    /// request's `Host` header, which the client writes.
    pub fn base_url(&self) -> String {
        if let Some(url) = &self.config.public_url {
            return url.trim_end_matches('/').to_owned();
        }
        let addr = self
            .listening
            .get()
            .copied()
            .or_else(|| self.config.listen_addr().ok());
        match addr {
            Some(addr) if addr.ip().is_unspecified() => format!("http://localhost:{}", addr.port()),
            Some(addr) => format!("http://{addr}"),
            None => "http://localhost".into(),
        }
    }

    /// The TOTP steps accepted per account.
    pub(crate) fn used_steps(&self) -> &Arc<access::factors::UsedSteps> {
        &self.used_steps
    }

    pub(crate) fn policy_cache(&self) -> &Arc<gate::PolicyCache> {
        &self.policy
    }

    /// The signed-in sessions.
    pub(crate) fn sessions(&self) -> &access::sessions::Sessions {
        &self.sessions
    }

    /// The ledger's origin.
    pub fn origin(&self) -> &str {
        &self.config.origin
    }

    /// The key that verifies the ledger's checkpoints.
    pub fn verifier(&self) -> &Verifier {
        &self.verifier
    }

    /// The clock everything is stamped with.
    pub fn clock(&self) -> &Arc<dyn Clock> {
        &self.clock
    }

    /// The database's URL (password masked when displayed).
    pub fn database(&self) -> &DatabaseUrl {
        self.store.url()
    }

    /// The writer's metrics, for `/metrics`.
    pub fn writer_metrics(&self) -> Arc<WriterMetrics> {
        self.writer.handle().metrics().clone()
    }

    pub(crate) fn writer(&self) -> WriterHandle {
        self.writer.handle()
    }

    pub(crate) fn store(&self) -> &Arc<Store> {
        &self.store
    }

    /// Who holds this operator token? Compared in constant time over its SHA-256, so neither
    /// the token nor its length leaks through timing.
    pub fn authenticate_operator(&self, token: &str, channel: &str) -> Result<Actor> {
        let digest: [u8; 32] = Sha256::digest(token.trim().as_bytes()).into();
        if bool::from(digest.ct_eq(&self.operator_token_sha256)) {
            Ok(Actor::operator(channel))
        } else {
            Err(Error::Unauthorized)
        }
    }

    /// Stops the writer after committing what is queued.
    pub fn shutdown(self) {
        self.writer.shutdown();
    }
}

/// The configuration of a data directory with overrides applied, validated.
pub fn config_with(dir: &Path, overrides: &Overrides) -> Result<Config, DataDirError> {
    let mut config = Config::load(dir)?;
    if let Some(url) = &overrides.database_url {
        config.database_url = url.clone();
    }
    if let Some(listen) = &overrides.listen {
        config.listen = listen.clone();
    }
    config.validate()?;
    Ok(config)
}

/// Refuses a database that holds no ledger, or another origin's, or one signed by another key.
fn check_ledger(store: &Store, origin: &str, signer: &Signer) -> Result<(), DataDirError> {
    let latest = kiroku_store::read::latest_checkpoint(store)?.ok_or_else(|| {
        DataDirError::Ledger(format!(
            "the database {} holds no ledger; run `kiroku init` first",
            store.url()
        ))
    })?;
    Checkpoint::open(&latest.note, origin, &signer.verifier()).map_err(|e| {
        DataDirError::Ledger(format!(
            "the latest checkpoint in {} is not this ledger's ({e}); is this the right database and key?",
            store.url()
        ))
    })?;
    Ok(())
}

/// Runs blocking store work off the async threads.
pub(crate) async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T> + Send + 'static,
) -> Result<T> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| Error::Unavailable(format!("a worker thread failed: {e}")))?
}
