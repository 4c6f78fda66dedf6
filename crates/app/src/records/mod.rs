//! Clinical records: create, read, update, history and search of FHIR resources. Every write
//! and every read asks the policy in force first; a refusal is itself an entry. Every answer
//! that carries patient data is recorded as a disclosure entry, and its commit awaited, before
//! the answer is returned: nothing leaves the system unrecorded.

mod error;
pub use error::Error;
pub mod break_glass;
pub mod chart;

use crate::gate::Gate;
use crate::rows::{all, decoded, first};
use crate::{blocking, Result};
use kiroku_core::query::Stored;
use kiroku_core::{Actor, Conflict, Date, Request, Timestamp};
use kiroku_policy::{Action, Care, PrincipalKind, Resource as PolicyResource};
use kiroku_records::assignment::{self, Assignment, Changed};
use kiroku_records::care;
use kiroku_records::emergency;
use kiroku_records::index::Index;
use kiroku_records::record::{
    self, Author, ConfirmError, Confirmed, Current, Pending, RecordError, ResourceVersion, State,
    VersionRow, CONFIRMATIONS, CURRENT, IDENTIFIERS,
};
use kiroku_records::resource::{is_id, Resource, TYPES};
use kiroku_records::search::{SearchQuery, Token};
use kiroku_store::read::{self, EntryProof};
use kiroku_store::Store;
use std::sync::Arc;

pub use kiroku_records::search::{SearchError, PAGE_DEFAULT, PAGE_MAX};

/// The use cases of clinical records: `app.records()`.
#[derive(Clone, Copy)]
pub struct Records<'a> {
    pub(crate) app: &'a crate::App,
}

impl crate::App {
    /// The use cases of clinical records.
    pub fn records(&self) -> Records<'_> {
        Records { app: self }
    }
}

/// Rows of the terms' index a page of a token search reads at most (matches the search's other
/// parameters leave out count too): a page's cost does not grow with the hospital.
pub const TOKEN_ROWS_PER_PAGE_MAX: u64 = 1000;
/// Most rows one search page scans while filtering.
const SCAN_MAX: u64 = 5000;

/// A version as returned: its text with the server's id and meta.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Served {
    /// The type.
    pub kind: String,
    /// The id.
    pub id: String,
    /// The version.
    pub version: u64,
    /// Draft or confirmed.
    pub state: State,
    /// When the version was written.
    pub time: Timestamp,
    /// The patient it belongs to.
    pub patient: Option<String>,
    /// The resource's JSON text.
    pub body: Vec<u8>,
    /// Written by a trainee: a draft waits for a supervising doctor's countersignature.
    pub trainee: bool,
    /// Read under a break-the-glass access (its disclosure is marked `emergency`).
    pub emergency: bool,
    /// A proxy entry (代行入力): the clinician it was entered for, who confirms it.
    pub on_behalf_of: Option<String>,
    /// The ledger entry that holds the version.
    pub entry: kiroku_core::EntryIndex,
    /// Who wrote it (the entry's actor: the proxy, for a proxy entry).
    pub author: String,
    /// Why it was written, where a reason was given (a correction).
    pub reason: Option<String>,
    /// Who confirmed (確定) it and when, if a confirmation followed it.
    pub confirmation: Option<Confirmed>,
}

impl Served {
    fn reference(&self) -> String {
        format!("{}/{}/_history/{}", self.kind, self.id, self.version)
    }
}

/// A write's outcome.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Written {
    /// The version written, or (for a conditional create that matched) the existing one.
    pub served: Served,
    /// Was a new resource made (201) rather than a version added or one found (200)?
    pub created: bool,
}

/// A search's result.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Page {
    /// The matches, in order.
    pub matches: Vec<Served>,
    /// Resources included for them (their patients).
    pub included: Vec<Served>,
    /// Where the next page starts, if there is one.
    pub next: Option<String>,
    /// Matches (and included patients) the caller may not read — a VIP's or a staff member's
    /// chart outside the caller's care, say — left out of the page; each recorded as a denial.
    pub withheld: u64,
}

/// What a write carries beside the resource.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Writing {
    /// Why a confirmed version is corrected (required for that).
    pub reason: Option<String>,
    /// A proxy entry (代行入力): the clinician on whose behalf the caller enters the record,
    /// who alone confirms it.
    pub on_behalf_of: Option<kiroku_core::AccountId>,
}

/// Why a proxy entry cannot be made as asked. Nothing is written.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ProxyError {
    /// The clinician named is the caller.
    #[error("a proxy entry is made for someone else")]
    Oneself,
    /// No active person has the account named.
    #[error("the clinician named is not an active account of a person")]
    NoSuchClinician,
    /// The clinician named may not write this record (a trainee, or the policy says no).
    #[error("the clinician named may not write this record")]
    ClinicianMayNotWrite,
}

/// The job type of trainee doctors (研修医), whose versions a supervising doctor countersigns.
const TRAINEE: &str = "trainee-doctor";

/// The rule a trainee's attempt to confirm is refused under, as its denial entry names it.
const TRAINEES_ARE_COUNTERSIGNED: &str = "trainees-are-countersigned";

/// The job type of doctors (医師), who countersign trainees' versions.
const DOCTOR: &str = "doctor";

/// The rule an attempt by anyone but a doctor to countersign a trainee's version is refused
/// under.
const TRAINEES_COUNTERSIGNED_BY_DOCTORS: &str = "trainees-countersigned-by-doctors";

/// The rule a countersignature by a doctor other than the trainee's assigned supervisor is
/// refused under.
const TRAINEES_COUNTERSIGNED_BY_THEIR_SUPERVISOR: &str =
    "trainees-countersigned-by-their-supervisor";

/// The rule an attempt to confirm another clinician's proxy entry is refused under.
const PROXY_ENTRIES_CONFIRMED_BY_THEIR_CLINICIAN: &str =
    "proxy-entries-confirmed-by-their-clinician";

/// The category the policy sees a resource under.
fn category(resource_kind: &str, index: Option<&Index>) -> &'static str {
    match resource_kind {
        "Patient" | "Encounter" | "Organization" | "Practitioner" | "PractitionerRole"
        | "CareTeam" => "administrative",
        "Observation" => {
            let has = |code: &str| {
                index.is_some_and(|i| {
                    i.terms
                        .iter()
                        .any(|t| t.param == "category" && t.value == code)
                })
            };
            if has("vital-signs") {
                "nursing"
            } else if has("laboratory") {
                "laboratory"
            } else if has("imaging") {
                "radiology"
            } else {
                "medical"
            }
        }
        _ => "medical",
    }
}

/// Who a participant of an encounter or care team may be.
enum Identity {
    /// A logical reference by this identifier, in one of JP Core's staff-id namespaces.
    Staff(String),
    /// A reference to this resource (`Practitioner/…`).
    Reference(String),
}

/// The asking account as the records' policy sees it: its gate, the time break-the-glass
/// accesses are measured against, and — worked out once per request — who it is among the
/// participants of encounters and care teams, and its relationship to each patient asked about.
pub(crate) struct Asker<'a> {
    store: &'a Store,
    gate: &'a Gate,
    now: Timestamp,
    identities: std::cell::OnceCell<Vec<Identity>>,
    cares: std::cell::RefCell<std::collections::HashMap<String, Care>>,
}

impl<'a> Asker<'a> {
    /// The store the asker reads.
    pub(crate) fn store(&self) -> &'a Store {
        self.store
    }

    pub(crate) fn new(store: &'a Store, gate: &'a Gate, now: Timestamp) -> Asker<'a> {
        Asker {
            store,
            gate,
            now,
            identities: std::cell::OnceCell::new(),
            cares: std::cell::RefCell::new(std::collections::HashMap::new()),
        }
    }

    /// The account's identities as a participant: its ID and staff number in the staff-id
    /// namespaces, and the practitioners the system administrator bound to it (never what a
    /// `Practitioner` resource claims: whoever may write one could claim a colleague).
    fn identities(&self) -> Result<&[Identity]> {
        if let Some(found) = self.identities.get() {
            return Ok(found);
        }
        let account = self.gate.principal.id.as_str();
        let mut found = vec![Identity::Staff(account.to_owned())];
        if let Some(profile) = first(
            self.store,
            &kiroku_access::account::Profile::query(account),
            kiroku_access::account::Profile::from_row,
        )? {
            found.extend(profile.staff_number.map(Identity::Staff));
        }
        for practitioner in all(
            self.store,
            &kiroku_access::identity::of_account(account),
            kiroku_access::identity::practitioner,
        )? {
            found.push(Identity::Reference(format!("Practitioner/{practitioner}")));
        }
        Ok(self.identities.get_or_init(|| found))
    }

    /// Does the pair (participant, system) of an encounter or care team name the account, or
    /// its department?
    fn is_self(&self, pair: &(String, String)) -> Result<bool> {
        let (who, system) = pair;
        if system == care::DEPARTMENT_SYSTEM {
            return Ok(!self.gate.principal.department.is_empty()
                && *who == self.gate.principal.department);
        }
        Ok(self.identities()?.iter().any(|identity| match identity {
            Identity::Staff(value) => value == who && care::is_staff_system(system),
            Identity::Reference(reference) => reference == who && system.is_empty(),
        }))
    }

    /// How the account is related to `patient`: a care team or an encounter it takes part
    /// in, an open break-the-glass access, its department's encounter, or none.
    fn relationship(&self, patient: &str) -> Result<&'static str> {
        let mut best = None;
        for identity in self.identities()? {
            let rows = match identity {
                Identity::Staff(value) => all(
                    self.store,
                    &care::query_any_system(patient, value),
                    care::row,
                )?
                .into_iter()
                .filter(|(_, system)| care::is_staff_system(system))
                .collect(),
                Identity::Reference(reference) => {
                    all(self.store, &care::query(patient, reference, ""), care::row)?
                }
            };
            for (kind, _) in rows {
                if kind == "CareTeam" {
                    return Ok("care-team");
                }
                best = Some("encounter");
            }
        }
        if let Some(best) = best {
            return Ok(best);
        }
        // An open break-the-glass access before the department: the department does not open
        // a flagged chart, and the access was granted precisely because it did not.
        let grants = all(
            self.store,
            &emergency::grants(&self.gate.principal.id, patient),
            emergency::grant_until,
        )?;
        if grants
            .iter()
            .any(|until| emergency::is_open(*until, self.now))
        {
            return Ok("emergency");
        }
        let department = &self.gate.principal.department;
        if !department.is_empty()
            && first(
                self.store,
                &care::query(patient, department, care::DEPARTMENT_SYSTEM),
                care::row,
            )?
            .is_some()
        {
            return Ok("department");
        }
        Ok("none")
    }

    /// The account's relationship to `patient` and the patient's flags, as the policy sees
    /// them (nothing, for a system client or a record of no patient).
    pub(crate) fn care(&self, patient: Option<&str>) -> Result<Care> {
        let Some(patient) = patient else {
            return Ok(Care::default());
        };
        if self.gate.principal.kind != PrincipalKind::Person {
            return Ok(Care::default());
        }
        if let Some(known) = self.cares.borrow().get(patient) {
            return Ok(known.clone());
        }
        let labels = read::query(
            self.store,
            &kiroku_core::Query::table(&record::TERMS, 64).matching(vec![
                kiroku_core::Value::Text("Patient".into()),
                kiroku_core::Value::Text(patient.into()),
                kiroku_core::Value::Text("_security".into()),
            ]),
        )?;
        let mut terms = Vec::new();
        for stored in &labels {
            let cells = stored.cells(&record::TERMS);
            terms.push(kiroku_records::index::Term {
                param: decoded(cells.text(2))?,
                value: decoded(cells.text(3))?,
                system: decoded(cells.text(4))?,
            });
        }
        let found = Care {
            relationship: self.relationship(patient)?.to_owned(),
            flags: care::flags(&terms),
        };
        self.cares
            .borrow_mut()
            .insert(patient.to_owned(), found.clone());
        Ok(found)
    }
}

