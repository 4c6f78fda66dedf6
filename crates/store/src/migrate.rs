//! Import and migration: loading a whole ledger into an empty database of either backend by
//! replay. Every leaf is rehashed, every root and signature checked against the data
//! directory's verifier key, tree nodes recomputed, and the projections rebuilt from the
//! entries — all in one transaction on the target, committed only when everything checked. So a
//! failure leaves the target as empty as it was, and a success leaves a ledger whose
//! checkpoints, roots and projections are those of the source.

use crate::db::{AppendBatch, Db, StoredCheckpoint};
use crate::export::FileSource;
use crate::replay::{self, CheckedPage, DbPages, Signed, Sink, Work};
use crate::url::DatabaseUrl;
use crate::{Result, Store, StoreError};
use kiroku_core::projection::Net;
use kiroku_core::EntryIndex;
use kiroku_ledger::{Hash, Verifier};
use std::path::Path;
use std::sync::mpsc::{sync_channel, Receiver, SyncSender};

/// Entries per page when loading (larger pages, fewer round trips).
const LOAD_PAGE: u64 = 4096;

/// What a load wrote.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Loaded {
    /// Entries loaded.
    pub entries: u64,
    /// Checkpoints loaded.
    pub checkpoints: u64,
    /// The root of the loaded tree.
    pub root: Hash,
}

/// A checked page as the loader writes it.
struct LoadPage {
    first: u64,
    entries: Vec<(Hash, Vec<u8>)>,
    blobs: Vec<(Hash, Vec<u8>)>,
    nodes: Vec<(u8, u64, Hash)>,
    net: Net,
    checkpoints: Vec<StoredCheckpoint>,
}

/// Hands each checked page to the loader thread, which writes it into the target inside its
/// open transaction while the replay goes on with the next pages.
struct LoadSink {
    pages: SyncSender<LoadPage>,
    nodes: Vec<(u8, u64, Hash)>,
}

impl Sink for LoadSink {
    fn node(&mut self, level: u8, index: u64, hash: Hash) -> Result<Option<replay::Problem>> {
        self.nodes.push((level, index, hash));
        Ok(None)
    }

    fn page(&mut self, page: CheckedPage) -> Result<()> {
        let Some(first) = page.entries.first().map(|c| c.idx) else {
            return Ok(());
        };
        let mut net = Net::new();
        let mut entries = Vec::with_capacity(page.entries.len());
        let mut blobs = Vec::new();
        for checked in page.entries {
            let index = EntryIndex(checked.idx);
            for change in checked.changes {
                net.add(change, index);
            }
            if let Some(blob) = checked.blob {
                blobs.push(blob);
            }
            entries.push((checked.leaf, checked.body));
        }
        let page = LoadPage {
            first,
            entries,
            blobs,
            nodes: std::mem::take(&mut self.nodes),
            net,
            checkpoints: page.checkpoints.into_iter().map(|(c, _)| c).collect(),
        };
        self.pages
            .send(page)
            .map_err(|_| StoreError::Internal("the loader stopped".into()))
    }
}

/// Writes pages into the target until the replay hangs up.
fn loader(db: &mut dyn Db, pages: Receiver<LoadPage>) -> Result<()> {
    for page in pages {
        db.load(
            &AppendBatch {
                first: page.first,
                entries: page
                    .entries
                    .iter()
                    .map(|(l, b)| (*l, b.as_slice()))
                    .collect(),
                nodes: page.nodes,
                blobs: page.blobs.iter().map(|(h, c)| (*h, c.as_slice())).collect(),
                net: &page.net,
                checkpoint: None,
            },
            &page.checkpoints,
        )?;
    }
    Ok(())
}

/// Takes the append lock on an empty target and opens its transaction; refuses a target that
/// holds anything of a ledger.
fn lock_empty_target(target: &Store) -> Result<Box<dyn Db>> {
    let mut db = target.connect()?;
    db.begin_locked()?;
    let empty = (|| -> Result<bool> {
        Ok(db.latest_checkpoint()?.is_none()
            && db.max_entry_index()?.is_none()
            && db.node_rows(1, 0, 1)?.is_empty())
    })();
    match empty {
        Ok(true) => Ok(db),
        Ok(false) => {
            db.rollback();
            Err(StoreError::Refused(format!(
                "the target database {} is not empty; give an empty database",
                target.url()
            )))
        }
        Err(e) => {
            db.rollback();
            Err(e)
        }
    }
}

