//! The benchmarks behind `kiroku bench`: each runs on scratch databases (a temporary SQLite
//! file, or fresh databases on a PostgreSQL server) and returns its figures; the command prints
//! them beside the baseline and the targets.
//!
//! - **ledger**: operators' notes appended by concurrent writers through the real writer,
//!   measured in slices that alternate with the baseline (the same rows written plainly into a
//!   second database of the same schema), so the noise of a shared machine hits both sides.
//! - **preconditions**: amendments on 10,000 note streams, each carrying the version it was
//!   decided on, some deliberately stale: accepted entries per second, conflicts counted, and a
//!   stale amendment accepted is a failure of the run.
//! - **verify**: verification of a ledger of N notes, with the peak memory of the verification.
//! - **migrate**: a SQLite ledger of N notes copied to PostgreSQL.
//! - **sign-in**: one Argon2id hash, and other requests' latency while accounts sign in at once.

use kiroku_app::{Error, Result};
use kiroku_core::{Actor, Draft, Entropy as _, Request, SeededEntropy};
use kiroku_ledger::{Signer, Verifier};
use kiroku_ops::amendment::NoteAmendment;
use kiroku_ops::note;
use kiroku_store::bench::{latency_ms, read_rows, Baseline};
use kiroku_store::scratch::{Backend, ScratchDb};
use kiroku_store::system::{OsEntropy, SystemClock};
use kiroku_store::writer::{AppendError, Writer, WriterConfig, WriterHandle};
use kiroku_store::{DatabaseUrl, Store};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

const ORIGIN: &str = "kiroku.bench/ledger";

/// A temporary directory removed when dropped.
struct TempDir(PathBuf);

