//! Streams and preconditions, checked by the writer under the append lock against committed
//! state and the earlier requests of the same batch: a failed precondition fails its request
//! alone, with a typed conflict, and the rest of the batch commits.

use crate::exercise::{Bump, Claim, Link, Put, Release, CLAIMS, LINKS, STREAMS};
use crate::support::{append, Fixture};
use kiroku_core::query::Query;
use kiroku_core::{Actor, Conflict, Draft, Expect, Request, Value};
use kiroku_store::read;
use kiroku_store::writer::{AppendError, WriterConfig};

fn bump(id: &str, version: u64) -> Bump {
    Bump {
        id: id.into(),
        version,
    }
}

fn conflict(result: Result<kiroku_store::writer::Receipt, AppendError>) -> Conflict {
    match result {
        Err(AppendError::Conflict(c)) => c,
        other => panic!("expected a conflict, got {other:?}"),
    }
}

// Shows a stream's versions: the first upsert must make version 1, each next one the current
// version plus one; a stale or skipping version is refused with the versions named, and
// writes nothing.
#[test]
fn stream_versions_go_up_by_one() {
    let fixture = Fixture::new("streams");
    let writer = fixture.writer(WriterConfig::default());
    let handle = writer.handle();
    assert_eq!(
        conflict(append(&handle, bump("s", 2))),
        Conflict::Version {
            table: "ex_streams",
            key: "\"s\"".into(),
            expected: 1,
            found: 0
        }
    );
    append(&handle, bump("s", 1)).unwrap();
    let stale = conflict(append(&handle, bump("s", 1)));
    assert_eq!(
        stale.to_string(),
        "stream ex_streams \"s\" is at version 1, not 0"
    );
    append(&handle, bump("s", 2)).unwrap();
    writer.shutdown();
    let rows = read::query(&fixture.store, &Query::table(&STREAMS, 10)).unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].row[1], Value::Int(2));
    assert_eq!(fixture.verify().problem, None);
}

// Shows the batch rule: six requests that the writer takes as one batch (it lingers for them)
// — two racing for the same stream version, two for the same claim, one independent, one
// decided on a stale expectation — commit in one checkpoint, except the losers, which are
// refused alone.
#[test]
fn a_failed_precondition_fails_its_request_alone() {
    let fixture = Fixture::new("batch");
    let writer = fixture.writer(WriterConfig {
        batch_wait_ms: 300,
        ..WriterConfig::default()
    });
    let handle = writer.handle();
    append(&handle, bump("seen", 1)).unwrap();
    let requests: Vec<Request> = vec![
        Request::one(Draft::new(Actor::system(), bump("race", 1))),
        Request::one(Draft::new(Actor::system(), bump("race", 1))),
        Request::one(Draft::new(
            Actor::system(),
            Claim {
                name: "n".into(),
                owner: "a".into(),
            },
        )),
        Request::one(Draft::new(
            Actor::system(),
            Claim {
                name: "n".into(),
                owner: "b".into(),
            },
        )),
        Request::one(Draft::new(
            Actor::system(),
            Put {
                a: 1,
                b: "x".into(),
                v: None,
            },
        )),
        Request::one(Draft::new(
            Actor::system(),
            Put {
                a: 2,
                b: "y".into(),
                v: None,
            },
        ))
        .expecting(Expect::Version {
            table: &STREAMS,
            key: vec![Value::Text("seen".into())],
            version: 7,
        }),
    ];
    let threads: Vec<_> = requests
        .into_iter()
        .map(|request| {
            let handle = handle.clone();
            std::thread::spawn(move || handle.append_blocking(request))
        })
        .collect();
    let results: Vec<_> = threads.into_iter().map(|t| t.join().unwrap()).collect();
    let batches = handle.metrics().batches.get();
    writer.shutdown();
    let won: Vec<_> = results.iter().filter_map(|r| r.as_ref().ok()).collect();
    let lost: Vec<_> = results.iter().filter_map(|r| r.as_ref().err()).collect();
    assert_eq!(won.len(), 3, "{results:?}");
    assert_eq!(lost.len(), 3, "{results:?}");
    assert!(lost.iter().all(|e| matches!(e, AppendError::Conflict(_))));
    assert!(
        won.iter().all(|r| r.tree_size == won[0].tree_size),
        "the winners share one checkpoint: {won:?}"
    );
    assert_eq!(batches, 2, "the setup and one batch");
    // Exactly one racer of each pair won; the stale expectation lost.
    assert!(results[0].is_ok() ^ results[1].is_ok());
    assert!(results[2].is_ok() ^ results[3].is_ok());
    assert!(results[4].is_ok());
    assert!(matches!(
        &results[5],
        Err(AppendError::Conflict(Conflict::Version {
            expected: 7,
            found: 1,
            ..
        }))
    ));
    assert_eq!(fixture.verify().problem, None);
}

