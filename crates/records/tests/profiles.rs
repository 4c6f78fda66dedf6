//! Resources written here after the JP Core 1.1.2 profiles (synthetic data), each accepted, and
//! broken variants of them refused with the problem and where it is.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use kiroku_records::validate::{check, What};
use serde_json::{json, Value};

const JP: &str = "http://jpfhir.jp/fhir/core/StructureDefinition/";

fn problems(resource: &Value) -> Vec<(String, What)> {
    let tree = kiroku_records::json::parse(resource.to_string().as_bytes()).unwrap();
    match check(&tree) {
        Ok(()) => Vec::new(),
        Err(invalid) => invalid
            .problems
            .into_iter()
            .map(|p| (p.expression, p.what))
            .collect(),
    }
}

fn patient() -> Value {
    json!({
        "resourceType": "Patient",
        "meta": { "profile": [format!("{JP}JP_Patient")] },
        "identifier": [{ "system": "urn:oid:1.2.392.100495.20.3.51.1049990001", "value": "00001234" }],
        "name": [
            { "extension": [{ "url": "http://hl7.org/fhir/StructureDefinition/iso21090-EN-representation", "valueCode": "IDE" }],
              "use": "official", "text": "大崎 花子", "family": "大崎", "given": ["花子"] },
            { "extension": [{ "url": "http://hl7.org/fhir/StructureDefinition/iso21090-EN-representation", "valueCode": "SYL" }],
              "use": "official", "text": "オオサキ ハナコ", "family": "オオサキ", "given": ["ハナコ"] }
        ],
        "gender": "female",
        "birthDate": "1961-04-02",
        "telecom": [{ "system": "phone", "value": "0229-00-0000", "use": "home" }],
        "address": [{ "text": "宮城県大崎市古川一丁目1-1", "postalCode": "989-6100", "country": "JP" }]
    })
}

fn prescription() -> Value {
    json!({
        "resourceType": "MedicationRequest",
        "meta": { "profile": [format!("{JP}JP_MedicationRequest")] },
        "identifier": [
            { "system": "urn:oid:1.2.392.100495.20.3.81", "value": "1" },
            { "system": "urn:oid:1.2.392.100495.20.3.82", "value": "1" }
        ],
        "status": "active",
        "intent": "order",
        "medicationCodeableConcept": { "coding": [{ "system": "urn:oid:1.2.392.200119.4.403.1", "code": "100000000001", "display": "試験薬錠" }], "text": "試験薬錠" },
        "subject": { "reference": "Patient/p1" },
        "authoredOn": "2026-11-25T10:15:00+09:00",
        "dosageInstruction": [{ "text": "1日1回 朝食後 1錠" }],
        "dispenseRequest": { "expectedSupplyDuration": { "value": 28, "unit": "日", "system": "http://unitsofmeasure.org", "code": "d" } }
    })
}

fn laboratory() -> Value {
    json!({
        "resourceType": "Observation",
        "meta": { "profile": [format!("{JP}JP_Observation_LabResult")] },
        "status": "final",
        "category": [{ "coding": [{ "system": "http://jpfhir.jp/fhir/core/CodeSystem/JP_SimpleObservationCategory_CS", "code": "laboratory" }] }],
        "code": { "coding": [{ "system": "http://loinc.org", "code": "4548-4" }], "text": "HbA1c" },
        "subject": { "reference": "Patient/p1" },
        "effectiveDateTime": "2026-11-25T09:30:00+09:00",
        "valueQuantity": { "value": 6.50, "unit": "%", "system": "http://unitsofmeasure.org", "code": "%" },
        "specimen": { "display": "血液" }
    })
}

fn vital() -> Value {
    json!({
        "resourceType": "Observation",
        "meta": { "profile": [format!("{JP}JP_Observation_VitalSigns")] },
        "status": "final",
        "category": [{ "coding": [{ "system": "http://jpfhir.jp/fhir/core/CodeSystem/JP_SimpleObservationCategory_CS", "code": "vital-signs" }] }],
        "code": { "coding": [{ "system": "http://loinc.org", "code": "8310-5" }], "text": "体温" },
        "subject": { "reference": "Patient/p1" },
        "effectiveDateTime": "2026-11-25T09:30:00+09:00",
        "valueQuantity": { "value": 36.8, "unit": "℃", "system": "http://unitsofmeasure.org", "code": "Cel" }
    })
}

