//! The lifecycle of access for the use cases: status-change reports (Art. 12(5)) and access
//! reviews (see [`kiroku_access::lifecycle`] for the rules). Each step asks the policy in force
//! and then the rule; the writer re-checks stream versions and claims under the append lock.

use crate::access::accounts::{account_state, Done};
use crate::access::Access;
use crate::gate::principal_of;
use crate::rows::{all, first};
use crate::{blocking, Error, Result};
use kiroku_access::account::{Profile, Status};
use kiroku_access::lifecycle::{
    self, Closure, Decision, Handled, Item, Member, Report, ReportedChange, Review,
};
use kiroku_core::{Actor, EntryIndex, Timestamp};
use kiroku_policy::{Action, Resource};
use kiroku_store::Store;
use std::sync::Arc;

/// Most reports listed.
pub const REPORTS_SHOWN_MAX: u64 = 500;
/// Most reviews listed.
pub const REVIEWS_SHOWN_MAX: u64 = 100;
/// Most members of one review (every account of the hospital).
pub const REVIEW_MEMBERS_MAX: u64 = 100_000;

/// A review with its members and their decisions.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReviewView {
    /// The review.
    pub review: Review,
    /// Its members, in account order.
    pub items: Vec<Item>,
}

impl ReviewView {
    /// Members not yet decided.
    pub fn undecided(&self) -> usize {
        self.items.iter().filter(|i| i.decided.is_none()).count()
    }
}

fn load_report(store: &Store, id: EntryIndex) -> Result<Report> {
    let mut report = first(store, &Report::query(id), Report::from_row)?
        .ok_or(Error::Access(crate::access::Error::NoSuchReport(id.0)))?;
    report.handled = first(store, &Handled::query(id), Handled::from_row)?;
    Ok(report)
}

fn load_review(store: &Store, id: EntryIndex) -> Result<Review> {
    let mut review = first(store, &Review::query(id), Review::from_row)?
        .ok_or(Error::Access(crate::access::Error::NoSuchReview(id.0)))?;
    review.closed = first(store, &Closure::query(id), Closure::from_row)?;
    Ok(review)
}

fn load_items(store: &Store, id: EntryIndex) -> Result<Vec<Item>> {
    let mut items = all(
        store,
        &Item::members(id, REVIEW_MEMBERS_MAX),
        Item::from_member_row,
    )?;
    let decided: std::collections::HashMap<String, _> = all(
        store,
        &Item::decisions(id, REVIEW_MEMBERS_MAX),
        Item::from_decision_row,
    )?
    .into_iter()
    .collect();
    for item in &mut items {
        item.decided = decided.get(&item.account).cloned();
    }
    Ok(items)
}

