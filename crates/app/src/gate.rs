//! The gate every use case passes: who is asking, as the policy sees them today, and the
//! policy in force (a Cedar policy set, a version in the ledger), both read under the store's
//! watch and remembered until an access-changing entry is appended. A use case asks the gate
//! before its rule runs; the rules of the contexts keep their own checks of separation of
//! duties, so no policy can switch those off.

use crate::access::accounts::{account_state, Done};
use crate::rows::{all, first};
use crate::{blocking, App, Error, Result};
use kiroku_access::account::{AccountState, Profile, Status};
use kiroku_access::role::{Held, Role};
use kiroku_core::{AccountId, Actor, Date, Timestamp};
use kiroku_policy::version::{PolicyState, Proposal};
use kiroku_policy::{Action, Decision, PolicyError, Principal, PrincipalKind, Resource};
use kiroku_store::Store;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

pub use kiroku_policy::engine::{Engine, DEFAULT_POLICY, SCHEMA};

/// The job type of system clients (Art. 4(5), 6): accounts that are programs, not people.
pub use kiroku_access::client::CLIENT_JOB_TYPE;

/// Most policy versions listed at once.
pub const VERSIONS_SHOWN_MAX: u64 = 200;

/// The compiled policy in force, by version number; and what the gates last read about who is
/// asking — the policy in force, each account as the policy sees it — each kept with the count
/// of access-changing entries it was read at ([`kiroku_store::watch::Watch`]), and good only
/// while that is the count (and, for an account, on the day it was read: validity periods and
/// roles are by date).
#[derive(Debug, Default)]
pub struct PolicyCache {
    compiled: Mutex<Option<(u64, Arc<Engine>)>>,
    in_force: Mutex<Option<(u64, InForce)>>,
    principals: Mutex<HashMap<(Actor, Date), (u64, Principal)>>,
}

/// Most accounts the gates remember; they forget them all when full.
const PRINCIPALS_MAX: usize = 4096;

/// The policy in force: its stream state and its compiled form.
#[derive(Clone, Debug)]
pub(crate) struct InForce {
    pub state: PolicyState,
    pub engine: Arc<Engine>,
}

impl PolicyCache {
    fn engine(&self, store: &Store, number: u64) -> Result<Arc<Engine>> {
        if let Ok(guard) = self.compiled.lock() {
            if let Some((n, engine)) = guard.as_ref() {
                if *n == number {
                    return Ok(engine.clone());
                }
            }
        }
        let proposal = first(store, &Proposal::query(number), Proposal::from_row)?
            .ok_or_else(|| Error::Corrupt(format!("policy version {number} has no text")))?;
        // A version approved once compiles; one that no longer does (a schema changed under
        // it) denies everything rather than guess.
        let engine = Arc::new(Engine::compile(&proposal.text).map_err(|e| {
            Error::Corrupt(format!(
                "policy version {number} in force does not compile: {e}"
            ))
        })?);
        if let Ok(mut guard) = self.compiled.lock() {
            *guard = Some((number, engine.clone()));
        }
        Ok(engine)
    }

    /// The policy in force, as read at `epoch` or now.
    fn in_force_at(&self, store: &Store, epoch: u64) -> Result<InForce> {
        if let Some((at, known)) = self.in_force.lock().ok().and_then(|k| k.clone()) {
            if at == epoch {
                return Ok(known);
            }
        }
        let found = self.in_force(store)?;
        if let Ok(mut known) = self.in_force.lock() {
            *known = Some((epoch, found.clone()));
        }
        Ok(found)
    }

    /// `actor` as policies see it on `today`, as read at `epoch` or now.
    fn principal_at(
        &self,
        store: &Store,
        actor: &Actor,
        today: Date,
        epoch: u64,
    ) -> Result<Principal> {
        let key = (actor.clone(), today);
        if let Some((at, known)) = self
            .principals
            .lock()
            .ok()
            .and_then(|p| p.get(&key).cloned())
        {
            if at == epoch {
                return Ok(known);
            }
        }
        let found = actor_principal(store, actor, today)?;
        if let Ok(mut known) = self.principals.lock() {
            if known.len() >= PRINCIPALS_MAX {
                known.clear();
            }
            known.insert(key, (epoch, found.clone()));
        }
        Ok(found)
    }

