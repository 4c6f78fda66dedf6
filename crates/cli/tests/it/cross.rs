//! Tests that need SQLite and PostgreSQL at once (the PostgreSQL server `scripts/test` starts,
//! whichever backend the pass selects): the two backends agree byte for byte
//! on the same commands; a migration from one to the other keeps every checkpoint, root,
//! projection row and proof; and the writer's answer to a COMMIT whose reply is lost neither
//! loses nor duplicates an acknowledged entry.

use crate::support::{block, run_on, stderr, stdout};
use kiroku_app::{App, Overrides};
use kiroku_core::query::Stored;
use kiroku_core::{Actor, Clock, ClockError, EntryIndex, SeededEntropy, Timestamp};
use kiroku_store::scratch::{Backend, ScratchDb};
use kiroku_store::{read, DatabaseUrl, Store};
use kiroku_testkit::chaos::{ChaosProxy, Fault};
use kiroku_testkit::{postgres_server, DataDir, TestServer};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

/// A clock that ticks one millisecond per reading, from a fixed instant.
struct Ticking(AtomicI64);

impl Clock for Ticking {
    fn now(&self) -> Result<Timestamp, ClockError> {
        Timestamp::from_micros(self.0.fetch_add(1000, Ordering::Relaxed))
            .ok_or(ClockError::OutOfRange)
    }
}

/// Everything stored of a ledger: entries (bytes), checkpoints (notes), every projection row.
#[derive(Debug, PartialEq, Eq)]
struct Contents {
    entries: Vec<Vec<u8>>,
    checkpoint: String,
    tables: BTreeMap<&'static str, Vec<Stored>>,
}

fn contents(url: &DatabaseUrl) -> Contents {
    let registry = kiroku_app::registry();
    let store = Store::open(url, registry.clone(), 1).unwrap();
    let latest = read::latest_checkpoint(&store).unwrap().unwrap();
    let entries = read::entry_bodies(&store, 0, latest.size).unwrap();
    let mut tables = BTreeMap::new();
    for table in registry.tables() {
        let mut rows = Vec::new();
        let mut after = None;
        loop {
            let page = read::scan(&store, table, after.as_ref(), 500).unwrap();
            let Some(last) = page.last() else { break };
            after = Some(last.row[..table.key].to_vec());
            rows.extend(page);
        }
        tables.insert(table.name, rows);
    }
    Contents {
        entries,
        checkpoint: latest.note,
        tables,
    }
}

/// A small deterministic generator for the command sequence.
struct Dice(u64);

impl Dice {
    fn roll(&mut self, sides: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % sides
    }

    fn tags(&mut self) -> Vec<String> {
        let longest = "𠮷".repeat(32);
        let hostile = [
            "backup",
            "drill",
            "update",
            "audit",
            "テープ",
            "\u{202e}evil",
            "\u{fffe}\u{ffff}",
            longest.as_str(),
            "nul\0tag",
            "bell\u{7}",
        ];
        // The ordinary tags one time in three, the hostile ones one time in twelve.
        hostile
            .iter()
            .enumerate()
            .filter(|(i, _)| self.roll(if *i < 5 { 3 } else { 12 }) == 0)
            .map(|(_, t)| (*t).to_owned())
            .collect()
    }

    /// A note's text: ordinary, or hostile — NUL and other controls (refused alike), non-characters,
    /// bidi overrides and isolates, DEL and C1 controls, characters outside the BMP with
    /// variation selectors, and the longest text allowed (accepted alike).
    fn text(&mut self, step: usize) -> String {
        match self.roll(10) {
            0 => format!("NUL \0 at step {step}"),
            1 => format!("controls \u{1}\u{1b}[31m\u{8} at step {step}"),
            2 => format!("\u{202e}reversed\u{202c} \u{2067}isolate\u{2069} at step {step}"),
            3 => format!("non-characters \u{fffe}\u{ffff}\u{1fffe}\u{10ffff} at step {step}"),
            4 => format!("DEL \u{7f} C1 \u{85}\u{9f} 葛\u{e0100}城 𠮷 at step {step}"),
            5 => {
                let tail = format!(" {step}");
                let body = "記".repeat(kiroku_ops::note::NOTE_CHARS_MAX - tail.chars().count());
                format!("{body}{tail}")
            }
            _ => format!("note of step {step}"),
        }
    }
}

