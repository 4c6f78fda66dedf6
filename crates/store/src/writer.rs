//! The group-commit writer: the only code that appends to the ledger.
//!
//! Callers seal their requests' entries (check the kind is registered, check and project the
//! payload, encode, hash — in parallel, on their own threads) and queue them on a bounded
//! channel; a full queue makes them wait (back-pressure). One thread per process takes
//! everything queued, up to `batch_entries_max` entries (lingering up to `batch_wait_ms` for
//! more when asked to), and in one transaction: takes the cross-process append lock, reloads the
//! tree's right edge if another process appended, admits each request whose preconditions still
//! hold (the others are refused alone, with a [`Conflict`]), inserts the admitted entries, blobs,
//! completed tree nodes and the net effect on the projections, signs one checkpoint, and commits
//! with an fsync. Only then is every request in the batch answered. A failed batch is rolled
//! back and every request in it told so; nothing is acknowledged that is not durable. When the
//! database refuses a batch's data (a value it cannot hold, a constraint), the batch is split
//! and committed again in halves until the request it refused fails alone: one client's bad
//! request never fails its batch-mates.

use crate::db::{AppendBatch, Db, StoredCheckpoint};
use crate::metrics::WriterMetrics;
use crate::preconditions::View;
use crate::read::DbSource;
use crate::{Result, Store, StoreError};
use kiroku_core::context::SealLimits;
use kiroku_core::entry::SALT_BYTES;
use kiroku_core::projection::{Change, Net};
use kiroku_core::{
    Clock, ClockError, Conflict, Entropy, EntryIndex, Expect, Registry, Request, SealError,
    Timestamp,
};
use kiroku_ledger::{Checkpoint, Frontier, Hash, Signer, TILE_HEIGHT};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, oneshot};

/// The writer's limits (part of the `[limits]` configuration).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WriterConfig {
    /// Most entries committed in one batch.
    pub batch_entries_max: usize,
    /// How long a batch waits for more entries once it has one (0: commit at once; requests
    /// that arrive during a commit form the next batch anyway).
    pub batch_wait_ms: u64,
    /// Most append requests waiting in the queue before callers are made to wait.
    pub queue_requests_max: usize,
    /// Largest encoded entry; larger payloads move to the blob store (≤ 65535).
    pub entry_bytes_max: usize,
    /// Largest blob.
    pub blob_bytes_max: usize,
}

impl Default for WriterConfig {
    fn default() -> Self {
        WriterConfig {
            batch_entries_max: 1024,
            batch_wait_ms: 0,
            queue_requests_max: 8192,
            entry_bytes_max: 65_535,
            blob_bytes_max: 16 << 20,
        }
    }
}

/// What an acknowledged append tells its caller.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Receipt {
    /// Index of the request's first entry.
    pub first: EntryIndex,
    /// How many entries it appended.
    pub count: u64,
    /// Size of the signed checkpoint that covers them.
    pub tree_size: u64,
    /// When the entries were made.
    pub time: Timestamp,
}

