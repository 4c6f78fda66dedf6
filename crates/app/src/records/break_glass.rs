//! Break-the-glass (緊急時アクセス): a clinician with no care relationship to a patient opens
//! the patient's records for a limited time after stating a reason; everything read under it
//! is disclosed with the purpose `emergency`; each access waits for a reviewer (an operations
//! or audit manager, never the one who opened it) to record whether it was justified.

use crate::records::Records;
use crate::records::{check, current, not_found, Asker, Found};
use crate::rows::{all, first};
use crate::{Error, Result};
use kiroku_core::{Actor, Conflict, EntryIndex, Timestamp};
use kiroku_policy::{Action, Resource as PolicyResource};
use kiroku_records::emergency::{self, EmergencyError, Finding, Waiting, REVIEWS};

/// Most accesses the review queue shows at once.
pub const QUEUE_MAX: u64 = 500;

/// A break-the-glass access, opened.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Opened {
    /// Its entry.
    pub entry: EntryIndex,
    /// When it ends.
    pub until: Timestamp,
}

impl Records<'_> {
    /// Opens `patient`'s records to `actor` for `minutes` (1 to 60), for the reason stated:
    /// only a clinician the policy lets break the glass, only for an existing patient, and only
    /// when the policy would refuse the patient's chart without it (a care relationship needs
    /// none). A refusal by the policy is an entry.
    pub async fn break_glass(
        self,
        actor: Actor,
        patient: &str,
        reason: &str,
        minutes: u32,
    ) -> Result<Opened> {
        if !kiroku_records::resource::is_id(patient) {
            return Err(Error::Records(crate::records::Error::NoSuchResource));
        }
        let who = actor.clone();
        let (patient, reason) = (patient.to_owned(), reason.to_owned());
        let decided = self
            .app
            .behind_gate(who.clone(), move |store, gate, _, now| {
                let asker = Asker::new(store, gate, now);
                if current(store, "Patient", &patient)?.is_none() {
                    return not_found(&asker, "Patient");
                }
                let care = asker.care(Some(&patient))?;
                let question = PolicyResource::Patient {
                    id: patient.clone(),
                    care: care.clone(),
                };
                if let Err(refused) = check(
                    &asker,
                    Action::BreakGlass,
                    &question,
                    "Patient",
                    Some(&patient),
                    Some(&patient),
                )? {
                    return Ok(Found::Refused(refused));
                }
                // Needed only if the policy would refuse the patient's chart as things stand (a
                // flagged chart refuses the department, say); an open access may be renewed.
                let chart = PolicyResource::Record {
                    id: format!("Patient/{patient}"),
                    category: "medical".into(),
                    department: String::new(),
                    care: care.clone(),
                };
                if care.relationship != "emergency"
                    && gate.decide(Action::ReadRecord, &chart)?.allowed
                {
                    return Err(EmergencyError::NotNeeded.into());
                }
                Ok(Found::Allowed(emergency::open(
                    who, &patient, &reason, minutes,
                )?))
            })
            .await?;
        let request = match decided {
            Found::Allowed(request) => request,
            Found::Refused(refused) => return Err(self.refuse(&actor, refused).await?),
        };
        let receipt = self.app.writer().append(request).await?;
        Ok(Opened {
            entry: receipt.first,
            until: Timestamp::from_micros(receipt.time.micros() + i64::from(minutes) * 60_000_000)
                .unwrap_or(receipt.time),
        })
    }

    /// The break-the-glass accesses waiting for review, oldest first (for those the policy
    /// lets review them).
    pub async fn emergency_queue(self, actor: Actor) -> Result<Vec<Waiting>> {
        self.app
            .behind_gate(actor.clone(), move |store, gate, _, _| {
                gate.require(Action::ReviewEmergencyAccess, &PolicyResource::System)?;
                all(store, &Waiting::query(QUEUE_MAX), Waiting::from_row)
            })
            .await
    }

    /// Records the review of the break-the-glass access in entry `access`: once, by someone
    /// the policy lets review, who did not open it; an unjustified finding says why.
    pub async fn review_emergency(
        self,
        actor: Actor,
        access: EntryIndex,
        finding: Finding,
        note: &str,
    ) -> Result<()> {
        let who = actor.clone();
        let note = note.to_owned();
        let request = self
            .app
            .behind_gate(who.clone(), move |store, gate, _, _| {
                gate.require(Action::ReviewEmergencyAccess, &PolicyResource::System)?;
                let waiting = first(store, &Waiting::one(access), Waiting::from_row)?
                    .ok_or(EmergencyError::NotWaiting)?;
                if waiting.account == who.account.as_str() {
                    return Err(EmergencyError::OwnAccess.into());
                }
                Ok(emergency::review(who, &waiting, finding, &note)?)
            })
            .await?;
        match self.app.writer().append(request).await {
            Ok(_) => Ok(()),
            // Two reviewers at once: the first is kept.
            Err(kiroku_store::writer::AppendError::Conflict(Conflict::Claimed {
                table, ..
            })) if table == REVIEWS.name => Err(EmergencyError::NotWaiting.into()),
            Err(e) => Err(e.into()),
        }
    }
}
