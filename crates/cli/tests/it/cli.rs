//! The `kiroku` binary as an operator scripts it: init, notes and their corrections,
//! checkpoints, verify, export, import, migrate, help — and clear errors that change nothing.

use crate::support::{kiroku, run, run_on, stderr, stdout, tree_size};
use kiroku_ledger::{Checkpoint, Verifier};
use kiroku_store::scratch::ScratchDb;
use kiroku_testkit::{backend, DataDir, TestServer};

// Shows that init creates the directory with a 0600 signing key and prints a verifier key in
// the signed-note format, and that a second init into the same directory is refused and
// changes nothing.
#[test]
fn init_creates_a_ledger_and_refuses_to_overwrite() {
    let scratch = DataDir::init();
    let dir = scratch.scratch_path("fresh");
    let output = run(&[
        "init",
        "--data",
        dir.to_str().unwrap(),
        "--origin",
        "osaki.example/kiroku",
    ]);
    assert!(output.status.success(), "{}", stderr(&output));
    let printed = stdout(&output);
    let mut lines = printed.lines();
    let verifier = Verifier::parse(lines.next().unwrap()).unwrap();
    assert_eq!(verifier.name(), "osaki.example/kiroku");
    let setup = lines.next().unwrap();
    assert!(
        setup.starts_with("setup secret of the administrator administrator: "),
        "{setup}"
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        for secret in ["signing.key", "operator.token"] {
            let mode = std::fs::metadata(dir.join(secret))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600, "{secret}");
        }
    }
    let key_before = std::fs::read(dir.join("signing.key")).unwrap();
    let again = run(&["init", "--data", dir.to_str().unwrap()]);
    assert_eq!(again.status.code(), Some(1));
    assert!(
        stderr(&again).contains("already exists"),
        "{}",
        stderr(&again)
    );
    assert_eq!(std::fs::read(dir.join("signing.key")).unwrap(), key_before);

    let bad_origin = scratch.scratch_path("bad-origin");
    let output = run(&[
        "init",
        "--data",
        bad_origin.to_str().unwrap(),
        "--origin",
        "has space",
    ]);
    assert_eq!(output.status.code(), Some(1));
    assert!(stderr(&output).contains("origin"), "{}", stderr(&output));
    assert!(!bad_origin.exists(), "a refused init writes nothing");
}

// Shows the operator's round trip: a note prints its number, the checkpoint covers it and
// verifies with the printed key, a correction from the current version makes version 2 and
// one from a stale version is refused (exit 1, nothing written), the note shows both versions
// and its reason, a withdrawal makes version 3, and verify reports the ledger intact (and
// records that).
#[test]
fn notes_corrections_checkpoint_and_verify() {
    let data = DataDir::init();
    let output = run_on(
        &data,
        &["ledger", "note"],
        &["--tag", "backup", "backup tape 5 moved off-site"],
    );
    assert!(output.status.success(), "{}", stderr(&output));
    assert_eq!(stdout(&output).trim(), "1");
    let output = run_on(&data, &["ledger", "checkpoint"], &[]);
    assert!(output.status.success());
    let checkpoint = Checkpoint::open(
        &stdout(&output),
        &data.origin,
        &Verifier::parse(&data.verifier).unwrap(),
    )
    .unwrap();
    assert_eq!(checkpoint.size, 2);

    let amend = |version: &str, text: &str| {
        run_on(
            &data,
            &["ledger", "amend"],
            &[
                "--note",
                "1",
                "--expected-version",
                version,
                "--reason",
                "tape 6 was left out",
                text,
            ],
        )
    };
    let output = amend("1", "backup tapes 5 and 6 moved off-site");
    assert!(output.status.success(), "{}", stderr(&output));
    assert_eq!(stdout(&output).trim(), "note 1 is at version 2 (entry 2)");
    let output = amend("1", "backup tape 7");
    assert_eq!(output.status.code(), Some(1));
    assert!(
        stderr(&output).contains("the note is at version 2, not 1"),
        "{}",
        stderr(&output)
    );
    assert_eq!(tree_size(&data), 3, "the stale correction wrote nothing");

    let output = run_on(&data, &["ledger", "show"], &["--note", "1"]);
    let text = stdout(&output);
    assert!(
        text.starts_with("note 1: version 2, open; tags: backup"),
        "{text}"
    );
    assert!(
        text.contains("v1 written") && text.contains("backup tape 5 moved off-site"),
        "{text}"
    );
    assert!(
        text.contains("v2 amended") && text.contains("— tape 6 was left out"),
        "{text}"
    );

    let output = run_on(
        &data,
        &["ledger", "withdraw"],
        &[
            "--note",
            "1",
            "--expected-version",
            "2",
            "--reason",
            "recorded twice",
        ],
    );
    assert!(output.status.success(), "{}", stderr(&output));
    let output = run_on(&data, &["ledger", "notes"], &[]);
    assert!(
        stdout(&output).starts_with("1\tv3\twithdrawn\t"),
        "{}",
        stdout(&output)
    );

    let output = run_on(&data, &["verify"], &[]);
    assert!(
        output.status.success(),
        "{}{}",
        stdout(&output),
        stderr(&output)
    );
    assert!(
        stdout(&output).starts_with("ledger intact: 4 entries, 4 checkpoints, tree size 4"),
        "{}",
        stdout(&output)
    );
    assert_eq!(
        tree_size(&data),
        5,
        "the verification is recorded as an entry"
    );
    let output = run_on(&data, &["ledger", "rebuild"], &[]);
    assert!(output.status.success(), "{}", stderr(&output));
    assert_eq!(stdout(&output).trim(), "projections rebuilt from 5 entries");
    let output = run_on(&data, &["verify"], &["--no-record"]);
    assert!(output.status.success(), "{}", stdout(&output));
    assert_eq!(tree_size(&data), 5);
}

