"""Drives a running Kiroku FHIR server with clients we did not write.

`fhirclient` (SMART on FHIR's Python client) creates, reads, searches with paging, updates with
If-Match and posts a transaction; every FHIR response the server sends on the way — resources,
Bundles, OperationOutcomes, the CapabilityStatement, a proof's Parameters — is checked by
`fhir.resources` 6.4.0 (FHIR R4 4.0.1 models, pydantic 1).

Usage: fhir_client_check.py BASE_URL TOKEN [BUNDLE.json ...]
BASE_URL is the server's FHIR base (http://host:port/fhir) and TOKEN an OAuth bearer token
with write access. Each BUNDLE.json given is posted as a transaction first (the demo's data,
say). Prints what it checked; exits 1 with the failures otherwise.
"""

import json
import sys
from collections import Counter

from fhir.resources import construct_fhir_element
from fhirclient import client
from fhirclient.models.bundle import Bundle, BundleEntry, BundleEntryRequest
from fhirclient.models.observation import Observation
from fhirclient.models.patient import Patient
from fhirclient.server import FHIRNotFoundException

HOSPITAL = "urn:oid:1.2.392.100495.20.3.51.11318814790"
checked = Counter()
failures = []


def validate(response, *args, **kwargs):
    """A response hook: every FHIR JSON body goes through fhir.resources."""
    kind = response.headers.get("content-type", "")
    if "fhir+json" not in kind or not response.content:
        return
    try:
        body = response.json()
        construct_fhir_element(body["resourceType"], body)
        checked[body["resourceType"]] += 1
        for entry in body.get("entry", []) if body["resourceType"] == "Bundle" else []:
            if "resource" in entry:
                resource = entry["resource"]
                construct_fhir_element(resource["resourceType"], resource)
                checked[resource["resourceType"]] += 1
    except Exception as e:  # noqa: BLE001 (every failure is reported)
        failures.append(f"{response.request.method} {response.url}: {e}")


def expect(condition, what):
    if not condition:
        failures.append(what)


def status_of(call):
    """The HTTP status a call failed with (fhirclient raises on >= 400), or 200."""
    try:
        call()
        return 200
    except FHIRNotFoundException:
        return 404
    except Exception as e:  # requests.HTTPError
        response = getattr(e, "response", None)
        return response.status_code if response is not None else -1


