//! The clinician's pages: patient search, the chart, the note editor, each record with its
//! versions and their differences, the print view and the proof of authenticity, and the
//! confirmation queue (with its JSON twin). Every page is made of the records' gated use cases:
//! what it shows was decided by the policy and disclosed in the ledger before it is sent.

use crate::callers::{SignedIn, Staff};
use crate::catalogue::Code;
use crate::error::AppError;
use crate::extract::{ApiQuery, WebForm};
use crate::i18n::Lang;
use crate::pages::{
    page, render, switch, ChartPage, Correcting, HistoryItem, HistoryPage, NoteFormPage,
    PatientsPage, PrintPage, ProofPage, QueuePage, QueueRow, RecordPage, SectionField, VersionView,
};
use crate::records::clinical::{self, PatientView};
use crate::router::{see_other, AppState};
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use kiroku_app::records::chart::{NoteDraft, NoteKind, Waiting, NOTE_KINDS, SECTION_CHARS_MAX};
use kiroku_app::records::{Served, Writing};
use kiroku_core::AccountId;
use kiroku_records::record::State as VersionState;
use serde::Deserialize;
use serde_json::{json, Value};
use std::collections::HashMap;

/// Patients on a page of the search.
const PATIENTS_PER_PAGE: &str = "20";
/// Versions on a page of the history.
const VERSIONS_PER_PAGE: u64 = 20;

/// Today in Japan.
fn today(state: &AppState) -> (i64, u8, u8) {
    state
        .app
        .clock()
        .now()
        .map(clinical::today)
        .unwrap_or((1970, 1, 1))
}

/// An account as pages name it: its name and id, or the id alone.
fn named(names: &HashMap<String, String>, account: &str) -> String {
    match names.get(account) {
        Some(name) => format!("{name}（{account}）"),
        None => account.to_owned(),
    }
}

/// The accounts a version names: its author, its proxy's clinician, its confirmer.
fn accounts_of(served: &Served) -> Vec<String> {
    let mut accounts = vec![served.author.clone()];
    accounts.extend(served.on_behalf_of.clone());
    accounts.extend(served.confirmation.as_ref().map(|c| c.account.clone()));
    accounts
}

/// A version as the record pages show it.
fn version_view(
    served: &Served,
    latest: bool,
    names: &HashMap<String, String>,
    lang: Lang,
) -> VersionView {
    let (title, text, fields) = if served.kind == "DocumentReference" {
        let (title, text) = clinical::note_text(served);
        (title, Some(text), Vec::new())
    } else {
        let row = clinical::row(served, lang);
        let title = if row.title.trim().is_empty() {
            served.kind.clone()
        } else {
            row.title
        };
        (title, None, clinical::fields(served))
    };
    VersionView {
        kind: served.kind.clone(),
        id: served.id.clone(),
        version: served.version,
        latest,
        draft: served.state == VersionState::Draft,
        deleted: served.state == VersionState::Deleted,
        trainee: served.trainee,
        editable: served.state != VersionState::Deleted && clinical::note_kind(served).0.is_some(),
        attachments: match served.kind.as_str() {
            "DocumentReference" => clinical::attachments(served),
            "Binary" => vec![(
                lang.pick("内容を開く", "Open the content").to_owned(),
                format!("/fhir/Binary/{}", served.id),
            )],
            _ => Vec::new(),
        },
        title,
        text,
        fields,
        time: lang.datetime(served.time),
        author: named(names, &served.author),
        on_behalf_of: served.on_behalf_of.as_deref().map(|c| named(names, c)),
        confirmed: served
            .confirmation
            .as_ref()
            .map(|c| format!("{} — {}", named(names, &c.account), lang.datetime(c.time))),
        reason: served.reason.clone(),
        entry: served.entry.0,
    }
}

// ── Patient search and the chart ───────────────────────────────────────────────────────────

#[derive(Deserialize, Default)]
pub(super) struct PatientQuery {
    name: Option<String>,
    number: Option<String>,
    birthdate: Option<String>,
    page: Option<String>,
}

