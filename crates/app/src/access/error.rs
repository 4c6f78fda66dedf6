//! Why a use case of the access wing failed: people and access — signing in, second factors and
//! passkeys, system clients and their tokens, reports and reviews, and the access rules' refusals.
//! The edges turn each into a status and a message in the user's language (the server's `access/`
//! wing maps them to codes).

/// Why a use case of the access wing failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A command about people and access was refused by its rule.
    #[error(transparent)]
    Rule(#[from] kiroku_access::AccessError),
    /// No such account.
    #[error("account {0} does not exist")]
    NoSuchAccount(String),
    /// The account id or secret is wrong (which, is not said).
    #[error("the account id or the password is wrong")]
    SignInFailed,
    /// Too many failed attempts: the account is locked until then.
    #[error("the account is locked until {0}")]
    Locked(kiroku_core::Timestamp),
    /// The account is suspended, deactivated or outside its validity period.
    #[error("the account cannot be used")]
    AccountInactive,
    #[error("the second factor's code is wrong")]
    SecondFactorFailed,
    #[error("no second factor was offered to this session")]
    NoFactorOffered,
    /// Passkeys need the server's public URL configured (or the browser at `localhost`).
    #[error("passkeys are not available: public_url is not configured")]
    PasskeysUnavailable,
    /// The passkey's answer came without a live challenge of this session (none given,
    /// already answered, or older than five minutes).
    #[error("no live passkey challenge")]
    NoPasskeyChallenge,
    /// A new passkey's creation was refused.
    #[error("the passkey was refused: {0}")]
    PasskeyRefused(kiroku_access::passkey::PasskeyError),
    /// The account has no passkey.
    #[error("the account has no passkey")]
    NoPasskey,
    /// The passkey's answer did not verify.
    #[error("the passkey did not verify")]
    PasskeyFailed,
    /// The client id or secret at the token endpoint is wrong (which, is not said).
    #[error("the client id or secret is wrong")]
    ClientAuthFailed,
    /// No system client of that id.
    #[error("no system client {0}")]
    NoSuchClient(String),
    /// No live token of that id.
    #[error("no such token")]
    NoSuchToken,
    /// No status-change report of that id.
    #[error("no report {0}")]
    NoSuchReport(u64),
    /// No access review of that id.
    #[error("no access review {0}")]
    NoSuchReview(u64),
    /// A new password breaks a rule.
    #[error(transparent)]
    Password(#[from] kiroku_access::password::PasswordError),
}