/// The record the policy is asked about.
fn record_question(
    asker: &Asker<'_>,
    kind: &str,
    id: &str,
    index: Option<&Index>,
) -> Result<PolicyResource> {
    let patient = match kind {
        "Patient" => Some(id),
        _ => index.and_then(|i| i.patient.as_deref()),
    };
    Ok(PolicyResource::Record {
        id: format!("{kind}/{id}"),
        category: category(kind, index).into(),
        department: String::new(),
        care: asker.care(patient)?,
    })
}

/// What the policy is asked before a read of `kind/id` (`version`: what it holds).
fn read_question(
    asker: &Asker<'_>,
    kind: &str,
    id: &str,
    version: Option<&ResourceVersion>,
) -> Result<(Action, PolicyResource)> {
    Ok(if kind == "Patient" {
        (
            Action::ReadPatient,
            PolicyResource::Patient {
                id: id.to_owned(),
                care: asker.care(Some(id))?,
            },
        )
    } else {
        (
            Action::ReadRecord,
            record_question(asker, kind, id, version.map(|v| &v.index))?,
        )
    })
}

/// What the policy is asked before anything of `kind` is looked up: may the caller read
/// resources of this type at all (of no record in particular: the empty category, as the
/// policy's own probes ask)? Asked before "not found", so that a caller who may read nothing of
/// the type cannot learn which ids exist.
fn type_question(kind: &str) -> (Action, PolicyResource) {
    if kind == "Patient" {
        return (Action::ReadPatient, Action::ReadPatient.any_resource());
    }
    (
        Action::ReadRecord,
        PolicyResource::Record {
            id: format!("{kind}/any"),
            category: String::new(),
            department: String::new(),
            care: Care::default(),
        },
    )
}

/// `Error::Records(crate::records::Error::NoSuchResource)`, or the refusal to record when the caller may read nothing of
/// `kind` (and so may not learn that the id is free).
pub(crate) fn not_found<T>(asker: &Asker<'_>, kind: &str) -> Result<Found<T>> {
    let (action, question) = type_question(kind);
    match check(asker, action, &question, kind, None, None)? {
        Ok(()) => Err(crate::Error::Records(crate::records::Error::NoSuchResource)),
        Err(refused) => Ok(Found::Refused(refused)),
    }
}

/// Why an attempt was refused, as the answer says it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Why {
    /// The policy does not allow it.
    Policy,
    /// Refused for want of a care relationship: the policy would allow it under a
    /// break-the-glass access, and the answer says so.
    NoCareRelationship,
    /// A trainee's attempt to confirm: answered as [`ConfirmError::Trainee`].
    Trainee,
    /// A confirmation of a proxy entry made for another clinician: answered as
    /// [`ConfirmError::NotResponsible`].
    NotResponsible,
    /// A countersignature of a trainee's version by someone not a doctor: answered as
    /// [`ConfirmError::NotDoctor`].
    NotDoctor,
    /// A proxy entry for a clinician the policy does not let write the record: answered as
    /// [`ProxyError::ClinicianMayNotWrite`].
    ProxyClinician,
    /// A countersignature by a doctor other than the trainee's supervisor: answered as
    /// [`ConfirmError::NotSupervisor`].
    NotSupervisor,
}

/// A refusal: the attempt's entry, then the error.
pub(crate) struct Refused {
    action: Action,
    kind: String,
    id: Option<String>,
    patient: Option<String>,
    policies: Vec<String>,
    why: Why,
}

pub(crate) fn check(
    asker: &Asker<'_>,
    action: Action,
    resource: &PolicyResource,
    kind: &str,
    id: Option<&str>,
    patient: Option<&str>,
) -> Result<std::result::Result<(), Refused>> {
    let decision = asker.gate.decide(action, resource)?;
    if decision.allowed {
        return Ok(Ok(()));
    }
    // Would a break-the-glass access let the caller in? Then the answer says how to get one.
    let care = match resource {
        PolicyResource::Record { care, .. } | PolicyResource::Patient { care, .. }
            if matches!(care.relationship.as_str(), "none" | "department") =>
        {
            let mut emergency = resource.clone();
            if let PolicyResource::Record { care, .. } | PolicyResource::Patient { care, .. } =
                &mut emergency
            {
                care.relationship = "emergency".into();
            }
            asker.gate.decide(action, &emergency)?.allowed
        }
        _ => false,
    };
    Ok(Err(Refused {
        action,
        kind: kind.into(),
        id: id.map(str::to_owned),
        patient: patient.map(str::to_owned),
        policies: decision.policies,
        why: if care {
            Why::NoCareRelationship
        } else {
            Why::Policy
        },
    }))
}

pub(crate) fn known_type(kind: &str) -> Result<&'static str> {
    TYPES
        .iter()
        .find(|t| **t == kind)
        .copied()
        .ok_or(crate::Error::Records(
            crate::records::Error::NoSuchResourceType,
        ))
}

/// Where a version's entry stands in the ledger: its index, time, actor and reason.
pub(crate) struct Origin {
    entry: kiroku_core::EntryIndex,
    time: Timestamp,
    author: String,
    reason: Option<String>,
}

fn load_version(
    store: &Store,
    entry: kiroku_core::EntryIndex,
) -> Result<(ResourceVersion, Origin)> {
    load_version_within(store, entry, 0)
}

/// [`load_version`] for a caller that knows a signed size (a gate's).
fn load_version_within(
    store: &Store,
    entry: kiroku_core::EntryIndex,
    signed: u64,
) -> Result<(ResourceVersion, Origin)> {
    let (stored, payload) = read::entry_text_within(store, entry, signed)?;
    let version: ResourceVersion = serde_json::from_slice(&payload)
        .map_err(|_| crate::Error::Corrupt(format!("entry {entry} is not a resource version")))?;
    Ok((
        version,
        Origin {
            entry,
            time: stored.time,
            author: stored.actor.account.to_string(),
            reason: stored.reason,
        },
    ))
}

fn serve(version: &ResourceVersion, origin: Origin) -> Result<Served> {
    // A deletion holds no resource.
    let body = if version.state == State::Deleted {
        Vec::new()
    } else {
        record::served_bytes(version, origin.time).map_err(|_| {
            crate::Error::Corrupt(format!("{} {} does not parse", version.kind, version.id))
        })?
    };
    Ok(Served {
        kind: version.kind.clone(),
        id: version.id.clone(),
        version: version.version,
        state: version.state,
        time: origin.time,
        patient: version.index.patient.clone(),
        body,
        trainee: version.trainee,
        emergency: false,
        on_behalf_of: version.on_behalf_of.clone(),
        entry: origin.entry,
        author: origin.author,
        reason: origin.reason,
        confirmation: None,
    })
}

/// A served draft with its confirmation, if one came later.
fn stored_state(store: &Store, mut served: Served) -> Result<Served> {
    if served.state == State::Draft {
        served.confirmation = first(
            store,
            &Confirmed::query(&served.kind, &served.id, served.version),
            Confirmed::from_row,
        )?;
        if served.confirmation.is_some() {
            served.state = State::Confirmed;
        }
    }
    Ok(served)
}

/// The version in `entry` of `kind/id`, served, if the policy lets the gate's principal read
/// it; otherwise the refusal to record.
pub(crate) fn readable(
    asker: &Asker<'_>,
    kind: &str,
    id: &str,
    entry: kiroku_core::EntryIndex,
) -> Result<std::result::Result<Served, Refused>> {
    let (version, origin) = load_version_within(asker.store, entry, asker.gate.signed)?;
    let (action, question) = read_question(asker, kind, id, Some(&version))?;
    if let Err(refused) = check(
        asker,
        action,
        &question,
        kind,
        Some(id),
        version.index.patient.as_deref(),
    )? {
        return Ok(Err(refused));
    }
    let mut served = stored_state(asker.store, serve(&version, origin)?)?;
    served.emergency = matches!(
        &question,
        PolicyResource::Patient { care, .. } | PolicyResource::Record { care, .. }
            if care.relationship == "emergency"
    );
    Ok(Ok(served))
}

