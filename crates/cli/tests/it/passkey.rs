//! Passkeys end to end over HTTP, with a software authenticator standing in for the browser's
//! (the Chromium test in `browser` uses Chromium's own virtual authenticator): registration
//! as the required second factor, signing in with it, the refusals (another site, a used
//! challenge, another key, a replayed answer), each written or not as it should be, and
//! removal.

use crate::access::error_code;
use kiroku_access::passkey::soft::Soft;
use kiroku_access::passkey::{decode_base64url, encode_base64url, RelyingParty};
use kiroku_testkit::access::{form_body, form_csrf, web_sign_in};
use kiroku_testkit::{DataDir, Reply, TestServer};
use serde_json::{json, Value};

const PASSWORD: &str = "Osaki#Ledger-2026x";

/// A browser at `localhost`: the session cookie, its CSRF token, and the `Host` it sends.
struct Browser<'a> {
    server: &'a TestServer,
    cookie: String,
    csrf: String,
    host: String,
}

impl Browser<'_> {
    fn relying_party(&self) -> RelyingParty {
        RelyingParty {
            id: "localhost".into(),
            origin: format!("http://{}", self.host),
        }
    }

    fn get(&self, path: &str) -> Reply {
        self.server
            .get_with(path, &[("cookie", &self.cookie), ("host", &self.host)])
    }

    fn post_json(&self, path: &str, body: &Value) -> Reply {
        let body = body.to_string();
        self.server.send(
            "POST",
            path,
            &[
                ("cookie", &self.cookie),
                ("host", &self.host),
                ("content-type", "application/json"),
                ("x-csrf-token", &self.csrf),
            ],
            Some(body.as_bytes()),
        )
    }

    fn post_form(&self, path: &str, fields: &[(&str, &str)]) -> Reply {
        let body = form_body(fields);
        self.server.send(
            "POST",
            path,
            &[
                ("cookie", &self.cookie),
                ("host", &self.host),
                ("content-type", "application/x-www-form-urlencoded"),
            ],
            Some(&body),
        )
    }

    /// The challenge of a ceremony's options.
    fn challenge(&self, path: &str) -> (Value, Vec<u8>) {
        let reply = self.post_json(path, &json!({}));
        assert_eq!(reply.status, 200, "{}", reply.text());
        let options = reply.json();
        let challenge =
            decode_base64url(options["challenge"].as_str().unwrap(), "challenge").unwrap();
        (options, challenge)
    }

    fn register(&self, soft: &Soft, rp: &RelyingParty, challenge: &[u8], label: &str) -> Reply {
        let made = soft.create(rp, challenge);
        self.post_json(
            "/me/passkeys",
            &json!({
                "id": encode_base64url(&made.credential_id),
                "clientDataJSON": encode_base64url(&made.client_data_json),
                "authenticatorData": encode_base64url(&made.authenticator_data),
                "publicKey": encode_base64url(&made.public_key),
                "publicKeyAlgorithm": made.algorithm,
                "label": label,
            }),
        )
    }

    fn assert(&self, soft: &mut Soft, rp: &RelyingParty, challenge: &[u8]) -> Value {
        let made = soft.get(rp, challenge);
        json!({
            "id": encode_base64url(&made.credential_id),
            "clientDataJSON": encode_base64url(&made.client_data_json),
            "authenticatorData": encode_base64url(&made.authenticator_data),
            "signature": encode_base64url(&made.signature),
        })
    }
}

/// Signs `director` in with `password` and returns the browser, at `localhost`.
fn signed_in<'a>(server: &'a TestServer, password: &str) -> Browser<'a> {
    let cookie = web_sign_in(server, "director", password);
    let port = server.base.rsplit(':').next().unwrap();
    let mut browser = Browser {
        server,
        cookie,
        csrf: String::new(),
        host: format!("localhost:{port}"),
    };
    let page = browser.get("/me/password");
    browser.csrf = form_csrf(&page.text());
    browser
}

/// The first sign-in of `director`, with the setup secret: the password chosen, the session
/// then at the required second factor.
fn first_sign_in<'a>(server: &'a TestServer, setup: &str) -> Browser<'a> {
    let browser = signed_in(server, setup);
    let changed = browser.post_form(
        "/me/password",
        &[
            ("csrf", &browser.csrf),
            ("current", setup),
            ("new", PASSWORD),
            ("confirm", PASSWORD),
        ],
    );
    assert_eq!(changed.status, 303, "{}", changed.text());
    browser
}

