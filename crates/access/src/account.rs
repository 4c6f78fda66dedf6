//! Accounts: the IDs the system administrator issues (Art. 12(2)), each with the profile that
//! was approved and a status — active, suspended (Art. 9), or deactivated when the person
//! leaves. Each account is a stream: issuing it makes version 1, and every change of status
//! raises the version, so two administrators acting on one account from the same view cannot
//! both win.
//!
//! Tables: [`ACCOUNTS`] (the stream: status and since when), [`ACCOUNT_PROFILES`] (who the
//! account is: names, department, job type, Art. 10 category, validity period) and
//! [`STAFF_NUMBERS`] (claimed, so one staff number has one account).

use crate::error::{check_name, check_reason, invalid, AccessError};
use crate::role::{Role, Roles};
use kiroku_core::projection::{Column, TableRole, TableSpec, Value};
use kiroku_core::query::{BadRow, Cells, Query, Stored};
use kiroku_core::{
    AccountId, Actor, Change, Date, Draft, EntryKind, EntryMeta, Expect, Invalid, Projection,
    Request, Timestamp,
};
use serde::{Deserialize, Serialize};

/// The longest family or given name (and their kana), in characters.
pub const NAME_CHARS_MAX: usize = 64;
/// The longest staff number, in characters.
pub const STAFF_NUMBER_CHARS_MAX: usize = 32;
/// The longest validity period of an ID, in days (about five years).
pub const VALIDITY_DAYS_MAX: i64 = 5 * 366;
/// Account ids reserved for Kiroku itself.
pub const RESERVED_IDS: [&str; 4] = ["system", "operator", "admin", "root"];

/// Each account's status; each row is the account's stream.
pub static ACCOUNTS: TableSpec = TableSpec {
    name: "access_accounts",
    about: "Each account's status (active, suspended, deactivated) and since when; each row is the account's stream.",
    columns: &[
        Column::text("account"),
        Column::int("version"),
        Column::text("status"),
        Column::int("since"),
    ],
    key: 1,
    indexes: &[&["status", "account"]],
    role: TableRole::Stream { version: "version" },
};

/// Who each account is, as approved.
pub static ACCOUNT_PROFILES: TableSpec = TableSpec {
    name: "access_account_profiles",
    about: "Who each account is, as approved: names, staff number, department, job type, Art. 10 category and validity period.",
    columns: &[
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
        Column::entry("application").nullable(),
    ],
    key: 1,
    indexes: &[&["department", "account"], &["job_type", "account"]],
    role: TableRole::Plain,
};

/// Staff numbers, each claimed by one account.
pub static STAFF_NUMBERS: TableSpec = TableSpec {
    name: "access_staff_numbers",
    about: "Staff numbers, each claimed by the one account issued for it.",
    columns: &[Column::text("staff_number"), Column::text("account")],
    key: 1,
    indexes: &[],
    role: TableRole::Claims { owner: "account" },
};

/// Everything that happened to each account, newest last: the account's history page.
pub static ACCOUNT_HISTORY: TableSpec = TableSpec {
    name: "access_account_history",
    about: "Every entry about each account (applied, endorsed, issued, suspended, roles…): what, by whom, when and why.",
    columns: &[
        Column::text("account"),
        Column::entry("entry"),
        Column::text("event"),
        Column::text("by"),
        Column::text("reason").nullable(),
        Column::int("time"),
    ],
    // One entry may make several events of one account (the first administrator's: issued and
    // appointed).
    key: 3,
    indexes: &[],
    role: TableRole::Plain,
};

/// The history row of an entry about `account`.
pub(crate) fn history(meta: &EntryMeta<'_>, account: &str, event: &str) -> Change {
    Change::upsert(
        &ACCOUNT_HISTORY,
        vec![
            Value::Text(account.into()),
            Value::THIS_ENTRY,
            Value::Text(event.into()),
            Value::Text(meta.actor.account.to_string()),
            meta.reason.map_or(Value::Null, |r| Value::Text(r.into())),
            Value::Int(meta.time.micros()),
        ],
    )
}

/// One event of an account's history.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Event {
    /// The entry.
    pub entry: kiroku_core::EntryIndex,
    /// What happened (`applied`, `endorsed`, `issued`, `suspended`, `appointed:auditor`…).
    pub event: String,
    /// By whom.
    pub by: String,
    /// Why, where a reason was given.
    pub reason: Option<String>,
    /// When.
    pub time: Timestamp,
}