pub(crate) fn current(store: &Store, kind: &str, id: &str) -> Result<Option<Current>> {
    first(store, &Current::query(kind, id), Current::from_row)
}

/// The entry holding version `at` of `kind/id` (none: the latest), if there is one.
pub(crate) fn version_entry(
    store: &Store,
    kind: &str,
    id: &str,
    at: Option<u64>,
) -> Result<Option<kiroku_core::EntryIndex>> {
    Ok(match at {
        None => current(store, kind, id)?.map(|c| c.entry),
        Some(v) => {
            first(store, &VersionRow::query(kind, id, v), VersionRow::from_row)?.map(|r| r.entry)
        }
    })
}

/// Decides whether the gate's principal may confirm version `version` of `kind/id`, and makes
/// the request: only a person the policy lets write the record, only the latest version, only
/// while it waits.
fn decide_confirmation(
    asker: &Asker<'_>,
    who: &Actor,
    kind: &'static str,
    id: &str,
    version: u64,
) -> Result<Found<Request>> {
    let (store, gate) = (asker.store, asker.gate);
    let Some(current) = current(store, kind, id)? else {
        return not_found(asker, kind);
    };
    let (stored, origin) = load_version(store, current.entry)?;
    let question = record_question(asker, kind, id, Some(&stored.index))?;
    let refused = |policies: Vec<String>, why: Why| {
        Ok(Found::Refused(Refused {
            action: Action::WriteRecord,
            kind: kind.into(),
            id: Some(id.to_owned()),
            patient: current.patient.clone(),
            policies,
            why,
        }))
    };
    if gate.principal.kind != kiroku_policy::PrincipalKind::Person {
        // A system writes drafts; a clinician confirms them.
        return refused(Vec::new(), Why::Policy);
    }
    if let Err(refusal) = check(
        asker,
        Action::WriteRecord,
        &question,
        kind,
        Some(id),
        current.patient.as_deref(),
    )? {
        return Ok(Found::Refused(refusal));
    }
    if gate.principal.job_type == TRAINEE {
        // A trainee's entries wait for a supervising doctor's countersignature; a trainee
        // confirms nothing. The attempt is recorded like a refusal by the policy.
        return refused(vec![TRAINEES_ARE_COUNTERSIGNED.into()], Why::Trainee);
    }
    let pending = first(store, &Pending::query(kind, id, version), Pending::from_row)?.is_some();
    let doctor = gate.principal.job_type == DOCTOR;
    // A trainee with an assigned supervisor is countersigned by that supervisor alone.
    if stored.trainee && doctor {
        let supervisor = first(
            store,
            &kiroku_access::supervision::of(&origin.author),
            kiroku_access::supervision::supervisor,
        )?;
        if supervisor.is_some_and(|s| s != who.account.as_str()) {
            return refused(
                vec![TRAINEES_COUNTERSIGNED_BY_THEIR_SUPERVISOR.into()],
                Why::NotSupervisor,
            );
        }
    }
    match record::confirm(who.clone(), &current, &stored, version, pending, doctor) {
        Ok(request) => Ok(Found::Allowed(request)),
        // A nurse's or a technologist's countersignature of a trainee's version: kept too.
        Err(ConfirmError::NotDoctor) => refused(
            vec![TRAINEES_COUNTERSIGNED_BY_DOCTORS.into()],
            Why::NotDoctor,
        ),
        // Confirming a proxy entry made for someone else is an attempt the ledger keeps.
        Err(ConfirmError::NotResponsible) => refused(
            vec![PROXY_ENTRIES_CONFIRMED_BY_THEIR_CLINICIAN.into()],
            Why::NotResponsible,
        ),
        Err(e) => Err(crate::Error::Records(crate::records::Error::Confirm(e))),
    }
}

/// A confirmation's append failure as the client should see it.
fn confirm_failed(error: kiroku_store::writer::AppendError) -> crate::Error {
    use kiroku_store::writer::AppendError;
    match error {
        AppendError::Conflict(Conflict::Version { table, found, .. }) if table == CURRENT.name => {
            crate::Error::Records(crate::records::Error::Confirm(ConfirmError::NotLatest {
                latest: found,
            }))
        }
        AppendError::Conflict(Conflict::Claimed { table, .. }) if table == CONFIRMATIONS.name => {
            crate::Error::Records(crate::records::Error::Confirm(ConfirmError::NotDraft))
        }
        e => e.into(),
    }
}

/// A write's append failure as the client should see it (`if_match`: the version it saw).
fn write_failed(error: kiroku_store::writer::AppendError, if_match: Option<u64>) -> crate::Error {
    use kiroku_store::writer::AppendError;
    match error {
        AppendError::Conflict(Conflict::Version { table, found, .. }) if table == CURRENT.name => {
            crate::Error::Records(crate::records::Error::VersionMismatch {
                expected: if_match.unwrap_or(found.saturating_sub(1)),
                found,
            })
        }
        AppendError::Conflict(Conflict::Claimed { table, .. }) if table == IDENTIFIERS.name => {
            crate::Error::Records(crate::records::Error::IdentifierTaken)
        }
        // A draft was confirmed while the update was decided: it now needs a reason.
        AppendError::Conflict(Conflict::Claimed { table, .. }) if table == CONFIRMATIONS.name => {
            crate::Error::Records(crate::records::Error::Record(RecordError::ReasonRequired))
        }
        e => e.into(),
    }
}

/// The one patient a Provenance's targets belong to: a target that is a Patient names it, any
/// other its current version's patient. Targets of no patient, or of two, give none (and the
/// Provenance is refused for naming no patient).
fn targets_patient(store: &Store, resource: &Resource) -> Result<Option<String>> {
    let mut found: Option<String> = None;
    for (kind, id) in record::targets(resource).into_iter().take(TARGETS_MAX) {
        let patient = if kind == "Patient" {
            Some(id)
        } else {
            current(store, &kind, &id)?.and_then(|c| c.patient)
        };
        match (&found, patient) {
            (_, None) => {}
            (None, Some(p)) => found = Some(p),
            (Some(a), Some(b)) if *a == b => {}
            (Some(_), Some(_)) => return Ok(None),
        }
    }
    Ok(found)
}

/// Targets of a Provenance looked up at most.
const TARGETS_MAX: usize = 64;

/// May the asker write `kind/id` as `index` describes it, replacing `replaced`? Replacing a
/// version is writing that record too: a nurse may not overwrite a laboratory result by
/// sending it as a nursing one.
fn may_write(
    asker: &Asker<'_>,
    kind: &str,
    id: &str,
    index: &Index,
    replaced: Option<&ResourceVersion>,
) -> Result<std::result::Result<(), Refused>> {
    for index in std::iter::once(index).chain(replaced.map(|r| &r.index)) {
        let question = record_question(asker, kind, id, Some(index))?;
        if let Err(refused) = check(
            asker,
            Action::WriteRecord,
            &question,
            kind,
            Some(id),
            index.patient.as_deref(),
        )? {
            return Ok(Err(refused));
        }
    }
    Ok(Ok(()))
}

/// A write that changes who takes part in a patient's care (an encounter's participants or
/// department, a care team's members) or a chart's flags asks the policy a question of its
/// own besides writing the record: `AssignCare` for each patient whose care it changes (is the
/// writer among those it relates?), `ChangePatientFlags` for a chart's labels. A person's such
/// write states a reason and is recorded as a `records.assignment/1` entry in the same request,
/// queued for review; a system's (registration, ADT) is not. `new` is `None` for a deletion.
#[allow(clippy::too_many_arguments)]
fn may_relate(
    asker: &Asker<'_>,
    who: &Actor,
    kind: &str,
    id: &str,
    version: u64,
    new: Option<&Index>,
    old: Option<&Index>,
    reason: Option<&str>,
) -> Result<std::result::Result<Vec<kiroku_core::Draft>, Refused>> {
    let person = asker.gate.principal.kind == PrincipalKind::Person;
    let mut found = Vec::new();
    for (patient, added) in assignment::care_changes(kind, new, old) {
        let mut assigns_self = false;
        for pair in &added {
            assigns_self |= asker.is_self(pair)?;
        }
        let question = PolicyResource::CareAssignment {
            id: patient.clone(),
            care: asker.care(Some(&patient))?,
            assigns_self,
        };
        if let Err(refused) = check(
            asker,
            Action::AssignCare,
            &question,
            kind,
            Some(id),
            Some(&patient),
        )? {
            return Ok(Err(refused));
        }
        found.push((patient, Changed::Care, assigns_self));
    }
    if assignment::flags_change(kind, new, old) {
        let question = PolicyResource::Patient {
            id: id.to_owned(),
            care: asker.care(Some(id))?,
        };
        if let Err(refused) = check(
            asker,
            Action::ChangePatientFlags,
            &question,
            kind,
            Some(id),
            Some(id),
        )? {
            return Ok(Err(refused));
        }
        found.push((id.to_owned(), Changed::Flags, false));
    }
    if !person || found.is_empty() {
        return Ok(Ok(Vec::new()));
    }
    let reason = reason
        .filter(|r| assignment::reason_ok(r))
        .ok_or(crate::Error::Records(
            crate::records::Error::AssignmentReason,
        ))?;
    Ok(Ok(found
        .into_iter()
        .map(|(patient, change, assigns_self)| {
            assignment::record(
                who.clone(),
                Assignment {
                    kind: kind.to_owned(),
                    id: id.to_owned(),
                    version,
                    patient,
                    change,
                    assigns_self,
                    reason: reason.to_owned(),
                },
            )
        })
        .collect()))
}

