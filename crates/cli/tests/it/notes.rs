//! Operators' notes over the API, as an operator's program uses them: write, read, list by tag,
//! amend (409 for a stale version, whether caught by the rule or under the writer's lock),
//! withdraw, and retry safely with an idempotency key. Refusals write nothing.

use kiroku_testkit::TestServer;
use serde_json::Value;

fn error_code(reply: &kiroku_testkit::Reply) -> String {
    reply.json()["error"]["code"].as_str().unwrap().to_owned()
}

// Shows a note's life over the API: written with tags; amended from version 1 to 2 with a
// reason; a second amendment still claiming version 1 refused with 409 in Japanese (English on
// request) and nothing written; the history keeps both versions; an amendment changing nothing,
// one without a reason, and one to a note that does not exist are refused; a withdrawal makes
// version 3, drops the tags, and leaves the note unchangeable.
#[test]
fn a_note_is_amended_and_withdrawn_keeping_its_history() {
    let server = TestServer::start();
    let operator = server.operator();
    let written = operator.write_note("tape 5 moved off-site", &["backup", "テープ"]);
    assert_eq!(written.status, 201, "{}", written.text());
    let note = written.json()["note"].as_u64().unwrap();
    assert_eq!(note, 1);

    let amended = operator.amend(
        note,
        1,
        "tapes 5 and 6 moved off-site",
        "tape 6 was left out",
    );
    assert_eq!(amended.status, 201, "{}", amended.text());
    assert_eq!(amended.json()["version"], 2);
    let size = operator.tree_size();

    let stale = operator.amend(note, 1, "tape 7", "another correction");
    assert_eq!(stale.status, 409);
    assert_eq!(error_code(&stale), "stale_version");
    let message = stale.json()["error"]["message"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(
        message.contains("あなたが見た版: 1") && message.contains("現在の版: 2"),
        "{message}"
    );
    let english = server.send(
        "POST",
        &format!("/api/operator/notes/{note}/amendments"),
        &[
            (
                "authorization",
                &format!("Bearer {}", server.data().token()),
            ),
            ("content-type", "application/json"),
            ("accept-language", "en"),
        ],
        Some(br#"{"version":1,"text":"tape 7","reason":"again"}"#),
    );
    assert!(english.json()["error"]["message"]
        .as_str()
        .unwrap()
        .contains("you saw version 1; it is at version 2"));
    assert_eq!(
        operator.tree_size(),
        size,
        "a refused amendment writes nothing"
    );

    let view = operator.note(note).json();
    assert_eq!(view["version"], 2);
    assert_eq!(view["text"], "tapes 5 and 6 moved off-site");
    assert_eq!(view["tags"], serde_json::json!(["backup", "テープ"]));
    let versions = view["versions"].as_array().unwrap();
    assert_eq!(versions.len(), 2);
    assert_eq!(versions[0]["text"], "tape 5 moved off-site");
    assert_eq!(versions[0]["change"], "written");
    assert_eq!(versions[1]["reason"], "tape 6 was left out");
    assert_eq!(versions[1]["entry"], amended.json()["entry"]);

    for (reply, status, code) in [
        (
            operator.amend(note, 2, "tapes 5 and 6 moved off-site", "nothing"),
            422,
            "note_unchanged",
        ),
        (
            operator.amend(note, 2, "tape 8", ""),
            422,
            "reason_required",
        ),
        (operator.amend(note, 0, "tape 8", "why"), 400, "bad_version"),
        (operator.amend(999, 1, "tape 8", "why"), 404, "no_such_note"),
        (
            server.anonymous().amend(note, 2, "tape 8", "why"),
            401,
            "unauthorized",
        ),
        (server.operator().note(0), 404, "no_such_note"),
    ] {
        assert_eq!(reply.status, status, "{}", reply.text());
        assert_eq!(error_code(&reply), code);
    }
    assert_eq!(operator.get("/api/operator/notes/abc").status, 404);
    assert_eq!(
        server.get("/api/operator/notes/1").status,
        401,
        "no token: refused before anything else"
    );
    assert_eq!(operator.tree_size(), size, "refusals write nothing");

    let withdrawn = operator.withdraw(note, 2, "the tapes never left");
    assert_eq!(withdrawn.status, 201, "{}", withdrawn.text());
    assert_eq!(withdrawn.json()["version"], 3);
    let view = operator.note(note).json();
    assert_eq!(
        (view["state"].as_str(), view["text"].is_null()),
        (Some("withdrawn"), true)
    );
    assert_eq!(view["tags"], serde_json::json!([]));
    let after = operator.amend(note, 3, "back", "undo");
    assert_eq!(
        (after.status, error_code(&after)),
        (409, "note_withdrawn".into())
    );
}

// Shows the race the writer's lock settles: eight clients amend one note from the same
// version at once; exactly one wins, the other seven get 409, and the note is at version 2.
#[test]
fn of_racing_amendments_from_one_version_exactly_one_wins() {
    let server = TestServer::start();
    let operator = server.operator();
    let note = operator.write_note("generator test run", &[]).json()["note"]
        .as_u64()
        .unwrap();
    let threads: Vec<_> = (0..8)
        .map(|i| {
            let operator = operator.clone();
            std::thread::spawn(move || {
                operator
                    .amend(note, 1, &format!("generator test run, take {i}"), "race")
                    .status
            })
        })
        .collect();
    let mut statuses: Vec<u16> = threads.into_iter().map(|t| t.join().unwrap()).collect();
    statuses.sort();
    assert_eq!(statuses, vec![201, 409, 409, 409, 409, 409, 409, 409]);
    assert_eq!(operator.note(note).json()["version"], 2);
}

// Shows tags and paging: notes carry tags, a tag lists only its notes, newest first, and
// `after` continues where a page ended.
#[test]
fn notes_are_listed_by_tag_and_paged() {
    let server = TestServer::start();
    let operator = server.operator();
    for i in 1..=5 {
        let tags: &[&str] = if i % 2 == 0 { &["drill"] } else { &["backup"] };
        assert_eq!(operator.write_note(&format!("note {i}"), tags).status, 201);
    }
    let ids = |reply: &kiroku_testkit::Reply| -> Vec<u64> {
        reply.json()["notes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|n| n["note"].as_u64().unwrap())
            .collect()
    };
    assert_eq!(ids(&operator.notes("")), vec![5, 4, 3, 2, 1]);
    assert_eq!(ids(&operator.notes("?tag=drill")), vec![4, 2]);
    let page = operator.notes("?limit=2");
    assert_eq!(ids(&page), vec![5, 4]);
    assert_eq!(page.json()["next_after"], 4);
    assert_eq!(ids(&operator.notes("?limit=2&after=4")), vec![3, 2]);
    assert_eq!(operator.notes("?limit=x").status, 400);
}

// Shows retries with an idempotency key: the same note sent twice under one key is written
// once (the retry answers 200 with the first note), and other content under a used key is
// refused with 409 and writes nothing.
#[test]
fn an_idempotency_key_writes_once() {
    let server = TestServer::start();
    let operator = server.operator();
    let first = operator.write_note_once("UPS battery replaced", "ups-2026-11-25");
    assert_eq!(first.status, 201, "{}", first.text());
    let size = operator.tree_size();
    let retry = operator.write_note_once("UPS battery replaced", "ups-2026-11-25");
    assert_eq!(retry.status, 200, "{}", retry.text());
    assert_eq!(retry.json()["note"], first.json()["note"]);
    assert_eq!(retry.json()["replayed"], Value::Bool(true));
    let other = operator.write_note_once("something else", "ups-2026-11-25");
    assert_eq!(other.status, 409);
    assert_eq!(error_code(&other), "idempotency_key_reused");
    assert_eq!(operator.tree_size(), size);
}
