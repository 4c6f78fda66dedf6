//! Crash safety: `kill -9` the server while clients append; after a restart every acknowledged
//! entry is there and the ledger verifies.

use crate::support::{run_on, stdout};
use kiroku_domain::entry::{decode, Payload};
use kiroku_testkit::{post_note, DataDir, ServerProcess};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

// Shows that an acknowledgement means durable: eight clients append notes as fast as they can,
// the server process is killed with SIGKILL mid-stream, and after a restart each acknowledged
// index holds exactly the note that was acknowledged, the server serves again, and `kiroku
// verify` passes.
#[test]
fn kill_9_loses_no_acknowledged_entry() {
    let data = DataDir::init();
    let token = data.token();
    let binary = std::path::Path::new(env!("CARGO_BIN_EXE_kiroku"));
    let server = ServerProcess::spawn(binary, &data);
    let acknowledged = Arc::new(Mutex::new(Vec::<(u64, String)>::new()));
    let stop = Arc::new(AtomicBool::new(false));
    let clients: Vec<_> = (0..8)
        .map(|client| {
            let (base, acknowledged, stop, token) = (
                server.base.clone(),
                acknowledged.clone(),
                stop.clone(),
                token.clone(),
            );
            std::thread::spawn(move || {
                let mut i = 0;
                while !stop.load(Ordering::Relaxed) {
                    let text = format!("client {client} note {i}");
                    let reply = post_note(&base, &token, &text);
                    if reply.status == 201 {
                        let index = reply.json()["index"].as_u64().unwrap();
                        acknowledged.lock().unwrap().push((index, text));
                    } else if reply.status == 0 {
                        return; // the server is gone
                    }
                    i += 1;
                }
            })
        })
        .collect();
    std::thread::sleep(Duration::from_millis(1500));
    // Kill while the clients are still sending.
    server.kill();
    stop.store(true, Ordering::Relaxed);
    for client in clients {
        client.join().unwrap();
    }
    let acknowledged = acknowledged.lock().unwrap().clone();
    assert!(
        acknowledged.len() > 50,
        "the clients got too few acknowledgements: {}",
        acknowledged.len()
    );

    let restarted = ServerProcess::spawn(binary, &data);
    assert_eq!(restarted.get("/healthz").status, 200);
    assert_eq!(restarted.post_note(&token, "after the crash").status, 201);
    drop(restarted);

    let store = kiroku_store::Store::open(&data.database(), 1).unwrap();
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
