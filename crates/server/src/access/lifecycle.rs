//! The lifecycle of access, as API and pages: one account's page with its whole history and the
//! administrator's status forms; status-change reports (Art. 12(5)) made by the user or the
//! department head and handled by those who receive them; and access reviews — opened by a
//! system administrator, decided member by member by department heads, closed at the deadline.

use crate::access::session::{category_name, event_rows, role_rows};
use crate::callers::{Caller, Reader};
use crate::callers::{SignedIn, Staff};
use crate::catalogue::Code;
use crate::error::AppError;
use crate::extract::{ApiJson, ApiQuery, WebForm};
use crate::i18n::Lang;
use crate::json;
use crate::pages::{
    page, render, switch, AccountPage, ItemRow, ReportRow, ReportsPage, ReviewPage, ReviewRow,
    ReviewsPage,
};
use crate::router::{form_version, see_other, AppState};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use kiroku_access::account::{Status, StatusStep};
use kiroku_access::lifecycle::{Decision, Item, Report, ReportedChange};
use kiroku_app::access::lifecycle::ReviewView;
use kiroku_core::{AccountId, Date, EntryIndex, Timestamp};
use serde::Deserialize;
use serde_json::{json, Value};

fn account_id(text: &str) -> Result<String, AppError> {
    AccountId::parse(text.trim())
        .map(|a| a.to_string())
        .map_err(|_| AppError::not_found())
}

fn entry_id(text: &str) -> Result<EntryIndex, AppError> {
    crate::extract::entry_in_path(text)
}

/// A deadline: a date alone is the end of that day in Japan; otherwise a time as
/// [`Timestamp::parse_given`] reads it.
fn deadline(text: &str) -> Result<Timestamp, AppError> {
    let text = text.trim();
    if let Some(date) = Date::parse(text) {
        return date
            .plus_days(1)
            .and_then(|d| d.at(0, 0, 0, 9 * 60))
            .ok_or(AppError::new(Code::BadTime));
    }
    Timestamp::parse_given(text).ok_or(AppError::new(Code::BadTime))
}

fn change_name(lang: Lang, change: ReportedChange) -> &'static str {
    match change {
        ReportedChange::Eligibility => lang.pick(
            "資格の喪失（退職・契約終了など）",
            "Lost eligibility (left, contract ended…)",
        ),
        ReportedChange::NoLongerNeeded => {
            lang.pick("利用の必要がなくなった", "No longer needs access")
        }
        ReportedChange::Changed => lang.pick(
            "所属・職種・氏名などの変更",
            "Department, job type, name… changed",
        ),
    }
}

fn decision_name(lang: Lang, decision: Decision) -> &'static str {
    match decision {
        Decision::Confirmed => lang.pick("継続", "Confirmed"),
        Decision::Revoked => lang.pick("取消（利用停止）", "Revoked (suspended)"),
    }
}

fn report_json(r: &Report) -> Value {
    json!({
        "report": r.report.0,
        "account": r.account,
        "department": r.department,
        "change": r.change.as_str(),
        "details": r.details,
        "reported_by": r.reported_by,
        "time": r.time.to_string(),
        "handled": r.handled.as_ref().map(|h| json!({
            "by": h.by,
            "note": h.note,
            "time": h.time.to_string(),
        })),
    })
}

fn item_json(i: &Item) -> Value {
    json!({
        "account": i.account,
        "department": i.department,
        "decision": i.decided.as_ref().map(|(d, _, _)| d.as_str()),
        "decided_by": i.decided.as_ref().map(|(_, by, _)| by),
        "decided_at": i.decided.as_ref().map(|(_, _, t)| t.to_string()),
    })
}

fn review_json(v: &ReviewView, with_items: bool) -> Value {
    let r = &v.review;
    let mut value = json!({
        "review": r.review.0,
        "opened_by": r.opened_by,
        "opened": r.opened.to_string(),
        "deadline": r.deadline.to_string(),
        "members": v.items.len(),
        "undecided": v.undecided(),
        "closed": r.closed.as_ref().map(|c| json!({
            "by": c.by,
            "time": c.time.to_string(),
            "suspended": c.suspended,
        })),
    });
    if with_items {
        value["items"] = v.items.iter().map(item_json).collect();
    }
    value
}