impl TempDir {
    fn new() -> Result<TempDir> {
        let dir = std::env::temp_dir().join(kiroku_store::scratch::unique_name("bench"));
        std::fs::create_dir_all(&dir)
            .map_err(|e| Error::Refused(format!("cannot create {}: {e}", dir.display())))?;
        Ok(TempDir(dir))
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn backend(server: Option<&DatabaseUrl>) -> Backend {
    match server {
        Some(server) => Backend::Postgres(server.clone()),
        None => Backend::Sqlite,
    }
}

fn signer() -> Result<Signer> {
    let mut seed = [0u8; 32];
    OsEntropy.fill(&mut seed);
    Signer::from_seed(ORIGIN, seed).map_err(|e| Error::Refused(e.to_string()))
}

/// A fresh scratch ledger with a running writer.
struct Bench {
    writer: Writer,
    store: Arc<Store>,
    verifier: Verifier,
    scratch: ScratchDb,
    _dir: TempDir,
}

impl Bench {
    fn new(server: Option<&DatabaseUrl>, config: WriterConfig) -> Result<Bench> {
        let dir = TempDir::new()?;
        let registry = kiroku_app::registry();
        let scratch = ScratchDb::new(&backend(server), &registry, &dir.0, "bench")?;
        let store = Arc::new(Store::open(&scratch.url, registry, 4)?);
        let signer = signer()?;
        let verifier = signer.verifier();
        let writer = Writer::start(
            &store,
            signer,
            ORIGIN.into(),
            Arc::new(SystemClock),
            Arc::new(SeededEntropy::new(1)),
            config,
        )?;
        Ok(Bench {
            writer,
            store,
            verifier,
            scratch,
            _dir: dir,
        })
    }

    fn size(&self) -> Result<u64> {
        Ok(kiroku_store::read::latest_checkpoint(&self.store)?.map_or(0, |c| c.size))
    }
}

/// A synthetic operator's note (no patient data: the benchmark makes its own).
fn synthetic(i: u64) -> Result<Request> {
    Ok(note::write(
        Actor::operator("bench"),
        &format!(
            "bench entry {i}: synthetic operator note written to measure the ledger's throughput"
        ),
        Vec::new(),
        None,
    )?)
}

/// Appends `entries` notes in requests of `per_request`, calling `progress(done)` after each.
pub fn fill(
    writer: &WriterHandle,
    entries: u64,
    per_request: u64,
    progress: &mut dyn FnMut(u64),
) -> Result<()> {
    let mut done = 0;
    while done < entries {
        let n = per_request.min(entries - done).max(1);
        let mut drafts = Vec::with_capacity(n as usize);
        for i in done..done + n {
            drafts.extend(synthetic(i)?.drafts);
        }
        writer.append_blocking(Request::of(drafts))?;
        done += n;
        progress(done);
    }
    Ok(())
}

/// What the ledger benchmark measured.
#[derive(Clone, Debug, serde::Serialize)]
pub struct LedgerBench {
    /// "sqlite" or "postgresql".
    pub backend: &'static str,
    /// Entries appended.
    pub entries: u64,
    /// Concurrent writers.
    pub writers: usize,
    /// Slices alternating ledger and baseline.
    pub slices: usize,
    /// Wall time of the appends, all slices.
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
    /// Mean entries per batch (the baseline writes in batches of this size).
    pub batch_entries_mean: f64,
    /// Wall time of the baseline, all slices.
    pub baseline_seconds: f64,
    /// Rows (entries, with their projection rows) per second of the baseline.
    pub baseline_rows_per_s: f64,
    /// Baseline rate divided by ledger rate: the ledger's cost factor.
    pub ratio: f64,
    /// Each slice's ratio, to show the spread.
    pub slice_ratios: Vec<f64>,
}

/// Appends `count` notes from `writers` concurrent tasks, each awaiting its acknowledgement
/// before sending the next, as request handlers do; returns the wall time and the latencies.
fn concurrent_appends(
    runtime: &tokio::runtime::Runtime,
    writer: &WriterHandle,
    first: u64,
    count: u64,
    writers: usize,
) -> Result<(Duration, Vec<Duration>)> {
    runtime.block_on(async {
        let started = Instant::now();
        let tasks: Vec<_> = (0..writers as u64)
            .map(|w| {
                let handle = writer.clone();
                let share = count / writers as u64 + u64::from(w < count % writers as u64);
                tokio::spawn(async move {
                    let mut latencies = Vec::with_capacity(share as usize);
                    for i in 0..share {
                        let request = synthetic(first + w * 1_000_000_000 + i)?;
                        let sent = Instant::now();
                        handle.append(request).await?;
                        latencies.push(sent.elapsed());
                    }
                    Ok::<_, Error>(latencies)
                })
            })
            .collect();
        let mut latencies = Vec::with_capacity(count as usize);
        for task in tasks {
            latencies.extend(
                task.await
                    .map_err(|e| Error::Unavailable(e.to_string()))??,
            );
        }
        Ok((started.elapsed(), latencies))
    })
}

fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| Error::Unavailable(format!("cannot start the async runtime: {e}")))
}

