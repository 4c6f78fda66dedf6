//! Crash safety: `kill -9` the server while clients append; after a restart every acknowledged
//! entry is there and the ledger verifies.

use crate::support::{run_on, stdout};
use kiroku_core::entry::{decode, Payload};
use kiroku_testkit::{client, DataDir, ServerProcess};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Acknowledgements to wait for before the kill: enough that the kill lands mid-stream.
const ACKNOWLEDGED_BEFORE_KILL: usize = 300;

// Shows that an acknowledgement means durable: eight clients append notes as fast as they can,
// the server process is killed with SIGKILL once they have had 300 acknowledgements (not after
// a fixed sleep: the kill always lands mid-stream, however fast the machine), and after a
// restart each acknowledged number holds exactly the note that was acknowledged, the server
// serves again, and `kiroku verify` passes.
#[test]
fn kill_9_loses_no_acknowledged_entry() {
    let data = DataDir::init();
    let token = data.token();
    let binary = std::path::Path::new(env!("CARGO_BIN_EXE_kiroku"));
    let server = ServerProcess::spawn(binary, &data);
    let acknowledged = Arc::new(Mutex::new(Vec::<(u64, String)>::new()));
    let stop = Arc::new(AtomicBool::new(false));
    let clients: Vec<_> = (0..8)
        .map(|n| {
            let (operator, acknowledged, stop) = (
                client(&server.base, &token),
                acknowledged.clone(),
                stop.clone(),
            );
            std::thread::spawn(move || {
                let mut i = 0;
                while !stop.load(Ordering::Relaxed) {
                    let text = format!("client {n} note {i}");
                    let reply = operator.write_note(&text, &[]);
                    if reply.status == 201 {
                        let index = reply.json()["note"].as_u64().unwrap();
                        acknowledged.lock().unwrap().push((index, text));
                    } else if reply.status == 0 {
                        return; // the server is gone
                    }
                    i += 1;
                }
            })
        })
        .collect();
    let deadline = Instant::now() + Duration::from_secs(120);
    while acknowledged.lock().unwrap().len() < ACKNOWLEDGED_BEFORE_KILL {
        assert!(
            Instant::now() < deadline,
            "the clients got too few acknowledgements"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    // Kill while the clients are still sending.
    server.kill();
    stop.store(true, Ordering::Relaxed);
    for client in clients {
        client.join().unwrap();
    }
    let acknowledged = acknowledged.lock().unwrap().clone();
    assert!(acknowledged.len() >= ACKNOWLEDGED_BEFORE_KILL);

    let restarted = ServerProcess::spawn(binary, &data);
    assert_eq!(restarted.get("/healthz").status, 200);
    assert_eq!(
        restarted
            .client(&token)
            .write_note("after the crash", &[])
            .status,
        201
    );
    drop(restarted);

    let store = kiroku_store::Store::open(&data.database(), kiroku_app::registry(), 1).unwrap();
    for (index, text) in &acknowledged {
        let body = kiroku_store::read::entry_bodies(&store, *index, index + 1)
            .unwrap()
            .remove(0);
        let entry = decode(&body).unwrap();
        let Payload::Inline(payload) = entry.payload else {
            panic!("inline note")
        };
        assert_eq!(payload["text"], text.as_str(), "entry {index}");
    }
    drop(store);
    let output = run_on(&data, &["verify"], &["--no-record"]);
    assert!(output.status.success(), "{}", stdout(&output));
}
