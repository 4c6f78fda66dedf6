//! Operators' notes: write, read, list, amend, withdraw. Each use case loads what its rule needs,
//! runs the rule of the ops context, and appends; the writer re-checks the note's version under
//! the append lock, so a stale amendment is refused even when it raced past the first check.

use crate::ops::Ops;
use crate::rows::decoded;
use crate::{blocking, Error, Result};
use kiroku_core::query::Stored;
use kiroku_core::{Actor, Conflict, EntryIndex, Timestamp};
use kiroku_ops::amendment;
use kiroku_ops::note::{self, NoteState, NoteVersion, NOTE_KEYS};
use kiroku_store::read;
use kiroku_store::Store;
use std::sync::Arc;

/// Most versions shown of one note (the ledger keeps them all).
pub const VERSIONS_SHOWN_MAX: u64 = 500;

/// A note written (or, for a retried request, found).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Written {
    /// The note's id.
    pub note: EntryIndex,
    /// The signed tree size that covers it.
    pub tree_size: u64,
    /// When it was written.
    pub time: Timestamp,
    /// Was it written by an earlier request with the same idempotency key?
    pub replayed: bool,
}

/// A new version of a note.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Changed {
    /// The note.
    pub note: EntryIndex,
    /// Its new version.
    pub version: u64,
    /// The entry that made it.
    pub entry: EntryIndex,
    /// The signed tree size that covers it.
    pub tree_size: u64,
}

/// A note with its tags and every version.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NoteView {
    /// As it stands.
    pub state: NoteState,
    /// Its current tags.
    pub tags: Vec<String>,
    /// Its versions, oldest first (version 1 is the note's own entry).
    pub versions: Vec<NoteVersion>,
}

/// A note in a list.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NoteSummary {
    /// As it stands.
    pub state: NoteState,
    /// Its current tags.
    pub tags: Vec<String>,
}

fn load_state(store: &Store, note: EntryIndex) -> Result<Option<NoteState>> {
    read::query(store, &NoteState::query(note))?
        .first()
        .map(|s| decoded(NoteState::from_row(s)))
        .transpose()
}

fn load_tags(store: &Store, note: EntryIndex) -> Result<Vec<String>> {
    read::query(store, &note::tags_query(note))?
        .iter()
        .map(|s| decoded(note::tag_from_row(s)).map(|(_, tag)| tag))
        .collect()
}

/// The first version of a note, from the note's own entry.
fn first_version(store: &Store, note: EntryIndex) -> Result<(NoteVersion, Vec<String>)> {
    let (entry, payload) = read::entry(store, note)?;
    let tags = match serde_json::from_value::<note::Note>(payload.clone()) {
        Ok(written) => written.tags,
        Err(_) => Vec::new(),
    };
    let version = NoteVersion::first(note, &entry, payload).ok_or_else(|| {
        Error::Corrupt(format!("entry {note} is not a note, yet a note names it"))
    })?;
    Ok((version, tags))
}