/// The gate of the clinician a proxy enters a record for: another person, active, who is not
/// a trainee (a trainee confirms nothing), under the same policy version as the proxy's.
fn proxy_clinician(
    store: &Store,
    proxy: &Gate,
    who: &Actor,
    clinician: &kiroku_core::AccountId,
    today: Date,
) -> Result<Gate> {
    if clinician == &who.account {
        return Err(crate::Error::Records(crate::records::Error::Proxy(
            ProxyError::Oneself,
        )));
    }
    let principal = crate::gate::principal_of(store, clinician.as_str(), today)?
        .filter(|p| p.kind == PrincipalKind::Person && p.status == "active")
        .ok_or(crate::Error::Records(crate::records::Error::Proxy(
            ProxyError::NoSuchClinician,
        )))?;
    if principal.job_type == TRAINEE {
        return Err(crate::Error::Records(crate::records::Error::Proxy(
            ProxyError::ClinicianMayNotWrite,
        )));
    }
    Ok(Gate {
        principal,
        policy: proxy.policy.clone(),
        signed: proxy.signed,
    })
}

/// What a gated read found: the versions to return, or the refusal to record.
pub(crate) enum Found<T> {
    Allowed(T),
    Refused(Refused),
}

impl Records<'_> {
    /// A new resource id.
    fn new_resource_id(self) -> String {
        let mut bytes = [0u8; 12];
        self.app.entropy().fill(&mut bytes);
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    }

    pub(crate) async fn refuse(self, actor: &Actor, refused: Refused) -> Result<crate::Error> {
        let why = refused.why;
        let request = record::deny(
            actor.clone(),
            refused.action.as_str(),
            &refused.kind,
            refused.id.as_deref(),
            refused.patient.as_deref(),
            refused.policies,
        );
        self.app.writer().append(request).await?;
        Ok(match why {
            Why::Trainee => {
                crate::Error::Records(crate::records::Error::Confirm(ConfirmError::Trainee))
            }
            Why::NotResponsible => {
                crate::Error::Records(crate::records::Error::Confirm(ConfirmError::NotResponsible))
            }
            Why::NotDoctor => {
                crate::Error::Records(crate::records::Error::Confirm(ConfirmError::NotDoctor))
            }
            Why::ProxyClinician => crate::Error::Records(crate::records::Error::Proxy(
                ProxyError::ClinicianMayNotWrite,
            )),
            Why::NotSupervisor => {
                crate::Error::Records(crate::records::Error::Confirm(ConfirmError::NotSupervisor))
            }
            Why::NoCareRelationship => crate::Error::Records(
                crate::records::Error::NoCareRelationship(refused.action.as_str()),
            ),
            Why::Policy => {
                crate::Error::Records(crate::records::Error::RecordDenied(refused.action.as_str()))
            }
        })
    }

    /// [`App::disclosed`] of what a search returned, with a denial entry for each match it
    /// withheld, in the same request: durable before the answer.
    async fn disclosed_withholding(
        self,
        actor: &Actor,
        interaction: &str,
        served: &[&Served],
        withheld: Vec<Refused>,
    ) -> Result<()> {
        let patients = served.iter().filter_map(|s| s.patient.clone()).collect();
        let resources = served.iter().map(|s| s.reference()).collect();
        let purpose = if served.iter().any(|s| s.emergency) {
            "emergency"
        } else {
            "treatment"
        };
        let mut request =
            record::disclose(actor.clone(), interaction, purpose, patients, resources);
        for refused in withheld {
            request.drafts.extend(
                record::deny(
                    actor.clone(),
                    refused.action.as_str(),
                    &refused.kind,
                    refused.id.as_deref(),
                    refused.patient.as_deref(),
                    refused.policies,
                )
                .drafts,
            );
        }
        self.app.writer().append(request).await?;
        Ok(())
    }

    pub(crate) async fn disclosed<T>(
        self,
        actor: &Actor,
        interaction: &str,
        served: &[&Served],
        result: T,
    ) -> Result<T> {
        let patients = served.iter().filter_map(|s| s.patient.clone()).collect();
        let resources = served.iter().map(|s| s.reference()).collect();
        // What was read under a break-the-glass access is marked so.
        let purpose = if served.iter().any(|s| s.emergency) {
            "emergency"
        } else {
            "treatment"
        };
        let request = record::disclose(actor.clone(), interaction, purpose, patients, resources);
        self.app.writer().append(request).await?;
        Ok(result)
    }

    /// Checks a document as a write would, without writing: strict JSON, a type this server
    /// keeps, FHIR R4's structure and the JP Core profiles it claims. Returns its type.
    pub fn check_document(bytes: &[u8]) -> std::result::Result<&'static str, RecordError> {
        let resource = Resource::parse(bytes, None)?;
        resource.refuse_controls()?;
        resource.check()?;
        Ok(resource.kind)
    }

    /// Creates a resource of `kind` from `body`. With `if_none_exist` (an identifier search,
    /// `system|value`), a patient who already holds the identifier is returned instead.
    pub async fn create_resource(
        self,
        actor: Actor,
        kind: &str,
        body: Vec<u8>,
        if_none_exist: Option<(String, String)>,
        writing: Writing,
    ) -> Result<Written> {
        let kind = known_type(kind)?;
        let resource = Resource::parse(&body, Some(kind)).map_err(RecordError::from)?;
        resource.refuse_controls().map_err(RecordError::from)?;
        resource.check().map_err(RecordError::from)?;
        if let Some((system, value)) = &if_none_exist {
            if let Some(found) = self.holder(actor.clone(), kind, system, value).await? {
                return Ok(found);
            }
        }
        let id = self.new_resource_id();
        let request = self
            .gated_write(&actor, kind, &id, resource, None, writing, None)
            .await?;
        match self.app.writer().append(request).await {
            Ok(receipt) => Ok(Written {
                served: self.written_version(receipt.first).await?,
                created: true,
            }),
            // Two conditional creates of one identifier raced: the loser gets the winner.
            Err(kiroku_store::writer::AppendError::Conflict(Conflict::Claimed {
                table, ..
            })) if table == IDENTIFIERS.name => match &if_none_exist {
                Some((system, value)) => {
                    self.holder(actor, kind, system, value)
                        .await?
                        .ok_or(crate::Error::Records(
                            crate::records::Error::IdentifierTaken,
                        ))
                }
                None => Err(crate::Error::Records(
                    crate::records::Error::IdentifierTaken,
                )),
            },
            Err(e) => Err(e.into()),
        }
    }

    /// The patient holding an identifier, read (and disclosed) as a conditional create's answer.
    async fn holder(
        self,
        actor: Actor,
        kind: &str,
        system: &str,
        value: &str,
    ) -> Result<Option<Written>> {
        if kind != "Patient" {
            return Err(crate::Error::Records(crate::records::Error::Search(
                SearchError::Unknown("If-None-Exist".into()),
            )));
        }
        let store = self.app.store().clone();
        let query = record::identifier_query(system, value);
        let holder = blocking(move || first(&store, &query, record::identifier_holder)).await?;
        match holder {
            Some(id) => Ok(Some(Written {
                served: self.read_resource(actor, kind, &id).await?,
                created: false,
            })),
            None => Ok(None),
        }
    }

    /// The version a write just made, served.
    async fn written_version(self, entry: kiroku_core::EntryIndex) -> Result<Served> {
        let store = self.app.store().clone();
        blocking(move || {
            let (version, origin) = load_version(&store, entry)?;
            serve(&version, origin)
        })
        .await
    }

    /// Asks the policy whether `actor` may write this resource, and makes the request.
    /// `expected`: the version the client saw (`If-Match`), checked only once the policy has
    /// answered, so that a caller who may not write the record learns nothing of its versions.
    /// A proxy entry (`writing.on_behalf_of`) asks whether the actor may enter records on the
    /// clinician's behalf, and whether the clinician may write this one.
    #[allow(clippy::too_many_arguments)]
    async fn gated_write(
        self,
        actor: &Actor,
        kind: &'static str,
        id: &str,
        resource: Resource,
        previous: Option<Current>,
        writing: Writing,
        expected: Option<u64>,
    ) -> Result<Request> {
        let who = actor.clone();
        let id = id.to_owned();
        let decided = self
            .app
            .behind_gate(who.clone(), move |store, gate, today, now| {
                let asker = Asker::new(store, gate, now);
                let mut index = kiroku_records::index::index(&resource, &id);
                // A stored Provenance belongs to its targets' patient: read and written with the
                // relationship to that patient, as the targets are.
                let found_patient = match kind {
                    "Provenance" => targets_patient(store, &resource)?,
                    _ => None,
                };
                if index.patient.is_none() {
                    index.patient.clone_from(&found_patient);
                }
                let replaced = match &previous {
                    Some(c) => Some(load_version(store, c.entry)?.0),
                    None => None,
                };
                let author = match &writing.on_behalf_of {
                    Some(clinician) => {
                        let question = record_question(&asker, kind, &id, Some(&index))?;
                        if let Err(refused) = check(
                            &asker,
                            Action::EnterOnBehalf,
                            &question,
                            kind,
                            Some(&id),
                            index.patient.as_deref(),
                        )? {
                            return Ok(Found::Refused(refused));
                        }
                        // The clinician named must be one the policy lets write this record: else
                        // the attempt is refused, and kept as a refusal is.
                        let refused = |policies: Vec<String>| {
                            Ok(Found::Refused(Refused {
                                action: Action::EnterOnBehalf,
                                kind: kind.into(),
                                id: Some(id.clone()),
                                patient: index.patient.clone(),
                                policies,
                                why: Why::ProxyClinician,
                            }))
                        };
                        let clinician_gate =
                            match proxy_clinician(store, gate, &who, clinician, today) {
                                Err(crate::Error::Records(crate::records::Error::Proxy(
                                    ProxyError::ClinicianMayNotWrite,
                                ))) => return refused(vec![TRAINEES_ARE_COUNTERSIGNED.into()]),
                                other => other?,
                            };
                        let clinician_asker = Asker::new(store, &clinician_gate, now);
                        if let Err(denied) =
                            may_write(&clinician_asker, kind, &id, &index, replaced.as_ref())?
                        {
                            return refused(denied.policies);
                        }
                        Author::Proxy(clinician.to_string())
                    }
                    None => {
                        if let Err(refused) =
                            may_write(&asker, kind, &id, &index, replaced.as_ref())?
                        {
                            return Ok(Found::Refused(refused));
                        }
                        match (gate.principal.kind, gate.principal.job_type.as_str()) {
                            (PrincipalKind::Client, _) => Author::System,
                            (_, TRAINEE) => Author::Trainee,
                            _ => Author::Person,
                        }
                    }
                };
                let version = previous.as_ref().map_or(1, |c| c.version + 1);
                let assignments = match may_relate(
                    &asker,
                    &who,
                    kind,
                    &id,
                    version,
                    Some(&index),
                    replaced.as_ref().map(|r| &r.index),
                    writing.reason.as_deref(),
                )? {
                    Ok(drafts) => drafts,
                    Err(refused) => return Ok(Found::Refused(refused)),
                };
                let found = previous.as_ref().map_or(0, |c| c.version);
                if let Some(expected) = expected.filter(|e| *e != found) {
                    return Err(crate::Error::Records(
                        crate::records::Error::VersionMismatch { expected, found },
                    ));
                }
                let draft_replaced = previous
                    .as_ref()
                    .filter(|c| c.state == State::Draft)
                    .map(|c| c.version);
                let mut request = record::write(
                    who,
                    &resource,
                    &id,
                    version,
                    previous.map(|c| c.state),
                    writing.reason.clone(),
                    author,
                    found_patient,
                )
                .map_err(|e| crate::Error::Records(crate::records::Error::Record(e)))?;
                request.drafts.extend(assignments);
                if let (Some(v), None) = (draft_replaced, &writing.reason) {
                    // Decided on a draft without a reason: only while nobody has confirmed it.
                    request = request.expecting(kiroku_core::Expect::Unclaimed {
                        table: &CONFIRMATIONS,
                        key: vec![
                            kiroku_core::Value::Text(kind.into()),
                            kiroku_core::Value::Text(id.clone()),
                            kiroku_core::Value::Int(v as i64),
                        ],
                    });
                }
                Ok(Found::Allowed(request))
            })
            .await?;
        match decided {
            Found::Allowed(request) => Ok(request),
            Found::Refused(refused) => Err(self.refuse(actor, refused).await?),
        }
    }

    /// Adds a version to `kind/id` (or creates it with that id). `if_match`: the version the
    /// client saw; another stored version gets [`Error::Records(crate::records::Error::VersionMismatch)`], and so does a lost
    /// race with another update.
    pub async fn update_resource(
        self,
        actor: Actor,
        kind: &str,
        id: &str,
        body: Vec<u8>,
        if_match: Option<u64>,
        writing: Writing,
    ) -> Result<Written> {
        let kind = known_type(kind)?;
        if !is_id(id) {
            return Err(crate::Error::Records(crate::records::Error::NoSuchResource));
        }
        let resource = Resource::parse(&body, Some(kind)).map_err(RecordError::from)?;
        resource.refuse_controls().map_err(RecordError::from)?;
        resource.check().map_err(RecordError::from)?;
        if resource.id().is_some_and(|sent| sent != id) {
            return Err(crate::Error::Records(crate::records::Error::IdMismatch));
        }
        let previous = self.previous(kind, id).await?;
        let created = previous.is_none();
        let request = self
            .gated_write(&actor, kind, id, resource, previous, writing, if_match)
            .await?;
        match self.app.writer().append(request).await {
            Ok(receipt) => Ok(Written {
                served: self.written_version(receipt.first).await?,
                created,
            }),
            Err(e) => Err(write_failed(e, if_match)),
        }
    }

    /// Deletes `kind/id` for `reason`: a new version that holds no resource, decided by the
    /// policy as a write of the version it follows. Nothing is erased; every earlier version
    /// stays readable. `if_match`: the version the client saw. A resource already deleted is
    /// answered with its deletion, and nothing is written.
    pub async fn delete_resource(
        self,
        actor: Actor,
        kind: &str,
        id: &str,
        if_match: Option<u64>,
        reason: Option<String>,
    ) -> Result<Served> {
        let kind = known_type(kind)?;
        if !is_id(id) {
            return Err(crate::Error::Records(crate::records::Error::NoSuchResource));
        }
        let reason = reason.ok_or(crate::Error::Records(crate::records::Error::Record(
            RecordError::ReasonRequired,
        )))?;
        let who = actor.clone();
        let id_owned = id.to_owned();
        let decided = self
            .app
            .behind_gate(who.clone(), move |store, gate, _, now| {
                let id = id_owned;
                let asker = Asker::new(store, gate, now);
                let Some(c) = current(store, kind, &id)? else {
                    return not_found(&asker, kind);
                };
                let (replaced, origin) = load_version(store, c.entry)?;
                if let Err(refused) = may_write(&asker, kind, &id, &replaced.index, None)? {
                    return Ok(Found::Refused(refused));
                }
                if let Some(expected) = if_match.filter(|e| *e != c.version) {
                    return Err(crate::Error::Records(
                        crate::records::Error::VersionMismatch {
                            expected,
                            found: c.version,
                        },
                    ));
                }
                if replaced.state == State::Deleted {
                    return Ok(Found::Allowed(Err(serve(&replaced, origin)?)));
                }
                let assignments = match may_relate(
                    &asker,
                    &who,
                    kind,
                    &id,
                    c.version + 1,
                    None,
                    Some(&replaced.index),
                    Some(&reason),
                )? {
                    Ok(drafts) => drafts,
                    Err(refused) => return Ok(Found::Refused(refused)),
                };
                let mut request =
                    record::delete(who, kind, &id, c.version, &replaced.index, reason.clone())
                        .map_err(|e| crate::Error::Records(crate::records::Error::Record(e)))?;
                request.drafts.extend(assignments);
                Ok(Found::Allowed(Ok(request)))
            })
            .await?;
        let request = match decided {
            Found::Allowed(Ok(request)) => request,
            Found::Allowed(Err(already)) => return Ok(already),
            Found::Refused(refused) => return Err(self.refuse(&actor, refused).await?),
        };
        match self.app.writer().append(request).await {
            Ok(receipt) => self.written_version(receipt.first).await,
            Err(e) => Err(write_failed(e, if_match)),
        }
    }

    /// The latest version of `kind/id`, if any, in the state it now stands in.
    async fn previous(self, kind: &str, id: &str) -> Result<Option<Current>> {
        let store = self.app.store().clone();
        let (k, i) = (kind.to_owned(), id.to_owned());
        blocking(move || {
            let Some(mut c) = current(&store, &k, &i)? else {
                return Ok(None);
            };
            // A draft confirmed since is a confirmed version: correcting it needs a reason.
            if c.state == State::Draft
                && first(
                    &store,
                    &Confirmed::query(&k, &i, c.version),
                    Confirmed::from_row,
                )?
                .is_some()
            {
                c.state = State::Confirmed;
            }
            Ok(Some(c))
        })
        .await
    }

    /// Writes a transaction Bundle's entries, all or nothing, in order: each decided by the
    /// policy like a create or an update, the references between them resolved to the ids the
    /// server gives, and every version appended in one request. A conditional create that
    /// finds its patient writes nothing for that entry and answers the patient found.
    /// `writing` serves every entry: its reason every correction of a confirmed version, its
    /// clinician every proxy entry.
    pub async fn transact(
        self,
        actor: Actor,
        body: Vec<u8>,
        writing: Writing,
    ) -> Result<Vec<Written>> {
        use kiroku_records::transaction::{self, Method};
        let mut entries = transaction::parse(&body)?;
        let at = |entry: usize| {
            move |error: crate::Error| {
                crate::Error::Records(crate::records::Error::InEntry {
                    entry,
                    error: Box::new(error),
                })
            }
        };
        // Each entry's id, and what its fullUrl stands for.
        let mut found: Vec<Option<Written>> = Vec::with_capacity(entries.len());
        let mut ids = Vec::with_capacity(entries.len());
        let mut targets = std::collections::BTreeMap::new();
        for (n, entry) in entries.iter().enumerate() {
            let kind = entry.resource.kind;
            let (id, existing) = match &entry.method {
                Method::Create {
                    if_none_exist: Some((system, value)),
                } => match self
                    .holder(actor.clone(), kind, system, value)
                    .await
                    .map_err(at(n))?
                {
                    Some(written) => (written.served.id.clone(), Some(written)),
                    None => (self.new_resource_id(), None),
                },
                Method::Create {
                    if_none_exist: None,
                } => (self.new_resource_id(), None),
                Method::Update { id, .. } => (id.clone(), None),
            };
            if let Some(url) = &entry.full_url {
                targets.insert(url.clone(), format!("{kind}/{id}"));
            }
            ids.push(id);
            found.push(existing);
        }
        // Decided one by one, appended together.
        let mut request = Request::default();
        let mut writes = Vec::new();
        for (n, entry) in entries.iter_mut().enumerate() {
            if found[n].is_some() {
                continue;
            }
            transaction::resolve(&mut entry.resource.tree, &targets);
            let kind = entry.resource.kind;
            let (previous, if_match) = match &entry.method {
                Method::Update { id, if_match } => {
                    (self.previous(kind, id).await.map_err(at(n))?, *if_match)
                }
                Method::Create { .. } => (None, None),
            };
            let created = previous.is_none();
            let one = self
                .gated_write(
                    &actor,
                    kind,
                    &ids[n],
                    entry.resource.clone(),
                    previous,
                    writing.clone(),
                    if_match,
                )
                .await
                .map_err(at(n))?;
            // The version is the first of the write's entries (a care assignment's record
            // follows it).
            writes.push((n, created, request.drafts.len() as u64));
            request.drafts.extend(one.drafts);
            request.expect.extend(one.expect);
        }
        let mut answers: Vec<Option<Written>> = found;
        if !writes.is_empty() {
            let receipt = self
                .app
                .writer()
                .append(request)
                .await
                .map_err(|e| write_failed(e, None))?;
            for (n, created, offset) in writes {
                let entry = kiroku_core::EntryIndex(receipt.first.0 + offset);
                answers[n] = Some(Written {
                    served: self.written_version(entry).await?,
                    created,
                });
            }
        }
        answers
            .into_iter()
            .map(|a| {
                a.ok_or_else(|| crate::Error::Corrupt("a transaction entry has no answer".into()))
            })
            .collect()
    }

    /// Confirms (確定) version `version` of `kind/id`: only a person the policy lets write the
    /// record, only the latest version, only while it waits. Of two confirmations at once, one
    /// is kept.
    pub async fn confirm_resource(
        self,
        actor: Actor,
        kind: &str,
        id: &str,
        version: u64,
    ) -> Result<Served> {
        let kind = known_type(kind)?;
        if !is_id(id) {
            return Err(crate::Error::Records(crate::records::Error::NoSuchResource));
        }
        let who = actor.clone();
        let target = id.to_owned();
        let id = id.to_owned();
        let decided = self
            .app
            .behind_gate(who.clone(), move |store, gate, _, now| {
                decide_confirmation(&Asker::new(store, gate, now), &who, kind, &id, version)
            })
            .await?;
        let request = match decided {
            Found::Allowed(request) => request,
            Found::Refused(refused) => return Err(self.refuse(&actor, refused).await?),
        };
        self.app
            .writer()
            .append(request)
            .await
            .map_err(confirm_failed)?;
        self.vread_resource(actor, kind, &target, version).await
    }

    /// Confirms several drafts at once (a confirmation queue's selection): each decided as
    /// [`App::confirm_resource`] decides one, all appended in one request — every one confirmed,
    /// or (on any refusal or error) none. Answers how many were confirmed.
    pub async fn confirm_resources(
        self,
        actor: Actor,
        targets: Vec<(String, String, u64)>,
    ) -> Result<u64> {
        let who = actor.clone();
        let count = targets.len() as u64;
        let decided = self
            .app
            .behind_gate(who.clone(), move |store, gate, _, now| {
                let asker = Asker::new(store, gate, now);
                let mut request = Request::default();
                for (kind, id, version) in targets {
                    let kind = known_type(&kind)?;
                    if !is_id(&id) {
                        return Err(crate::Error::Records(crate::records::Error::NoSuchResource));
                    }
                    match decide_confirmation(&asker, &who, kind, &id, version)? {
                        Found::Allowed(one) => {
                            request.drafts.extend(one.drafts);
                            request.expect.extend(one.expect);
                        }
                        refused => return Ok(refused),
                    }
                }
                Ok(Found::Allowed(request))
            })
            .await?;
        let request = match decided {
            Found::Allowed(request) => request,
            Found::Refused(refused) => return Err(self.refuse(&actor, refused).await?),
        };
        if !request.drafts.is_empty() {
            self.app
                .writer()
                .append(request)
                .await
                .map_err(confirm_failed)?;
        }
        Ok(count)
    }

    /// The latest version of `kind/id`, disclosed.
    pub async fn read_resource(self, actor: Actor, kind: &str, id: &str) -> Result<Served> {
        self.read_at(actor, kind, id, None).await
    }

    /// Version `version` of `kind/id`, disclosed.
    pub async fn vread_resource(
        self,
        actor: Actor,
        kind: &str,
        id: &str,
        version: u64,
    ) -> Result<Served> {
        self.read_at(actor, kind, id, Some(version)).await
    }

    /// For `kiroku bench fhir` alone, on its scratch ledger: reads and vreads skip the policy
    /// and the disclosure entry (`on`), so that the benchmark can show what authorising and
    /// auditing every read costs. Nothing in the configuration, the API or the command line of
    /// a server turns this on.
    #[doc(hidden)]
    pub fn unaudited_reads_for_benchmark(self, on: bool) {
        self.app
            .unaudited_reads
            .store(on, std::sync::atomic::Ordering::Relaxed);
    }

    async fn read_at(self, actor: Actor, kind: &str, id: &str, at: Option<u64>) -> Result<Served> {
        let kind = known_type(kind)?;
        if !is_id(id) {
            return Err(crate::Error::Records(crate::records::Error::NoSuchResource));
        }
        let unaudited = self
            .app
            .unaudited_reads
            .load(std::sync::atomic::Ordering::Relaxed);
        let id = id.to_owned();
        // The benchmark's baseline (never switched on in a server) reads without the gate.
        let found = if unaudited {
            let store: Arc<Store> = self.app.store().clone();
            blocking(move || {
                let entry = version_entry(&store, kind, &id, at)?
                    .ok_or(crate::Error::Records(crate::records::Error::NoSuchResource))?;
                let (version, origin) = load_version(&store, entry)?;
                Ok(Found::Allowed(stored_state(
                    &store,
                    serve(&version, origin)?,
                )?))
            })
            .await?
        } else {
            self.app
                .behind_gate(actor.clone(), move |store, gate, _, now| {
                    let entry = version_entry(store, kind, &id, at)?;
                    let asker = Asker::new(store, gate, now);
                    let Some(entry) = entry else {
                        return not_found(&asker, kind);
                    };
                    Ok(match readable(&asker, kind, &id, entry)? {
                        Ok(served) => Found::Allowed(served),
                        Err(refused) => Found::Refused(refused),
                    })
                })
                .await?
        };
        match found {
            // A deletion answers that the resource is gone; no patient data leaves.
            Found::Allowed(served) if served.state == State::Deleted => {
                Err(crate::Error::Records(crate::records::Error::Gone {
                    version: served.version,
                }))
            }
            Found::Allowed(served) if unaudited => Ok(served),
            Found::Allowed(served) => {
                let interaction = if at.is_some() { "vread" } else { "read" };
                self.disclosed(&actor, interaction, &[&served], served.clone())
                    .await
            }
            Found::Refused(refused) => Err(self.refuse(&actor, refused).await?),
        }
    }

    /// The proof of authenticity of version `version` of `kind/id`: the version as served, its
    /// entry's bytes (and payload blob), and the entry's inclusion proof in the latest signed
    /// checkpoint. Gated and disclosed as a read of that version.
    pub async fn prove_resource(
        self,
        actor: Actor,
        kind: &str,
        id: &str,
        version: u64,
    ) -> Result<(Served, EntryProof)> {
        let kind = known_type(kind)?;
        if !is_id(id) {
            return Err(crate::Error::Records(crate::records::Error::NoSuchResource));
        }
        let who = actor.clone();
        let id = id.to_owned();
        let found = self
            .app
            .behind_gate(who.clone(), move |store, gate, _, now| {
                let entry = version_entry(store, kind, &id, Some(version))?;
                let asker = Asker::new(store, gate, now);
                let Some(entry) = entry else {
                    return not_found(&asker, kind);
                };
                let served = match readable(&asker, kind, &id, entry)? {
                    Ok(served) if served.state == State::Deleted => {
                        return Err(crate::Error::Records(crate::records::Error::Gone {
                            version: served.version,
                        }))
                    }
                    Ok(served) => served,
                    Err(refused) => return Ok(Found::Refused(refused)),
                };
                let proof = read::entry_proof(store, entry).map_err(|e| match e {
                    read::ReadError::OutOfRange { what, .. } => crate::Error::Corrupt(what),
                    read::ReadError::Store(e) => e.into(),
                })?;
                Ok(Found::Allowed((served, proof)))
            })
            .await?;
        match found {
            Found::Allowed((served, proof)) => {
                self.disclosed(&actor, "proof", &[&served], (served.clone(), proof))
                    .await
            }
            Found::Refused(refused) => Err(self.refuse(&actor, refused).await?),
        }
    }

    /// The version a ledger entry wrote or confirmed (a `records.resource/1` or
    /// `records.confirmation/1` entry): the target of the Provenance made from it. None for any
    /// other entry, or one beyond the signed tree. Reads no patient data out: the caller reads
    /// the version itself, gated and disclosed, to make the Provenance.
    pub async fn entry_target(self, entry: u64) -> Result<Option<(&'static str, String, u64)>> {
        let store: Arc<Store> = self.app.store().clone();
        blocking(move || {
            let signed = read::latest_checkpoint(&store)?.map_or(0, |c| c.size);
            if entry >= signed {
                return Ok(None);
            }
            let (stored, payload) = read::entry(&store, kiroku_core::EntryIndex(entry))?;
            let kind = stored.kind.as_str();
            use kiroku_core::context::EntryKind as _;
            if kind != ResourceVersion::KIND && kind != record::Confirmation::KIND {
                return Ok(None);
            }
            let target = (
                payload["type"]
                    .as_str()
                    .and_then(|t| TYPES.iter().find(|k| **k == t)),
                payload["id"].as_str(),
                payload["version"].as_u64(),
            );
            match target {
                (Some(kind), Some(id), Some(version)) => Ok(Some((*kind, id.to_owned(), version))),
                _ => Err(crate::Error::Corrupt(format!(
                    "entry {entry} does not name the version it is about"
                ))),
            }
        })
        .await
    }

    /// Versions of `kind/id`, newest first, older than `before` (none: from the newest),
    /// disclosed.
    pub async fn resource_history(
        self,
        actor: Actor,
        kind: &str,
        id: &str,
        before: Option<u64>,
        count: u64,
    ) -> Result<(Vec<Served>, Option<u64>)> {
        let kind = known_type(kind)?;
        if !is_id(id) {
            return Err(crate::Error::Records(crate::records::Error::NoSuchResource));
        }
        let count = count.clamp(1, PAGE_MAX);
        let who = actor.clone();
        let id = id.to_owned();
        let found = self
            .app
            .behind_gate(who.clone(), move |store, gate, _, now| {
                let rows = all(
                    store,
                    &VersionRow::history(kind, &id, before, count + 1),
                    VersionRow::from_row,
                )?;
                let asker = Asker::new(store, gate, now);
                if rows.is_empty() && before.is_none() {
                    return not_found(&asker, kind);
                }
                let mut served = Vec::new();
                for row in rows.iter().take(count as usize) {
                    match readable(&asker, kind, &id, row.entry)? {
                        Ok(version) => served.push(version),
                        Err(refused) => return Ok(Found::Refused(refused)),
                    }
                }
                let next = (rows.len() as u64 > count)
                    .then(|| served.last().map(|s| s.version))
                    .flatten();
                Ok(Found::Allowed((served, next)))
            })
            .await?;
        match found {
            Found::Allowed((served, next)) => {
                let refs: Vec<&Served> = served.iter().collect();
                self.disclosed(&actor, "history", &refs, ()).await?;
                Ok((served, next))
            }
            Found::Refused(refused) => Err(self.refuse(&actor, refused).await?),
        }
    }

    /// Searches resources of `kind`. Every match the caller may not read is a refusal of the
    /// whole search (and an entry); the matches returned, and their patients, are disclosed.
    pub async fn search_resources(
        self,
        actor: Actor,
        kind: &str,
        params: Vec<(String, String)>,
    ) -> Result<Page> {
        let kind = known_type(kind)?;
        let search = SearchQuery::parse(kind, &params)?;
        let who = actor.clone();
        let found = self
            .app
            .behind_gate(who.clone(), move |store, gate, _, now| {
                let asker = Asker::new(store, gate, now);
                // Asking first whether the caller may read this type at all spares a search the
                // caller would be refused.
                let (action, question) = type_question(kind);
                if let Err(refused) = check(&asker, action, &question, kind, None, None)? {
                    return Ok(Found::Refused(refused));
                }
                let (currents, next) = search.run(store)?;
                // One match the caller may not read does not refuse the search (which would tell
                // that it exists): it is left out, and recorded.
                let mut matches = Vec::new();
                let mut withheld = Vec::new();
                for c in currents {
                    match readable(&asker, kind, &c.id, c.entry)? {
                        Ok(served) => matches.push(served),
                        Err(refused) => withheld.push(refused),
                    }
                }
                let mut included: Vec<Served> = Vec::new();
                if search.include_patient && kind != "Patient" {
                    let mut patients: Vec<String> =
                        matches.iter().filter_map(|m| m.patient.clone()).collect();
                    patients.sort();
                    patients.dedup();
                    for patient in patients {
                        if let Some(c) = current(store, "Patient", &patient)?
                            .filter(|c| c.state != State::Deleted)
                        {
                            match readable(&asker, "Patient", &patient, c.entry)? {
                                Ok(served) => included.push(served),
                                Err(refused) => withheld.push(refused),
                            }
                        }
                    }
                }
                Ok(Found::Allowed((
                    Page {
                        matches,
                        included,
                        next,
                        withheld: withheld.len() as u64,
                    },
                    withheld,
                )))
            })
            .await?;
        match found {
            Found::Allowed((page, withheld)) => {
                let all: Vec<&Served> = page.matches.iter().chain(&page.included).collect();
                self.disclosed_withholding(&actor, "search", &all, withheld)
                    .await?;
                Ok(page)
            }
            Found::Refused(refused) => Err(self.refuse(&actor, refused).await?),
        }
    }
}

