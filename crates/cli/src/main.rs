//! `kiroku`: a thin command line over the use cases (`kiroku-app`) and the HTTP edge
//! (`kiroku-server`). Every command has `--help`; errors print their whole chain; exit codes
//! are 0 (done), 1 (failed — e.g. verification found a problem, or a note changed meanwhile)
//! and 2 (bad usage).

/// `println!` for the command line: a reader that has gone away (`kiroku … | head`) ends
/// the command quietly ([`emit`]) instead of panicking with a backtrace.
macro_rules! outln {
    () => {
        $crate::emit(format_args!("\n"))
    };
    ($($arg:tt)*) => {
        $crate::emit(format_args!("{}\n", format_args!($($arg)*)))
    };
}

/// `print!` for the command line, as [`outln!`].
macro_rules! out {
    ($($arg:tt)*) => {
        $crate::emit(format_args!($($arg)*))
    };
}

mod bench;
mod bench_fhir;
mod progress;

use anyhow::{bail, Context as _, Result};
use clap::{Args, Parser, Subcommand};
use kiroku_app::datadir::{self, InitOptions};
use kiroku_app::{App, Overrides};
use kiroku_core::{Actor, EntryIndex};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

/// mimalloc instead of glibc's allocator: replay workers free, by the million, what the reader
/// thread allocated, and glibc's per-arena free lists spent a third of their time on it.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

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
        /// The URL people's browsers reach the server at, e.g.
        /// `https://kiroku.osaki-hospital.example` behind a TLS proxy: passkeys are scoped to
        /// its host name (changing it later makes registered passkeys unusable), and cookies are
        /// marked Secure when it is HTTPS. Without it, passkeys work only when the browser
        /// reaches the server as `http://localhost:PORT`, PORT the one it listens on.
        #[arg(long, value_name = "URL")]
        public_url: Option<String>,
        #[command(flatten)]
        administrator: AdministratorArgs,
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
    ///
    /// The demo hospital gets synthetic staff, a departmental system, operators' notes, and
    /// synthetic patients' charts over several years (encounters, problems, allergies, results,
    /// prescriptions, progress notes), written through the FHIR rules by the laboratory's system
    /// and confirmed by a doctor.
    Demo {
        /// Data directory; reused if it already holds a Kiroku ledger.
        #[arg(long, value_name = "DIR")]
        data: Option<PathBuf>,
        /// Address to listen on.
        #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:8080")]
        listen: String,
        /// Synthetic patients to generate (0 to 1,000,000).
        #[arg(long, value_name = "N", default_value_t = 1000)]
        patients: u64,
    },
    /// Work with the ledger and operators' notes.
    Ledger {
        #[command(subcommand)]
        command: LedgerCommand,
    },
    /// People and access: list and show accounts, suspend and reinstate them (as the operator,
    /// with the system administrator's powers; every act is an entry under `operator`).
    Account {
        #[command(subcommand)]
        command: AccountCommand,
    },
    /// The access policy (Art. 11, in Cedar): check a draft, or show the version in force.
    Policy {
        #[command(subcommand)]
        command: PolicyCommand,
    },
    /// Access reviews (recertification): close the reviews past their deadline, suspending
    /// every member no department head decided on. `kiroku serve` does this every minute.
    Review {
        #[command(subcommand)]
        command: ReviewCommand,
    },
    /// System clients (departmental systems, external linkages): issue a bearer token as the
    /// operator, for a script on the server. Clients elsewhere use POST /oauth/token.
    Client {
        #[command(subcommand)]
        command: ClientCommand,
    },
    /// Check the whole ledger: every leaf, blob, kind, tree node, checkpoint (root and
    /// signature) and projection row. Exit 0 when intact; 1 naming the first bad entry.
    Verify {
        #[command(flatten)]
        target: Target,
        /// Do not record the result as a ledger entry.
        #[arg(long)]
        no_record: bool,
    },
    /// Write the whole ledger (entries, blobs, every signed checkpoint) to one file, checking
    /// it on the way. See docs/export-format.md.
    Export {
        #[command(flatten)]
        target: Target,
        /// The file to write (refused if it exists).
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
    },
    /// Load an export file into the data directory's empty database (or the one given),
    /// checking every leaf, root and signature against the directory's key and rebuilding the
    /// projections.
    Import {
        #[command(flatten)]
        target: Target,
        /// The export file.
        #[arg(long = "in", value_name = "FILE")]
        input: PathBuf,
    },
    /// Copy the ledger into an empty PostgreSQL (or SQLite) database, checking everything,
    /// and point the data directory at it. Stop the server first.
    Migrate {
        /// The data directory.
        #[arg(long, value_name = "DIR")]
        data: PathBuf,
        /// The empty target database, e.g. `postgres://kiroku@db.example/kiroku`.
        #[arg(long, value_name = "URL")]
        to: String,
    },
    /// FHIR resources: check files before a departmental system sends them.
    Fhir {
        #[command(subcommand)]
        command: FhirCommand,
    },
    /// Measure performance against a baseline.
    Bench {
        #[command(subcommand)]
        command: bench::BenchCommand,
    },
}

