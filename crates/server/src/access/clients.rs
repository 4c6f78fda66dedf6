//! System clients: the OAuth 2.0 token endpoint (client-credentials grant, RFC 6749 §4.4) and
//! revocation endpoint (RFC 7009), which off-the-shelf FHIR clients speak; the caller's own
//! view of itself (`/api/access/me`, for people and clients alike); and the administrator's
//! API and page for granting scopes and revoking tokens.
//!
//! The OAuth endpoints answer errors in the shape RFC 6749 §5.2 prescribes
//! (`{"error": "invalid_client", "error_description": …}`), the description in the caller's
//! language; tokens and errors are never cached (`Cache-Control: no-store`).

use crate::callers::SignedIn;
use crate::callers::{Caller, Reader};
use crate::catalogue::Code;
use crate::error::AppError;
use crate::extract::{ApiJson, WebForm};
use crate::i18n::Lang;
use crate::json;
use crate::pages::{page, render, switch, ClientRow, ClientsPage, TokenRow};
use crate::router::{see_other, AppState};
use axum::extract::{Path, State};
use axum::http::header::{AUTHORIZATION, CACHE_CONTROL, PRAGMA, WWW_AUTHENTICATE};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use base64::Engine as _;
use kiroku_access::client::SCOPES;
use kiroku_app::Error;
use kiroku_core::text::percent_decode;
use serde::Deserialize;
use serde_json::{json, Value};

/// The form of a token or revocation request.
#[derive(Deserialize)]
pub(super) struct OAuthForm {
    grant_type: Option<String>,
    scope: Option<String>,
    client_id: Option<String>,
    client_secret: Option<String>,
    client_assertion_type: Option<String>,
    client_assertion: Option<String>,
    token: Option<String>,
    #[allow(dead_code)]
    token_type_hint: Option<String>,
}

/// The client's id and secret: HTTP Basic (`client_secret_basic`) or the form's fields
/// (`client_secret_post`). `Some(true)` in the second place when Basic was used.
fn client_credentials(headers: &HeaderMap, form: &OAuthForm) -> Option<(String, String, bool)> {
    if let Some(basic) = headers
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Basic "))
    {
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(basic.trim())
            .ok()?;
        let text = String::from_utf8(decoded).ok()?;
        let (id, secret) = text.split_once(':')?;
        // RFC 6749 §2.3.1 has the id and secret form-encoded inside Basic.
        return Some((
            percent_decode(id, true)?,
            percent_decode(secret, true)?,
            true,
        ));
    }
    Some((form.client_id.clone()?, form.client_secret.clone()?, false))
}

/// An OAuth error answer (RFC 6749 §5.2): the error's code, or `invalid_client` for a locked
/// or inactive client (the description says which), and `invalid_request` for a bad form.
fn oauth_error(lang: Lang, error: AppError, basic: bool) -> Response {
    let (name, status) = match error.code {
        Code::AccountLocked | Code::AccountInactive => ("invalid_client", StatusCode::UNAUTHORIZED),
        Code::BadForm => ("invalid_request", StatusCode::BAD_REQUEST),
        code => (code.code(), code.status()),
    };
    let mut response = (
        status,
        Json(json!({
            "error": name,
            "error_description": error.message(lang),
        })),
    )
        .into_response();
    let headers = response.headers_mut();
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(PRAGMA, HeaderValue::from_static("no-cache"));
    if status == StatusCode::UNAUTHORIZED {
        let challenge = if basic {
            "Basic realm=\"kiroku\""
        } else {
            "Bearer realm=\"kiroku\""
        };
        headers.insert(WWW_AUTHENTICATE, HeaderValue::from_static(challenge));
    }
    response
}

fn oauth_code(error: Error) -> AppError {
    error.into()
}

/// What the token and revocation endpoints take, as discovery documents state it.
fn oauth_metadata(state: &AppState) -> serde_json::Value {
    let base = state.app.base_url();
    serde_json::json!({
        "issuer": base,
        "token_endpoint": format!("{base}/oauth/token"),
        "revocation_endpoint": format!("{base}/oauth/revoke"),
        "grant_types_supported": ["client_credentials"],
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "private_key_jwt"],
        "token_endpoint_auth_signing_alg_values_supported": ["ES384", "RS384"],
        "revocation_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
        "scopes_supported": [
            kiroku_access::client::SCOPE_CLINICAL_READ,
            kiroku_access::client::SCOPE_CLINICAL_WRITE,
            "system/*.rs",
            "system/*.cruds",
            "system/*.read",
            "system/*.write"
        ],
        // No authorization endpoint: systems use the client-credentials grant alone.
        "response_types_supported": [],
        "service_documentation": format!("{base}/fhir/metadata"),
    })
}