/// `GET /patients`: search by name (kanji or kana), patient number or birth date.
pub(super) async fn patients(
    State(state): State<AppState>,
    lang: Lang,
    Staff(me): Staff,
    ApiQuery(query): ApiQuery<PatientQuery>,
) -> Result<Response, AppError> {
    let given = |v: &Option<String>| v.as_deref().unwrap_or("").trim().to_owned();
    let (name, number, birthdate) = (
        given(&query.name),
        given(&query.number),
        given(&query.birthdate),
    );
    let mut params = Vec::new();
    if !name.is_empty() {
        params.push(("name".to_owned(), name.clone()));
    }
    if !number.is_empty() {
        params.push(("identifier".to_owned(), number.clone()));
    }
    if !birthdate.is_empty() {
        params.push(("birthdate".to_owned(), birthdate.clone()));
    }
    let searched = !params.is_empty();
    let (mut rows, mut next, mut withheld) = (Vec::new(), None, 0);
    if searched {
        params.push(("_count".to_owned(), PATIENTS_PER_PAGE.to_owned()));
        if let Some(page) = &query.page {
            params.push(("_page".to_owned(), page.clone()));
        }
        let found = state
            .app
            .records()
            .search_resources(me.actor.clone(), "Patient", params)
            .await?;
        let today = today(&state);
        withheld = found.withheld;
        rows = found
            .matches
            .iter()
            .map(|p| clinical::patient(p, lang, today))
            .collect();
        next = found.next.map(|cursor| {
            let query = serde_urlencoded::to_string([
                ("name", name.as_str()),
                ("number", number.as_str()),
                ("birthdate", birthdate.as_str()),
                ("page", cursor.as_str()),
            ])
            .unwrap_or_default();
            format!("/patients?{query}")
        });
    }
    let html = render(&PatientsPage {
        lang,
        title: lang.pick("患者検索", "Patient search").into(),
        switch: switch(lang, "/patients"),
        name,
        number,
        birthdate,
        searched,
        rows,
        next,
        withheld,
    });
    Ok(page(lang, false, html))
}

/// `GET /patients/{id}`: the chart.
pub(super) async fn chart(
    State(state): State<AppState>,
    lang: Lang,
    Staff(me): Staff,
    Path(id): Path<String>,
) -> Result<Response, AppError> {
    let chart = state
        .app
        .records()
        .chart(me.actor.clone(), &id)
        .await
        .map_err(|e| AppError::from(e).offering_emergency(&id))?;
    let patient = clinical::patient(&chart.patient, lang, today(&state));
    let emergency = chart.patient.emergency
        || chart
            .records
            .iter()
            .any(|(_, r)| r.iter().any(|s| s.emergency));
    let of = |kind: &str| -> &[Served] {
        chart
            .records
            .iter()
            .find(|(k, _)| *k == kind)
            .map_or(&[], |(_, r)| r.as_slice())
    };
    let rows = |kind: &str| -> Vec<clinical::RecordRow> {
        of(kind).iter().map(|s| clinical::row(s, lang)).collect()
    };
    let mut timeline = rows("Encounter");
    timeline.extend(rows("DocumentReference"));
    timeline.sort_by(|a, b| b.sort.cmp(&a.sort));
    let html = render(&ChartPage {
        lang,
        title: format!("{} — {}", lang.pick("カルテ", "Chart"), patient.name),
        switch: switch(lang, &format!("/patients/{id}")),
        emergency,
        timeline,
        problems: rows("Condition"),
        allergies: rows("AllergyIntolerance"),
        results: clinical::trends(of("Observation"), lang),
        prescriptions: rows("MedicationRequest"),
        patient,
    });
    Ok(page(lang, false, html))
}

// ── The note editor ────────────────────────────────────────────────────────────────────────

#[derive(Deserialize, Default)]
pub(super) struct NewNoteQuery {
    #[serde(rename = "type")]
    kind: Option<String>,
}

/// The patient's encounters as the editor offers them (newest first, disclosed as a search).
async fn encounters(
    state: &AppState,
    me: &SignedIn,
    patient: &str,
    lang: Lang,
) -> Result<Vec<(String, String)>, AppError> {
    let found = state
        .app
        .records()
        .search_resources(
            me.actor.clone(),
            "Encounter",
            vec![
                ("patient".into(), patient.into()),
                ("_sort".into(), "-date".into()),
                ("_count".into(), "30".into()),
            ],
        )
        .await?;
    Ok(found
        .matches
        .iter()
        .map(|e| {
            let row = clinical::row(e, lang);
            (e.id.clone(), format!("{} {}", row.date, row.title))
        })
        .collect())
}