#[derive(Subcommand)]
enum FhirCommand {
    /// Check FHIR resources (JSON files; `-` for standard input) as the server checks a write:
    /// strict JSON (no duplicate names), a resource type this server keeps, FHIR R4's structure
    /// and every JP Core 1.1.2 profile the resource claims in meta.profile (see
    /// docs/records-validation.md). Prints a line per file, and each problem with where it is;
    /// exit 0 when every file conforms, 1 otherwise. Writes nothing; needs no data directory.
    Validate {
        /// The files.
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// Messages in Japanese.
        #[arg(long)]
        ja: bool,
    },
}

#[derive(Subcommand)]
enum LedgerCommand {
    /// Append an operator's note (運用記録), e.g. "backup tape 5 moved off-site"; prints its
    /// number.
    Note {
        #[command(flatten)]
        target: Target,
        /// A tag (repeat for several, at most 8).
        #[arg(long = "tag", value_name = "TAG")]
        tags: Vec<String>,
        /// An idempotency key: running the same command again writes nothing twice.
        #[arg(long, value_name = "KEY")]
        key: Option<String>,
        /// The note (at most 4000 characters).
        text: String,
    },
    /// Correct a note: a new version with a reason; the earlier versions stay. Refused if the
    /// note is no longer at --version.
    Amend {
        #[command(flatten)]
        target: Target,
        /// The note's number.
        #[arg(long, value_name = "N")]
        note: u64,
        /// The version you are correcting (the note's current version, as you last saw it).
        #[arg(long = "expected-version", value_name = "V")]
        expected: u64,
        /// Why the note is corrected.
        #[arg(long, value_name = "TEXT")]
        reason: String,
        /// The new tags (repeat for several); without --tag the tags stay as they are.
        #[arg(long = "tag", value_name = "TAG")]
        tags: Vec<String>,
        /// Remove every tag.
        #[arg(long, conflicts_with = "tags")]
        no_tags: bool,
        /// The new text.
        text: String,
    },
    /// Withdraw a note (取り下げ): it stays, with its versions, no longer in force.
    Withdraw {
        #[command(flatten)]
        target: Target,
        /// The note's number.
        #[arg(long, value_name = "N")]
        note: u64,
        /// The version you are withdrawing (the note's current version, as you last saw it).
        #[arg(long = "expected-version", value_name = "V")]
        expected: u64,
        /// Why.
        #[arg(long, value_name = "TEXT")]
        reason: String,
    },
    /// List notes, newest first: number, version, state, time, tags, text.
    Notes {
        #[command(flatten)]
        target: Target,
        /// Only notes with this tag.
        #[arg(long, value_name = "TAG")]
        tag: Option<String>,
        /// Notes older than this number.
        #[arg(long, value_name = "N")]
        after: Option<u64>,
        /// Most notes.
        #[arg(long, default_value_t = 50)]
        limit: u64,
    },
    /// Show one note with every version and reason.
    Show {
        #[command(flatten)]
        target: Target,
        /// The note's number.
        #[arg(long, value_name = "N")]
        note: u64,
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

#[derive(Subcommand)]
enum PolicyCommand {
    /// Check a policy file as a proposal would be checked: it parses, every policy has an
    /// @id, it validates against Kiroku's schema, and a system administrator could still
    /// change the policy under it. Exit 0 when it passes; 1 with the errors. Needs no data
    /// directory.
    Validate {
        /// The Cedar policy file (`-` for standard input).
        file: PathBuf,
    },
    /// Show the policy version in force now, or at a past time, with its text.
    Show {
        #[command(flatten)]
        target: Target,
        /// The time: `2026-11-25 10:00` (Japan time), `2026-11-25`, or RFC 3339 with an offset.
        #[arg(long, value_name = "TIME")]
        at: Option<String>,
        /// Print one JSON object instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Print Kiroku's Cedar schema (what policies may refer to).
    Schema,
}

#[derive(Subcommand)]
enum ReviewCommand {
    /// Close every access review past its deadline (as the operator): the members still
    /// undecided are suspended. Prints each review closed; exit 0 also when none was due.
    CloseDue {
        #[command(flatten)]
        target: Target,
    },
}

#[derive(Subcommand)]
enum ClientCommand {
    /// Issue a bearer token to an approved, active system client and print it (the token is
    /// shown once; the ledger keeps only its SHA-256). The issue is an entry under `operator`.
    Token {
        #[command(flatten)]
        target: Target,
        /// The client's account id.
        #[arg(long, value_name = "NAME")]
        client: String,
        /// The scopes, space-separated (default: every scope granted to the client).
        #[arg(long, value_name = "SCOPES")]
        scope: Option<String>,
        /// Print one JSON object (as the token endpoint answers) instead of the bare token.
        #[arg(long)]
        json: bool,
    },
    /// Register the public keys (a JWK Set of EC P-384 or RSA keys) a system client signs its
    /// client assertions with (SMART Backend Services' private_key_jwt); replaces any set
    /// registered before. The registration is an entry under `operator`.
    Keys {
        #[command(flatten)]
        target: Target,
        /// The client's account id.
        #[arg(long, value_name = "NAME")]
        client: String,
        /// The JWK Set's file (`-` for standard input).
        #[arg(long, value_name = "FILE")]
        jwks: PathBuf,
    },
}

#[derive(Subcommand)]
enum AccountCommand {
    /// List accounts in id order: id, status, version, department, job type, name.
    List {
        #[command(flatten)]
        target: Target,
        /// Start after this account id.
        #[arg(long, value_name = "ID")]
        after: Option<String>,
        /// Most accounts to list.
        #[arg(long, value_name = "N", default_value_t = 100)]
        limit: u64,
        /// Print one JSON array instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Show one account: status, profile, roles and its whole history.
    Show {
        #[command(flatten)]
        target: Target,
        /// The account id.
        id: String,
        /// Print one JSON object instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Suspend use of an account (Art. 9); its sessions and tokens stop at once.
    Suspend {
        #[command(flatten)]
        change: StatusArgs,
    },
    /// Let a suspended account be used again.
    Reinstate {
        #[command(flatten)]
        change: StatusArgs,
    },
    /// End an account (the person left, or no longer needs it). Final.
    Deactivate {
        #[command(flatten)]
        change: StatusArgs,
    },
    /// Bind a Practitioner resource of the records to an account (the only way a practitioner
    /// named in an encounter or care team relates an account to a patient), or end its binding.
    BindPractitioner {
        #[command(flatten)]
        target: Target,
        /// The Practitioner resource's id.
        practitioner: String,
        /// The account it is.
        #[arg(long, value_name = "ID", required_unless_present = "unbind")]
        to: Option<String>,
        /// End the practitioner's binding instead.
        #[arg(long, conflicts_with = "to")]
        unbind: bool,
    },
    /// Who holds which governance role (system administrators first).
    Roles {
        #[command(flatten)]
        target: Target,
        /// Print one JSON array instead of text.
        #[arg(long)]
        json: bool,
    },
}

/// A change of an account's status.
#[derive(Args, Clone)]
struct StatusArgs {
    #[command(flatten)]
    target: Target,
    /// The account id.
    id: String,
    /// Why (recorded in the ledger).
    #[arg(long, value_name = "TEXT")]
    reason: String,
    /// The account's version you decided on; refused if it has changed since (default: the
    /// current version).
    #[arg(long = "expected-version", value_name = "V")]
    expected: Option<u64>,
}

/// The first system administrator, whom `init` issues an account (Art. 4: the director or
/// their appointee).
#[derive(Args, Clone)]
struct AdministratorArgs {
    /// The administrator's account id.
    #[arg(
        long = "administrator",
        value_name = "ID",
        default_value = "administrator"
    )]
    account: String,
    /// Family and given name, separated by a space (e.g. "大崎 太郎").
    #[arg(
        long = "administrator-name",
        value_name = "NAME",
        default_value = "管理 責任者"
    )]
    name: String,
    /// Family and given name in katakana, separated by a space (e.g. "オオサキ タロウ").
    #[arg(
        long = "administrator-kana",
        value_name = "KANA",
        default_value = "カンリ セキニンシャ"
    )]
    kana: String,
}

