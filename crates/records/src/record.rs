//! Versions of resources, and the entries that disclose them. Each resource is a stream keyed
//! by its type and id: version 1 is its creation, and every update is the next version, so of
//! two updates decided on one version exactly one is kept (the other gets 412). A version's
//! entry holds the resource's text as it was sent (compact, as a JSON *string*, so that the
//! ledger's canonical JSON never touches its numbers), its state (`draft` until a clinician
//! confirms it, or `confirmed`) and its search keys ([`crate::index`]). Nothing is deleted:
//! "entered in error" is a new version, and every version stays readable.
//!
//! Tables: [`CURRENT`] (each resource's latest version: the stream), [`VERSIONS`] (every
//! version's entry, state and author), [`TERMS`] (the latest version's search terms, by
//! parameter and value) and [`IDENTIFIERS`] (a patient's identifiers, claimed, so that one
//! identifier names one patient, for good).

use crate::index::{self, Index};
use crate::json::Json;
use crate::resource::{is_id, Resource, ResourceError, TYPES};
use kiroku_core::projection::{Column, TableRole, TableSpec, Value};
use kiroku_core::query::{Query, Stored};
use kiroku_core::{
    Actor, Change, Draft, EntryIndex, EntryKind, EntryMeta, Invalid, Projection, Request, Subject,
    Timestamp,
};
use serde::{Deserialize, Serialize};

/// Each resource's latest version, a stream per resource.
pub static CURRENT: TableSpec = TableSpec {
    name: "records_current",
    about: "Each clinical resource's latest version (its stream), with its patient, encounter, date and time written for search.",
    columns: &[
        Column::text("type"),
        Column::text("id"),
        Column::int("version"),
        Column::text("state"),
        Column::text("patient"),
        Column::text("encounter"),
        Column::text("date"),
        Column::entry("entry"),
        Column::int("time"),
        Column::text("account"),
    ],
    key: 2,
    indexes: &[
        &["type", "date"],
        &["patient", "type", "date"],
        &["encounter", "type", "date"],
        &["type", "time"],
    ],
    role: TableRole::Stream { version: "version" },
};

/// Every version of every resource.
pub static VERSIONS: TableSpec = TableSpec {
    name: "records_versions",
    about: "Every version of every clinical resource: the entry that holds it, its state, who wrote it and when.",
    columns: &[
        Column::text("type"),
        Column::text("id"),
        Column::int("version"),
        Column::entry("entry"),
        Column::text("state"),
        Column::int("time"),
        Column::text("account"),
    ],
    key: 3,
    indexes: &[],
    role: TableRole::Plain,
};

/// The latest version's search terms.
pub static TERMS: TableSpec = TableSpec {
    name: "records_terms",
    about: "The search terms of each resource's latest version, indexed by parameter and value.",
    columns: &[
        Column::text("type"),
        Column::text("id"),
        Column::text("param"),
        Column::text("value"),
        Column::text("system"),
    ],
    key: 5,
    indexes: &[&["type", "param", "value", "system"]],
    role: TableRole::Plain,
};

/// Patients' identifiers, each claimed by its patient for good.
pub static IDENTIFIERS: TableSpec = TableSpec {
    name: "records_identifiers",
    about: "Every identifier (system and value) a patient has carried, claimed by that patient for good: one identifier names one patient.",
    columns: &[
        Column::text("system"),
        Column::text("value"),
        Column::text("patient"),
    ],
    key: 2,
    indexes: &[],
    role: TableRole::Claims { owner: "patient" },
};

/// Versions waiting for the responsible clinician's confirmation (確定).
pub static PENDING: TableSpec = TableSpec {
    name: "records_pending",
    about: "Draft versions waiting for confirmation (確定): the latest version of each resource, while it is a draft, with whom it waits for (a proxy entry's clinician, the author, or anyone who may write it: a trainee's version or a system's).",
    columns: &[
        Column::text("type"),
        Column::text("id"),
        Column::int("version"),
        Column::text("patient"),
        Column::int("time"),
        Column::text("account"),
        Column::text("waits_for"),
        Column::int("trainee"),
    ],
    key: 3,
    indexes: &[&["waits_for", "time"]],
    role: TableRole::Plain,
};

/// Confirmations, one per version: claimed, so that a version is confirmed once.
pub static CONFIRMATIONS: TableSpec = TableSpec {
    name: "records_confirmations",
    about: "Who confirmed (確定) each version, and when; claimed by the confirming entry, so a version is confirmed once.",
    columns: &[
        Column::text("type"),
        Column::text("id"),
        Column::int("version"),
        Column::entry("entry"),
        Column::text("account"),
        Column::int("time"),
    ],
    key: 3,
    indexes: &[],
    role: TableRole::Claims { owner: "entry" },
};

