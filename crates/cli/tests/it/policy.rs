//! The access policy's lifecycle end to end: version 1 adopted at init; a draft that fails
//! validation (or would lock the administrators out) refused with nothing written; a proposal,
//! its author refused as approver, a stale approval refused, the approval by another system
//! administrator; the policy in force now and at a past time, over HTTP and from `kiroku policy
//! show`; `kiroku policy validate`; and the explainer naming the policy that decided.

use crate::access::error_code;
use crate::support::{run, run_on, stdout};
use kiroku_testkit::access::web_sign_in;
use kiroku_testkit::{DataDir, TestServer};
use serde_json::json;

const STUDENTS_READ_NOTHING: &str = r#"
@id("students-read-nothing")
forbid (principal, action in [Kiroku::Action::"ReadPatient", Kiroku::Action::"ReadRecord"], resource)
when { principal.job_type == "student" };
"#;

// Shows a policy version proposed by the operator and approved by the director, with every
// refusal on the way writing nothing, and the versions in force now and before, by HTTP and CLI.
#[test]
fn policy_versions_are_proposed_validated_approved_and_shown_at_a_time() {
    let data = DataDir::hospital();
    let setup = data.setup_secret.clone().unwrap();
    let server = TestServer::serve(data);
    let operator = server.operator();

    let versions = operator.get("/api/policy/versions").json();
    assert_eq!(versions["in_force"], 1);
    assert_eq!(versions["versions"][0]["proposed_by"], "system");
    let v1 = operator.get("/api/policy/versions/1").json();
    let default_text = v1["text"].as_str().unwrap().to_owned();
    assert!(default_text.contains("@id(\"staff-write-their-records\")"));
    let stream = versions["version"].as_u64().unwrap();

    // Drafts that fail are not saved.
    let size = operator.tree_size();
    for (text, code) in [
        (
            r#"@id("x") permit(principal, action, resource) when { principal.shoe_size == 3 };"#
                .to_owned(),
            "policy_invalid",
        ),
        ("permit(principal, action,".to_owned(), "policy_invalid"),
        (
            r#"@id("read") permit(principal, action == Kiroku::Action::"ReadRecord", resource);"#
                .to_owned(),
            "policy_locks_out",
        ),
    ] {
        let reply = operator.post(
            "/api/policy/versions",
            &json!({"version": stream, "text": text, "reason": "試し"}),
        );
        assert_eq!(
            (reply.status, error_code(&reply)),
            (422, code.into()),
            "{text}"
        );
        let message = reply.json()["error"]["message"]
            .as_str()
            .unwrap()
            .to_owned();
        assert!(!message.is_ascii(), "Japanese by default: {message}");
    }
    let no_reason = operator.post(
        "/api/policy/versions",
        &json!({"version": stream, "text": default_text, "reason": " "}),
    );
    assert_eq!(error_code(&no_reason), "reason_missing");
    assert_eq!(operator.tree_size(), size, "nothing was written");

    // The operator proposes version 2: students read nothing.
    let text = format!("{default_text}{STUDENTS_READ_NOTHING}");
    let proposed = operator.post(
        "/api/policy/versions",
        &json!({"version": stream, "text": text, "reason": "学生の閲覧を停止"}),
    );
    assert_eq!(proposed.status, 201, "{}", proposed.text());
    assert_eq!(proposed.json()["number"], 2);
    let before_approval = proposed.json()["time"].as_str().unwrap().to_owned();
    let stream = stream + 1;
    // Its author does not approve it; a stale version is refused.
    let own = operator.post(
        "/api/policy/versions/2/approval",
        &json!({"version": stream}),
    );
    assert_eq!(
        (own.status, error_code(&own)),
        (403, "separation_of_duties".into())
    );

    // The director signs in, chooses a password, and approves it from the page's form.
    let cookie = first_password(&server, &setup);
    let page = server.get_with("/policy/versions/2", &[("cookie", &cookie)]);
    assert_eq!(page.status, 200);
    assert!(page.text().contains("students-read-nothing"));
    let csrf = kiroku_testkit::access::form_csrf(&page.text());
    let form = |version: u64| format!("csrf={csrf}&version={version}").into_bytes();
    let headers = [
        ("cookie", cookie.as_str()),
        ("content-type", "application/x-www-form-urlencoded"),
    ];
    let stale = server.send(
        "POST",
        "/policy/versions/2/approve",
        &headers,
        Some(&form(stream - 1)),
    );
    assert_eq!(stale.status, 409, "{}", stale.text());
    let approved = server.send(
        "POST",
        "/policy/versions/2/approve",
        &headers,
        Some(&form(stream)),
    );
    assert_eq!(approved.status, 303, "{}", approved.text());
    let versions = operator.get("/api/policy/versions").json();
    assert_eq!(versions["in_force"], 2);
    assert_eq!(versions["versions"][0]["state"], "approved");
    assert_eq!(versions["versions"][0]["decided_by"], "director");

    // In force now, and at a past time.
    let now = operator.get("/api/policy/in-force").json();
    assert_eq!(now["number"], 2);
    let at = url_encode(&before_approval);
    let then = operator
        .get(&format!("/api/policy/in-force?at={at}"))
        .json();
    assert_eq!(then["number"], 1, "{then}");
    let bad = operator.get("/api/policy/in-force?at=yesterday");
    assert_eq!(error_code(&bad), "bad_time");
    let page = server.get_with(&format!("/policy?at={at}"), &[("cookie", &cookie)]);
    assert!(page.text().contains("id=\"policy-shown-number\">1<"));
    // The language switch link of the page works.
    let english = server.get_with("/policy?lang=en", &[("cookie", &cookie)]);
    assert_eq!(english.status, 200, "{}", english.text());
    assert!(english.text().contains("Access policy"));

    // The explainer names the policy that decided, by the version in force.
    let answer = operator
        .get("/api/policy/decision?account=director&action=ReadRecord&category=medical")
        .json();
    assert_eq!(answer["allowed"], false);
    assert_eq!(answer["version"], 2);
    let answer = operator
        .get("/api/policy/decision?account=director&action=ProposePolicy")
        .json();
    assert_eq!(answer["allowed"], true);
    assert_eq!(answer["policies"][0]["id"], "administrator-governs");
    assert!(answer["policies"][0]["text"]
        .as_str()
        .unwrap()
        .contains("system_administrator"));
    let page = server.get_with(
        "/policy/explain?account=director&action=WriteRecord&category=nursing",
        &[("cookie", &cookie)],
    );
    assert!(page.text().contains("id=\"verdict\""), "{}", page.text());

    // The CLI shows the same, now and before.
    let data = server.stop();
    let shown = run_on(&data, &["policy", "show"], &["--json"]);
    assert!(shown.status.success(), "{}", crate::support::stderr(&shown));
    let shown: serde_json::Value = serde_json::from_slice(&shown.stdout).unwrap();
    assert_eq!(shown["number"], 2);
    assert_eq!(shown["approved_by"], "director");
    let before = run_on(&data, &["policy", "show"], &["--at", &before_approval]);
    assert!(
        stdout(&before).starts_with("policy version 1 in force since"),
        "{}",
        stdout(&before)
    );
    let bad = run_on(&data, &["policy", "show"], &["--at", "soon"]);
    assert!(!bad.status.success());

    // `kiroku policy validate` checks a file without a data directory.
    let dir = tempdir();
    let good = dir.join("good.cedar");
    std::fs::write(&good, &text).unwrap();
    let ok = run(&["policy", "validate", good.to_str().unwrap()]);
    assert!(ok.status.success());
    assert!(stdout(&ok).contains("students-read-nothing"));
    let broken = dir.join("bad.cedar");
    std::fs::write(
        &broken,
        "@id(\"x\") permit(principal, action, resource) when { principal.shoe == 1 };",
    )
    .unwrap();
    let refused = run(&["policy", "validate", broken.to_str().unwrap()]);
    assert_eq!(refused.status.code(), Some(1));
    assert!(crate::support::stderr(&refused).contains("shoe"));
    let _ = std::fs::remove_dir_all(&dir);
}

fn tempdir() -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("kiroku-policy-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn url_encode(text: &str) -> String {
    text.replace(':', "%3A").replace('+', "%2B")
}

/// Signs the director in with the setup secret and sets a password; returns the session cookie.
fn first_password(server: &TestServer, setup: &str) -> String {
    let cookie = web_sign_in(server, "director", setup);
    let page = server.get_with("/me/password", &[("cookie", &cookie)]);
    let csrf = kiroku_testkit::access::form_csrf(&page.text());
    let body = format!(
        "csrf={csrf}&current={}&new=Osaki%23Ledger-2026x&confirm=Osaki%23Ledger-2026x",
        url_encode_all(setup)
    );
    let reply = server.send(
        "POST",
        "/me/password",
        &[
            ("cookie", cookie.as_str()),
            ("content-type", "application/x-www-form-urlencoded"),
        ],
        Some(body.as_bytes()),
    );
    assert_eq!(reply.status, 303, "{}", reply.text());
    web_sign_in(server, "director", "Osaki#Ledger-2026x")
}

fn url_encode_all(text: &str) -> String {
    text.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}
