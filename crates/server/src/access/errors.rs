//! The access wing's refusals as catalogued codes: the use cases' errors and the access rules'.

use crate::catalogue::Code;
use crate::error::AppError;
use kiroku_access::AccessError;

impl From<kiroku_app::access::Error> for AppError {
    fn from(error: kiroku_app::access::Error) -> AppError {
        use kiroku_app::access::Error;
        match error {
            Error::Rule(e) => e.into(),
            Error::SignInFailed => AppError::new(Code::SignInFailed),
            Error::Locked(until) => AppError::new(Code::AccountLocked)
                .with("until", crate::i18n::Lang::En.datetime(until)),
            Error::AccountInactive => AppError::new(Code::AccountInactive),
            Error::SecondFactorFailed => AppError::new(Code::SecondFactorFailed),
            Error::NoFactorOffered => AppError::new(Code::NoFactorOffered),
            Error::PasskeysUnavailable => AppError::new(Code::PasskeysUnavailable),
            Error::NoPasskeyChallenge => AppError::new(Code::NoPasskeyChallenge),
            Error::PasskeyRefused(why) => {
                use kiroku_access::passkey::PasskeyError;
                AppError::new(match why {
                    PasskeyError::WrongOrigin | PasskeyError::WrongRelyingParty => {
                        Code::PasskeyWrongSite
                    }
                    PasskeyError::UnsupportedAlgorithm => Code::PasskeyUnsupported,
                    _ => Code::PasskeyRefused,
                })
            }
            Error::NoPasskey => AppError::new(Code::NoPasskey),
            Error::PasskeyFailed => AppError::new(Code::PasskeyFailed),
            Error::ClientAuthFailed => AppError::new(Code::ClientAuthFailed),
            Error::NoSuchClient(client) => AppError::new(Code::NoSuchClient).with("client", client),
            Error::NoSuchToken => AppError::new(Code::NoSuchToken),
            Error::NoSuchReport(id) => AppError::new(Code::NoSuchReport).with("report", id),
            Error::NoSuchReview(id) => AppError::new(Code::NoSuchReview).with("review", id),
            Error::Password(e) => AppError::new(Code::PasswordRejected).with("why", e),
            Error::NoSuchAccount(account) => {
                AppError::new(Code::NoSuchAccount).with("account", account)
            }
        }
    }
}

impl From<AccessError> for AppError {
    fn from(error: AccessError) -> AppError {
        match error {
            AccessError::Invalid { field, why } => AppError::new(Code::InvalidField)
                .with("field", field)
                .with("why", why),
            AccessError::NotPermitted { role } => {
                AppError::new(Code::NotPermitted).with("role", role.as_str())
            }
            AccessError::OwnMatter(detail) => {
                AppError::new(Code::SeparationOfDuties).with("detail", detail)
            }
            AccessError::UnknownCode { what, code } => AppError::new(Code::UnknownCode)
                .with("what", what)
                .with("code", code),
            AccessError::NoAccount(account) => {
                AppError::new(Code::NoSuchAccount).with("account", account)
            }
            AccessError::AccountTaken(account) => {
                AppError::new(Code::AccountTaken).with("account", account)
            }
            AccessError::NoApplication(id) => {
                AppError::new(Code::NoSuchApplication).with("application", id)
            }
            AccessError::Stale { expected, current } => AppError::new(Code::StaleRecord)
                .with("expected", expected)
                .with("current", current),
            AccessError::WrongState { step, state } => AppError::new(Code::WrongState)
                .with("step", step)
                .with("state", state),
            AccessError::AlreadyHeld => AppError::new(Code::RoleAlreadyHeld),
            AccessError::NotHeld => AppError::new(Code::RoleNotHeld),
            AccessError::ConflictingRoles { held, wanted } => AppError::new(Code::ConflictingRoles)
                .with("held", held.as_str())
                .with("wanted", wanted.as_str()),
            AccessError::Reason => AppError::new(Code::ReasonMissing),
            AccessError::ScopeNotGranted => AppError::new(Code::ScopeNotGranted),
            AccessError::PasskeyLabel => AppError::new(Code::PasskeyLabel),
            AccessError::TooManyPasskeys(max) => {
                AppError::new(Code::TooManyPasskeys).with("max", max)
            }
            AccessError::PasskeyRegistered => AppError::new(Code::PasskeyRegistered),
            AccessError::NoSuchPasskey => AppError::new(Code::NoSuchPasskey),
            AccessError::LastFactor => AppError::new(Code::LastFactor),
        }
    }
}
