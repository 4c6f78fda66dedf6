//! Credentials and sign-in attempts. An account's password (or, until its first sign-in, the
//! one-time initial secret the administrator was shown) is an entry holding its Argon2id hash;
//! the current one is a stream row per account, and the account's recent passwords are kept so
//! none is used again. Every sign-in attempt on an account is an entry too — success, failure,
//! or refused while locked or inactive — carrying the lockout state it leaves, so the state can
//! be reproduced at any past moment and a replay rebuilds it.
//!
//! Hashes, not passwords, reach the ledger: Argon2id PHC strings (see [`crate::password`]),
//! and since `access.credential/2` not even those in clear: each is sealed under the data
//! directory's key (the app seals and opens; this module never sees the key), so that neither
//! an auditor reading entry bundles nor whoever holds an export can attack them offline. The
//! tables hold what the entry holds: a clear hash from a `/1` entry, or [`SEALED_PREFIX`] and
//! the sealed one.

use crate::account::{history, ACCOUNT_HISTORY};
use crate::lockout::Lockout;
use kiroku_core::projection::{Column, TableRole, TableSpec, Value};
use kiroku_core::query::{BadRow, Query, Stored};
use kiroku_core::{
    AccountId, Actor, Change, Draft, EntryKind, EntryMeta, Invalid, Projection, Request, Timestamp,
};
use serde::{Deserialize, Serialize};

/// Each account's current credential; each row is the account's credential stream.
pub static CREDENTIALS: TableSpec = TableSpec {
    name: "access_credentials",
    about: "Each account's current password or one-time initial secret (an Argon2id hash); each row is the account's credential stream.",
    columns: &[
        Column::text("account"),
        Column::int("version"),
        Column::text("kind"),
        Column::text("hash"),
        Column::int("set_at"),
    ],
    key: 1,
    indexes: &[],
    role: TableRole::Stream { version: "version" },
};

/// Each account's passwords (hashes), so recent ones are not used again.
pub static PASSWORD_HISTORY: TableSpec = TableSpec {
    name: "access_password_history",
    about:
        "The hashes of each account's passwords, newest last, so recent ones are not used again.",
    columns: &[
        Column::text("account"),
        Column::entry("entry"),
        Column::text("hash"),
    ],
    key: 2,
    indexes: &[],
    role: TableRole::Plain,
};

/// Each account's sign-in state: the lockout and the last success; a stream per account, so
/// concurrent attempts are counted one by one.
pub static SIGN_IN_STATE: TableSpec = TableSpec {
    name: "access_sign_in_state",
    about: "Each account's lockout state and last successful sign-in; each row is the account's sign-in stream.",
    columns: &[
        Column::text("account"),
        Column::int("version"),
        Column::int("failures"),
        Column::int("level"),
        Column::int("locked_until").nullable(),
        Column::int("last_success").nullable(),
    ],
    key: 1,
    indexes: &[],
    role: TableRole::Stream { version: "version" },
};

/// What a credential is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CredentialKind {
    /// The one-time secret shown when the ID was issued; it only lets its holder choose a
    /// password.
    Initial,
    /// A password the account's holder chose.
    Password,
}

impl CredentialKind {
    /// As stored.
    pub fn as_str(self) -> &'static str {
        match self {
            CredentialKind::Initial => "initial",
            CredentialKind::Password => "password",
        }
    }

    fn parse(text: &str) -> Option<CredentialKind> {
        match text {
            "initial" => Some(CredentialKind::Initial),
            "password" => Some(CredentialKind::Password),
            _ => None,
        }
    }
}

/// `access.credential/1`: the account's credential is now this hash.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CredentialSet {
    /// The account.
    pub account: String,
    /// The credential stream's version this makes (1 for the first).
    pub version: u64,
    /// Initial secret or chosen password.
    pub kind: CredentialKind,
    /// The Argon2id PHC string.
    pub hash: String,
}

/// The start of a sealed hash as the tables hold it.
pub const SEALED_PREFIX: &str = "sealed:";

/// The longest sealed hash (base64 of nonce, PHC string and tag).
const SEALED_MAX: usize = 512;

/// `access.credential/2`: the account's credential is now this hash, sealed under the data
/// directory's key (base64 of nonce and ciphertext).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CredentialSealed {
    /// The account.
    pub account: String,
    /// The credential stream's version this makes (1 for the first).
    pub version: u64,
    /// Initial secret or chosen password.
    pub kind: CredentialKind,
    /// The Argon2id PHC string, sealed.
    pub sealed: String,
}

impl EntryKind for CredentialSealed {
    const KIND: &'static str = "access.credential/2";
    const PROJECTION: Projection =
        Projection::Into(&[&CREDENTIALS, &PASSWORD_HISTORY, &ACCOUNT_HISTORY]);

