//! The group-commit writer: the only code that appends to the ledger.
//!
//! Callers seal their entries (validate, encode, hash — in parallel, on their own threads) and
//! queue them on a bounded channel; a full queue makes them wait (back-pressure). One thread
//! per process takes everything queued, up to `batch_entries_max` entries (lingering up to
//! `batch_wait_ms` for more when asked to), and in one transaction: takes the cross-process
//! append lock, reloads the tree's right edge if another process appended, inserts the
//! entries, blobs, completed tree nodes and projection rows, signs one checkpoint, and commits
//! with an fsync. Only then is every request in the batch acknowledged. A failed batch is
//! rolled back and every request in it told so; nothing is acknowledged that is not durable.

use crate::db::{AppendBatch, Db, StoredCheckpoint};
use crate::metrics::WriterMetrics;
use crate::read::DbSource;
use crate::{Result, Store, StoreError};
use kiroku_domain::entry::{Draft, Payload, SALT_BYTES};
use kiroku_domain::projection::{project_deferred, validate, Change};
use kiroku_domain::{Clock, Entropy, EntryIndex, Sealed, Timestamp};
use kiroku_ledger::hash::content_hash;
use kiroku_ledger::{Checkpoint, Frontier, Signer, TILE_HEIGHT};
use serde_json::Value as Json;
use std::sync::atomic::Ordering;
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
    /// When the first entry was made.
    pub time: Timestamp,
}