impl Ops<'_> {
    /// Writes a note. With an idempotency key, a retry of the same note returns the note the
    /// first request wrote (`replayed`), and a different note under a used key is refused.
    pub async fn write_note(
        self,
        actor: Actor,
        text: &str,
        tags: Vec<String>,
        key: Option<String>,
    ) -> Result<Written> {
        let request = note::write(actor, text, tags.clone(), key.clone())?;
        match self.app.writer().append(request).await {
            Ok(receipt) => Ok(Written {
                note: receipt.first,
                tree_size: receipt.tree_size,
                time: receipt.time,
                replayed: false,
            }),
            Err(kiroku_store::writer::AppendError::Conflict(Conflict::Claimed {
                table, ..
            })) if table == NOTE_KEYS.name => {
                let key = key.unwrap_or_default();
                let store = self.app.store().clone();
                let text = text.to_owned();
                blocking(move || replayed(&store, &key, &text, &tags)).await
            }
            Err(e) => Err(e.into()),
        }
    }

    /// A note with its tags and versions.
    pub async fn note(self, note: EntryIndex) -> Result<NoteView> {
        let store = self.app.store().clone();
        blocking(move || {
            let state = load_state(&store, note)?
                .ok_or(Error::Ops(crate::ops::Error::NoSuchNote(note.0)))?;
            let tags = load_tags(&store, note)?;
            let (first, _) = first_version(&store, note)?;
            let mut versions = vec![first];
            for stored in read::query(&store, &NoteVersion::query(note, VERSIONS_SHOWN_MAX))? {
                versions.push(decoded(NoteVersion::from_row(&stored))?);
            }
            Ok(NoteView {
                state,
                tags,
                versions,
            })
        })
        .await
    }

    /// A page of notes, newest first, after note `after`; only those tagged `tag` if given.
    pub async fn notes(
        self,
        after: Option<EntryIndex>,
        limit: u64,
        tag: Option<String>,
    ) -> Result<Vec<NoteSummary>> {
        let store = self.app.store().clone();
        let limit = limit.clamp(1, self.app.config.limits.page_rows_max);
        blocking(move || list(&store, after, limit, tag.as_deref())).await
    }

    /// Amends a note the operator saw at version `expected`.
    pub async fn amend_note(
        self,
        actor: Actor,
        note: EntryIndex,
        expected: u64,
        text: &str,
        tags: Vec<String>,
        reason: &str,
    ) -> Result<Changed> {
        let (state, current_tags) = self.load_for_change(note).await?;
        let request =
            amendment::amend(&state, &current_tags, actor, expected, text, &tags, reason)?;
        let receipt = self.app.writer().append(request).await?;
        Ok(Changed {
            note,
            version: expected + 1,
            entry: receipt.first,
            tree_size: receipt.tree_size,
        })
    }

    /// Withdraws a note the operator saw at version `expected`.
    pub async fn withdraw_note(
        self,
        actor: Actor,
        note: EntryIndex,
        expected: u64,
        reason: &str,
    ) -> Result<Changed> {
        let (state, _) = self.load_for_change(note).await?;
        let request = amendment::withdraw(&state, actor, expected, reason)?;
        let receipt = self.app.writer().append(request).await?;
        Ok(Changed {
            note,
            version: expected + 1,
            entry: receipt.first,
            tree_size: receipt.tree_size,
        })
    }

    async fn load_for_change(self, note: EntryIndex) -> Result<(NoteState, Vec<String>)> {
        let store: Arc<Store> = self.app.store().clone();
        blocking(move || {
            let state = load_state(&store, note)?
                .ok_or(Error::Ops(crate::ops::Error::NoSuchNote(note.0)))?;
            let tags = load_tags(&store, note)?;
            Ok((state, tags))
        })
        .await
    }
}

/// The answer to a request whose idempotency key was used before: the earlier note, if it
/// holds the same text and tags.
fn replayed(store: &Store, key: &str, text: &str, tags: &[String]) -> Result<Written> {
    let holder: Option<Stored> = read::query(store, &note::key_query(key))?
        .into_iter()
        .next();
    let holder = holder.ok_or_else(|| {
        Error::Corrupt("an idempotency key is claimed, yet its row is missing".into())
    })?;
    let owner = decoded(note::key_owner(&holder))?;
    let (first, first_tags) = first_version(store, owner)?;
    if first.text.as_deref() != Some(text) || first_tags != tags {
        return Err(Error::Ops(crate::ops::Error::KeyReused(owner.0)));
    }
    let tree_size = read::latest_checkpoint(store)?.map_or(0, |c| c.size);
    Ok(Written {
        note: owner,
        tree_size,
        time: first.time,
        replayed: true,
    })
}

fn list(
    store: &Store,
    after: Option<EntryIndex>,
    limit: u64,
    tag: Option<&str>,
) -> Result<Vec<NoteSummary>> {
    let states: Vec<NoteState> = match tag {
        None => read::query(store, &NoteState::page(after, limit))?
            .iter()
            .map(|s| decoded(NoteState::from_row(s)))
            .collect::<Result<_>>()?,
        Some(tag) => {
            let mut states = Vec::new();
            for stored in read::query(store, &note::tagged_query(tag, after, limit))? {
                let (id, _) = decoded(note::tag_from_row(&stored))?;
                if let Some(state) = load_state(store, id)? {
                    states.push(state);
                }
            }
            states
        }
    };
    states
        .into_iter()
        .map(|state| {
            let tags = load_tags(store, state.note)?;
            Ok(NoteSummary { state, tags })
        })
        .collect()
}