impl Event {
    /// The query for an account's history, oldest first.
    pub fn of_account(account: &str, limit: u64) -> Query {
        Query::table(&ACCOUNT_HISTORY, limit).matching(vec![Value::Text(account.into())])
    }

    /// Decodes a row of [`ACCOUNT_HISTORY`].
    pub fn from_row(stored: &Stored) -> Result<Event, BadRow> {
        let c = stored.cells(&ACCOUNT_HISTORY);
        Ok(Event {
            entry: c.entry(1)?,
            event: c.text(2)?,
            by: c.text(3)?,
            reason: c.optional_text(4)?,
            time: c.time(5)?,
        })
    }
}

/// The user categories of Art. 10.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Category {
    /// (1) Hospital staff engaged in medical work.
    MedicalStaff,
    /// (2) A registered trainee doctor (研修登録医).
    TraineeDoctor,
    /// (3) A person permitted by medical staff (the permitting clinician is recorded).
    PermittedByStaff,
    /// (4) A researcher or research student.
    Researcher,
    /// (5) Another person the administrator deems especially necessary (the reason is
    /// recorded).
    SpeciallyNecessary,
}

impl Category {
    /// Every category, in the order of Art. 10.
    pub const ALL: [Category; 5] = [
        Category::MedicalStaff,
        Category::TraineeDoctor,
        Category::PermittedByStaff,
        Category::Researcher,
        Category::SpeciallyNecessary,
    ];

    /// As stored and in the API.
    pub fn as_str(self) -> &'static str {
        match self {
            Category::MedicalStaff => "medical_staff",
            Category::TraineeDoctor => "trainee_doctor",
            Category::PermittedByStaff => "permitted_by_staff",
            Category::Researcher => "researcher",
            Category::SpeciallyNecessary => "specially_necessary",
        }
    }

    /// The category of a stored name.
    pub fn parse(text: &str) -> Option<Category> {
        Category::ALL.into_iter().find(|c| c.as_str() == text)
    }
}

/// Who an account is: what the application asked for and the administrator approved.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Profile {
    /// The account id (login name).
    pub account: String,
    /// Family name in kanji (氏).
    pub family_name: String,
    /// Given name in kanji (名).
    pub given_name: String,
    /// Family name in kana (シ).
    pub family_kana: String,
    /// Given name in kana (メイ).
    pub given_kana: String,
    /// Staff number (職員番号), for staff.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub staff_number: Option<String>,
    /// Department code.
    pub department: String,
    /// Job type code.
    pub job_type: String,
    /// The Art. 10 category.
    pub category: Category,
    /// The clinician who permitted use (category 3).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub permitted_by: Option<String>,
    /// Why use is especially necessary (category 5).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub category_reason: Option<String>,
    /// First day of use.
    pub valid_from: Date,
    /// Last day of use.
    pub valid_until: Date,
}

fn is_kana(c: char) -> bool {
    matches!(c, '\u{30A0}'..='\u{30FF}' | '\u{3040}'..='\u{309F}' | '\u{31F0}'..='\u{31FF}' | ' ' | '\u{3000}')
}

