//! One replay engine for verification, rebuild, export, import and migration.
//!
//! A replay reads the ledger page by page from a [`Source`] (a database, or an export file):
//! entries in index order, the blobs the source carries, and the signed checkpoints whose sizes
//! fall in each page. A reader thread deals pages to two workers, which hash each entry, decode
//! it, resolve its blob, and interpret it through the registry (refusing a kind no context
//! knows) into resolved projection changes — and, when verifying, compare them with the stored
//! tables. The calling thread takes the pages back in order, checks that indices are gapless and
//! leaves match their stored hashes, rebuilds the tree's right edge, hands every completed tile
//! node and every checkpoint (root and signature) to be checked, and passes each page to a
//! [`Sink`]: verification, rebuild (the live tables), load (another database), export (a file).
//!
//! Memory is bounded by the pages in flight (a few thousand entries), not by the ledger: no
//! tree node, row or checkpoint is kept beyond its page.

use crate::db::{Db, EntryRow, StoredCheckpoint};
use crate::url::DatabaseUrl;
use crate::{Result, StoreError};
use kiroku_core::entry::{decode_raw, Payload};
use kiroku_core::projection::{Change, Net};
use kiroku_core::{EntryIndex, Registry};
use kiroku_ledger::hash::content_hash;
use kiroku_ledger::{leaf_hash, Checkpoint, Frontier, Hash, Verifier, TILE_HEIGHT};
use std::collections::HashMap;
use std::sync::mpsc::{sync_channel, Receiver, SyncSender};

/// Entries per page.
pub(crate) const ENTRY_PAGE: u64 = 2048;
/// Threads that hash, decode and project while the calling thread checks the tree.
const WORKERS: usize = 2;

/// What went wrong, and where.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Problem {
    /// The first entry concerned, where one can be named.
    pub index: Option<u64>,
    /// What is wrong (indices and tables, never content).
    pub what: String,
}

pub(crate) fn problem(index: impl Into<Option<u64>>, what: impl Into<String>) -> Problem {
    Problem {
        index: index.into(),
        what: what.into(),
    }
}

/// An entry as a source reads it, before any check.
pub(crate) struct RawEntry {
    pub idx: u64,
    /// The leaf hash stored beside it, where the source stores one.
    pub stored_leaf: Option<Vec<u8>>,
    pub body: Vec<u8>,
}

/// A page of what a replay reads.
#[derive(Default)]
pub(crate) struct Page {
    /// Entries, in index order.
    pub entries: Vec<RawEntry>,
    /// Blobs carried by the source (an export file carries them beside their entries).
    pub blobs: HashMap<Hash, Vec<u8>>,
    /// Checkpoints whose sizes fall within the page (size − 1 is one of its entries).
    pub checkpoints: Vec<StoredCheckpoint>,
}

/// Where a replay reads from.
pub(crate) trait Source: Send {
    /// The next page, or `None` at the end.
    fn next_page(&mut self) -> Result<Option<Page>>;
}

/// Pages of a database's ledger, entries `0..size`, each with the checkpoints it completes.
pub(crate) struct DbPages {
    db: Box<dyn Db>,
    next: u64,
    size: u64,
    page: u64,
}

impl DbPages {
    pub(crate) fn new(db: Box<dyn Db>, size: u64) -> DbPages {
        DbPages {
            db,
            next: 0,
            size,
            page: ENTRY_PAGE,
        }
    }

    /// With pages of `entries` entries.
    pub(crate) fn with_page(mut self, entries: u64) -> DbPages {
        self.page = entries.max(1);
        self
    }
}

impl Source for DbPages {
    fn next_page(&mut self) -> Result<Option<Page>> {
        if self.next >= self.size {
            return Ok(None);
        }
        let rows = self
            .db
            .entries(self.next, self.page.min(self.size - self.next))?;
        let Some(last) = rows.last().map(|r| r.idx) else {
            return Ok(None);
        };
        let first = self.next;
        self.next = last + 1;
        // Checkpoints of sizes first+1 ..= last+1: at most one per size.
        let checkpoints = self
            .db
            .checkpoints(first + 1, last - first + 1)?
            .into_iter()
            .filter(|c| c.size <= last + 1)
            .collect();
        Ok(Some(Page {
            entries: rows
                .into_iter()
                .map(
                    |EntryRow {
                         idx,
                         leaf_hash,
                         body,
                     }| RawEntry {
                        idx,
                        stored_leaf: Some(leaf_hash),
                        body,
                    },
                )
                .collect(),
            blobs: HashMap::new(),
            checkpoints,
        }))
    }
}

