//! The HTTP surface of a running server: public tlog endpoints whose proofs verify with nothing
//! but the published key, the operator-note API, metrics, and clear errors that write nothing.

use kiroku_ledger::proof::{verify_consistency, verify_inclusion};
use kiroku_ledger::tree::root;
use kiroku_ledger::{Checkpoint, Hash, Verifier};
use kiroku_testkit::TestServer;

fn hashes(json: &serde_json::Value) -> Vec<Hash> {
    json["hashes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| Hash::from_base64(h.as_str().unwrap()).unwrap())
        .collect()
}

// Shows, as an outside witness would: notes appended over the API are covered by the signed
// checkpoint; the key, checkpoint, hash tiles and proofs served publicly are enough to check
// every entry's inclusion and the log's consistency.
#[test]
fn public_endpoints_let_a_witness_verify_the_log() {
    let server = TestServer::start();
    assert_eq!(server.get("/healthz").json()["tree_size"], 1);
    for (i, text) in ["テープ5を搬出", "tape 6 moved", "UPS battery replaced"]
        .iter()
        .enumerate()
    {
        let reply = server.post_note(text);
        assert_eq!(reply.status, 201, "{}", reply.text());
        assert_eq!(reply.json()["index"], i as u64 + 1);
    }
    let key = server.get("/ledger/key").text();
    let verifier = Verifier::parse(key.trim()).unwrap();
    assert_eq!(key.trim(), server.data().verifier);
    let note = server.get("/ledger/checkpoint");
    assert_eq!(
        note.header("content-type"),
        Some("text/plain; charset=utf-8")
    );
    let checkpoint = Checkpoint::open(&note.text(), &server.data().origin, &verifier).unwrap();
    assert_eq!(checkpoint.size, 4);

    let tile = server.get("/ledger/tile/0/000.p/4");
    assert_eq!(tile.status, 200);
    assert_eq!(tile.body.len(), 4 * 32);
    let leaves: Vec<Hash> = tile
        .body
        .chunks(32)
        .map(|c| Hash::from_slice(c).unwrap())
        .collect();
    assert_eq!(root(&leaves), checkpoint.root);
    // A narrower partial tile is a prefix of the wider one.
    assert_eq!(server.get("/ledger/tile/0/000.p/2").body, tile.body[..64]);

    for index in 0..4u64 {
        let proof = server
            .get(&format!("/ledger/proof/inclusion?index={index}&size=4"))
            .json();
        verify_inclusion(
            &leaves[index as usize],
            index,
            4,
            &hashes(&proof),
            &checkpoint.root,
        )
        .unwrap();
    }
    let proof = server.get("/ledger/proof/consistency?old=2&new=4").json();
    verify_consistency(2, 4, &root(&leaves[..2]), &checkpoint.root, &hashes(&proof)).unwrap();
}

// Shows that entry bundles are refused to the public (entries will name patients), in
// Japanese by default and in English when asked.
#[test]
fn entry_bundles_are_not_public() {
    let server = TestServer::start();
    let reply = server.get("/ledger/tile/entries/000.p/1");
    assert_eq!(reply.status, 403);
    assert_eq!(reply.json()["error"]["code"], "entries_not_public");
    assert!(reply.json()["error"]["message"]
        .as_str()
        .unwrap()
        .contains("公開されていません"));
    let reply = server.get_with("/ledger/tile/entries/000.p/1", &[("accept-language", "en")]);
    assert!(reply.json()["error"]["message"]
        .as_str()
        .unwrap()
        .contains("not public"));
}

// Shows that every kind of bad input to every endpoint gets a clear error with a stable code
// and a Japanese message (English on request), and that none of it writes anything.
#[test]
fn bad_input_gets_clear_errors_and_writes_nothing() {
    let server = TestServer::start();
    assert_eq!(server.post_note("first").status, 201);
    let size_before = server.get("/healthz").json()["tree_size"].as_u64().unwrap();
    let token = format!("Bearer {}", server.data().token());
    let json = ("content-type", "application/json");
    let auth = ("authorization", token.as_str());
    let long = "あ".repeat(4001);
    let long_body = serde_json::json!({ "text": long }).to_string();
    type Case<'a> = (
        &'a str,
        &'a str,
        Vec<(&'a str, &'a str)>,
        Option<&'a [u8]>,
        u16,
        &'a str,
    );
    let cases: Vec<Case> = vec![
        (
            "GET",
            "/ledger/tile/0/1",
            vec![],
            None,
            400,
            "bad_tile_path",
        ),
        (
            "GET",
            "/ledger/tile/0/000.p/0",
            vec![],
            None,
            400,
            "bad_tile_path",
        ),
        (
            "GET",
            "/ledger/tile/x/000",
            vec![],
            None,
            400,
            "bad_tile_path",
        ),
        (
            "GET",
            "/ledger/tile/0/000.p/3",
            vec![],
            None,
            404,
            "beyond_tree",
        ),
        (
            "GET",
            "/ledger/tile/0/001",
            vec![],
            None,
            404,
            "beyond_tree",
        ),
        (
            "GET",
            "/ledger/tile/1/000",
            vec![],
            None,
            404,
            "beyond_tree",
        ),
        (
            "GET",
            "/ledger/proof/inclusion?size=2",
            vec![],
            None,
            400,
            "missing_parameter",
        ),
        (
            "GET",
            "/ledger/proof/inclusion?index=-1&size=2",
            vec![],
            None,
            400,
            "bad_parameter",
        ),
        (
            "GET",
            "/ledger/proof/inclusion?index=1.5&size=2",
            vec![],
            None,
            400,
            "bad_parameter",
        ),
        (
            "GET",
            "/ledger/proof/inclusion?index=99999999999999999999&size=2",
            vec![],
            None,
            400,
            "bad_parameter",
        ),
        (
            "GET",
            "/ledger/proof/inclusion?index=2&size=2",
            vec![],
            None,
            400,
            "bad_range",
        ),
        (
            "GET",
            "/ledger/proof/inclusion?index=0&size=0",
            vec![],
            None,
            400,
            "bad_range",
        ),
        (
            "GET",
            "/ledger/proof/inclusion?index=0&size=3",
            vec![],
            None,
            404,
            "beyond_tree",
        ),
        (
            "GET",
            "/ledger/proof/consistency?old=0&new=2",
            vec![],
            None,
            400,
            "bad_consistency_range",
        ),
        (
            "GET",
            "/ledger/proof/consistency?old=2&new=1",
            vec![],
            None,
            400,
            "bad_consistency_range",
        ),
        (
            "GET",
            "/ledger/proof/consistency?old=1&new=9",
            vec![],
            None,
            404,
            "beyond_tree",
        ),
        (
            "GET",
            "/ledger/proof/consistency?old=1",
            vec![],
            None,
            400,
            "missing_parameter",
        ),
        (
            "POST",
            "/api/operator/notes",
            vec![json],
            Some(br#"{"text":"x"}"#),
            401,
            "unauthorized",
        ),
        (
            "POST",
            "/api/operator/notes",
            vec![json, ("authorization", "Bearer wrong")],
            Some(br#"{"text":"x"}"#),
            401,
            "unauthorized",
        ),
        (
            "POST",
            "/api/operator/notes",
            vec![auth],
            Some(br#"{"text":"x"}"#),
            415,
            "not_json",
        ),
        (
            "POST",
            "/api/operator/notes",
            vec![auth, json],
            Some(b"{not json"),
            400,
            "bad_json",
        ),
        (
            "POST",
            "/api/operator/notes",
            vec![auth, json],
            Some(br#"{"text":"x","extra":1}"#),
            400,
            "bad_json",
        ),
        (
            "POST",
            "/api/operator/notes",
            vec![auth, json],
            Some(br#"{"text":5}"#),
            400,
            "bad_json",
        ),
        (
            "POST",
            "/api/operator/notes",
            vec![auth, json],
            Some(br#"{}"#),
            422,
            "note_missing",
        ),
        (
            "POST",
            "/api/operator/notes",
            vec![auth, json],
            Some(br#"{"text":"   "}"#),
            422,
            "note_empty",
        ),
        (
            "POST",
            "/api/operator/notes",
            vec![auth, json],
            Some(br#"{"text":"a\u0007b"}"#),
            422,
            "note_control_characters",
        ),
        (
            "POST",
            "/api/operator/notes",
            vec![auth, json],
            Some(long_body.as_bytes()),
            422,
            "note_too_long",
        ),
        (
            "POST",
            "/api/operator/notes",
            vec![auth, json],
            Some(br#"{"text":"x","tags":["has space"]}"#),
            422,
            "bad_tag",
        ),
        (
            "POST",
            "/api/operator/notes",
            vec![auth, json, ("idempotency-key", "has space")],
            Some(br#"{"text":"x"}"#),
            422,
            "bad_idempotency_key",
        ),
        (
            "GET",
            "/api/operator/notes",
            vec![],
            None,
            401,
            "unauthorized",
        ),
        (
            "PUT",
            "/api/operator/notes",
            vec![auth, json],
            Some(br#"{"text":"x"}"#),
            405,
            "method_not_allowed",
        ),
        (
            "POST",
            "/ledger/checkpoint",
            vec![],
            Some(b""),
            405,
            "method_not_allowed",
        ),
        (
            "GET",
            "/no/such/page",
            vec![("accept", "application/json")],
            None,
            404,
            "not_found",
        ),
    ];
    for (method, path, headers, body, status, code) in cases {
        let reply = server.send(method, path, &headers, body);
        assert_eq!(reply.status, status, "{method} {path}: {}", reply.text());
        let error = &reply.json()["error"];
        assert_eq!(error["code"], code, "{method} {path}");
        let message = error["message"].as_str().unwrap();
        assert!(
            !message.is_ascii(),
            "{method} {path}: the default message is Japanese: {message}"
        );
        let mut english = headers.clone();
        english.push(("accept-language", "en"));
        let reply = server.send(method, path, &english, body);
        assert!(
            reply.json()["error"]["message"]
                .as_str()
                .unwrap()
                .is_ascii(),
            "{method} {path}"
        );
    }
    // A body over the limit is refused before it is sent (Expect: 100-continue), so the
    // refusal cannot race the upload.
    let mut stream =
        std::net::TcpStream::connect(server.base.trim_start_matches("http://")).unwrap();
    let request = format!(
        "POST /api/operator/notes HTTP/1.1\r\nHost: x\r\n{}: {token}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nExpect: 100-continue\r\nConnection: close\r\n\r\n",
        "Authorization",
        16 << 20
    );
    std::io::Write::write_all(&mut stream, request.as_bytes()).unwrap();
    // Read until the JSON error has arrived (the server need not close the connection).
    stream
        .set_read_timeout(Some(std::time::Duration::from_secs(10)))
        .unwrap();
    let mut response = Vec::new();
    let mut chunk = [0u8; 4096];
    while !String::from_utf8_lossy(&response).contains("}}") {
        match std::io::Read::read(&mut stream, &mut chunk) {
            Ok(0) | Err(_) => break,
            Ok(n) => response.extend_from_slice(&chunk[..n]),
        }
    }
    let response = String::from_utf8_lossy(&response);
    assert!(response.starts_with("HTTP/1.1 413"), "{response}");
    assert!(response.contains("body_too_large"), "{response}");
    assert_eq!(
        server.get("/healthz").json()["tree_size"].as_u64().unwrap(),
        size_before
    );
}

// Shows the boundary of the note limit through the API: 4000 characters are accepted (and,
// being over the entry limit configured here, stored as a blob), 4001 are refused.
#[test]
fn longest_note_is_accepted_and_moves_to_a_blob() {
    let data = kiroku_testkit::DataDir::init();
    crate::support::lower_entry_limit(&data);
    let server = TestServer::serve(data);
    let reply = server.post_note(&"記".repeat(4000));
    assert_eq!(reply.status, 201, "{}", reply.text());
    assert_eq!(server.post_note(&"記".repeat(4001)).status, 422);
    let data = server.stop();
    let output = crate::support::run_on(&data, &["verify"], &["--no-record"]);
    assert!(
        output.status.success(),
        "{}",
        crate::support::stdout(&output)
    );
}

// Shows that /metrics reports the writer (queue depth, batch sizes, commit/fsync latency,
// refused requests), the tree size and the checkpoint age in the OpenMetrics text format.
#[test]
fn metrics_report_the_writer_and_the_ledger() {
    let server = TestServer::start();
    let operator = server.operator();
    assert_eq!(server.post_note("metrics").status, 201);
    assert_eq!(
        operator.amend(1, 1, "metrics, corrected", "typo").status,
        201
    );
    assert_eq!(operator.amend(1, 1, "stale", "typo").status, 409);
    let reply = server.get("/metrics");
    assert_eq!(reply.status, 200);
    assert!(reply
        .header("content-type")
        .unwrap()
        .starts_with("application/openmetrics-text"));
    let text = reply.text();
    for line in [
        "kiroku_writer_queue_depth 0",
        "kiroku_writer_entries_total 2",
        "kiroku_writer_conflicts_total 0",
        "kiroku_writer_batch_entries_count 2",
        "kiroku_writer_commit_fsync_seconds_count 2",
        "kiroku_ledger_tree_size 3",
        "# TYPE kiroku_ledger_checkpoint_age_seconds gauge",
        "# EOF",
    ] {
        assert!(text.contains(line), "missing {line:?} in\n{text}");
    }
    let ok_responses: u64 = text
        .lines()
        .find_map(|l| l.strip_prefix("kiroku_http_responses_total{class=\"2xx\"} "))
        .and_then(|v| v.parse().ok())
        .unwrap();
    assert!(ok_responses >= 1, "the note's 201 is counted");
}

// Shows the status page over plain HTTP: Japanese by default, English by ?lang=en (which sets
// a cookie that keeps it), with the origin and tree size, and security headers.
#[test]
fn status_page_speaks_japanese_and_english() {
    let server = TestServer::start();
    let ja = server.get("/");
    assert_eq!(ja.status, 200);
    let html = ja.text();
    assert!(html.contains("<html lang=\"ja\">"));
    assert!(html.contains("台帳の状態"));
    assert!(html.contains(&server.data().origin));
    assert!(html.contains("まだ検証されていません"));
    assert_eq!(ja.header("x-content-type-options"), Some("nosniff"));
    assert!(ja.header("content-security-policy").is_some());
    let en = server.get("/?lang=en");
    assert!(en.text().contains("<html lang=\"en\">"));
    assert!(en.text().contains("Ledger status"));
    let cookie = en.header("set-cookie").unwrap();
    assert!(cookie.starts_with("lang=en"));
    let again = server.get_with("/", &[("cookie", "lang=en")]);
    assert!(again.text().contains("Ledger status"));
    let missing = server.get("/nowhere");
    assert_eq!(missing.status, 404);
    assert!(missing.text().contains("<html lang=\"ja\">"));
}