/// `GET /.well-known/oauth-authorization-server` (RFC 8414): where departmental systems get
/// and revoke tokens, and how they authenticate.
pub(super) async fn authorization_server(State(state): State<AppState>) -> Response {
    (
        [(CACHE_CONTROL, "no-cache")],
        axum::Json(oauth_metadata(&state)),
    )
        .into_response()
}

/// `GET /.well-known/smart-configuration` (SMART App Launch 2.x, as a server of SMART Backend
/// Services): the same endpoints and methods, and the capabilities this server has — a
/// confidential client with a shared secret or with a key pair (`private_key_jwt`), SMART v1 and
/// v2 system scopes; no launch, no user-facing authorisation.
pub(super) async fn smart_configuration(State(state): State<AppState>) -> Response {
    let mut document = oauth_metadata(&state);
    document["capabilities"] = serde_json::json!([
        "client-confidential-symmetric",
        "client-confidential-asymmetric",
        "permission-v1",
        "permission-v2"
    ]);
    document["code_challenge_methods_supported"] = serde_json::json!([]);
    ([(CACHE_CONTROL, "no-cache")], axum::Json(document)).into_response()
}

/// `POST /oauth/token`.
pub(super) async fn token(
    State(state): State<AppState>,
    lang: Lang,
    headers: HeaderMap,
    WebForm(form): WebForm<OAuthForm>,
) -> Response {
    if form.grant_type.as_deref() != Some("client_credentials") {
        return oauth_error(lang, AppError::new(Code::GrantTypeUnsupported), false);
    }
    let (scope, smart) = match smart_scopes(form.scope.as_deref()) {
        Ok(found) => found,
        Err(e) => return oauth_error(lang, e, false),
    };
    let issued = match (&form.client_assertion, &form.client_assertion_type) {
        // private_key_jwt (RFC 7523, SMART Backend Services).
        (Some(assertion), Some(kind)) if kind == JWT_BEARER => {
            state
                .app
                .access()
                .client_token_by_assertion(form.client_id.as_deref(), assertion, scope)
                .await
        }
        (Some(_), _) => return oauth_error(lang, AppError::new(Code::ClientAuthFailed), false),
        (None, _) => {
            let Some((client, secret, basic)) = client_credentials(&headers, &form) else {
                return oauth_error(lang, AppError::new(Code::ClientAuthFailed), true);
            };
            match state
                .app
                .access()
                .client_token(&client, &secret, scope)
                .await
            {
                Ok(issued) => Ok(issued),
                Err(e) => return oauth_error(lang, oauth_code(e), basic),
            }
        }
    };
    match issued {
        Ok(issued) => {
            let mut response = Json(json!({
                "access_token": issued.token,
                "token_type": "Bearer",
                "expires_in": issued.expires_in,
                // A client that asked in SMART's system scopes is answered in them.
                "scope": smart.unwrap_or_else(|| issued.scopes.join(" ")),
            }))
            .into_response();
            let headers = response.headers_mut();
            headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
            headers.insert(PRAGMA, HeaderValue::from_static("no-cache"));
            response
        }
        Err(e) => oauth_error(lang, oauth_code(e), false),
    }
}