/// An entry after the workers' checks.
pub(crate) struct Checked {
    pub idx: u64,
    pub leaf: Hash,
    pub stored_leaf: Option<Vec<u8>>,
    /// What is wrong with its content (undecodable, unknown kind, blob missing…).
    pub problem: Option<Problem>,
    /// Its projection's changes, resolved to its index.
    pub changes: Vec<Change>,
    /// Its bytes, kept when the sink writes them.
    pub body: Vec<u8>,
    /// Its blob, kept when the sink writes it.
    pub blob: Option<(Hash, Vec<u8>)>,
}

/// A checkpoint with its signature already checked by a worker (when the replay checks
/// signatures): the size and root it is signed for, or why it does not verify.
pub(crate) type Opened = Option<Result<(u64, Hash), String>>;

/// A page after the workers.
pub(crate) struct CheckedPage {
    pub entries: Vec<Checked>,
    pub checkpoints: Vec<(StoredCheckpoint, Opened)>,
    /// The verification's keyed comparison of this page's changes with the stored tables.
    pub verdict: Option<crate::verify::Verdict>,
}

/// What the workers do beyond decoding.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Work {
    /// Decode and project.
    Project,
    /// Also keep the bytes and blobs (the sink writes them).
    Keep,
    /// Also compare the projection with the stored tables.
    Compare,
}

/// The part of a replay that consumes pages in order, on the calling thread.
pub(crate) trait Sink {
    /// A completed tile node (level ≥ 1); a problem stops the replay.
    fn node(&mut self, _level: u8, _index: u64, _hash: Hash) -> Result<Option<Problem>> {
        Ok(None)
    }
    /// A page is about to be checked entry by entry.
    fn begin(&mut self, _page: &mut CheckedPage) {}
    /// Entry `index` passed every check of the ledger; a problem of the sink's about it (a
    /// projection row) stops the replay.
    fn entry_done(&mut self, _index: u64) -> Option<Problem> {
        None
    }
    /// A whole page passed; consume it.
    fn page(&mut self, page: CheckedPage) -> Result<()>;
}

/// How checkpoints are checked.
#[derive(Clone, Copy)]
pub(crate) struct Signed<'a> {
    pub origin: &'a str,
    pub verifier: &'a Verifier,
}

/// What a replay found.
#[derive(Debug)]
pub(crate) struct Replayed {
    /// Entries replayed.
    pub entries: u64,
    /// Checkpoints checked.
    pub checkpoints: u64,
    /// The size of the last checkpoint checked.
    pub last_checkpoint: u64,
    /// The root of all entries replayed.
    pub root: Hash,
    /// The first problem, if any.
    pub problem: Option<Problem>,
}

/// Replays `source` through the workers into `sink`. `worker_db` opens each worker's
/// connection (for blobs and comparisons) where the work needs one. Checkpoints are checked
/// against `signed` when given. `progress(done)` is called after each page.
pub(crate) fn run(
    registry: &Registry,
    mut source: Box<dyn Source>,
    worker_db: &(dyn Fn() -> Result<Option<Box<dyn Db>>> + Sync),
    work: Work,
    signed: Option<Signed<'_>>,
    sink: &mut dyn Sink,
    progress: &mut dyn FnMut(u64),
) -> Result<Replayed> {
    std::thread::scope(|scope| -> Result<Replayed> {
        let mut inputs = Vec::with_capacity(WORKERS);
        let mut outputs = Vec::with_capacity(WORKERS);
        for _ in 0..WORKERS {
            let (to_worker, pages) = sync_channel::<Result<Page>>(2);
            let (out, from_worker) = sync_channel::<Result<CheckedPage>>(2);
            std::thread::Builder::new()
                .name("kiroku-replay-work".into())
                .spawn_scoped(scope, move || {
                    worker(registry, worker_db, work, signed, pages, out)
                })
                .map_err(|e| StoreError::Internal(format!("cannot start a replay worker: {e}")))?;
            inputs.push(to_worker);
            outputs.push(from_worker);
        }
        std::thread::Builder::new()
            .name("kiroku-replay-read".into())
            .spawn_scoped(scope, move || read(source.as_mut(), &inputs))
            .map_err(|e| StoreError::Internal(format!("cannot start the replay reader: {e}")))?;
        let result = consume(&outputs, signed, sink, progress);
        // Stop the reader and the workers if they are still going.
        drop(outputs);
        result
    })
}

