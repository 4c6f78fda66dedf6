//! System clients (Art. 4(5), 6): a departmental system or an approved external linkage is an
//! account of its own, applied for and approved like a person, with the job type
//! [`CLIENT_JOB_TYPE`]. Its initial secret is its client secret. The system administrator grants
//! it scopes; it exchanges its secret for bearer tokens at the OAuth 2.0 token endpoint
//! (client-credentials grant, RFC 6749 §4.4), each token scoped, expiring and revocable.
//!
//! A token is 32 random bytes; only its SHA-256 (the token id) is ever stored or written to the
//! ledger, so reading the ledger does not give anyone a usable token. Issuing and revoking a
//! token are entries.
//!
//! Tables: [`CLIENT_SCOPES`] (what each client may ask for) and [`TOKENS`] (the live tokens; a
//! revoked token's row is removed, an expired one stays until it is revoked or forgotten).

use crate::account::{history, ACCOUNT_HISTORY};
use crate::error::{check_reason, invalid, AccessError};
use crate::role::{Role, Roles};
use kiroku_core::projection::{Column, TableRole, TableSpec, Value};
use kiroku_core::query::{BadRow, Query, Stored};
use kiroku_core::{
    AccountId, Actor, Change, Date, Draft, EntryKind, EntryMeta, Invalid, Projection, Request,
    Timestamp,
};
use serde::{Deserialize, Serialize};

/// The job type of a system client's account.
pub const CLIENT_JOB_TYPE: &str = "system-client";
/// Reading clinical data (patients and records).
pub const SCOPE_CLINICAL_READ: &str = "clinical.read";
/// Writing clinical records.
pub const SCOPE_CLINICAL_WRITE: &str = "clinical.write";
/// Every scope a client can be granted.
pub const SCOPES: [&str; 2] = [SCOPE_CLINICAL_READ, SCOPE_CLINICAL_WRITE];
/// Hex digits of a token id (SHA-256).
const TOKEN_ID_HEX: usize = 64;
/// The longest token lifetime, in seconds (one day).
pub const TOKEN_SECONDS_MAX: i64 = 24 * 3600;

/// What each client may ask for.
pub static CLIENT_SCOPES: TableSpec = TableSpec {
    name: "access_client_scopes",
    about: "The scopes the system administrator granted each system client (space-separated).",
    columns: &[Column::text("account"), Column::text("scopes")],
    key: 1,
    indexes: &[],
    role: TableRole::Plain,
};

/// The tokens issued and not revoked.
pub static TOKENS: TableSpec = TableSpec {
    name: "access_tokens",
    about: "Bearer tokens issued to system clients and not revoked: the token's SHA-256 (never the token), the client, its scopes and when it expires.",
    columns: &[
        Column::text("token"),
        Column::text("account"),
        Column::text("scopes"),
        Column::int("issued"),
        Column::int("expires"),
    ],
    key: 1,
    indexes: &[&["account", "token"]],
    role: TableRole::Plain,
};

/// Checks and normalises a list of scopes: known, each once, in the order of [`SCOPES`].
pub fn normalise_scopes<S: AsRef<str>>(scopes: &[S]) -> Result<Vec<String>, Invalid> {
    for s in scopes {
        if !SCOPES.contains(&s.as_ref()) {
            return Err(Invalid {
                field: "scopes",
                why: "may only hold clinical.read and clinical.write",
            });
        }
    }
    Ok(SCOPES
        .iter()
        .filter(|known| scopes.iter().any(|s| s.as_ref() == **known))
        .map(|s| (*s).to_owned())
        .collect())
}

fn check_account(account: &str) -> Result<(), Invalid> {
    AccountId::parse(account).map(|_| ()).map_err(|_| Invalid {
        field: "account",
        why: "is not an account id",
    })
}

fn check_token_id(token: &str) -> Result<(), Invalid> {
    if token.len() == TOKEN_ID_HEX
        && token
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    {
        Ok(())
    } else {
        Err(Invalid {
            field: "token",
            why: "must be 64 lowercase hex digits (a SHA-256)",
        })
    }
}

/// `access.client_scopes/1`: the system administrator granted `account` (a system client)
/// these scopes, replacing the ones before.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScopesGranted {
    /// The client.
    pub account: String,
    /// The scopes (none: it may get no token of use).
    pub scopes: Vec<String>,
}

