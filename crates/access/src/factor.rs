//! Second factors: TOTP (RFC 6238) — HMAC-SHA-1 over 30-second steps, six digits, accepting
//! the step before and after for clock drift, and never the same step twice. The shared secret
//! cannot be hashed (the server must compute codes from it), so the entry that enrols it holds it
//! sealed under a key of the data directory (the app seals and opens; this module never sees the
//! key); a factor enrolled is an entry, and enrolling again replaces it.

use crate::account::ACCOUNT_HISTORY;
use crate::error::AccessError;
use hmac::{Hmac, Mac};
use kiroku_core::projection::{Column, TableRole, TableSpec, Value};
use kiroku_core::query::{BadRow, Query, Stored};
use kiroku_core::{
    AccountId, Actor, Change, Draft, EntryKind, EntryMeta, Invalid, Projection, Request, Timestamp,
};
use serde::{Deserialize, Serialize};

/// Seconds per TOTP step.
pub const STEP_SECONDS: i64 = 30;
/// Digits of a code.
pub const DIGITS: u32 = 6;
/// Bytes of a TOTP secret (160 bits, as RFC 4226 recommends).
pub const SECRET_BYTES: usize = 20;
/// The largest sealed secret accepted.
const SEALED_MAX: usize = 256;

/// Each account's second factor, sealed.
pub static SECOND_FACTORS: TableSpec = TableSpec {
    name: "access_second_factors",
    about: "Each account's enrolled second factor: the method and its secret sealed under the data directory's key (never in clear).",
    columns: &[
        Column::text("account"),
        Column::text("method"),
        Column::text("sealed"),
    ],
    key: 2,
    indexes: &[],
    role: TableRole::Plain,
};

/// The TOTP steps each account's codes were accepted at: claimed, so that a code is accepted
/// once — across restarts of the server and across every process sharing the database, as the
/// writer checks claims under the append lock.
pub static USED_STEPS: TableSpec = TableSpec {
    name: "access_totp_steps",
    about: "The TOTP steps at which each account's codes were accepted, each claimed once: a code works once, whatever the restarts and processes.",
    columns: &[
        Column::text("account"),
        Column::int("step"),
        Column::entry("entry"),
    ],
    key: 2,
    indexes: &[],
    role: TableRole::Claims { owner: "entry" },
};

/// `access.totp_step/1`: a code of `account`'s TOTP was accepted at `step`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StepUsed {
    /// The account.
    pub account: String,
    /// The step (seconds since 1970 ÷ 30).
    pub step: i64,
}

impl EntryKind for StepUsed {
    const KIND: &'static str = "access.totp_step/1";
    const PROJECTION: Projection = Projection::Into(&[&USED_STEPS]);

    fn check(&self, _: &EntryMeta<'_>) -> Result<(), Invalid> {
        AccountId::parse(&self.account).map_err(|_| Invalid {
            field: "account",
            why: "is not an account id",
        })?;
        if self.step < 0 {
            return Err(Invalid {
                field: "step",
                why: "is negative",
            });
        }
        Ok(())
    }

    fn project(&self, _: &EntryMeta<'_>, out: &mut Vec<Change>) {
        out.push(Change::upsert(
            &USED_STEPS,
            vec![
                Value::Text(self.account.clone()),
                Value::Int(self.step),
                Value::THIS_ENTRY,
            ],
        ));
    }

    fn example() -> Self {
        StepUsed {
            account: "sato.hanako".into(),
            step: 59_000_000,
        }
    }
}

/// The entry claiming `step` of `account`'s codes, appended with the successful attempt.
pub fn step_used(actor: Actor, account: &str, step: i64) -> Draft {
    Draft::new(
        actor,
        StepUsed {
            account: account.to_owned(),
            step,
        },
    )
}

/// The latest step at which `account`'s codes were accepted.
pub fn last_step(account: &str) -> Query {
    Query::table(&USED_STEPS, 1)
        .matching(vec![Value::Text(account.into())])
        .descending()
}

/// The step of a row of [`USED_STEPS`].
pub fn used_step(stored: &Stored) -> Result<i64, BadRow> {
    let cells = stored.cells(&USED_STEPS);
    i64::try_from(cells.uint(1)?).map_err(|_| cells.bad())
}

