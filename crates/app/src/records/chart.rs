//! The clinician's views of the records, for the web pages: a patient's chart in one read, the
//! confirmation queue, and a version printed. Each is made of the same gated reads as the FHIR
//! API (the policy in force decides every resource shown, and a refusal is an entry), and each
//! is disclosed in one entry, committed before it is returned.

use crate::records::Records;
use crate::records::{current, not_found, readable, version_entry, Asker, Found, Run, Served};
use crate::rows::all;
use crate::{blocking, Error, Result};
use kiroku_core::Actor;
use kiroku_records::record::Pending;
use kiroku_records::resource::is_id;
use kiroku_store::Store;
use std::collections::HashMap;
use std::sync::Arc;

/// What a chart shows of each type, and how many of the newest.
pub const CHART_KINDS: [(&str, u64); 6] = [
    ("Encounter", 30),
    ("DocumentReference", 30),
    ("Condition", 50),
    ("AllergyIntolerance", 20),
    ("Observation", 200),
    ("MedicationRequest", 50),
];

/// Most drafts one part of the queue lists.
pub const QUEUE_MAX: u64 = 100;
/// Most drafts the queue looks at to find those the caller may read.
const QUEUE_SCAN_MAX: u64 = 500;

/// A patient's chart: the patient, and the newest records of each type in [`CHART_KINDS`].
#[derive(Clone, Debug)]
pub struct Chart {
    /// The patient's latest version.
    pub patient: Served,
    /// Each type's newest versions, newest first.
    pub records: Vec<(&'static str, Vec<Served>)>,
}

/// A draft in the confirmation queue.
#[derive(Clone, Debug)]
pub struct Waiting {
    /// The draft version.
    pub draft: Served,
    /// Its patient's latest version.
    pub patient: Option<Served>,
}

/// The confirmation queue of a clinician.
#[derive(Clone, Debug, Default)]
pub struct Queue {
    /// Drafts waiting for the caller: proxy entries made on their behalf, and their own.
    pub mine: Vec<Waiting>,
    /// Drafts any clinician who may write them confirms: trainees' versions (a
    /// countersignature) and systems' (imported data), of patients the caller may read.
    pub anyone: Vec<Waiting>,
    /// More drafts wait than were looked at.
    pub more: bool,
}

/// A version as a page shows or prints it, with its patient.
#[derive(Clone, Debug)]
pub struct RecordView {
    /// The version.
    pub version: Served,
    /// The resource's latest version number.
    pub latest: u64,
    /// Its patient's latest version.
    pub patient: Option<Served>,
}

impl Records<'_> {
    /// The chart of `patient`: the patient and the newest records of each type, every one
    /// decided by the policy (one refusal refuses the chart, and is recorded), disclosed in one
    /// entry.
    pub async fn chart(self, actor: Actor, patient: &str) -> Result<Chart> {
        if !is_id(patient) {
            return Err(Error::Records(crate::records::Error::NoSuchResource));
        }
        let who = actor.clone();
        let patient = patient.to_owned();
        let found = self
            .app
            .behind_gate(who.clone(), move |store, gate, _, now| {
                let asker = Asker::new(store, gate, now);
                let Some(c) = current(store, "Patient", &patient)? else {
                    return not_found(&asker, "Patient");
                };
                let patient_served = match readable(&asker, "Patient", &patient, c.entry)? {
                    Ok(served) if served.state == kiroku_records::record::State::Deleted => {
                        return Err(Error::Records(crate::records::Error::Gone {
                            version: served.version,
                        }))
                    }
                    Ok(served) => served,
                    Err(refused) => return Ok(Found::Refused(refused)),
                };
                let mut records = Vec::new();
                for (kind, count) in CHART_KINDS {
                    let mut served = Vec::new();
                    for c in kiroku_records::search::SearchQuery::newest_of_patient(
                        kind, &patient, count,
                    )
                    .run(store)?
                    .0
                    {
                        match readable(&asker, kind, &c.id, c.entry)? {
                            Ok(version) => served.push(version),
                            Err(refused) => return Ok(Found::Refused(refused)),
                        }
                    }
                    records.push((kind, served));
                }
                Ok(Found::Allowed(Chart {
                    patient: patient_served,
                    records,
                }))
            })
            .await?;
        match found {
            Found::Allowed(chart) => {
                let shown: Vec<&Served> = std::iter::once(&chart.patient)
                    .chain(chart.records.iter().flat_map(|(_, r)| r))
                    .collect();
                self.disclosed(&actor, "read", &shown, chart.clone()).await
            }
            Found::Refused(refused) => Err(self.refuse(&actor, refused).await?),
        }
    }

