//! Policy versions in the ledger. Version 1 is the default policy set, adopted when the data
//! directory is created. A new version is proposed (validated against the schema before it is
//! saved), then approved or rejected by a system administrator other than its author; approval
//! puts it in force from the approval's time. A proposal drafted on a version no longer in
//! force cannot be approved (it would silently undo a change): it is drafted again.
//!
//! The policy is one stream (`policy_state`), so two steps decided on the same state cannot
//! both commit. Adoptions are kept by time, so the policy in force at any past moment is one
//! keyed read.

use crate::engine::{Engine, POLICY_TEXT_MAX};
use crate::error::PolicyError;
use kiroku_core::projection::{Column, TableRole, TableSpec, Value};
use kiroku_core::query::{BadRow, Query, Stored};
use kiroku_core::{
    Actor, Change, Draft, EntryKind, EntryMeta, Invalid, Projection, Request, Timestamp,
};
use serde::{Deserialize, Serialize};

/// The policy's stream: how many steps it has taken and which version is in force.
pub static POLICY_STATE: TableSpec = TableSpec {
    name: "policy_state",
    about: "The access policy's stream (one row): its version, raised by every proposal, approval and rejection, and the policy version in force.",
    columns: &[
        Column::text("name"),
        Column::int("version"),
        Column::int("in_force"),
    ],
    key: 1,
    indexes: &[],
    role: TableRole::Stream { version: "version" },
};

/// Every policy version as proposed.
pub static POLICY_VERSIONS: TableSpec = TableSpec {
    name: "policy_versions",
    about: "Every access-policy version (Cedar text) as proposed: the version it was drafted on, who proposed it and when.",
    columns: &[
        Column::int("number"),
        Column::text("text"),
        Column::int("based_on"),
        Column::text("proposed_by"),
        Column::entry("proposed_entry"),
        Column::int("proposed_at"),
    ],
    key: 1,
    indexes: &[],
    role: TableRole::Plain,
};

/// The decision on each version.
pub static POLICY_DECISIONS: TableSpec = TableSpec {
    name: "policy_decisions",
    about:
        "The approval or rejection of each proposed policy version: by whom, when, and the entry.",
    columns: &[
        Column::int("number"),
        Column::text("state"),
        Column::text("decided_by"),
        Column::entry("decided_entry"),
        Column::int("decided_at"),
    ],
    key: 1,
    indexes: &[],
    role: TableRole::Plain,
};

/// When each version came into force.
pub static POLICY_ADOPTIONS: TableSpec = TableSpec {
    name: "policy_adoptions",
    about: "When each policy version came into force (the time and entry of its approval): the policy in force at a past time is the last adoption before it.",
    columns: &[
        Column::int("since"),
        Column::entry("entry"),
        Column::int("number"),
    ],
    key: 2,
    indexes: &[],
    role: TableRole::Plain,
};

const STREAM_NAME: &str = "policy";

fn int(n: u64) -> Value {
    i64::try_from(n).map_or(Value::Null, Value::Int)
}

fn stream_row(version: u64, in_force: u64) -> Change {
    Change::upsert(
        &POLICY_STATE,
        vec![Value::Text(STREAM_NAME.into()), int(version), int(in_force)],
    )
}

fn version_row(number: u64, text: &str, based_on: u64, meta: &EntryMeta<'_>) -> Change {
    Change::upsert(
        &POLICY_VERSIONS,
        vec![
            int(number),
            Value::Text(text.to_owned()),
            int(based_on),
            Value::Text(meta.actor.account.to_string()),
            Value::THIS_ENTRY,
            Value::Int(meta.time.micros()),
        ],
    )
}

fn decision_row(number: u64, state: VersionState, meta: &EntryMeta<'_>) -> Change {
    Change::upsert(
        &POLICY_DECISIONS,
        vec![
            int(number),
            Value::Text(state.as_str().into()),
            Value::Text(meta.actor.account.to_string()),
            Value::THIS_ENTRY,
            Value::Int(meta.time.micros()),
        ],
    )
}

fn adoption_row(number: u64, meta: &EntryMeta<'_>) -> Change {
    Change::upsert(
        &POLICY_ADOPTIONS,
        vec![
            Value::Int(meta.time.micros()),
            Value::THIS_ENTRY,
            int(number),
        ],
    )
}

fn check_text(text: &str) -> Result<(), Invalid> {
    if text.trim().is_empty() || text.len() > POLICY_TEXT_MAX {
        return Err(Invalid {
            field: "text",
            why: "must be 1 to 65536 bytes of policy text",
        });
    }
    Ok(())
}