    /// The policy in force now.
    pub(crate) fn in_force(&self, store: &Store) -> Result<InForce> {
        let state = first(store, &PolicyState::query(), PolicyState::from_row)?
            .ok_or(Error::Policy(PolicyError::NoneInForce))?;
        Ok(InForce {
            state,
            engine: self.engine(store, state.in_force)?,
        })
    }
}

/// The operator as policies see it: the system administrator's powers (see `accounts`).
fn operator() -> Principal {
    Principal {
        id: AccountId::operator().to_string(),
        kind: PrincipalKind::Operator,
        status: "active".into(),
        job_type: "system-operator".into(),
        department: String::new(),
        category: "specially_necessary".into(),
        roles: vec![Role::SystemAdministrator.as_str().into()],
        heads: Vec::new(),
        scopes: Vec::new(),
    }
}

/// The status a policy sees: the account's, or `expired` outside its validity period.
fn status_on(state: &AccountState, profile: &Profile, today: Date) -> String {
    if state.status == Status::Active && (today < profile.valid_from || profile.valid_until < today)
    {
        return "expired".into();
    }
    state.status.as_str().into()
}

/// Account `id` as policies see it on `today` (none: no such account).
pub(crate) fn principal_of(store: &Store, id: &str, today: Date) -> Result<Option<Principal>> {
    if id == AccountId::operator().as_str() {
        return Ok(Some(operator()));
    }
    let Some(state) = account_state(store, id)? else {
        return Ok(None);
    };
    let profile = first(store, &Profile::query(id), Profile::from_row)?
        .ok_or_else(|| Error::Corrupt(format!("account {id} has no profile")))?;
    let account = AccountId::parse(id)
        .map_err(|_| Error::Access(crate::access::Error::NoSuchAccount(id.to_owned())))?;
    let held = all(store, &Held::of_account(&account), Held::from_row)?;
    let mut roles = Vec::new();
    let mut heads = Vec::new();
    for h in held.iter().filter(|h| h.in_force(today)) {
        match (&h.department, h.role) {
            (Some(d), Role::MonitoringManager) => heads.push(d.clone()),
            _ => roles.push(h.role.as_str().to_owned()),
        }
    }
    Ok(Some(Principal {
        id: id.to_owned(),
        kind: if profile.job_type == CLIENT_JOB_TYPE {
            PrincipalKind::Client
        } else {
            PrincipalKind::Person
        },
        status: status_on(&state, &profile, today),
        job_type: profile.job_type.clone(),
        department: profile.department.clone(),
        category: profile.category.as_str().into(),
        roles,
        heads,
        // A client account as such: the most any of its tokens can carry (an act through a
        // token sees the token's own scopes: see `actor_principal`).
        scopes: if profile.job_type == CLIENT_JOB_TYPE {
            crate::rows::first(
                store,
                &kiroku_access::client::Granted::query(id),
                kiroku_access::client::Granted::from_row,
            )?
            .map(|g| g.scopes)
            .unwrap_or_default()
        } else {
            Vec::new()
        },
    }))
}

/// The principal an actor acts as (a deactivated stand-in for an account that does not exist,
/// so that every question gets the policy's answer).
pub(crate) fn actor_principal(store: &Store, actor: &Actor, today: Date) -> Result<Principal> {
    if let Some(mut principal) = principal_of(store, actor.account.as_str(), today)? {
        // A client acts with the scopes of the token it came with, and no others.
        principal.scopes = crate::access::clients::actor_scopes(store, actor)?;
        return Ok(principal);
    }
    Ok(Principal {
        id: actor.account.to_string(),
        kind: PrincipalKind::Person,
        status: "deactivated".into(),
        job_type: String::new(),
        department: String::new(),
        category: String::new(),
        roles: Vec::new(),
        heads: Vec::new(),
        scopes: Vec::new(),
    })
}

/// Asks the policy in force, for a use case: who acts, and the gate it passes.
pub(crate) struct Gate {
    pub principal: Principal,
    pub policy: InForce,
    /// The signed tree size when the gate opened: what the use case may read up to.
    pub signed: u64,
}

impl Gate {
    /// Opens the gate for `actor`: first brings the store's watch up to date (whichever
    /// process changed access), then takes the account and the policy in force from what the
    /// gates remember, or reads them.
    pub(crate) fn open(
        store: &Store,
        cache: &PolicyCache,
        actor: &Actor,
        today: Date,
    ) -> Result<Gate> {
        // The count is read before anything it vouches for.
        let (epoch, signed) = store.refresh_watch()?;
        Ok(Gate {
            principal: cache.principal_at(store, actor, today, epoch)?,
            policy: cache.in_force_at(store, epoch)?,
            signed,
        })
    }