// Shows that notes appended by several `kiroku ledger note` processes while a server appends
// over HTTP are serialised: every append succeeds with its own number, none is lost, and the
// ledger verifies.
#[test]
fn appends_from_several_processes_while_a_server_runs() {
    let server = TestServer::start();
    let path = server.data().path.clone();
    let children: Vec<_> = (0..4)
        .map(|i| {
            kiroku()
                .args(["ledger", "note", "--data"])
                .arg(&path)
                .arg(format!("from process {i}"))
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    let mut indices: Vec<u64> = (0..20)
        .map(|i| {
            server.post_note(&format!("over http {i}")).json()["index"]
                .as_u64()
                .unwrap()
        })
        .collect();
    for child in children {
        let output = child.wait_with_output().unwrap();
        assert!(output.status.success(), "{}", stderr(&output));
        indices.push(stdout(&output).trim().parse().unwrap());
    }
    indices.sort();
    assert_eq!(indices, (1..=24).collect::<Vec<u64>>());
    let data = server.stop();
    let output = run_on(&data, &["verify"], &["--no-record"]);
    assert!(output.status.success(), "{}", stdout(&output));
    assert!(
        stdout(&output).contains("25 entries"),
        "{}",
        stdout(&output)
    );
}

/// A ledger with notes, a correction, a withdrawal and a note long enough to be a blob.
fn ledger_with_history() -> DataDir {
    let data = DataDir::init();
    crate::support::lower_entry_limit(&data);
    let long = "長い記録 ".repeat(300);
    for args in [
        vec!["--tag", "backup", "tape 5 moved"],
        vec!["a drill was held"],
        vec![long.as_str()],
    ] {
        let output = run_on(&data, &["ledger", "note"], &args);
        assert!(output.status.success(), "{}", stderr(&output));
    }
    for (command, args) in [
        (
            "amend",
            vec![
                "--note",
                "1",
                "--expected-version",
                "1",
                "--reason",
                "typo",
                "tape 6 moved",
            ],
        ),
        (
            "withdraw",
            vec![
                "--note",
                "2",
                "--expected-version",
                "1",
                "--reason",
                "postponed",
            ],
        ),
    ] {
        let output = run_on(&data, &["ledger", command], &args);
        assert!(output.status.success(), "{}", stderr(&output));
    }
    data
}

// Shows export and import: the whole ledger (a blob included) goes to one file, mode 0600,
// with the export's own entry recorded first and carried in it; imported into
// an empty database under a copy of the data directory, it reproduces the same latest
// checkpoint and the same notes, verifies, and takes new notes. An existing file is not
// overwritten; an import into a database that is not empty, or of another ledger's file, or of
// a file cut short or altered, is refused and writes nothing.
#[test]
fn export_and_import_reproduce_the_ledger() {
    let data = ledger_with_history();
    let file = data.scratch_path("ledger.kiroku");
    let output = run_on(&data, &["export"], &["--out", file.to_str().unwrap()]);
    assert!(output.status.success(), "{}", stderr(&output));
    // The export's own entry (the seventh) is in the file: the ledger that left holds the record
    // of its leaving; the file is its owner's alone.
    assert!(
        stdout(&output).starts_with("exported 7 entries, 7 checkpoints and 1 blobs (tree size 7)"),
        "{}",
        stdout(&output)
    );
    assert_eq!(tree_size(&data), 7);
    let store = kiroku_store::Store::open(&data.database(), kiroku_app::registry(), 1).unwrap();
    let (entry, payload) = kiroku_store::read::entry(&store, kiroku_core::EntryIndex(6)).unwrap();
    assert_eq!(entry.kind.as_str(), "ledger.export/1");
    assert_eq!(entry.actor.account.as_str(), "operator");
    assert_eq!(payload["file"], "ledger.kiroku");
    drop(store);
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&file).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "{mode:o}");
    }
    let again = run_on(&data, &["export"], &["--out", file.to_str().unwrap()]);
    assert_eq!(again.status.code(), Some(1));
    assert!(
        stderr(&again).contains("already exists"),
        "{}",
        stderr(&again)
    );
    assert_eq!(tree_size(&data), 7, "a refused export writes nothing");

    let restored = DataDir::empty_copy_of(&data, &backend());
    let output = run_on(&restored, &["import"], &["--in", file.to_str().unwrap()]);
    assert!(output.status.success(), "{}", stderr(&output));
    let checkpoint = |d: &DataDir| stdout(&run_on(d, &["ledger", "checkpoint"], &[]));
    assert_eq!(checkpoint(&restored), checkpoint(&data));
    let show = |d: &DataDir| stdout(&run_on(d, &["ledger", "show"], &["--note", "1"]));
    assert_eq!(show(&restored), show(&data));
    assert_eq!(restored.verify(), None);
    let output = run_on(&restored, &["ledger", "note"], &["after the restore"]);
    assert_eq!(stdout(&output).trim(), "7");

    let twice = run_on(&restored, &["import"], &["--in", file.to_str().unwrap()]);
    assert_eq!(twice.status.code(), Some(1));
    assert!(
        stderr(&twice).contains("is not empty"),
        "{}",
        stderr(&twice)
    );

    let stranger = DataDir::init();
    let other = DataDir::empty_copy_of(&stranger, &backend());
    let output = run_on(&other, &["import"], &["--in", file.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(1));
    assert!(
        stderr(&output).contains("another key or origin"),
        "{}",
        stderr(&output)
    );

    let bytes = std::fs::read(&file).unwrap();
    let cut = data.scratch_path("cut.kiroku");
    std::fs::write(&cut, &bytes[..bytes.len() - 40]).unwrap();
    let mut altered_bytes = bytes.clone();
    let at = altered_bytes
        .windows(9)
        .position(|w| w == b"tape 6 mo")
        .unwrap();
    altered_bytes[at + 5] = b'9';
    let altered = data.scratch_path("altered.kiroku");
    std::fs::write(&altered, &altered_bytes).unwrap();
    for (bad, expected) in [(&cut, "truncated"), (&altered, "was altered")] {
        let target = DataDir::empty_copy_of(&data, &backend());
        let output = run_on(&target, &["import"], &["--in", bad.to_str().unwrap()]);
        assert_eq!(output.status.code(), Some(1), "{}", stdout(&output));
        assert!(
            stderr(&output).contains(expected),
            "{expected}: {}",
            stderr(&output)
        );
        assert_eq!(tree_size(&target), 0, "a refused import writes nothing");
    }
}