fn created(done: &kiroku_app::access::accounts::Done) -> Response {
    (StatusCode::CREATED, Json(json::done(done))).into_response()
}

// ── API ────────────────────────────────────────────────────────────────────────────────────

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct NewReport {
    account: String,
    change: String,
    details: String,
}

fn parse_change(text: &str) -> Result<ReportedChange, AppError> {
    ReportedChange::parse(text.trim()).ok_or(
        AppError::new(Code::InvalidField)
            .with("field", "change")
            .with("why", "eligibility, no_longer_needed or changed"),
    )
}

/// `POST /api/access/reports`.
pub(super) async fn report(
    State(state): State<AppState>,
    Caller(actor): Caller,
    ApiJson(request): ApiJson<NewReport>,
) -> Result<Response, AppError> {
    let change = parse_change(&request.change)?;
    let done = state
        .app
        .access()
        .report_status_change(
            actor,
            &account_id(&request.account)?,
            change,
            request.details,
        )
        .await?;
    Ok(created(&done))
}

/// `GET /api/access/reports`.
pub(super) async fn reports(
    State(state): State<AppState>,
    _: Reader,
) -> Result<Json<Value>, AppError> {
    let reports = state.app.access().reports().await?;
    Ok(Json(json!({
        "reports": reports.iter().map(report_json).collect::<Vec<_>>(),
    })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct Handling {
    note: Option<String>,
}

/// `POST /api/access/reports/{id}/handling`.
pub(super) async fn handle(
    State(state): State<AppState>,
    Caller(actor): Caller,
    Path(id): Path<String>,
    ApiJson(request): ApiJson<Handling>,
) -> Result<Response, AppError> {
    let done = state
        .app
        .access()
        .handle_report(actor, entry_id(&id)?, request.note.unwrap_or_default())
        .await?;
    Ok(created(&done))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct NewReview {
    deadline: String,
}

/// `POST /api/access/reviews`.
pub(super) async fn open(
    State(state): State<AppState>,
    Caller(actor): Caller,
    ApiJson(request): ApiJson<NewReview>,
) -> Result<Response, AppError> {
    let done = state
        .app
        .access()
        .open_review(actor, deadline(&request.deadline)?)
        .await?;
    Ok(created(&done))
}

/// `GET /api/access/reviews`.
pub(super) async fn reviews(
    State(state): State<AppState>,
    _: Reader,
) -> Result<Json<Value>, AppError> {
    let reviews = state.app.access().reviews().await?;
    Ok(Json(json!({
        "reviews": reviews.iter().map(|v| review_json(v, false)).collect::<Vec<_>>(),
    })))
}

/// `GET /api/access/reviews/{id}`.
pub(super) async fn review(
    State(state): State<AppState>,
    _: Reader,
    Path(id): Path<String>,
) -> Result<Json<Value>, AppError> {
    let view = state.app.access().review(entry_id(&id)?).await?;
    Ok(Json(review_json(&view, true)))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct NewDecision {
    account: String,
    decision: String,
    reason: Option<String>,
}

/// `POST /api/access/reviews/{id}/decisions`.
pub(super) async fn decide(
    State(state): State<AppState>,
    Caller(actor): Caller,
    Path(id): Path<String>,
    ApiJson(request): ApiJson<NewDecision>,
) -> Result<Response, AppError> {
    let decision = Decision::parse(request.decision.trim()).ok_or(
        AppError::new(Code::InvalidField)
            .with("field", "decision")
            .with("why", "confirmed or revoked"),
    )?;
    let done = state
        .app
        .access()
        .decide_review(
            actor,
            entry_id(&id)?,
            &account_id(&request.account)?,
            decision,
            request.reason,
        )
        .await?;
    Ok(created(&done))
}

/// `POST /api/access/reviews/{id}/closure`.
pub(super) async fn close(
    State(state): State<AppState>,
    Caller(actor): Caller,
    Path(id): Path<String>,
) -> Result<Response, AppError> {
    let done = state
        .app
        .access()
        .close_review(actor, entry_id(&id)?)
        .await?;
    Ok(created(&done))
}

// ── Pages ──────────────────────────────────────────────────────────────────────────────────

async fn reader(state: &AppState, me: &SignedIn) -> Result<(), AppError> {
    if state.app.access().may_read_registers(&me.actor).await? {
        Ok(())
    } else {
        Err(AppError::new(Code::RegistersRestricted))
    }
}

/// `GET /accounts/{id}`.
pub(super) async fn account_page(
    State(state): State<AppState>,
    lang: Lang,
    Staff(me): Staff,
    Path(id): Path<String>,
) -> Result<Response, AppError> {
    reader(&state, &me).await?;
    let id = account_id(&id)?;
    let view = state.app.access().account(&id).await?;
    let p = &view.profile;
    let administrator = state
        .app
        .caller(&me.actor)
        .await?
        .roles
        .iter()
        .any(|r| r == "system_administrator");
    let mut steps = Vec::new();
    if administrator && me.actor.account.as_str() != id {
        let base = format!("/accounts/{id}");
        match view.state.status {
            Status::Active => {
                steps.push((
                    format!("{base}/suspend"),
                    lang.pick("利用を停止する（第9条）", "Suspend (Art. 9)")
                        .to_owned(),
                ));
                steps.push((
                    format!("{base}/deactivate"),
                    lang.pick("利用を終了する（退職など）", "Deactivate (left…)")
                        .to_owned(),
                ));
            }
            Status::Suspended => {
                steps.push((
                    format!("{base}/reinstate"),
                    lang.pick("利用を再開する", "Reinstate").to_owned(),
                ));
                steps.push((
                    format!("{base}/deactivate"),
                    lang.pick("利用を終了する（退職など）", "Deactivate (left…)")
                        .to_owned(),
                ));
            }
            Status::Deactivated => {}
        }
    }
    let html = render(&AccountPage {
        lang,
        title: format!("{} {}（{}）", p.family_name, p.given_name, p.account),
        switch: switch(lang, &format!("/accounts/{id}")),
        csrf: me.session.csrf.clone(),
        account: p.account.clone(),
        name: format!("{} {}", p.family_name, p.given_name),
        kana: format!("{} {}", p.family_kana, p.given_kana),
        staff_number: p.staff_number.clone().unwrap_or_else(|| "—".into()),
        department: p.department.clone(),
        job_type: p.job_type.clone(),
        category: category_name(lang, p.category).into(),
        valid: format!("{} – {}", p.valid_from, p.valid_until),
        status: view.state.status.as_str().into(),
        version: view.state.version,
        steps,
        roles: role_rows(lang, &view.roles),
        history: event_rows(lang, &view.history),
    });
    Ok(page(lang, false, html))
}

#[derive(Deserialize)]
pub(super) struct StatusForm {
    csrf: String,
    version: String,
    reason: String,
}

async fn status_step(
    state: AppState,
    me: SignedIn,
    id: String,
    step: StatusStep,
    form: StatusForm,
) -> Result<Response, AppError> {
    me.check_form(&form.csrf)?;
    let id = account_id(&id)?;
    state
        .app
        .access()
        .change_account_status(
            me.actor.clone(),
            &id,
            step,
            form_version(&form.version)?,
            form.reason.replace("\r\n", "\n"),
        )
        .await?;
    Ok(see_other(&format!("/accounts/{id}")))
}

/// `POST /accounts/{id}/{suspend|reinstate|deactivate}`.
pub(super) async fn status_form(
    State(state): State<AppState>,
    me: SignedIn,
    Path((id, step)): Path<(String, String)>,
    WebForm(form): WebForm<StatusForm>,
) -> Result<Response, AppError> {
    let step = match step.as_str() {
        "suspend" => StatusStep::Suspend,
        "reinstate" => StatusStep::Reinstate,
        "deactivate" => StatusStep::Deactivate,
        _ => return Err(AppError::not_found()),
    };
    status_step(state, me, id, step, form).await
}

#[derive(Deserialize)]
pub(super) struct ReportsQuery {
    account: Option<String>,
}

/// `GET /reports`: the form, and the reports for those who receive them.
pub(super) async fn reports_page(
    State(state): State<AppState>,
    lang: Lang,
    Staff(me): Staff,
    ApiQuery(query): ApiQuery<ReportsQuery>,
) -> Result<Response, AppError> {
    let account = match query.account {
        Some(a) => account_id(&a)?,
        None => me.actor.account.to_string(),
    };
    let reports = if state.app.access().may_read_registers(&me.actor).await? {
        Some(
            state
                .app
                .access()
                .reports()
                .await?
                .iter()
                .map(|r| ReportRow {
                    id: r.report.0,
                    account: r.account.clone(),
                    department: r.department.clone(),
                    change: change_name(lang, r.change).into(),
                    details: r.details.clone(),
                    reported_by: r.reported_by.clone(),
                    time: lang.datetime(r.time),
                    handled: r
                        .handled
                        .as_ref()
                        .map(|h| format!("{}（{}）: {}", h.by, lang.datetime(h.time), h.note)),
                })
                .collect(),
        )
    } else {
        None
    };
    let html = render(&ReportsPage {
        lang,
        title: lang
            .pick("異動・資格喪失などの届出", "Status-change reports")
            .into(),
        switch: switch(lang, "/reports"),
        csrf: me.session.csrf.clone(),
        account,
        changes: ReportedChange::ALL
            .iter()
            .map(|c| (c.as_str().to_owned(), change_name(lang, *c).to_owned()))
            .collect(),
        reports,
    });
    Ok(page(lang, false, html))
}

#[derive(Deserialize)]
pub(super) struct ReportForm {
    csrf: String,
    account: String,
    change: String,
    details: String,
}

/// `POST /reports`.
pub(super) async fn report_form(
    State(state): State<AppState>,
    me: SignedIn,
    WebForm(form): WebForm<ReportForm>,
) -> Result<Response, AppError> {
    me.check_form(&form.csrf)?;
    let change = parse_change(&form.change)?;
    let account = AccountId::parse(form.account.trim()).map_err(|_| {
        AppError::new(Code::InvalidField)
            .with("field", "account")
            .with("why", "is not an account id")
    })?;
    state
        .app
        .access()
        .report_status_change(
            me.actor.clone(),
            account.as_str(),
            change,
            form.details.replace("\r\n", "\n"),
        )
        .await?;
    Ok(see_other(&format!("/reports?account={account}")))
}

#[derive(Deserialize)]
pub(super) struct NoteForm {
    csrf: String,
    note: String,
}

/// `POST /reports/{id}/handle`.
pub(super) async fn handle_form(
    State(state): State<AppState>,
    me: SignedIn,
    Path(id): Path<String>,
    WebForm(form): WebForm<NoteForm>,
) -> Result<Response, AppError> {
    me.check_form(&form.csrf)?;
    state
        .app
        .access()
        .handle_report(
            me.actor.clone(),
            entry_id(&id)?,
            form.note.replace("\r\n", "\n"),
        )
        .await?;
    Ok(see_other("/reports"))
}

fn review_state(lang: Lang, v: &ReviewView, now: Timestamp) -> String {
    match &v.review.closed {
        Some(c) => format!(
            "{} {}（{}{}）",
            lang.pick("締切済み", "Closed"),
            lang.datetime(c.time),
            lang.pick("停止 ", "suspended "),
            c.suspended
        ),
        None if v.review.due(now) => lang
            .pick("期限切れ（締切待ち）", "Past its deadline (to close)")
            .into(),
        None => lang.pick("実施中", "Open").into(),
    }
}

/// `GET /reviews`.
pub(super) async fn reviews_page(
    State(state): State<AppState>,
    lang: Lang,
    Staff(me): Staff,
) -> Result<Response, AppError> {
    reader(&state, &me).await?;
    let now = state
        .app
        .clock()
        .now()
        .map_err(|_| AppError::new(Code::Unavailable))?;
    let reviews = state.app.access().reviews().await?;
    let html = render(&ReviewsPage {
        lang,
        title: lang.pick("利用者の見直し", "Access reviews").into(),
        switch: switch(lang, "/reviews"),
        csrf: me.session.csrf.clone(),
        reviews: reviews
            .iter()
            .map(|v| ReviewRow {
                id: v.review.review.0,
                opened: lang.datetime(v.review.opened),
                opened_by: v.review.opened_by.clone(),
                deadline: lang.datetime(v.review.deadline),
                members: v.items.len(),
                undecided: v.undecided(),
                state: review_state(lang, v, now),
            })
            .collect(),
    });
    Ok(page(lang, false, html))
}

#[derive(Deserialize)]
pub(super) struct DeadlineForm {
    csrf: String,
    deadline: String,
}

/// `POST /reviews`.
pub(super) async fn open_form(
    State(state): State<AppState>,
    me: SignedIn,
    WebForm(form): WebForm<DeadlineForm>,
) -> Result<Response, AppError> {
    me.check_form(&form.csrf)?;
    let done = state
        .app
        .access()
        .open_review(me.actor.clone(), deadline(&form.deadline)?)
        .await?;
    Ok(see_other(&format!("/reviews/{}", done.entry.0)))
}

/// `GET /reviews/{id}`: the members; the caller's undecided ones have their forms.
pub(super) async fn review_page(
    State(state): State<AppState>,
    lang: Lang,
    Staff(me): Staff,
    Path(id): Path<String>,
) -> Result<Response, AppError> {
    reader(&state, &me).await?;
    let id = entry_id(&id)?;
    let now = state
        .app
        .clock()
        .now()
        .map_err(|_| AppError::new(Code::Unavailable))?;
    let view = state.app.access().review(id).await?;
    let caller = state.app.caller(&me.actor).await?;
    let administrator = caller.roles.iter().any(|r| r == "system_administrator");
    let open = view.review.closed.is_none() && now < view.review.deadline;
    let html = render(&ReviewPage {
        lang,
        title: format!("{} #{}", lang.pick("利用者の見直し", "Access review"), id.0),
        switch: switch(lang, &format!("/reviews/{}", id.0)),
        csrf: me.session.csrf.clone(),
        id: id.0,
        deadline: lang.datetime(view.review.deadline),
        state: review_state(lang, &view, now),
        due: view.review.due(now) && administrator,
        items: view
            .items
            .iter()
            .map(|i| ItemRow {
                account: i.account.clone(),
                department: i.department.clone(),
                decided: i.decided.as_ref().map(|(d, by, t)| {
                    format!("{}（{by}, {}）", decision_name(lang, *d), lang.datetime(*t))
                }),
                decidable: open
                    && i.account != me.actor.account.as_str()
                    && (administrator || caller.heads.contains(&i.department)),
            })
            .collect(),
    });
    Ok(page(lang, false, html))
}

#[derive(Deserialize)]
pub(super) struct DecisionForm {
    csrf: String,
    reason: Option<String>,
}

async fn decide_form(
    state: AppState,
    me: SignedIn,
    id: String,
    account: String,
    decision: Decision,
    form: DecisionForm,
) -> Result<Response, AppError> {
    me.check_form(&form.csrf)?;
    let id = entry_id(&id)?;
    state
        .app
        .access()
        .decide_review(
            me.actor.clone(),
            id,
            &account_id(&account)?,
            decision,
            form.reason.map(|r| r.replace("\r\n", "\n")),
        )
        .await?;
    Ok(see_other(&format!("/reviews/{}", id.0)))
}

/// `POST /reviews/{id}/members/{account}/confirm`.
pub(super) async fn confirm_form(
    State(state): State<AppState>,
    me: SignedIn,
    Path((id, account)): Path<(String, String)>,
    WebForm(form): WebForm<DecisionForm>,
) -> Result<Response, AppError> {
    decide_form(state, me, id, account, Decision::Confirmed, form).await
}

/// `POST /reviews/{id}/members/{account}/revoke`.
pub(super) async fn revoke_form(
    State(state): State<AppState>,
    me: SignedIn,
    Path((id, account)): Path<(String, String)>,
    WebForm(form): WebForm<DecisionForm>,
) -> Result<Response, AppError> {
    decide_form(state, me, id, account, Decision::Revoked, form).await
}

#[derive(Deserialize)]
pub(super) struct CsrfForm {
    csrf: String,
}

/// `POST /reviews/{id}/close`.
pub(super) async fn close_form(
    State(state): State<AppState>,
    me: SignedIn,
    Path(id): Path<String>,
    WebForm(form): WebForm<CsrfForm>,
) -> Result<Response, AppError> {
    me.check_form(&form.csrf)?;
    let id = entry_id(&id)?;
    state
        .app
        .access()
        .close_review(me.actor.clone(), id)
        .await?;
    Ok(see_other(&format!("/reviews/{}", id.0)))
}