/// Why an append failed. Only [`AppendError::Failed`] and [`AppendError::Stopped`] are faults
/// of the system; the others describe the request.
#[derive(Debug, thiserror::Error)]
pub enum AppendError {
    /// The request was refused before anything was written.
    #[error(transparent)]
    Invalid(#[from] SealError),
    /// An entry names a neighbour outside its request.
    #[error("entry {position} of the request names an entry outside the request")]
    Reference {
        /// The entry's position in the request.
        position: usize,
    },
    /// The request has no entries, or more than one batch holds.
    #[error("an append takes 1 to {max} entries, not {count}")]
    Count {
        /// Asked.
        count: usize,
        /// Allowed.
        max: usize,
    },
    /// A precondition no longer holds; nothing of the request was written.
    #[error(transparent)]
    Conflict(#[from] Conflict),
    /// The clock cannot be trusted; nothing was written.
    #[error(transparent)]
    Clock(#[from] ClockError),
    /// The batch failed and was rolled back; nothing of it was written.
    #[error("the ledger could not commit: {0}")]
    Failed(String),
    /// The database refused this request's data (the writer committed the rest of its batch
    /// without it); nothing of it was written.
    #[error("the database refused this request's data: {0}")]
    Rejected(String),
    /// The writer has stopped.
    #[error("the ledger writer has stopped")]
    Stopped,
}

/// An entry sealed and projected by its caller, waiting for an index.
struct Pending {
    /// Of a kind that changes access caches ([`crate::watch::Watch`]).
    counts: bool,
    leaf: Hash,
    bytes: Vec<u8>,
    blob: Option<(Hash, Vec<u8>)>,
    /// Projection changes; references to entries are resolved at admission.
    changes: Vec<Change>,
}

struct Queued {
    entries: Vec<Pending>,
    expect: Vec<Expect>,
    time: Timestamp,
    reply: oneshot::Sender<Reply>,
}

/// The writer's answer. It hands the request's entries back so that their memory is freed on
/// the caller's thread rather than on the writer's critical path.
struct Reply {
    result: Result<Receipt, AppendError>,
    _spent: Vec<Pending>,
    /// The batch's net effect, handed to one caller to free.
    _net: Option<Net>,
}

enum Message {
    Append(Queued),
    /// Commit what came before, then end.
    Stop,
}

/// A cheap, cloneable handle for appending.
#[derive(Clone)]
pub struct WriterHandle {
    queue: mpsc::Sender<Message>,
    metrics: Arc<WriterMetrics>,
    registry: Arc<Registry>,
    watch: Arc<crate::watch::Watch>,
    clock: Arc<dyn Clock>,
    entropy: Arc<dyn Entropy>,
    config: Arc<WriterConfig>,
}

/// The running writer; [`Writer::shutdown`] (or dropping it) stops it after the queued requests
/// are committed.
pub struct Writer {
    handle: WriterHandle,
    thread: Option<JoinHandle<()>>,
}

impl Writer {
    /// Starts the writer thread on its own connection.
    pub fn start(
        store: &Store,
        signer: Signer,
        origin: String,
        clock: Arc<dyn Clock>,
        entropy: Arc<dyn Entropy>,
        config: WriterConfig,
    ) -> Result<Writer> {
        let db = store.connect()?;
        let (queue, requests) = mpsc::channel(config.queue_requests_max.max(1));
        let metrics = Arc::new(WriterMetrics::default());
        let config = Arc::new(config);
        let state = WriterThread {
            watch: store.watch().clone(),
            store_url: store.url().clone(),
            db: Some(db),
            frontier: None,
            signer,
            origin,
            clock: clock.clone(),
            metrics: metrics.clone(),
            config: config.clone(),
            requests,
            held: None,
            stopping: false,
            in_doubt: None,
        };
        let thread = std::thread::Builder::new()
            .name("kiroku-writer".into())
            .spawn(move || state.run())
            .map_err(|e| StoreError::Internal(format!("cannot start the writer thread: {e}")))?;
        Ok(Writer {
            handle: WriterHandle {
                queue,
                metrics,
                registry: store.registry().clone(),
                watch: store.watch().clone(),
                clock,
                entropy,
                config,
            },
            thread: Some(thread),
        })
    }

    /// A handle for appending.
    pub fn handle(&self) -> WriterHandle {
        self.handle.clone()
    }

    /// Stops taking requests, commits what is queued, and waits for the thread to end.
    pub fn shutdown(mut self) {
        self.stop();
    }

    fn stop(&mut self) {
        if let Some(thread) = self.thread.take() {
            // Requests queued before the stop are committed; later ones are told it stopped.
            // The stop is sent from a plain thread: blocking on a Tokio channel from inside a
            // runtime (a writer dropped by an async task) would panic.
            let queue = self.handle.queue.clone();
            let sender = std::thread::spawn(move || {
                let _ = queue.blocking_send(Message::Stop);
            });
            let _ = sender.join();
            let _ = thread.join();
        }
    }
}

impl Drop for Writer {
    fn drop(&mut self) {
        self.stop();
    }
}

impl WriterHandle {
    /// Is the writer thread still taking requests?
    pub fn is_running(&self) -> bool {
        !self.queue.is_closed()
    }

    /// The writer's metrics.
    pub fn metrics(&self) -> &Arc<WriterMetrics> {
        &self.metrics
    }

    /// The registry entries are sealed against.
    pub fn registry(&self) -> &Arc<Registry> {
        &self.registry
    }

    /// Seals a request's drafts with the current time and fresh salts — the work that needs
    /// no index happens here, on the caller's thread, in parallel.
    fn seal(
        &self,
        request: Request,
    ) -> Result<(Vec<Pending>, Vec<Expect>, Timestamp), AppendError> {
        let max = self.config.batch_entries_max;
        let count = request.drafts.len();
        if count == 0 || count > max {
            return Err(AppendError::Count { count, max });
        }
        let time = self.clock.now()?;
        let limits = SealLimits {
            entry_bytes_max: self.config.entry_bytes_max,
            blob_bytes_max: self.config.blob_bytes_max,
        };
        let mut entries = Vec::with_capacity(count);
        for (position, draft) in request.drafts.into_iter().enumerate() {
            let mut salt = [0u8; SALT_BYTES];
            self.entropy.fill(&mut salt);
            let sealed = self.registry.seal(draft, time, salt, limits)?;
            if !references_stay_inside(&sealed.changes, position, count) {
                return Err(AppendError::Reference { position });
            }
            entries.push(Pending {
                counts: self.watch.counts(sealed.entry.kind.as_str()),
                leaf: sealed.leaf,
                blob: sealed
                    .blob
                    .map(|b| (kiroku_ledger::hash::content_hash(&b), b)),
                bytes: sealed.bytes,
                changes: sealed.changes,
            });
        }
        Ok((entries, request.expect, time))
    }

    /// Appends a request's entries consecutively; returns once they are durable and covered by
    /// a signed checkpoint, or with the conflict that refused them. Waits while the queue is
    /// full.
    pub async fn append(&self, request: Request) -> Result<Receipt, AppendError> {
        let (entries, expect, time) = self.seal(request)?;
        let (reply, answer) = oneshot::channel();
        let queued = Queued {
            entries,
            expect,
            time,
            reply,
        };
        if self.queue.send(Message::Append(queued)).await.is_err() {
            return Err(AppendError::Stopped);
        }
        // Counted once queued (a caller dropped while waiting for room never was); the writer
        // may count it out first, so the gauge can read -1 for an instant.
        self.metrics.queue_depth.inc();
        answer
            .await
            .map_or(Err(AppendError::Stopped), |reply| reply.result)
    }

    /// [`WriterHandle::append`] for threads outside an async runtime.
    pub fn append_blocking(&self, request: Request) -> Result<Receipt, AppendError> {
        let (entries, expect, time) = self.seal(request)?;
        let (reply, answer) = oneshot::channel();
        let queued = Queued {
            entries,
            expect,
            time,
            reply,
        };
        if self.queue.blocking_send(Message::Append(queued)).is_err() {
            return Err(AppendError::Stopped);
        }
        self.metrics.queue_depth.inc();
        answer
            .blocking_recv()
            .map_or(Err(AppendError::Stopped), |reply| reply.result)
    }
}

/// Does every reference to another entry stay inside the request (entry `position` of
/// `count`)?
fn references_stay_inside(changes: &[Change], position: usize, count: usize) -> bool {
    let (Ok(position), Ok(count)) = (i64::try_from(position), i64::try_from(count)) else {
        return false;
    };
    changes.iter().all(|change| {
        let values: &[kiroku_core::Value] = match change {
            Change::Upsert { row, .. } => row,
            Change::Delete { key, .. } => key,
            Change::DeletePrefix { prefix, .. } => prefix,
        };
        values.iter().all(|v| match v {
            kiroku_core::Value::Entry(offset) => {
                (0..count).contains(&position.saturating_add(*offset))
            }
            _ => true,
        })
    })
}

struct WriterThread {
    watch: Arc<crate::watch::Watch>,
    store_url: crate::DatabaseUrl,
    /// `None` after a failure, until reconnected.
    db: Option<Box<dyn Db>>,
    /// The right edge of the tree as this process last committed it; `None` to reload.
    frontier: Option<Frontier>,
    signer: Signer,
    origin: String,
    clock: Arc<dyn Clock>,
    metrics: Arc<WriterMetrics>,
    config: Arc<WriterConfig>,
    requests: mpsc::Receiver<Message>,
    /// A request taken from the queue that did not fit the last batch.
    held: Option<Queued>,
    /// A stop was received: end after this batch.
    stopping: bool,
    /// A batch whose COMMIT was sent but not confirmed: its size, root and outcomes.
    in_doubt: Option<InDoubt>,
}

struct InDoubt {
    size: u64,
    root: Hash,
    outcomes: Vec<Outcome>,
}

/// What a batch did with each of its requests.
#[derive(Clone)]
enum Outcome {
    /// Admitted at this first index.
    Admitted(u64),
    /// Refused by a precondition.
    Refused(Conflict),
}

impl WriterThread {
    fn run(mut self) {
        loop {
            if self.stopping {
                return;
            }
            let first = match self.held.take() {
                Some(request) => request,
                None => match self.requests.blocking_recv() {
                    Some(Message::Append(request)) => request,
                    Some(Message::Stop) | None => return,
                },
            };
            let batch = self.gather(first);
            self.metrics.queue_depth.dec_by(batch.len() as i64);
            self.settle(batch);
        }
    }

    /// Commits a batch and answers its requests. When the database refuses the batch's data
    /// (not the connection, not the tree), the batch is split in halves, each committed on its
    /// own, so that the request whose data it refused fails alone and the others are written:
    /// at most 2n − 1 attempts for n requests, made only when a refusal happened.
    fn settle(&mut self, mut batch: Vec<Queued>) {
        let started = Instant::now();
        let outcome = self.commit_once(&batch);
        match outcome {
            Err(error) if error.is_data_refusal() => {
                self.metrics.batch_failures.inc();
                if let Some(db) = self.db.as_mut() {
                    db.rollback();
                }
                self.frontier = None;
                if batch.len() == 1 {
                    tracing::warn!(%error, "the database refused a request's data; the request was refused alone");
                    for request in batch {
                        let _ = request.reply.send(Reply {
                            result: Err(AppendError::Rejected(error.to_string())),
                            _spent: request.entries,
                            _net: None,
                        });
                    }
                } else {
                    let second = batch.split_off(batch.len() / 2);
                    self.settle(batch);
                    self.settle(second);
                }
            }
            outcome => self.answer(batch, outcome, started),
        }
    }

    /// [`WriterThread::commit`], and after a lost COMMIT answer, whether it was durable anyway.
    fn commit_once(&mut self, batch: &[Queued]) -> Result<(Vec<Outcome>, u64, Option<Net>)> {
        match self.commit(batch) {
            Err(error) => match self.in_doubt.take() {
                // The COMMIT was sent: acknowledge only if it is found durable.
                Some(doubt) => {
                    let size = doubt.size;
                    match self.committed_anyway(doubt) {
                        Some(outcomes) => {
                            // What the batch held is not known here: count a change.
                            self.watch.bump();
                            tracing::warn!(%error, tree_size = size, "commit answer lost, but the batch is durable");
                            Ok(outcomes)
                        }
                        None => Err(error),
                    }
                }
                None => Err(error),
            },
            ok => ok,
        }
    }

    fn answer(
        &mut self,
        batch: Vec<Queued>,
        outcome: Result<(Vec<Outcome>, u64, Option<Net>)>,
        started: Instant,
    ) {
        match outcome {
            Ok((outcomes, tree_size, mut net)) => {
                self.metrics
                    .batch_seconds
                    .observe(started.elapsed().as_secs_f64());
                for (request, outcome) in batch.into_iter().zip(outcomes) {
                    let result = match outcome {
                        Outcome::Admitted(first) => Ok(Receipt {
                            first: EntryIndex(first),
                            count: request.entries.len() as u64,
                            tree_size,
                            time: request.time,
                        }),
                        Outcome::Refused(conflict) => {
                            self.metrics.conflicts.inc();
                            Err(AppendError::Conflict(conflict))
                        }
                    };
                    let _ = request.reply.send(Reply {
                        result,
                        _spent: request.entries,
                        _net: net.take(),
                    });
                }
            }
            Err(error) => {
                self.metrics.batch_failures.inc();
                tracing::error!(%error, requests = batch.len(), "ledger batch rolled back");
                if let Some(db) = self.db.as_mut() {
                    db.rollback();
                }
                // Reload everything before the next batch: the connection may be broken
                // and the frontier holds leaves that were never committed.
                self.db = None;
                self.frontier = None;
                for request in batch {
                    let _ = request.reply.send(Reply {
                        result: Err(AppendError::Failed(error.to_string())),
                        _spent: request.entries,
                        _net: None,
                    });
                }
            }
        }
    }

    /// After a lost COMMIT answer: is the checkpoint the batch would have written stored? Uses
    /// a fresh connection (the old one is suspect). Returns the batch's outcomes if so.
    fn committed_anyway(&mut self, doubt: InDoubt) -> Option<(Vec<Outcome>, u64, Option<Net>)> {
        self.db = None;
        self.frontier = None;
        let mut db = crate::db::connect(&self.store_url).ok()?;
        let found = db.checkpoints(doubt.size, 1).ok()?.into_iter().next()?;
        (found.size == doubt.size && found.root == doubt.root.0).then_some((
            doubt.outcomes,
            doubt.size,
            None,
        ))
    }

    /// Takes queued requests up to the batch limit, lingering if configured.
    fn gather(&mut self, first: Queued) -> Vec<Queued> {
        let max = self.config.batch_entries_max;
        let deadline = Instant::now() + Duration::from_millis(self.config.batch_wait_ms);
        let mut entries = first.entries.len();
        let mut batch = vec![first];
        while entries < max {
            match self.requests.try_recv() {
                Ok(Message::Stop) => {
                    self.stopping = true;
                    break;
                }
                Ok(Message::Append(request)) => {
                    if entries + request.entries.len() > max {
                        self.held = Some(request);
                        break;
                    }
                    entries += request.entries.len();
                    batch.push(request);
                }
                Err(mpsc::error::TryRecvError::Empty) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_micros(100));
                }
                Err(_) => break,
            }
        }
        batch
    }
}

/// The tree's right edge as stored: the one kept from the last batch if nothing moved the tree
/// since, else loaded — and refused if the stored tree does not match its signed checkpoint.
fn edge(
    kept: Option<Frontier>,
    db: &mut dyn Db,
    stored: u64,
    signed_root: Hash,
) -> Result<Frontier> {
    match kept {
        Some(f) if f.size() == stored && f.root() == signed_root => Ok(f),
        // First batch, after a failure, or another process appended: reload the edge, and
        // refuse to extend a stored tree that does not match its own signed checkpoint.
        _ => {
            let loaded = Frontier::load(&mut DbSource(db), stored)?;
            if loaded.root() != signed_root {
                return Err(StoreError::Corrupt(format!(
                    "the stored tree of size {stored} does not match its signed checkpoint; \
                     nothing was appended (run kiroku verify)"
                )));
            }
            Ok(loaded)
        }
    }
}

/// Admission, request by request, against committed rows and the requests before it: each
/// request's outcome, the index after the last admitted entry, and the admitted changes' net
/// effect.
fn admit(db: &mut dyn Db, batch: &[Queued], first: u64) -> Result<(Vec<Outcome>, u64, Net)> {
    let mut view = View::load(
        db,
        batch.iter().flat_map(|r| r.expect.iter()),
        batch
            .iter()
            .flat_map(|r| r.entries.iter().flat_map(|p| p.changes.iter())),
    )?;
    let mut next = first;
    let mut outcomes = Vec::with_capacity(batch.len());
    let mut net = Net::new();
    for request in batch {
        // Resolved copies: the request's own changes stay as sealed, so that it can be
        // committed again at other indexes if its batch must be split.
        let mut resolved = Vec::with_capacity(request.entries.len());
        for (offset, pending) in request.entries.iter().enumerate() {
            let index = EntryIndex(next + offset as u64);
            for change in &pending.changes {
                let mut change = change.clone();
                change.resolve(index)?;
                resolved.push((change, index));
            }
        }
        match view.admit(&request.expect, resolved.iter().map(|(c, _)| c)) {
            Ok(()) => {
                for (change, index) in resolved {
                    net.add(change, index);
                }
                outcomes.push(Outcome::Admitted(next));
                next += request.entries.len() as u64;
            }
            Err(conflict) => outcomes.push(Outcome::Refused(conflict)),
        }
    }
    Ok((outcomes, next, net))
}

/// The rows the admitted requests of a batch add: entries, completed tile nodes and blobs, as
/// their leaves extend the frontier.
struct Rows<'b> {
    entries: Vec<(Hash, &'b [u8])>,
    nodes: Vec<(u8, u64, Hash)>,
    blobs: Vec<(Hash, &'b [u8])>,
    /// Does an entry of a kind the watch counts (access changes) come in?
    counts: bool,
}

fn rows<'b>(batch: &'b [Queued], outcomes: &[Outcome], frontier: &mut Frontier) -> Rows<'b> {
    let mut rows = Rows {
        entries: Vec::new(),
        nodes: Vec::new(),
        blobs: Vec::new(),
        counts: false,
    };
    for (request, outcome) in batch.iter().zip(outcomes) {
        if !matches!(outcome, Outcome::Admitted(_)) {
            continue;
        }
        for pending in &request.entries {
            frontier.push(pending.leaf, |done| {
                if done.height > 0 && done.height % TILE_HEIGHT == 0 {
                    rows.nodes
                        .push((done.height / TILE_HEIGHT, done.index, done.hash));
                }
            });
            rows.entries.push((pending.leaf, pending.bytes.as_slice()));
            if let Some((hash, blob)) = &pending.blob {
                rows.blobs.push((*hash, blob.as_slice()));
            }
            rows.counts |= pending.counts;
        }
    }
    rows
}