    /// The policy's decision.
    pub(crate) fn decide(&self, action: Action, resource: &Resource) -> Result<Decision> {
        Ok(self
            .policy
            .engine
            .decide(&self.principal, action, resource)?)
    }

    /// Refuses unless the policy in force permits `action` on `resource`.
    pub(crate) fn require(&self, action: Action, resource: &Resource) -> Result<()> {
        if self.decide(action, resource)?.allowed {
            Ok(())
        } else {
            Err(Error::Policy(PolicyError::Denied(action.as_str())))
        }
    }
}

impl App {
    /// The one way a use case opens the gate: runs `work` on a worker thread with the store,
    /// the gate of the policy in force for `actor` (who is asking, as the policy sees them
    /// today), today's date and the time, and returns what it gives. A use case that writes
    /// goes through [`App::gated`], which appends what its rule asks for.
    pub(crate) async fn behind_gate<T: Send + 'static>(
        &self,
        actor: Actor,
        work: impl FnOnce(&Store, &Gate, Date, Timestamp) -> Result<T> + Send + 'static,
    ) -> Result<T> {
        let store: Arc<Store> = self.store().clone();
        let cache = self.policy_cache().clone();
        let (today, now) = (self.today()?, self.now()?);
        blocking(move || {
            let gate = Gate::open(&store, &cache, &actor, today)?;
            work(&store, &gate, today, now)
        })
        .await
    }

    /// Runs `rule` behind the gate for `actor`, then appends the request it makes. A refusal
    /// by the policy is recorded (`access.denial/1`) before it is answered.
    pub(crate) async fn gated(
        &self,
        actor: &Actor,
        rule: impl FnOnce(&Store, Date, &Gate) -> Result<kiroku_core::Request> + Send + 'static,
    ) -> Result<Done> {
        let request = self
            .behind_gate(actor.clone(), move |store, gate, today, _| {
                rule(store, today, gate)
            })
            .await;
        match request {
            Ok(request) => self.append_done(request).await,
            // A refusal by the policy is an attempt the ledger keeps, as a record's is.
            Err(Error::Policy(PolicyError::Denied(action))) => {
                let draft = kiroku_access::denial::denied(actor.clone(), action);
                self.writer()
                    .append(kiroku_core::Request::one(draft))
                    .await?;
                Err(Error::Policy(PolicyError::Denied(action)))
            }
            Err(e) => Err(e),
        }
    }

    /// Does the policy in force permit `actor` to do `action` to `resource`?
    pub async fn permitted(
        &self,
        actor: &Actor,
        action: Action,
        resource: Resource,
    ) -> Result<bool> {
        self.behind_gate(actor.clone(), move |_, gate, _, _| {
            Ok(gate.decide(action, &resource)?.allowed)
        })
        .await
    }

    /// Today in Japan, by the clock.
    pub fn today(&self) -> Result<Date> {
        Ok(Date::in_japan(self.now()?))
    }

    /// The time, by the clock.
    pub fn now(&self) -> Result<Timestamp> {
        self.clock()
            .now()
            .map_err(|e| Error::Unavailable(e.to_string()))
    }

    /// Appends a request and says where it went.
    pub(crate) async fn append_done(&self, request: kiroku_core::Request) -> Result<Done> {
        let receipt = self.writer().append(request).await?;
        Ok(Done {
            entry: receipt.first,
            tree_size: receipt.tree_size,
            time: receipt.time,
        })
    }

    /// The caller as policies see it today (a client with its token's scopes).
    pub async fn caller(&self, actor: &Actor) -> Result<Principal> {
        let store: Arc<Store> = self.store().clone();
        let today = self.today()?;
        let actor = actor.clone();
        blocking(move || actor_principal(&store, &actor, today)).await
    }

    /// Account `id` as policies see it today.
    pub async fn principal(&self, id: &str) -> Result<Principal> {
        let store: Arc<Store> = self.store().clone();
        let today = self.today()?;
        let id = id.to_owned();
        blocking(move || {
            principal_of(&store, &id, today)?
                .ok_or(Error::Access(crate::access::Error::NoSuchAccount(id)))
        })
        .await
    }
}
