//! Tampering: someone with direct database access edits, deletes, inserts or reorders ledger
//! rows, or edits a blob, a tree node, a checkpoint or a projection. The append-only guards are
//! bypassed first, as such an attacker would; `kiroku verify` must fail and name the entry.

use crate::support::{block, run_on, stdout};
use kiroku_core::{Actor, EntryIndex};
use kiroku_store::DatabaseUrl;
use kiroku_testkit::DataDir;

const NOTES: u64 = 300;

/// A ledger of the init entry and NOTES notes, one batch (and checkpoint) each, with note 20
/// long enough to be stored as a blob.
fn ledger() -> DataDir {
    let data = DataDir::init();
    crate::support::lower_entry_limit(&data);
    let app = data.open();
    for i in 1..=NOTES {
        let text = if i == 20 {
            "長い記録 ".repeat(300)
        } else {
            format!("operator note number {i}")
        };
        let written = block(
            app.ops()
                .write_note(Actor::operator("cli"), &text, vec![], None),
        )
        .unwrap();
        assert_eq!(written.note.0, i);
    }
    app.shutdown();
    data
}

/// Runs SQL as an attacker: with the append-only triggers out of the way.
pub(crate) fn tamper(data: &DataDir, sql: &str) {
    let store = kiroku_store::Store::open(&data.database(), kiroku_app::registry(), 1).unwrap();
    let unguard = match data.database() {
        DatabaseUrl::Sqlite(_) => {
            let mut sql = String::new();
            for table in ["entries", "tree_nodes", "checkpoints", "blobs"] {
                sql.push_str(&format!(
                    "DROP TRIGGER {table}_no_update; DROP TRIGGER {table}_no_delete;"
                ));
            }
            sql
        }
        DatabaseUrl::Postgres(_) => {
            "ALTER TABLE entries DISABLE TRIGGER USER; ALTER TABLE tree_nodes DISABLE TRIGGER USER;
             ALTER TABLE checkpoints DISABLE TRIGGER USER; ALTER TABLE blobs DISABLE TRIGGER USER;"
                .to_owned()
        }
    };
    kiroku_store::read::execute_raw(&store, &unguard).unwrap();
    kiroku_store::read::execute_raw(&store, sql).unwrap();
}

fn assert_fails(data: &DataDir, expected: &str) {
    let output = run_on(data, &["verify"], &["--no-record"]);
    let text = stdout(&output);
    assert_eq!(output.status.code(), Some(1), "verify should fail: {text}");
    assert!(text.starts_with("ledger verification FAILED"), "{text}");
    assert!(text.contains(expected), "expected {expected:?} in {text}");
}

// Shows that the intact ledger verifies, so each failure below is the tampering's doing.
#[test]
fn intact_ledger_verifies() {
    let data = ledger();
    let output = run_on(&data, &["verify"], &["--no-record"]);
    assert!(output.status.success(), "{}", stdout(&output));
    assert!(stdout(&output).contains(&format!("{} entries", NOTES + 1)));
}

// Shows that the append-only guards refuse UPDATE and DELETE through an ordinary connection.
#[test]
fn ledger_tables_refuse_update_and_delete() {
    let data = ledger();
    let store = kiroku_store::Store::open(&data.database(), kiroku_app::registry(), 1).unwrap();
    for sql in [
        "UPDATE entries SET body = body WHERE idx = 1",
        "DELETE FROM entries WHERE idx = 1",
        "DELETE FROM checkpoints",
        "UPDATE tree_nodes SET hash = hash",
        "DELETE FROM blobs",
    ] {
        let error = kiroku_store::read::execute_raw(&store, sql).unwrap_err();
        assert!(error.to_string().contains("append-only"), "{sql}: {error}");
    }
}

// Shows that an edited entry is named exactly.
#[test]
fn edited_entry_is_named() {
    let data = ledger();
    let sql = match data.database() {
        DatabaseUrl::Sqlite(_) => "UPDATE entries SET body = CAST(replace(CAST(body AS TEXT), 'number 5\"', 'number 6\"') AS BLOB) WHERE idx = 5",
        DatabaseUrl::Postgres(_) => "UPDATE entries SET body = convert_to(replace(convert_from(body, 'UTF8'), 'number 5\"', 'number 6\"'), 'UTF8') WHERE idx = 5",
    };
    tamper(&data, sql);
    assert_fails(&data, "at entry 5: entry 5 was altered");
    // Rebuilding projections from an altered ledger is refused.
    let output = run_on(&data, &["ledger", "rebuild"], &[]);
    assert_eq!(output.status.code(), Some(1));
    assert!(crate::support::stderr(&output).contains("entry 5 was altered"));
}

// Shows that a deleted entry is named.
#[test]
fn deleted_entry_is_named() {
    let data = ledger();
    tamper(&data, "DELETE FROM entries WHERE idx = 7");
    assert_fails(&data, "at entry 7: entry 7 is missing");
}

// Shows that an entry inserted behind the writer's back (a copy of another, with its hash) is
// named.
#[test]
fn inserted_entry_is_named() {
    let data = ledger();
    tamper(&data, &format!("INSERT INTO entries (idx, leaf_hash, body) SELECT {}, leaf_hash, body FROM entries WHERE idx = 3", NOTES + 1));
    assert_fails(
        &data,
        &format!(
            "at entry {}: entry {} is stored beyond the signed tree of size {}: no signed checkpoint covers it",
            NOTES + 1,
            NOTES + 1,
            NOTES + 1
        ),
    );
}