impl Profile {
    /// Checks the fields' forms (not whether codes exist: the caller loads them).
    pub fn check(&self) -> Result<(), AccessError> {
        check_account_id(&self.account)?;
        check_name("family_name", &self.family_name, NAME_CHARS_MAX)?;
        check_name("given_name", &self.given_name, NAME_CHARS_MAX)?;
        check_name("family_kana", &self.family_kana, NAME_CHARS_MAX)?;
        check_name("given_kana", &self.given_kana, NAME_CHARS_MAX)?;
        if !self.family_kana.chars().all(is_kana) {
            return Err(invalid("family_kana", "is not written in kana"));
        }
        if !self.given_kana.chars().all(is_kana) {
            return Err(invalid("given_kana", "is not written in kana"));
        }
        if let Some(number) = &self.staff_number {
            let ok = !number.is_empty()
                && number.chars().count() <= STAFF_NUMBER_CHARS_MAX
                && number
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-');
            if !ok {
                return Err(invalid(
                    "staff_number",
                    "is not 1–32 of A–Z, a–z, 0–9 and -",
                ));
            }
        }
        crate::error::check_code("department", &self.department)?;
        crate::error::check_code("job_type", &self.job_type)?;
        match (self.category, &self.permitted_by) {
            (Category::PermittedByStaff, None) => {
                return Err(invalid("permitted_by", "is required for this category"))
            }
            (Category::PermittedByStaff, Some(by)) => {
                AccountId::parse(by)
                    .map_err(|_| invalid("permitted_by", "is not an account id"))?;
            }
            (_, Some(_)) => return Err(invalid("permitted_by", "applies to category 3 only")),
            (_, None) => {}
        }
        match (self.category, &self.category_reason) {
            (Category::SpeciallyNecessary, None) => {
                return Err(invalid("category_reason", "is required for this category"))
            }
            (Category::SpeciallyNecessary, Some(reason)) => {
                check_name("category_reason", reason, 500)?;
            }
            (_, Some(_)) => return Err(invalid("category_reason", "applies to category 5 only")),
            (_, None) => {}
        }
        if self.valid_until < self.valid_from {
            return Err(invalid("valid_until", "is before valid_from"));
        }
        if self.valid_from.days_until(self.valid_until) > VALIDITY_DAYS_MAX {
            return Err(invalid(
                "valid_until",
                "is more than five years after valid_from",
            ));
        }
        Ok(())
    }

    /// The profile's values, in the order of [`ACCOUNT_PROFILES`]' columns.
    pub(crate) fn values(&self) -> Vec<Value> {
        let text = |s: &str| Value::Text(s.into());
        let optional = |s: &Option<String>| s.as_deref().map_or(Value::Null, text);
        vec![
            text(&self.account),
            text(&self.family_name),
            text(&self.given_name),
            text(&self.family_kana),
            text(&self.given_kana),
            optional(&self.staff_number),
            text(&self.department),
            text(&self.job_type),
            text(self.category.as_str()),
            optional(&self.permitted_by),
            optional(&self.category_reason),
            Value::Text(self.valid_from.to_string()),
            Value::Text(self.valid_until.to_string()),
        ]
    }

    /// Decodes the 13 profile values starting at column `at`.
    pub(crate) fn from_cells(c: &Cells<'_>, at: usize) -> Result<Profile, BadRow> {
        Ok(Profile {
            account: c.text(at)?,
            family_name: c.text(at + 1)?,
            given_name: c.text(at + 2)?,
            family_kana: c.text(at + 3)?,
            given_kana: c.text(at + 4)?,
            staff_number: c.optional_text(at + 5)?,
            department: c.text(at + 6)?,
            job_type: c.text(at + 7)?,
            category: c.parsed(at + 8, Category::parse)?,
            permitted_by: c.optional_text(at + 9)?,
            category_reason: c.optional_text(at + 10)?,
            valid_from: c.date(at + 11)?,
            valid_until: c.date(at + 12)?,
        })
    }

    /// The changes issuing this profile's account makes: the stream at version 1, the profile,
    /// and the staff number's claim.
    pub(crate) fn issue_changes(
        &self,
        meta: &EntryMeta<'_>,
        application: Value,
        out: &mut Vec<Change>,
    ) {
        out.push(Change::upsert(
            &ACCOUNTS,
            vec![
                Value::Text(self.account.clone()),
                Value::Int(1),
                Value::Text(Status::Active.as_str().into()),
                Value::Int(meta.time.micros()),
            ],
        ));
        let mut row = self.values();
        row.push(application);
        out.push(Change::upsert(&ACCOUNT_PROFILES, row));
        out.push(history(meta, &self.account, "issued"));
        if let Some(number) = &self.staff_number {
            out.push(Change::upsert(
                &STAFF_NUMBERS,
                vec![
                    Value::Text(number.clone()),
                    Value::Text(self.account.clone()),
                ],
            ));
        }
    }

    /// The query for an account's profile.
    pub fn query(account: &str) -> Query {
        Query::key(&ACCOUNT_PROFILES, vec![Value::Text(account.into())])
    }

    /// The query for a page of profiles in account order, after `after`.
    pub fn page(after: Option<&str>, limit: u64) -> Query {
        Query::table(&ACCOUNT_PROFILES, limit).after(after.map(|a| vec![Value::Text(a.into())]))
    }