/// The outcome of a command, comparable across backends: the version or note it made, or the
/// kind of refusal.
fn outcome<T: std::fmt::Debug>(result: &Result<T, kiroku_app::Error>) -> String {
    match result {
        Ok(value) => format!("{value:?}"),
        Err(e) => format!("refused: {e}"),
    }
}

// Shows that one seeded sequence of commands — notes with tags and idempotency keys (some
// retried, some reused), corrections from fresh and stale versions adding and removing tags,
// withdrawals dropping every tag, texts and tags with hostile characters (NUL and other
// controls, non-characters, bidi overrides, the longest allowed) — applied to a SQLite ledger and to a PostgreSQL ledger with
// the same clock, salts and key gives the same outcome for every command, byte-identical
// entries and checkpoints, and identical projection tables (deleted rows included).
#[test]
fn sqlite_and_postgres_agree_byte_for_byte() {
    let sqlite = DataDir::init_on(&Backend::Sqlite);
    let postgres = DataDir::empty_copy_of(&sqlite, &Backend::Postgres(postgres_server()));
    // The same first entry on both: the SQLite ledger's, exported and imported.
    let file = sqlite.scratch_path("genesis.kiroku");
    assert!(
        run_on(&sqlite, &["export"], &["--out", file.to_str().unwrap()])
            .status
            .success()
    );
    let output = run_on(&postgres, &["import"], &["--in", file.to_str().unwrap()]);
    assert!(output.status.success(), "{}", stderr(&output));

    let open = |data: &DataDir| {
        App::open_with(
            &data.path,
            &Overrides::default(),
            Arc::new(Ticking(AtomicI64::new(1_795_000_000_000_000))),
            Arc::new(SeededEntropy::new(11)),
        )
        .unwrap()
    };
    let apps = [open(&sqlite), open(&postgres)];
    let mut dice = Dice(0x5eed_1234_abcd);
    let actor = Actor::operator("differential");
    let mut notes: Vec<(u64, u64)> = Vec::new(); // (note, version as the sequence believes)
    for step in 0..400 {
        let roll = dice.roll(20);
        let outcomes: Vec<String> = if roll < 8 || notes.is_empty() {
            let text = dice.text(step);
            let tags = dice.tags();
            let key = (dice.roll(5) == 0).then(|| format!("key-{}", dice.roll(4)));
            let results: Vec<_> = apps
                .iter()
                .map(|app| {
                    block(
                        app.ops()
                            .write_note(actor.clone(), &text, tags.clone(), key.clone()),
                    )
                })
                .collect();
            if let Ok(written) = &results[0] {
                if !written.replayed {
                    notes.push((written.note.0, 1));
                }
            }
            results.iter().map(outcome).collect()
        } else {
            let slot = dice.roll(notes.len() as u64) as usize;
            let (note, version) = notes[slot];
            let stale = dice.roll(5) == 0;
            let seen = if stale {
                version.saturating_sub(1).max(1)
            } else {
                version
            };
            let results: Vec<_> = if roll < 17 {
                let text = format!("correction: {}", dice.text(step));
                let tags = dice.tags();
                apps.iter()
                    .map(|app| {
                        block(app.ops().amend_note(
                            actor.clone(),
                            EntryIndex(note),
                            seen,
                            &text,
                            tags.clone(),
                            "differential test",
                        ))
                    })
                    .collect()
            } else {
                apps.iter()
                    .map(|app| {
                        block(app.ops().withdraw_note(
                            actor.clone(),
                            EntryIndex(note),
                            seen,
                            "differential test",
                        ))
                    })
                    .collect()
            };
            if let Ok(changed) = &results[0] {
                notes[slot].1 = changed.version;
            }
            results.iter().map(outcome).collect()
        };
        assert_eq!(outcomes[0], outcomes[1], "step {step}");
    }
    for app in apps {
        app.shutdown();
    }
    let (a, b) = (contents(&sqlite.database()), contents(&postgres.database()));
    assert!(
        a.entries.len() > 150,
        "the sequence wrote {} entries",
        a.entries.len()
    );
    assert!(!a.tables["operator_note_tags"].is_empty());
    assert!(a.tables["operator_note_versions"]
        .iter()
        .any(|r| r.row[3] == kiroku_core::Value::Text("withdrawn".into())));
    assert_eq!(a, b);
    assert_eq!(sqlite.verify(), None);
    assert_eq!(postgres.verify(), None);
}

