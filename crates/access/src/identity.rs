//! Staff identities (Art. 10, 11): which `Practitioner` resource of the records is which
//! account. A practitioner named in an encounter or a care team relates its account to the
//! patient, so the binding is the system administrator's act (`access.staff_identity/1`), never
//! what a `Practitioner` resource claims — whoever may write one could otherwise claim a
//! colleague's identity and inherit their patients. One practitioner binds to one account at a
//! time (a claim); a binding is ended by binding the practitioner anew, or to nobody.

use crate::error::AccessError;
use kiroku_core::projection::{Column, TableRole, TableSpec, Value};
use kiroku_core::query::{Query, Stored};
use kiroku_core::{
    AccountId, Actor, Change, Draft, EntryKind, EntryMeta, Invalid, Projection, Request, Subject,
};
use serde::{Deserialize, Serialize};

/// The longest practitioner id (an FHIR id).
pub const PRACTITIONER_BYTES_MAX: usize = 64;

/// Which account each bound practitioner is.
pub static STAFF_IDENTITIES: TableSpec = TableSpec {
    name: "access_staff_identities",
    about: "Which account each Practitioner resource is, as the system administrator bound them.",
    columns: &[
        Column::text("practitioner"),
        Column::text("account"),
        Column::entry("entry"),
    ],
    key: 1,
    indexes: &[&["account", "practitioner"]],
    role: TableRole::Plain,
};

/// Is `id` an FHIR id (1–64 of `A–Z a–z 0–9 - .`)?
fn is_fhir_id(id: &str) -> bool {
    (1..=PRACTITIONER_BYTES_MAX).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.')
}

/// `access.staff_identity/1`: `Practitioner/{practitioner}` is `account` (or, without one,
/// nobody any more).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StaffIdentityBound {
    /// The Practitioner resource's id.
    pub practitioner: String,
    /// The account it is; absent when the binding ends.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account: Option<String>,
}

impl EntryKind for StaffIdentityBound {
    const KIND: &'static str = "access.staff_identity/1";
    const PROJECTION: Projection = Projection::Into(&[&STAFF_IDENTITIES]);

    fn check(&self, _: &EntryMeta<'_>) -> Result<(), Invalid> {
        if !is_fhir_id(&self.practitioner) {
            return Err(Invalid {
                field: "practitioner",
                why: "is not an FHIR id",
            });
        }
        if self
            .account
            .as_deref()
            .is_some_and(|a| AccountId::parse(a).is_err())
        {
            return Err(Invalid {
                field: "account",
                why: "is not an account id",
            });
        }
        Ok(())
    }

    fn project(&self, _: &EntryMeta<'_>, out: &mut Vec<Change>) {
        let practitioner = Value::Text(self.practitioner.clone());
        match &self.account {
            Some(account) => out.push(Change::upsert(
                &STAFF_IDENTITIES,
                vec![
                    practitioner,
                    Value::Text(account.clone()),
                    Value::THIS_ENTRY,
                ],
            )),
            None => out.push(Change::delete(&STAFF_IDENTITIES, vec![practitioner])),
        }
    }

    fn example() -> Self {
        StaffIdentityBound {
            practitioner: "dr-sato".into(),
            account: Some("sato.hanako".into()),
        }
    }
}

/// The entry binding `Practitioner/{practitioner}` to `account` (or to nobody), decided by the
/// caller's gate: nobody binds an identity to themselves.
pub fn bind(
    actor: Actor,
    practitioner: &str,
    account: Option<&AccountId>,
) -> Result<Request, AccessError> {
    if account.is_some_and(|a| *a == actor.account) {
        return Err(AccessError::OwnMatter(
            "nobody binds a staff identity to their own account",
        ));
    }
    let payload = StaffIdentityBound {
        practitioner: practitioner.to_owned(),
        account: account.map(AccountId::to_string),
    };
    if !is_fhir_id(practitioner) {
        return Err(AccessError::Invalid {
            field: "practitioner",
            why: "is not an FHIR id (1–64 of A–Z, a–z, 0–9, - and .)",
        });
    }
    let mut draft = Draft::new(actor, payload);
    if let Some(account) = account {
        draft = draft.about(Subject {
            kind: "account".into(),
            id: account.to_string(),
        });
    }
    Ok(Request::one(draft))
}

/// The practitioners bound to `account`.
pub fn of_account(account: &str) -> Query {
    Query::table(&STAFF_IDENTITIES, 16)
        .by_index(0)
        .matching(vec![Value::Text(account.into())])
}

/// The practitioner of a row of [`STAFF_IDENTITIES`].
pub fn practitioner(stored: &Stored) -> Result<String, kiroku_core::query::BadRow> {
    stored.cells(&STAFF_IDENTITIES).text(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    // Shows the binding's rule: an administrator binds another account; nobody binds their
    // own; the id must be an FHIR id.
    #[test]
    fn binding() {
        let admin = Actor {
            account: AccountId::parse("admin.one").unwrap(),
            session: None,
        };
        let doctor = AccountId::parse("sato.hanako").unwrap();
        assert!(bind(admin.clone(), "dr-sato", Some(&doctor)).is_ok());
        assert!(bind(admin.clone(), "dr-sato", None).is_ok());
        assert!(matches!(
            bind(admin.clone(), "dr-sato", Some(&admin.account)),
            Err(AccessError::OwnMatter(_))
        ));
        assert!(matches!(
            bind(admin, "dr sato", Some(&doctor)),
            Err(AccessError::Invalid { .. })
        ));
    }
}
