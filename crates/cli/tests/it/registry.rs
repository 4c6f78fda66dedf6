//! The registry of this build: every kind keeps its declaration, and entries written by the
//! first release stay readable forever.

use kiroku_core::entry::decode;
use kiroku_core::{Change, EntryIndex, Payload, Value};

// Shows that every registered kind of every context survives a JSON round trip, passes its
// own check, and projects exactly where it declares (or nowhere, saying why).
#[test]
fn every_kind_keeps_its_declaration() {
    let registry = kiroku_app::registry();
    assert_eq!(kiroku_core::context::audit(&registry), Vec::<String>::new());
    let kinds: Vec<&str> = registry.kinds().map(|(_, k)| k.name()).collect();
    for kind in [
        "ledger.init/1",
        "ledger.note/1",
        "ledger.note/2",
        "ledger.note_amendment/1",
        "ledger.note_withdrawal/1",
        "ledger.verification/1",
        "access.department/1",
        "access.job_type/1",
        "access.application/1",
        "access.application_endorsement/1",
        "access.application_rejection/1",
        "access.account_issue/1",
        "access.first_administrator/1",
        "access.account_suspension/1",
        "access.account_reinstatement/1",
        "access.account_deactivation/1",
        "access.role_appointment/1",
        "access.role_dismissal/1",
        "access.credential/1",
        "access.sign_in/1",
        "access.entry_bundle_read/1",
    ] {
        assert!(kinds.contains(&kind), "{kind} is registered");
    }
}

/// Entries exactly as the first release (issue 2) wrote them: its first entry, an operator's
/// note and a verification. Their bytes must decode, and project, forever.
const FIRST_RELEASE: &[&str] = &[
    r#"{"actor":{"account":"system"},"kind":"ledger.init/1","payload":{"origin":"kiroku.test/abc123","software":"kiroku 0.1.0","verifier_key":"kiroku.test/abc123+d5e0f0b8+AQ6mGxPzhvwXyDdGGtx6ljUHUebdB+oEUBHkqWl5Ha5g"},"salt":"3q2+7wAAAAAAAAAAAAAAAA==","time":"2026-11-24T09:00:00.000000Z","v":1}"#,
    r#"{"actor":{"account":"operator","session":"api"},"kind":"ledger.note/1","payload":{"text":"デモ: バックアップテープ5を遠隔地保管庫へ搬出"},"salt":"AAAAAAAAAAAAAAAAAAAAAA==","time":"2026-11-24T09:00:01.000000Z","v":1}"#,
    r#"{"actor":{"account":"system"},"kind":"ledger.verification/1","payload":{"checkpoints":2,"entries":2,"outcome":"intact","root":"47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=","tree_size":2},"salt":"AQIDBAUGBwgJCgsMDQ4PEA==","time":"2026-11-24T09:00:02.000000Z","v":1}"#,
];

// Shows that the first release's entries are still read by this build: each decodes strictly,
// its kind is registered, and it projects as the new tables expect — the note as version 1 of
// note 1, the verification as the status page's latest result.
#[test]
fn first_release_entries_stay_readable() {
    let registry = kiroku_app::registry();
    let mut projected = Vec::new();
    for (index, text) in FIRST_RELEASE.iter().enumerate() {
        let entry = decode(text.as_bytes()).unwrap();
        let Payload::Inline(payload) = entry.payload.clone() else {
            panic!("inline")
        };
        let mut changes = registry.interpret(&entry, payload).unwrap();
        for change in &mut changes {
            change.resolve(EntryIndex(index as u64)).unwrap();
        }
        projected.push(changes);
    }
    assert!(projected[0].is_empty(), "ledger.init/1 projects nothing");
    let Change::Upsert { table, row } = &projected[1][0] else {
        panic!("{:?}", projected[1])
    };
    assert_eq!(table.name, "operator_notes");
    assert_eq!(
        row[..3],
        [Value::Int(1), Value::Int(1), Value::Text("open".into())]
    );
    let Change::Upsert { table, row } = &projected[2][0] else {
        panic!("{:?}", projected[2])
    };
    assert_eq!(table.name, "verifications");
    assert_eq!(row[2], Value::Text("intact".into()));
}
