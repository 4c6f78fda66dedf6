//! People and access through the use cases: the first administrator made by init, code lists,
//! ID applications through endorsement and approval, separation of duties, the approval race,
//! and suspension — on the selected backend, with the ledger verified at the end.

use crate::support::block;
use kiroku_access::account::{Category, Profile, Status, StatusStep};
use kiroku_access::application::{ApplicationForm, State};
use kiroku_access::department::{Code, CodeList};
use kiroku_access::role::{Appointment, Role};
use kiroku_access::AccessError;
use kiroku_app::{App, Error};
use kiroku_core::{AccountId, Actor, Date, EntryIndex};
use kiroku_testkit::access::{form_body, form_csrf, set_cookie, web_sign_in};
use kiroku_testkit::{DataDir, TestServer};

pub(crate) fn actor(account: &str) -> Actor {
    Actor {
        account: AccountId::parse(account).unwrap(),
        session: Some("test".into()),
    }
}

pub(crate) fn today(app: &App) -> Date {
    Date::in_japan(app.clock().now().unwrap())
}

pub(crate) fn code(code: &str, ja: &str, en: &str) -> Code {
    Code {
        code: code.into(),
        name_ja: ja.into(),
        name_en: en.into(),
        active: true,
    }
}

pub(crate) fn form(app: &App, account: &str, department: &str, job_type: &str) -> ApplicationForm {
    let today = today(app);
    ApplicationForm {
        profile: Profile {
            account: account.into(),
            family_name: "試験".into(),
            given_name: "太郎".into(),
            family_kana: "シケン".into(),
            given_kana: "タロウ".into(),
            staff_number: None,
            department: department.into(),
            job_type: job_type.into(),
            category: Category::MedicalStaff,
            permitted_by: None,
            category_reason: None,
            valid_from: today,
            valid_until: today.plus_days(365).unwrap(),
        },
        justification: "業務のため".into(),
    }
}

/// Issues `account` through an application the operator fills in and the director approves
/// (the department has no head yet, so no endorsement is needed).
async fn issue_directly(app: &App, account: &str, department: &str) {
    let submitted = app
        .access()
        .submit_application(
            Actor::operator("test"),
            form(app, account, department, "nurse"),
        )
        .await
        .unwrap();
    app.access()
        .approve_application(actor("director"), submitted.entry, 1)
        .await
        .unwrap();
}

// Shows the first administrator that init issued: an active account in the information
// systems office, holding the system administrator's role from today, with its history.
#[test]
fn init_issues_the_first_administrator() {
    let data = DataDir::hospital();
    let app = data.open();
    let view = block(app.access().account("director")).unwrap();
    assert_eq!(view.state.status, Status::Active);
    assert_eq!(view.state.version, 1);
    assert_eq!(view.profile.department, "information-systems");
    assert_eq!(view.roles.len(), 1);
    assert_eq!(view.roles[0].role, Role::SystemAdministrator);
    assert!(view.roles[0].in_force(today(&app)));
    let events: Vec<(&str, &str)> = view
        .history
        .iter()
        .map(|e| (e.event.as_str(), e.by.as_str()))
        .collect();
    assert_eq!(
        events,
        [
            ("appointed:system_administrator", "system"),
            ("issued", "system"),
            ("initial_secret_issued", "system")
        ]
    );
    app.shutdown();
    assert_eq!(data.verify(), None);
}

