//! The ledger as its custodians and witnesses use it: its status, the signed checkpoint, hash
//! tiles and proofs; verification (recorded as an entry), rebuilding the projections, export;
//! and — on a data directory whose ledger is not open — import and migration to another
//! database.

use crate::config::Config;
use crate::datadir::{self, DataDirError};
use crate::ops::Ops;
use crate::{blocking, Error, Overrides, Result};
use kiroku_core::{Actor, Draft, Request};
use kiroku_ledger::{Hash, Tile, Verifier};
use kiroku_ops::verification::{Outcome, Verification, VerificationRecord};
use kiroku_store::read::{self, ReadError};
use kiroku_store::{DatabaseUrl, Store, StoreError, StoredCheckpoint};
use std::path::Path;
use std::sync::Arc;

pub use kiroku_store::export::Exported;
pub use kiroku_store::migrate::Loaded;
pub use kiroku_store::replay::Problem;
pub use kiroku_store::verify::Report;

/// What the status page shows.
#[derive(Clone, Debug)]
pub struct Status {
    /// The latest signed checkpoint, if any.
    pub checkpoint: Option<StoredCheckpoint>,
    /// The latest recorded verification, if any.
    pub verification: Option<VerificationRecord>,
}

/// Why a tlog read could not be answered.
#[derive(Debug, thiserror::Error)]
pub enum ReadFailure {
    /// What was asked lies outside the signed tree of size `signed`.
    #[error("{what}")]
    OutOfRange {
        /// What was asked.
        what: String,
        /// The signed tree size.
        signed: u64,
    },
    /// Anything else.
    #[error(transparent)]
    Failed(#[from] Error),
}

impl From<ReadError> for ReadFailure {
    fn from(error: ReadError) -> ReadFailure {
        match error {
            ReadError::OutOfRange { what, signed } => ReadFailure::OutOfRange { what, signed },
            ReadError::Store(e) => ReadFailure::Failed(e.into()),
        }
    }
}

impl Ops<'_> {
    /// The latest signed checkpoint.
    pub async fn checkpoint(self) -> Result<Option<StoredCheckpoint>> {
        let store = self.app.store().clone();
        blocking(move || Ok(read::latest_checkpoint(&store)?)).await
    }

    /// The signed tree size (0 for none).
    pub async fn tree_size(self) -> Result<u64> {
        Ok(self.checkpoint().await?.map_or(0, |c| c.size))
    }

    /// The status page's facts.
    pub async fn status(self) -> Result<Status> {
        let store = self.app.store().clone();
        blocking(move || {
            let checkpoint = read::latest_checkpoint(&store)?;
            let verification = read::query(&store, &VerificationRecord::latest())?
                .first()
                .and_then(VerificationRecord::from_row);
            Ok(Status {
                checkpoint,
                verification,
            })
        })
        .await
    }

    /// The hashes of a tile of the signed tree.
    pub async fn tile(self, tile: Tile) -> Result<Vec<u8>, ReadFailure> {
        let store = self.app.store().clone();
        tokio::task::spawn_blocking(move || read::tile(&store, tile).map_err(ReadFailure::from))
            .await
            .map_err(|e| ReadFailure::Failed(Error::Unavailable(e.to_string())))?
    }

    /// The inclusion proof of entry `index` in the tree of `size`.
    pub async fn inclusion_proof(self, index: u64, size: u64) -> Result<Vec<Hash>, ReadFailure> {
        let store = self.app.store().clone();
        tokio::task::spawn_blocking(move || {
            read::inclusion_proof(&store, index, size).map_err(ReadFailure::from)
        })
        .await
        .map_err(|e| ReadFailure::Failed(Error::Unavailable(e.to_string())))?
    }

    /// The consistency proof from the tree of `old` to the tree of `new`.
    pub async fn consistency_proof(self, old: u64, new: u64) -> Result<Vec<Hash>, ReadFailure> {
        let store = self.app.store().clone();
        tokio::task::spawn_blocking(move || {
            read::consistency_proof(&store, old, new).map_err(ReadFailure::from)
        })
        .await
        .map_err(|e| ReadFailure::Failed(Error::Unavailable(e.to_string())))?
    }

    /// The database's durability settings, as it reports them.
    pub fn durability(self) -> Result<String> {
        Ok(read::durability(self.app.store())?)
    }

    /// Verifies the whole ledger (blocking; run it off async threads).
    pub fn verify(self, progress: &mut dyn FnMut(u64, u64)) -> Result<Report> {
        Ok(kiroku_store::verify::verify(
            self.app.store(),
            self.app.origin(),
            self.app.verifier(),
            progress,
        )?)
    }

    /// Records a verification's outcome as a `ledger.verification/1` entry; returns its index.
    pub fn record_verification(self, report: &Report) -> Result<u64> {
        let draft = Draft::new(
            Actor::system(),
            Verification {
                outcome: if report.problem.is_none() {
                    Outcome::Intact
                } else {
                    Outcome::Failed
                },
                tree_size: report.tree_size,
                entries: Some(report.entries),
                checkpoints: Some(report.checkpoints),
                root: Some(report.root.to_base64()),
                detail: report.problem.as_ref().map(|p| p.what.clone()),
            },
        );
        Ok(self
            .app
            .writer()
            .append_blocking(Request::one(draft))?
            .first
            .0)
    }