/// Where a version stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum State {
    /// Written, not yet confirmed (確定) by the responsible clinician.
    Draft,
    /// Confirmed, or of a type that needs no confirmation (a patient's registration, say).
    Confirmed,
    /// Deleted: a version that holds no resource, made by a DELETE with a reason. Nothing is
    /// erased — every earlier version stays readable — but the resource reads as gone.
    Deleted,
}

impl State {
    /// The state as stored.
    pub fn as_str(self) -> &'static str {
        match self {
            State::Draft => "draft",
            State::Confirmed => "confirmed",
            State::Deleted => "deleted",
        }
    }

    /// A stored state.
    pub fn parse(text: &str) -> Option<State> {
        match text {
            "draft" => Some(State::Draft),
            "confirmed" => Some(State::Confirmed),
            "deleted" => Some(State::Deleted),
            _ => None,
        }
    }
}

/// Does a resource of this type record a clinician's judgement, so that a new version waits
/// for confirmation? Registrations (patients, staff, organisations, encounters, care teams),
/// attachments and provenance do not.
pub fn needs_confirmation(kind: &str) -> bool {
    matches!(
        kind,
        "AllergyIntolerance"
            | "Composition"
            | "Condition"
            | "DocumentReference"
            | "MedicationRequest"
            | "Observation"
    )
}

/// `records.resource/1`: one version of one resource.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResourceVersion {
    /// The resource type.
    #[serde(rename = "type")]
    pub kind: String,
    /// The resource id.
    pub id: String,
    /// The version, from 1.
    pub version: u64,
    /// Draft or confirmed.
    pub state: State,
    /// The resource as sent, compact (its own `id` and `meta.versionId`/`lastUpdated`, if the
    /// sender wrote any, are replaced by the server's when read).
    pub text: String,
    /// Its search keys.
    #[serde(default)]
    pub index: Index,
    /// Written by a trainee (研修医): a draft whose confirmation is a supervising doctor's
    /// countersignature. Absent from the entries of everyone else (and of the first release).
    #[serde(default, skip_serializing_if = "is_false")]
    pub trainee: bool,
    /// A proxy entry (代行入力): the clinician on whose behalf the entry's actor wrote it,
    /// who alone confirms it. Absent from every other entry.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on_behalf_of: Option<String>,
    /// Written by a system (a departmental system's client), not a person: imported data,
    /// which a clinician confirms. Absent from every other entry.
    #[serde(default, skip_serializing_if = "is_false")]
    pub imported: bool,
}

fn is_false(value: &bool) -> bool {
    !*value
}

impl ResourceVersion {
    /// Whom a draft waits for: the clinician a proxy entry was made for, the author of a
    /// person's own draft, or (empty) anyone the policy lets write it — a trainee's version
    /// waits for any supervising doctor's countersignature, a system's for any clinician.
    pub fn waits_for(&self, author: &str) -> String {
        match &self.on_behalf_of {
            Some(clinician) => clinician.clone(),
            None if self.trainee || self.imported => String::new(),
            None => author.to_owned(),
        }
    }

    /// The resource, parsed again from its text.
    pub fn resource(&self) -> Result<Resource, ResourceError> {
        Resource::parse(self.text.as_bytes(), Some(&self.kind))
    }
}

impl EntryKind for ResourceVersion {
    const KIND: &'static str = "records.resource/1";
    const PROJECTION: Projection = Projection::Into(&[
        &CURRENT,
        &VERSIONS,
        &TERMS,
        &IDENTIFIERS,
        &PENDING,
        &crate::care::CARE,
    ]);

    fn check(&self, _: &EntryMeta<'_>) -> Result<(), Invalid> {
        if !TYPES.contains(&self.kind.as_str()) {
            return Err(Invalid {
                field: "type",
                why: "is not a type this server keeps",
            });
        }
        if !is_id(&self.id) {
            return Err(Invalid {
                field: "id",
                why: "is not an FHIR id",
            });
        }
        if self.version == 0 {
            return Err(Invalid {
                field: "version",
                why: "starts at 1",
            });
        }
        if self.state == State::Deleted {
            // A deletion holds no resource, only where the resource was found.
            if !self.text.is_empty() || self.trainee || self.on_behalf_of.is_some() {
                return Err(Invalid {
                    field: "text",
                    why: "of a deletion must be empty",
                });
            }
            if self.version < 2 || !self.index.terms.is_empty() {
                return Err(Invalid {
                    field: "index",
                    why: "of a deletion follows a version and holds no terms",
                });
            }
            return Ok(());
        }
        if self.resource().is_err() {
            return Err(Invalid {
                field: "text",
                why: "is not a resource of its type",
            });
        }
        if let Some(clinician) = &self.on_behalf_of {
            if self.state != State::Draft || self.trainee || self.imported {
                return Err(Invalid {
                    field: "on_behalf_of",
                    why: "is only for a person's draft waiting for the clinician's confirmation",
                });
            }
            if kiroku_core::AccountId::parse(clinician).is_err() {
                return Err(Invalid {
                    field: "on_behalf_of",
                    why: "is not an account id",
                });
            }
        }
        if self.kind == "Patient" && self.index.patient.as_deref() != Some(self.id.as_str()) {
            return Err(Invalid {
                field: "index",
                why: "of a patient must name the patient",
            });
        }
        index::check(&self.index).map_err(|why| Invalid {
            field: "index",
            why,
        })?;
        Ok(())
    }

