//! ID applications (Art. 12): a person's application on the prescribed form, endorsed by the
//! head of their department (the monitoring manager), then approved — the ID issued — or
//! rejected with a reason by the system administrator. Each application is a stream; every
//! step raises its version, so of two approvals made from one view exactly one wins.
//!
//! Separation of duties: whoever filled in the form neither endorses nor approves it; the
//! endorser does not also approve; nobody takes a step on an application for their own account.
//!
//! States: `submitted` → `endorsed` → `approved` (the account is issued), and `submitted` or
//! `endorsed` → `rejected`.

use crate::account::{
    history, Profile, ACCOUNTS, ACCOUNT_HISTORY, ACCOUNT_PROFILES, STAFF_NUMBERS,
};
use crate::department::{Code, DepartmentDefined, JobTypeDefined, DEPARTMENTS, JOB_TYPES};
use crate::error::{check_name, check_reason, AccessError};
use crate::role::{Role, RoleAppointed, Roles, ROLE_APPOINTMENTS};
use kiroku_core::projection::{Column, TableRole, TableSpec, Value};
use kiroku_core::query::{BadRow, Query, Stored};
use kiroku_core::{
    Actor, Change, Date, Draft, EntryIndex, EntryKind, EntryMeta, Invalid, Projection, Request,
    Subject, Timestamp,
};
use serde::{Deserialize, Serialize};

/// The longest justification, in characters.
pub const JUSTIFICATION_CHARS_MAX: usize = 1000;
/// Most applications one queue shows.
pub const QUEUE_MAX: u64 = 500;
/// Most steps one application can have (it has at most three).
pub const STEPS_MAX: u64 = 16;

/// Each application's state; each row is the application's stream.
pub static APPLICATIONS: TableSpec = TableSpec {
    name: "access_applications",
    about: "Each ID application's state (submitted, endorsed, approved, rejected) and since when; each row is the application's stream.",
    columns: &[
        Column::entry("application"),
        Column::int("version"),
        Column::text("state"),
        Column::text("department"),
        Column::int("since"),
    ],
    key: 1,
    indexes: &[&["state", "department", "application"]],
    role: TableRole::Stream { version: "version" },
};

/// Each application's form, as submitted.
pub static APPLICATION_FORMS: TableSpec = TableSpec {
    name: "access_application_forms",
    about: "Each ID application's form as submitted (申請書): the profile applied for, the justification, and who filled it in.",
    columns: &[
        Column::entry("application"),
        Column::text("account"),
        Column::text("family_name"),
        Column::text("given_name"),
        Column::text("family_kana"),
        Column::text("given_kana"),
        Column::text("staff_number").nullable(),
        Column::text("department"),
        Column::text("job_type"),
        Column::text("category"),
        Column::text("permitted_by").nullable(),
        Column::text("category_reason").nullable(),
        Column::text("valid_from"),
        Column::text("valid_until"),
        Column::text("justification"),
        Column::text("applicant"),
    ],
    key: 1,
    indexes: &[],
    role: TableRole::Plain,
};

/// Each step of each application: who took it, when, and why.
pub static APPLICATION_STEPS: TableSpec = TableSpec {
    name: "access_application_steps",
    about: "Every step of each ID application (submitted, endorsed, approved, rejected): by whom, when and why.",
    columns: &[
        Column::entry("application"),
        Column::int("version"),
        Column::text("step"),
        Column::text("account"),
        Column::text("reason").nullable(),
        Column::int("time"),
    ],
    key: 2,
    indexes: &[],
    role: TableRole::Plain,
};

/// Where an application stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum State {
    /// Filled in, awaiting the department head.
    Submitted,
    /// Endorsed by the department head, awaiting the system administrator.
    Endorsed,
    /// Approved: the ID was issued.
    Approved,
    /// Rejected, with a reason.
    Rejected,
}

impl State {
    /// As stored.
    pub fn as_str(self) -> &'static str {
        match self {
            State::Submitted => "submitted",
            State::Endorsed => "endorsed",
            State::Approved => "approved",
            State::Rejected => "rejected",
        }
    }

    /// The state of a stored name.
    pub fn parse(text: &str) -> Option<State> {
        [
            State::Submitted,
            State::Endorsed,
            State::Approved,
            State::Rejected,
        ]
        .into_iter()
        .find(|s| s.as_str() == text)
    }
}

/// `access.application/1`: an ID application on the prescribed form (Art. 12(1)).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApplicationForm {
    /// The account applied for.
    pub profile: Profile,
    /// Why the person needs the system.
    pub justification: String,
}

