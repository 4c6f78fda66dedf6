//! Who is calling, as the handlers take it: the extractors every wing shares. A signed-in
//! account (`SignedIn`: the session of the cookie, finished signing in; `SigningIn` for the
//! steps of signing in; `Staff` for pages, sending the browser to sign in), the CSRF checks of
//! its forms and state-changing API requests, a caller of the API by session or by bearer
//! token (`Caller`, and `Reader` for the registers), and the operator (`Operator`).

use crate::catalogue::Code;
use crate::error::AppError;
use crate::router::{see_other, AppState};
use axum::extract::{FromRequestParts, OptionalFromRequestParts};
use axum::http::header::{AUTHORIZATION, COOKIE};
use axum::http::request::Parts;
use axum::http::{HeaderMap, Method};
use axum::response::{IntoResponse, Response};
use kiroku_app::access::sessions::Session;
use kiroku_app::Error;
use kiroku_core::Actor;
use subtle::ConstantTimeEq as _;

/// The session cookie.
pub const SESSION_COOKIE: &str = "kiroku_session";

/// A cookie's value from the request's `Cookie` headers.
pub(crate) fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

/// Are two secrets equal? Compared in constant time.
pub(crate) fn same(a: &str, b: &str) -> bool {
    a.len() == b.len() && bool::from(a.as_bytes().ct_eq(b.as_bytes()))
}

/// The signed-in caller: the session of the cookie, live, its account usable. For requests
/// that change something (not GET or HEAD) the session's CSRF token must come with them — in
/// the `X-CSRF-Token` header (API) or checked by the form's handler (pages).
pub struct SignedIn {
    /// The account, as it acts.
    pub actor: Actor,
    /// The session.
    pub session: Session,
    /// The session token (to end or renew it).
    pub token: String,
}

impl SignedIn {
    /// The caller's live session, if any.
    async fn lookup(parts: &Parts, state: &AppState) -> Result<Option<SignedIn>, AppError> {
        let Some(token) = cookie(&parts.headers, SESSION_COOKIE) else {
            return Ok(None);
        };
        let token = token.to_owned();
        match state.app.access().session(&token).await {
            Ok((actor, session)) => Ok(Some(SignedIn {
                actor,
                session,
                token,
            })),
            Err(Error::Unauthorized) => Ok(None),
            Err(other) => Err(other.into()),
        }
    }
}

impl SignedIn {
    /// Refuses a session with a step of signing in still to come: a password to choose, a
    /// second factor to give or enrol.
    fn whole(self) -> Result<SignedIn, AppError> {
        if self.session.must_change {
            return Err(AppError::new(Code::PasswordChangeRequired));
        }
        if self.session.must_go().is_some() {
            return Err(AppError::new(Code::SecondFactorRequired));
        }
        Ok(self)
    }
}

/// Only a session that has completed signing in (password chosen, second factor given) is
/// signed in; the steps themselves take [`SigningIn`].
impl FromRequestParts<AppState> for SignedIn {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, AppError> {
        SignedIn::lookup(parts, state)
            .await?
            .ok_or(AppError::new(Code::SignInRequired))?
            .whole()
    }
}

/// A session still signing in counts as none.
impl OptionalFromRequestParts<AppState> for SignedIn {
    type Rejection = AppError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Option<Self>, AppError> {
        Ok(SignedIn::lookup(parts, state)
            .await?
            .and_then(|me| me.whole().ok()))
    }
}

/// A live session at any step of signing in — for the steps themselves (choosing the first
/// password, giving or enrolling a second factor) and for signing out. Everything else takes
/// [`SignedIn`].
pub struct SigningIn(pub SignedIn);

impl FromRequestParts<AppState> for SigningIn {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, AppError> {
        SignedIn::lookup(parts, state)
            .await?
            .map(SigningIn)
            .ok_or(AppError::new(Code::SignInRequired))
    }
}