    fn project(&self, meta: &EntryMeta<'_>, out: &mut Vec<Change>) {
        let text = |s: &str| Value::Text(s.to_owned());
        let or_empty = |s: &Option<String>| text(s.as_deref().unwrap_or(""));
        out.push(Change::upsert(
            &CURRENT,
            vec![
                text(&self.kind),
                text(&self.id),
                Value::Int(self.version as i64),
                text(self.state.as_str()),
                or_empty(&self.index.patient),
                or_empty(&self.index.encounter),
                or_empty(&self.index.date),
                Value::THIS_ENTRY,
                Value::Int(meta.time.micros()),
                text(meta.actor.account.as_str()),
            ],
        ));
        out.push(Change::upsert(
            &VERSIONS,
            vec![
                text(&self.kind),
                text(&self.id),
                Value::Int(self.version as i64),
                Value::THIS_ENTRY,
                text(self.state.as_str()),
                Value::Int(meta.time.micros()),
                text(meta.actor.account.as_str()),
            ],
        ));
        if self.version > 1 {
            out.push(Change::delete_prefix(
                &TERMS,
                vec![text(&self.kind), text(&self.id)],
            ));
            // A new version replaces the draft that waited before it.
            out.push(Change::delete_prefix(
                &PENDING,
                vec![text(&self.kind), text(&self.id)],
            ));
        }
        if self.state == State::Draft {
            out.push(Change::upsert(
                &PENDING,
                vec![
                    text(&self.kind),
                    text(&self.id),
                    Value::Int(self.version as i64),
                    or_empty(&self.index.patient),
                    Value::Int(meta.time.micros()),
                    text(meta.actor.account.as_str()),
                    text(&self.waits_for(meta.actor.account.as_str())),
                    Value::Int(i64::from(self.trainee)),
                ],
            ));
        }
        crate::care::project(&self.kind, &self.id, self.version == 1, &self.index, out);
        for term in &self.index.terms {
            out.push(Change::upsert(
                &TERMS,
                vec![
                    text(&self.kind),
                    text(&self.id),
                    text(&term.param),
                    text(&term.value),
                    text(&term.system),
                ],
            ));
            if self.kind == "Patient" && term.param == "identifier" && !term.system.is_empty() {
                out.push(Change::upsert(
                    &IDENTIFIERS,
                    vec![text(&term.system), text(&term.value), text(&self.id)],
                ));
            }
        }
    }

    fn example() -> Self {
        let text = r#"{"resourceType":"Observation","status":"final","code":{"text":"体温"},"subject":{"reference":"Patient/demo-1"},"valueQuantity":{"value":36.50,"unit":"℃"}}"#;
        ResourceVersion {
            kind: "Observation".into(),
            id: "obs-1".into(),
            version: 2,
            state: State::Draft,
            text: text.into(),
            index: Index {
                patient: Some("demo-1".into()),
                encounter: None,
                date: None,
                terms: vec![index::Term {
                    param: "status".into(),
                    value: "final".into(),
                    system: String::new(),
                }],
            },
            trainee: true,
            on_behalf_of: None,
            imported: false,
        }
    }
}