/// Reads pages and deals them to the workers in turn; stops at the end, on an error (passed
/// on), or when the workers hang up.
fn read(source: &mut dyn Source, workers: &[SyncSender<Result<Page>>]) {
    for turn in 0.. {
        let page = source.next_page();
        let worker = &workers[turn % workers.len()];
        match page {
            Ok(Some(page)) => {
                if worker.send(Ok(page)).is_err() {
                    return;
                }
            }
            Ok(None) => return,
            Err(e) => {
                let _ = worker.send(Err(e));
                return;
            }
        }
    }
}

fn worker(
    registry: &Registry,
    worker_db: &(dyn Fn() -> Result<Option<Box<dyn Db>>> + Sync),
    work: Work,
    signed: Option<Signed<'_>>,
    pages: Receiver<Result<Page>>,
    out: SyncSender<Result<CheckedPage>>,
) {
    let mut db = match worker_db() {
        Ok(db) => db,
        Err(e) => {
            let _ = out.send(Err(e));
            return;
        }
    };
    for page in pages {
        let checked = match page {
            Ok(page) => check_page(registry, &mut db, work, signed, page),
            Err(e) => Err(e),
        };
        if out.send(checked).is_err() {
            return;
        }
    }
}

fn check_page(
    registry: &Registry,
    db: &mut Option<Box<dyn Db>>,
    work: Work,
    signed: Option<Signed<'_>>,
    page: Page,
) -> Result<CheckedPage> {
    let Page {
        entries,
        mut blobs,
        checkpoints,
    } = page;
    let mut checked = Vec::with_capacity(entries.len());
    for raw in entries {
        let leaf = leaf_hash(&raw.body);
        let mut blob = None;
        let outcome = interpret(registry, &raw, &mut blobs, db, &mut blob);
        let (changes, problem) = match outcome {
            Ok(changes) => (changes, None),
            Err(p) => (Vec::new(), Some(p)),
        };
        let keep = work == Work::Keep;
        checked.push(Checked {
            idx: raw.idx,
            leaf,
            stored_leaf: raw.stored_leaf,
            problem,
            changes,
            body: if keep { raw.body } else { Vec::new() },
            blob: if keep { blob } else { None },
        });
    }
    let verdict = match (work, db.as_deref_mut()) {
        (Work::Compare, Some(db)) => Some(crate::verify::compare_page(db, &mut checked)?),
        (Work::Compare, None) => {
            return Err(StoreError::Internal(
                "a verification worker has no connection".into(),
            ))
        }
        _ => None,
    };
    // Signatures need no order: checked here, in parallel; the roots are compared in order.
    let checkpoints = checkpoints
        .into_iter()
        .map(|c| {
            let opened = signed.map(|s| {
                Checkpoint::open(&c.note, s.origin, s.verifier)
                    .map(|cp| (cp.size, cp.root))
                    .map_err(|e| e.to_string())
            });
            (c, opened)
        })
        .collect();
    Ok(CheckedPage {
        entries: checked,
        checkpoints,
        verdict,
    })
}