impl AdministratorArgs {
    fn into_options(self) -> Result<datadir::Administrator> {
        let split = |text: &str, what: &str| -> Result<(String, String)> {
            let mut parts = text.split_whitespace();
            match (parts.next(), parts.next(), parts.next()) {
                (Some(family), Some(given), None) => Ok((family.into(), given.into())),
                _ => bail!("--administrator-{what} takes the family and given name, separated by one space"),
            }
        };
        let (family_name, given_name) = split(&self.name, "name")?;
        let (family_kana, given_kana) = split(&self.kana, "kana")?;
        Ok(datadir::Administrator {
            account: self.account,
            family_name,
            given_name,
            family_kana,
            given_kana,
        })
    }
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

    fn open(&self) -> Result<App> {
        App::open(&self.data, &self.overrides())
            .with_context(|| format!("cannot open the data directory {}", self.data.display()))
    }
}

/// A file's bytes, or standard input's for `-`.
fn read_input(file: &std::path::Path) -> Result<Vec<u8>> {
    if file.as_os_str() == "-" {
        let mut bytes = Vec::new();
        std::io::Read::read_to_end(&mut std::io::stdin(), &mut bytes)
            .context("cannot read standard input")?;
        Ok(bytes)
    } else {
        std::fs::read(file).with_context(|| format!("cannot read {}", file.display()))
    }
}