/// Why a resource cannot be written.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum RecordError {
    /// The body is not a resource this server keeps.
    #[error(transparent)]
    Resource(#[from] ResourceError),
    /// An update of a confirmed version came without a reason.
    #[error("a correction of a confirmed version needs a reason")]
    ReasonRequired,
    /// A clinical resource names no patient.
    #[error("a {0} must name its patient (subject or patient)")]
    NoPatient(&'static str),
    /// The resource does not conform to FHIR R4 or to a JP Core profile it claims.
    #[error(transparent)]
    Invalid(#[from] crate::validate::Invalid),
    /// A proxy entry of a type whose versions nobody confirms.
    #[error("a {0} is not confirmed, so it is not entered on anyone's behalf")]
    ProxyNotConfirmed(&'static str),
}

/// The subject of a version's entry: its patient, if it has one.
fn subject(index: &Index) -> Option<Subject> {
    index.patient.as_ref().map(|id| Subject {
        kind: "patient".into(),
        id: id.clone(),
    })
}

/// Which types belong to a patient, and must name one. A Binary is an attachment of a
/// patient's record (a scan, a letter), and names its patient by its security context; a
/// stored Provenance belongs to its targets' patient ([`targets`]), which the app finds.
pub fn belongs_to_patient(kind: &str) -> bool {
    !matches!(kind, "Organization" | "Practitioner" | "PractitionerRole")
}

/// A Provenance's targets, as (type, id) pairs of the references it names (versions dropped).
pub fn targets(resource: &Resource) -> Vec<(String, String)> {
    let mut found = Vec::new();
    if let Some(crate::json::Json::Array(items)) = resource.tree.get("target") {
        for item in items {
            let Some(reference) = item.get("reference").and_then(crate::json::Json::as_str) else {
                continue;
            };
            let parts: Vec<&str> = reference.split('/').collect();
            if let [kind, id, ..] = parts[..] {
                if crate::resource::TYPES.contains(&kind) && is_id(id) {
                    found.push((kind.to_owned(), id.to_owned()));
                }
            }
        }
    }
    found
}

/// Who stands behind a version, beside its entry's actor.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum Author {
    /// A person writing in their own name.
    #[default]
    Person,
    /// A trainee doctor (研修医): a draft waits for a supervising doctor's countersignature.
    Trainee,
    /// A proxy (代行入力) writing on behalf of this clinician, who alone confirms it.
    Proxy(String),
    /// A system client: imported data, which a clinician confirms.
    System,
}

/// A new version of resource `kind/id`: version `version` (1 for a creation), on top of
/// `previous` (the state of the version it replaces, if any), by `author`. A correction of a
/// confirmed version needs a reason; a proxy entry is only for a record that is confirmed.
/// `patient`: the patient of a resource that names none itself (a stored Provenance's
/// targets' patient, as the app found it).
#[allow(clippy::too_many_arguments)]
pub fn write(
    actor: Actor,
    resource: &Resource,
    id: &str,
    version: u64,
    previous: Option<State>,
    reason: Option<String>,
    author: Author,
    patient: Option<String>,
) -> Result<Request, RecordError> {
    if !is_id(id)
        || (resource.kind == "Provenance" && id.starts_with(crate::resource::LEDGER_PROVENANCE))
    {
        return Err(ResourceError::BadId.into());
    }
    if previous == Some(State::Confirmed) && reason.is_none() {
        return Err(RecordError::ReasonRequired);
    }
    let mut index = index::index(resource, id);
    if index.patient.is_none() {
        index.patient = patient;
    }
    if belongs_to_patient(resource.kind) && index.patient.is_none() {
        return Err(RecordError::NoPatient(resource.kind));
    }
    let state = if needs_confirmation(resource.kind) {
        State::Draft
    } else if matches!(author, Author::Proxy(_)) {
        return Err(RecordError::ProxyNotConfirmed(resource.kind));
    } else {
        State::Confirmed
    };
    let version = ResourceVersion {
        kind: resource.kind.into(),
        id: id.into(),
        version,
        state,
        text: String::from_utf8(resource.tree.to_bytes()).unwrap_or_default(),
        index,
        trainee: author == Author::Trainee && state == State::Draft,
        imported: author == Author::System,
        on_behalf_of: match author {
            Author::Proxy(clinician) => Some(clinician),
            _ => None,
        },
    };
    let mut draft = Draft::new(actor, version.clone());
    if let Some(subject) = subject(&version.index) {
        draft = draft.about(subject);
    }
    if let Some(reason) = reason {
        draft = draft.because(reason);
    }
    Ok(Request::one(draft))
}

/// Deletes resource `kind/id`, whose latest version `previous` holds what `index` describes: a
/// new version that holds no resource, for `reason` (required). Its index keeps the patient,
/// the encounter and the date, so the deletion is found where the resource was; its terms are
/// dropped, so searches no longer find it.
pub fn delete(
    actor: Actor,
    kind: &str,
    id: &str,
    previous: u64,
    index: &Index,
    reason: String,
) -> Result<Request, RecordError> {
    if !TYPES.contains(&kind) || !is_id(id) {
        return Err(ResourceError::BadId.into());
    }
    let version = ResourceVersion {
        kind: kind.into(),
        id: id.into(),
        version: previous + 1,
        state: State::Deleted,
        text: String::new(),
        index: Index {
            patient: index.patient.clone(),
            encounter: index.encounter.clone(),
            date: index.date.clone(),
            terms: Vec::new(),
        },
        trainee: false,
        on_behalf_of: None,
        imported: false,
    };
    let mut draft = Draft::new(actor, version.clone()).because(reason);
    if let Some(subject) = subject(&version.index) {
        draft = draft.about(subject);
    }
    Ok(Request::one(draft))
}

/// A resource's latest version as [`CURRENT`] holds it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Current {
    /// The type.
    pub kind: String,
    /// The id.
    pub id: String,
    /// The latest version.
    pub version: u64,
    /// Its state.
    pub state: State,
    /// Its patient, if any.
    pub patient: Option<String>,
    /// Its encounter, if any.
    pub encounter: Option<String>,
    /// Its date, if any.
    pub date: Option<String>,
    /// The entry that holds it.
    pub entry: EntryIndex,
    /// When it was written.
    pub time: Timestamp,
}

fn non_empty(text: String) -> Option<String> {
    (!text.is_empty()).then_some(text)
}

impl Current {
    /// The query for `kind/id`.
    pub fn query(kind: &str, id: &str) -> Query {
        Query::key(
            &CURRENT,
            vec![Value::Text(kind.into()), Value::Text(id.into())],
        )
    }

    /// Decodes a row.
    pub fn from_row(stored: &Stored) -> Result<Current, kiroku_core::query::BadRow> {
        let c = stored.cells(&CURRENT);
        Ok(Current {
            kind: c.text(0)?,
            id: c.text(1)?,
            version: c.uint(2)?,
            state: c.parsed(3, State::parse)?,
            patient: non_empty(c.text(4)?),
            encounter: non_empty(c.text(5)?),
            date: non_empty(c.text(6)?),
            entry: c.entry(7)?,
            time: c.time(8)?,
        })
    }
}

/// One version as [`VERSIONS`] holds it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VersionRow {
    /// The version.
    pub version: u64,
    /// The entry that holds it.
    pub entry: EntryIndex,
    /// Its state.
    pub state: State,
    /// When it was written.
    pub time: Timestamp,
    /// Who wrote it.
    pub account: String,
}