/// The note editor's page.
struct Editor {
    patient: PatientView,
    kind: NoteKind,
    action: String,
    encounters: Vec<(String, String)>,
    encounter: String,
    texts: Vec<String>,
    on_behalf_of: String,
    correcting: Option<Correcting>,
    notice: Option<String>,
}

fn editor_page(lang: Lang, me: &SignedIn, path: &str, editor: Editor) -> String {
    let title = if editor.correcting.is_some() {
        format!(
            "{} — {}",
            lang.pick("記録の訂正", "Correct a note"),
            lang.pick(editor.kind.title.0, editor.kind.title.1)
        )
    } else {
        lang.pick("記録を書く", "Write a note").to_owned()
    };
    let sections = editor
        .kind
        .sections
        .iter()
        .zip(editor.texts)
        .map(|((ja, en), text)| SectionField {
            label: lang.pick(ja, en).to_owned(),
            rows: if editor.kind.sections.len() > 4 { 4 } else { 6 },
            text,
        })
        .collect();
    render(&NoteFormPage {
        lang,
        title,
        switch: switch(lang, path),
        csrf: me.session.csrf.clone(),
        kinds: NOTE_KINDS
            .iter()
            .map(|k| (k.key.to_owned(), lang.pick(k.title.0, k.title.1).to_owned()))
            .collect(),
        kind: editor.kind.key.to_owned(),
        action: editor.action,
        encounters: editor.encounters,
        encounter: editor.encounter,
        sections,
        max_chars: SECTION_CHARS_MAX,
        on_behalf_of: editor.on_behalf_of,
        correcting: editor.correcting,
        notice: editor.notice,
        patient: editor.patient,
    })
}

/// `GET /patients/{id}/notes/new?type=progress`: the editor for a new note.
pub(super) async fn new_note(
    State(state): State<AppState>,
    lang: Lang,
    Staff(me): Staff,
    Path(id): Path<String>,
    ApiQuery(query): ApiQuery<NewNoteQuery>,
) -> Result<Response, AppError> {
    let kind = match query.kind.as_deref() {
        None => NOTE_KINDS[0],
        Some(key) => NoteKind::of_key(key).ok_or_else(|| {
            AppError::new(Code::InvalidField)
                .with("field", "type")
                .with("why", "is not a kind of note")
        })?,
    };
    let patient = state
        .app
        .records()
        .read_resource(me.actor.clone(), "Patient", &id)
        .await?;
    let patient = clinical::patient(&patient, lang, today(&state));
    let encounters = encounters(&state, &me, &id, lang).await?;
    let html = editor_page(
        lang,
        &me,
        &format!("/patients/{id}/notes/new"),
        Editor {
            patient,
            kind,
            action: format!("/patients/{id}/notes"),
            encounter: encounters.first().map(|e| e.0.clone()).unwrap_or_default(),
            encounters,
            texts: vec![String::new(); kind.sections.len()],
            on_behalf_of: String::new(),
            correcting: None,
            notice: None,
        },
    );
    Ok(page(lang, false, html))
}

#[derive(Deserialize)]
pub(super) struct NoteForm {
    csrf: String,
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    encounter: String,
    #[serde(default)]
    s0: String,
    #[serde(default)]
    s1: String,
    #[serde(default)]
    s2: String,
    #[serde(default)]
    s3: String,
    #[serde(default)]
    s4: String,
    #[serde(default)]
    on_behalf_of: String,
    #[serde(default)]
    reason: Option<String>,
    #[serde(default)]
    version: Option<String>,
}

impl NoteForm {
    fn kind(&self) -> Result<NoteKind, AppError> {
        NoteKind::of_key(self.kind.trim()).ok_or_else(|| {
            AppError::new(Code::InvalidField)
                .with("field", "type")
                .with("why", "is not a kind of note")
        })
    }

    /// The sections sent, line breaks as the browser sends them made plain.
    fn texts(&self, kind: NoteKind) -> Vec<String> {
        [&self.s0, &self.s1, &self.s2, &self.s3, &self.s4]
            .into_iter()
            .take(kind.sections.len())
            .map(|s| s.replace("\r\n", "\n"))
            .collect()
    }

