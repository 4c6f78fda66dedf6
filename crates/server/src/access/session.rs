//! Signing in and out on the web, the signed-in caller, and "my account". The session token
//! travels in a cookie the page's scripts cannot read (`HttpOnly`) and other sites cannot make
//! the browser send (`SameSite=Strict`); every form that changes something also carries the
//! session's CSRF token, and the sign-in form a double-submit token of its own, so no other
//! site can sign a browser in or out or act through it.

use crate::callers::{cookie, same, SignedIn, SigningIn, Staff, SESSION_COOKIE};
use crate::catalogue::Code;
use crate::error::AppError;
use crate::extract::WebForm;
use crate::i18n::Lang;
use crate::pages::{
    page, render, switch, EventRow, FactorPage, MePage, PasskeyRow, PasswordPage, SignInPage,
};
use crate::router::{see_other, AppState};
use axum::extract::State;
use axum::http::header::SET_COOKIE;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::Response;
use kiroku_access::account::Category;
use kiroku_access::role::Role;
use kiroku_app::access::factors::Offer;
use kiroku_app::access::sessions::Pending;
use kiroku_app::Error;
use serde::Deserialize;

/// The sign-in form's double-submit cookie.
const SIGN_IN_COOKIE: &str = "kiroku_sign_in";

fn with_cookie(mut response: Response, cookie: String) -> Response {
    if let Ok(value) = HeaderValue::from_str(&cookie) {
        response.headers_mut().append(SET_COOKIE, value);
    }
    response
}

/// A cookie only this server's pages send back (`SameSite=Strict`), no script reads
/// (`HttpOnly`), and — where browsers reach the server over HTTPS — only over TLS (`Secure`).
fn cookie_text(state: &AppState, name: &str, value: &str, path: &str) -> String {
    let secure = if state.app.config.https() {
        "; Secure"
    } else {
        ""
    };
    format!("{name}={value}; Path={path}; HttpOnly; SameSite=Strict{secure}")
}

fn session_cookie(state: &AppState, token: &str) -> String {
    cookie_text(state, SESSION_COOKIE, token, "/")
}

/// Clears the cookie `name` set for `path` (a cookie is cleared at the path it was set at).
fn cleared(state: &AppState, name: &str, path: &str) -> String {
    cookie_text(state, name, "", path) + "; Max-Age=0"
}

/// An account's appointments as shown: the role, and the department a head heads.
pub fn role_rows(lang: Lang, held: &[kiroku_access::role::Held]) -> Vec<String> {
    held.iter()
        .map(|r| match &r.department {
            Some(d) => format!("{}（{d}）", role_name(lang, r.role)),
            None => role_name(lang, r.role).to_owned(),
        })
        .collect()
}

/// An account's history as shown, times in Japan.
pub fn event_rows(lang: Lang, history: &[kiroku_access::account::Event]) -> Vec<EventRow> {
    history
        .iter()
        .map(|e| EventRow {
            time: lang.datetime(e.time),
            event: e.event.clone(),
            by: e.by.clone(),
            reason: e.reason.clone(),
            entry: e.entry.0,
        })
        .collect()
}

/// Role names as the regulations give them.
pub fn role_name(lang: Lang, role: Role) -> &'static str {
    match role {
        Role::SystemAdministrator => lang.pick("システム管理責任者", "System administrator"),
        Role::OperationsManager => lang.pick("運用責任者", "Operations manager"),
        Role::MonitoringManager => lang.pick("監視責任者", "Monitoring manager"),
        Role::DeviceManager => lang.pick("接続機器管理責任者", "Connected-device manager"),
        Role::AuditManager => lang.pick("監査責任者", "Audit manager"),
        Role::Auditor => lang.pick("監査担当者", "Auditor"),
        Role::CommitteeMember => lang.pick("情報化推進委員会委員", "IT committee member"),
    }
}