impl VersionRow {
    /// The query for version `version` of `kind/id`.
    pub fn query(kind: &str, id: &str, version: u64) -> Query {
        Query::key(
            &VERSIONS,
            vec![
                Value::Text(kind.into()),
                Value::Text(id.into()),
                Value::Int(version as i64),
            ],
        )
    }

    /// Versions of `kind/id`, newest first, before version `before` (exclusive; none: from the
    /// newest).
    pub fn history(kind: &str, id: &str, before: Option<u64>, limit: u64) -> Query {
        Query::table(&VERSIONS, limit)
            .matching(vec![Value::Text(kind.into()), Value::Text(id.into())])
            .descending()
            .after(before.map(|v| vec![Value::Int(v as i64)]))
    }

    /// Decodes a row.
    pub fn from_row(stored: &Stored) -> Result<VersionRow, kiroku_core::query::BadRow> {
        let c = stored.cells(&VERSIONS);
        Ok(VersionRow {
            version: c.uint(2)?,
            entry: c.entry(3)?,
            state: c.parsed(4, State::parse)?,
            time: c.time(5)?,
            account: c.text(6)?,
        })
    }
}

/// A search term's row: which resource carries it.
pub fn term_owner(stored: &Stored) -> Result<(String, String), kiroku_core::query::BadRow> {
    let c = stored.cells(&TERMS);
    Ok((c.text(1)?, c.text(3)?))
}

/// Resources of `kind` with term `param` equal to `value` (and `system`, if given), after
/// resource `after`.
pub fn terms_equal(
    kind: &str,
    param: &str,
    value: &str,
    system: Option<&str>,
    limit: u64,
) -> Query {
    let mut eq = vec![
        Value::Text(kind.into()),
        Value::Text(param.into()),
        Value::Text(value.into()),
    ];
    if let Some(system) = system {
        eq.push(Value::Text(system.into()));
    }
    Query::table(&TERMS, limit).by_index(0).matching(eq)
}

/// Resources of `kind` with a term `param` whose value is `from` or after it, in value order
/// (the caller stops at the first value that no longer starts with its prefix).
pub fn terms_from(kind: &str, param: &str, from: &str, limit: u64) -> Query {
    Query::table(&TERMS, limit)
        .by_index(0)
        .matching(vec![Value::Text(kind.into()), Value::Text(param.into())])
        // The index orders by (value, system, id), and no id is empty: starting after
        // (from, "", "") starts at `from` itself.
        .after(Some(vec![
            Value::Text(from.into()),
            Value::Text(String::new()),
            Value::Text(String::new()),
        ]))
}

/// The patient holding an identifier, if any.
pub fn identifier_query(system: &str, value: &str) -> Query {
    Query::key(
        &IDENTIFIERS,
        vec![Value::Text(system.into()), Value::Text(value.into())],
    )
}