    fn writing(&self) -> Result<Writing, AppError> {
        let on_behalf_of = match self.on_behalf_of.trim() {
            "" => None,
            account => {
                Some(AccountId::parse(account).map_err(|_| AppError::new(Code::BadOnBehalfOf))?)
            }
        };
        let reason = self
            .reason
            .as_deref()
            .map(|r| r.replace("\r\n", "\n").trim().to_owned())
            .filter(|r| !r.is_empty());
        Ok(Writing {
            reason,
            on_behalf_of,
        })
    }
}

/// Writes a note from the editor; on a refusal of what was sent, the editor again with the
/// text kept and the reason said — nothing the clinician typed is lost.
#[allow(clippy::too_many_arguments)]
async fn save_note(
    state: &AppState,
    lang: Lang,
    me: &SignedIn,
    patient: &str,
    form: NoteForm,
    correcting: Option<(String, u64, bool)>,
    path: &str,
    action: String,
) -> Result<Response, AppError> {
    me.check_form(&form.csrf)?;
    let kind = form.kind()?;
    let texts = form.texts(kind);
    let encounter = form.encounter.trim().to_owned();
    let outcome = match form.writing() {
        Ok(writing) => state
            .app
            .records()
            .write_clinical_note(
                me.actor.clone(),
                patient,
                NoteDraft {
                    kind,
                    encounter: (!encounter.is_empty()).then(|| encounter.clone()),
                    sections: texts.clone(),
                },
                writing,
                correcting.as_ref().map(|(id, v, _)| (id.clone(), *v)),
            )
            .await
            .map_err(AppError::from),
        Err(e) => Err(e),
    };
    let error = match outcome {
        Ok(written) => {
            return Ok(see_other(&format!(
                "/records/DocumentReference/{}?saved={}",
                written.served.id, written.served.version
            )))
        }
        // A refusal by the policy, or a stale version, is the error page's to say.
        Err(e)
            if matches!(
                e.code.status(),
                StatusCode::FORBIDDEN | StatusCode::NOT_FOUND
            ) =>
        {
            return Err(e)
        }
        Err(e) => e,
    };
    let viewed = state
        .app
        .records()
        .read_resource(me.actor.clone(), "Patient", patient)
        .await?;
    let html = editor_page(
        lang,
        me,
        path,
        Editor {
            patient: clinical::patient(&viewed, lang, today(state)),
            kind,
            action,
            encounters: encounters(state, me, patient, lang).await?,
            encounter,
            texts,
            on_behalf_of: form.on_behalf_of.trim().to_owned(),
            // A correction refused for want of a reason shows the field for one.
            correcting: correcting.map(|(_, version, confirmed)| Correcting {
                version,
                confirmed: confirmed || error.code == Code::RecordReasonRequired,
            }),
            notice: Some(error.message(lang)),
        },
    );
    Ok((error.code.status(), page(lang, false, html)).into_response())
}

/// `POST /patients/{id}/notes`: a new note, a draft.
pub(super) async fn create_note(
    State(state): State<AppState>,
    lang: Lang,
    me: SignedIn,
    Path(id): Path<String>,
    WebForm(form): WebForm<NoteForm>,
) -> Result<Response, AppError> {
    let path = format!("/patients/{id}/notes/new");
    let action = format!("/patients/{id}/notes");
    save_note(&state, lang, &me, &id, form, None, &path, action).await
}