    /// The query for the profiles of job type `job_type`, in account order.
    pub fn of_job_type(job_type: &str, limit: u64) -> Query {
        Query::table(&ACCOUNT_PROFILES, limit)
            .by_index(1)
            .matching(vec![Value::Text(job_type.into())])
    }

    /// The query for the profiles of department `department`, in account order.
    pub fn of_department(department: &str, limit: u64) -> Query {
        Query::table(&ACCOUNT_PROFILES, limit)
            .by_index(0)
            .matching(vec![Value::Text(department.into())])
    }

    /// Decodes a row of [`ACCOUNT_PROFILES`].
    pub fn from_row(stored: &Stored) -> Result<Profile, BadRow> {
        Profile::from_cells(&stored.cells(&ACCOUNT_PROFILES), 0)
    }

    /// Is today within the validity period?
    pub fn valid_on(&self, today: Date) -> bool {
        self.valid_from <= today && today <= self.valid_until
    }

    pub(crate) fn example() -> Profile {
        Profile {
            account: "sato.hanako".into(),
            family_name: "佐藤".into(),
            given_name: "花子".into(),
            family_kana: "サトウ".into(),
            given_kana: "ハナコ".into(),
            staff_number: Some("N-10234".into()),
            department: "nursing".into(),
            job_type: "nurse".into(),
            category: Category::MedicalStaff,
            permitted_by: None,
            category_reason: None,
            valid_from: crate::example_date(),
            valid_until: crate::example_date(),
        }
    }
}

/// Checks an account id for a new account: the id form, and not reserved.
pub fn check_account_id(account: &str) -> Result<(), AccessError> {
    AccountId::parse(account).map_err(|_| {
        invalid(
            "account",
            "is not an account id (1–128 of a–z, 0–9, ., _ and -)",
        )
    })?;
    if account.len() < 3 {
        return Err(invalid("account", "is shorter than 3 characters"));
    }
    if RESERVED_IDS.contains(&account) {
        return Err(AccessError::AccountTaken(account.into()));
    }
    Ok(())
}

/// An account's status.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    /// May sign in and act, within its validity period.
    Active,
    /// Use suspended (Art. 9); may be reinstated.
    Suspended,
    /// Ended (the person left); final.
    Deactivated,
}

impl Status {
    /// As stored.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Active => "active",
            Status::Suspended => "suspended",
            Status::Deactivated => "deactivated",
        }
    }

    /// The status of a stored name.
    pub fn parse(text: &str) -> Option<Status> {
        match text {
            "active" => Some(Status::Active),
            "suspended" => Some(Status::Suspended),
            "deactivated" => Some(Status::Deactivated),
            _ => None,
        }
    }
}

/// An account's stream row.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AccountState {
    /// The account id.
    pub account: String,
    /// The stream's version.
    pub version: u64,
    /// Its status.
    pub status: Status,
    /// Since when.
    pub since: Timestamp,
    /// The entry that set it.
    pub last_entry: kiroku_core::EntryIndex,
}

impl AccountState {
    /// The query for one account.
    pub fn query(account: &str) -> Query {
        Query::key(&ACCOUNTS, vec![Value::Text(account.into())])
    }

    /// Decodes a row of [`ACCOUNTS`].
    pub fn from_row(stored: &Stored) -> Result<AccountState, BadRow> {
        let c = stored.cells(&ACCOUNTS);
        Ok(AccountState {
            account: c.text(0)?,
            version: c.uint(1)?,
            status: c.parsed(2, Status::parse)?,
            since: c.time(3)?,
            last_entry: stored.last_entry,
        })
    }

    /// A precondition: the account is still at the version read.
    pub fn expect_current(&self) -> Expect {
        Expect::Version {
            table: &ACCOUNTS,
            key: vec![Value::Text(self.account.clone())],
            version: self.version,
        }
    }
}

/// A change of an account's status, with the version it makes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StatusChange {
    /// The account.
    pub account: String,
    /// The version this change makes (2 or more).
    pub version: u64,
}

fn status_changes(
    change: &StatusChange,
    status: Status,
    event: &str,
    meta: &EntryMeta<'_>,
    out: &mut Vec<Change>,
) {
    out.push(history(meta, &change.account, event));
    out.push(Change::upsert(
        &ACCOUNTS,
        vec![
            Value::Text(change.account.clone()),
            i64::try_from(change.version).map_or(Value::Null, Value::Int),
            Value::Text(status.as_str().into()),
            Value::Int(meta.time.micros()),
        ],
    ));
}

