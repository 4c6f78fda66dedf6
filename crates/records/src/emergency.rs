//! Break-the-glass (緊急時アクセス): a clinician with no care relationship to a patient opens
//! the patient's records after stating a reason. The access is an entry
//! (`records.emergency/1`), lasts a limited time ([`MINUTES_MAX`] at most), marks every read
//! made under it (disclosures with the purpose `emergency`), and waits in [`QUEUE`] until a
//! reviewer records whether it was justified (`records.emergency_review/1`, once per access:
//! [`REVIEWS`] is claimed).

use crate::resource::is_id;
use kiroku_core::projection::{Column, TableRole, TableSpec, Value};
use kiroku_core::query::{Query, Stored};
use kiroku_core::{
    Actor, Change, Draft, EntryIndex, EntryKind, EntryMeta, Invalid, Projection, Request, Subject,
    Timestamp,
};
use serde::{Deserialize, Serialize};

/// What a queued access is: a break-the-glass access.
pub const KIND_EMERGENCY: &str = "emergency";

/// The longest a break-the-glass access lasts, in minutes.
pub const MINUTES_MAX: u32 = 60;
/// The longest reason, or review note, in characters.
pub const REASON_CHARS_MAX: usize = 500;

/// Break-the-glass accesses, by account and patient, with when each ends.
pub static GRANTS: TableSpec = TableSpec {
    name: "records_emergency_grants",
    about:
        "Every break-the-glass access: who opened which patient's records, when, and until when.",
    columns: &[
        Column::text("account"),
        Column::text("patient"),
        Column::entry("entry"),
        Column::int("time"),
        Column::int("until"),
    ],
    key: 3,
    indexes: &[],
    role: TableRole::Plain,
};

/// Accesses waiting for review, with the reason each gave: break-the-glass accesses
/// (`emergency`), and the care assignments (`care`) and changes of a chart's flags (`flags`)
/// people made ([`crate::assignment`]).
pub static QUEUE: TableSpec = TableSpec {
    name: "records_emergency_queue",
    about: "Accesses waiting for review, with the reason each gave: break-the-glass accesses, and care assignments and flag changes made by people.",
    columns: &[
        Column::entry("entry"),
        Column::text("account"),
        Column::text("patient"),
        Column::int("time"),
        Column::int("until"),
        Column::text("reason"),
        Column::text("kind"),
    ],
    key: 1,
    indexes: &[],
    role: TableRole::Plain,
};

/// Reviews of break-the-glass accesses: claimed, so that an access is reviewed once.
pub static REVIEWS: TableSpec = TableSpec {
    name: "records_emergency_reviews",
    about: "Who reviewed each break-the-glass access, when, and the finding; claimed by the review's entry, so an access is reviewed once.",
    columns: &[
        Column::int("access"),
        Column::entry("entry"),
        Column::text("account"),
        Column::text("finding"),
        Column::int("time"),
    ],
    key: 1,
    indexes: &[],
    role: TableRole::Claims { owner: "entry" },
};

/// Why a break-the-glass access cannot be opened or reviewed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum EmergencyError {
    /// The account has a care relationship with the patient: it needs no emergency access.
    #[error("the account has a care relationship with the patient")]
    NotNeeded,
    /// The reason is empty, too long, or holds control characters.
    #[error("the reason is empty, too long or holds control characters")]
    Reason,
    /// The length is not 1 to 60 minutes.
    #[error("an emergency access lasts 1 to {MINUTES_MAX} minutes")]
    Minutes,
    /// No access of that entry waits for review.
    #[error("no emergency access of that entry waits for review")]
    NotWaiting,
    /// A reviewer does not review their own access.
    #[error("nobody reviews their own emergency access")]
    OwnAccess,
    /// An unjustified finding needs a note; a note is at most 500 characters.
    #[error("the note is missing for an unjustified access, too long or holds control characters")]
    Note,
}

fn reason_ok(text: &str, required: bool) -> bool {
    let chars = text.chars().count();
    (!required || !text.trim().is_empty())
        && chars <= REASON_CHARS_MAX
        && !text.chars().any(|c| c.is_control() && c != '\n')
}

