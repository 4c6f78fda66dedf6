//! The workspace's layout as a test: which crate may depend on which (normal and build
//! dependencies; tests may use anything). Read from `cargo metadata`, so a new dependency that
//! breaks a boundary fails here, with the rule it breaks.

use serde_json::Value;
use std::collections::BTreeMap;

/// What each crate may depend on among the workspace's crates, and why.
fn allowed() -> BTreeMap<&'static str, (&'static [&'static str], &'static str)> {
    BTreeMap::from([
        (
            "kiroku-ledger",
            (
                &[][..],
                "the log's mathematics stand alone: outside verifiers use it by itself",
            ),
        ),
        (
            "kiroku-core",
            (
                &["kiroku-ledger"][..],
                "the kernel knows no context, no SQL, no HTTP",
            ),
        ),
        (
            "kiroku-ops",
            (
                &["kiroku-core"][..],
                "a context sees the kernel only — no store, no other context, no edge",
            ),
        ),
        (
            "kiroku-access",
            (
                &["kiroku-core"][..],
                "a context sees the kernel only — no store, no other context, no edge",
            ),
        ),
        (
            "kiroku-policy",
            (
                &["kiroku-core"][..],
                "a context sees the kernel only — no store, no other context, no edge",
            ),
        ),
        (
            "kiroku-records",
            (
                &["kiroku-core"][..],
                "a context sees the kernel only — no store, no other context, no edge",
            ),
        ),
        (
            "kiroku-store",
            (
                &["kiroku-core", "kiroku-ledger"][..],
                "storage knows no context: it gets the registry at run time",
            ),
        ),
        (
            "kiroku-app",
            (
                &[
                    "kiroku-access",
                    "kiroku-core",
                    "kiroku-ledger",
                    "kiroku-ops",
                    "kiroku-policy",
                    "kiroku-records",
                    "kiroku-store",
                ][..],
                "use cases know contexts and storage, no HTTP",
            ),
        ),
        (
            "kiroku-server",
            (
                &[
                    "kiroku-access",
                    "kiroku-app",
                    "kiroku-core",
                    "kiroku-ledger",
                    "kiroku-ops",
                    "kiroku-policy",
                    "kiroku-records",
                ][..],
                "the HTTP edge goes through the use cases: it cannot reach the writer",
            ),
        ),
        (
            "kiroku-cli",
            (
                &["kiroku-app", "kiroku-core", "kiroku-server"][..],
                "the binary is thin over the use cases and the HTTP edge",
            ),
        ),
        (
            "kiroku-testkit",
            (
                &["kiroku-app", "kiroku-server", "kiroku-store"][..],
                "the test kit serves real servers",
            ),
        ),
    ])
}

// Shows that every workspace crate depends only on the crates its layer allows (and that every
// crate has a layer), by reading `cargo metadata`.
#[test]
fn crates_depend_only_on_what_their_layer_allows() {
    let output = std::process::Command::new(env!("CARGO"))
        .args([
            "metadata",
            "--format-version",
            "1",
            "--no-deps",
            "--offline",
        ])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let metadata: Value = serde_json::from_slice(&output.stdout).unwrap();
    let allowed = allowed();
    let mut problems = Vec::new();
    let packages = metadata["packages"].as_array().unwrap();
    for package in packages {
        let name = package["name"].as_str().unwrap();
        let Some((may, why)) = allowed.get(name) else {
            problems.push(format!("{name} has no layer in layout.rs: give it one"));
            continue;
        };
        for dependency in package["dependencies"].as_array().unwrap() {
            let dep = dependency["name"].as_str().unwrap();
            let is_dev = dependency["kind"].as_str() == Some("dev");
            if dep.starts_with("kiroku-") && !is_dev && !may.contains(&dep) {
                problems.push(format!("{name} depends on {dep}, but {why}"));
            }
        }
    }
    assert_eq!(packages.len(), allowed.len(), "every layer has its crate");
    assert!(problems.is_empty(), "{problems:#?}");
}