impl Access<'_> {
    /// `actor` reports a change of `account`'s situation (the account itself, or its
    /// department's head; the policy decides).
    pub async fn report_status_change(
        self,
        actor: Actor,
        account: &str,
        change: ReportedChange,
        details: String,
    ) -> Result<Done> {
        let by = actor.clone();
        let account = account.to_owned();
        self.decide(&actor, move |store, today, _, gate| {
            let target = account_state(store, &account)?.ok_or_else(|| {
                Error::Access(crate::access::Error::NoSuchAccount(account.clone()))
            })?;
            let principal = principal_of(store, &account, today)?.ok_or_else(|| {
                Error::Access(crate::access::Error::NoSuchAccount(account.clone()))
            })?;
            let department = principal.department.clone();
            gate.require(
                Action::ReportStatusChange,
                &Resource::Account(Box::new(principal)),
            )?;
            Ok(lifecycle::report(
                by,
                &target,
                &department,
                change,
                &details,
            )?)
        })
        .await
    }

    /// The newest reports, each with its handling.
    pub async fn reports(self) -> Result<Vec<Report>> {
        let store: Arc<Store> = self.app.store().clone();
        blocking(move || {
            let mut reports = all(&store, &Report::newest(REPORTS_SHOWN_MAX), Report::from_row)?;
            for r in &mut reports {
                r.handled = first(&store, &Handled::query(r.report), Handled::from_row)?;
            }
            Ok(reports)
        })
        .await
    }

    /// One report with its handling.
    pub async fn report(self, id: EntryIndex) -> Result<Report> {
        let store: Arc<Store> = self.app.store().clone();
        blocking(move || load_report(&store, id)).await
    }

    /// `actor` handles report `id`, noting what was done.
    pub async fn handle_report(self, actor: Actor, id: EntryIndex, note: String) -> Result<Done> {
        let by = actor.clone();
        self.decide(&actor, move |store, today, roles, gate| {
            let found = load_report(store, id)?;
            let principal = principal_of(store, &found.account, today)?.ok_or_else(|| {
                Error::Access(crate::access::Error::NoSuchAccount(found.account.clone()))
            })?;
            gate.require(
                Action::HandleReports,
                &Resource::Account(Box::new(principal)),
            )?;
            Ok(lifecycle::handle(&roles, by, &found, &note, today)?)
        })
        .await
    }

    /// A system administrator opens an access review of every active account, due at
    /// `deadline`.
    pub async fn open_review(self, actor: Actor, deadline: Timestamp) -> Result<Done> {
        let by = actor.clone();
        let now = self.app.now()?;
        self.decide(&actor, move |store, today, roles, gate| {
            gate.require(Action::OpenAccessReview, &Resource::System)?;
            let mut members = Vec::new();
            let mut after = None;
            loop {
                let page = all(
                    store,
                    &Profile::page(after.as_deref(), 1000),
                    Profile::from_row,
                )?;
                let Some(last) = page.last() else { break };
                after = Some(last.account.clone());
                for profile in page {
                    let active = account_state(store, &profile.account)?
                        .is_some_and(|s| s.status == Status::Active);
                    if active {
                        members.push(Member {
                            account: profile.account,
                            department: profile.department,
                        });
                    }
                }
            }
            Ok(lifecycle::open(&roles, by, members, deadline, now, today)?)
        })
        .await
    }

    /// The newest reviews, each with its closure.
    pub async fn reviews(self) -> Result<Vec<ReviewView>> {
        let store: Arc<Store> = self.app.store().clone();
        blocking(move || {
            let reviews = all(&store, &Review::newest(REVIEWS_SHOWN_MAX), Review::from_row)?;
            reviews
                .into_iter()
                .map(|r| {
                    Ok(ReviewView {
                        items: load_items(&store, r.review)?,
                        review: load_review(&store, r.review)?,
                    })
                })
                .collect()
        })
        .await
    }

    /// One review with its members and decisions.
    pub async fn review(self, id: EntryIndex) -> Result<ReviewView> {
        let store: Arc<Store> = self.app.store().clone();
        blocking(move || {
            Ok(ReviewView {
                review: load_review(&store, id)?,
                items: load_items(&store, id)?,
            })
        })
        .await
    }

    /// `actor` confirms or revokes `account` in review `id` (a revocation, with its reason,
    /// suspends the account).
    pub async fn decide_review(
        self,
        actor: Actor,
        id: EntryIndex,
        account: &str,
        decision: Decision,
        reason: Option<String>,
    ) -> Result<Done> {
        let by = actor.clone();
        let account = account.to_owned();
        let now = self.app.now()?;
        self.decide(&actor, move |store, today, roles, gate| {
            let review = load_review(store, id)?;
            let mut item = first(store, &Item::member(id, &account), Item::from_member_row)?
                .ok_or_else(|| {
                    Error::Access(crate::access::Error::NoSuchAccount(account.clone()))
                })?;
            item.decided = first(
                store,
                &Item::decision(id, &account),
                Item::from_decision_row,
            )?
            .map(|(_, d)| d);
            gate.require(
                Action::ReviewMembers,
                &Resource::Department(item.department.clone()),
            )?;
            let target = account_state(store, &account)?.ok_or_else(|| {
                Error::Access(crate::access::Error::NoSuchAccount(account.clone()))
            })?;
            Ok(lifecycle::decide(
                &roles,
                by,
                &review,
                &item,
                &target,
                decision,
                reason.as_deref(),
                now,
                today,
            )?)
        })
        .await
    }

    /// Closes review `id` at or after its deadline, suspending every member still undecided.
    /// A member decided while the closure was being made (it expects each undecided) makes it
    /// decide again, up to three times.
    pub async fn close_review(self, actor: Actor, id: EntryIndex) -> Result<Done> {
        let mut tries = 0;
        loop {
            tries += 1;
            match self.close_review_once(actor.clone(), id).await {
                Err(Error::Conflict(kiroku_core::Conflict::Claimed { table, .. }))
                    if table == kiroku_access::lifecycle::REVIEW_DECISIONS.name && tries < 3 =>
                {
                    continue
                }
                done => return done,
            }
        }
    }

    async fn close_review_once(self, actor: Actor, id: EntryIndex) -> Result<Done> {
        let by = actor.clone();
        let now = self.app.now()?;
        self.decide(&actor, move |store, today, roles, gate| {
            gate.require(Action::OpenAccessReview, &Resource::System)?;
            let review = load_review(store, id)?;
            let undecided = load_items(store, id)?
                .into_iter()
                .filter(|i| i.decided.is_none())
                .map(|i| {
                    account_state(store, &i.account)?.ok_or_else(|| {
                        Error::Access(crate::access::Error::NoSuchAccount(i.account.clone()))
                    })
                })
                .collect::<Result<Vec<_>>>()?;
            Ok(lifecycle::close(
                &roles, by, &review, &undecided, now, today,
            )?)
        })
        .await
    }

    /// Closes every review past its deadline, as the operator's scheduler; returns each review
    /// closed and what it appended.
    pub async fn close_due_reviews(self) -> Result<Vec<(EntryIndex, Done)>> {
        let now = self.app.now()?;
        let store: Arc<Store> = self.app.store().clone();
        // Only the reviews and their closures are read here (this runs every minute); the
        // members are read by the closure of a review that is due.
        let due = blocking(move || {
            let mut due = Vec::new();
            for r in all(&store, &Review::newest(REVIEWS_SHOWN_MAX), Review::from_row)? {
                if load_review(&store, r.review)?.due(now) {
                    due.push(r.review);
                }
            }
            Ok(due)
        })
        .await?;
        let mut closed = Vec::new();
        for review in due {
            let done = self
                .close_review(Actor::operator("scheduler"), review)
                .await?;
            closed.push((review, done));
        }
        Ok(closed)
    }
}