    /// The caller's confirmation queue: drafts waiting for them, and drafts any clinician who
    /// may write them confirms, each with its patient — only those the caller may read (the
    /// others are not the caller's to see, and are left out unrecorded). Disclosed in one
    /// entry.
    pub async fn confirmation_queue(self, actor: Actor) -> Result<Queue> {
        let who = actor.clone();
        let queue = self
            .app
            .behind_gate(who.clone(), move |store, gate, _, now| {
                let asker = Asker::new(store, gate, now);
                let mut patients = HashMap::new();
                let mut queue = Queue::default();
                let (mine, more_mine) = waiting(&asker, &mut patients, who.account.as_str())?;
                let (anyone, more_anyone) = waiting(&asker, &mut patients, "")?;
                queue.mine = mine;
                queue.anyone = anyone;
                queue.more = more_mine || more_anyone;
                Ok::<_, Error>(queue)
            })
            .await?;
        let shown: Vec<&Served> = queue
            .mine
            .iter()
            .chain(&queue.anyone)
            .flat_map(|w| std::iter::once(&w.draft).chain(&w.patient))
            .collect();
        if shown.is_empty() {
            return Ok(queue);
        }
        self.disclosed(&actor, "search", &shown, queue.clone())
            .await
    }

    /// Version `version` of `kind/id` (none: the latest) with its patient, for a page (or, with
    /// `print`, for printing): gated like a read, and disclosed in one entry as a read, a vread
    /// or a print.
    pub async fn record_view(
        self,
        actor: Actor,
        kind: &str,
        id: &str,
        version: Option<u64>,
        print: bool,
    ) -> Result<RecordView> {
        let kind = crate::records::known_type(kind)?;
        if !is_id(id) {
            return Err(Error::Records(crate::records::Error::NoSuchResource));
        }
        let who = actor.clone();
        let id = id.to_owned();
        let found = self
            .app
            .behind_gate(who.clone(), move |store, gate, _, now| {
                let asker = Asker::new(store, gate, now);
                let (Some(latest), Some(entry)) = (
                    current(store, kind, &id)?,
                    version_entry(store, kind, &id, version)?,
                ) else {
                    return not_found(&asker, kind);
                };
                let version = match readable(&asker, kind, &id, entry)? {
                    Ok(served) => served,
                    Err(refused) => return Ok(Found::Refused(refused)),
                };
                let patient = match version.patient.as_deref() {
                    Some(p) if kind != "Patient" => match current(store, "Patient", p)? {
                        Some(c) => match readable(&asker, "Patient", p, c.entry)? {
                            Ok(served) => Some(served),
                            Err(refused) => return Ok(Found::Refused(refused)),
                        },
                        None => None,
                    },
                    _ => None,
                };
                Ok(Found::Allowed(RecordView {
                    version,
                    latest: latest.version,
                    patient,
                }))
            })
            .await?;
        let interaction = match (print, version) {
            (true, _) => "print",
            (false, Some(_)) => "vread",
            (false, None) => "read",
        };
        match found {
            Found::Allowed(view) => {
                let shown: Vec<&Served> = std::iter::once(&view.version)
                    .chain(&view.patient)
                    .collect();
                self.disclosed(&actor, interaction, &shown, view.clone())
                    .await
            }
            Found::Refused(refused) => Err(self.refuse(&actor, refused).await?),
        }
    }

