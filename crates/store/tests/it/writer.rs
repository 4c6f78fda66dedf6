//! The writer appends consistently under concurrency, proofs from storage verify, unknown kinds
//! are refused, a stored tree that does not match its signed checkpoint is never extended, rows
//! planted beyond the signed tree are named for what they are, and the writer stops cleanly
//! even when dropped inside an async runtime. (Tampering is tested end to end in the cli
//! crate's `tamper` tests.)

use crate::exercise::{Note, Put};
use crate::support::{append, Fixture, ORIGIN};
use kiroku_core::{Actor, Draft, KindError, Request, SealError};
use kiroku_ledger::proof::{verify_consistency, verify_inclusion};
use kiroku_ledger::{Checkpoint, Hash};
use kiroku_store::read;
use kiroku_store::writer::{AppendError, WriterConfig};

fn put(i: u64) -> Put {
    Put {
        a: i as i64,
        b: "k".into(),
        v: Some(format!("value {i}")),
    }
}

// Shows that concurrent appends get distinct consecutive indices, each covered by a signed
// checkpoint, that every inclusion and consistency proof served from storage verifies against
// the signed roots, and that the whole ledger then verifies.
#[test]
fn concurrent_appends_are_consistent_and_provable() {
    let fixture = Fixture::new("writer");
    let writer = fixture.writer(WriterConfig {
        batch_entries_max: 64,
        ..WriterConfig::default()
    });
    let handle = writer.handle();
    let threads: Vec<_> = (0..8u64)
        .map(|t| {
            let handle = handle.clone();
            std::thread::spawn(move || {
                (0..70u64)
                    .map(|i| append(&handle, put(t * 1000 + i)).unwrap())
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    let mut indices: Vec<u64> = threads
        .into_iter()
        .flat_map(|t| t.join().unwrap())
        .map(|r| {
            assert!(r.tree_size > r.first.0);
            r.first.0
        })
        .collect();
    indices.sort();
    assert_eq!(
        indices,
        (0..560).collect::<Vec<_>>(),
        "{}",
        fixture.backend()
    );

    let latest = read::latest_checkpoint(&fixture.store).unwrap().unwrap();
    let signed = Checkpoint::open(&latest.note, ORIGIN, &fixture.signer.verifier()).unwrap();
    assert_eq!(signed.size, 560);
    for index in [0, 1, 255, 256, 300, 559] {
        let proof = read::inclusion_proof(&fixture.store, index, 560).unwrap();
        let leaf = read::leaf_hash(&fixture.store, index).unwrap();
        verify_inclusion(&leaf, index, 560, &proof, &signed.root).unwrap();
    }
    let proof = read::consistency_proof(&fixture.store, 300, 560).unwrap();
    let old_root = kiroku_ledger::tree::root(
        &(0..300)
            .map(|i| read::leaf_hash(&fixture.store, i).unwrap())
            .collect::<Vec<Hash>>(),
    );
    verify_consistency(300, 560, &old_root, &signed.root, &proof).unwrap();
    assert!(read::inclusion_proof(&fixture.store, 560, 560).is_err());
    assert!(read::consistency_proof(&fixture.store, 1, 561).is_err());
    writer.shutdown();

    let report = fixture.verify();
    assert_eq!(report.problem, None, "{}", fixture.backend());
    assert_eq!(report.entries, 560);
    assert_eq!(report.root, signed.root);
}

// Shows that sealing refuses a kind no context registered, and a payload that does not have
// its kind's shape, before anything is queued — and the ledger stays empty.
#[test]
fn unknown_kinds_and_misshapen_payloads_are_refused() {
    let fixture = Fixture::new("unknown");
    let writer = fixture.writer(WriterConfig::default());
    let unknown = Draft::raw("ex.typo/1", Actor::system(), serde_json::json!({})).unwrap();
    let error = writer
        .handle()
        .append_blocking(Request::one(unknown))
        .unwrap_err();
    assert!(
        matches!(
            error,
            AppendError::Invalid(SealError::Kind(KindError::Unknown(_)))
        ),
        "{error}"
    );
    let misshapen =
        Draft::raw("ex.put/1", Actor::system(), serde_json::json!({"a": "one"})).unwrap();
    let error = writer
        .handle()
        .append_blocking(Request::one(misshapen))
        .unwrap_err();
    assert!(
        matches!(
            error,
            AppendError::Invalid(SealError::Kind(KindError::Shape(_)))
        ),
        "{error}"
    );
    writer.shutdown();
    assert!(read::latest_checkpoint(&fixture.store).unwrap().is_none());
}

// Shows that verification names an entry whose kind no context of this build knows (a ledger
// written by a build with a kind this one lacks), while the ledger it wrote verifies with the
// registry that knows the kind.
#[test]
fn verify_names_an_entry_of_a_kind_nobody_knows() {
    let fixture = Fixture::new("nokind");
    let writer = fixture.writer(WriterConfig::default());
    append(&writer.handle(), put(1)).unwrap();
    append(&writer.handle(), Note { text: "n".into() }).unwrap();
    writer.shutdown();
    assert_eq!(fixture.verify().problem, None);
    let narrower = std::sync::Arc::new(
        kiroku_core::Registry::new(&[&crate::exercise::Exercise { without_note: true }]).unwrap(),
    );
    let store = kiroku_store::Store::open(&fixture.scratch.url, narrower, 1).unwrap();
    let report =
        kiroku_store::verify::verify(&store, ORIGIN, &fixture.signer.verifier(), &mut |_, _| {})
            .unwrap();
    let problem = report.problem.unwrap();
    assert_eq!(problem.index, Some(1));
    assert!(
        problem
            .what
            .contains("no context registers the entry kind ex.note/1"),
        "{}",
        problem.what
    );
}

// Shows that a writer starting on a stored tree that no longer matches its signed checkpoint
// (a leaf hash altered behind its back) refuses to append rather than sign on top of it, and
// that the refusal writes nothing.
#[test]
fn writer_refuses_to_extend_a_tree_that_does_not_match_its_checkpoint() {
    let fixture = Fixture::new("refuse");
    let writer = fixture.writer(WriterConfig::default());
    for i in 0..5 {
        append(&writer.handle(), put(i)).unwrap();
    }
    writer.shutdown();
    fixture.tamper(
        "UPDATE entries SET leaf_hash = (SELECT leaf_hash FROM entries WHERE idx = 0) WHERE idx = 4",
    );
    let writer = fixture.writer(WriterConfig::default());
    let error = append(&writer.handle(), put(9)).unwrap_err();
    assert!(
        error
            .to_string()
            .contains("does not match its signed checkpoint"),
        "{error}"
    );
    writer.shutdown();
    assert_eq!(
        read::latest_checkpoint(&fixture.store)
            .unwrap()
            .unwrap()
            .size,
        5
    );
}

// Shows that a row planted at the next index behind the writer's back fails the batch whole
// (nothing of it is written, the caller is told what is in the way: a row beyond the signed
// tree, not a bare key violation), and that once the row is gone the next append takes that
// index and the ledger verifies.
#[test]
fn a_planted_row_is_named_and_the_writer_carries_on() {
    let fixture = Fixture::new("planted");
    let writer = fixture.writer(WriterConfig::default());
    let handle = writer.handle();
    for i in 0..3 {
        append(&handle, put(i)).unwrap();
    }
    fixture.tamper(
        "INSERT INTO entries (idx, leaf_hash, body) SELECT 3, leaf_hash, body FROM entries WHERE idx = 0",
    );
    let error = handle
        .append_blocking(Request::of(vec![
            Draft::new(Actor::system(), put(7)),
            Draft::new(Actor::system(), put(8)),
        ]))
        .unwrap_err();
    let AppendError::Failed(message) = &error else {
        panic!("{error}")
    };
    assert!(
        message.contains("entry 3 is stored beyond the signed tree of size 3")
            && message.contains("behind the writer's back"),
        "{message}"
    );
    assert_eq!(
        read::latest_checkpoint(&fixture.store)
            .unwrap()
            .unwrap()
            .size,
        3
    );
    fixture.tamper("DELETE FROM entries WHERE idx = 3");
    let receipt = append(&handle, put(9)).unwrap();
    assert_eq!((receipt.first.0, receipt.tree_size), (3, 4));
    writer.shutdown();
    let report = fixture.verify();
    assert_eq!((report.problem, report.entries), (None, 4));
}

// Shows that a writer dropped by an async task — inside a Tokio runtime — stops after
// committing what was queued, instead of panicking on a blocking send.
#[test]
fn a_writer_dropped_inside_a_runtime_stops_cleanly() {
    let fixture = Fixture::new("drop");
    let writer = fixture.writer(WriterConfig::default());
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async move {
        let handle = writer.handle();
        let receipt = handle
            .append(Request::one(Draft::new(Actor::system(), put(1))))
            .await
            .unwrap();
        assert_eq!(receipt.first.0, 0);
        drop(writer);
        assert!(
            !handle.is_running()
                || handle
                    .append(Request::one(Draft::new(Actor::system(), put(2))))
                    .await
                    .is_err()
        );
    });
    assert_eq!(
        read::latest_checkpoint(&fixture.store)
            .unwrap()
            .unwrap()
            .size,
        1
    );
}

// Shows that connections are set up for durable commits — the property the crash test relies
// on but cannot observe, since kill -9 leaves the page cache intact: SQLite in WAL mode with
// synchronous=FULL (2), PostgreSQL with synchronous_commit and fsync on.
#[test]
fn commits_are_configured_durable() {
    let fixture = Fixture::new("durable");
    let settings = read::durability(&fixture.store).unwrap();
    let expected = match fixture.backend() {
        "sqlite" => "journal_mode=wal synchronous=2",
        _ => "synchronous_commit=on fsync=on",
    };
    assert_eq!(settings, expected);
}

/// Makes the database itself refuse any `ex_rows` row whose value is `poison`, as a database
/// refuses a value it cannot hold: a trigger on SQLite (a constraint error), a check
/// constraint on PostgreSQL (class 23).
fn refuse_poison(fixture: &Fixture) {
    let sql = match fixture.backend() {
        "sqlite" => {
            "CREATE TRIGGER ex_rows_poison BEFORE INSERT ON ex_rows WHEN NEW.v = 'poison' \
             BEGIN SELECT RAISE(ABORT, 'poison'); END;"
        }
        _ => {
            "ALTER TABLE ex_rows ADD CONSTRAINT ex_rows_poison CHECK (v IS DISTINCT FROM 'poison')"
        }
    };
    read::execute_raw(&fixture.store, sql).unwrap();
}

// Shows that a request whose data the database refuses fails alone: 48 requests from 16
// threads gathered into shared batches, every third thread's first request poisoned; each
// poisoned request is answered with its own refusal (not "unavailable"), every other request
// is committed, and the ledger holds exactly those and verifies. Without the isolation every
// batch-mate of a poisoned request failed with it.
#[test]
fn a_request_the_database_refuses_fails_alone() {
    let fixture = Fixture::new("isolate");
    refuse_poison(&fixture);
    let writer = fixture.writer(WriterConfig {
        batch_wait_ms: 50,
        ..WriterConfig::default()
    });
    let handle = writer.handle();
    let threads: Vec<_> = (0..16u64)
        .map(|t| {
            let handle = handle.clone();
            std::thread::spawn(move || {
                (0..3u64)
                    .map(|i| {
                        let poisoned = t % 3 == 0 && i == 0;
                        let mut payload = put(t * 100 + i);
                        if poisoned {
                            payload.v = Some("poison".into());
                        }
                        (poisoned, append(&handle, payload))
                    })
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    let results: Vec<_> = threads
        .into_iter()
        .flat_map(|t| t.join().unwrap())
        .collect();
    let mut committed = 0;
    for (poisoned, result) in &results {
        match (poisoned, result) {
            (true, Err(AppendError::Rejected(_))) => {}
            (false, Ok(_)) => committed += 1,
            (poisoned, other) => panic!("poisoned {poisoned}: {other:?} on {}", fixture.backend()),
        }
    }
    assert_eq!(committed, 48 - 6);
    writer.shutdown();
    let report = fixture.verify();
    assert_eq!(report.problem, None, "{}", fixture.backend());
    assert_eq!(report.entries, 42);
}