/// The client assertion type of RFC 7523.
const JWT_BEARER: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// The scopes asked for as this server's (`clinical.read`, `clinical.write`), with SMART v1
/// and v2 system scopes mapped onto them — reading or searching (`r`, `s`, `read`) onto
/// `clinical.read`, creating, updating or deleting (`c`, `u`, `d`, `write`) onto
/// `clinical.write`, for any resource type (`system/Patient.rs`, `system/*.cruds`) — and, when
/// SMART scopes were asked, the scope text to answer with.
fn smart_scopes(scope: Option<&str>) -> Result<(Option<String>, Option<String>), AppError> {
    let Some(text) = scope.filter(|s| s.split_whitespace().any(|t| t.starts_with("system/")))
    else {
        return Ok((scope.map(str::to_owned), None));
    };
    let bad = || AppError::new(Code::ScopeNotGranted);
    let mut wanted: Vec<&str> = Vec::new();
    for token in text.split_whitespace() {
        let Some(rest) = token.strip_prefix("system/") else {
            wanted.push(token);
            continue;
        };
        let (kind, permissions) = rest.split_once('.').ok_or_else(bad)?;
        let known_type = kind == "*" || kiroku_records::resource::TYPES.contains(&kind);
        if !known_type {
            return Err(bad());
        }
        let (read, write) = match permissions {
            "read" => (true, false),
            "write" => (false, true),
            "*" => (true, true),
            v2 if !v2.is_empty() && v2.chars().all(|c| "cruds".contains(c)) => {
                (v2.contains(['r', 's']), v2.contains(['c', 'u', 'd']))
            }
            _ => return Err(bad()),
        };
        if read {
            wanted.push(kiroku_access::client::SCOPE_CLINICAL_READ);
        }
        if write {
            wanted.push(kiroku_access::client::SCOPE_CLINICAL_WRITE);
        }
    }
    wanted.sort();
    wanted.dedup();
    Ok((Some(wanted.join(" ")), Some(text.to_owned())))
}

/// `PUT /api/access/clients/{id}/jwks`: the system administrator registers the public keys
/// (a JWK Set) a client signs its assertions with.
pub(super) async fn register_keys(
    State(state): State<AppState>,
    Caller(actor): Caller,
    Path(id): Path<String>,
    body: axum::body::Bytes,
) -> Result<Response, AppError> {
    let jwks = std::str::from_utf8(&body).map_err(|_| {
        AppError::new(Code::InvalidField)
            .with("field", "jwks")
            .with("why", "is not UTF-8 JSON")
    })?;
    let done = state
        .app
        .access()
        .register_client_keys(actor, &account_id(&id)?, jwks)
        .await?;
    Ok((StatusCode::CREATED, Json(json::done(&done))).into_response())
}

/// `POST /oauth/revoke` (RFC 7009): 200 whether or not the token was known.
pub(super) async fn revoke(
    State(state): State<AppState>,
    lang: Lang,
    headers: HeaderMap,
    WebForm(form): WebForm<OAuthForm>,
) -> Response {
    let Some((client, secret, basic)) = client_credentials(&headers, &form) else {
        return oauth_error(lang, AppError::new(Code::ClientAuthFailed), true);
    };
    let Some(token) = form.token.as_deref() else {
        return oauth_error(lang, AppError::new(Code::BadForm), basic);
    };
    match state
        .app
        .access()
        .revoke_own_token(&client, &secret, token)
        .await
    {
        Ok(()) => (StatusCode::OK, [(CACHE_CONTROL, "no-store")]).into_response(),
        Err(e) => oauth_error(lang, oauth_code(e), basic),
    }
}

/// `GET /api/access/me`: the caller as the policy in force sees it.
pub(super) async fn me(
    State(state): State<AppState>,
    Caller(actor): Caller,
) -> Result<Json<Value>, AppError> {
    Ok(Json(json::principal(&state.app.caller(&actor).await?)))
}