fn require_reason(meta: &EntryMeta<'_>) -> Result<(), Invalid> {
    if meta.reason.is_none_or(|r| r.trim().is_empty()) {
        return Err(Invalid {
            field: "reason",
            why: "is required",
        });
    }
    Ok(())
}

/// `policy.initial/1`: the default policy set, version 1, in force from the data directory's
/// creation.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InitialPolicy {
    /// The Cedar text.
    pub text: String,
}

impl EntryKind for InitialPolicy {
    const KIND: &'static str = "policy.initial/1";
    const PROJECTION: Projection = Projection::Into(&[
        &POLICY_STATE,
        &POLICY_VERSIONS,
        &POLICY_DECISIONS,
        &POLICY_ADOPTIONS,
    ]);

    fn check(&self, _: &EntryMeta<'_>) -> Result<(), Invalid> {
        check_text(&self.text)
    }

    fn project(&self, meta: &EntryMeta<'_>, out: &mut Vec<Change>) {
        out.push(stream_row(1, 1));
        out.push(version_row(1, &self.text, 0, meta));
        out.push(decision_row(1, VersionState::Approved, meta));
        out.push(adoption_row(1, meta));
    }

    fn example() -> Self {
        InitialPolicy {
            text: crate::engine::DEFAULT_POLICY.to_owned(),
        }
    }
}

/// `policy.proposal/1`: version `number` proposed, drafted on version `based_on` (in force
/// then); the stream's new version is `step`. The reason says what changes and why.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PolicyProposed {
    /// The new version's number.
    pub number: u64,
    /// The version in force when it was drafted.
    pub based_on: u64,
    /// The policy stream's version after this step.
    pub step: u64,
    /// The Cedar text.
    pub text: String,
}

impl EntryKind for PolicyProposed {
    const KIND: &'static str = "policy.proposal/1";
    const PROJECTION: Projection = Projection::Into(&[&POLICY_STATE, &POLICY_VERSIONS]);

    fn check(&self, meta: &EntryMeta<'_>) -> Result<(), Invalid> {
        check_text(&self.text)?;
        require_reason(meta)?;
        if self.number < 2 || self.based_on == 0 || self.based_on >= self.number {
            return Err(Invalid {
                field: "number",
                why: "must follow the version it is based on",
            });
        }
        Ok(())
    }

    fn project(&self, meta: &EntryMeta<'_>, out: &mut Vec<Change>) {
        out.push(stream_row(self.step, self.based_on));
        out.push(version_row(self.number, &self.text, self.based_on, meta));
    }

    fn example() -> Self {
        PolicyProposed {
            number: 2,
            based_on: 1,
            step: 2,
            text: crate::engine::DEFAULT_POLICY.to_owned(),
        }
    }
}

/// `policy.approval/1`: version `number` approved and in force from this entry's time.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PolicyApproved {
    /// The version approved.
    pub number: u64,
    /// The policy stream's version after this step.
    pub step: u64,
}

impl EntryKind for PolicyApproved {
    const KIND: &'static str = "policy.approval/1";
    const PROJECTION: Projection =
        Projection::Into(&[&POLICY_STATE, &POLICY_DECISIONS, &POLICY_ADOPTIONS]);

    fn check(&self, _: &EntryMeta<'_>) -> Result<(), Invalid> {
        if self.number < 2 {
            return Err(Invalid {
                field: "number",
                why: "must be a proposed version (2 or later)",
            });
        }
        Ok(())
    }

    fn project(&self, meta: &EntryMeta<'_>, out: &mut Vec<Change>) {
        out.push(stream_row(self.step, self.number));
        out.push(decision_row(self.number, VersionState::Approved, meta));
        out.push(adoption_row(self.number, meta));
    }

    fn example() -> Self {
        PolicyApproved { number: 2, step: 3 }
    }
}

/// `policy.rejection/1`: version `number` rejected; version `in_force` stays in force. The
/// reason says why.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PolicyRejected {
    /// The version rejected.
    pub number: u64,
    /// The policy stream's version after this step.
    pub step: u64,
    /// The version that stays in force.
    pub in_force: u64,
}

impl EntryKind for PolicyRejected {
    const KIND: &'static str = "policy.rejection/1";
    const PROJECTION: Projection = Projection::Into(&[&POLICY_STATE, &POLICY_DECISIONS]);