/// A name search's cursor: the last row read, its value and system in hexadecimal (a name may
/// hold any character, a cursor only what a parameter takes) and its id, joined by dots.
fn name_cursor((value, system, id): &(String, String, String)) -> String {
    let hex = |text: &str| text.bytes().map(|b| format!("{b:02x}")).collect::<String>();
    format!("{}.{}.{id}", hex(value), hex(system))
}

/// Reads a cursor that [`name_cursor`] made; `None` for anything else.
fn name_cursor_read(cursor: &str) -> Option<(String, String, String)> {
    let unhex = |text: &str| -> Option<String> {
        if !text.len().is_multiple_of(2) {
            return None;
        }
        let bytes = (0..text.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok())
            .collect::<Option<Vec<u8>>>()?;
        String::from_utf8(bytes).ok()
    };
    let mut parts = cursor.splitn(3, '.');
    let (value, system, id) = (parts.next()?, parts.next()?, parts.next()?);
    is_id(id).then_some(())?;
    Some((unhex(value)?, unhex(system)?, id.to_owned()))
}

/// The first of a resource's names (normalised) that start with `name`, in the terms' index
/// order (value, then system): where a name search lists it.
fn first_name_match(
    store: &Store,
    kind: &str,
    id: &str,
    name: &str,
) -> Result<Option<(String, String)>> {
    Ok(terms_of(store, kind, id)?
        .into_iter()
        .filter(|(param, value, _)| param == "name" && value.starts_with(name))
        .map(|(_, value, system)| (value, system))
        .min())
}

