//! The projection language on a real database: a seeded random workload of upserts, deletes
//! and prefix deletes — several to one row in one request and one batch — leaves exactly the
//! rows the in-order reference model leaves, with the right `last_entry`; and verification,
//! which compares tables by key without holding them, names every kind of damage to them.

use crate::exercise::{Clear, Delete, Put, ROWS};
use crate::support::Fixture;
use kiroku_core::projection::{Model, Row};
use kiroku_core::query::Query;
use kiroku_core::{Actor, Change, Draft, EntryIndex, Request, SeededEntropy, Value};
use kiroku_store::read;
use kiroku_store::writer::WriterConfig;
use std::collections::BTreeMap;

/// One workload step: what to append and the change it makes.
enum Step {
    Put(Put),
    Delete(Delete),
    Clear(Clear),
}

impl Step {
    fn draft(&self) -> Draft {
        match self {
            Step::Put(p) => Draft::new(Actor::system(), p.clone()),
            Step::Delete(d) => Draft::new(Actor::system(), d.clone()),
            Step::Clear(c) => Draft::new(Actor::system(), c.clone()),
        }
    }

    fn change(&self) -> Change {
        match self {
            Step::Put(p) => Change::upsert(
                &ROWS,
                vec![
                    Value::Int(p.a),
                    Value::Text(p.b.clone()),
                    p.v.clone().map_or(Value::Null, Value::Text),
                ],
            ),
            Step::Delete(d) => {
                Change::delete(&ROWS, vec![Value::Int(d.a), Value::Text(d.b.clone())])
            }
            Step::Clear(c) => Change::delete_prefix(&ROWS, vec![Value::Int(c.a)]),
        }
    }
}

/// A seeded random step over a small key space (so rows are hit repeatedly).
fn step(random: &SeededEntropy) -> Step {
    let mut bytes = [0u8; 4];
    kiroku_core::Entropy::fill(random, &mut bytes);
    let a = i64::from(bytes[1] % 6);
    let b = ["p", "q", "r", "s"][usize::from(bytes[2] % 4)].to_string();
    match bytes[0] % 10 {
        0..=5 => Step::Put(Put {
            a,
            b,
            v: (bytes[3] % 5 != 0).then(|| format!("v{}", bytes[3])),
        }),
        6..=8 => Step::Delete(Delete { a, b }),
        _ => Step::Clear(Clear { a }),
    }
}

/// The stored rows of `ex_rows`, by key, with their `last_entry`.
fn stored(fixture: &Fixture) -> BTreeMap<Vec<Value>, (Row, EntryIndex)> {
    read::query(&fixture.store, &Query::table(&ROWS, 10_000))
        .unwrap()
        .into_iter()
        .map(|s| (s.row[..2].to_vec(), (s.row, s.last_entry)))
        .collect()
}

