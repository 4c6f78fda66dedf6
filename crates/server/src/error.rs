//! One error type for every handler. It carries a catalogued [`Code`] and the values of its
//! placeholders; a middleware renders it in the request's language, as JSON for the API and the
//! ledger endpoints and as a page for the web UI. An internal cause is logged, never sent.

use crate::catalogue::{fill, Code};
use axum::response::{IntoResponse, Response};
use kiroku_access::AccessError;
use kiroku_app::ops::ledger::ReadFailure;
use kiroku_app::records::chart::NoteError as ClinicalNoteError;
use kiroku_app::records::{ProxyError, SearchError};
use kiroku_app::Error;
use kiroku_core::Conflict;
use kiroku_ops::amendment::AmendError;
use kiroku_ops::note::NoteError;
use kiroku_policy::PolicyError;
use kiroku_records::emergency::EmergencyError;
use kiroku_records::json::JsonError;
use kiroku_records::record::{ConfirmError, RecordError};
use kiroku_records::resource::ResourceError;
use kiroku_records::transaction::{Problem, TransactionError};
use kiroku_records::validate::{Invalid, What};

/// An error answered to a client.
#[derive(Clone, Debug)]
pub struct AppError {
    /// What it is.
    pub code: Code,
    /// Values of the message's placeholders.
    pub values: Vec<(&'static str, String)>,
    /// Problems found in one document, each with where it is (a FHIRPath expression); a
    /// FHIR OperationOutcome lists them as issues.
    pub issues: Vec<(String, AppError)>,
    /// The patient whose records a break-the-glass access would open: the error page offers
    /// one.
    pub emergency: Option<String>,
}

impl AppError {
    /// An error without placeholders.
    pub fn new(code: Code) -> AppError {
        AppError {
            code,
            values: Vec::new(),
            issues: Vec::new(),
            emergency: None,
        }
    }

    /// Offering a break-the-glass access to `patient`'s records, when the error is the want of
    /// a care relationship.
    pub fn offering_emergency(mut self, patient: &str) -> AppError {
        if self.code == Code::NoCareRelationship {
            self.emergency = Some(patient.to_owned());
        }
        self
    }

    /// With a placeholder's value.
    pub fn with(mut self, name: &'static str, value: impl ToString) -> AppError {
        self.values.push((name, value.to_string()));
        self
    }

    /// The message in Japanese.
    pub fn ja(&self) -> String {
        fill(self.code.ja(), &self.values)
    }

    /// The message in English.
    pub fn en(&self) -> String {
        fill(self.code.en(), &self.values)
    }

    /// The message in `lang`.
    pub fn message(&self, lang: crate::i18n::Lang) -> String {
        match lang {
            crate::i18n::Lang::Ja => self.ja(),
            crate::i18n::Lang::En => self.en(),
        }
    }

    /// 404.
    pub fn not_found() -> AppError {
        AppError::new(Code::NotFound)
    }

    /// 500, with the cause logged here and not sent.
    pub fn internal(cause: &dyn std::fmt::Display) -> AppError {
        tracing::error!(%cause, "internal error");
        AppError::new(Code::Internal)
    }

