//! Operators' notes (運用記録, Art. 5(1)): what the operations staff did and saw — a tape taken
//! off-site, updates applied, a drill held. A note is written once and may later be amended or
//! withdrawn (see [`crate::amendment`]); each note is a stream whose version counts its
//! versions, and nothing of an earlier version is lost: the ledger keeps every entry, and the
//! projection keeps the current text and the history.
//!
//! Tables: [`NOTES`] (current version, a stream per note), [`NOTE_VERSIONS`] (versions 2 and
//! later; version 1 is the note's own entry), [`NOTE_TAGS`] (the current tags, indexed by tag),
//! and [`NOTE_KEYS`] (idempotency keys, claimed so that a retried request writes once).

use kiroku_core::projection::{Column, TableRole, TableSpec, Value};
use kiroku_core::query::{Query, Stored};
use kiroku_core::{
    Actor, Change, Draft, EntryIndex, EntryKind, EntryMeta, Invalid, Projection, Request, Timestamp,
};
use serde::{Deserialize, Serialize};

/// The longest note, in characters.
pub const NOTE_CHARS_MAX: usize = 4000;
/// Most tags on a note.
pub const TAGS_MAX: usize = 8;
/// The longest tag, in characters.
pub const TAG_CHARS_MAX: usize = 32;
/// The longest idempotency key, in bytes.
pub const KEY_BYTES_MAX: usize = 128;

/// The current version of each note, one row per note. Each row is a stream: its version is
/// raised by one with every amendment or withdrawal.
pub static NOTES: TableSpec = TableSpec {
    name: "operator_notes",
    about: "The current version of each operator's note (運用記録); each row is the note's stream.",
    columns: &[
        Column::entry("note"),
        Column::int("version"),
        Column::text("state"),
        Column::text("text").nullable(),
        Column::int("time"),
        Column::text("account"),
    ],
    key: 1,
    indexes: &[],
    role: TableRole::Stream { version: "version" },
};

/// Every version of a note after the first (the first is the note's own entry).
pub static NOTE_VERSIONS: TableSpec = TableSpec {
    name: "operator_note_versions",
    about: "Versions 2 and later of each note: amendments and withdrawals, with their reasons.",
    columns: &[
        Column::entry("note"),
        Column::int("version"),
        Column::entry("entry"),
        Column::text("change"),
        Column::text("text").nullable(),
        Column::text("reason"),
        Column::int("time"),
        Column::text("account"),
    ],
    key: 2,
    indexes: &[],
    role: TableRole::Plain,
};

/// The current tags of each note, and by tag the notes that carry it.
pub static NOTE_TAGS: TableSpec = TableSpec {
    name: "operator_note_tags",
    about: "The current tags of each note; indexed by tag to list the notes that carry one.",
    columns: &[Column::entry("note"), Column::text("tag")],
    key: 2,
    indexes: &[&["tag", "note"]],
    role: TableRole::Plain,
};

/// Idempotency keys of note requests, each claimed by the note it wrote.
pub static NOTE_KEYS: TableSpec = TableSpec {
    name: "operator_note_keys",
    about: "Idempotency keys of note requests, each claimed by the note it wrote, so a retry writes nothing twice.",
    columns: &[Column::text("key"), Column::entry("note")],
    key: 1,
    indexes: &[],
    role: TableRole::Claims { owner: "note" },
};

/// Why a note's text, tags or key were refused. Each maps to a message in the user's language.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum NoteError {
    /// No text.
    #[error("the note has no text")]
    Missing,
    /// Only whitespace.
    #[error("the note is empty")]
    Empty,
    /// Longer than [`NOTE_CHARS_MAX`].
    #[error("the note is longer than {NOTE_CHARS_MAX} characters")]
    TooLong,
    /// Holds control characters other than newline and tab.
    #[error("the note holds control characters")]
    ControlCharacters,
    /// A tag is empty, too long, or holds spaces, commas or control characters.
    #[error("a tag is 1–{TAG_CHARS_MAX} characters without spaces, commas or control characters")]
    BadTag,
    /// More than [`TAGS_MAX`] tags, or one tag twice.
    #[error("a note has at most {TAGS_MAX} tags, each once")]
    TooManyTags,
    /// The idempotency key is empty, too long or not visible ASCII.
    #[error("an idempotency key is 1–{KEY_BYTES_MAX} characters of A–Z, a–z, 0–9, `.`, `_`, `:` and `-`")]
    BadKey,
}

