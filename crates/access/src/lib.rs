//! The `access` context: who may use the system and how (Art. 3–13) — departments and job
//! types, ID applications with endorsement and approval, accounts with their status, and the
//! governance roles with separation of duties.
//!
//! Declares its tables and versioned kinds for the registry, its rules as pure functions
//! (`state, command, today -> request`), and its read queries as data with their row decoders.
//! Knows nothing of HTTP, SQL dialects or other contexts' tables.

pub mod account;
pub mod application;
pub mod assertion;
pub mod client;
pub mod credential;
pub mod denial;
pub mod department;
pub mod disclosure;
pub mod error;
pub mod factor;
pub mod identity;
pub mod lifecycle;
pub mod lockout;
pub mod passkey;
pub mod password;
pub mod role;
pub mod session;
pub mod supervision;

pub use error::AccessError;

use kiroku_core::projection::TableSpec;
use kiroku_core::{kind, Context, Date, KindHandler, Timestamp};

/// The access context.
#[derive(Clone, Copy, Debug, Default)]
pub struct Access;

/// Every table the context owns.
pub static TABLES: &[&TableSpec] = &[
    &department::DEPARTMENTS,
    &department::JOB_TYPES,
    &account::ACCOUNTS,
    &account::ACCOUNT_PROFILES,
    &account::STAFF_NUMBERS,
    &account::ACCOUNT_HISTORY,
    &application::APPLICATIONS,
    &application::APPLICATION_FORMS,
    &application::APPLICATION_STEPS,
    &role::ROLE_APPOINTMENTS,
    &role::ROLE_VERSIONS,
    &credential::CREDENTIALS,
    &credential::PASSWORD_HISTORY,
    &credential::SIGN_IN_STATE,
    &factor::SECOND_FACTORS,
    &factor::USED_STEPS,
    &passkey::PASSKEYS,
    &passkey::PASSKEY_COUNTERS,
    &client::CLIENT_SCOPES,
    &client::TOKENS,
    &lifecycle::STATUS_REPORTS,
    &lifecycle::REPORTS_HANDLED,
    &lifecycle::REVIEWS,
    &lifecycle::REVIEW_MEMBERS,
    &lifecycle::REVIEW_DECISIONS,
    &lifecycle::REVIEW_CLOSURES,
    &identity::STAFF_IDENTITIES,
    &session::SESSIONS,
    &assertion::CLIENT_KEYS,
    &assertion::ASSERTIONS,
    &supervision::SUPERVISORS,
];

impl Context for Access {
    fn name(&self) -> &'static str {
        "access"
    }

    fn tables(&self) -> &'static [&'static TableSpec] {
        TABLES
    }

    fn kinds(&self) -> Vec<Box<dyn KindHandler>> {
        vec![
            kind::<department::DepartmentDefined>(),
            kind::<department::JobTypeDefined>(),
            kind::<application::ApplicationForm>(),
            kind::<application::ApplicationEndorsed>(),
            kind::<application::ApplicationRejected>(),
            kind::<application::AccountIssued>(),
            kind::<application::FirstAdministrator>(),
            kind::<account::AccountSuspended>(),
            kind::<account::AccountReinstated>(),
            kind::<account::AccountDeactivated>(),
            kind::<role::RoleAppointed>(),
            kind::<role::RoleDismissed>(),
            kind::<role::RolesChanged>(),
            kind::<credential::CredentialSet>(),
            kind::<credential::CredentialSealed>(),
            kind::<credential::SignIn>(),
            kind::<disclosure::EntryBundleRead>(),
            kind::<factor::FactorEnrolled>(),
            kind::<factor::StepUsed>(),
            kind::<passkey::PasskeyRegistered>(),
            kind::<passkey::PasskeyUsed>(),
            kind::<passkey::PasskeyRemoved>(),
            kind::<client::ScopesGranted>(),
            kind::<client::TokenIssued>(),
            kind::<client::TokenRevoked>(),
            kind::<lifecycle::StatusReported>(),
            kind::<lifecycle::ReportHandled>(),
            kind::<lifecycle::ReviewOpened>(),
            kind::<lifecycle::ReviewDecided>(),
            kind::<lifecycle::ReviewClosed>(),
            kind::<identity::StaffIdentityBound>(),
            kind::<session::SessionState>(),
            kind::<session::SessionEnded>(),
            kind::<denial::Denied>(),
            kind::<assertion::ClientKeys>(),
            kind::<assertion::AssertionUsed>(),
            kind::<supervision::SupervisorAssigned>(),
        ]
    }
}

/// The date the examples of kinds carry (the first day of the Japanese fiscal year 2026).
pub(crate) fn example_date() -> Date {
    // 2026-04-01T00:00:00+09:00.
    Date::in_japan(Timestamp::from_micros(1_774_969_200_000_000).unwrap_or(Timestamp::EPOCH))
}