    fn check(&self, meta: &EntryMeta<'_>) -> Result<(), Invalid> {
        if self.sealed.is_empty()
            || self.sealed.len() > SEALED_MAX
            || !self
                .sealed
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'='))
        {
            return Err(Invalid {
                field: "sealed",
                why: "is not a sealed hash (base64)",
            });
        }
        self.as_set().check(meta)
    }

    fn project(&self, meta: &EntryMeta<'_>, out: &mut Vec<Change>) {
        self.as_set().project(meta, out);
    }

    fn example() -> Self {
        CredentialSealed {
            account: "sato.hanako".into(),
            version: 2,
            kind: CredentialKind::Password,
            sealed: "bm9uY2Vub25jZW5vbmNlbm9uY2Vub25jZWNpcGhlcnRleHQ=".into(),
        }
    }
}

impl CredentialSealed {
    /// The same change as a `/1` entry whose hash is the sealed one, prefixed.
    fn as_set(&self) -> CredentialSet {
        CredentialSet {
            account: self.account.clone(),
            version: self.version,
            kind: self.kind,
            hash: format!("{SEALED_PREFIX}{}", self.sealed),
        }
    }
}

fn int(value: u64) -> Value {
    i64::try_from(value).map_or(Value::Null, Value::Int)
}

impl EntryKind for CredentialSet {
    const KIND: &'static str = "access.credential/1";
    const PROJECTION: Projection =
        Projection::Into(&[&CREDENTIALS, &PASSWORD_HISTORY, &ACCOUNT_HISTORY]);

    fn check(&self, _: &EntryMeta<'_>) -> Result<(), Invalid> {
        AccountId::parse(&self.account).map_err(|_| Invalid {
            field: "account",
            why: "is not an account id",
        })?;
        let sealed = self
            .hash
            .strip_prefix(SEALED_PREFIX)
            .is_some_and(|s| s.len() <= SEALED_MAX);
        if !sealed && (!self.hash.starts_with("$argon2id$") || self.hash.len() > 256) {
            return Err(Invalid {
                field: "hash",
                why: "is not an Argon2id PHC string",
            });
        }
        if self.version == 0 {
            return Err(Invalid {
                field: "version",
                why: "must be 1 or more",
            });
        }
        Ok(())
    }

    fn project(&self, meta: &EntryMeta<'_>, out: &mut Vec<Change>) {
        out.push(Change::upsert(
            &CREDENTIALS,
            vec![
                Value::Text(self.account.clone()),
                int(self.version),
                Value::Text(self.kind.as_str().into()),
                Value::Text(self.hash.clone()),
                Value::Int(meta.time.micros()),
            ],
        ));
        let event = match self.kind {
            CredentialKind::Initial => "initial_secret_issued",
            CredentialKind::Password => {
                out.push(Change::upsert(
                    &PASSWORD_HISTORY,
                    vec![
                        Value::Text(self.account.clone()),
                        Value::THIS_ENTRY,
                        Value::Text(self.hash.clone()),
                    ],
                ));
                "password_set"
            }
        };
        out.push(history(meta, &self.account, event));
    }

    fn example() -> Self {
        CredentialSet {
            account: "sato.hanako".into(),
            version: 2,
            kind: CredentialKind::Password,
            hash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhhc2g".into(),
        }
    }
}

/// An account's current credential.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Credential {
    /// The account.
    pub account: String,
    /// The stream's version.
    pub version: u64,
    /// Initial secret or password.
    pub kind: CredentialKind,
    /// The hash.
    pub hash: String,
    /// When it was set.
    pub set_at: Timestamp,
}

impl Credential {
    /// The query for an account's credential.
    pub fn query(account: &str) -> Query {
        Query::key(&CREDENTIALS, vec![Value::Text(account.into())])
    }

    /// Decodes a row of [`CREDENTIALS`].
    pub fn from_row(stored: &Stored) -> Result<Credential, BadRow> {
        let c = stored.cells(&CREDENTIALS);
        Ok(Credential {
            account: c.text(0)?,
            version: c.uint(1)?,
            kind: c.parsed(2, CredentialKind::parse)?,
            hash: c.text(3)?,
            set_at: c.time(4)?,
        })
    }

    /// The query for an account's recent password hashes, newest first.
    pub fn recent(account: &str, limit: u64) -> Query {
        Query::table(&PASSWORD_HISTORY, limit)
            .matching(vec![Value::Text(account.into())])
            .descending()
    }

    /// The hash of a [`PASSWORD_HISTORY`] row.
    pub fn hash_of_row(stored: &Stored) -> Result<String, BadRow> {
        stored.cells(&PASSWORD_HISTORY).text(2)
    }
}

/// How a sign-in attempt ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Signed in.
    Success,
    /// Wrong secret.
    Failure,
    /// Refused unchecked: the account is locked.
    Locked,
    /// Refused unchecked: the account is suspended, deactivated, or outside its validity
    /// period.
    Inactive,
}

