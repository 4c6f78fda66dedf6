//! Signed-in sessions as the ledger keeps them, so that every server process sharing the
//! database knows them and a restart signs nobody out. A session is named by the SHA-256 of its
//! token (the token itself, the cookie's value, is never stored); each entry carries the
//! session's whole state — its account, when it began, whether the first password is still to
//! be chosen, which step of signing in is pending — and the row of [`SESSIONS`] is that state as
//! of the latest entry, its `seen` the entry's time. Use is recorded at most every
//! [`SEEN_EVERY_S`] seconds, so idle expiry is measured to within that. Ending a session, or
//! every session of an account, deletes the rows. What changes on every request (the CSRF
//! token is derived from the session token; a WebAuthn challenge, an authenticator offered for
//! enrolment) is not kept here.

use kiroku_core::projection::{Column, TableRole, TableSpec, Value};
use kiroku_core::query::{BadRow, Query, Stored};
use kiroku_core::{
    AccountId, Actor, Change, Draft, EntryKind, EntryMeta, Invalid, Projection, Timestamp,
};
use serde::{Deserialize, Serialize};

/// Sessions of one account read at once (to end the expired ones when it signs in again).
pub const SESSIONS_LISTED_MAX: u64 = 64;

/// Seconds between records of a session's use, at most.
pub const SEEN_EVERY_S: i64 = 5 * 60;

/// The live sessions, by account.
pub static SESSIONS: TableSpec = TableSpec {
    name: "access_sessions",
    about: "Signed-in sessions by account: the SHA-256 of each session's token, when it began and was last recorded as used, and the step of signing in still pending.",
    columns: &[
        Column::text("account"),
        Column::text("session"),
        Column::int("created"),
        Column::int("seen"),
        Column::int("must_change"),
        Column::text("pending"),
    ],
    key: 2,
    indexes: &[&["session"]],
    role: TableRole::Plain,
};

/// A step of signing in still to take, as kept.
pub const PENDING: [&str; 3] = ["nothing", "second-factor", "enrol"];

fn is_session(text: &str) -> bool {
    text.len() == 64
        && text
            .bytes()
            .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
}

/// `access.session/1`: the state of session `session` of `account` — begun at `created` (the
/// entry's time when absent: the session begins with this entry), its first password still to
/// choose or not, and the step of signing in pending. Each entry's time is the session's latest
/// recorded use.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SessionState {
    /// The SHA-256 of the token, in lower-case hex.
    pub session: String,
    /// The account.
    pub account: String,
    /// When it began (microseconds since 1970); absent in the entry that begins it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created: Option<i64>,
    /// Signed in with the initial secret: only choosing a password is allowed.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub must_change: bool,
    /// `nothing`, `second-factor` or `enrol`.
    pub pending: String,
}

impl EntryKind for SessionState {
    const KIND: &'static str = "access.session/1";
    const PROJECTION: Projection = Projection::Into(&[&SESSIONS]);

    fn check(&self, _: &EntryMeta<'_>) -> Result<(), Invalid> {
        if !is_session(&self.session) {
            return Err(Invalid {
                field: "session",
                why: "is not a SHA-256 in lower-case hex",
            });
        }
        AccountId::parse(&self.account).map_err(|_| Invalid {
            field: "account",
            why: "is not an account id",
        })?;
        if !PENDING.contains(&self.pending.as_str()) {
            return Err(Invalid {
                field: "pending",
                why: "is not a step of signing in",
            });
        }
        if self.created.is_some_and(|c| c < 0) {
            return Err(Invalid {
                field: "created",
                why: "is negative",
            });
        }
        Ok(())
    }

    fn project(&self, meta: &EntryMeta<'_>, out: &mut Vec<Change>) {
        out.push(Change::upsert(
            &SESSIONS,
            vec![
                Value::Text(self.account.clone()),
                Value::Text(self.session.clone()),
                Value::Int(self.created.unwrap_or(meta.time.micros())),
                Value::Int(meta.time.micros()),
                Value::Int(i64::from(self.must_change)),
                Value::Text(self.pending.clone()),
            ],
        ));
    }