/// `access.second_factor/1`: `account` enrolled a TOTP second factor; `sealed` is the secret
/// sealed under the data directory's key (base64 of nonce and ciphertext).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FactorEnrolled {
    /// The account.
    pub account: String,
    /// `totp`.
    pub method: String,
    /// The sealed secret.
    pub sealed: String,
}

impl EntryKind for FactorEnrolled {
    const KIND: &'static str = "access.second_factor/1";
    const PROJECTION: Projection = Projection::Into(&[&SECOND_FACTORS, &ACCOUNT_HISTORY]);

    fn check(&self, _: &EntryMeta<'_>) -> Result<(), Invalid> {
        AccountId::parse(&self.account).map_err(|_| Invalid {
            field: "account",
            why: "is not an account id",
        })?;
        if self.method != "totp" {
            return Err(Invalid {
                field: "method",
                why: "must be totp",
            });
        }
        if self.sealed.is_empty() || self.sealed.len() > SEALED_MAX {
            return Err(Invalid {
                field: "sealed",
                why: "must be 1 to 256 characters",
            });
        }
        Ok(())
    }

    fn project(&self, meta: &EntryMeta<'_>, out: &mut Vec<Change>) {
        out.push(crate::account::history(
            meta,
            &self.account,
            "second_factor:totp",
        ));
        out.push(Change::upsert(
            &SECOND_FACTORS,
            vec![
                Value::Text(self.account.clone()),
                Value::Text(self.method.clone()),
                Value::Text(self.sealed.clone()),
            ],
        ));
    }

    fn example() -> Self {
        FactorEnrolled {
            account: "sato.hanako".into(),
            method: "totp".into(),
            sealed: "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA".into(),
        }
    }
}

/// An enrolled factor, sealed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Enrolled {
    /// The method (`totp`).
    pub method: String,
    /// The sealed secret.
    pub sealed: String,
}

impl Enrolled {
    /// The query for `account`'s factors.
    pub fn of(account: &str) -> Query {
        Query::table(&SECOND_FACTORS, 4).matching(vec![Value::Text(account.into())])
    }

    /// Decodes a row of [`SECOND_FACTORS`].
    pub fn from_row(stored: &Stored) -> Result<Enrolled, BadRow> {
        let c = stored.cells(&SECOND_FACTORS);
        Ok(Enrolled {
            method: c.text(1)?,
            sealed: c.text(2)?,
        })
    }
}

/// The entry enrolling `account`'s TOTP secret, sealed: by the account itself (the caller has
/// checked a code made with it, so the person holds it), or by the operator issuing it to the
/// person (as the demo does).
pub fn enrol(actor: Actor, account: &str, sealed: String) -> Result<Request, AccessError> {
    if actor.account.as_str() != account && actor.account != AccountId::operator() {
        return Err(AccessError::OwnMatter(
            "a second factor is enrolled by its own account",
        ));
    }
    let draft = Draft::new(
        actor,
        FactorEnrolled {
            account: account.into(),
            method: "totp".into(),
            sealed,
        },
    );
    Ok(Request::one(draft))
}

/// The TOTP step of `time`.
pub fn step_of(time: Timestamp) -> i64 {
    time.micros().div_euclid(1_000_000).div_euclid(STEP_SECONDS)
}

/// The code of `secret` at step `step` (RFC 4226's HOTP with the step as counter).
pub fn code_at(secret: &[u8], step: i64) -> u32 {
    let Ok(mut mac) = Hmac::<sha1::Sha1>::new_from_slice(secret) else {
        return u32::MAX;
    };
    mac.update(&step.to_be_bytes());
    let digest = mac.finalize().into_bytes();
    let offset = usize::from(digest[19] & 0x0f);
    let binary = u32::from_be_bytes([
        digest[offset] & 0x7f,
        digest[offset + 1],
        digest[offset + 2],
        digest[offset + 3],
    ]);
    binary % 10u32.pow(DIGITS)
}

/// The code of `secret` at `time`, as six digits.
pub fn code(secret: &[u8], time: Timestamp) -> String {
    format!("{:06}", code_at(secret, step_of(time)))
}

/// Checks `given` against `secret` at `now`, accepting the steps either side; refuses a step
/// at or before `last_used` (a code is good once). Returns the step it matched.
pub fn verify(secret: &[u8], given: &str, now: Timestamp, last_used: Option<i64>) -> Option<i64> {
    let given = given.trim().replace([' ', '-'], "");
    if given.len() != DIGITS as usize || !given.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let value: u32 = given.parse().ok()?;
    let now = step_of(now);
    [now - 1, now, now + 1]
        .into_iter()
        .find(|step| last_used.is_none_or(|used| *step > used) && code_at(secret, *step) == value)
}

