//! The access policy (Art. 11) over HTTP: its versions, the one in force (now or at a past
//! time), proposing a new version (validated before it is saved), approving or rejecting one,
//! and the explainer — "may this account do this, and which policy says so". JSON under
//! `/api/policy/…`, pages under `/policy…` for signed-in staff; every form carries the
//! session's CSRF token.

use crate::callers::{Caller, Reader};
use crate::callers::{SignedIn, Staff};
use crate::catalogue::Code;
use crate::error::AppError;
use crate::extract::{ApiJson, ApiQuery, WebForm};
use crate::i18n::Lang;
use crate::pages::{
    page, render, switch, PolicyExplainPage, PolicyPage, PolicyRow, PolicyVersionPage,
};
use crate::router::{form_version, see_other, AppState};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use kiroku_app::access::accounts::Done;
use kiroku_app::policy::{Explanation, VersionView};
use kiroku_core::{AccountId, Timestamp};
use kiroku_policy::version::{Version, VersionState};
use kiroku_policy::{Action, Resource};
use serde::Deserialize;
use serde_json::{json, Value};

fn version_json(v: &Version, in_force: bool, with_text: bool) -> Value {
    let mut out = json!({
        "number": v.proposal.number,
        "state": v.state().as_str(),
        "in_force": in_force,
        "based_on": v.proposal.based_on,
        "proposed_by": v.proposal.proposed_by,
        "proposed_entry": v.proposal.entry.0,
        "proposed_at": v.proposal.time.to_string(),
        "decided_by": v.decision.as_ref().map(|d| d.by.clone()),
        "decided_entry": v.decision.as_ref().map(|d| d.entry.0),
        "decided_at": v.decision.as_ref().map(|d| d.time.to_string()),
    });
    if with_text {
        out["text"] = Value::String(v.proposal.text.clone());
    }
    out
}

fn explanation_json(e: &Explanation) -> Value {
    json!({
        "account": e.principal.id,
        "action": e.action.as_str(),
        "allowed": e.decision.allowed,
        "version": e.version,
        "policies": e.policies.iter().map(|(id, text)| json!({"id": id, "text": text})).collect::<Vec<_>>(),
        "errors": e.decision.errors,
        "principal": {
            "status": e.principal.status,
            "job_type": e.principal.job_type,
            "department": e.principal.department,
            "category": e.principal.category,
            "roles": e.principal.roles,
            "heads": e.principal.heads,
        },
    })
}