// Shows passkeys as the required second factor: registration (refused at another site or
// address, with a used challenge, or unconfirmed, and then accepted as one entry), sign-in in
// two steps (refused for another key or a replayed answer, each refusal a counted failure),
// and removal (never of the last factor).
#[test]
fn passkey_registration_sign_in_and_removal() {
    let data = DataDir::hospital_two_factor();
    let setup = data.setup_secret.clone().unwrap();
    let server = TestServer::serve(data);
    let operator = server.operator();

    // The first sign-in: choose a password; a second factor is then required.
    let browser = first_sign_in(&server, &setup);
    let page = browser.get("/me/second-factor");
    assert_eq!(page.status, 200);
    let html = page.text();
    assert!(html.contains("id=\"must-enrol\"") && html.contains("id=\"passkey-register\""));
    assert!(html.contains("src=\"/assets/passkey.js\""));
    let script = server.get("/assets/passkey.js");
    assert_eq!(script.status, 200);
    assert!(script.text().contains("navigator.credentials.create"));

    // At an address passkeys are not scoped to (an IP address, or localhost at another port),
    // they are not offered, and the page names the address where they work.
    let at_ip = server.get_with("/me/second-factor", &[("cookie", &browser.cookie)]);
    assert!(at_ip.text().contains("id=\"passkeys-unavailable\""));
    assert!(at_ip.text().contains(&format!("http://{}", browser.host)));
    for host in ["127.0.0.1", "localhost:1"] {
        let refused = server.send(
            "POST",
            "/me/passkeys/challenge",
            &[
                ("cookie", &browser.cookie),
                ("x-csrf-token", &browser.csrf),
                ("host", host),
            ],
            None,
        );
        assert_eq!(
            (refused.status, error_code(&refused)),
            (409, "passkeys_elsewhere".into()),
            "{host}"
        );
    }
    // Without the session's CSRF token, nothing.
    let no_csrf = server.send(
        "POST",
        "/me/passkeys/challenge",
        &[("cookie", &browser.cookie), ("host", &browser.host)],
        None,
    );
    assert_eq!(no_csrf.status, 403, "{}", no_csrf.text());

    // The options: this host, ES256, EdDSA and RS256 (in that order), the account's handle
    // (not its id).
    let rp = browser.relying_party();
    let (options, challenge) = browser.challenge("/me/passkeys/challenge");
    assert_eq!(options["rp"]["id"], "localhost");
    let algorithms: Vec<i64> = options["pubKeyCredParams"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["alg"].as_i64().unwrap())
        .collect();
    assert_eq!(algorithms, [-7, -8, -257]);
    assert_eq!(options["attestation"], "none");
    assert_eq!(challenge.len(), 32);
    assert_eq!(options["user"]["name"], "director");
    assert!(!options["user"]["id"].as_str().unwrap().contains("director"));

    let soft = Soft::new(3);
    let size = operator.tree_size();
    // Made at another site: refused, and the challenge is spent.
    let evil = RelyingParty {
        id: "localhost".into(),
        origin: "http://evil.example".into(),
    };
    let wrong = browser.register(&soft, &evil, &challenge, "ノート PC");
    assert_eq!(
        (wrong.status, error_code(&wrong)),
        (422, "passkey_wrong_site".into())
    );
    let again = browser.register(&soft, &rp, &challenge, "ノート PC");
    assert_eq!(
        (again.status, error_code(&again)),
        (409, "no_passkey_challenge".into()),
        "a challenge is answered once"
    );
    let (_, challenge) = browser.challenge("/me/passkeys/challenge");
    let unnamed = browser.register(&soft, &rp, &challenge, " ");
    assert_eq!(
        (unnamed.status, error_code(&unnamed)),
        (422, "passkey_label".into())
    );
    assert_eq!(operator.tree_size(), size, "nothing written");
    assert_eq!(
        browser.get("/me").header("location"),
        Some("/me/second-factor"),
        "still required"
    );

    let (_, challenge) = browser.challenge("/me/passkeys/challenge");
    let registered = browser.register(&soft, &rp, &challenge, "ノート PC");
    assert_eq!(registered.status, 201, "{}", registered.text());
    assert_eq!(registered.json()["next"], "/me/second-factor");
    assert_eq!(
        operator.tree_size(),
        size + 2,
        "the registration is an entry, and so is the session's state, now free to act"
    );
    assert_eq!(browser.get("/me").status, 200, "the requirement is met");
    let page = browser.get("/me/second-factor").text();
    assert!(
        page.contains("class=\"passkey-label\">ノート PC<"),
        "{page}"
    );
    // The same key again is excluded by the options, and refused if offered anyway.
    let (options, challenge) = browser.challenge("/me/passkeys/challenge");
    assert_eq!(
        options["excludeCredentials"][0]["id"],
        encode_base64url(&soft.id)
    );
    let twice = browser.register(&soft, &rp, &challenge, "もう一度");
    assert_eq!(
        (twice.status, error_code(&twice)),
        (409, "passkey_registered".into())
    );
    let history = operator.get("/api/access/accounts/director").text();
    assert!(history.contains("passkey_registered"));

    // A later sign-in: the password, then the passkey. No code form without a TOTP.
    let mut soft = soft;
    let browser = signed_in(&server, PASSWORD);
    assert_eq!(
        browser.get("/me").header("location"),
        Some("/sign-in/second-factor")
    );
    let step = browser.get("/sign-in/second-factor").text();
    assert!(step.contains("id=\"passkey-sign-in\"") && !step.contains("id=\"second-factor\""));
    let (options, challenge) = browser.challenge("/sign-in/passkey/challenge");
    assert_eq!(options["rpId"], "localhost");
    assert_eq!(
        options["allowCredentials"][0]["id"],
        encode_base64url(&soft.id)
    );
    // Another key under the same credential id: a failure, counted (one entry).
    let mut other = Soft::new(9);
    other.id = soft.id.clone();
    let size = operator.tree_size();
    let forged = browser.assert(&mut other, &rp, &challenge);
    let reply = browser.post_json("/sign-in/passkey", &forged);
    assert_eq!(
        (reply.status, error_code(&reply)),
        (401, "passkey_failed".into())
    );
    assert_eq!(operator.tree_size(), size + 1, "the failure is recorded");
    let (_, challenge) = browser.challenge("/sign-in/passkey/challenge");
    let answer = browser.assert(&mut soft, &rp, &challenge);
    let reply = browser.post_json("/sign-in/passkey", &answer);
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert_eq!(reply.json()["next"], "/me");
    assert_eq!(
        operator.tree_size(),
        size + 4,
        "the success, the key's counter and the session now free to act, together"
    );
    assert_eq!(browser.get("/me").status, 200);

    // The same answer replayed in another session: its challenge is not this session's.
    let replaying = signed_in(&server, PASSWORD);
    let _ = replaying.challenge("/sign-in/passkey/challenge");
    let reply = replaying.post_json("/sign-in/passkey", &answer);
    assert_eq!(reply.status, 401, "{}", reply.text());
    assert_eq!(
        replaying.get("/me").header("location"),
        Some("/sign-in/second-factor")
    );

    // Removal, by the signed-in account: never the last factor, so a lost key is replaced by
    // registering another first.
    let remove = |credential: &[u8]| {
        browser.post_form(
            "/me/passkeys/removal",
            &[
                ("csrf", &browser.csrf),
                ("credential", &encode_base64url(credential)),
            ],
        )
    };
    let size = operator.tree_size();
    let last = remove(&soft.id);
    assert_eq!(last.status, 409, "{}", last.text());
    assert!(last.text().contains("最後の二要素認証は削除できません"));
    let spare = Soft::new(4);
    let (_, challenge) = browser.challenge("/me/passkeys/challenge");
    let registered = browser.register(&spare, &rp, &challenge, "予備のキー");
    assert_eq!(registered.status, 201, "{}", registered.text());
    let removed = remove(&soft.id);
    assert_eq!(removed.status, 303, "{}", removed.text());
    assert_eq!(operator.tree_size(), size + 2);
    let page = browser.get("/me/second-factor").text();
    assert!(page.contains("予備のキー") && !page.contains("ノート PC"));
    assert!(operator
        .get("/api/access/accounts/director")
        .text()
        .contains("passkey_removed"));
    // The removed key no longer signs in; the spare does.
    let later = signed_in(&server, PASSWORD);
    let (_, challenge) = later.challenge("/sign-in/passkey/challenge");
    let reply = later.post_json(
        "/sign-in/passkey",
        &later.assert(&mut soft, &rp, &challenge),
    );
    assert_eq!(reply.status, 401, "{}", reply.text());
    let mut spare = spare;
    let (_, challenge) = later.challenge("/sign-in/passkey/challenge");
    let reply = later.post_json(
        "/sign-in/passkey",
        &later.assert(&mut spare, &rp, &challenge),
    );
    assert_eq!(reply.status, 200, "{}", reply.text());
}