// Shows an application's whole path — submitted by a department clerk, endorsed by the head of
// the department, approved by the administrator — with separation of duties refused at each
// step, and two administrators approving one application at once: exactly one wins, and the
// other is refused with nothing written. Then suspension and reinstatement, with stale views
// refused and a suspended account unable to act.
#[test]
fn applications_endorsement_approval_and_suspension() {
    let data = DataDir::hospital();
    let app = data.open();
    block(async {
        let director = actor("director");
        for (list, c) in [
            (CodeList::Department, code("nursing", "看護部", "Nursing")),
            (CodeList::JobType, code("nurse", "看護師", "Nurse")),
        ] {
            app.access()
                .define_code(director.clone(), list, c)
                .await
                .unwrap();
        }
        // Only the administrator keeps the code lists.
        issue_directly(&app, "head.nursing", "nursing").await;
        let refused = app
            .access()
            .define_code(
                actor("head.nursing"),
                CodeList::Department,
                code("surgery", "外科", "Surgery"),
            )
            .await
            .unwrap_err();
        assert!(matches!(
            refused,
            Error::Policy(kiroku_policy::PolicyError::Denied("DefineCodes"))
        ));
        app.access()
            .appoint(
                director.clone(),
                "head.nursing",
                Appointment {
                    role: Role::MonitoringManager,
                    department: Some("nursing".into()),
                    valid_from: today(&app),
                    valid_until: None,
                },
            )
            .await
            .unwrap();
        // Now the department has a head: applications wait for the endorsement.
        issue_directly_refused(&app).await;
        let clerk = app
            .access()
            .submit_application(
                Actor::operator("test"),
                form(&app, "clerk.nursing", "nursing", "nurse"),
            )
            .await
            .unwrap();
        app.access()
            .endorse_application(actor("head.nursing"), clerk.entry, 1)
            .await
            .unwrap();
        app.access()
            .approve_application(director.clone(), clerk.entry, 2)
            .await
            .unwrap();

        // The clerk fills in a colleague's application; the clerk cannot endorse it.
        let sato = app
            .access()
            .submit_application(
                actor("clerk.nursing"),
                form(&app, "sato.hanako", "nursing", "nurse"),
            )
            .await
            .unwrap();
        assert!(matches!(
            app.access()
                .endorse_application(actor("clerk.nursing"), sato.entry, 1)
                .await
                .unwrap_err(),
            Error::Policy(kiroku_policy::PolicyError::Denied("EndorseApplication"))
        ));
        // The head who filled in an application does not endorse it.
        let by_head = app
            .access()
            .submit_application(
                actor("head.nursing"),
                form(&app, "ito.kei", "nursing", "nurse"),
            )
            .await
            .unwrap();
        assert!(matches!(
            app.access()
                .endorse_application(actor("head.nursing"), by_head.entry, 1)
                .await
                .unwrap_err(),
            Error::Access(kiroku_app::access::Error::Rule(AccessError::OwnMatter(_)))
        ));
        app.access()
            .endorse_application(actor("head.nursing"), sato.entry, 1)
            .await
            .unwrap();

        // A second administrator, then both approve sato's application at once.
        issue_directly(&app, "vice.director", "information-systems").await;
        app.access()
            .appoint(
                director.clone(),
                "vice.director",
                Appointment {
                    role: Role::SystemAdministrator,
                    department: None,
                    valid_from: today(&app),
                    valid_until: None,
                },
            )
            .await
            .unwrap();
        let size_before = tree_size(&app).await;
        let (a, b) = tokio::join!(
            app.access()
                .approve_application(director.clone(), sato.entry, 2),
            app.access()
                .approve_application(actor("vice.director"), sato.entry, 2),
        );
        let loser = match (a, b) {
            (Ok(_), Err(e)) | (Err(e), Ok(_)) => e,
            other => panic!("{other:?}"),
        };
        assert!(
            matches!(
                loser,
                Error::Conflict(_)
                    | Error::Access(kiroku_app::access::Error::Rule(AccessError::Stale { .. }))
            ),
            "{loser:?}"
        );
        assert_eq!(
            tree_size(&app).await,
            size_before + 2,
            "the winner wrote the issue and the initial secret; the loser nothing"
        );
        let approved = app.access().application(sato.entry).await.unwrap();
        assert_eq!(approved.state.state, State::Approved);
        assert_eq!(approved.state.version, 3);

        // Suspension: from the version seen; not one's own account; a suspended account
        // cannot act; reinstatement brings it back.
        let sato_view = app.access().account("sato.hanako").await.unwrap();
        assert_eq!(sato_view.state.version, 1);
        assert!(matches!(
            app.access()
                .change_account_status(
                    director.clone(),
                    "director",
                    StatusStep::Suspend,
                    1,
                    "x".into()
                )
                .await
                .unwrap_err(),
            Error::Access(kiroku_app::access::Error::Rule(AccessError::OwnMatter(_)))
        ));
        app.access()
            .change_account_status(
                director.clone(),
                "sato.hanako",
                StatusStep::Suspend,
                1,
                "監査で指摘".into(),
            )
            .await
            .unwrap();
        assert!(matches!(
            app.access()
                .change_account_status(
                    director.clone(),
                    "sato.hanako",
                    StatusStep::Suspend,
                    1,
                    "again".into()
                )
                .await
                .unwrap_err(),
            Error::Access(kiroku_app::access::Error::Rule(AccessError::Stale {
                expected: 1,
                current: 2
            }))
        ));
        assert!(matches!(
            app.access()
                .submit_application(
                    actor("sato.hanako"),
                    form(&app, "new.person", "nursing", "nurse")
                )
                .await
                .unwrap_err(),
            Error::Policy(kiroku_policy::PolicyError::Denied("ApplyForAccount"))
        ));
        app.access()
            .change_account_status(
                director.clone(),
                "sato.hanako",
                StatusStep::Reinstate,
                2,
                "是正を確認".into(),
            )
            .await
            .unwrap();
        let history: Vec<String> = app
            .access()
            .account("sato.hanako")
            .await
            .unwrap()
            .history
            .into_iter()
            .map(|e| e.event)
            .collect();
        assert_eq!(
            history,
            [
                "applied",
                "endorsed",
                "issued",
                "initial_secret_issued",
                "suspended",
                "reinstated"
            ]
        );
        let pending: Vec<EntryIndex> = app
            .access()
            .applications(State::Submitted, Some("nursing".into()))
            .await
            .unwrap()
            .into_iter()
            .map(|a| a.state.application)
            .collect();
        assert_eq!(pending, [by_head.entry]);
    });
    app.shutdown();
    assert_eq!(data.verify(), None);
}

async fn issue_directly_refused(app: &App) {
    let submitted = app
        .access()
        .submit_application(
            Actor::operator("test"),
            form(app, "late.comer", "nursing", "nurse"),
        )
        .await
        .unwrap();
    assert!(matches!(
        app.access()
            .approve_application(actor("director"), submitted.entry, 1)
            .await
            .unwrap_err(),
        Error::Access(kiroku_app::access::Error::Rule(AccessError::WrongState {
            step: "approve",
            state: "submitted"
        }))
    ));
    app.access()
        .reject_application(actor("director"), submitted.entry, 1, "重複".into())
        .await
        .unwrap();
}

async fn tree_size(app: &App) -> u64 {
    app.ops().checkpoint().await.unwrap().unwrap().size
}

