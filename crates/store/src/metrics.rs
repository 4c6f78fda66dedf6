//! The writer's measurements — queue depth, batch sizes, commit (fsync) and batch latencies,
//! totals, refused requests — as `prometheus-client` metrics the server registers and exposes.

use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

const SECONDS: [f64; 14] = [
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
];
const ENTRIES: [f64; 12] = [
    1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0, 512.0, 1024.0, 4096.0,
];

/// What the writer measures.
#[derive(Debug)]
pub struct WriterMetrics {
    /// Requests waiting in the queue.
    pub queue_depth: Gauge,
    /// Entries committed.
    pub entries: Counter,
    /// Batches committed.
    pub batches: Counter,
    /// Batches that failed and were rolled back.
    pub batch_failures: Counter,
    /// Requests refused because a precondition no longer held.
    pub conflicts: Counter,
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
            queue_depth: Gauge::default(),
            entries: Counter::default(),
            batches: Counter::default(),
            batch_failures: Counter::default(),
            conflicts: Counter::default(),
            batch_entries: Histogram::new(ENTRIES),
            commit_seconds: Histogram::new(SECONDS),
            batch_seconds: Histogram::new(SECONDS),
        }
    }
}

impl WriterMetrics {
    /// Registers every metric (they are shared handles: the registry reads the live values).
    pub fn register(&self, registry: &mut Registry) {
        registry.register(
            "kiroku_writer_queue_depth",
            "Append requests waiting for the ledger writer",
            self.queue_depth.clone(),
        );
        registry.register(
            "kiroku_writer_entries",
            "Entries committed by this process's writer",
            self.entries.clone(),
        );
        registry.register(
            "kiroku_writer_batches",
            "Batches committed by this process's writer",
            self.batches.clone(),
        );
        registry.register(
            "kiroku_writer_batch_failures",
            "Batches rolled back after an error",
            self.batch_failures.clone(),
        );
        registry.register(
            "kiroku_writer_conflicts",
            "Requests refused because a precondition no longer held",
            self.conflicts.clone(),
        );
        registry.register(
            "kiroku_writer_batch_entries",
            "Entries per committed batch",
            self.batch_entries.clone(),
        );
        registry.register(
            "kiroku_writer_commit_fsync_seconds",
            "Duration of each batch's COMMIT, where the database fsyncs",
            self.commit_seconds.clone(),
        );
        registry.register(
            "kiroku_writer_batch_seconds",
            "Duration of each batch from lock to durable commit",
            self.batch_seconds.clone(),
        );
    }
}
