//! `kiroku bench`: benchmarks that print their figures beside the baseline and the targets
//! they are judged against. They run on scratch databases: temporary SQLite files, or fresh
//! databases created (and dropped) on the PostgreSQL server named by `--database-url`.

use crate::progress::Bar;
use anyhow::{Context as _, Result};
use clap::Subcommand;
use kiroku_app::DatabaseUrl;
use kiroku_demo::bench;
use std::process::ExitCode;

#[derive(Subcommand)]
pub enum BenchCommand {
    /// Append N notes from C concurrent writers through the real writer, in slices that
    /// alternate with the baseline (the same rows written plainly into a second database of the
    /// same schema). Prints entries/s, acknowledgement latency, the baseline's rate and the
    /// ratio. With --preconditions, amendments on 10,000 note streams instead, some stale.
    Ledger {
        /// A PostgreSQL server to run on (scratch databases are created and dropped);
        /// default: temporary SQLite files.
        #[arg(long, value_name = "URL")]
        database_url: Option<String>,
        /// Entries to append (amendments to send, with --preconditions).
        #[arg(long, default_value_t = 200_000)]
        entries: u64,
        /// Concurrent writers.
        #[arg(long, default_value_t = 64)]
        writers: usize,
        /// Most entries per group commit.
        #[arg(long, default_value_t = 1024)]
        batch_entries_max: usize,
        /// Slices alternating ledger and baseline.
        #[arg(long, default_value_t = 10)]
        slices: usize,
        /// Measure amendments that carry the version they were decided on.
        #[arg(long)]
        preconditions: bool,
        /// Note streams the amendments go to (with --preconditions).
        #[arg(long, default_value_t = 10_000)]
        streams: u64,
        /// Percent of amendments decided on a stale version (with --preconditions).
        #[arg(long, default_value_t = 5)]
        stale_percent: u64,
        /// Print one JSON object instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Fill a scratch ledger with N notes, then time `verify` over it and report its peak memory.
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
    /// Time one Argon2id password hash at Kiroku's parameters, then the latency of other
    /// requests while C accounts sign in at once (against the same latency with nothing else
    /// running).
    SignIn {
        /// Concurrent sign-ins (each a different demo account).
        #[arg(long, default_value_t = 20)]
        concurrent: usize,
        /// Print one JSON object instead of text.
        #[arg(long)]
        json: bool,
    },
    /// The FHIR API through a server on loopback, on a scratch SQLite ledger of N synthetic
    /// patients: reads (each with its disclosure entry) as fast as C connections go, the same
    /// reads with authorisation and audit off in alternating slices (the ratio), reads at a fixed
    /// rate (their latency), creates, and searches by kana name.
    Fhir {
        /// Synthetic patients to write first.
        #[arg(long, default_value_t = 100_000)]
        patients: u64,
        /// Seconds each phase runs.
        #[arg(long, default_value_t = 10)]
        seconds: u64,
        /// Concurrent connections.
        #[arg(long, default_value_t = 32)]
        connections: usize,
        /// Requests a second for the paced reads.
        #[arg(long, default_value_t = 2000)]
        rate: u64,
        /// Print one JSON object instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Fill a SQLite ledger with N notes, then time `kiroku migrate` of it to PostgreSQL.
    Migrate {
        /// The PostgreSQL server to migrate to (a scratch database is created and dropped).
        #[arg(long, value_name = "URL")]
        database_url: String,
        /// Entries in the ledger.
        #[arg(long, default_value_t = 1_000_000)]
        entries: u64,
        /// Entries per request (and so per checkpoint) when filling.
        #[arg(long, default_value_t = 32)]
        per_request: u64,
        /// Print one JSON object instead of text.
        #[arg(long)]
        json: bool,
    },
}

fn server(url: Option<&str>) -> Result<Option<DatabaseUrl>> {
    url.map(|u| DatabaseUrl::parse(u).context("--database-url"))
        .transpose()
}

pub fn run(command: BenchCommand) -> Result<ExitCode> {
    match command {
        BenchCommand::Ledger {
            database_url,
            entries,
            writers,
            batch_entries_max,
            slices,
            preconditions,
            streams,
            stale_percent,
            json,
        } => {
            anyhow::ensure!(entries > 0, "--entries must be at least 1");
            anyhow::ensure!((1..=4096).contains(&writers), "--writers must be 1 to 4096");
            anyhow::ensure!((1..=1000).contains(&slices), "--slices must be 1 to 1000");
            anyhow::ensure!(stale_percent <= 100, "--stale-percent must be 0 to 100");
            anyhow::ensure!(streams > 0, "--streams must be at least 1");
            let server = server(database_url.as_deref())?;
            if preconditions {
                return run_preconditions(server, entries, writers, streams, stale_percent, json);
            }
            let mut bar = Bar::new("appending");
            let result = bench::ledger(
                server.as_ref(),
                entries,
                writers,
                batch_entries_max,
                slices,
                &mut |d, t| bar.update(d, t),
            );
            bar.finish();
            let r = result?;
            if json {
                outln!("{}", serde_json::to_string(&r)?);
            } else {
                outln!(
                    "kiroku bench ledger — {} entries, {} writers, {}, {} alternating slices",
                    r.entries,
                    r.writers,
                    r.backend,
                    r.slices
                );
                outln!("  ledger:   {:>10.0} entries/s  (ack p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms; {} batches, {:.1} entries/batch)",
                    r.entries_per_s, r.ack_p50_ms, r.ack_p99_ms, r.ack_max_ms, r.batches, r.batch_entries_mean);
                outln!("  baseline: {:>10.0} rows/s     (the same entry and projection rows, plain batched INSERTs of {:.0}, no ledger)",
                    r.baseline_rows_per_s, r.batch_entries_mean.round());
                let (lo, hi) = r
                    .slice_ratios
                    .iter()
                    .fold((f64::MAX, f64::MIN), |(lo, hi), x| (lo.min(*x), hi.max(*x)));
                outln!(
                    "  ratio:    {:>10.2}            (baseline rate ÷ ledger rate; slices {lo:.2}–{hi:.2})",
                    r.ratio
                );
                outln!("  targets:  SQLite not slower than the previous release on the same machine (run both alternately; docs/performance.md), ack p99 < 25 ms, ratio ≤ 1.5; PostgreSQL ≥ 20000 entries/s");
            }
            Ok(ExitCode::SUCCESS)
        }
        BenchCommand::Verify {
            database_url,
            entries,
            json,
        } => {
            anyhow::ensure!(entries > 0, "--entries must be at least 1");
            let server = server(database_url.as_deref())?;
            let mut fill = Bar::new("filling");
            let mut check = Bar::new("verifying");
            let result = bench::verify(
                server.as_ref(),
                entries,
                &mut |d, t| {
                    fill.update(d, t);
                    if d >= t {
                        fill.finish();
                    }
                },
                &mut |d, t| check.update(d, t),
            );
            check.finish();
            let r = result?;
            if json {
                outln!("{}", serde_json::to_string(&r)?);
            } else {
                outln!(
                    "kiroku bench verify — {} entries, {} checkpoints, {}",
                    r.entries,
                    r.checkpoints,
                    r.backend
                );
                outln!(
                    "  verify:   {:>10.0} entries/s ({:.2} s), peak memory {}",
                    r.entries_per_s,
                    r.seconds,
                    r.peak_rss_mib
                        .map_or_else(|| "unknown".into(), |m| format!("{m:.0} MiB"))
                );
                outln!("  target:   ≥ 500000 entries/s on SQLite; peak memory flat as the ledger grows");
            }
            Ok(ExitCode::SUCCESS)
        }
        BenchCommand::Fhir {
            patients,
            seconds,
            connections,
            rate,
            json,
        } => crate::bench_fhir::run(patients, seconds, connections, rate, json),
        BenchCommand::SignIn { concurrent, json } => {
            anyhow::ensure!(
                (1..=50).contains(&concurrent),
                "--concurrent must be 1 to 50 (the demo hospital's staff)"
            );
            let mut bar = Bar::new("signing in");
            let result = bench::sign_in(concurrent, &mut |d, t| bar.update(d, t));
            bar.finish();
            let r = result?;
            if json {
                outln!("{}", serde_json::to_string(&r)?);
            } else {
                let (m, t, p) = r.argon2;
                outln!("kiroku bench sign-in — Argon2id m={m} KiB, t={t}, p={p}; {} concurrent sign-ins", r.concurrent);
                outln!(
                    "  hash:     {:>8.1} ms median, {:.1} ms max (20 hashes, one thread)",
                    r.hash_p50_ms,
                    r.hash_max_ms
                );
                outln!(
                    "  sign-ins: {:>8.2} s for all {} at once",
                    r.concurrent_seconds,
                    r.concurrent
                );
                let (a, b, c) = r.idle_probe_ms;
                let (d, e, f) = r.busy_probe_ms;
                outln!("  other requests (ledger status): p50 {d:.2} ms, p99 {e:.2} ms, max {f:.2} ms during the sign-ins");
                outln!("  baseline: the same requests alone: p50 {a:.2} ms, p99 {b:.2} ms, max {c:.2} ms");
                outln!("  target:   other requests stay responsive while 20 sign-ins run");
            }
            Ok(ExitCode::SUCCESS)
        }
        BenchCommand::Migrate {
            database_url,
            entries,
            per_request,
            json,
        } => {
            anyhow::ensure!(entries > 0, "--entries must be at least 1");
            anyhow::ensure!(per_request > 0, "--per-request must be at least 1");
            let server = DatabaseUrl::parse(&database_url).context("--database-url")?;
            let mut fill = Bar::new("filling");
            let mut migrate = Bar::new("migrating");
            let result = bench::migrate(
                &server,
                entries,
                per_request,
                &mut |d, t| {
                    fill.update(d, t);
                    if d >= t {
                        fill.finish();
                    }
                },
                &mut |d, t| migrate.update(d, t),
            );
            migrate.finish();
            let r = result?;
            if json {
                outln!("{}", serde_json::to_string(&r)?);
            } else {
                outln!(
                    "kiroku bench migrate — {} entries, {} checkpoints, SQLite → PostgreSQL",
                    r.entries,
                    r.checkpoints
                );
                outln!(
                    "  migrate:  {:>10.0} entries/s ({:.2} s; every leaf, root and signature checked)",
                    r.entries_per_s, r.seconds
                );
                outln!("  target:   ≥ 100000 entries/s");
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn run_preconditions(
    server: Option<DatabaseUrl>,
    attempts: u64,
    writers: usize,
    streams: u64,
    stale_percent: u64,
    json: bool,
) -> Result<ExitCode> {
    let mut bar = Bar::new("creating streams");
    let result = bench::preconditions(
        server.as_ref(),
        attempts,
        writers,
        streams,
        stale_percent,
        &mut |d, t| bar.update(d, t),
    );
    bar.finish();
    let r = result?;
    if json {
        outln!("{}", serde_json::to_string(&r)?);
    } else {
        outln!(
            "kiroku bench ledger --preconditions — {} amendments on {} note streams, {}",
            r.attempts,
            r.streams,
            r.backend
        );
        outln!(
            "  accepted: {:>10.0} entries/s  ({} accepted in {:.2} s; ack p50 {:.2} ms, p99 {:.2} ms; {} batches, {:.1} requests/batch)",
            r.accepted_per_s, r.accepted, r.seconds, r.ack_p50_ms, r.ack_p99_ms, r.batches,
            r.attempts as f64 / r.batches.max(1) as f64
        );
        outln!(
            "  stale:    {:>10} sent, {} refused with a conflict, none accepted",
            r.stale_sent,
            r.conflicts
        );
        outln!(
            "  baseline: {:>10.0} rows/s     (the accepted amendments' rows written plainly, same batches; ratio {:.2})",
            r.baseline_rows_per_s, r.ratio
        );
        outln!("  target:   ≥ 30000 accepted entries/s on SQLite, every stale amendment refused");
    }
    Ok(ExitCode::SUCCESS)
}