fn state_row(
    application: Value,
    version: u64,
    state: State,
    department: &str,
    time: Timestamp,
) -> Change {
    Change::upsert(
        &APPLICATIONS,
        vec![
            application,
            i64::try_from(version).map_or(Value::Null, Value::Int),
            Value::Text(state.as_str().into()),
            Value::Text(department.into()),
            Value::Int(time.micros()),
        ],
    )
}

fn step_row(application: Value, version: u64, state: State, meta: &EntryMeta<'_>) -> Change {
    Change::upsert(
        &APPLICATION_STEPS,
        vec![
            application,
            i64::try_from(version).map_or(Value::Null, Value::Int),
            Value::Text(state.as_str().into()),
            Value::Text(meta.actor.account.to_string()),
            meta.reason.map_or(Value::Null, |r| Value::Text(r.into())),
            Value::Int(meta.time.micros()),
        ],
    )
}

fn static_invalid(e: AccessError) -> Invalid {
    match e {
        AccessError::Invalid { field, why } => Invalid { field, why },
        _ => Invalid {
            field: "account",
            why: "is reserved",
        },
    }
}

impl EntryKind for ApplicationForm {
    const KIND: &'static str = "access.application/1";
    const PROJECTION: Projection = Projection::Into(&[
        &APPLICATIONS,
        &APPLICATION_FORMS,
        &APPLICATION_STEPS,
        &ACCOUNT_HISTORY,
    ]);

    fn check(&self, _: &EntryMeta<'_>) -> Result<(), Invalid> {
        self.profile.check().map_err(static_invalid)?;
        check_name(
            "justification",
            &self.justification,
            JUSTIFICATION_CHARS_MAX,
        )
        .map_err(static_invalid)
    }

    fn project(&self, meta: &EntryMeta<'_>, out: &mut Vec<Change>) {
        let state = State::Submitted;
        out.push(state_row(
            Value::THIS_ENTRY,
            1,
            state,
            &self.profile.department,
            meta.time,
        ));
        let mut row = vec![Value::THIS_ENTRY];
        row.extend(self.profile.values());
        row.push(Value::Text(self.justification.clone()));
        row.push(Value::Text(meta.actor.account.to_string()));
        out.push(Change::upsert(&APPLICATION_FORMS, row));
        out.push(step_row(Value::THIS_ENTRY, 1, state, meta));
        out.push(history(meta, &self.profile.account, "applied"));
    }

    fn example() -> Self {
        ApplicationForm {
            profile: Profile::example(),
            justification: "病棟看護業務のため電子カルテの参照・記載が必要".into(),
        }
    }
}

/// A step on an application: which application, and the version the step makes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Step {
    /// The application (the index of its entry).
    pub application: u64,
    /// The version this step makes (2 or more).
    pub version: u64,
    /// The application's department (kept on the stream row for the queues).
    pub department: String,
    /// The account applied for (for its history).
    pub account: String,
}

fn check_step(step: &Step, reason_required: bool, meta: &EntryMeta<'_>) -> Result<(), Invalid> {
    if step.version < 2 {
        return Err(Invalid {
            field: "version",
            why: "must be 2 or more",
        });
    }
    if reason_required && meta.reason.is_none() {
        return Err(Invalid {
            field: "reason",
            why: "is required",
        });
    }
    crate::error::check_code("department", &step.department).map_err(static_invalid)
}

fn step_changes(step: &Step, state: State, meta: &EntryMeta<'_>, out: &mut Vec<Change>) {
    let application = Value::index(EntryIndex(step.application));
    out.push(state_row(
        application.clone(),
        step.version,
        state,
        &step.department,
        meta.time,
    ));
    out.push(step_row(application, step.version, state, meta));
    if state != State::Approved {
        // An approval's history row is the account's `issued`.
        out.push(history(meta, &step.account, state.as_str()));
    }
}

/// `access.application_endorsement/1`: the department head endorses the application.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ApplicationEndorsed(pub Step);

impl EntryKind for ApplicationEndorsed {
    const KIND: &'static str = "access.application_endorsement/1";
    const PROJECTION: Projection =
        Projection::Into(&[&APPLICATIONS, &APPLICATION_STEPS, &ACCOUNT_HISTORY]);

    fn check(&self, meta: &EntryMeta<'_>) -> Result<(), Invalid> {
        check_step(&self.0, false, meta)
    }