/// A resource's search terms (parameter, value, system), as its latest version gave them.
fn terms_of(store: &Store, kind: &str, id: &str) -> Result<Vec<(String, String, String)>> {
    let terms = read::query_columns(
        store,
        &kiroku_core::Query::table(&record::TERMS, 256).matching(vec![
            kiroku_core::Value::Text(kind.into()),
            kiroku_core::Value::Text(id.into()),
        ]),
    )?;
    terms
        .iter()
        .map(|row| {
            let cells = kiroku_core::query::Cells::of(row, &record::TERMS);
            Ok((
                decoded(cells.text(2))?,
                decoded(cells.text(3))?,
                decoded(cells.text(4))?,
            ))
        })
        .collect()
}

/// Running a parsed search over the tables.
pub(crate) trait Run {
    /// Does `c` pass the filters that the driving query did not apply? A deleted resource
    /// passes none.
    fn passes(&self, store: &Store, c: &Current) -> Result<bool>;
    /// The current rows of one page, and where the next starts.
    fn run(&self, store: &Store) -> Result<(Vec<Current>, Option<String>)>;
    /// A page of the resources holding one token (see the implementation).
    fn by_token(
        &self,
        store: &Store,
        param: &str,
        token: &Token,
    ) -> Result<(Vec<Current>, Option<String>)>;
    /// A page of the resources with a name starting so (see the implementation).
    fn by_name(&self, store: &Store, name: &str) -> Result<(Vec<Current>, Option<String>)>;
    /// A page in date order, filtered, after the cursor `date|id`.
    fn by_date(&self, store: &Store) -> Result<(Vec<Current>, Option<String>)>;
    /// A page in the order written (`_lastUpdated`), see the implementation.
    fn by_updated(&self, store: &Store) -> Result<(Vec<Current>, Option<String>)>;
}