/// `records.emergency/1`: the entry's actor opened `patient`'s records without a care
/// relationship, for `minutes`, stating `reason`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Emergency {
    /// The patient's id.
    pub patient: String,
    /// Why, in the clinician's words.
    pub reason: String,
    /// How long the access lasts.
    pub minutes: u32,
}

impl EntryKind for Emergency {
    const KIND: &'static str = "records.emergency/1";
    const PROJECTION: Projection = Projection::Into(&[&GRANTS, &QUEUE]);

    fn check(&self, _: &EntryMeta<'_>) -> Result<(), Invalid> {
        if !is_id(&self.patient) {
            return Err(Invalid {
                field: "patient",
                why: "is not an FHIR id",
            });
        }
        if !reason_ok(&self.reason, true) {
            return Err(Invalid {
                field: "reason",
                why: "is empty, too long or holds control characters",
            });
        }
        if !(1..=MINUTES_MAX).contains(&self.minutes) {
            return Err(Invalid {
                field: "minutes",
                why: "is not between 1 and 60",
            });
        }
        Ok(())
    }

    fn project(&self, meta: &EntryMeta<'_>, out: &mut Vec<Change>) {
        let until = meta.time.micros() + i64::from(self.minutes) * 60_000_000;
        let account = Value::Text(meta.actor.account.to_string());
        out.push(Change::upsert(
            &GRANTS,
            vec![
                account.clone(),
                Value::Text(self.patient.clone()),
                Value::THIS_ENTRY,
                Value::Int(meta.time.micros()),
                Value::Int(until),
            ],
        ));
        out.push(Change::upsert(
            &QUEUE,
            vec![
                Value::THIS_ENTRY,
                account,
                Value::Text(self.patient.clone()),
                Value::Int(meta.time.micros()),
                Value::Int(until),
                Value::Text(self.reason.clone()),
                Value::Text(KIND_EMERGENCY.into()),
            ],
        ));
    }

    fn example() -> Self {
        Emergency {
            patient: "demo-1".into(),
            reason: "救急搬送・意識障害のため既往歴を確認 / unconscious on arrival".into(),
            minutes: 60,
        }
    }
}

fn checked<K: EntryKind>(payload: &K) -> Result<(), Invalid> {
    payload.check(&EntryMeta {
        time: Timestamp::EPOCH,
        actor: &Actor::system(),
        subject: None,
        reason: None,
    })
}

/// The entry opening `patient`'s records for `minutes`, if its reason and length are
/// acceptable.
pub fn open(
    actor: Actor,
    patient: &str,
    reason: &str,
    minutes: u32,
) -> Result<Request, EmergencyError> {
    let payload = Emergency {
        patient: patient.into(),
        reason: reason.into(),
        minutes,
    };
    checked(&payload).map_err(|invalid| match invalid.field {
        "minutes" => EmergencyError::Minutes,
        _ => EmergencyError::Reason,
    })?;
    Ok(Request::one(Draft::new(actor, payload).about(Subject {
        kind: "patient".into(),
        id: patient.into(),
    })))
}

/// A reviewer's finding.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Finding {
    /// The access was justified.
    Justified,
    /// It was not: the note says what follows (Art. 11's restriction of use).
    Unjustified,
}

impl Finding {
    /// The finding as stored.
    pub fn as_str(self) -> &'static str {
        match self {
            Finding::Justified => "justified",
            Finding::Unjustified => "unjustified",
        }
    }

    /// A stored finding.
    pub fn parse(text: &str) -> Option<Finding> {
        match text {
            "justified" => Some(Finding::Justified),
            "unjustified" => Some(Finding::Unjustified),
            _ => None,
        }
    }
}

/// `records.emergency_review/1`: the entry's actor reviewed the break-the-glass access in
/// entry `access`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Review {
    /// The access's entry.
    pub access: u64,
    /// The finding.
    pub finding: Finding,
    /// What the reviewer found (required when unjustified).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub note: String,
}

impl EntryKind for Review {
    const KIND: &'static str = "records.emergency_review/1";
    const PROJECTION: Projection = Projection::Into(&[&QUEUE, &REVIEWS]);

    fn check(&self, _: &EntryMeta<'_>) -> Result<(), Invalid> {
        if !reason_ok(&self.note, self.finding == Finding::Unjustified) {
            return Err(Invalid {
                field: "note",
                why: "is missing for an unjustified access, too long, or holds control characters",
            });
        }
        Ok(())
    }