pub(crate) fn error_code(reply: &kiroku_testkit::Reply) -> String {
    reply.json()["error"]["code"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

fn form_json(account: &str, department: &str, kana: &str) -> serde_json::Value {
    serde_json::json!({
        "profile": {
            "account": account,
            "family_name": "看護",
            "given_name": "長子",
            "family_kana": kana,
            "given_kana": "ナガコ",
            "department": department,
            "job_type": "nurse",
            "category": "medical_staff",
            "valid_from": "2026-04-01",
            "valid_until": "2030-03-31",
        },
        "justification": "看護部長として申請を推薦するため",
    })
}

// Shows the access API through a running server: code lists kept by the administrator's
// powers, an application approved into an account, the account's list, detail and history,
// roles, suspension and reinstatement with stale versions refused — and every bad input
// answered with its code in Japanese, with nothing written.
#[test]
fn access_api_end_to_end() {
    let server = kiroku_testkit::TestServer::serve(DataDir::hospital());
    let operator = server.operator();
    for (list, code, ja, en) in [
        ("departments", "nursing", "看護部", "Nursing"),
        ("job-types", "nurse", "看護師", "Nurse"),
    ] {
        let reply = operator.put(
            &format!("/api/access/codes/{list}/{code}"),
            &serde_json::json!({"name_ja": ja, "name_en": en}),
        );
        assert_eq!(reply.status, 201, "{}", reply.text());
    }
    let codes = operator.get("/api/access/codes/departments").json();
    let names: Vec<&str> = codes["codes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["code"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["information-systems", "nursing"]);

    let size = operator.tree_size();
    let head_bytes_reply = operator.post(
        "/api/access/applications",
        &form_json("head.nursing", "nursing", "Kango"),
    );
    for (reply, status, code) in [
        (head_bytes_reply, 400, "invalid_field"),
        (
            operator.post(
                "/api/access/applications",
                &form_json("head.nursing", "surgery", "カンゴ"),
            ),
            422,
            "unknown_code",
        ),
        (
            operator.post(
                "/api/access/applications",
                &form_json("director", "nursing", "カンゴ"),
            ),
            409,
            "account_taken",
        ),
        (
            operator.post(
                "/api/access/applications",
                &serde_json::json!({"profile": {}}),
            ),
            400,
            "bad_json",
        ),
        (
            server.anonymous().post(
                "/api/access/applications",
                &form_json("head.nursing", "nursing", "カンゴ"),
            ),
            401,
            "sign_in_required",
        ),
        (
            operator.get("/api/access/accounts/Not%20An%20Id"),
            404,
            "not_found",
        ),
        (
            operator.get("/api/access/accounts/nobody"),
            404,
            "no_such_account",
        ),
        (
            operator.get("/api/access/applications/999"),
            404,
            "no_such_application",
        ),
        (
            operator.put(
                "/api/access/codes/departments/Bad Code",
                &serde_json::json!({"name_ja": "x", "name_en": "x"}),
            ),
            400,
            "invalid_field",
        ),
    ] {
        assert_eq!(reply.status, status, "{}", reply.text());
        assert_eq!(error_code(&reply), code);
    }
    assert_eq!(operator.tree_size(), size, "refusals write nothing");
    let japanese = operator.post(
        "/api/access/applications",
        &form_json("head.nursing", "nursing", "Kango"),
    );
    assert!(
        japanese.json()["error"]["message"]
            .as_str()
            .unwrap()
            .contains("family_kana"),
        "{}",
        japanese.text()
    );

    let submitted = operator.post(
        "/api/access/applications",
        &form_json("head.nursing", "nursing", "カンゴ"),
    );
    assert_eq!(submitted.status, 201, "{}", submitted.text());
    let id = submitted.json()["application"].as_u64().unwrap();
    let queue = operator
        .get("/api/access/applications?state=submitted")
        .json();
    assert_eq!(queue["applications"][0]["application"], id);
    // The operator holds the administrator's powers, not a department head's.
    let endorse = operator.post(
        &format!("/api/access/applications/{id}/endorsement"),
        &serde_json::json!({"version": 1}),
    );
    assert_eq!(
        (endorse.status, error_code(&endorse)),
        (403, "policy_denied".into())
    );
    // Whoever filled in an application does not approve it: the operator submitted this one.
    let own = operator.post(
        &format!("/api/access/applications/{id}/approval"),
        &serde_json::json!({"version": 1}),
    );
    assert_eq!(
        (own.status, error_code(&own)),
        (403, "separation_of_duties".into())
    );
    // The director approves it (through the use case, in this process, while the server runs).
    let app = server.data().open();
    block(
        app.access()
            .approve_application(actor("director"), EntryIndex(id), 1),
    )
    .unwrap();
    app.shutdown();
    let again = operator.post(
        &format!("/api/access/applications/{id}/approval"),
        &serde_json::json!({"version": 1}),
    );
    assert_eq!((again.status, error_code(&again)), (409, "stale".into()));

    let list = operator.get("/api/access/accounts").json();
    let ids: Vec<&str> = list["accounts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["account"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["director", "head.nursing"]);
    let appoint = operator.post(
        "/api/access/accounts/head.nursing/roles",
        &serde_json::json!({"role": "monitoring_manager", "department": "nursing", "valid_from": "2026-04-01"}),
    );
    assert_eq!(appoint.status, 201, "{}", appoint.text());
    let auditor = operator.post(
        "/api/access/accounts/director/roles",
        &serde_json::json!({"role": "auditor", "valid_from": "2026-04-01"}),
    );
    assert_eq!(
        (auditor.status, error_code(&auditor)),
        (409, "conflicting_roles".into())
    );
    let roles = operator.get("/api/access/roles").json();
    assert_eq!(roles["appointments"].as_array().unwrap().len(), 2);

    let suspend = |version: u64| {
        operator.post(
            "/api/access/accounts/head.nursing/suspension",
            &serde_json::json!({"version": version, "reason": "監査で指摘"}),
        )
    };
    assert_eq!(suspend(1).status, 201);
    let stale = suspend(1);
    assert_eq!((stale.status, error_code(&stale)), (409, "stale".into()));
    let no_reason = operator.post(
        "/api/access/accounts/head.nursing/reinstatement",
        &serde_json::json!({"version": 2}),
    );
    assert_eq!(
        (no_reason.status, error_code(&no_reason)),
        (422, "reason_missing".into())
    );
    let reinstated = operator.post(
        "/api/access/accounts/head.nursing/reinstatement",
        &serde_json::json!({"version": 2, "reason": "是正を確認"}),
    );
    assert_eq!(reinstated.status, 201);
    let view = operator.get("/api/access/accounts/head.nursing").json();
    assert_eq!(view["status"], "active");
    assert_eq!(view["version"], 3);
    let events: Vec<&str> = view["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["event"].as_str().unwrap())
        .collect();
    assert_eq!(
        events,
        [
            "applied",
            "issued",
            "initial_secret_issued",
            "appointed:monitoring_manager:nursing",
            "suspended",
            "reinstated"
        ]
    );
    assert_eq!(view["history"][4]["reason"], "監査で指摘");
    assert_eq!(view["history"][4]["by"], "operator");
}

// Shows the operator's account commands: list and show (text and JSON), suspend and reinstate
// with a reason, the roles list, and clear errors (exit 1, nothing written) for an unknown
// account, a missing reason and a step the status does not allow.
#[test]
fn account_commands() {
    use crate::support::{run_on, stderr, stdout, tree_size};
    let data = DataDir::hospital();
    let list = run_on(&data, &["account", "list"], &[]);
    assert!(list.status.success(), "{}", stderr(&list));
    assert!(stdout(&list)
        .starts_with("director\tactive\tv1\tinformation-systems\tsystem-operator\t大崎 院長"));
    let json: serde_json::Value =
        serde_json::from_str(&stdout(&run_on(&data, &["account", "list"], &["--json"]))).unwrap();
    assert_eq!(json[0]["profile"]["family_kana"], "オオサキ");
    let roles = stdout(&run_on(&data, &["account", "roles"], &[]));
    assert!(
        roles.starts_with("system_administrator\t\tdirector\t"),
        "{roles}"
    );

    let size = tree_size(&data);
    for (args, message) in [
        (
            &["account", "suspend", "nobody"][..],
            "account nobody does not exist",
        ),
        (
            &["account", "reinstate", "director"][..],
            "cannot reinstate in state active",
        ),
    ] {
        let output = run_on(&data, args, &["--reason", "x"]);
        assert_eq!(output.status.code(), Some(1));
        assert!(stderr(&output).contains(message), "{}", stderr(&output));
    }
    let no_reason = run_on(&data, &["account", "suspend", "director"], &[]);
    assert_eq!(
        no_reason.status.code(),
        Some(2),
        "clap refuses a missing --reason"
    );
    let blank = run_on(
        &data,
        &["account", "suspend", "director"],
        &["--reason", " "],
    );
    assert_eq!(blank.status.code(), Some(1));
    assert_eq!(tree_size(&data), size, "refusals write nothing");

    let suspended = run_on(
        &data,
        &["account", "suspend", "director"],
        &["--reason", "監査で指摘"],
    );
    assert!(suspended.status.success(), "{}", stderr(&suspended));
    assert!(stdout(&suspended).starts_with("account director is suspended (entry "));
    let stale = run_on(
        &data,
        &["account", "reinstate", "director"],
        &["--reason", "r", "--expected-version", "1"],
    );
    assert_eq!(stale.status.code(), Some(1));
    assert!(
        stderr(&stale).contains("version 2, not 1"),
        "{}",
        stderr(&stale)
    );
    let reinstated = run_on(
        &data,
        &["account", "reinstate", "director"],
        &["--reason", "是正を確認"],
    );
    assert!(reinstated.status.success(), "{}", stderr(&reinstated));
    let show = stdout(&run_on(&data, &["account", "show", "director"], &[]));
    assert!(
        show.contains("director (大崎 院長 / オオサキ インチョウ): active since"),
        "{show}"
    );
    assert!(show.contains("role system_administrator from"), "{show}");
    assert!(
        show.contains("suspended by operator — 監査で指摘"),
        "{show}"
    );
    let shown: serde_json::Value = serde_json::from_str(&stdout(&run_on(
        &data,
        &["account", "show", "director"],
        &["--json"],
    )))
    .unwrap();
    assert_eq!(shown["version"], 3);
    assert_eq!(data.verify(), None);
}

// Shows the demo hospital: every department staffed through applications (heads issued first,
// the others endorsed by their head), about sixty people across job types and Art. 10
// categories, every governance role appointed, and the ledger intact.
#[test]
fn demo_hospital_is_seeded_through_the_rules() {
    let data = DataDir::hospital();
    let app = data.open();
    let secrets = block(kiroku_demo::hospital::seed_hospital(&app)).unwrap();
    let issued = secrets.len();
    assert!((55..=65).contains(&issued), "{issued}");
    let accounts = block(app.access().accounts(None, 1000)).unwrap();
    assert_eq!(accounts.len(), issued + 1, "the staff and the director");
    assert!(accounts.iter().all(|a| a.state.status == Status::Active));
    let categories: std::collections::BTreeSet<&str> = accounts
        .iter()
        .map(|a| a.profile.category.as_str())
        .collect();
    assert_eq!(
        categories.len(),
        5,
        "every Art. 10 category: {categories:?}"
    );
    let held = block(app.access().appointments()).unwrap();
    for role in Role::ALL {
        assert!(held.iter().any(|h| h.role == role), "{role:?} is appointed");
    }
    let heads = held
        .iter()
        .filter(|h| h.role == Role::MonitoringManager)
        .count();
    assert_eq!(heads, 10, "one head per department");
    // Each demo person can sign in with the initial secret the demo hands out.
    let (account, secret) = &secrets[secrets.len() / 2];
    assert!(
        block(app.access().sign_in(account, secret))
            .unwrap()
            .must_change
    );
    app.shutdown();
    assert_eq!(data.verify(), None);
}

// Shows signing in: the administrator's one-time setup secret signs in only to choose a
// password; weak, guessable and reused passwords are refused; the chosen password then signs
// in; five wrong attempts lock the account and a right one is refused while the lock holds,
// each attempt an entry; an id that does not exist writes nothing; a suspended account cannot
// sign in and its live sessions stop at once.
#[test]
fn sign_in_first_password_lockout_and_suspension() {
    let data = DataDir::hospital();
    let app = data.open();
    let setup = data.setup_secret.clone().unwrap();
    block(async {
        let before = tree_size(&app).await;
        assert!(matches!(
            app.access().sign_in("director", "wrong").await.unwrap_err(),
            Error::Access(kiroku_app::access::Error::SignInFailed)
        ));
        assert_eq!(
            tree_size(&app).await,
            before + 1,
            "a failed attempt is an entry"
        );
        assert!(matches!(
            app.access().sign_in("nobody", "wrong").await.unwrap_err(),
            Error::Access(kiroku_app::access::Error::SignInFailed)
        ));
        assert_eq!(
            tree_size(&app).await,
            before + 1,
            "an unknown id writes nothing"
        );

        let first = app.access().sign_in("director", &setup).await.unwrap();
        assert!(first.must_change);
        for (weak, why) in [
            ("short#1", "shorter"),
            ("Password-1234!", "guess"),
            ("Oosaki#2026-director", "guess"),
            ("nodigits-at-all!", "mix"),
        ] {
            let refused = app
                .access()
                .change_password(&first.token, &setup, weak)
                .await
                .unwrap_err();
            assert!(
                matches!(
                    refused,
                    Error::Access(kiroku_app::access::Error::Password(_))
                ),
                "{weak}: {refused:?} ({why})"
            );
        }
        assert!(matches!(
            app.access()
                .change_password(&first.token, "not-the-secret", "Kiroku#Ledger-2026x")
                .await
                .unwrap_err(),
            Error::Access(kiroku_app::access::Error::SignInFailed)
        ));
        app.access()
            .change_password(&first.token, &setup, "Blue#Whale-2026x")
            .await
            .unwrap();
        let (_, session) = app.access().session(&first.token).await.unwrap();
        assert!(!session.must_change);
        assert!(
            matches!(
                app.access().sign_in("director", &setup).await.unwrap_err(),
                Error::Access(kiroku_app::access::Error::SignInFailed)
            ),
            "the setup secret is spent"
        );
        let signed = app
            .access()
            .sign_in("director", "Blue#Whale-2026x")
            .await
            .unwrap();
        assert!(!signed.must_change);
        assert!(
            matches!(
                app.access()
                    .change_password(&signed.token, "Blue#Whale-2026x", "Blue#Whale-2026x")
                    .await
                    .unwrap_err(),
                Error::Access(kiroku_app::access::Error::Password(_))
            ),
            "not the same again"
        );

        // A second account, issued with its own initial secret.
        app.access()
            .define_code(
                actor("director"),
                CodeList::Department,
                code("nursing", "看護部", "Nursing"),
            )
            .await
            .unwrap();
        app.access()
            .define_code(
                actor("director"),
                CodeList::JobType,
                code("nurse", "看護師", "Nurse"),
            )
            .await
            .unwrap();
        let submitted = app
            .access()
            .submit_application(
                Actor::operator("test"),
                form(&app, "sato.hanako", "nursing", "nurse"),
            )
            .await
            .unwrap();
        let issued = app
            .access()
            .approve_application(actor("director"), submitted.entry, 1)
            .await
            .unwrap();
        assert_eq!(issued.initial_secret.len(), 19);
        let sato = app
            .access()
            .sign_in("sato.hanako", &issued.initial_secret)
            .await
            .unwrap();
        app.access()
            .change_password(&sato.token, &issued.initial_secret, "Kango#Shift-7788")
            .await
            .unwrap();

        // Lockout: the fifth failure locks; the right password is then refused too.
        for _ in 0..4 {
            assert!(matches!(
                app.access()
                    .sign_in("sato.hanako", "wrong")
                    .await
                    .unwrap_err(),
                Error::Access(kiroku_app::access::Error::SignInFailed)
            ));
        }
        assert!(matches!(
            app.access()
                .sign_in("sato.hanako", "wrong")
                .await
                .unwrap_err(),
            Error::Access(kiroku_app::access::Error::Locked(_))
        ));
        assert!(matches!(
            app.access()
                .sign_in("sato.hanako", "Kango#Shift-7788")
                .await
                .unwrap_err(),
            Error::Access(kiroku_app::access::Error::Locked(_))
        ));
        let events: Vec<String> = app
            .access()
            .account("sato.hanako")
            .await
            .unwrap()
            .history
            .into_iter()
            .map(|e| e.event)
            .collect();
        assert!(events.contains(&"locked".to_string()), "{events:?}");
        assert!(events.contains(&"password_set".to_string()), "{events:?}");

        // Suspension ends the live session at once and refuses sign-in.
        assert!(app.access().session(&sato.token).await.is_ok());
        app.access()
            .change_account_status(
                actor("director"),
                "sato.hanako",
                StatusStep::Suspend,
                1,
                "監査で指摘".into(),
            )
            .await
            .unwrap();
        assert!(matches!(
            app.access().session(&sato.token).await.unwrap_err(),
            Error::Unauthorized
        ));
    });
    app.shutdown();
    assert_eq!(data.verify(), None);
}

// Shows web sign-in through a running server: the sign-in form's double-submit token is
// required; the setup secret leads only to choosing a password (other pages and the API are
// refused meanwhile); a password form without the session's CSRF token is refused; the chosen
// password signs in; the API then acts as the account, changes only with the CSRF header; the
// session cookie is HttpOnly and SameSite=Strict; signing out ends the session.
#[test]
fn web_sign_in_first_password_and_api_session() {
    let data = DataDir::hospital();
    let setup = data.setup_secret.clone().unwrap();
    let server = kiroku_testkit::TestServer::serve(data);
    let form = [("content-type", "application/x-www-form-urlencoded")];

    let page = server.get("/sign-in");
    assert_eq!(page.status, 200);
    let pre = set_cookie(&page, "kiroku_sign_in").unwrap();
    let token = form_csrf(&page.text());
    assert_eq!(pre, token);
    let cookie = format!("kiroku_sign_in={pre}");
    let post = |fields: &[(&str, &str)], cookie: &str| {
        let mut headers = form.to_vec();
        headers.push(("cookie", cookie));
        server.send("POST", "/sign-in", &headers, Some(&form_body(fields)))
    };
    let forged = post(
        &[
            ("account", "director"),
            ("password", &setup),
            ("csrf", "forged"),
        ],
        &cookie,
    );
    assert_eq!(forged.status, 403, "{}", forged.text());
    let wrong = post(
        &[
            ("account", "director"),
            ("password", "nope"),
            ("csrf", &token),
        ],
        &cookie,
    );
    assert_eq!(wrong.status, 401);
    assert!(
        wrong
            .text()
            .contains("利用者 ID またはパスワードが違います"),
        "{}",
        wrong.text()
    );
    let signed = post(
        &[
            ("account", "director"),
            ("password", &setup),
            ("csrf", &token),
        ],
        &cookie,
    );
    assert_eq!(signed.status, 303, "{}", signed.text());
    assert_eq!(signed.header("location"), Some("/me/password"));
    let set = signed
        .headers
        .iter()
        .find(|(k, v)| k == "set-cookie" && v.starts_with("kiroku_session="))
        .map(|(_, v)| v.clone())
        .unwrap();
    assert!(
        set.contains("HttpOnly") && set.contains("SameSite=Strict"),
        "{set}"
    );
    let session = set_cookie(&signed, "kiroku_session").unwrap();
    let me = format!("kiroku_session={session}");

    // Until a password is chosen, nothing else.
    let redirected = server.get_with("/me", &[("cookie", &me)]);
    assert_eq!(redirected.header("location"), Some("/me/password"));
    let api = server.get_with("/api/access/accounts", &[("cookie", &me)]);
    assert_eq!(api.status, 403);
    assert_eq!(error_code(&api), "password_change_required");

    let page = server.get_with("/me/password", &[("cookie", &me)]);
    assert!(page.text().contains("id=\"must-change\""));
    let csrf = form_csrf(&page.text());
    let change = |fields: &[(&str, &str)]| {
        let mut headers = form.to_vec();
        headers.push(("cookie", &me));
        server.send("POST", "/me/password", &headers, Some(&form_body(fields)))
    };
    let new = "Blue#Whale-2026x";
    let forged = change(&[
        ("current", &setup),
        ("new", new),
        ("confirm", new),
        ("csrf", "x"),
    ]);
    assert_eq!(forged.status, 403);
    let differ = change(&[
        ("current", &setup),
        ("new", new),
        ("confirm", "other"),
        ("csrf", &csrf),
    ]);
    assert_eq!(differ.status, 422);
    let weak = change(&[
        ("current", &setup),
        ("new", "password"),
        ("confirm", "password"),
        ("csrf", &csrf),
    ]);
    assert_eq!(weak.status, 422);
    assert!(weak.text().contains("id=\"password-error\""));
    let done = change(&[
        ("current", &setup),
        ("new", new),
        ("confirm", new),
        ("csrf", &csrf),
    ]);
    assert_eq!(done.status, 303, "{}", done.text());
    assert_eq!(done.header("location"), Some("/me"));

    let page = server.get_with("/me", &[("cookie", &me)]);
    assert_eq!(page.status, 200);
    let html = page.text();
    assert!(html.contains("システム管理責任者"), "{html}");
    assert!(html.contains("password_set"), "{html}");
    assert_eq!(page.header("cache-control"), Some("no-store"));

    // The API acts as the signed-in account; a change needs the CSRF header.
    let api = server.get_with("/api/access/accounts", &[("cookie", &me)]);
    assert_eq!(api.status, 200, "{}", api.text());
    let body = serde_json::json!({"name_ja": "看護部", "name_en": "Nursing"}).to_string();
    let mut headers = vec![
        ("cookie", me.as_str()),
        ("content-type", "application/json"),
    ];
    let path = "/api/access/codes/departments/nursing";
    let no_csrf = server.send("PUT", path, &headers, Some(body.as_bytes()));
    assert_eq!(
        (no_csrf.status, error_code(&no_csrf)),
        (403, "csrf_mismatch".into())
    );
    headers.push(("x-csrf-token", csrf.as_str()));
    let defined = server.send("PUT", path, &headers, Some(body.as_bytes()));
    assert_eq!(defined.status, 201, "{}", defined.text());
    let view = server
        .operator()
        .get("/api/access/accounts/director")
        .json();
    let last = view["history"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(last["event"], "password_set");
    assert_eq!(last["by"], "director");

    // Signing out ends the session.
    let mut headers = form.to_vec();
    headers.push(("cookie", &me));
    let out = server.send(
        "POST",
        "/sign-out",
        &headers,
        Some(&form_body(&[("csrf", &csrf)])),
    );
    assert_eq!(out.status, 303);
    let after = server.get_with("/me", &[("cookie", &me)]);
    assert_eq!(after.header("location"), Some("/sign-in"));
    let api = server.get_with("/api/access/accounts", &[("cookie", &me)]);
    assert_eq!(api.status, 401);
}

/// Issues `account` (nursing) with a chosen password, appointed to `role` if given.
async fn staff(app: &App, account: &str, password: &str, role: Option<Role>) {
    let submitted = app
        .access()
        .submit_application(
            Actor::operator("test"),
            form(app, account, "nursing", "nurse"),
        )
        .await
        .unwrap();
    let issued = app
        .access()
        .approve_application(actor("director"), submitted.entry, 1)
        .await
        .unwrap();
    let signed = app
        .access()
        .sign_in(account, &issued.initial_secret)
        .await
        .unwrap();
    app.access()
        .change_password(&signed.token, &issued.initial_secret, password)
        .await
        .unwrap();
    if let Some(role) = role {
        let appointment = Appointment {
            role,
            department: None,
            valid_from: today(app),
            valid_until: None,
        };
        app.access()
            .appoint(actor("director"), account, appointment)
            .await
            .unwrap();
    }
}

// Shows that the ledger's entry bundles are for auditors only: anonymous callers, an ordinary
// member of staff and the system administrator are refused; an auditor gets the bundle, whose
// entries hash to the public tile's leaves and hold no password hash in clear (credentials are
// sealed); and each read is itself an entry, written before the bundle is sent.
#[test]
fn auditors_read_entry_bundles_and_each_read_is_an_entry() {
    let data = DataDir::hospital();
    let setup = data.setup_secret.clone().unwrap();
    let app = data.open();
    block(async {
        for (list, c) in [
            (CodeList::Department, code("nursing", "看護部", "Nursing")),
            (CodeList::JobType, code("nurse", "看護師", "Nurse")),
        ] {
            app.access()
                .define_code(actor("director"), list, c)
                .await
                .unwrap();
        }
        let first = app.access().sign_in("director", &setup).await.unwrap();
        app.access()
            .change_password(&first.token, &setup, "Osaki#Ledger-2026x")
            .await
            .unwrap();
        staff(
            &app,
            "audit.kensa",
            "Kansa#Review-2026",
            Some(Role::Auditor),
        )
        .await;
        staff(&app, "nurse.sato", "Kango#Shift-7788", None).await;
    });
    app.shutdown();
    let server = kiroku_testkit::TestServer::serve(data);
    let size = server.operator().tree_size();
    let width = size.min(256);
    let path = format!("/ledger/tile/entries/000.p/{width}");

    let anonymous = server.get(&path);
    assert_eq!(
        (anonymous.status, error_code(&anonymous)),
        (403, "entries_not_public".into())
    );
    for (account, password) in [
        ("nurse.sato", "Kango#Shift-7788"),
        ("director", "Osaki#Ledger-2026x"),
    ] {
        let cookie = web_sign_in(&server, account, password);
        let refused = server.get_with(&path, &[("cookie", &cookie)]);
        assert_eq!(
            (refused.status, error_code(&refused)),
            (403, "entries_not_public".into()),
            "{account}"
        );
    }
    let before = server.operator().tree_size();
    let auditor = web_sign_in(&server, "audit.kensa", "Kansa#Review-2026");
    let bundle = server.get_with(&path, &[("cookie", &auditor)]);
    assert_eq!(bundle.status, 200, "{}", bundle.text());
    assert_eq!(bundle.header("cache-control"), Some("no-store"));
    let entries = kiroku_ledger::tile::decode_bundle(&bundle.body).unwrap();
    assert_eq!(entries.len() as u64, width);
    // Credentials are sealed: no password hash is there to attack offline (issue 18, defect 6).
    let credentials = entries
        .iter()
        .filter(|e| String::from_utf8_lossy(e).contains("access.credential/"))
        .count();
    assert!(credentials > 0, "the bundle holds credentials");
    for entry in &entries {
        assert!(!String::from_utf8_lossy(entry).contains("$argon2id$"));
    }
    let leaves = server.get(&format!("/ledger/tile/0/000.p/{width}"));
    let hashes: Vec<&[u8]> = leaves.body.chunks(32).collect();
    for (entry, hash) in entries.iter().zip(&hashes) {
        assert_eq!(kiroku_ledger::leaf_hash(entry).0.as_slice(), *hash);
    }
    // The sign-in was one entry (with the session it began, another), the read a third.
    assert_eq!(
        server.operator().tree_size(),
        before + 3,
        "the read is recorded"
    );
    let beyond = server.get_with("/ledger/tile/entries/999.p/3", &[("cookie", &auditor)]);
    assert_eq!(beyond.status, 404, "{}", beyond.text());
}

// Shows issue 18's defect 10 fixed: a session is known to every server process sharing the
// database and survives a restart. Signed in on one server, the cookie works on a second
// process serving the same data, and on the first server again after it was stopped and
// started; signing out there ends the session on the other process at once. Before, sessions
// lived in one process's memory: a restart signed everyone out mid-note.
#[test]
fn sessions_survive_restarts_and_are_shared_by_processes() {
    let (data, _, people) = crate::fhir::hospital_with(&["doctor@internal-medicine"]);
    let doctor = &people[0];
    let server = TestServer::serve(data);
    let cookie = web_sign_in(&server, doctor, crate::fhir::PASSWORD);
    let me = server.get_with("/me", &[("cookie", cookie.as_str())]);
    assert_eq!(me.status, 200, "{}", me.text());
    let other = kiroku_testkit::ServerProcess::spawn(
        std::path::Path::new(env!("CARGO_BIN_EXE_kiroku")),
        server.data(),
    );
    let there = other.get_with("/me", &[("cookie", cookie.as_str())]);
    assert_eq!(there.status, 200, "another process knows the session");
    assert!(there.text().contains(doctor.as_str()));

    let data = server.stop();
    let server = TestServer::serve(data);
    let again = server.get_with("/me", &[("cookie", cookie.as_str())]);
    assert_eq!(again.status, 200, "a restart signs nobody out");
    let csrf = form_csrf(&again.text());
    let signed_out = server.send(
        "POST",
        "/sign-out",
        &[
            ("cookie", cookie.as_str()),
            ("content-type", "application/x-www-form-urlencoded"),
        ],
        Some(&form_body(&[("csrf", &csrf)])),
    );
    assert_eq!(signed_out.status, 303, "{}", signed_out.text());
    let gone = other.get_with("/me", &[("cookie", cookie.as_str())]);
    assert_eq!(
        gone.header("location"),
        Some("/sign-in"),
        "signed out everywhere the session was known"
    );
}

// Shows a governance refusal recorded (issue 18, defect 9): a nurse who tries to appoint
// herself — or anyone — to a role is refused by the policy, and the attempt is an
// `access.denial/1` entry naming the action, written before the answer; nothing else is.
#[test]
fn a_refused_governance_step_is_an_entry() {
    let (data, _, people) = crate::fhir::hospital_with(&["nurse"]);
    let nurse = &people[0];
    let server = TestServer::serve(data);
    let cookie = web_sign_in(&server, nurse, crate::fhir::PASSWORD);
    let csrf = form_csrf(&server.get_with("/me", &[("cookie", &cookie)]).text());
    let before = server.operator().tree_size();
    let refused = server.send(
        "POST",
        "/api/access/accounts/director/roles",
        &[
            ("cookie", cookie.as_str()),
            ("x-csrf-token", csrf.as_str()),
            ("content-type", "application/json"),
        ],
        Some(br#"{"role":"auditor","valid_from":"2026-12-01"}"#),
    );
    assert_eq!(refused.status, 403, "{}", refused.text());
    assert_eq!(
        server.operator().tree_size(),
        before + 1,
        "the attempt alone"
    );
    let store =
        kiroku_store::Store::open(&server.data().database(), kiroku_app::registry(), 1).unwrap();
    let (entry, payload) = kiroku_store::read::entry(&store, EntryIndex(before)).unwrap();
    assert_eq!(entry.kind.as_str(), "access.denial/1");
    assert_eq!(entry.actor.account.as_str(), nurse.as_str());
    assert_eq!(payload["action"], "AppointRoles");
}

// Shows a governance step decided on its actor's roles refused when they changed before it was
// written (issue 18, defect 9: role checks were not under the append lock). The writer lingers
// a second to gather a batch; the operator dismisses an administrator, and while the dismissal
// waits in that batch the administrator defines a code, decided on the role still held: the
// dismissal is written, and the step is refused (409) instead of landing after it.
#[test]
fn a_step_decided_on_roles_just_dismissed_is_refused() {
    let (data, _, people) = crate::fhir::hospital_with(&["therapist"]);
    let admin = people[0].clone();
    let mut config = kiroku_app::config::Config::load(&data.path).unwrap();
    config.limits.batch_wait_ms = 1000;
    config.save(&data.path).unwrap();
    let server = TestServer::serve(data);
    let today = {
        use kiroku_core::Clock as _;
        Date::in_japan(kiroku_store::system::SystemClock.now().unwrap()).to_string()
    };
    let appointed = server.operator().post(
        &format!("/api/access/accounts/{admin}/roles"),
        &serde_json::json!({ "role": "system_administrator", "valid_from": today }),
    );
    assert_eq!(appointed.status, 201, "{}", appointed.text());
    let cookie = web_sign_in(&server, &admin, crate::fhir::PASSWORD);
    let csrf = form_csrf(&server.get_with("/me", &[("cookie", &cookie)]).text());
    let (dismissed, defined) = std::thread::scope(|scope| {
        let dismissal = scope.spawn(|| {
            server.operator().post(
                &format!("/api/access/accounts/{admin}/roles/dismissal"),
                &serde_json::json!({ "role": "system_administrator", "reason": "異動" }),
            )
        });
        std::thread::sleep(std::time::Duration::from_millis(200));
        let definition = server.send(
            "PUT",
            "/api/access/codes/departments/race-ward",
            &[
                ("cookie", cookie.as_str()),
                ("x-csrf-token", csrf.as_str()),
                ("content-type", "application/json"),
            ],
            Some(r#"{"name_ja":"競合病棟","name_en":"Race ward"}"#.as_bytes()),
        );
        (dismissal.join().unwrap(), definition)
    });
    assert_eq!(dismissed.status, 201, "{}", dismissed.text());
    assert_eq!(defined.status, 409, "{}", defined.text());
    let codes = server.operator().get("/api/access/codes/departments");
    assert!(
        !codes.text().contains("race-ward"),
        "nothing of the step was written"
    );
}