/// Checks a note's text.
pub fn check_text(text: Option<&str>) -> Result<(), NoteError> {
    let text = text.ok_or(NoteError::Missing)?;
    if text.trim().is_empty() {
        return Err(NoteError::Empty);
    }
    if text.chars().count() > NOTE_CHARS_MAX {
        return Err(NoteError::TooLong);
    }
    if text
        .chars()
        .any(|c| c.is_control() && c != '\n' && c != '\t')
    {
        return Err(NoteError::ControlCharacters);
    }
    Ok(())
}

/// Checks one tag.
pub fn check_tag(tag: &str) -> Result<(), NoteError> {
    let count = tag.chars().count();
    if count == 0
        || count > TAG_CHARS_MAX
        || tag
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || c == ',' || c == '、')
    {
        return Err(NoteError::BadTag);
    }
    Ok(())
}

/// Checks a set of tags: each valid, at most [`TAGS_MAX`], none twice.
pub fn check_tags(tags: &[String]) -> Result<(), NoteError> {
    for tag in tags {
        check_tag(tag)?;
    }
    let mut sorted: Vec<&String> = tags.iter().collect();
    sorted.sort();
    sorted.dedup();
    if tags.len() > TAGS_MAX || sorted.len() != tags.len() {
        return Err(NoteError::TooManyTags);
    }
    Ok(())
}

/// Checks an idempotency key.
pub fn check_key(key: &str) -> Result<(), NoteError> {
    let ok = !key.is_empty()
        && key.len() <= KEY_BYTES_MAX
        && key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b':' | b'-'));
    if ok {
        Ok(())
    } else {
        Err(NoteError::BadKey)
    }
}

pub(crate) fn invalid(field: &'static str, error: NoteError) -> Invalid {
    Invalid {
        field,
        why: match error {
            NoteError::Missing => "is missing",
            NoteError::Empty => "is empty",
            NoteError::TooLong => "is longer than 4000 characters",
            NoteError::ControlCharacters => "holds control characters",
            NoteError::BadTag => "holds a malformed tag",
            NoteError::TooManyTags => "holds too many tags, or one twice",
            NoteError::BadKey => "is not a valid idempotency key",
        },
    }
}

/// The current row a new note puts: version 1, open.
fn first_version(meta: &EntryMeta<'_>, text: &str) -> Change {
    Change::upsert(
        &NOTES,
        vec![
            Value::THIS_ENTRY,
            Value::Int(1),
            Value::Text(State::Open.as_str().into()),
            Value::Text(text.into()),
            Value::Int(meta.time.micros()),
            Value::Text(meta.actor.account.to_string()),
        ],
    )
}

/// `ledger.note/1`: a note as the first release wrote it, text only. Still read; new notes are
/// [`Note`]. Unknown fields are accepted, as the first release accepted them.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NoteV1 {
    /// The note.
    pub text: String,
}

impl EntryKind for NoteV1 {
    const KIND: &'static str = "ledger.note/1";
    const PROJECTION: Projection = Projection::Into(&[&NOTES]);

    fn check(&self, _: &EntryMeta<'_>) -> Result<(), Invalid> {
        check_text(Some(&self.text)).map_err(|e| invalid("text", e))
    }

    fn project(&self, meta: &EntryMeta<'_>, out: &mut Vec<Change>) {
        out.push(first_version(meta, &self.text));
    }

    fn example() -> Self {
        NoteV1 {
            text: "backup tape 5 moved off-site".into(),
        }
    }
}

/// `ledger.note/2`: an operator's note with tags, and the idempotency key of the request that
/// wrote it, if the client sent one.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Note {
    /// The note.
    pub text: String,
    /// Tags, in the order given.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
    /// The client's idempotency key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
}

impl EntryKind for Note {
    const KIND: &'static str = "ledger.note/2";
    const PROJECTION: Projection = Projection::Into(&[&NOTES, &NOTE_TAGS, &NOTE_KEYS]);

    fn check(&self, _: &EntryMeta<'_>) -> Result<(), Invalid> {
        check_text(Some(&self.text)).map_err(|e| invalid("text", e))?;
        check_tags(&self.tags).map_err(|e| invalid("tags", e))?;
        if let Some(key) = &self.key {
            check_key(key).map_err(|e| invalid("key", e))?;
        }
        Ok(())
    }

    fn project(&self, meta: &EntryMeta<'_>, out: &mut Vec<Change>) {
        out.push(first_version(meta, &self.text));
        for tag in &self.tags {
            out.push(Change::upsert(
                &NOTE_TAGS,
                vec![Value::THIS_ENTRY, Value::Text(tag.clone())],
            ));
        }
        if let Some(key) = &self.key {
            out.push(Change::upsert(
                &NOTE_KEYS,
                vec![Value::Text(key.clone()), Value::THIS_ENTRY],
            ));
        }
    }