// Shows that two entries swapped together with their hashes (each row self-consistent) are
// caught by the signed checkpoints, naming the first.
#[test]
fn reordered_entries_are_named() {
    let data = ledger();
    tamper(
        &data,
        "CREATE TEMP TABLE swap AS SELECT idx, leaf_hash, body FROM entries WHERE idx IN (10, 11);
         UPDATE entries SET leaf_hash = (SELECT s.leaf_hash FROM swap s WHERE s.idx = 21 - entries.idx),
                            body = (SELECT s.body FROM swap s WHERE s.idx = 21 - entries.idx)
         WHERE idx IN (10, 11);",
    );
    assert_fails(
        &data,
        "at entry 10: entry 10 do not match the signed checkpoint at size 11",
    );
}

// Shows that an edited blob is named by the entry that carries it.
#[test]
fn edited_blob_is_named() {
    let data = ledger();
    let sql = match data.database() {
        DatabaseUrl::Sqlite(_) => "UPDATE blobs SET content = CAST(replace(CAST(content AS TEXT), '長い', '短い') AS BLOB)",
        DatabaseUrl::Postgres(_) => "UPDATE blobs SET content = convert_to(replace(convert_from(content, 'UTF8'), '長い', '短い'), 'UTF8')",
    };
    tamper(&data, sql);
    assert_fails(
        &data,
        "at entry 20: the payload blob of entry 20 was altered",
    );
}

// Shows that an edited checkpoint signature and an edited tree node are caught.
#[test]
fn edited_checkpoint_and_tree_node_are_caught() {
    let data = ledger();
    tamper(
        &data,
        "UPDATE checkpoints SET note = replace(note, '\n50\n', '\n51\n') WHERE tree_size = 50",
    );
    assert_fails(
        &data,
        "at entry 49: the checkpoint at size 50 does not verify",
    );
    let data = ledger();
    let sql = match data.database() {
        DatabaseUrl::Sqlite(_) => "UPDATE tree_nodes SET hash = zeroblob(32) WHERE level = 1 AND idx = 0",
        DatabaseUrl::Postgres(_) => "UPDATE tree_nodes SET hash = decode(repeat('00', 32), 'hex') WHERE level = 1 AND idx = 0",
    };
    tamper(&data, sql);
    assert_fails(
        &data,
        "at entry 0: tree node 1/0 (entries from 0) was altered",
    );
}

// Shows that a projection row that disagrees with the ledger is named, and that rebuilding
// the projections from the ledger repairs it.
#[test]
fn altered_projection_is_named_and_rebuilt() {
    let data = ledger();
    tamper(
        &data,
        "UPDATE operator_notes SET text = 'rewritten' WHERE note = 12",
    );
    assert_fails(
        &data,
        "at entry 12: projection operator_notes: the row put by entry 12 differs from the ledger's replay",
    );
    let output = run_on(&data, &["ledger", "rebuild"], &[]);
    assert!(output.status.success());
    let output = run_on(&data, &["verify"], &["--no-record"]);
    assert!(output.status.success(), "{}", stdout(&output));
}

// Shows that a corrected note whose current row is put back to its first version — the text
// the correction replaced — is named by the correction's entry.
#[test]
fn a_correction_undone_behind_the_ledger_is_named() {
    let data = ledger();
    let app = data.open();
    let changed = block(app.ops().amend_note(
        Actor::operator("cli"),
        EntryIndex(40),
        1,
        "operator note number 40, corrected",
        vec![],
        "typo",
    ))
    .unwrap();
    app.shutdown();
    tamper(
        &data,
        "UPDATE operator_notes SET version = 1, text = 'operator note number 40', last_entry = 40 WHERE note = 40",
    );
    assert_fails(
        &data,
        &format!(
            "at entry {0}: projection operator_notes: the row entry {0} put last names entry 40 as its writer",
            changed.entry
        ),
    );
}

// Shows that a projection row removed, or one added that no entry puts, is named.
#[test]
fn missing_and_extra_projection_rows_are_named() {
    let data = ledger();
    tamper(&data, "DELETE FROM operator_notes WHERE note = 30");
    assert_fails(
        &data,
        "at entry 30: projection operator_notes lacks a row that entry 30 put",
    );
    let data = ledger();
    tamper(
        &data,
        "INSERT INTO operator_notes (note, version, state, text, time, account, last_entry) VALUES (0, 1, 'open', 'forged', 0, 'operator', 0)",
    );
    assert_fails(
        &data,
        "at entry 0: projection operator_notes holds a row naming entry 0 as its writer, which entry 0 does not put",
    );
}

// Shows that rows planted beyond the signed tree are caught: a projection row naming an entry
// that does not exist (which the status page would otherwise show as the latest
// verification) and a tree node beyond the tree.
#[test]
fn rows_beyond_the_signed_tree_are_caught() {
    let data = ledger();
    tamper(
        &data,
        "INSERT INTO verifications (entry, time, outcome, tree_size, detail, last_entry) VALUES (4611686018427387904, 1767225600000000, 'intact', 1, NULL, 4611686018427387904)",
    );
    assert_fails(&data, "projection verifications holds a row naming entry 4611686018427387904, which the signed ledger does not have");
    let data = ledger();
    tamper(&data, "INSERT INTO tree_nodes (level, idx, hash) SELECT 1, 5, hash FROM tree_nodes WHERE level = 1 AND idx = 0");
    assert_fails(
        &data,
        "tree node 1/5 is stored beyond the signed tree of size 301",
    );
}