/// RFC 4648 base32 without padding, as authenticator apps take a secret.
pub fn base32(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let mut out = String::new();
    let (mut buffer, mut bits) = (0u32, 0u32);
    for byte in bytes {
        buffer = (buffer << 8) | u32::from(*byte);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            out.push(char::from(ALPHABET[((buffer >> bits) & 31) as usize]));
        }
    }
    if bits > 0 {
        out.push(char::from(ALPHABET[((buffer << (5 - bits)) & 31) as usize]));
    }
    out
}

/// Decodes [`base32`] (case and spaces ignored).
pub fn from_base32(text: &str) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    let (mut buffer, mut bits) = (0u32, 0u32);
    for c in text
        .bytes()
        .filter(|b| !b.is_ascii_whitespace() && *b != b'=')
    {
        let v = match c.to_ascii_uppercase() {
            b @ b'A'..=b'Z' => b - b'A',
            b @ b'2'..=b'7' => b - b'2' + 26,
            _ => return None,
        };
        buffer = (buffer << 5) | u32::from(v);
        bits += 5;
        if bits >= 8 {
            bits -= 8;
            out.push(((buffer >> bits) & 0xff) as u8);
        }
    }
    Some(out)
}

/// The `otpauth://` URI an authenticator app reads (as a QR code or pasted).
pub fn otpauth_uri(issuer: &str, account: &str, secret: &[u8]) -> String {
    let enc = |s: &str| -> String {
        s.bytes()
            .map(|b| match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' => {
                    char::from(b).to_string()
                }
                _ => format!("%{b:02X}"),
            })
            .collect()
    };
    format!(
        "otpauth://totp/{}:{}?secret={}&issuer={}&algorithm=SHA1&digits={DIGITS}&period={STEP_SECONDS}",
        enc(issuer),
        enc(account),
        base32(secret),
        enc(issuer)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(seconds: i64) -> Timestamp {
        Timestamp::from_micros(seconds * 1_000_000).unwrap()
    }

    // Shows the codes of RFC 6238's appendix B (SHA-1, eight digits there; the last six here)
    // and base32 both ways.
    #[test]
    fn rfc_6238_test_vectors() {
        let secret = b"12345678901234567890";
        for (time, eight) in [
            (59, 94287082u32),
            (1_111_111_109, 7081804),
            (1_111_111_111, 14050471),
            (1_234_567_890, 89005924),
            (2_000_000_000, 69279037),
        ] {
            assert_eq!(
                code_at(secret, time / STEP_SECONDS),
                eight % 1_000_000,
                "{time}"
            );
            assert_eq!(code(secret, at(time)), format!("{:06}", eight % 1_000_000));
        }
        assert_eq!(base32(b"foobar"), "MZXW6YTBOI");
        assert_eq!(from_base32("mzxw 6ytb oi").unwrap(), b"foobar");
        assert_eq!(from_base32(&base32(secret)).unwrap(), secret);
        assert_eq!(from_base32("1"), None);
    }

    // Shows the window (one step either side), the refusal of a used step, and of malformed
    // input.
    #[test]
    fn verification_window_and_replay() {
        let secret = b"12345678901234567890";
        let now = at(1_111_111_111);
        let step = step_of(now);
        let before = format!("{:06}", code_at(secret, step - 1));
        let after = format!("{:06}", code_at(secret, step + 1));
        let far = format!("{:06}", code_at(secret, step + 2));
        assert_eq!(verify(secret, &before, now, None), Some(step - 1));
        assert_eq!(verify(secret, &after, now, None), Some(step + 1));
        assert_eq!(verify(secret, &far, now, None), None);
        let current = code(secret, now);
        assert_eq!(verify(secret, &current, now, Some(step)), None, "used once");
        assert_eq!(
            verify(
                secret,
                &format!(" {} {}", &current[..3], &current[3..]),
                now,
                None
            ),
            Some(step)
        );
        for bad in ["", "12345", "1234567", "abcdef"] {
            assert_eq!(verify(secret, bad, now, None), None, "{bad:?}");
        }
    }
}
