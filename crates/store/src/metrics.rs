//! The writer's measurements, kept in atomics and written in the Prometheus text format:
//! queue depth, batch sizes, commit (fsync) and batch latencies, totals.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::time::Duration;

/// A cumulative histogram with fixed bucket bounds.
#[derive(Debug)]
pub struct Histogram {
    bounds: &'static [f64],
    counts: Vec<AtomicU64>,
    count: AtomicU64,
    /// Sum in millionths of the unit.
    sum_micro: AtomicU64,
}

impl Histogram {
    /// A histogram with these upper bounds (ascending).
    pub fn new(bounds: &'static [f64]) -> Histogram {
        Histogram {
            bounds,
            counts: bounds.iter().map(|_| AtomicU64::new(0)).collect(),
            count: AtomicU64::new(0),
            sum_micro: AtomicU64::new(0),
        }
    }

    /// Records one observation.
    pub fn observe(&self, value: f64) {
        for (bound, count) in self.bounds.iter().zip(&self.counts) {
            if value <= *bound {
                count.fetch_add(1, Ordering::Relaxed);
            }
        }
        self.count.fetch_add(1, Ordering::Relaxed);
        self.sum_micro
            .fetch_add((value * 1e6).max(0.0) as u64, Ordering::Relaxed);
    }

    /// Records a duration in seconds.
    pub fn observe_duration(&self, duration: Duration) {
        self.observe(duration.as_secs_f64());
    }

    fn render(&self, out: &mut String, name: &str, help: &str) {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} histogram");
        for (bound, count) in self.bounds.iter().zip(&self.counts) {
            let _ = writeln!(
                out,
                "{name}_bucket{{le=\"{bound}\"}} {}",
                count.load(Ordering::Relaxed)
            );
        }
        let count = self.count.load(Ordering::Relaxed);
        let _ = writeln!(out, "{name}_bucket{{le=\"+Inf\"}} {count}");
        let _ = writeln!(
            out,
            "{name}_sum {}",
            self.sum_micro.load(Ordering::Relaxed) as f64 / 1e6
        );
        let _ = writeln!(out, "{name}_count {count}");
    }
}

const SECONDS: &[f64] = &[
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
];
const ENTRIES: &[f64] = &[
    1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0, 512.0, 1024.0, 4096.0,
];

/// What the writer measures.
#[derive(Debug)]
pub struct WriterMetrics {
    /// Requests waiting in the queue.
    pub queue_depth: AtomicI64,
    /// Entries committed.
    pub entries_total: AtomicU64,
    /// Batches committed.
    pub batches_total: AtomicU64,
    /// Batches that failed and were rolled back.
    pub batch_failures_total: AtomicU64,
    /// Entries per committed batch.
    pub batch_entries: Histogram,
    /// Duration of COMMIT, where the database fsyncs.
    pub commit_seconds: Histogram,
    /// Duration of a whole batch, from taking the lock to the commit.
    pub batch_seconds: Histogram,
}

impl Default for WriterMetrics {
    fn default() -> Self {
        WriterMetrics {
            queue_depth: AtomicI64::new(0),
            entries_total: AtomicU64::new(0),
            batches_total: AtomicU64::new(0),
            batch_failures_total: AtomicU64::new(0),
            batch_entries: Histogram::new(ENTRIES),
            commit_seconds: Histogram::new(SECONDS),
            batch_seconds: Histogram::new(SECONDS),
        }
    }
}

impl WriterMetrics {
    /// Appends the Prometheus text of these metrics to `out`.
    pub fn render(&self, out: &mut String) {
        let gauge = |out: &mut String, name: &str, help: &str, kind: &str, value: i64| {
            let _ = writeln!(
                out,
                "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {value}"
            );
        };
        gauge(
            out,
            "kiroku_writer_queue_depth",
            "Append requests waiting for the ledger writer.",
            "gauge",
            self.queue_depth.load(Ordering::Relaxed),
        );
        gauge(
            out,
            "kiroku_writer_entries_total",
            "Entries committed by this process's writer.",
            "counter",
            self.entries_total.load(Ordering::Relaxed) as i64,
        );
        gauge(
            out,
            "kiroku_writer_batches_total",
            "Batches committed by this process's writer.",
            "counter",
            self.batches_total.load(Ordering::Relaxed) as i64,
        );
        gauge(
            out,
            "kiroku_writer_batch_failures_total",
            "Batches rolled back after an error.",
            "counter",
            self.batch_failures_total.load(Ordering::Relaxed) as i64,
        );
        self.batch_entries.render(
            out,
            "kiroku_writer_batch_entries",
            "Entries per committed batch.",
        );
        self.commit_seconds.render(
            out,
            "kiroku_writer_commit_fsync_seconds",
            "Duration of each batch's COMMIT, where the database fsyncs.",
        );
        self.batch_seconds.render(
            out,
            "kiroku_writer_batch_seconds",
            "Duration of each batch from lock to durable commit.",
        );
    }
}
