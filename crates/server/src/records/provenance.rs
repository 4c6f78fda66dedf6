//! Provenance (FHIR R4) made from the ledger: for each version of a record, who entered it
//! (for a proxy entry, on whose behalf), when and why, and — where a confirmation followed it —
//! who confirmed (確定) or countersigned it, and when. Each is made on request from the entries
//! it describes and named by the entry's index, never stored, so it cannot disagree with the
//! ledger.

use kiroku_app::records::Served;
use kiroku_records::record::{instant, State};
use kiroku_records::resource::LEDGER_PROVENANCE;
use serde_json::{json, Value};

/// The staff-id namespace agents are named in (JP Core's, as the hospital's records use it).
const STAFF: &str = kiroku_records::resource::STAFF_ID_SYSTEM;
/// The extension that names the ledger entry a Provenance was made from.
pub const LEDGER_ENTRY: &str = "urn:kiroku:ledger-entry";

fn agent(code: &str, account: &str) -> Value {
    json!({
        "type": { "coding": [{
            "system": "http://terminology.hl7.org/CodeSystem/provenance-participant-type",
            "code": code
        }] },
        "who": { "identifier": { "system": STAFF, "value": account } }
    })
}

fn made_from(entry: u64) -> Value {
    json!([{ "url": LEDGER_ENTRY, "valueString": entry.to_string() }])
}

/// The Provenance of one version: its entry (who entered it, the activity, the reason), and its
/// confirmation, if one followed. Newest first.
pub fn of_version(served: &Served) -> Vec<Value> {
    let target = json!([{ "reference": format!("{}/{}/_history/{}", served.kind, served.id, served.version) }]);
    let activity = match (served.state, served.version) {
        (State::Deleted, _) => "DELETE",
        (_, 1) => "CREATE",
        _ => "UPDATE",
    };
    let mut enterer = agent("enterer", &served.author);
    if let Some(clinician) = &served.on_behalf_of {
        // A proxy entry: the proxy entered it on the clinician's behalf.
        enterer["onBehalfOf"] = json!({ "identifier": { "system": STAFF, "value": clinician } });
    }
    let mut entered = json!({
        "resourceType": "Provenance",
        "id": format!("{LEDGER_PROVENANCE}{}", served.entry.0),
        "extension": made_from(served.entry.0),
        "target": target,
        "recorded": instant(served.time),
        "activity": { "coding": [{
            "system": "http://terminology.hl7.org/CodeSystem/v3-DataOperation",
            "code": activity
        }] },
        "agent": [enterer]
    });
    if let Some(reason) = &served.reason {
        entered["reason"] = json!([{ "text": reason }]);
    }
    let mut out = Vec::new();
    if let Some(confirmed) = &served.confirmation {
        // A countersignature of a trainee's version verifies it; a confirmation authenticates it.
        let (activity, role) = if served.trainee {
            ("VRF", "verifier")
        } else {
            ("LA", "legal")
        };
        out.push(json!({
            "resourceType": "Provenance",
            "id": format!("{LEDGER_PROVENANCE}{}", confirmed.entry.0),
            "extension": made_from(confirmed.entry.0),
            "target": target,
            "recorded": instant(confirmed.time),
            "activity": { "coding": [{
                "system": "http://terminology.hl7.org/CodeSystem/v3-ParticipationType",
                "code": activity
            }] },
            "agent": [agent(role, &confirmed.account)]
        }));
    }
    out.push(entered);
    out
}