impl WriterThread {
    /// Writes and commits one batch; returns each request's outcome and the new tree size.
    fn commit(&mut self, batch: &[Queued]) -> Result<(Vec<Outcome>, u64, Option<Net>)> {
        if self.db.is_none() {
            self.db = Some(crate::db::connect(&self.store_url)?);
        }
        let Some(db) = self.db.as_mut() else {
            return Err(StoreError::WriterStopped);
        };
        let (stored, signed_root) = db.begin_append()?;
        let mut frontier = edge(
            self.frontier.take(),
            db.as_mut(),
            stored,
            signed_root.unwrap_or_else(Hash::empty),
        )?;
        let first = frontier.size();
        let (outcomes, next, net) = admit(db.as_mut(), batch, first)?;
        if next == first {
            // Every request was refused: nothing to write, nothing to sign.
            db.rollback();
            self.frontier = Some(frontier);
            return Ok((outcomes, first, None));
        }
        let Rows {
            entries,
            nodes,
            blobs,
            counts,
        } = rows(batch, &outcomes, &mut frontier);
        let count = entries.len();
        let (size, root) = (frontier.size(), frontier.root());
        let note = Checkpoint {
            origin: self.origin.clone(),
            size,
            root,
            extensions: Vec::new(),
        }
        .sign(&self.signer)
        .map_err(|e| StoreError::Sign(e.to_string()))?;
        let written = db.write_batch(&AppendBatch {
            first,
            entries,
            nodes,
            blobs,
            net: &net,
            checkpoint: Some(StoredCheckpoint {
                size,
                root: root.0.to_vec(),
                note,
                created_at: self.clock.now()?.to_string(),
            }),
        });
        if let Err(error) = written {
            // Say what it is if rows beyond the signed tree are in the way.
            db.rollback();
            if let Ok(Some((_, what))) = db.planted_beyond(first) {
                return Err(StoreError::Planted(what));
            }
            return Err(error);
        }
        let commit_started = Instant::now();
        // If the commit's answer is lost, the batch may or may not be durable: remember what
        // it would have signed so the failure path can look.
        self.in_doubt = Some(InDoubt {
            size,
            root,
            outcomes: outcomes.clone(),
        });
        db.commit()?;
        self.in_doubt = None;
        // Counted before anyone is answered: a revocation that has returned is seen by every
        // request that follows.
        self.watch.committed(first, size, counts);
        self.metrics
            .commit_seconds
            .observe(commit_started.elapsed().as_secs_f64());
        self.metrics.batch_entries.observe(count as f64);
        self.metrics.entries.inc_by(count as u64);
        self.metrics.batches.inc();
        self.frontier = Some(frontier);
        Ok((outcomes, size, Some(net)))
    }
}