impl EntryKind for ScopesGranted {
    const KIND: &'static str = "access.client_scopes/1";
    const PROJECTION: Projection = Projection::Into(&[&CLIENT_SCOPES, &ACCOUNT_HISTORY]);

    fn check(&self, _: &EntryMeta<'_>) -> Result<(), Invalid> {
        check_account(&self.account)?;
        if normalise_scopes(&self.scopes)? != self.scopes {
            return Err(Invalid {
                field: "scopes",
                why: "must be known, each once, in order",
            });
        }
        Ok(())
    }

    fn project(&self, meta: &EntryMeta<'_>, out: &mut Vec<Change>) {
        out.push(history(
            meta,
            &self.account,
            &format!("scopes:{}", self.scopes.join(" ")),
        ));
        out.push(Change::upsert(
            &CLIENT_SCOPES,
            vec![
                Value::Text(self.account.clone()),
                Value::Text(self.scopes.join(" ")),
            ],
        ));
    }

    fn example() -> Self {
        ScopesGranted {
            account: "lab-system".into(),
            scopes: vec![SCOPE_CLINICAL_READ.into()],
        }
    }
}

/// `access.token/1`: a bearer token was issued to `account`, known by its SHA-256 `token`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenIssued {
    /// The token's SHA-256, hex.
    pub token: String,
    /// The client.
    pub account: String,
    /// The scopes it carries.
    pub scopes: Vec<String>,
    /// When it expires (µs since the epoch).
    pub expires: i64,
}

impl EntryKind for TokenIssued {
    const KIND: &'static str = "access.token/1";
    const PROJECTION: Projection = Projection::Into(&[&TOKENS]);

    fn check(&self, meta: &EntryMeta<'_>) -> Result<(), Invalid> {
        check_token_id(&self.token)?;
        check_account(&self.account)?;
        if normalise_scopes(&self.scopes)? != self.scopes {
            return Err(Invalid {
                field: "scopes",
                why: "must be known, each once, in order",
            });
        }
        let lifetime = self.expires - meta.time.micros();
        if lifetime <= 0 || lifetime > TOKEN_SECONDS_MAX * 1_000_000 {
            return Err(Invalid {
                field: "expires",
                why: "must be after the entry, by one day at most",
            });
        }
        Ok(())
    }

    fn project(&self, meta: &EntryMeta<'_>, out: &mut Vec<Change>) {
        out.push(Change::upsert(
            &TOKENS,
            vec![
                Value::Text(self.token.clone()),
                Value::Text(self.account.clone()),
                Value::Text(self.scopes.join(" ")),
                Value::Int(meta.time.micros()),
                Value::Int(self.expires),
            ],
        ));
    }

    fn example() -> Self {
        TokenIssued {
            token: "0".repeat(TOKEN_ID_HEX),
            account: "lab-system".into(),
            scopes: vec![SCOPE_CLINICAL_READ.into()],
            // The example entry's time is the epoch.
            expires: 3_600_000_000,
        }
    }
}

/// `access.token_revocation/1`: the token `token` of `account` was revoked (by the client
/// itself or the system administrator, with a reason).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenRevoked {
    /// The token's SHA-256, hex.
    pub token: String,
    /// The client.
    pub account: String,
}

impl EntryKind for TokenRevoked {
    const KIND: &'static str = "access.token_revocation/1";
    const PROJECTION: Projection = Projection::Into(&[&TOKENS, &ACCOUNT_HISTORY]);

    fn check(&self, _: &EntryMeta<'_>) -> Result<(), Invalid> {
        check_token_id(&self.token)?;
        check_account(&self.account)
    }

    fn project(&self, meta: &EntryMeta<'_>, out: &mut Vec<Change>) {
        out.push(history(meta, &self.account, "token_revoked"));
        out.push(Change::delete(
            &TOKENS,
            vec![Value::Text(self.token.clone())],
        ));
    }

    fn example() -> Self {
        TokenRevoked {
            token: "0".repeat(TOKEN_ID_HEX),
            account: "lab-system".into(),
        }
    }
}

/// A live (not revoked) token.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Token {
    /// Its SHA-256, hex.
    pub id: String,
    /// The client.
    pub account: String,
    /// Its scopes.
    pub scopes: Vec<String>,
    /// When it was issued.
    pub issued: Timestamp,
    /// When it expires.
    pub expires: Timestamp,
}

