//! The JSON shapes of people and access, written once for the API and for `kiroku … --json`.
//! Times are RFC 3339 UTC (the web pages show them in Japan time); dates are `YYYY-MM-DD`.

use kiroku_access::account::{AccountState, Event, Profile};
use kiroku_access::application::{Application, StepTaken};
use kiroku_access::department::Code;
use kiroku_access::role::Held;
use kiroku_app::access::accounts::{AccountSummary, AccountView, Done};
use serde_json::{json, Value};

/// An account's status.
pub fn state(state: &AccountState) -> Value {
    json!({
        "account": state.account,
        "version": state.version,
        "status": state.status.as_str(),
        "since": state.since.to_string(),
        "last_entry": state.last_entry.0,
    })
}

/// Who an account is.
pub fn profile(profile: &Profile) -> Value {
    json!({
        "account": profile.account,
        "family_name": profile.family_name,
        "given_name": profile.given_name,
        "family_kana": profile.family_kana,
        "given_kana": profile.given_kana,
        "staff_number": profile.staff_number,
        "department": profile.department,
        "job_type": profile.job_type,
        "category": profile.category.as_str(),
        "permitted_by": profile.permitted_by,
        "category_reason": profile.category_reason,
        "valid_from": profile.valid_from.to_string(),
        "valid_until": profile.valid_until.to_string(),
    })
}

/// An account in a list.
pub fn summary(summary: &AccountSummary) -> Value {
    json!({
        "account": summary.state.account,
        "version": summary.state.version,
        "status": summary.state.status.as_str(),
        "since": summary.state.since.to_string(),
        "profile": profile(&summary.profile),
    })
}

/// One appointment.
pub fn held(held: &Held) -> Value {
    json!({
        "role": held.role.as_str(),
        "department": held.department,
        "account": held.account,
        "valid_from": held.valid_from.to_string(),
        "valid_until": held.valid_until.map(|d| d.to_string()),
    })
}

fn event(event: &Event) -> Value {
    json!({
        "entry": event.entry.0,
        "event": event.event,
        "by": event.by,
        "reason": event.reason,
        "time": event.time.to_string(),
    })
}

/// An account with its roles and history.
pub fn view(view: &AccountView) -> Value {
    json!({
        "account": view.state.account,
        "version": view.state.version,
        "status": view.state.status.as_str(),
        "since": view.state.since.to_string(),
        "profile": profile(&view.profile),
        "roles": view.roles.iter().map(held).collect::<Vec<_>>(),
        "history": view.history.iter().map(event).collect::<Vec<_>>(),
    })
}

/// A department or job type.
pub fn code(code: &Code) -> Value {
    json!({
        "code": code.code,
        "name_ja": code.name_ja,
        "name_en": code.name_en,
        "active": code.active,
    })
}

fn step(step: &StepTaken) -> Value {
    json!({
        "version": step.version,
        "step": step.state.as_str(),
        "account": step.account,
        "reason": step.reason,
        "time": step.time.to_string(),
    })
}

/// An application with its form and steps.
pub fn application(application: &Application) -> Value {
    json!({
        "application": application.state.application.0,
        "version": application.state.version,
        "state": application.state.state.as_str(),
        "department": application.state.department,
        "since": application.state.since.to_string(),
        "profile": profile(&application.submitted.form.profile),
        "justification": application.submitted.form.justification,
        "applicant": application.submitted.applicant,
        "steps": application.steps.iter().map(step).collect::<Vec<_>>(),
    })
}

/// What a step appended.
pub fn done(done: &Done) -> Value {
    json!({
        "entry": done.entry.0,
        "tree_size": done.tree_size,
        "time": done.time.to_string(),
    })
}

/// A principal as policies see it.
pub fn principal(p: &kiroku_policy::Principal) -> Value {
    json!({
        "account": p.id,
        "kind": p.kind.as_str(),
        "status": p.status,
        "job_type": p.job_type,
        "department": p.department,
        "category": p.category,
        "roles": p.roles,
        "heads": p.heads,
        "scopes": p.scopes,
    })
}

/// A system client with its scopes and unrevoked tokens (by their SHA-256 only).
pub fn client(c: &kiroku_app::access::clients::ClientView) -> Value {
    json!({
        "account": c.profile.account,
        "name": format!("{} {}", c.profile.family_name, c.profile.given_name),
        "department": c.profile.department,
        "status": c.status,
        "valid_from": c.profile.valid_from.to_string(),
        "valid_until": c.profile.valid_until.to_string(),
        "scopes": c.scopes,
        "tokens": c.tokens.iter().map(|t| json!({
            "token_sha256": t.id,
            "scopes": t.scopes,
            "issued": t.issued.to_string(),
            "expires": t.expires.to_string(),
        })).collect::<Vec<_>>(),
    })
}