/// Decodes an entry, resolves its payload (from the page's blobs or the database) and
/// interprets it; the blob found is left in `blob`.
fn interpret(
    registry: &Registry,
    raw: &RawEntry,
    blobs: &mut HashMap<Hash, Vec<u8>>,
    db: &mut Option<Box<dyn Db>>,
    blob: &mut Option<(Hash, Vec<u8>)>,
) -> Result<Vec<Change>, Problem> {
    let idx = raw.idx;
    let (entry, inline) = decode_raw(&raw.body)
        .map_err(|e| problem(idx, format!("entry {idx} is not a valid entry: {e}")))?;
    let inline = inline.map(|raw| raw.get().as_bytes());
    let payload: &[u8] = match (&entry.payload, inline) {
        (_, Some(text)) => text,
        (Payload::Blob { sha256, bytes }, None) => {
            let content = match blobs.remove(sha256) {
                Some(content) => Some(content),
                None => match db.as_deref_mut() {
                    Some(db) => db.blob(sha256).map_err(|e| {
                        problem(idx, format!("reading the blob of entry {idx} failed: {e}"))
                    })?,
                    None => None,
                },
            }
            .ok_or_else(|| problem(idx, format!("the payload blob of entry {idx} is missing")))?;
            if content_hash(&content) != *sha256 || content.len() as u64 != *bytes {
                return Err(problem(
                    idx,
                    format!("the payload blob of entry {idx} was altered"),
                ));
            }
            *blob = Some((*sha256, content));
            blob.as_ref().map_or(&[][..], |(_, c)| c.as_slice())
        }
        (Payload::Inline(_), None) => {
            return Err(problem(idx, format!("entry {idx} has no payload")))
        }
    };
    let mut changes = registry
        .interpret_text(&entry, payload)
        .map_err(|e| problem(idx, format!("entry {idx} cannot be read: {e}")))?;
    for change in &mut changes {
        change
            .resolve(EntryIndex(idx))
            .map_err(|e| problem(idx, format!("entry {idx} cannot be projected: {e}")))?;
    }
    Ok(changes)
}

/// Takes the workers' pages in order and checks what needs order: gapless indices, leaves
/// against stored hashes, the tree and its nodes, the checkpoints.
fn consume(
    outputs: &[Receiver<Result<CheckedPage>>],
    signed: Option<Signed<'_>>,
    sink: &mut dyn Sink,
    progress: &mut dyn FnMut(u64),
) -> Result<Replayed> {
    let mut frontier = Frontier::new();
    let mut replayed = Replayed {
        entries: 0,
        checkpoints: 0,
        last_checkpoint: 0,
        root: Hash::empty(),
        problem: None,
    };
    let mut turn = 0usize;
    'pages: loop {
        let Ok(page) = outputs[turn % outputs.len()].recv() else {
            break;
        };
        turn += 1;
        let mut page = page?;
        sink.begin(&mut page);
        let mut checkpoints = page.checkpoints.iter().peekable();
        let checks_signatures = signed.is_some();
        for checked in &page.entries {
            if let Some(p) = check_entry(&mut frontier, checked, sink)? {
                replayed.problem = Some(p);
                break 'pages;
            }
            while let Some((checkpoint, opened)) =
                checkpoints.next_if(|(c, _)| c.size <= frontier.size())
            {
                if checks_signatures {
                    if let Err(p) =
                        check_checkpoint(checkpoint, opened, &frontier, replayed.last_checkpoint)
                    {
                        replayed.problem = Some(p);
                        break 'pages;
                    }
                }
                replayed.last_checkpoint = checkpoint.size;
                replayed.checkpoints += 1;
            }
            // The ledger up to here is sound; now what the sink says of this entry.
            if let Some(p) = sink.entry_done(checked.idx) {
                replayed.problem = Some(p);
                break 'pages;
            }
        }
        replayed.entries = frontier.size();
        sink.page(page)?;
        progress(replayed.entries);
    }
    replayed.entries = frontier.size();
    replayed.root = frontier.root();
    Ok(replayed)
}

/// The order-dependent checks of one entry, then its leaf into the tree.
fn check_entry(
    frontier: &mut Frontier,
    checked: &Checked,
    sink: &mut dyn Sink,
) -> Result<Option<Problem>> {
    let index = frontier.size();
    if checked.idx != index {
        return Ok(Some(problem(
            index,
            format!(
                "entry {index} is missing (the next stored entry is {})",
                checked.idx
            ),
        )));
    }
    if checked
        .stored_leaf
        .as_ref()
        .is_some_and(|stored| stored[..] != checked.leaf.0[..])
    {
        return Ok(Some(problem(
            index,
            format!("entry {index} was altered: its content does not match its stored hash"),
        )));
    }
    if let Some(p) = &checked.problem {
        return Ok(Some(p.clone()));
    }
    let mut nodes = Vec::new();
    frontier.push(checked.leaf, |done| {
        if done.height > 0 && done.height % TILE_HEIGHT == 0 {
            nodes.push((done.height / TILE_HEIGHT, done.index, done.hash));
        }
    });
    for (level, idx, hash) in nodes {
        if let Some(p) = sink.node(level, idx, hash)? {
            return Ok(Some(p));
        }
    }
    Ok(None)
}

