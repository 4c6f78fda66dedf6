//! People and access: code lists, ID applications and their steps, accounts and their status,
//! and governance roles. Each use case loads what its rule needs, runs the rule of the access
//! context, and appends; the writer re-checks every stream version under the append lock, so a
//! step decided on a stale view is refused even when it raced past the first check.
//!
//! Who acts: an account acts with the roles it holds today. The operator — whoever holds the
//! data directory and its operator token — acts with the system administrator's powers, under
//! its own name `operator`, so every such act is visibly the operator's in the ledger (until
//! the authentication of this issue lets the CLI sign in as a named administrator).

use crate::access::Access;
use crate::gate::{principal_of, Gate};
use crate::rows::{all, decoded, first};
use crate::{blocking, Error, Result};
use kiroku_access::account::{change_status, AccountState, Event, Profile, Status};
use kiroku_access::application::{
    self, Application, ApplicationForm, ApplicationState, Lookups, State, StepTaken, Submitted,
};
use kiroku_access::department::{self, Code, CodeList};
use kiroku_access::role::{self, Appointment, Held, Role, Roles};
use kiroku_access::AccessError;
use kiroku_core::{AccountId, Actor, Date, EntryIndex, Request, Timestamp};
use kiroku_policy::{Action, Resource};
use kiroku_store::read;
use kiroku_store::Store;

pub use kiroku_access::account::StatusStep;

/// Most events shown of one account's history (the ledger keeps them all).
pub const HISTORY_SHOWN_MAX: u64 = 1000;
/// Most role appointments listed at once.
pub const APPOINTMENTS_SHOWN_MAX: u64 = 2000;

/// What a step appended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Done {
    /// The first entry it appended.
    pub entry: EntryIndex,
    /// The signed tree size that covers it.
    pub tree_size: u64,
    /// When.
    pub time: Timestamp,
}

/// An ID issued: the entries, the account, and its one-time initial secret (shown once).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Issued {
    /// What was appended.
    pub done: Done,
    /// The account issued.
    pub account: String,
    /// The initial secret, to hand to the person; only its hash is kept.
    pub initial_secret: String,
}

/// An account in a list: its status and who it is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AccountSummary {
    /// Status and version.
    pub state: AccountState,
    /// Who it is.
    pub profile: Profile,
}

/// An account with its roles and whole history.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AccountView {
    /// Status and version.
    pub state: AccountState,
    /// Who it is.
    pub profile: Profile,
    /// Its appointments.
    pub roles: Vec<Held>,
    /// Everything that happened to it, oldest first.
    pub history: Vec<Event>,
}

fn code(store: &Store, list: CodeList, code: &str) -> Result<Option<Code>> {
    let rows = read::query(store, &Code::query(list, code))?;
    rows.first()
        .map(|s| decoded(Code::from_row(list, s)))
        .transpose()
}

pub(crate) fn account_state(store: &Store, account: &str) -> Result<Option<AccountState>> {
    first(store, &AccountState::query(account), AccountState::from_row)
}

fn active(store: &Store, list: CodeList, value: &str) -> Result<bool> {
    Ok(code(store, list, value)?.is_some_and(|c| c.active))
}

fn lookups(store: &Store, profile: &Profile, today: Date) -> Result<Lookups> {
    let heads = all(
        store,
        &Held::holders(Role::MonitoringManager, Some(&profile.department), 50),
        Held::from_row,
    )?;
    let department_has_head = heads.iter().any(|h| {
        h.in_force(today)
            && account_state(store, &h.account)
                .ok()
                .flatten()
                .is_some_and(|a| a.status == Status::Active)
    });
    let permitter_active = match &profile.permitted_by {
        Some(by) => account_state(store, by)?.is_some_and(|a| a.status == Status::Active),
        None => false,
    };
    Ok(Lookups {
        department_active: active(store, CodeList::Department, &profile.department)?,
        job_type_active: active(store, CodeList::JobType, &profile.job_type)?,
        account_taken: account_state(store, &profile.account)?.is_some(),
        permitter_active,
        department_has_head,
    })
}

/// The version of `account`'s role stream (0: its roles never changed since it was issued).
fn roles_version(store: &Store, account: &AccountId) -> Result<u64> {
    Ok(first(
        store,
        &role::roles_version(account.as_str()),
        role::version_of_row,
    )?
    .unwrap_or(0))
}