// Shows `kiroku migrate` on the selected backend: the ledger is copied into an empty database,
// the data directory now uses it with the same checkpoint and notes, the old database is left
// as it was; a target that is not empty is refused.
#[test]
fn migrate_moves_the_ledger_and_points_the_directory_at_it() {
    let data = ledger_with_history();
    let before = stdout(&run_on(&data, &["ledger", "checkpoint"], &[]));
    let target = ScratchDb::new(
        &backend(),
        &kiroku_app::registry(),
        &data.scratch_path("target"),
        "mig",
    )
    .unwrap();
    let url = target.url.to_config_text();
    let output = run_on(&data, &["migrate"], &["--to", &url]);
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(
        stdout(&output).starts_with("migrated 6 entries and 6 checkpoints"),
        "{}",
        stdout(&output)
    );
    let config = std::fs::read_to_string(data.path.join("kiroku.toml")).unwrap();
    assert!(config.contains(&url), "{config}");
    assert_eq!(
        stdout(&run_on(&data, &["ledger", "checkpoint"], &[])),
        before
    );
    assert_eq!(tree_size(&data), 6, "the old database is untouched");
    let output = run_on(&data, &["verify"], &["--no-record"]);
    assert!(output.status.success(), "{}", stdout(&output));

    let other = DataDir::init();
    let output = run_on(&other, &["migrate"], &["--to", &url]);
    assert_eq!(output.status.code(), Some(1));
    assert!(
        stderr(&output).contains("is not empty"),
        "{}",
        stderr(&output)
    );
}

