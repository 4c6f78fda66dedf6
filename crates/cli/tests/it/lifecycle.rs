//! The lifecycle of access end to end, on the demo hospital: status-change reports (Art. 12(5))
//! by the user or the department head, received and handled by the operations manager and the
//! department's head; and an access review — opened by the administrator, decided member by
//! member by department heads (a revocation suspends at once), closed at its deadline with every
//! undecided member suspended.

use crate::access::error_code;
use crate::support::{block, run_on, stdout};
use kiroku_access::role::Role;
use kiroku_testkit::access::{form_body, form_csrf, web_sign_in};
use kiroku_testkit::{DataDir, Reply, TestServer};
use serde_json::{json, Value};

pub(crate) const PASSWORD: &str = "Lifecycle#Review-2026";

/// A signed-in caller of the API: the session cookie and its CSRF token.
struct Api<'a> {
    server: &'a TestServer,
    cookie: String,
    csrf: String,
}

impl<'a> Api<'a> {
    fn sign_in(server: &'a TestServer, account: &str) -> Api<'a> {
        let cookie = web_sign_in(server, account, PASSWORD);
        let me = server.get_with("/me", &[("cookie", &cookie)]);
        assert_eq!(me.status, 200, "{account}: {}", me.text());
        Api {
            server,
            csrf: form_csrf(&me.text()),
            cookie,
        }
    }

    fn send(&self, method: &str, path: &str, body: Option<Value>) -> Reply {
        let body = body.map(|b| b.to_string().into_bytes());
        self.server.send(
            method,
            path,
            &[
                ("cookie", &self.cookie),
                ("x-csrf-token", &self.csrf),
                ("content-type", "application/json"),
            ],
            body.as_deref(),
        )
    }

    fn post(&self, path: &str, body: Value) -> Reply {
        self.send("POST", path, Some(body))
    }

    fn get(&self, path: &str) -> Reply {
        self.send("GET", path, None)
    }

    fn form(&self, path: &str, fields: &[(&str, &str)]) -> Reply {
        let mut fields = fields.to_vec();
        fields.push(("csrf", &self.csrf));
        self.server.send(
            "POST",
            path,
            &[
                ("cookie", &self.cookie),
                ("content-type", "application/x-www-form-urlencoded"),
            ],
            Some(&form_body(&fields)),
        )
    }
}

/// Who is who in the demo hospital.
pub(crate) struct Cast {
    pub nursing_head: String,
    surgery_head: String,
    operations: String,
    auditor: String,
    pub nurses: Vec<String>,
}

/// The demo hospital, every account with the password [`PASSWORD`].
pub(crate) fn hospital() -> (DataDir, Cast) {
    let data = DataDir::hospital();
    let setup = data.setup_secret.clone().unwrap();
    let app = data.open();
    let secrets = block(kiroku_demo::hospital::seed_hospital(&app)).unwrap();
    block(async {
        for (account, secret) in secrets
            .iter()
            .map(|(a, s)| (a.as_str(), s.as_str()))
            .chain(std::iter::once(("director", setup.as_str())))
        {
            let signed = app.access().sign_in(account, secret).await.unwrap();
            app.access()
                .change_password(&signed.token, secret, PASSWORD)
                .await
                .unwrap();
        }
    });
    let held = block(app.access().appointments()).unwrap();
    let holder = |role: Role, department: Option<&str>| {
        held.iter()
            .find(|h| h.role == role && h.department.as_deref() == department)
            .unwrap()
            .account
            .clone()
    };
    let nursing_head = holder(Role::MonitoringManager, Some("nursing"));
    let accounts = block(app.access().accounts(None, 1000)).unwrap();
    let nurses = accounts
        .iter()
        .filter(|a| {
            a.profile.department == "nursing"
                && !held.iter().any(|h| h.account == a.profile.account)
        })
        .map(|a| a.profile.account.clone())
        .collect::<Vec<_>>();
    assert!(nurses.len() >= 3, "{nurses:?}");
    let cast = Cast {
        surgery_head: holder(Role::MonitoringManager, Some("surgery")),
        operations: holder(Role::OperationsManager, None),
        auditor: held
            .iter()
            .find(|h| h.role == Role::Auditor && h.account != nursing_head)
            .unwrap()
            .account
            .clone(),
        nursing_head,
        nurses,
    };
    app.shutdown();
    (data, cast)
}

fn status(server: &TestServer, account: &str) -> String {
    server
        .operator()
        .get(&format!("/api/access/accounts/{account}"))
        .json()["status"]
        .as_str()
        .unwrap()
        .to_owned()
}

// Shows status-change reports: a user reports their own change and the department head a
// member's, others may not report on someone else; the reports reach the operations manager
// and the department's head (not other heads, not auditors, not the reporter about
// themselves); each is handled once; a bad report writes nothing; the web form works.
#[test]
fn status_change_reports_reach_their_managers() {
    let (data, cast) = hospital();
    let server = TestServer::serve(data);
    let nurse = Api::sign_in(&server, &cast.nurses[0]);
    let own = nurse.post(
        "/api/access/reports",
        json!({"account": cast.nurses[0], "change": "changed", "details": "2027年4月1日付で外科病棟へ異動"}),
    );
    assert_eq!(own.status, 201, "{}", own.text());
    let own_id = own.json()["entry"].as_u64().unwrap();
    let other = nurse.post(
        "/api/access/reports",
        json!({"account": cast.nurses[1], "change": "eligibility", "details": "退職したと聞いた"}),
    );
    assert_eq!(
        (other.status, error_code(&other).as_str()),
        (403, "policy_denied")
    );
    let before = server.operator().tree_size();
    let bad = nurse.post(
        "/api/access/reports",
        json!({"account": cast.nurses[0], "change": "promoted", "details": "x"}),
    );
    assert_eq!(error_code(&bad), "invalid_field");
    let empty = nurse.post(
        "/api/access/reports",
        json!({"account": cast.nurses[0], "change": "changed", "details": "  "}),
    );
    assert_eq!(error_code(&empty), "invalid_field");
    assert_eq!(server.operator().tree_size(), before, "nothing written");
    assert_eq!(nurse.get("/api/access/reports").status, 403);

    let head = Api::sign_in(&server, &cast.nursing_head);
    let by_head = head.post(
        "/api/access/reports",
        json!({"account": cast.nurses[1], "change": "eligibility", "details": "2026年12月31日付で退職"}),
    );
    assert_eq!(by_head.status, 201, "{}", by_head.text());
    let head_id = by_head.json()["entry"].as_u64().unwrap();

    // The operations manager sees both and handles the first, once.
    let operations = Api::sign_in(&server, &cast.operations);
    let listed = operations.get("/api/access/reports").json();
    let ids: Vec<u64> = listed["reports"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["report"].as_u64().unwrap())
        .collect();
    assert!(ids.contains(&own_id) && ids.contains(&head_id), "{ids:?}");
    let handled = operations.post(
        &format!("/api/access/reports/{own_id}/handling"),
        json!({"note": "所属変更の申請を案内した"}),
    );
    assert_eq!(handled.status, 201, "{}", handled.text());
    let again = head.post(
        &format!("/api/access/reports/{own_id}/handling"),
        json!({"note": "二重"}),
    );
    assert_eq!(again.status, 409, "{}", again.text());

    // Another department's head and an auditor may not handle nursing's report.
    let surgery = Api::sign_in(&server, &cast.surgery_head);
    let path = format!("/api/access/reports/{head_id}/handling");
    assert_eq!(
        error_code(&surgery.post(&path, json!({"note": "x"}))),
        "policy_denied"
    );
    let auditor = Api::sign_in(&server, &cast.auditor);
    let by_auditor = auditor.post(&path, json!({"note": "x"}));
    assert_eq!(
        by_auditor.status,
        403,
        "{} {}",
        cast.auditor,
        by_auditor.text()
    );
    let done = head.post(&path, json!({"note": "退職日に利用終了とする"}));
    assert_eq!(done.status, 201, "{}", done.text());
    let report = operations.get("/api/access/reports").json()["reports"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["report"] == head_id)
        .unwrap()
        .clone();
    assert_eq!(report["handled"]["by"], cast.nursing_head.as_str());

    // The account's history shows the report; the web form files one too.
    let history = server
        .operator()
        .get(&format!("/api/access/accounts/{}", cast.nurses[0]))
        .text();
    assert!(history.contains("reported:changed"), "{history}");
    let page = server.get_with("/reports", &[("cookie", &nurse.cookie)]);
    assert_eq!(page.status, 200);
    assert!(page.text().contains("id=\"report-form\""));
    let posted = nurse.form(
        "/reports",
        &[
            ("account", &cast.nurses[0]),
            ("change", "no_longer_needed"),
            ("details", "研究期間の終了"),
        ],
    );
    assert_eq!(posted.status, 303, "{}", posted.text());
    let received = server.get_with("/reports", &[("cookie", &operations.cookie)]);
    assert!(received.text().contains("研究期間の終了"));
    let data = server.stop();
    assert_eq!(data.verify(), None);
}

// Shows an access review: the administrator opens it over every active account; the nursing
// head confirms one member and revokes another (suspended at once), may not decide on another
// department or on themselves, and decides each member once; the review cannot be closed before
// its deadline nor decided after it; closing it suspends every undecided member in one request,
// and closing again is refused.
#[test]
fn access_review_confirm_revoke_and_close_at_the_deadline() {
    let (data, cast) = hospital();
    let server = TestServer::serve(data);
    let operator = server.operator();
    let past = operator.post("/api/access/reviews", &json!({"deadline": "2020-01-01"}));
    assert_eq!(error_code(&past), "invalid_field");
    let now = kiroku_core::Timestamp::from_micros(
        i64::try_from(
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_micros(),
        )
        .unwrap(),
    )
    .unwrap();
    let seconds = 6;
    let deadline = kiroku_core::Timestamp::from_micros(now.micros() + seconds * 1_000_000).unwrap();
    let opened = operator.post(
        "/api/access/reviews",
        &json!({"deadline": deadline.to_string()}),
    );
    assert_eq!(opened.status, 201, "{}", opened.text());
    let review = opened.json()["entry"].as_u64().unwrap();
    let view = operator
        .get(&format!("/api/access/reviews/{review}"))
        .json();
    let members = view["members"].as_u64().unwrap();
    assert!(members >= 50, "{members}");
    assert_eq!(view["undecided"], members);

    let head = Api::sign_in(&server, &cast.nursing_head);
    let decisions = format!("/api/access/reviews/{review}/decisions");
    let confirmed = head.post(
        &decisions,
        json!({"account": cast.nurses[0], "decision": "confirmed"}),
    );
    assert_eq!(confirmed.status, 201, "{}", confirmed.text());
    let no_reason = head.post(
        &decisions,
        json!({"account": cast.nurses[1], "decision": "revoked"}),
    );
    assert_eq!(error_code(&no_reason), "reason_missing");
    let revoked = head.post(
        &decisions,
        json!({"account": cast.nurses[1], "decision": "revoked", "reason": "異動済みで不要"}),
    );
    assert_eq!(revoked.status, 201, "{}", revoked.text());
    assert_eq!(status(&server, &cast.nurses[1]), "suspended");
    let twice = head.post(
        &decisions,
        json!({"account": cast.nurses[0], "decision": "revoked", "reason": "やはり"}),
    );
    assert_eq!(twice.status, 409, "{}", twice.text());
    let foreign = head.post(
        &decisions,
        json!({"account": cast.surgery_head, "decision": "confirmed"}),
    );
    assert_eq!(foreign.status, 403, "{}", foreign.text());
    let own = head.post(
        &decisions,
        json!({"account": cast.nursing_head, "decision": "confirmed"}),
    );
    assert_eq!(own.status, 403, "{}", own.text());
    // The operator (with the administrator's powers) confirms the nursing head and the
    // director, so that governance survives the closure.
    for account in [cast.nursing_head.as_str(), "director"] {
        let reply = operator.post(
            &decisions,
            &json!({"account": account, "decision": "confirmed"}),
        );
        assert_eq!(reply.status, 201, "{}", reply.text());
    }

    // The review's page shows the head's forms for undecided nurses only.
    let page = server.get_with(&format!("/reviews/{review}"), &[("cookie", &head.cookie)]);
    assert_eq!(page.status, 200);
    let html = page.text();
    assert!(html.contains(&format!("/members/{}/confirm", cast.nurses[2])));
    assert!(!html.contains(&format!("/members/{}/confirm", cast.surgery_head)));

    // Not before the deadline; then nothing more may be decided.
    let closure = format!("/api/access/reviews/{review}/closure");
    assert_eq!(
        error_code(&operator.post(&closure, &json!({}))),
        "wrong_state"
    );
    let wait = deadline.micros() - now.micros() + 500_000;
    std::thread::sleep(std::time::Duration::from_micros(
        u64::try_from(wait).unwrap(),
    ));
    let late = head.post(
        &decisions,
        json!({"account": cast.nurses[2], "decision": "confirmed"}),
    );
    assert_eq!(error_code(&late), "wrong_state");
    let closed = operator.post(&closure, &json!({}));
    assert_eq!(closed.status, 201, "{}", closed.text());
    let view = operator
        .get(&format!("/api/access/reviews/{review}"))
        .json();
    // Four decided (two confirmed by the head and operator each… and one revoked).
    let undecided = view["undecided"].as_u64().unwrap();
    assert_eq!(undecided, members - 4);
    assert_eq!(view["closed"]["suspended"], undecided);
    assert_eq!(status(&server, &cast.nurses[0]), "active", "confirmed");
    assert_eq!(status(&server, &cast.nurses[2]), "suspended", "undecided");
    assert_eq!(status(&server, &cast.operations), "suspended", "undecided");
    assert_eq!(status(&server, "director"), "active", "confirmed");
    assert_eq!(
        error_code(&operator.post(&closure, &json!({}))),
        "wrong_state"
    );
    let history = operator
        .get(&format!("/api/access/accounts/{}", cast.nurses[2]))
        .json();
    let last = history["history"]
        .as_array()
        .unwrap()
        .last()
        .unwrap()
        .clone();
    assert_eq!(last["event"], "suspended");
    assert!(last["reason"].as_str().unwrap().contains("access review"));

    // The command line finds nothing more to close.
    let data = server.stop();
    let due = run_on(&data, &["review", "close-due"], &[]);
    assert!(due.status.success());
    assert!(stdout(&due).contains("no access review is past its deadline"));
    assert_eq!(data.verify(), None);
}

// Shows an approved application laid out as the prescribed paper form: its fields, the head's
// endorsement and the administrator's approval with their dates (with the Japanese era), and
// the same in English; only the registers' readers (or its applicant) may see it. Then an
// account's page, whose administrator forms suspend and reinstate the account.
#[test]
fn an_application_prints_as_the_paper_form_and_an_account_page_changes_status() {
    let (data, cast) = hospital();
    let server = TestServer::serve(data);
    let approved = server
        .operator()
        .get("/api/access/applications?state=approved")
        .json();
    let application = approved["applications"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["steps"].as_array().is_some_and(|s| s.len() == 3))
        .unwrap_or_else(|| panic!("an endorsed and approved application: {approved}"))
        .clone();
    let id = application["application"].as_u64().unwrap();
    let account = application["profile"]["account"].as_str().unwrap();
    let director = Api::sign_in(&server, "director");
    let page = server.get_with(
        &format!("/applications/{id}/print"),
        &[("cookie", &director.cookie)],
    );
    assert_eq!(page.status, 200, "{}", page.text());
    let html = page.text();
    assert!(html.contains("総合運営システム利用者 ID 申請書"));
    assert!(html.contains(account));
    assert!(html.contains("令和"), "the era year is given");
    assert!(html.contains("director"), "the approver's box");
    let english = server.get_with(
        &format!("/applications/{id}/print?lang=en"),
        &[("cookie", &director.cookie)],
    );
    assert!(english.text().contains("ID application"));
    let nurse = Api::sign_in(&server, &cast.nurses[2]);
    let refused = server.get_with(
        &format!("/applications/{id}/print"),
        &[("cookie", &nurse.cookie)],
    );
    assert_eq!(refused.status, 403);

    // An account's page: its history, and the administrator's forms that change its status.
    let target = &cast.nurses[1];
    let account_page = server.get_with(
        &format!("/accounts/{target}"),
        &[("cookie", &director.cookie)],
    );
    assert_eq!(account_page.status, 200);
    assert!(account_page
        .text()
        .contains(&format!("/accounts/{target}/suspend")));
    let version = server
        .operator()
        .get(&format!("/api/access/accounts/{target}"))
        .json()["version"]
        .as_u64()
        .unwrap()
        .to_string();
    let unknown = director.form(
        &format!("/accounts/{target}/erase"),
        &[("version", &version), ("reason", "x")],
    );
    assert_eq!(unknown.status, 404);
    let suspended = director.form(
        &format!("/accounts/{target}/suspend"),
        &[("version", &version), ("reason", "監査での指摘")],
    );
    assert_eq!(suspended.status, 303, "{}", suspended.text());
    assert_eq!(status(&server, target), "suspended");
    let next = (version.parse::<u64>().unwrap() + 1).to_string();
    let reinstated = director.form(
        &format!("/accounts/{target}/reinstate"),
        &[("version", &next), ("reason", "是正済み")],
    );
    assert_eq!(reinstated.status, 303, "{}", reinstated.text());
    assert_eq!(status(&server, target), "active");
    assert_eq!(nurse.get("/me").status, 200);
}
