//! Care relationships: who takes part in a patient's care, as the records say. An encounter's
//! participants and department, and a care team's members, are rows of [`CARE`], kept from the
//! latest version of each encounter and care team (a cancelled encounter, an inactive team, or
//! one entered in error, holds none). The access policy asks, for each read and write of a
//! patient's records, how the asking account is related to the patient: through a care team,
//! an encounter, its department, a break-the-glass access ([`crate::emergency`]), or not at
//! all. A patient's security labels ([`flags`]) ask more of a reader.
//!
//! A participant is a reference to a `Practitioner` or `PractitionerRole` (kept as
//! `Type/id`), or a logical reference by identifier in JP Core's namespace of staff ids
//! ([`STAFF_SYSTEMS`]). An account is the practitioner whose identifier in that namespace is
//! the account's ID or its staff number. A department is a coding of `Encounter.serviceType`
//! in [`DEPARTMENT_SYSTEM`] whose code is the department's code in the access context.

use crate::index::{Index, Term};
use kiroku_core::projection::{Column, TableRole, TableSpec, Value};
use kiroku_core::query::{Query, Stored};
use kiroku_core::Change;

/// The code system of the hospital's departments (the access context's department codes) in
/// `Encounter.serviceType`.
pub const DEPARTMENT_SYSTEM: &str = "urn:kiroku:department";

/// JP Core's namespaces of the hospital's staff ids: doctors (`…20.3.41.`) and dentists
/// (`…20.3.42.`), each followed by the hospital's OID number.
pub const STAFF_SYSTEMS: [&str; 2] = [
    "urn:oid:1.2.392.100495.20.3.41.",
    "urn:oid:1.2.392.100495.20.3.42.",
];

/// The security label of a VIP's chart (HL7 v3 ActCode "celebrity").
pub const VIP_LABEL: &str = "CELEB";
/// The security label of a staff member's own chart (HL7 v3 ActCode "employee").
pub const STAFF_LABEL: &str = "EMP";
/// The code system of both labels.
pub const LABEL_SYSTEM: &str = "http://terminology.hl7.org/CodeSystem/v3-ActCode";

/// Who takes part in each patient's care.
pub static CARE: TableSpec = TableSpec {
    name: "records_care",
    about: "Who takes part in each patient's care: the participants and department of each encounter, and the members of each care team, from their latest versions.",
    columns: &[
        Column::text("type"),
        Column::text("id"),
        Column::text("patient"),
        Column::text("participant"),
        Column::text("system"),
    ],
    key: 5,
    indexes: &[&["patient", "participant", "system"]],
    role: TableRole::Plain,
};

/// Is a participant identifier's system one of JP Core's namespaces of staff ids?
pub fn is_staff_system(system: &str) -> bool {
    STAFF_SYSTEMS.iter().any(|prefix| {
        system
            .strip_prefix(prefix)
            .is_some_and(|rest| !rest.is_empty() && rest.bytes().all(|b| b.is_ascii_digit()))
    })
}

/// The statuses in which an encounter or a care team relates nobody to the patient.
fn relates(index: &Index) -> bool {
    !index.terms.iter().any(|t| {
        t.param == "status"
            && matches!(
                t.value.as_str(),
                "cancelled" | "entered-in-error" | "inactive"
            )
    })
}

fn takes_part(term: &Term) -> bool {
    (term.param == "participant" && (term.system.is_empty() || is_staff_system(&term.system)))
        || (term.param == "service-type" && term.system == DEPARTMENT_SYSTEM)
}

/// The changes to [`CARE`] of a new version of `kind/id` (`first`: is it version 1?).
pub fn project(kind: &str, id: &str, first: bool, index: &Index, out: &mut Vec<Change>) {
    if !matches!(kind, "Encounter" | "CareTeam") {
        return;
    }
    let text = |s: &str| Value::Text(s.to_owned());
    if !first {
        out.push(Change::delete_prefix(&CARE, vec![text(kind), text(id)]));
    }
    let Some(patient) = &index.patient else {
        return;
    };
    if !relates(index) {
        return;
    }
    for term in index.terms.iter().filter(|t| takes_part(t)) {
        out.push(Change::upsert(
            &CARE,
            vec![
                text(kind),
                text(id),
                text(patient),
                text(&term.value),
                text(&term.system),
            ],
        ));
    }
}