def main(base, token, bundles):
    smart = client.FHIRClient(settings={"app_id": "kiroku-check", "api_base": base})
    server = smart.server
    server.session.headers["Authorization"] = f"Bearer {token}"
    server.session.hooks["response"].append(validate)

    for path in bundles:
        with open(path, encoding="utf-8") as f:
            server.post_json(None, json.load(f))

    statement = server.request_json("metadata")
    expect(statement["fhirVersion"] == "4.0.1", "the CapabilityStatement names FHIR 4.0.1")

    # Create and read a patient with kanji and kana names.
    patient = Patient(
        {
            "resourceType": "Patient",
            "identifier": [{"system": HOSPITAL, "value": "PY-0001"}],
            "name": [
                {
                    "extension": [
                        {
                            "url": "http://hl7.org/fhir/StructureDefinition/iso21090-EN-representation",
                            "valueCode": "IDE",
                        }
                    ],
                    "use": "official",
                    "text": "髙橋 𠮷子",
                    "family": "髙橋",
                    "given": ["𠮷子"],
                },
                {
                    "extension": [
                        {
                            "url": "http://hl7.org/fhir/StructureDefinition/iso21090-EN-representation",
                            "valueCode": "SYL",
                        }
                    ],
                    "use": "official",
                    "text": "タカハシ ヨシコ",
                    "family": "タカハシ",
                    "given": ["ヨシコ"],
                },
            ],
            "gender": "female",
            "birthDate": "1962-03-15",
        }
    )
    made = patient.create(server)
    patient_id = made["id"]
    read = Patient.read(patient_id, server)
    expect(read.name[0].family == "髙橋", "the kanji family name reads back")
    expect(read.name[1].given == ["ヨシコ"], "the kana given name reads back")
    expect(read.meta.versionId == "1", "a new patient is version 1")

    # Seven observations, then a search that pages through them two at a time.
    for day in range(1, 8):
        Observation(
            {
                "resourceType": "Observation",
                "status": "final",
                "category": [
                    {
                        "coding": [
                            {
                                "system": "http://terminology.hl7.org/CodeSystem/observation-category",
                                "code": "vital-signs",
                            }
                        ]
                    }
                ],
                "code": {"coding": [{"system": "http://loinc.org", "code": "8310-5"}], "text": "体温"},
                "subject": {"reference": f"Patient/{patient_id}"},
                "effectiveDateTime": f"2026-11-{day:02d}T09:00:00+09:00",
                "valueQuantity": {"value": 36.0 + day / 10, "unit": "Cel"},
            }
        ).create(server)
    search = Observation.where({"patient": patient_id, "_count": "2", "_sort": "date"})
    pages = list(search.perform_iter(server))
    found = [e.resource for page in pages for e in (page.entry or [])]
    expect(len(pages) == 4, f"7 results come on 4 pages of 2 (got {len(pages)})")
    expect(len(found) == 7, f"paging finds all 7 observations (got {len(found)})")
    dates = [o.effectiveDateTime.isostring for o in found]
    expect(dates == sorted(dates), "the pages are in date order")
    expect(len({o.id for o in found}) == 7, "no observation comes twice")

    # Update with If-Match: the version read is accepted, a stale one is refused with 412.
    first = Observation.read(found[0].id, server)
    first.status = "amended"
    server.session.headers["If-Match"] = 'W/"1"'
    try:
        updated = first.update(server)
        expect(updated["meta"]["versionId"] == "2", "the update is version 2")
        first.status = "corrected"
        expect(status_of(lambda: first.update(server)) == 412, "a stale If-Match is refused with 412")
    finally:
        del server.session.headers["If-Match"]
    expect(Observation.read(first.id, server).status == "amended", "the refused update changed nothing")

    # A transaction: a patient and an observation that refers to it by urn:uuid.
    uuid = "urn:uuid:5f0c6f1e-3b7a-4d2e-9c1f-8a7b6c5d4e3f"
    entry_patient = BundleEntry(
        {
            "fullUrl": uuid,
            "resource": {
                "resourceType": "Patient",
                "identifier": [{"system": HOSPITAL, "value": "PY-0002"}],
                "name": [{"text": "渡邊 一郎", "family": "渡邊", "given": ["一郎"]}],
                "gender": "male",
                "birthDate": "1958-12-01",
            },
        }
    )
    entry_patient.request = BundleEntryRequest({"method": "POST", "url": "Patient"})
    entry_observation = BundleEntry(
        {
            "resource": {
                "resourceType": "Observation",
                "status": "final",
                "code": {"text": "体重"},
                "subject": {"reference": uuid},
                "effectiveDateTime": "2026-11-20",
                "valueQuantity": {"value": 61.5, "unit": "kg"},
            }
        }
    )
    entry_observation.request = BundleEntryRequest({"method": "POST", "url": "Observation"})
    transaction = Bundle({"resourceType": "Bundle", "type": "transaction"})
    transaction.entry = [entry_patient, entry_observation]
    answer = Bundle(transaction.create(server))
    expect(answer.type == "transaction-response", "a transaction is answered with its response")
    statuses = [e.response.status for e in answer.entry]
    expect(statuses == ["201 Created", "201 Created"], f"both entries are created ({statuses})")
    new_patient = answer.entry[0].resource.id
    expect(
        answer.entry[1].resource.subject.reference == f"Patient/{new_patient}",
        "the urn:uuid reference is resolved to the new patient",
    )

    # A search by kana finds the first patient; history and a proof are valid FHIR too.
    by_kana = Patient.where({"name": "たかはし"}).perform_iter(server)
    expect(
        any(e.resource.id == patient_id for page in by_kana for e in (page.entry or [])),
        "the patient is found by hiragana",
    )
    server.request_json(f"Observation/{first.id}/_history")
    server.request_json(f"Observation/{first.id}/_history/1/$proof")
    expect(status_of(lambda: Patient.read("no-such-patient", server)) == 404, "a missing patient is 404")

    # Provenance made from the ledger: who entered each version.
    provenance = server.request_json(f"Provenance?target=Observation/{first.id}")
    agents = [
        agent["type"]["coding"][0]["code"]
        for entry in provenance.get("entry", [])
        for agent in entry["resource"]["agent"]
    ]
    expect(agents.count("enterer") == 2, f"each of the 2 versions has its enterer ({agents})")

    # A deletion with a reason: the resource reads as gone, its history keeps every version.
    server.session.headers["X-Kiroku-Reason"] = "%E9%87%8D%E8%A4%87%E7%99%BB%E9%8C%B2"
    try:
        deleted = server.session.delete(f"{base}/Observation/{found[1].id}")
        expect(deleted.status_code == 200, f"a deletion is answered 200 ({deleted.status_code})")
    finally:
        del server.session.headers["X-Kiroku-Reason"]
    expect(status_of(lambda: Observation.read(found[1].id, server)) == 410, "a deleted resource is 410")
    history = server.request_json(f"Observation/{found[1].id}/_history")
    methods = [e["request"]["method"] for e in history["entry"]]
    expect(methods == ["DELETE", "POST"], f"the history keeps both versions ({methods})")

    # An attachment in its own format: sent raw, read back byte for byte.
    pdf = b"%PDF-1.4\n% synthetic test document\n%%EOF\n"
    sent = server.session.post(
        f"{base}/Binary",
        data=pdf,
        headers={"Content-Type": "application/pdf", "X-Security-Context": f"Patient/{patient_id}"},
    )
    expect(sent.status_code == 201, f"a raw Binary is created ({sent.status_code})")
    raw = server.session.get(f"{base}/Binary/{sent.json()['id']}", headers={"Accept": "application/pdf"})
    expect(raw.content == pdf, "the attachment reads back byte for byte")
    expect(raw.headers.get("content-type") == "application/pdf", "in its own media type")

    if failures:
        for failure in failures:
            print(f"FAILED: {failure}", file=sys.stderr)
        return 1
    print("checked by fhir.resources: " + ", ".join(f"{k} {v}" for k, v in sorted(checked.items())))
    return 0


if __name__ == "__main__":
    if len(sys.argv) < 3:
        print(__doc__.strip())
        sys.exit(2)
    sys.exit(main(sys.argv[1], sys.argv[2], sys.argv[3:]))
