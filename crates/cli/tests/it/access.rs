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
use kiroku_testkit::DataDir;

fn actor(account: &str) -> Actor {
    Actor {
        account: AccountId::parse(account).unwrap(),
        session: Some("test".into()),
    }
}

fn today(app: &App) -> Date {
    Date::in_japan(app.clock().now().unwrap())
}

fn code(code: &str, ja: &str, en: &str) -> Code {
    Code {
        code: code.into(),
        name_ja: ja.into(),
        name_en: en.into(),
        active: true,
    }
}

fn form(app: &App, account: &str, department: &str, job_type: &str) -> ApplicationForm {
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
        .submit_application(
            Actor::operator("test"),
            form(app, account, department, "nurse"),
        )
        .await
        .unwrap();
    app.approve_application(actor("director"), submitted.entry, 1)
        .await
        .unwrap();
}

// Shows the first administrator that init issued: an active account in the information
// systems office, holding the system administrator's role from today, with its history.
#[test]
fn init_issues_the_first_administrator() {
    let data = DataDir::hospital();
    let app = data.open();
    let view = block(app.account("director")).unwrap();
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
            ("issued", "system")
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
            app.define_code(director.clone(), list, c).await.unwrap();
        }
        // Only the administrator keeps the code lists.
        issue_directly(&app, "head.nursing", "nursing").await;
        let refused = app
            .define_code(
                actor("head.nursing"),
                CodeList::Department,
                code("surgery", "外科", "Surgery"),
            )
            .await
            .unwrap_err();
        assert!(matches!(
            refused,
            Error::Access(AccessError::NotPermitted {
                role: Role::SystemAdministrator
            })
        ));
        app.appoint(
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
            .submit_application(
                Actor::operator("test"),
                form(&app, "clerk.nursing", "nursing", "nurse"),
            )
            .await
            .unwrap();
        app.endorse_application(actor("head.nursing"), clerk.entry, 1)
            .await
            .unwrap();
        app.approve_application(director.clone(), clerk.entry, 2)
            .await
            .unwrap();

        // The clerk fills in a colleague's application; the clerk cannot endorse it.
        let sato = app
            .submit_application(
                actor("clerk.nursing"),
                form(&app, "sato.hanako", "nursing", "nurse"),
            )
            .await
            .unwrap();
        assert!(matches!(
            app.endorse_application(actor("clerk.nursing"), sato.entry, 1)
                .await
                .unwrap_err(),
            Error::Access(AccessError::NotPermitted {
                role: Role::MonitoringManager
            })
        ));
        // The head who filled in an application does not endorse it.
        let by_head = app
            .submit_application(
                actor("head.nursing"),
                form(&app, "ito.kei", "nursing", "nurse"),
            )
            .await
            .unwrap();
        assert!(matches!(
            app.endorse_application(actor("head.nursing"), by_head.entry, 1)
                .await
                .unwrap_err(),
            Error::Access(AccessError::OwnMatter(_))
        ));
        app.endorse_application(actor("head.nursing"), sato.entry, 1)
            .await
            .unwrap();

        // A second administrator, then both approve sato's application at once.
        issue_directly(&app, "vice.director", "information-systems").await;
        app.appoint(
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
            app.approve_application(director.clone(), sato.entry, 2),
            app.approve_application(actor("vice.director"), sato.entry, 2),
        );
        let loser = match (a, b) {
            (Ok(_), Err(e)) | (Err(e), Ok(_)) => e,
            other => panic!("{other:?}"),
        };
        assert!(
            matches!(
                loser,
                Error::Conflict(_) | Error::Access(AccessError::Stale { .. })
            ),
            "{loser:?}"
        );
        assert_eq!(
            tree_size(&app).await,
            size_before + 1,
            "the loser wrote nothing"
        );
        let approved = app.application(sato.entry).await.unwrap();
        assert_eq!(approved.state.state, State::Approved);
        assert_eq!(approved.state.version, 3);

        // Suspension: from the version seen; not one's own account; a suspended account
        // cannot act; reinstatement brings it back.
        let sato_view = app.account("sato.hanako").await.unwrap();
        assert_eq!(sato_view.state.version, 1);
        assert!(matches!(
            app.change_account_status(
                director.clone(),
                "director",
                StatusStep::Suspend,
                1,
                "x".into()
            )
            .await
            .unwrap_err(),
            Error::Access(AccessError::OwnMatter(_))
        ));
        app.change_account_status(
            director.clone(),
            "sato.hanako",
            StatusStep::Suspend,
            1,
            "監査で指摘".into(),
        )
        .await
        .unwrap();
        assert!(matches!(
            app.change_account_status(
                director.clone(),
                "sato.hanako",
                StatusStep::Suspend,
                1,
                "again".into()
            )
            .await
            .unwrap_err(),
            Error::Access(AccessError::Stale {
                expected: 1,
                current: 2
            })
        ));
        assert!(matches!(
            app.submit_application(
                actor("sato.hanako"),
                form(&app, "new.person", "nursing", "nurse")
            )
            .await
            .unwrap_err(),
            Error::Unauthorized
        ));
        app.change_account_status(
            director.clone(),
            "sato.hanako",
            StatusStep::Reinstate,
            2,
            "是正を確認".into(),
        )
        .await
        .unwrap();
        let history: Vec<String> = app
            .account("sato.hanako")
            .await
            .unwrap()
            .history
            .into_iter()
            .map(|e| e.event)
            .collect();
        assert_eq!(
            history,
            ["applied", "endorsed", "issued", "suspended", "reinstated"]
        );
        let pending: Vec<EntryIndex> = app
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
        .submit_application(
            Actor::operator("test"),
            form(app, "late.comer", "nursing", "nurse"),
        )
        .await
        .unwrap();
    assert!(matches!(
        app.approve_application(actor("director"), submitted.entry, 1)
            .await
            .unwrap_err(),
        Error::Access(AccessError::WrongState {
            step: "approve",
            state: "submitted"
        })
    ));
    app.reject_application(actor("director"), submitted.entry, 1, "重複".into())
        .await
        .unwrap();
}

async fn tree_size(app: &App) -> u64 {
    app.checkpoint().await.unwrap().unwrap().size
}