/// `access.sign_in/1`: a sign-in attempt on an account and the lockout state it leaves.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignIn {
    /// The account.
    pub account: String,
    /// The sign-in stream's version this makes.
    pub version: u64,
    /// How it ended.
    pub outcome: Outcome,
    /// Consecutive failures after it.
    pub failures: u32,
    /// Lock level after it.
    pub level: u32,
    /// Locked until (microseconds since the epoch), if locked after it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub locked_until: Option<i64>,
    /// The last successful sign-in after it (microseconds), if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_success: Option<i64>,
}

impl EntryKind for SignIn {
    const KIND: &'static str = "access.sign_in/1";
    const PROJECTION: Projection = Projection::Into(&[&SIGN_IN_STATE, &ACCOUNT_HISTORY]);

    fn check(&self, _: &EntryMeta<'_>) -> Result<(), Invalid> {
        AccountId::parse(&self.account).map_err(|_| Invalid {
            field: "account",
            why: "is not an account id",
        })?;
        if self.version == 0 {
            return Err(Invalid {
                field: "version",
                why: "must be 1 or more",
            });
        }
        Ok(())
    }

    fn project(&self, meta: &EntryMeta<'_>, out: &mut Vec<Change>) {
        let optional = |v: Option<i64>| v.map_or(Value::Null, Value::Int);
        out.push(Change::upsert(
            &SIGN_IN_STATE,
            vec![
                Value::Text(self.account.clone()),
                int(self.version),
                Value::Int(i64::from(self.failures)),
                Value::Int(i64::from(self.level)),
                optional(self.locked_until),
                optional(self.last_success),
            ],
        ));
        // The history shows what matters to whoever reviews the account: locks. Each attempt
        // stays in the ledger.
        if self.outcome == Outcome::Failure && self.locked_until.is_some() && self.failures == 0 {
            out.push(history(meta, &self.account, "locked"));
        }
    }

    fn example() -> Self {
        SignIn {
            account: "sato.hanako".into(),
            version: 6,
            outcome: Outcome::Failure,
            failures: 0,
            level: 1,
            locked_until: Some(1_795_513_623_000_000),
            last_success: None,
        }
    }
}

/// An account's sign-in state as stored.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct SignInState {
    /// The stream's version (0: no attempt yet).
    pub version: u64,
    /// The lockout.
    pub lockout: Lockout,
    /// The last success.
    pub last_success: Option<Timestamp>,
}

impl SignInState {
    /// The query for an account's sign-in state.
    pub fn query(account: &str) -> Query {
        Query::key(&SIGN_IN_STATE, vec![Value::Text(account.into())])
    }

    /// Decodes a row of [`SIGN_IN_STATE`].
    pub fn from_row(stored: &Stored) -> Result<SignInState, BadRow> {
        let c = stored.cells(&SIGN_IN_STATE);
        let time = |i: usize| -> Result<Option<Timestamp>, BadRow> {
            match stored.row.get(i) {
                Some(Value::Null) => Ok(None),
                Some(Value::Int(m)) => Timestamp::from_micros(*m).map(Some).ok_or(c.bad()),
                _ => Err(c.bad()),
            }
        };
        let small =
            |i: usize| -> Result<u32, BadRow> { u32::try_from(c.uint(i)?).map_err(|_| c.bad()) };
        Ok(SignInState {
            version: c.uint(1)?,
            lockout: Lockout {
                failures: small(2)?,
                level: small(3)?,
                until: time(4)?,
            },
            last_success: time(5)?,
        })
    }
}

/// The entry that records an attempt on `account` at `now`, from the state read, with its
/// outcome; and the state it leaves.
pub fn attempt(
    account: &str,
    state: SignInState,
    outcome: Outcome,
    now: Timestamp,
) -> (Request, Lockout) {
    let lockout = match outcome {
        Outcome::Success => state.lockout.succeeded(),
        Outcome::Failure => state.lockout.failed(now),
        Outcome::Locked | Outcome::Inactive => state.lockout,
    };
    let last_success = match outcome {
        Outcome::Success => Some(now),
        _ => state.last_success,
    };
    let payload = SignIn {
        account: account.into(),
        version: state.version + 1,
        outcome,
        failures: lockout.failures,
        level: lockout.level,
        locked_until: lockout.until.map(Timestamp::micros),
        last_success: last_success.map(Timestamp::micros),
    };
    // The attempt is the account's own, even when it failed: whoever typed at the sign-in form
    // claimed to be it.
    let actor = Actor {
        account: AccountId::parse(account).unwrap_or_else(|_| AccountId::system()),
        session: Some("sign-in".into()),
    };
    (Request::one(Draft::new(actor, payload)), lockout)
}

/// The entry that sets `account`'s credential to a hash, sealed (`sealed`: as
/// [`CredentialSealed::sealed`]), over the credential version read (0 when it has none), made
/// by `actor`.
pub fn set(
    actor: Actor,
    account: &str,
    current_version: u64,
    kind: CredentialKind,
    sealed: String,
) -> Draft {
    Draft::new(
        actor,
        CredentialSealed {
            account: account.into(),
            version: current_version + 1,
            kind,
            sealed,
        },
    )
}
