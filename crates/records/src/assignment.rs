//! Writes that make what access is decided by: who takes part in a patient's care (an
//! encounter's participants and department, a care team's members) and a chart's flags (its
//! VIP and staff labels). Each is a policy question of its own (`AssignCare`,
//! `ChangePatientFlags`), asked beside the write itself; a person's such write also states a
//! reason and is recorded as a `records.assignment/1` entry in the same request, which waits in
//! the review queue ([`crate::emergency::QUEUE`]) beside break-the-glass accesses until a
//! reviewer has looked at it.

use crate::care::{self, DEPARTMENT_SYSTEM};
use crate::emergency::QUEUE;
use crate::index::Index;
use crate::resource::is_id;
use kiroku_core::projection::Value;
use kiroku_core::{Actor, Change, Draft, EntryKind, EntryMeta, Invalid, Projection, Subject};
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;

/// The longest reason, in characters.
pub const REASON_CHARS_MAX: usize = crate::emergency::REASON_CHARS_MAX;

/// What a write changes of what access is decided by.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Changed {
    /// Who takes part in the patient's care.
    Care,
    /// The chart's flags.
    Flags,
}

impl Changed {
    /// The change as the review queue names it.
    pub fn as_str(self) -> &'static str {
        match self {
            Changed::Care => "care",
            Changed::Flags => "flags",
        }
    }
}

/// `records.assignment/1`: the entry's actor, a person, changed who takes part in `patient`'s
/// care or the chart's flags, by version `version` of `type/id`, for `reason`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Assignment {
    /// The resource type written (`Encounter`, `CareTeam`, `Patient`).
    #[serde(rename = "type")]
    pub kind: String,
    /// Its id.
    pub id: String,
    /// The version the write made.
    pub version: u64,
    /// The patient whose care or chart it changes.
    pub patient: String,
    /// What it changes.
    pub change: Changed,
    /// The write names the writer (or the writer's department) among those it relates.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub assigns_self: bool,
    /// Why, in the writer's words.
    pub reason: String,
}

impl EntryKind for Assignment {
    const KIND: &'static str = "records.assignment/1";
    const PROJECTION: Projection = Projection::Into(&[&QUEUE]);

    fn check(&self, _: &EntryMeta<'_>) -> Result<(), Invalid> {
        if !matches!(self.kind.as_str(), "Encounter" | "CareTeam" | "Patient") {
            return Err(Invalid {
                field: "type",
                why: "is not Encounter, CareTeam or Patient",
            });
        }
        if !is_id(&self.id) || !is_id(&self.patient) {
            return Err(Invalid {
                field: "id",
                why: "is not an FHIR id",
            });
        }
        if self.version == 0 || i64::try_from(self.version).is_err() {
            return Err(Invalid {
                field: "version",
                why: "is out of range",
            });
        }
        if !reason_ok(&self.reason) {
            return Err(Invalid {
                field: "reason",
                why: "is empty, too long or holds control characters",
            });
        }
        Ok(())
    }

    fn project(&self, meta: &EntryMeta<'_>, out: &mut Vec<Change>) {
        out.push(Change::upsert(
            &QUEUE,
            vec![
                Value::THIS_ENTRY,
                Value::Text(meta.actor.account.to_string()),
                Value::Text(self.patient.clone()),
                Value::Int(meta.time.micros()),
                Value::Int(meta.time.micros()),
                Value::Text(self.reason.clone()),
                Value::Text(self.change.as_str().into()),
            ],
        ));
    }

    fn example() -> Self {
        Assignment {
            kind: "CareTeam".into(),
            id: "team-1".into(),
            version: 1,
            patient: "demo-1".into(),
            change: Changed::Care,
            assigns_self: true,
            reason: "病棟の受け持ちを交代 / took over the ward round".into(),
        }
    }
}

/// Is a reason acceptable: 1 to [`REASON_CHARS_MAX`] characters, not blank, no control
/// characters but line feeds?
pub fn reason_ok(text: &str) -> bool {
    !text.trim().is_empty()
        && text.chars().count() <= REASON_CHARS_MAX
        && !text.chars().any(|c| c.is_control() && c != '\n')
}

/// The entry recording a person's assignment, made in the same request as the version.
pub fn record(actor: Actor, assignment: Assignment) -> Draft {
    let patient = assignment.patient.clone();
    Draft::new(actor, assignment).about(Subject {
        kind: "patient".into(),
        id: patient,
    })
}

/// Who a version of `kind` relates to its patient: the patient and the (participant, system)
/// pairs ([`care::project`]'s rows); `None` for another type, a version that relates nobody, or
/// none at all (a deletion).
pub fn relations(
    kind: &str,
    index: Option<&Index>,
) -> Option<(String, BTreeSet<(String, String)>)> {
    if !matches!(kind, "Encounter" | "CareTeam") {
        return None;
    }
    let index = index?;
    let mut out = Vec::new();
    care::project(kind, "x", true, index, &mut out);
    let patient = index.patient.clone()?;
    let pairs: BTreeSet<(String, String)> = out
        .iter()
        .filter_map(|change| match change {
            Change::Upsert { row, .. } => match (row.get(3), row.get(4)) {
                (Some(Value::Text(who)), Some(Value::Text(system))) => {
                    Some((who.clone(), system.clone()))
                }
                _ => None,
            },
            _ => None,
        })
        .collect();
    (!pairs.is_empty()).then_some((patient, pairs))
}