impl Run for SearchQuery {
    fn passes(&self, store: &Store, c: &Current) -> Result<bool> {
        if c.state == State::Deleted {
            return Ok(false);
        }
        if self
            .patient
            .as_ref()
            .is_some_and(|p| c.patient.as_ref() != Some(p))
        {
            return Ok(false);
        }
        if self
            .encounter
            .as_ref()
            .is_some_and(|e| c.encounter.as_ref() != Some(e))
        {
            return Ok(false);
        }
        if !self
            .dates
            .iter()
            .all(|d| d.passes(c.date.as_deref().unwrap_or("")))
        {
            return Ok(false);
        }
        if !self.updated.iter().all(|u| u.passes(c.time.micros())) {
            return Ok(false);
        }
        if self.tokens.is_empty() && self.name.is_none() {
            return Ok(true);
        }
        let rows = terms_of(store, self.kind, &c.id)?;
        let token_ok = self.tokens.iter().all(|(param, token)| {
            rows.iter().any(|(p, v, s)| {
                p == param && *v == token.value && token.system.as_ref().is_none_or(|sys| sys == s)
            })
        });
        let name_ok = self.name.as_ref().is_none_or(|name| {
            rows.iter()
                .any(|(p, v, _)| p == "name" && v.starts_with(name.as_str()))
        });
        Ok(token_ok && name_ok)
    }

    /// The current rows of one page, and where the next starts.
    fn run(&self, store: &Store) -> Result<(Vec<Current>, Option<String>)> {
        if let Some(ids) = &self.ids {
            let mut found = Vec::new();
            for id in ids.iter().take(PAGE_MAX as usize) {
                if let Some(c) = current(store, self.kind, id)? {
                    if self.passes(store, &c)? {
                        found.push(c);
                    }
                }
            }
            return Ok((found, None));
        }
        if let Some(name) = &self.name {
            return self.by_name(store, name);
        }
        if let Some((param, token)) = self.tokens.first() {
            if self.patient.is_none() && self.encounter.is_none() {
                return self.by_token(store, param, token);
            }
        }
        if !self.updated.is_empty() && self.patient.is_none() && self.encounter.is_none() {
            return self.by_updated(store);
        }
        self.by_date(store)
    }