    fn project(&self, meta: &EntryMeta<'_>, out: &mut Vec<Change>) {
        out.push(Change::delete(&QUEUE, vec![Value::Int(self.access as i64)]));
        out.push(Change::upsert(
            &REVIEWS,
            vec![
                Value::Int(self.access as i64),
                Value::THIS_ENTRY,
                Value::Text(meta.actor.account.to_string()),
                Value::Text(self.finding.as_str().into()),
                Value::Int(meta.time.micros()),
            ],
        ));
    }

    fn example() -> Self {
        Review {
            access: 41,
            finding: Finding::Justified,
            note: String::new(),
        }
    }
}

/// The entry recording a review of the access `waiting`, if its note is acceptable. The
/// writer refuses a second review of the same access.
pub fn review(
    actor: Actor,
    waiting: &Waiting,
    finding: Finding,
    note: &str,
) -> Result<Request, EmergencyError> {
    let payload = Review {
        access: waiting.entry.0,
        finding,
        note: note.into(),
    };
    checked(&payload).map_err(|_| EmergencyError::Note)?;
    Ok(Request::one(Draft::new(actor, payload).about(Subject {
        kind: "patient".into(),
        id: waiting.patient.clone(),
    })))
}

/// A break-the-glass access waiting for review.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Waiting {
    /// Its entry.
    pub entry: EntryIndex,
    /// Who opened the records.
    pub account: String,
    /// Whose records.
    pub patient: String,
    /// When.
    pub time: Timestamp,
    /// Until when.
    pub until: Timestamp,
    /// Why, as stated.
    pub reason: String,
    /// What it is: `emergency` (break-the-glass), `care` (a care assignment) or `flags` (a
    /// change of the chart's flags).
    pub kind: String,
}

impl Waiting {
    /// The accesses waiting, oldest first.
    pub fn query(limit: u64) -> Query {
        Query::table(&QUEUE, limit)
    }

    /// The access of entry `entry`, if it waits.
    pub fn one(entry: EntryIndex) -> Query {
        Query::key(&QUEUE, vec![Value::index(entry)])
    }

    /// A row of [`QUEUE`].
    pub fn from_row(stored: &Stored) -> Result<Waiting, kiroku_core::query::BadRow> {
        let cells = stored.cells(&QUEUE);
        Ok(Waiting {
            entry: cells.entry(0)?,
            account: cells.text(1)?,
            patient: cells.text(2)?,
            time: cells.time(3)?,
            until: cells.time(4)?,
            reason: cells.text(5)?,
            kind: cells.text(6)?,
        })
    }
}

/// The accesses `account` opened to `patient`'s records (newest last).
pub fn grants(account: &str, patient: &str) -> Query {
    Query::table(&GRANTS, 256).matching(vec![
        Value::Text(account.into()),
        Value::Text(patient.into()),
    ])
}

/// When a row of [`GRANTS`] ends.
pub fn grant_until(stored: &Stored) -> Result<Timestamp, kiroku_core::query::BadRow> {
    stored.cells(&GRANTS).time(4)
}

/// Is an access that ends at `until` open at `now`?
pub fn is_open(until: Timestamp, now: Timestamp) -> bool {
    now < until
}

#[cfg(test)]
mod tests {
    use super::*;

    // Shows what a break-the-glass entry and a review must hold.
    #[test]
    fn entries_checked() {
        let good = Emergency::example();
        let check = |e: &Emergency| checked(e).is_ok();
        assert!(check(&good));
        assert!(!check(&Emergency {
            reason: "  ".into(),
            ..good.clone()
        }));
        assert!(!check(&Emergency {
            minutes: 61,
            ..good.clone()
        }));
        assert!(!check(&Emergency {
            minutes: 0,
            ..good.clone()
        }));
        assert!(!check(&Emergency {
            patient: "a b".into(),
            ..good.clone()
        }));
        assert!(!check(&Emergency {
            reason: "x".repeat(REASON_CHARS_MAX + 1),
            ..good
        }));
        assert_eq!(Finding::parse("justified"), Some(Finding::Justified));
        assert_eq!(Finding::parse("fine"), None);
        assert!(!reason_ok("", true));
        assert!(reason_ok("", false));
        assert!(!reason_ok("a\u{7}b", false));
    }
}
