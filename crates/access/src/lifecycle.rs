//! The lifecycle of access after an ID is issued: status-change reports (Art. 12(5)) and
//! access reviews (recertification).
//!
//! **Reports.** A user who loses eligibility, no longer needs access, or whose situation changes
//! reports it to the operations manager and the department's monitoring manager — or the
//! department head reports it for them. A report is an entry; it stays open until one of those
//! who receive it (an operations manager, the department's head, or a system administrator)
//! handles it with a note of what was done. Handling is a claim: two people handling one report
//! at once cannot both succeed.
//!
//! **Reviews.** A system administrator opens a review with a deadline; it lists every active
//! account with its department. Each department head confirms or revokes each member of their
//! department (a system administrator may decide for any department, and nobody decides on
//! their own account); a revocation suspends the account in the same request. At the deadline
//! the review is closed and every member still undecided — and still active — is suspended, in
//! one request. Each decision is a claim, so an account is decided once.
//!
//! Tables: [`STATUS_REPORTS`], [`REPORTS_HANDLED`], [`REVIEWS`], [`REVIEW_MEMBERS`],
//! [`REVIEW_DECISIONS`], [`REVIEW_CLOSURES`].

use crate::account::{
    history, AccountState, AccountSuspended, Status, StatusChange, ACCOUNT_HISTORY,
};
use crate::error::{check_reason, invalid, AccessError};
use crate::role::{Role, Roles};
use kiroku_core::projection::{Column, TableRole, TableSpec, Value};
use kiroku_core::query::{BadRow, Query, Stored};
use kiroku_core::{
    AccountId, Actor, Change, Date, Draft, EntryIndex, EntryKind, EntryMeta, Invalid, Projection,
    Request, Subject, Timestamp,
};
use serde::{Deserialize, Serialize};

/// The longest report text, in characters.
pub const DETAILS_CHARS_MAX: usize = 2000;
/// Most members one review entry lists (a review of more is split into several entries).
pub const MEMBERS_PER_ENTRY_MAX: usize = 500;

/// Status-change reports.
pub static STATUS_REPORTS: TableSpec = TableSpec {
    name: "access_status_reports",
    about: "Status-change reports (Art. 12(5)): whose account, its department, what changed and the details, by whom and when.",
    columns: &[
        Column::entry("report"),
        Column::text("account"),
        Column::text("department"),
        Column::text("change"),
        Column::text("details"),
        Column::text("reported_by"),
        Column::int("time"),
    ],
    key: 1,
    indexes: &[],
    role: TableRole::Plain,
};

/// Reports handled: claimed once, by whoever handled them.
pub static REPORTS_HANDLED: TableSpec = TableSpec {
    name: "access_reports_handled",
    about: "Status-change reports handled: by whom, when, and the note of what was done; each report is handled once.",
    columns: &[
        Column::entry("report"),
        Column::text("handled_by"),
        Column::text("note"),
        Column::int("time"),
    ],
    key: 1,
    indexes: &[],
    role: TableRole::Claims { owner: "handled_by" },
};

/// Access reviews.
pub static REVIEWS: TableSpec = TableSpec {
    name: "access_reviews",
    about: "Access reviews (recertification): when each was opened, by whom, and its deadline.",
    columns: &[
        Column::entry("review"),
        Column::int("deadline"),
        Column::text("opened_by"),
        Column::int("time"),
    ],
    key: 1,
    indexes: &[],
    role: TableRole::Plain,
};

/// The accounts each review covers.
pub static REVIEW_MEMBERS: TableSpec = TableSpec {
    name: "access_review_members",
    about: "The accounts each access review covers, with their department when it was opened.",
    columns: &[
        Column::entry("review"),
        Column::text("account"),
        Column::text("department"),
    ],
    key: 2,
    indexes: &[],
    role: TableRole::Plain,
};

/// Each member's decision: claimed once.
pub static REVIEW_DECISIONS: TableSpec = TableSpec {
    name: "access_review_decisions",
    about: "Each reviewed account's decision (confirmed or revoked), by whom and when; an account is decided once per review.",
    columns: &[
        Column::entry("review"),
        Column::text("account"),
        Column::text("by"),
        Column::text("decision"),
        Column::int("time"),
    ],
    key: 2,
    indexes: &[],
    role: TableRole::Claims { owner: "by" },
};