/// The holder of an identifier's row.
pub fn identifier_holder(stored: &Stored) -> Result<String, kiroku_core::query::BadRow> {
    stored.cells(&IDENTIFIERS).text(2)
}

/// `records.confirmation/1`: the responsible clinician confirmed (確定) a draft version.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Confirmation {
    /// The resource type.
    #[serde(rename = "type")]
    pub kind: String,
    /// The resource id.
    pub id: String,
    /// The version confirmed.
    pub version: u64,
    /// The confirmation is a supervising doctor's countersignature of a trainee's version.
    #[serde(default, skip_serializing_if = "is_false")]
    pub countersignature: bool,
    /// The confirmation is of a proxy entry (代行入力) made on the confirming clinician's
    /// behalf.
    #[serde(default, skip_serializing_if = "is_false")]
    pub proxy: bool,
}

impl EntryKind for Confirmation {
    const KIND: &'static str = "records.confirmation/1";
    const PROJECTION: Projection = Projection::Into(&[&PENDING, &CONFIRMATIONS]);

    fn check(&self, _: &EntryMeta<'_>) -> Result<(), Invalid> {
        if !needs_confirmation(&self.kind) {
            return Err(Invalid {
                field: "type",
                why: "is not a type whose versions are confirmed",
            });
        }
        if !is_id(&self.id) || self.version == 0 {
            return Err(Invalid {
                field: "id",
                why: "is not an FHIR id and version",
            });
        }
        Ok(())
    }

    fn project(&self, meta: &EntryMeta<'_>, out: &mut Vec<Change>) {
        let key = vec![
            Value::Text(self.kind.clone()),
            Value::Text(self.id.clone()),
            Value::Int(self.version as i64),
        ];
        out.push(Change::delete(&PENDING, key.clone()));
        let mut row = key;
        row.extend([
            Value::THIS_ENTRY,
            Value::Text(meta.actor.account.to_string()),
            Value::Int(meta.time.micros()),
        ]);
        out.push(Change::upsert(&CONFIRMATIONS, row));
    }

    fn example() -> Self {
        Confirmation {
            kind: "Observation".into(),
            id: "obs-1".into(),
            version: 2,
            countersignature: true,
            proxy: false,
        }
    }
}

/// Why a version cannot be confirmed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ConfirmError {
    /// Only the latest version is confirmed; an older draft was replaced.
    #[error("only the latest version can be confirmed (it is version {latest})")]
    NotLatest {
        /// The latest version.
        latest: u64,
    },
    /// The version is not a draft (already confirmed, or of a type that needs none).
    #[error("the version is not waiting for confirmation")]
    NotDraft,
    /// A trainee does not confirm: a trainee's versions are countersigned by a supervising
    /// doctor, and other drafts are confirmed by the responsible clinician.
    #[error("a trainee does not confirm; a supervising doctor countersigns")]
    Trainee,
    /// A proxy entry is confirmed by the clinician it was entered for, and by nobody else.
    #[error("a proxy entry is confirmed by the clinician it was entered for")]
    NotResponsible,
    /// A trainee's version is countersigned by a doctor (医師), and by nobody else.
    #[error("a trainee's version is countersigned by a doctor")]
    NotDoctor,
    /// A trainee with an assigned supervisor is countersigned by that supervisor alone.
    #[error("a trainee's version is countersigned by the trainee's supervisor")]
    NotSupervisor,
}

/// Confirms version `version` of a resource whose latest version is `current` and holds
/// `stored`, if it waits for confirmation (`pending`): a proxy entry only by the clinician it
/// was entered for, a trainee's version only by a doctor (`doctor`: the actor is one). The
/// writer re-checks, under the append lock, that the resource is still at that version and that
/// nobody confirmed it first.
pub fn confirm(
    actor: Actor,
    current: &Current,
    stored: &ResourceVersion,
    version: u64,
    pending: bool,
    doctor: bool,
) -> Result<Request, ConfirmError> {
    if current.version != version {
        return Err(ConfirmError::NotLatest {
            latest: current.version,
        });
    }
    if !pending {
        return Err(ConfirmError::NotDraft);
    }
    if stored.trainee && !doctor {
        return Err(ConfirmError::NotDoctor);
    }
    if stored
        .on_behalf_of
        .as_deref()
        .is_some_and(|clinician| clinician != actor.account.as_str())
    {
        return Err(ConfirmError::NotResponsible);
    }
    let mut draft = Draft::new(
        actor,
        Confirmation {
            kind: current.kind.clone(),
            id: current.id.clone(),
            version,
            countersignature: stored.trainee,
            proxy: stored.on_behalf_of.is_some(),
        },
    );
    if let Some(patient) = &current.patient {
        draft = draft.about(Subject {
            kind: "patient".into(),
            id: patient.clone(),
        });
    }
    Ok(Request::one(draft).expecting(kiroku_core::Expect::Version {
        table: &CURRENT,
        key: vec![
            Value::Text(current.kind.clone()),
            Value::Text(current.id.clone()),
        ],
        version,
    }))
}