/// Runs a seeded workload of requests of 1–4 steps from four threads (so batches form);
/// returns the reference model of what the committed requests leave.
fn workload(fixture: &Fixture, seed: u64, requests: usize) -> Model {
    let writer = fixture.writer(WriterConfig {
        batch_wait_ms: 2,
        ..WriterConfig::default()
    });
    let random = SeededEntropy::new(seed);
    let plans: Vec<Vec<Step>> = (0..requests)
        .map(|i| (0..1 + i % 4).map(|_| step(&random)).collect())
        .collect();
    let mut plans = plans.into_iter().enumerate().collect::<Vec<_>>();
    let mut chunks: Vec<Vec<(usize, Vec<Step>)>> = (0..4).map(|_| Vec::new()).collect();
    for (n, plan) in plans.drain(..) {
        chunks[n % 4].push((n, plan));
    }
    let handle = writer.handle();
    let threads: Vec<_> = chunks
        .into_iter()
        .map(|chunk| {
            let handle = handle.clone();
            std::thread::spawn(move || {
                chunk
                    .into_iter()
                    .map(|(_, plan)| {
                        let drafts = plan.iter().map(Step::draft).collect();
                        let receipt = handle.append_blocking(Request::of(drafts)).unwrap();
                        (receipt.first.0, plan)
                    })
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    let mut applied: Vec<(u64, Vec<Step>)> = threads
        .into_iter()
        .flat_map(|t| t.join().unwrap())
        .collect();
    writer.shutdown();
    applied.sort_by_key(|(first, _)| *first);
    let mut model = Model::default();
    for (first, plan) in applied {
        for (offset, step) in plan.iter().enumerate() {
            model.apply(&step.change(), EntryIndex(first + offset as u64));
        }
    }
    model
}

// Shows that whatever mix of upserts, deletes and prefix deletes a workload makes — several
// to one row within one request and within one batch — the stored table equals the in-order
// reference model row for row, `last_entry` included, and the ledger verifies.
#[test]
fn stored_rows_equal_the_in_order_model() {
    for seed in [1u64, 2, 3] {
        let fixture = Fixture::new("model");
        let model = workload(&fixture, seed, 200);
        let want = model.tables.get("ex_rows").cloned().unwrap_or_default();
        assert_eq!(
            stored(&fixture),
            want,
            "seed {seed} on {}",
            fixture.backend()
        );
        assert_eq!(fixture.verify().problem, None, "seed {seed}");
    }
}

fn assert_fails(fixture: &Fixture, expected: &str) {
    let problem = fixture.verify().problem.expect("verification should fail");
    assert!(
        problem.what.contains(expected),
        "expected {expected:?} in {problem:?}"
    );
}

/// A ledger in which key (1, 'p') was put by entry 0, overwritten by entry 1, key (1, 'q') put
/// by entry 2 and deleted by entry 3, key (2, 'r') put by entry 4 and cleared with its prefix
/// by entry 5, and key (3, 's') put by entry 6.
fn history() -> Fixture {
    let fixture = Fixture::new("damage");
    let writer = fixture.writer(WriterConfig::default());
    let handle = writer.handle();
    let steps = [
        Step::Put(Put {
            a: 1,
            b: "p".into(),
            v: Some("old".into()),
        }),
        Step::Put(Put {
            a: 1,
            b: "p".into(),
            v: Some("new".into()),
        }),
        Step::Put(Put {
            a: 1,
            b: "q".into(),
            v: None,
        }),
        Step::Delete(Delete {
            a: 1,
            b: "q".into(),
        }),
        Step::Put(Put {
            a: 2,
            b: "r".into(),
            v: None,
        }),
        Step::Clear(Clear { a: 2 }),
        Step::Put(Put {
            a: 3,
            b: "s".into(),
            v: Some("kept".into()),
        }),
    ];
    for step in &steps {
        handle.append_blocking(Request::one(step.draft())).unwrap();
    }
    writer.shutdown();
    assert_eq!(fixture.verify().problem, None, "intact before damage");
    fixture
}

// Shows that each kind of damage to a projection table is named by the entry it concerns: a
// row altered; a row reverted to what an earlier entry put; a row removed; a deleted row put
// back; a row under a cleared prefix put back; a row no entry puts; a row naming another
// writer; a row naming an entry beyond the ledger.
#[test]
fn verify_names_each_kind_of_damage_to_a_table() {
    let damage = [
        (
            "UPDATE ex_rows SET v = 'forged' WHERE a = 3",
            "the row put by entry 6 differs from the ledger's replay",
        ),
        (
            "UPDATE ex_rows SET v = 'old', last_entry = 0 WHERE a = 1 AND b = 'p'",
            "the row entry 1 put last names entry 0 as its writer",
        ),
        (
            "DELETE FROM ex_rows WHERE a = 3",
            "projection ex_rows lacks a row that entry 6 put",
        ),
        (
            "INSERT INTO ex_rows (a, b, v, last_entry) VALUES (1, 'q', NULL, 2)",
            "still holds a row that entry 3 deleted",
        ),
        (
            "INSERT INTO ex_rows (a, b, v, last_entry) VALUES (2, 'r', NULL, 4)",
            "still holds rows that entry 5 deleted",
        ),
        (
            "INSERT INTO ex_rows (a, b, v, last_entry) VALUES (9, 'x', 'planted', 6)",
            "holds a row naming entry 6 as its writer, which entry 6 does not put",
        ),
        (
            "UPDATE ex_rows SET last_entry = 5 WHERE a = 3",
            "the row entry 6 put last names entry 5 as its writer",
        ),
        (
            "INSERT INTO ex_rows (a, b, v, last_entry) VALUES (8, 'x', NULL, 99)",
            "holds a row naming entry 99, which the signed ledger does not have",
        ),
    ];
    for (sql, expected) in damage {
        let fixture = history();
        fixture.tamper(sql);
        assert_fails(&fixture, expected);
    }
}
