//! Server-rendered pages: one askama template per page (under `templates/`, compiled and
//! type-checked with the crate, every value escaped unless a template says otherwise), the base
//! layout they extend (title, navigation, language switch, one stylesheet), and the response
//! every page is sent in. Text is Japanese by default, English on request; times are Japan time.

use crate::i18n::Lang;
use askama::Template;
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE, SET_COOKIE};
use axum::http::HeaderValue;
use axum::response::{Html, IntoResponse, Response};

/// The stylesheet.
pub const CSS: &str = include_str!("assets/kiroku.css");
/// The passkey script.
pub const PASSKEY_JS: &str = include_str!("assets/passkey.js");
/// The print view's button.
pub const PRINT_JS: &str = include_str!("assets/print.js");

/// The language switch of a page at `path`: the same page in the other language.
pub fn switch(lang: Lang, path: &str) -> String {
    format!("{path}?lang={}", lang.other().code())
}

/// The latest verification as the status page shows it.
pub struct VerificationView {
    /// Intact?
    pub intact: bool,
    /// When, in Japan time.
    pub time: String,
    /// The tree size verified.
    pub tree_size: u64,
    /// The entry recording it.
    pub entry: u64,
    /// The problem, if any.
    pub detail: Option<String>,
}

/// `/`: the ledger's status.
#[derive(Template)]
#[template(path = "status.html")]
pub struct StatusPage {
    pub lang: Lang,
    pub title: String,
    pub switch: String,
    pub origin: String,
    pub size: u64,
    pub signed_at: String,
    pub verification: Option<VerificationView>,
    pub key: String,
}

/// A note in the list.
pub struct NoteRow {
    pub id: u64,
    pub version: u64,
    pub withdrawn: bool,
    pub text: String,
    pub tags: Vec<String>,
    pub time: String,
    pub account: String,
}

/// `/notes`: operators' notes, newest first.
#[derive(Template)]
#[template(path = "notes.html")]
pub struct NotesPage {
    pub lang: Lang,
    pub title: String,
    pub switch: String,
    pub tag: Option<String>,
    pub notes: Vec<NoteRow>,
    pub next: Option<String>,
}

/// A version in a note's history.
pub struct VersionRow {
    pub version: u64,
    pub change: String,
    pub text: Option<String>,
    pub reason: Option<String>,
    pub time: String,
    pub account: String,
    pub entry: u64,
}

/// `/notes/{id}`: one note, its history, and the forms to correct or withdraw it.
#[derive(Template)]
#[template(path = "note.html")]
pub struct NotePage {
    pub lang: Lang,
    pub title: String,
    pub switch: String,
    pub id: u64,
    pub version: u64,
    pub withdrawn: bool,
    pub text: Option<String>,
    pub tags: Vec<String>,
    pub tags_text: String,
    pub versions: Vec<VersionRow>,
}

/// `/sign-in`.
#[derive(Template)]
#[template(path = "sign_in.html")]
pub struct SignInPage {
    pub lang: Lang,
    pub title: String,
    pub switch: String,
    pub csrf: String,
    pub account: String,
    pub message: Option<String>,
}

/// `/me/password`: choosing a password (the first time, with the initial secret).
#[derive(Template)]
#[template(path = "password.html")]
pub struct PasswordPage {
    pub lang: Lang,
    pub title: String,
    pub switch: String,
    pub csrf: String,
    pub must_change: bool,
    pub message: Option<String>,
}

/// The second factor: its code while signing in, or enrolling one.
#[derive(Template)]
#[template(path = "factor.html")]
pub struct FactorPage {
    pub lang: Lang,
    pub title: String,
    pub switch: String,
    pub csrf: String,
    pub signing_in: bool,
    pub required: bool,
    /// A TOTP is enrolled.
    pub totp: bool,
    pub passkeys: Vec<PasskeyRow>,
    /// Passkeys can be used at the address the browser reached (see `public_url`).
    pub passkeys_here: bool,
    /// Why not, if not.
    pub unavailable: String,
    pub offer: Option<kiroku_app::access::factors::Offer>,
    pub message: Option<String>,
}

/// A registered passkey, as shown.
pub struct PasskeyRow {
    pub credential: String,
    pub label: String,
    pub registered: String,
}

/// An event of an account's history, as shown.
pub struct EventRow {
    pub time: String,
    pub event: String,
    pub by: String,
    pub reason: Option<String>,
    pub entry: u64,
}