    fn project(&self, meta: &EntryMeta<'_>, out: &mut Vec<Change>) {
        step_changes(&self.0, State::Endorsed, meta, out);
    }

    fn example() -> Self {
        ApplicationEndorsed(Step {
            application: 12,
            version: 2,
            department: "nursing".into(),
            account: "sato.hanako".into(),
        })
    }
}

/// `access.application_rejection/1`: the application is rejected; the reason says why.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ApplicationRejected(pub Step);

impl EntryKind for ApplicationRejected {
    const KIND: &'static str = "access.application_rejection/1";
    const PROJECTION: Projection =
        Projection::Into(&[&APPLICATIONS, &APPLICATION_STEPS, &ACCOUNT_HISTORY]);

    fn check(&self, meta: &EntryMeta<'_>) -> Result<(), Invalid> {
        check_step(&self.0, true, meta)
    }

    fn project(&self, meta: &EntryMeta<'_>, out: &mut Vec<Change>) {
        step_changes(&self.0, State::Rejected, meta, out);
    }

    fn example() -> Self {
        ApplicationRejected(Step {
            application: 12,
            version: 2,
            department: "nursing".into(),
            account: "sato.hanako".into(),
        })
    }
}

/// `access.account_issue/1`: the system administrator approves the application and issues the
/// ID (Art. 12(2)) with the profile approved. Makes the account's stream at version 1, so an
/// id cannot be issued twice.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AccountIssued {
    /// The application approved.
    pub step: Step,
    /// The profile issued.
    pub profile: Profile,
}

impl EntryKind for AccountIssued {
    const KIND: &'static str = "access.account_issue/1";
    const PROJECTION: Projection = Projection::Into(&[
        &APPLICATIONS,
        &APPLICATION_STEPS,
        &ACCOUNTS,
        &ACCOUNT_PROFILES,
        &STAFF_NUMBERS,
        &ACCOUNT_HISTORY,
    ]);

    fn check(&self, meta: &EntryMeta<'_>) -> Result<(), Invalid> {
        check_step(&self.step, false, meta)?;
        if self.step.account != self.profile.account {
            return Err(Invalid {
                field: "step",
                why: "names another account than the profile",
            });
        }
        self.profile.check().map_err(static_invalid)
    }

    fn project(&self, meta: &EntryMeta<'_>, out: &mut Vec<Change>) {
        step_changes(&self.step, State::Approved, meta, out);
        let application = Value::index(EntryIndex(self.step.application));
        self.profile.issue_changes(meta, application, out);
    }

    fn example() -> Self {
        AccountIssued {
            step: Step {
                application: 12,
                version: 3,
                department: "nursing".into(),
                account: "sato.hanako".into(),
            },
            profile: Profile::example(),
        }
    }
}

/// `access.first_administrator/1`: the first system administrator, made by Kiroku itself when
/// the data directory is made (there is nobody yet to apply to): the department and job type
/// the profile names, the account, and its appointment from the day it was made.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FirstAdministrator {
    /// The administrator's profile.
    pub profile: Profile,
    /// The department it names.
    pub department: Code,
    /// The job type it names.
    pub job_type: Code,
}

impl EntryKind for FirstAdministrator {
    const KIND: &'static str = "access.first_administrator/1";
    const PROJECTION: Projection = Projection::Into(&[
        &DEPARTMENTS,
        &JOB_TYPES,
        &ACCOUNTS,
        &ACCOUNT_PROFILES,
        &STAFF_NUMBERS,
        &ACCOUNT_HISTORY,
        &ROLE_APPOINTMENTS,
    ]);

    fn check(&self, _: &EntryMeta<'_>) -> Result<(), Invalid> {
        self.profile.check().map_err(static_invalid)?;
        self.department.check().map_err(static_invalid)?;
        self.job_type.check().map_err(static_invalid)?;
        if self.department.code != self.profile.department || !self.department.active {
            return Err(Invalid {
                field: "department",
                why: "is not the active department the profile names",
            });
        }
        if self.job_type.code != self.profile.job_type || !self.job_type.active {
            return Err(Invalid {
                field: "job_type",
                why: "is not the active job type the profile names",
            });
        }
        Ok(())
    }

    fn project(&self, meta: &EntryMeta<'_>, out: &mut Vec<Change>) {
        DepartmentDefined(self.department.clone()).project(meta, out);
        JobTypeDefined(self.job_type.clone()).project(meta, out);
        self.profile.issue_changes(meta, Value::Null, out);
        RoleAppointed {
            role: Role::SystemAdministrator,
            department: None,
            account: self.profile.account.clone(),
            valid_from: Date::in_japan(meta.time),
            valid_until: None,
        }
        .project(meta, out);
    }

