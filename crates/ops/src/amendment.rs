//! Amending and withdrawing operators' notes. A correction never rewrites: it is a new entry
//! that raises the note's version by one, states why, and keeps the earlier versions. The rule
//! checks the version the operator saw against the note as it stands; the writer checks it
//! again under the append lock (the note's row is a stream), so of two amendments made from
//! one version exactly one wins and the other gets a conflict.

use crate::note::{
    check_tags, check_text, invalid, NoteError, NoteState, State, NOTES, NOTE_TAGS, NOTE_VERSIONS,
};
use kiroku_core::projection::Value;
use kiroku_core::{
    Actor, Change, Draft, EntryIndex, EntryKind, EntryMeta, Invalid, Projection, Request,
};
use serde::{Deserialize, Serialize};

/// `ledger.note_amendment/1`: version `version` of note `note` replaces the text and changes
/// the tags. The entry's reason says why.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NoteAmendment {
    /// The note (the index of the entry that wrote it).
    pub note: u64,
    /// The version this amendment makes (2 or more).
    pub version: u64,
    /// The new text.
    pub text: String,
    /// Tags added.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub add_tags: Vec<String>,
    /// Tags removed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub remove_tags: Vec<String>,
}

fn check_reason(meta: &EntryMeta<'_>) -> Result<(), Invalid> {
    if meta.reason.is_none() {
        return Err(Invalid {
            field: "reason",
            why: "is required",
        });
    }
    Ok(())
}

fn check_version(version: u64) -> Result<(), Invalid> {
    if version < 2 {
        return Err(Invalid {
            field: "version",
            why: "must be 2 or more",
        });
    }
    Ok(())
}

/// The history row of a version after the first.
fn version_row(
    meta: &EntryMeta<'_>,
    note: u64,
    version: u64,
    change: &str,
    text: Option<&str>,
) -> Change {
    Change::upsert(
        &NOTE_VERSIONS,
        vec![
            note_value(note),
            version_value(version),
            Value::THIS_ENTRY,
            Value::Text(change.into()),
            text.map_or(Value::Null, |t| Value::Text(t.into())),
            Value::Text(meta.reason.unwrap_or_default().into()),
            Value::Int(meta.time.micros()),
            Value::Text(meta.actor.account.to_string()),
        ],
    )
}

fn note_value(note: u64) -> Value {
    Value::index(EntryIndex(note))
}

fn version_value(version: u64) -> Value {
    i64::try_from(version).map_or(Value::Null, Value::Int)
}

impl EntryKind for NoteAmendment {
    const KIND: &'static str = "ledger.note_amendment/1";
    const PROJECTION: Projection = Projection::Into(&[&NOTES, &NOTE_VERSIONS, &NOTE_TAGS]);

    fn check(&self, meta: &EntryMeta<'_>) -> Result<(), Invalid> {
        check_reason(meta)?;
        check_version(self.version)?;
        check_text(Some(&self.text)).map_err(|e| invalid("text", e))?;
        check_tags(&self.add_tags).map_err(|e| invalid("add_tags", e))?;
        check_tags(&self.remove_tags).map_err(|e| invalid("remove_tags", e))?;
        if self.add_tags.iter().any(|t| self.remove_tags.contains(t)) {
            return Err(Invalid {
                field: "remove_tags",
                why: "holds a tag that is also added",
            });
        }
        Ok(())
    }

    fn project(&self, meta: &EntryMeta<'_>, out: &mut Vec<Change>) {
        out.push(Change::upsert(
            &NOTES,
            vec![
                note_value(self.note),
                version_value(self.version),
                Value::Text(State::Open.as_str().into()),
                Value::Text(self.text.clone()),
                Value::Int(meta.time.micros()),
                Value::Text(meta.actor.account.to_string()),
            ],
        ));
        out.push(version_row(
            meta,
            self.note,
            self.version,
            "amended",
            Some(&self.text),
        ));
        for tag in &self.remove_tags {
            out.push(Change::delete(
                &NOTE_TAGS,
                vec![note_value(self.note), Value::Text(tag.clone())],
            ));
        }
        for tag in &self.add_tags {
            out.push(Change::upsert(
                &NOTE_TAGS,
                vec![note_value(self.note), Value::Text(tag.clone())],
            ));
        }
    }

    fn example() -> Self {
        NoteAmendment {
            note: 3,
            version: 2,
            text: "デモ: バックアップテープ5と6を遠隔地保管庫へ搬出".into(),
            add_tags: vec!["tape".into()],
            remove_tags: vec!["backup".into()],
        }
    }
}

/// `ledger.note_withdrawal/1`: note `note` is withdrawn at version `version` (取り下げ). The note
/// and its versions stay; it is no longer in force and loses its tags. The reason says why.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NoteWithdrawal {
    /// The note.
    pub note: u64,
    /// The version the withdrawal makes (2 or more).
    pub version: u64,
}

impl EntryKind for NoteWithdrawal {
    const KIND: &'static str = "ledger.note_withdrawal/1";
    const PROJECTION: Projection = Projection::Into(&[&NOTES, &NOTE_VERSIONS, &NOTE_TAGS]);

    fn check(&self, meta: &EntryMeta<'_>) -> Result<(), Invalid> {
        check_reason(meta)?;
        check_version(self.version)
    }