    /// The patient of `kind/id`'s latest version, if the resource exists and has one (no
    /// patient data: the id a page's form goes on with, the write then decided by the policy).
    pub async fn patient_of(self, kind: &str, id: &str) -> Result<Option<String>> {
        let kind = crate::records::known_type(kind)?;
        if !is_id(id) {
            return Err(Error::Records(crate::records::Error::NoSuchResource));
        }
        let store = self.app.store().clone();
        let id = id.to_owned();
        blocking(move || Ok(current(&store, kind, &id)?.and_then(|c| c.patient))).await
    }

    /// The names (kanji, family then given) of these accounts, as far as they have profiles.
    pub async fn account_names(self, accounts: Vec<String>) -> Result<HashMap<String, String>> {
        let store: Arc<Store> = self.app.store().clone();
        blocking(move || {
            let mut names = HashMap::new();
            for account in accounts {
                if names.contains_key(&account) {
                    continue;
                }
                if let Some(p) = crate::rows::first(
                    &store,
                    &kiroku_access::account::Profile::query(&account),
                    kiroku_access::account::Profile::from_row,
                )? {
                    names.insert(account, format!("{} {}", p.family_name, p.given_name));
                }
            }
            Ok(names)
        })
        .await
    }
}

/// The drafts waiting for `waits_for` (empty: for anyone who may write them) that the asker may
/// read, oldest first, each with its patient (read once per patient); and whether more wait
/// than were looked at.
fn waiting(
    asker: &Asker<'_>,
    patients: &mut HashMap<String, Option<Served>>,
    waits_for: &str,
) -> Result<(Vec<Waiting>, bool)> {
    let store: &Store = asker.store();
    let rows = all(
        store,
        &Pending::waiting_for(waits_for, None, QUEUE_SCAN_MAX + 1),
        Pending::from_row,
    )?;
    let more = rows.len() as u64 > QUEUE_SCAN_MAX;
    let mut found = Vec::new();
    for row in rows.iter().take(QUEUE_SCAN_MAX as usize) {
        if found.len() as u64 == QUEUE_MAX {
            return Ok((found, true));
        }
        let Some(entry) = version_entry(store, &row.kind, &row.id, Some(row.version))? else {
            continue;
        };
        let Ok(draft) = readable(asker, &row.kind, &row.id, entry)? else {
            continue;
        };
        let patient = match &row.patient {
            None => None,
            Some(p) => {
                if !patients.contains_key(p) {
                    let served = match current(store, "Patient", p)? {
                        Some(c) => readable(asker, "Patient", p, c.entry)?.ok(),
                        None => None,
                    };
                    patients.insert(p.clone(), served);
                }
                patients.get(p).cloned().flatten()
            }
        };
        found.push(Waiting { draft, patient });
    }
    Ok((found, more))
}

/// A kind of clinical note the web editor writes, as a `DocumentReference` of this LOINC type,
/// its text made of these sections, each under a `【heading】` line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NoteKind {
    /// The key in the editor's address (`progress`, …).
    pub key: &'static str,
    /// The LOINC document type.
    pub loinc: &'static str,
    /// LOINC's display name.
    pub loinc_display: &'static str,
    /// The title in Japanese and English.
    pub title: (&'static str, &'static str),
    /// The sections: the heading as written in the note (Japanese, as the record is), and the
    /// label in English.
    pub sections: &'static [(&'static str, &'static str)],
}

