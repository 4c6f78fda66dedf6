//! The authorisation matrix: every authenticated endpoint × every job type and governance
//! role (and the operator, a suspended account, and a system client with a bearer token), each with its expected answer — allowed
//! or denied — from one table, run end to end through a running server on the selected
//! backend. The clinical actions (whose endpoints come with the records) are asked of the
//! policy explainer, so the job-type restrictions of the default policy are in the table too.

use crate::access::{actor, code, error_code, form, today};
use crate::support::block;
use kiroku_access::department::CodeList;
use kiroku_access::role::{Appointment, Role};
use kiroku_app::App;
use kiroku_core::Actor;
use kiroku_testkit::access::{form_csrf, web_sign_in};
use kiroku_testkit::{DataDir, Reply, TestServer};
use serde_json::{json, Value};

/// One caller of the matrix.
struct Who {
    account: &'static str,
    job_type: &'static str,
    role: Option<Role>,
    head_of: Option<&'static str>,
    suspended: bool,
    /// A system client, calling with a bearer token from the token endpoint.
    client: bool,
}

const PASSWORD: &str = "Matrix#Access-2026";

const CLINICAL_READERS: &[&str] = &[
    "doctor",
    "trainee-doctor",
    "nurse",
    "pharmacist",
    "lab-technologist",
    "radiology-technologist",
    "therapist",
    "dietitian",
    "student",
];

fn callers() -> Vec<Who> {
    let mut all = vec![Who {
        account: "operator",
        job_type: "system-operator",
        role: Some(Role::SystemAdministrator),
        head_of: None,
        suspended: false,
        client: false,
    }];
    all.push(Who {
        account: "director",
        job_type: "system-operator",
        role: Some(Role::SystemAdministrator),
        head_of: None,
        suspended: false,
        client: false,
    });
    let jobs: [(&str, &str); 12] = [
        ("jt.doctor", "doctor"),
        ("jt.trainee", "trainee-doctor"),
        ("jt.nurse", "nurse"),
        ("jt.pharmacist", "pharmacist"),
        ("jt.lab", "lab-technologist"),
        ("jt.radiology", "radiology-technologist"),
        ("jt.therapist", "therapist"),
        ("jt.dietitian", "dietitian"),
        ("jt.clerk", "medical-clerk"),
        ("jt.researcher", "researcher"),
        ("jt.student", "student"),
        ("jt.vendor", "vendor-engineer"),
    ];
    for (account, job_type) in jobs {
        all.push(Who {
            account,
            job_type,
            role: None,
            head_of: None,
            suspended: false,
            client: false,
        });
    }
    for (account, role) in [
        ("role.ops", Role::OperationsManager),
        ("role.device", Role::DeviceManager),
        ("role.auditmgr", Role::AuditManager),
        ("role.auditor", Role::Auditor),
        ("role.committee", Role::CommitteeMember),
    ] {
        all.push(Who {
            account,
            job_type: "medical-clerk",
            role: Some(role),
            head_of: None,
            suspended: false,
            client: false,
        });
    }
    all.push(Who {
        account: "role.head",
        job_type: "doctor",
        role: None,
        head_of: Some("surgery"),
        suspended: false,
        client: false,
    });
    all.push(Who {
        account: "jt.suspended",
        job_type: "doctor",
        role: None,
        head_of: None,
        suspended: true,
        client: false,
    });
    all.push(Who {
        account: "client.lab",
        job_type: "system-client",
        role: None,
        head_of: None,
        suspended: false,
        client: true,
    });
    all
}

impl Who {
    fn operator(&self) -> bool {
        self.account == "operator"
    }
    fn admin(&self) -> bool {
        self.role == Some(Role::SystemAdministrator)
    }
    fn governance(&self) -> bool {
        self.role.is_some() || self.head_of.is_some()
    }
    fn auditor(&self) -> bool {
        matches!(self.role, Some(Role::Auditor | Role::AuditManager))
    }
}