/// Reviews closed.
pub static REVIEW_CLOSURES: TableSpec = TableSpec {
    name: "access_review_closures",
    about: "Access reviews closed at their deadline: by whom, when, and how many undecided accounts were suspended.",
    columns: &[
        Column::entry("review"),
        Column::text("closed_by"),
        Column::int("suspended"),
        Column::int("time"),
    ],
    key: 1,
    indexes: &[],
    role: TableRole::Claims { owner: "closed_by" },
};

/// What changed, as the report says.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReportedChange {
    /// No longer eligible (left the hospital, contract ended…).
    Eligibility,
    /// No longer needs access.
    NoLongerNeeded,
    /// The situation changed (department, job type, name…).
    Changed,
}

impl ReportedChange {
    /// Every change, in order.
    pub const ALL: [ReportedChange; 3] = [
        ReportedChange::Eligibility,
        ReportedChange::NoLongerNeeded,
        ReportedChange::Changed,
    ];

    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            ReportedChange::Eligibility => "eligibility",
            ReportedChange::NoLongerNeeded => "no_longer_needed",
            ReportedChange::Changed => "changed",
        }
    }

    /// Parses [`ReportedChange::as_str`].
    pub fn parse(text: &str) -> Option<ReportedChange> {
        ReportedChange::ALL.into_iter().find(|c| c.as_str() == text)
    }
}

/// A review decision.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Decision {
    /// Access is still needed.
    Confirmed,
    /// Access is no longer needed: the account is suspended.
    Revoked,
}

impl Decision {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Decision::Confirmed => "confirmed",
            Decision::Revoked => "revoked",
        }
    }

    /// Parses [`Decision::as_str`].
    pub fn parse(text: &str) -> Option<Decision> {
        [Decision::Confirmed, Decision::Revoked]
            .into_iter()
            .find(|d| d.as_str() == text)
    }
}

fn check_account(account: &str) -> Result<(), Invalid> {
    AccountId::parse(account).map(|_| ()).map_err(|_| Invalid {
        field: "account",
        why: "is not an account id",
    })
}

fn check_details(details: &str) -> Result<(), AccessError> {
    if details.trim().is_empty() {
        return Err(invalid("details", "is empty"));
    }
    if details.chars().count() > DETAILS_CHARS_MAX {
        return Err(invalid("details", "is longer than 2000 characters"));
    }
    if details
        .chars()
        .any(|c| c.is_control() && c != '\n' && c != '\t')
    {
        return Err(invalid("details", "holds control characters"));
    }
    Ok(())
}

fn entry_value(index: u64) -> Value {
    Value::index(EntryIndex(index))
}

// ── Reports ────────────────────────────────────────────────────────────────────────────────

/// `access.status_report/1`: a change of `account`'s situation is reported.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StatusReported {
    /// The account the report is about.
    pub account: String,
    /// Its department (whose head receives the report).
    pub department: String,
    /// What changed.
    pub change: ReportedChange,
    /// The details, in the reporter's words.
    pub details: String,
}

impl EntryKind for StatusReported {
    const KIND: &'static str = "access.status_report/1";
    const PROJECTION: Projection = Projection::Into(&[&STATUS_REPORTS, &ACCOUNT_HISTORY]);

    fn check(&self, _: &EntryMeta<'_>) -> Result<(), Invalid> {
        check_account(&self.account)?;
        crate::error::check_code("department", &self.department).map_err(|_| Invalid {
            field: "department",
            why: "is not a code",
        })?;
        check_details(&self.details).map_err(|_| Invalid {
            field: "details",
            why: "must be 1–2000 characters without control characters",
        })
    }

    fn project(&self, meta: &EntryMeta<'_>, out: &mut Vec<Change>) {
        out.push(history(
            meta,
            &self.account,
            &format!("reported:{}", self.change.as_str()),
        ));
        out.push(Change::upsert(
            &STATUS_REPORTS,
            vec![
                Value::THIS_ENTRY,
                Value::Text(self.account.clone()),
                Value::Text(self.department.clone()),
                Value::Text(self.change.as_str().into()),
                Value::Text(self.details.clone()),
                Value::Text(meta.actor.account.to_string()),
                Value::Int(meta.time.micros()),
            ],
        ));
    }