    fn example() -> Self {
        let mut profile = Profile::example();
        profile.department = "information-systems".into();
        profile.job_type = "system-operator".into();
        FirstAdministrator {
            profile,
            department: Code {
                code: "information-systems".into(),
                name_ja: "情報システム室".into(),
                name_en: "Information Systems Office".into(),
                active: true,
            },
            job_type: Code {
                code: "system-operator".into(),
                name_ja: "システム運用担当".into(),
                name_en: "System operator".into(),
                active: true,
            },
        }
    }
}

/// An application as it stands.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApplicationState {
    /// The application's id (the index of its entry).
    pub application: EntryIndex,
    /// Its version.
    pub version: u64,
    /// Its state.
    pub state: State,
    /// The department applied for.
    pub department: String,
    /// Since when.
    pub since: Timestamp,
}

impl ApplicationState {
    /// The query for one application.
    pub fn query(application: EntryIndex) -> Query {
        Query::key(&APPLICATIONS, vec![Value::index(application)])
    }

    /// The query for applications in `state` (of one department, if given).
    pub fn queue(state: State, department: Option<&str>, limit: u64) -> Query {
        let mut eq = vec![Value::Text(state.as_str().into())];
        if let Some(d) = department {
            eq.push(Value::Text(d.into()));
        }
        Query::table(&APPLICATIONS, limit).by_index(0).matching(eq)
    }

    /// Decodes a row of [`APPLICATIONS`].
    pub fn from_row(stored: &Stored) -> Result<ApplicationState, BadRow> {
        let c = stored.cells(&APPLICATIONS);
        Ok(ApplicationState {
            application: c.entry(0)?,
            version: c.uint(1)?,
            state: c.parsed(2, State::parse)?,
            department: c.text(3)?,
            since: c.time(4)?,
        })
    }
}

/// An application's form as submitted, and who filled it in.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Submitted {
    /// The form.
    pub form: ApplicationForm,
    /// The account that filled it in.
    pub applicant: String,
}

impl Submitted {
    /// The query for one application's form.
    pub fn query(application: EntryIndex) -> Query {
        Query::key(&APPLICATION_FORMS, vec![Value::index(application)])
    }

    /// Decodes a row of [`APPLICATION_FORMS`].
    pub fn from_row(stored: &Stored) -> Result<Submitted, BadRow> {
        let c = stored.cells(&APPLICATION_FORMS);
        Ok(Submitted {
            form: ApplicationForm {
                profile: Profile::from_cells(&c, 1)?,
                justification: c.text(14)?,
            },
            applicant: c.text(15)?,
        })
    }
}

/// One step taken on an application.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StepTaken {
    /// The version it made.
    pub version: u64,
    /// What it did.
    pub state: State,
    /// Who took it.
    pub account: String,
    /// Why (for a rejection).
    pub reason: Option<String>,
    /// When.
    pub time: Timestamp,
}

impl StepTaken {
    /// The query for an application's steps, oldest first.
    pub fn query(application: EntryIndex) -> Query {
        Query::table(&APPLICATION_STEPS, STEPS_MAX).matching(vec![Value::index(application)])
    }

    /// Decodes a row of [`APPLICATION_STEPS`].
    pub fn from_row(stored: &Stored) -> Result<StepTaken, BadRow> {
        let c = stored.cells(&APPLICATION_STEPS);
        Ok(StepTaken {
            version: c.uint(1)?,
            state: c.parsed(2, State::parse)?,
            account: c.text(3)?,
            reason: c.optional_text(4)?,
            time: c.time(5)?,
        })
    }
}

/// An application with everything its rules need.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Application {
    /// Where it stands.
    pub state: ApplicationState,
    /// The form.
    pub submitted: Submitted,
    /// The steps taken, oldest first.
    pub steps: Vec<StepTaken>,
}

impl Application {
    fn took_part(&self, account: &str) -> bool {
        self.submitted.applicant == account || self.steps.iter().any(|s| s.account == account)
    }

    fn own(&self, account: &str) -> bool {
        self.submitted.form.profile.account == account
    }

    fn check_current(&self, expected: u64) -> Result<(), AccessError> {
        if self.state.version != expected {
            return Err(AccessError::Stale {
                expected,
                current: self.state.version,
            });
        }
        Ok(())
    }