/// `GET /records/DocumentReference/{id}/edit`: the editor, filled with the latest version.
pub(super) async fn edit_note(
    State(state): State<AppState>,
    lang: Lang,
    Staff(me): Staff,
    Path(id): Path<String>,
) -> Result<Response, AppError> {
    let view = state
        .app
        .records()
        .record_view(me.actor.clone(), "DocumentReference", &id, None, false)
        .await?;
    let served = &view.version;
    let (Some(kind), encounter) = clinical::note_kind(served) else {
        return Err(AppError::new(Code::NotANote));
    };
    let Some(patient_served) = &view.patient else {
        return Err(AppError::new(Code::NotANote));
    };
    let (_, text) = clinical::note_text(served);
    let (texts, notice) = match kind.split(&text) {
        Some(texts) => (texts, None),
        None => {
            // Written by another system, not in the editor's sections: the whole text goes
            // into the first, to be arranged.
            let mut texts = vec![String::new(); kind.sections.len()];
            texts[0] = text;
            (
                texts,
                Some(
                    lang.pick(
                        "この記録は見出しで区切られていないため、本文全体を最初の欄に入れています。",
                        "This note is not divided by the editor's headings: its whole text is in the first field.",
                    )
                    .to_owned(),
                ),
            )
        }
    };
    let patient = patient_served.id.clone();
    let encounters = encounters(&state, &me, &patient, lang).await?;
    let html = editor_page(
        lang,
        &me,
        &format!("/records/DocumentReference/{id}/edit"),
        Editor {
            patient: clinical::patient(patient_served, lang, today(&state)),
            kind,
            action: format!("/records/DocumentReference/{id}/edit"),
            encounters,
            encounter: encounter.unwrap_or_default(),
            texts,
            on_behalf_of: served.on_behalf_of.clone().unwrap_or_default(),
            correcting: Some(Correcting {
                version: served.version,
                confirmed: served.state == VersionState::Confirmed,
            }),
            notice,
        },
    );
    Ok(page(lang, false, html))
}

/// `POST /records/DocumentReference/{id}/edit`: the next version of a note (a correction of a
/// confirmed one needs a reason).
pub(super) async fn save_edit(
    State(state): State<AppState>,
    lang: Lang,
    me: SignedIn,
    Path(id): Path<String>,
    WebForm(form): WebForm<NoteForm>,
) -> Result<Response, AppError> {
    let version = crate::router::form_version(form.version.as_deref().unwrap_or(""))?;
    let patient = state
        .app
        .records()
        .patient_of("DocumentReference", &id)
        .await?
        .ok_or_else(|| AppError::new(Code::NotANote))?;
    let confirmed = form.reason.is_some();
    let path = format!("/records/DocumentReference/{id}/edit");
    save_note(
        &state,
        lang,
        &me,
        &patient,
        form,
        Some((id, version, confirmed)),
        &path,
        path.clone(),
    )
    .await
}

// ── A record, its versions, print and proof ────────────────────────────────────────────────

#[derive(Deserialize, Default)]
pub(super) struct RecordQuery {
    saved: Option<u64>,
    confirmed: Option<u64>,
    before: Option<u64>,
}

async fn record_page(
    state: &AppState,
    lang: Lang,
    me: &SignedIn,
    kind: &str,
    id: &str,
    version: Option<u64>,
    query: RecordQuery,
) -> Result<Response, AppError> {
    let view = state
        .app
        .records()
        .record_view(me.actor.clone(), kind, id, version, false)
        .await?;
    let names = state
        .app
        .records()
        .account_names(accounts_of(&view.version))
        .await?;
    let v = version_view(
        &view.version,
        view.version.version == view.latest,
        &names,
        lang,
    );
    let message = match (query.saved, query.confirmed) {
        (Some(n), _) => Some(format!(
            "{} {n} {}",
            lang.pick("版", "Version"),
            lang.pick("を保存しました（未確定）。", "saved as a draft.")
        )),
        (_, Some(n)) => Some(format!(
            "{} {n} {}",
            lang.pick("版", "Version"),
            lang.pick("を確定しました。", "confirmed.")
        )),
        _ => None,
    };
    let path = match version {
        Some(n) => format!("/records/{kind}/{id}/_history/{n}"),
        None => format!("/records/{kind}/{id}"),
    };
    let html = render(&RecordPage {
        lang,
        title: v.title.clone(),
        switch: switch(lang, &path),
        csrf: me.session.csrf.clone(),
        patient: view
            .patient
            .as_ref()
            .map(|p| clinical::patient(p, lang, today(state))),
        emergency: view.version.emergency,
        message,
        v,
    });
    Ok(page(lang, false, html))
}

/// `GET /records/{type}/{id}`: the latest version.
pub(super) async fn record(
    State(state): State<AppState>,
    lang: Lang,
    Staff(me): Staff,
    Path((kind, id)): Path<(String, String)>,
    ApiQuery(query): ApiQuery<RecordQuery>,
) -> Result<Response, AppError> {
    record_page(&state, lang, &me, &kind, &id, None, query).await
}