    fn example() -> Self {
        Note {
            text: "デモ: バックアップテープ5を遠隔地保管庫へ搬出".into(),
            tags: vec!["backup".into(), "バックアップ".into()],
            key: Some("retry-7f3a".into()),
        }
    }
}

/// Writes a note: the request to append.
pub fn write(
    actor: Actor,
    text: &str,
    tags: Vec<String>,
    key: Option<String>,
) -> Result<Request, NoteError> {
    check_text(Some(text))?;
    check_tags(&tags)?;
    if let Some(key) = &key {
        check_key(key)?;
    }
    // The key's claim is checked by the writer: NOTE_KEYS is a claims table.
    let draft = Draft::new(
        actor,
        Note {
            text: text.into(),
            tags,
            key,
        },
    );
    Ok(Request::one(draft))
}

/// Whether a note stands or was withdrawn.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum State {
    /// In force.
    Open,
    /// Withdrawn (取り下げ): kept, no longer in force.
    Withdrawn,
}

impl State {
    /// As stored.
    pub fn as_str(self) -> &'static str {
        match self {
            State::Open => "open",
            State::Withdrawn => "withdrawn",
        }
    }

    fn parse(text: &str) -> Option<State> {
        match text {
            "open" => Some(State::Open),
            "withdrawn" => Some(State::Withdrawn),
            _ => None,
        }
    }
}

/// A note as it stands.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NoteState {
    /// The note's id: the index of the entry that wrote it.
    pub note: EntryIndex,
    /// Its current version (1 until amended).
    pub version: u64,
    /// Open or withdrawn.
    pub state: State,
    /// The current text (none once withdrawn).
    pub text: Option<String>,
    /// When the current version was written.
    pub time: Timestamp,
    /// Who wrote the current version.
    pub account: String,
    /// The entry that wrote the current version.
    pub last_entry: EntryIndex,
}

pub use kiroku_core::query::BadRow;

impl NoteState {
    /// The query for one note's current row.
    pub fn query(note: EntryIndex) -> Query {
        Query::key(&NOTES, vec![Value::index(note)])
    }

    /// A page of notes, newest first, after note `after`.
    pub fn page(after: Option<EntryIndex>, limit: u64) -> Query {
        Query::table(&NOTES, limit)
            .descending()
            .after(after.map(|a| vec![Value::index(a)]))
    }

    /// Decodes a current row.
    pub fn from_row(stored: &Stored) -> Result<NoteState, BadRow> {
        let c = stored.cells(&NOTES);
        Ok(NoteState {
            note: c.entry(0)?,
            version: c.uint(1)?,
            state: c.parsed(2, State::parse)?,
            text: c.optional_text(3)?,
            time: c.time(4)?,
            account: c.text(5)?,
            last_entry: stored.last_entry,
        })
    }
}

/// How a version came about.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum VersionChange {
    /// The note was written (version 1).
    Written,
    /// Its text or tags were amended.
    Amended,
    /// It was withdrawn.
    Withdrawn,
}

impl VersionChange {
    /// As stored.
    pub fn as_str(self) -> &'static str {
        match self {
            VersionChange::Written => "written",
            VersionChange::Amended => "amended",
            VersionChange::Withdrawn => "withdrawn",
        }
    }
}

/// One version of a note.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NoteVersion {
    /// The version number.
    pub version: u64,
    /// The entry that wrote it.
    pub entry: EntryIndex,
    /// Written, amended or withdrawn.
    pub change: VersionChange,
    /// Its text (none for a withdrawal).
    pub text: Option<String>,
    /// Why it was made (none for version 1).
    pub reason: Option<String>,
    /// When.
    pub time: Timestamp,
    /// By whom.
    pub account: String,
}

impl NoteVersion {
    /// The query for versions 2 and later of a note, oldest first.
    pub fn query(note: EntryIndex, limit: u64) -> Query {
        Query::table(&NOTE_VERSIONS, limit).matching(vec![Value::index(note)])
    }