/// The notes the editor writes: progress notes in SOAP form, admission and operative notes,
/// discharge summaries (退院時サマリー) and referral letters (診療情報提供書, JP Core's document
/// code 57133-1).
pub const NOTE_KINDS: [NoteKind; 5] = [
    NoteKind {
        key: "progress",
        loinc: "11506-3",
        loinc_display: "Progress note",
        title: ("経過記録（SOAP）", "Progress note (SOAP)"),
        sections: &[
            ("S", "S: subjective"),
            ("O", "O: objective"),
            ("A", "A: assessment"),
            ("P", "P: plan"),
        ],
    },
    NoteKind {
        key: "admission",
        loinc: "47039-3",
        loinc_display: "Hospital Admission history and physical note",
        title: ("入院時記録", "Admission note"),
        sections: &[
            ("主訴", "Chief complaint"),
            ("現病歴", "History of present illness"),
            ("既往歴・家族歴", "Past and family history"),
            ("身体所見", "Physical examination"),
            ("評価と計画", "Assessment and plan"),
        ],
    },
    NoteKind {
        key: "operative",
        loinc: "11504-8",
        loinc_display: "Surgical operation note",
        title: ("手術記録", "Operative note"),
        sections: &[
            ("術前診断", "Preoperative diagnosis"),
            ("術後診断", "Postoperative diagnosis"),
            ("術式", "Procedure"),
            ("麻酔", "Anaesthesia"),
            ("手術所見", "Findings"),
        ],
    },
    NoteKind {
        key: "discharge",
        loinc: "18842-5",
        loinc_display: "Discharge summary",
        title: ("退院時サマリー", "Discharge summary"),
        sections: &[
            ("入院時診断", "Diagnosis on admission"),
            ("入院中の経過", "Hospital course"),
            ("退院時診断", "Diagnosis on discharge"),
            ("退院時処方・指示", "Discharge medication and instructions"),
        ],
    },
    NoteKind {
        key: "referral",
        loinc: "57133-1",
        loinc_display: "Referral note",
        title: ("診療情報提供書", "Referral letter"),
        sections: &[
            ("紹介先", "Referred to"),
            ("紹介目的", "Purpose of referral"),
            ("傷病名", "Diagnoses"),
            ("既往歴・経過", "History and course"),
            ("現在の処方", "Current medication"),
        ],
    },
];

/// Most characters of one section of a note.
pub const SECTION_CHARS_MAX: usize = 10_000;

impl NoteKind {
    /// The kind of this editor key.
    pub fn of_key(key: &str) -> Option<NoteKind> {
        NOTE_KINDS.into_iter().find(|k| k.key == key)
    }

    /// The kind of a note of this LOINC type.
    pub fn of_loinc(code: &str) -> Option<NoteKind> {
        NOTE_KINDS.into_iter().find(|k| k.loinc == code)
    }

    /// The note's text: each non-empty section under its `【heading】` line.
    pub fn compose(&self, sections: &[String]) -> String {
        let mut text = String::new();
        for ((heading, _), body) in self.sections.iter().zip(sections) {
            let body = body.trim_end();
            if body.trim().is_empty() {
                continue;
            }
            if !text.is_empty() {
                text.push('\n');
            }
            text.push_str(&format!("【{heading}】\n{body}\n"));
        }
        text
    }

    /// The sections of a note's text, if it is made of this kind's headings (in order, each
    /// at most once); a text written otherwise (by another system) is not split.
    pub fn split(&self, text: &str) -> Option<Vec<String>> {
        let mut sections = vec![String::new(); self.sections.len()];
        let mut at: Option<usize> = None;
        for line in text.lines() {
            let heading = line
                .strip_prefix('【')
                .and_then(|l| l.strip_suffix('】'))
                .and_then(|h| self.sections.iter().position(|(s, _)| *s == h));
            match (heading, at) {
                (Some(next), Some(now)) if next <= now => return None,
                (Some(next), _) => at = Some(next),
                (None, Some(now)) => {
                    let section = &mut sections[now];
                    if !section.is_empty() {
                        section.push('\n');
                    }
                    section.push_str(line);
                }
                (None, None) if line.trim().is_empty() => {}
                (None, None) => return None,
            }
        }
        at.map(|_| {
            sections
                .into_iter()
                .map(|s| s.trim_end().to_owned())
                .collect()
        })
    }
}

