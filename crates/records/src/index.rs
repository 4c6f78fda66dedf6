//! What a resource is found by. Each version carries its own search keys, taken from its text
//! when it is written: the patient and encounter it belongs to, its clinical date, and its
//! search terms (identifiers, names normalised for search, codes, categories, status, sex,
//! birth date). They are part of the version's entry, so the tables search reads are a pure
//! function of the ledger, and a change to what we extract later never changes what an old
//! version was found by.

use crate::json::Json;
use crate::normalise::normalise;
use crate::resource::Resource;
use serde::{Deserialize, Serialize};

/// Most search terms one version carries.
pub const TERMS_MAX: usize = 128;
/// The longest term value or system, in bytes.
pub const TERM_BYTES_MAX: usize = 256;
/// The longest date kept for search and sort, in bytes (an FHIR dateTime with an offset).
pub const DATE_BYTES_MAX: usize = 35;

/// One search term: a parameter's value (and, for identifiers and codes, its system).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Term {
    /// The search parameter (`identifier`, `name`, `gender`, `birthdate`, `code`, …).
    pub param: String,
    /// Its value: an identifier or code as written, a name normalised.
    pub value: String,
    /// The identifier's or code's system, or empty.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub system: String,
}

/// A version's search keys.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Index {
    /// The patient's id (for a Patient, its own).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub patient: Option<String>,
    /// The encounter's id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub encounter: Option<String>,
    /// The clinical date (when observed, recorded, prescribed, written, or the encounter
    /// began), as written.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub date: Option<String>,
    /// The search terms, sorted, each once.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub terms: Vec<Term>,
}

/// Why an index does not have the shape search relies on.
pub fn check(index: &Index) -> Result<(), &'static str> {
    let id_ok = |id: &Option<String>| id.as_deref().is_none_or(crate::resource::is_id);
    if !id_ok(&index.patient) || !id_ok(&index.encounter) {
        return Err("names a patient or encounter that is not an FHIR id");
    }
    if index
        .date
        .as_deref()
        .is_some_and(|d| d.is_empty() || d.len() > DATE_BYTES_MAX)
    {
        return Err("holds a date of the wrong length");
    }
    if index.terms.len() > TERMS_MAX {
        return Err("holds too many search terms");
    }
    let bad = |t: &Term| {
        t.param.is_empty()
            || t.param.len() > 32
            || t.value.is_empty()
            || t.value.len() > TERM_BYTES_MAX
            || t.system.len() > TERM_BYTES_MAX
    };
    if index.terms.iter().any(bad) {
        return Err("holds an empty or overlong search term");
    }
    if index.terms.windows(2).any(|w| w[0] >= w[1]) {
        return Err("holds search terms out of order or twice");
    }
    Ok(())
}

/// The id a reference such as `Patient/123` (or `Patient/123/_history/2`, or an absolute URL
/// ending so) names, if it names a resource of type `kind`.
pub fn reference_to(reference: &str, kind: &str) -> Option<String> {
    let parts: Vec<&str> = reference.split('/').collect();
    let at = parts.iter().rposition(|p| *p == kind)?;
    let id = parts.get(at + 1)?;
    let rest = &parts[at + 2..];
    let tail_ok = rest.is_empty() || (rest.len() == 2 && rest[0] == "_history");
    (crate::resource::is_id(id) && tail_ok).then(|| (*id).to_owned())
}

fn string(tree: &Json, name: &str) -> Option<String> {
    tree.get(name).and_then(Json::as_str)
}

fn items(value: Option<&Json>) -> Vec<&Json> {
    match value {
        Some(Json::Array(items)) => items.iter().collect(),
        Some(other) => vec![other],
        None => Vec::new(),
    }
}

fn referenced(tree: &Json, member: &str, kind: &str) -> Option<String> {
    items(tree.get(member))
        .into_iter()
        .find_map(|r| string(r, "reference").and_then(|r| reference_to(&r, kind)))
}

struct Terms(Vec<Term>);