/// The Art. 10 categories as the regulations give them.
pub fn category_name(lang: Lang, category: Category) -> &'static str {
    match category {
        Category::MedicalStaff => {
            lang.pick("(1) 医療業務に従事する職員", "(1) Staff in medical work")
        }
        Category::TraineeDoctor => lang.pick("(2) 研修登録医", "(2) Registered trainee doctor"),
        Category::PermittedByStaff => lang.pick(
            "(3) 医療スタッフが許可した者",
            "(3) Permitted by medical staff",
        ),
        Category::Researcher => {
            lang.pick("(4) 研究者・研究生", "(4) Researcher or research student")
        }
        Category::SpeciallyNecessary => {
            lang.pick("(5) 特に必要と認める者", "(5) Deemed especially necessary")
        }
    }
}

fn sign_in_page(lang: Lang, csrf: &str, account: &str, message: Option<String>) -> Response {
    let status = if message.is_some() {
        StatusCode::UNAUTHORIZED
    } else {
        StatusCode::OK
    };
    let html = render(&SignInPage {
        lang,
        title: lang.pick("サインイン", "Sign in").into(),
        switch: switch(lang, "/sign-in"),
        csrf: csrf.into(),
        account: account.into(),
        message,
    });
    let mut response = page(lang, false, html);
    *response.status_mut() = status;
    response
}

pub(super) async fn sign_in_form(State(state): State<AppState>, lang: Lang) -> Response {
    let csrf = state.app.access().new_form_token();
    with_cookie(
        sign_in_page(lang, &csrf, "", None),
        cookie_text(&state, SIGN_IN_COOKIE, &csrf, "/sign-in"),
    )
}

#[derive(Deserialize)]
pub(super) struct SignInForm {
    account: String,
    password: String,
    csrf: String,
}

pub(super) async fn sign_in(
    State(state): State<AppState>,
    lang: Lang,
    headers: HeaderMap,
    WebForm(form): WebForm<SignInForm>,
) -> Result<Response, AppError> {
    let expected = cookie(&headers, SIGN_IN_COOKIE).unwrap_or_default();
    if expected.is_empty() || !same(expected, &form.csrf) {
        return Err(AppError::new(Code::CsrfMismatch));
    }
    let account = form.account.trim().to_lowercase();
    match state.app.access().sign_in(&account, &form.password).await {
        Ok(signed) => {
            let next = signed.next.unwrap_or("/me");
            let response = with_cookie(see_other(next), session_cookie(&state, &signed.token));
            Ok(with_cookie(
                response,
                cleared(&state, SIGN_IN_COOKIE, "/sign-in"),
            ))
        }
        Err(
            e @ (Error::Access(kiroku_app::access::Error::SignInFailed)
            | Error::Access(kiroku_app::access::Error::Locked(_))
            | Error::Access(kiroku_app::access::Error::AccountInactive)),
        ) => {
            let error = AppError::from(e);
            let message = error.message(lang);
            // Back to the form, the id kept, the same double-submit token.
            Ok(sign_in_page(lang, expected, &account, Some(message)))
        }
        Err(e) => Err(e.into()),
    }
}

#[derive(Deserialize)]
pub(super) struct SignOutForm {
    csrf: String,
    #[serde(default)]
    everywhere: Option<String>,
}

pub(super) async fn sign_out(
    State(state): State<AppState>,
    SigningIn(me): SigningIn,
    WebForm(form): WebForm<SignOutForm>,
) -> Result<Response, AppError> {
    me.check_form_signing_in(&form.csrf)?;
    if form.everywhere.is_some() {
        state
            .app
            .access()
            .sign_out_everywhere(&me.session.account)
            .await?;
    } else {
        state.app.access().sign_out(&me.token).await?;
    }
    Ok(with_cookie(
        see_other("/sign-in"),
        cleared(&state, SESSION_COOKIE, "/"),
    ))
}

fn password_page(lang: Lang, me: &SignedIn, message: Option<String>) -> Response {
    let html = render(&PasswordPage {
        lang,
        title: lang.pick("パスワードの設定", "Choose a password").into(),
        switch: switch(lang, "/me/password"),
        csrf: me.session.csrf.clone(),
        must_change: me.session.must_change,
        message,
    });
    page(lang, false, html)
}