    fn step(&self) -> Step {
        Step {
            application: self.state.application.0,
            version: self.state.version + 1,
            department: self.state.department.clone(),
            account: self.submitted.form.profile.account.clone(),
        }
    }

    fn subject(&self) -> Subject {
        Subject {
            kind: "account".into(),
            id: self.submitted.form.profile.account.clone(),
        }
    }
}

/// What the caller loaded for a new application: whether the codes it names are in use and
/// whether the account id is free.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Lookups {
    /// Is the department active?
    pub department_active: bool,
    /// Is the job type active?
    pub job_type_active: bool,
    /// Is the account id already issued?
    pub account_taken: bool,
    /// For category 3: is the permitting clinician an active account?
    pub permitter_active: bool,
    /// Does the department have a monitoring manager in force to endorse?
    pub department_has_head: bool,
}

/// Submits an application. Anyone with an active account may fill one in (the applicant or
/// their department); the form must be whole, its codes in use, its account id free, and its
/// validity period must not have ended.
pub fn submit(
    actor: Actor,
    form: ApplicationForm,
    lookups: Lookups,
    today: Date,
) -> Result<Request, AccessError> {
    form.profile.check()?;
    check_name(
        "justification",
        &form.justification,
        JUSTIFICATION_CHARS_MAX,
    )?;
    if form.profile.account == actor.account.as_str() {
        return Err(AccessError::OwnMatter("an account cannot apply for itself"));
    }
    if !lookups.department_active {
        return Err(AccessError::UnknownCode {
            what: "department",
            code: form.profile.department.clone(),
        });
    }
    if !lookups.job_type_active {
        return Err(AccessError::UnknownCode {
            what: "job_type",
            code: form.profile.job_type.clone(),
        });
    }
    if lookups.account_taken {
        return Err(AccessError::AccountTaken(form.profile.account.clone()));
    }
    if form.profile.permitted_by.is_some() && !lookups.permitter_active {
        return Err(AccessError::NoAccount(
            form.profile.permitted_by.clone().unwrap_or_default(),
        ));
    }
    if form.profile.valid_until < today {
        return Err(AccessError::Invalid {
            field: "valid_until",
            why: "is in the past",
        });
    }
    let subject = Subject {
        kind: "account".into(),
        id: form.profile.account.clone(),
    };
    Ok(Request::one(Draft::new(actor, form).about(subject)))
}

/// The department head (monitoring manager of the application's department) endorses an
/// application they neither filled in nor are the subject of.
pub fn endorse(
    by: &Roles,
    actor: Actor,
    application: &Application,
    expected: u64,
    today: Date,
) -> Result<Request, AccessError> {
    by.require(
        Role::MonitoringManager,
        Some(&application.state.department),
        today,
    )?;
    application.check_current(expected)?;
    if application.state.state != State::Submitted {
        return Err(AccessError::WrongState {
            step: "endorse",
            state: application.state.state.as_str(),
        });
    }
    let who = by.account.as_str();
    if application.own(who) || application.took_part(who) {
        return Err(AccessError::OwnMatter(
            "whoever filled in an application does not endorse it",
        ));
    }
    let draft =
        Draft::new(actor, ApplicationEndorsed(application.step())).about(application.subject());
    Ok(Request::one(draft))
}

/// Rejects an application, with a reason: the department head while it awaits endorsement,
/// the system administrator while it awaits endorsement or approval. Nobody rejects an
/// application they filled in.
pub fn reject(
    by: &Roles,
    actor: Actor,
    application: &Application,
    expected: u64,
    reason: &str,
    today: Date,
) -> Result<Request, AccessError> {
    let department = Some(application.state.department.as_str());
    let admin = by.holds(Role::SystemAdministrator, None, today);
    let head = by.holds(Role::MonitoringManager, department, today);
    application.check_current(expected)?;
    match application.state.state {
        State::Submitted if admin || head => {}
        State::Endorsed if admin => {}
        State::Submitted | State::Endorsed => {
            return Err(AccessError::NotPermitted {
                role: if application.state.state == State::Submitted {
                    Role::MonitoringManager
                } else {
                    Role::SystemAdministrator
                },
            })
        }
        other => {
            return Err(AccessError::WrongState {
                step: "reject",
                state: other.as_str(),
            })
        }
    }
    let who = by.account.as_str();
    if application.own(who) || application.submitted.applicant == who {
        return Err(AccessError::OwnMatter(
            "whoever filled in an application does not decide on it",
        ));
    }
    check_reason(reason)?;
    let draft = Draft::new(actor, ApplicationRejected(application.step()))
        .about(application.subject())
        .because(reason);
    Ok(Request::one(draft))
}