// Shows that bad input to the commands gets a clear error, exit code 1 (2 for usage), and
// writes nothing.
#[test]
fn bad_command_input_is_refused() {
    let data = DataDir::init();
    let before = tree_size(&data);
    let dir = data.path.to_str().unwrap();
    for (args, code, needle) in [
        (vec!["ledger", "note", "--data", dir, "  "], 1, "empty"),
        (
            vec!["ledger", "note", "--data", dir, "bell\u{7}"],
            1,
            "control",
        ),
        (
            vec!["ledger", "note", "--data", dir, "--tag", "a b", "x"],
            1,
            "tag",
        ),
        (
            vec!["ledger", "note", "--data", "/nonexistent/kiroku"],
            2,
            "TEXT",
        ),
        (
            vec!["ledger", "note", "--data", "/nonexistent/kiroku", "x"],
            1,
            "cannot open the data directory",
        ),
        (
            vec![
                "ledger",
                "amend",
                "--data",
                dir,
                "--note",
                "7",
                "--expected-version",
                "1",
                "--reason",
                "r",
                "x",
            ],
            1,
            "note 7 does not exist",
        ),
        (
            vec![
                "ledger", "amend", "--data", dir, "--note", "1", "--reason", "r", "x",
            ],
            2,
            "--expected-version",
        ),
        (
            vec![
                "ledger",
                "withdraw",
                "--data",
                dir,
                "--note",
                "x",
                "--expected-version",
                "1",
                "--reason",
                "r",
            ],
            2,
            "invalid value",
        ),
        (vec!["verify", "--data", "/nonexistent/kiroku"], 1, "cannot"),
        (
            vec!["serve", "--data", dir, "--listen", "not-an-address"],
            1,
            "listen",
        ),
        (
            vec!["import", "--data", dir, "--in", "/nonexistent/file"],
            1,
            "cannot open /nonexistent/file",
        ),
        (
            vec!["migrate", "--data", dir, "--to", "mysql://x"],
            1,
            "database URL",
        ),
        (vec!["bench", "ledger", "--entries", "0"], 1, "--entries"),
        (
            vec!["bench", "ledger", "--writers", "x"],
            2,
            "invalid value",
        ),
        (vec!["frobnicate"], 2, "unrecognized subcommand"),
    ] {
        let output = run(&args);
        assert_eq!(
            output.status.code(),
            Some(code),
            "{args:?}: {}",
            stderr(&output)
        );
        assert!(
            stderr(&output).contains(needle),
            "{args:?}: {}",
            stderr(&output)
        );
    }
    let long = "x".repeat(4001);
    let output = run_on(&data, &["ledger", "note"], &[&long]);
    assert_eq!(output.status.code(), Some(1));
    assert_eq!(tree_size(&data), before);
}