/// `GET /records/{type}/{id}/_history/{v}`: one version.
pub(super) async fn record_version(
    State(state): State<AppState>,
    lang: Lang,
    Staff(me): Staff,
    Path((kind, id, version)): Path<(String, String, String)>,
    ApiQuery(query): ApiQuery<RecordQuery>,
) -> Result<Response, AppError> {
    let version = crate::router::form_version(&version)?;
    record_page(&state, lang, &me, &kind, &id, Some(version), query).await
}

#[derive(Deserialize)]
pub(super) struct CsrfForm {
    csrf: String,
}

/// `POST /records/{type}/{id}/_history/{v}/confirm`: confirms (確定) the draft.
pub(super) async fn confirm(
    State(state): State<AppState>,
    me: SignedIn,
    Path((kind, id, version)): Path<(String, String, String)>,
    WebForm(form): WebForm<CsrfForm>,
) -> Result<Response, AppError> {
    me.check_form(&form.csrf)?;
    let version = crate::router::form_version(&version)?;
    state
        .app
        .records()
        .confirm_resource(me.actor.clone(), &kind, &id, version)
        .await?;
    Ok(see_other(&format!(
        "/records/{kind}/{id}?confirmed={version}"
    )))
}

/// `GET /records/{type}/{id}/history`: every version, newest first, each with its differences
/// from the one before.
pub(super) async fn history(
    State(state): State<AppState>,
    lang: Lang,
    Staff(me): Staff,
    Path((kind, id)): Path<(String, String)>,
    ApiQuery(query): ApiQuery<RecordQuery>,
) -> Result<Response, AppError> {
    // One more than shown: the oldest shown is compared with the one before it.
    let (versions, _) = state
        .app
        .records()
        .resource_history(
            me.actor.clone(),
            &kind,
            &id,
            query.before,
            VERSIONS_PER_PAGE + 1,
        )
        .await?;
    let latest = versions.first().map(|v| v.version);
    let accounts = versions.iter().flat_map(accounts_of).collect();
    let names = state.app.records().account_names(accounts).await?;
    let shown = versions.len().min(VERSIONS_PER_PAGE as usize);
    let items = (0..shown)
        .map(|i| {
            let served = &versions[i];
            let older = versions.get(i + 1);
            let changes = older
                .map(|older| {
                    clinical::difference(
                        &clinical::comparable(older),
                        &clinical::comparable(served),
                    )
                    .into_iter()
                    .map(|c| match c {
                        clinical::Change::Added(l) => (true, l),
                        clinical::Change::Removed(l) => (false, l),
                    })
                    .collect()
                })
                .unwrap_or_default();
            HistoryItem {
                version: version_view(served, Some(served.version) == latest, &names, lang),
                first: served.version == 1,
                changes,
            }
        })
        .collect();
    let next = (versions.len() > shown)
        .then(|| versions.get(shown - 1))
        .flatten()
        .map(|v| format!("/records/{kind}/{id}/history?before={}", v.version));
    let patient = match versions.first().and_then(|v| v.patient.clone()) {
        Some(p) if kind != "Patient" => Some(
            state
                .app
                .records()
                .read_resource(me.actor.clone(), "Patient", &p)
                .await?,
        ),
        _ if kind == "Patient" => versions.first().cloned(),
        _ => None,
    };
    let html = render(&HistoryPage {
        lang,
        title: format!("{} — {kind}/{id}", lang.pick("版の履歴", "Version history")),
        switch: switch(lang, &format!("/records/{kind}/{id}/history")),
        patient: patient.map(|p| clinical::patient(&p, lang, today(&state))),
        versions: items,
        next,
    });
    Ok(page(lang, false, html))
}

/// `GET /records/{type}/{id}/_history/{v}/print`: the version on A4, in Japanese by default,
/// with the hospital, the patient, who entered and confirmed it and when, the version and its
/// ledger entry. Disclosed as a print.
pub(super) async fn print(
    State(state): State<AppState>,
    lang: Lang,
    Staff(me): Staff,
    Path((kind, id, version)): Path<(String, String, String)>,
) -> Result<Response, AppError> {
    let version = crate::router::form_version(&version)?;
    let view = state
        .app
        .records()
        .record_view(me.actor.clone(), &kind, &id, Some(version), true)
        .await?;
    let me_account = me.actor.account.to_string();
    let mut accounts = accounts_of(&view.version);
    accounts.push(me_account.clone());
    let names = state.app.records().account_names(accounts).await?;
    let now = state
        .app
        .clock()
        .now()
        .map_err(|e| AppError::unavailable(&e.to_string()))?;
    let html = render(&PrintPage {
        lang,
        hospital: state.app.config.hospital_name.clone(),
        patient: view
            .patient
            .as_ref()
            .map(|p| clinical::patient(p, lang, clinical::today(now))),
        v: version_view(
            &view.version,
            view.version.version == view.latest,
            &names,
            lang,
        ),
        printed: lang.datetime(now),
        printed_by: named(&names, &me_account),
    });
    Ok(page(lang, false, html))
}

