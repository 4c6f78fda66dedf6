//! `kiroku bench fhir`: the FHIR API measured through a running server on loopback, on a
//! scratch ledger of N synthetic patients written by the demo's generator. Reads (each with its
//! disclosure entry durable before the answer) are driven as fast as C connections can go and
//! again at a fixed rate for their latency; the same reads with authorisation and audit switched
//! off are run in alternating slices, for the ratio; then creates, and the searches a
//! departmental system runs all day: by name, by a patient's identifier (`system|value`), by a
//! code that thousands of resources share (the first page of a worklist), by patient, and by
//! `_lastUpdated` (what changed since the creates began).

use crate::progress::Bar;
use anyhow::{Context as _, Result};
use kiroku_demo::charts::Rng;
use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

/// What one phase measured.
#[derive(Clone, Debug, Default)]
struct Phase {
    requests: u64,
    errors: u64,
    seconds: f64,
    latencies: Vec<Duration>,
}

impl Phase {
    fn rate(&self) -> f64 {
        self.requests as f64 / self.seconds.max(1e-9)
    }

    fn percentile_ms(&self, p: f64) -> f64 {
        if self.latencies.is_empty() {
            return 0.0;
        }
        let mut sorted = self.latencies.clone();
        sorted.sort();
        let at = ((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len()) - 1;
        sorted[at].as_secs_f64() * 1000.0
    }

    fn add(&mut self, other: Phase) {
        self.requests += other.requests;
        self.errors += other.errors;
        self.seconds += other.seconds;
        self.latencies.extend(other.latencies);
    }
}

/// One keep-alive HTTP/1.1 connection with the bearer token.
struct Conn {
    reader: tokio::io::BufReader<tokio::net::TcpStream>,
    host: String,
    token: String,
    line: String,
    body: Vec<u8>,
}

impl Conn {
    async fn open(addr: SocketAddr, token: &str) -> Result<Conn> {
        let stream = tokio::net::TcpStream::connect(addr)
            .await
            .context("cannot connect to the bench server")?;
        stream.set_nodelay(true)?;
        Ok(Conn {
            reader: tokio::io::BufReader::new(stream),
            host: addr.to_string(),
            token: token.to_owned(),
            line: String::new(),
            body: Vec::new(),
        })
    }

    /// Sends one request and reads the whole answer; its status.
    async fn send(&mut self, method: &str, path: &str, body: Option<&[u8]>) -> Result<u16> {
        use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt};
        let mut head = format!(
            "{method} {path} HTTP/1.1\r\nHost: {}\r\nAuthorization: Bearer {}\r\nAccept: application/fhir+json\r\n",
            self.host, self.token
        );
        if let Some(body) = body {
            head.push_str(&format!(
                "Content-Type: application/fhir+json\r\nContent-Length: {}\r\nPrefer: return=minimal\r\n",
                body.len()
            ));
        }
        head.push_str("\r\n");
        let mut request = head.into_bytes();
        if let Some(body) = body {
            request.extend_from_slice(body);
        }
        self.reader.get_mut().write_all(&request).await?;
        self.line.clear();
        self.reader.read_line(&mut self.line).await?;
        let status: u16 = self
            .line
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .context("not an HTTP answer")?;
        let mut length = 0usize;
        loop {
            self.line.clear();
            self.reader.read_line(&mut self.line).await?;
            let header = self.line.trim_end();
            if header.is_empty() {
                break;
            }
            if let Some((name, value)) = header.split_once(':') {
                if name.eq_ignore_ascii_case("content-length") {
                    length = value.trim().parse().unwrap_or(0);
                }
            }
        }
        self.body.resize(length, 0);
        self.reader.read_exact(&mut self.body).await?;
        Ok(status)
    }
}