/// `kiroku fhir validate`: every file checked, each problem printed with the server's message.
fn validate_fhir(files: &[PathBuf], ja: bool) -> Result<ExitCode> {
    let mut failed = 0;
    for file in files {
        let bytes = read_input(file)?;
        match kiroku_app::records::Records::check_document(&bytes) {
            Ok(kind) => outln!(
                "{}: {kind} {}",
                file.display(),
                if ja { "適合" } else { "conforms" }
            ),
            Err(e) => {
                failed += 1;
                let error = kiroku_server::AppError::from(e);
                let say = |e: &kiroku_server::AppError| if ja { e.ja() } else { e.en() };
                outln!("{}: {}", file.display(), say(&error));
                for (_, issue) in &error.issues {
                    outln!("  {}", say(issue));
                }
            }
        }
    }
    Ok(if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
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

/// Writes to standard output. When the reader has closed the pipe (`kiroku … | head` has what
/// it wanted) the command ends there, quietly and successfully: what it had to write to the
/// ledger is already durable, since every append is answered only once committed. Any other
/// failure to write is an error on standard error.
fn emit(text: std::fmt::Arguments<'_>) {
    use std::io::Write as _;
    let mut stdout = std::io::stdout().lock();
    if let Err(error) = stdout.write_fmt(text).and_then(|()| stdout.flush()) {
        if error.kind() == std::io::ErrorKind::BrokenPipe {
            std::process::exit(0);
        }
        eprintln!("error: cannot write to standard output: {error}");
        std::process::exit(1);
    }
}

/// Runs a use case to completion on a runtime of this thread.
fn block<T>(work: impl std::future::Future<Output = T>) -> Result<T> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    Ok(runtime.block_on(work))
}

/// Opens the data directory, runs `work` on it, and stops the writer whatever happened.
fn with_app<T>(target: &Target, work: impl FnOnce(&App) -> Result<T>) -> Result<T> {
    let app = target.open()?;
    let result = work(&app);
    app.shutdown();
    result
}

fn run(cli: Cli) -> Result<ExitCode> {
    match cli.command {
        Command::Init {
            data,
            origin,
            database_url,
            listen,
            public_url,
            administrator,
        } => {
            let administrator = administrator.into_options()?;
            let account = administrator.account.clone();
            let made = datadir::init(
                &data,
                &InitOptions {
                    origin,
                    database_url,
                    listen,
                    public_url,
                    administrator: Some(administrator),
                },
            )
            .with_context(|| format!("cannot initialise {}", data.display()))?;
            outln!("{}", made.verifier.to_text());
            if let Some(secret) = made.setup_secret {
                outln!(
                    "setup secret of the administrator {account}: {secret} (shown once: sign in with it and choose a password)"
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Serve { target, listen } => {
            let config = kiroku_app::config::Config::load(&target.data).with_context(|| {
                format!("cannot open the data directory {}", target.data.display())
            })?;
            kiroku_server::logging::init(config.log_format);
            let mut overrides = target.overrides();
            overrides.listen = listen;
            let app = App::open(&target.data, &overrides).with_context(|| {
                format!("cannot open the data directory {}", target.data.display())
            })?;
            serve(app, None)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Demo {
            data,
            listen,
            patients,
        } => demo(data, listen, patients),
        Command::Ledger { command } => ledger(command),
        Command::Account { command } => account(command),
        Command::Policy { command } => policy(command),
        Command::Client { command } => client(command),
        Command::Review {
            command: ReviewCommand::CloseDue { target },
        } => {
            let closed = with_app(&target, |app| Ok(block(app.access().close_due_reviews())??))?;
            if closed.is_empty() {
                outln!("no access review is past its deadline");
            }
            for (review, done) in closed {
                outln!("closed access review {} (entry {})", review.0, done.entry.0);
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Verify { target, no_record } => verify(&target, no_record),
        Command::Export { target, out } => {
            let mut bar = progress::Bar::new("exporting");
            let exported = with_app(&target, |app| {
                Ok(app
                    .ops()
                    .export(&out, &mut |done, total| bar.update(done, total))?)
            });
            bar.finish();
            let exported = exported.context("nothing was exported")?;
            outln!(
                "exported {} entries, {} checkpoints and {} blobs (tree size {}) to {}",
                exported.trailer.entries,
                exported.trailer.checkpoints,
                exported.trailer.blobs,
                exported.tree_size,
                out.display()
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::Import { target, input } => {
            let mut bar = progress::Bar::new("importing");
            let loaded = kiroku_app::ops::ledger::import(
                &target.data,
                &input,
                &target.overrides(),
                &mut |done, total| bar.update(done, total),
            );
            bar.finish();
            let loaded = loaded.context("nothing was imported")?;
            outln!(
                "imported {} entries and {} checkpoints; root {}",
                loaded.entries,
                loaded.checkpoints,
                loaded.root.to_base64()
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::Migrate { data, to } => {
            let mut bar = progress::Bar::new("migrating");
            let started = std::time::Instant::now();
            let migrated = kiroku_app::ops::ledger::migrate(&data, &to, &mut |done, total| {
                bar.update(done, total)
            });
            bar.finish();
            let (loaded, target) = migrated.context("the migration did not happen")?;
            outln!(
                "migrated {} entries and {} checkpoints to {target} in {:.1} s; root {}. {} now uses it; the old database is untouched.",
                loaded.entries,
                loaded.checkpoints,
                started.elapsed().as_secs_f64(),
                loaded.root.to_base64(),
                data.display()
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::Bench { command } => bench::run(command),
        Command::Fhir {
            command: FhirCommand::Validate { files, ja },
        } => validate_fhir(&files, ja),
    }
}

fn ledger(command: LedgerCommand) -> Result<ExitCode> {
    match command {
        LedgerCommand::Note {
            target,
            tags,
            key,
            text,
        } => {
            let written = with_app(&target, |app| {
                Ok(block(app.ops().write_note(
                    Actor::operator("cli"),
                    &text,
                    tags,
                    key,
                ))??)
            })
            .context("the note was not recorded")?;
            outln!("{}", written.note);
            Ok(ExitCode::SUCCESS)
        }
        LedgerCommand::Amend {
            target,
            note,
            expected: version,
            reason,
            tags,
            no_tags,
            text,
        } => {
            let changed = with_app(&target, |app| {
                block(async {
                    let tags = if no_tags || !tags.is_empty() {
                        tags
                    } else {
                        app.ops().note(EntryIndex(note)).await?.tags
                    };
                    app.ops()
                        .amend_note(
                            Actor::operator("cli"),
                            EntryIndex(note),
                            version,
                            &text,
                            tags,
                            &reason,
                        )
                        .await
                })?
                .map_err(Into::into)
            })
            .context("the correction was not recorded")?;
            outln!(
                "note {} is at version {} (entry {})",
                changed.note,
                changed.version,
                changed.entry
            );
            Ok(ExitCode::SUCCESS)
        }
        LedgerCommand::Withdraw {
            target,
            note,
            expected: version,
            reason,
        } => {
            let changed = with_app(&target, |app| {
                Ok(block(app.ops().withdraw_note(
                    Actor::operator("cli"),
                    EntryIndex(note),
                    version,
                    &reason,
                ))??)
            })
            .context("the withdrawal was not recorded")?;
            outln!(
                "note {} is withdrawn at version {} (entry {})",
                changed.note,
                changed.version,
                changed.entry
            );
            Ok(ExitCode::SUCCESS)
        }
        LedgerCommand::Notes {
            target,
            tag,
            after,
            limit,
        } => {
            let notes = with_app(&target, |app| {
                Ok(block(app.ops().notes(after.map(EntryIndex), limit, tag))??)
            })?;
            for n in notes {
                let text = n.state.text.as_deref().unwrap_or("").replace('\n', " ");
                outln!(
                    "{}\tv{}\t{}\t{}\t{}\t{}",
                    n.state.note,
                    n.state.version,
                    n.state.state.as_str(),
                    n.state.time,
                    n.tags.join(","),
                    text
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        LedgerCommand::Show { target, note } => {
            let view = with_app(&target, |app| Ok(block(app.ops().note(EntryIndex(note)))??))?;
            outln!(
                "note {}: version {}, {}; tags: {}",
                view.state.note,
                view.state.version,
                view.state.state.as_str(),
                view.tags.join(", ")
            );
            for v in view.versions {
                outln!(
                    "v{} {} {} by {} (entry {}){}\n  {}",
                    v.version,
                    v.change.as_str(),
                    v.time,
                    v.account,
                    v.entry,
                    v.reason.map(|r| format!(" — {r}")).unwrap_or_default(),
                    v.text.unwrap_or_default().replace('\n', "\n  ")
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        LedgerCommand::Checkpoint { target } => {
            match kiroku_app::ops::ledger::checkpoint_of(&target.data, &target.overrides())
                .with_context(|| format!("cannot read {}", target.data.display()))?
            {
                Some(c) => out!("{}", c.note),
                None => bail!("the ledger has no checkpoint yet"),
            }
            Ok(ExitCode::SUCCESS)
        }
        LedgerCommand::Rebuild { target } => {
            let replayed = with_app(&target, |app| Ok(app.ops().rebuild()?))?;
            outln!("projections rebuilt from {replayed} entries");
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn client(command: ClientCommand) -> Result<ExitCode> {
    match command {
        ClientCommand::Token {
            target,
            client,
            scope,
            json: as_json,
        } => {
            let issued = with_app(&target, |app| {
                Ok(block(app.access().operator_token(&client, scope))??)
            })?;
            if as_json {
                outln!(
                    "{}",
                    serde_json::json!({
                        "access_token": issued.token,
                        "token_type": "Bearer",
                        "expires_in": issued.expires_in,
                        "scope": issued.scopes.join(" "),
                    })
                );
            } else {
                outln!("{}", issued.token);
                eprintln!(
                    "token for {client}: scopes [{}], expires in {} s (entry {})",
                    issued.scopes.join(" "),
                    issued.expires_in,
                    issued.done.entry.0
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        ClientCommand::Keys {
            target,
            client,
            jwks,
        } => {
            let text =
                String::from_utf8(read_input(&jwks)?).context("the JWK Set is not UTF-8 text")?;
            let done = with_app(&target, |app| {
                Ok(block(app.access().register_client_keys(
                    Actor::operator("cli"),
                    &client,
                    &text,
                ))??)
            })
            .with_context(|| format!("no keys were registered for {client}"))?;
            outln!("keys of {client} registered (entry {})", done.entry.0);
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn policy(command: PolicyCommand) -> Result<ExitCode> {
    use kiroku_app::policy::Engine;
    match command {
        PolicyCommand::Validate { file } => {
            let text = String::from_utf8(read_input(&file)?)
                .with_context(|| format!("{} is not UTF-8 text", file.display()))?;
            match Engine::compile(&text) {
                Ok(engine) => {
                    let ids = engine.policy_ids();
                    outln!("valid: {} policies ({})", ids.len(), ids.join(", "));
                    Ok(ExitCode::SUCCESS)
                }
                Err(e) => {
                    eprintln!("invalid: {e}");
                    Ok(ExitCode::FAILURE)
                }
            }
        }
        PolicyCommand::Show {
            target,
            at,
            json: as_json,
        } => {
            let at = at
                .as_deref()
                .map(|t| {
                    kiroku_core::Timestamp::parse_given(t).with_context(|| {
                        format!("--at {t:?} is not a time: give 2026-11-25 10:00 (Japan time) or 2026-11-25T10:00:00+09:00")
                    })
                })
                .transpose()?;
            let (adoption, version) =
                with_app(&target, |app| Ok(block(app.policy().policy_at(at))??))?;
            let decision = version.decision.as_ref();
            if as_json {
                outln!(
                    "{}",
                    serde_json::json!({
                        "number": version.proposal.number,
                        "since": adoption.since.to_string(),
                        "proposed_by": version.proposal.proposed_by,
                        "approved_by": decision.map(|d| d.by.clone()),
                        "approved_entry": decision.map(|d| d.entry.0),
                        "text": version.proposal.text,
                    })
                );
            } else {
                outln!(
                    "policy version {} in force since {} (proposed by {}, approved by {})",
                    version.proposal.number,
                    adoption.since,
                    version.proposal.proposed_by,
                    decision.map_or("—", |d| d.by.as_str())
                );
                out!("{}", version.proposal.text);
            }
            Ok(ExitCode::SUCCESS)
        }
        PolicyCommand::Schema => {
            out!("{}", kiroku_app::policy::SCHEMA);
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn account(command: AccountCommand) -> Result<ExitCode> {
    use kiroku_app::access::accounts::StatusStep;
    use kiroku_server::json;
    let change = |change: StatusArgs, step: StatusStep, done: &str| -> Result<ExitCode> {
        let result = with_app(&change.target, |app| {
            block(async {
                let expected = match change.expected {
                    Some(v) => v,
                    None => app.access().account(&change.id).await?.state.version,
                };
                app.access()
                    .change_account_status(
                        Actor::operator("cli"),
                        &change.id,
                        step,
                        expected,
                        change.reason.clone(),
                    )
                    .await
            })?
            .map_err(Into::into)
        })
        .with_context(|| format!("account {} was not changed", change.id))?;
        outln!("account {} {done} (entry {})", change.id, result.entry);
        Ok(ExitCode::SUCCESS)
    };
    match command {
        AccountCommand::List {
            target,
            after,
            limit,
            json: as_json,
        } => {
            let accounts = with_app(&target, |app| {
                Ok(block(app.access().accounts(after, limit))??)
            })?;
            if as_json {
                let list: Vec<_> = accounts.iter().map(json::summary).collect();
                outln!("{}", serde_json::Value::Array(list));
            } else {
                for a in accounts {
                    outln!(
                        "{}\t{}\tv{}\t{}\t{}\t{} {}",
                        a.state.account,
                        a.state.status.as_str(),
                        a.state.version,
                        a.profile.department,
                        a.profile.job_type,
                        a.profile.family_name,
                        a.profile.given_name
                    );
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        AccountCommand::Show {
            target,
            id,
            json: as_json,
        } => {
            let view = with_app(&target, |app| Ok(block(app.access().account(&id))??))?;
            if as_json {
                outln!("{}", json::view(&view));
                return Ok(ExitCode::SUCCESS);
            }
            let p = &view.profile;
            outln!(
                "{} ({} {} / {} {}): {} since {}, version {}",
                p.account,
                p.family_name,
                p.given_name,
                p.family_kana,
                p.given_kana,
                view.state.status.as_str(),
                view.state.since,
                view.state.version
            );
            outln!(
                "department {}, job type {}, category {}, valid {} – {}",
                p.department,
                p.job_type,
                p.category.as_str(),
                p.valid_from,
                p.valid_until
            );
            for r in &view.roles {
                outln!(
                    "role {}{} from {}{}",
                    r.role.as_str(),
                    r.department
                        .as_deref()
                        .map(|d| format!(" ({d})"))
                        .unwrap_or_default(),
                    r.valid_from,
                    r.valid_until
                        .map(|d| format!(" until {d}"))
                        .unwrap_or_default()
                );
            }
            for e in &view.history {
                outln!(
                    "{} entry {} {} by {}{}",
                    e.time,
                    e.entry,
                    e.event,
                    e.by,
                    e.reason
                        .as_deref()
                        .map(|r| format!(" — {r}"))
                        .unwrap_or_default()
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        AccountCommand::BindPractitioner {
            target,
            practitioner,
            to,
            unbind: _,
        } => {
            let done = with_app(&target, |app| {
                Ok(block(app.access().bind_staff_identity(
                    Actor::operator("cli"),
                    &practitioner,
                    to.as_deref(),
                ))??)
            })
            .with_context(|| format!("Practitioner/{practitioner} was not bound"))?;
            match &to {
                Some(account) => outln!(
                    "Practitioner/{practitioner} is {account} (entry {})",
                    done.entry.0
                ),
                None => outln!(
                    "Practitioner/{practitioner} is nobody's (entry {})",
                    done.entry.0
                ),
            }
            Ok(ExitCode::SUCCESS)
        }
        AccountCommand::Suspend { change: c } => change(c, StatusStep::Suspend, "is suspended"),
        AccountCommand::Reinstate { change: c } => {
            change(c, StatusStep::Reinstate, "is reinstated")
        }
        AccountCommand::Deactivate { change: c } => {
            change(c, StatusStep::Deactivate, "is deactivated")
        }
        AccountCommand::Roles {
            target,
            json: as_json,
        } => {
            let held = with_app(&target, |app| Ok(block(app.access().appointments())??))?;
            if as_json {
                let list: Vec<_> = held.iter().map(json::held).collect();
                outln!("{}", serde_json::Value::Array(list));
            } else {
                for h in held {
                    outln!(
                        "{}\t{}\t{}\t{}\t{}",
                        h.role.as_str(),
                        h.department.unwrap_or_default(),
                        h.account,
                        h.valid_from,
                        h.valid_until.map(|d| d.to_string()).unwrap_or_default()
                    );
                }
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn verify(target: &Target, no_record: bool) -> Result<ExitCode> {
    let mut bar = progress::Bar::new("verifying");
    let started = std::time::Instant::now();
    let report =
        kiroku_app::ops::ledger::verify_dir(&target.data, &target.overrides(), &mut |d, t| {
            bar.update(d, t)
        });
    bar.finish();
    let report = report
        .with_context(|| format!("cannot verify the data directory {}", target.data.display()))?;
    let seconds = started.elapsed().as_secs_f64();
    let code = match &report.problem {
        None => {
            outln!(
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
                Some(index) => outln!(
                    "ledger verification FAILED at entry {index}: {}",
                    problem.what
                ),
                None => outln!("ledger verification FAILED: {}", problem.what),
            }
            ExitCode::from(1)
        }
    };
    if !no_record {
        if let Err(error) = with_app(target, |app| Ok(app.ops().record_verification(&report)?)) {
            eprintln!("warning: the result could not be recorded in the ledger: {error:#}");
        }
    }
    Ok(code)
}

fn demo(data: Option<PathBuf>, listen: String, patients: u64) -> Result<ExitCode> {
    if patients > 1_000_000 {
        anyhow::bail!("--patients must be 0 to 1,000,000");
    }
    kiroku_server::logging::init(kiroku_app::config::LogFormat::Text);
    let dir = match data {
        Some(dir) => dir,
        None => std::env::temp_dir().join(format!("kiroku-demo-{}", std::process::id())),
    };
    let fresh = !dir.join(kiroku_app::config::CONFIG_FILE).exists();
    let mut setup_secret = None;
    if fresh {
        let made = datadir::init(
            &dir,
            &InitOptions {
                origin: None,
                database_url: None,
                listen: Some(listen.clone()),
                public_url: None,
                administrator: Some(kiroku_demo::hospital::administrator()),
            },
        )
        .with_context(|| format!("cannot initialise {}", dir.display()))?;
        outln!("verifier key: {}", made.verifier.to_text());
        if let Some(secret) = &made.setup_secret {
            outln!("the director signs in as `director` with the setup secret {secret}");
        }
        setup_secret = made.setup_secret;
    }
    let app = App::open(
        &dir,
        &Overrides {
            database_url: None,
            listen: Some(listen.clone()),
        },
    )
    .with_context(|| format!("cannot open the data directory {}", dir.display()))?;
    if fresh {
        let people = block(kiroku_demo::hospital::seed_hospital(&app))?
            .context("seeding the demo hospital failed")?;
        // Every demo account gets an authenticator secret, as if the operator had issued each
        // person a token: the demo signs in with a password and a code, as a hospital would.
        let mut totp = std::collections::BTreeMap::new();
        for account in std::iter::once("director").chain(people.iter().map(|(a, _)| a.as_str())) {
            let secret = block(app.access().enrol_factor_for_demo(account))?
                .with_context(|| format!("enrolling the demo authenticator of {account} failed"))?;
            totp.insert(account.to_owned(), secret);
        }
        let client = block(kiroku_demo::hospital::seed_client(&app))?
            .context("seeding the demo system client failed")?;
        let credentials = dir.join("demo-credentials.json");
        write_demo_credentials(
            &credentials,
            setup_secret.as_deref(),
            &people,
            &totp,
            &client,
        )?;
        outln!(
            "issued IDs to {} synthetic staff of a demo hospital (kiroku account list); their one-time initial secrets and authenticator (TOTP) secrets are in {}",
            people.len(),
            credentials.display()
        );
        let port = listen.rsplit(':').next().unwrap_or("8080");
        outln!(
            "sign in at http://localhost:{port}/sign-in as any of them (passkeys are scoped to a host name, so register them at localhost, not at an IP address); the governance roles are held by:"
        );
        for held in block(app.access().appointments())?? {
            outln!(
                "  {:<22} {:<22} {}",
                held.role.as_str(),
                held.department.as_deref().unwrap_or("(hospital-wide)"),
                held.account
            );
        }
        outln!(
            "the system client {} (clinical.read clinical.write) gets tokens from POST /oauth/token with its client secret from the same file",
            client.0
        );
        let doctor = block(app.access().accounts(None, 1000))??
            .into_iter()
            .find(|a| a.profile.job_type == "doctor")
            .map(|a| a.profile.account);
        let doctor = doctor.as_deref();
        let mut bar = progress::Bar::counting("writing patients' charts", "patients");
        let charts = block(kiroku_demo::charts::seed_records(
            &app,
            (&client.0, &client.1),
            doctor,
            patients,
            1,
            2026,
            true,
            &mut |done| bar.update(done, patients),
        ))?
        .context("writing the demo patients' charts failed")?;
        bar.finish();
        outln!(
            "wrote the charts of {} synthetic patients ({} resources; {} drafts confirmed by {}, the last four weeks' left to confirm)",
            charts.patients,
            charts.resources,
            charts.confirmed,
            doctor.unwrap_or("nobody")
        );
        let seeded =
            block(kiroku_demo::hospital::seed(&app))?.context("seeding demo data failed")?;
        let report = app.ops().verify(&mut |_, _| {})?;
        app.ops()
            .record_verification(&report)
            .context("recording the demo verification failed")?;
        outln!(
            "seeded {seeded} demo entries in {}; the operator token is in {}",
            dir.display(),
            dir.join(&app.config.operator_token_file).display()
        );
    } else {
        outln!("reusing the demo ledger in {}", dir.display());
    }
    serve(app, Some(&dir))?;
    Ok(ExitCode::SUCCESS)
}

/// Writes the demo accounts' first-sign-in secrets, readable by the owner only, for people and
/// scripts trying the demo. Synthetic accounts only: a real directory never has this file.
fn write_demo_credentials(
    path: &Path,
    director: Option<&str>,
    people: &[(String, String)],
    totp: &std::collections::BTreeMap<String, String>,
    client: &(String, String),
) -> Result<()> {
    let mut accounts = serde_json::Map::new();
    if let Some(secret) = director {
        accounts.insert(
            "director".into(),
            serde_json::json!({"initial_secret": secret, "totp_secret": totp.get("director"), "roles": ["system_administrator"]}),
        );
    }
    for (account, secret) in people {
        accounts.insert(
            account.clone(),
            serde_json::json!({"initial_secret": secret, "totp_secret": totp.get(account)}),
        );
    }
    let mut clients = serde_json::Map::new();
    clients.insert(
        client.0.clone(),
        serde_json::json!({"client_secret": client.1, "token_endpoint": "/oauth/token", "scopes": ["clinical.read", "clinical.write"]}),
    );
    let text = serde_json::to_string_pretty(&serde_json::json!({
        "about": "Synthetic demo accounts. Sign in at /sign-in with the account id and its initial secret, give the code of its TOTP secret (base32; add it to an authenticator app), then choose a password. A system client gets a bearer token with POST /oauth/token (grant_type=client_credentials, its id and client secret by HTTP Basic).",
        "accounts": accounts,
        "clients": clients,
    }))?;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(0o600);
    }
    use std::io::Write as _;
    options
        .open(path)
        .and_then(|mut f| f.write_all(text.as_bytes()))
        .with_context(|| format!("cannot write {}", path.display()))
}

/// Serves until Ctrl-C or SIGTERM, then stops the writer after it commits what is queued.
fn serve(app: App, demo_dir: Option<&Path>) -> Result<()> {
    let addr = app.config.listen_addr()?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    match app.ops().durability() {
        Ok(settings) => tracing::info!(
            database = app.database().backend_name(),
            %settings,
            "commits are durable with these settings"
        ),
        Err(error) => tracing::warn!(%error, "cannot read the database's durability settings"),
    }
    let app = Arc::new(app);
    let router = kiroku_server::app(app.clone());
    // Access reviews past their deadline are closed (their undecided members suspended) within
    // a minute, as the operator's scheduler; `kiroku review close-due` does the same by hand.
    let scheduler = app.clone();
    runtime.spawn(async move {
        let mut tick = tokio::time::interval(std::time::Duration::from_secs(60));
        loop {
            tick.tick().await;
            match scheduler.access().close_due_reviews().await {
                Ok(closed) if closed.is_empty() => {}
                Ok(closed) => tracing::info!(
                    reviews = closed.len(),
                    "closed access reviews at their deadline"
                ),
                Err(e) => tracing::warn!(error = %e, "closing due access reviews failed"),
            }
        }
    });
    let listening = app.clone();
    let result = runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .with_context(|| format!("cannot listen on {addr} (is another server using it?)"))?;
        listening.listening_on(listener.local_addr()?);
        let bound = listener.local_addr()?;
        let url = format!("http://{bound}/");
        match demo_dir {
            // A loopback demo is named `localhost`: passkeys work there, not at an address.
            Some(dir) if bound.ip().is_loopback() => outln!(
                "Kiroku demo running at http://localhost:{}/ (data: {}). Stop with Ctrl-C.",
                bound.port(),
                dir.display()
            ),
            Some(dir) => outln!(
                "Kiroku demo running at {url} (data: {}). Stop with Ctrl-C.",
                dir.display()
            ),
            None => outln!("Kiroku listening on {url}"),
        }
        tracing::info!(%url, "listening");
        axum::serve(
            listener,
            router.into_make_service_with_connect_info::<std::net::SocketAddr>(),
        )
        .with_graceful_shutdown(shutdown_signal())
        .await
        .context("the server stopped with an error")
    });
    runtime.shutdown_timeout(std::time::Duration::from_secs(10));
    match Arc::try_unwrap(app) {
        Ok(app) => app.shutdown(),
        Err(_) => {
            tracing::warn!("requests still hold the ledger; its writer stops with the process")
        }
    }
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