    fn check(&self, meta: &EntryMeta<'_>) -> Result<(), Invalid> {
        require_reason(meta)
    }

    fn project(&self, meta: &EntryMeta<'_>, out: &mut Vec<Change>) {
        out.push(stream_row(self.step, self.in_force));
        out.push(decision_row(self.number, VersionState::Rejected, meta));
    }

    fn example() -> Self {
        PolicyRejected {
            number: 2,
            step: 3,
            in_force: 1,
        }
    }
}

/// Where a version stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum VersionState {
    /// Awaiting a decision.
    Proposed,
    /// Approved (in force from then, until a later version is).
    Approved,
    /// Rejected.
    Rejected,
}

impl VersionState {
    /// As stored and in the API.
    pub fn as_str(self) -> &'static str {
        match self {
            VersionState::Proposed => "proposed",
            VersionState::Approved => "approved",
            VersionState::Rejected => "rejected",
        }
    }

    fn parse(text: &str) -> Option<VersionState> {
        [
            VersionState::Proposed,
            VersionState::Approved,
            VersionState::Rejected,
        ]
        .into_iter()
        .find(|s| s.as_str() == text)
    }
}

/// The policy stream's state.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PolicyState {
    /// The stream's version (0: no policy yet).
    pub version: u64,
    /// The version in force.
    pub in_force: u64,
}

impl PolicyState {
    /// The query for the stream's row.
    pub fn query() -> Query {
        Query::key(&POLICY_STATE, vec![Value::Text(STREAM_NAME.into())])
    }

    /// Decodes a row of [`POLICY_STATE`].
    pub fn from_row(stored: &Stored) -> Result<PolicyState, BadRow> {
        let c = stored.cells(&POLICY_STATE);
        Ok(PolicyState {
            version: c.uint(1)?,
            in_force: c.uint(2)?,
        })
    }
}

/// A decision on a version.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VersionDecision {
    /// Approved or rejected.
    pub state: VersionState,
    /// By whom.
    pub by: String,
    /// The entry.
    pub entry: kiroku_core::EntryIndex,
    /// When.
    pub time: Timestamp,
}

impl VersionDecision {
    /// The query for version `number`'s decision.
    pub fn query(number: u64) -> Query {
        Query::key(&POLICY_DECISIONS, vec![int(number)])
    }

    /// Decodes a row of [`POLICY_DECISIONS`].
    pub fn from_row(stored: &Stored) -> Result<VersionDecision, BadRow> {
        let c = stored.cells(&POLICY_DECISIONS);
        Ok(VersionDecision {
            state: c.parsed(1, VersionState::parse)?,
            by: c.text(2)?,
            entry: c.entry(3)?,
            time: c.time(4)?,
        })
    }
}

/// A version as proposed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Proposal {
    /// Its number.
    pub number: u64,
    /// The Cedar text.
    pub text: String,
    /// The version it was drafted on (0 for version 1).
    pub based_on: u64,
    /// Who proposed it.
    pub proposed_by: String,
    /// The proposal's entry.
    pub entry: kiroku_core::EntryIndex,
    /// When.
    pub time: Timestamp,
}

impl Proposal {
    /// The query for version `number`.
    pub fn query(number: u64) -> Query {
        Query::key(&POLICY_VERSIONS, vec![int(number)])
    }

    /// The query for the newest versions first.
    pub fn newest(limit: u64) -> Query {
        Query::table(&POLICY_VERSIONS, limit).descending()
    }

    /// Decodes a row of [`POLICY_VERSIONS`].
    pub fn from_row(stored: &Stored) -> Result<Proposal, BadRow> {
        let c = stored.cells(&POLICY_VERSIONS);
        Ok(Proposal {
            number: c.uint(0)?,
            text: c.text(1)?,
            based_on: c.uint(2)?,
            proposed_by: c.text(3)?,
            entry: c.entry(4)?,
            time: c.time(5)?,
        })
    }
}

/// A version with its decision, if any.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Version {
    /// As proposed.
    pub proposal: Proposal,
    /// Approved or rejected, if decided.
    pub decision: Option<VersionDecision>,
}

impl Version {
    /// Where it stands.
    pub fn state(&self) -> VersionState {
        self.decision
            .as_ref()
            .map_or(VersionState::Proposed, |d| d.state)
    }
}

/// An adoption: version `number` in force from `since`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Adoption {
    /// From when.
    pub since: Timestamp,
    /// The version.
    pub number: u64,
}