/// A version waiting for confirmation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Pending {
    /// The type.
    pub kind: String,
    /// The id.
    pub id: String,
    /// The version.
    pub version: u64,
    /// Its patient.
    pub patient: Option<String>,
    /// When it was written.
    pub time: Timestamp,
    /// Who wrote it.
    pub account: String,
    /// Whom it waits for (empty: anyone the policy lets write it).
    pub waits_for: String,
    /// A trainee's version, waiting for a countersignature.
    pub trainee: bool,
}

impl Pending {
    /// The row of version `version` of `kind/id`, if it waits.
    pub fn query(kind: &str, id: &str, version: u64) -> Query {
        Query::key(
            &PENDING,
            vec![
                Value::Text(kind.into()),
                Value::Text(id.into()),
                Value::Int(version as i64),
            ],
        )
    }

    /// Decodes a row.
    pub fn from_row(stored: &Stored) -> Result<Pending, kiroku_core::query::BadRow> {
        let c = stored.cells(&PENDING);
        Ok(Pending {
            kind: c.text(0)?,
            id: c.text(1)?,
            version: c.uint(2)?,
            patient: non_empty(c.text(3)?),
            time: c.time(4)?,
            account: c.text(5)?,
            waits_for: c.text(6)?,
            trainee: c.uint(7)? != 0,
        })
    }

    /// Drafts waiting for `waits_for` (empty: for anyone who may write them), oldest first,
    /// after `after` (a time and a key, as [`Pending::cursor`] gives).
    pub fn waiting_for(
        waits_for: &str,
        after: Option<(i64, String, String, u64)>,
        limit: u64,
    ) -> Query {
        Query::table(&PENDING, limit)
            .by_index(0)
            .matching(vec![Value::Text(waits_for.into())])
            .after(after.map(|(time, kind, id, version)| {
                vec![
                    Value::Int(time),
                    Value::Text(kind),
                    Value::Text(id),
                    Value::Int(version as i64),
                ]
            }))
    }

    /// Where a page of [`Pending::waiting_for`] that ends with this row goes on from.
    pub fn cursor(&self) -> (i64, String, String, u64) {
        (
            self.time.micros(),
            self.kind.clone(),
            self.id.clone(),
            self.version,
        )
    }
}

/// Who confirmed a version, and when.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Confirmed {
    /// The confirming entry.
    pub entry: EntryIndex,
    /// Who confirmed.
    pub account: String,
    /// When.
    pub time: Timestamp,
}

impl Confirmed {
    /// The confirmation of version `version` of `kind/id`, if any.
    pub fn query(kind: &str, id: &str, version: u64) -> Query {
        Query::key(
            &CONFIRMATIONS,
            vec![
                Value::Text(kind.into()),
                Value::Text(id.into()),
                Value::Int(version as i64),
            ],
        )
    }

    /// Decodes a row.
    pub fn from_row(stored: &Stored) -> Result<Confirmed, kiroku_core::query::BadRow> {
        let c = stored.cells(&CONFIRMATIONS);
        Ok(Confirmed {
            entry: c.entry(3)?,
            account: c.text(4)?,
            time: c.time(5)?,
        })
    }
}

/// `records.disclosure/1`: patient data left the system. Who is the entry's actor; when, its
/// time; the rest is here.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Disclosure {
    /// How: `read`, `vread`, `search`, `history`, `print`, `export`, or `proof` (a version's
    /// entry with its proof of inclusion).
    pub interaction: String,
    /// Why: `treatment`, or `emergency` (break-the-glass).
    pub purpose: String,
    /// The patients whose data was returned, each once.
    pub patients: Vec<String>,
    /// The versions returned, as `Type/id/_history/version`.
    pub resources: Vec<String>,
}

/// The ways patient data leaves the system.
pub const INTERACTIONS: [&str; 7] = [
    "read", "vread", "search", "history", "print", "export", "proof",
];
/// Most resources one disclosure entry names (a page of search with its includes).
pub const DISCLOSED_MAX: usize = 1000;

impl EntryKind for Disclosure {
    const KIND: &'static str = "records.disclosure/1";
    const PROJECTION: Projection = Projection::Nothing(
        "the entry itself is the record of the disclosure; the oversight context will index them by patient",
    );