/// The encounters and care teams relating `participant` (in `system`; empty for a resource
/// reference) to `patient`.
pub fn query(patient: &str, participant: &str, system: &str) -> Query {
    Query::table(&CARE, 16).by_index(0).matching(vec![
        Value::Text(patient.into()),
        Value::Text(participant.into()),
        Value::Text(system.into()),
    ])
}

/// The encounters and care teams relating `participant` in any system to `patient`.
pub fn query_any_system(patient: &str, participant: &str) -> Query {
    Query::table(&CARE, 64).by_index(0).matching(vec![
        Value::Text(patient.into()),
        Value::Text(participant.into()),
    ])
}

/// A row of [`CARE`]: the resource type (`Encounter` or `CareTeam`) and its participant's
/// system.
pub fn row(stored: &Stored) -> Result<(String, String), kiroku_core::query::BadRow> {
    let cells = stored.cells(&CARE);
    Ok((cells.text(0)?, cells.text(4)?))
}

/// The flags a patient's security labels raise: `vip`, `staff`.
pub fn flags(terms: &[Term]) -> Vec<String> {
    let mut flags = Vec::new();
    for term in terms
        .iter()
        .filter(|t| t.param == "_security" && t.system == LABEL_SYSTEM)
    {
        match term.value.as_str() {
            VIP_LABEL => flags.push("vip".to_owned()),
            STAFF_LABEL => flags.push("staff".to_owned()),
            _ => {}
        }
    }
    flags.sort();
    flags.dedup();
    flags
}

#[cfg(test)]
mod tests {
    use super::*;

    fn term(param: &str, value: &str, system: &str) -> Term {
        Term {
            param: param.into(),
            value: value.into(),
            system: system.into(),
        }
    }

    // Shows which participants and departments become care rows, and that a cancelled
    // encounter relates nobody.
    #[test]
    fn care_rows() {
        let staff = "urn:oid:1.2.392.100495.20.3.41.11318814790";
        assert!(is_staff_system(staff));
        assert!(!is_staff_system("urn:oid:1.2.392.100495.20.3.41."));
        assert!(!is_staff_system(
            "urn:oid:1.2.392.100495.20.3.51.11318814790"
        ));
        let mut index = Index {
            patient: Some("p1".into()),
            terms: vec![
                term("participant", "D-1", staff),
                term("participant", "Practitioner/x", ""),
                term("participant", "D-2", "urn:other"),
                term("service-type", "surgery", DEPARTMENT_SYSTEM),
                term("service-type", "01", "urn:oid:other"),
                term("status", "finished", ""),
            ],
            ..Index::default()
        };
        let mut out = Vec::new();
        project("Encounter", "e1", true, &index, &mut out);
        assert_eq!(out.len(), 3);
        out.clear();
        project("Observation", "o1", false, &index, &mut out);
        assert!(out.is_empty());
        index.terms.push(term("status", "entered-in-error", ""));
        index.terms.sort();
        project("Encounter", "e1", false, &index, &mut out);
        assert_eq!(out.len(), 1, "the old rows go, and none come");
    }

    // Shows the flags of a patient's security labels.
    #[test]
    fn patient_flags() {
        let terms = vec![
            term("_security", "CELEB", LABEL_SYSTEM),
            term("_security", "EMP", LABEL_SYSTEM),
            term("_security", "CELEB", "urn:other"),
            term("identifier", "EMP", LABEL_SYSTEM),
        ];
        assert_eq!(flags(&terms), vec!["staff".to_owned(), "vip".to_owned()]);
        assert!(flags(&[]).is_empty());
    }
}