    /// 503, with the cause logged here and not sent.
    pub fn unavailable(cause: &dyn std::fmt::Display) -> AppError {
        tracing::error!(%cause, "service unavailable");
        AppError::new(Code::Unavailable)
    }
}

impl IntoResponse for AppError {
    /// Leaves the body to the localising middleware, which knows the request's language.
    fn into_response(self) -> Response {
        let mut response = self.code.status().into_response();
        response.extensions_mut().insert(self);
        response
    }
}

impl From<NoteError> for AppError {
    fn from(error: NoteError) -> AppError {
        AppError::new(match error {
            NoteError::Missing => Code::NoteMissing,
            NoteError::Empty => Code::NoteEmpty,
            NoteError::TooLong => Code::NoteTooLong,
            NoteError::ControlCharacters => Code::NoteControl,
            NoteError::BadTag => Code::BadTag,
            NoteError::TooManyTags => Code::TooManyTags,
            NoteError::BadKey => Code::BadIdempotencyKey,
        })
    }
}

impl From<AmendError> for AppError {
    fn from(error: AmendError) -> AppError {
        match error {
            AmendError::Stale { expected, current } => AppError::new(Code::StaleVersion)
                .with("expected", expected)
                .with("current", current),
            AmendError::Withdrawn => AppError::new(Code::NoteWithdrawn),
            AmendError::Unchanged => AppError::new(Code::NoteUnchanged),
            AmendError::Note(e) => e.into(),
            AmendError::Reason => AppError::new(Code::ReasonRequired),
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

impl From<PolicyError> for AppError {
    fn from(error: PolicyError) -> AppError {
        match error {
            PolicyError::Denied(action) => AppError::new(Code::PolicyDenied).with("action", action),
            PolicyError::LocksOut(action) => {
                AppError::new(Code::PolicyLocksOut).with("action", action)
            }
            PolicyError::Superseded {
                version,
                based_on,
                in_force,
            } => AppError::new(Code::PolicySuperseded)
                .with("version", version)
                .with("based_on", based_on)
                .with("in_force", in_force),
            PolicyError::Stale { expected, found } => AppError::new(Code::StaleRecord)
                .with("expected", expected)
                .with("current", found),
            PolicyError::WrongState { step, state, .. } => AppError::new(Code::WrongState)
                .with("step", step)
                .with("state", state),
            PolicyError::OwnProposal => AppError::new(Code::SeparationOfDuties)
                .with("detail", "nobody approves their own policy proposal"),
            PolicyError::ReasonRequired => AppError::new(Code::ReasonMissing),
            PolicyError::NoVersion(v) => {
                AppError::new(Code::NoSuchPolicyVersion).with("version", v)
            }
            PolicyError::NoneInForce => AppError::new(Code::NoPolicyInForce),
            PolicyError::Internal(cause) | PolicyError::Request(cause) => {
                tracing::error!(%cause, "the policy engine failed");
                AppError::new(Code::Corrupt)
            }
            e @ (PolicyError::Parse(_)
            | PolicyError::Invalid(_)
            | PolicyError::Unnamed(_)
            | PolicyError::DuplicateId(_)
            | PolicyError::Templates
            | PolicyError::TooLong { .. }) => AppError::new(Code::PolicyInvalid).with("detail", e),
        }
    }
}

impl From<Conflict> for AppError {
    fn from(conflict: Conflict) -> AppError {
        match conflict {
            Conflict::Version {
                table,
                expected,
                found,
                ..
            } => AppError::new(if table == kiroku_ops::note::NOTES.name {
                Code::StaleVersion
            } else {
                Code::StaleRecord
            })
            .with("expected", expected)
            .with("current", found),
            other => AppError::new(Code::Conflict).with("detail", other),
        }
    }
}

impl From<Error> for AppError {
    fn from(error: Error) -> AppError {
        match error {
            Error::Unauthorized => AppError::new(Code::Unauthorized),
            Error::Note(e) => e.into(),
            Error::Amend(e) => e.into(),
            Error::NoSuchNote(note) => AppError::new(Code::NoSuchNote).with("note", note),
            Error::Conflict(conflict) => conflict.into(),
            Error::Access(e) => e.into(),
            Error::Policy(e) => e.into(),
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
            Error::KeyReused(note) => AppError::new(Code::IdempotencyKeyReused).with("note", note),
            Error::Invalid(detail) => AppError::new(Code::InvalidEntry).with("detail", detail),
            Error::Refused(detail) => AppError::new(Code::InvalidEntry).with("detail", detail),
            Error::Corrupt(cause) => {
                tracing::error!(%cause, "stored data is inconsistent");
                AppError::new(Code::Corrupt)
            }
            Error::Unavailable(cause) => AppError::unavailable(&cause),
            Error::Record(e) => e.into(),
            Error::Confirm(ConfirmError::NotLatest { latest }) => {
                AppError::new(Code::ConfirmNotLatest).with("latest", latest)
            }
            Error::Confirm(ConfirmError::NotDraft) => AppError::new(Code::ConfirmNotDraft),
            Error::Confirm(ConfirmError::Trainee) => AppError::new(Code::ConfirmTrainee),
            Error::Confirm(ConfirmError::NotDoctor) => AppError::new(Code::ConfirmNotDoctor),
            Error::Confirm(ConfirmError::NotSupervisor) => {
                AppError::new(Code::ConfirmNotSupervisor)
            }
            Error::Confirm(ConfirmError::NotResponsible) => {
                AppError::new(Code::ConfirmNotResponsible)
            }
            Error::ClinicalNote(e) => match e {
                ClinicalNoteError::Empty => AppError::new(Code::ClinicalNoteEmpty),
                ClinicalNoteError::TooLong => AppError::new(Code::ClinicalNoteTooLong)
                    .with("max", kiroku_app::records::chart::SECTION_CHARS_MAX),
                ClinicalNoteError::Encounter => AppError::new(Code::ClinicalNoteEncounter),
                ClinicalNoteError::NotANote => AppError::new(Code::NotANote),
            },
            Error::Proxy(e) => AppError::new(match e {
                ProxyError::Oneself => Code::ProxyOneself,
                ProxyError::NoSuchClinician => Code::ProxyNoSuchClinician,
                ProxyError::ClinicianMayNotWrite => Code::ProxyClinicianMayNotWrite,
            }),
            Error::Search(e) => match e {
                SearchError::Unknown(name) => {
                    AppError::new(Code::SearchUnknownParameter).with("name", name)
                }
                SearchError::BadValue(name) => {
                    AppError::new(Code::SearchBadValue).with("name", name)
                }
                SearchError::TooMany => {
                    AppError::new(Code::SearchTooMany).with("max", kiroku_app::records::MATCHES_MAX)
                }
            },
            Error::NoSuchResourceType => AppError::new(Code::NoSuchResourceType),
            Error::NoSuchResource => AppError::new(Code::NoSuchResource),
            Error::Gone { version } => {
                AppError::new(Code::ResourceDeleted).with("version", version)
            }
            Error::IdMismatch => AppError::new(Code::ResourceIdMismatch),
            Error::VersionMismatch { expected, found } => AppError::new(Code::VersionMismatch)
                .with("expected", expected)
                .with("found", found),
            Error::IdentifierTaken => AppError::new(Code::IdentifierTaken),
            Error::RecordDenied(action) => AppError::new(Code::RecordDenied).with("action", action),
            Error::NoCareRelationship(action) => {
                AppError::new(Code::NoCareRelationship).with("action", action)
            }
            Error::AssignmentReason => AppError::new(Code::AssignmentReason),
            Error::Emergency(e) => AppError::new(match e {
                EmergencyError::NotNeeded => Code::EmergencyNotNeeded,
                EmergencyError::Reason => Code::EmergencyReason,
                EmergencyError::Minutes => Code::EmergencyMinutes,
                EmergencyError::NotWaiting => Code::EmergencyNotWaiting,
                EmergencyError::OwnAccess => Code::EmergencyOwnAccess,
                EmergencyError::Note => Code::EmergencyNote,
            }),
            Error::Transaction(e) => e.into(),
            Error::InEntry { entry, error } => AppError::from(*error).with("entry", entry),
        }
    }
}

impl From<TransactionError> for AppError {
    fn from(error: TransactionError) -> AppError {
        match error {
            TransactionError::Body(e) => RecordError::Resource(e).into(),
            TransactionError::NotTransaction => AppError::new(Code::TransactionNotTransaction),
            TransactionError::Size => AppError::new(Code::TransactionSize)
                .with("max", kiroku_records::transaction::ENTRIES_MAX),
            TransactionError::Request { entry, problem } => AppError::new(match problem {
                Problem::NoRequest => Code::TransactionNoRequest,
                Problem::NoResource => Code::TransactionNoResource,
                Problem::Method => Code::TransactionMethod,
                Problem::Url => Code::TransactionUrl,
                Problem::BadId => Code::ResourceBadId,
                Problem::IdMismatch => Code::ResourceIdMismatch,
                Problem::BadIfMatch => Code::TransactionBadIfMatch,
                Problem::BadIfNoneExist => Code::TransactionBadIfNoneExist,
                Problem::Condition => Code::TransactionCondition,
            })
            .with("entry", entry),
            TransactionError::Resource { entry, error } => {
                AppError::from(RecordError::Resource(error)).with("entry", entry)
            }
            TransactionError::Invalid { entry, invalid } => {
                AppError::from(RecordError::Invalid(invalid)).with("entry", entry)
            }
            TransactionError::Duplicate { entry } => {
                AppError::new(Code::TransactionDuplicate).with("entry", entry)
            }
        }
    }
}

impl From<RecordError> for AppError {
    fn from(error: RecordError) -> AppError {
        match error {
            RecordError::Resource(e) => match e {
                ResourceError::Json(JsonError::Syntax { offset, .. }) => {
                    AppError::new(Code::ResourceNotJson).with("offset", offset)
                }
                ResourceError::Json(JsonError::DuplicateKey { offset }) => {
                    AppError::new(Code::ResourceDuplicateName).with("offset", offset)
                }
                ResourceError::Json(JsonError::TooDeep { offset }) => {
                    AppError::new(Code::ResourceTooDeep).with("offset", offset)
                }
                ResourceError::NotObject => AppError::new(Code::ResourceNotObject),
                ResourceError::NoType => AppError::new(Code::ResourceNoType),
                ResourceError::UnknownType => AppError::new(Code::ResourceUnknownType),
                ResourceError::WrongType => AppError::new(Code::ResourceWrongType),
                ResourceError::BadId => AppError::new(Code::ResourceBadId),
                ResourceError::BadMeta => AppError::new(Code::ResourceBadMeta),
                ResourceError::ControlCharacter => AppError::new(Code::ResourceControlCharacter),
            },
            RecordError::ReasonRequired => AppError::new(Code::RecordReasonRequired),
            RecordError::NoPatient(kind) => AppError::new(Code::RecordNoPatient).with("type", kind),
            RecordError::Invalid(invalid) => invalid_resource(&invalid),
            RecordError::ProxyNotConfirmed(kind) => {
                AppError::new(Code::ProxyNotConfirmed).with("type", kind)
            }
        }
    }
}

/// A resource that does not conform: one error naming the count and the first place, with every
/// problem as an issue. Only element names, types, codes and profile values are named, never a
/// value that was sent.
fn invalid_resource(invalid: &Invalid) -> AppError {
    let first = invalid
        .problems
        .first()
        .map(|p| p.expression.clone())
        .unwrap_or_default();
    let mut error = AppError::new(Code::ResourceInvalid)
        .with("count", invalid.problems.len())
        .with("at", first);
    for problem in &invalid.problems {
        let issue = match &problem.what {
            What::Unknown => AppError::new(Code::FhirUnknown),
            What::NotArray => AppError::new(Code::FhirNotArray),
            What::NotSingle => AppError::new(Code::FhirNotSingle),
            What::Empty => AppError::new(Code::FhirEmpty),
            What::TooFew { min } => AppError::new(Code::FhirTooFew).with("min", min),
            What::TooMany { max } => AppError::new(Code::FhirTooMany).with("max", max),
            What::Format { of } => AppError::new(Code::FhirFormat).with("type", of),
            What::Binding { value_set } => {
                AppError::new(Code::FhirBinding).with("valueset", value_set)
            }
            What::Pattern { pattern } => AppError::new(Code::FhirPattern).with("pattern", pattern),
            What::Slice { name, min, max } => AppError::new(Code::FhirSlice)
                .with("slice", name)
                .with("min", min)
                .with("max", max.map_or_else(|| "*".to_owned(), |m| m.to_string())),
            What::SliceMember { name, member } => AppError::new(Code::FhirSliceMember)
                .with("slice", name)
                .with("member", member),
            What::Closed => AppError::new(Code::FhirClosed),
            What::ResourceType => AppError::new(Code::FhirResourceType),
            What::Extension => AppError::new(Code::FhirExtension),
        };
        error.issues.push((
            problem.expression.clone(),
            issue.with("at", &problem.expression),
        ));
    }
    error
}

impl From<ReadFailure> for AppError {
    fn from(error: ReadFailure) -> AppError {
        match error {
            ReadFailure::OutOfRange { signed, .. } => {
                AppError::new(Code::BeyondTree).with("size", signed)
            }
            ReadFailure::Failed(e) => e.into(),
        }
    }
}
