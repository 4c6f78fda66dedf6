//! The web pages of people and access for signed-in staff: the ID application form, the queues
//! and one application with the steps the caller may take (endorse, approve, reject — the
//! rules decide), the page that shows an issued ID's initial secret once, the account list and
//! who holds which role. Reading the registers needs a governance role; anyone signed in may
//! fill in an application and follow the ones they filled in. Every form carries the session's CSRF token.

use crate::access::session::{category_name, role_name};
use crate::callers::{SignedIn, Staff};
use crate::catalogue::Code;
use crate::error::AppError;
use crate::extract::{ApiQuery, WebForm};
use crate::i18n::Lang;
use crate::pages::{
    page, render, switch, AccountRow, AccountsPage, ApplicationFormPage, ApplicationPage,
    ApplicationPrintPage, ApplicationRow, ApplicationsPage, IssuedPage, RoleRow, RolesPage,
    StepRow,
};
use crate::router::{form_version, see_other, AppState};
use axum::extract::{Path, State};
use axum::response::Response;
use kiroku_access::account::{Category, Profile};
use kiroku_access::application::{ApplicationForm, State as Stage};
use kiroku_access::department::CodeList;
use kiroku_core::{Date, EntryIndex};
use serde::Deserialize;

async fn reader(state: &AppState, me: &SignedIn) -> Result<(), AppError> {
    if state.app.access().may_read_registers(&me.actor).await? {
        Ok(())
    } else {
        Err(AppError::new(Code::RegistersRestricted))
    }
}

fn stage_name(lang: Lang, stage: Stage) -> &'static str {
    match stage {
        Stage::Submitted => lang.pick(
            "申請中（所属長の推薦待ち）",
            "Submitted (awaiting the head)",
        ),
        Stage::Endorsed => lang.pick("推薦済み（承認待ち）", "Endorsed (awaiting approval)"),
        Stage::Approved => lang.pick("承認・交付済み", "Approved, ID issued"),
        Stage::Rejected => lang.pick("却下", "Rejected"),
    }
}

fn name(p: &Profile) -> String {
    format!("{} {}", p.family_name, p.given_name)
}

pub(super) async fn applications(
    State(state): State<AppState>,
    lang: Lang,
    Staff(me): Staff,
) -> Result<Response, AppError> {
    reader(&state, &me).await?;
    let mut queues = Vec::new();
    for (stage, id) in [
        (Stage::Submitted, "submitted"),
        (Stage::Endorsed, "endorsed"),
    ] {
        let rows = state
            .app
            .access()
            .applications(stage, None)
            .await?
            .into_iter()
            .map(|a| ApplicationRow {
                id: a.state.application.0,
                account: a.submitted.form.profile.account.clone(),
                name: name(&a.submitted.form.profile),
                department: a.state.department.clone(),
                applicant: a.submitted.applicant.clone(),
                since: lang.datetime(a.state.since),
            })
            .collect();
        queues.push((stage_name(lang, stage).to_owned(), rows, id));
    }
    let html = render(&ApplicationsPage {
        lang,
        title: lang.pick("利用者 ID の申請", "ID applications").into(),
        switch: switch(lang, "/applications"),
        queues,
    });
    Ok(page(lang, false, html))
}

pub(super) async fn new_application(
    State(state): State<AppState>,
    lang: Lang,
    Staff(me): Staff,
) -> Result<Response, AppError> {
    let named = |codes: Vec<kiroku_access::department::Code>| {
        codes
            .into_iter()
            .filter(|c| c.active)
            .map(|c| {
                let shown = lang.pick(&c.name_ja, &c.name_en).to_owned();
                (c.code, shown)
            })
            .collect::<Vec<_>>()
    };
    let now = state
        .app
        .clock()
        .now()
        .map_err(|e| AppError::unavailable(&e))?;
    let html = render(&ApplicationFormPage {
        lang,
        title: lang.pick("利用者 ID 申請書", "ID application form").into(),
        switch: switch(lang, "/applications/new"),
        csrf: me.session.csrf.clone(),
        today: Date::in_japan(now).to_string(),
        departments: named(state.app.access().codes(CodeList::Department).await?),
        job_types: named(state.app.access().codes(CodeList::JobType).await?),
        categories: Category::ALL
            .iter()
            .map(|c| (c.as_str().to_owned(), category_name(lang, *c).to_owned()))
            .collect(),
    });
    Ok(page(lang, false, html))
}

#[derive(Deserialize)]
pub(super) struct NewApplication {
    csrf: String,
    account: String,
    family_name: String,
    given_name: String,
    family_kana: String,
    given_kana: String,
    #[serde(default)]
    staff_number: String,
    department: String,
    job_type: String,
    category: String,
    #[serde(default)]
    permitted_by: String,
    #[serde(default)]
    category_reason: String,
    valid_from: String,
    valid_until: String,
    justification: String,
}