impl Terms {
    fn add(&mut self, param: &str, value: &str, system: &str) {
        let fits = |s: &str| s.len() <= TERM_BYTES_MAX;
        if !value.is_empty() && fits(value) && fits(system) {
            self.0.push(Term {
                param: param.into(),
                value: value.into(),
                system: system.into(),
            });
        }
    }

    /// Each coding of a CodeableConcept (or of a Coding).
    fn codes(&mut self, param: &str, concept: Option<&Json>) {
        for concept in items(concept) {
            let codings = match concept.get("coding") {
                Some(c) => items(Some(c)),
                None => vec![concept],
            };
            for coding in codings {
                if let Some(code) = string(coding, "code") {
                    self.add(param, &code, &string(coding, "system").unwrap_or_default());
                }
            }
        }
    }

    fn identifiers(&mut self, tree: &Json) {
        for identifier in items(tree.get("identifier")) {
            if let Some(value) = string(identifier, "value") {
                let system = string(identifier, "system").unwrap_or_default();
                self.add("identifier", &value, &system);
            }
        }
    }

    /// Each HumanName's text, family, given names, and family and given together, normalised.
    fn names(&mut self, tree: &Json) {
        for name in items(tree.get("name")) {
            let family = string(name, "family").unwrap_or_default();
            let given: String = items(name.get("given"))
                .into_iter()
                .filter_map(Json::as_str)
                .collect();
            for part in [
                string(name, "text").unwrap_or_default(),
                family.clone(),
                given.clone(),
                format!("{family}{given}"),
            ] {
                self.add("name", &normalise(&part), "");
            }
        }
        // An Organization's name is a string.
        if let Some(name) = string(tree, "name") {
            self.add("name", &normalise(&name), "");
        }
    }

    /// Who takes part, from each `participant[].{member}` reference: a reference to a
    /// Practitioner as `Practitioner/id` (no system), or a logical reference by identifier (its
    /// value and system). (A PractitionerRole is not followed to its practitioner yet.)
    fn participants(&mut self, tree: &Json, member: &str) {
        for participant in items(tree.get("participant")) {
            let Some(who) = participant.get(member) else {
                continue;
            };
            if let Some(id) =
                string(who, "reference").and_then(|r| reference_to(&r, "Practitioner"))
            {
                self.add("participant", &format!("Practitioner/{id}"), "");
            }
            if let Some(identifier) = who.get("identifier") {
                if let Some(value) = string(identifier, "value") {
                    let system = string(identifier, "system").unwrap_or_default();
                    self.add("participant", &value, &system);
                }
            }
        }
    }

    fn done(mut self) -> Vec<Term> {
        self.0.sort();
        self.0.dedup();
        self.0.truncate(TERMS_MAX);
        self.0
    }
}

fn first_date(tree: &Json, paths: &[&[&str]]) -> Option<String> {
    paths.iter().find_map(|path| {
        let mut at = tree;
        for name in *path {
            at = at.get(name)?;
        }
        at.as_str()
            .filter(|d| !d.is_empty() && d.len() <= DATE_BYTES_MAX)
    })
}

