//! Passkeys on the web: the JSON endpoints the passkey script calls (a challenge, then the
//! browser's answer, for registering one and for the second step of signing in), and the form
//! that removes one. Each call is the signed-in session's, with its CSRF token in the
//! `X-CSRF-Token` header; binary values travel as base64url.

use crate::access::session::host;
use crate::callers::{SignedIn, SigningIn};
use crate::catalogue::Code;
use crate::error::AppError;
use crate::extract::{ApiJson, WebForm};
use crate::router::{see_other, AppState};
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use kiroku_access::passkey::{decode_base64url, Assertion, Registration, RelyingParty};
use kiroku_app::access::sessions::Pending;
use kiroku_app::Error;
use serde::Deserialize;

impl SignedIn {
    /// Refuses a script's call without the session's CSRF token in its header (for the steps
    /// of signing in, which come before the session may do anything else).
    fn check_header_signing_in(&self, headers: &HeaderMap) -> Result<(), AppError> {
        let sent = headers
            .get("x-csrf-token")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default();
        self.check_form_signing_in(sent)
    }
}

/// The relying party of this request, or why passkeys do not work here: at another address
/// than the one they are scoped to, the message names that address.
pub(super) fn relying_party(
    state: &AppState,
    headers: &HeaderMap,
) -> Result<RelyingParty, AppError> {
    state
        .app
        .access()
        .relying_party(host(headers))
        .map_err(|e| match (e, state.app.access().local_relying_party()) {
            (Error::Access(kiroku_app::access::Error::PasskeysUnavailable), Some(local))
                if state.app.config.public_url.is_none() =>
            {
                AppError::new(Code::PasskeysElsewhere).with("url", local.origin)
            }
            (e, _) => e.into(),
        })
}

fn bytes(text: &str, field: &'static str) -> Result<Vec<u8>, AppError> {
    decode_base64url(text, field)
        .map_err(|why| Error::Access(kiroku_app::access::Error::PasskeyRefused(why)).into())
}

pub(super) async fn creation_options(
    State(state): State<AppState>,
    headers: HeaderMap,
    SigningIn(me): SigningIn,
) -> Result<Response, AppError> {
    me.check_header_signing_in(&headers)?;
    if me.session.must_change {
        return Err(AppError::new(Code::PasswordChangeRequired));
    }
    if me.session.pending == Pending::SecondFactor {
        return Err(AppError::new(Code::SecondFactorRequired));
    }
    let rp = relying_party(&state, &headers)?;
    let options = state.app.access().passkey_creation(&me.token, &rp).await?;
    Ok(Json(options).into_response())
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(super) struct RegistrationBody {
    id: String,
    #[serde(rename = "clientDataJSON")]
    client_data_json: String,
    authenticator_data: String,
    public_key: String,
    public_key_algorithm: i64,
    label: String,
}

pub(super) async fn register(
    State(state): State<AppState>,
    headers: HeaderMap,
    SigningIn(me): SigningIn,
    ApiJson(body): ApiJson<RegistrationBody>,
) -> Result<Response, AppError> {
    me.check_header_signing_in(&headers)?;
    let rp = relying_party(&state, &headers)?;
    let response = Registration {
        credential_id: bytes(&body.id, "credential id")?,
        client_data_json: bytes(&body.client_data_json, "client data")?,
        authenticator_data: bytes(&body.authenticator_data, "authenticator data")?,
        public_key: bytes(&body.public_key, "public key")?,
        algorithm: body.public_key_algorithm,
    };
    state
        .app
        .access()
        .register_passkey(&me.token, &rp, &response, &body.label)
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(serde_json::json!({ "registered": body.label.trim(), "next": "/me/second-factor" })),
    )
        .into_response())
}

pub(super) async fn request_options(
    State(state): State<AppState>,
    headers: HeaderMap,
    SigningIn(me): SigningIn,
) -> Result<Response, AppError> {
    me.check_header_signing_in(&headers)?;
    let rp = relying_party(&state, &headers)?;
    let options = state.app.access().passkey_request(&me.token, &rp).await?;
    Ok(Json(options).into_response())
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(super) struct AssertionBody {
    id: String,
    #[serde(rename = "clientDataJSON")]
    client_data_json: String,
    authenticator_data: String,
    signature: String,
}

pub(super) async fn sign_in(
    State(state): State<AppState>,
    headers: HeaderMap,
    SigningIn(me): SigningIn,
    ApiJson(body): ApiJson<AssertionBody>,
) -> Result<Response, AppError> {
    me.check_header_signing_in(&headers)?;
    let rp = relying_party(&state, &headers)?;
    // A malformed answer is a wrong one: it counts towards the lockout like any other.
    let decode = |text: &str| decode_base64url(text, "response").unwrap_or_default();
    let response = Assertion {
        credential_id: decode(&body.id),
        client_data_json: decode(&body.client_data_json),
        authenticator_data: decode(&body.authenticator_data),
        signature: decode(&body.signature),
    };
    state
        .app
        .access()
        .passkey_second_factor(&me.token, &rp, &response)
        .await?;
    Ok(Json(serde_json::json!({ "next": "/me" })).into_response())
}

#[derive(Deserialize)]
pub(super) struct RemovalForm {
    csrf: String,
    credential: String,
}

pub(super) async fn remove(
    State(state): State<AppState>,
    SigningIn(me): SigningIn,
    WebForm(form): WebForm<RemovalForm>,
) -> Result<Response, AppError> {
    me.check_form(&form.csrf)?;
    state
        .app
        .access()
        .remove_passkey(&me.token, form.credential.trim())
        .await?;
    Ok(see_other("/me/second-factor"))
}