/// `/me`: the signed-in account.
#[derive(Template)]
#[template(path = "me.html")]
pub struct MePage {
    pub lang: Lang,
    pub title: String,
    pub switch: String,
    pub csrf: String,
    pub account: String,
    pub name: String,
    pub kana: String,
    pub department: String,
    pub job_type: String,
    pub category: String,
    pub valid: String,
    pub status: String,
    pub roles: Vec<String>,
    pub history: Vec<EventRow>,
}

/// `/accounts/{id}`: one account, its roles and whole history, with the administrator's forms.
#[derive(Template)]
#[template(path = "account.html")]
pub struct AccountPage {
    pub lang: Lang,
    pub title: String,
    pub switch: String,
    pub csrf: String,
    pub account: String,
    pub name: String,
    pub kana: String,
    pub staff_number: String,
    pub department: String,
    pub job_type: String,
    pub category: String,
    pub valid: String,
    pub status: String,
    pub version: u64,
    /// The status steps that fit the account's status: (path, label).
    pub steps: Vec<(String, String)>,
    pub roles: Vec<String>,
    pub history: Vec<EventRow>,
}

/// A status-change report, as shown.
pub struct ReportRow {
    pub id: u64,
    pub account: String,
    pub department: String,
    pub change: String,
    pub details: String,
    pub reported_by: String,
    pub time: String,
    /// Who handled it and the note, when handled.
    pub handled: Option<String>,
}

/// `/reports`: the form to report a change (Art. 12(5)) and the reports received.
#[derive(Template)]
#[template(path = "reports.html")]
pub struct ReportsPage {
    pub lang: Lang,
    pub title: String,
    pub switch: String,
    pub csrf: String,
    /// The account the form reports on (the caller's own by default).
    pub account: String,
    /// The kinds of change: (value, label).
    pub changes: Vec<(String, String)>,
    /// The reports, for those who receive them (`None`: not shown).
    pub reports: Option<Vec<ReportRow>>,
}

/// `/emergency`: a clinician opens a patient's records by emergency access (break-the-glass).
#[derive(Template)]
#[template(path = "emergency.html")]
pub struct EmergencyPage {
    pub lang: Lang,
    pub title: String,
    pub switch: String,
    pub csrf: String,
    /// The patient's id, as given.
    pub patient: String,
    /// The access just opened: its entry and when it ends, in Japan time.
    pub opened: Option<(u64, String)>,
    /// The lengths offered, in minutes.
    pub lengths: Vec<u32>,
}

/// A break-the-glass access waiting for review.
pub struct EmergencyRow {
    pub entry: u64,
    /// What it is, in the page's language.
    pub kind: String,
    pub account: String,
    pub patient: String,
    pub time: String,
    pub until: String,
    pub reason: String,
    /// Is it the reviewer's own (which someone else reviews)?
    pub own: bool,
}

/// `/emergencies`: the break-the-glass accesses waiting for review.
#[derive(Template)]
#[template(path = "emergencies.html")]
pub struct EmergenciesPage {
    pub lang: Lang,
    pub title: String,
    pub switch: String,
    pub csrf: String,
    pub rows: Vec<EmergencyRow>,
}

/// An access review in the list.
pub struct ReviewRow {
    pub id: u64,
    pub opened: String,
    pub opened_by: String,
    pub deadline: String,
    pub members: usize,
    pub undecided: usize,
    pub state: String,
}

/// `/reviews`.
#[derive(Template)]
#[template(path = "reviews.html")]
pub struct ReviewsPage {
    pub lang: Lang,
    pub title: String,
    pub switch: String,
    pub csrf: String,
    pub reviews: Vec<ReviewRow>,
}

/// A member of a review, as shown.
pub struct ItemRow {
    pub account: String,
    pub department: String,
    /// The decision, by whom and when (`None`: undecided).
    pub decided: Option<String>,
    /// May the caller decide it now?
    pub decidable: bool,
}

/// `/reviews/{id}`.
#[derive(Template)]
#[template(path = "review.html")]
pub struct ReviewPage {
    pub lang: Lang,
    pub title: String,
    pub switch: String,
    pub csrf: String,
    pub id: u64,
    pub deadline: String,
    pub state: String,
    pub due: bool,
    pub items: Vec<ItemRow>,
}

/// An application in a queue.
pub struct ApplicationRow {
    pub id: u64,
    pub account: String,
    pub name: String,
    pub department: String,
    pub applicant: String,
    pub since: String,
}