fn check_status_change(change: &StatusChange, meta: &EntryMeta<'_>) -> Result<(), Invalid> {
    if meta.reason.is_none() {
        return Err(Invalid {
            field: "reason",
            why: "is required",
        });
    }
    if change.version < 2 {
        return Err(Invalid {
            field: "version",
            why: "must be 2 or more",
        });
    }
    AccountId::parse(&change.account)
        .map(|_| ())
        .map_err(|_| Invalid {
            field: "account",
            why: "is not an account id",
        })
}

macro_rules! status_kind {
    ($name:ident, $kind:literal, $status:expr, $event:literal, $doc:literal) => {
        #[doc = $doc]
        #[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(pub StatusChange);

        impl EntryKind for $name {
            const KIND: &'static str = $kind;
            const PROJECTION: Projection = Projection::Into(&[&ACCOUNTS, &ACCOUNT_HISTORY]);

            fn check(&self, meta: &EntryMeta<'_>) -> Result<(), Invalid> {
                check_status_change(&self.0, meta)
            }

            fn project(&self, meta: &EntryMeta<'_>, out: &mut Vec<Change>) {
                status_changes(&self.0, $status, $event, meta, out);
            }

            fn example() -> Self {
                $name(StatusChange {
                    account: "sato.hanako".into(),
                    version: 2,
                })
            }
        }
    };
}

status_kind!(
    AccountSuspended,
    "access.account_suspension/1",
    Status::Suspended,
    "suspended",
    "`access.account_suspension/1`: use of the account is suspended (Art. 9); its sessions and tokens stop working at once. The reason says why."
);
status_kind!(
    AccountReinstated,
    "access.account_reinstatement/1",
    Status::Active,
    "reinstated",
    "`access.account_reinstatement/1`: a suspended account may be used again. The reason says why."
);
status_kind!(
    AccountDeactivated,
    "access.account_deactivation/1",
    Status::Deactivated,
    "deactivated",
    "`access.account_deactivation/1`: the account is ended (the person left or no longer needs it; Art. 12(5)). Final."
);

/// Which status change.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StatusStep {
    /// Suspend (Art. 9).
    Suspend,
    /// Reinstate.
    Reinstate,
    /// Deactivate.
    Deactivate,
}

impl StatusStep {
    fn name(self) -> &'static str {
        match self {
            StatusStep::Suspend => "suspend",
            StatusStep::Reinstate => "reinstate",
            StatusStep::Deactivate => "deactivate",
        }
    }
}

/// Suspends, reinstates or deactivates `target`, which the administrator saw at version
/// `expected`. Only the system administrator does this, never to their own account; a
/// suspension needs an active account, a reinstatement a suspended one, and a deactivated
/// account stays so.
pub fn change_status(
    by: &Roles,
    actor: Actor,
    target: &AccountState,
    step: StatusStep,
    expected: u64,
    reason: &str,
    today: Date,
) -> Result<Request, AccessError> {
    by.require(Role::SystemAdministrator, None, today)?;
    if by.account.as_str() == target.account {
        return Err(AccessError::OwnMatter(
            "nobody changes the status of their own account",
        ));
    }
    if target.version != expected {
        return Err(AccessError::Stale {
            expected,
            current: target.version,
        });
    }
    let fits = matches!(
        (step, target.status),
        (StatusStep::Suspend, Status::Active)
            | (StatusStep::Reinstate, Status::Suspended)
            | (StatusStep::Deactivate, Status::Active | Status::Suspended)
    );
    if !fits {
        return Err(AccessError::WrongState {
            step: step.name(),
            state: target.status.as_str(),
        });
    }
    check_reason(reason)?;
    let change = StatusChange {
        account: target.account.clone(),
        version: expected + 1,
    };
    let draft = match step {
        StatusStep::Suspend => Draft::new(actor, AccountSuspended(change)),
        StatusStep::Reinstate => Draft::new(actor, AccountReinstated(change)),
        StatusStep::Deactivate => Draft::new(actor, AccountDeactivated(change)),
    }
    .about(kiroku_core::Subject {
        kind: "account".into(),
        id: target.account.clone(),
    })
    .because(reason);
    Ok(Request::one(draft))
}
