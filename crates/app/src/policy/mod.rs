//! The policy wing: the versions of the access policy, proposed, decided and explained.

use crate::access::accounts::Done;
use crate::gate::principal_of;
use crate::rows::{all, first};
use crate::{blocking, Error, Result};
use kiroku_core::{Actor, Timestamp};
use kiroku_policy::version::{self, Adoption, PolicyState, Proposal, Version, VersionDecision};
use kiroku_policy::{Action, Decision, PolicyError, Principal, Resource};
use kiroku_store::Store;
use std::sync::Arc;

pub use kiroku_policy::engine::{Engine, DEFAULT_POLICY, SCHEMA};

/// The job type of system clients (Art. 4(5), 6): accounts that are programs, not people.
pub use kiroku_access::client::CLIENT_JOB_TYPE;

/// The use cases of the access policy: `app.policy()`.
#[derive(Clone, Copy)]
pub struct Policies<'a> {
    pub(crate) app: &'a crate::App,
}

impl crate::App {
    /// The use cases of the access policy.
    pub fn policy(&self) -> Policies<'_> {
        Policies { app: self }
    }
}

/// Most policy versions listed at once.
pub const VERSIONS_SHOWN_MAX: u64 = 200;

/// A policy's answer to a question, with the policies that gave it and the version in force.
#[derive(Clone, Debug)]
pub struct Explanation {
    /// The account asked about, as the policy saw it.
    pub principal: Principal,
    /// The action.
    pub action: Action,
    /// The decision.
    pub decision: Decision,
    /// The version that decided.
    pub version: u64,
    /// Each deciding policy's id and text.
    pub policies: Vec<(String, String)>,
}

/// A policy version with its decision and whether it is in force.
#[derive(Clone, Debug)]
pub struct VersionView {
    /// The version.
    pub version: Version,
    /// Is it the version in force now?
    pub in_force: bool,
}

fn load_version(store: &Store, number: u64) -> Result<Version> {
    let proposal = first(store, &Proposal::query(number), Proposal::from_row)?
        .ok_or(Error::Policy(PolicyError::NoVersion(number)))?;
    let decision = first(
        store,
        &VersionDecision::query(number),
        VersionDecision::from_row,
    )?;
    Ok(Version { proposal, decision })
}

fn latest_number(store: &Store) -> Result<u64> {
    Ok(first(store, &Proposal::newest(1), Proposal::from_row)?.map_or(0, |p| p.number))
}

impl Policies<'_> {
    /// The policy stream's state: its version (for the next step's `expected`) and the
    /// version in force.
    pub async fn policy_state(self) -> Result<PolicyState> {
        let store: Arc<Store> = self.app.store().clone();
        blocking(move || {
            first(&store, &PolicyState::query(), PolicyState::from_row)?
                .ok_or(Error::Policy(PolicyError::NoneInForce))
        })
        .await
    }

    /// The policy versions, newest first.
    pub async fn policy_versions(self) -> Result<Vec<VersionView>> {
        let store: Arc<Store> = self.app.store().clone();
        blocking(move || {
            let state = first(&store, &PolicyState::query(), PolicyState::from_row)?;
            let proposals = all(
                &store,
                &Proposal::newest(VERSIONS_SHOWN_MAX),
                Proposal::from_row,
            )?;
            proposals
                .into_iter()
                .map(|proposal| {
                    let decision = first(
                        &store,
                        &VersionDecision::query(proposal.number),
                        VersionDecision::from_row,
                    )?;
                    let in_force = state.is_some_and(|s| s.in_force == proposal.number);
                    Ok(VersionView {
                        version: Version { proposal, decision },
                        in_force,
                    })
                })
                .collect()
        })
        .await
    }

    /// One policy version.
    pub async fn policy_version(self, number: u64) -> Result<Version> {
        let store: Arc<Store> = self.app.store().clone();
        blocking(move || load_version(&store, number)).await
    }

    /// The version in force at `at` (now, if none), and since when.
    pub async fn policy_at(self, at: Option<Timestamp>) -> Result<(Adoption, Version)> {
        let store: Arc<Store> = self.app.store().clone();
        let at = match at {
            Some(t) => t,
            None => self
                .app
                .clock()
                .now()
                .map_err(|e| Error::Unavailable(e.to_string()))?,
        };
        blocking(move || {
            let adoption = first(&store, &Adoption::at(at), Adoption::from_row)?
                .ok_or(Error::Policy(PolicyError::NoneInForce))?;
            let version = load_version(&store, adoption.number)?;
            Ok((adoption, version))
        })
        .await
    }

    /// Proposes a new policy version, drafted on stream version `expected`; returns what was
    /// appended and the new version's number. A text that does not compile is refused and
    /// nothing is written.
    pub async fn propose_policy(
        self,
        actor: Actor,
        expected: u64,
        text: String,
        reason: String,
    ) -> Result<(Done, u64)> {
        let (request, number) = self
            .app
            .behind_gate(actor.clone(), move |store, gate, _, _| {
                let permitted = gate
                    .decide(Action::ProposePolicy, &Resource::System)?
                    .allowed;
                // The number is safe under a race: a proposal racing this one raises the policy
                // stream's version too, and the writer refuses whichever comes second.
                let latest = latest_number(store)?;
                let request = version::propose(
                    permitted,
                    actor,
                    &gate.policy.state,
                    latest,
                    expected,
                    &text,
                    &reason,
                )?;
                Ok((request, latest + 1))
            })
            .await?;
        Ok((self.app.append_done(request).await?, number))
    }

    /// Approves (or, with `approve` false, rejects) policy version `number`, at stream version
    /// `expected`.
    pub async fn decide_policy(
        self,
        actor: Actor,
        number: u64,
        expected: u64,
        approve: bool,
        reason: String,
    ) -> Result<Done> {
        let by = actor.clone();
        self.app
            .gated(&actor, move |store, _, gate| {
                let permitted = gate
                    .decide(Action::ApprovePolicy, &Resource::System)?
                    .allowed;
                let found = load_version(store, number)?;
                let state = &gate.policy.state;
                Ok(if approve {
                    version::approve(permitted, by, state, &found, expected, &reason)?
                } else {
                    version::reject(permitted, by, state, &found, expected, &reason)?
                })
            })
            .await
    }

    /// Explains what the policy in force says about `account` doing `action` to `resource`.
    /// Anyone may ask about themselves; asking about others needs the registers' readers.
    pub async fn explain(
        self,
        asker: &Actor,
        account: &str,
        action: Action,
        resource: Resource,
    ) -> Result<Explanation> {
        let asker = asker.clone();
        let account = account.to_owned();
        self.app
            .behind_gate(asker.clone(), move |store, gate, today, _| {
                if asker.account.as_str() != account {
                    gate.require(Action::ReadRegisters, &Resource::System)?;
                }
                let principal = principal_of(store, &account, today)?.ok_or_else(|| {
                    Error::Access(crate::access::Error::NoSuchAccount(account.clone()))
                })?;
                let decision = gate.policy.engine.decide(&principal, action, &resource)?;
                let policies = decision
                    .policies
                    .iter()
                    .map(|id| {
                        let text = gate.policy.engine.policy_text(id).unwrap_or_default();
                        (id.clone(), text)
                    })
                    .collect();
                Ok(Explanation {
                    principal,
                    action,
                    decision,
                    version: gate.policy.state.in_force,
                    policies,
                })
            })
            .await
    }
}
