//! The FHIR R4 REST API at `/fhir`: create, read, vread, update, history and search of the
//! clinical records, for departmental systems (with an OAuth bearer token) and for signed-in
//! staff (the session cookie, and on changes the CSRF token). Resources go out as they were
//! sent, with the server's `id` and `meta`; errors are OperationOutcomes in the caller's
//! language with the other language beside it. Every answer that carries patient data has
//! been recorded as a disclosure entry before it is sent.

use crate::callers::Caller;
use crate::catalogue::Code;
use crate::error::AppError;
use crate::extract::ApiQuery;
use crate::router::AppState;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::header::{CONTENT_TYPE, ETAG, IF_MATCH, LAST_MODIFIED, LOCATION};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use kiroku_app::records::{Served, Writing, Written};
use kiroku_core::text::percent_decode;
use kiroku_core::{AccountId, Timestamp};
use kiroku_records::search::{HistoryQuery, ProvenanceQuery};
use serde_json::json;

/// The media type of FHIR JSON.
pub const FHIR_JSON: &str = "application/fhir+json; charset=utf-8";

/// The base URL of the FHIR API: the configured public URL, or the address the server listens
/// on ([`kiroku_app::App::base_url`]; never the request's `Host` header).
fn base(state: &AppState) -> String {
    format!("{}/fhir", state.app.base_url())
}

/// A body of FHIR JSON, with a status and headers.
fn fhir(status: StatusCode, body: Vec<u8>) -> Response {
    (
        status,
        [(CONTENT_TYPE, HeaderValue::from_static(FHIR_JSON))],
        body,
    )
        .into_response()
}

/// An RFC 9110 HTTP date.
fn http_date(time: Timestamp) -> String {
    const DAYS: [&str; 7] = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let c = time.civil(0);
    format!(
        "{}, {:02} {} {:04} {:02}:{:02}:{:02} GMT",
        DAYS[usize::from(c.weekday) % 7],
        c.day,
        MONTHS[usize::from(c.month.saturating_sub(1)) % 12],
        c.year,
        c.hour,
        c.minute,
        c.second
    )
}

/// What `Prefer: return=…` asks for.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Return {
    Representation,
    Minimal,
    Outcome,
}

fn prefer(headers: &HeaderMap) -> Return {
    let asked = headers
        .get_all("prefer")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split([',', ';']))
        .find_map(|p| p.trim().strip_prefix("return="));
    match asked.map(|v| v.trim_matches('"')) {
        Some("minimal") => Return::Minimal,
        Some("OperationOutcome") => Return::Outcome,
        _ => Return::Representation,
    }
}

/// One version, with its ETag, Last-Modified and (for a write) Location.
fn version_response(
    status: StatusCode,
    served: &Served,
    location: Option<String>,
    wanted: Return,
) -> Response {
    let body = match wanted {
        Return::Representation => served.body.clone(),
        Return::Minimal => Vec::new(),
        Return::Outcome => json!({
            "resourceType": "OperationOutcome",
            "issue": [{
                "severity": "information",
                "code": "informational",
                "details": { "text": format!("{}/{} version {}", served.kind, served.id, served.version) }
            }]
        })
        .to_string()
        .into_bytes(),
    };
    let mut response = fhir(status, body);
    let headers = response.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&format!("W/\"{}\"", served.version)) {
        headers.insert(ETAG, v);
    }
    if let Ok(v) = HeaderValue::from_str(&http_date(served.time)) {
        headers.insert(LAST_MODIFIED, v);
    }
    if let Some(location) = location.and_then(|l| HeaderValue::from_str(&l).ok()) {
        headers.insert(LOCATION, location);
    }
    // Whether the version is confirmed (確定) is the server's to say, not the resource's text.
    headers.insert(
        "x-kiroku-state",
        HeaderValue::from_static(served.state.as_str()),
    );
    // A trainee's version: waiting for a supervising doctor's countersignature, or given it.
    if served.trainee {
        headers.insert(
            "x-kiroku-countersignature",
            HeaderValue::from_static(match served.state {
                kiroku_records::record::State::Draft => "required",
                _ => "given",
            }),
        );
    }
    // A proxy entry (代行入力): the clinician it was entered for, who alone confirms it.
    if let Some(v) = served
        .on_behalf_of
        .as_deref()
        .and_then(|c| HeaderValue::from_str(c).ok())
    {
        headers.insert("x-kiroku-on-behalf-of", v);
    }
    // Read under a break-the-glass access: marked so, as its disclosure entry is.
    if served.emergency {
        headers.insert("x-kiroku-access", HeaderValue::from_static("emergency"));
    }
    response
}

/// A write's answer: 201 for a new resource, 200 for a new version or a match found, with the
/// version's `Location`, as `Prefer` asks.
fn written_response(state: &AppState, headers: &HeaderMap, written: &Written) -> Response {
    let Written { served, created } = written;
    let location = format!(
        "{}/{}/{}/_history/{}",
        base(state),
        served.kind,
        served.id,
        served.version
    );
    let status = if *created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    version_response(status, served, Some(location), prefer(headers))
}

/// The media type of a request's body, without its parameters, lower case.
fn media_type(headers: &HeaderMap) -> Option<String> {
    headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|v| {
            v.split(';')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase()
        })
}