    fn example() -> Self {
        StatusReported {
            account: "sato.hanako".into(),
            department: "nursing".into(),
            change: ReportedChange::Changed,
            details: "2027年4月1日付で外科病棟へ異動".into(),
        }
    }
}

/// `access.report_handling/1`: report `report` was handled; `note` says what was done.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReportHandled {
    /// The report (its entry).
    pub report: u64,
    /// The account it is about.
    pub account: String,
    /// What was done.
    pub note: String,
}

impl EntryKind for ReportHandled {
    const KIND: &'static str = "access.report_handling/1";
    const PROJECTION: Projection = Projection::Into(&[&REPORTS_HANDLED, &ACCOUNT_HISTORY]);

    fn check(&self, _: &EntryMeta<'_>) -> Result<(), Invalid> {
        check_account(&self.account)?;
        check_details(&self.note).map_err(|_| Invalid {
            field: "note",
            why: "must be 1–2000 characters without control characters",
        })
    }

    fn project(&self, meta: &EntryMeta<'_>, out: &mut Vec<Change>) {
        out.push(history(meta, &self.account, "report_handled"));
        out.push(Change::upsert(
            &REPORTS_HANDLED,
            vec![
                entry_value(self.report),
                Value::Text(meta.actor.account.to_string()),
                Value::Text(self.note.clone()),
                Value::Int(meta.time.micros()),
            ],
        ));
    }

    fn example() -> Self {
        ReportHandled {
            report: 40,
            account: "sato.hanako".into(),
            note: "所属の変更を申請するよう案内した".into(),
        }
    }
}

/// A report, with its handling if it was handled.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Report {
    /// Its entry.
    pub report: EntryIndex,
    /// The account it is about.
    pub account: String,
    /// The account's department.
    pub department: String,
    /// What changed.
    pub change: ReportedChange,
    /// The details.
    pub details: String,
    /// Who reported.
    pub reported_by: String,
    /// When.
    pub time: Timestamp,
    /// Who handled it, when, and the note.
    pub handled: Option<Handled>,
}

/// How a report was handled.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Handled {
    /// By whom.
    pub by: String,
    /// The note.
    pub note: String,
    /// When.
    pub time: Timestamp,
}

impl Report {
    /// The query for the newest `limit` reports, newest first.
    pub fn newest(limit: u64) -> Query {
        Query::table(&STATUS_REPORTS, limit).descending()
    }

    /// The query for report `report`.
    pub fn query(report: EntryIndex) -> Query {
        Query::table(&STATUS_REPORTS, 1).matching(vec![Value::index(report)])
    }

    /// Decodes a row of [`STATUS_REPORTS`] (not yet with its handling).
    pub fn from_row(stored: &Stored) -> Result<Report, BadRow> {
        let c = stored.cells(&STATUS_REPORTS);
        Ok(Report {
            report: c.entry(0)?,
            account: c.text(1)?,
            department: c.text(2)?,
            change: c.parsed(3, ReportedChange::parse)?,
            details: c.text(4)?,
            reported_by: c.text(5)?,
            time: c.time(6)?,
            handled: None,
        })
    }
}

impl Handled {
    /// The query for the handling of `report`.
    pub fn query(report: EntryIndex) -> Query {
        Query::table(&REPORTS_HANDLED, 1).matching(vec![Value::index(report)])
    }

    /// Decodes a row of [`REPORTS_HANDLED`].
    pub fn from_row(stored: &Stored) -> Result<Handled, BadRow> {
        let c = stored.cells(&REPORTS_HANDLED);
        Ok(Handled {
            by: c.text(1)?,
            note: c.text(2)?,
            time: c.time(3)?,
        })
    }
}

/// `actor` reports a change of `target`'s situation: the account itself, or the head of its
/// department (the policy decides; this rule holds the account to be issued).
pub fn report(
    actor: Actor,
    target: &AccountState,
    department: &str,
    change: ReportedChange,
    details: &str,
) -> Result<Request, AccessError> {
    check_details(details)?;
    if target.status == Status::Deactivated {
        return Err(AccessError::WrongState {
            step: "report",
            state: target.status.as_str(),
        });
    }
    Ok(Request::one(
        Draft::new(
            actor,
            StatusReported {
                account: target.account.clone(),
                department: department.into(),
                change,
                details: details.into(),
            },
        )
        .about(Subject {
            kind: "account".into(),
            id: target.account.clone(),
        }),
    ))
}

