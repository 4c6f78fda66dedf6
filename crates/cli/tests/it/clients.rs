//! System clients end to end: the demo's laboratory system, applied for and approved like a
//! person, gets bearer tokens from the OAuth 2.0 token endpoint (client credentials) and uses
//! the API with them; tokens are scoped, expire, and stop at once when revoked (by the client,
//! RFC 7009, or by the administrator) or when the client is suspended; `kiroku client token`
//! issues one from the command line.

use crate::access::error_code;
use crate::support::{run_on, stdout};
use kiroku_testkit::access::form_body;
use kiroku_testkit::access::{basic, token_request};
use kiroku_testkit::{client, DataDir, Reply, TestServer};
use serde_json::json;

/// The demo hospital with its system client; returns the directory and the client's secret.
/// A token of the demo laboratory's client.
pub(crate) fn token(server: &TestServer, secret: &str, scope: Option<&str>) -> String {
    kiroku_testkit::access::token(server, "demo-lab", secret, scope)
}

pub(crate) fn hospital_with_client() -> (DataDir, String) {
    let data = DataDir::hospital();
    let app = data.open();
    crate::support::block(kiroku_demo::hospital::seed_hospital(&app)).unwrap();
    let (id, secret) = crate::support::block(kiroku_demo::hospital::seed_client(&app)).unwrap();
    assert_eq!(id, "demo-lab");
    app.shutdown();
    (data, secret)
}