/// A signed-in member of staff on a page that needs one. Otherwise the browser is sent to
/// sign in — or, until the first password is chosen, to choose it.
pub struct Staff(pub SignedIn);

impl FromRequestParts<AppState> for Staff {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        match SignedIn::lookup(parts, state).await {
            Ok(Some(me)) if me.session.must_go().is_some() => {
                Err(see_other(me.session.must_go().unwrap_or("/sign-in")))
            }
            Ok(Some(me)) => Ok(Staff(me)),
            Ok(None) => Err(see_other("/sign-in")),
            Err(e) => Err(e.into_response()),
        }
    }
}

impl SignedIn {
    /// Refuses a state-changing API request without the session's CSRF token in its header,
    /// and any request while the first password has not been chosen.
    pub fn for_api(&self, method: &Method, headers: &HeaderMap) -> Result<&Actor, AppError> {
        if self.session.must_change {
            return Err(AppError::new(Code::PasswordChangeRequired));
        }
        if self.session.must_go().is_some() {
            return Err(AppError::new(Code::SecondFactorRequired));
        }
        if method != Method::GET && method != Method::HEAD {
            let sent = headers
                .get("x-csrf-token")
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default();
            if !same(sent, &self.session.csrf) {
                return Err(AppError::new(Code::CsrfMismatch));
            }
        }
        Ok(&self.actor)
    }

    /// Refuses a form without the session's CSRF token, and any form while a step of signing
    /// in (a password to choose, a second factor to give or enrol) is still to come.
    pub fn check_form(&self, csrf: &str) -> Result<(), AppError> {
        self.check_form_signing_in(csrf)?;
        if self.session.must_go().is_some() {
            return Err(AppError::new(Code::SecondFactorRequired));
        }
        Ok(())
    }

    /// Refuses a form without the session's CSRF token (for the forms of signing in itself).
    pub fn check_form_signing_in(&self, csrf: &str) -> Result<(), AppError> {
        if same(csrf, &self.session.csrf) {
            Ok(())
        } else {
            Err(AppError::new(Code::CsrfMismatch))
        }
    }
}

/// Who calls: the operator or a system client by bearer token, or a signed-in account.
pub(crate) struct Caller(pub(crate) kiroku_core::Actor);

impl axum::extract::FromRequestParts<AppState> for Caller {
    type Rejection = AppError;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &AppState,
    ) -> Result<Self, AppError> {
        if let Some(auth) = parts.headers.get(axum::http::header::AUTHORIZATION) {
            let token = auth
                .to_str()
                .ok()
                .and_then(|v| v.strip_prefix("Bearer "))
                .ok_or(AppError::new(crate::catalogue::Code::Unauthorized))?;
            // A bearer token is the operator's or a system client's; it is no ambient
            // credential (a browser never sends it by itself), so no CSRF token is needed.
            return Ok(Caller(
                state.app.access().authenticate_bearer(token, "api").await?,
            ));
        }
        let me = <SignedIn as FromRequestParts<AppState>>::from_request_parts(parts, state).await?;
        Ok(Caller(me.for_api(&parts.method, &parts.headers)?.clone()))
    }
}

/// A caller who may read the registers.
pub(crate) struct Reader;

impl axum::extract::FromRequestParts<AppState> for Reader {
    type Rejection = AppError;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &AppState,
    ) -> Result<Self, AppError> {
        let Caller(actor) = Caller::from_request_parts(parts, state).await?;
        if state.app.access().may_read_registers(&actor).await? {
            Ok(Reader)
        } else {
            Err(AppError::new(crate::catalogue::Code::RegistersRestricted))
        }
    }
}

/// The caller, authenticated as the bearer of the operator token — before any body is read.
pub(crate) struct Operator(pub(crate) Actor);

impl FromRequestParts<AppState> for Operator {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, AppError> {
        let token = parts
            .headers
            .get(AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .ok_or(AppError::new(Code::Unauthorized))?;
        Ok(Operator(state.app.authenticate_operator(token, "api")?))
    }
}