/// The search keys of a resource whose id is `id`.
pub fn index(resource: &Resource, id: &str) -> Index {
    let tree = &resource.tree;
    let mut terms = Terms(Vec::new());
    if let Some(status) = string(tree, "status") {
        terms.add("status", &status, "");
    }
    let (patient, encounter, date) = match resource.kind {
        "Patient" => {
            terms.identifiers(tree);
            terms.names(tree);
            if let Some(gender) = string(tree, "gender") {
                terms.add("gender", &gender, "");
            }
            if let Some(birth) = string(tree, "birthDate") {
                terms.add("birthdate", &birth, "");
            }
            // Security labels: a VIP's or a staff member's chart asks more of its readers.
            terms.codes(
                "_security",
                tree.get("meta").and_then(|m| m.get("security")),
            );
            (Some(id.to_owned()), None, None)
        }
        "Practitioner" | "Organization" => {
            terms.identifiers(tree);
            terms.names(tree);
            (None, None, None)
        }
        "AllergyIntolerance" => {
            terms.identifiers(tree);
            terms.codes("code", tree.get("code"));
            terms.codes("clinical-status", tree.get("clinicalStatus"));
            for category in items(tree.get("category"))
                .into_iter()
                .filter_map(Json::as_str)
            {
                terms.add("category", &category, "");
            }
            let date = first_date(tree, &[&["recordedDate"], &["onsetDateTime"]]);
            (
                referenced(tree, "patient", "Patient"),
                referenced(tree, "encounter", "Encounter"),
                date,
            )
        }
        kind => {
            terms.identifiers(tree);
            terms.codes("category", tree.get("category"));
            terms.codes("clinical-status", tree.get("clinicalStatus"));
            terms.codes("class", tree.get("class"));
            terms.codes("type", tree.get("type"));
            match kind {
                "MedicationRequest" => terms.codes("code", tree.get("medicationCodeableConcept")),
                _ => terms.codes("code", tree.get("code")),
            }
            // Who cares for the patient: an encounter's participants and department, a care
            // team's members.
            match kind {
                "Encounter" => {
                    terms.participants(tree, "individual");
                    terms.codes("service-type", tree.get("serviceType"));
                }
                "CareTeam" => terms.participants(tree, "member"),
                _ => {}
            }
            let date = first_date(
                tree,
                &[
                    &["effectiveDateTime"],
                    &["effectivePeriod", "start"],
                    &["issued"],
                    &["recordedDate"],
                    &["onsetDateTime"],
                    &["authoredOn"],
                    &["period", "start"],
                    &["date"],
                    &["recorded"],
                ],
            );
            let encounter = referenced(tree, "encounter", "Encounter").or_else(|| {
                tree.get("context")
                    .and_then(|c| referenced(c, "encounter", "Encounter"))
            });
            // A Binary belongs to the patient of its security context.
            let patient = referenced(tree, "subject", "Patient")
                .or_else(|| referenced(tree, "patient", "Patient"))
                .or_else(|| referenced(tree, "securityContext", "Patient"));
            (patient, encounter, date)
        }
    };
    Index {
        patient,
        encounter,
        date,
        terms: terms.done(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parsed(text: &str) -> Resource {
        Resource::parse(text.as_bytes(), None).unwrap()
    }

    // Shows a JP Core patient found by its identifier, its names in kanji and kana (normalised),
    // its sex and birth date.
    #[test]
    fn patient_terms() {
        let patient = parsed(
            r#"{"resourceType":"Patient","identifier":[{"system":"urn:oid:1.2.392.100495.20.3.51.11318814790","value":"00000010"}],
            "name":[{"use":"official","text":"山田 太郎","family":"山田","given":["太郎"]},
                    {"use":"official","text":"ヤマダ タロウ","family":"ヤマダ","given":["タロウ"]}],
            "gender":"male","birthDate":"1970-01-01"}"#,
        );
        let index = index(&patient, "p1");
        assert_eq!(index.patient.as_deref(), Some("p1"));
        let has = |param: &str, value: &str| {
            index
                .terms
                .iter()
                .any(|t| t.param == param && t.value == value)
        };
        assert!(has("identifier", "00000010"));
        assert!(has("name", "山田太郎"));
        assert!(has("name", "山田"));
        assert!(has("name", "ヤマダタロウ"));
        assert!(has("name", "タロウ"));
        assert!(has("gender", "male"));
        assert!(has("birthdate", "1970-01-01"));
        assert_eq!(check(&index), Ok(()));
    }

    // Shows an observation's patient, encounter, date, codes and category.
    #[test]
    fn observation_terms() {
        let observation = parsed(
            r#"{"resourceType":"Observation","status":"final",
            "category":[{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/observation-category","code":"vital-signs"}]}],
            "code":{"coding":[{"system":"http://loinc.org","code":"8867-4"}]},
            "subject":{"reference":"Patient/p1"},"encounter":{"reference":"Encounter/e-9"},
            "effectiveDateTime":"2026-11-25T09:00:00+09:00","valueQuantity":{"value":72}}"#,
        );
        let index = index(&observation, "o1");
        assert_eq!(index.patient.as_deref(), Some("p1"));
        assert_eq!(index.encounter.as_deref(), Some("e-9"));
        assert_eq!(index.date.as_deref(), Some("2026-11-25T09:00:00+09:00"));
        assert!(index.terms.contains(&Term {
            param: "code".into(),
            value: "8867-4".into(),
            system: "http://loinc.org".into()
        }));
        assert!(index
            .terms
            .iter()
            .any(|t| t.param == "category" && t.value == "vital-signs"));
        assert_eq!(check(&index), Ok(()));
    }

    // Shows who takes part in an encounter and a care team, the encounter's department, and a
    // patient's security labels, as search terms.
    #[test]
    fn care_terms() {
        let encounter = parsed(
            r#"{"resourceType":"Encounter","status":"in-progress","class":{"code":"AMB"},
            "subject":{"reference":"Patient/p1"},
            "serviceType":{"coding":[{"system":"urn:kiroku:department","code":"surgery"}]},
            "participant":[{"individual":{"reference":"Practitioner/dr1"}},
                           {"individual":{"identifier":{"system":"urn:oid:1.2.392.100495.20.3.41.11318814790","value":"D-10001"}}},
                           {"individual":{"reference":"RelatedPerson/r1"}}]}"#,
        );
        let index = index(&encounter, "e1");
        let has = |param: &str, value: &str, system: &str| {
            index
                .terms
                .iter()
                .any(|t| t.param == param && t.value == value && t.system == system)
        };
        assert_eq!(index.patient.as_deref(), Some("p1"));
        assert!(has("participant", "Practitioner/dr1", ""));
        assert!(has(
            "participant",
            "D-10001",
            "urn:oid:1.2.392.100495.20.3.41.11318814790"
        ));
        assert_eq!(
            index
                .terms
                .iter()
                .filter(|t| t.param == "participant")
                .count(),
            2,
            "a related person takes no part in care"
        );
        assert!(has("service-type", "surgery", "urn:kiroku:department"));
        let team = parsed(
            r#"{"resourceType":"CareTeam","status":"active","subject":{"reference":"Patient/p1"},
            "participant":[{"member":{"reference":"Practitioner/dr9"}},{"member":{"reference":"PractitionerRole/role9"}}]}"#,
        );
        let team = super::index(&team, "t1");
        let members: Vec<&str> = team
            .terms
            .iter()
            .filter(|t| t.param == "participant")
            .map(|t| t.value.as_str())
            .collect();
        assert_eq!(members, vec!["Practitioner/dr9"]);
        let patient = parsed(
            r#"{"resourceType":"Patient","meta":{"security":[{"system":"http://terminology.hl7.org/CodeSystem/v3-ActCode","code":"CELEB"}]}}"#,
        );
        let patient = super::index(&patient, "p1");
        assert!(patient.terms.iter().any(|t| t.param == "_security"
            && t.value == "CELEB"
            && t.system == "http://terminology.hl7.org/CodeSystem/v3-ActCode"));
    }

    // Shows which references name a resource of a type, and which do not.
    #[test]
    fn references() {
        assert_eq!(reference_to("Patient/p1", "Patient").as_deref(), Some("p1"));
        assert_eq!(
            reference_to("https://h.example/fhir/Patient/p1/_history/3", "Patient").as_deref(),
            Some("p1")
        );
        assert_eq!(reference_to("Encounter/p1", "Patient"), None);
        assert_eq!(reference_to("Patient/", "Patient"), None);
        assert_eq!(reference_to("Patient/a b", "Patient"), None);
        assert_eq!(reference_to("Patient/p1/extra", "Patient"), None);
    }

    // Shows the index's own checks refuse what search could not use.
    #[test]
    fn checks() {
        let term = |v: &str| Term {
            param: "code".into(),
            value: v.into(),
            system: String::new(),
        };
        let twice = Index {
            terms: vec![term("a"), term("a")],
            ..Index::default()
        };
        assert!(check(&twice).is_err());
        let empty = Index {
            terms: vec![term("")],
            ..Index::default()
        };
        assert!(check(&empty).is_err());
        let bad_patient = Index {
            patient: Some("a b".into()),
            ..Index::default()
        };
        assert!(check(&bad_patient).is_err());
    }
}
