//! The `kiroku` binary as an operator scripts it: init, notes, checkpoints, verify, help, and
//! clear errors that change nothing.

use crate::support::{kiroku, run, run_on, stderr, stdout, tree_size};
use kiroku_ledger::{Checkpoint, Verifier};
use kiroku_testkit::{DataDir, TestServer};

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
    let verifier = Verifier::parse(stdout(&output).trim()).unwrap();
    assert_eq!(verifier.name(), "osaki.example/kiroku");
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

// Shows the operator's round trip: a note prints its index, the checkpoint covers it and
// verifies with the printed key, and verify reports the ledger intact (and records that).
#[test]
fn note_checkpoint_and_verify() {
    let data = DataDir::init();
    let output = run_on(
        &data,
        &["ledger", "note"],
        &["backup tape 5 moved off-site"],
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
    let output = run_on(&data, &["verify"], &[]);
    assert!(
        output.status.success(),
        "{}{}",
        stdout(&output),
        stderr(&output)
    );
    assert!(
        stdout(&output).starts_with("ledger intact: 2 entries, 2 checkpoints, tree size 2"),
        "{}",
        stdout(&output)
    );
    assert_eq!(
        tree_size(&data),
        3,
        "the verification is recorded as an entry"
    );
    let output = run_on(&data, &["ledger", "rebuild"], &[]);
    assert!(output.status.success(), "{}", stderr(&output));
    let output = run_on(&data, &["verify"], &["--no-record"]);
    assert!(output.status.success(), "{}", stdout(&output));
    assert_eq!(tree_size(&data), 3);
}

// Shows that notes appended by several `kiroku ledger note` processes while a server appends
// over HTTP are serialised: every append succeeds with its own index, none is lost, and the
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

// Shows that bad input to the commands gets a clear error, exit code 1 (2 for usage), and
// writes nothing.
#[test]
fn bad_command_input_is_refused() {
    let data = DataDir::init();
    let before = tree_size(&data);
    for (args, code, needle) in [
        (
            vec![
                "ledger",
                "note",
                "--data",
                data.path.to_str().unwrap(),
                "  ",
            ],
            1,
            "empty",
        ),
        (
            vec![
                "ledger",
                "note",
                "--data",
                data.path.to_str().unwrap(),
                "bell\u{7}",
            ],
            1,
            "control",
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
            vec!["verify", "--data", "/nonexistent/kiroku"],
            1,
            "cannot open the data directory",
        ),
        (
            vec![
                "serve",
                "--data",
                data.path.to_str().unwrap(),
                "--listen",
                "not-an-address",
            ],
            1,
            "listen",
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
        vec!["ledger", "checkpoint"],
        vec!["ledger", "rebuild"],
        vec!["verify"],
        vec!["bench"],
        vec!["bench", "ledger"],
        vec!["bench", "verify"],
    ] {
        let mut args = command.clone();
        args.push("--help");
        let output = run(&args);
        assert!(output.status.success(), "{args:?}");
        let text = stdout(&output);
        assert!(text.contains("Usage: kiroku"), "{args:?}: {text}");
        assert!(text.lines().count() > 3, "{args:?}: {text}");
    }
}