fn optional(text: String) -> Option<String> {
    let text = text.trim().to_owned();
    (!text.is_empty()).then_some(text)
}

fn date(field: &'static str, text: &str) -> Result<Date, AppError> {
    Date::parse(text.trim()).ok_or_else(|| {
        AppError::new(Code::InvalidField)
            .with("field", field)
            .with("why", "is not a date (YYYY-MM-DD)")
    })
}

pub(super) async fn submit(
    State(state): State<AppState>,
    me: SignedIn,
    WebForm(form): WebForm<NewApplication>,
) -> Result<Response, AppError> {
    me.check_form(&form.csrf)?;
    let category = Category::parse(&form.category).ok_or_else(|| {
        AppError::new(Code::InvalidField)
            .with("field", "category")
            .with("why", "is not a category of Art. 10")
    })?;
    let application = ApplicationForm {
        profile: Profile {
            account: form.account.trim().to_lowercase(),
            family_name: form.family_name.trim().into(),
            given_name: form.given_name.trim().into(),
            family_kana: form.family_kana.trim().into(),
            given_kana: form.given_kana.trim().into(),
            staff_number: optional(form.staff_number),
            department: form.department,
            job_type: form.job_type,
            category,
            permitted_by: optional(form.permitted_by),
            category_reason: optional(form.category_reason),
            valid_from: date("valid_from", &form.valid_from)?,
            valid_until: date("valid_until", &form.valid_until)?,
        },
        justification: form.justification.replace("\r\n", "\n").trim().into(),
    };
    let done = state
        .app
        .access()
        .submit_application(me.actor.clone(), application)
        .await?;
    Ok(see_other(&format!("/applications/{}", done.entry.0)))
}

pub(super) async fn application(
    State(state): State<AppState>,
    lang: Lang,
    Staff(me): Staff,
    Path(id): Path<String>,
) -> Result<Response, AppError> {
    let (html, _) = application_page(&state, lang, &me, &id, false).await?;
    Ok(page(lang, false, html))
}

/// `GET /applications/{id}/print`: the application laid out as the prescribed paper form
/// (利用者 ID 申請書), with the applicant's, the head's and the administrator's boxes.
pub(super) async fn application_print(
    State(state): State<AppState>,
    lang: Lang,
    Staff(me): Staff,
    Path(id): Path<String>,
) -> Result<Response, AppError> {
    let (html, _) = application_page(&state, lang, &me, &id, true).await?;
    Ok(page(lang, false, html))
}

async fn application_page(
    state: &AppState,
    lang: Lang,
    me: &SignedIn,
    id: &str,
    print: bool,
) -> Result<(String, ()), AppError> {
    let id = crate::extract::entry_in_path(id)?;
    let found = state.app.access().application(id).await?;
    // Whoever filled it in may follow it; the registers' readers may see every one.
    if found.submitted.applicant != me.actor.account.as_str() {
        reader(state, me).await?;
    }
    let p = &found.submitted.form.profile;
    let category_detail = p
        .permitted_by
        .clone()
        .map(|by| format!("{}: {by}", lang.pick("許可した者", "Permitted by")))
        .or_else(|| p.category_reason.clone());
    let path = format!("/applications/{}", id.0);
    let view = ApplicationPage {
        lang,
        title: format!(
            "{} #{}",
            lang.pick("利用者 ID 申請", "ID application"),
            id.0
        ),
        switch: switch(lang, &path),
        csrf: me.session.csrf.clone(),
        id: id.0,
        version: found.state.version,
        open: matches!(found.state.state, Stage::Submitted | Stage::Endorsed),
        state: stage_name(lang, found.state.state).into(),
        account: p.account.clone(),
        name: name(p),
        kana: format!("{} {}", p.family_kana, p.given_kana),
        staff_number: p.staff_number.clone().unwrap_or_else(|| "—".into()),
        department: p.department.clone(),
        job_type: p.job_type.clone(),
        category: category_name(lang, p.category).into(),
        category_detail,
        valid: format!("{} – {}", p.valid_from, p.valid_until),
        justification: found.submitted.form.justification.clone(),
        steps: found
            .steps
            .iter()
            .map(|s| StepRow {
                version: s.version,
                step: stage_name(lang, s.state).into(),
                by: s.account.clone(),
                reason: s.reason.clone(),
                time: lang.datetime(s.time),
            })
            .collect(),
    };
    if !print {
        return Ok((render(&view), ()));
    }
    let step = |stage: Stage| {
        found
            .steps
            .iter()
            .find(|s| s.state == stage)
            .map(|s| format!("{}　{}", s.account, lang.date(s.time)))
    };
    let printed = state
        .app
        .clock()
        .now()
        .map(|t| lang.datetime(t))
        .unwrap_or_default();
    let print = ApplicationPrintPage {
        applicant: step(Stage::Submitted).unwrap_or_else(|| found.submitted.applicant.clone()),
        endorsed: step(Stage::Endorsed),
        decided: step(Stage::Approved).or_else(|| step(Stage::Rejected)),
        printed,
        page: view,
    };
    Ok((render(&print), ()))
}