/// Why an append failed.
#[derive(Debug, thiserror::Error)]
pub enum AppendError {
    /// The request was refused before anything was written.
    #[error(transparent)]
    Invalid(#[from] kiroku_domain::EntryError),
    /// The request has no entries, or more than one batch holds.
    #[error("an append takes 1 to {max} entries, not {count}")]
    Count {
        /// Asked.
        count: usize,
        /// Allowed.
        max: usize,
    },
    /// The batch failed and was rolled back; nothing of it was written.
    #[error("the ledger could not commit: {0}")]
    Failed(String),
    /// The writer has stopped.
    #[error("the ledger writer has stopped")]
    Stopped,
}

/// An entry sealed and projected by its caller, waiting for an index.
struct Pending {
    leaf: kiroku_ledger::Hash,
    bytes: Vec<u8>,
    blob: Option<(kiroku_ledger::Hash, Vec<u8>)>,
    /// Projection rows, with [`kiroku_domain::Value::ThisEntry`] for the index.
    changes: Vec<Change>,
    time: Timestamp,
}

struct Request {
    entries: Vec<Pending>,
    reply: oneshot::Sender<Reply>,
}

/// The writer's answer. It hands the request's entries back so that their memory is freed on
/// the caller's thread rather than on the writer's critical path.
struct Reply {
    result: Result<Receipt, AppendError>,
    _spent: Vec<Pending>,
}

enum Message {
    Append(Request),
    /// Commit what came before, then end.
    Stop,
}

/// A cheap, cloneable handle for appending.
#[derive(Clone)]
pub struct WriterHandle {
    queue: mpsc::Sender<Message>,
    metrics: Arc<WriterMetrics>,
    clock: Arc<dyn Clock>,
    entropy: Arc<dyn Entropy>,
    config: Arc<WriterConfig>,
}

/// The running writer; dropping every handle and calling [`Writer::shutdown`] stops it after
/// the queued requests are committed.
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
            .map_err(|e| StoreError::Corrupt(format!("cannot start the writer thread: {e}")))?;
        Ok(Writer {
            handle: WriterHandle {
                queue,
                metrics,
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
            let _ = self.handle.queue.blocking_send(Message::Stop);
            let _ = thread.join();
        }
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

    /// Validates, seals and projects drafts with the current time and fresh salts — the work
    /// that needs no index happens here, on the caller's thread, in parallel.
    fn seal(&self, drafts: Vec<Draft>) -> Result<Vec<Pending>, AppendError> {
        let max = self.config.batch_entries_max;
        if drafts.is_empty() || drafts.len() > max {
            return Err(AppendError::Count {
                count: drafts.len(),
                max,
            });
        }
        let time = self.clock.now();
        drafts
            .into_iter()
            .map(|draft| {
                // Validated before encoding so a bad payload costs no work (projecting checks
                // again, as a replay must).
                validate(&draft.kind, &draft.payload)?;
                let mut salt = [0u8; SALT_BYTES];
                self.entropy.fill(&mut salt);
                let sealed = Sealed::seal(
                    draft,
                    time,
                    salt,
                    self.config.entry_bytes_max,
                    self.config.blob_bytes_max,
                )?;
                let Sealed {
                    mut entry,
                    bytes,
                    leaf,
                    blob,
                } = sealed;
                let payload = match (
                    std::mem::replace(&mut entry.payload, Payload::Inline(Json::Null)),
                    &blob,
                ) {
                    (Payload::Inline(payload), _) => payload,
                    (Payload::Blob { .. }, Some(blob)) => serde_json::from_slice(blob)
                        .map_err(|_| AppendError::Failed("a blob payload is not JSON".into()))?,
                    (Payload::Blob { .. }, None) => {
                        return Err(AppendError::Failed("a sealed entry lost its blob".into()))
                    }
                };
                let changes = project_deferred(entry, payload)?;
                Ok(Pending {
                    leaf,
                    blob: blob.map(|b| (content_hash(&b), b)),
                    bytes,
                    changes,
                    time,
                })
            })
            .collect()
    }

    /// Appends drafts as consecutive entries; returns once they are durable and covered by a
    /// signed checkpoint. Waits while the queue is full.
    pub async fn append(&self, drafts: Vec<Draft>) -> Result<Receipt, AppendError> {
        let sealed = self.seal(drafts)?;
        let (reply, answer) = oneshot::channel();
        if self
            .queue
            .send(Message::Append(Request {
                entries: sealed,
                reply,
            }))
            .await
            .is_err()
        {
            return Err(AppendError::Stopped);
        }
        // Counted once queued (a caller dropped while waiting for room never was); the writer
        // may count it out first, so the gauge can read -1 for an instant.
        self.metrics.queue_depth.fetch_add(1, Ordering::Relaxed);
        answer
            .await
            .map_or(Err(AppendError::Stopped), |reply| reply.result)
    }

    /// [`WriterHandle::append`] for threads outside an async runtime.
    pub fn append_blocking(&self, drafts: Vec<Draft>) -> Result<Receipt, AppendError> {
        let sealed = self.seal(drafts)?;
        let (reply, answer) = oneshot::channel();
        if self
            .queue
            .blocking_send(Message::Append(Request {
                entries: sealed,
                reply,
            }))
            .is_err()
        {
            return Err(AppendError::Stopped);
        }
        self.metrics.queue_depth.fetch_add(1, Ordering::Relaxed);
        answer
            .blocking_recv()
            .map_or(Err(AppendError::Stopped), |reply| reply.result)
    }
}

struct WriterThread {
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
    held: Option<Request>,
    /// A stop was received: end after this batch.
    stopping: bool,
    /// (first index, size, root) of a batch whose COMMIT was sent but not confirmed.
    in_doubt: Option<(u64, u64, kiroku_ledger::Hash)>,
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
            let mut batch = self.gather(first);
            self.metrics
                .queue_depth
                .fetch_sub(batch.len() as i64, Ordering::Relaxed);
            let started = Instant::now();
            let outcome = match self.commit(&mut batch) {
                Err(error) => match self.in_doubt.take() {
                    // The COMMIT was sent: acknowledge only if it is found durable.
                    Some((first, size, root)) if self.committed_anyway(size, &root) => {
                        tracing::warn!(%error, tree_size = size, "commit answer lost, but the batch is durable");
                        Ok((first, size))
                    }
                    _ => Err(error),
                },
                ok => ok,
            };
            match outcome {
                Ok((first_index, tree_size)) => {
                    self.metrics
                        .batch_seconds
                        .observe_duration(started.elapsed());
                    let mut index = first_index;
                    for request in batch {
                        let count = request.entries.len() as u64;
                        let time = request.entries.first().map_or(Timestamp(0), |p| p.time);
                        let _ = request.reply.send(Reply {
                            result: Ok(Receipt {
                                first: EntryIndex(index),
                                count,
                                tree_size,
                                time,
                            }),
                            _spent: request.entries,
                        });
                        index += count;
                    }
                }
                Err(error) => {
                    self.metrics
                        .batch_failures_total
                        .fetch_add(1, Ordering::Relaxed);
                    tracing::error!(%error, entries = batch.len(), "ledger batch rolled back");
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
                        });
                    }
                }
            }
        }
    }

    /// After a lost COMMIT answer: is the checkpoint the batch would have written stored? Uses
    /// a fresh connection (the old one is suspect).
    fn committed_anyway(&mut self, size: u64, root: &kiroku_ledger::Hash) -> bool {
        self.db = None;
        self.frontier = None;
        let Ok(mut db) = crate::db::connect(&self.store_url) else {
            return false;
        };
        db.checkpoints(size, 1)
            .ok()
            .and_then(|found| found.into_iter().next())
            .is_some_and(|c| c.size == size && c.root == root.0)
    }

    /// Takes queued requests up to the batch limit, lingering if configured.
    fn gather(&mut self, first: Request) -> Vec<Request> {
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

    /// Writes and commits one batch; returns the first index and the new tree size.
    fn commit(&mut self, batch: &mut [Request]) -> Result<(u64, u64)> {
        if self.db.is_none() {
            self.db = Some(crate::db::connect(&self.store_url)?);
        }
        let Some(db) = self.db.as_mut() else {
            return Err(StoreError::WriterStopped);
        };
        let (stored, signed_root) = db.begin_append()?;
        let signed_root = signed_root.unwrap_or_else(kiroku_ledger::Hash::empty);
        let mut frontier = match self.frontier.take() {
            Some(f) if f.size() == stored && f.root() == signed_root => f,
            // First batch, after a failure, or another process appended: reload the edge, and
            // refuse to extend a stored tree that does not match its own signed checkpoint.
            _ => {
                let loaded = Frontier::load(&mut DbSource(db.as_mut()), stored)?;
                if loaded.root() != signed_root {
                    return Err(StoreError::Corrupt(format!(
                        "the stored tree of size {stored} does not match its signed checkpoint; \
                         nothing was appended (run kiroku verify)"
                    )));
                }
                loaded
            }
        };
        let first = frontier.size();
        let count: usize = batch.iter().map(|r| r.entries.len()).sum();
        let mut changes = Vec::with_capacity(count);
        for pending in batch.iter_mut().flat_map(|r| r.entries.iter_mut()) {
            let index = EntryIndex(first + changes.len() as u64);
            for change in &mut pending.changes {
                change.resolve(index)?;
            }
            changes.push(std::mem::take(&mut pending.changes));
        }
        let mut entries = Vec::with_capacity(count);
        let mut nodes = Vec::new();
        let mut blobs = Vec::new();
        for pending in batch.iter().flat_map(|r| &r.entries) {
            frontier.push(pending.leaf, |done| {
                if done.height > 0 && done.height % TILE_HEIGHT == 0 {
                    nodes.push((done.height / TILE_HEIGHT, done.index, done.hash));
                }
            });
            entries.push((pending.leaf, pending.bytes.as_slice()));
            if let Some((hash, blob)) = &pending.blob {
                blobs.push((*hash, blob.as_slice()));
            }
        }
        let changes: Vec<Change> = changes.into_iter().flatten().collect();
        let size = frontier.size();
        let root = frontier.root();
        let checkpoint = Checkpoint {
            origin: self.origin.clone(),
            size,
            root,
            extensions: Vec::new(),
        };
        let note = checkpoint
            .sign(&self.signer)
            .map_err(|e| StoreError::Sign(e.to_string()))?;
        db.write_batch(&AppendBatch {
            first,
            entries,
            nodes,
            blobs,
            changes,
            checkpoint: StoredCheckpoint {
                size,
                root: root.0.to_vec(),
                note,
                created_at: self.clock.now().to_string(),
            },
        })?;
        let commit_started = Instant::now();
        // If the commit's answer is lost, the batch may or may not be durable: remember what
        // it would have signed so the failure path can look.
        self.in_doubt = Some((first, size, root));
        db.commit()?;
        self.in_doubt = None;
        self.metrics
            .commit_seconds
            .observe_duration(commit_started.elapsed());
        self.metrics.batch_entries.observe(count as f64);
        self.metrics
            .entries_total
            .fetch_add(count as u64, Ordering::Relaxed);
        self.metrics.batches_total.fetch_add(1, Ordering::Relaxed);
        self.frontier = Some(frontier);
        Ok((first, size))
    }
}

impl Drop for Writer {
    fn drop(&mut self) {
        self.stop();
    }
}