/// Proofs a witness would ask for, as served.
fn proofs(server: &TestServer, size: u64) -> Vec<String> {
    let mut out = vec![server.get("/ledger/checkpoint").text()];
    for index in [0, 1, size / 2, size - 1] {
        out.push(
            server
                .get(&format!(
                    "/ledger/proof/inclusion?index={index}&size={size}"
                ))
                .text(),
        );
    }
    out.push(
        server
            .get(&format!("/ledger/proof/consistency?old=1&new={size}"))
            .text(),
    );
    out.push(server.get("/ledger/tile/0/000.p/1").text());
    out
}

// Shows `kiroku migrate` from SQLite to PostgreSQL: a ledger with corrections, a withdrawal,
// tags, a blob and an idempotency key moves with one command; afterwards the checkpoint, the
// entries and every projection table are identical, the server on the new database serves the
// same proofs, and new notes go to PostgreSQL.
#[test]
fn migrate_from_sqlite_to_postgresql_keeps_everything() {
    let data = DataDir::init_on(&Backend::Sqlite);
    crate::support::lower_entry_limit(&data);
    let server = TestServer::serve(data);
    let operator = server.operator();
    assert_eq!(operator.write_note("tape 5", &["backup"]).status, 201);
    assert_eq!(
        operator.write_note_once("UPS replaced", "ups-1").status,
        201
    );
    assert_eq!(
        operator.write_note(&"長い記録 ".repeat(300), &[]).status,
        201
    );
    assert_eq!(
        operator
            .amend_tags(1, 1, "tapes 5 and 6", &["tape"], "typo")
            .status,
        201
    );
    assert_eq!(operator.withdraw(2, 1, "wrong day").status, 201);
    let size = operator.tree_size();
    let before_proofs = proofs(&server, size);
    let data = server.stop();
    let before = contents(&data.database());

    let target = ScratchDb::new(
        &Backend::Postgres(postgres_server()),
        &kiroku_app::registry(),
        &data.scratch_path("target"),
        "mig",
    )
    .unwrap();
    let output = run_on(&data, &["migrate"], &["--to", &target.url.to_config_text()]);
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(
        stdout(&output).starts_with(&format!("migrated {size} entries")),
        "{}",
        stdout(&output)
    );
    assert_eq!(contents(&target.url), before);

    let server = TestServer::serve(data);
    assert_eq!(proofs(&server, size), before_proofs);
    assert_eq!(
        server.operator().write_note("after the move", &[]).status,
        201
    );
    assert_eq!(contents(&target.url).entries.len() as u64, size + 1);
}

/// The URL of the same database, reached through `proxy`.
fn through(url: &DatabaseUrl, proxy: &ChaosProxy) -> String {
    let text = url.to_config_text();
    let (scheme, rest) = text.split_once("://").unwrap();
    let (userinfo, after) = rest.split_once('@').unwrap();
    let path = &after[after.find('/').unwrap()..];
    format!("{scheme}://{userinfo}@{}{path}", proxy.addr)
}

fn upstream(url: &DatabaseUrl) -> std::net::SocketAddr {
    let text = url.to_config_text();
    let after = text.split_once('@').unwrap().1;
    let host = &after[..after.find('/').unwrap()];
    host.parse().unwrap()
}