fn check_checkpoint(
    stored: &StoredCheckpoint,
    opened: &Opened,
    frontier: &Frontier,
    previous: u64,
) -> Result<(), Problem> {
    let size = stored.size;
    if size != frontier.size() {
        return Err(problem(
            previous,
            format!("the checkpoint at size {size} does not follow an entry"),
        ));
    }
    let range = || {
        if previous + 1 == size {
            format!("entry {previous}")
        } else {
            format!("entries {previous}..{}", size.saturating_sub(1))
        }
    };
    let root = frontier.root();
    let (signed_size, signed_root) = match opened {
        Some(Ok(opened)) => *opened,
        Some(Err(e)) => {
            return Err(problem(
                previous,
                format!("the checkpoint at size {size} does not verify: {e}"),
            ))
        }
        None => return Ok(()),
    };
    if signed_size != size {
        return Err(problem(
            previous,
            format!("the checkpoint stored at size {size} is signed for size {signed_size}"),
        ));
    }
    if signed_root != root || stored.root != root.0 {
        return Err(problem(
            previous,
            format!(
                "{} do not match the signed checkpoint at size {size}: an entry was altered, removed, inserted or reordered",
                range()
            ),
        ));
    }
    Ok(())
}

/// Applies each page's projection changes to the live tables of one connection, inside the
/// transaction the caller holds.
struct Rebuild<'a> {
    db: &'a mut dyn Db,
}

impl Sink for Rebuild<'_> {
    fn page(&mut self, page: CheckedPage) -> Result<()> {
        let mut net = Net::new();
        for checked in page.entries {
            let index = EntryIndex(checked.idx);
            for change in checked.changes {
                net.add(change, index);
            }
        }
        self.db.apply_net(&net)
    }
}

/// Replays entries `0..size` into the projection tables of `db`, which must hold the append
/// lock in an open transaction with the tables emptied. Refuses (the caller rolls back) an entry
/// that does not match its stored hash or whose kind no context knows.
pub(crate) fn rebuild_in(
    db: &mut dyn Db,
    url: &DatabaseUrl,
    registry: &Registry,
    size: u64,
) -> Result<u64> {
    let source = Box::new(DbPages::new(crate::db::connect_scan(url)?, size));
    let open = || crate::db::connect_scan(url).map(Some);
    let replayed = run(
        registry,
        source,
        &open,
        Work::Project,
        None,
        &mut Rebuild { db },
        &mut |_| {},
    )?;
    if let Some(p) = replayed.problem {
        return Err(StoreError::Corrupt(format!(
            "{}; nothing was rebuilt (run kiroku verify)",
            p.what
        )));
    }
    if replayed.entries != size {
        return Err(StoreError::Corrupt(format!(
            "entry {} is missing; nothing was rebuilt (run kiroku verify)",
            replayed.entries
        )));
    }
    Ok(size)
}

/// Replays the ledger into fresh projection tables, under the append lock so no append can
/// slip between the replay and the swap, page by page so memory stays bounded. Refuses (and
/// changes nothing) if an entry does not match its stored hash: run `kiroku verify` first.
/// Returns the number of entries replayed.
pub fn rebuild_projections(store: &crate::Store) -> Result<u64> {
    let mut db = store.connect()?;
    let db = db.as_mut();
    let (size, _) = db.begin_append()?;
    let result = (|| -> Result<u64> {
        db.clear_projections(store.registry().tables())?;
        rebuild_in(db, store.url(), store.registry(), size)
    })();
    match result {
        Ok(size) => {
            db.commit()?;
            Ok(size)
        }
        Err(e) => {
            db.rollback();
            Err(e)
        }
    }
}