    /// A page of the resources holding the token `param`=`token`, read along the terms' index
    /// from the cursor, filtered by the search's other parameters: however many resources hold
    /// it (a pharmacy's `MedicationRequest?status=active`), a page costs the rows it reads, at
    /// most [`TOKEN_ROWS_PER_PAGE_MAX`] of them (a page may then be short, with its cursor).
    /// The cursor is the last row read: its id, after its system when the search names none.
    fn by_token(
        &self,
        store: &Store,
        param: &str,
        token: &Token,
    ) -> Result<(Vec<Current>, Option<String>)> {
        use kiroku_core::Value::Text;
        let bad = || {
            crate::Error::Records(crate::records::Error::Search(SearchError::BadValue(
                "_page".into(),
            )))
        };
        let mut after: Option<Vec<kiroku_core::Value>> = match (&self.after, &token.system) {
            (None, _) => None,
            (Some(id), Some(_)) => Some(vec![Text(id.clone())]),
            (Some(cursor), None) => {
                let (system, id) = cursor.rsplit_once('|').ok_or_else(bad)?;
                Some(vec![Text(system.into()), Text(id.into())])
            }
        };
        let mut found: Vec<Current> = Vec::new();
        let mut scanned = 0u64;
        loop {
            let batch = (self.count + 1)
                .min(TOKEN_ROWS_PER_PAGE_MAX - scanned)
                .max(1);
            let query = record::terms_equal(
                self.kind,
                param,
                &token.value,
                token.system.as_deref(),
                batch,
            )
            .after(after.clone());
            // The columns alone, which the terms' index holds: asked for the row's entry too,
            // SQLite's planner (without statistics) scans the type's every term by key
            // instead of seeking the index, and the search grows with the hospital.
            let rows = read::query_columns(store, &query)?;
            let exhausted = (rows.len() as u64) < batch;
            for row in &rows {
                scanned += 1;
                let cells = kiroku_core::query::Cells::of(row, &record::TERMS);
                let (id, system) = (decoded(cells.text(1))?, decoded(cells.text(4))?);
                let cursor = match &token.system {
                    Some(_) => id.clone(),
                    None => format!("{system}|{id}"),
                };
                after = Some(match &token.system {
                    Some(_) => vec![Text(id.clone())],
                    None => vec![Text(system), Text(id.clone())],
                });
                if found.iter().any(|c| c.id == id) {
                    continue;
                }
                if let Some(c) = current(store, self.kind, &id)? {
                    if self.passes(store, &c)? {
                        found.push(c);
                    }
                }
                if found.len() as u64 == self.count || scanned >= TOKEN_ROWS_PER_PAGE_MAX {
                    return Ok((found, Some(cursor)));
                }
            }
            if exhausted {
                return Ok((found, None));
            }
        }
    }

    /// A page of the resources with a name (normalised) starting with `name`, read along the
    /// terms' index from the cursor: however many match (a common family name across a city's
    /// patients), a page costs the rows it reads, at most [`TOKEN_ROWS_PER_PAGE_MAX`]. A
    /// resource with several matching names is listed once, at the first of them in the index's
    /// order. The cursor is the last row read (see [`name_cursor`]).
    fn by_name(&self, store: &Store, name: &str) -> Result<(Vec<Current>, Option<String>)> {
        use kiroku_core::Value::Text;
        let bad = || {
            crate::Error::Records(crate::records::Error::Search(SearchError::BadValue(
                "_page".into(),
            )))
        };
        let mut after: Option<(String, String, String)> = match &self.after {
            None => None,
            Some(cursor) => Some(name_cursor_read(cursor).ok_or_else(bad)?),
        };
        let mut found: Vec<Current> = Vec::new();
        let mut scanned = 0u64;
        loop {
            let batch = (self.count + 1)
                .min(TOKEN_ROWS_PER_PAGE_MAX - scanned)
                .max(1);
            let query = match &after {
                None => record::terms_from(self.kind, "name", name, batch),
                Some((value, system, id)) => kiroku_core::Query::table(&record::TERMS, batch)
                    .by_index(0)
                    .matching(vec![Text(self.kind.into()), Text("name".into())])
                    .after(Some(vec![
                        Text(value.clone()),
                        Text(system.clone()),
                        Text(id.clone()),
                    ])),
            };
            let rows = read::query_columns(store, &query)?;
            let exhausted = (rows.len() as u64) < batch;
            for row in &rows {
                scanned += 1;
                let cells = kiroku_core::query::Cells::of(row, &record::TERMS);
                let (id, value, system) = (
                    decoded(cells.text(1))?,
                    decoded(cells.text(3))?,
                    decoded(cells.text(4))?,
                );
                if !value.starts_with(name) {
                    return Ok((found, None));
                }
                let here = (value, system, id);
                if first_name_match(store, self.kind, &here.2, name)?.as_ref()
                    == Some(&(here.0.clone(), here.1.clone()))
                {
                    if let Some(c) = current(store, self.kind, &here.2)? {
                        if self.passes(store, &c)? {
                            found.push(c);
                        }
                    }
                }
                let cursor = name_cursor(&here);
                after = Some(here);
                if found.len() as u64 == self.count || scanned >= TOKEN_ROWS_PER_PAGE_MAX {
                    return Ok((found, Some(cursor)));
                }
            }
            if exhausted {
                return Ok((found, None));
            }
        }
    }

    /// A page in date order (of the patient's or the encounter's resources, or of the type's),
    /// filtered, after the cursor `date|id`.
    fn by_date(&self, store: &Store) -> Result<(Vec<Current>, Option<String>)> {
        use kiroku_core::Value::Text;
        let (index, eq) = match (&self.patient, &self.encounter) {
            (Some(p), _) => (1, vec![Text(p.clone()), Text(self.kind.into())]),
            (None, Some(e)) => (2, vec![Text(e.clone()), Text(self.kind.into())]),
            (None, None) => (0, vec![Text(self.kind.into())]),
        };
        // Each index orders by its own columns, then the id (the key's other column).
        let mut after = match &self.after {
            Some(cursor) => {
                let (date, id) = cursor.split_once('|').ok_or(crate::Error::Records(
                    crate::records::Error::Search(SearchError::BadValue("_page".into())),
                ))?;
                Some(vec![Text(date.into()), Text(id.into())])
            }
            None => None,
        };
        let mut found = Vec::new();
        let mut scanned = 0;
        loop {
            let mut query = kiroku_core::Query::table(&CURRENT, 200)
                .by_index(index)
                .matching(eq.clone())
                .after(after.clone());
            if self.descending {
                query = query.descending();
            }
            let rows: Vec<Stored> = read::query(store, &query)?;
            let exhausted = rows.len() < 200;
            for stored in &rows {
                scanned += 1;
                let c = decoded(Current::from_row(stored))?;
                let cursor = format!("{}|{}", c.date.as_deref().unwrap_or(""), c.id);
                after = Some(vec![
                    Text(c.date.clone().unwrap_or_default()),
                    Text(c.id.clone()),
                ]);
                if self.passes(store, &c)? {
                    found.push(c);
                    if found.len() as u64 == self.count {
                        return Ok((found, Some(cursor)));
                    }
                }
                if scanned >= SCAN_MAX {
                    return Ok((found, Some(cursor)));
                }
            }
            if exhausted {
                return Ok((found, None));
            }
        }
    }

    /// A page of the resources of a type in the order they were last written, from the lower
    /// bound of `_lastUpdated` (or the cursor `time|id`) to its upper bound, filtered: a
    /// system that polls for what changed since it last asked reads only that, at most
    /// [`TOKEN_ROWS_PER_PAGE_MAX`] index rows a page.
    fn by_updated(&self, store: &Store) -> Result<(Vec<Current>, Option<String>)> {
        use kiroku_core::Value::{Int, Text};
        use kiroku_records::search::Updated;
        let bad = || {
            crate::Error::Records(crate::records::Error::Search(SearchError::BadValue(
                "_page".into(),
            )))
        };
        // Ids are letters, digits, '-' and '.': "" sorts before every id and "~" after.
        let lower = self
            .updated
            .iter()
            .filter_map(|u| match u {
                Updated::Gt(t) => Some((*t, "~")),
                Updated::Ge(t) => Some((*t, "")),
                Updated::Lt(_) | Updated::Le(_) => None,
            })
            .max();
        let mut after = match &self.after {
            Some(cursor) => {
                let (time, id) = cursor.split_once('|').ok_or_else(bad)?;
                Some(vec![Int(time.parse().map_err(|_| bad())?), Text(id.into())])
            }
            None => lower.map(|(t, id)| vec![Int(t), Text(id.into())]),
        };
        let past_upper = |micros: i64| {
            self.updated.iter().any(|u| match u {
                Updated::Lt(t) => micros >= *t,
                Updated::Le(t) => micros > *t,
                Updated::Gt(_) | Updated::Ge(_) => false,
            })
        };
        let mut found = Vec::new();
        let mut scanned = 0u64;
        loop {
            let batch = (self.count + 1)
                .min(TOKEN_ROWS_PER_PAGE_MAX - scanned)
                .max(1);
            let query = kiroku_core::Query::table(&CURRENT, batch)
                .by_index(3)
                .matching(vec![Text(self.kind.into())])
                .after(after.clone());
            let rows: Vec<Stored> = read::query(store, &query)?;
            let exhausted = (rows.len() as u64) < batch;
            for stored in &rows {
                scanned += 1;
                let c = decoded(Current::from_row(stored))?;
                let micros = c.time.micros();
                if past_upper(micros) {
                    return Ok((found, None));
                }
                let cursor = format!("{micros}|{}", c.id);
                after = Some(vec![Int(micros), Text(c.id.clone())]);
                if self.passes(store, &c)? {
                    found.push(c);
                }
                if found.len() as u64 == self.count || scanned >= TOKEN_ROWS_PER_PAGE_MAX {
                    return Ok((found, Some(cursor)));
                }
            }
            if exhausted {
                return Ok((found, None));
            }
        }
    }
}
