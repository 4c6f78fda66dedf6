//! The FHIR API end to end, through a running server with a departmental system's OAuth token:
//! a resource reads back byte for byte as it was sent (with the server's id and meta); updates
//! are versions, `If-Match` refuses a lost update with 412, and a correction of a confirmed
//! version needs a reason; vread and history return every version; search finds patients by
//! identifier, by name in kanji, kana, hiragana or half width, by birth date and sex, and
//! clinical resources by patient in date order with keyed paging; conditional create finds the
//! patient who holds an identifier. Every answer with patient data is a disclosure entry, and
//! every refusal by the policy is an entry too. Errors are OperationOutcomes that write nothing.

use crate::clients::{hospital_with_client, token};
use kiroku_testkit::records::send;
use kiroku_testkit::{Reply, TestServer};

const HOSPITAL_ID: &str = "urn:oid:1.2.392.100495.20.3.51.11318814790";

/// The catalogue code of an OperationOutcome.
fn outcome_code(reply: &Reply) -> String {
    let body = reply.json();
    assert_eq!(body["resourceType"], "OperationOutcome", "{}", reply.text());
    body["issue"][0]["details"]["coding"][0]["code"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

/// Entries `from..to` of the server's ledger: kind, subject id and payload.
fn entries(
    server: &TestServer,
    from: u64,
    to: u64,
) -> Vec<(String, Option<String>, serde_json::Value)> {
    let store =
        kiroku_store::Store::open(&server.data().database(), kiroku_app::registry(), 2).unwrap();
    (from..to)
        .map(|i| {
            let (entry, payload) =
                kiroku_store::read::entry(&store, kiroku_core::EntryIndex(i)).unwrap();
            (entry.kind.to_string(), entry.subject.map(|s| s.id), payload)
        })
        .collect()
}

/// The path of a searchset Bundle's `next` link, if it has one.
fn next_link(bundle: &serde_json::Value) -> Option<String> {
    bundle["link"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["relation"] == "next")
        .map(|l| {
            let url = l["url"].as_str().unwrap();
            url[url.find("/fhir/").unwrap()..].to_owned()
        })
}

pub(crate) fn patient_body(
    number: &str,
    kanji: (&str, &str),
    kana: (&str, &str),
    birth: &str,
) -> String {
    format!(
        r#"{{"resourceType":"Patient","meta":{{"profile":["http://jpfhir.jp/fhir/core/StructureDefinition/JP_Patient"]}},"identifier":[{{"system":"{HOSPITAL_ID}","value":"{number}"}}],"name":[{{"extension":[{{"url":"http://hl7.org/fhir/StructureDefinition/iso21090-EN-representation","valueCode":"IDE"}}],"use":"official","text":"{} {}","family":"{}","given":["{}"]}},{{"extension":[{{"url":"http://hl7.org/fhir/StructureDefinition/iso21090-EN-representation","valueCode":"SYL"}}],"use":"official","text":"{} {}","family":"{}","given":["{}"]}}],"gender":"female","birthDate":"{birth}"}}"#,
        kanji.0, kanji.1, kanji.0, kanji.1, kana.0, kana.1, kana.0, kana.1
    )
}

/// The body of an encounter of `patient` in `department` (an access-context department code),
/// attended, when given, by the account `attending` (named by its staff id).
fn encounter_body(patient: &str, department: &str, attending: Option<&str>) -> String {
    let mut body = serde_json::json!({
        "resourceType": "Encounter",
        "status": "in-progress",
        "class": { "system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "AMB" },
        "serviceType": { "coding": [{ "system": "urn:kiroku:department", "code": department }] },
        "subject": { "reference": format!("Patient/{patient}") },
        "period": { "start": "2026-11-25T09:00:00+09:00" }
    });
    if let Some(account) = attending {
        body["participant"] = serde_json::json!([{
            "individual": { "identifier": { "system": STAFF_IDS, "value": account } }
        }]);
    }
    body.to_string()
}

/// The hospital's namespace of staff ids (JP Core's, for doctors).
const STAFF_IDS: &str = "urn:oid:1.2.392.100495.20.3.41.11318814790";

/// Writes an encounter of `patient` as the system does, and answers its id.
pub(crate) fn encounter(
    server: &TestServer,
    token: &str,
    patient: &str,
    department: &str,
    attending: Option<&str>,
) -> String {
    let made = send(
        server,
        token,
        "POST",
        "/fhir/Encounter",
        &[],
        Some(&encounter_body(patient, department, attending)),
    );
    assert_eq!(made.status, 201, "{}", made.text());
    made.json()["id"].as_str().unwrap().to_owned()
}

/// A patient with a variation selector (葛󠄀), a character outside the BMP (𠮷) and an
/// extension this server does not know, as compact text.
fn unusual_patient() -> String {
    patient_body(
        "00012345",
        ("葛󠄀城", "𠮷子"),
        ("カツラギ", "ヨシコ"),
        "1980-02-29",
    )
    .replace(
        r#""gender""#,
        r#""extension":[{"url":"urn:example:unknown","valueDecimal":6.50}],"gender""#,
    )
}

// Shows the CapabilityStatement: FHIR 4.0.1, the types kept and the JP Core profiles supported.
#[test]
fn the_capability_statement_tells_what_is_supported() {
    let (data, _) = hospital_with_client();
    let server = TestServer::serve(data);
    // The capability statement tells what is supported.
    let metadata = server.get("/fhir/metadata");
    assert_eq!(metadata.status, 200);
    assert_eq!(
        metadata.header("content-type"),
        Some("application/fhir+json; charset=utf-8")
    );
    let statement = metadata.json();
    assert_eq!(statement["fhirVersion"], "4.0.1");
    assert!(statement["rest"][0]["resource"]
        .as_array()
        .unwrap()
        .iter()
        .any(|r| r["type"] == "Observation"));
    let medication_request = statement["rest"][0]["resource"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["type"] == "MedicationRequest")
        .unwrap()
        .clone();
    assert!(medication_request["supportedProfile"]
        .as_array()
        .unwrap()
        .contains(&serde_json::json!(
            "http://jpfhir.jp/fhir/core/StructureDefinition/JP_MedicationRequest"
        )));
}

// Shows a create and a read through the API with a system client's token: the resource reads
// back byte for byte as sent, the read is disclosed before it is answered, and bad bodies,
// unknown types, missing resources and versions beyond the ledger are refused with an
// OperationOutcome, writing nothing.
#[test]
fn a_resource_reads_back_as_sent_and_bad_input_is_refused() {
    let (data, secret) = hospital_with_client();
    let server = TestServer::serve(data);
    let token = token(&server, &secret, None);

    // A patient with a variation selector (葛󠄀), a character outside the BMP (𠮷) and an
    // extension this server does not know, as compact text.
    let sent = unusual_patient();
    let before = server.operator().tree_size();
    let created = send(&server, &token, "POST", "/fhir/Patient", &[], Some(&sent));
    assert_eq!(created.status, 201, "{}", created.text());
    assert_eq!(created.header("etag"), Some("W/\"1\""));
    let body = created.json();
    let id = body["id"].as_str().unwrap().to_owned();
    let location = created.header("location").unwrap();
    assert!(
        location.ends_with(&format!("/fhir/Patient/{id}/_history/1")),
        "{location}"
    );
    assert_eq!(
        server.operator().tree_size(),
        before + 1,
        "the creation is one entry"
    );

    // Read returns the text as sent, byte for byte, with the server's id and meta put first.
    let read = send(
        &server,
        &token,
        "GET",
        &format!("/fhir/Patient/{id}"),
        &[],
        None,
    );
    assert_eq!(read.status, 200, "{}", read.text());
    let last_updated = read.json()["meta"]["lastUpdated"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(last_updated.ends_with("+09:00"), "{last_updated}");
    let rest = sent
        .strip_prefix(r#"{"resourceType":"Patient","meta":{"#)
        .unwrap();
    let expected = format!(
        r#"{{"resourceType":"Patient","id":"{id}","meta":{{"versionId":"1","lastUpdated":"{last_updated}",{rest}"#
    );
    assert_eq!(read.text(), expected);
    assert!(read.text().contains("6.50") && read.text().contains("葛󠄀城"));
    // Patients' data is kept out of every cache.
    assert_eq!(read.header("cache-control"), Some("no-store"));
    // The read was recorded before it was answered: one disclosure entry about the patient.
    let size = server.operator().tree_size();
    let (kind, subject, payload) = entries(&server, size - 1, size).remove(0);
    assert_eq!(kind, "records.disclosure/1");
    assert_eq!(subject.as_deref(), Some(id.as_str()));
    assert_eq!(payload["interaction"], "read");
    assert_eq!(payload["resources"][0], format!("Patient/{id}/_history/1"));

    // Bad bodies are refused with an OperationOutcome, and nothing is written.
    let size = server.operator().tree_size();
    for (body, code, status) in [
        (
            r#"{"resourceType":"Patient","gender":"male","gender":"female"}"#,
            "resource_duplicate_name",
            400,
        ),
        (r#"{"resourceType":"Patient""#, "resource_not_json", 400),
        (
            r#"{"resourceType":"Observation","status":"final"}"#,
            "resource_wrong_type",
            400,
        ),
        (r#"["Patient"]"#, "resource_not_object", 400),
    ] {
        let refused = send(&server, &token, "POST", "/fhir/Patient", &[], Some(body));
        assert_eq!(
            (refused.status, outcome_code(&refused)),
            (status, code.to_owned()),
            "{body}"
        );
        assert_eq!(
            refused.header("content-type"),
            Some("application/fhir+json; charset=utf-8")
        );
    }
    let english = send(
        &server,
        &token,
        "POST",
        "/fhir/Patient",
        &[("accept-language", "en")],
        Some("{"),
    );
    assert!(english.json()["issue"][0]["details"]["text"]
        .as_str()
        .unwrap()
        .starts_with("The body is not valid JSON"));
    let no_patient = send(
        &server,
        &token,
        "POST",
        "/fhir/Observation",
        &[],
        Some(r#"{"resourceType":"Observation","status":"final","code":{"text":"体温"}}"#),
    );
    assert_eq!(
        (no_patient.status, outcome_code(&no_patient)),
        (422, "record_no_patient".into())
    );
    let unknown = send(&server, &token, "GET", "/fhir/Account/x", &[], None);
    assert_eq!(
        (unknown.status, outcome_code(&unknown)),
        (404, "no_such_resource_type".into())
    );
    let missing = send(&server, &token, "GET", "/fhir/Patient/nobody", &[], None);
    assert_eq!(
        (missing.status, outcome_code(&missing)),
        (404, "no_such_resource".into())
    );
    assert_eq!(
        server.operator().tree_size(),
        size,
        "refusals write nothing"
    );

    // Versions beyond what the ledger can hold name no version (they overflowed).
    for version in ["18446744073709551615", "9223372036854775808", "0"] {
        let beyond = send(
            &server,
            &token,
            "GET",
            &format!("/fhir/Patient/{id}/_history/{version}"),
            &[],
            None,
        );
        assert_eq!(
            (beyond.status, outcome_code(&beyond)),
            (404, "no_such_resource".into()),
            "{version}"
        );
    }
    let paged = send(
        &server,
        &token,
        "GET",
        &format!("/fhir/Patient/{id}/_history?_page=18446744073709551615"),
        &[],
        None,
    );
    assert_eq!(paged.status, 400, "{}", paged.text());
}

// Shows a registration corrected (a reason needed, If-Match guarding against a lost update),
// every version kept (vread, history newest first), conditional create finding the holder of
// an identifier, and search by identifier, name in every script, birth date, sex, patient and
// code, each search disclosed with the patients it returned.
#[test]
fn updates_keep_every_version_and_searches_find_them() {
    let (data, secret) = hospital_with_client();
    let server = TestServer::serve(data);
    let token = token(&server, &secret, None);

    let sent = unusual_patient();
    let created = send(&server, &token, "POST", "/fhir/Patient", &[], Some(&sent));
    assert_eq!(created.status, 201, "{}", created.text());
    let id = created.json()["id"].as_str().unwrap().to_owned();

    // Updates: a correction of the confirmed registration needs a reason; If-Match guards
    // against a lost update.
    let corrected = sent.replace("1980-02-29", "1980-03-01");
    let path = format!("/fhir/Patient/{id}");
    let no_reason = send(
        &server,
        &token,
        "PUT",
        &path,
        &[("if-match", "W/\"1\"")],
        Some(&corrected),
    );
    assert_eq!(
        (no_reason.status, outcome_code(&no_reason)),
        (422, "record_reason_required".into())
    );
    let reason =
        "%E7%94%9F%E5%B9%B4%E6%9C%88%E6%97%A5%E3%81%AE%E8%A8%98%E8%BC%89%E8%AA%A4%E3%82%8A"; // 生年月日の記載誤り
    let updated = send(
        &server,
        &token,
        "PUT",
        &path,
        &[("if-match", "W/\"1\""), ("x-kiroku-reason", reason)],
        Some(&corrected),
    );
    assert_eq!(updated.status, 200, "{}", updated.text());
    assert_eq!(updated.header("etag"), Some("W/\"2\""));
    assert_eq!(updated.json()["birthDate"], "1980-03-01");
    let lost = send(
        &server,
        &token,
        "PUT",
        &path,
        &[("if-match", "W/\"1\""), ("x-kiroku-reason", reason)],
        Some(&sent),
    );
    assert_eq!(
        (lost.status, outcome_code(&lost)),
        (412, "version_mismatch".into())
    );
    let minimal = send(
        &server,
        &token,
        "PUT",
        &path,
        &[
            ("if-match", "W/\"2\""),
            ("x-kiroku-reason", reason),
            ("prefer", "return=minimal"),
        ],
        Some(&corrected),
    );
    assert_eq!((minimal.status, minimal.body.len()), (200, 0));
    assert_eq!(minimal.header("etag"), Some("W/\"3\""));

    // vread and history: every version stays, newest first.
    let first = send(
        &server,
        &token,
        "GET",
        &format!("{path}/_history/1"),
        &[],
        None,
    );
    assert_eq!(first.json()["birthDate"], "1980-02-29");
    assert_eq!(first.json()["meta"]["versionId"], "1");
    let history = send(
        &server,
        &token,
        "GET",
        &format!("{path}/_history"),
        &[],
        None,
    );
    assert_eq!(history.status, 200, "{}", history.text());
    let history = history.json();
    assert_eq!(history["type"], "history");
    let versions: Vec<&str> = history["entry"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["resource"]["meta"]["versionId"].as_str().unwrap())
        .collect();
    assert_eq!(versions, ["3", "2", "1"]);

    // Conditional create: the patient holding the identifier is returned, nothing is made.
    let size = server.operator().tree_size();
    let again = send(
        &server,
        &token,
        "POST",
        "/fhir/Patient",
        &[(
            "if-none-exist",
            &format!("identifier={HOSPITAL_ID}|00012345"),
        )],
        Some(&sent),
    );
    assert_eq!(again.status, 200, "{}", again.text());
    assert_eq!(again.json()["id"], id.as_str());
    assert_eq!(
        server.operator().tree_size(),
        size + 1,
        "only the disclosure of the match"
    );
    let taken = send(&server, &token, "POST", "/fhir/Patient", &[], Some(&sent));
    assert_eq!(
        (taken.status, outcome_code(&taken)),
        (409, "identifier_taken".into())
    );

    // Search: a second patient, then patients by identifier, name in every script, birth date
    // and sex.
    let other = patient_body(
        "00067890",
        ("山田", "花子"),
        ("ヤマダ", "ハナコ"),
        "1955-07-01",
    );
    let other = send(&server, &token, "POST", "/fhir/Patient", &[], Some(&other));
    assert_eq!(other.status, 201, "{}", other.text());
    let other_id = other.json()["id"].as_str().unwrap().to_owned();
    let found = |query: &str| -> Vec<String> {
        let reply = send(
            &server,
            &token,
            "GET",
            &format!("/fhir/Patient?{query}"),
            &[],
            None,
        );
        assert_eq!(reply.status, 200, "{query}: {}", reply.text());
        let bundle = reply.json();
        assert_eq!(bundle["type"], "searchset");
        bundle["entry"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["resource"]["id"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(
        found(&format!("identifier={HOSPITAL_ID}%7C00067890")),
        [other_id.as_str()]
    );
    assert_eq!(found("identifier=00012345"), [id.as_str()]);
    for name in [
        "山田",
        "山田花子",
        "やまだ",
        "ﾔﾏﾀﾞ",
        "ヤマダ　ハナコ",
        "ハナ",
    ] {
        assert_eq!(
            found(&format!("name={name}")),
            [other_id.as_str()],
            "{name}"
        );
    }
    assert_eq!(
        found("name=葛城"),
        [id.as_str()],
        "found without the variation selector"
    );
    assert_eq!(found("birthdate=1955-07-01"), [other_id.as_str()]);
    assert_eq!(found("gender=female&name=カツラギ"), [id.as_str()]);
    assert!(found("name=タナカ").is_empty());
    let unknown = send(
        &server,
        &token,
        "GET",
        "/fhir/Patient?colour=blue",
        &[],
        None,
    );
    assert_eq!(
        (unknown.status, outcome_code(&unknown)),
        (400, "search_unknown_parameter".into())
    );
    // A search is recorded with the patients it returned.
    let size = server.operator().tree_size();
    found("name=やまだ");
    let (kind, _, payload) = entries(&server, size, size + 1).remove(0);
    assert_eq!(kind, "records.disclosure/1");
    assert_eq!(payload["interaction"], "search");
    assert_eq!(payload["patients"], serde_json::json!([other_id]));

    // Observations by patient in date order, one to a page, the patient included.
    for (day, value) in [
        ("2026-11-01", "36.50"),
        ("2026-11-03", "37.20"),
        ("2026-11-02", "36.80"),
    ] {
        let observation = format!(
            r#"{{"resourceType":"Observation","status":"final","category":[{{"coding":[{{"system":"http://terminology.hl7.org/CodeSystem/observation-category","code":"vital-signs"}}]}}],"code":{{"coding":[{{"system":"http://loinc.org","code":"8310-5"}}],"text":"体温"}},"subject":{{"reference":"Patient/{other_id}"}},"effectiveDateTime":"{day}T09:00:00+09:00","valueQuantity":{{"value":{value},"unit":"℃","system":"http://unitsofmeasure.org","code":"Cel"}}}}"#
        );
        let made = send(
            &server,
            &token,
            "POST",
            "/fhir/Observation",
            &[],
            Some(&observation),
        );
        assert_eq!(made.status, 201, "{}", made.text());
    }
    let mut days = Vec::new();
    let mut next = Some(format!("/fhir/Observation?patient=Patient/{other_id}&_sort=-date&_count=1&_include=Observation:patient"));
    while let Some(path) = next.take() {
        let reply = send(&server, &token, "GET", &path, &[], None);
        assert_eq!(reply.status, 200, "{}", reply.text());
        let bundle = reply.json();
        let entries = bundle["entry"].as_array().unwrap();
        for entry in entries {
            match entry["search"]["mode"].as_str().unwrap() {
                "match" => days.push(
                    entry["resource"]["effectiveDateTime"].as_str().unwrap()[..10].to_owned(),
                ),
                "include" => assert_eq!(entry["resource"]["id"], other_id.as_str()),
                other => panic!("{other}"),
            }
        }
        next = next_link(&bundle);
    }
    assert_eq!(days, ["2026-11-03", "2026-11-02", "2026-11-01"]);
    let coded = send(
        &server,
        &token,
        "GET",
        &format!(
            "/fhir/Observation?subject={other_id}&code=http://loinc.org%7C8310-5&date=ge2026-11-02"
        ),
        &[],
        None,
    );
    assert_eq!(
        coded.json()["entry"].as_array().unwrap().len(),
        2,
        "{}",
        coded.text()
    );
}

// Shows a name search finding every patient whose name starts with the words searched, each
// once, across pages, and none whose name only begins like it: 60 patients named スズキ (two
// search terms each, more than the search reads at once) and 5 named スズカ.
#[test]
fn a_name_search_finds_every_match_across_pages() {
    let (data, secret) = hospital_with_client();
    let server = TestServer::serve(data);
    let token = token(&server, &secret, None);
    let given = ["イチロウ", "ハナコ", "ジロウ", "サクラ", "タロウ", "ユミ"];
    let mut suzuki = Vec::new();
    let mut suzuka = Vec::new();
    for n in 0..65 {
        let (kanji, kana) = if n < 60 {
            ("鈴木", "スズキ")
        } else {
            ("鈴鹿", "スズカ")
        };
        let body = patient_body(
            &format!("0009{n:04}"),
            (kanji, "某"),
            (kana, given[n % given.len()]),
            "1970-01-01",
        );
        let created = send(&server, &token, "POST", "/fhir/Patient", &[], Some(&body));
        assert_eq!(created.status, 201, "{}", created.text());
        let id = created.json()["id"].as_str().unwrap().to_owned();
        if n < 60 {
            suzuki.push(id)
        } else {
            suzuka.push(id)
        }
    }
    let all_pages =
        |query: &str| every_page(&server, &token, &format!("/fhir/Patient?{query}&_count=25"));
    let sorted = |mut ids: Vec<String>| {
        ids.sort();
        ids
    };
    let (found, pages) = all_pages("name=スズキ");
    assert_eq!(pages, 3);
    assert_eq!(
        sorted(found),
        sorted(suzuki.clone()),
        "each スズキ once, no スズカ"
    );
    let (found, _) = all_pages("name=すずか");
    assert_eq!(sorted(found), sorted(suzuka.clone()));
    let (found, _) = all_pages("name=スズ");
    assert_eq!(sorted(found), sorted([suzuki, suzuka].concat()));
}

// Shows the policy deciding every read and write: a client whose token carries only
// `clinical.read` may not write, and the operator (no clinician) may not read a chart; each
// refusal is a 403 OperationOutcome and an entry naming the action.
#[test]
fn refusals_by_the_policy_are_entries() {
    let (data, secret) = hospital_with_client();
    let server = TestServer::serve(data);
    let writer = token(&server, &secret, None);
    let reader = token(&server, &secret, Some("clinical.read"));
    let made = send(
        &server,
        &writer,
        "POST",
        "/fhir/Patient",
        &[],
        Some(&patient_body(
            "1",
            ("佐藤", "一郎"),
            ("サトウ", "イチロウ"),
            "1990-01-01",
        )),
    );
    assert_eq!(made.status, 201, "{}", made.text());
    let id = made.json()["id"].as_str().unwrap().to_owned();

    let size = server.operator().tree_size();
    let refused = send(
        &server,
        &reader,
        "PUT",
        &format!("/fhir/Patient/{id}"),
        &[("x-kiroku-reason", "typo")],
        Some(&patient_body(
            "1",
            ("佐藤", "一朗"),
            ("サトウ", "イチロウ"),
            "1990-01-01",
        )),
    );
    assert_eq!(
        (refused.status, outcome_code(&refused)),
        (403, "record_denied".into())
    );
    let (kind, subject, payload) = entries(&server, size, size + 1).remove(0);
    assert_eq!(kind, "records.denial/1");
    assert_eq!(subject.as_deref(), Some(id.as_str()));
    assert_eq!(payload["action"], "WriteRecord");
    assert_eq!(
        server.operator().tree_size(),
        size + 1,
        "the refusal alone is written"
    );

    let operator = server.data().token();
    let size = server.operator().tree_size();
    let refused = send(
        &server,
        &operator,
        "GET",
        &format!("/fhir/Patient/{id}"),
        &[],
        None,
    );
    assert_eq!(
        (refused.status, outcome_code(&refused)),
        (403, "record_denied".into())
    );
    let (kind, _, payload) = entries(&server, size, size + 1).remove(0);
    assert_eq!(kind, "records.denial/1");
    assert_eq!(payload["action"], "ReadPatient");
    let searched = send(
        &server,
        &operator,
        "GET",
        "/fhir/Patient?name=サトウ",
        &[],
        None,
    );
    assert_eq!(searched.status, 403);
    let anonymous = server.get(&format!("/fhir/Patient/{id}"));
    assert_eq!(anonymous.status, 401);
    assert_eq!(anonymous.json()["resourceType"], "OperationOutcome");
}

/// The demo hospital with its system client; returns the directory, the client's secret, and a
/// doctor's and a nurse's accounts, whose password is [`PASSWORD`].
fn hospital_with_doctor() -> (kiroku_testkit::DataDir, String, String, String) {
    let (data, secret, mut people) = hospital_with(&["doctor@internal-medicine", "nurse"]);
    let nurse = people.remove(1);
    (data, secret, people.remove(0), nurse)
}

/// The demo hospital with its departmental system's client secret, and an account of each of
/// `job_types` (in that order), whose password is [`PASSWORD`]. A job type may name the
/// department (`doctor@surgery`) and which of its people (`nurse@nursing#1`, the second; the
/// first by default); `role:audit_manager` is the holder of a role.
pub(crate) fn hospital_with(job_types: &[&str]) -> (kiroku_testkit::DataDir, String, Vec<String>) {
    let data = kiroku_testkit::DataDir::hospital();
    let app = data.open();
    let secrets = crate::support::block(kiroku_demo::hospital::seed_hospital(&app)).unwrap();
    let (_, client_secret) =
        crate::support::block(kiroku_demo::hospital::seed_client(&app)).unwrap();
    let accounts = crate::support::block(app.access().accounts(None, 1000)).unwrap();
    let held = crate::support::block(app.access().appointments()).unwrap();
    let people: Vec<String> = job_types
        .iter()
        .map(|spec| {
            if let Some(role) = spec.strip_prefix("role:") {
                return held
                    .iter()
                    .find(|h| h.role.as_str() == role)
                    .unwrap()
                    .account
                    .to_string();
            }
            let (spec, nth) = spec.split_once('#').unwrap_or((spec, "0"));
            let (job, department) = spec.split_once('@').unwrap_or((spec, ""));
            accounts
                .iter()
                .filter(|a| {
                    a.profile.job_type == job
                        && (department.is_empty() || a.profile.department == department)
                })
                .nth(nth.parse().unwrap())
                .unwrap()
                .profile
                .account
                .clone()
        })
        .collect();
    for account in &people {
        let secret = &secrets.iter().find(|(a, _)| a == account).unwrap().1;
        crate::support::block(async {
            let signed = app.access().sign_in(account, secret).await.unwrap();
            app.access()
                .change_password(&signed.token, secret, PASSWORD)
                .await
                .unwrap();
        });
    }
    app.shutdown();
    (data, client_secret, people)
}

pub(crate) const PASSWORD: &str = "Shinryo#Kiroku-2026";

// Shows the e-storage rule of confirmation (確定): a system's observation is a draft; the
// system may not confirm it; the doctor confirms the latest version, once; an older version
// cannot be confirmed; a correction of the confirmed version needs a reason and is a draft
// again; each version says where it stands.
#[test]
fn drafts_are_confirmed_by_a_clinician() {
    let (data, secret, doctor, nurse) = hospital_with_doctor();
    let server = TestServer::serve(data);
    let system = token(&server, &secret, None);
    let patient = send(
        &server,
        &system,
        "POST",
        "/fhir/Patient",
        &[],
        Some(&patient_body(
            "77",
            ("鈴木", "次郎"),
            ("スズキ", "ジロウ"),
            "1966-06-06",
        )),
    );
    assert_eq!(
        patient.header("x-kiroku-state"),
        Some("confirmed"),
        "a registration needs no confirmation"
    );
    let patient = patient.json()["id"].as_str().unwrap().to_owned();
    // The patient is seen in internal medicine, the doctor's department.
    encounter(&server, &system, &patient, "internal-medicine", None);
    let observation = format!(
        r#"{{"resourceType":"Observation","status":"final","category":[{{"coding":[{{"system":"http://terminology.hl7.org/CodeSystem/observation-category","code":"laboratory"}}]}}],"code":{{"text":"HbA1c"}},"subject":{{"reference":"Patient/{patient}"}},"effectiveDateTime":"2026-11-20","valueQuantity":{{"value":6.50,"unit":"%"}}}}"#
    );
    let made = send(
        &server,
        &system,
        "POST",
        "/fhir/Observation",
        &[],
        Some(&observation),
    );
    assert_eq!(made.status, 201, "{}", made.text());
    assert_eq!(made.header("x-kiroku-state"), Some("draft"));
    let id = made.json()["id"].as_str().unwrap().to_owned();
    let confirm = |version: u64| format!("/fhir/Observation/{id}/_history/{version}/$confirm");

    // A system writes drafts; it does not confirm them.
    let size = server.operator().tree_size();
    let refused = send(&server, &system, "POST", &confirm(1), &[], None);
    assert_eq!(
        (refused.status, outcome_code(&refused)),
        (403, "record_denied".into())
    );
    assert_eq!(entries(&server, size, size + 1)[0].0, "records.denial/1");

    // The doctor confirms it, signed in, with the session's CSRF token.
    let cookie = kiroku_testkit::access::web_sign_in(&server, &doctor, PASSWORD);
    let csrf =
        kiroku_testkit::access::form_csrf(&server.get_with("/me", &[("cookie", &cookie)]).text());
    let as_doctor = [("cookie", cookie.as_str()), ("x-csrf-token", csrf.as_str())];
    let no_csrf = server.send("POST", &confirm(1), &[("cookie", &cookie)], None);
    assert_eq!(no_csrf.status, 403);
    let confirmed = server.send("POST", &confirm(1), &as_doctor, None);
    assert_eq!(confirmed.status, 200, "{}", confirmed.text());
    assert_eq!(confirmed.header("x-kiroku-state"), Some("confirmed"));
    assert!(confirmed.text().contains("6.50"));
    let twice = server.send("POST", &confirm(1), &as_doctor, None);
    assert_eq!(
        (twice.status, outcome_code(&twice)),
        (409, "confirm_not_draft".into())
    );
    let read = send(
        &server,
        &system,
        "GET",
        &format!("/fhir/Observation/{id}"),
        &[],
        None,
    );
    assert_eq!(read.header("x-kiroku-state"), Some("confirmed"));

    // A correction needs a reason, and waits for confirmation again; the old version cannot be.
    let corrected = observation.replace("6.50", "6.05");
    let path = format!("/fhir/Observation/{id}");
    let no_reason = send(
        &server,
        &system,
        "PUT",
        &path,
        &[("if-match", "W/\"1\"")],
        Some(&corrected),
    );
    assert_eq!(outcome_code(&no_reason), "record_reason_required");
    let updated = send(
        &server,
        &system,
        "PUT",
        &path,
        &[
            ("if-match", "W/\"1\""),
            ("x-kiroku-reason", "transcription%20error"),
        ],
        Some(&corrected),
    );
    assert_eq!(updated.status, 200, "{}", updated.text());
    assert_eq!(updated.header("x-kiroku-state"), Some("draft"));
    let stale = server.send("POST", &confirm(1), &as_doctor, None);
    assert_eq!(
        (stale.status, outcome_code(&stale)),
        (409, "confirm_not_latest".into())
    );
    let again = server.send("POST", &confirm(2), &as_doctor, None);
    assert_eq!(again.status, 200, "{}", again.text());
    // A nurse may write nursing records, but not overwrite a laboratory result by sending it
    // as vital signs: the version replaced is asked about too.
    let cookie = kiroku_testkit::access::web_sign_in(&server, &nurse, PASSWORD);
    let csrf =
        kiroku_testkit::access::form_csrf(&server.get_with("/me", &[("cookie", &cookie)]).text());
    let as_nurse = [
        ("cookie", cookie.as_str()),
        ("x-csrf-token", csrf.as_str()),
        ("content-type", "application/fhir+json"),
        ("x-kiroku-reason", "typo"),
    ];
    // The ward's nurses care for the patient too.
    encounter(&server, &system, &patient, "nursing", None);
    let disguised = corrected.replace("laboratory", "vital-signs");
    let size = server.operator().tree_size();
    let refused = server.send("PUT", &path, &as_nurse, Some(disguised.as_bytes()));
    assert_eq!(
        (refused.status, outcome_code(&refused)),
        (403, "record_denied".into())
    );
    assert_eq!(server.operator().tree_size(), size + 1, "the refusal alone");

    let first = send(
        &server,
        &system,
        "GET",
        &format!("{path}/_history/1"),
        &[],
        None,
    );
    assert_eq!(first.header("x-kiroku-state"), Some("confirmed"));
    assert!(
        first.text().contains("6.50"),
        "the first version stays as it was"
    );
}

/// Runs `scripts/verify-proof` on a proof, with the verifier key; its exit status and output.
fn verify_outside(server: &TestServer, proof: &[u8], key: &str) -> (bool, String) {
    let file = server.data().scratch_path("proof.json");
    std::fs::write(&file, proof).unwrap();
    let script =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/verify-proof");
    let out = std::process::Command::new(kiroku_testkit::python())
        .arg(script)
        .arg(&file)
        .arg(key)
        .output()
        .unwrap();
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), said)
}

// Shows item 7: a version's proof of authenticity — its entry, the inclusion proof and the
// signed checkpoint — checks with the ledger key alone, by a script outside the server written
// from docs/ledger-format.md; a changed resource, entry or proof does not; a payload moved to
// the blob store is proved with its blob; the proof is a disclosure, and gated like a read.
#[test]
fn proofs_of_authenticity_check_outside_the_server() {
    let (data, secret) = hospital_with_client();
    let server = TestServer::serve(data);
    let token = token(&server, &secret, None);
    let key = server.get("/ledger/key").text().trim().to_owned();
    let made = send(
        &server,
        &token,
        "POST",
        "/fhir/Patient",
        &[],
        Some(&patient_body(
            "77",
            ("𠮷田", "花子"),
            ("ヨシダ", "ハナコ"),
            "1985-04-01",
        )),
    );
    assert_eq!(made.status, 201, "{}", made.text());
    let patient = made.json()["id"].as_str().unwrap().to_owned();
    let observation = format!(
        r#"{{"resourceType":"Observation","status":"final","code":{{"text":"HbA1c"}},"subject":{{"reference":"Patient/{patient}"}},"effectiveDateTime":"2026-11-20","valueQuantity":{{"value":6.50,"unit":"%"}}}}"#
    );
    let made = send(
        &server,
        &token,
        "POST",
        "/fhir/Observation",
        &[],
        Some(&observation),
    );
    assert_eq!(made.status, 201, "{}", made.text());
    let id = made.json()["id"].as_str().unwrap().to_owned();
    let path = format!("/fhir/Observation/{id}/_history/1");
    let read = send(&server, &token, "GET", &path, &[], None);

    let size = server.operator().tree_size();
    let proved = send(&server, &token, "GET", &format!("{path}/$proof"), &[], None);
    assert_eq!(proved.status, 200, "{}", proved.text());
    assert_eq!(
        proved.header("content-type"),
        Some("application/fhir+json; charset=utf-8")
    );
    let (kind, subject, payload) = entries(&server, size, size + 1).remove(0);
    assert_eq!(kind, "records.disclosure/1");
    assert_eq!(subject.as_deref(), Some(patient.as_str()));
    assert_eq!(payload["interaction"], "proof");
    assert_eq!(
        payload["resources"],
        serde_json::json!([format!("Observation/{id}/_history/1")])
    );
    // The resource inside is the version as read, byte for byte.
    let text = proved.text();
    assert!(text.contains(&read.text()), "{text}");
    assert!(text.contains("6.50"));

    // Checked here with the ledger crate…
    let parameters = proved.json();
    let values = |name: &str| -> Vec<serde_json::Value> {
        parameters["parameter"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|p| p["name"] == name)
            .cloned()
            .collect()
    };
    let b64 = |v: &serde_json::Value| {
        use base64::Engine as _;
        base64::engine::general_purpose::STANDARD
            .decode(v["valueBase64Binary"].as_str().unwrap())
            .unwrap()
    };
    let entry = b64(&values("entry")[0]);
    let index: u64 = values("index")[0]["valueString"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    let tree: u64 = values("treeSize")[0]["valueString"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    let hashes: Vec<kiroku_ledger::Hash> = values("hash")
        .iter()
        .map(|h| kiroku_ledger::Hash::from_slice(&b64(h)).unwrap())
        .collect();
    let note = values("checkpoint")[0]["valueString"]
        .as_str()
        .unwrap()
        .to_owned();
    let root = kiroku_ledger::Hash::from_base64(note.lines().nth(2).unwrap()).unwrap();
    assert_eq!(note.lines().nth(1).unwrap(), tree.to_string());
    kiroku_ledger::proof::verify_inclusion(
        &kiroku_ledger::leaf_hash(&entry),
        index,
        tree,
        &hashes,
        &root,
    )
    .unwrap();
    assert!(values("blob").is_empty());

    // …and outside, by the script, with the key alone.
    let (ok, said) = verify_outside(&server, text.as_bytes(), &key);
    assert!(ok, "{said}");
    assert!(
        said.starts_with(&format!(
            "verified: Observation/{id} version 1 (draft) is entry {index}"
        )),
        "{said}"
    );
    // (The proof of another index fails on its root, or — where that index's proof has another
    // length, as the tree's shape decides — on the proof's length.)
    for (what, changed, why) in [
        (
            "a changed value",
            text.replace("6.50", "6.60"),
            &["not the content"][..],
        ),
        (
            "a changed version",
            text.replace("\"versionId\":\"1\"", "\"versionId\":\"2\""),
            &["version"][..],
        ),
        (
            "another entry",
            text.replacen(
                &format!("\"valueString\":\"{index}\""),
                &format!("\"valueString\":\"{}\"", index - 1),
                1,
            ),
            &["root", "inclusion proof is too"][..],
        ),
    ] {
        assert_ne!(changed, text, "{what}");
        let (ok, said) = verify_outside(&server, changed.as_bytes(), &key);
        assert!(
            !ok && why.iter().any(|w| said.contains(w)),
            "{what}: {said}"
        );
    }
    let other_key = "other.example/kiroku+2b1c8e5f+AUQKn9uN3mA4yC8qK8fN0XgGkYJv2dC7Wq2sDgN0oZ5P";
    let (ok, said) = verify_outside(&server, text.as_bytes(), other_key);
    assert!(!ok, "{said}");

    // A version too large for an entry is proved with its payload's blob.
    let long = format!(
        r#"{{"resourceType":"Observation","status":"final","code":{{"text":"所見"}},"subject":{{"reference":"Patient/{patient}"}},"effectiveDateTime":"2026-11-21","valueString":"{}"}}"#,
        "所見あり。".repeat(9000)
    );
    let made = send(
        &server,
        &token,
        "POST",
        "/fhir/Observation",
        &[],
        Some(&long),
    );
    assert_eq!(made.status, 201, "{}", made.text());
    let long_id = made.json()["id"].as_str().unwrap().to_owned();
    let proved = send(
        &server,
        &token,
        "GET",
        &format!("/fhir/Observation/{long_id}/_history/1/$proof"),
        &[],
        None,
    );
    assert_eq!(proved.status, 200, "{}", proved.text());
    assert_eq!(
        proved.json()["parameter"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|p| p["name"] == "blob")
            .count(),
        1
    );
    let (ok, said) = verify_outside(&server, proved.text().as_bytes(), &key);
    assert!(ok, "{said}");

    // A version that does not exist, and a caller who may read nothing.
    let missing = send(
        &server,
        &token,
        "GET",
        &format!("/fhir/Observation/{id}/_history/9/$proof"),
        &[],
        None,
    );
    assert_eq!(
        (missing.status, outcome_code(&missing)),
        (404, "no_such_resource".into())
    );
    let operator = server.data().token();
    let size = server.operator().tree_size();
    let refused = send(
        &server,
        &operator,
        "GET",
        &format!("{path}/$proof"),
        &[],
        None,
    );
    assert_eq!(
        (refused.status, outcome_code(&refused)),
        (403, "record_denied".into())
    );
    assert_eq!(entries(&server, size, size + 1)[0].0, "records.denial/1");
    // Nor may it learn which ids exist: a missing one is refused the same way.
    let refused = send(
        &server,
        &operator,
        "GET",
        "/fhir/Observation/nothing-here",
        &[],
        None,
    );
    assert_eq!(
        (refused.status, outcome_code(&refused)),
        (403, "record_denied".into())
    );
}

// Shows item 3's transactions: the entries of a Bundle are written together, with references
// to a `urn:uuid` resolved to the ids the server gave; one entry that fails (a stale ifMatch, a
// method the server does not take, the policy) fails the whole Bundle, names the entry, and
// writes nothing but the refusal; a conditional create finds the patient who holds the
// identifier.
#[test]
fn transactions_are_all_or_nothing() {
    let (data, secret) = hospital_with_client();
    let server = TestServer::serve(data);
    let token = token(&server, &secret, None);
    let uuid = "urn:uuid:0b6f4c2e-9d1a-4c55-8e7b-1f2a3b4c5d6e";
    let patient = patient_body("501", ("山田", "太郎"), ("ヤマダ", "タロウ"), "1970-05-05");
    let observation = |subject: &str, value: &str| {
        format!(
            r#"{{"resourceType":"Observation","status":"final","code":{{"text":"体温"}},"subject":{{"reference":"{subject}"}},"effectiveDateTime":"2026-11-24T09:00:00+09:00","valueQuantity":{{"value":{value},"unit":"Cel"}}}}"#
        )
    };
    let body = format!(
        r#"{{"resourceType":"Bundle","type":"transaction","entry":[
            {{"fullUrl":"{uuid}","resource":{patient},"request":{{"method":"POST","url":"Patient"}}}},
            {{"resource":{},"request":{{"method":"POST","url":"Observation"}}}},
            {{"resource":{},"request":{{"method":"POST","url":"Observation"}}}}]}}"#,
        observation(uuid, "36.50"),
        observation(uuid, "37.20"),
    );
    let size = server.operator().tree_size();
    let done = send(&server, &token, "POST", "/fhir", &[], Some(&body));
    assert_eq!(done.status, 200, "{}", done.text());
    assert_eq!(
        server.operator().tree_size(),
        size + 3,
        "three versions, one request"
    );
    let answer = done.json();
    assert_eq!(answer["type"], "transaction-response");
    let entries = answer["entry"].as_array().unwrap();
    assert_eq!(entries.len(), 3);
    for entry in entries {
        assert_eq!(entry["response"]["status"], "201 Created");
        assert_eq!(entry["response"]["etag"], "W/\"1\"");
    }
    let patient_id = entries[0]["resource"]["id"].as_str().unwrap().to_owned();
    let location = entries[1]["response"]["location"].as_str().unwrap();
    assert!(location.starts_with("Observation/") && location.ends_with("/_history/1"));
    let read = send(
        &server,
        &token,
        "GET",
        &format!("/fhir/{}", &location[..location.len() - 11]),
        &[],
        None,
    );
    assert_eq!(read.status, 200);
    assert_eq!(
        read.json()["subject"]["reference"],
        format!("Patient/{patient_id}")
    );
    assert!(read.text().contains("36.50"));
    let found = send(
        &server,
        &token,
        "GET",
        &format!("/fhir/Observation?patient={patient_id}"),
        &[],
        None,
    );
    assert_eq!(found.json()["entry"].as_array().unwrap().len(), 2);

    // A stale ifMatch in the second entry: nothing of the Bundle is written.
    let observation_id = read.json()["id"].as_str().unwrap().to_owned();
    let other = patient_body("502", ("鈴木", "次郎"), ("スズキ", "ジロウ"), "1971-06-06");
    let body = format!(
        r#"{{"resourceType":"Bundle","type":"transaction","entry":[
            {{"resource":{other},"request":{{"method":"POST","url":"Patient"}}}},
            {{"resource":{},"request":{{"method":"PUT","url":"Observation/{observation_id}","ifMatch":"W/\"9\""}}}}]}}"#,
        observation(&format!("Patient/{patient_id}"), "36.60"),
    );
    let size = server.operator().tree_size();
    let stale = send(
        &server,
        &token,
        "POST",
        "/fhir",
        &[("accept-language", "en")],
        Some(&body),
    );
    assert_eq!(
        (stale.status, outcome_code(&stale)),
        (412, "version_mismatch".into())
    );
    let issue = &stale.json()["issue"][0];
    assert_eq!(issue["expression"][0], "Bundle.entry[1]");
    assert!(
        issue["details"]["text"]
            .as_str()
            .unwrap()
            .starts_with("Bundle entry 2: "),
        "{issue}"
    );
    assert!(issue["diagnostics"]
        .as_str()
        .unwrap()
        .starts_with("Bundle のエントリ 2: "));
    assert_eq!(server.operator().tree_size(), size, "nothing written");
    let nobody = send(
        &server,
        &token,
        "GET",
        &format!("/fhir/Patient?identifier={HOSPITAL_ID}|502"),
        &[],
        None,
    );
    assert_eq!(nobody.json()["entry"].as_array().map_or(0, Vec::len), 0);
    let size = server.operator().tree_size(); // the search's disclosure

    // Refusals of the Bundle itself, each naming the entry at fault and writing nothing.
    for (entries, code, at) in [
        (
            format!(
                r#"{{"resource":{other},"request":{{"method":"POST","url":"Patient"}}}},{{"resource":{other},"request":{{"method":"DELETE","url":"Patient/{patient_id}"}}}}"#
            ),
            "transaction_method",
            Some(1),
        ),
        (
            format!(r#"{{"resource":{other},"request":{{"method":"PUT","url":"Observation/x"}}}}"#),
            "resource_wrong_type",
            Some(0),
        ),
        (
            r#"{"resource":{"resourceType":"Observation","status":"final","code":{"text":"x"}},"request":{"method":"POST","url":"Observation"}}"#.to_string(),
            "record_no_patient",
            Some(0),
        ),
        (String::new(), "transaction_size", None),
    ] {
        let body =
            format!(r#"{{"resourceType":"Bundle","type":"transaction","entry":[{entries}]}}"#);
        let refused = send(&server, &token, "POST", "/fhir", &[], Some(&body));
        assert_eq!(outcome_code(&refused), code, "{}", refused.text());
        assert!(
            refused.status == 400 || refused.status == 422,
            "{}",
            refused.status
        );
        assert_eq!(
            refused.json()["issue"][0]["expression"][0].as_str(),
            at.map(|n| format!("Bundle.entry[{n}]")).as_deref()
        );
        assert_eq!(
            server.operator().tree_size(),
            size,
            "{code}: nothing written"
        );
    }
    let batch = send(
        &server,
        &token,
        "POST",
        "/fhir",
        &[],
        Some(r#"{"resourceType":"Bundle","type":"batch","entry":[]}"#),
    );
    assert_eq!(
        (batch.status, outcome_code(&batch)),
        (400, "transaction_not_transaction".into())
    );

    // The policy refuses one entry: the refusal alone is written.
    let reader = crate::clients::token(&server, &secret, Some("clinical.read"));
    let body = format!(
        r#"{{"resourceType":"Bundle","type":"transaction","entry":[{{"resource":{other},"request":{{"method":"POST","url":"Patient"}}}}]}}"#
    );
    let size = server.operator().tree_size(); // the token's issue
    let refused = send(&server, &reader, "POST", "/fhir", &[], Some(&body));
    assert_eq!(
        (refused.status, outcome_code(&refused)),
        (403, "record_denied".into())
    );
    assert_eq!(server.operator().tree_size(), size + 1);
    assert_eq!(entries_kind(&server, size), "records.denial/1");

    // A conditional create of a patient who exists writes nothing for that entry.
    let body = format!(
        r#"{{"resourceType":"Bundle","type":"transaction","entry":[
            {{"fullUrl":"{uuid}","resource":{patient},"request":{{"method":"POST","url":"Patient","ifNoneExist":"identifier={HOSPITAL_ID}|501"}}}},
            {{"resource":{},"request":{{"method":"POST","url":"Observation"}}}}]}}"#,
        observation(uuid, "36.90"),
    );
    let done = send(
        &server,
        &token,
        "POST",
        "/fhir",
        &[("prefer", "return=minimal")],
        Some(&body),
    );
    assert_eq!(done.status, 200, "{}", done.text());
    let entries = done.json()["entry"].as_array().unwrap().clone();
    assert_eq!(entries[0]["response"]["status"], "200 OK");
    assert_eq!(
        entries[0]["response"]["location"],
        format!("Patient/{patient_id}/_history/1")
    );
    assert!(entries[0].get("resource").is_none());
    assert_eq!(entries[1]["response"]["status"], "201 Created");
    let found = send(
        &server,
        &token,
        "GET",
        &format!("/fhir/Observation?patient={patient_id}"),
        &[],
        None,
    );
    assert_eq!(found.json()["entry"].as_array().unwrap().len(), 3);
}

fn entries_kind(server: &TestServer, at: u64) -> String {
    entries(server, at, at + 1).remove(0).0
}

/// Runs a Python check from `tests/python` with `args`; its exit status and output.
fn python_check(script: &str, args: &[&str]) -> (bool, String) {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/python")
        .join(script);
    let out = std::process::Command::new(kiroku_testkit::python())
        .arg(path)
        .args(args)
        .output()
        .unwrap();
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), said)
}

// Shows the API used by clients we did not write: `fhirclient` creates, reads, searches with
// paging, updates with If-Match (a stale one refused) and posts a transaction, and
// `fhir.resources` (FHIR R4 models) accepts every response the server sent it.
#[test]
fn clients_we_did_not_write_use_the_api() {
    let (data, secret) = hospital_with_client();
    let server = TestServer::serve(data);
    let token = token(&server, &secret, None);
    let (ok, said) = python_check("fhir_client_check.py", &[&server.url("/fhir"), &token]);
    println!("{said}");
    assert!(ok, "{said}");
    for kind in [
        "Bundle",
        "CapabilityStatement",
        "Observation",
        "OperationOutcome",
        "Parameters",
        "Patient",
        "Provenance",
        "Binary",
    ] {
        assert!(
            said.contains(&format!("{kind} ")),
            "{kind} was checked: {said}"
        );
    }
}

// Shows item 9: the demo's synthetic charts are written through the rules (a transaction per
// patient by the laboratory's system, the older drafts confirmed by a doctor and the last
// weeks' left waiting), are found by the API, and are valid FHIR R4 to `fhir.resources`.
#[test]
fn demo_charts_are_valid_fhir_written_through_the_rules() {
    let (data, secret, doctor, _) = hospital_with_doctor();
    let app = data.open();
    let seeded = crate::support::block(kiroku_demo::charts::seed_records(
        &app,
        (kiroku_demo::hospital::DEMO_CLIENT, &secret),
        Some(&doctor),
        3,
        1,
        11,
        true,
        &mut |_| {},
    ))
    .unwrap();
    app.shutdown();
    assert_eq!(seeded.patients, 3);
    assert!(seeded.resources >= 3 * 10, "{seeded:?}");
    assert!(
        seeded.confirmed > 0 && seeded.confirmed < seeded.resources,
        "{seeded:?}"
    );

    let server = TestServer::serve(data);
    let token = token(&server, &secret, None);
    let found = send(
        &server,
        &token,
        "GET",
        &format!("/fhir/Patient?identifier={HOSPITAL_ID}|00000001"),
        &[],
        None,
    );
    let patient = found.json()["entry"][0]["resource"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let notes = send(
        &server,
        &token,
        "GET",
        &format!("/fhir/DocumentReference?patient={patient}&_count=100"),
        &[],
        None,
    );
    let notes = notes.json()["entry"].as_array().unwrap().clone();
    assert!(!notes.is_empty());
    let results = send(
        &server,
        &token,
        "GET",
        &format!("/fhir/Observation?patient={patient}&_count=100"),
        &[],
        None,
    );
    let results = results.json()["entry"].as_array().unwrap().clone();
    assert!(results.len() >= 7, "vital signs and laboratory results");
    let states: std::collections::BTreeSet<String> = results
        .iter()
        .map(|r| {
            let path = format!(
                "/fhir/Observation/{}",
                r["resource"]["id"].as_str().unwrap()
            );
            let read = send(&server, &token, "GET", &path, &[], None);
            read.header("x-kiroku-state").unwrap().to_owned()
        })
        .collect();
    assert!(states.contains("confirmed"), "{states:?}");

    // The same generator's charts, posted by fhirclient and checked by fhir.resources.
    let today = kiroku_core::Date::parse("2026-11-25").unwrap();
    let files: Vec<String> = (101..104)
        .map(|n| {
            let chart = kiroku_demo::charts::chart(
                &mut kiroku_demo::charts::Rng::new(n),
                n,
                today,
                true,
                Some("yamada.taro1"),
            );
            let file = server.data().scratch_path(&format!("chart-{n}.json"));
            std::fs::write(&file, chart.to_string()).unwrap();
            file.display().to_string()
        })
        .collect();
    let mut args = vec![server.url("/fhir"), token.clone()];
    args.extend(files);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let (ok, said) = python_check("fhir_client_check.py", &args);
    assert!(ok, "{said}");
    for kind in [
        "Encounter",
        "Condition",
        "MedicationRequest",
        "DocumentReference",
    ] {
        assert!(
            said.contains(&format!("{kind} ")),
            "{kind} was checked: {said}"
        );
    }
}

// Shows what the validator refuses, through the API: a create, an update and a transaction entry
// that break FHIR R4 or the JP Core profile they claim get 400 with one issue per problem, each
// naming where it is, in Japanese by default and in English on request; nothing is written.
#[test]
fn resources_are_checked_against_fhir_and_jp_core() {
    let (data, secret) = hospital_with_client();
    let server = TestServer::serve(data);
    let token = token(&server, &secret, None);
    let good = patient_body(
        "00077001",
        ("大崎", "花子"),
        ("オオサキ", "ハナコ"),
        "1961-04-02",
    );
    let size = server.operator().tree_size();
    let broken = good
        .replace(
            &format!(r#""identifier":[{{"system":"{HOSPITAL_ID}","value":"00077001"}}],"#),
            "",
        )
        .replace(
            r#""gender":"female""#,
            r#""gender":"F","kanaName":"オオサキ""#,
        );
    let refused = send(&server, &token, "POST", "/fhir/Patient", &[], Some(&broken));
    assert_eq!(
        (refused.status, outcome_code(&refused)),
        (400, "resource_invalid".into()),
        "{}",
        refused.text()
    );
    let issues = refused.json()["issue"].as_array().unwrap().clone();
    let found: Vec<(String, String)> = issues[1..]
        .iter()
        .map(|i| {
            (
                i["expression"][0].as_str().unwrap().to_owned(),
                i["details"]["coding"][0]["code"]
                    .as_str()
                    .unwrap()
                    .to_owned(),
            )
        })
        .collect();
    assert_eq!(
        found,
        vec![
            ("Patient.gender".to_owned(), "fhir_binding".to_owned()),
            (
                "Patient.kanaName".to_owned(),
                "fhir_unknown_element".to_owned()
            ),
            ("Patient.identifier".to_owned(), "fhir_too_few".to_owned()),
        ]
    );
    assert!(
        issues[0]["details"]["text"]
            .as_str()
            .unwrap()
            .contains("問題 3 件、最初は Patient.gender"),
        "{}",
        issues[0]
    );
    assert_eq!(
        issues[3]["details"]["text"],
        "Patient.identifier: 1 個以上必要です。"
    );
    assert_eq!(issues[3]["code"], "required");
    let english = send(
        &server,
        &token,
        "POST",
        "/fhir/Patient",
        &[("accept-language", "en")],
        Some(&broken),
    );
    assert_eq!(
        english.json()["issue"][1]["details"]["text"],
        "Patient.gender: not a code of the value set http://hl7.org/fhir/ValueSet/administrative-gender."
    );
    // The message names places and codes, never what was sent.
    assert!(!refused.text().contains("オオサキ"), "{}", refused.text());
    assert_eq!(server.operator().tree_size(), size, "nothing written");

    // An update that breaks the base structure is refused the same way.
    let created = send(&server, &token, "POST", "/fhir/Patient", &[], Some(&good));
    assert_eq!(created.status, 201, "{}", created.text());
    let id = created.json()["id"].as_str().unwrap().to_owned();
    let size = server.operator().tree_size();
    let bad_date = good.replace("1961-04-02", "1961-02-30");
    let refused = send(
        &server,
        &token,
        "PUT",
        &format!("/fhir/Patient/{id}"),
        &[("x-kiroku-reason", "birth date corrected")],
        Some(&bad_date),
    );
    assert_eq!(
        (refused.status, outcome_code(&refused)),
        (400, "resource_invalid".into())
    );
    assert_eq!(
        refused.json()["issue"][1]["expression"][0],
        "Patient.birthDate"
    );
    assert_eq!(
        refused.json()["issue"][1]["details"]["coding"][0]["code"],
        "fhir_format"
    );
    assert_eq!(server.operator().tree_size(), size, "nothing written");

    // In a transaction, a prescription without its Rp number refuses the whole Bundle, and the
    // issue points into the entry.
    let prescription = format!(
        r#"{{"resourceType":"MedicationRequest","meta":{{"profile":["http://jpfhir.jp/fhir/core/StructureDefinition/JP_MedicationRequest"]}},"identifier":[{{"system":"urn:oid:1.2.392.100495.20.3.82","value":"1"}},{{"system":"urn:oid:1.2.392.100495.20.3.11","value":"R-1"}}],"status":"active","intent":"order","medicationCodeableConcept":{{"text":"試験薬錠"}},"subject":{{"reference":"Patient/{id}"}},"authoredOn":"2026-11-25T10:00:00+09:00"}}"#
    );
    let other = good.replace("00077001", "00077002");
    let bundle = format!(
        r#"{{"resourceType":"Bundle","type":"transaction","entry":[
            {{"resource":{other},"request":{{"method":"POST","url":"Patient"}}}},
            {{"resource":{prescription},"request":{{"method":"POST","url":"MedicationRequest"}}}}]}}"#
    );
    let size = server.operator().tree_size();
    let refused = send(&server, &token, "POST", "/fhir", &[], Some(&bundle));
    assert_eq!(
        (refused.status, outcome_code(&refused)),
        (400, "resource_invalid".into()),
        "{}",
        refused.text()
    );
    let outcome = refused.json();
    assert_eq!(outcome["issue"][0]["expression"][0], "Bundle.entry[1]");
    assert!(outcome["issue"][0]["details"]["text"]
        .as_str()
        .unwrap()
        .starts_with("Bundle のエントリ 2: "));
    assert_eq!(
        outcome["issue"][1]["expression"][0],
        "Bundle.entry[1].resource.identifier"
    );
    assert_eq!(
        outcome["issue"][1]["details"]["coding"][0]["code"],
        "fhir_slice"
    );
    assert_eq!(server.operator().tree_size(), size, "nothing written");
    // With its Rp number, the same Bundle is taken.
    let fixed = bundle.replace(
        r#""identifier":[{"system":"urn:oid:1.2.392.100495.20.3.82""#,
        r#""identifier":[{"system":"urn:oid:1.2.392.100495.20.3.81","value":"1"},{"system":"urn:oid:1.2.392.100495.20.3.82""#,
    );
    let taken = send(&server, &token, "POST", "/fhir", &[], Some(&fixed));
    assert_eq!(taken.status, 200, "{}", taken.text());
}

// Shows the e-storage rule for trainees (研修医): a trainee's version is a draft that waits for
// a supervising doctor's countersignature (and says so); a trainee confirms nothing — neither
// their own version nor a system's draft — and each attempt is a recorded refusal; a doctor's
// confirmation of a trainee's version is recorded as a countersignature, and of anyone else's
// as a plain confirmation.
#[test]
fn trainee_entries_are_countersigned_by_a_doctor() {
    let (data, secret, people) = hospital_with(&[
        "doctor@internal-medicine",
        "trainee-doctor@internal-medicine",
        "lab-technologist@clinical-laboratory",
        "doctor@internal-medicine#1",
    ]);
    let (doctor, trainee, technologist, colleague) =
        (&people[0], &people[1], &people[2], &people[3]);
    let server = TestServer::serve(data);
    let system = token(&server, &secret, None);
    let patient = send(
        &server,
        &system,
        "POST",
        "/fhir/Patient",
        &[],
        Some(&patient_body(
            "91",
            ("岩出", "三郎"),
            ("イワデ", "サブロウ"),
            "1958-08-08",
        )),
    );
    let patient = patient.json()["id"].as_str().unwrap().to_owned();
    // The trainee and the supervising doctor both work in internal medicine.
    encounter(&server, &system, &patient, "internal-medicine", None);
    let observation = format!(
        r#"{{"resourceType":"Observation","status":"final","category":[{{"coding":[{{"system":"http://terminology.hl7.org/CodeSystem/observation-category","code":"exam"}}]}}],"code":{{"text":"腹部所見"}},"subject":{{"reference":"Patient/{patient}"}},"effectiveDateTime":"2026-11-25","valueString":"平坦・軟"}}"#
    );
    let session = |account: &str| {
        let cookie = kiroku_testkit::access::web_sign_in(&server, account, PASSWORD);
        let csrf = kiroku_testkit::access::form_csrf(
            &server.get_with("/me", &[("cookie", &cookie)]).text(),
        );
        (cookie, csrf)
    };
    let (trainee_cookie, trainee_csrf) = session(trainee);
    let as_trainee = [
        ("cookie", trainee_cookie.as_str()),
        ("x-csrf-token", trainee_csrf.as_str()),
        ("content-type", "application/fhir+json"),
    ];
    let written = server.send(
        "POST",
        "/fhir/Observation",
        &as_trainee,
        Some(observation.as_bytes()),
    );
    assert_eq!(written.status, 201, "{}", written.text());
    assert_eq!(written.header("x-kiroku-state"), Some("draft"));
    assert_eq!(
        written.header("x-kiroku-countersignature"),
        Some("required")
    );
    let id = written.json()["id"].as_str().unwrap().to_owned();
    let confirm = |id: &str| format!("/fhir/Observation/{id}/_history/1/$confirm");

    // The trainee may not confirm it: refused, recorded, and still a draft.
    let size = server.operator().tree_size();
    let refused = server.send("POST", &confirm(&id), &as_trainee[..2], None);
    assert_eq!(
        (refused.status, outcome_code(&refused)),
        (403, "confirm_trainee".into())
    );
    assert_eq!(server.operator().tree_size(), size + 1);
    let (kind, subject, payload) = entries(&server, size, size + 1).remove(0);
    assert_eq!(kind, "records.denial/1");
    assert_eq!(subject.as_deref(), Some(patient.as_str()));
    assert_eq!(payload["policies"][0], "trainees-are-countersigned");

    // Nor a system's draft.
    let system_draft = send(
        &server,
        &system,
        "POST",
        "/fhir/Observation",
        &[],
        Some(&observation),
    );
    assert_eq!(system_draft.header("x-kiroku-countersignature"), None);
    let system_id = system_draft.json()["id"].as_str().unwrap().to_owned();
    let refused = server.send("POST", &confirm(&system_id), &as_trainee[..2], None);
    assert_eq!(outcome_code(&refused), "confirm_trainee");

    // A laboratory result the trainee wrote: the technologist may write laboratory results,
    // but only a doctor countersigns a trainee's (issue 18, defect 4) — refused and recorded.
    // (The laboratory's encounter relates the technologist to the patient.)
    encounter(&server, &system, &patient, "clinical-laboratory", None);
    let lab = observation.replace(r#""code":"exam""#, r#""code":"laboratory""#);
    let lab_written = server.send(
        "POST",
        "/fhir/Observation",
        &as_trainee,
        Some(lab.as_bytes()),
    );
    assert_eq!(lab_written.status, 201, "{}", lab_written.text());
    let lab_id = lab_written.json()["id"].as_str().unwrap().to_owned();
    let (technologist_cookie, technologist_csrf) = session(technologist);
    let as_technologist = [
        ("cookie", technologist_cookie.as_str()),
        ("x-csrf-token", technologist_csrf.as_str()),
    ];
    let size = server.operator().tree_size();
    let refused = server.send("POST", &confirm(&lab_id), &as_technologist, None);
    assert_eq!(
        (refused.status, outcome_code(&refused)),
        (403, "confirm_not_doctor".into()),
        "{}",
        refused.text()
    );
    assert_eq!(server.operator().tree_size(), size + 1);
    let (kind, _, payload) = entries(&server, size, size + 1).remove(0);
    assert_eq!(kind, "records.denial/1");
    assert_eq!(payload["policies"][0], "trainees-countersigned-by-doctors");

    // The trainee's assigned supervisor (an access entry) alone countersigns: another doctor
    // of the department is refused, and the attempt kept.
    let assigned = server.operator().put(
        &format!("/api/access/accounts/{trainee}/supervisor"),
        &serde_json::json!({ "supervisor": doctor }),
    );
    assert_eq!(assigned.status, 201, "{}", assigned.text());
    let not_a_trainee = server.operator().put(
        &format!("/api/access/accounts/{colleague}/supervisor"),
        &serde_json::json!({ "supervisor": doctor }),
    );
    assert_eq!(not_a_trainee.status, 400, "{}", not_a_trainee.text());
    let (colleague_cookie, colleague_csrf) = session(colleague);
    let size = server.operator().tree_size();
    let refused = server.send(
        "POST",
        &confirm(&id),
        &[
            ("cookie", colleague_cookie.as_str()),
            ("x-csrf-token", colleague_csrf.as_str()),
        ],
        None,
    );
    assert_eq!(
        (refused.status, outcome_code(&refused)),
        (403, "confirm_not_supervisor".into()),
        "{}",
        refused.text()
    );
    let (kind, _, payload) = entries(&server, size, size + 1).remove(0);
    assert_eq!(kind, "records.denial/1");
    assert_eq!(
        payload["policies"][0],
        "trainees-countersigned-by-their-supervisor"
    );

    // The doctor countersigns the trainee's version, and confirms the system's.
    let (doctor_cookie, doctor_csrf) = session(doctor);
    let as_doctor = [
        ("cookie", doctor_cookie.as_str()),
        ("x-csrf-token", doctor_csrf.as_str()),
    ];
    let size = server.operator().tree_size();
    let countersigned = server.send("POST", &confirm(&id), &as_doctor, None);
    assert_eq!(countersigned.status, 200, "{}", countersigned.text());
    assert_eq!(countersigned.header("x-kiroku-state"), Some("confirmed"));
    assert_eq!(
        countersigned.header("x-kiroku-countersignature"),
        Some("given")
    );
    let (kind, _, payload) = entries(&server, size, size + 1).remove(0);
    assert_eq!(kind, "records.confirmation/1");
    assert_eq!(payload["countersignature"], true);
    let size = server.operator().tree_size();
    let confirmed = server.send("POST", &confirm(&system_id), &as_doctor, None);
    assert_eq!(confirmed.status, 200, "{}", confirmed.text());
    let (kind, _, payload) = entries(&server, size, size + 1).remove(0);
    assert_eq!(kind, "records.confirmation/1");
    assert!(payload.get("countersignature").is_none(), "{payload}");
    let read = send(
        &server,
        &system,
        "GET",
        &format!("/fhir/Observation/{id}"),
        &[],
        None,
    );
    assert_eq!(read.header("x-kiroku-countersignature"), Some("given"));
}

// Shows access by care relationship, end to end: a doctor reads the records of a patient seen
// in their department, and a doctor of another department is refused (an entry, and an answer
// that says how to break the glass); breaking the glass needs a reason, opens the records for a
// limited time, marks every read, and queues the access for review by an audit manager — not by
// the one who opened it, and once. A VIP's chart asks for an encounter or care team of one's
// own; a cancelled encounter relates nobody.
#[test]
fn care_relationships_decide_access_and_the_glass_breaks_with_a_reason() {
    let (data, secret, people) = hospital_with(&[
        "doctor@internal-medicine",
        "doctor@surgery",
        "role:audit_manager",
    ]);
    let (physician, surgeon, auditor) = (&people[0], &people[1], &people[2]);
    let server = TestServer::serve(data);
    let system = token(&server, &secret, None);
    let register = |number: &str, vip: bool| {
        let mut body: serde_json::Value = serde_json::from_str(&patient_body(
            number,
            ("東", "一郎"),
            ("ヒガシ", "イチロウ"),
            "1970-07-07",
        ))
        .unwrap();
        if vip {
            body["meta"]["security"] = serde_json::json!([{
                "system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "CELEB"
            }]);
        }
        let made = send(
            &server,
            &system,
            "POST",
            "/fhir/Patient",
            &[],
            Some(&body.to_string()),
        );
        assert_eq!(made.status, 201, "{}", made.text());
        made.json()["id"].as_str().unwrap().to_owned()
    };
    let observe = |patient: &str| {
        let made = send(
            &server,
            &system,
            "POST",
            "/fhir/Observation",
            &[],
            Some(&format!(
                r#"{{"resourceType":"Observation","status":"final","category":[{{"coding":[{{"system":"http://terminology.hl7.org/CodeSystem/observation-category","code":"laboratory"}}]}}],"code":{{"text":"CRP"}},"subject":{{"reference":"Patient/{patient}"}},"effectiveDateTime":"2026-11-25","valueQuantity":{{"value":0.30,"unit":"mg/dL"}}}}"#
            )),
        );
        assert_eq!(made.status, 201, "{}", made.text());
        format!("/fhir/Observation/{}", made.json()["id"].as_str().unwrap())
    };
    let patient = register("501", false);
    let seen = encounter(&server, &system, &patient, "internal-medicine", None);
    let result = observe(&patient);
    let session = |account: &str| {
        let cookie = kiroku_testkit::access::web_sign_in(&server, account, PASSWORD);
        let csrf = kiroku_testkit::access::form_csrf(
            &server.get_with("/me", &[("cookie", &cookie)]).text(),
        );
        (cookie, csrf)
    };
    let (physician_cookie, physician_csrf) = session(physician);
    let (surgeon_cookie, surgeon_csrf) = session(surgeon);
    let as_physician = [
        ("cookie", physician_cookie.as_str()),
        ("x-csrf-token", physician_csrf.as_str()),
        ("content-type", "application/fhir+json"),
    ];
    let as_surgeon = [
        ("cookie", surgeon_cookie.as_str()),
        ("x-csrf-token", surgeon_csrf.as_str()),
        ("content-type", "application/fhir+json"),
    ];

    // Internal medicine saw the patient: its doctor reads; the surgeon may not.
    let read = server.get_with(&result, &as_physician[..1]);
    assert_eq!(read.status, 200, "{}", read.text());
    assert_eq!(read.header("x-kiroku-access"), None);
    let size = server.operator().tree_size();
    let refused = server.get_with(&result, &as_surgeon[..1]);
    assert_eq!(
        (refused.status, outcome_code(&refused)),
        (403, "record_no_care_relationship".into())
    );
    assert!(
        refused.text().contains("緊急時アクセス"),
        "{}",
        refused.text()
    );
    assert_eq!(server.operator().tree_size(), size + 1);
    let (kind, subject, payload) = entries(&server, size, size + 1).remove(0);
    assert_eq!(kind, "records.denial/1");
    assert_eq!(subject.as_deref(), Some(patient.as_str()));
    assert_eq!(payload["policies"][0], "care-relationship-required");
    // Nor may the surgeon write to the chart.
    let note = server.send(
        "POST",
        "/fhir/Observation",
        &as_surgeon,
        Some(
            format!(r#"{{"resourceType":"Observation","status":"final","code":{{"text":"所見"}},"subject":{{"reference":"Patient/{patient}"}},"valueString":"異常なし"}}"#)
                .as_bytes(),
        ),
    );
    assert_eq!(outcome_code(&note), "record_no_care_relationship");

    // Breaking the glass: a reason is required, and at most an hour; nothing written otherwise.
    let glass = format!("/fhir/Patient/{patient}/$break-the-glass");
    let parameters = |reason: &str, minutes: u32| {
        serde_json::json!({ "resourceType": "Parameters", "parameter": [
            { "name": "reason", "valueString": reason },
            { "name": "minutes", "valueInteger": minutes }
        ]})
        .to_string()
    };
    let size = server.operator().tree_size();
    for (body, code) in [
        (parameters("  ", 30), "emergency_reason"),
        (parameters("救急搬送", 61), "emergency_minutes"),
        ("{}".to_owned(), "invalid_field"),
    ] {
        let bad = server.send("POST", &glass, &as_surgeon, Some(body.as_bytes()));
        assert_eq!((bad.status, outcome_code(&bad)), (400, code.into()));
    }
    assert_eq!(server.operator().tree_size(), size, "nothing was written");
    let not_needed = server.send(
        "POST",
        &glass,
        &as_physician,
        Some(parameters("念のため", 30).as_bytes()),
    );
    assert_eq!(
        (not_needed.status, outcome_code(&not_needed)),
        (409, "emergency_not_needed".into())
    );
    let opened = server.send(
        "POST",
        &glass,
        &as_surgeon,
        Some(parameters("術後の急変で当直医として対応", 30).as_bytes()),
    );
    assert_eq!(opened.status, 200, "{}", opened.text());
    assert_eq!(opened.json()["parameter"][0]["name"], "until");
    let access = server.operator().tree_size() - 1;
    assert_eq!(entries_kind(&server, access), "records.emergency/1");

    // Under it, the surgeon reads, and every read is marked.
    let read = server.get_with(&result, &as_surgeon[..1]);
    assert_eq!(read.status, 200, "{}", read.text());
    assert_eq!(read.header("x-kiroku-access"), Some("emergency"));
    let at = server.operator().tree_size() - 1;
    let (kind, _, payload) = entries(&server, at, at + 1).remove(0);
    assert_eq!(kind, "records.disclosure/1");
    assert_eq!(payload["purpose"], "emergency");

    // The review: only a reviewer sees the queue; an unjustified finding needs a note; once.
    let denied = server.get_with("/api/records/emergencies", &as_surgeon[..1]);
    assert_eq!(denied.status, 403);
    let (auditor_cookie, auditor_csrf) = session(auditor);
    let as_auditor = [
        ("cookie", auditor_cookie.as_str()),
        ("x-csrf-token", auditor_csrf.as_str()),
        ("content-type", "application/json"),
    ];
    let queue = server.get_with("/api/records/emergencies", &as_auditor[..1]);
    assert_eq!(queue.status, 200, "{}", queue.text());
    let waiting = &queue.json()["emergencies"][0];
    assert_eq!(waiting["entry"], access);
    assert_eq!(waiting["account"], surgeon.as_str());
    assert_eq!(waiting["reason"], "術後の急変で当直医として対応");
    let review = format!("/api/records/emergencies/{access}/review");
    let no_note = server.send(
        "POST",
        &review,
        &as_auditor,
        Some(br#"{"finding":"unjustified"}"#),
    );
    assert_eq!(
        (no_note.status, no_note.json()["error"]["code"].clone()),
        (400, "emergency_note".into())
    );
    let reviewed = server.send(
        "POST",
        &review,
        &as_auditor,
        Some(r#"{"finding":"justified","note":"当直記録と一致"}"#.as_bytes()),
    );
    assert_eq!(reviewed.status, 200, "{}", reviewed.text());
    let at = server.operator().tree_size() - 1;
    assert_eq!(entries_kind(&server, at), "records.emergency_review/1");
    let again = server.send(
        "POST",
        &review,
        &as_auditor,
        Some(br#"{"finding":"justified"}"#),
    );
    assert_eq!(
        (again.status, again.json()["error"]["code"].clone()),
        (404, "emergency_not_waiting".into())
    );
    let page = server.get_with("/emergencies", &as_auditor[..1]);
    assert!(page.text().contains("no-emergencies"), "{}", page.text());

    // A VIP seen in internal medicine: the department is not enough; the attending doctor's
    // own encounter is, and so is a care team naming the doctor's practitioner.
    let vip = register("502", true);
    encounter(&server, &system, &vip, "internal-medicine", None);
    let vip_result = observe(&vip);
    let refused = server.get_with(&vip_result, &as_physician[..1]);
    assert_eq!(outcome_code(&refused), "record_no_care_relationship");
    // The department's doctor may break the glass for a VIP: the department did not suffice.
    let vip_glass = server.send(
        "POST",
        &format!("/fhir/Patient/{vip}/$break-the-glass"),
        &as_physician,
        Some(parameters("外来で急変", 15).as_bytes()),
    );
    assert_eq!(vip_glass.status, 200, "{}", vip_glass.text());
    // ... and under that access reads the chart, every read marked (issue 18, defect 3: the
    // department's relationship was found first and the open access never consulted).
    let read = server.get_with(&vip_result, &as_physician[..1]);
    assert_eq!(read.status, 200, "{}", read.text());
    assert_eq!(read.header("x-kiroku-access"), Some("emergency"));
    encounter(&server, &system, &vip, "internal-medicine", Some(physician));
    let read = server.get_with(&vip_result, &as_physician[..1]);
    assert_eq!(read.status, 200, "{}", read.text());
    let refused = server.get_with(&vip_result, &as_surgeon[..1]);
    assert_eq!(refused.status, 403);
    let practitioner = send(
        &server,
        &system,
        "POST",
        "/fhir/Practitioner",
        &[],
        Some(&format!(
            r#"{{"resourceType":"Practitioner","identifier":[{{"system":"{STAFF_IDS}","value":"{surgeon}"}}],"name":[{{"text":"外科 医師"}}]}}"#
        )),
    );
    assert_eq!(practitioner.status, 201, "{}", practitioner.text());
    let practitioner = practitioner.json()["id"].as_str().unwrap().to_owned();
    let team = send(
        &server,
        &system,
        "POST",
        "/fhir/CareTeam",
        &[],
        Some(&format!(
            r#"{{"resourceType":"CareTeam","status":"active","subject":{{"reference":"Patient/{vip}"}},"participant":[{{"member":{{"reference":"Practitioner/{practitioner}"}}}}]}}"#
        )),
    );
    assert_eq!(team.status, 201, "{}", team.text());
    // The Practitioner's identifier is only a claim: until the system administrator binds the
    // practitioner to the surgeon's account, the care team relates nobody (issue 18, defect 1).
    let refused = server.get_with(&vip_result, &as_surgeon[..1]);
    assert_eq!(refused.status, 403, "{}", refused.text());
    let bound = server.operator().post(
        "/api/access/staff-identities",
        &serde_json::json!({ "practitioner": practitioner, "account": surgeon }),
    );
    assert_eq!(bound.status, 201, "{}", bound.text());
    let read = server.get_with(&vip_result, &as_surgeon[..1]);
    assert_eq!(read.status, 200, "{}", read.text());
    assert_eq!(
        read.header("x-kiroku-access"),
        None,
        "a care team, not the glass"
    );

    // An encounter entered in error relates nobody: internal medicine loses the first patient.
    let path = format!("/fhir/Encounter/{seen}");
    let current = send(&server, &system, "GET", &path, &[], None).json();
    let mut corrected = current.clone();
    corrected["status"] = "entered-in-error".into();
    let updated = send(
        &server,
        &system,
        "PUT",
        &path,
        &[
            ("if-match", "W/\"1\""),
            ("x-kiroku-reason", "registered%20in%20error"),
        ],
        Some(&corrected.to_string()),
    );
    assert_eq!(updated.status, 200, "{}", updated.text());
    let refused = server.get_with(&result, &as_physician[..1]);
    assert_eq!(outcome_code(&refused), "record_no_care_relationship");
}

// Shows issue 18's first defect fixed, on whichever backend the pass selects: a string holding
// a control character FHIR forbids (U+0000 and the other C0 controls but tab, LF and CR,
// however escaped, in a value or a member's name) is refused with 422 and nothing written, the
// same on SQLite and PostgreSQL; tab, LF, CR, non-characters, bidi overrides, DEL and C1
// controls are kept and read back as sent; and with 32 clients, one in five sending a NUL, every
// ordinary create is written (201) — none fails for a batch-mate's bad string.
#[test]
fn hostile_text_is_refused_alike_and_never_fails_a_neighbour() {
    let (data, secret) = hospital_with_client();
    let server = TestServer::serve(data);
    let token = token(&server, &secret, None);
    let size = server.operator().tree_size();
    for (family, given) in [
        (r"\u0000", "花子"),
        (r"山\u0001田", "花子"),
        (r"山田", r"\b"),
        (r"山田", r"\f"),
        (r"山田", r"\u001F"),
    ] {
        let body = patient_body(
            "00099999",
            (family, given),
            ("ヤマダ", "ハナコ"),
            "1970-01-01",
        );
        let refused = send(&server, &token, "POST", "/fhir/Patient", &[], Some(&body));
        assert_eq!(
            (refused.status, outcome_code(&refused)),
            (422, "resource_control_character".to_owned()),
            "{family} {given}: {}",
            refused.text()
        );
    }
    let named = r#"{"resourceType":"Patient","\u0000":"x"}"#;
    let refused = send(&server, &token, "POST", "/fhir/Patient", &[], Some(named));
    assert_eq!(refused.status, 422, "{}", refused.text());
    assert_eq!(server.operator().tree_size(), size, "nothing written");

    // What FHIR allows is kept as sent: tab, LF and CR (escaped), DEL, a C1 control,
    // non-characters, bidi overrides and isolates, and a long name.
    let long = "長".repeat(2000);
    for (n, (family, given)) in [
        (r"山\t田", r"花\n子\r"),
        ("山\u{7f}田\u{85}", "\u{fffe}\u{ffff}\u{10ffff}"),
        ("\u{202e}山田\u{202c}", "\u{2066}花子\u{2069}"),
        (long.as_str(), "花子"),
    ]
    .into_iter()
    .enumerate()
    {
        let number = format!("0009999{n}");
        let body = patient_body(&number, (family, given), ("ヤマダ", "ハナコ"), "1970-01-01");
        let created = send(&server, &token, "POST", "/fhir/Patient", &[], Some(&body));
        assert_eq!(created.status, 201, "{}", created.text());
        let id = created.json()["id"].as_str().unwrap().to_owned();
        let read = send(
            &server,
            &token,
            "GET",
            &format!("/fhir/Patient/{id}"),
            &[],
            None,
        );
        assert!(read
            .text()
            .ends_with(&body[body.find(r#""identifier""#).unwrap()..]));
    }

    // 32 clients, 10 creates each; every fifth a NUL.
    let answers: Vec<(bool, u16)> = std::thread::scope(|scope| {
        let threads: Vec<_> = (0..32)
            .map(|client| {
                let (server, token) = (&server, &token);
                scope.spawn(move || {
                    (0..10)
                        .map(|i| {
                            let bad = (client * 10 + i) % 5 == 0;
                            let family = if bad { r"\u0000" } else { "山田" };
                            let body = patient_body(
                                &format!("1{client:03}{i:04}"),
                                (family, "花子"),
                                ("ヤマダ", "ハナコ"),
                                "1980-05-05",
                            );
                            let reply =
                                send(server, token, "POST", "/fhir/Patient", &[], Some(&body));
                            (bad, reply.status)
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        threads
            .into_iter()
            .flat_map(|t| t.join().unwrap())
            .collect()
    });
    let refused = answers.iter().filter(|(bad, _)| *bad).count();
    assert_eq!(refused, 64);
    for (bad, status) in &answers {
        assert_eq!(*status, if *bad { 422 } else { 201 }, "bad string: {bad}");
    }
}

// Shows issue 18's second defect closed: what care relationships and flags are computed from
// is written under actions of its own. A doctor who writes a care team naming themselves for a
// VIP seen by their department is refused (a denial entry) and still cannot read the chart;
// for an ordinary patient of their department the same write needs a reason, and with one it
// is written together with a `records.assignment/1` entry that waits in the review queue. A
// surgeon with no relationship may not end internal medicine's encounter. A clerk who may edit
// registrations may not take a VIP's label off (a denial entry; the label stays); the
// registration system may set it.
#[test]
fn care_assignments_and_flags_are_acts_of_their_own() {
    let (data, secret, people) = hospital_with(&[
        "doctor@internal-medicine",
        "doctor@surgery",
        "medical-clerk",
        "role:audit_manager",
    ]);
    let (physician, surgeon, clerk, auditor) = (&people[0], &people[1], &people[2], &people[3]);
    let server = TestServer::serve(data);
    let system = token(&server, &secret, None);
    let register = |number: &str, vip: bool| {
        let mut body: serde_json::Value = serde_json::from_str(&patient_body(
            number,
            ("南", "次郎"),
            ("ミナミ", "ジロウ"),
            "1966-06-06",
        ))
        .unwrap();
        if vip {
            body["meta"]["security"] = serde_json::json!([{
                "system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "CELEB"
            }]);
        }
        let made = send(
            &server,
            &system,
            "POST",
            "/fhir/Patient",
            &[],
            Some(&body.to_string()),
        );
        assert_eq!(
            made.status,
            201,
            "the registration system sets flags: {}",
            made.text()
        );
        (made.json()["id"].as_str().unwrap().to_owned(), body)
    };
    let (vip, vip_body) = register("601", true);
    let (plain, _) = register("602", false);
    let seen = encounter(&server, &system, &plain, "internal-medicine", None);
    encounter(&server, &system, &vip, "internal-medicine", None);
    let session = |account: &str| {
        let cookie = kiroku_testkit::access::web_sign_in(&server, account, PASSWORD);
        let csrf = kiroku_testkit::access::form_csrf(
            &server.get_with("/me", &[("cookie", &cookie)]).text(),
        );
        (cookie, csrf)
    };
    let (physician_cookie, physician_csrf) = session(physician);
    let as_physician = [
        ("cookie", physician_cookie.as_str()),
        ("x-csrf-token", physician_csrf.as_str()),
        ("content-type", "application/fhir+json"),
    ];
    let team = |patient: &str| {
        format!(
            r#"{{"resourceType":"CareTeam","status":"active","subject":{{"reference":"Patient/{patient}"}},"participant":[{{"member":{{"identifier":{{"system":"{STAFF_IDS}","value":"{physician}"}}}}}}]}}"#
        )
    };
    let reason = ("x-kiroku-reason", "%E5%8F%97%E3%81%91%E6%8C%81%E3%81%A1"); // 受け持ち

    // A VIP: the department does not open the chart, and naming oneself does not either.
    let size = server.operator().tree_size();
    let mut headers = as_physician.to_vec();
    headers.push(reason);
    let refused = server.send(
        "POST",
        "/fhir/CareTeam",
        &headers,
        Some(team(&vip).as_bytes()),
    );
    assert_eq!(refused.status, 403, "{}", refused.text());
    assert_eq!(server.operator().tree_size(), size + 1, "the refusal alone");
    let (kind, subject, payload) = entries(&server, size, size + 1).remove(0);
    assert_eq!(kind, "records.denial/1");
    assert_eq!(subject.as_deref(), Some(vip.as_str()));
    assert_eq!(payload["action"], "AssignCare");
    let chart = format!("/fhir/Patient/{vip}");
    assert_eq!(
        server.get_with(&chart, &as_physician[..1]).status,
        403,
        "not even the registration"
    );
    let vip_result = send(
        &server,
        &system,
        "POST",
        "/fhir/Observation",
        &[],
        Some(&format!(
            r#"{{"resourceType":"Observation","status":"final","code":{{"text":"所見"}},"subject":{{"reference":"Patient/{vip}"}},"valueString":"異常なし"}}"#
        )),
    );
    let vip_result = format!(
        "/fhir/Observation/{}",
        vip_result.json()["id"].as_str().unwrap()
    );
    assert_eq!(server.get_with(&vip_result, &as_physician[..1]).status, 403);

    // An ordinary patient of the department: a reason is required, then it is written and
    // queued for review.
    let size = server.operator().tree_size();
    let no_reason = server.send(
        "POST",
        "/fhir/CareTeam",
        &as_physician,
        Some(team(&plain).as_bytes()),
    );
    assert_eq!(
        (no_reason.status, outcome_code(&no_reason)),
        (422, "assignment_reason_required".into())
    );
    assert_eq!(server.operator().tree_size(), size, "nothing written");
    let assigned = server.send(
        "POST",
        "/fhir/CareTeam",
        &headers,
        Some(team(&plain).as_bytes()),
    );
    assert_eq!(assigned.status, 201, "{}", assigned.text());
    assert_eq!(server.operator().tree_size(), size + 2);
    let written = entries(&server, size, size + 2);
    assert_eq!(written[0].0, "records.resource/1");
    assert_eq!(written[1].0, "records.assignment/1");
    assert_eq!(written[1].2["change"], "care");
    assert_eq!(written[1].2["assigns_self"], true);
    assert_eq!(written[1].2["reason"], "受け持ち");
    let (auditor_cookie, _) = session(auditor);
    let queue = server.get_with(
        "/api/records/emergencies",
        &[("cookie", auditor_cookie.as_str())],
    );
    assert_eq!(queue.status, 200, "{}", queue.text());
    let queued = queue.json()["emergencies"]
        .as_array()
        .unwrap()
        .iter()
        .find(|w| w["entry"] == size + 1)
        .cloned()
        .expect("the assignment waits for review");
    assert_eq!(queued["kind"], "care");
    assert_eq!(queued["account"], physician.as_str());
    assert_eq!(queued["patient"], plain.as_str());

    // The surgeon, who has no relationship with the patient, may not end its encounter.
    let (surgeon_cookie, surgeon_csrf) = session(surgeon);
    let size = server.operator().tree_size();
    let ended = server.send(
        "DELETE",
        &format!("/fhir/Encounter/{seen}"),
        &[
            ("cookie", surgeon_cookie.as_str()),
            ("x-csrf-token", surgeon_csrf.as_str()),
            reason,
        ],
        None,
    );
    assert_eq!(ended.status, 403, "{}", ended.text());
    let (kind, _, payload) = entries(&server, size, size + 1).remove(0);
    assert_eq!(kind, "records.denial/1");
    assert_eq!(payload["action"], "AssignCare");

    // The clerk edits registrations, but does not take a VIP's label off.
    let (clerk_cookie, clerk_csrf) = session(clerk);
    let mut unlabelled = vip_body.clone();
    unlabelled["meta"]
        .as_object_mut()
        .unwrap()
        .remove("security");
    let size = server.operator().tree_size();
    let relabelled = server.send(
        "PUT",
        &chart,
        &[
            ("cookie", clerk_cookie.as_str()),
            ("x-csrf-token", clerk_csrf.as_str()),
            ("content-type", "application/fhir+json"),
            reason,
        ],
        Some(unlabelled.to_string().as_bytes()),
    );
    assert_eq!(relabelled.status, 403, "{}", relabelled.text());
    let (kind, _, payload) = entries(&server, size, size + 1).remove(0);
    assert_eq!(kind, "records.denial/1");
    assert_eq!(payload["action"], "ChangePatientFlags");
    let still = send(&server, &system, "GET", &chart, &[], None);
    assert!(still.text().contains("CELEB"), "{}", still.text());
}

// Shows issue 18's third defect closed (the celebrity breach): a VIP's registration is not
// found by name by those outside the VIP's care. The doctor of the department that saw both
// patients, and a clerk, searching a shared family name get the ordinary patient only: the
// VIP is left out — never named — the answer says that a restricted match exists (an
// OperationOutcome entry and `X-Kiroku-Withheld`), the search is not refused, and the ledger
// holds the disclosure and a denial for what was withheld. The patient search page says so too.
// After breaking the glass, the doctor finds both.
#[test]
fn flagged_patients_are_not_found_by_strangers() {
    let (data, secret, people) = hospital_with(&["doctor@internal-medicine", "medical-clerk"]);
    let (physician, clerk) = (&people[0], &people[1]);
    let server = TestServer::serve(data);
    let system = token(&server, &secret, None);
    let mut ids = Vec::new();
    for (number, given, vip) in [("701", "花子", true), ("702", "花男", false)] {
        let mut body: serde_json::Value = serde_json::from_str(&patient_body(
            number,
            ("北", given),
            ("キタ", "ハナ"),
            "1955-05-05",
        ))
        .unwrap();
        if vip {
            body["meta"]["security"] = serde_json::json!([{
                "system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "CELEB"
            }]);
        }
        let made = send(
            &server,
            &system,
            "POST",
            "/fhir/Patient",
            &[],
            Some(&body.to_string()),
        );
        assert_eq!(made.status, 201, "{}", made.text());
        let id = made.json()["id"].as_str().unwrap().to_owned();
        encounter(&server, &system, &id, "internal-medicine", None);
        ids.push(id);
    }
    let (vip, plain) = (&ids[0], &ids[1]);
    for account in [physician, clerk] {
        let cookie = kiroku_testkit::access::web_sign_in(&server, account, PASSWORD);
        let size = server.operator().tree_size();
        let found = server.get_with(
            "/fhir/Patient?name=%E5%8C%97",
            &[("cookie", cookie.as_str())],
        );
        assert_eq!(found.status, 200, "{account}: {}", found.text());
        assert_eq!(found.header("x-kiroku-withheld"), Some("1"));
        let bundle = found.json();
        let entries = bundle["entry"].as_array().unwrap();
        let matched: Vec<&str> = entries
            .iter()
            .filter(|e| e["search"]["mode"] == "match")
            .map(|e| e["resource"]["id"].as_str().unwrap())
            .collect();
        assert_eq!(matched, [plain.as_str()], "{account}");
        let outcome = entries
            .iter()
            .find(|e| e["search"]["mode"] == "outcome")
            .unwrap();
        assert_eq!(
            outcome["resource"]["issue"][0]["details"]["coding"][0]["code"],
            "search_withheld"
        );
        assert!(!found.text().contains(vip.as_str()) && !found.text().contains("花子"));
        let written = entries_of(&server, size, server.operator().tree_size());
        assert_eq!(
            written,
            ["records.disclosure/1", "records.denial/1"],
            "{account}"
        );
        let page = server.get_with("/patients?name=%E5%8C%97", &[("cookie", cookie.as_str())]);
        assert_eq!(page.status, 200);
        assert!(page.text().contains("id=\"withheld\""), "{account}");
        assert!(!page.text().contains("花子"));
    }

    // The doctor breaks the glass, and finds both.
    let cookie = kiroku_testkit::access::web_sign_in(&server, physician, PASSWORD);
    let csrf =
        kiroku_testkit::access::form_csrf(&server.get_with("/me", &[("cookie", &cookie)]).text());
    let opened = server.send(
        "POST",
        &format!("/fhir/Patient/{vip}/$break-the-glass"),
        &[
            ("cookie", cookie.as_str()),
            ("x-csrf-token", csrf.as_str()),
            ("content-type", "application/fhir+json"),
        ],
        Some(
            serde_json::json!({ "resourceType": "Parameters", "parameter": [
                { "name": "reason", "valueString": "救急外来で本人確認" },
                { "name": "minutes", "valueInteger": 10 }
            ]})
            .to_string()
            .as_bytes(),
        ),
    );
    assert_eq!(opened.status, 200, "{}", opened.text());
    let found = server.get_with(
        "/fhir/Patient?name=%E5%8C%97",
        &[("cookie", cookie.as_str())],
    );
    assert_eq!(found.header("x-kiroku-withheld"), Some("0"));
    assert_eq!(found.json()["entry"].as_array().unwrap().len(), 2);
}

/// The kinds of entries `from..to`.
fn entries_of(server: &TestServer, from: u64, to: u64) -> Vec<String> {
    entries(server, from, to)
        .into_iter()
        .map(|(kind, _, _)| kind)
        .collect()
}

// Shows a stored Provenance read as its targets are (issue 18, defect 9): a Provenance a
// departmental system stores about a patient's observation belongs to that patient, so the
// doctor of the department that saw the patient reads it and a surgeon with no relationship is
// refused (it had no patient, and so no relationship check); a Provenance whose targets belong
// to no patient is refused.
#[test]
fn a_stored_provenance_belongs_to_its_targets_patient() {
    let (data, secret, people) = hospital_with(&["doctor@internal-medicine", "doctor@surgery"]);
    let (physician, surgeon) = (&people[0], &people[1]);
    let server = TestServer::serve(data);
    let system = token(&server, &secret, None);
    let patient = send(
        &server,
        &system,
        "POST",
        "/fhir/Patient",
        &[],
        Some(&patient_body(
            "801",
            ("西", "三郎"),
            ("ニシ", "サブロウ"),
            "1960-06-06",
        )),
    );
    let patient = patient.json()["id"].as_str().unwrap().to_owned();
    encounter(&server, &system, &patient, "internal-medicine", None);
    let observed = send(
        &server,
        &system,
        "POST",
        "/fhir/Observation",
        &[],
        Some(&format!(
            r#"{{"resourceType":"Observation","status":"final","code":{{"text":"所見"}},"subject":{{"reference":"Patient/{patient}"}},"valueString":"異常なし"}}"#
        )),
    );
    let observation = observed.json()["id"].as_str().unwrap().to_owned();
    let provenance = |target: &str| {
        format!(
            r#"{{"resourceType":"Provenance","target":[{{"reference":"{target}"}}],"recorded":"2026-12-07T10:00:00+09:00","agent":[{{"who":{{"display":"検査システム"}}}}]}}"#
        )
    };
    let stored = send(
        &server,
        &system,
        "POST",
        "/fhir/Provenance",
        &[],
        Some(&provenance(&format!(
            "Observation/{observation}/_history/1"
        ))),
    );
    assert_eq!(stored.status, 201, "{}", stored.text());
    let path = format!("/fhir/Provenance/{}", stored.json()["id"].as_str().unwrap());
    let as_person = |account: &str| kiroku_testkit::access::web_sign_in(&server, account, PASSWORD);
    let physician_cookie = as_person(physician);
    let read = server.get_with(&path, &[("cookie", physician_cookie.as_str())]);
    assert_eq!(read.status, 200, "{}", read.text());
    let surgeon_cookie = as_person(surgeon);
    let refused = server.get_with(&path, &[("cookie", surgeon_cookie.as_str())]);
    assert_eq!(
        (refused.status, outcome_code(&refused)),
        (403, "record_no_care_relationship".into())
    );
    let nobody = send(
        &server,
        &system,
        "POST",
        "/fhir/Provenance",
        &[],
        Some(&provenance("Practitioner/x")),
    );
    assert_eq!(
        (nobody.status, outcome_code(&nobody)),
        (422, "record_no_patient".into())
    );
}

// Shows issue 18's defect 12 in part: a token search matching more than a thousand resources —
// a pharmacy's or a laboratory's worklist — is paged through by key instead of refused. 1,010
// observations hold one code (written in transactions); `Observation?code=…` pages through
// all of them, 200 at a time, each once, and the same with the code's system.
#[test]
fn a_token_search_pages_through_any_number_of_matches() {
    let (data, secret) = hospital_with_client();
    let server = TestServer::serve(data);
    let token = token(&server, &secret, None);
    let patient = send(
        &server,
        &token,
        "POST",
        "/fhir/Patient",
        &[],
        Some(&patient_body(
            "901",
            ("東", "多子"),
            ("ヒガシ", "タコ"),
            "1990-09-09",
        )),
    );
    let patient = patient.json()["id"].as_str().unwrap().to_owned();
    let observation = format!(
        r#"{{"resource":{{"resourceType":"Observation","status":"final","code":{{"coding":[{{"system":"urn:example:lab","code":"WL-1"}}]}},"subject":{{"reference":"Patient/{patient}"}},"valueString":"済"}},"request":{{"method":"POST","url":"Observation"}}}}"#
    );
    let mut made = 0;
    while made < 1010 {
        let n = (1010 - made).min(100);
        let entries = vec![observation.as_str(); n].join(",");
        let body =
            format!(r#"{{"resourceType":"Bundle","type":"transaction","entry":[{entries}]}}"#);
        let written = send(&server, &token, "POST", "/fhir", &[], Some(&body));
        assert_eq!(written.status, 200, "{}", written.text());
        made += n;
    }
    for query in ["code=WL-1", "code=urn:example:lab%7CWL-1"] {
        let (ids, pages) = every_page(
            &server,
            &token,
            &format!("/fhir/Observation?{query}&_count=100"),
        );
        assert_eq!(ids.len(), 1010, "{query}");
        let mut unique = ids.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), 1010, "{query}: each once");
        assert!((11..=12).contains(&pages), "{query}: {pages} pages");
    }
}

/// Every id of every page of a search, following its `next` links; and the count of pages.
fn every_page(server: &TestServer, token: &str, first: &str) -> (Vec<String>, usize) {
    let (mut ids, mut pages) = (Vec::new(), 0);
    let mut next = Some(first.to_owned());
    while let Some(path) = next {
        let reply = send(server, token, "GET", &path, &[], None);
        assert_eq!(reply.status, 200, "{path}: {}", reply.text());
        let bundle = reply.json();
        pages += 1;
        for entry in bundle["entry"].as_array().into_iter().flatten() {
            ids.push(entry["resource"]["id"].as_str().unwrap().to_owned());
        }
        next = next_link(&bundle);
    }
    (ids, pages)
}

// Shows that a search by a name a thousand patients share pages through them all by key, each
// once though each has several names that match (family name, full name), where it used to be
// refused past 1,000 matches.
#[test]
fn a_name_search_pages_through_any_number_of_matches() {
    let (data, secret) = hospital_with_client();
    let server = TestServer::serve(data);
    let token = token(&server, &secret, None);
    let given = ["ハナコ", "タロウ", "ユミ", "ジロウ"];
    let mut made = Vec::new();
    while made.len() < 1010 {
        let n = (1010 - made.len()).min(100);
        let entries: Vec<String> = (0..n)
            .map(|k| {
                let number = format!("77{:05}", made.len() + k);
                let body = patient_body(
                    &number,
                    ("大崎", "某"),
                    ("オオサキ", given[k % given.len()]),
                    "1960-04-01",
                );
                format!(r#"{{"resource":{body},"request":{{"method":"POST","url":"Patient"}}}}"#)
            })
            .collect();
        let body = format!(
            r#"{{"resourceType":"Bundle","type":"transaction","entry":[{}]}}"#,
            entries.join(",")
        );
        let written = send(&server, &token, "POST", "/fhir", &[], Some(&body));
        assert_eq!(written.status, 200, "{}", written.text());
        for entry in written.json()["entry"].as_array().unwrap() {
            let location = entry["response"]["location"].as_str().unwrap();
            made.push(location.split('/').nth(1).unwrap().to_owned());
        }
    }
    let (mut found, pages) = every_page(&server, &token, "/fhir/Patient?name=オオサキ&_count=100");
    assert_eq!(found.len(), 1010, "each once");
    found.sort();
    made.sort();
    assert_eq!(found, made);
    assert!((11..=12).contains(&pages), "{pages} pages");
    // A cursor that is not one is refused, not guessed.
    let bad = send(
        &server,
        &token,
        "GET",
        "/fhir/Patient?name=オオサキ&_page=x",
        &[],
        None,
    );
    assert_eq!(
        (bad.status, outcome_code(&bad)),
        (400, "search_bad_value".into())
    );
}

// Shows `_lastUpdated` as a polling system uses it: what was written after the
// `meta.lastUpdated` it last saw, oldest first and paged by key, bounded above as asked; and a
// bound that is not an instant refused.
#[test]
fn a_polling_system_reads_what_changed_since_it_last_asked() {
    let (data, secret) = hospital_with_client();
    let server = TestServer::serve(data);
    let token = token(&server, &secret, None);
    let patient = send(
        &server,
        &token,
        "POST",
        "/fhir/Patient",
        &[],
        Some(&patient_body(
            "8801",
            ("古川", "一"),
            ("フルカワ", "ハジメ"),
            "1980-01-01",
        )),
    );
    let patient = patient.json()["id"].as_str().unwrap().to_owned();
    let mut written = Vec::new();
    for n in 0..5 {
        let body = format!(
            r#"{{"resourceType":"Observation","status":"final","code":{{"coding":[{{"system":"urn:example:lab","code":"P-{n}"}}]}},"subject":{{"reference":"Patient/{patient}"}},"valueString":"{n}"}}"#
        );
        let made = send(
            &server,
            &token,
            "POST",
            "/fhir/Observation",
            &[],
            Some(&body),
        );
        assert_eq!(made.status, 201, "{}", made.text());
        let made = made.json();
        written.push((
            made["id"].as_str().unwrap().to_owned(),
            made["meta"]["lastUpdated"].as_str().unwrap().to_owned(),
        ));
    }
    let enc = |t: &str| t.replace('+', "%2B").replace(':', "%3A");
    // After the second: the other three, oldest first, one a page.
    let since = &written[1].1;
    let (found, pages) = every_page(
        &server,
        &token,
        &format!("/fhir/Observation?_lastUpdated=gt{}&_count=1", enc(since)),
    );
    let expected: Vec<String> = written[2..].iter().map(|(id, _)| id.clone()).collect();
    assert_eq!(found, expected);
    assert!((3..=4).contains(&pages), "{pages} pages");
    // At or after the second and before the fourth: the second and the third.
    let (found, _) = every_page(
        &server,
        &token,
        &format!(
            "/fhir/Observation?_lastUpdated=ge{}&_lastUpdated=lt{}",
            enc(since),
            enc(&written[3].1)
        ),
    );
    assert_eq!(found, vec![written[1].0.clone(), written[2].0.clone()]);
    // With another parameter, still filtered by both.
    let (found, _) = every_page(
        &server,
        &token,
        &format!("/fhir/Observation?code=P-4&_lastUpdated=gt{}", enc(since)),
    );
    assert_eq!(found, vec![written[4].0.clone()]);
    for bad in ["yesterday", "2026-12-08", "eq2026-12-08", "gt2026-13-40"] {
        let reply = send(
            &server,
            &token,
            "GET",
            &format!("/fhir/Observation?_lastUpdated={bad}"),
            &[],
            None,
        );
        assert_eq!(
            (reply.status, outcome_code(&reply)),
            (400, "search_bad_value".into()),
            "{bad}"
        );
    }
}
