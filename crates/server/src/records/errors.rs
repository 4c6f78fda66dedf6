//! The records wing's refusals as catalogued codes: the use cases' errors, the records' rules,
//! transactions and the FHIR and JP Core checks (the latter with where each problem is).

use crate::catalogue::Code;
use crate::error::AppError;
use kiroku_app::records::chart::NoteError as ClinicalNoteError;
use kiroku_app::records::{ProxyError, SearchError};
use kiroku_records::emergency::EmergencyError;
use kiroku_records::json::JsonError;
use kiroku_records::record::{ConfirmError, RecordError};
use kiroku_records::resource::ResourceError;
use kiroku_records::transaction::{Problem, TransactionError};
use kiroku_records::validate::{Invalid, What};

impl From<kiroku_app::records::Error> for AppError {
    fn from(error: kiroku_app::records::Error) -> AppError {
        use kiroku_app::records::Error;
        match error {
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