    /// Decodes a row of [`NOTE_VERSIONS`].
    pub fn from_row(stored: &Stored) -> Result<NoteVersion, BadRow> {
        let c = stored.cells(&NOTE_VERSIONS);
        let change = match c.text(3)?.as_str() {
            "amended" => VersionChange::Amended,
            "withdrawn" => VersionChange::Withdrawn,
            _ => return Err(c.bad()),
        };
        Ok(NoteVersion {
            version: c.uint(1)?,
            entry: c.entry(2)?,
            change,
            text: c.optional_text(4)?,
            reason: Some(c.text(5)?),
            time: c.time(6)?,
            account: c.text(7)?,
        })
    }

    /// Version 1, from the note's own entry (kind `ledger.note/1` or `/2`) and its payload.
    pub fn first(
        note: EntryIndex,
        entry: &kiroku_core::Entry,
        payload: serde_json::Value,
    ) -> Option<NoteVersion> {
        let text = match entry.kind.as_str() {
            NoteV1::KIND => serde_json::from_value::<NoteV1>(payload).ok()?.text,
            Note::KIND => serde_json::from_value::<Note>(payload).ok()?.text,
            _ => return None,
        };
        Some(NoteVersion {
            version: 1,
            entry: note,
            change: VersionChange::Written,
            text: Some(text),
            reason: None,
            time: entry.time,
            account: entry.actor.account.to_string(),
        })
    }
}

/// The query for a note's current tags, in tag order.
pub fn tags_query(note: EntryIndex) -> Query {
    Query::table(&NOTE_TAGS, TAGS_MAX as u64).matching(vec![Value::index(note)])
}

/// The query for the notes that carry `tag`, newest first, after note `after`.
pub fn tagged_query(tag: &str, after: Option<EntryIndex>, limit: u64) -> Query {
    Query::table(&NOTE_TAGS, limit)
        .by_index(0)
        .matching(vec![Value::Text(tag.into())])
        .descending()
        .after(after.map(|a| vec![Value::index(a)]))
}

/// The tag of a [`NOTE_TAGS`] row, and its note.
pub fn tag_from_row(stored: &Stored) -> Result<(EntryIndex, String), BadRow> {
    let c = stored.cells(&NOTE_TAGS);
    Ok((c.entry(0)?, c.text(1)?))
}

/// The query for the note that claimed an idempotency key.
pub fn key_query(key: &str) -> Query {
    Query::key(&NOTE_KEYS, vec![Value::Text(key.into())])
}

/// The note of a [`NOTE_KEYS`] row.
pub fn key_owner(stored: &Stored) -> Result<EntryIndex, BadRow> {
    stored.cells(&NOTE_KEYS).entry(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    // Shows the text limits: empty, too long and control characters are refused, and the
    // longest allowed note passes.
    #[test]
    fn text_limits() {
        assert_eq!(check_text(Some("ok")), Ok(()));
        assert_eq!(check_text(Some(&"あ".repeat(NOTE_CHARS_MAX))), Ok(()));
        assert_eq!(
            check_text(Some(&"あ".repeat(NOTE_CHARS_MAX + 1))),
            Err(NoteError::TooLong)
        );
        assert_eq!(check_text(Some("  ")), Err(NoteError::Empty));
        assert_eq!(
            check_text(Some("a\u{1b}b")),
            Err(NoteError::ControlCharacters)
        );
        assert_eq!(check_text(Some("line\n\tindented")), Ok(()));
        assert_eq!(check_text(None), Err(NoteError::Missing));
    }

    // Shows the tag and key rules at their boundaries.
    #[test]
    fn tag_and_key_limits() {
        assert_eq!(check_tags(&["バックアップ".into(), "drill".into()]), Ok(()));
        assert_eq!(check_tag(&"a".repeat(TAG_CHARS_MAX)), Ok(()));
        for bad in ["", "a b", "a,b", "a、b", &"a".repeat(TAG_CHARS_MAX + 1)] {
            assert_eq!(check_tag(bad), Err(NoteError::BadTag), "{bad:?}");
        }
        let nine: Vec<String> = (0..9).map(|i| format!("t{i}")).collect();
        assert_eq!(check_tags(&nine[..8]), Ok(()));
        assert_eq!(check_tags(&nine), Err(NoteError::TooManyTags));
        assert_eq!(
            check_tags(&["a".into(), "a".into()]),
            Err(NoteError::TooManyTags)
        );
        assert_eq!(check_key("retry-1:a.b_c"), Ok(()));
        assert_eq!(check_key(&"k".repeat(KEY_BYTES_MAX)), Ok(()));
        for bad in ["", "has space", "キー", &"k".repeat(KEY_BYTES_MAX + 1)] {
            assert_eq!(check_key(bad), Err(NoteError::BadKey), "{bad:?}");
        }
    }
}
