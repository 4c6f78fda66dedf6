//! The JSON API of people and access: accounts, code lists, ID applications and roles. A caller
//! is a signed-in account (the session cookie, and for changes the session's CSRF token in
//! `X-CSRF-Token`) or the operator (the bearer token of the data directory), who acts with the
//! system administrator's powers under its own name. Each step's rule checks the caller's
//! roles; reading the registers needs a governance role (or the operator).

use crate::callers::{Caller, Reader};
use crate::error::AppError;
use crate::extract::{ApiJson, ApiQuery};
use crate::json;
use crate::router::AppState;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use kiroku_access::application::{ApplicationForm, State as Stage};
use kiroku_access::department::{Code, CodeList};
use kiroku_access::role::{Appointment, Role};
use kiroku_app::access::accounts::{Done, StatusStep};
use kiroku_core::{AccountId, Date, EntryIndex};
use serde::Deserialize;
use serde_json::{json, Value};

/// An account id from the path; anything else is a page that does not exist.
fn account_id(text: &str) -> Result<String, AppError> {
    AccountId::parse(text)
        .map(|a| a.to_string())
        .map_err(|_| AppError::not_found())
}

fn created(done: &Done) -> Response {
    (StatusCode::CREATED, Json(json::done(done))).into_response()
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct AccountsQuery {
    after: Option<String>,
    limit: Option<u64>,
}

pub(super) async fn accounts(
    State(state): State<AppState>,
    _: Reader,
    ApiQuery(query): ApiQuery<AccountsQuery>,
) -> Result<Json<Value>, AppError> {
    let limit = query
        .limit
        .unwrap_or(100)
        .clamp(1, state.app.config.limits.page_rows_max);
    let list = state.app.access().accounts(query.after, limit).await?;
    let next = (list.len() as u64 >= limit)
        .then(|| list.last().map(|a| a.state.account.clone()))
        .flatten();
    Ok(Json(json!({
        "accounts": list.iter().map(json::summary).collect::<Vec<_>>(),
        "next_after": next,
    })))
}

pub(super) async fn account(
    State(state): State<AppState>,
    _: Reader,
    Path(id): Path<String>,
) -> Result<Json<Value>, AppError> {
    let view = state.app.access().account(&account_id(&id)?).await?;
    Ok(Json(json::view(&view)))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct StatusChange {
    version: u64,
    reason: Option<String>,
}

async fn change(
    state: AppState,
    actor: kiroku_core::Actor,
    id: String,
    step: StatusStep,
    request: StatusChange,
) -> Result<Response, AppError> {
    let done = state
        .app
        .access()
        .change_account_status(
            actor,
            &account_id(&id)?,
            step,
            request.version,
            request.reason.unwrap_or_default(),
        )
        .await?;
    Ok(created(&done))
}

pub(super) async fn suspend(
    State(state): State<AppState>,
    Caller(actor): Caller,
    Path(id): Path<String>,
    ApiJson(request): ApiJson<StatusChange>,
) -> Result<Response, AppError> {
    change(state, actor, id, StatusStep::Suspend, request).await
}

pub(super) async fn reinstate(
    State(state): State<AppState>,
    Caller(actor): Caller,
    Path(id): Path<String>,
    ApiJson(request): ApiJson<StatusChange>,
) -> Result<Response, AppError> {
    change(state, actor, id, StatusStep::Reinstate, request).await
}

pub(super) async fn deactivate(
    State(state): State<AppState>,
    Caller(actor): Caller,
    Path(id): Path<String>,
    ApiJson(request): ApiJson<StatusChange>,
) -> Result<Response, AppError> {
    change(state, actor, id, StatusStep::Deactivate, request).await
}

pub(super) async fn roles(
    State(state): State<AppState>,
    _: Reader,
) -> Result<Json<Value>, AppError> {
    let held = state.app.access().appointments().await?;
    Ok(Json(json!({
        "appointments": held.iter().map(json::held).collect::<Vec<_>>(),
    })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct NewAppointment {
    role: Role,
    department: Option<String>,
    valid_from: Date,
    valid_until: Option<Date>,
}

pub(super) async fn appoint(
    State(state): State<AppState>,
    Caller(actor): Caller,
    Path(id): Path<String>,
    ApiJson(request): ApiJson<NewAppointment>,
) -> Result<Response, AppError> {
    let done = state
        .app
        .access()
        .appoint(
            actor,
            &account_id(&id)?,
            Appointment {
                role: request.role,
                department: request.department,
                valid_from: request.valid_from,
                valid_until: request.valid_until,
            },
        )
        .await?;
    Ok(created(&done))
}

/// The body of `PUT /api/access/accounts/{id}/supervisor`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct Supervision {
    /// The supervising doctor; `null` or absent ends the assignment.
    supervisor: Option<String>,
}

/// `PUT /api/access/accounts/{id}/supervisor`: assigns a trainee doctor's supervisor, who
/// alone countersigns the trainee's versions.
pub(super) async fn assign_supervisor(
    State(state): State<AppState>,
    Caller(actor): Caller,
    Path(id): Path<String>,
    ApiJson(request): ApiJson<Supervision>,
) -> Result<Response, AppError> {
    let supervisor = match request.supervisor.as_deref() {
        Some(s) => Some(account_id(s)?),
        None => None,
    };
    let done = state
        .app
        .access()
        .assign_supervisor(actor, &account_id(&id)?, supervisor.as_deref())
        .await?;
    Ok(created(&done))
}

/// The body of `POST /api/access/staff-identities`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct StaffIdentity {
    /// The Practitioner resource's id.
    practitioner: String,
    /// The account it is; `null` or absent ends its binding.
    account: Option<String>,
}

/// `POST /api/access/staff-identities`: the system administrator binds a Practitioner resource
/// to an account (or ends its binding): the only way a practitioner named in the records
/// relates an account to a patient.
pub(super) async fn bind_staff_identity(
    State(state): State<AppState>,
    Caller(actor): Caller,
    ApiJson(request): ApiJson<StaffIdentity>,
) -> Result<Response, AppError> {
    let account = match request.account.as_deref() {
        Some(id) => Some(account_id(id)?),
        None => None,
    };
    let done = state
        .app
        .access()
        .bind_staff_identity(actor, &request.practitioner, account.as_deref())
        .await?;
    Ok(created(&done))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct Dismissal {
    role: Role,
    department: Option<String>,
    reason: Option<String>,
}

pub(super) async fn dismiss(
    State(state): State<AppState>,
    Caller(actor): Caller,
    Path(id): Path<String>,
    ApiJson(request): ApiJson<Dismissal>,
) -> Result<Response, AppError> {
    let done = state
        .app
        .access()
        .dismiss(
            actor,
            &account_id(&id)?,
            request.role,
            request.department,
            request.reason.unwrap_or_default(),
        )
        .await?;
    Ok(created(&done))
}

fn list_of(text: &str) -> Result<CodeList, AppError> {
    match text {
        "departments" => Ok(CodeList::Department),
        "job-types" => Ok(CodeList::JobType),
        _ => Err(AppError::not_found()),
    }
}

pub(super) async fn codes(
    State(state): State<AppState>,
    _: Reader,
    Path(list): Path<String>,
) -> Result<Json<Value>, AppError> {
    let codes = state.app.access().codes(list_of(&list)?).await?;
    Ok(Json(json!({
        "codes": codes.iter().map(json::code).collect::<Vec<_>>(),
    })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct CodeDefinition {
    name_ja: String,
    name_en: String,
    #[serde(default = "yes")]
    active: bool,
}

fn yes() -> bool {
    true
}

pub(super) async fn define_code(
    State(state): State<AppState>,
    Caller(actor): Caller,
    Path((list, code)): Path<(String, String)>,
    ApiJson(request): ApiJson<CodeDefinition>,
) -> Result<Response, AppError> {
    let done = state
        .app
        .access()
        .define_code(
            actor,
            list_of(&list)?,
            Code {
                code,
                name_ja: request.name_ja,
                name_en: request.name_en,
                active: request.active,
            },
        )
        .await?;
    Ok(created(&done))
}

pub(super) async fn submit(
    State(state): State<AppState>,
    Caller(actor): Caller,
    ApiJson(form): ApiJson<ApplicationForm>,
) -> Result<Response, AppError> {
    let done = state.app.access().submit_application(actor, form).await?;
    Ok((
        StatusCode::CREATED,
        Json(json!({
            "application": done.entry.0,
            "version": 1,
            "tree_size": done.tree_size,
            "time": done.time.to_string(),
        })),
    )
        .into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct QueueQuery {
    state: Option<String>,
    department: Option<String>,
}

pub(super) async fn applications(
    State(state): State<AppState>,
    _: Reader,
    ApiQuery(query): ApiQuery<QueueQuery>,
) -> Result<Json<Value>, AppError> {
    let wanted = match query.state.as_deref() {
        None => Stage::Submitted,
        Some(text) => Stage::parse(text).ok_or_else(|| {
            AppError::new(crate::catalogue::Code::InvalidField)
                .with("field", "state")
                .with("why", "is not submitted, endorsed, approved or rejected")
        })?,
    };
    let list = state
        .app
        .access()
        .applications(wanted, query.department)
        .await?;
    Ok(Json(json!({
        "applications": list.iter().map(json::application).collect::<Vec<_>>(),
    })))
}

fn application_id(text: &str) -> Result<EntryIndex, AppError> {
    crate::extract::entry_in_path(text)
}

pub(super) async fn application(
    State(state): State<AppState>,
    _: Reader,
    Path(id): Path<String>,
) -> Result<Json<Value>, AppError> {
    let found = state.app.access().application(application_id(&id)?).await?;
    Ok(Json(json::application(&found)))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct Decision {
    version: u64,
    reason: Option<String>,
}

pub(super) async fn endorse(
    State(state): State<AppState>,
    Caller(actor): Caller,
    Path(id): Path<String>,
    ApiJson(request): ApiJson<Decision>,
) -> Result<Response, AppError> {
    let done = state
        .app
        .access()
        .endorse_application(actor, application_id(&id)?, request.version)
        .await?;
    Ok(created(&done))
}

pub(super) async fn approve(
    State(state): State<AppState>,
    Caller(actor): Caller,
    Path(id): Path<String>,
    ApiJson(request): ApiJson<Decision>,
) -> Result<Response, AppError> {
    let issued = state
        .app
        .access()
        .approve_application(actor, application_id(&id)?, request.version)
        .await?;
    // The initial secret is in this answer only: hand it to the person.
    let mut body = json::done(&issued.done);
    if let Some(map) = body.as_object_mut() {
        map.insert("account".into(), issued.account.into());
        map.insert("initial_secret".into(), issued.initial_secret.into());
    }
    Ok((StatusCode::CREATED, Json(body)).into_response())
}

pub(super) async fn reject(
    State(state): State<AppState>,
    Caller(actor): Caller,
    Path(id): Path<String>,
    ApiJson(request): ApiJson<Decision>,
) -> Result<Response, AppError> {
    let done = state
        .app
        .access()
        .reject_application(
            actor,
            application_id(&id)?,
            request.version,
            request.reason.unwrap_or_default(),
        )
        .await?;
    Ok(created(&done))
}
