//! Helpers for running the `kiroku` binary and reading the ledger from tests.

use kiroku_testkit::DataDir;
use std::process::{Command, Output};

/// The binary under test.
pub fn kiroku() -> Command {
    Command::new(env!("CARGO_BIN_EXE_kiroku"))
}

/// Runs `kiroku ARGS…` and returns its output.
pub fn run(args: &[&str]) -> Output {
    kiroku().args(args).output().unwrap()
}

/// Runs `kiroku SUBCOMMAND… --data DIR EXTRA…`.
pub fn run_on(data: &DataDir, subcommand: &[&str], extra: &[&str]) -> Output {
    let mut command = kiroku();
    command
        .args(subcommand)
        .arg("--data")
        .arg(&data.path)
        .args(extra);
    command.output().unwrap()
}

/// Standard output as text.
pub fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// Standard error as text.
pub fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// The signed tree size, read straight from the database.
pub fn tree_size(data: &DataDir) -> u64 {
    let store = kiroku_store::Store::open(&data.database(), kiroku_app::registry(), 1).unwrap();
    kiroku_store::read::latest_checkpoint(&store)
        .unwrap()
        .map_or(0, |c| c.size)
}

/// Lowers the data directory's entry limit to 1024 bytes, so long notes go to the blob store.
pub fn lower_entry_limit(data: &DataDir) {
    let path = data.path.join("kiroku.toml");
    let config = std::fs::read_to_string(&path).unwrap();
    assert!(config.contains("entry_bytes_max = 65535"));
    std::fs::write(
        &path,
        config.replace("entry_bytes_max = 65535", "entry_bytes_max = 1024"),
    )
    .unwrap();
}

/// Runs `work` on a runtime of this thread (for tests that call use cases directly).
pub fn block<T>(work: impl std::future::Future<Output = T>) -> T {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(work)
}