    fn check(&self, _: &EntryMeta<'_>) -> Result<(), Invalid> {
        if !INTERACTIONS.contains(&self.interaction.as_str()) {
            return Err(Invalid {
                field: "interaction",
                why: "is not a known interaction",
            });
        }
        if !matches!(self.purpose.as_str(), "treatment" | "emergency") {
            return Err(Invalid {
                field: "purpose",
                why: "is not a known purpose",
            });
        }
        if self.resources.len() > DISCLOSED_MAX || self.patients.len() > DISCLOSED_MAX {
            return Err(Invalid {
                field: "resources",
                why: "names too many resources or patients",
            });
        }
        if self.patients.iter().any(|p| !is_id(p)) {
            return Err(Invalid {
                field: "patients",
                why: "holds something that is not an FHIR id",
            });
        }
        Ok(())
    }

    fn project(&self, _: &EntryMeta<'_>, _: &mut Vec<Change>) {}

    fn example() -> Self {
        Disclosure {
            interaction: "search".into(),
            purpose: "treatment".into(),
            patients: vec!["demo-1".into()],
            resources: vec!["Patient/demo-1/_history/1".into()],
        }
    }
}

/// The entry recording a disclosure: its subject is the patient when there is one.
pub fn disclose(
    actor: Actor,
    interaction: &str,
    purpose: &str,
    mut patients: Vec<String>,
    resources: Vec<String>,
) -> Request {
    patients.sort();
    patients.dedup();
    let mut draft = Draft::new(
        actor,
        Disclosure {
            interaction: interaction.into(),
            purpose: purpose.into(),
            patients: patients.clone(),
            resources,
        },
    );
    if let [patient] = patients.as_slice() {
        draft = draft.about(Subject {
            kind: "patient".into(),
            id: patient.clone(),
        });
    }
    Request::one(draft)
}

/// `records.denial/1`: someone asked for patient data, or to write it, and the policy said no.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Denial {
    /// The action the policy refused (`ReadRecord`, `WriteRecord`, …).
    pub action: String,
    /// The resource type asked for.
    #[serde(rename = "type")]
    pub kind: String,
    /// The resource id, if one was named.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// The policies that forbade it (none: nothing permits it).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub policies: Vec<String>,
}

impl EntryKind for Denial {
    const KIND: &'static str = "records.denial/1";
    const PROJECTION: Projection = Projection::Nothing(
        "the entry itself is the record of the refused attempt; the oversight context will queue them for review",
    );

    fn check(&self, _: &EntryMeta<'_>) -> Result<(), Invalid> {
        if !TYPES.contains(&self.kind.as_str()) {
            return Err(Invalid {
                field: "type",
                why: "is not a type this server keeps",
            });
        }
        if self.id.as_deref().is_some_and(|id| !is_id(id)) {
            return Err(Invalid {
                field: "id",
                why: "is not an FHIR id",
            });
        }
        if self.action.is_empty() || self.action.len() > 64 || self.policies.len() > 64 {
            return Err(Invalid {
                field: "action",
                why: "is empty or too long",
            });
        }
        Ok(())
    }

    fn project(&self, _: &EntryMeta<'_>, _: &mut Vec<Change>) {}

    fn example() -> Self {
        Denial {
            action: "ReadRecord".into(),
            kind: "Observation".into(),
            id: Some("obs-1".into()),
            policies: vec!["students-never-write".into()],
        }
    }
}

/// The entry recording a refused attempt.
pub fn deny(
    actor: Actor,
    action: &str,
    kind: &str,
    id: Option<&str>,
    patient: Option<&str>,
    policies: Vec<String>,
) -> Request {
    let mut draft = Draft::new(
        actor,
        Denial {
            action: action.into(),
            kind: kind.into(),
            id: id.map(str::to_owned),
            policies,
        },
    );
    if let Some(patient) = patient {
        draft = draft.about(Subject {
            kind: "patient".into(),
            id: patient.into(),
        });
    }
    Request::one(draft)
}

/// The resource of a stored version's payload, with the server's id and meta.
pub fn served(version: &ResourceVersion, time: Timestamp) -> Result<Json, ResourceError> {
    let resource = version.resource()?;
    Ok(resource.stored(&version.id, version.version, &instant(time)))
}

/// [`served`] as its compact text: written straight from the stored text where it can be (the
/// same bytes the tree would write), through the tree otherwise.
pub fn served_bytes(version: &ResourceVersion, time: Timestamp) -> Result<Vec<u8>, ResourceError> {
    let updated = instant(time);
    match crate::resource::stored_text(
        version.text.as_bytes(),
        &version.id,
        version.version,
        &updated,
    ) {
        Some(bytes) => Ok(bytes),
        None => Ok(served(version, time)?.to_bytes()),
    }
}

/// An FHIR instant in Japan time, to the microsecond.
pub fn instant(time: Timestamp) -> String {
    let c = time.civil(kiroku_core::JST_OFFSET_SECONDS);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:06}+09:00",
        c.year, c.month, c.day, c.hour, c.minute, c.second, c.micros
    )
}