fn is_fhir_json(media_type: Option<&str>) -> bool {
    matches!(
        media_type,
        Some("application/fhir+json" | "application/json")
    )
}

fn check_media_type(headers: &HeaderMap) -> Result<(), AppError> {
    if is_fhir_json(media_type(headers).as_deref()) {
        Ok(())
    } else {
        Err(AppError::new(Code::FhirMediaType))
    }
}

/// Most bytes of a media type or a security context a raw Binary names.
const BINARY_HEADER_BYTES_MAX: usize = 256;

/// The resource a create or update of `kind` sends: FHIR JSON as it is, or — for a Binary —
/// the raw bytes of an attachment in its own format (`Content-Type` its media type, and
/// `X-Security-Context: Patient/…` the patient it belongs to), wrapped as a Binary resource.
fn sent_resource(kind: &str, headers: &HeaderMap, body: &Bytes) -> Result<Vec<u8>, AppError> {
    let media = media_type(headers);
    if is_fhir_json(media.as_deref()) {
        return Ok(body.to_vec());
    }
    if kind != "Binary" {
        return Err(AppError::new(Code::FhirMediaType));
    }
    let valid = |text: &str| {
        !text.is_empty()
            && text.len() <= BINARY_HEADER_BYTES_MAX
            && text.bytes().all(|b| b.is_ascii_graphic() || b == b' ')
    };
    let content_type = headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|t| valid(t) && t.contains('/'))
        .ok_or(AppError::new(Code::FhirMediaType))?;
    let context = match headers.get("x-security-context") {
        None => None,
        Some(v) => Some(
            v.to_str()
                .ok()
                .map(str::trim)
                .filter(|t| valid(t))
                .ok_or_else(|| {
                    AppError::new(Code::InvalidField)
                        .with("field", "X-Security-Context")
                        .with("why", "is not a reference")
                })?,
        ),
    };
    Ok(kiroku_records::resource::binary(
        content_type,
        body,
        context,
    ))
}

/// Does the caller ask for a Binary's content in its own format rather than as FHIR JSON? Any
/// `Accept` that names no JSON (a browser's, `*/*`) does.
fn wants_raw(headers: &HeaderMap) -> bool {
    headers
        .get(axum::http::header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|accept| !accept.contains("json"))
}

/// Media types a browser may show in the page rather than download.
const SHOWN_INLINE: [&str; 6] = [
    "application/pdf",
    "image/png",
    "image/jpeg",
    "image/gif",
    "text/plain",
    "image/webp",
];

/// A Binary's content in its own format. It is sandboxed — no script of it runs with the
/// server's origin — and only types a browser shows harmlessly are shown in the page; any
/// other is downloaded.
fn raw_response(served: &Served) -> Result<Response, AppError> {
    let (content_type, bytes) = kiroku_records::resource::binary_content(&served.body)
        .ok_or_else(|| AppError::new(Code::BinaryNoData))?;
    let essence = content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    let disposition = if SHOWN_INLINE.contains(&essence.as_str()) {
        "inline"
    } else {
        "attachment"
    };
    let mut response = (StatusCode::OK, bytes).into_response();
    let headers = response.headers_mut();
    headers.insert(
        CONTENT_TYPE,
        HeaderValue::from_str(&content_type)
            .unwrap_or(HeaderValue::from_static("application/octet-stream")),
    );
    headers.insert(
        axum::http::header::CONTENT_DISPOSITION,
        HeaderValue::from_static(disposition),
    );
    // Nothing in it runs with the server's origin: a sandbox without scripts — except for a
    // PDF, which the browser's own viewer shows (its scripts run in the viewer, not the page),
    // and which a sandbox would leave blank.
    headers.insert(
        axum::http::header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(if essence == "application/pdf" {
            "frame-ancestors 'none'"
        } else {
            "sandbox; default-src 'none'; img-src 'self'; style-src 'unsafe-inline'"
        }),
    );
    if let Ok(v) = HeaderValue::from_str(&format!("W/\"{}\"", served.version)) {
        headers.insert(ETAG, v);
    }
    if served.emergency {
        headers.insert("x-kiroku-access", HeaderValue::from_static("emergency"));
    }
    Ok(response)
}

/// `If-Match: W/"3"` (or `"3"`): the version the client saw.
fn if_match(headers: &HeaderMap) -> Result<Option<u64>, AppError> {
    let Some(value) = headers.get(IF_MATCH) else {
        return Ok(None);
    };
    value
        .to_str()
        .ok()
        .map(|v| v.trim().trim_start_matches("W/").trim_matches('"'))
        .and_then(|v| v.parse::<u64>().ok())
        .filter(|v| (1..=i64::MAX as u64).contains(v))
        .map(Some)
        .ok_or(AppError::new(Code::BadIfMatch))
}

/// `X-Kiroku-Reason`: why a version is corrected, percent-encoded UTF-8.
fn reason(headers: &HeaderMap) -> Result<Option<String>, AppError> {
    match headers.get("x-kiroku-reason") {
        None => Ok(None),
        Some(v) => v
            .to_str()
            .ok()
            .and_then(|text| percent_decode(text, false))
            .filter(|r| !r.trim().is_empty())
            .map(Some)
            .ok_or(AppError::new(Code::ReasonMissing)),
    }
}

