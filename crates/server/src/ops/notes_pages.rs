//! Web pages: the ledger's status, and operators' notes — the list (by tag), one note with its
//! history, and the forms to write, correct and withdraw. Until accounts exist, the pages are
//! for the hospital's internal network and every form that writes asks for the operator token.

use crate::callers::Staff;
use crate::catalogue::Code;
use crate::error::AppError;
use crate::extract::{ApiQuery, WebForm};
use crate::i18n::Lang;
use crate::pages::{
    page, render, switch, NotePage, NoteRow, NotesPage, StatusPage, VerificationView, VersionRow,
};
use crate::router::{see_other, AppState};
use axum::extract::{Path, RawQuery, State};
use axum::response::Response;
use kiroku_core::{Actor, EntryIndex};
use kiroku_ops::note::{State as NoteStateKind, VersionChange};
use kiroku_ops::verification::Outcome;
use serde::Deserialize;

/// Did the page come with `?lang=` (so the choice is remembered)?
fn chose_language(query: Option<&str>) -> bool {
    query.is_some_and(|q| q.split('&').any(|kv| kv.starts_with("lang=")))
}

pub(super) async fn status(
    State(state): State<AppState>,
    lang: Lang,
    RawQuery(query): RawQuery,
) -> Result<Response, AppError> {
    let status = state.app.ops().status().await?;
    let (size, signed_at) = match &status.checkpoint {
        Some(c) => (
            c.size,
            kiroku_core::Timestamp::parse(&c.created_at)
                .map_or_else(|| c.created_at.clone(), |t| lang.datetime(t)),
        ),
        None => (0, lang.pick("なし", "none").into()),
    };
    let html = render(&StatusPage {
        lang,
        title: lang.pick("台帳の状態", "Ledger status").into(),
        switch: switch(lang, "/"),
        origin: state.app.origin().into(),
        size,
        signed_at,
        verification: status.verification.map(|v| VerificationView {
            intact: v.outcome == Outcome::Intact,
            time: lang.datetime(v.time),
            tree_size: v.tree_size,
            entry: v.entry.0,
            detail: v.detail,
        }),
        key: state.verifier_key.clone(),
    });
    Ok(page(lang, chose_language(query.as_deref()), html))
}

#[derive(Deserialize)]
pub(super) struct ListQuery {
    after: Option<u64>,
    tag: Option<String>,
}

/// Notes per page.
const NOTES_PER_PAGE: u64 = 50;

pub(super) async fn notes(
    State(state): State<AppState>,
    lang: Lang,
    // Operators' notes are read by signed-in staff (a visitor is sent to sign in); writing
    // them takes the operator token as well.
    Staff(_me): Staff,
    RawQuery(raw): RawQuery,
    ApiQuery(query): ApiQuery<ListQuery>,
) -> Result<Response, AppError> {
    let tag = query.tag.filter(|t| !t.is_empty());
    let notes = state
        .app
        .ops()
        .notes(query.after.map(EntryIndex), NOTES_PER_PAGE, tag.clone())
        .await?;
    let next = (notes.len() as u64 == NOTES_PER_PAGE)
        .then(|| notes.last().map(|n| n.state.note.0))
        .flatten()
        .map(|after| {
            let mut href = format!("/notes?after={after}");
            if let Some(tag) = &tag {
                href.push_str("&tag=");
                href.push_str(&encode(tag));
            }
            href
        });
    let html = render(&NotesPage {
        lang,
        title: lang.pick("運用記録", "Operator notes").into(),
        switch: switch(lang, "/notes"),
        tag,
        notes: notes
            .into_iter()
            .map(|n| NoteRow {
                id: n.state.note.0,
                version: n.state.version,
                withdrawn: n.state.state == NoteStateKind::Withdrawn,
                text: n.state.text.unwrap_or_default(),
                tags: n.tags,
                time: lang.datetime(n.state.time),
                account: n.state.account,
            })
            .collect(),
        next,
    });
    Ok(page(lang, chose_language(raw.as_deref()), html))
}

/// Percent-encodes a query value.
fn encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