/// A step on account `id`'s roles (an appointment, a dismissal): the request `rule` makes from
/// the account's roles, with the account's role stream moved on in it, so that a step decided
/// on the roles it held is refused if they changed meanwhile.
fn role_step(
    store: &Store,
    by: &Actor,
    id: &str,
    rule: impl FnOnce(&Roles) -> Result<Request>,
) -> Result<Request> {
    let account = AccountId::parse(id)
        .map_err(|_| Error::Access(crate::access::Error::NoSuchAccount(id.to_owned())))?;
    let mut request = rule(&roles_of(store, &account)?)?;
    request.drafts.push(role::roles_changed(
        by.clone(),
        account.as_str(),
        roles_version(store, &account)?,
    ));
    Ok(request)
}

fn roles_of(store: &Store, account: &AccountId) -> Result<Roles> {
    Ok(Roles {
        account: account.clone(),
        held: all(store, &Held::of_account(account), Held::from_row)?,
    })
}

/// The roles `actor` acts with: the operator holds the administrator's powers (see the module
/// header); an account holds its appointments, and none unless it is active.
fn authority(store: &Store, actor: &Actor, today: Date) -> Result<Roles> {
    if actor.account == AccountId::operator() {
        return Ok(Roles {
            account: actor.account.clone(),
            held: vec![Held {
                role: Role::SystemAdministrator,
                department: None,
                account: actor.account.to_string(),
                valid_from: today,
                valid_until: Some(today),
            }],
        });
    }
    let usable =
        account_state(store, actor.account.as_str())?.is_some_and(|a| a.status == Status::Active);
    if !usable {
        return Ok(Roles::none(actor.account.clone()));
    }
    roles_of(store, &actor.account)
}

/// An application as policies see it.
trait AsResource {
    fn resource(&self) -> Resource;
}

impl AsResource for Application {
    fn resource(&self) -> Resource {
        Resource::Application {
            id: self.state.application.to_string(),
            department: self.state.department.clone(),
        }
    }
}

fn load_application(store: &Store, id: EntryIndex) -> Result<Application> {
    let state = first(
        store,
        &ApplicationState::query(id),
        ApplicationState::from_row,
    )?
    .ok_or(Error::Access(crate::access::Error::Rule(
        AccessError::NoApplication(id.0),
    )))?;
    let submitted = first(store, &Submitted::query(id), Submitted::from_row)?
        .ok_or_else(|| Error::Corrupt(format!("application {id} has no form")))?;
    let steps = all(store, &StepTaken::query(id), StepTaken::from_row)?;
    Ok(Application {
        state,
        submitted,
        steps,
    })
}