/// `X-Kiroku-On-Behalf-Of`: a proxy entry (代行入力), for the clinician of this account id.
fn on_behalf_of(headers: &HeaderMap) -> Result<Option<AccountId>, AppError> {
    match headers.get("x-kiroku-on-behalf-of") {
        None => Ok(None),
        Some(v) => v
            .to_str()
            .ok()
            .and_then(|text| AccountId::parse(text.trim()).ok())
            .map(Some)
            .ok_or(AppError::new(Code::BadOnBehalfOf)),
    }
}

/// What a write's headers carry beside the resource: a correction's reason, a proxy entry's
/// clinician.
fn writing(headers: &HeaderMap) -> Result<Writing, AppError> {
    Ok(Writing {
        reason: reason(headers)?,
        on_behalf_of: on_behalf_of(headers)?,
    })
}

/// `If-None-Exist: identifier=system|value`.
fn if_none_exist(headers: &HeaderMap) -> Result<Option<(String, String)>, AppError> {
    let Some(value) = headers.get("if-none-exist") else {
        return Ok(None);
    };
    value
        .to_str()
        .ok()
        .and_then(kiroku_records::transaction::identifier_condition)
        .map(Some)
        .ok_or_else(|| AppError::new(Code::SearchBadValue).with("name", "If-None-Exist"))
}

/// `GET /fhir/metadata`: what this server does, truthfully.
pub(super) async fn metadata(State(state): State<AppState>) -> Response {
    let base = base(&state);
    let search = |kind: &str| -> Vec<serde_json::Value> {
        let mut params: Vec<(&str, &str)> = match kind {
            "Patient" => vec![
                ("identifier", "token"),
                ("name", "string"),
                ("family", "string"),
                ("given", "string"),
                ("phonetic", "string"),
                ("birthdate", "token"),
                ("gender", "token"),
            ],
            "Practitioner" | "Organization" => vec![("identifier", "token"), ("name", "string")],
            "Provenance" => vec![("target", "reference")],
            "Binary" | "PractitionerRole" => vec![],
            _ => vec![
                ("patient", "reference"),
                ("subject", "reference"),
                ("encounter", "reference"),
                ("date", "date"),
                ("category", "token"),
                ("code", "token"),
                ("status", "token"),
                ("identifier", "token"),
            ],
        };
        params.push(("_id", "token"));
        params.push(("_lastUpdated", "date"));
        params
            .into_iter()
            .map(|(name, ty)| json!({ "name": name, "type": ty }))
            .collect()
    };
    let profiles = kiroku_records::validate::known_profiles();
    let resources: Vec<serde_json::Value> = kiroku_records::resource::TYPES
        .iter()
        .map(|kind| {
            let mut entry = json!({
                "type": kind,
                "interaction": [
                    { "code": "read" }, { "code": "vread" }, { "code": "update" },
                    { "code": "delete" }, { "code": "history-instance" }, { "code": "create" },
                    { "code": "search-type" }
                ],
                "versioning": "versioned-update",
                "readHistory": true,
                "updateCreate": true,
                "conditionalCreate": *kind == "Patient",
                "conditionalUpdate": false,
                "conditionalDelete": "not-supported",
                "searchParam": search(kind),
            });
            if *kind != "Patient" {
                entry["searchInclude"] = json!([format!("{kind}:patient")]);
            }
            // The JP Core profiles a write claiming them is checked against.
            let supported: Vec<&str> = profiles
                .iter()
                .filter(|(_, of)| of == kind)
                .map(|(url, _)| url.as_str())
                .collect();
            if !supported.is_empty() {
                entry["supportedProfile"] = json!(supported);
            }
            entry
        })
        .collect();
    let statement = json!({
        "resourceType": "CapabilityStatement",
        "status": "active",
        "date": kiroku_records::record::instant(Timestamp::EPOCH)[..10].to_owned(),
        "publisher": "Kiroku",
        "kind": "instance",
        "software": { "name": "Kiroku", "version": env!("CARGO_PKG_VERSION") },
        "implementation": {
            "description": "Kiroku: clinical records kept in a signed Merkle-tree ledger; every read is recorded",
            "url": base
        },
        "fhirVersion": "4.0.1",
        "format": ["application/fhir+json"],
        "rest": [{
            "mode": "server",
            "interaction": [{ "code": "transaction" }],
            "documentation": "Every version is an entry of a signed ledger. Nothing is ever erased: DELETE (with a reason in X-Kiroku-Reason) makes a new version that holds no resource, after which the resource reads as gone (410) while every earlier version stays readable; a proxy entry (代行入力) names its clinician in X-Kiroku-On-Behalf-Of; a Binary may be sent and read in its own format (X-Security-Context names its patient). Every read, search, history and proof is recorded as a disclosure before it is answered. Every create and update is checked against the FHIR R4 structure and against each supported JP Core profile it claims in meta.profile (docs/records-validation.md). Operations on a version: POST [type]/[id]/_history/[vid]/$confirm (the responsible clinician confirms a draft) and GET [type]/[id]/_history/[vid]/$proof (the version's ledger entry, its inclusion proof and the signed checkpoint, as Parameters).",
            "security": {
                "extension": [{
                    "url": "http://fhir-registry.smarthealthit.org/StructureDefinition/oauth-uris",
                    "extension": [
                        { "url": "token", "valueUri": format!("{}/oauth/token", state.app.base_url()) },
                        { "url": "revoke", "valueUri": format!("{}/oauth/revoke", state.app.base_url()) }
                    ]
                }],
                "service": [{
                    "coding": [{
                        "system": "http://terminology.hl7.org/CodeSystem/restful-security-service",
                        "code": "SMART-on-FHIR"
                    }]
                }],
                "description": "SMART Backend Services (OAuth 2.0 client credentials with a client secret) for systems: the endpoints are in /.well-known/smart-configuration and /.well-known/oauth-authorization-server. Signed-in staff use the session cookie and CSRF token."
            },
            "resource": resources,
        }]
    });
    fhir(StatusCode::OK, statement.to_string().into_bytes())
}