/// Does `by` receive reports about members of `department` today: an operations manager, the
/// department's head, or a system administrator?
pub fn receives(by: &Roles, department: &str, today: Date) -> bool {
    by.holds(Role::OperationsManager, None, today)
        || by.holds(Role::SystemAdministrator, None, today)
        || by.holds(Role::MonitoringManager, Some(department), today)
}

/// `by` handles `report` with a note: one who receives it, not the reporter handling a report
/// about themselves, and only once.
pub fn handle(
    by: &Roles,
    actor: Actor,
    found: &Report,
    note: &str,
    today: Date,
) -> Result<Request, AccessError> {
    if !receives(by, &found.department, today) {
        return Err(AccessError::NotPermitted {
            role: Role::OperationsManager,
        });
    }
    if found.account == by.account.as_str() {
        return Err(AccessError::OwnMatter(
            "a report about oneself is handled by someone else",
        ));
    }
    if found.handled.is_some() {
        return Err(AccessError::WrongState {
            step: "handle",
            state: "handled",
        });
    }
    check_details(note).map_err(|_| invalid("note", "must be 1–2000 characters"))?;
    Ok(Request::one(Draft::new(
        actor,
        ReportHandled {
            report: found.report.0,
            account: found.account.clone(),
            note: note.into(),
        },
    )))
}

// ── Reviews ────────────────────────────────────────────────────────────────────────────────

/// A member of a review.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Member {
    /// The account.
    pub account: String,
    /// Its department.
    pub department: String,
}

/// `access.review_opening/1`: an access review was opened with a deadline (µs since the
/// epoch), listing its members. A review of many accounts is several consecutive entries of one
/// request; the first is the review, and each later one says how many entries back it is.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReviewOpened {
    /// How many entries back the review's first entry is (0: this entry is the review).
    pub back: u32,
    /// The deadline.
    pub deadline: i64,
    /// Members.
    pub members: Vec<Member>,
}

impl EntryKind for ReviewOpened {
    const KIND: &'static str = "access.review_opening/1";
    const PROJECTION: Projection = Projection::Into(&[&REVIEWS, &REVIEW_MEMBERS]);

    fn check(&self, meta: &EntryMeta<'_>) -> Result<(), Invalid> {
        if self.back == 0 && self.deadline <= meta.time.micros() {
            return Err(Invalid {
                field: "deadline",
                why: "must be after the opening",
            });
        }
        if self.members.len() > MEMBERS_PER_ENTRY_MAX {
            return Err(Invalid {
                field: "members",
                why: "are more than 500 in one entry",
            });
        }
        for m in &self.members {
            check_account(&m.account)?;
        }
        Ok(())
    }

    fn project(&self, meta: &EntryMeta<'_>, out: &mut Vec<Change>) {
        let review = match self.back {
            0 => {
                out.push(Change::upsert(
                    &REVIEWS,
                    vec![
                        Value::THIS_ENTRY,
                        Value::Int(self.deadline),
                        Value::Text(meta.actor.account.to_string()),
                        Value::Int(meta.time.micros()),
                    ],
                ));
                Value::THIS_ENTRY
            }
            back => Value::Entry(-i64::from(back)),
        };
        for m in &self.members {
            out.push(Change::upsert(
                &REVIEW_MEMBERS,
                vec![
                    review.clone(),
                    Value::Text(m.account.clone()),
                    Value::Text(m.department.clone()),
                ],
            ));
        }
    }

    fn example() -> Self {
        ReviewOpened {
            back: 0,
            deadline: 1_000_000,
            members: vec![Member {
                account: "sato.hanako".into(),
                department: "nursing".into(),
            }],
        }
    }
}

/// `access.review_decision/1`: in review `review`, `account` was confirmed or revoked.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReviewDecided {
    /// The review.
    pub review: u64,
    /// The account.
    pub account: String,
    /// The decision.
    pub decision: Decision,
}

