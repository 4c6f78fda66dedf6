//! Why an access rule refused a command. Each variant is one error code of the API, with its
//! Japanese and English text in the server's catalogue; messages name fields and ids, never a
//! person's details.

use crate::role::Role;

/// Why a command about departments, applications, accounts or roles was refused before
/// anything was written.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum AccessError {
    /// A field of the command is malformed; `why` is static text.
    #[error("`{field}` {why}")]
    Invalid {
        /// The field.
        field: &'static str,
        /// What is wrong.
        why: &'static str,
    },
    /// The actor does not hold the role the step needs (for this department, where it matters).
    #[error("this needs the role {role:?}, held today")]
    NotPermitted {
        /// The role the step needs.
        role: Role,
    },
    /// Separation of duties: the actor took an earlier part in this matter, or it is about
    /// themselves.
    #[error("separation of duties: {0}")]
    OwnMatter(&'static str),
    /// The department or job type does not exist or is retired.
    #[error("unknown or retired {what}: {code}")]
    UnknownCode {
        /// `department` or `job_type`.
        what: &'static str,
        /// The code given.
        code: String,
    },
    /// The account does not exist.
    #[error("no account {0}")]
    NoAccount(String),
    /// The account id is already taken (or reserved).
    #[error("the account id {0} is taken")]
    AccountTaken(String),
    /// The application does not exist.
    #[error("no application {0}")]
    NoApplication(u64),
    /// The matter has moved on since it was read: another step was taken first.
    #[error("it is at version {current}, not {expected}")]
    Stale {
        /// The version the actor saw.
        expected: u64,
        /// The version it is at.
        current: u64,
    },
    /// The step does not apply in the matter's present state.
    #[error("cannot {step} in state {state}")]
    WrongState {
        /// What was tried.
        step: &'static str,
        /// The state it is in.
        state: &'static str,
    },
    /// The role is already held (by this account, for this department).
    #[error("the role is already held")]
    AlreadyHeld,
    /// The role is not held.
    #[error("the role is not held")]
    NotHeld,
    /// Holding both roles would let one person check their own work.
    #[error("the roles {held:?} and {wanted:?} may not be held together")]
    ConflictingRoles {
        /// A role the account holds.
        held: Role,
        /// The role it would be given.
        wanted: Role,
    },
    /// A token was asked for a scope the client was not granted.
    #[error("a scope asked for is not granted to the client")]
    ScopeNotGranted,
    /// A reason is needed and none was given (or it is too long).
    #[error("a reason of 1–2048 bytes without control characters is required")]
    Reason,
    /// A passkey's name is empty, too long or holds control characters.
    #[error("a passkey's name must be 1–64 characters without control characters")]
    PasskeyLabel,
    /// The account has as many passkeys as it may.
    #[error("an account may register at most {0} passkeys")]
    TooManyPasskeys(usize),
    /// The passkey is registered already.
    #[error("the passkey is registered already")]
    PasskeyRegistered,
    /// The account has no such passkey.
    #[error("no such passkey")]
    NoSuchPasskey,
    /// Removing it would leave the account without a second factor.
    #[error("the last second factor cannot be removed")]
    LastFactor,
}

/// A static description of a malformed field.
pub(crate) fn invalid(field: &'static str, why: &'static str) -> AccessError {
    AccessError::Invalid { field, why }
}

/// Checks a reason: present, at most the entry's limit, no control characters but newline and
/// tab.
pub(crate) fn check_reason(reason: &str) -> Result<(), AccessError> {
    if reason.trim().is_empty()
        || reason.len() > kiroku_core::entry::REASON_BYTES_MAX
        || reason
            .chars()
            .any(|c| c.is_control() && c != '\n' && c != '\t')
    {
        return Err(AccessError::Reason);
    }
    Ok(())
}

/// Checks a short human text (a name, a title): 1–`max` characters, not only spaces, no
/// control characters.
pub(crate) fn check_name(field: &'static str, text: &str, max: usize) -> Result<(), AccessError> {
    if text.trim().is_empty() {
        return Err(invalid(field, "is empty"));
    }
    if text.chars().count() > max {
        return Err(invalid(field, "is too long"));
    }
    if text.chars().any(char::is_control) {
        return Err(invalid(field, "holds control characters"));
    }
    if text.trim() != text {
        return Err(invalid(field, "begins or ends with spaces"));
    }
    Ok(())
}

/// Checks a code (of a department or job type): 1–32 of `a–z`, `0–9`, `_` and `-`.
pub(crate) fn check_code(field: &'static str, code: &str) -> Result<(), AccessError> {
    let ok = !code.is_empty()
        && code.len() <= 32
        && code
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-');
    if ok {
        Ok(())
    } else {
        Err(invalid(field, "is not a code of 1–32 a–z, 0–9, _ and -"))
    }
}

impl From<kiroku_core::Invalid> for AccessError {
    fn from(e: kiroku_core::Invalid) -> AccessError {
        invalid(e.field, e.why)
    }
}
