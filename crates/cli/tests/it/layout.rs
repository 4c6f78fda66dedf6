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
            "kiroku-demo",
            (
                &[
                    "kiroku-access",
                    "kiroku-app",
                    "kiroku-core",
                    "kiroku-ledger",
                    "kiroku-ops",
                    "kiroku-records",
                    "kiroku-store",
                ][..],
                "the demo drives the use cases, and the benchmarks the writer beside its baseline",
            ),
        ),
        (
            "kiroku-cli",
            (
                &["kiroku-app", "kiroku-core", "kiroku-demo", "kiroku-server"][..],
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

/// The workspace's root.
fn root() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap()
}

fn read(path: &std::path::Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

// Shows that every context registered is one wing through the top floors, as ARCHITECTURE.md's
// recipe says: its crate, its `app` module behind a facade, its `server` module with an API and
// a pages route table merged by the router, and its typed client in the testkit.
#[test]
fn every_context_is_a_wing_through_app_server_and_testkit() {
    let root = root();
    let router = read(&root.join("crates/server/src/router.rs"));
    let testkit = read(&root.join("crates/testkit/src/lib.rs"));
    let mut problems = Vec::new();
    let contexts = kiroku_app::registry().contexts().to_vec();
    assert!(contexts.len() >= 4, "{contexts:?}");
    for context in contexts {
        let mut need = |ok: bool, what: String| {
            if !ok {
                problems.push(format!("{context}: {what}"));
            }
        };
        need(
            root.join(format!("crates/{context}/Cargo.toml")).exists(),
            format!("its crate crates/{context}"),
        );
        let app = root.join(format!("crates/app/src/{context}/mod.rs"));
        let facade = std::fs::read_to_string(&app).unwrap_or_default();
        need(
            facade.contains(&format!("pub fn {context}(&self)")),
            format!("{} with the facade `app.{context}()`", app.display()),
        );
        for part in ["mod", "api", "pages"] {
            let file = root.join(format!("crates/server/src/{context}/{part}.rs"));
            let text = std::fs::read_to_string(&file).unwrap_or_default();
            need(
                text.contains("pub(crate) fn routes() -> Router<AppState>"),
                format!("{} exporting routes()", file.display()),
            );
        }
        need(
            router.contains(&format!(".merge(crate::{context}::routes())")),
            format!("router.rs merging crate::{context}::routes()"),
        );
        let client = root.join(format!("crates/testkit/src/{context}.rs"));
        need(
            client.exists() && testkit.contains(&format!("pub mod {context};")),
            format!("its typed test client {}", client.display()),
        );
    }
    assert!(problems.is_empty(), "{problems:#?}");
}

// Shows that ARCHITECTURE.md's code map names every crate and every top-level module of every
// crate (a file or folder under src/), so that the map cannot fall behind the code.
#[test]
fn the_code_map_names_every_crate_and_top_level_module() {
    let root = root();
    let map = read(&root.join("ARCHITECTURE.md"));
    let map = &map[map.find("## Code map").expect("a code map")..];
    let map = &map[..map.find("\n## ").unwrap_or(map.len())];
    let mut problems = Vec::new();
    for krate in std::fs::read_dir(root.join("crates")).unwrap() {
        let krate = krate.unwrap().path();
        let name = krate.file_name().unwrap().to_string_lossy().into_owned();
        if !map.contains(&format!("**`crates/{name}`**")) {
            problems.push(format!("crates/{name} has no paragraph"));
            continue;
        }
        let start = map.find(&format!("**`crates/{name}`**")).unwrap();
        let paragraph = &map[start..];
        let paragraph = &paragraph[..paragraph[2..]
            .find("\n**`")
            .map_or(paragraph.len(), |e| e + 2)];
        for module in std::fs::read_dir(krate.join("src")).unwrap() {
            let module = module.unwrap().path();
            let file = module.file_name().unwrap().to_string_lossy().into_owned();
            if matches!(file.as_str(), "lib.rs" | "main.rs") {
                continue;
            }
            let named = if module.is_dir() {
                format!("`{file}/`")
            } else {
                format!("`{file}`")
            };
            if !paragraph.contains(&named) {
                problems.push(format!("crates/{name}: {named} is not in its paragraph"));
            }
        }
    }
    assert!(problems.is_empty(), "{problems:#?}");
}