/// `GET /records/{type}/{id}/_history/{v}/proof`: the version's proof of authenticity, checked
/// here against the ledger's verifier key: the checkpoint's signature and origin, and the
/// entry's inclusion in the signed tree.
pub(super) async fn proof(
    State(state): State<AppState>,
    lang: Lang,
    Staff(me): Staff,
    Path((kind, id, version)): Path<(String, String, String)>,
) -> Result<Response, AppError> {
    use base64::Engine as _;
    use kiroku_ledger::checkpoint::Checkpoint;
    let version = crate::router::form_version(&version)?;
    let (served, proof) = state
        .app
        .records()
        .prove_resource(me.actor.clone(), &kind, &id, version)
        .await?;
    let verifier = state.app.verifier();
    let leaf = kiroku_ledger::hash::leaf_hash(&proof.body);
    let opened = Checkpoint::open(&proof.checkpoint.note, state.app.origin(), verifier);
    let signed = opened.is_ok();
    let included = opened.as_ref().is_ok_and(|c| {
        c.size == proof.checkpoint.size
            && kiroku_ledger::proof::verify_inclusion(
                &leaf,
                proof.index,
                c.size,
                &proof.hashes,
                &c.root,
            )
            .is_ok()
    });
    let same_entry = served.entry.0 == proof.index;
    let checks = vec![
        (
            lang.pick("チェックポイントの署名", "The checkpoint's signature")
                .to_owned(),
            signed,
            lang.pick(
                "台帳の検証鍵で署名を確かめ、台帳の名前（origin）が一致しました。",
                "Its signature checks with the ledger's verifier key, and it names this ledger.",
            )
            .to_owned(),
        ),
        (
            lang.pick("記録の包含", "The entry's inclusion").to_owned(),
            included,
            format!(
                "{} #{} {} {} {}",
                lang.pick("記録", "Entry"),
                proof.index,
                lang.pick(
                    "のハッシュが、包含証明により大きさ",
                    "hashes, through the inclusion proof, to the root of the signed tree of size"
                ),
                proof.checkpoint.size,
                lang.pick("の署名済みの木の根に至りました。", "")
            ),
        ),
        (
            lang.pick("この版の記録", "This version's entry").to_owned(),
            same_entry,
            lang.pick(
                "証明された記録は、表示した版を保持する記録です。",
                "The entry proved is the one that holds the version shown.",
            )
            .to_owned(),
        ),
    ];
    let intact = checks.iter().all(|c| c.1);
    let b64 = |bytes: &[u8]| base64::engine::general_purpose::STANDARD.encode(bytes);
    let html = render(&ProofPage {
        lang,
        title: format!(
            "{} — {kind}/{id} {} {version}",
            lang.pick("真正性の証明", "Proof of authenticity"),
            lang.pick("版", "version")
        ),
        switch: switch(
            lang,
            &format!("/records/{kind}/{id}/_history/{version}/proof"),
        ),
        intact,
        checks,
        index: proof.index,
        leaf: leaf.to_base64(),
        size: proof.checkpoint.size,
        root: b64(&proof.checkpoint.root),
        hashes: proof.hashes.len(),
        checkpoint: proof.checkpoint.note.clone(),
        key: state.verifier_key.clone(),
        kind,
        id,
        version,
    });
    Ok(page(lang, false, html))
}

// ── The confirmation queue ─────────────────────────────────────────────────────────────────