pub(super) async fn password_form(lang: Lang, SigningIn(me): SigningIn) -> Response {
    password_page(lang, &me, None)
}

#[derive(Deserialize)]
pub(super) struct PasswordForm {
    current: String,
    new: String,
    confirm: String,
    csrf: String,
}

pub(super) async fn change_password(
    State(state): State<AppState>,
    lang: Lang,
    SigningIn(me): SigningIn,
    WebForm(form): WebForm<PasswordForm>,
) -> Result<Response, AppError> {
    me.check_form_signing_in(&form.csrf)?;
    let refused = |error: AppError| {
        let message = error.message(lang);
        let mut response = password_page(lang, &me, Some(message));
        *response.status_mut() = StatusCode::UNPROCESSABLE_ENTITY;
        response
    };
    if form.new != form.confirm {
        return Ok(refused(AppError::new(Code::PasswordsDiffer)));
    }
    match state
        .app
        .access()
        .change_password(&me.token, &form.current, &form.new)
        .await
    {
        Ok(()) => Ok(see_other("/me")),
        Err(
            e @ (Error::Access(kiroku_app::access::Error::Password(_))
            | Error::Access(kiroku_app::access::Error::SignInFailed)),
        ) => Ok(refused(e.into())),
        Err(Error::Unauthorized) if me.session.pending == Pending::SecondFactor => {
            Ok(see_other("/sign-in/second-factor"))
        }
        Err(e) => Err(e.into()),
    }
}

pub(super) async fn me(
    State(state): State<AppState>,
    lang: Lang,
    Staff(me): Staff,
) -> Result<Response, AppError> {
    let view = state
        .app
        .access()
        .account(me.session.account.as_str())
        .await?;
    let p = &view.profile;
    let html = render(&MePage {
        lang,
        title: lang.pick("マイアカウント", "My account").into(),
        switch: switch(lang, "/me"),
        csrf: me.session.csrf.clone(),
        account: p.account.clone(),
        name: format!("{} {}", p.family_name, p.given_name),
        kana: format!("{} {}", p.family_kana, p.given_kana),
        department: p.department.clone(),
        job_type: p.job_type.clone(),
        category: category_name(lang, p.category).into(),
        valid: format!("{} – {}", p.valid_from, p.valid_until),
        status: view.state.status.as_str().into(),
        roles: role_rows(lang, &view.roles),
        history: event_rows(lang, &view.history),
    });
    Ok(page(lang, false, html))
}

// ── Second factors ──────────────────────────────────────────────────────────────────────────

/// What the two-factor pages show of the account's factors.
pub(super) struct FactorView {
    factors: kiroku_app::access::passkeys::Factors,
    /// Why passkeys do not work at the address the browser reached, if they do not.
    unavailable: Option<AppError>,
}

pub(super) async fn factor_view(
    state: &AppState,
    headers: &HeaderMap,
    me: &SignedIn,
) -> Result<FactorView, AppError> {
    Ok(FactorView {
        factors: state
            .app
            .access()
            .factors(me.session.account.as_str())
            .await?,
        unavailable: crate::access::passkeys::relying_party(state, headers).err(),
    })
}

/// The `Host` the browser asked for.
pub(super) fn host(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(axum::http::header::HOST)
        .and_then(|v| v.to_str().ok())
}

pub(super) fn factor_page(
    lang: Lang,
    me: &SignedIn,
    offer: Option<Offer>,
    view: FactorView,
    message: Option<String>,
) -> Response {
    let signing_in = me.session.pending == Pending::SecondFactor;
    let html = render(&FactorPage {
        lang,
        title: if signing_in {
            lang.pick("二つ目の確認", "Your second factor")
        } else {
            lang.pick("二要素認証の登録", "Two-factor authentication")
        }
        .into(),
        switch: switch(
            lang,
            if signing_in {
                "/sign-in/second-factor"
            } else {
                "/me/second-factor"
            },
        ),
        csrf: me.session.csrf.clone(),
        signing_in,
        required: me.session.pending == Pending::Enrol,
        totp: view.factors.totp,
        passkeys: view
            .factors
            .passkeys
            .into_iter()
            .map(|p| PasskeyRow {
                credential: p.credential,
                label: p.label,
                registered: lang.datetime(p.registered),
            })
            .collect(),
        passkeys_here: view.unavailable.is_none(),
        unavailable: view
            .unavailable
            .map(|e| e.message(lang))
            .unwrap_or_default(),
        offer,
        message,
    });
    page(lang, false, html)
}