impl EntryKind for ReviewDecided {
    const KIND: &'static str = "access.review_decision/1";
    const PROJECTION: Projection = Projection::Into(&[&REVIEW_DECISIONS, &ACCOUNT_HISTORY]);

    fn check(&self, _: &EntryMeta<'_>) -> Result<(), Invalid> {
        check_account(&self.account)
    }

    fn project(&self, meta: &EntryMeta<'_>, out: &mut Vec<Change>) {
        out.push(history(
            meta,
            &self.account,
            &format!("review:{}", self.decision.as_str()),
        ));
        out.push(Change::upsert(
            &REVIEW_DECISIONS,
            vec![
                entry_value(self.review),
                Value::Text(self.account.clone()),
                Value::Text(meta.actor.account.to_string()),
                Value::Text(self.decision.as_str().into()),
                Value::Int(meta.time.micros()),
            ],
        ));
    }

    fn example() -> Self {
        ReviewDecided {
            review: 50,
            account: "sato.hanako".into(),
            decision: Decision::Confirmed,
        }
    }
}

/// `access.review_closure/1`: review `review` was closed at its deadline; `suspended`
/// undecided accounts were suspended by the entries after it in the same request.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReviewClosed {
    /// The review.
    pub review: u64,
    /// How many accounts were suspended.
    pub suspended: u64,
}

impl EntryKind for ReviewClosed {
    const KIND: &'static str = "access.review_closure/1";
    const PROJECTION: Projection = Projection::Into(&[&REVIEW_CLOSURES]);

    fn check(&self, _: &EntryMeta<'_>) -> Result<(), Invalid> {
        Ok(())
    }

    fn project(&self, meta: &EntryMeta<'_>, out: &mut Vec<Change>) {
        out.push(Change::upsert(
            &REVIEW_CLOSURES,
            vec![
                entry_value(self.review),
                Value::Text(meta.actor.account.to_string()),
                i64::try_from(self.suspended).map_or(Value::Null, Value::Int),
                Value::Int(meta.time.micros()),
            ],
        ));
    }

    fn example() -> Self {
        ReviewClosed {
            review: 50,
            suspended: 2,
        }
    }
}

/// A review as stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Review {
    /// Its entry.
    pub review: EntryIndex,
    /// Its deadline.
    pub deadline: Timestamp,
    /// Who opened it.
    pub opened_by: String,
    /// When.
    pub opened: Timestamp,
    /// Its closure: by whom, when, and how many were suspended.
    pub closed: Option<Closure>,
}

/// A review's closure.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Closure {
    /// By whom.
    pub by: String,
    /// Accounts suspended.
    pub suspended: u64,
    /// When.
    pub time: Timestamp,
}

impl Review {
    /// The query for the newest `limit` reviews, newest first.
    pub fn newest(limit: u64) -> Query {
        Query::table(&REVIEWS, limit).descending()
    }

    /// The query for review `review`.
    pub fn query(review: EntryIndex) -> Query {
        Query::table(&REVIEWS, 1).matching(vec![Value::index(review)])
    }

    /// Decodes a row of [`REVIEWS`] (not yet with its closure).
    pub fn from_row(stored: &Stored) -> Result<Review, BadRow> {
        let c = stored.cells(&REVIEWS);
        Ok(Review {
            review: c.entry(0)?,
            deadline: c.time(1)?,
            opened_by: c.text(2)?,
            opened: c.time(3)?,
            closed: None,
        })
    }

    /// Is it due for closing at `now`?
    pub fn due(&self, now: Timestamp) -> bool {
        self.closed.is_none() && now >= self.deadline
    }
}

impl Closure {
    /// The query for the closure of `review`.
    pub fn query(review: EntryIndex) -> Query {
        Query::table(&REVIEW_CLOSURES, 1).matching(vec![Value::index(review)])
    }

    /// Decodes a row of [`REVIEW_CLOSURES`].
    pub fn from_row(stored: &Stored) -> Result<Closure, BadRow> {
        let c = stored.cells(&REVIEW_CLOSURES);
        Ok(Closure {
            by: c.text(1)?,
            suspended: c.uint(2)?,
            time: c.time(3)?,
        })
    }
}