// Shows that every command has help text.
#[test]
fn every_command_has_help() {
    for command in [
        vec![],
        vec!["init"],
        vec!["serve"],
        vec!["demo"],
        vec!["ledger"],
        vec!["ledger", "note"],
        vec!["ledger", "amend"],
        vec!["ledger", "withdraw"],
        vec!["ledger", "notes"],
        vec!["ledger", "show"],
        vec!["ledger", "checkpoint"],
        vec!["ledger", "rebuild"],
        vec!["account"],
        vec!["account", "list"],
        vec!["account", "show"],
        vec!["account", "suspend"],
        vec!["account", "reinstate"],
        vec!["account", "deactivate"],
        vec!["account", "roles"],
        vec!["policy"],
        vec!["policy", "validate"],
        vec!["fhir"],
        vec!["fhir", "validate"],
        vec!["policy", "show"],
        vec!["policy", "schema"],
        vec!["client"],
        vec!["client", "token"],
        vec!["review"],
        vec!["review", "close-due"],
        vec!["verify"],
        vec!["export"],
        vec!["import"],
        vec!["migrate"],
        vec!["bench"],
        vec!["bench", "ledger"],
        vec!["bench", "verify"],
        vec!["bench", "migrate"],
        vec!["bench", "sign-in"],
        vec!["bench", "fhir"],
    ] {
        let mut args = command.clone();
        args.push("--help");
        let output = run(&args);
        assert!(output.status.success(), "{args:?}: {}", stderr(&output));
        let text = stdout(&output);
        assert!(text.contains("Usage: kiroku"), "{args:?}: {text}");
        assert!(text.lines().count() > 3, "{args:?}: {text}");
    }
}

// Shows `kiroku fhir validate`: a file that conforms, one that breaks its JP Core profile (each
// problem named, in Japanese with --ja), and standard input; exit 1 when any file fails.
#[test]
fn fhir_validate_checks_files_as_the_server_would() {
    let dir = std::env::temp_dir().join(format!("kiroku-fhir-validate-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let good = dir.join("patient.json");
    std::fs::write(
        &good,
        r#"{"resourceType":"Patient","meta":{"profile":["http://jpfhir.jp/fhir/core/StructureDefinition/JP_Patient"]},"identifier":[{"system":"urn:oid:1.2.392.100495.20.3.51.11318814790","value":"00000001"}],"gender":"male"}"#,
    )
    .unwrap();
    let bad = dir.join("broken.json");
    std::fs::write(
        &bad,
        r#"{"resourceType":"Patient","meta":{"profile":["http://jpfhir.jp/fhir/core/StructureDefinition/JP_Patient"]},"gender":"M"}"#,
    )
    .unwrap();
    let output = run(&["fhir", "validate", good.to_str().unwrap()]);
    assert!(output.status.success(), "{}", stdout(&output));
    assert!(stdout(&output).ends_with("patient.json: Patient conforms\n"));
    let output = run(&[
        "fhir",
        "validate",
        "--ja",
        good.to_str().unwrap(),
        bad.to_str().unwrap(),
    ]);
    assert_eq!(output.status.code(), Some(1));
    let text = stdout(&output);
    assert!(text.contains("patient.json: Patient 適合\n"), "{text}");
    assert!(text.contains("問題 2 件"), "{text}");
    assert!(
        text.contains("  Patient.gender: 値セット http://hl7.org/fhir/ValueSet/administrative-gender のコードではありません。\n"),
        "{text}"
    );
    assert!(
        text.contains("  Patient.identifier: 1 個以上必要です。\n"),
        "{text}"
    );
    let mut child = kiroku()
        .args(["fhir", "validate", "-"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::io::Write::write_all(
        child.stdin.as_mut().unwrap(),
        br#"{"resourceType":"Patient","gender":"male","gender":"female"}"#,
    )
    .unwrap();
    let output = child.wait_with_output().unwrap();
    assert_eq!(output.status.code(), Some(1));
    assert!(
        stdout(&output).contains("names a member twice"),
        "{}",
        stdout(&output)
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

// Shows that a command whose reader goes away (`kiroku policy schema | head -1`) ends quietly:
// exit 0 and nothing on standard error — no panic, no backtrace (issue 18, defect 11).
#[test]
fn a_closed_pipe_ends_a_command_quietly() {
    let mut child = crate::support::kiroku()
        .args(["policy", "schema"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // The reader takes nothing and goes away before the command writes.
    drop(child.stdout.take());
    let output = child.wait_with_output().unwrap();
    assert!(
        output.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(output.status.code(), Some(0));
}