    /// Replays the ledger into fresh projection tables; returns the entries replayed.
    pub fn rebuild(self) -> Result<u64> {
        Ok(kiroku_store::replay::rebuild_projections(self.app.store())?)
    }

    /// Writes the whole ledger to an export file (refusing to overwrite one, readable by its
    /// owner alone). The export is recorded first, as a `ledger.export/1` entry by the operator,
    /// durable before a byte is written: the file holds the record of its own leaving.
    pub fn export(self, out: &Path, progress: &mut dyn FnMut(u64, u64)) -> Result<Exported> {
        if out.exists() {
            return Err(Error::Refused(format!(
                "{} already exists; export will not overwrite it",
                out.display()
            )));
        }
        let file = out
            .file_name()
            .map(|f| f.to_string_lossy().into_owned())
            .unwrap_or_default();
        let draft = Draft::new(
            Actor::operator("kiroku export"),
            kiroku_ops::export::Export { file },
        );
        self.app.writer().append_blocking(Request::one(draft))?;
        Ok(kiroku_store::export::export(
            self.app.store(),
            self.app.origin(),
            self.app.verifier(),
            out,
            progress,
        )?)
    }
}

/// Why an import or migration could not run.
#[derive(Debug, thiserror::Error)]
pub enum TransferError {
    /// The data directory could not be read.
    #[error(transparent)]
    DataDir(#[from] DataDirError),
    /// The transfer failed; the target holds nothing of it.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The data was copied, but the configuration could not be switched to it.
    #[error("the ledger was copied to {target}, but {dir}/kiroku.toml could not be updated ({why}); set database_url to the new database by hand")]
    Switch {
        /// The new database.
        target: String,
        /// The data directory.
        dir: String,
        /// Why.
        why: String,
    },
}

fn keys(dir: &Path, overrides: &Overrides) -> Result<(Config, Verifier), DataDirError> {
    let config = crate::config_with(dir, overrides)?;
    let signer = datadir::load_signer(dir, &config)?;
    Ok((config, signer.verifier()))
}

/// Loads an export file into the data directory's database (or the one given), which must be
/// empty; checks every leaf, root and signature against the directory's key.
pub fn import(
    dir: &Path,
    file: &Path,
    overrides: &Overrides,
    progress: &mut dyn FnMut(u64, u64),
) -> std::result::Result<Loaded, TransferError> {
    let (config, verifier) = keys(dir, overrides)?;
    let url = config.database(dir).map_err(DataDirError::from)?;
    let store = Store::open(&url, crate::registry(), 2)?;
    Ok(kiroku_store::migrate::import(
        &store,
        file,
        &config.origin,
        &verifier,
        progress,
    )?)
}

/// Copies the data directory's ledger into the empty database at `to`, checking everything,
/// then points the directory at it. The server must be stopped: a source that changes meanwhile
/// is refused and the target left empty. The old database is left as it was.
pub fn migrate(
    dir: &Path,
    to: &str,
    progress: &mut dyn FnMut(u64, u64),
) -> std::result::Result<(Loaded, DatabaseUrl), TransferError> {
    let (mut config, verifier) = keys(dir, &Overrides::default())?;
    let target = DatabaseUrl::parse(to)?;
    let source_url = config.database(dir).map_err(DataDirError::from)?;
    let source = Store::open(&source_url, crate::registry(), 2)?;
    let loaded =
        kiroku_store::migrate::migrate(&source, &target, &config.origin, &verifier, progress)?;
    config.database_url = target.to_config_text();
    config.save(dir).map_err(|e| TransferError::Switch {
        target: target.to_string(),
        dir: dir.display().to_string(),
        why: e.to_string(),
    })?;
    Ok((loaded, target))
}

/// The latest signed checkpoint of a data directory, without starting a writer.
pub fn checkpoint_of(
    dir: &Path,
    overrides: &Overrides,
) -> std::result::Result<Option<StoredCheckpoint>, TransferError> {
    let config = crate::config_with(dir, overrides)?;
    let url = config.database(dir).map_err(DataDirError::from)?;
    let store = Store::open(&url, crate::registry(), 1)?;
    Ok(read::latest_checkpoint(&store)?)
}

/// Verifies a data directory's ledger without starting a writer (for `kiroku verify`, which
/// records the result afterwards through a running [`App`]).
pub fn verify_dir(
    dir: &Path,
    overrides: &Overrides,
    progress: &mut dyn FnMut(u64, u64),
) -> std::result::Result<Report, TransferError> {
    let (config, verifier) = keys(dir, overrides)?;
    let url = config.database(dir).map_err(DataDirError::from)?;
    let store = Arc::new(Store::open(&url, crate::registry(), 1)?);
    Ok(kiroku_store::verify::verify(
        &store,
        &config.origin,
        &verifier,
        progress,
    )?)
}
