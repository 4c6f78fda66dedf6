//! A running Kiroku: configuration, store, writer and keys of one data directory, checked
//! against each other at start-up (the database must hold this origin's ledger, signed by this
//! key) before anything is served.

use crate::config::Config;
use crate::datadir::{self, DataDirError};
use kiroku_domain::entry::Draft;
use kiroku_domain::{Actor, Clock, Entropy, Kind};
use kiroku_ledger::{Checkpoint, Signer, Verifier};
use kiroku_store::system::{OsEntropy, SystemClock};
use kiroku_store::writer::{AppendError, Receipt, Writer, WriterHandle};
use kiroku_store::Store;
use serde_json::json;
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Settings given on the command line that override the configuration file.
#[derive(Clone, Debug, Default)]
pub struct Overrides {
    /// `--database-url`.
    pub database_url: Option<String>,
    /// `--listen`.
    pub listen: Option<String>,
}

/// An opened data directory with its writer running.
pub struct Instance {
    /// The data directory.
    pub dir: PathBuf,
    /// Its configuration (with overrides applied).
    pub config: Config,
    /// The store.
    pub store: Arc<Store>,
    /// The verifier key.
    pub verifier: Verifier,
    /// SHA-256 of the operator token.
    pub operator_token_sha256: [u8; 32],
    /// The clock everything is stamped with.
    pub clock: Arc<dyn Clock>,
    writer: Writer,
}

impl Instance {
    /// Opens a data directory with the system clock and entropy.
    pub fn open(dir: &Path, overrides: &Overrides) -> Result<Instance, DataDirError> {
        Instance::open_with(dir, overrides, Arc::new(SystemClock), Arc::new(OsEntropy))
    }

    /// Opens a data directory with the given clock and entropy.
    pub fn open_with(
        dir: &Path,
        overrides: &Overrides,
        clock: Arc<dyn Clock>,
        entropy: Arc<dyn Entropy>,
    ) -> Result<Instance, DataDirError> {
        let mut config = Config::load(dir)?;
        if let Some(url) = &overrides.database_url {
            config.database_url = url.clone();
        }
        if let Some(listen) = &overrides.listen {
            config.listen = listen.clone();
        }
        config.validate()?;
        let signer = datadir::load_signer(dir, &config)?;
        let token = datadir::load_operator_token(dir, &config)?;
        let url = config.database(dir)?;
        let store = Store::open(&url, config.limits.db_readers_max)?;
        check_ledger(&store, &config.origin, &signer)?;
        let verifier = signer.verifier();
        let writer = Writer::start(
            &store,
            signer,
            config.origin.clone(),
            clock.clone(),
            entropy,
            config.limits.writer(),
        )?;
        Ok(Instance {
            dir: dir.to_path_buf(),
            config,
            store: Arc::new(store),
            verifier,
            operator_token_sha256: Sha256::digest(token.as_bytes()).into(),
            clock,
            writer,
        })
    }

    /// A handle for appending.
    pub fn writer(&self) -> WriterHandle {
        self.writer.handle()
    }

    /// Appends an operator's note.
    pub fn append_note(&self, text: &str, channel: &str) -> Result<Receipt, AppendError> {
        self.writer()
            .append_blocking(vec![note_draft(text, channel)?])
    }

    /// Stops the writer after committing what is queued.
    pub fn shutdown(self) {
        self.writer.shutdown();
    }
}

/// The draft of an operator's note.
pub fn note_draft(text: &str, channel: &str) -> Result<Draft, AppendError> {
    Ok(Draft {
        kind: Kind::new(Kind::LEDGER_NOTE)?,
        actor: Actor::operator(channel),
        subject: None,
        reason: None,
        payload: json!({ "text": text }),
    })
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

/// Records the outcome of a verification in the ledger (`ledger.verification/1`).
pub fn record_verification(
    instance: &Instance,
    report: &kiroku_store::verify::Report,
) -> Result<Receipt, AppendError> {
    let (outcome, detail) = match &report.problem {
        None => ("intact", None),
        Some(p) => ("failed", Some(p.what.clone())),
    };
    let mut payload = json!({
        "outcome": outcome,
        "tree_size": report.tree_size,
        "entries": report.entries,
        "checkpoints": report.checkpoints,
        "root": report.root.to_base64(),
    });
    if let (Some(detail), Some(map)) = (detail, payload.as_object_mut()) {
        map.insert("detail".into(), json!(detail));
    }
    instance.writer().append_blocking(vec![Draft {
        kind: Kind::new(Kind::LEDGER_VERIFICATION)?,
        actor: Actor::system(),
        subject: None,
        reason: None,
        payload,
    }])
}