/// How a row is asked.
enum Ask {
    /// A request; allowed means a 2xx (or a 303 from a form), denied a 401 or 403.
    Call {
        method: &'static str,
        path: fn(&Who, &TestServer) -> String,
        body: Option<fn(&Who, &TestServer) -> Value>,
    },
    /// A page for signed-in staff (the operator has no session: not asked).
    Page(&'static str),
    /// The explainer asked about the caller themselves: allowed is its `allowed` field.
    Decision(&'static str),
}

struct Row {
    what: &'static str,
    ask: Ask,
    allowed: fn(&Who) -> bool,
}

/// The kinds of entries `from..to` of the server's ledger.
fn written_kinds(server: &TestServer, from: u64, to: u64) -> Vec<String> {
    let store =
        kiroku_store::Store::open(&server.data().database(), kiroku_app::registry(), 1).unwrap();
    (from..to)
        .map(|i| {
            kiroku_store::read::entry(&store, kiroku_core::EntryIndex(i))
                .unwrap()
                .0
                .kind
                .to_string()
        })
        .collect()
}

fn operator_json(server: &TestServer, path: &str) -> Value {
    let reply = server.operator().get(path);
    assert_eq!(reply.status, 200, "{path}: {}", reply.text());
    reply.json()
}

fn policy_version(server: &TestServer) -> u64 {
    operator_json(server, "/api/policy/versions")["version"]
        .as_u64()
        .unwrap()
}

fn account_version(server: &TestServer, account: &str) -> u64 {
    operator_json(server, &format!("/api/access/accounts/{account}"))["version"]
        .as_u64()
        .unwrap()
}

/// The operator and the director each get their own target, so both can succeed.
fn target(who: &Who) -> &'static str {
    if who.operator() {
        "target.a"
    } else {
        "target.b"
    }
}

fn table() -> Vec<Row> {
    vec![
        Row {
            what: "list accounts",
            ask: Ask::Call {
                method: "GET",
                path: |_, _| "/api/access/accounts".into(),
                body: None,
            },
            allowed: |w| w.governance(),
        },
        Row {
            what: "list roles",
            ask: Ask::Call {
                method: "GET",
                path: |_, _| "/api/access/roles".into(),
                body: None,
            },
            allowed: |w| w.governance(),
        },
        Row {
            what: "list applications",
            ask: Ask::Call {
                method: "GET",
                path: |_, _| "/api/access/applications?state=submitted".into(),
                body: None,
            },
            allowed: |w| w.governance(),
        },
        Row {
            what: "policy versions",
            ask: Ask::Call {
                method: "GET",
                path: |_, _| "/api/policy/versions".into(),
                body: None,
            },
            allowed: |w| w.governance(),
        },
        Row {
            what: "policy in force",
            ask: Ask::Call {
                method: "GET",
                path: |_, _| "/api/policy/in-force".into(),
                body: None,
            },
            allowed: |w| w.governance(),
        },
        Row {
            what: "explain another account",
            ask: Ask::Call {
                method: "GET",
                path: |_, _| {
                    "/api/policy/decision?account=jt.doctor&action=ReadRecord&category=medical"
                        .into()
                },
                body: None,
            },
            allowed: |w| w.governance() || w.account == "jt.doctor",
        },
        Row {
            what: "read entry bundles",
            ask: Ask::Call {
                method: "GET",
                path: |_, _| "/ledger/tile/entries/000.p/1".into(),
                body: None,
            },
            allowed: |w| w.auditor(),
        },
        Row {
            what: "submit an ID application",
            ask: Ask::Call {
                method: "POST",
                path: |_, _| "/api/access/applications".into(),
                body: Some(|w, _| {
                    let account = format!("new.{}", w.account.replace('.', "-"));
                    json!({
                        "profile": {
                            "account": account,
                            "family_name": "新規",
                            "given_name": "太郎",
                            "family_kana": "シンキ",
                            "given_kana": "タロウ",
                            "department": "pharmacy",
                            "job_type": "pharmacist",
                            "category": "medical_staff",
                            "valid_from": "2026-04-01",
                            "valid_until": "2030-03-31",
                        },
                        "justification": "業務のため",
                    })
                }),
            },
            allowed: |w| !w.suspended && !w.client,
        },
        Row {
            what: "define a department",
            ask: Ask::Call {
                method: "PUT",
                path: |w, _| {
                    format!(
                        "/api/access/codes/departments/x-{}",
                        w.account.replace('.', "-")
                    )
                },
                body: Some(|_, _| json!({"name_ja": "試験科", "name_en": "Test", "active": true})),
            },
            allowed: |w| w.admin(),
        },
        Row {
            what: "appoint a role",
            ask: Ask::Call {
                method: "POST",
                path: |w, _| format!("/api/access/accounts/{}/roles", target(w)),
                body: Some(|_, _| json!({"role": "committee_member", "valid_from": "2026-04-01"})),
            },
            allowed: |w| w.admin(),
        },
        Row {
            what: "suspend an account",
            ask: Ask::Call {
                method: "POST",
                path: |w, _| format!("/api/access/accounts/{}/suspension", target(w)),
                body: Some(
                    |w, s| json!({"version": account_version(s, target(w)), "reason": "監査指摘"}),
                ),
            },
            allowed: |w| w.admin(),
        },
        Row {
            what: "endorse an application of surgery",
            ask: Ask::Call {
                method: "POST",
                path: |_, s| {
                    format!(
                        "/api/access/applications/{}/endorsement",
                        application(s, "surgery.new")
                    )
                },
                body: Some(|_, _| json!({"version": 1})),
            },
            allowed: |w| w.head_of == Some("surgery"),
        },
        Row {
            what: "approve an application",
            ask: Ask::Call {
                method: "POST",
                path: |w, s| {
                    let account = if w.operator() {
                        "pharmacy.a"
                    } else {
                        "pharmacy.b"
                    };
                    format!(
                        "/api/access/applications/{}/approval",
                        application(s, account)
                    )
                },
                body: Some(|_, _| json!({"version": 1})),
            },
            allowed: |w| w.admin(),
        },
        Row {
            what: "propose a policy version",
            ask: Ask::Call {
                method: "POST",
                path: |_, _| "/api/policy/versions".into(),
                body: Some(|_, s| {
                    let text = operator_json(s, "/api/policy/versions/1")["text"].clone();
                    json!({"version": policy_version(s), "text": text, "reason": "見直し"})
                }),
            },
            allowed: |w| w.admin() || w.role == Some(Role::OperationsManager),
        },
        Row {
            what: "decide on a policy version",
            ask: Ask::Call {
                method: "POST",
                // The operator rejects version 2; anyone else approves version 3 (both
                // proposed by the operations manager).
                path: |w, _| {
                    if w.operator() {
                        "/api/policy/versions/2/rejection".into()
                    } else {
                        "/api/policy/versions/3/approval".into()
                    }
                },
                body: Some(|_, s| json!({"version": policy_version(s), "reason": "確認済み"})),
            },
            allowed: |w| w.admin(),
        },
        Row {
            what: "who am I",
            ask: Ask::Call {
                method: "GET",
                path: |_, _| "/api/access/me".into(),
                body: None,
            },
            allowed: |_| true,
        },
        Row {
            what: "list system clients",
            ask: Ask::Call {
                method: "GET",
                path: |_, _| "/api/access/clients".into(),
                body: None,
            },
            allowed: |w| w.governance(),
        },
        Row {
            what: "grant a client scopes",
            ask: Ask::Call {
                method: "PUT",
                path: |_, _| "/api/access/clients/client.lab/scopes".into(),
                body: Some(|_, _| json!({"scopes": ["clinical.read", "clinical.write"]})),
            },
            allowed: |w| w.admin(),
        },
        Row {
            what: "report a status change of one's own account",
            ask: Ask::Call {
                method: "POST",
                path: |_, _| "/api/access/reports".into(),
                body: Some(|w, _| {
                    let account = if w.operator() { "target.a" } else { w.account };
                    json!({"account": account, "change": "changed", "details": "所属の変更"})
                }),
            },
            allowed: |_| true,
        },
        Row {
            what: "list status-change reports",
            ask: Ask::Call {
                method: "GET",
                path: |_, _| "/api/access/reports".into(),
                body: None,
            },
            allowed: |w| w.governance(),
        },
        Row {
            what: "open an access review",
            ask: Ask::Call {
                method: "POST",
                path: |_, _| "/api/access/reviews".into(),
                body: Some(|_, _| json!({"deadline": "2099-12-31"})),
            },
            allowed: |w| w.admin(),
        },
        Row {
            what: "list access reviews",
            ask: Ask::Call {
                method: "GET",
                path: |_, _| "/api/access/reviews".into(),
                body: None,
            },
            allowed: |w| w.governance(),
        },
        Row {
            what: "page: an account",
            ask: Ask::Page("/accounts/target.a"),
            allowed: |w| w.governance(),
        },
        Row {
            what: "page: status-change reports",
            ask: Ask::Page("/reports"),
            allowed: |_| true,
        },
        Row {
            what: "page: access reviews",
            ask: Ask::Page("/reviews"),
            allowed: |w| w.governance(),
        },
        Row {
            what: "page: system clients",
            ask: Ask::Page("/clients"),
            allowed: |w| w.governance(),
        },
        Row {
            what: "page: applications",
            ask: Ask::Page("/applications"),
            allowed: |w| w.governance(),
        },
        Row {
            what: "page: accounts",
            ask: Ask::Page("/accounts"),
            allowed: |w| w.governance(),
        },
        Row {
            what: "page: roles",
            ask: Ask::Page("/roles"),
            allowed: |w| w.governance(),
        },
        Row {
            what: "page: policy",
            ask: Ask::Page("/policy"),
            allowed: |w| w.governance(),
        },
        Row {
            what: "page: my account",
            ask: Ask::Page("/me"),
            allowed: |w| !w.suspended,
        },
        Row {
            what: "page: two-factor authentication (passkeys and codes)",
            ask: Ask::Page("/me/second-factor"),
            allowed: |w| !w.suspended,
        },
        Row {
            what: "page: application form",
            ask: Ask::Page("/applications/new"),
            allowed: |w| !w.suspended,
        },
        Row {
            what: "page: explainer",
            ask: Ask::Page("/policy/explain"),
            allowed: |w| !w.suspended,
        },
        Row {
            what: "ReadPatient",
            ask: Ask::Decision("action=ReadPatient"),
            allowed: |w| {
                CLINICAL_READERS.contains(&w.job_type) || w.job_type == "medical-clerk" || w.client
            },
        },
        Row {
            what: "ReadRecord medical",
            ask: Ask::Decision("action=ReadRecord&category=medical"),
            allowed: |w| CLINICAL_READERS.contains(&w.job_type) || w.client,
        },
        Row {
            what: "WriteRecord medical",
            ask: Ask::Decision("action=WriteRecord&category=medical"),
            allowed: |w| ["doctor", "trainee-doctor"].contains(&w.job_type) || w.client,
        },
        Row {
            what: "WriteRecord nursing",
            ask: Ask::Decision("action=WriteRecord&category=nursing"),
            allowed: |w| ["doctor", "trainee-doctor", "nurse"].contains(&w.job_type) || w.client,
        },
        Row {
            what: "WriteRecord pharmacy",
            ask: Ask::Decision("action=WriteRecord&category=pharmacy"),
            allowed: |w| {
                ["doctor", "trainee-doctor", "pharmacist"].contains(&w.job_type) || w.client
            },
        },
        Row {
            what: "WriteRecord administrative",
            ask: Ask::Decision("action=WriteRecord&category=administrative"),
            allowed: |w| {
                ["doctor", "trainee-doctor", "medical-clerk"].contains(&w.job_type) || w.client
            },
        },
        // What relationships and flags are computed from (issue 18): assigning care,
        // changing a chart's flags, binding a staff identity.
        Row {
            what: "AssignCare",
            ask: Ask::Decision("action=AssignCare"),
            allowed: |w| ["doctor", "nurse", "medical-clerk"].contains(&w.job_type) || w.client,
        },
        Row {
            what: "ChangePatientFlags",
            ask: Ask::Decision("action=ChangePatientFlags"),
            allowed: |w| w.client || w.role == Some(Role::OperationsManager),
        },
        Row {
            what: "BindStaffIdentity",
            ask: Ask::Decision("action=BindStaffIdentity"),
            allowed: |w| w.admin(),
        },
        Row {
            what: "bind a staff identity",
            ask: Ask::Call {
                method: "POST",
                path: |_, _| "/api/access/staff-identities".into(),
                body: Some(|_, _| json!({ "practitioner": "dr-matrix", "account": "jt.doctor" })),
            },
            allowed: |w| w.admin(),
        },
    ]
}

/// The id of the application for `account` (submitted in the set-up).
fn application(server: &TestServer, account: &str) -> u64 {
    for state in ["submitted", "endorsed", "approved"] {
        let list = operator_json(server, &format!("/api/access/applications?state={state}"));
        for a in list["applications"].as_array().unwrap() {
            if a["profile"]["account"] == account {
                return a["application"].as_u64().unwrap();
            }
        }
    }
    panic!("no application for {account}")
}

/// A signed-in caller: the session cookie and its CSRF token.
struct Session {
    cookie: String,
    csrf: String,
}

/// How a caller proves who it is.
enum Auth {
    /// The operator's bearer token.
    Operator,
    /// A signed-in person's session.
    Session(Session),
    /// A system client's bearer token from the token endpoint.
    Bearer(String),
}

impl Auth {
    fn session(&self) -> Option<&Session> {
        match self {
            Auth::Session(s) => Some(s),
            _ => None,
        }
    }
}

/// A bearer token for the matrix's client, from the token endpoint.
fn client_token(server: &TestServer, account: &str, secret: &str) -> String {
    let body = kiroku_testkit::access::form_body(&[
        ("grant_type", "client_credentials"),
        ("client_id", account),
        ("client_secret", secret),
    ]);
    let reply = server.send(
        "POST",
        "/oauth/token",
        &[("content-type", "application/x-www-form-urlencoded")],
        Some(&body),
    );
    assert_eq!(reply.status, 200, "{}", reply.text());
    reply.json()["access_token"].as_str().unwrap().to_owned()
}

fn session(server: &TestServer, account: &str) -> Session {
    let cookie = web_sign_in(server, account, PASSWORD);
    let me = server.get_with("/me", &[("cookie", &cookie)]);
    assert_eq!(me.status, 200, "{account}: {}", me.text());
    Session {
        csrf: form_csrf(&me.text()),
        cookie,
    }
}

fn call(server: &TestServer, auth: &Auth, method: &str, path: &str, body: Option<Value>) -> Reply {
    let body = body.map(|b| b.to_string().into_bytes());
    let bearer = |token: &str| {
        let auth = format!("Bearer {token}");
        let headers = [
            ("authorization", auth.as_str()),
            ("content-type", "application/json"),
        ];
        server.send(method, path, &headers, body.as_deref())
    };
    match auth {
        Auth::Bearer(token) => bearer(token),
        Auth::Operator => {
            let auth = format!("Bearer {}", server.data().token());
            let headers = [
                ("authorization", auth.as_str()),
                ("content-type", "application/json"),
            ];
            server.send(method, path, &headers, body.as_deref())
        }
        Auth::Session(s) => {
            let headers = [
                ("cookie", s.cookie.as_str()),
                ("x-csrf-token", s.csrf.as_str()),
                ("content-type", "application/json"),
            ];
            server.send(method, path, &headers, body.as_deref())
        }
    }
}

async fn person(app: &App, who: &Who) {
    let submitted = app
        .access()
        .submit_application(
            Actor::operator("matrix"),
            form(app, who.account, "pharmacy", who.job_type),
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
        .sign_in(who.account, &issued.initial_secret)
        .await
        .unwrap();
    app.access()
        .change_password(&signed.token, &issued.initial_secret, PASSWORD)
        .await
        .unwrap();
    let today = today(app);
    let appointment = match (who.role, who.head_of) {
        (Some(role), _) => Some(Appointment {
            role,
            department: None,
            valid_from: today,
            valid_until: None,
        }),
        (None, Some(d)) => Some(Appointment {
            role: Role::MonitoringManager,
            department: Some(d.into()),
            valid_from: today,
            valid_until: None,
        }),
        _ => None,
    };
    if let Some(a) = appointment {
        app.access()
            .appoint(actor("director"), who.account, a)
            .await
            .unwrap();
    }
}

fn set_up() -> (TestServer, String) {
    let data = DataDir::hospital();
    let setup = data.setup_secret.clone().unwrap();
    let app = data.open();
    block(async {
        let director = actor("director");
        for (c, ja) in [("pharmacy", "薬剤部"), ("surgery", "外科")] {
            app.access()
                .define_code(director.clone(), CodeList::Department, code(c, ja, c))
                .await
                .unwrap();
        }
        for (c, ja, en) in kiroku_demo::hospital::JOB_TYPES {
            app.access()
                .define_code(director.clone(), CodeList::JobType, code(c, ja, en))
                .await
                .unwrap();
        }
        let first = app.access().sign_in("director", &setup).await.unwrap();
        app.access()
            .change_password(&first.token, &setup, PASSWORD)
            .await
            .unwrap();
        app.access()
            .define_code(
                director.clone(),
                CodeList::JobType,
                code("system-client", "システムクライアント", "System client"),
            )
            .await
            .unwrap();
        for who in callers()
            .iter()
            .filter(|w| !["operator", "director"].contains(&w.account) && !w.client)
        {
            person(&app, who).await;
        }
        for account in ["target.a", "target.b"] {
            let t = Who {
                account,
                job_type: "nurse",
                role: None,
                head_of: None,
                suspended: false,
                client: false,
            };
            person(&app, &t).await;
        }
        // Applications waiting, filled in by the clerk: one in surgery (which has a head), two in pharmacy (none).
        for (account, department) in [
            ("surgery.new", "surgery"),
            ("pharmacy.a", "pharmacy"),
            ("pharmacy.b", "pharmacy"),
        ] {
            app.access()
                .submit_application(actor("jt.clerk"), form(&app, account, department, "nurse"))
                .await
                .unwrap();
        }
        // Two policy proposals by the operations manager: versions 2 and 3.
        let text = kiroku_app::policy::DEFAULT_POLICY.to_owned();
        for number in [2, 3] {
            let state = app.policy().policy_state().await.unwrap();
            let (_, proposed) = app
                .policy()
                .propose_policy(
                    actor("role.ops"),
                    state.version,
                    text.clone(),
                    "見直し".into(),
                )
                .await
                .unwrap();
            assert_eq!(proposed, number);
        }
    });
    // The system client, granted both clinical scopes; its initial secret is its client secret.
    let secret = block(async {
        let submitted = app
            .access()
            .submit_application(
                Actor::operator("matrix"),
                form(&app, "client.lab", "pharmacy", "system-client"),
            )
            .await
            .unwrap();
        let issued = app
            .access()
            .approve_application(actor("director"), submitted.entry, 1)
            .await
            .unwrap();
        app.access()
            .grant_scopes(
                actor("director"),
                "client.lab",
                vec!["clinical.read".into(), "clinical.write".into()],
            )
            .await
            .unwrap();
        issued.initial_secret
    });
    app.shutdown();
    (TestServer::serve(data), secret)
}

// Shows the authorisation matrix: every endpoint above, asked by every job type, every
// governance role, the operator and a suspended account, answers as the table expects — with
// a denial as 401/403 and nothing written, an allowance as success — and the clinical actions'
// job-type restrictions as the policy explainer states them.
#[test]
fn every_endpoint_by_every_job_type_and_role() {
    let (server, secret) = set_up();
    let callers = callers();
    let sessions: Vec<Auth> = callers
        .iter()
        .map(|w| {
            if w.operator() {
                Auth::Operator
            } else if w.client {
                Auth::Bearer(client_token(&server, w.account, &secret))
            } else {
                Auth::Session(session(&server, w.account))
            }
        })
        .collect();
    // The suspended account's session was open before the suspension: it stops at once.
    let suspended = callers.iter().find(|w| w.suspended).unwrap();
    let version = account_version(&server, suspended.account);
    let reply = server.operator().post(
        &format!("/api/access/accounts/{}/suspension", suspended.account),
        &json!({"version": version, "reason": "監査指摘"}),
    );
    assert_eq!(reply.status, 201, "{}", reply.text());

    let mut failures = Vec::new();
    let mut asked = 0;
    for row in table() {
        for (who, session) in callers.iter().zip(&sessions) {
            // A suspended account may do nothing at all, whatever its job type.
            let expected = !who.suspended && (row.allowed)(who);
            let (allowed, detail) = match &row.ask {
                Ask::Call { method, path, body } => {
                    let path = path(who, &server);
                    let body = body.map(|b| b(who, &server));
                    let before = server.operator().tree_size();
                    let reply = call(&server, session, method, &path, body);
                    let allowed = (200..300).contains(&reply.status);
                    let denied = matches!(reply.status, 401 | 403);
                    if !allowed && !denied {
                        failures.push(format!(
                            "{} by {}: neither allowed nor denied: {} {}",
                            row.what,
                            who.account,
                            reply.status,
                            reply.text()
                        ));
                        continue;
                    }
                    // A refusal writes nothing but the record of the refused attempt.
                    let after = server.operator().tree_size();
                    if denied && after != before && !path.starts_with("/ledger/") {
                        let kinds = written_kinds(&server, before, after);
                        if !kinds
                            .iter()
                            .all(|k| k == "access.denial/1" || k == "records.denial/1")
                        {
                            failures.push(format!(
                                "{} by {}: denied but wrote {kinds:?}",
                                row.what, who.account
                            ));
                        }
                    }
                    let code = if denied {
                        error_code(&reply)
                    } else {
                        String::new()
                    };
                    (allowed, format!("{} {code}", reply.status))
                }
                Ask::Page(path) => {
                    let Some(s) = session.session() else { continue };
                    let reply = server.get_with(path, &[("cookie", &s.cookie)]);
                    // A suspended account's pages send it to sign in again.
                    (reply.status == 200, format!("{}", reply.status))
                }
                Ask::Decision(query) => {
                    let path = format!("/api/policy/decision?{query}");
                    let reply = call(&server, session, "GET", &path, None);
                    if who.suspended {
                        (reply.status == 200, format!("{}", reply.status))
                    } else {
                        assert_eq!(
                            reply.status,
                            200,
                            "{path} by {}: {}",
                            who.account,
                            reply.text()
                        );
                        let answer = reply.json();
                        (
                            answer["allowed"].as_bool().unwrap(),
                            format!("policies {}", answer["policies"]),
                        )
                    }
                }
            };
            asked += 1;
            if allowed != expected {
                failures.push(format!(
                    "{} by {} ({}): expected {}, got {} ({detail})",
                    row.what,
                    who.account,
                    who.job_type,
                    if expected { "allowed" } else { "denied" },
                    if allowed { "allowed" } else { "denied" },
                ));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {asked} cells wrong:\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert!(asked > 500, "{asked}");
}
