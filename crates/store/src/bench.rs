//! The ledger benchmark behind `kiroku bench ledger`: entries appended by concurrent writers
//! through the real group-commit writer, then the same rows inserted with plain batched
//! INSERTs and no ledger (the baseline), in the same database, in the same run.

use crate::writer::{AppendError, WriterHandle};
use crate::{Result, Store, StoreError};
use kiroku_domain::entry::{decode, Draft, Payload};
use kiroku_domain::projection::project;
use kiroku_domain::{Actor, EntryIndex, Kind};
use serde_json::json;
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

/// What a ledger benchmark measured.
#[derive(Clone, Debug, serde::Serialize)]
pub struct LedgerBench {
    /// "sqlite" or "postgresql".
    pub backend: &'static str,
    /// Entries appended.
    pub entries: u64,
    /// Concurrent writers.
    pub writers: usize,
    /// Wall time of the appends.
    pub seconds: f64,
    /// Durable entries per second.
    pub entries_per_s: f64,
    /// Median acknowledgement latency.
    pub ack_p50_ms: f64,
    /// 99th-percentile acknowledgement latency.
    pub ack_p99_ms: f64,
    /// Slowest acknowledgement.
    pub ack_max_ms: f64,
    /// Batches committed.
    pub batches: u64,
    /// Mean entries per batch (the baseline inserts in batches of this size).
    pub batch_entries_mean: f64,
    /// Rows per second of the plain batched INSERT.
    pub baseline_rows_per_s: f64,
    /// Baseline rows/s divided by ledger entries/s: the ledger's cost factor.
    pub ratio: f64,
}

/// A synthetic operator note (no patient data: the benchmark makes its own).
pub fn synthetic_note(i: u64) -> Draft {
    Draft {
        kind: Kind::new(Kind::LEDGER_NOTE).unwrap_or_else(|_| unreachable_kind()),
        actor: Actor::operator("bench"),
        subject: None,
        reason: None,
        payload: json!({
            "text": format!("bench entry {i}: synthetic operator note written to measure the ledger's throughput")
        }),
    }
}

#[allow(clippy::panic)]
fn unreachable_kind() -> Kind {
    panic!("the note kind constant is valid")
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = ((p * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1].as_secs_f64() * 1e3
}

/// Runs the benchmark: `entries` notes from `writers` threads, then the baseline.
pub fn ledger(
    store: &Store,
    writer: &WriterHandle,
    entries: u64,
    writers: usize,
) -> Result<LedgerBench> {
    let writers = writers.max(1);
    let start_size = crate::read::latest_checkpoint(store)?.map_or(0, |c| c.size);
    let batches_before = writer
        .metrics()
        .batches_total
        .load(std::sync::atomic::Ordering::Relaxed);
    let barrier = Arc::new(Barrier::new(writers + 1));
    let mut threads = Vec::new();
    for w in 0..writers as u64 {
        let writer = writer.clone();
        let barrier = barrier.clone();
        let share = entries / writers as u64 + u64::from(w < entries % writers as u64);
        threads.push(std::thread::spawn(
            move || -> Result<Vec<Duration>, AppendError> {
                let mut latencies = Vec::with_capacity(share as usize);
                barrier.wait();
                for i in 0..share {
                    let started = Instant::now();
                    writer.append_blocking(vec![synthetic_note(w * 1_000_000_000 + i)])?;
                    latencies.push(started.elapsed());
                }
                Ok(latencies)
            },
        ));
    }
    barrier.wait();
    let started = Instant::now();
    let mut latencies = Vec::with_capacity(entries as usize);
    for thread in threads {
        let result = thread
            .join()
            .map_err(|_| StoreError::Corrupt("a benchmark writer panicked".into()))?;
        latencies.extend(result.map_err(|e| StoreError::Corrupt(e.to_string()))?);
    }
    let seconds = started.elapsed().as_secs_f64();
    latencies.sort();
    let batches = writer
        .metrics()
        .batches_total
        .load(std::sync::atomic::Ordering::Relaxed)
        - batches_before;
    let batch_entries_mean = entries as f64 / batches.max(1) as f64;

    // The baseline: the same entry rows and projection rows, plain batched INSERTs.
    let mut reader = store.reader()?;
    let db = reader.db();
    let mut rows = Vec::with_capacity(entries as usize);
    let mut from = start_size;
    while from < start_size + entries {
        let page = db.entries(from, (start_size + entries - from).min(8192))?;
        if page.is_empty() {
            break;
        }
        from += page.len() as u64;
        rows.extend(page);
    }
    let mut changes = Vec::with_capacity(rows.len());
    let mut keyed = Vec::with_capacity(rows.len());
    for row in &rows {
        let entry = decode(&row.body)?;
        let Payload::Inline(payload) = &entry.payload else {
            return Err(StoreError::Corrupt("benchmark entries are inline".into()));
        };
        changes.push(project(EntryIndex(row.idx), &entry, payload)?);
        let leaf = crate::db::hash_column(&row.leaf_hash, "leaf hash")?;
        keyed.push((row.idx, leaf, row.body.as_slice()));
    }
    db.baseline_prepare()?;
    let chunk = (batch_entries_mean.round() as usize).max(1);
    let baseline_started = Instant::now();
    for (rows, changes) in keyed.chunks(chunk).zip(changes.chunks(chunk)) {
        let flat: Vec<_> = changes.iter().flatten().cloned().collect();
        db.baseline_insert(rows, &flat)?;
    }
    let baseline_seconds = baseline_started.elapsed().as_secs_f64();
    let entries_per_s = entries as f64 / seconds;
    let baseline_rows_per_s = keyed.len() as f64 / baseline_seconds;
    Ok(LedgerBench {
        backend: store.url().backend_name(),
        entries,
        writers,
        seconds,
        entries_per_s,
        ack_p50_ms: percentile(&latencies, 0.50),
        ack_p99_ms: percentile(&latencies, 0.99),
        ack_max_ms: percentile(&latencies, 1.0),
        batches,
        batch_entries_mean,
        baseline_rows_per_s,
        ratio: baseline_rows_per_s / entries_per_s,
    })
}

/// Appends `entries` notes in requests of `per_request` (to fill a ledger fast for the
/// verification benchmark); calls `progress(done)` after each request.
pub fn fill(
    writer: &WriterHandle,
    entries: u64,
    per_request: u64,
    progress: &mut dyn FnMut(u64),
) -> Result<()> {
    let mut done = 0;
    while done < entries {
        let n = per_request.min(entries - done).max(1);
        let drafts = (done..done + n).map(synthetic_note).collect();
        writer
            .append_blocking(drafts)
            .map_err(|e| StoreError::Corrupt(e.to_string()))?;
        done += n;
        progress(done);
    }
    Ok(())
}