// Shows claims: a claim held by one owner refuses another (naming the holder, not the
// claimed value), the same owner may take it again, and a released claim can be taken by
// someone else. An explicit expectation that a claim is free is checked the same way.
#[test]
fn claims_are_unique_until_released() {
    let fixture = Fixture::new("claims");
    let writer = fixture.writer(WriterConfig::default());
    let handle = writer.handle();
    let claim = |owner: &str| Claim {
        name: "patient-identifier-0001".into(),
        owner: owner.into(),
    };
    append(&handle, claim("a")).unwrap();
    let taken = conflict(append(&handle, claim("b")));
    assert_eq!(
        taken,
        Conflict::Claimed {
            table: "ex_claims",
            holder: "\"a\"".into()
        }
    );
    assert!(!taken.to_string().contains("patient-identifier"));
    append(&handle, claim("a")).unwrap();
    let expecting_free = Request::one(Draft::new(
        Actor::system(),
        Put {
            a: 5,
            b: "z".into(),
            v: None,
        },
    ))
    .expecting(Expect::Unclaimed {
        table: &CLAIMS,
        key: vec![Value::Text("patient-identifier-0001".into())],
    });
    assert!(matches!(
        handle.append_blocking(expecting_free),
        Err(AppendError::Conflict(Conflict::Claimed { .. }))
    ));
    append(
        &handle,
        Release {
            name: "patient-identifier-0001".into(),
        },
    )
    .unwrap();
    append(&handle, claim("b")).unwrap();
    writer.shutdown();
    assert_eq!(fixture.verify().problem, None);
}

// Shows rows that refer to another entry of the same request: the link row of the second
// entry names the first entry's index; and a reference that would leave its request is refused
// before anything is written.
#[test]
fn rows_refer_to_entries_of_the_same_request() {
    let fixture = Fixture::new("links");
    let writer = fixture.writer(WriterConfig::default());
    let handle = writer.handle();
    append(
        &handle,
        Put {
            a: 0,
            b: "x".into(),
            v: None,
        },
    )
    .unwrap();
    let receipt = handle
        .append_blocking(Request::of(vec![
            Draft::new(
                Actor::system(),
                Put {
                    a: 1,
                    b: "y".into(),
                    v: None,
                },
            ),
            Draft::new(Actor::system(), Link {}),
        ]))
        .unwrap();
    assert_eq!(receipt.first.0, 1);
    let error = append(&handle, Link {}).unwrap_err();
    assert!(
        matches!(error, AppendError::Reference { position: 0 }),
        "{error}"
    );
    writer.shutdown();
    let links = read::query(&fixture.store, &Query::table(&LINKS, 10)).unwrap();
    assert_eq!(links.len(), 1);
    assert_eq!(links[0].row, vec![Value::Int(2), Value::Int(1)]);
    assert_eq!(links[0].last_entry.0, 2);
    assert_eq!(fixture.verify().problem, None);
}