/// `/applications`: the queues.
#[derive(Template)]
#[template(path = "applications.html")]
pub struct ApplicationsPage {
    pub lang: Lang,
    pub title: String,
    pub switch: String,
    /// Heading, rows, element id.
    pub queues: Vec<(String, Vec<ApplicationRow>, &'static str)>,
}

/// `/applications/new`: the form.
#[derive(Template)]
#[template(path = "application_new.html")]
pub struct ApplicationFormPage {
    pub lang: Lang,
    pub title: String,
    pub switch: String,
    pub csrf: String,
    pub today: String,
    pub departments: Vec<(String, String)>,
    pub job_types: Vec<(String, String)>,
    pub categories: Vec<(String, String)>,
}

/// A step of an application, as shown.
pub struct StepRow {
    pub version: u64,
    pub step: String,
    pub by: String,
    pub reason: Option<String>,
    pub time: String,
}

/// `/applications/{id}`.
#[derive(Template)]
#[template(path = "application.html")]
pub struct ApplicationPage {
    pub lang: Lang,
    pub title: String,
    pub switch: String,
    pub csrf: String,
    pub id: u64,
    pub version: u64,
    pub open: bool,
    pub state: String,
    pub account: String,
    pub name: String,
    pub kana: String,
    pub staff_number: String,
    pub department: String,
    pub job_type: String,
    pub category: String,
    pub category_detail: Option<String>,
    pub valid: String,
    pub justification: String,
    pub steps: Vec<StepRow>,
}

/// `/applications/{id}/print`: the application as the prescribed paper form.
#[derive(Template)]
#[template(path = "application_print.html")]
pub struct ApplicationPrintPage {
    pub page: ApplicationPage,
    /// The applicant (who filled it in) and the date.
    pub applicant: String,
    /// The head's endorsement, by whom and when.
    pub endorsed: Option<String>,
    /// The administrator's decision, by whom and when.
    pub decided: Option<String>,
    /// When it was printed.
    pub printed: String,
}

/// The page that shows an issued ID's initial secret, once.
#[derive(Template)]
#[template(path = "issued.html")]
pub struct IssuedPage {
    pub lang: Lang,
    pub title: String,
    pub switch: String,
    pub account: String,
    pub secret: String,
}

/// An account in the list.
pub struct AccountRow {
    pub account: String,
    pub name: String,
    pub department: String,
    pub job_type: String,
    pub status: String,
}

/// `/accounts`.
#[derive(Template)]
#[template(path = "accounts.html")]
pub struct AccountsPage {
    pub lang: Lang,
    pub title: String,
    pub switch: String,
    pub accounts: Vec<AccountRow>,
    pub next: Option<String>,
}

/// A client's token, as shown (by the start of its SHA-256).
pub struct TokenRow {
    pub id: String,
    pub short: String,
    pub scopes: String,
    pub issued: String,
    pub expires: String,
    pub live: bool,
}

/// A system client, as shown.
pub struct ClientRow {
    pub account: String,
    pub name: String,
    pub department: String,
    pub status: String,
    pub validity: String,
    /// Each known scope, and whether it is granted.
    pub scopes: Vec<(String, bool)>,
    pub tokens: Vec<TokenRow>,
}

/// `/clients`.
#[derive(Template)]
#[template(path = "clients.html")]
pub struct ClientsPage {
    pub lang: Lang,
    pub title: String,
    pub switch: String,
    pub csrf: String,
    pub clients: Vec<ClientRow>,
}

/// An appointment, as shown.
pub struct RoleRow {
    pub role: String,
    pub department: String,
    pub account: String,
    pub dates: String,
}

/// `/roles`: who holds administrative rights.
#[derive(Template)]
#[template(path = "roles.html")]
pub struct RolesPage {
    pub lang: Lang,
    pub title: String,
    pub switch: String,
    pub appointments: Vec<RoleRow>,
}

/// A policy version in the list.
pub struct PolicyRow {
    pub number: u64,
    pub state: String,
    pub proposed_by: String,
    pub proposed_at: String,
    pub decided: String,
}

/// The access policy: versions, the text in force (or at a past time), the proposal form.
#[derive(Template)]
#[template(path = "policy.html")]
pub struct PolicyPage {
    pub lang: Lang,
    pub title: String,
    pub switch: String,
    pub csrf: String,
    pub stream_version: u64,
    pub in_force: u64,
    pub shown_number: u64,
    pub shown_since: String,
    pub at: String,
    pub text: String,
    pub versions: Vec<PolicyRow>,
}

/// One policy version, with approve and reject while it awaits a decision.
#[derive(Template)]
#[template(path = "policy_version.html")]
pub struct PolicyVersionPage {
    pub lang: Lang,
    pub title: String,
    pub switch: String,
    pub csrf: String,
    pub number: u64,
    pub state: String,
    pub open: bool,
    pub stream_version: u64,
    pub based_on: u64,
    pub proposed_by: String,
    pub proposed_at: String,
    pub text: String,
}

/// The explainer: may this account do this, and which policies say so.
#[derive(Template)]
#[template(path = "policy_explain.html")]
pub struct PolicyExplainPage {
    pub lang: Lang,
    pub title: String,
    pub switch: String,
    pub account: String,
    pub action: String,
    pub department: String,
    pub category: String,
    pub target: String,
    pub actions: Vec<String>,
    pub allowed: Option<bool>,
    pub version: u64,
    pub policies: Vec<(String, String)>,
}

/// Any error, as a page.
#[derive(Template)]
#[template(path = "error.html")]
pub struct ErrorPage {
    pub lang: Lang,
    pub title: String,
    pub switch: String,
    pub message: String,
    pub code: &'static str,
    /// The patient whose records a break-the-glass access would open.
    pub emergency: Option<String>,
}

/// A patient found, as the search lists them.
pub type PatientRow = crate::records::clinical::PatientView;

/// `/patients`: patient search.
#[derive(Template)]
#[template(path = "patients.html")]
pub struct PatientsPage {
    pub lang: Lang,
    pub title: String,
    pub switch: String,
    pub name: String,
    pub number: String,
    pub birthdate: String,
    pub searched: bool,
    pub rows: Vec<PatientRow>,
    pub next: Option<String>,
    /// Matches left out of this page: the caller may not read them.
    pub withheld: u64,
}

/// `/patients/{id}`: the chart.
#[derive(Template)]
#[template(path = "chart.html")]
pub struct ChartPage {
    pub lang: Lang,
    pub title: String,
    pub switch: String,
    pub patient: crate::records::clinical::PatientView,
    /// Read under a break-the-glass access.
    pub emergency: bool,
    /// Encounters and documents, newest first.
    pub timeline: Vec<crate::records::clinical::RecordRow>,
    pub problems: Vec<crate::records::clinical::RecordRow>,
    pub allergies: Vec<crate::records::clinical::RecordRow>,
    pub results: Vec<crate::records::clinical::Trend>,
    pub prescriptions: Vec<crate::records::clinical::RecordRow>,
}

/// A section of the note editor.
pub struct SectionField {
    pub label: String,
    pub text: String,
    pub rows: u32,
}

/// The note being corrected.
pub struct Correcting {
    /// The version the clinician saw.
    pub version: u64,
    /// It is confirmed: a correction needs a reason.
    pub confirmed: bool,
}

/// `/patients/{id}/notes/new` and `/records/DocumentReference/{id}/edit`: the note editor.
#[derive(Template)]
#[template(path = "note_form.html")]
pub struct NoteFormPage {
    pub lang: Lang,
    pub title: String,
    pub switch: String,
    pub csrf: String,
    pub patient: crate::records::clinical::PatientView,
    /// Each kind's key and title, for choosing.
    pub kinds: Vec<(String, String)>,
    pub kind: String,
    pub action: String,
    /// The patient's encounters: id and how they read.
    pub encounters: Vec<(String, String)>,
    pub encounter: String,
    pub sections: Vec<SectionField>,
    pub max_chars: usize,
    pub on_behalf_of: String,
    pub correcting: Option<Correcting>,
    pub notice: Option<String>,
}

/// A version as the record pages show it.
pub struct VersionView {
    pub kind: String,
    pub id: String,
    pub version: u64,
    pub latest: bool,
    pub draft: bool,
    /// A deletion: the version holds no resource.
    pub deleted: bool,
    pub trainee: bool,
    /// A note: the editor can correct it.
    pub editable: bool,
    pub title: String,
    /// A note's text; other resources show their fields.
    pub text: Option<String>,
    /// Attachments held here: title and where to read them.
    pub attachments: Vec<(String, String)>,
    pub fields: Vec<(String, String)>,
    pub time: String,
    pub author: String,
    pub on_behalf_of: Option<String>,
    /// Who confirmed it and when.
    pub confirmed: Option<String>,
    pub reason: Option<String>,
    pub entry: u64,
}

/// `/records/{type}/{id}[/_history/{v}]`: one version.
#[derive(Template)]
#[template(path = "record.html")]
pub struct RecordPage {
    pub lang: Lang,
    pub title: String,
    pub switch: String,
    pub csrf: String,
    pub patient: Option<crate::records::clinical::PatientView>,
    pub emergency: bool,
    pub message: Option<String>,
    pub v: VersionView,
}

/// A version in the history, with its difference from the one before.
pub struct HistoryItem {
    pub version: VersionView,
    /// The first version (nothing to compare).
    pub first: bool,
    /// Lines added (`true`) and removed.
    pub changes: Vec<(bool, String)>,
}

/// `/records/{type}/{id}/history`.
#[derive(Template)]
#[template(path = "history.html")]
pub struct HistoryPage {
    pub lang: Lang,
    pub title: String,
    pub switch: String,
    pub patient: Option<crate::records::clinical::PatientView>,
    pub versions: Vec<HistoryItem>,
    pub next: Option<String>,
}

/// `/records/{type}/{id}/_history/{v}/print`: the version on A4.
#[derive(Template)]
#[template(path = "print.html")]
pub struct PrintPage {
    pub lang: Lang,
    pub hospital: String,
    pub patient: Option<crate::records::clinical::PatientView>,
    pub v: VersionView,
    pub printed: String,
    pub printed_by: String,
}

/// `/records/{type}/{id}/_history/{v}/proof`: the version's proof, checked.
#[derive(Template)]
#[template(path = "proof.html")]
pub struct ProofPage {
    pub lang: Lang,
    pub title: String,
    pub switch: String,
    pub kind: String,
    pub id: String,
    pub version: u64,
    pub intact: bool,
    /// Each check: what, passed, detail.
    pub checks: Vec<(String, bool, String)>,
    pub index: u64,
    pub leaf: String,
    pub size: u64,
    pub root: String,
    pub hashes: usize,
    pub checkpoint: String,
    pub key: String,
}

/// A draft in the queue.
pub struct QueueRow {
    pub kind: String,
    pub id: String,
    pub version: u64,
    pub patient: Option<crate::records::clinical::PatientView>,
    pub title: String,
    pub detail: String,
    pub author: String,
    pub time: String,
    pub trainee: bool,
    pub proxy: bool,
}

/// `/queue`: drafts waiting for confirmation.
#[derive(Template)]
#[template(path = "queue.html")]
pub struct QueuePage {
    pub lang: Lang,
    pub title: String,
    pub switch: String,
    pub csrf: String,
    pub mine: Vec<QueueRow>,
    pub anyone: Vec<QueueRow>,
    pub more: bool,
    pub confirmed: Option<u64>,
}

/// Renders a page, falling back to a plain error text if the template fails (it cannot for
/// these types, but a page must never panic).
pub fn render(template: &impl Template) -> String {
    template.render().unwrap_or_else(|e| {
        tracing::error!(error = %e, "a page could not be rendered");
        "<!doctype html><title>Kiroku</title><p>The page could not be rendered.</p>".into()
    })
}

/// A page response. Sets the language cookie when the page was asked for with `?lang=`, and
/// keeps pages out of caches (they show the ledger's live state).
pub fn page(lang: Lang, set_cookie: bool, html: String) -> Response {
    let mut response = Html(html).into_response();
    let headers = response.headers_mut();
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    if set_cookie {
        if let Ok(value) = format!(
            "lang={}; Path=/; Max-Age=31536000; SameSite=Lax",
            lang.code()
        )
        .parse()
        {
            headers.insert(SET_COOKIE, value);
        }
    }
    response
}

/// The passkey script (the only script the pages load).
pub fn passkey_js() -> Response {
    (
        [
            (CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (CACHE_CONTROL, "public, max-age=3600"),
        ],
        PASSKEY_JS,
    )
        .into_response()
}

/// The print view's script.
pub fn print_js() -> Response {
    (
        [
            (CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (CACHE_CONTROL, "public, max-age=3600"),
        ],
        PRINT_JS,
    )
        .into_response()
}

/// The stylesheet response.
pub fn css() -> Response {
    (
        [
            (CONTENT_TYPE, "text/css; charset=utf-8"),
            (CACHE_CONTROL, "public, max-age=3600"),
        ],
        CSS,
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    // Shows that text in a page is escaped by the template engine: markup in a note (or any
    // value) is shown, not interpreted.
    #[test]
    fn values_are_escaped() {
        let html = render(&ErrorPage {
            lang: Lang::En,
            title: "Error".into(),
            switch: switch(Lang::En, "/"),
            message: r#"<script>alert("x")</script> & 'q'"#.into(),
            code: "test",
            emergency: None,
        });
        assert!(
            html.contains("&#60;script&#62;") || html.contains("&lt;script&gt;"),
            "{html}"
        );
        assert!(!html.contains("<script>"), "{html}");
        assert!(html.contains("<html lang=\"en\">"));
    }
}