impl Adoption {
    /// The query for the adoption in force at `at`: the last one at or before it.
    pub fn at(at: Timestamp) -> Query {
        Query::table(&POLICY_ADOPTIONS, 1)
            .descending()
            .after(Some(vec![Value::Int(at.micros().saturating_add(1))]))
    }

    /// Decodes a row of [`POLICY_ADOPTIONS`].
    pub fn from_row(stored: &Stored) -> Result<Adoption, BadRow> {
        let c = stored.cells(&POLICY_ADOPTIONS);
        Ok(Adoption {
            since: c.time(0)?,
            number: c.uint(2)?,
        })
    }
}

/// The request adopting the default policy set as version 1 (at the data directory's
/// creation).
pub fn initial(actor: Actor) -> Request {
    Request::one(
        Draft::new(
            actor,
            InitialPolicy {
                text: crate::engine::DEFAULT_POLICY.to_owned(),
            },
        )
        .because("the default policy set of this release"),
    )
}

fn check_current(state: &PolicyState, expected: u64) -> Result<(), PolicyError> {
    if state.version != expected {
        return Err(PolicyError::Stale {
            expected,
            found: state.version,
        });
    }
    Ok(())
}

fn reason_given(reason: &str) -> Result<(), PolicyError> {
    if reason.trim().is_empty() {
        return Err(PolicyError::ReasonRequired);
    }
    Ok(())
}

/// Proposes `text` as the next version, with a reason. `permitted` is the policy in force's
/// answer to "may this account propose policies"; `latest` the newest version's number. The
/// text must compile (parse, validate against the schema, not lock out policy changes): a
/// proposal that fails is not saved.
pub fn propose(
    permitted: bool,
    actor: Actor,
    state: &PolicyState,
    latest: u64,
    expected: u64,
    text: &str,
    reason: &str,
) -> Result<Request, PolicyError> {
    if !permitted {
        return Err(PolicyError::Denied("ProposePolicy"));
    }
    check_current(state, expected)?;
    reason_given(reason)?;
    Engine::compile(text)?;
    let draft = Draft::new(
        actor,
        PolicyProposed {
            number: latest + 1,
            based_on: state.in_force,
            step: state.version + 1,
            text: text.to_owned(),
        },
    )
    .because(reason.trim());
    Ok(Request::one(draft))
}

fn decidable(
    permitted: bool,
    actor: &Actor,
    state: &PolicyState,
    version: &Version,
    expected: u64,
    step: &'static str,
) -> Result<(), PolicyError> {
    if !permitted {
        return Err(PolicyError::Denied("ApprovePolicy"));
    }
    check_current(state, expected)?;
    if version.state() != VersionState::Proposed {
        return Err(PolicyError::WrongState {
            version: version.proposal.number,
            state: version.state().as_str(),
            step,
        });
    }
    if version.proposal.proposed_by == actor.account.as_str() {
        return Err(PolicyError::OwnProposal);
    }
    Ok(())
}

/// Approves a proposed version: it comes into force at once. Only a proposal drafted on the
/// version in force, by someone else, and still valid.
pub fn approve(
    permitted: bool,
    actor: Actor,
    state: &PolicyState,
    version: &Version,
    expected: u64,
    reason: &str,
) -> Result<Request, PolicyError> {
    decidable(permitted, &actor, state, version, expected, "approved")?;
    if version.proposal.based_on != state.in_force {
        return Err(PolicyError::Superseded {
            version: version.proposal.number,
            based_on: version.proposal.based_on,
            in_force: state.in_force,
        });
    }
    Engine::compile(&version.proposal.text)?;
    let mut draft = Draft::new(
        actor,
        PolicyApproved {
            number: version.proposal.number,
            step: state.version + 1,
        },
    );
    if !reason.trim().is_empty() {
        draft = draft.because(reason.trim());
    }
    Ok(Request::one(draft))
}

/// Rejects a proposed version, with a reason.
pub fn reject(
    permitted: bool,
    actor: Actor,
    state: &PolicyState,
    version: &Version,
    expected: u64,
    reason: &str,
) -> Result<Request, PolicyError> {
    decidable(permitted, &actor, state, version, expected, "rejected")?;
    reason_given(reason)?;
    let draft = Draft::new(
        actor,
        PolicyRejected {
            number: version.proposal.number,
            step: state.version + 1,
            in_force: state.in_force,
        },
    )
    .because(reason.trim());
    Ok(Request::one(draft))
}
