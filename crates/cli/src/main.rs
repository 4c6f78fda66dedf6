//! `kiroku`: a thin command line over the server and store crates. Every command has `--help`;
//! errors print their whole chain; exit codes are 0 (done), 1 (failed, e.g. verification found
//! a problem) and 2 (bad usage).

mod bench;
mod progress;

use anyhow::{bail, Context as _, Result};
use clap::{Args, Parser, Subcommand};
use kiroku_server::datadir::{self, InitOptions};
use kiroku_server::instance::{record_verification, Instance, Overrides};
use kiroku_server::Config;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// Kiroku (記録): a hospital's records-and-governance core on a verifiable ledger.
#[derive(Parser)]
#[command(name = "kiroku", version, about, long_about = None, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Create a data directory: configuration, SQLite database, Ed25519 signing key (mode 0600),
    /// operator token; print the verifier key. Refuses an existing, non-empty directory.
    Init {
        /// The data directory to create.
        #[arg(long, value_name = "DIR")]
        data: PathBuf,
        /// The ledger's origin (also the key name), e.g. `osaki-hospital.example/kiroku`.
        #[arg(long, value_name = "NAME")]
        origin: Option<String>,
        /// Keep the ledger in PostgreSQL instead (an empty database).
        #[arg(long, value_name = "URL")]
        database_url: Option<String>,
        /// The address `serve` will listen on.
        #[arg(long, value_name = "ADDR")]
        listen: Option<String>,
    },
    /// Serve the web UI, the API and the ledger endpoints.
    Serve {
        #[command(flatten)]
        target: Target,
        /// Address to listen on (default from the configuration, 127.0.0.1:8080).
        #[arg(long, value_name = "ADDR")]
        listen: Option<String>,
    },
    /// Initialise (a temporary directory unless --data is given), seed demo data and serve.
    Demo {
        /// Data directory; reused if it already holds a Kiroku ledger.
        #[arg(long, value_name = "DIR")]
        data: Option<PathBuf>,
        /// Address to listen on.
        #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:8080")]
        listen: String,
    },
    /// Work with the ledger directly.
    Ledger {
        #[command(subcommand)]
        command: LedgerCommand,
    },
    /// Check the whole ledger: every leaf, blob, tree node, checkpoint (root and signature) and
    /// projection. Exit 0 when intact; 1 naming the first bad entry.
    Verify {
        #[command(flatten)]
        target: Target,
        /// Do not record the result as a ledger entry.
        #[arg(long)]
        no_record: bool,
    },
    /// Measure performance against a baseline.
    Bench {
        #[command(subcommand)]
        command: bench::BenchCommand,
    },
}

#[derive(Subcommand)]
enum LedgerCommand {
    /// Append an operator's note (運用記録), e.g. "backup tape 5 moved off-site"; prints its index.
    Note {
        #[command(flatten)]
        target: Target,
        /// The note (at most 4000 characters).
        text: String,
    },
    /// Print the latest signed checkpoint.
    Checkpoint {
        #[command(flatten)]
        target: Target,
    },
    /// Replay the ledger into fresh projection tables.
    Rebuild {
        #[command(flatten)]
        target: Target,
    },
}

/// Which data directory (and optionally which database) a command works on.
#[derive(Args, Clone)]
struct Target {
    /// The data directory made by `kiroku init`.
    #[arg(long, value_name = "DIR")]
    data: PathBuf,
    /// Use this database instead of the configured one (`postgres://…` or `sqlite://…`).
    #[arg(long, value_name = "URL")]
    database_url: Option<String>,
}

impl Target {
    fn overrides(&self) -> Overrides {
        Overrides {
            database_url: self.database_url.clone(),
            listen: None,
        }
    }