/// How a write of `kind` (its new index, `None` for a deletion, and the one it replaces)
/// changes care: for each patient whose care it changes, the pairs it relates anew (empty when
/// it only takes relations away).
pub fn care_changes(
    kind: &str,
    new: Option<&Index>,
    old: Option<&Index>,
) -> Vec<(String, BTreeSet<(String, String)>)> {
    let new = relations(kind, new);
    let old = relations(kind, old);
    if new == old {
        return Vec::new();
    }
    let mut changes = Vec::new();
    match (&new, &old) {
        (Some((patient, pairs)), Some((before, was))) if patient == before => {
            changes.push((patient.clone(), pairs.difference(was).cloned().collect()));
        }
        _ => {
            if let Some((patient, pairs)) = &new {
                changes.push((patient.clone(), pairs.clone()));
            }
            if let Some((patient, _)) = &old {
                changes.push((patient.clone(), BTreeSet::new()));
            }
        }
    }
    changes
}

/// Does a write of a Patient (its new index, `None` for a deletion, and the one it replaces)
/// change the chart's flags? A deletion of a flagged chart does.
pub fn flags_change(kind: &str, new: Option<&Index>, old: Option<&Index>) -> bool {
    if kind != "Patient" {
        return false;
    }
    let flags = |index: Option<&Index>| index.map(|i| care::flags(&i.terms)).unwrap_or_default();
    flags(new) != flags(old)
}

/// Is a pair a department's (its code in [`DEPARTMENT_SYSTEM`])?
pub fn is_department(pair: &(String, String)) -> bool {
    pair.1 == DEPARTMENT_SYSTEM
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::index::Term;

    fn term(param: &str, value: &str, system: &str) -> Term {
        Term {
            param: param.into(),
            value: value.into(),
            system: system.into(),
        }
    }

    const STAFF: &str = "urn:oid:1.2.392.100495.20.3.41.11318814790";

    fn encounter(patient: &str, terms: Vec<Term>) -> Index {
        Index {
            patient: Some(patient.into()),
            terms,
            ..Index::default()
        }
    }

    // Shows what counts as a change of care: a new participant (only the new one is named),
    // a participant taken away, a cancellation, a move to another patient (both patients), a
    // deletion; and what does not: a change of anything else, and types that relate nobody.
    #[test]
    fn care_changes_name_what_they_add() {
        let one = encounter("p1", vec![term("participant", "D-1", STAFF)]);
        let two = encounter(
            "p1",
            vec![
                term("participant", "D-1", STAFF),
                term("participant", "D-2", STAFF),
            ],
        );
        let added = care_changes("Encounter", Some(&two), Some(&one));
        assert_eq!(added.len(), 1);
        assert_eq!(
            added[0].1.iter().collect::<Vec<_>>(),
            vec![&("D-2".to_owned(), STAFF.to_owned())]
        );
        let removed = care_changes("Encounter", Some(&one), Some(&two));
        assert_eq!((removed.len(), removed[0].1.len()), (1, 0));
        let mut cancelled = two.clone();
        cancelled.terms.push(term("status", "cancelled", ""));
        assert_eq!(
            care_changes("CareTeam", Some(&cancelled), Some(&two)).len(),
            1
        );
        let moved = encounter("p2", one.terms.clone());
        let both = care_changes("Encounter", Some(&moved), Some(&one));
        assert_eq!(both.len(), 2);
        assert_eq!(care_changes("Encounter", None, Some(&one)).len(), 1);
        let mut retitled = one.clone();
        retitled.terms.push(term("status", "finished", ""));
        assert!(care_changes("Encounter", Some(&retitled), Some(&one)).is_empty());
        assert!(care_changes("Observation", Some(&two), Some(&one)).is_empty());
    }

    // Shows a change of flags: a label added, a label removed, a flagged chart deleted; the
    // same labels in another order, or another type, are none.
    #[test]
    fn flag_changes() {
        let label = |code: &str| term("_security", code, care::LABEL_SYSTEM);
        let plain = encounter("p1", vec![]);
        let vip = encounter("p1", vec![label("CELEB")]);
        assert!(flags_change("Patient", Some(&vip), Some(&plain)));
        assert!(flags_change("Patient", Some(&plain), Some(&vip)));
        assert!(flags_change("Patient", None, Some(&vip)));
        assert!(flags_change("Patient", Some(&vip), None));
        assert!(!flags_change("Patient", Some(&vip), Some(&vip)));
        assert!(!flags_change("Patient", None, Some(&plain)));
        assert!(!flags_change("Encounter", Some(&vip), Some(&plain)));
    }
}
