//! `kiroku bench`: benchmarks that print their figures beside the baseline and targets they
//! are judged against. They run on a scratch database: a temporary SQLite file, or a fresh
//! database created (and dropped) on the PostgreSQL server named by `--database-url`.

use anyhow::{Context as _, Result};
use clap::Subcommand;
use kiroku_domain::{Clock as _, Entropy as _, SeededEntropy};
use kiroku_ledger::{Signer, Verifier};
use kiroku_store::bench::{synthetic_note, LedgerBench};
use kiroku_store::system::{OsEntropy, SystemClock};
use kiroku_store::writer::{Writer, WriterConfig};
use kiroku_store::{DatabaseUrl, Store};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Instant;

#[derive(Subcommand)]
pub enum BenchCommand {
    /// Append N entries from C concurrent writers through the real group-commit writer, then
    /// insert the same rows with plain batched INSERTs (the baseline). Prints entries/s,
    /// acknowledgement latency p50/p99, the baseline's rows/s and the ratio.
    Ledger {
        /// A PostgreSQL server to run on (a scratch database is created and dropped);
        /// default: a temporary SQLite file.
        #[arg(long, value_name = "URL")]
        database_url: Option<String>,
        /// Entries to append.
        #[arg(long, default_value_t = 200_000)]
        entries: u64,
        /// Concurrent writers.
        #[arg(long, default_value_t = 64)]
        writers: usize,
        /// Most entries per group commit.
        #[arg(long, default_value_t = 1024)]
        batch_entries_max: usize,
        /// Print one JSON object instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Fill a scratch ledger with N entries, then time `verify` over it.
    Verify {
        /// A PostgreSQL server to run on; default: a temporary SQLite file.
        #[arg(long, value_name = "URL")]
        database_url: Option<String>,
        /// Entries in the ledger.
        #[arg(long, default_value_t = 1_000_000)]
        entries: u64,
        /// Print one JSON object instead of text.
        #[arg(long)]
        json: bool,
    },
}

const ORIGIN: &str = "kiroku.bench/ledger";

/// A scratch database that is removed when dropped.
struct Scratch {
    url: DatabaseUrl,
    cleanup: Cleanup,
}

enum Cleanup {
    Dir(PathBuf),
    Postgres(DatabaseUrl, String),
}

impl Scratch {
    fn new(server: Option<&str>) -> Result<Scratch> {
        let tag = format!(
            "kiroku_bench_{}_{}",
            std::process::id(),
            SystemClock.now().0
        );
        match server {
            None => {
                let dir = std::env::temp_dir().join(&tag);
                std::fs::create_dir_all(&dir)
                    .with_context(|| format!("cannot create {}", dir.display()))?;
                Ok(Scratch {
                    url: DatabaseUrl::sqlite(dir.join("bench.db")),
                    cleanup: Cleanup::Dir(dir),
                })
            }
            Some(server) => {
                let server = DatabaseUrl::parse(server)?;
                let url = kiroku_store::scratch::create_postgres_database(&server, &tag)
                    .context("cannot create a scratch database for the benchmark")?;
                Ok(Scratch {
                    url,
                    cleanup: Cleanup::Postgres(server, tag),
                })
            }
        }
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        match &self.cleanup {
            Cleanup::Dir(dir) => {
                let _ = std::fs::remove_dir_all(dir);
            }
            Cleanup::Postgres(server, name) => {
                let _ = kiroku_store::scratch::drop_postgres_database(server, name);
            }
        }
    }
}

/// A writer with a fresh signing key; returns the key's verifier too.
fn writer(store: &Store, config: WriterConfig) -> Result<(Writer, Verifier)> {
    let mut seed = [0u8; 32];
    OsEntropy.fill(&mut seed);
    let signer = Signer::from_seed(ORIGIN, seed)?;
    let verifier = signer.verifier();
    let writer = Writer::start(
        store,
        signer,
        ORIGIN.into(),
        Arc::new(SystemClock),
        Arc::new(SeededEntropy::new(1)),
        config,
    )?;
    Ok((writer, verifier))
}

/// Appends `entries` notes from `writers` concurrent tasks — each awaiting its
/// acknowledgement before sending the next, as request handlers do — then runs the baseline.
fn measure_ledger(
    store: &Store,
    writer: &Writer,
    entries: u64,
    writers: usize,
) -> Result<LedgerBench> {
    let start = kiroku_store::read::latest_checkpoint(store)?.map_or(0, |c| c.size);
    let batches_before = writer
        .handle()
        .metrics()
        .batches_total
        .load(Ordering::Relaxed);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let (seconds, mut latencies) = runtime.block_on(async {
        let started = Instant::now();
        let tasks: Vec<_> = (0..writers as u64)
            .map(|w| {
                let handle = writer.handle();
                let share = entries / writers as u64 + u64::from(w < entries % writers as u64);
                tokio::spawn(async move {
                    let mut latencies = Vec::with_capacity(share as usize);
                    for i in 0..share {
                        let sent = Instant::now();
                        handle
                            .append(vec![synthetic_note(w * 1_000_000_000 + i)])
                            .await?;
                        latencies.push(sent.elapsed());
                    }
                    Ok::<_, kiroku_store::writer::AppendError>(latencies)
                })
            })
            .collect();
        let mut latencies = Vec::with_capacity(entries as usize);
        for task in tasks {
            latencies.extend(task.await??);
        }
        Ok::<_, anyhow::Error>((started.elapsed().as_secs_f64(), latencies))
    })?;
    let batches = writer
        .handle()
        .metrics()
        .batches_total
        .load(Ordering::Relaxed)
        - batches_before;
    let batch_entries_mean = entries as f64 / batches.max(1) as f64;
    let (ack_p50_ms, ack_p99_ms, ack_max_ms) = kiroku_store::bench::latency_ms(&mut latencies);
    let entries_per_s = entries as f64 / seconds;
    let baseline_rows_per_s =
        kiroku_store::bench::baseline(store, start, entries, batch_entries_mean.round() as usize)?;
    Ok(LedgerBench {
        backend: store.url().backend_name(),
        entries,
        writers,
        seconds,
        entries_per_s,
        ack_p50_ms,
        ack_p99_ms,
        ack_max_ms,
        batches,
        batch_entries_mean,
        baseline_rows_per_s,
        ratio: baseline_rows_per_s / entries_per_s,
    })
}

pub fn run(command: BenchCommand) -> Result<ExitCode> {
    match command {
        BenchCommand::Ledger {
            database_url,
            entries,
            writers,
            batch_entries_max,
            json,
        } => {
            anyhow::ensure!(entries > 0, "--entries must be at least 1");
            anyhow::ensure!((1..=4096).contains(&writers), "--writers must be 1 to 4096");
            let scratch = Scratch::new(database_url.as_deref())?;
            let store = Store::open(&scratch.url, 4)?;
            let (writer, _) = writer(
                &store,
                WriterConfig {
                    batch_entries_max,
                    ..WriterConfig::default()
                },
            )?;
            // Warm up connections and caches, outside the measurement.
            kiroku_store::bench::fill(&writer.handle(), 1000, 100, &mut |_| {})?;
            let result = measure_ledger(&store, &writer, entries, writers)?;
            writer.shutdown();
            drop(store);
            drop(scratch);
            if json {
                println!("{}", serde_json::to_string(&result)?);
            } else {
                println!(
                    "kiroku bench ledger — {} entries, {} writers, {}",
                    result.entries, result.writers, result.backend
                );
                println!("  ledger:   {:>10.0} entries/s  (ack p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms; {} batches, {:.1} entries/batch)",
                    result.entries_per_s, result.ack_p50_ms, result.ack_p99_ms, result.ack_max_ms, result.batches, result.batch_entries_mean);
                println!("  baseline: {:>10.0} rows/s     (plain batched INSERT of the same rows, batches of {:.0}, no ledger)",
                    result.baseline_rows_per_s, result.batch_entries_mean.round());
                println!(
                    "  ratio:    {:>10.2}            (baseline rows/s ÷ ledger entries/s)",
                    result.ratio
                );
                println!("  targets:  SQLite ≥ 50000 entries/s with 64 writers, ack p99 < 25 ms, ratio ≤ 1.5; PostgreSQL ≥ 20000 entries/s");
            }
            Ok(ExitCode::SUCCESS)
        }
        BenchCommand::Verify {
            database_url,
            entries,
            json,
        } => {
            anyhow::ensure!(entries > 0, "--entries must be at least 1");
            let scratch = Scratch::new(database_url.as_deref())?;
            let store = Store::open(&scratch.url, 2)?;
            let (writer, verifier) = writer(
                &store,
                WriterConfig {
                    batch_entries_max: 4096,
                    ..WriterConfig::default()
                },
            )?;
            let mut bar = crate::progress::Bar::new("filling");
            kiroku_store::bench::fill(&writer.handle(), entries, 4096, &mut |done| {
                bar.update(done, entries)
            })?;
            bar.finish();
            writer.shutdown();
            let mut bar = crate::progress::Bar::new("verifying");
            let started = std::time::Instant::now();
            let report = kiroku_store::verify::verify(&store, ORIGIN, &verifier, &mut |d, t| {
                bar.update(d, t)
            })?;
            bar.finish();
            let seconds = started.elapsed().as_secs_f64();
            anyhow::ensure!(
                report.problem.is_none(),
                "verification failed: {:?}",
                report.problem
            );
            let rate = report.entries as f64 / seconds;
            if json {
                println!(
                    "{}",
                    serde_json::json!({"backend": scratch.url.backend_name(), "entries": report.entries, "checkpoints": report.checkpoints, "seconds": seconds, "entries_per_s": rate})
                );
            } else {
                println!(
                    "kiroku bench verify — {} entries, {} checkpoints, {}",
                    report.entries,
                    report.checkpoints,
                    scratch.url.backend_name()
                );
                println!("  verify:   {rate:>10.0} entries/s ({seconds:.2} s)");
                println!("  target:   ≥ 500000 entries/s");
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}