fn queue_row(
    w: &Waiting,
    names: &HashMap<String, String>,
    lang: Lang,
    today: (i64, u8, u8),
) -> QueueRow {
    let d = &w.draft;
    let row = clinical::row(d, lang);
    QueueRow {
        kind: d.kind.clone(),
        id: d.id.clone(),
        version: d.version,
        patient: w
            .patient
            .as_ref()
            .map(|p| clinical::patient(p, lang, today)),
        title: if row.title.trim().is_empty() {
            d.kind.clone()
        } else {
            row.title
        },
        detail: row.detail,
        author: named(names, &d.author),
        time: lang.datetime(d.time),
        trainee: d.trainee,
        proxy: d.on_behalf_of.is_some(),
    }
}

#[derive(Deserialize, Default)]
pub(super) struct QueueQuery {
    confirmed: Option<u64>,
}

/// `GET /queue`: drafts waiting for the caller's confirmation or countersignature.
pub(super) async fn queue_page(
    State(state): State<AppState>,
    lang: Lang,
    Staff(me): Staff,
    ApiQuery(query): ApiQuery<QueueQuery>,
) -> Result<Response, AppError> {
    let queue = state
        .app
        .records()
        .confirmation_queue(me.actor.clone())
        .await?;
    let accounts = queue
        .mine
        .iter()
        .chain(&queue.anyone)
        .map(|w| w.draft.author.clone())
        .collect();
    let names = state.app.records().account_names(accounts).await?;
    let today = today(&state);
    let html = render(&QueuePage {
        lang,
        title: lang
            .pick("確定待ちの記録", "Records waiting for confirmation")
            .into(),
        switch: switch(lang, "/queue"),
        csrf: me.session.csrf.clone(),
        mine: queue
            .mine
            .iter()
            .map(|w| queue_row(w, &names, lang, today))
            .collect(),
        anyone: queue
            .anyone
            .iter()
            .map(|w| queue_row(w, &names, lang, today))
            .collect(),
        more: queue.more,
        confirmed: query.confirmed,
    });
    Ok(page(lang, false, html))
}

/// `POST /queue`: confirms the selected drafts (`select=Type/id/version`, repeated), all or
/// none.
pub(super) async fn confirm_selected(
    State(state): State<AppState>,
    me: SignedIn,
    body: Bytes,
) -> Result<Response, AppError> {
    let fields: Vec<(String, String)> = serde_urlencoded::from_bytes(&body).map_err(|_| {
        AppError::new(Code::InvalidField)
            .with("field", "select")
            .with("why", "is not a form")
    })?;
    let csrf = fields
        .iter()
        .find(|(k, _)| k == "csrf")
        .map(|(_, v)| v.as_str())
        .unwrap_or("");
    me.check_form(csrf)?;
    let mut targets = Vec::new();
    for (_, value) in fields.iter().filter(|(k, _)| k == "select") {
        let mut parts = value.splitn(3, '/');
        let (Some(kind), Some(id), Some(version)) = (parts.next(), parts.next(), parts.next())
        else {
            return Err(AppError::new(Code::InvalidField)
                .with("field", "select")
                .with("why", "is not Type/id/version"));
        };
        targets.push((
            kind.to_owned(),
            id.to_owned(),
            crate::router::form_version(version)?,
        ));
    }
    if targets.is_empty() {
        return Err(AppError::new(Code::NothingSelected));
    }
    let confirmed = state
        .app
        .records()
        .confirm_resources(me.actor.clone(), targets)
        .await?;
    Ok(see_other(&format!("/queue?confirmed={confirmed}")))
}

/// `GET /api/records/pending`: the caller's confirmation queue as JSON.
pub(super) async fn pending(
    State(state): State<AppState>,
    me: SignedIn,
) -> Result<Json<Value>, AppError> {
    let queue = state
        .app
        .records()
        .confirmation_queue(me.actor.clone())
        .await?;
    let item = |w: &Waiting| {
        let d = &w.draft;
        json!({
            "resource": format!("{}/{}/_history/{}", d.kind, d.id, d.version),
            "patient": d.patient,
            "author": d.author,
            "time": kiroku_records::record::instant(d.time),
            "trainee": d.trainee,
            "onBehalfOf": d.on_behalf_of,
        })
    };
    Ok(Json(json!({
        "mine": queue.mine.iter().map(item).collect::<Vec<_>>(),
        "anyone": queue.anyone.iter().map(item).collect::<Vec<_>>(),
        "more": queue.more,
    })))
}