fn created(done: &Done, number: Option<u64>) -> Response {
    let mut body = crate::json::done(done);
    if let Some(n) = number {
        body["number"] = json!(n);
    }
    (StatusCode::CREATED, Json(body)).into_response()
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct AtQuery {
    at: Option<String>,
    /// The language (read by the `Lang` extractor; the language switch links add it).
    #[serde(default, rename = "lang")]
    _lang: Option<String>,
}

fn at(query: &AtQuery) -> Result<Option<Timestamp>, AppError> {
    query
        .at
        .as_deref()
        .map(|t| Timestamp::parse_given(t).ok_or(AppError::new(Code::BadTime)))
        .transpose()
}

pub(super) async fn versions(
    State(state): State<AppState>,
    _: Reader,
) -> Result<Json<Value>, AppError> {
    let policy = state.app.policy().policy_state().await?;
    let list = state.app.policy().policy_versions().await?;
    Ok(Json(json!({
        "version": policy.version,
        "in_force": policy.in_force,
        "versions": list.iter().map(|v| version_json(&v.version, v.in_force, false)).collect::<Vec<_>>(),
    })))
}

fn number(text: &str) -> Result<u64, AppError> {
    text.parse::<u64>()
        .ok()
        .filter(|n| *n >= 1)
        .ok_or_else(AppError::not_found)
}

pub(super) async fn version(
    State(state): State<AppState>,
    _: Reader,
    Path(n): Path<String>,
) -> Result<Json<Value>, AppError> {
    let n = number(&n)?;
    let policy = state.app.policy().policy_state().await?;
    let v = state.app.policy().policy_version(n).await?;
    Ok(Json(version_json(&v, policy.in_force == n, true)))
}

pub(super) async fn in_force(
    State(state): State<AppState>,
    _: Reader,
    ApiQuery(query): ApiQuery<AtQuery>,
) -> Result<Json<Value>, AppError> {
    let (adoption, v) = state.app.policy().policy_at(at(&query)?).await?;
    let mut body = version_json(&v, false, true);
    body["since"] = json!(adoption.since.to_string());
    body.as_object_mut().map(|o| o.remove("in_force"));
    Ok(Json(body))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct Proposal {
    version: u64,
    text: String,
    reason: String,
}

pub(super) async fn propose(
    State(state): State<AppState>,
    Caller(actor): Caller,
    ApiJson(body): ApiJson<Proposal>,
) -> Result<Response, AppError> {
    let (done, number) = state
        .app
        .policy()
        .propose_policy(actor, body.version, body.text, body.reason)
        .await?;
    Ok(created(&done, Some(number)))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct Step {
    version: u64,
    #[serde(default)]
    reason: String,
}

async fn decide(
    state: AppState,
    actor: kiroku_core::Actor,
    n: String,
    body: Step,
    approve: bool,
) -> Result<Response, AppError> {
    let n = number(&n)?;
    let done = state
        .app
        .policy()
        .decide_policy(actor, n, body.version, approve, body.reason)
        .await?;
    Ok(created(&done, Some(n)))
}

pub(super) async fn approve(
    State(state): State<AppState>,
    Caller(actor): Caller,
    Path(n): Path<String>,
    ApiJson(body): ApiJson<Step>,
) -> Result<Response, AppError> {
    decide(state, actor, n, body, true).await
}

pub(super) async fn reject(
    State(state): State<AppState>,
    Caller(actor): Caller,
    Path(n): Path<String>,
    ApiJson(body): ApiJson<Step>,
) -> Result<Response, AppError> {
    decide(state, actor, n, body, false).await
}

/// The question put to the explainer: an account, an action, and what the action is done to.
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct Question {
    account: Option<String>,
    action: Option<String>,
    /// The department of the application, record or department asked about.
    department: Option<String>,
    /// The category of the record asked about.
    category: Option<String>,
    /// The account acted on (for status changes and reports).
    target: Option<String>,
    /// The language (read by the `Lang` extractor; the language switch links add it).
    #[serde(default, rename = "lang")]
    _lang: Option<String>,
}

fn action(text: Option<&str>) -> Result<Action, AppError> {
    let text = text.unwrap_or_default();
    Action::parse(text).ok_or_else(|| {
        AppError::new(Code::InvalidField)
            .with("field", "action")
            .with("why", "is not an action of the policy schema")
    })
}

async fn resource(state: &AppState, q: &Question, action: Action) -> Result<Resource, AppError> {
    let department = q.department.clone().unwrap_or_default();
    Ok(match action.any_resource() {
        Resource::Application { id, .. } => Resource::Application { id, department },
        Resource::Record { id, care, .. } => Resource::Record {
            id,
            category: q.category.clone().unwrap_or_default(),
            department,
            care,
        },
        Resource::Department(_) => Resource::Department(department),
        Resource::Account(any) => match q.target.as_deref().filter(|t| !t.is_empty()) {
            Some(target) => {
                let target = AccountId::parse(target)
                    .map_err(|_| AppError::new(Code::NoSuchAccount).with("account", target))?;
                Resource::Account(Box::new(state.app.principal(target.as_str()).await?))
            }
            None => Resource::Account(any),
        },
        other => other,
    })
}

async fn explain(
    state: &AppState,
    asker: &kiroku_core::Actor,
    q: &Question,
) -> Result<Explanation, AppError> {
    let action = action(q.action.as_deref())?;
    let account = q
        .account
        .clone()
        .filter(|a| !a.is_empty())
        .unwrap_or_else(|| asker.account.to_string());
    let resource = resource(state, q, action).await?;
    Ok(state
        .app
        .policy()
        .explain(asker, &account, action, resource)
        .await?)
}

pub(super) async fn decision(
    State(state): State<AppState>,
    Caller(actor): Caller,
    ApiQuery(q): ApiQuery<Question>,
) -> Result<Json<Value>, AppError> {
    Ok(Json(explanation_json(&explain(&state, &actor, &q).await?)))
}

// ── Pages ───────────────────────────────────────────────────────────────────────────────────

fn state_name(lang: Lang, v: &VersionView) -> String {
    let base = match v.version.state() {
        VersionState::Proposed => lang.pick("承認待ち", "Awaiting approval"),
        VersionState::Approved => lang.pick("承認済み", "Approved"),
        VersionState::Rejected => lang.pick("却下", "Rejected"),
    };
    if v.in_force {
        format!("{base}{}", lang.pick("（現在有効）", " (in force)"))
    } else {
        base.to_owned()
    }
}

pub(super) async fn policy_page(
    State(state): State<AppState>,
    lang: Lang,
    Staff(me): Staff,
    ApiQuery(query): ApiQuery<AtQuery>,
) -> Result<Response, AppError> {
    if !state.app.access().may_read_registers(&me.actor).await? {
        return Err(AppError::new(Code::RegistersRestricted));
    }
    let policy = state.app.policy().policy_state().await?;
    let list = state.app.policy().policy_versions().await?;
    let when = at(&query)?;
    let (adoption, shown) = state.app.policy().policy_at(when).await?;
    let html = render(&PolicyPage {
        lang,
        title: lang
            .pick(
                "アクセス方針（職種による利用制限）",
                "Access policy (use restricted by job type)",
            )
            .into(),
        switch: switch(lang, "/policy"),
        csrf: me.session.csrf.clone(),
        stream_version: policy.version,
        in_force: policy.in_force,
        shown_number: adoption.number,
        shown_since: lang.datetime(adoption.since),
        at: query.at.clone().unwrap_or_default(),
        text: shown.proposal.text.clone(),
        versions: list
            .iter()
            .map(|v| PolicyRow {
                number: v.version.proposal.number,
                state: state_name(lang, v),
                proposed_by: v.version.proposal.proposed_by.clone(),
                proposed_at: lang.datetime(v.version.proposal.time),
                decided: v
                    .version
                    .decision
                    .as_ref()
                    .map(|d| format!("{} {}", d.by, lang.datetime(d.time)))
                    .unwrap_or_default(),
            })
            .collect(),
    });
    Ok(page(lang, false, html))
}

pub(super) async fn version_page(
    State(state): State<AppState>,
    lang: Lang,
    Staff(me): Staff,
    Path(n): Path<String>,
) -> Result<Response, AppError> {
    if !state.app.access().may_read_registers(&me.actor).await? {
        return Err(AppError::new(Code::RegistersRestricted));
    }
    let n = number(&n)?;
    let policy = state.app.policy().policy_state().await?;
    let v = state.app.policy().policy_version(n).await?;
    let view = VersionView {
        in_force: policy.in_force == n,
        version: v,
    };
    let html = render(&PolicyVersionPage {
        lang,
        title: format!(
            "{} {n}",
            lang.pick("アクセス方針 版", "Access policy version")
        ),
        switch: switch(lang, &format!("/policy/versions/{n}")),
        csrf: me.session.csrf.clone(),
        number: n,
        state: state_name(lang, &view),
        open: view.version.state() == VersionState::Proposed,
        stream_version: policy.version,
        based_on: view.version.proposal.based_on,
        proposed_by: view.version.proposal.proposed_by.clone(),
        proposed_at: lang.datetime(view.version.proposal.time),
        text: view.version.proposal.text.clone(),
    });
    Ok(page(lang, false, html))
}

#[derive(Deserialize)]
pub(super) struct ProposalForm {
    csrf: String,
    version: String,
    text: String,
    #[serde(default)]
    reason: String,
}

pub(super) async fn propose_form(
    State(state): State<AppState>,
    me: SignedIn,
    WebForm(form): WebForm<ProposalForm>,
) -> Result<Response, AppError> {
    me.check_form(&form.csrf)?;
    let (_, n) = state
        .app
        .policy()
        .propose_policy(
            me.actor.clone(),
            form_version(&form.version)?,
            form.text.replace("\r\n", "\n"),
            form.reason.replace("\r\n", "\n"),
        )
        .await?;
    Ok(see_other(&format!("/policy/versions/{n}")))
}

#[derive(Deserialize)]
pub(super) struct StepForm {
    csrf: String,
    version: String,
    #[serde(default)]
    reason: String,
}

async fn step_form(
    state: AppState,
    me: SignedIn,
    n: String,
    form: StepForm,
    approve: bool,
) -> Result<Response, AppError> {
    me.check_form(&form.csrf)?;
    let n = number(&n)?;
    state
        .app
        .policy()
        .decide_policy(
            me.actor.clone(),
            n,
            form_version(&form.version)?,
            approve,
            form.reason.replace("\r\n", "\n"),
        )
        .await?;
    Ok(see_other(&format!("/policy/versions/{n}")))
}

pub(super) async fn approve_form(
    State(state): State<AppState>,
    me: SignedIn,
    Path(n): Path<String>,
    WebForm(form): WebForm<StepForm>,
) -> Result<Response, AppError> {
    step_form(state, me, n, form, true).await
}

pub(super) async fn reject_form(
    State(state): State<AppState>,
    me: SignedIn,
    Path(n): Path<String>,
    WebForm(form): WebForm<StepForm>,
) -> Result<Response, AppError> {
    step_form(state, me, n, form, false).await
}

pub(super) async fn explain_page(
    State(state): State<AppState>,
    lang: Lang,
    Staff(me): Staff,
    ApiQuery(q): ApiQuery<Question>,
) -> Result<Response, AppError> {
    let asked = q.action.as_deref().is_some_and(|a| !a.is_empty());
    let answer = if asked {
        Some(explain(&state, &me.actor, &q).await?)
    } else {
        None
    };
    let html = render(&PolicyExplainPage {
        lang,
        title: lang.pick("アクセス可否の確認", "Policy explainer").into(),
        switch: switch(lang, "/policy/explain"),
        account: q
            .account
            .clone()
            .unwrap_or_else(|| me.actor.account.to_string()),
        action: q.action.clone().unwrap_or_default(),
        department: q.department.clone().unwrap_or_default(),
        category: q.category.clone().unwrap_or_default(),
        target: q.target.clone().unwrap_or_default(),
        actions: Action::ALL.iter().map(|a| a.as_str().to_owned()).collect(),
        allowed: answer.as_ref().map(|a| a.decision.allowed),
        version: answer.as_ref().map_or(0, |a| a.version),
        policies: answer.map(|a| a.policies).unwrap_or_default(),
    });
    Ok(page(lang, false, html))
}