/// The system administrator approves an endorsed application and issues the ID with the
/// profile applied for. Not their own application, not one they filled in or endorsed; the
/// codes must still be in use and the id still free (the writer checks the id again: the
/// account's stream must not exist). An application to a department that has no head in
/// force may be approved without endorsement — that is how the first heads are issued — and
/// its history shows it went straight from submitted to approved.
pub fn approve(
    by: &Roles,
    actor: Actor,
    application: &Application,
    expected: u64,
    lookups: Lookups,
    today: Date,
) -> Result<Request, AccessError> {
    by.require(Role::SystemAdministrator, None, today)?;
    application.check_current(expected)?;
    let ready = match application.state.state {
        State::Endorsed => true,
        State::Submitted => !lookups.department_has_head,
        State::Approved | State::Rejected => false,
    };
    if !ready {
        return Err(AccessError::WrongState {
            step: "approve",
            state: application.state.state.as_str(),
        });
    }
    let who = by.account.as_str();
    if application.own(who) || application.took_part(who) {
        return Err(AccessError::OwnMatter(
            "whoever filled in or endorsed an application does not approve it",
        ));
    }
    let profile = application.submitted.form.profile.clone();
    if !lookups.department_active || !lookups.job_type_active {
        return Err(AccessError::UnknownCode {
            what: if lookups.department_active {
                "job_type"
            } else {
                "department"
            },
            code: if lookups.department_active {
                profile.job_type.clone()
            } else {
                profile.department.clone()
            },
        });
    }
    if lookups.account_taken {
        return Err(AccessError::AccountTaken(profile.account.clone()));
    }
    if profile.valid_until < today {
        return Err(AccessError::Invalid {
            field: "valid_until",
            why: "is in the past",
        });
    }
    let draft = Draft::new(
        actor,
        AccountIssued {
            step: application.step(),
            profile,
        },
    )
    .about(application.subject());
    Ok(Request::one(draft))
}

