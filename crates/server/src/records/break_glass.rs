//! Break-the-glass (緊急時アクセス) as pages and API: the clinician's form that opens a
//! patient's records for a limited time with a reason (the FHIR operation is
//! `POST /fhir/Patient/{id}/$break-the-glass`), and the reviewers' queue, where each access is
//! found justified or not.

use crate::callers::Caller;
use crate::callers::{SignedIn, Staff};
use crate::catalogue::Code;
use crate::error::AppError;
use crate::extract::{ApiJson, ApiQuery, WebForm};
use crate::i18n::Lang;
use crate::pages::{page, render, switch, EmergenciesPage, EmergencyPage, EmergencyRow};
use crate::router::{see_other, AppState};
use axum::extract::{Path, State};
use axum::response::Response;
use axum::Json;
use kiroku_core::{EntryIndex, Timestamp};
use kiroku_records::emergency::{Finding, Waiting, MINUTES_MAX};
use serde::Deserialize;
use serde_json::{json, Value};

fn entry_id(text: &str) -> Result<EntryIndex, AppError> {
    crate::extract::entry_in_path(text)
}

fn finding(text: &str) -> Result<Finding, AppError> {
    Finding::parse(text.trim()).ok_or_else(|| {
        AppError::new(Code::InvalidField)
            .with("field", "finding")
            .with("why", "is neither justified nor unjustified")
    })
}

fn waiting_json(w: &Waiting) -> Value {
    json!({
        "entry": w.entry.0,
        "account": w.account,
        "patient": w.patient,
        "time": kiroku_records::record::instant(w.time),
        "until": kiroku_records::record::instant(w.until),
        "reason": w.reason,
        "kind": w.kind,
    })
}

/// What a queued access is, in the page's language.
fn kind_name(lang: Lang, kind: &str) -> String {
    match kind {
        "emergency" => lang.pick("緊急時アクセス", "Emergency access"),
        "care" => lang.pick("担当の割り当て", "Care assignment"),
        "flags" => lang.pick("患者フラグの変更", "Change of flags"),
        _ => lang.pick("その他", "Other"),
    }
    .to_owned()
}

// ── API ────────────────────────────────────────────────────────────────────────────────────

/// `GET /api/records/emergencies`: the accesses waiting for review, oldest first.
pub(super) async fn queue(
    State(state): State<AppState>,
    Caller(actor): Caller,
) -> Result<Json<Value>, AppError> {
    let waiting = state.app.records().emergency_queue(actor).await?;
    Ok(Json(json!({
        "emergencies": waiting.iter().map(waiting_json).collect::<Vec<_>>(),
    })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct ReviewRequest {
    finding: String,
    note: Option<String>,
}

/// `POST /api/records/emergencies/{entry}/review`: `{"finding": "justified" | "unjustified",
/// "note": …}` (a note is required when unjustified).
pub(super) async fn review(
    State(state): State<AppState>,
    Caller(actor): Caller,
    Path(entry): Path<String>,
    ApiJson(request): ApiJson<ReviewRequest>,
) -> Result<Json<Value>, AppError> {
    let entry = entry_id(&entry)?;
    state
        .app
        .records()
        .review_emergency(
            actor,
            entry,
            finding(&request.finding)?,
            request.note.as_deref().unwrap_or_default(),
        )
        .await?;
    Ok(Json(json!({ "reviewed": entry.0 })))
}

// ── Pages ──────────────────────────────────────────────────────────────────────────────────

#[derive(Deserialize)]
pub(super) struct FormQuery {
    patient: Option<String>,
    opened: Option<u64>,
    until: Option<i64>,
}

/// `GET /emergency`: the form (and, after it, the access opened).
pub(super) async fn form_page(
    lang: Lang,
    Staff(me): Staff,
    ApiQuery(query): ApiQuery<FormQuery>,
) -> Result<Response, AppError> {
    let opened = match (query.opened, query.until.and_then(Timestamp::from_micros)) {
        (Some(entry), Some(until)) => Some((entry, lang.datetime(until))),
        _ => None,
    };
    let html = render(&EmergencyPage {
        lang,
        title: lang
            .pick(
                "緊急時アクセス（ブレークザグラス）",
                "Emergency access (break-the-glass)",
            )
            .into(),
        switch: switch(lang, "/emergency"),
        csrf: me.session.csrf.clone(),
        patient: query.patient.unwrap_or_default(),
        opened,
        lengths: [MINUTES_MAX, 30, 15].into(),
    });
    Ok(page(lang, false, html))
}

#[derive(Deserialize)]
pub(super) struct OpenForm {
    csrf: String,
    patient: String,
    reason: String,
    minutes: String,
}

/// `POST /emergency`.
pub(super) async fn open_form(
    State(state): State<AppState>,
    me: SignedIn,
    WebForm(form): WebForm<OpenForm>,
) -> Result<Response, AppError> {
    me.check_form(&form.csrf)?;
    let minutes = form
        .minutes
        .trim()
        .parse::<u32>()
        .map_err(|_| AppError::new(Code::EmergencyMinutes))?;
    let patient = form.patient.trim();
    let opened = state
        .app
        .records()
        .break_glass(
            me.actor.clone(),
            patient,
            &form.reason.replace("\r\n", "\n"),
            minutes,
        )
        .await?;
    Ok(see_other(&format!(
        "/emergency?patient={patient}&opened={}&until={}",
        opened.entry.0,
        opened.until.micros()
    )))
}

/// `GET /emergencies`: the review queue.
pub(super) async fn queue_page(
    State(state): State<AppState>,
    lang: Lang,
    Staff(me): Staff,
) -> Result<Response, AppError> {
    let waiting = state
        .app
        .records()
        .emergency_queue(me.actor.clone())
        .await?;
    let rows = waiting
        .iter()
        .map(|w| EmergencyRow {
            entry: w.entry.0,
            kind: kind_name(lang, &w.kind),
            account: w.account.clone(),
            patient: w.patient.clone(),
            time: lang.datetime(w.time),
            until: lang.datetime(w.until),
            reason: w.reason.clone(),
            own: w.account == me.actor.account.as_str(),
        })
        .collect();
    let html = render(&EmergenciesPage {
        lang,
        title: lang
            .pick("緊急時アクセスの審査", "Emergency access review")
            .into(),
        switch: switch(lang, "/emergencies"),
        csrf: me.session.csrf.clone(),
        rows,
    });
    Ok(page(lang, false, html))
}

#[derive(Deserialize)]
pub(super) struct ReviewForm {
    csrf: String,
    finding: String,
    note: String,
}

/// `POST /emergencies/{entry}/review`.
pub(super) async fn review_form(
    State(state): State<AppState>,
    me: SignedIn,
    Path(entry): Path<String>,
    WebForm(form): WebForm<ReviewForm>,
) -> Result<Response, AppError> {
    me.check_form(&form.csrf)?;
    state
        .app
        .records()
        .review_emergency(
            me.actor.clone(),
            entry_id(&entry)?,
            finding(&form.finding)?,
            &form.note.replace("\r\n", "\n"),
        )
        .await?;
    Ok(see_other("/emergencies"))
}