/// A member of a review with its decision, if taken.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Item {
    /// The account.
    pub account: String,
    /// Its department.
    pub department: String,
    /// The decision, by whom and when.
    pub decided: Option<(Decision, String, Timestamp)>,
}

impl Item {
    /// The query for review `review`'s members, in account order.
    pub fn members(review: EntryIndex, limit: u64) -> Query {
        Query::table(&REVIEW_MEMBERS, limit).matching(vec![Value::index(review)])
    }

    /// The query for review `review`'s decisions, in account order.
    pub fn decisions(review: EntryIndex, limit: u64) -> Query {
        Query::table(&REVIEW_DECISIONS, limit).matching(vec![Value::index(review)])
    }

    /// The query for one member.
    pub fn member(review: EntryIndex, account: &str) -> Query {
        Query::table(&REVIEW_MEMBERS, 1)
            .matching(vec![Value::index(review), Value::Text(account.into())])
    }

    /// The query for one member's decision.
    pub fn decision(review: EntryIndex, account: &str) -> Query {
        Query::table(&REVIEW_DECISIONS, 1)
            .matching(vec![Value::index(review), Value::Text(account.into())])
    }

    /// Decodes a row of [`REVIEW_MEMBERS`] (undecided).
    pub fn from_member_row(stored: &Stored) -> Result<Item, BadRow> {
        let c = stored.cells(&REVIEW_MEMBERS);
        Ok(Item {
            account: c.text(1)?,
            department: c.text(2)?,
            decided: None,
        })
    }

    /// Decodes a row of [`REVIEW_DECISIONS`]: the account and its decision.
    pub fn from_decision_row(
        stored: &Stored,
    ) -> Result<(String, (Decision, String, Timestamp)), BadRow> {
        let c = stored.cells(&REVIEW_DECISIONS);
        Ok((
            c.text(1)?,
            (c.parsed(3, Decision::parse)?, c.text(2)?, c.time(4)?),
        ))
    }
}

/// A system administrator opens a review of `members` with `deadline` (after `now`).
pub fn open(
    by: &Roles,
    actor: Actor,
    members: Vec<Member>,
    deadline: Timestamp,
    now: Timestamp,
    today: Date,
) -> Result<Request, AccessError> {
    by.require(Role::SystemAdministrator, None, today)?;
    if deadline <= now {
        return Err(invalid("deadline", "must be in the future"));
    }
    let mut chunks = members.chunks(MEMBERS_PER_ENTRY_MAX);
    let first = chunks.next().unwrap_or(&[]).to_vec();
    let mut drafts = vec![Draft::new(
        actor.clone(),
        ReviewOpened {
            back: 0,
            deadline: deadline.micros(),
            members: first,
        },
    )];
    // The later entries name the first by how far back it is.
    for (i, chunk) in chunks.enumerate() {
        drafts.push(Draft::new(
            actor.clone(),
            ReviewOpened {
                back: u32::try_from(i + 1).unwrap_or(u32::MAX),
                deadline: deadline.micros(),
                members: chunk.to_vec(),
            },
        ));
    }
    Ok(Request::of(drafts))
}

/// `by` decides on `item` of `review` (open, before its deadline): the head of the member's
/// department or a system administrator, never on their own account. A revocation suspends the
/// account in the same request (`target` is its status, seen now).
#[allow(clippy::too_many_arguments)]
pub fn decide(
    by: &Roles,
    actor: Actor,
    review: &Review,
    item: &Item,
    target: &AccountState,
    decision: Decision,
    reason: Option<&str>,
    now: Timestamp,
    today: Date,
) -> Result<Request, AccessError> {
    if !(by.holds(Role::MonitoringManager, Some(&item.department), today)
        || by.holds(Role::SystemAdministrator, None, today))
    {
        return Err(AccessError::NotPermitted {
            role: Role::MonitoringManager,
        });
    }
    if item.account == by.account.as_str() {
        return Err(AccessError::OwnMatter("nobody reviews their own access"));
    }
    if review.closed.is_some() || now >= review.deadline {
        return Err(AccessError::WrongState {
            step: "decide",
            state: "closed",
        });
    }
    if item.decided.is_some() {
        return Err(AccessError::WrongState {
            step: "decide",
            state: "decided",
        });
    }
    let decided = Draft::new(
        actor.clone(),
        ReviewDecided {
            review: review.review.0,
            account: item.account.clone(),
            decision,
        },
    );
    if decision == Decision::Confirmed {
        return Ok(Request::one(decided));
    }
    let reason = reason.unwrap_or_default();
    check_reason(reason)?;
    let mut drafts = vec![decided.because(reason)];
    if target.status == Status::Active {
        drafts.push(suspension(actor, target, reason));
    }
    Ok(Request::of(drafts))
}