/// The first system administrator, made by Kiroku itself: one entry holding the department
/// and job type the profile names, the account, and its appointment.
pub fn first_administrator(
    profile: Profile,
    department: Code,
    job_type: Code,
) -> Result<Request, AccessError> {
    let payload = FirstAdministrator {
        profile,
        department,
        job_type,
    };
    payload.profile.check()?;
    payload.check(&EntryMeta {
        time: Timestamp::EPOCH,
        actor: &Actor::system(),
        subject: None,
        reason: None,
    })?;
    let subject = Subject {
        kind: "account".into(),
        id: payload.profile.account.clone(),
    };
    Ok(Request::one(
        Draft::new(Actor::system(), payload).about(subject),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::account::Category;
    use crate::role::Held;
    use kiroku_core::AccountId;

    fn date(text: &str) -> Date {
        Date::parse(text).unwrap()
    }

    fn today() -> Date {
        date("2026-11-25")
    }

    fn roles(account: &str, held: &[(Role, Option<&str>)]) -> Roles {
        Roles {
            account: AccountId::parse(account).unwrap(),
            held: held
                .iter()
                .map(|(role, department)| Held {
                    role: *role,
                    department: department.map(str::to_owned),
                    account: account.into(),
                    valid_from: date("2026-04-01"),
                    valid_until: None,
                })
                .collect(),
        }
    }

    fn actor(account: &str) -> Actor {
        Actor {
            account: AccountId::parse(account).unwrap(),
            session: None,
        }
    }

    fn form() -> ApplicationForm {
        let mut profile = Profile::example();
        profile.valid_from = date("2026-12-01");
        profile.valid_until = date("2027-03-31");
        ApplicationForm {
            profile,
            justification: "病棟業務".into(),
        }
    }

    const FREE: Lookups = Lookups {
        department_active: true,
        job_type_active: true,
        account_taken: false,
        permitter_active: false,
        department_has_head: true,
    };

    fn application(state: State, version: u64, steps: &[(State, &str)]) -> Application {
        Application {
            state: ApplicationState {
                application: EntryIndex(40),
                version,
                state,
                department: "nursing".into(),
                since: Timestamp::EPOCH,
            },
            submitted: Submitted {
                form: form(),
                applicant: "clerk.nursing".into(),
            },
            steps: steps
                .iter()
                .enumerate()
                .map(|(i, (state, account))| StepTaken {
                    version: i as u64 + 1,
                    state: *state,
                    account: (*account).into(),
                    reason: None,
                    time: Timestamp::EPOCH,
                })
                .collect(),
        }
    }

    // Shows what a submission needs: a whole form, codes in use, a free id, a period that has
    // not ended, and a permitting clinician for category 3; and that nobody applies for the
    // account they act as.
    #[test]
    fn submission() {
        let ok = submit(actor("clerk.nursing"), form(), FREE, today()).unwrap();
        assert_eq!(ok.drafts.len(), 1);
        let refuse = |f: ApplicationForm, l: Lookups| {
            submit(actor("clerk.nursing"), f, l, today()).unwrap_err()
        };
        assert!(matches!(
            refuse(
                form(),
                Lookups {
                    department_active: false,
                    ..FREE
                }
            ),
            AccessError::UnknownCode {
                what: "department",
                ..
            }
        ));
        assert!(matches!(
            refuse(
                form(),
                Lookups {
                    job_type_active: false,
                    ..FREE
                }
            ),
            AccessError::UnknownCode {
                what: "job_type",
                ..
            }
        ));
        assert!(matches!(
            refuse(
                form(),
                Lookups {
                    account_taken: true,
                    ..FREE
                }
            ),
            AccessError::AccountTaken(_)
        ));
        let mut ended = form();
        ended.profile.valid_from = date("2026-01-01");
        ended.profile.valid_until = date("2026-11-24");
        assert!(matches!(
            refuse(ended, FREE),
            AccessError::Invalid {
                field: "valid_until",
                ..
            }
        ));
        let mut permitted = form();
        permitted.profile.category = Category::PermittedByStaff;
        assert!(matches!(
            refuse(permitted.clone(), FREE),
            AccessError::Invalid {
                field: "permitted_by",
                ..
            }
        ));
        permitted.profile.permitted_by = Some("dr.kato".into());
        assert!(matches!(
            refuse(permitted.clone(), FREE),
            AccessError::NoAccount(_)
        ));
        assert!(submit(
            actor("clerk.nursing"),
            permitted,
            Lookups {
                permitter_active: true,
                ..FREE
            },
            today()
        )
        .is_ok());
        let mut kana = form();
        kana.profile.family_kana = "Sato".into();
        assert!(matches!(
            refuse(kana, FREE),
            AccessError::Invalid {
                field: "family_kana",
                ..
            }
        ));
        let mut reserved = form();
        reserved.profile.account = "operator".into();
        assert!(matches!(
            refuse(reserved, FREE),
            AccessError::AccountTaken(_)
        ));
        assert_eq!(
            submit(actor("sato.hanako"), form(), FREE, today()).unwrap_err(),
            AccessError::OwnMatter("an account cannot apply for itself")
        );
    }

    // Shows the endorsement rule: only the head of the application's department, only while
    // submitted, only from the current version, and never by whoever filled it in.
    #[test]
    fn endorsement() {
        let head = roles(
            "head.nursing",
            &[(Role::MonitoringManager, Some("nursing"))],
        );
        let other_head = roles(
            "head.surgery",
            &[(Role::MonitoringManager, Some("surgery"))],
        );
        let submitted = application(State::Submitted, 1, &[(State::Submitted, "clerk.nursing")]);
        let request = endorse(&head, actor("head.nursing"), &submitted, 1, today()).unwrap();
        assert_eq!(request.drafts[0].kind().as_str(), ApplicationEndorsed::KIND);
        assert_eq!(
            endorse(&other_head, actor("head.surgery"), &submitted, 1, today()).unwrap_err(),
            AccessError::NotPermitted {
                role: Role::MonitoringManager
            }
        );
        assert_eq!(
            endorse(&head, actor("head.nursing"), &submitted, 2, today()).unwrap_err(),
            AccessError::Stale {
                expected: 2,
                current: 1
            }
        );
        let endorsed = application(
            State::Endorsed,
            2,
            &[
                (State::Submitted, "clerk.nursing"),
                (State::Endorsed, "head.nursing"),
            ],
        );
        assert!(matches!(
            endorse(&head, actor("head.nursing"), &endorsed, 2, today()).unwrap_err(),
            AccessError::WrongState {
                step: "endorse",
                ..
            }
        ));
        let mut own = submitted.clone();
        own.submitted.applicant = "head.nursing".into();
        assert!(matches!(
            endorse(&head, actor("head.nursing"), &own, 1, today()).unwrap_err(),
            AccessError::OwnMatter(_)
        ));
        // An appointment that has ended no longer counts.
        let mut ended = head.clone();
        ended.held[0].valid_until = Some(date("2026-11-24"));
        assert!(matches!(
            endorse(&ended, actor("head.nursing"), &submitted, 1, today()).unwrap_err(),
            AccessError::NotPermitted { .. }
        ));
    }

    // Shows the approval rule: only the system administrator, only once endorsed, never by
    // whoever filled in or endorsed the application or is its subject; the issue entry makes
    // the account's stream at version 1 and the application's next version.
    #[test]
    fn approval() {
        let admin = roles("director", &[(Role::SystemAdministrator, None)]);
        let endorsed = application(
            State::Endorsed,
            2,
            &[
                (State::Submitted, "clerk.nursing"),
                (State::Endorsed, "head.nursing"),
            ],
        );
        let request = approve(&admin, actor("director"), &endorsed, 2, FREE, today()).unwrap();
        assert_eq!(request.drafts[0].kind().as_str(), AccountIssued::KIND);
        let head = roles(
            "head.nursing",
            &[(Role::MonitoringManager, Some("nursing"))],
        );
        assert_eq!(
            approve(&head, actor("head.nursing"), &endorsed, 2, FREE, today()).unwrap_err(),
            AccessError::NotPermitted {
                role: Role::SystemAdministrator
            }
        );
        let both = roles(
            "head.nursing",
            &[
                (Role::MonitoringManager, Some("nursing")),
                (Role::SystemAdministrator, None),
            ],
        );
        assert!(matches!(
            approve(&both, actor("head.nursing"), &endorsed, 2, FREE, today()).unwrap_err(),
            AccessError::OwnMatter(_)
        ));
        let submitted = application(State::Submitted, 1, &[(State::Submitted, "clerk.nursing")]);
        assert!(matches!(
            approve(&admin, actor("director"), &submitted, 1, FREE, today()).unwrap_err(),
            AccessError::WrongState {
                step: "approve",
                ..
            }
        ));
        // A department without a head in force: its first applications go straight to the
        // administrator.
        let headless = Lookups {
            department_has_head: false,
            ..FREE
        };
        assert!(approve(&admin, actor("director"), &submitted, 1, headless, today()).is_ok());
        assert!(matches!(
            approve(
                &admin,
                actor("director"),
                &endorsed,
                2,
                Lookups {
                    account_taken: true,
                    ..FREE
                },
                today()
            )
            .unwrap_err(),
            AccessError::AccountTaken(_)
        ));
        let mut own = endorsed.clone();
        own.submitted.form.profile.account = "director".into();
        assert!(matches!(
            approve(&admin, actor("director"), &own, 2, FREE, today()).unwrap_err(),
            AccessError::OwnMatter(_)
        ));
    }

    // Shows the rejection rule: the head may reject while submitted, the administrator while
    // submitted or endorsed; a reason is required; decided applications stay decided.
    #[test]
    fn rejection() {
        let admin = roles("director", &[(Role::SystemAdministrator, None)]);
        let head = roles(
            "head.nursing",
            &[(Role::MonitoringManager, Some("nursing"))],
        );
        let submitted = application(State::Submitted, 1, &[(State::Submitted, "clerk.nursing")]);
        let endorsed = application(
            State::Endorsed,
            2,
            &[
                (State::Submitted, "clerk.nursing"),
                (State::Endorsed, "head.nursing"),
            ],
        );
        assert!(reject(
            &head,
            actor("head.nursing"),
            &submitted,
            1,
            "重複申請",
            today()
        )
        .is_ok());
        assert!(reject(
            &admin,
            actor("director"),
            &endorsed,
            2,
            "期間が長すぎる",
            today()
        )
        .is_ok());
        assert_eq!(
            reject(&head, actor("head.nursing"), &endorsed, 2, "x", today()).unwrap_err(),
            AccessError::NotPermitted {
                role: Role::SystemAdministrator
            }
        );
        assert_eq!(
            reject(&admin, actor("director"), &endorsed, 2, " ", today()).unwrap_err(),
            AccessError::Reason
        );
        let approved = application(State::Approved, 3, &[]);
        assert!(matches!(
            reject(&admin, actor("director"), &approved, 3, "x", today()).unwrap_err(),
            AccessError::WrongState { step: "reject", .. }
        ));
    }
}