/// `POST /fhir/{type}`: a new resource (with `If-None-Exist`, only if no patient holds the
/// identifier).
pub(super) async fn create(
    State(state): State<AppState>,
    Caller(actor): Caller,
    Path(kind): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, AppError> {
    let sent = sent_resource(&kind, &headers, &body)?;
    let condition = if_none_exist(&headers)?;
    let writing = writing(&headers)?;
    let written = state
        .app
        .records()
        .create_resource(actor, &kind, sent, condition, writing)
        .await?;
    Ok(written_response(&state, &headers, &written))
}

/// `POST /fhir`: a transaction Bundle, all or nothing. Answers a `transaction-response` Bundle
/// with each entry's status, location, ETag and last-modified time, in the order sent, and
/// (unless `Prefer: return=minimal`) each resource as stored.
pub(super) async fn transaction(
    State(state): State<AppState>,
    Caller(actor): Caller,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, AppError> {
    check_media_type(&headers)?;
    let writing = writing(&headers)?;
    let written = state
        .app
        .records()
        .transact(actor, body.to_vec(), writing)
        .await?;
    let base = base(&state);
    let wanted = prefer(&headers);
    let string = |s: &str| serde_json::Value::from(s).to_string();
    let mut out = Vec::new();
    out.extend_from_slice(
        b"{\"resourceType\":\"Bundle\",\"type\":\"transaction-response\",\"entry\":[",
    );
    for (i, w) in written.iter().enumerate() {
        let served = &w.served;
        if i > 0 {
            out.push(b',');
        }
        out.extend_from_slice(b"{\"fullUrl\":");
        out.extend_from_slice(string(&format!("{base}/{}/{}", served.kind, served.id)).as_bytes());
        if wanted == Return::Representation {
            out.extend_from_slice(b",\"resource\":");
            out.extend_from_slice(&served.body);
        }
        let response = json!({
            "status": if w.created { "201 Created" } else { "200 OK" },
            "location": format!("{}/{}/_history/{}", served.kind, served.id, served.version),
            "etag": format!("W/\"{}\"", served.version),
            "lastModified": kiroku_records::record::instant(served.time),
        });
        out.extend_from_slice(b",\"response\":");
        out.extend_from_slice(response.to_string().as_bytes());
        out.push(b'}');
    }
    out.extend_from_slice(b"]}");
    Ok(fhir(StatusCode::OK, out))
}

/// `DELETE /fhir/{type}/{id}`: a new version that holds no resource, for the reason in
/// `X-Kiroku-Reason` (required); nothing is erased, and every earlier version stays readable
/// with vread and history. `If-Match` is honoured. Answers an OperationOutcome that says so.
pub(super) async fn delete(
    State(state): State<AppState>,
    Caller(actor): Caller,
    Path((kind, id)): Path<(String, String)>,
    headers: HeaderMap,
) -> Result<Response, AppError> {
    let expected = if_match(&headers)?;
    let reason = reason(&headers)?;
    let deleted = state
        .app
        .records()
        .delete_resource(actor, &kind, &id, expected, reason)
        .await?;
    let outcome = json!({
        "resourceType": "OperationOutcome",
        "issue": [{
            "severity": "information",
            "code": "informational",
            "details": { "text": format!(
                "{}/{} は版 {} で削除されました。記録は消去されず、以前の版は履歴から読めます。 {}/{} was deleted as version {}; nothing was erased, and every earlier version stays readable in its history.",
                deleted.kind, deleted.id, deleted.version, deleted.kind, deleted.id, deleted.version
            ) }
        }]
    });
    let mut response = fhir(StatusCode::OK, outcome.to_string().into_bytes());
    if let Ok(v) = HeaderValue::from_str(&format!("W/\"{}\"", deleted.version)) {
        response.headers_mut().insert(ETAG, v);
    }
    Ok(response)
}

/// A version number in a path (from 1 to the largest the ledger stores, 2^63 − 1); any other
/// text names no version.
pub(super) fn version_number(text: &str) -> Result<u64, AppError> {
    kiroku_records::search::version_number(text).ok_or(AppError::new(Code::NoSuchResource))
}

/// `GET /fhir/{type}/{id}` (a Binary in its own format when `Accept` asks for no JSON).
pub(super) async fn read(
    State(state): State<AppState>,
    Caller(actor): Caller,
    Path((kind, id)): Path<(String, String)>,
    headers: HeaderMap,
) -> Result<Response, AppError> {
    if kind == "Provenance" {
        if let Some(entry) = id.strip_prefix(kiroku_records::resource::LEDGER_PROVENANCE) {
            return provenance_read(&state, actor, entry).await;
        }
    }
    let served = state.app.records().read_resource(actor, &kind, &id).await?;
    if served.kind == "Binary" && wants_raw(&headers) {
        return raw_response(&served);
    }
    Ok(version_response(
        StatusCode::OK,
        &served,
        None,
        Return::Representation,
    ))
}

/// `GET /fhir/{type}/{id}/_history/{version}`.
pub(super) async fn vread(
    State(state): State<AppState>,
    Caller(actor): Caller,
    Path((kind, id, version)): Path<(String, String, String)>,
) -> Result<Response, AppError> {
    let version = version_number(&version)?;
    let served = state
        .app
        .records()
        .vread_resource(actor, &kind, &id, version)
        .await?;
    Ok(version_response(
        StatusCode::OK,
        &served,
        None,
        Return::Representation,
    ))
}

/// `PUT /fhir/{type}/{id}`: the next version (`If-Match` the version seen; a correction of a
/// confirmed version gives its reason in `X-Kiroku-Reason`).
pub(super) async fn update(
    State(state): State<AppState>,
    Caller(actor): Caller,
    Path((kind, id)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, AppError> {
    let sent = sent_resource(&kind, &headers, &body)?;
    let expected = if_match(&headers)?;
    let writing = writing(&headers)?;
    let written = state
        .app
        .records()
        .update_resource(actor, &kind, &id, sent, expected, writing)
        .await?;
    Ok(written_response(&state, &headers, &written))
}

/// `POST /fhir/{type}/{id}/_history/{version}/$confirm`: the responsible clinician confirms
/// (確定) the latest version, a draft. Answers the confirmed version.
pub(super) async fn confirm(
    State(state): State<AppState>,
    Caller(actor): Caller,
    Path((kind, id, version)): Path<(String, String, String)>,
) -> Result<Response, AppError> {
    let version = version_number(&version)?;
    let served = state
        .app
        .records()
        .confirm_resource(actor, &kind, &id, version)
        .await?;
    Ok(version_response(
        StatusCode::OK,
        &served,
        None,
        Return::Representation,
    ))
}

/// The reason and length of a break-the-glass access, from a `Parameters` resource
/// (`reason` as valueString, `minutes` as valueInteger, 60 when absent).
fn emergency_parameters(body: &[u8]) -> Result<(String, u32), AppError> {
    let bad = |why: &'static str| {
        AppError::new(Code::InvalidField)
            .with("field", "Parameters")
            .with("why", why)
    };
    let value: serde_json::Value =
        serde_json::from_slice(body).map_err(|_| bad("is not a JSON object"))?;
    if value["resourceType"] != "Parameters" {
        return Err(bad("is not a Parameters resource"));
    }
    let parameters = value["parameter"].as_array().cloned().unwrap_or_default();
    let named = |name: &str| parameters.iter().find(|p| p["name"] == name);
    let reason = named("reason")
        .and_then(|p| p["valueString"].as_str())
        .unwrap_or_default()
        .to_owned();
    let minutes = match named("minutes") {
        None => kiroku_records::emergency::MINUTES_MAX,
        Some(p) => p["valueInteger"]
            .as_u64()
            .and_then(|m| u32::try_from(m).ok())
            .ok_or(AppError::new(Code::EmergencyMinutes))?,
    };
    Ok((reason, minutes))
}

/// `POST /fhir/Patient/{id}/$break-the-glass`: opens the patient's records to the caller, who
/// has no care relationship with the patient, for a limited time, for the reason given in a
/// `Parameters` resource (`reason`, and `minutes`: at most 60). Answers `Parameters` with the
/// time the access ends (`until`). Every read under it is marked, and it waits for review.
pub(super) async fn break_glass(
    State(state): State<AppState>,
    Caller(actor): Caller,
    Path((kind, id)): Path<(String, String)>,
    body: Bytes,
) -> Result<Response, AppError> {
    if kind != "Patient" {
        return Err(AppError::not_found());
    }
    let (reason, minutes) = emergency_parameters(&body)?;
    let opened = state
        .app
        .records()
        .break_glass(actor, &id, &reason, minutes)
        .await?;
    let body = json!({
        "resourceType": "Parameters",
        "parameter": [
            { "name": "until", "valueInstant": kiroku_records::record::instant(opened.until) },
        ]
    });
    Ok(fhir(StatusCode::OK, body.to_string().into_bytes()))
}

/// `GET /fhir/{type}/{id}/_history/{version}/$proof`: the proof of authenticity of a version,
/// as a `Parameters` resource: the version as served (`resource`), its ledger entry's bytes
/// (`entry`, and `blob` when the entry holds only its payload's hash), the entry's index and
/// inclusion proof (`index`, `treeSize`, `hash` in order) and the signed checkpoint they lead
/// to (`checkpoint`), with the server's verifier key (`key`) — which a verifier compares with
/// the key it holds, never trusts. `docs/ledger-format.md` is all it takes to check.
pub(super) async fn proof(
    State(state): State<AppState>,
    Caller(actor): Caller,
    Path((kind, id, version)): Path<(String, String, String)>,
) -> Result<Response, AppError> {
    use base64::Engine as _;
    let version = version_number(&version)?;
    let (served, proof) = state
        .app
        .records()
        .prove_resource(actor, &kind, &id, version)
        .await?;
    let b64 = |bytes: &[u8]| base64::engine::general_purpose::STANDARD.encode(bytes);
    let mut parameters = vec![json!({ "name": "entry", "valueBase64Binary": b64(&proof.body) })];
    if let Some(blob) = &proof.blob {
        parameters.push(json!({ "name": "blob", "valueBase64Binary": b64(blob) }));
    }
    // Decimal strings: an index can outgrow FHIR's 32-bit integers.
    parameters.push(json!({ "name": "index", "valueString": proof.index.to_string() }));
    parameters.push(json!({
        "name": "treeSize",
        "valueString": proof.checkpoint.size.to_string()
    }));
    for hash in &proof.hashes {
        parameters.push(json!({ "name": "hash", "valueBase64Binary": hash.to_base64() }));
    }
    parameters.push(json!({ "name": "checkpoint", "valueString": proof.checkpoint.note }));
    parameters.push(json!({ "name": "key", "valueString": state.verifier_key }));
    // The resource goes in as its own text, like a Bundle's entries.
    let mut body = Vec::with_capacity(served.body.len() + proof.body.len() * 2 + 1024);
    body.extend_from_slice(
        b"{\"resourceType\":\"Parameters\",\"parameter\":[{\"name\":\"resource\",\"resource\":",
    );
    body.extend_from_slice(&served.body);
    body.push(b'}');
    for parameter in &parameters {
        body.push(b',');
        body.extend_from_slice(parameter.to_string().as_bytes());
    }
    body.extend_from_slice(b"]}");
    Ok(fhir(StatusCode::OK, body))
}

/// A Bundle of `kind` (`searchset` or `history`) around the resources' own text.
fn bundle(
    kind: &str,
    base: &str,
    self_link: &str,
    next: Option<String>,
    entries: &[(&Served, &str)],
) -> Vec<u8> {
    bundle_with_outcome(kind, base, self_link, next, entries, None)
}

/// [`bundle`], with an OperationOutcome entry (`search.mode` `outcome`) after the others.
fn bundle_with_outcome(
    kind: &str,
    base: &str,
    self_link: &str,
    next: Option<String>,
    entries: &[(&Served, &str)],
    outcome: Option<&serde_json::Value>,
) -> Vec<u8> {
    let string = |s: &str| serde_json::Value::from(s).to_string();
    let mut out = Vec::new();
    out.extend_from_slice(b"{\"resourceType\":\"Bundle\",\"type\":");
    out.extend_from_slice(string(kind).as_bytes());
    out.extend_from_slice(b",\"link\":[{\"relation\":\"self\",\"url\":");
    out.extend_from_slice(string(self_link).as_bytes());
    out.push(b'}');
    if let Some(next) = next {
        out.extend_from_slice(b",{\"relation\":\"next\",\"url\":");
        out.extend_from_slice(string(&next).as_bytes());
        out.push(b'}');
    }
    out.extend_from_slice(b"],\"entry\":[");
    for (i, (served, mode)) in entries.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        let deleted = served.state == kiroku_records::record::State::Deleted;
        out.extend_from_slice(b"{\"fullUrl\":");
        out.extend_from_slice(string(&format!("{base}/{}/{}", served.kind, served.id)).as_bytes());
        // A deletion holds no resource: the history says it with its request alone.
        if !deleted {
            out.extend_from_slice(b",\"resource\":");
            out.extend_from_slice(&served.body);
        }
        if kind == "searchset" {
            out.extend_from_slice(b",\"search\":{\"mode\":");
            out.extend_from_slice(string(mode).as_bytes());
            out.push(b'}');
        } else {
            out.extend_from_slice(b",\"request\":{\"method\":");
            let method = match (deleted, served.version) {
                (true, _) => "DELETE",
                (false, 1) => "POST",
                (false, _) => "PUT",
            };
            out.extend_from_slice(string(method).as_bytes());
            out.extend_from_slice(b",\"url\":");
            out.extend_from_slice(string(&format!("{}/{}", served.kind, served.id)).as_bytes());
            out.extend_from_slice(b"},\"response\":{\"status\":");
            let status = if served.version == 1 { "201" } else { "200" };
            out.extend_from_slice(string(status).as_bytes());
            out.extend_from_slice(b",\"etag\":");
            out.extend_from_slice(string(&format!("W/\"{}\"", served.version)).as_bytes());
            out.push(b'}');
        }
        out.push(b'}');
    }
    if let Some(outcome) = outcome {
        if !entries.is_empty() {
            out.push(b',');
        }
        out.extend_from_slice(b"{\"resource\":");
        out.extend_from_slice(outcome.to_string().as_bytes());
        out.extend_from_slice(b",\"search\":{\"mode\":\"outcome\"}}");
    }
    out.extend_from_slice(b"]}");
    out
}

/// The OperationOutcome a searchset carries when matches the caller may not read were left
/// out: how many, and that break-the-glass would open them — never which.
fn withheld_outcome(withheld: u64, lang: crate::i18n::Lang) -> serde_json::Value {
    let note = AppError::new(Code::SearchWithheld).with("count", withheld);
    let (text, other) = match lang {
        crate::i18n::Lang::Ja => (note.ja(), note.en()),
        crate::i18n::Lang::En => (note.en(), note.ja()),
    };
    json!({
        "resourceType": "OperationOutcome",
        "issue": [{
            "severity": "information",
            "code": "suppressed",
            "details": {
                "coding": [{ "system": "urn:kiroku:error", "code": note.code.code() }],
                "text": text
            },
            "diagnostics": other
        }]
    })
}

/// The query string of `params`, with `_page` replaced by `page` (if any).
fn query_with(params: &[(String, String)], page: Option<&str>) -> String {
    let mut pairs: Vec<(&str, &str)> = params
        .iter()
        .filter(|(k, _)| k != "_page")
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    if let Some(page) = page {
        pairs.push(("_page", page));
    }
    serde_urlencoded::to_string(&pairs).unwrap_or_default()
}

/// `GET /fhir/{type}?…`: a page of matches in a `searchset` Bundle, `next` linking the page
/// after.
pub(super) async fn search(
    State(state): State<AppState>,
    Caller(actor): Caller,
    Path(kind): Path<String>,
    lang: crate::i18n::Lang,
    ApiQuery(params): ApiQuery<Vec<(String, String)>>,
) -> Result<Response, AppError> {
    if kind == "Provenance" && params.iter().any(|(k, _)| k == "target") {
        return provenance_search(&state, actor, &params).await;
    }
    let page = state
        .app
        .records()
        .search_resources(actor, &kind, params.clone())
        .await?;
    let base = base(&state);
    let link = |page: Option<&str>| {
        let query = query_with(&params, page);
        if query.is_empty() {
            format!("{base}/{kind}")
        } else {
            format!("{base}/{kind}?{query}")
        }
    };
    let next = page.next.as_deref().map(|n| link(Some(n)));
    let mut entries: Vec<(&Served, &str)> = page.matches.iter().map(|m| (m, "match")).collect();
    entries.extend(page.included.iter().map(|m| (m, "include")));
    let outcome = (page.withheld > 0).then(|| withheld_outcome(page.withheld, lang));
    let mut response = fhir(
        StatusCode::OK,
        bundle_with_outcome(
            "searchset",
            &base,
            &link(
                params
                    .iter()
                    .find(|(k, _)| k == "_page")
                    .map(|(_, v)| v.as_str()),
            ),
            next,
            &entries,
            outcome.as_ref(),
        ),
    );
    response
        .headers_mut()
        .insert("x-kiroku-withheld", HeaderValue::from(page.withheld));
    Ok(response)
}

/// Most versions whose Provenance one search gives.
const PROVENANCE_VERSIONS_MAX: u64 = 100;

/// `GET /fhir/Provenance?target=Type/id[/_history/v]`: the Provenance of the target's versions
/// (newest first, the latest 100), made from their ledger entries — read like the target's
/// history, and disclosed as one.
async fn provenance_search(
    state: &AppState,
    actor: kiroku_core::Actor,
    params: &[(String, String)],
) -> Result<Response, AppError> {
    let ProvenanceQuery { kind, id, version } = ProvenanceQuery::parse(params)
        .map_err(|e| kiroku_app::Error::Records(kiroku_app::records::Error::Search(e)))?;
    let target = params
        .iter()
        .find(|(k, _)| k == "target")
        .map_or("", |(_, v)| v.as_str());
    let (versions, _) = state
        .app
        .records()
        .resource_history(
            actor,
            &kind,
            &id,
            version.map(|v| v + 1),
            if version.is_some() {
                1
            } else {
                PROVENANCE_VERSIONS_MAX
            },
        )
        .await?;
    let base = base(state);
    let string = |s: &str| serde_json::Value::from(s).to_string();
    let mut out = Vec::new();
    out.extend_from_slice(b"{\"resourceType\":\"Bundle\",\"type\":\"searchset\",\"link\":[{\"relation\":\"self\",\"url\":");
    out.extend_from_slice(string(&format!("{base}/Provenance?target={target}")).as_bytes());
    out.extend_from_slice(b"}],\"entry\":[");
    let mut first = true;
    for served in versions
        .iter()
        .filter(|v| version.is_none_or(|n| v.version == n))
    {
        for provenance in crate::records::provenance::of_version(served) {
            if !first {
                out.push(b',');
            }
            first = false;
            let entry = json!({
                "fullUrl": format!("{base}/Provenance/{}", provenance["id"].as_str().unwrap_or("")),
                "resource": provenance,
                "search": { "mode": "match" }
            });
            out.extend_from_slice(entry.to_string().as_bytes());
        }
    }
    out.extend_from_slice(b"]}");
    Ok(fhir(StatusCode::OK, out))
}

/// `GET /fhir/Provenance/ledger-{entry}`: the Provenance made from a ledger entry that wrote or
/// confirmed a version — read like that version's history, and disclosed as one.
async fn provenance_read(
    state: &AppState,
    actor: kiroku_core::Actor,
    entry: &str,
) -> Result<Response, AppError> {
    let gone = || {
        AppError::from(kiroku_app::Error::Records(
            kiroku_app::records::Error::NoSuchResource,
        ))
    };
    if !entry.bytes().all(|b| b.is_ascii_digit()) {
        return Err(gone());
    }
    let entry: u64 = entry.parse().map_err(|_| gone())?;
    let Some((kind, id, version)) = state.app.records().entry_target(entry).await? else {
        return Err(gone());
    };
    let (versions, _) = state
        .app
        .records()
        .resource_history(actor, kind, &id, Some(version + 1), 1)
        .await?;
    let name = format!("{}{entry}", kiroku_records::resource::LEDGER_PROVENANCE);
    versions
        .iter()
        .filter(|v| v.version == version)
        .flat_map(crate::records::provenance::of_version)
        .find(|p| p["id"] == name.as_str())
        .map(|p| fhir(StatusCode::OK, p.to_string().into_bytes()))
        .ok_or_else(gone)
}

/// `GET /fhir/{type}/{id}/_history`: the versions, newest first, in a `history` Bundle.
pub(super) async fn history(
    State(state): State<AppState>,
    Caller(actor): Caller,
    Path((kind, id)): Path<(String, String)>,
    ApiQuery(params): ApiQuery<Vec<(String, String)>>,
) -> Result<Response, AppError> {
    let HistoryQuery { count, before } = HistoryQuery::parse(&params)
        .map_err(|e| kiroku_app::Error::Records(kiroku_app::records::Error::Search(e)))?;
    let (versions, next) = state
        .app
        .records()
        .resource_history(actor, &kind, &id, before, count)
        .await?;
    let base = base(&state);
    let link = |page: Option<u64>| {
        let page = page.map(|p| p.to_string());
        let query = query_with(&params, page.as_deref());
        if query.is_empty() {
            format!("{base}/{kind}/{id}/_history")
        } else {
            format!("{base}/{kind}/{id}/_history?{query}")
        }
    };
    let entries: Vec<(&Served, &str)> = versions.iter().map(|v| (v, "")).collect();
    Ok(fhir(
        StatusCode::OK,
        bundle(
            "history",
            &base,
            &link(before),
            next.map(|n| link(Some(n))),
            &entries,
        ),
    ))
}

/// The FHIR issue type of an error's HTTP status.
pub(super) fn issue_code(status: StatusCode) -> &'static str {
    match status.as_u16() {
        400 => "invalid",
        401 => "login",
        403 => "forbidden",
        404 => "not-found",
        405 | 415 => "not-supported",
        409 | 412 => "conflict",
        413 => "too-long",
        422 => "processing",
        429 => "throttled",
        _ => "exception",
    }
}

/// An error as an OperationOutcome: the message in the caller's language as the issue's text,
/// the other language as its diagnostics, and the catalogue code as its coding.
/// An error in one entry of a transaction names the entry (from 1 in the text, and as the
/// FHIRPath `Bundle.entry[n]`, from 0, in the issue's expression).
pub(crate) fn outcome(error: &AppError, lang: crate::i18n::Lang) -> String {
    let entry = error
        .values
        .iter()
        .find(|(name, _)| *name == "entry")
        .and_then(|(_, n)| n.parse::<usize>().ok());
    let (ja, en) = match entry {
        Some(n) => (
            format!("Bundle のエントリ {}: {}", n + 1, error.ja()),
            format!("Bundle entry {}: {}", n + 1, error.en()),
        ),
        None => (error.ja(), error.en()),
    };
    let (text, other) = match lang {
        crate::i18n::Lang::Ja => (ja, en),
        crate::i18n::Lang::En => (en, ja),
    };
    let mut issue = json!({
        "severity": "error",
        "code": issue_code(error.code.status()),
        "details": {
            "coding": [{ "system": "urn:kiroku:error", "code": error.code.code() }],
            "text": text
        },
        "diagnostics": other
    });
    if let Some(n) = entry {
        issue["expression"] = json!([format!("Bundle.entry[{n}]")]);
    }
    let mut issues = vec![issue];
    for (expression, problem) in &error.issues {
        let (text, other) = match lang {
            crate::i18n::Lang::Ja => (problem.ja(), problem.en()),
            crate::i18n::Lang::En => (problem.en(), problem.ja()),
        };
        // Inside a transaction the place is the entry's resource: `Patient.name` becomes
        // `Bundle.entry[2].resource.name`.
        let expression = match entry {
            Some(n) => match expression.split_once('.') {
                Some((_, rest)) => format!("Bundle.entry[{n}].resource.{rest}"),
                None => format!("Bundle.entry[{n}].resource"),
            },
            None => expression.clone(),
        };
        issues.push(json!({
            "severity": "error",
            "code": match problem.code {
                Code::FhirTooFew | Code::FhirSliceMember => "required",
                Code::FhirBinding => "code-invalid",
                Code::FhirFormat | Code::FhirEmpty => "value",
                _ => "structure",
            },
            "details": {
                "coding": [{ "system": "urn:kiroku:error", "code": problem.code.code() }],
                "text": text
            },
            "diagnostics": other,
            "expression": [expression]
        }));
    }
    json!({ "resourceType": "OperationOutcome", "issue": issues }).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    // Shows HTTP dates as RFC 9110 writes them.
    #[test]
    fn http_dates() {
        let t = Timestamp::parse_given("2026-11-25T00:30:05Z").unwrap_or(Timestamp::EPOCH);
        assert_eq!(http_date(t), "Wed, 25 Nov 2026 00:30:05 GMT");
    }
}