impl Access<'_> {
    /// Runs `decide` on a worker thread with the store, today's date, the actor's roles and
    /// the gate of the policy in force, then appends the request it makes.
    pub(crate) async fn decide(
        self,
        actor: &Actor,
        decide: impl FnOnce(&Store, Date, Roles, &Gate) -> Result<Request> + Send + 'static,
    ) -> Result<Done> {
        let who = actor.clone();
        self.app
            .gated(actor, move |store, today, gate| {
                let roles = authority(store, &who, today)?;
                // Decided on the roles the actor holds now: expected unchanged when the writer
                // takes the step (the operator's powers are no appointment).
                let version = roles_version(store, &who.account)?;
                let request = decide(store, today, roles, gate)?;
                Ok(if who.account == AccountId::operator() {
                    request
                } else {
                    request.expecting(role::roles_unchanged(who.account.as_str(), version))
                })
            })
            .await
    }

    /// May `actor` read the account registers (lists, details, queues, roles)? As the policy in
    /// force says (by default: the operator and whoever holds a governance role today);
    /// everyone else sees their own account only.
    pub async fn may_read_registers(self, actor: &Actor) -> Result<bool> {
        self.app
            .permitted(actor, Action::ReadRegisters, Resource::System)
            .await
    }

    /// The entry bundle of a level-0 tile, for an auditor: the read is recorded as an entry,
    /// durable before the bundle is returned.
    pub async fn entry_bundle(
        self,
        actor: Actor,
        tile: kiroku_ledger::Tile,
    ) -> std::result::Result<Vec<u8>, crate::ops::ledger::ReadFailure> {
        use crate::ops::ledger::ReadFailure;
        let (bundle, request) = self
            .app
            .behind_gate(actor.clone(), move |store, gate, today, _| {
                gate.require(Action::ReadEntryBundles, &Resource::System)?;
                let bundle = read::entry_bundle(store, tile);
                let roles = authority(store, &actor, today)?;
                let request = kiroku_access::disclosure::read_entries(
                    &roles,
                    actor,
                    tile.first(),
                    u64::from(tile.width),
                    today,
                )?;
                Ok((bundle, request))
            })
            .await?;
        // Out of range is answered as such, and writes nothing.
        let bundle = bundle.map_err(|e| match e {
            read::ReadError::OutOfRange { what, signed } => {
                ReadFailure::OutOfRange { what, signed }
            }
            read::ReadError::Store(e) => ReadFailure::Failed(e.into()),
        })?;
        self.app.append_done(request).await?;
        Ok(bundle)
    }

    /// A code list (departments or job types), in code order.
    pub async fn codes(self, list: CodeList) -> Result<Vec<Code>> {
        let store = self.app.store().clone();
        blocking(move || {
            read::query(&store, &Code::list(list))?
                .iter()
                .map(|s| decoded(Code::from_row(list, s)))
                .collect()
        })
        .await
    }

    /// Defines or changes a department or job type (the system administrator).
    pub async fn define_code(self, actor: Actor, list: CodeList, value: Code) -> Result<Done> {
        let by = actor.clone();
        self.decide(&actor, move |store, today, roles, gate| {
            gate.require(Action::DefineCodes, &Resource::System)?;
            let current = code(store, list, &value.code)?;
            Ok(department::define(
                &roles,
                by,
                list,
                current.as_ref(),
                value,
                today,
            )?)
        })
        .await
    }

    /// Submits an ID application; returns its id (the index of its entry).
    pub async fn submit_application(self, actor: Actor, form: ApplicationForm) -> Result<Done> {
        let by = actor.clone();
        self.decide(&actor, move |store, today, _, gate| {
            gate.require(Action::ApplyForAccount, &Resource::System)?;
            if by.account != AccountId::operator() {
                let usable = account_state(store, by.account.as_str())?
                    .is_some_and(|a| a.status == Status::Active);
                if !usable {
                    return Err(Error::Unauthorized);
                }
            }
            let found = lookups(store, &form.profile, today)?;
            Ok(application::submit(by, form, found, today)?)
        })
        .await
    }

    /// One application with its form and steps.
    pub async fn application(self, id: EntryIndex) -> Result<Application> {
        let store = self.app.store().clone();
        blocking(move || load_application(&store, id)).await
    }

    /// Applications in `state` (of one department, if given), oldest first.
    pub async fn applications(
        self,
        state: State,
        department: Option<String>,
    ) -> Result<Vec<Application>> {
        let store = self.app.store().clone();
        blocking(move || {
            let query =
                ApplicationState::queue(state, department.as_deref(), application::QUEUE_MAX);
            let states = all(&store, &query, ApplicationState::from_row)?;
            states
                .iter()
                .map(|s| load_application(&store, s.application))
                .collect()
        })
        .await
    }

    /// The department head endorses an application seen at version `expected`.
    pub async fn endorse_application(
        self,
        actor: Actor,
        id: EntryIndex,
        expected: u64,
    ) -> Result<Done> {
        let by = actor.clone();
        self.decide(&actor, move |store, today, roles, gate| {
            let found = load_application(store, id)?;
            gate.require(Action::EndorseApplication, &found.resource())?;
            Ok(application::endorse(&roles, by, &found, expected, today)?)
        })
        .await
    }

    /// Rejects an application seen at version `expected`, with a reason.
    pub async fn reject_application(
        self,
        actor: Actor,
        id: EntryIndex,
        expected: u64,
        reason: String,
    ) -> Result<Done> {
        let by = actor.clone();
        self.decide(&actor, move |store, today, roles, gate| {
            let found = load_application(store, id)?;
            gate.require(Action::DecideApplication, &found.resource())?;
            Ok(application::reject(
                &roles, by, &found, expected, &reason, today,
            )?)
        })
        .await
    }

    /// The system administrator approves an application seen at version `expected`: the ID
    /// is issued, with a one-time initial secret returned here only — to be handed to the
    /// person, who chooses a password with it at the first sign-in.
    pub async fn approve_application(
        self,
        actor: Actor,
        id: EntryIndex,
        expected: u64,
    ) -> Result<Issued> {
        let by = actor.clone();
        let entropy = self.app.entropy().clone();
        let key = self.factor_key()?;
        let (request, account, secret) = self
            .app
            .behind_gate(by.clone(), move |store, gate, today, _| {
                let roles = authority(store, &by, today)?;
                let found = load_application(store, id)?;
                gate.require(Action::DecideApplication, &found.resource())?;
                let looked = lookups(store, &found.submitted.form.profile, today)?;
                let account = found.submitted.form.profile.account.clone();
                let mut request =
                    application::approve(&roles, by.clone(), &found, expected, looked, today)?;
                let (draft, secret) = crate::access::sign_in::initial_secret_draft(
                    by,
                    &account,
                    entropy.as_ref(),
                    &key,
                )?;
                request.drafts.push(draft);
                Ok((request, account, secret))
            })
            .await?;
        let done = self.app.append_done(request).await?;
        Ok(Issued {
            done,
            account,
            initial_secret: secret,
        })
    }

    /// A page of accounts in id order, after `after`.
    pub async fn accounts(self, after: Option<String>, limit: u64) -> Result<Vec<AccountSummary>> {
        let store = self.app.store().clone();
        let limit = limit.clamp(1, self.app.config.limits.page_rows_max);
        blocking(move || {
            let profiles = all(
                &store,
                &Profile::page(after.as_deref(), limit),
                Profile::from_row,
            )?;
            profiles
                .into_iter()
                .map(|profile| {
                    let state = account_state(&store, &profile.account)?.ok_or_else(|| {
                        Error::Corrupt(format!(
                            "account {} has a profile, no status",
                            profile.account
                        ))
                    })?;
                    Ok(AccountSummary { state, profile })
                })
                .collect()
        })
        .await
    }

    /// One account with its roles and history.
    pub async fn account(self, id: &str) -> Result<AccountView> {
        let store = self.app.store().clone();
        let id = id.to_owned();
        blocking(move || {
            let state = account_state(&store, &id)?
                .ok_or_else(|| Error::Access(crate::access::Error::NoSuchAccount(id.clone())))?;
            let profile = first(&store, &Profile::query(&id), Profile::from_row)?
                .ok_or_else(|| Error::Corrupt(format!("account {id} has no profile")))?;
            let account = AccountId::parse(&id)
                .map_err(|_| Error::Access(crate::access::Error::NoSuchAccount(id.clone())))?;
            Ok(AccountView {
                state,
                profile,
                roles: roles_of(&store, &account)?.held,
                history: all(
                    &store,
                    &Event::of_account(&id, HISTORY_SHOWN_MAX),
                    Event::from_row,
                )?,
            })
        })
        .await
    }

    /// Suspends, reinstates or deactivates an account seen at version `expected`.
    pub async fn change_account_status(
        self,
        actor: Actor,
        id: &str,
        step: StatusStep,
        expected: u64,
        reason: String,
    ) -> Result<Done> {
        let by = actor.clone();
        let id = id.to_owned();
        self.decide(&actor, move |store, today, roles, gate| {
            let target = account_state(store, &id)?
                .ok_or_else(|| Error::Access(crate::access::Error::NoSuchAccount(id.clone())))?;
            let principal = principal_of(store, &id, today)?
                .ok_or_else(|| Error::Access(crate::access::Error::NoSuchAccount(id.clone())))?;
            gate.require(
                Action::ChangeAccountStatus,
                &Resource::Account(Box::new(principal)),
            )?;
            let mut request =
                change_status(&roles, by.clone(), &target, step, expected, &reason, today)?;
            // A suspended or deactivated account's sessions end with it, everywhere.
            if step != StatusStep::Reinstate {
                request
                    .drafts
                    .push(kiroku_access::session::end(by, &id, None));
            }
            Ok(request)
        })
        .await
    }

    /// Appoints an account to a role.
    pub async fn appoint(self, actor: Actor, id: &str, appointment: Appointment) -> Result<Done> {
        let by = actor.clone();
        let id = id.to_owned();
        self.decide(&actor, move |store, today, roles, gate| {
            gate.require(Action::AppointRoles, &Resource::System)?;
            let target = account_state(store, &id)?
                .ok_or_else(|| Error::Access(crate::access::Error::NoSuchAccount(id.clone())))?;
            if let Some(d) = &appointment.department {
                department::require_active(
                    CodeList::Department,
                    d,
                    code(store, CodeList::Department, d)?.as_ref(),
                )?;
            }
            role_step(store, &by, &id, |target_roles| {
                Ok(role::appoint(
                    &roles,
                    by.clone(),
                    &target,
                    target_roles,
                    appointment,
                    today,
                )?)
            })
        })
        .await
    }

    /// Dismisses an account from a role, with a reason.
    pub async fn dismiss(
        self,
        actor: Actor,
        id: &str,
        role: Role,
        department: Option<String>,
        reason: String,
    ) -> Result<Done> {
        let by = actor.clone();
        let id = id.to_owned();
        self.decide(&actor, move |store, today, roles, gate| {
            gate.require(Action::AppointRoles, &Resource::System)?;
            role_step(store, &by, &id, |target_roles| {
                Ok(role::dismiss(
                    &roles,
                    by.clone(),
                    target_roles,
                    role,
                    department,
                    &reason,
                    today,
                )?)
            })
        })
        .await
    }

    /// Binds `Practitioner/{practitioner}` to the account `id` — or, with `id` `None`, ends its
    /// binding — as the system administrator does (the policy's `BindStaffIdentity`): the only
    /// way a practitioner named in the records becomes an account's. Nobody binds their own.
    pub async fn bind_staff_identity(
        self,
        actor: Actor,
        practitioner: &str,
        id: Option<&str>,
    ) -> Result<Done> {
        let by = actor.clone();
        let id = id.map(str::to_owned);
        let practitioner = practitioner.to_owned();
        self.decide(&actor, move |store, today, _, gate| {
            let account = match &id {
                Some(id) => {
                    let principal = principal_of(store, id, today)?
                        .filter(|p| p.kind == kiroku_policy::PrincipalKind::Person)
                        .ok_or_else(|| {
                            Error::Access(crate::access::Error::NoSuchAccount(id.clone()))
                        })?;
                    gate.require(
                        Action::BindStaffIdentity,
                        &Resource::Account(Box::new(principal)),
                    )?;
                    Some(AccountId::parse(id).map_err(|_| {
                        Error::Access(crate::access::Error::NoSuchAccount(id.clone()))
                    })?)
                }
                None => {
                    gate.require(
                        Action::BindStaffIdentity,
                        &Action::BindStaffIdentity.any_resource(),
                    )?;
                    None
                }
            };
            Ok(kiroku_access::identity::bind(
                by,
                &practitioner,
                account.as_ref(),
            )?)
        })
        .await
    }

    /// Assigns `supervisor` (a doctor) to the trainee doctor `trainee` — or, with `None`, ends
    /// the assignment — as whoever may appoint roles does: the trainee's versions are then
    /// countersigned by that supervisor alone.
    pub async fn assign_supervisor(
        self,
        actor: Actor,
        trainee: &str,
        supervisor: Option<&str>,
    ) -> Result<Done> {
        let by = actor.clone();
        let trainee = trainee.to_owned();
        let supervisor = supervisor.map(str::to_owned);
        self.decide(&actor, move |store, _, _, gate| {
            gate.require(Action::AppointRoles, &Resource::System)?;
            let job = |account: &str| -> Result<String> {
                Ok(first(store, &Profile::query(account), Profile::from_row)?
                    .ok_or_else(|| {
                        Error::Access(crate::access::Error::NoSuchAccount(account.to_owned()))
                    })?
                    .job_type)
            };
            let trainee_job = job(&trainee)?;
            let supervising = match &supervisor {
                Some(s) => Some((s.as_str(), job(s)?)),
                None => None,
            };
            Ok(kiroku_access::supervision::assign(
                by,
                &trainee,
                &trainee_job,
                supervising.as_ref().map(|(s, j)| (*s, j.as_str())),
            )?)
        })
        .await
    }

    /// Every appointment, in the order of the regulations' roles: who holds administrative
    /// rights, on one page.
    pub async fn appointments(self) -> Result<Vec<Held>> {
        let store = self.app.store().clone();
        blocking(move || {
            let mut held = all(&store, &Held::all(APPOINTMENTS_SHOWN_MAX), Held::from_row)?;
            // In the order of the regulations: the system administrator first.
            held.sort_by(|a, b| {
                (a.role, &a.department, &a.account).cmp(&(b.role, &b.department, &b.account))
            });
            Ok(held)
        })
        .await
    }
}
