//! The writer appends consistently under concurrency, proofs from storage verify, and a
//! stored tree that does not match its signed checkpoint is never extended. (Tampering is
//! tested end to end in the cli crate's `tamper` tests.)

use crate::support::{Fixture, ORIGIN};
use kiroku_ledger::proof::{verify_consistency, verify_inclusion};
use kiroku_ledger::{Checkpoint, Hash};
use kiroku_store::bench::synthetic_note;
use kiroku_store::read;
use kiroku_store::verify::verify;
use kiroku_store::writer::WriterConfig;

fn verify_ok(fixture: &Fixture) -> kiroku_store::verify::Report {
    verify(
        &fixture.store,
        ORIGIN,
        &fixture.signer.verifier(),
        &mut |_, _| {},
    )
    .unwrap()
}

// Shows that concurrent appends get distinct consecutive indices, each covered by a signed
// checkpoint, that every inclusion and consistency proof served from storage verifies against
// the signed roots, and that the whole ledger then verifies.
#[test]
fn concurrent_appends_are_consistent_and_provable() {
    {
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
                        .map(|i| {
                            handle
                                .append_blocking(vec![synthetic_note(t * 1000 + i)])
                                .unwrap()
                        })
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

        let report = verify_ok(&fixture);
        assert_eq!(report.problem, None, "{}", fixture.backend());
        assert_eq!(report.entries, 560);
        assert_eq!(report.root, signed.root);
        writer.shutdown();
    }
}

// Shows that a writer starting on a stored tree that no longer matches its signed checkpoint
// (a leaf hash altered behind its back) refuses to append rather than sign on top of it, and
// that the refusal writes nothing.
#[test]
fn writer_refuses_to_extend_a_tree_that_does_not_match_its_checkpoint() {
    let fixture = Fixture::new("refuse");
    let writer = fixture.writer(WriterConfig::default());
    for i in 0..5 {
        writer
            .handle()
            .append_blocking(vec![synthetic_note(i)])
            .unwrap();
    }
    writer.shutdown();
    let unguard = match fixture.backend() {
        "sqlite" => "DROP TRIGGER entries_no_update;",
        _ => "ALTER TABLE entries DISABLE TRIGGER USER;",
    };
    read::execute_raw(&fixture.store, unguard).unwrap();
    read::execute_raw(
        &fixture.store,
        "UPDATE entries SET leaf_hash = (SELECT leaf_hash FROM entries WHERE idx = 0) WHERE idx = 4",
    )
    .unwrap();
    let writer = fixture.writer(WriterConfig::default());
    let error = writer
        .handle()
        .append_blocking(vec![synthetic_note(9)])
        .unwrap_err();
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

// Shows that a failed batch is rolled back whole and the writer carries on: a row planted at
// the next index makes the batch fail (nothing of it is written, the caller is told), and once
// the row is gone the next append takes that index and the ledger verifies.
#[test]
fn a_failed_batch_is_rolled_back_and_the_writer_carries_on() {
    let fixture = Fixture::new("rollback");
    let writer = fixture.writer(WriterConfig::default());
    let handle = writer.handle();
    for i in 0..3 {
        handle.append_blocking(vec![synthetic_note(i)]).unwrap();
    }
    read::execute_raw(
        &fixture.store,
        "INSERT INTO entries (idx, leaf_hash, body) SELECT 3, leaf_hash, body FROM entries WHERE idx = 0",
    )
    .unwrap();
    let error = handle
        .append_blocking(vec![synthetic_note(7), synthetic_note(8)])
        .unwrap_err();
    assert!(
        matches!(error, kiroku_store::writer::AppendError::Failed(_)),
        "{error}"
    );
    assert_eq!(
        read::latest_checkpoint(&fixture.store)
            .unwrap()
            .unwrap()
            .size,
        3
    );
    let unguard = match fixture.backend() {
        "sqlite" => "DROP TRIGGER entries_no_delete;",
        _ => "ALTER TABLE entries DISABLE TRIGGER USER;",
    };
    read::execute_raw(&fixture.store, unguard).unwrap();
    read::execute_raw(&fixture.store, "DELETE FROM entries WHERE idx = 3").unwrap();
    let receipt = handle.append_blocking(vec![synthetic_note(9)]).unwrap();
    assert_eq!((receipt.first.0, receipt.tree_size), (3, 4));
    writer.shutdown();
    let report = verify_ok(&fixture);
    assert_eq!((report.problem, report.entries), (None, 4));
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
