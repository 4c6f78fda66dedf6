//! The ledger benchmark behind `kiroku bench ledger`: entries appended by concurrent writers
//! through the real group-commit writer, then the same rows inserted with plain batched
//! INSERTs and no ledger (the baseline), in the same database, in the same run.

use crate::writer::WriterHandle;
use crate::{Result, Store, StoreError};
use kiroku_domain::entry::{decode, Draft, Payload};
use kiroku_domain::projection::project;
use kiroku_domain::{Actor, EntryIndex, Kind};
use serde_json::json;
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

/// Percentiles of acknowledgement latencies, in milliseconds.
pub fn latency_ms(latencies: &mut [Duration]) -> (f64, f64, f64) {
    latencies.sort();
    (
        percentile(latencies, 0.50),
        percentile(latencies, 0.99),
        percentile(latencies, 1.0),
    )
}

/// The baseline: the entry rows `start..start + entries` already in the ledger, and the
/// projection rows they put, inserted again with plain batched INSERTs (batches of `batch`
/// rows, one durable commit each, no ledger) into scratch tables of the same shape. Returns
/// rows per second.
pub fn baseline(store: &Store, start: u64, entries: u64, batch: usize) -> Result<f64> {
    let mut reader = store.reader()?;
    let db = reader.db();
    let mut rows = Vec::with_capacity(entries as usize);
    let mut from = start;
    while from < start + entries {
        let page = db.entries(from, (start + entries - from).min(8192))?;
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
        let Payload::Inline(payload) = entry.payload.clone() else {
            return Err(StoreError::Corrupt("benchmark entries are inline".into()));
        };
        changes.push(project(EntryIndex(row.idx), entry, payload)?);
        let leaf = crate::db::hash_column(&row.leaf_hash, "leaf hash")?;
        keyed.push((row.idx, leaf, row.body.as_slice()));
    }
    db.baseline_prepare()?;
    let batch = batch.max(1);
    let started = Instant::now();
    for (rows, changes) in keyed.chunks(batch).zip(changes.chunks(batch)) {
        let flat: Vec<_> = changes.iter().flatten().cloned().collect();
        db.baseline_insert(rows, &flat)?;
    }
    Ok(keyed.len() as f64 / started.elapsed().as_secs_f64())
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
