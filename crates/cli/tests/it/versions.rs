//! Versions that nothing erases, end to end through a running server: a DELETE is a new version
//! with a reason, after which the resource reads as gone while every earlier version stays
//! readable; attachments kept as Binary resources in their own format, large ones through the
//! blob store, covered by `kiroku verify`; and Provenance made from the ledger — who entered,
//! on whose behalf, who confirmed or countersigned, and when.

use crate::clients::token;
use crate::fhir::{encounter, hospital_with, patient_body, PASSWORD};
use crate::support::{run_on, stdout};
use kiroku_testkit::records::send;
use kiroku_testkit::{Reply, TestServer};

fn outcome_code(reply: &Reply) -> String {
    reply.json()["issue"][0]["details"]["coding"][0]["code"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

fn entry(server: &TestServer, at: u64) -> (String, Option<String>, serde_json::Value) {
    let store =
        kiroku_store::Store::open(&server.data().database(), kiroku_app::registry(), 2).unwrap();
    let (entry, payload) = kiroku_store::read::entry(&store, kiroku_core::EntryIndex(at)).unwrap();
    (entry.kind.to_string(), entry.reason.clone(), payload)
}

fn observation(patient: &str, text: &str) -> String {
    format!(
        r#"{{"resourceType":"Observation","status":"final","category":[{{"coding":[{{"system":"http://terminology.hl7.org/CodeSystem/observation-category","code":"laboratory"}}]}}],"code":{{"coding":[{{"system":"http://loinc.org","code":"2160-0"}}],"text":"{text}"}},"subject":{{"reference":"Patient/{patient}"}},"effectiveDateTime":"2026-12-01","valueQuantity":{{"value":0.80,"unit":"mg/dL"}}}}"#
    )
}

fn register(server: &TestServer, system: &str, number: &str) -> String {
    let made = send(
        server,
        system,
        "POST",
        "/fhir/Patient",
        &[],
        Some(&patient_body(
            number,
            ("三本木", "健"),
            ("サンボンギ", "ケン"),
            "1955-09-09",
        )),
    );
    assert_eq!(made.status, 201, "{}", made.text());
    made.json()["id"].as_str().unwrap().to_owned()
}

// Shows DELETE as the e-storage rules have it: without a reason it is refused and nothing is
// written; a caller the policy does not let write the record is refused (recorded); with a
// reason and a stale If-Match, 412; with a reason, a new version that holds no resource, its
// entry carrying the reason and the patient; then read and vread of it are 410, search no
// longer finds it, the earlier version reads as it was, the history keeps both (the deletion
// as a DELETE request), and a second DELETE writes nothing.
#[test]
fn a_deletion_is_a_version_and_erases_nothing() {
    let (data, secret, people) = hospital_with(&["student"]);
    let student = &people[0];
    let server = TestServer::serve(data);
    let system = token(&server, &secret, None);
    let patient = register(&server, &system, "5501");
    let made = send(
        &server,
        &system,
        "POST",
        "/fhir/Observation",
        &[],
        Some(&observation(&patient, "クレアチニン")),
    );
    let id = made.json()["id"].as_str().unwrap().to_owned();
    let path = format!("/fhir/Observation/{id}");

    let size = server.operator().tree_size();
    let no_reason = send(&server, &system, "DELETE", &path, &[], None);
    assert_eq!(
        (no_reason.status, outcome_code(&no_reason)),
        (422, "record_reason_required".into())
    );
    assert_eq!(server.operator().tree_size(), size, "nothing was written");

    let reason = (
        "x-kiroku-reason",
        "%E5%88%A5%E6%82%A3%E8%80%85%E3%81%AB%E7%99%BB%E9%8C%B2",
    );
    let cookie = kiroku_testkit::access::web_sign_in(&server, student, PASSWORD);
    let csrf =
        kiroku_testkit::access::form_csrf(&server.get_with("/me", &[("cookie", &cookie)]).text());
    let size = server.operator().tree_size();
    let refused = server.send(
        "DELETE",
        &path,
        &[("cookie", &cookie), ("x-csrf-token", &csrf), reason],
        None,
    );
    assert_eq!(refused.status, 403, "{}", refused.text());
    assert_eq!(entry(&server, size).0, "records.denial/1");

    let stale = send(
        &server,
        &system,
        "DELETE",
        &path,
        &[reason, ("if-match", "W/\"7\"")],
        None,
    );
    assert_eq!(
        (stale.status, outcome_code(&stale)),
        (412, "version_mismatch".into())
    );

    let size = server.operator().tree_size();
    let deleted = send(
        &server,
        &system,
        "DELETE",
        &path,
        &[reason, ("if-match", "W/\"1\"")],
        None,
    );
    assert_eq!(deleted.status, 200, "{}", deleted.text());
    assert_eq!(deleted.header("etag"), Some("W/\"2\""));
    assert_eq!(server.operator().tree_size(), size + 1);
    let (kind, why, payload) = entry(&server, size);
    assert_eq!(kind, "records.resource/1");
    assert_eq!(why.as_deref(), Some("別患者に登録"));
    assert_eq!(payload["state"], "deleted");
    assert_eq!(payload["text"], "");
    assert_eq!(payload["index"]["patient"], patient.as_str());

    let gone = send(&server, &system, "GET", &path, &[], None);
    assert_eq!(
        (gone.status, outcome_code(&gone)),
        (410, "resource_deleted".into())
    );
    let gone = send(
        &server,
        &system,
        "GET",
        &format!("{path}/_history/2"),
        &[],
        None,
    );
    assert_eq!(gone.status, 410);
    let kept = send(
        &server,
        &system,
        "GET",
        &format!("{path}/_history/1"),
        &[],
        None,
    );
    assert_eq!(kept.status, 200);
    assert!(kept.text().contains("\"value\":0.80"), "{}", kept.text());
    let searched = send(
        &server,
        &system,
        "GET",
        &format!("/fhir/Observation?patient={patient}"),
        &[],
        None,
    );
    assert_eq!(searched.json()["entry"].as_array().map_or(0, Vec::len), 0);
    let searched = send(
        &server,
        &system,
        "GET",
        "/fhir/Observation?code=2160-0",
        &[],
        None,
    );
    assert_eq!(searched.json()["entry"].as_array().map_or(0, Vec::len), 0);
    let history = send(
        &server,
        &system,
        "GET",
        &format!("{path}/_history"),
        &[],
        None,
    )
    .json();
    let entries = history["entry"].as_array().unwrap();
    assert_eq!(entries.len(), 2);
    assert_eq!(entries[0]["request"]["method"], "DELETE");
    assert!(entries[0].get("resource").is_none());
    assert_eq!(entries[1]["resource"]["id"], id.as_str());

    let size = server.operator().tree_size();
    let again = send(&server, &system, "DELETE", &path, &[reason], None);
    assert_eq!(again.status, 200);
    assert_eq!(again.header("etag"), Some("W/\"2\""));
    assert_eq!(
        server.operator().tree_size(),
        size,
        "a deleted resource is not deleted twice"
    );
}

// Shows attachments in their own format: a PDF sent raw (its media type in Content-Type, its
// patient in X-Security-Context) is a Binary; without a patient it is refused; it reads back
// byte for byte, sandboxed, shown in the page; an HTML attachment is downloaded, never shown;
// as FHIR JSON it is a Binary whose data is the bytes; a large one is kept in the blob store and
// `kiroku verify` covers it — and names it when the blob is altered.
#[test]
fn attachments_keep_their_own_format_and_are_verified() {
    let (data, secret, _) = hospital_with(&[]);
    crate::support::lower_entry_limit(&data);
    let server = TestServer::serve(data);
    let system = token(&server, &secret, None);
    let patient = register(&server, &system, "5502");
    let auth = format!("Bearer {system}");
    let pdf: Vec<u8> = b"%PDF-1.4\n"
        .iter()
        .copied()
        .chain((0..4000u32).flat_map(|i| (i as u8).to_le_bytes()))
        .collect();
    let context = format!("Patient/{patient}");
    let upload = |media: &str, body: &[u8], context: Option<&str>| {
        let mut headers = vec![("authorization", auth.as_str()), ("content-type", media)];
        if let Some(c) = context {
            headers.push(("x-security-context", c));
        }
        server.send("POST", "/fhir/Binary", &headers, Some(body))
    };

    let size = server.operator().tree_size();
    let orphan = upload("application/pdf", &pdf, None);
    assert_eq!(
        (orphan.status, outcome_code(&orphan)),
        (422, "record_no_patient".into())
    );
    assert_eq!(server.operator().tree_size(), size);
    let not_fhir = server.send(
        "POST",
        "/fhir/Observation",
        &[
            ("authorization", auth.as_str()),
            ("content-type", "application/pdf"),
        ],
        Some(&pdf),
    );
    assert_eq!(outcome_code(&not_fhir), "fhir_media_type");

    let made = upload("application/pdf", &pdf, Some(&context));
    assert_eq!(made.status, 201, "{}", made.text());
    let id = made.json()["id"].as_str().unwrap().to_owned();
    assert_eq!(made.json()["contentType"], "application/pdf");
    let raw = server.send(
        "GET",
        &format!("/fhir/Binary/{id}"),
        &[
            ("authorization", auth.as_str()),
            ("accept", "application/pdf"),
        ],
        None,
    );
    assert_eq!(raw.status, 200);
    assert_eq!(raw.body, pdf, "byte for byte");
    assert_eq!(raw.header("content-type"), Some("application/pdf"));
    assert_eq!(raw.header("content-disposition"), Some("inline"));
    assert_eq!(
        raw.header("content-security-policy"),
        Some("frame-ancestors 'none'")
    );
    assert_eq!(raw.header("cache-control"), Some("no-store"));
    let as_fhir = send(
        &server,
        &system,
        "GET",
        &format!("/fhir/Binary/{id}"),
        &[("accept", "application/fhir+json")],
        None,
    );
    assert_eq!(as_fhir.json()["resourceType"], "Binary");
    assert_eq!(
        as_fhir.json()["securityContext"]["reference"],
        context.as_str()
    );

    let html = upload("text/html", b"<script>alert(1)</script>", Some(&context));
    let html_id = html.json()["id"].as_str().unwrap().to_owned();
    let raw = server.send(
        "GET",
        &format!("/fhir/Binary/{html_id}"),
        &[("authorization", auth.as_str()), ("accept", "text/html")],
        None,
    );
    assert_eq!(raw.header("content-disposition"), Some("attachment"));
    assert!(raw
        .header("content-security-policy")
        .unwrap()
        .starts_with("sandbox"));

    // Verified as kept; named when its blob is altered behind the ledger.
    let data = server.stop();
    let output = run_on(&data, &["verify"], &["--no-record"]);
    assert!(output.status.success(), "{}", stdout(&output));
    crate::tamper::tamper(
        &data,
        match data.database() {
            kiroku_store::DatabaseUrl::Sqlite(_) => "UPDATE blobs SET content = CAST(replace(CAST(content AS TEXT), 'JVBERi0', 'JVBERi1') AS BLOB)",
            kiroku_store::DatabaseUrl::Postgres(_) => "UPDATE blobs SET content = convert_to(replace(convert_from(content, 'UTF8'), 'JVBERi0', 'JVBERi1'), 'UTF8')",
        },
    );
    let output = run_on(&data, &["verify"], &["--no-record"]);
    assert_eq!(output.status.code(), Some(1), "{}", stdout(&output));
    assert!(
        stdout(&output).contains("payload blob"),
        "{}",
        stdout(&output)
    );
}

// Shows Provenance made from the ledger: a proxy entry's version names its enterer and the
// clinician it was entered for; its confirmation names who authenticated it; a trainee's
// version, once countersigned, names the verifier; a correction carries its reason; each
// Provenance names the ledger entry it was made from.
#[test]
fn provenance_comes_from_the_ledger() {
    let (data, secret, people) = hospital_with(&[
        "doctor@internal-medicine",
        "medical-clerk",
        "trainee-doctor@internal-medicine",
    ]);
    let (doctor, clerk, trainee) = (&people[0], &people[1], &people[2]);
    let server = TestServer::serve(data);
    let system = token(&server, &secret, None);
    let patient = register(&server, &system, "5503");
    encounter(&server, &system, &patient, "internal-medicine", None);
    let session = |account: &str| {
        let cookie = kiroku_testkit::access::web_sign_in(&server, account, PASSWORD);
        let csrf = kiroku_testkit::access::form_csrf(
            &server.get_with("/me", &[("cookie", &cookie)]).text(),
        );
        (cookie, csrf)
    };
    let as_person = |who: &(String, String),
                     method: &str,
                     path: &str,
                     extra: &[(&str, &str)],
                     body: Option<&str>| {
        let mut headers = vec![
            ("cookie", who.0.as_str()),
            ("x-csrf-token", who.1.as_str()),
            ("content-type", "application/fhir+json"),
        ];
        headers.extend_from_slice(extra);
        server.send(method, path, &headers, body.map(str::as_bytes))
    };
    let (clerk_s, doctor_s, trainee_s) = (session(clerk), session(doctor), session(trainee));

    // A proxy entry, confirmed by the doctor, then corrected by the doctor with a reason.
    let made = as_person(
        &clerk_s,
        "POST",
        "/fhir/Observation",
        &[("x-kiroku-on-behalf-of", doctor)],
        Some(&observation(&patient, "クレアチニン")),
    );
    assert_eq!(made.status, 201, "{}", made.text());
    let id = made.json()["id"].as_str().unwrap().to_owned();
    let confirmed = as_person(
        &doctor_s,
        "POST",
        &format!("/fhir/Observation/{id}/_history/1/$confirm"),
        &[],
        None,
    );
    assert_eq!(confirmed.status, 200, "{}", confirmed.text());
    let corrected = as_person(
        &doctor_s,
        "PUT",
        &format!("/fhir/Observation/{id}"),
        &[(
            "x-kiroku-reason",
            "%E5%8D%98%E4%BD%8D%E3%81%AE%E8%AA%A4%E8%A8%98",
        )],
        Some(&observation(&patient, "クレアチニン（再）")),
    );
    assert_eq!(corrected.status, 200, "{}", corrected.text());

    let bundle = send(
        &server,
        &system,
        "GET",
        &format!("/fhir/Provenance?target=Observation/{id}"),
        &[],
        None,
    );
    assert_eq!(bundle.status, 200, "{}", bundle.text());
    let entries: Vec<serde_json::Value> = bundle.json()["entry"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["resource"].clone())
        .collect();
    assert_eq!(
        entries.len(),
        3,
        "version 2, the confirmation of 1, and version 1"
    );
    let (v2, confirmation, v1) = (&entries[0], &entries[1], &entries[2]);
    assert_eq!(
        v2["target"][0]["reference"],
        format!("Observation/{id}/_history/2")
    );
    assert_eq!(v2["activity"]["coding"][0]["code"], "UPDATE");
    assert_eq!(v2["reason"][0]["text"], "単位の誤記");
    assert_eq!(
        v2["agent"][0]["who"]["identifier"]["value"],
        doctor.as_str()
    );
    assert_eq!(
        confirmation["agent"][0]["type"]["coding"][0]["code"],
        "legal"
    );
    assert_eq!(
        confirmation["agent"][0]["who"]["identifier"]["value"],
        doctor.as_str()
    );
    assert_eq!(confirmation["activity"]["coding"][0]["code"], "LA");
    assert_eq!(v1["activity"]["coding"][0]["code"], "CREATE");
    assert_eq!(v1["agent"][0]["type"]["coding"][0]["code"], "enterer");
    assert_eq!(v1["agent"][0]["who"]["identifier"]["value"], clerk.as_str());
    assert_eq!(
        v1["agent"][0]["onBehalfOf"]["identifier"]["value"],
        doctor.as_str()
    );
    // Each is read by its id, as its fullUrl says, the same as the search gave it.
    for (found, resource) in bundle.json()["entry"]
        .as_array()
        .unwrap()
        .iter()
        .zip(&entries)
    {
        let name = resource["id"].as_str().unwrap();
        assert!(name.starts_with("ledger-"), "{name}");
        let url = found["fullUrl"].as_str().unwrap();
        assert!(url.ends_with(&format!("/fhir/Provenance/{name}")), "{url}");
        let read = send(
            &server,
            &system,
            "GET",
            &format!("/fhir/Provenance/{name}"),
            &[],
            None,
        );
        assert_eq!(read.status, 200, "{}", read.text());
        assert_eq!(&read.json(), resource);
    }
    // Entries that wrote no version, and names that are no entry's, are not found; no stored
    // Provenance may take such a name.
    let size = server.operator().tree_size();
    for name in [
        "ledger-0",
        &format!("ledger-{size}"),
        "ledger-x1",
        "ledger-",
    ] {
        let missing = send(
            &server,
            &system,
            "GET",
            &format!("/fhir/Provenance/{name}"),
            &[],
            None,
        );
        assert_eq!(
            (missing.status, outcome_code(&missing)),
            (404, "no_such_resource".into()),
            "{name}"
        );
    }
    let taken = send(
        &server,
        &system,
        "PUT",
        "/fhir/Provenance/ledger-1",
        &[],
        Some(
            r#"{"resourceType":"Provenance","id":"ledger-1","target":[{"reference":"Patient/x"}],"recorded":"2026-12-07T10:00:00+09:00","agent":[{"who":{"display":"x"}}]}"#,
        ),
    );
    assert_eq!(
        (taken.status, outcome_code(&taken)),
        (400, "resource_bad_id".into()),
        "{}",
        taken.text()
    );

    // Each names its ledger entry, and that entry is what it says.
    let at: u64 = v1["extension"][0]["valueString"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    let (kind, _, payload) = entry(&server, at);
    assert_eq!(kind, "records.resource/1");
    assert_eq!(payload["on_behalf_of"], doctor.as_str());

    // A trainee's version, countersigned: the verifier.
    let made = as_person(
        &trainee_s,
        "POST",
        "/fhir/Observation",
        &[],
        Some(&observation(&patient, "BUN")),
    );
    let trainee_id = made.json()["id"].as_str().unwrap().to_owned();
    as_person(
        &doctor_s,
        "POST",
        &format!("/fhir/Observation/{trainee_id}/_history/1/$confirm"),
        &[],
        None,
    );
    let bundle = send(
        &server,
        &system,
        "GET",
        &format!("/fhir/Provenance?target=Observation/{trainee_id}/_history/1"),
        &[],
        None,
    )
    .json();
    let countersigned = &bundle["entry"][0]["resource"];
    assert_eq!(
        countersigned["agent"][0]["type"]["coding"][0]["code"],
        "verifier"
    );
    assert_eq!(countersigned["activity"]["coding"][0]["code"], "VRF");
    assert_eq!(
        bundle["entry"][1]["resource"]["agent"][0]["who"]["identifier"]["value"],
        trainee.as_str()
    );

    // A target that is not a reference is refused.
    let bad = send(
        &server,
        &system,
        "GET",
        "/fhir/Provenance?target=Observation",
        &[],
        None,
    );
    assert_eq!(outcome_code(&bad), "search_bad_value");
}