/// A note as the editor sends it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NoteDraft {
    /// Its kind.
    pub kind: NoteKind,
    /// The encounter it belongs to, if any (one of the patient's).
    pub encounter: Option<String>,
    /// Each section's text, in the kind's order.
    pub sections: Vec<String>,
}

/// Why a note cannot be written as sent. Nothing is written.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum NoteError {
    /// Every section is empty.
    #[error("the note is empty")]
    Empty,
    /// A section is longer than [`SECTION_CHARS_MAX`].
    #[error("a section of the note is longer than {SECTION_CHARS_MAX} characters")]
    TooLong,
    /// The encounter is not one of the patient's.
    #[error("the encounter is not one of the patient's")]
    Encounter,
    /// The resource corrected is not a note the editor writes.
    #[error("the resource is not a note the editor writes")]
    NotANote,
}

/// The JP Core profile the editor's notes claim.
const JP_DOCUMENT_REFERENCE: &str =
    "http://jpfhir.jp/fhir/core/StructureDefinition/JP_DocumentReference";

impl NoteDraft {
    /// Checks the sections: one at least, none too long, no control characters but line
    /// breaks and tabs.
    fn check(&self) -> std::result::Result<(), NoteError> {
        if self.sections.len() != self.kind.sections.len()
            || self.sections.iter().all(|s| s.trim().is_empty())
        {
            return Err(NoteError::Empty);
        }
        if self.sections.iter().any(|s| {
            s.chars().count() > SECTION_CHARS_MAX
                || s.chars()
                    .any(|c| c.is_control() && !matches!(c, '\n' | '\t'))
        }) {
            return Err(NoteError::TooLong);
        }
        Ok(())
    }

    /// The note as a JP Core `DocumentReference` of `patient`, written at `now`, authored by
    /// the clinician `author` (the proxy's clinician, for a proxy entry); `amended` for a
    /// correction.
    fn resource(
        &self,
        patient: &str,
        author: &str,
        now: kiroku_core::Timestamp,
        amended: bool,
    ) -> Vec<u8> {
        use base64::Engine as _;
        let text = self.kind.compose(&self.sections);
        let mut note = serde_json::json!({
            "resourceType": "DocumentReference",
            "meta": { "profile": [JP_DOCUMENT_REFERENCE] },
            "status": "current",
            "docStatus": if amended { "amended" } else { "final" },
            "type": {
                "coding": [{ "system": "http://loinc.org", "code": self.kind.loinc, "display": self.kind.loinc_display }],
                "text": self.kind.title.0
            },
            "category": [{ "text": "診療記録" }],
            "subject": { "reference": format!("Patient/{patient}") },
            "date": kiroku_records::record::instant(now),
            "author": [{ "identifier": { "system": kiroku_records::resource::STAFF_ID_SYSTEM, "value": author } }],
            "description": self.kind.title.0,
            "content": [{ "attachment": {
                "contentType": "text/plain; charset=utf-8",
                "language": "ja",
                "data": base64::engine::general_purpose::STANDARD.encode(text.as_bytes()),
                "title": self.kind.title.0
            } }]
        });
        if let Some(encounter) = &self.encounter {
            note["context"] = serde_json::json!({ "encounter": [{ "reference": format!("Encounter/{encounter}") }] });
        }
        note.to_string().into_bytes()
    }
}