/// The ledger benchmark.
pub fn ledger(
    server: Option<&DatabaseUrl>,
    entries: u64,
    writers: usize,
    batch_entries_max: usize,
    slices: usize,
    progress: &mut dyn FnMut(u64, u64),
) -> Result<LedgerBench> {
    let bench = Bench::new(
        server,
        WriterConfig {
            batch_entries_max,
            ..WriterConfig::default()
        },
    )?;
    let baseline_scratch = ScratchDb::new(
        &backend(server),
        &kiroku_app::registry(),
        &bench._dir.0,
        "baseline",
    )?;
    let mut baseline = Baseline::open(&baseline_scratch.url, kiroku_app::registry())?;
    let handle = bench.writer.handle();
    // Warm up connections and caches, outside the measurement.
    fill(&handle, 1000, 100, &mut |_| {})?;
    let runtime = runtime()?;
    let slices = slices.max(1);
    let mut ledger_time = Duration::ZERO;
    let mut baseline_time = Duration::ZERO;
    let mut latencies = Vec::with_capacity(entries as usize);
    let mut slice_ratios = Vec::with_capacity(slices);
    let batches_before = handle.metrics().batches.get();
    let mut done = 0;
    for slice in 0..slices as u64 {
        let count = entries / slices as u64 + u64::from(slice < entries % slices as u64);
        let start = bench.size()?;
        let batches = handle.metrics().batches.get();
        let (took, slice_latencies) = concurrent_appends(&runtime, &handle, done, count, writers)?;
        latencies.extend(slice_latencies);
        let slice_batches = handle.metrics().batches.get() - batches;
        let rows = read_rows(&bench.store, start, start + count)?;
        let mean = (count as f64 / slice_batches.max(1) as f64).round() as usize;
        let plain = baseline.write(&rows, mean)?;
        slice_ratios.push(took.as_secs_f64() / plain.as_secs_f64().max(1e-9));
        ledger_time += took;
        baseline_time += plain;
        done += count;
        progress(done, entries);
    }
    let batches = handle.metrics().batches.get() - batches_before;
    let (ack_p50_ms, ack_p99_ms, ack_max_ms) = latency_ms(&mut latencies);
    let entries_per_s = entries as f64 / ledger_time.as_secs_f64();
    let baseline_rows_per_s = entries as f64 / baseline_time.as_secs_f64();
    bench.writer.shutdown();
    Ok(LedgerBench {
        backend: backend(server).name(),
        entries,
        writers,
        slices,
        seconds: ledger_time.as_secs_f64(),
        entries_per_s,
        ack_p50_ms,
        ack_p99_ms,
        ack_max_ms,
        batches,
        batch_entries_mean: entries as f64 / batches.max(1) as f64,
        baseline_seconds: baseline_time.as_secs_f64(),
        baseline_rows_per_s,
        ratio: baseline_rows_per_s / entries_per_s,
        slice_ratios,
    })
}

/// What the preconditions benchmark measured.
#[derive(Clone, Debug, serde::Serialize)]
pub struct PreconditionBench {
    /// "sqlite" or "postgresql".
    pub backend: &'static str,
    /// Streams (notes) the amendments go to.
    pub streams: u64,
    /// Amendments sent.
    pub attempts: u64,
    /// Of which deliberately stale.
    pub stale_sent: u64,
    /// Amendments accepted.
    pub accepted: u64,
    /// Amendments refused with a conflict.
    pub conflicts: u64,
    /// Wall time.
    pub seconds: f64,
    /// Accepted entries per second.
    pub accepted_per_s: f64,
    /// Median acknowledgement (or refusal) latency.
    pub ack_p50_ms: f64,
    /// 99th percentile.
    pub ack_p99_ms: f64,
    /// Batches committed during the amendments.
    pub batches: u64,
    /// Rows per second of the baseline: the accepted amendments' entry and projection rows
    /// written plainly (after the same notes), in batches of the ledger's mean size.
    pub baseline_rows_per_s: f64,
    /// Baseline rate divided by the accepted rate.
    pub ratio: f64,
}

/// A small deterministic generator for the benchmark's choices.
struct Choices(u64);