fn others() -> Vec<Value> {
    vec![
        json!({
            "resourceType": "Encounter",
            "meta": { "profile": [format!("{JP}JP_Encounter")] },
            "status": "finished",
            "class": { "system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "AMB" },
            "subject": { "reference": "Patient/p1" },
            "period": { "start": "2026-11-25T09:00:00+09:00", "end": "2026-11-25T09:20:00+09:00" }
        }),
        json!({
            "resourceType": "Condition",
            "meta": { "profile": [format!("{JP}JP_Condition")] },
            "clinicalStatus": { "coding": [{ "system": "http://terminology.hl7.org/CodeSystem/condition-clinical", "code": "active" }] },
            "code": { "coding": [{ "system": "http://hl7.org/fhir/sid/icd-10", "code": "E11.9" }], "text": "2型糖尿病" },
            "subject": { "reference": "Patient/p1" },
            "onsetDateTime": "2024-05"
        }),
        json!({
            "resourceType": "AllergyIntolerance",
            "meta": { "profile": [format!("{JP}JP_AllergyIntolerance")] },
            "clinicalStatus": { "coding": [{ "system": "http://terminology.hl7.org/CodeSystem/allergyintolerance-clinical", "code": "active" }] },
            "category": ["food"],
            "code": { "text": "そば" },
            "patient": { "reference": "Patient/p1" },
            "reaction": [{ "manifestation": [{ "text": "蕁麻疹" }] }]
        }),
        json!({
            "resourceType": "Practitioner",
            "meta": { "profile": [format!("{JP}JP_Practitioner")] },
            "name": [{ "family": "古川", "given": ["一郎"] }],
            "gender": "male",
            // The registration number's slice fixes its identifier's system, which binds only
            // where an identifier is given.
            "qualification": [{ "code": { "coding": [{ "system": "http://jpfhir.jp/fhir/core/CodeSystem/JP_MedicalLicenseCertificate_CS", "code": "medical-registration" }] } }]
        }),
        json!({
            "resourceType": "Organization",
            "meta": { "profile": [format!("{JP}JP_Organization")] },
            "name": "大崎市民病院（試験）",
            "active": true
        }),
        json!({
            "resourceType": "DocumentReference",
            "meta": { "profile": [format!("{JP}JP_DocumentReference")] },
            "status": "current",
            "subject": { "reference": "Patient/p1" },
            "content": [{ "attachment": { "contentType": "text/plain; charset=utf-8", "data": "UzogT0s=" } }]
        }),
    ]
}

// Shows the written examples accepted under the profiles they claim.
#[test]
fn resources_after_the_profiles_are_accepted() {
    for resource in [patient(), prescription(), laboratory(), vital()]
        .into_iter()
        .chain(others())
    {
        assert_eq!(problems(&resource), vec![], "{}", resource["resourceType"]);
    }
}

// Shows each broken variant refused, with the problem the profile or the base structure names.
#[test]
fn broken_variants_are_refused() {
    type Case = (&'static str, Value, Vec<(&'static str, What)>);
    let cases: Vec<Case> = vec![
        (
            "JP_Patient needs an identifier",
            {
                let mut p = patient();
                p.as_object_mut().unwrap().remove("identifier");
                p
            },
            vec![("Patient.identifier", What::TooFew { min: 1 })],
        ),
        (
            "JP_Patient's identifier needs its value",
            {
                let mut p = patient();
                p["identifier"][0].as_object_mut().unwrap().remove("value");
                p
            },
            vec![("Patient.identifier[0].value", What::TooFew { min: 1 })],
        ),
        (
            "gender is bound to administrative-gender",
            {
                let mut p = patient();
                p["gender"] = json!("F");
                p
            },
            vec![(
                "Patient.gender",
                What::Binding {
                    value_set: "http://hl7.org/fhir/ValueSet/administrative-gender".into(),
                },
            )],
        ),
        (
            "an unknown element",
            {
                let mut p = patient();
                p["kanaName"] = json!("オオサキ");
                p
            },
            vec![("Patient.kanaName", What::Unknown)],
        ),
        (
            "a birth date that is no date",
            {
                let mut p = patient();
                p["birthDate"] = json!("1961-02-30");
                p
            },
            vec![("Patient.birthDate", What::Format { of: "date".into() })],
        ),
        (
            "a repeating element sent alone",
            {
                let mut p = patient();
                p["telecom"] = p["telecom"][0].clone();
                p
            },
            vec![("Patient.telecom", What::NotArray)],
        ),
        (
            "the Rp number is required",
            {
                let mut m = prescription();
                m["identifier"].as_array_mut().unwrap().remove(0);
                m
            },
            vec![
                (
                    "MedicationRequest.identifier",
                    What::Slice {
                        name: "rpNumber".into(),
                        min: 1,
                        max: Some(1),
                    },
                ),
                ("MedicationRequest.identifier", What::TooFew { min: 2 }),
            ],
        ),
        (
            "an order-in-Rp identifier needs its value",
            {
                let mut m = prescription();
                m["identifier"][1].as_object_mut().unwrap().remove("value");
                m
            },
            vec![(
                "MedicationRequest.identifier[1]",
                What::SliceMember {
                    name: "orderInRp".into(),
                    member: "value".into(),
                },
            )],
        ),
        (
            "two Rp numbers",
            {
                let mut m = prescription();
                let first = m["identifier"][0].clone();
                m["identifier"].as_array_mut().unwrap().push(first);
                m
            },
            vec![(
                "MedicationRequest.identifier",
                What::Slice {
                    name: "rpNumber".into(),
                    min: 1,
                    max: Some(1),
                },
            )],
        ),
        (
            "authoredOn is required",
            {
                let mut m = prescription();
                m.as_object_mut().unwrap().remove("authoredOn");
                m
            },
            vec![("MedicationRequest.authoredOn", What::TooFew { min: 1 })],
        ),
        (
            "the supply duration's unit is fixed to days",
            {
                let mut m = prescription();
                m["dispenseRequest"]["expectedSupplyDuration"]["code"] = json!("wk");
                m
            },
            vec![(
                "MedicationRequest.dispenseRequest.expectedSupplyDuration.code",
                What::Pattern {
                    pattern: "\"d\"".into(),
                },
            )],
        ),
        (
            "a laboratory result needs its specimen",
            {
                let mut o = laboratory();
                o.as_object_mut().unwrap().remove("specimen");
                o
            },
            vec![("Observation.specimen", What::TooFew { min: 1 })],
        ),
        (
            "a laboratory result needs code.text",
            {
                let mut o = laboratory();
                o["code"].as_object_mut().unwrap().remove("text");
                o
            },
            vec![("Observation.code.text", What::TooFew { min: 1 })],
        ),
        (
            "a laboratory result needs the laboratory category",
            {
                let mut o = laboratory();
                o["category"][0]["coding"][0]["code"] = json!("vital-signs");
                o
            },
            vec![(
                "Observation.category",
                What::Slice {
                    name: "laboratory".into(),
                    min: 1,
                    max: Some(1),
                },
            )],
        ),
        (
            "a registration number under another system",
            {
                let mut p = others().remove(3);
                p["qualification"][0]["identifier"] = json!([{ "system": "urn:oid:1.2.3", "value": "123456" }]);
                p
            },
            vec![("Practitioner.qualification[0]", What::Pattern { pattern: r#"{"code":{"coding":[{"code":"medical-registration","system":"http://jpfhir.jp/fhir/core/CodeSystem/JP_MedicalLicenseCertificate_CS"}]}}"#.into() })],
        ),
        (
            "a status outside its value set",
            {
                let mut o = vital();
                o["status"] = json!("done");
                o
            },
            vec![(
                "Observation.status",
                What::Binding {
                    value_set: "http://hl7.org/fhir/ValueSet/observation-status".into(),
                },
            )],
        ),
        (
            "two values",
            {
                let mut o = vital();
                o["valueString"] = json!("36.8");
                o
            },
            vec![("Observation.value[x]", What::TooMany { max: 1 })],
        ),
        (
            "a decimal sent as a string",
            {
                let mut o = vital();
                o["valueQuantity"]["value"] = json!("36.8");
                o
            },
            vec![(
                "Observation.valueQuantity.value",
                What::Format {
                    of: "decimal".into(),
                },
            )],
        ),
    ];
    for (why, resource, expected) in cases {
        let expected: Vec<(String, What)> = expected
            .into_iter()
            .map(|(e, w)| (e.to_owned(), w))
            .collect();
        assert_eq!(problems(&resource), expected, "{why}");
    }
}