fn split_scopes(text: &str) -> Vec<String> {
    text.split_whitespace().map(str::to_owned).collect()
}

impl Token {
    /// The query for the token of id `id`.
    pub fn query(id: &str) -> Query {
        Query::table(&TOKENS, 1).matching(vec![Value::Text(id.into())])
    }

    /// The query for `account`'s tokens (at most `limit`).
    pub fn of_account(account: &str, limit: u64) -> Query {
        Query::table(&TOKENS, limit)
            .by_index(0)
            .matching(vec![Value::Text(account.into())])
    }

    /// Decodes a row of [`TOKENS`].
    pub fn from_row(stored: &Stored) -> Result<Token, BadRow> {
        let c = stored.cells(&TOKENS);
        Ok(Token {
            id: c.text(0)?,
            account: c.text(1)?,
            scopes: split_scopes(&c.text(2)?),
            issued: c.time(3)?,
            expires: c.time(4)?,
        })
    }

    /// Is it still good at `now`?
    pub fn live(&self, now: Timestamp) -> bool {
        now < self.expires
    }
}

/// The scopes granted to a client.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Granted {
    /// The client.
    pub account: String,
    /// Its scopes.
    pub scopes: Vec<String>,
}

impl Granted {
    /// The query for `account`'s grant.
    pub fn query(account: &str) -> Query {
        Query::table(&CLIENT_SCOPES, 1).matching(vec![Value::Text(account.into())])
    }

    /// Decodes a row of [`CLIENT_SCOPES`].
    pub fn from_row(stored: &Stored) -> Result<Granted, BadRow> {
        let c = stored.cells(&CLIENT_SCOPES);
        Ok(Granted {
            account: c.text(0)?,
            scopes: split_scopes(&c.text(1)?),
        })
    }
}

/// The system administrator grants `account` — a system client, by its job type — the scopes
/// `scopes`.
pub fn grant(
    by: &Roles,
    actor: Actor,
    account: &str,
    job_type: &str,
    scopes: &[String],
    today: Date,
) -> Result<Request, AccessError> {
    by.require(Role::SystemAdministrator, None, today)?;
    if job_type != CLIENT_JOB_TYPE {
        return Err(invalid("account", "is not a system client"));
    }
    let scopes = normalise_scopes(scopes).map_err(AccessError::from)?;
    Ok(Request::one(Draft::new(
        actor,
        ScopesGranted {
            account: account.into(),
            scopes,
        },
    )))
}

/// The scopes a token gets: those asked for (all granted ones when none are named), each of
/// which must be granted.
pub fn scopes_for(granted: &[String], asked: Option<&str>) -> Result<Vec<String>, AccessError> {
    let Some(asked) = asked.filter(|a| !a.trim().is_empty()) else {
        return Ok(granted.to_vec());
    };
    let asked: Vec<&str> = asked.split_whitespace().collect();
    if asked.iter().any(|a| !granted.iter().any(|g| g == a)) {
        return Err(AccessError::ScopeNotGranted);
    }
    normalise_scopes(&asked).map_err(AccessError::from)
}

/// The entry issuing token `id` (the token's SHA-256) to `account`, made by `actor` (the client
/// itself at the token endpoint, or the operator from the command line).
pub fn issue(
    actor: Actor,
    id: String,
    account: &str,
    scopes: Vec<String>,
    expires: Timestamp,
) -> Request {
    Request::one(Draft::new(
        actor,
        TokenIssued {
            token: id,
            account: account.into(),
            scopes,
            expires: expires.micros(),
        },
    ))
}

/// The entry revoking `token`: by its own client (no reason needed), or by the system
/// administrator with a reason.
pub fn revoke(
    by: &Roles,
    actor: Actor,
    token: &Token,
    reason: Option<&str>,
    today: Date,
) -> Result<Request, AccessError> {
    let own = actor.account.as_str() == token.account;
    if !own {
        by.require(Role::SystemAdministrator, None, today)?;
    }
    let mut draft = Draft::new(
        actor,
        TokenRevoked {
            token: token.id.clone(),
            account: token.account.clone(),
        },
    );
    match reason {
        Some(r) => {
            check_reason(r)?;
            draft = draft.because(r);
        }
        None if !own => return Err(AccessError::Reason),
        None => {}
    }
    Ok(Request::one(draft))
}