fn suspension(actor: Actor, target: &AccountState, reason: &str) -> Draft {
    Draft::new(
        actor,
        AccountSuspended(StatusChange {
            account: target.account.clone(),
            version: target.version + 1,
        }),
    )
    .about(Subject {
        kind: "account".into(),
        id: target.account.clone(),
    })
    .because(reason)
}

/// Closes `review` at or after its deadline: every member undecided and still active is
/// suspended (`undecided` holds their status, seen now).
pub fn close(
    by: &Roles,
    actor: Actor,
    review: &Review,
    undecided: &[AccountState],
    now: Timestamp,
    today: Date,
) -> Result<Request, AccessError> {
    by.require(Role::SystemAdministrator, None, today)?;
    if review.closed.is_some() {
        return Err(AccessError::WrongState {
            step: "close",
            state: "closed",
        });
    }
    if now < review.deadline {
        return Err(AccessError::WrongState {
            step: "close",
            state: "open until its deadline",
        });
    }
    let reason = format!(
        "access review {} was not answered by its deadline",
        review.review.0
    );
    let active: Vec<&AccountState> = undecided
        .iter()
        .filter(|s| s.status == Status::Active)
        .collect();
    let mut drafts = vec![Draft::new(
        actor.clone(),
        ReviewClosed {
            review: review.review.0,
            suspended: active.len() as u64,
        },
    )];
    let mut request = Request::of(Vec::new());
    for target in active {
        drafts.push(suspension(actor.clone(), target, &reason));
        // Decided on the member being undecided: a confirmation that lands first (a head
        // confirming at the last moment) refuses the closure, which is then decided again,
        // rather than suspending someone just confirmed.
        request = request.expecting(kiroku_core::Expect::Unclaimed {
            table: &REVIEW_DECISIONS,
            key: vec![
                Value::index(review.review),
                Value::Text(target.account.clone()),
            ],
        });
    }
    request.drafts = drafts;
    Ok(request)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::role::Held;
    use kiroku_core::{AccountId, EntryIndex, Expect};

    // Shows the closure decided on members being undecided: it suspends each active undecided
    // member and expects each to be still undecided when it is appended (an unclaimed
    // decision), so that a confirmation landing first refuses it rather than being overridden;
    // a member already suspended is neither suspended again nor expected.
    #[test]
    fn a_closure_expects_its_members_undecided() {
        let today = crate::example_date();
        let admin = AccountId::parse("admin.one").unwrap();
        let roles = Roles {
            account: admin.clone(),
            held: vec![Held {
                role: Role::SystemAdministrator,
                department: None,
                account: admin.to_string(),
                valid_from: today,
                valid_until: None,
            }],
        };
        let deadline = Timestamp::from_micros(1_800_000_000_000_000).unwrap();
        let review = Review {
            review: EntryIndex(40),
            deadline,
            opened_by: "admin.one".into(),
            opened: Timestamp::EPOCH,
            closed: None,
        };
        let member = |account: &str, status: Status| AccountState {
            account: account.into(),
            version: 3,
            status,
            since: Timestamp::EPOCH,
            last_entry: EntryIndex(7),
        };
        let undecided = [
            member("sato.hanako", Status::Active),
            member("ito.kei", Status::Suspended),
        ];
        let actor = Actor {
            account: admin,
            session: None,
        };
        let request = close(&roles, actor, &review, &undecided, deadline, today).unwrap();
        assert_eq!(request.drafts.len(), 2, "the closure and one suspension");
        assert_eq!(request.expect.len(), 1);
        assert!(matches!(
            &request.expect[0],
            Expect::Unclaimed { table, key }
                if table.name == REVIEW_DECISIONS.name
                    && key == &vec![Value::Int(40), Value::Text("sato.hanako".into())]
        ));
    }
}