/// `GET /api/access/clients`.
pub(super) async fn clients(
    State(state): State<AppState>,
    _: Reader,
) -> Result<Json<Value>, AppError> {
    let clients = state.app.access().clients().await?;
    Ok(Json(json!({
        "clients": clients.iter().map(json::client).collect::<Vec<_>>(),
    })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct Grant {
    scopes: Vec<String>,
}

fn account_id(text: &str) -> Result<String, AppError> {
    kiroku_core::AccountId::parse(text)
        .map(|a| a.to_string())
        .map_err(|_| AppError::not_found())
}

/// `PUT /api/access/clients/{id}/scopes`.
pub(super) async fn grant(
    State(state): State<AppState>,
    Caller(actor): Caller,
    Path(id): Path<String>,
    ApiJson(grant): ApiJson<Grant>,
) -> Result<Response, AppError> {
    let done = state
        .app
        .access()
        .grant_scopes(actor, &account_id(&id)?, grant.scopes)
        .await?;
    Ok((StatusCode::CREATED, Json(json::done(&done))).into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct Revocation {
    reason: Option<String>,
}

fn token_path(text: &str) -> Result<String, AppError> {
    if text.len() == 64 && text.bytes().all(|b| b.is_ascii_hexdigit()) {
        Ok(text.to_ascii_lowercase())
    } else {
        Err(AppError::not_found())
    }
}

/// `POST /api/access/tokens/{sha256}/revocation`.
pub(super) async fn revoke_by_administrator(
    State(state): State<AppState>,
    Caller(actor): Caller,
    Path(id): Path<String>,
    ApiJson(request): ApiJson<Revocation>,
) -> Result<Response, AppError> {
    let done = state
        .app
        .access()
        .revoke_token(actor, &token_path(&id)?, request.reason.unwrap_or_default())
        .await?;
    Ok((StatusCode::CREATED, Json(json::done(&done))).into_response())
}

/// `GET /clients`: every system client, its scopes and tokens, with the forms to change them.
pub(super) async fn clients_page(
    State(state): State<AppState>,
    lang: Lang,
    crate::callers::Staff(me): crate::callers::Staff,
) -> Result<Response, AppError> {
    if !state.app.access().may_read_registers(&me.actor).await? {
        return Err(AppError::new(Code::RegistersRestricted));
    }
    let now = state
        .app
        .clock()
        .now()
        .map_err(|_| AppError::new(Code::Unavailable))?;
    let clients = state.app.access().clients().await?;
    let html = render(&ClientsPage {
        lang,
        title: lang.pick("システムクライアント", "System clients").into(),
        switch: switch(lang, "/clients"),
        csrf: me.session.csrf.clone(),
        clients: clients
            .iter()
            .map(|c| ClientRow {
                account: c.profile.account.clone(),
                name: format!("{} {}", c.profile.family_name, c.profile.given_name),
                department: c.profile.department.clone(),
                status: c.status.clone(),
                validity: format!("{} – {}", c.profile.valid_from, c.profile.valid_until),
                scopes: SCOPES
                    .iter()
                    .map(|s| ((*s).to_owned(), c.scopes.iter().any(|g| g == s)))
                    .collect(),
                tokens: c
                    .tokens
                    .iter()
                    .map(|t| TokenRow {
                        id: t.id.clone(),
                        short: t.id[..12].to_owned(),
                        scopes: t.scopes.join(" "),
                        issued: lang.datetime(t.issued),
                        expires: lang.datetime(t.expires),
                        live: t.live(now),
                    })
                    .collect(),
            })
            .collect(),
    });
    Ok(page(lang, false, html))
}

#[derive(Deserialize)]
pub(super) struct ScopesForm {
    csrf: String,
    #[serde(default, rename = "clinical.read")]
    read: Option<String>,
    #[serde(default, rename = "clinical.write")]
    write: Option<String>,
}

/// `POST /clients/{id}/scopes`.
pub(super) async fn grant_form(
    State(state): State<AppState>,
    me: SignedIn,
    Path(id): Path<String>,
    WebForm(form): WebForm<ScopesForm>,
) -> Result<Response, AppError> {
    me.check_form(&form.csrf)?;
    let mut scopes = Vec::new();
    if form.read.is_some() {
        scopes.push("clinical.read".to_owned());
    }
    if form.write.is_some() {
        scopes.push("clinical.write".to_owned());
    }
    state
        .app
        .access()
        .grant_scopes(me.actor.clone(), &account_id(&id)?, scopes)
        .await?;
    Ok(see_other("/clients"))
}

#[derive(Deserialize)]
pub(super) struct RevokeForm {
    csrf: String,
    reason: String,
}

/// `POST /clients/tokens/{sha256}/revoke`.
pub(super) async fn revoke_form(
    State(state): State<AppState>,
    me: SignedIn,
    Path(id): Path<String>,
    WebForm(form): WebForm<RevokeForm>,
) -> Result<Response, AppError> {
    me.check_form(&form.csrf)?;
    state
        .app
        .access()
        .revoke_token(
            me.actor.clone(),
            &token_path(&id)?,
            form.reason.replace("\r\n", "\n"),
        )
        .await?;
    Ok(see_other("/clients"))
}
