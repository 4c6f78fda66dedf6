//! The ops wing's refusals as catalogued codes: the use cases' errors and the notes' rules.

use crate::catalogue::Code;
use crate::error::AppError;
use kiroku_ops::amendment::AmendError;
use kiroku_ops::note::NoteError;

impl From<kiroku_app::ops::Error> for AppError {
    fn from(error: kiroku_app::ops::Error) -> AppError {
        use kiroku_app::ops::Error;
        match error {
            Error::Note(e) => e.into(),
            Error::Amend(e) => e.into(),
            Error::NoSuchNote(note) => AppError::new(Code::NoSuchNote).with("note", note),
            Error::KeyReused(note) => AppError::new(Code::IdempotencyKeyReused).with("note", note),
        }
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