impl Choices {
    fn next(&mut self) -> u64 {
        // xorshift64*
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
}

/// The preconditions benchmark: `attempts` amendments from `writers` tasks on `streams` notes,
/// `stale_percent` of them decided on a version that has moved on. Each writer owns its share
/// of the streams, so the only conflicts are the deliberate ones; a stale amendment accepted or
/// a fresh one refused makes the run fail.
pub fn preconditions(
    server: Option<&DatabaseUrl>,
    attempts: u64,
    writers: usize,
    streams: u64,
    stale_percent: u64,
    progress: &mut dyn FnMut(u64, u64),
) -> Result<PreconditionBench> {
    let bench = Bench::new(server, WriterConfig::default())?;
    let handle = bench.writer.handle();
    let first = bench.size()?;
    fill(&handle, streams, 500, &mut |done| progress(done, streams))?;
    let amended_from = bench.size()?;
    let notes: Vec<u64> = (first..first + streams).collect();
    let runtime = runtime()?;
    let writers = writers.clamp(1, notes.len().max(1));
    let batches_before = handle.metrics().batches.get();
    let started = Instant::now();
    let outcome = runtime.block_on(async {
        let tasks: Vec<_> = (0..writers)
            .map(|w| {
                let handle = handle.clone();
                let mine: Vec<u64> = notes.iter().copied().skip(w).step_by(writers).collect();
                let share = attempts / writers as u64 + u64::from((w as u64) < attempts % writers as u64);
                tokio::spawn(async move {
                    let mut versions = vec![1u64; mine.len()];
                    let mut choices = Choices(0x9E37_79B9_7F4A_7C15 ^ (w as u64 + 1));
                    let (mut accepted, mut conflicts, mut stale_sent) = (0u64, 0u64, 0u64);
                    let mut latencies = Vec::with_capacity(share as usize);
                    for i in 0..share {
                        let slot = (choices.next() % mine.len() as u64) as usize;
                        // Stale: decided on the version before the current one (so only a note
                        // amended at least once can be amended stale).
                        let stale =
                            choices.next() % 100 < stale_percent && versions[slot] >= 2;
                        let version = if stale { versions[slot] } else { versions[slot] + 1 };
                        let draft = Draft::new(
                            Actor::operator("bench"),
                            NoteAmendment {
                                note: mine[slot],
                                version,
                                text: format!("bench amendment {w}/{i}: synthetic correction of an operator note"),
                                add_tags: Vec::new(),
                                remove_tags: Vec::new(),
                            },
                        )
                        .because("bench: synthetic correction");
                        let sent = Instant::now();
                        let result = handle.append(Request::one(draft)).await;
                        latencies.push(sent.elapsed());
                        stale_sent += u64::from(stale);
                        match (result, stale) {
                            (Ok(_), false) => {
                                versions[slot] += 1;
                                accepted += 1;
                            }
                            (Err(AppendError::Conflict(_)), true) => conflicts += 1,
                            (Ok(_), true) => {
                                return Err(Error::Refused(format!(
                                    "a stale amendment of note {} was accepted",
                                    mine[slot]
                                )))
                            }
                            (Err(e), false) => return Err(e.into()),
                            (Err(e), true) => return Err(e.into()),
                        }
                    }
                    Ok::<_, Error>((accepted, conflicts, stale_sent, latencies))
                })
            })
            .collect();
        let mut totals = (0u64, 0u64, 0u64, Vec::new());
        for task in tasks {
            let (a, c, s, l) = task
                .await
                .map_err(|e| Error::Unavailable(e.to_string()))??;
            totals.0 += a;
            totals.1 += c;
            totals.2 += s;
            totals.3.extend(l);
        }
        Ok::<_, Error>(totals)
    })?;
    let seconds = started.elapsed().as_secs_f64();
    let (accepted, conflicts, stale_sent, mut latencies) = outcome;
    let conflicts_counted = handle.metrics().conflicts.get();
    if conflicts_counted != conflicts {
        return Err(Error::Refused(format!(
            "the writer counted {conflicts_counted} conflicts, the clients {conflicts}"
        )));
    }
    let (ack_p50_ms, ack_p99_ms, _) = latency_ms(&mut latencies);
    let batches = handle.metrics().batches.get() - batches_before;
    // The baseline: a plain database holding the same notes, then the accepted amendments'
    // rows written in batches of the ledger's mean size.
    let baseline_scratch = ScratchDb::new(
        &backend(server),
        &kiroku_app::registry(),
        &bench._dir.0,
        "baseline",
    )?;
    let mut baseline = Baseline::open(&baseline_scratch.url, kiroku_app::registry())?;
    baseline.write(&read_rows(&bench.store, 0, amended_from)?, 500)?;
    let end = bench.size()?;
    let rows = read_rows(&bench.store, amended_from, end)?;
    let mean = (accepted as f64 / batches.max(1) as f64).round() as usize;
    let plain = baseline.write(&rows, mean)?;
    let baseline_rows_per_s = rows.len() as f64 / plain.as_secs_f64();
    bench.writer.shutdown();
    Ok(PreconditionBench {
        backend: backend(server).name(),
        streams,
        attempts,
        stale_sent,
        accepted,
        conflicts,
        seconds,
        accepted_per_s: accepted as f64 / seconds,
        ack_p50_ms,
        ack_p99_ms,
        batches,
        baseline_rows_per_s,
        ratio: baseline_rows_per_s / (accepted as f64 / seconds),
    })
}

/// What the verification benchmark measured.
#[derive(Clone, Debug, serde::Serialize)]
pub struct VerifyBench {
    /// "sqlite" or "postgresql".
    pub backend: &'static str,
    /// Entries verified.
    pub entries: u64,
    /// Checkpoints verified.
    pub checkpoints: u64,
    /// Wall time of the verification.
    pub seconds: f64,
    /// Entries per second.
    pub entries_per_s: f64,
    /// The process's peak resident memory during the verification, where the OS tells.
    pub peak_rss_mib: Option<f64>,
}

/// The verification benchmark: fills a ledger with `entries` notes (requests of 4096), then
/// verifies it, measuring the peak memory of the verification alone.
pub fn verify(
    server: Option<&DatabaseUrl>,
    entries: u64,
    fill_progress: &mut dyn FnMut(u64, u64),
    verify_progress: &mut dyn FnMut(u64, u64),
) -> Result<VerifyBench> {
    let bench = Bench::new(
        server,
        WriterConfig {
            batch_entries_max: 4096,
            ..WriterConfig::default()
        },
    )?;
    fill(&bench.writer.handle(), entries, 4096, &mut |d| {
        fill_progress(d, entries)
    })?;
    let Bench {
        writer,
        store,
        verifier,
        scratch: _scratch,
        _dir,
    } = bench;
    writer.shutdown();
    reset_peak_rss();
    let started = Instant::now();
    let report = kiroku_store::verify::verify(&store, ORIGIN, &verifier, verify_progress)?;
    let seconds = started.elapsed().as_secs_f64();
    let peak_rss_mib = peak_rss_bytes().map(|b| b as f64 / (1 << 20) as f64);
    if let Some(p) = report.problem {
        return Err(Error::Corrupt(p.what));
    }
    Ok(VerifyBench {
        backend: backend(server).name(),
        entries: report.entries,
        checkpoints: report.checkpoints,
        seconds,
        entries_per_s: report.entries as f64 / seconds,
        peak_rss_mib,
    })
}

/// What the migration benchmark measured.
#[derive(Clone, Debug, serde::Serialize)]
pub struct MigrateBench {
    /// Entries migrated.
    pub entries: u64,
    /// Checkpoints migrated (and verified).
    pub checkpoints: u64,
    /// Wall time of the migration.
    pub seconds: f64,
    /// Entries per second.
    pub entries_per_s: f64,
}

/// The migration benchmark: fills a SQLite ledger with `entries` notes in requests of
/// `per_request` (one checkpoint each, as a busy writer makes), then migrates it to a fresh
/// database on the PostgreSQL server `server`.
pub fn migrate(
    server: &DatabaseUrl,
    entries: u64,
    per_request: u64,
    fill_progress: &mut dyn FnMut(u64, u64),
    migrate_progress: &mut dyn FnMut(u64, u64),
) -> Result<MigrateBench> {
    let bench = Bench::new(None, WriterConfig::default())?;
    fill(&bench.writer.handle(), entries, per_request, &mut |d| {
        fill_progress(d, entries)
    })?;
    let registry = kiroku_app::registry();
    let target = ScratchDb::new(
        &Backend::Postgres(server.clone()),
        &registry,
        &bench._dir.0,
        "migrate",
    )?;
    let Bench {
        writer,
        store,
        verifier,
        scratch: _scratch,
        _dir,
    } = bench;
    writer.shutdown();
    let started = Instant::now();
    let loaded =
        kiroku_store::migrate::migrate(&store, &target.url, ORIGIN, &verifier, migrate_progress)?;
    let seconds = started.elapsed().as_secs_f64();
    Ok(MigrateBench {
        entries: loaded.entries,
        checkpoints: loaded.checkpoints,
        seconds,
        entries_per_s: loaded.entries as f64 / seconds,
    })
}

/// Resets the kernel's record of this process's peak memory (Linux; elsewhere nothing).
fn reset_peak_rss() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

/// This process's peak resident memory since the last reset (Linux's `VmHWM`).
fn peak_rss_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

/// What `bench sign-in` measured.
#[derive(Clone, Debug, serde::Serialize)]
pub struct SignInBench {
    /// Argon2id memory (KiB), passes and lanes.
    pub argon2: (u32, u32, u32),
    /// One Argon2id hash, median of the hashes timed (ms).
    pub hash_p50_ms: f64,
    /// The slowest of them (ms).
    pub hash_max_ms: f64,
    /// Concurrent sign-ins.
    pub concurrent: usize,
    /// Time for all of them to finish (s).
    pub concurrent_seconds: f64,
    /// Latency of other requests (the ledger's status) while nothing else runs: p50, p99, max.
    pub idle_probe_ms: (f64, f64, f64),
    /// The same while the sign-ins run.
    pub busy_probe_ms: (f64, f64, f64),
}

/// Issues `concurrent` accounts in a scratch data directory, then measures one Argon2id hash,
/// and the latency of another request (the ledger's status) alone and while that many
/// accounts sign in at once.
pub fn sign_in(concurrent: usize, progress: &mut dyn FnMut(u64, u64)) -> Result<SignInBench> {
    use kiroku_access::password;
    let dir = TempDir::new()?;
    let data = dir.0.join("data");
    kiroku_app::datadir::init(
        &data,
        &kiroku_app::datadir::InitOptions {
            administrator: Some(crate::hospital::administrator()),
            ..Default::default()
        },
    )
    .map_err(|e| Error::Refused(e.to_string()))?;
    let app = kiroku_app::App::open(&data, &kiroku_app::Overrides::default())
        .map_err(|e| Error::Refused(e.to_string()))?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| Error::Unavailable(e.to_string()))?;
    let app = Arc::new(app);
    let result = runtime.block_on(async {
        let people = crate::hospital::seed_hospital(&app).await?;
        let people: Vec<(String, String)> = people.into_iter().take(concurrent).collect();
        progress(1, 3);
        let entropy = OsEntropy;
        let mut hashes = Vec::new();
        for _ in 0..20 {
            let started = Instant::now();
            password::hash("Bench#Password-2026", &entropy)
                .map_err(|e| Error::Unavailable(e.to_string()))?;
            hashes.push(started.elapsed());
        }
        let (hash_p50_ms, _, hash_max_ms) = latency_ms(&mut hashes);
        let probe = |app: Arc<kiroku_app::App>, until: Arc<std::sync::atomic::AtomicBool>| async move {
            let mut latencies = Vec::new();
            while !until.load(std::sync::atomic::Ordering::Relaxed) || latencies.len() < 20 {
                let started = Instant::now();
                app.ops().status().await?;
                latencies.push(started.elapsed());
                tokio::time::sleep(Duration::from_millis(5)).await;
                if latencies.len() >= 100_000 {
                    break;
                }
            }
            Ok::<_, Error>(latencies)
        };
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let idle = tokio::spawn(probe(app.clone(), stop.clone()));
        tokio::time::sleep(Duration::from_millis(500)).await;
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        let mut idle = idle
            .await
            .map_err(|e| Error::Unavailable(e.to_string()))??;
        progress(2, 3);
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let busy = tokio::spawn(probe(app.clone(), stop.clone()));
        let started = Instant::now();
        let mut tasks = Vec::new();
        for (account, secret) in &people {
            let (account, secret) = (account.clone(), secret.clone());
            let app = app.clone();
            tasks.push(tokio::spawn(async move {
                app.access().sign_in(&account, &secret).await.map(|_| ())
            }));
        }
        for task in tasks {
            task.await
                .map_err(|e| Error::Unavailable(e.to_string()))??;
        }
        let concurrent_seconds = started.elapsed().as_secs_f64();
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        let mut busy = busy
            .await
            .map_err(|e| Error::Unavailable(e.to_string()))??;
        progress(3, 3);
        Ok(SignInBench {
            argon2: (password::MEMORY_KIB, password::PASSES, password::LANES),
            hash_p50_ms,
            hash_max_ms,
            concurrent: people.len(),
            concurrent_seconds,
            idle_probe_ms: latency_ms(&mut idle),
            busy_probe_ms: latency_ms(&mut busy),
        })
    });
    drop(runtime);
    if let Ok(app) = Arc::try_unwrap(app) {
        app.shutdown();
    }
    result
}