/// Replays `source` into the locked, empty target `db` and checks the result reaches
/// `tree_size`; the caller commits or rolls back.
fn load_into(
    db: &mut dyn Db,
    target: &Store,
    source: Box<dyn replay::Source>,
    worker_db: &(dyn Fn() -> Result<Option<Box<dyn Db>>> + Sync),
    signed: Signed<'_>,
    tree_size: u64,
    progress: &mut dyn FnMut(u64, u64),
) -> Result<Loaded> {
    let replayed = std::thread::scope(|scope| {
        let (pages, received) = sync_channel(2);
        let loading = std::thread::Builder::new()
            .name("kiroku-load".into())
            .spawn_scoped(scope, move || loader(db, received))
            .map_err(|e| StoreError::Internal(format!("cannot start the loader: {e}")))?;
        let mut sink = LoadSink {
            pages,
            nodes: Vec::new(),
        };
        let replayed = replay::run(
            target.registry(),
            source,
            worker_db,
            Work::Keep,
            Some(signed),
            &mut sink,
            &mut |done| progress(done, tree_size),
        );
        drop(sink);
        let loaded = loading
            .join()
            .map_err(|_| StoreError::Internal("the loader failed".into()))?;
        // A loader error explains a replay that stopped sending.
        loaded?;
        replayed
    })?;
    if let Some(p) = replayed.problem {
        return Err(StoreError::Corrupt(format!(
            "{}; nothing was loaded",
            p.what
        )));
    }
    if replayed.entries != tree_size || replayed.last_checkpoint != tree_size {
        return Err(StoreError::Corrupt(format!(
            "the ledger read ends at entry {} with a checkpoint at size {}, but should reach size {tree_size}; nothing was loaded",
            replayed.entries, replayed.last_checkpoint
        )));
    }
    Ok(Loaded {
        entries: replayed.entries,
        checkpoints: replayed.checkpoints,
        root: replayed.root,
    })
}

/// Loads an export file into the empty database of `target`, checking it against this
/// ledger's origin and verifier key.
pub fn import(
    target: &Store,
    file: &Path,
    origin: &str,
    verifier: &Verifier,
    progress: &mut dyn FnMut(u64, u64),
) -> Result<Loaded> {
    let (source, header) = FileSource::open(file, LOAD_PAGE)?;
    if header.origin != origin || header.verifier_key != verifier.to_text() {
        return Err(StoreError::Refused(format!(
            "the export file is of ledger {:?} with another key or origin than this data directory's ({origin:?})",
            header.origin
        )));
    }
    let mut db = lock_empty_target(target)?;
    let none = || Ok(None);
    let loaded = load_into(
        db.as_mut(),
        target,
        Box::new(source),
        &none,
        Signed { origin, verifier },
        header.tree_size,
        progress,
    );
    finish(db.as_mut(), loaded)
}

fn finish(db: &mut dyn Db, loaded: Result<Loaded>) -> Result<Loaded> {
    match loaded {
        Ok(loaded) => {
            db.commit()?;
            Ok(loaded)
        }
        Err(e) => {
            db.rollback();
            Err(e)
        }
    }
}

/// Copies the ledger of `source` (up to its latest checkpoint) into the empty database at
/// `target_url`, by replay, checking everything on the way. Refuses when the source gains
/// entries meanwhile (stop the server first): the target is then left empty.
pub fn migrate(
    source: &Store,
    target_url: &DatabaseUrl,
    origin: &str,
    verifier: &Verifier,
    progress: &mut dyn FnMut(u64, u64),
) -> Result<Loaded> {
    if target_url == source.url() {
        return Err(StoreError::Refused(
            "the target is the source database".into(),
        ));
    }
    let start: StoredCheckpoint = source
        .reader()?
        .db()
        .latest_checkpoint()?
        .ok_or_else(|| StoreError::Refused("the source holds no ledger".into()))?;
    let target = Store::open(target_url, source.registry().clone(), 1)?;
    let mut db = lock_empty_target(&target)?;
    let open = || source.connect_scan().map(Some);
    let loaded = (|| -> Result<Loaded> {
        let pages = Box::new(DbPages::new(source.connect_scan()?, start.size).with_page(LOAD_PAGE));
        let loaded = load_into(
            db.as_mut(),
            &target,
            pages,
            &open,
            Signed { origin, verifier },
            start.size,
            progress,
        )?;
        let now = source.reader()?.db().latest_checkpoint()?;
        if now.as_ref() != Some(&start) {
            return Err(StoreError::Refused(format!(
                "the source ledger changed during the migration (it grew from {} to {} entries); stop the server and migrate again — the target was left empty",
                start.size,
                now.map_or(0, |c| c.size)
            )));
        }
        Ok(loaded)
    })();
    finish(db.as_mut(), loaded)
}