// Shows the writer's in-doubt path against a real PostgreSQL: when the connection drops just
// after PostgreSQL committed a batch (its answer lost), the writer finds the batch's checkpoint
// and acknowledges it — once; when it drops before the COMMIT, the request fails with 503 and
// nothing of it is stored; and under eight concurrent clients with such cuts, every
// acknowledged note is stored exactly once at its number, no note is stored twice, and the
// ledger verifies.
#[test]
fn a_lost_commit_answer_neither_loses_nor_duplicates() {
    let data = DataDir::init_on(&Backend::Postgres(postgres_server()));
    let direct = data.database();
    let proxy = ChaosProxy::start(upstream(&direct));
    let server = TestServer::serve_with(
        data,
        Overrides {
            database_url: Some(through(&direct, &proxy)),
            listen: None,
        },
    );
    let operator = server.operator();
    assert_eq!(operator.write_note("warm-up", &[]).status, 201);

    proxy.arm(Fault::AfterCommit, 1);
    let reply = operator.write_note("committed, answer lost", &[]);
    assert_eq!(
        reply.status,
        201,
        "acknowledged after finding its checkpoint: {}",
        reply.text()
    );
    assert_eq!(proxy.cut(), 1);
    let lost_answer = reply.json()["note"].as_u64().unwrap();

    proxy.arm(Fault::BeforeCommit, 1);
    let reply = operator.write_note("never committed", &[]);
    assert_eq!(reply.status, 503, "{}", reply.text());
    assert_eq!(reply.json()["error"]["code"], "unavailable");
    assert_eq!(proxy.cut(), 2);
    assert_eq!(operator.write_note("after the cut", &[]).status, 201);

    let acknowledged = std::sync::Mutex::new(Vec::<(u64, String)>::new());
    std::thread::scope(|scope| {
        for client in 0..8 {
            let (operator, acknowledged) = (operator.clone(), &acknowledged);
            scope.spawn(move || {
                for i in 0..40 {
                    let text = format!("client {client} note {i}");
                    let reply = operator.write_note(&text, &[]);
                    match reply.status {
                        201 => acknowledged
                            .lock()
                            .unwrap()
                            .push((reply.json()["note"].as_u64().unwrap(), text)),
                        503 => {}
                        other => panic!("unexpected {other}: {}", reply.text()),
                    }
                }
            });
        }
        scope.spawn(|| {
            for fault in [Fault::AfterCommit, Fault::BeforeCommit, Fault::AfterCommit] {
                std::thread::sleep(std::time::Duration::from_millis(150));
                proxy.arm(fault, 1);
            }
        });
    });
    let data = server.stop();
    assert!(proxy.cut() >= 3, "the cuts happened: {}", proxy.cut());

    let store = Store::open(&direct, kiroku_app::registry(), 1).unwrap();
    let size = read::latest_checkpoint(&store).unwrap().unwrap().size;
    let texts: Vec<String> = read::entry_bodies(&store, 0, size)
        .unwrap()
        .iter()
        .map(|body| {
            let entry = kiroku_core::entry::decode(body).unwrap();
            match entry.payload {
                kiroku_core::Payload::Inline(p) => {
                    p["text"].as_str().unwrap_or_default().to_owned()
                }
                kiroku_core::Payload::Blob { .. } => String::new(),
            }
        })
        .collect();
    assert_eq!(texts[lost_answer as usize], "committed, answer lost");
    assert!(!texts.contains(&"never committed".to_owned()));
    for (note, text) in acknowledged.lock().unwrap().iter() {
        assert_eq!(&texts[*note as usize], text, "acknowledged note {note}");
    }
    let mut sorted: Vec<&String> = texts.iter().filter(|t| !t.is_empty()).collect();
    sorted.sort();
    let before = sorted.len();
    sorted.dedup();
    assert_eq!(sorted.len(), before, "no note is stored twice");
    assert_eq!(data.verify(), None);
}