pub(super) async fn note(
    State(state): State<AppState>,
    lang: Lang,
    Staff(_me): Staff,
    RawQuery(raw): RawQuery,
    Path(note): Path<String>,
) -> Result<Response, AppError> {
    let id = crate::extract::entry_in_path(&note)?;
    let view = state.app.ops().note(id).await?;
    let path = format!("/notes/{}", id.0);
    let html = render(&NotePage {
        lang,
        title: format!("{} #{}", lang.pick("運用記録", "Operator note"), id.0),
        switch: switch(lang, &path),
        id: id.0,
        version: view.state.version,
        withdrawn: view.state.state == NoteStateKind::Withdrawn,
        text: view.state.text.clone(),
        tags_text: view.tags.join(" "),
        tags: view.tags,
        versions: view
            .versions
            .into_iter()
            .map(|v| VersionRow {
                version: v.version,
                change: match v.change {
                    VersionChange::Written => lang.pick("記録", "written"),
                    VersionChange::Amended => lang.pick("訂正", "amended"),
                    VersionChange::Withdrawn => lang.pick("取り下げ", "withdrawn"),
                }
                .into(),
                text: v.text,
                reason: v.reason,
                time: lang.datetime(v.time),
                account: v.account,
                entry: v.entry.0,
            })
            .collect(),
    });
    Ok(page(lang, chose_language(raw.as_deref()), html))
}

/// Tags as typed in a form: separated by spaces (ASCII or ideographic).
fn form_tags(text: &str) -> Vec<String> {
    text.split(|c: char| c.is_whitespace())
        .filter(|t| !t.is_empty())
        .map(str::to_owned)
        .collect()
}

fn form_operator(state: &AppState, token: &str) -> Result<Actor, AppError> {
    Ok(state.app.authenticate_operator(token, "web")?)
}

#[derive(Deserialize)]
pub(super) struct NewNoteForm {
    text: String,
    #[serde(default)]
    tags: String,
    token: String,
}

pub(super) async fn write_note(
    State(state): State<AppState>,
    WebForm(form): WebForm<NewNoteForm>,
) -> Result<Response, AppError> {
    let actor = form_operator(&state, &form.token)?;
    let written = state
        .app
        .ops()
        .write_note(
            actor,
            &form.text.replace("\r\n", "\n"),
            form_tags(&form.tags),
            None,
        )
        .await?;
    Ok(see_other(&format!("/notes/{}", written.note.0)))
}

#[derive(Deserialize)]
pub(super) struct AmendForm {
    version: String,
    text: String,
    #[serde(default)]
    tags: String,
    reason: String,
    token: String,
}

fn form_version(text: &str) -> Result<u64, AppError> {
    text.trim()
        .parse::<u64>()
        .ok()
        .filter(|v| *v >= 1)
        .ok_or(AppError::new(Code::BadVersion))
}

pub(super) async fn amend_note(
    State(state): State<AppState>,
    Path(note): Path<String>,
    WebForm(form): WebForm<AmendForm>,
) -> Result<Response, AppError> {
    let id = crate::extract::entry_in_path(&note)?;
    let actor = form_operator(&state, &form.token)?;
    let version = form_version(&form.version)?;
    // Browsers send CRLF line ends from text areas; the note keeps plain newlines.
    let text = form.text.replace("\r\n", "\n");
    let reason = form.reason.replace("\r\n", "\n");
    state
        .app
        .ops()
        .amend_note(actor, id, version, &text, form_tags(&form.tags), &reason)
        .await?;
    Ok(see_other(&format!("/notes/{}", id.0)))
}

#[derive(Deserialize)]
pub(super) struct WithdrawForm {
    version: String,
    reason: String,
    token: String,
}

pub(super) async fn withdraw_note(
    State(state): State<AppState>,
    Path(note): Path<String>,
    WebForm(form): WebForm<WithdrawForm>,
) -> Result<Response, AppError> {
    let id = crate::extract::entry_in_path(&note)?;
    let actor = form_operator(&state, &form.token)?;
    let version = form_version(&form.version)?;
    let reason = form.reason.replace("\r\n", "\n");
    state
        .app
        .ops()
        .withdraw_note(actor, id, version, &reason)
        .await?;
    Ok(see_other(&format!("/notes/{}", id.0)))
}