impl Records<'_> {
    /// Writes a note of `patient` from the editor: a new `DocumentReference` (a draft, waiting
    /// for confirmation), or — with `correcting`, the note's id and the version the clinician
    /// saw — its next version, which for a confirmed note needs `writing.reason`. Decided and
    /// written like any FHIR write.
    pub async fn write_clinical_note(
        self,
        actor: Actor,
        patient: &str,
        draft: NoteDraft,
        writing: crate::records::Writing,
        correcting: Option<(String, u64)>,
    ) -> Result<crate::records::Written> {
        if !is_id(patient) {
            return Err(Error::Records(crate::records::Error::NoSuchResource));
        }
        draft
            .check()
            .map_err(|e| Error::Records(crate::records::Error::ClinicalNote(e)))?;
        if let Some((id, _)) = &correcting {
            // A correction stays the note of its patient.
            let store = self.app.store().clone();
            let i = id.clone();
            let of = blocking(move || current(&store, "DocumentReference", &i)).await?;
            if of.and_then(|c| c.patient).as_deref() != Some(patient) {
                return Err(Error::Records(crate::records::Error::ClinicalNote(
                    NoteError::NotANote,
                )));
            }
        }
        if let Some(encounter) = &draft.encounter {
            let store = self.app.store().clone();
            let e = encounter.clone();
            let of = blocking(move || current(&store, "Encounter", &e)).await?;
            if !is_id(encounter) || of.and_then(|c| c.patient).as_deref() != Some(patient) {
                return Err(Error::Records(crate::records::Error::ClinicalNote(
                    NoteError::Encounter,
                )));
            }
        }
        let author = writing
            .on_behalf_of
            .as_ref()
            .unwrap_or(&actor.account)
            .to_string();
        let body = draft.resource(patient, &author, self.app.now()?, correcting.is_some());
        match correcting {
            None => {
                self.create_resource(actor, "DocumentReference", body, None, writing)
                    .await
            }
            Some((id, seen)) => {
                self.update_resource(actor, "DocumentReference", &id, body, Some(seen), writing)
                    .await
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Shows a note written by the editor split back into its sections, an empty section kept
    // empty, and a text written otherwise (or with its headings out of order) left whole.
    #[test]
    fn notes_split_into_their_sections() {
        let kind = NoteKind::of_key("progress").unwrap();
        let sections = vec![
            "頭痛あり".to_owned(),
            String::new(),
            "片頭痛".into(),
            "経過観察\n2週後".into(),
        ];
        let text = kind.compose(&sections);
        assert_eq!(
            text,
            "【S】\n頭痛あり\n\n【A】\n片頭痛\n\n【P】\n経過観察\n2週後\n"
        );
        assert_eq!(kind.split(&text), Some(sections));
        assert_eq!(kind.split("S: 変化なし\nO: 体温 36.5℃"), None);
        assert_eq!(kind.split("【P】\nあ\n【S】\nい"), None);
        assert_eq!(
            NoteKind::of_loinc("57133-1").map(|k| k.key),
            Some("referral")
        );
    }

    // Shows what a note may not be: empty, too long, with control characters; a line break
    // and a tab are text.
    #[test]
    fn notes_are_checked_before_anything_is_written() {
        let kind = NoteKind::of_key("progress").unwrap();
        let draft = |sections: Vec<&str>| NoteDraft {
            kind,
            encounter: None,
            sections: sections.into_iter().map(str::to_owned).collect(),
        };
        assert_eq!(
            draft(vec!["", " ", "", "\n"]).check(),
            Err(NoteError::Empty)
        );
        assert_eq!(draft(vec!["a"]).check(), Err(NoteError::Empty));
        let long = "あ".repeat(SECTION_CHARS_MAX + 1);
        assert_eq!(
            draft(vec![&long, "", "", ""]).check(),
            Err(NoteError::TooLong)
        );
        assert_eq!(
            draft(vec!["a\u{7}", "", "", ""]).check(),
            Err(NoteError::TooLong)
        );
        let full = "あ".repeat(SECTION_CHARS_MAX);
        assert_eq!(draft(vec![&full, "a\tb\nc", "", ""]).check(), Ok(()));
    }
}