fn oauth_error(reply: &Reply) -> String {
    reply.json()["error"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

// Shows the client-credentials grant and its refusals, the token used on the API as the client
// with its scopes (and the client refused where the policy gives it nothing), scopes granted by
// the administrator, revocation by the client and by the administrator, suspension stopping a
// live token at once, and `kiroku client token`.
#[test]
fn system_client_tokens_end_to_end() {
    let (data, secret) = hospital_with_client();
    let server = TestServer::serve(data);

    // Client credentials, by HTTP Basic and in the form; every scope granted when none is asked.
    let full = token(&server, &secret, None);
    let me = client(&server.base, &full).get("/api/access/me");
    assert_eq!(me.status, 200, "{}", me.text());
    let me = me.json();
    assert_eq!(me["account"], "demo-lab");
    assert_eq!(me["kind"], "client");
    assert_eq!(me["scopes"], json!(["clinical.read", "clinical.write"]));
    let posted = token_request(
        &server,
        None,
        &[
            ("grant_type", "client_credentials"),
            ("client_id", "demo-lab"),
            ("client_secret", &secret),
            ("scope", "clinical.read"),
        ],
    );
    assert_eq!(posted.status, 200, "{}", posted.text());
    assert_eq!(posted.json()["scope"], "clinical.read");
    let read_only = posted.json()["access_token"].as_str().unwrap().to_owned();
    let me = client(&server.base, &read_only)
        .get("/api/access/me")
        .json();
    assert_eq!(me["scopes"], json!(["clinical.read"]));

    // Refusals, in OAuth's words, each with a description in the caller's language.
    let wrong = token_request(
        &server,
        Some(&basic("demo-lab", "WRONG-SECRET")),
        &[("grant_type", "client_credentials")],
    );
    assert_eq!(
        (wrong.status, oauth_error(&wrong).as_str()),
        (401, "invalid_client")
    );
    assert!(wrong
        .header("www-authenticate")
        .unwrap()
        .starts_with("Basic"));
    let unknown = token_request(
        &server,
        Some(&basic("no-such-client", &secret)),
        &[("grant_type", "client_credentials")],
    );
    assert_eq!(oauth_error(&unknown), "invalid_client");
    let grant = token_request(
        &server,
        Some(&basic("demo-lab", &secret)),
        &[("grant_type", "password")],
    );
    assert_eq!(
        (grant.status, oauth_error(&grant).as_str()),
        (400, "unsupported_grant_type")
    );
    let scope = token_request(
        &server,
        Some(&basic("demo-lab", &secret)),
        &[
            ("grant_type", "client_credentials"),
            ("scope", "clinical.delete"),
        ],
    );
    assert_eq!(
        (scope.status, oauth_error(&scope).as_str()),
        (400, "invalid_scope")
    );
    assert!(scope.json()["error_description"]
        .as_str()
        .unwrap()
        .contains("スコープ"));

    // A person's id and password are no client credentials.
    let person = token_request(
        &server,
        Some(&basic(
            "director",
            &server.data().setup_secret.clone().unwrap(),
        )),
        &[("grant_type", "client_credentials")],
    );
    assert_eq!(oauth_error(&person), "invalid_client");

    // A client holds no governance role: the registers are closed to it.
    let registers = client(&server.base, &full).get("/api/access/accounts");
    assert_eq!(registers.status, 403, "{}", registers.text());
    let garbage = client(&server.base, "not-a-token").get("/api/access/me");
    assert_eq!(garbage.status, 401);

    // The administrator (here the operator) sees the client and its tokens by SHA-256 only,
    // and narrows its scopes: a token for writing is then refused.
    let operator = server.operator();
    let listed = operator.get("/api/access/clients");
    assert_eq!(listed.status, 200, "{}", listed.text());
    let text = listed.text();
    assert!(!text.contains(&full), "a token is never shown again");
    assert!(text.contains(&kiroku_app::access::clients::token_id(&full)));
    let narrowed = operator.put(
        "/api/access/clients/demo-lab/scopes",
        &json!({"scopes": ["clinical.read"]}),
    );
    assert_eq!(narrowed.status, 201, "{}", narrowed.text());
    let refused = token_request(
        &server,
        Some(&basic("demo-lab", &secret)),
        &[
            ("grant_type", "client_credentials"),
            ("scope", "clinical.write"),
        ],
    );
    assert_eq!(oauth_error(&refused), "invalid_scope");
    // A token issued before acts at once with the narrowed scopes only.
    let me = client(&server.base, &full).get("/api/access/me").json();
    assert_eq!(me["scopes"], json!(["clinical.read"]));
    let not_client = operator.put(
        "/api/access/clients/director/scopes",
        &json!({"scopes": ["clinical.read"]}),
    );
    assert_eq!(not_client.status, 400, "{}", not_client.text());
    assert_eq!(error_code(&not_client), "invalid_field");
    let unknown_scope = operator.put(
        "/api/access/clients/demo-lab/scopes",
        &json!({"scopes": ["everything"]}),
    );
    assert_eq!(error_code(&unknown_scope), "invalid_field");

    // The client revokes its own token (RFC 7009): it stops at once.
    let body = form_body(&[("token", &read_only)]);
    let auth = basic("demo-lab", &secret);
    let revoked = server.send(
        "POST",
        "/oauth/revoke",
        &[
            ("content-type", "application/x-www-form-urlencoded"),
            ("authorization", &auth),
        ],
        Some(&body),
    );
    assert_eq!(revoked.status, 200, "{}", revoked.text());
    let wrong_auth = basic("demo-lab", "WRONG-SECRET");
    let refused = server.send(
        "POST",
        "/oauth/revoke",
        &[
            ("content-type", "application/x-www-form-urlencoded"),
            ("authorization", &wrong_auth),
        ],
        Some(&body),
    );
    assert_eq!(oauth_error(&refused), "invalid_client");
    assert_eq!(
        client(&server.base, &read_only)
            .get("/api/access/me")
            .status,
        401
    );

    // The administrator revokes one with a reason (none: refused, nothing written).
    let path = format!(
        "/api/access/tokens/{}/revocation",
        kiroku_app::access::clients::token_id(&full)
    );
    let no_reason = operator.post(&path, &json!({}));
    assert_eq!(error_code(&no_reason), "reason_missing");
    assert_eq!(
        client(&server.base, &full).get("/api/access/me").status,
        200
    );
    let by_admin = operator.post(&path, &json!({"reason": "端末の入れ替え"}));
    assert_eq!(by_admin.status, 201, "{}", by_admin.text());
    assert_eq!(
        client(&server.base, &full).get("/api/access/me").status,
        401
    );
    assert_eq!(
        error_code(&operator.post(&path, &json!({"reason": "再度"}))),
        "no_such_token"
    );

    // Suspension stops a live token at once, and the endpoint issues none; reinstatement
    // lets the same token work again while it lasts.
    let live = token(&server, &secret, None);
    let account = operator.get("/api/access/accounts/demo-lab").json();
    let version = account["version"].as_u64().unwrap();
    let suspended = operator.post(
        "/api/access/accounts/demo-lab/suspension",
        &json!({"version": version, "reason": "監査での指摘"}),
    );
    assert_eq!(suspended.status, 201, "{}", suspended.text());
    assert_eq!(
        client(&server.base, &live).get("/api/access/me").status,
        401
    );
    let inactive = token_request(
        &server,
        Some(&basic("demo-lab", &secret)),
        &[("grant_type", "client_credentials")],
    );
    assert_eq!(oauth_error(&inactive), "invalid_client");
    let reinstated = operator.post(
        "/api/access/accounts/demo-lab/reinstatement",
        &json!({"version": version + 1, "reason": "是正済み"}),
    );
    assert_eq!(reinstated.status, 201, "{}", reinstated.text());
    assert_eq!(
        client(&server.base, &live).get("/api/access/me").status,
        200
    );

    // The history of the client shows its scopes and revocations.
    let history = operator.get("/api/access/accounts/demo-lab").text();
    assert!(history.contains("scopes:clinical.read"), "{history}");
    assert!(history.contains("token_revoked"), "{history}");

    // From the command line, as the operator: a token that works once the server is back.
    let data = server.stop();
    let issued = run_on(&data, &["client", "token"], &["--client", "demo-lab"]);
    assert!(
        issued.status.success(),
        "{}",
        crate::support::stderr(&issued)
    );
    let cli_token = stdout(&issued).trim().to_owned();
    let refused = run_on(&data, &["client", "token"], &["--client", "director"]);
    assert!(!refused.status.success());
    assert!(crate::support::stderr(&refused).contains("no system client director"));

    // The client cannot sign in on the web: its secret is for the token endpoint only.
    let app = data.open();
    assert!(matches!(
        crate::support::block(app.access().sign_in("demo-lab", &secret)),
        Err(kiroku_app::Error::Access(
            kiroku_app::access::Error::SignInFailed
        ))
    ));
    app.shutdown();

    let server = TestServer::serve(data);
    let me = client(&server.base, &cli_token).get("/api/access/me");
    assert_eq!(me.status, 200, "{}", me.text());
    assert_eq!(me.json()["scopes"], json!(["clinical.read"]));
    let data = server.stop();
    assert_eq!(data.verify(), None);
}

// Shows a token expiring: with a lifetime of three seconds, it works at once and not after.
#[test]
fn system_client_tokens_expire() {
    let (data, secret) = hospital_with_client();
    let mut config = kiroku_app::config::Config::load(&data.path).unwrap();
    config.limits.token_seconds = 3;
    config.save(&data.path).unwrap();
    let server = TestServer::serve(data);
    let reply = token_request(
        &server,
        Some(&basic("demo-lab", &secret)),
        &[("grant_type", "client_credentials")],
    );
    assert_eq!(reply.json()["expires_in"], 3);
    let bearer = reply.json()["access_token"].as_str().unwrap().to_owned();
    assert_eq!(
        client(&server.base, &bearer).get("/api/access/me").status,
        200
    );
    std::thread::sleep(std::time::Duration::from_millis(3500));
    assert_eq!(
        client(&server.base, &bearer).get("/api/access/me").status,
        401
    );
}

// Shows that what the server remembers about tokens, accounts and the policy gives way at once
// to a change made by another process: a client reading with its token is suspended by
// `kiroku account suspend` (another process appending to the same database) while the server
// runs, and its very next read is refused and gives no data; reinstated the same way, its token
// reads again; revoked by another process, it is refused at once. The server had answered the
// token many times before, from memory.
#[test]
fn a_change_by_another_process_takes_effect_at_once() {
    let (data, secret) = hospital_with_client();
    let server = TestServer::serve(data);
    let bearer = token(&server, &secret, None);
    let made = kiroku_testkit::records::send(
        &server,
        &bearer,
        "POST",
        "/fhir/Patient",
        &[],
        Some(&crate::fhir::patient_body(
            "9901",
            ("田尻", "一"),
            ("タジリ", "ハジメ"),
            "1972-02-02",
        )),
    );
    assert_eq!(made.status, 201, "{}", made.text());
    let path = format!("/fhir/Patient/{}", made.json()["id"].as_str().unwrap());
    for _ in 0..20 {
        let read = kiroku_testkit::records::send(&server, &bearer, "GET", &path, &[], None);
        assert_eq!(read.status, 200, "{}", read.text());
    }

    let suspended = run_on(
        server.data(),
        &["account", "suspend", "demo-lab"],
        &["--reason", "検査システム更新のため停止"],
    );
    assert!(suspended.status.success(), "{}", stdout(&suspended));
    let refused = kiroku_testkit::records::send(&server, &bearer, "GET", &path, &[], None);
    assert!(
        matches!(refused.status, 401 | 403),
        "a suspended client reads nothing: {} {}",
        refused.status,
        refused.text()
    );
    assert!(!refused.text().contains("田尻"), "{}", refused.text());
    let again = kiroku_testkit::records::send(&server, &bearer, "GET", &path, &[], None);
    assert_eq!(again.status, 401, "{}", again.text());

    let reinstated = run_on(
        server.data(),
        &["account", "reinstate", "demo-lab"],
        &["--reason", "更新完了"],
    );
    assert!(reinstated.status.success(), "{}", stdout(&reinstated));
    let read = kiroku_testkit::records::send(&server, &bearer, "GET", &path, &[], None);
    assert_eq!(read.status, 200, "{}", read.text());

    // A token revoked through another process (an application of its own on the same data)
    // is refused at its very next request, which gives no data.
    let other = server.data().open();
    crate::support::block(
        other
            .access()
            .revoke_own_token("demo-lab", &secret, &bearer),
    )
    .unwrap();
    other.shutdown();
    let revoked = kiroku_testkit::records::send(&server, &bearer, "GET", &path, &[], None);
    assert_eq!(revoked.status, 401, "{}", revoked.text());
    assert!(!revoked.text().contains("田尻"), "{}", revoked.text());
}

// Shows issue 18's defect 8 at the edge: revocations with a wrong secret naming a departmental
// system do not lock it out of the token endpoint (they once counted towards its lockout), and
// an address that keeps failing to authenticate — here with ids that do not exist, each of
// which still costs a password hash — is answered 429 with Retry-After after FAILURES_MAX
// failures, before anything is checked, even with the right secret.
#[test]
fn failures_are_slowed_per_address_and_revocations_lock_nobody_out() {
    let (data, secret) = hospital_with_client();
    let server = TestServer::serve(data);
    let stranger = basic("demo-lab", "not-the-secret");
    let mut failures = 0;
    for _ in 0..6 {
        let refused = server.send(
            "POST",
            "/oauth/revoke",
            &[
                ("authorization", stranger.as_str()),
                ("content-type", "application/x-www-form-urlencoded"),
            ],
            Some(b"token=whatever"),
        );
        assert_eq!(refused.status, 401, "{}", refused.text());
        failures += 1;
    }
    // Six wrong secrets at the revocation endpoint: the client is not locked.
    token(&server, &secret, None);

    let mut blocked = None;
    for n in 0..kiroku_server::throttle::FAILURES_MAX {
        let auth = basic(&format!("nobody-{n}"), "guess");
        let reply = token_request(
            &server,
            Some(&auth),
            &[("grant_type", "client_credentials")],
        );
        if reply.status == 429 {
            blocked = Some(reply);
            break;
        }
        assert_eq!(reply.status, 401, "{}", reply.text());
        failures += 1;
    }
    let blocked = blocked.expect("the address is slowed down");
    assert_eq!(failures, kiroku_server::throttle::FAILURES_MAX);
    assert!(blocked.header("retry-after").is_some());
    assert_eq!(blocked.json()["error"]["code"], "too_many_attempts");
    let right = token_request(
        &server,
        Some(&basic("demo-lab", &secret)),
        &[("grant_type", "client_credentials")],
    );
    assert_eq!(
        right.status, 429,
        "nothing is checked from a blocked address"
    );
}

// Shows discovery as a departmental system meets it: /.well-known/smart-configuration and
// /.well-known/oauth-authorization-server (RFC 8414) name the token and revocation endpoints
// at the server's own address, the grant, the authentication methods (a shared secret, or a
// key pair: private_key_jwt with ES384 or RS384) and the scopes (SMART's system scopes too); the
// CapabilityStatement's rest.security points to the same endpoints; and a token is got from
// the endpoint the document names.
#[test]
fn discovery_names_the_endpoints() {
    let (data, secret) = hospital_with_client();
    let server = TestServer::serve(data);
    let base = server.url("").trim_end_matches('/').to_owned();
    let smart = server.get("/.well-known/smart-configuration");
    assert_eq!(smart.status, 200, "{}", smart.text());
    assert!(smart
        .header("content-type")
        .is_some_and(|t| t.starts_with("application/json")));
    let smart = smart.json();
    let oauth = server.get("/.well-known/oauth-authorization-server").json();
    for document in [&smart, &oauth] {
        assert_eq!(document["issuer"], base.as_str());
        assert_eq!(document["token_endpoint"], format!("{base}/oauth/token"));
        assert_eq!(
            document["revocation_endpoint"],
            format!("{base}/oauth/revoke")
        );
        assert_eq!(
            document["grant_types_supported"],
            json!(["client_credentials"])
        );
        assert_eq!(
            document["token_endpoint_auth_methods_supported"],
            json!([
                "client_secret_basic",
                "client_secret_post",
                "private_key_jwt"
            ])
        );
        assert_eq!(
            document["token_endpoint_auth_signing_alg_values_supported"],
            json!(["ES384", "RS384"])
        );
        assert_eq!(
            document["scopes_supported"],
            json!([
                "clinical.read",
                "clinical.write",
                "system/*.rs",
                "system/*.cruds",
                "system/*.read",
                "system/*.write"
            ])
        );
    }
    assert_eq!(
        smart["capabilities"],
        json!([
            "client-confidential-symmetric",
            "client-confidential-asymmetric",
            "permission-v1",
            "permission-v2"
        ])
    );
    let statement = server.get("/fhir/metadata").json();
    let security = &statement["rest"][0]["security"];
    assert_eq!(security["service"][0]["coding"][0]["code"], "SMART-on-FHIR");
    assert_eq!(
        security["extension"][0]["extension"][0]["valueUri"],
        smart["token_endpoint"]
    );
    let endpoint = smart["token_endpoint"].as_str().unwrap();
    let path = &endpoint[base.len()..];
    let body = form_body(&[("grant_type", "client_credentials")]);
    let auth = basic("demo-lab", &secret);
    let reply = server.send(
        "POST",
        path,
        &[
            ("authorization", auth.as_str()),
            ("content-type", "application/x-www-form-urlencoded"),
        ],
        Some(&body),
    );
    assert_eq!(reply.status, 200, "{}", reply.text());
}

// Shows SMART Backend Services' asymmetric client authentication with a client library we did
// not write (Authlib, from PyPI): for an ES384 and an RS384 key pair made by the client, the
// administrator registers the public JWK Set; the client finds the token endpoint through
// /.well-known/smart-configuration, signs a client assertion (private_key_jwt), gets a token for
// SMART v2 system scopes and reads the FHIR API with it; the same assertion sent twice is
// refused the second time. `kiroku client keys` registers a set from a file. A JWK Set holding
// a private key is refused.
#[test]
fn a_client_we_did_not_write_signs_its_assertion() {
    let (data, _) = hospital_with_client();
    let server = TestServer::serve(data);
    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/python/smart_backend_client.py");
    let run = |args: &[&str]| {
        let out = std::process::Command::new(kiroku_testkit::python())
            .arg(&script)
            .args(args)
            .output()
            .unwrap();
        let said = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            said,
        )
    };
    for alg in ["ES384", "RS384"] {
        let key = server.data().scratch_path(&format!("{alg}.pem"));
        let (ok, jwks, said) = run(&["keygen", alg, key.to_str().unwrap()]);
        assert!(ok, "{said}");
        let jwks: serde_json::Value = serde_json::from_str(jwks.trim()).unwrap();
        let registered = server
            .operator()
            .put("/api/access/clients/demo-lab/jwks", &jwks);
        assert_eq!(registered.status, 201, "{}", registered.text());
        let (ok, _, said) = run(&[&server.url(""), "demo-lab", key.to_str().unwrap(), alg]);
        println!("{said}");
        assert!(ok, "{alg}: {said}");
        assert!(said.contains("replay refused"), "{said}");
    }
    // The same by the command line: the operator registers a set from a file.
    let data = server.stop();
    let file = data.scratch_path("keys.json");
    let (ok, jwks, said) = run(&[
        "keygen",
        "ES384",
        data.scratch_path("cli.pem").to_str().unwrap(),
    ]);
    assert!(ok, "{said}");
    std::fs::write(&file, jwks.trim()).unwrap();
    let output = run_on(
        &data,
        &["client", "keys"],
        &["--client", "demo-lab", "--jwks", file.to_str().unwrap()],
    );
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        stdout(&output).starts_with("keys of demo-lab registered"),
        "{}",
        stdout(&output)
    );
    let server = TestServer::serve(data);
    let private =
        json!({ "keys": [{ "kty": "EC", "crv": "P-384", "x": "a", "y": "b", "d": "c" }] });
    let refused = server
        .operator()
        .put("/api/access/clients/demo-lab/jwks", &private);
    assert_eq!(
        (refused.status, error_code(&refused)),
        (400, "invalid_field".into()),
        "{}",
        refused.text()
    );
}
