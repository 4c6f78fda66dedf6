//! The clinician's side of the records, end to end through a running server: proxy entry
//! (代行入力) and whom a draft waits for, and the pages — patient search, the chart, the note
//! editor, confirmation, correction with a reason, the history with its differences, the print
//! view and the proof — each a gated read whose disclosure is in the ledger before the page is
//! sent, and each bad input answered with nothing written and nothing typed lost.

use crate::clients::token;
use crate::fhir::{encounter, hospital_with, patient_body, PASSWORD};
use kiroku_testkit::access::Person;
use kiroku_testkit::records::send;
use kiroku_testkit::{Reply, TestServer};

/// The catalogue code of an OperationOutcome.
fn outcome_code(reply: &Reply) -> String {
    reply.json()["issue"][0]["details"]["coding"][0]["code"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

/// Entry `at` of the server's ledger: kind, actor and payload.
fn entry(server: &TestServer, at: u64) -> (String, String, serde_json::Value) {
    let store =
        kiroku_store::Store::open(&server.data().database(), kiroku_app::registry(), 2).unwrap();
    let (entry, payload) = kiroku_store::read::entry(&store, kiroku_core::EntryIndex(at)).unwrap();
    (
        entry.kind.to_string(),
        entry.actor.account.to_string(),
        payload,
    )
}

fn prescription(patient: &str) -> String {
    format!(
        r#"{{"resourceType":"MedicationRequest","status":"active","intent":"order","medicationCodeableConcept":{{"text":"アムロジピン錠5mg"}},"subject":{{"reference":"Patient/{patient}"}},"authoredOn":"2026-12-01","dosageInstruction":[{{"text":"1日1回朝食後 1錠"}}]}}"#
    )
}

// Shows proxy entry end to end: a clerk enters a prescription on a doctor's behalf; the version
// is the clerk's entry, a draft that waits for that doctor; the doctor named must exist, be
// another person, not a trainee, and be one whom the policy lets write the record — otherwise
// nothing is written; a clerk may not write it in their own name, nor a system on anyone's
// behalf (both refusals recorded); another doctor may not confirm it (recorded); the doctor's
// queue lists it, and the doctor's confirmation says it confirmed a proxy entry.
#[test]
fn proxy_entries_wait_for_their_clinician() {
    let (data, secret, people) = hospital_with(&[
        "doctor@internal-medicine",
        "doctor@internal-medicine#1",
        "medical-clerk",
        "doctor@surgery",
        "trainee-doctor@internal-medicine",
    ]);
    let (doctor, colleague, clerk, surgeon, trainee) =
        (&people[0], &people[1], &people[2], &people[3], &people[4]);
    let server = TestServer::serve(data);
    let system = token(&server, &secret, None);
    let patient = send(
        &server,
        &system,
        "POST",
        "/fhir/Patient",
        &[],
        Some(&patient_body(
            "3101",
            ("古川", "春子"),
            ("フルカワ", "ハルコ"),
            "1950-04-01",
        )),
    );
    let patient = patient.json()["id"].as_str().unwrap().to_owned();
    encounter(&server, &system, &patient, "internal-medicine", None);
    let as_clerk = Person::sign_in(&server, clerk, PASSWORD);
    let body = prescription(&patient);
    let on_behalf = |account: &str| {
        as_clerk.fhir(
            "POST",
            "/fhir/MedicationRequest",
            &[("x-kiroku-on-behalf-of", account)],
            Some(&body),
        )
    };

    // Nothing is written for a clinician who cannot be named; an entry for one the policy
    // does not let write the record is refused, and the refusal kept (issue 18, defect 9).
    let size = server.operator().tree_size();
    for (named, status, code, recorded) in [
        ("nobody.here", 422, "proxy_no_such_clinician", false),
        (clerk.as_str(), 422, "proxy_oneself", false),
        (trainee.as_str(), 422, "proxy_clinician_not_allowed", true),
        // The surgeon has no care relationship with the patient.
        (surgeon.as_str(), 422, "proxy_clinician_not_allowed", true),
        ("Not An Id!", 400, "bad_on_behalf_of", false),
    ] {
        let before = server.operator().tree_size();
        let refused = on_behalf(named);
        assert_eq!(
            (refused.status, outcome_code(&refused)),
            (status, code.to_owned()),
            "{named}: {}",
            refused.text()
        );
        let after = server.operator().tree_size();
        assert_eq!(after, before + u64::from(recorded), "{named}");
        if recorded {
            let store =
                kiroku_store::Store::open(&server.data().database(), kiroku_app::registry(), 1)
                    .unwrap();
            let (entry, payload) =
                kiroku_store::read::entry(&store, kiroku_core::EntryIndex(before)).unwrap();
            assert_eq!(entry.kind.as_str(), "records.denial/1");
            assert_eq!(payload["action"], "EnterOnBehalf");
        }
    }
    let size = size + 2;
    let registration = as_clerk.fhir(
        "POST",
        "/fhir/Patient",
        &[("x-kiroku-on-behalf-of", doctor)],
        Some(&patient_body(
            "3102",
            ("岩出", "夏子"),
            ("イワデ", "ナツコ"),
            "1951-05-01",
        )),
    );
    assert_eq!(
        (registration.status, outcome_code(&registration)),
        (422, "proxy_not_confirmed".into())
    );
    assert_eq!(server.operator().tree_size(), size, "nothing was written");

    // The clerk may not write the prescription in their own name, nor a system on a doctor's
    // behalf: both refusals are entries.
    let own = as_clerk.fhir("POST", "/fhir/MedicationRequest", &[], Some(&body));
    assert_eq!(
        (own.status, outcome_code(&own)),
        (403, "record_denied".into())
    );
    let by_system = send(
        &server,
        &system,
        "POST",
        "/fhir/MedicationRequest",
        &[("x-kiroku-on-behalf-of", doctor)],
        Some(&body),
    );
    assert_eq!(
        (by_system.status, outcome_code(&by_system)),
        (403, "record_denied".into())
    );
    assert_eq!(server.operator().tree_size(), size + 2);
    let (kind, _, payload) = entry(&server, size + 1);
    assert_eq!(kind, "records.denial/1");
    assert_eq!(payload["action"], "EnterOnBehalf");

    // On the doctor's behalf: the clerk's entry, a draft waiting for the doctor.
    let size = server.operator().tree_size();
    let made = on_behalf(doctor);
    assert_eq!(made.status, 201, "{}", made.text());
    assert_eq!(made.header("x-kiroku-state"), Some("draft"));
    assert_eq!(made.header("x-kiroku-on-behalf-of"), Some(doctor.as_str()));
    let id = made.json()["id"].as_str().unwrap().to_owned();
    let (kind, actor, payload) = entry(&server, size);
    assert_eq!(kind, "records.resource/1");
    assert_eq!(&actor, clerk, "the proxy acts under their own ID");
    assert_eq!(payload["on_behalf_of"], doctor.as_str());
    assert_eq!(payload["state"], "draft");

    // The doctor's queue holds it; the colleague's "mine" does not.
    let as_doctor = Person::sign_in(&server, doctor, PASSWORD);
    let as_colleague = Person::sign_in(&server, colleague, PASSWORD);
    let queue = as_doctor.get("/api/records/pending").json();
    let resource = format!("MedicationRequest/{id}/_history/1");
    assert!(
        queue["mine"]
            .as_array()
            .unwrap()
            .iter()
            .any(|w| w["resource"] == resource.as_str() && w["onBehalfOf"] == doctor.as_str()),
        "{queue}"
    );
    let theirs = as_colleague.get("/api/records/pending").json();
    assert!(!theirs["mine"]
        .as_array()
        .unwrap()
        .iter()
        .any(|w| w["resource"] == resource.as_str()));
    assert!(!theirs["anyone"]
        .as_array()
        .unwrap()
        .iter()
        .any(|w| w["resource"] == resource.as_str()));

    // Only the doctor it was entered for confirms it.
    let confirm = format!("/fhir/MedicationRequest/{id}/_history/1/$confirm");
    let size = server.operator().tree_size();
    let refused = as_colleague.fhir("POST", &confirm, &[], None);
    assert_eq!(
        (refused.status, outcome_code(&refused)),
        (403, "confirm_not_responsible".into())
    );
    let (kind, actor, payload) = entry(&server, size);
    assert_eq!(kind, "records.denial/1");
    assert_eq!(&actor, colleague);
    assert_eq!(
        payload["policies"][0],
        "proxy-entries-confirmed-by-their-clinician"
    );
    let size = server.operator().tree_size();
    let confirmed = as_doctor.fhir("POST", &confirm, &[], None);
    assert_eq!(confirmed.status, 200, "{}", confirmed.text());
    assert_eq!(confirmed.header("x-kiroku-state"), Some("confirmed"));
    let (kind, actor, payload) = entry(&server, size);
    assert_eq!(kind, "records.confirmation/1");
    assert_eq!(&actor, doctor);
    assert_eq!(payload["proxy"], true);
    let queue = as_doctor.get("/api/records/pending").json();
    assert!(!queue["mine"]
        .as_array()
        .unwrap()
        .iter()
        .any(|w| w["resource"] == resource.as_str()));
}

/// The number of disclosure entries in `from..to` of the ledger, and their interactions.
fn disclosures(server: &TestServer, from: u64, to: u64) -> Vec<String> {
    (from..to)
        .map(|i| entry(server, i))
        .filter(|(kind, _, _)| kind == "records.disclosure/1")
        .map(|(_, _, payload)| payload["interaction"].as_str().unwrap().to_owned())
        .collect()
}

// Shows the clinician's pages over HTTP as a browser meets them: the patient found by kana,
// the chart with its sections, a note written (an empty one refused with the form kept),
// confirmed, corrected (without a reason refused, the text kept), the history with the
// difference, the print view and the proof — every page's reads disclosed before it is sent;
// and a clerk, who may read a patient's identity but no record, refused the chart.
#[test]
fn the_clinicians_pages_read_write_and_disclose() {
    let (data, secret, people) = hospital_with(&["doctor@internal-medicine", "medical-clerk"]);
    let (doctor, clerk) = (&people[0], &people[1]);
    let server = TestServer::serve(data);
    let system = token(&server, &secret, None);
    let patient = send(
        &server,
        &system,
        "POST",
        "/fhir/Patient",
        &[],
        Some(&patient_body(
            "4201",
            ("鹿島", "秋子"),
            ("カシマ", "アキコ"),
            "1948-10-10",
        )),
    );
    let patient = patient.json()["id"].as_str().unwrap().to_owned();
    let visit = encounter(
        &server,
        &system,
        &patient,
        "internal-medicine",
        Some(doctor),
    );
    let made = send(
        &server,
        &system,
        "POST",
        "/fhir/Observation",
        &[],
        Some(&format!(
            r#"{{"resourceType":"Observation","status":"final","category":[{{"coding":[{{"system":"http://terminology.hl7.org/CodeSystem/observation-category","code":"laboratory"}}]}}],"code":{{"coding":[{{"system":"http://loinc.org","code":"4548-4"}}],"text":"HbA1c"}},"subject":{{"reference":"Patient/{patient}"}},"effectiveDateTime":"2026-11-20","valueQuantity":{{"value":6.50,"unit":"%"}}}}"#
        )),
    );
    assert_eq!(made.status, 201, "{}", made.text());
    let me = Person::sign_in(&server, doctor, PASSWORD);

    // Search by kana, half width: one disclosure of the search.
    let size = server.operator().tree_size();
    let found = me.get("/patients?name=%EF%BD%B6%EF%BD%BC%EF%BE%8F");
    assert_eq!(found.status, 200, "{}", found.text());
    let html = found.text();
    assert!(
        html.contains("鹿島 秋子") && html.contains(&format!("/patients/{patient}")),
        "{html}"
    );
    assert!(html.contains("1948年10月10日（昭和23年）"), "{html}");
    assert_eq!(
        disclosures(&server, size, server.operator().tree_size()),
        ["search"]
    );

    // The chart: the patient, the encounter, the result as recorded (6.50), one disclosure.
    let size = server.operator().tree_size();
    let chart = me.get(&format!("/patients/{patient}"));
    assert_eq!(chart.status, 200, "{}", chart.text());
    let html = chart.text();
    for part in [
        "patient-banner",
        "timeline",
        "problems",
        "allergies",
        "results",
        "prescriptions",
    ] {
        assert!(html.contains(&format!("id=\"{part}\"")), "{part}");
    }
    assert!(html.contains("HbA1c") && html.contains("6.50 %"), "{html}");
    assert!(html.contains("外来"), "{html}");
    assert_eq!(
        disclosures(&server, size, server.operator().tree_size()),
        ["read"]
    );

    // An empty note is refused; nothing is written and the form comes back.
    let editor = me.get(&format!("/patients/{patient}/notes/new?type=progress"));
    assert_eq!(editor.status, 200);
    assert!(editor.text().contains("id=\"section-3\""));
    let size = server.operator().tree_size();
    let notes = format!("/patients/{patient}/notes");
    let empty = me.form(
        &notes,
        &[
            ("type", "progress"),
            ("encounter", &visit),
            ("s0", " "),
            ("s1", ""),
        ],
    );
    assert_eq!(empty.status, 422, "{}", empty.text());
    assert!(
        empty.text().contains("記録の本文が空です"),
        "{}",
        empty.text()
    );
    let after = server.operator().tree_size();
    assert!(
        (size..after).all(|i| entry(&server, i).0 == "records.disclosure/1"),
        "only the re-shown form's reads were recorded"
    );

    // A too long section is refused with what was typed kept in the form.
    let long = "経".repeat(kiroku_app::records::chart::SECTION_CHARS_MAX + 1);
    let refused = me.form(
        &notes,
        &[("type", "progress"), ("s0", "頭痛が続く"), ("s1", &long)],
    );
    assert_eq!(refused.status, 422);
    assert!(
        refused.text().contains("頭痛が続く"),
        "the text typed is kept"
    );

    // A progress note: a draft, shown with its confirm button.
    let saved = me.form(
        &notes,
        &[
            ("type", "progress"),
            ("encounter", &visit),
            ("s0", "朝の頭痛が続く"),
            ("s1", "血圧 142/88"),
            ("s2", "高血圧症"),
            ("s3", "降圧薬を継続"),
        ],
    );
    assert_eq!(saved.status, 303, "{}", saved.text());
    let location = saved.header("location").unwrap().to_owned();
    let id = location
        .trim_start_matches("/records/DocumentReference/")
        .split('?')
        .next()
        .unwrap()
        .to_owned();
    let record = me.get(&location);
    assert_eq!(record.status, 200);
    let html = record.text();
    assert!(
        html.contains("【S】") && html.contains("朝の頭痛が続く"),
        "{html}"
    );
    assert!(html.contains("id=\"confirm-button\""), "{html}");

    // Confirmed.
    let confirmed = me.form(
        &format!("/records/DocumentReference/{id}/_history/1/confirm"),
        &[],
    );
    assert_eq!(confirmed.status, 303, "{}", confirmed.text());
    let html = me.get(&format!("/records/DocumentReference/{id}")).text();
    assert!(
        html.contains("確定済み") && !html.contains("id=\"confirm-button\""),
        "{html}"
    );

    // Corrected: the editor holds the note's sections; without a reason it is refused with
    // the text kept; with one it is version 2, a draft again.
    let edit = me.get(&format!("/records/DocumentReference/{id}/edit"));
    assert_eq!(edit.status, 200);
    assert!(edit.text().contains("降圧薬を継続") && edit.text().contains("id=\"note-reason\""));
    let path = format!("/records/DocumentReference/{id}/edit");
    let correction = [
        ("type", "progress"),
        ("encounter", visit.as_str()),
        ("version", "1"),
        ("s0", "朝の頭痛が続く"),
        ("s1", "血圧 148/90"),
        ("s2", "高血圧症"),
        ("s3", "降圧薬を増量"),
    ];
    let size = server.operator().tree_size();
    let refused = me.form(&path, &correction);
    assert_eq!(refused.status, 422, "{}", refused.text());
    assert!(
        refused.text().contains("降圧薬を増量"),
        "the text typed is kept"
    );
    assert!(
        disclosures(&server, size, server.operator().tree_size()).len()
            == (server.operator().tree_size() - size) as usize
    );
    let mut with_reason = correction.to_vec();
    with_reason.push(("reason", "血圧の転記誤り"));
    let corrected = me.form(&path, &with_reason);
    assert_eq!(corrected.status, 303, "{}", corrected.text());
    assert!(corrected.header("location").unwrap().contains("saved=2"));

    // The history: both versions, the reason, and the difference.
    let size = server.operator().tree_size();
    let history = me.get(&format!("/records/DocumentReference/{id}/history"));
    assert_eq!(history.status, 200);
    let html = history.text();
    assert!(html.contains("id=\"version-2\"") && html.contains("id=\"version-1\""));
    assert!(html.contains("血圧の転記誤り"), "{html}");
    assert!(
        html.contains("<del>- 血圧 142/88</del>") && html.contains("<ins>+ 血圧 148/90</ins>"),
        "{html}"
    );
    assert!(
        disclosures(&server, size, server.operator().tree_size()).contains(&"history".to_owned())
    );

    // The print view of version 1: the hospital, the patient, who entered and confirmed it,
    // the version and its ledger entry; disclosed as a print.
    let size = server.operator().tree_size();
    let print = me.get(&format!("/records/DocumentReference/{id}/_history/1/print"));
    assert_eq!(print.status, 200, "{}", print.text());
    let html = print.text();
    assert!(html.contains("大崎市民病院") && html.contains("鹿島 秋子") && html.contains("4201"));
    assert!(
        html.contains("血圧 142/88") && html.contains("過去の版"),
        "{html}"
    );
    assert!(
        html.contains("確定者") && html.contains(doctor.as_str()),
        "{html}"
    );
    assert!(html.contains("台帳の記録番号 #"), "{html}");
    assert_eq!(
        disclosures(&server, size, server.operator().tree_size()),
        ["print"]
    );

    // The proof, checked on the page.
    let proof = me.get(&format!("/records/DocumentReference/{id}/_history/2/proof"));
    assert_eq!(proof.status, 200);
    let html = proof.text();
    assert!(html.contains("id=\"proof-verdict\" class=\"ok\""), "{html}");
    assert!(!html.contains("✗"), "{html}");

    // The queue lists the corrected draft for its author.
    let queue = me.get("/queue");
    assert!(
        queue.text().contains(&format!("DocumentReference/{id}/2")),
        "{}",
        queue.text()
    );

    // A clerk finds the patient but may not open the chart: refused, and recorded.
    let as_clerk = Person::sign_in(&server, clerk, PASSWORD);
    let found = as_clerk.get("/patients?number=4201");
    assert!(found.text().contains("鹿島 秋子"), "{}", found.text());
    let size = server.operator().tree_size();
    let refused = as_clerk.get(&format!("/patients/{patient}"));
    assert_eq!(refused.status, 403);
    assert!(
        refused.text().contains("record_denied"),
        "{}",
        refused.text()
    );
    assert_eq!(entry(&server, size).0, "records.denial/1");
    assert_eq!(server.operator().tree_size(), size + 1);
}