    fn open(&self) -> Result<Instance> {
        Instance::open(&self.data, &self.overrides())
            .with_context(|| format!("cannot open the data directory {}", self.data.display()))
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(code) => code,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> Result<ExitCode> {
    match cli.command {
        Command::Init {
            data,
            origin,
            database_url,
            listen,
        } => {
            let verifier = datadir::init(
                &data,
                &InitOptions {
                    origin,
                    database_url,
                    listen,
                },
            )
            .with_context(|| format!("cannot initialise {}", data.display()))?;
            println!("{}", verifier.to_text());
            Ok(ExitCode::SUCCESS)
        }
        Command::Serve { target, listen } => {
            let config = Config::load(&target.data).with_context(|| {
                format!("cannot open the data directory {}", target.data.display())
            })?;
            kiroku_server::logging::init(config.log_format);
            let mut overrides = target.overrides();
            overrides.listen = listen;
            let instance = Instance::open(&target.data, &overrides).with_context(|| {
                format!("cannot open the data directory {}", target.data.display())
            })?;
            serve(instance, None)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Demo { data, listen } => demo(data, listen),
        Command::Ledger { command } => match command {
            LedgerCommand::Note { target, text } => {
                let instance = target.open()?;
                let receipt = instance.append_note(&text, "cli");
                instance.shutdown();
                let receipt = receipt.context("the note was not recorded")?;
                println!("{}", receipt.first.0);
                Ok(ExitCode::SUCCESS)
            }
            LedgerCommand::Checkpoint { target } => {
                let instance = target.open()?;
                let latest = kiroku_store::read::latest_checkpoint(&instance.store)?;
                instance.shutdown();
                match latest {
                    Some(c) => print!("{}", c.note),
                    None => bail!("the ledger has no checkpoint yet"),
                }
                Ok(ExitCode::SUCCESS)
            }
            LedgerCommand::Rebuild { target } => {
                let instance = target.open()?;
                let replayed = kiroku_store::verify::rebuild_projections(&instance.store);
                instance.shutdown();
                println!("projections rebuilt from {} entries", replayed?);
                Ok(ExitCode::SUCCESS)
            }
        },
        Command::Verify { target, no_record } => verify(&target, no_record),
        Command::Bench { command } => bench::run(command),
    }
}

fn verify(target: &Target, no_record: bool) -> Result<ExitCode> {
    let config = Config::load(&target.data)
        .with_context(|| format!("cannot open the data directory {}", target.data.display()))?;
    let signer = datadir::load_signer(&target.data, &config)?;
    let mut url = config.database(&target.data)?;
    if let Some(override_url) = &target.database_url {
        url = kiroku_store::DatabaseUrl::parse(override_url)?;
    }
    let store = kiroku_store::Store::open(&url, 1)?;
    let mut bar = progress::Bar::new("verifying");
    let started = std::time::Instant::now();
    let report = kiroku_store::verify::verify(
        &store,
        &config.origin,
        &signer.verifier(),
        &mut |done, total| bar.update(done, total),
    )?;
    bar.finish();
    let seconds = started.elapsed().as_secs_f64();
    drop(store);
    let code = match &report.problem {
        None => {
            println!(
                "ledger intact: {} entries, {} checkpoints, tree size {}, root {} ({:.2} s)",
                report.entries,
                report.checkpoints,
                report.tree_size,
                report.root.to_base64(),
                seconds
            );
            ExitCode::SUCCESS
        }
        Some(problem) => {
            match problem.index {
                Some(index) => println!(
                    "ledger verification FAILED at entry {index}: {}",
                    problem.what
                ),
                None => println!("ledger verification FAILED: {}", problem.what),
            }
            ExitCode::from(1)
        }
    };
    if !no_record {
        let recorded = target.open().and_then(|instance| {
            let receipt = record_verification(&instance, &report);
            instance.shutdown();
            Ok(receipt?)
        });
        if let Err(error) = recorded {
            eprintln!("warning: the result could not be recorded in the ledger: {error:#}");
        }
    }
    Ok(code)
}

fn demo(data: Option<PathBuf>, listen: String) -> Result<ExitCode> {
    kiroku_server::logging::init(kiroku_server::config::LogFormat::Text);
    let dir = match data {
        Some(dir) => dir,
        None => std::env::temp_dir().join(format!("kiroku-demo-{}", std::process::id())),
    };
    let fresh = !dir.join(kiroku_server::config::CONFIG_FILE).exists();
    if fresh {
        let verifier = datadir::init(
            &dir,
            &InitOptions {
                origin: None,
                database_url: None,
                listen: Some(listen.clone()),
            },
        )
        .with_context(|| format!("cannot initialise {}", dir.display()))?;
        println!("verifier key: {}", verifier.to_text());
    }
    let instance = Instance::open(
        &dir,
        &Overrides {
            database_url: None,
            listen: Some(listen),
        },
    )
    .with_context(|| format!("cannot open the data directory {}", dir.display()))?;
    if fresh {
        let seeded = kiroku_server::demo::seed(&instance).context("seeding demo data failed")?;
        let report = kiroku_store::verify::verify(
            &instance.store,
            &instance.config.origin,
            &instance.verifier,
            &mut |_, _| {},
        )?;
        record_verification(&instance, &report)
            .context("recording the demo verification failed")?;
        println!("seeded {seeded} demo notes in {}", dir.display());
    } else {
        println!("reusing the demo ledger in {}", dir.display());
    }
    serve(instance, Some(&dir))?;
    Ok(ExitCode::SUCCESS)
}

/// Serves until Ctrl-C or SIGTERM, then stops the writer after it commits what is queued.
fn serve(instance: Instance, demo_dir: Option<&Path>) -> Result<()> {
    let addr = instance.config.listen_addr()?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    match kiroku_store::read::durability(&instance.store) {
        Ok(settings) => tracing::info!(
            database = instance.store.url().backend_name(),
            %settings,
            "commits are durable with these settings"
        ),
        Err(error) => tracing::warn!(%error, "cannot read the database's durability settings"),
    }
    let app = kiroku_server::app(&instance);
    let result = runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .with_context(|| format!("cannot listen on {addr} (is another server using it?)"))?;
        let url = format!("http://{}/", listener.local_addr()?);
        match demo_dir {
            Some(dir) => println!(
                "Kiroku demo running at {url} (data: {}). Stop with Ctrl-C.",
                dir.display()
            ),
            None => println!("Kiroku listening on {url}"),
        }
        tracing::info!(%url, "listening");
        axum::serve(listener, app)
            .with_graceful_shutdown(shutdown_signal())
            .await
            .context("the server stopped with an error")
    });
    runtime.shutdown_timeout(std::time::Duration::from_secs(10));
    instance.shutdown();
    result
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
}