#[derive(Deserialize)]
pub(super) struct Decision {
    csrf: String,
    version: String,
    #[serde(default)]
    reason: String,
}

pub(super) async fn endorse(
    State(state): State<AppState>,
    me: SignedIn,
    Path(id): Path<String>,
    WebForm(form): WebForm<Decision>,
) -> Result<Response, AppError> {
    me.check_form(&form.csrf)?;
    let id = crate::extract::entry_in_path(&id)?;
    state
        .app
        .access()
        .endorse_application(me.actor.clone(), id, form_version(&form.version)?)
        .await?;
    Ok(see_other(&format!("/applications/{}", id.0)))
}

pub(super) async fn reject(
    State(state): State<AppState>,
    me: SignedIn,
    Path(id): Path<String>,
    WebForm(form): WebForm<Decision>,
) -> Result<Response, AppError> {
    me.check_form(&form.csrf)?;
    let id = crate::extract::entry_in_path(&id)?;
    let reason = form.reason.replace("\r\n", "\n");
    state
        .app
        .access()
        .reject_application(me.actor.clone(), id, form_version(&form.version)?, reason)
        .await?;
    Ok(see_other(&format!("/applications/{}", id.0)))
}

pub(super) async fn approve(
    State(state): State<AppState>,
    lang: Lang,
    me: SignedIn,
    Path(id): Path<String>,
    WebForm(form): WebForm<Decision>,
) -> Result<Response, AppError> {
    me.check_form(&form.csrf)?;
    let id: EntryIndex = crate::extract::entry_in_path(&id)?;
    let issued = state
        .app
        .access()
        .approve_application(me.actor.clone(), id, form_version(&form.version)?)
        .await?;
    // Shown here once, never again: the answer to the approval itself, not a page to return to.
    let html = render(&IssuedPage {
        lang,
        title: lang.pick("利用者 ID を交付しました", "ID issued").into(),
        switch: switch(lang, "/applications"),
        account: issued.account,
        secret: issued.initial_secret,
    });
    Ok(page(lang, false, html))
}

#[derive(Deserialize)]
pub(super) struct AccountsQuery {
    after: Option<String>,
}

/// Accounts per page.
const ACCOUNTS_PER_PAGE: u64 = 100;

pub(super) async fn accounts(
    State(state): State<AppState>,
    lang: Lang,
    Staff(me): Staff,
    ApiQuery(query): ApiQuery<AccountsQuery>,
) -> Result<Response, AppError> {
    reader(&state, &me).await?;
    let list = state
        .app
        .access()
        .accounts(query.after, ACCOUNTS_PER_PAGE)
        .await?;
    let next = (list.len() as u64 >= ACCOUNTS_PER_PAGE)
        .then(|| {
            list.last()
                .map(|a| format!("/accounts?after={}", a.state.account))
        })
        .flatten();
    let html = render(&AccountsPage {
        lang,
        title: lang.pick("利用者", "Accounts").into(),
        switch: switch(lang, "/accounts"),
        accounts: list
            .iter()
            .map(|a| AccountRow {
                account: a.state.account.clone(),
                name: name(&a.profile),
                department: a.profile.department.clone(),
                job_type: a.profile.job_type.clone(),
                status: a.state.status.as_str().into(),
            })
            .collect(),
        next,
    });
    Ok(page(lang, false, html))
}

pub(super) async fn roles(
    State(state): State<AppState>,
    lang: Lang,
    Staff(me): Staff,
) -> Result<Response, AppError> {
    reader(&state, &me).await?;
    let held = state.app.access().appointments().await?;
    let html = render(&RolesPage {
        lang,
        title: lang.pick("役割の任命状況", "Roles held").into(),
        switch: switch(lang, "/roles"),
        appointments: held
            .iter()
            .map(|h| RoleRow {
                role: role_name(lang, h.role).into(),
                department: h.department.clone().unwrap_or_default(),
                account: h.account.clone(),
                dates: match h.valid_until {
                    Some(until) => format!("{} – {until}", h.valid_from),
                    None => format!("{} –", h.valid_from),
                },
            })
            .collect(),
    });
    Ok(page(lang, false, html))
}