    fn example() -> Self {
        SessionState {
            session: "a".repeat(64),
            account: "sato.hanako".into(),
            created: None,
            must_change: false,
            pending: "second-factor".into(),
        }
    }
}

/// `access.session_end/1`: session `session` of `account` ended (signed out, expired), or —
/// without one — every session of `account` did (signed out everywhere, a new password, the
/// account no longer usable).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SessionEnded {
    /// The account.
    pub account: String,
    /// The session, or every one of the account's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session: Option<String>,
}

impl EntryKind for SessionEnded {
    const KIND: &'static str = "access.session_end/1";
    const PROJECTION: Projection = Projection::Into(&[&SESSIONS]);

    fn check(&self, _: &EntryMeta<'_>) -> Result<(), Invalid> {
        AccountId::parse(&self.account).map_err(|_| Invalid {
            field: "account",
            why: "is not an account id",
        })?;
        if self.session.as_deref().is_some_and(|s| !is_session(s)) {
            return Err(Invalid {
                field: "session",
                why: "is not a SHA-256 in lower-case hex",
            });
        }
        Ok(())
    }

    fn project(&self, _: &EntryMeta<'_>, out: &mut Vec<Change>) {
        let account = Value::Text(self.account.clone());
        out.push(match &self.session {
            Some(session) => Change::delete(&SESSIONS, vec![account, Value::Text(session.clone())]),
            None => Change::delete_prefix(&SESSIONS, vec![account]),
        });
    }

    fn example() -> Self {
        SessionEnded {
            account: "sato.hanako".into(),
            session: Some("a".repeat(64)),
        }
    }
}

/// A session as kept.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Kept {
    /// The account.
    pub account: String,
    /// The SHA-256 of its token, in hex.
    pub session: String,
    /// When it began.
    pub created: Timestamp,
    /// Its latest recorded use.
    pub seen: Timestamp,
    /// The first password is still to be chosen.
    pub must_change: bool,
    /// The step of signing in pending.
    pub pending: String,
}

impl Kept {
    /// The session named `session` (the SHA-256 of its token, in hex).
    pub fn query(session: &str) -> Query {
        Query::table(&SESSIONS, 1)
            .by_index(0)
            .matching(vec![Value::Text(session.into())])
    }

    /// The sessions of `account` (the first [`SESSIONS_LISTED_MAX`]).
    pub fn of_account(account: &str) -> Query {
        Query::table(&SESSIONS, SESSIONS_LISTED_MAX).matching(vec![Value::Text(account.into())])
    }

    /// A row of [`SESSIONS`].
    pub fn from_row(stored: &Stored) -> Result<Kept, BadRow> {
        let cells = stored.cells(&SESSIONS);
        Ok(Kept {
            account: cells.text(0)?,
            session: cells.text(1)?,
            created: cells.time(2)?,
            seen: cells.time(3)?,
            must_change: cells.uint(4)? != 0,
            pending: cells.text(5)?,
        })
    }
}

/// The entry recording a session's state (`created`: `None` when it begins now).
pub fn state(
    session: &str,
    account: &str,
    created: Option<Timestamp>,
    must_change: bool,
    pending: &str,
) -> Draft {
    Draft::new(
        Actor {
            account: AccountId::parse(account).unwrap_or_else(|_| AccountId::system()),
            session: Some("web".into()),
        },
        SessionState {
            session: session.to_owned(),
            account: account.to_owned(),
            created: created.map(Timestamp::micros),
            must_change,
            pending: pending.to_owned(),
        },
    )
}

/// The entry ending `session` of `account`, or every session of the account.
pub fn end(actor: Actor, account: &str, session: Option<&str>) -> Draft {
    Draft::new(
        actor,
        SessionEnded {
            account: account.to_owned(),
            session: session.map(str::to_owned),
        },
    )
}