pub(super) async fn second_factor_form(
    State(state): State<AppState>,
    lang: Lang,
    headers: HeaderMap,
    SigningIn(me): SigningIn,
) -> Result<Response, AppError> {
    if me.session.pending != Pending::SecondFactor {
        return Ok(see_other("/me"));
    }
    let view = factor_view(&state, &headers, &me).await?;
    Ok(factor_page(lang, &me, None, view, None))
}

#[derive(Deserialize)]
pub(super) struct CodeForm {
    csrf: String,
    code: String,
}

pub(super) async fn second_factor(
    State(state): State<AppState>,
    lang: Lang,
    headers: HeaderMap,
    SigningIn(me): SigningIn,
    WebForm(form): WebForm<CodeForm>,
) -> Result<Response, AppError> {
    me.check_form_signing_in(&form.csrf)?;
    match state
        .app
        .access()
        .second_factor(&me.token, &form.code)
        .await
    {
        Ok(()) => Ok(see_other("/me")),
        Err(e @ Error::Access(kiroku_app::access::Error::SecondFactorFailed)) => {
            let view = factor_view(&state, &headers, &me).await?;
            let mut response =
                factor_page(lang, &me, None, view, Some(AppError::from(e).message(lang)));
            *response.status_mut() = StatusCode::UNAUTHORIZED;
            Ok(response)
        }
        // Locked: the session has ended; back to signing in.
        Err(Error::Access(kiroku_app::access::Error::Locked(_))) => Ok(with_cookie(
            see_other("/sign-in"),
            cleared(&state, SESSION_COOKIE, "/"),
        )),
        Err(e) => Err(e.into()),
    }
}

pub(super) async fn enrol_form(
    State(state): State<AppState>,
    lang: Lang,
    headers: HeaderMap,
    SigningIn(me): SigningIn,
) -> Result<Response, AppError> {
    if me.session.must_change {
        return Ok(see_other("/me/password"));
    }
    if me.session.pending == Pending::SecondFactor {
        return Ok(see_other("/sign-in/second-factor"));
    }
    let view = factor_view(&state, &headers, &me).await?;
    let offer = state.app.access().offer_factor(&me.token).await?;
    Ok(factor_page(lang, &me, Some(offer), view, None))
}

pub(super) async fn enrol(
    State(state): State<AppState>,
    lang: Lang,
    headers: HeaderMap,
    SigningIn(me): SigningIn,
    WebForm(form): WebForm<CodeForm>,
) -> Result<Response, AppError> {
    me.check_form_signing_in(&form.csrf)?;
    if me.session.pending == Pending::SecondFactor {
        return Ok(see_other("/sign-in/second-factor"));
    }
    match state.app.access().enrol_factor(&me.token, &form.code).await {
        Ok(()) => Ok(see_other("/me")),
        Err(e @ Error::Access(kiroku_app::access::Error::SecondFactorFailed)) => {
            // The same secret again, so the person can retry with their app as set up.
            let message = AppError::from(e).message(lang);
            let view = factor_view(&state, &headers, &me).await?;
            let offer = me.session.offered_factor.as_ref().map(|secret| Offer {
                secret: kiroku_access::factor::base32(secret),
                uri: kiroku_access::factor::otpauth_uri(
                    "Kiroku",
                    me.session.account.as_str(),
                    secret,
                ),
            });
            let mut response = factor_page(lang, &me, offer, view, Some(message));
            *response.status_mut() = StatusCode::UNPROCESSABLE_ENTITY;
            Ok(response)
        }
        Err(e) => Err(e.into()),
    }
}
