//! The store's part of the benchmarks: the **baseline** a ledger is measured against — the same
//! rows (entry rows and the projection rows they put) written with plain batched INSERTs into a
//! second database of the same schema, each batch one durable transaction, with no lock, no
//! tree, no signature and no checkpoint — and latency percentiles. The drivers that append real
//! entries live with the use cases (`kiroku-app`), which know the contexts.

use crate::db::{AppendBatch, Db};
use crate::url::DatabaseUrl;
use crate::{Result, Store, StoreError};
use kiroku_core::entry::{decode_fields, Payload};
use kiroku_core::projection::Net;
use kiroku_core::{EntryIndex, Registry};
use kiroku_ledger::Hash;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Rows read back from a ledger, ready to be written again plainly.
pub struct Rows {
    /// (index, leaf hash, bytes) of each entry.
    entries: Vec<(u64, Hash, Vec<u8>)>,
    /// The projection changes of each entry, resolved.
    changes: Vec<Vec<kiroku_core::Change>>,
}

impl Rows {
    /// How many entries.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// None?
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

/// Reads entries `from..to` of a ledger and the projection changes they make (outside any
/// timing).
pub fn read_rows(store: &Store, from: u64, to: u64) -> Result<Rows> {
    let mut reader = store.reader()?;
    let db = reader.db();
    let mut rows = Rows {
        entries: Vec::new(),
        changes: Vec::new(),
    };
    let mut next = from;
    while next < to {
        let page = db.entries(next, (to - next).min(8192))?;
        let Some(last) = page.last().map(|r| r.idx) else {
            break;
        };
        next = last + 1;
        for row in page {
            let mut entry = decode_fields(&row.body)?;
            let payload = match std::mem::replace(
                &mut entry.payload,
                Payload::Inline(serde_json::Value::Null),
            ) {
                Payload::Inline(payload) => payload,
                Payload::Blob { .. } => {
                    return Err(StoreError::Refused(
                        "benchmark entries are small enough to be inline".into(),
                    ))
                }
            };
            let mut changes = store.registry().interpret(&entry, payload)?;
            for change in &mut changes {
                change.resolve(EntryIndex(row.idx))?;
            }
            let leaf = crate::db::hash_column(&row.leaf_hash, "leaf hash")?;
            rows.entries.push((row.idx, leaf, row.body));
            rows.changes.push(changes);
        }
    }
    Ok(rows)
}

/// A plain database of the ledger's schema that the baseline writes into.
pub struct Baseline {
    db: Box<dyn Db>,
}

impl Baseline {
    /// Opens (migrating and creating the declared tables in) the database at `url`.
    pub fn open(url: &DatabaseUrl, registry: Arc<Registry>) -> Result<Baseline> {
        drop(Store::open(url, registry, 1)?);
        Ok(Baseline {
            db: crate::db::connect(url)?,
        })
    }

    /// Writes `rows` in transactions of `batch` entries, each committed durably; returns the
    /// time taken.
    pub fn write(&mut self, rows: &Rows, batch: usize) -> Result<Duration> {
        let batch = batch.max(1);
        let started = Instant::now();
        for (entries, changes) in rows.entries.chunks(batch).zip(rows.changes.chunks(batch)) {
            let Some(first) = entries.first().map(|e| e.0) else {
                continue;
            };
            let mut net = Net::new();
            for ((idx, _, _), changes) in entries.iter().zip(changes) {
                for change in changes {
                    net.add(change.clone(), EntryIndex(*idx));
                }
            }
            let batch = AppendBatch {
                first,
                entries: entries
                    .iter()
                    .map(|(_, leaf, body)| (*leaf, body.as_slice()))
                    .collect(),
                nodes: Vec::new(),
                blobs: Vec::new(),
                net: &net,
                checkpoint: None,
            };
            self.db.begin()?;
            if let Err(e) = self.db.load(&batch, &[]) {
                self.db.rollback();
                return Err(e);
            }
            self.db.commit()?;
        }
        Ok(started.elapsed())
    }
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = ((p * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1].as_secs_f64() * 1e3
}

/// Percentiles p50, p99 and max of acknowledgement latencies, in milliseconds.
pub fn latency_ms(latencies: &mut [Duration]) -> (f64, f64, f64) {
    latencies.sort();
    (
        percentile(latencies, 0.50),
        percentile(latencies, 0.99),
        percentile(latencies, 1.0),
    )
}