// Shows the configured public URL at work: behind a TLS proxy, cookies are marked Secure and
// cleared at the path they were set at, and passkeys are scoped to the public host name
// whatever `Host` a request names.
#[test]
fn public_url_scopes_passkeys_and_secures_cookies() {
    let data = DataDir::hospital_two_factor();
    let setup = data.setup_secret.clone().unwrap();
    let mut config = kiroku_app::config::Config::load(&data.path).unwrap();
    config.public_url = Some("https://kiroku.osaki-hospital.example".into());
    config.save(&data.path).unwrap();
    let server = TestServer::serve(data);

    let form = server.get("/sign-in");
    let cookie = form.header("set-cookie").unwrap();
    assert!(
        cookie.contains("; Path=/sign-in;") && cookie.ends_with("; Secure"),
        "{cookie}"
    );
    let browser = first_sign_in(&server, &setup);
    // Asked as localhost (or anything else), the options name the public host.
    let (options, _) = browser.challenge("/me/passkeys/challenge");
    assert_eq!(options["rp"]["id"], "kiroku.osaki-hospital.example");
    let signed_out = browser.post_form("/sign-out", &[("csrf", &browser.csrf)]);
    assert_eq!(signed_out.status, 303);
    let cleared = signed_out.header("set-cookie").unwrap();
    assert!(
        cleared.starts_with("kiroku_session=; Path=/;")
            && cleared.contains("Secure")
            && cleared.ends_with("Max-Age=0"),
        "{cleared}"
    );
}