/// Percent-encodes a query value.
fn encoded(text: &str) -> String {
    text.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// A request: method, path and body.
type Make = dyn Fn(&mut Rng) -> (&'static str, String, Option<Vec<u8>>) + Send + Sync;

/// `connections` connections, each sending as fast as it is answered, for `seconds`; or, with
/// `rate`, all together at that many requests a second, each latency counted from when its
/// request was due (so a server that falls behind shows it). The load runs on one thread of its
/// own (an event loop over every connection), so that it takes as little as it can of the
/// cores the server runs on.
fn drive(
    addr: SocketAddr,
    token: &str,
    connections: usize,
    seconds: f64,
    rate: Option<f64>,
    make: Arc<Make>,
) -> Result<Phase> {
    let token = token.to_owned();
    let load = std::thread::Builder::new()
        .name("bench-load".into())
        .spawn(move || -> Result<Phase> {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .context("cannot start the load's event loop")?;
            runtime.block_on(drive_connections(
                addr,
                token,
                connections,
                seconds,
                rate,
                make,
            ))
        })
        .context("cannot start the load thread")?;
    load.join()
        .map_err(|_| anyhow::anyhow!("the load thread panicked"))?
}

async fn drive_connections(
    addr: SocketAddr,
    token: String,
    connections: usize,
    seconds: f64,
    rate: Option<f64>,
    make: Arc<Make>,
) -> Result<Phase> {
    let started = tokio::time::Instant::now();
    let until = started + Duration::from_secs_f64(seconds);
    let mut tasks = tokio::task::JoinSet::new();
    for c in 0..connections {
        let make = make.clone();
        let mut conn = Conn::open(addr, &token).await?;
        tasks.spawn(async move {
            let mut rng = Rng::new(0x5eed + c as u64);
            let mut phase = Phase::default();
            let interval = rate.map(|r| Duration::from_secs_f64(connections as f64 / r));
            let mut due = started
                + interval.map_or(Duration::ZERO, |i| i.mul_f64(c as f64 / connections as f64));
            loop {
                if interval.is_some() {
                    tokio::time::sleep_until(due).await;
                }
                let sent = if interval.is_some() {
                    due
                } else {
                    tokio::time::Instant::now()
                };
                if sent >= until {
                    break;
                }
                let (method, path, body) = make(&mut rng);
                let status = conn.send(method, &path, body.as_deref()).await?;
                phase.latencies.push(sent.elapsed());
                phase.requests += 1;
                if !(200..300).contains(&status) {
                    phase.errors += 1;
                }
                if let Some(interval) = interval {
                    due += interval;
                }
            }
            Ok::<Phase, anyhow::Error>(phase)
        });
    }
    let mut total = Phase::default();
    while let Some(done) = tasks.join_next().await {
        let phase = done.map_err(|_| anyhow::anyhow!("a load task failed"))??;
        total.requests += phase.requests;
        total.errors += phase.errors;
        total.latencies.extend(phase.latencies);
    }
    total.seconds = started.elapsed().as_secs_f64();
    Ok(total)
}

/// Runs the benchmark; prints its figures beside the targets.
pub fn run(
    patients: u64,
    seconds: u64,
    connections: usize,
    rate: u64,
    json: bool,
) -> Result<ExitCode> {
    anyhow::ensure!(
        (100..=1_000_000).contains(&patients),
        "--patients must be 100 to 1,000,000"
    );
    anyhow::ensure!((1..=3600).contains(&seconds), "--seconds must be 1 to 3600");
    anyhow::ensure!(
        (1..=256).contains(&connections),
        "--connections must be 1 to 256"
    );
    anyhow::ensure!((1..=100_000).contains(&rate), "--rate must be 1 to 100,000");
    let dir = std::env::temp_dir().join(format!("kiroku-bench-fhir-{}", std::process::id()));
    let result = run_in(
        &dir,
        patients,
        seconds as f64,
        connections,
        rate as f64,
        json,
    );
    let _ = std::fs::remove_dir_all(&dir);
    result
}

fn run_in(
    dir: &std::path::Path,
    patients: u64,
    seconds: f64,
    connections: usize,
    rate: f64,
    json: bool,
) -> Result<ExitCode> {
    kiroku_app::datadir::init(
        dir,
        &kiroku_app::datadir::InitOptions {
            administrator: Some(kiroku_demo::hospital::administrator()),
            ..Default::default()
        },
    )
    .context("cannot initialise the scratch data directory")?;
    let app = Arc::new(
        kiroku_app::App::open(dir, &kiroku_app::Overrides::default())
            .context("cannot open the scratch data directory")?,
    );
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let mut bar = Bar::counting("writing synthetic patients", "patients");
    let (token, ids) = runtime.block_on(async {
        kiroku_demo::hospital::seed_hospital(&app).await?;
        let (client, secret) = kiroku_demo::hospital::seed_client(&app).await?;
        let seeded = kiroku_demo::charts::seed_records(
            &app,
            (&client, &secret),
            None,
            patients,
            1,
            7,
            false,
            &mut |done| bar.update(done, patients),
        )
        .await?;
        let token = app
            .access()
            .client_token(&client, &secret, None)
            .await?
            .token;
        Ok::<_, kiroku_app::Error>((token, seeded.patient_ids))
    })?;
    bar.finish();
    let listener = runtime.block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))?;
    let addr = listener.local_addr()?;
    let router = kiroku_server::app(app.clone());
    runtime.spawn(async move { axum::serve(listener, router).await });

    let ids = Arc::new(ids);
    let read: Arc<Make> = {
        let ids = ids.clone();
        Arc::new(move |rng: &mut Rng| {
            let id = &ids[rng.below(ids.len() as u64) as usize];
            ("GET", format!("/fhir/Patient/{id}"), None)
        })
    };
    let create: Arc<Make> = {
        let ids = ids.clone();
        Arc::new(move |rng: &mut Rng| {
            let id = &ids[rng.below(ids.len() as u64) as usize];
            let body = format!(
                r#"{{"resourceType":"Observation","status":"final","category":[{{"coding":[{{"system":"http://terminology.hl7.org/CodeSystem/observation-category","code":"vital-signs"}}]}}],"code":{{"coding":[{{"system":"http://loinc.org","code":"8310-5"}}],"text":"体温"}},"subject":{{"reference":"Patient/{id}"}},"effectiveDateTime":"2026-11-25T09:{:02}:00+09:00","valueQuantity":{{"value":36.{},"unit":"Cel"}}}}"#,
                rng.below(60),
                rng.below(10)
            );
            (
                "POST",
                "/fhir/Observation".to_owned(),
                Some(body.into_bytes()),
            )
        })
    };
    let search: Arc<Make> = Arc::new(|rng: &mut Rng| {
        let name = kiroku_demo::charts::kana_name(rng);
        (
            "GET",
            format!("/fhir/Patient?name={}&_count=10", encoded(&name)),
            None,
        )
    });

    let by_identifier: Arc<Make> = Arc::new(move |rng: &mut Rng| {
        let number = 1 + rng.below(patients);
        (
            "GET",
            format!(
                "/fhir/Patient?identifier={}%7C{number:08}",
                encoded(kiroku_demo::charts::PATIENT_ID_SYSTEM)
            ),
            None,
        )
    });
    let by_code: Arc<Make> = Arc::new(|_: &mut Rng| {
        (
            "GET",
            "/fhir/Observation?code=http%3A%2F%2Floinc.org%7C8310-5&_count=10".to_owned(),
            None,
        )
    });
    let by_patient: Arc<Make> = {
        let ids = ids.clone();
        Arc::new(move |rng: &mut Rng| {
            let id = &ids[rng.below(ids.len() as u64) as usize];
            (
                "GET",
                format!("/fhir/Observation?patient={id}&_count=10"),
                None,
            )
        })
    };

    // Warm up, then audited and unaudited reads in alternating slices.
    drive(addr, &token, connections, 1.0, None, read.clone())?;
    let (mut audited, mut unaudited) = (Phase::default(), Phase::default());
    let slices = 4;
    for _ in 0..slices {
        audited.add(drive(
            addr,
            &token,
            connections,
            seconds / slices as f64,
            None,
            read.clone(),
        )?);
        app.records().unaudited_reads_for_benchmark(true);
        let slice = drive(
            addr,
            &token,
            connections,
            seconds / slices as f64,
            None,
            read.clone(),
        );
        app.records().unaudited_reads_for_benchmark(false);
        unaudited.add(slice?);
    }
    let paced = drive(addr, &token, connections, seconds, Some(rate), read.clone())?;
    let since = app.now()?.to_string();
    let creates = drive(addr, &token, connections, seconds, None, create)?;
    let searches = drive(addr, &token, 4.min(connections), seconds, None, search)?;
    let identifiers = drive(addr, &token, connections, seconds, None, by_identifier)?;
    let codes = drive(addr, &token, connections, seconds, None, by_code)?;
    let patients_searched = drive(addr, &token, connections, seconds, None, by_patient)?;
    let by_updated: Arc<Make> = Arc::new(move |_: &mut Rng| {
        (
            "GET",
            format!(
                "/fhir/Observation?_lastUpdated=gt{}&_count=10",
                encoded(&since)
            ),
            None,
        )
    });
    let updated = drive(addr, &token, connections, seconds, None, by_updated)?;
    let ratio = unaudited.rate() / audited.rate().max(1e-9);
    let figures = serde_json::json!({
        "patients": patients,
        "connections": connections,
        "seconds_per_phase": seconds,
        "reads_per_s": audited.rate().round(),
        "reads_p50_ms": audited.percentile_ms(0.5),
        "reads_p99_ms": audited.percentile_ms(0.99),
        "unaudited_reads_per_s": unaudited.rate().round(),
        "audit_cost_ratio": (ratio * 100.0).round() / 100.0,
        "paced_rate": rate,
        "paced_achieved_per_s": paced.rate().round(),
        "paced_p50_ms": paced.percentile_ms(0.5),
        "paced_p99_ms": paced.percentile_ms(0.99),
        "creates_per_s": creates.rate().round(),
        "creates_p99_ms": creates.percentile_ms(0.99),
        "name_searches_per_s": searches.rate().round(),
        "name_search_p50_ms": searches.percentile_ms(0.5),
        "name_search_p99_ms": searches.percentile_ms(0.99),
        "identifier_searches_per_s": identifiers.rate().round(),
        "identifier_search_p50_ms": identifiers.percentile_ms(0.5),
        "identifier_search_p99_ms": identifiers.percentile_ms(0.99),
        "code_searches_per_s": codes.rate().round(),
        "code_search_p50_ms": codes.percentile_ms(0.5),
        "code_search_p99_ms": codes.percentile_ms(0.99),
        "patient_searches_per_s": patients_searched.rate().round(),
        "patient_search_p50_ms": patients_searched.percentile_ms(0.5),
        "patient_search_p99_ms": patients_searched.percentile_ms(0.99),
        "updated_searches_per_s": updated.rate().round(),
        "updated_search_p50_ms": updated.percentile_ms(0.5),
        "updated_search_p99_ms": updated.percentile_ms(0.99),
        "errors": audited.errors + unaudited.errors + paced.errors + creates.errors
            + searches.errors + identifiers.errors + codes.errors + patients_searched.errors
            + updated.errors,
    });
    if json {
        outln!("{figures}");
    } else {
        let f = |k: &str| figures[k].as_f64().unwrap_or(0.0);
        outln!("kiroku bench fhir: {patients} patients, {connections} connections, {seconds} s a phase, through HTTP on loopback");
        outln!(
            "  reads (policy + disclosure entry durable): {:>8.0}/s  p50 {:.2} ms  p99 {:.2} ms   target ≥ 10,000/s",
            f("reads_per_s"), f("reads_p50_ms"), f("reads_p99_ms")
        );
        outln!(
            "  reads, authorisation and audit off:        {:>8.0}/s   ratio {:.2}   target ratio ≤ 1.5",
            f("unaudited_reads_per_s"), f("audit_cost_ratio")
        );
        outln!(
            "  reads at {rate:.0}/s:                        {:>8.0}/s  p50 {:.2} ms  p99 {:.2} ms   target p99 < 20 ms",
            f("paced_achieved_per_s"), f("paced_p50_ms"), f("paced_p99_ms")
        );
        outln!(
            "  creates:                                   {:>8.0}/s  p99 {:.2} ms             target ≥ 3,000/s",
            f("creates_per_s"), f("creates_p99_ms")
        );
        outln!(
            "  name searches (kana, 4 connections):       {:>8.0}/s  p50 {:.2} ms  p99 {:.2} ms   target p99 < 20 ms",
            f("name_searches_per_s"), f("name_search_p50_ms"), f("name_search_p99_ms")
        );
        for (what, key) in [
            ("Patient?identifier=system|value:          ", "identifier"),
            ("Observation?code= (thousands match):      ", "code"),
            ("Observation?patient=:                     ", "patient"),
            ("Observation?_lastUpdated=gt (polling):    ", "updated"),
        ] {
            outln!(
                "  {what}{:>8.0}/s  p50 {:.2} ms  p99 {:.2} ms   target p99 < 20 ms",
                f(&format!("{key}_searches_per_s")),
                f(&format!("{key}_search_p50_ms")),
                f(&format!("{key}_search_p99_ms"))
            );
        }
        outln!("  errors: {}   (baseline for scale: HAPI FHIR publishes about 3,000 CRUD requests/s on larger machines)", figures["errors"]);
    }
    Ok(ExitCode::SUCCESS)
}
