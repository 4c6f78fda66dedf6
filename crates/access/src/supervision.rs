//! Trainee doctors' supervisors (臨床研修の指導医): a trainee's versions are countersigned by a
//! doctor, and — where the system administrator assigned one — by the trainee's own
//! supervisor alone. The assignment is an entry (`access.supervisor/1`); assigning anew replaces
//! it, and assigning nobody ends it.

use crate::error::AccessError;
use kiroku_core::projection::{Column, TableRole, TableSpec, Value};
use kiroku_core::query::{BadRow, Query, Stored};
use kiroku_core::{
    AccountId, Actor, Change, Draft, EntryKind, EntryMeta, Invalid, Projection, Request, Subject,
};
use serde::{Deserialize, Serialize};

/// Each trainee's supervisor.
pub static SUPERVISORS: TableSpec = TableSpec {
    name: "access_supervisors",
    about:
        "Each trainee doctor's assigned supervisor, who alone countersigns the trainee's versions.",
    columns: &[
        Column::text("trainee"),
        Column::text("supervisor"),
        Column::entry("entry"),
    ],
    key: 1,
    indexes: &[],
    role: TableRole::Plain,
};

/// `access.supervisor/1`: `trainee`'s supervisor is now `supervisor` (absent: nobody).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SupervisorAssigned {
    /// The trainee's account.
    pub trainee: String,
    /// The supervising doctor's account; absent when the assignment ends.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub supervisor: Option<String>,
}

impl EntryKind for SupervisorAssigned {
    const KIND: &'static str = "access.supervisor/1";
    const PROJECTION: Projection = Projection::Into(&[&SUPERVISORS]);

    fn check(&self, _: &EntryMeta<'_>) -> Result<(), Invalid> {
        let account = |text: &str| AccountId::parse(text).is_ok();
        if !account(&self.trainee) || !self.supervisor.as_deref().is_none_or(account) {
            return Err(Invalid {
                field: "trainee",
                why: "is not an account id",
            });
        }
        if self.supervisor.as_deref() == Some(self.trainee.as_str()) {
            return Err(Invalid {
                field: "supervisor",
                why: "is the trainee",
            });
        }
        Ok(())
    }

    fn project(&self, _: &EntryMeta<'_>, out: &mut Vec<Change>) {
        let trainee = Value::Text(self.trainee.clone());
        out.push(match &self.supervisor {
            Some(supervisor) => Change::upsert(
                &SUPERVISORS,
                vec![trainee, Value::Text(supervisor.clone()), Value::THIS_ENTRY],
            ),
            None => Change::delete(&SUPERVISORS, vec![trainee]),
        });
    }

    fn example() -> Self {
        SupervisorAssigned {
            trainee: "kenshu.taro".into(),
            supervisor: Some("sato.hanako".into()),
        }
    }
}

/// The entry assigning `supervisor` (a doctor, `supervisor_job` its job type) to `trainee`
/// (`trainee_job` its job type), or ending the assignment: the trainee must be a trainee
/// doctor, the supervisor a doctor and someone else than the one assigning.
pub fn assign(
    actor: Actor,
    trainee: &str,
    trainee_job: &str,
    supervisor: Option<(&str, &str)>,
) -> Result<Request, AccessError> {
    if trainee_job != "trainee-doctor" {
        return Err(AccessError::Invalid {
            field: "trainee",
            why: "is not a trainee doctor",
        });
    }
    if let Some((supervisor, job)) = supervisor {
        if job != "doctor" {
            return Err(AccessError::Invalid {
                field: "supervisor",
                why: "is not a doctor",
            });
        }
        if supervisor == trainee {
            return Err(AccessError::Invalid {
                field: "supervisor",
                why: "is the trainee",
            });
        }
    }
    Ok(Request::one(
        Draft::new(
            actor,
            SupervisorAssigned {
                trainee: trainee.to_owned(),
                supervisor: supervisor.map(|(s, _)| s.to_owned()),
            },
        )
        .about(Subject {
            kind: "account".into(),
            id: trainee.to_owned(),
        }),
    ))
}

/// `trainee`'s supervisor.
pub fn of(trainee: &str) -> Query {
    Query::key(&SUPERVISORS, vec![Value::Text(trainee.into())])
}

/// The supervisor of a row of [`SUPERVISORS`].
pub fn supervisor(stored: &Stored) -> Result<String, BadRow> {
    stored.cells(&SUPERVISORS).text(1)
}