    fn project(&self, meta: &EntryMeta<'_>, out: &mut Vec<Change>) {
        out.push(Change::upsert(
            &NOTES,
            vec![
                note_value(self.note),
                version_value(self.version),
                Value::Text(State::Withdrawn.as_str().into()),
                Value::Null,
                Value::Int(meta.time.micros()),
                Value::Text(meta.actor.account.to_string()),
            ],
        ));
        out.push(version_row(
            meta,
            self.note,
            self.version,
            "withdrawn",
            None,
        ));
        out.push(Change::delete_prefix(
            &NOTE_TAGS,
            vec![note_value(self.note)],
        ));
    }

    fn example() -> Self {
        NoteWithdrawal {
            note: 3,
            version: 3,
        }
    }
}

/// Why an amendment or withdrawal was refused before anything was written.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum AmendError {
    /// The note has moved on since the operator read it.
    #[error("the note is at version {current}, not {expected}")]
    Stale {
        /// The version the operator saw.
        expected: u64,
        /// The version it is at.
        current: u64,
    },
    /// The note was withdrawn; it cannot be changed.
    #[error("the note was withdrawn")]
    Withdrawn,
    /// The amendment changes nothing.
    #[error("the amendment changes neither the text nor the tags")]
    Unchanged,
    /// The new text or tags are not valid.
    #[error(transparent)]
    Note(#[from] NoteError),
    /// No reason was given, or it is too long or holds control characters.
    #[error("a reason of 1–2048 bytes without control characters is required")]
    Reason,
}

fn check_reason_text(reason: &str) -> Result<(), AmendError> {
    if reason.trim().is_empty()
        || reason.len() > kiroku_core::entry::REASON_BYTES_MAX
        || reason
            .chars()
            .any(|c| c.is_control() && c != '\n' && c != '\t')
    {
        return Err(AmendError::Reason);
    }
    Ok(())
}

fn check_current(note: &NoteState, expected: u64) -> Result<(), AmendError> {
    if note.version != expected {
        return Err(AmendError::Stale {
            expected,
            current: note.version,
        });
    }
    if note.state == State::Withdrawn {
        return Err(AmendError::Withdrawn);
    }
    Ok(())
}

/// Amends `note`, which the operator saw at version `expected`, to `text` and `tags`
/// (the full new set; `current_tags` are the note's tags now).
pub fn amend(
    note: &NoteState,
    current_tags: &[String],
    actor: Actor,
    expected: u64,
    text: &str,
    tags: &[String],
    reason: &str,
) -> Result<Request, AmendError> {
    check_current(note, expected)?;
    check_text(Some(text))?;
    check_tags(tags)?;
    check_reason_text(reason)?;
    let add_tags: Vec<String> = tags
        .iter()
        .filter(|t| !current_tags.contains(t))
        .cloned()
        .collect();
    let remove_tags: Vec<String> = current_tags
        .iter()
        .filter(|t| !tags.contains(t))
        .cloned()
        .collect();
    if note.text.as_deref() == Some(text) && add_tags.is_empty() && remove_tags.is_empty() {
        return Err(AmendError::Unchanged);
    }
    let draft = Draft::new(
        actor,
        NoteAmendment {
            note: note.note.0,
            version: expected + 1,
            text: text.into(),
            add_tags,
            remove_tags,
        },
    )
    .because(reason);
    Ok(Request::one(draft))
}

/// Withdraws `note`, which the operator saw at version `expected`.
pub fn withdraw(
    note: &NoteState,
    actor: Actor,
    expected: u64,
    reason: &str,
) -> Result<Request, AmendError> {
    check_current(note, expected)?;
    check_reason_text(reason)?;
    let draft = Draft::new(
        actor,
        NoteWithdrawal {
            note: note.note.0,
            version: expected + 1,
        },
    )
    .because(reason);
    Ok(Request::one(draft))
}

#[cfg(test)]
mod tests {
    use super::*;
    use kiroku_core::Timestamp;

    fn note(version: u64, state: State) -> NoteState {
        NoteState {
            note: EntryIndex(7),
            version,
            state,
            text: Some("tape 5".into()),
            time: Timestamp::EPOCH,
            account: "operator".into(),
            last_entry: EntryIndex(7),
        }
    }

    // Shows the amendment rule: a stale version, a withdrawn note, no change at all and a
    // missing reason are refused before anything is written; a real change makes version
    // n + 1 with the tag differences.
    #[test]
    fn amendment_rule() {
        let actor = Actor::operator("cli");
        let open = note(2, State::Open);
        let tags = vec!["backup".to_string()];
        assert_eq!(
            amend(&open, &tags, actor.clone(), 1, "x", &tags, "why").unwrap_err(),
            AmendError::Stale {
                expected: 1,
                current: 2
            }
        );
        assert_eq!(
            amend(
                &note(2, State::Withdrawn),
                &[],
                actor.clone(),
                2,
                "x",
                &[],
                "why"
            )
            .unwrap_err(),
            AmendError::Withdrawn
        );
        assert_eq!(
            amend(&open, &tags, actor.clone(), 2, "tape 5", &tags, "why").unwrap_err(),
            AmendError::Unchanged
        );
        assert_eq!(
            amend(&open, &tags, actor.clone(), 2, "tape 6", &tags, " ").unwrap_err(),
            AmendError::Reason
        );
        let request = amend(
            &open,
            &tags,
            actor,
            2,
            "tape 6",
            &["tape".to_string()],
            "typo",
        )
        .unwrap();
        assert_eq!(request.drafts.len(), 1);
        assert_eq!(request.drafts[0].reason.as_deref(), Some("typo"));
    }
}
