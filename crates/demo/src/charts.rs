//! The demo's clinical records: synthetic patients with Japanese names in kanji and kana, each
//! with encounters over several years (outpatient, inpatient, emergency), problems (傷病名),
//! allergies, vital signs and laboratory results, prescriptions with JP Core's Rp numbers, and
//! progress notes in SOAP form. Everything is made up here from a seed — no real person's data —
//! and every patient's chart is written as one transaction Bundle through the FHIR use cases,
//! by the laboratory's system client, so the policy and the e-storage rules apply as they would
//! to real data. A doctor then confirms (確定) the older drafts, leaving the last weeks' waiting.

use kiroku_app::{App, Error, Result};
use kiroku_core::{Actor, Date};
use serde_json::{json, Value};

/// The hospital's patient identifier system (JP Core: the medical institution's OID branch for
/// patient ids, with a ten-digit institution number).
pub const PATIENT_ID_SYSTEM: &str = "urn:oid:1.2.392.100495.20.3.51.11318814790";
/// JP Core's system for the Rp number of a prescription.
const RP_SYSTEM: &str = "urn:oid:1.2.392.100495.20.3.81";
/// JP Core's system for the order of a drug within its Rp.
const ORDER_IN_RP_SYSTEM: &str = "urn:oid:1.2.392.100495.20.3.82";
/// HOT codes (the standard drug master's nine-digit codes).
const HOT_SYSTEM: &str = "urn:oid:1.2.392.100495.20.2.74";
const ICD10_SYSTEM: &str = "http://hl7.org/fhir/sid/icd-10";
const LOINC: &str = "http://loinc.org";
const UCUM: &str = "http://unitsofmeasure.org";
/// JP Core's profiles, which every demo resource claims (and so is checked against).
const JP: &str = "http://jpfhir.jp/fhir/core/StructureDefinition/";
/// JP Core's simple observation categories, which its laboratory and vital-sign profiles use.
const JP_CATEGORY: &str = "http://jpfhir.jp/fhir/core/CodeSystem/JP_SimpleObservationCategory_CS";
/// The hospital's staff ids: the demo's attending doctor is named by account.
pub use kiroku_records::resource::STAFF_ID_SYSTEM;
const REPRESENTATION: &str = "http://hl7.org/fhir/StructureDefinition/iso21090-EN-representation";

const FAMILIES: &[(&str, &str)] = &[
    ("佐藤", "サトウ"),
    ("鈴木", "スズキ"),
    ("高橋", "タカハシ"),
    ("田中", "タナカ"),
    ("伊藤", "イトウ"),
    ("渡辺", "ワタナベ"),
    ("山本", "ヤマモト"),
    ("中村", "ナカムラ"),
    ("小林", "コバヤシ"),
    ("加藤", "カトウ"),
    ("吉田", "ヨシダ"),
    ("山田", "ヤマダ"),
    ("佐々木", "ササキ"),
    ("山口", "ヤマグチ"),
    ("松本", "マツモト"),
    ("井上", "イノウエ"),
    ("木村", "キムラ"),
    ("林", "ハヤシ"),
    ("斎藤", "サイトウ"),
    ("清水", "シミズ"),
    ("阿部", "アベ"),
    ("遠藤", "エンドウ"),
    ("菅原", "スガワラ"),
    ("千葉", "チバ"),
    ("熊谷", "クマガイ"),
    ("及川", "オイカワ"),
    // Variant characters, as hospitals' registers hold them (髙, 𠮷 outside the BMP, 邊, 齋).
    ("髙橋", "タカハシ"),
    ("𠮷田", "ヨシダ"),
    ("渡邊", "ワタナベ"),
    ("齋藤", "サイトウ"),
];

const WOMEN: &[(&str, &str)] = &[
    ("花子", "ハナコ"),
    ("陽子", "ヨウコ"),
    ("恵子", "ケイコ"),
    ("美穂", "ミホ"),
    ("由美", "ユミ"),
    ("さくら", "サクラ"),
    ("結衣", "ユイ"),
    ("真由美", "マユミ"),
    ("千尋", "チヒロ"),
    ("葵", "アオイ"),
    ("芳子", "ヨシコ"),
    ("和子", "カズコ"),
];

const MEN: &[(&str, &str)] = &[
    ("太郎", "タロウ"),
    ("一郎", "イチロウ"),
    ("健一", "ケンイチ"),
    ("誠", "マコト"),
    ("大輔", "ダイスケ"),
    ("翔太", "ショウタ"),
    ("浩二", "コウジ"),
    ("隆", "タカシ"),
    ("蓮", "レン"),
    ("悠真", "ユウマ"),
    ("茂", "シゲル"),
    ("勝也", "カツヤ"),
];

const TOWNS: &[&str] = &["古川", "鳴子", "岩出山", "鹿島台", "松山", "三本木", "田尻"];

/// Problems: ICD-10 code, the Japanese name, and the drug prescribed for it (HOT code, name,
/// dose text).
const PROBLEMS: &[(&str, &str, &str, &str, &str)] = &[
    (
        "E11.9",
        "2型糖尿病",
        "103835401",
        "メトホルミン塩酸塩錠250mg",
        "1回1錠 1日2回 朝夕食後",
    ),
    (
        "I10",
        "本態性高血圧症",
        "107849901",
        "アムロジピン錠5mg",
        "1回1錠 1日1回 朝食後",
    ),
    (
        "E78.5",
        "脂質異常症",
        "109186201",
        "ロスバスタチン錠2.5mg",
        "1回1錠 1日1回 夕食後",
    ),
    (
        "K21.0",
        "逆流性食道炎",
        "105357001",
        "ランソプラゾールOD錠15mg",
        "1回1錠 1日1回 朝食前",
    ),
    (
        "J45.9",
        "気管支喘息",
        "111505801",
        "モンテルカスト錠10mg",
        "1回1錠 1日1回 就寝前",
    ),
    (
        "M17.9",
        "変形性膝関節症",
        "100795402",
        "ロキソプロフェンナトリウム錠60mg",
        "1回1錠 疼痛時 1日3回まで",
    ),
];

const ALLERGIES: &[(&str, &str)] = &[
    ("ペニシリン系抗菌薬", "medication"),
    ("卵", "food"),
    ("ヨード造影剤", "medication"),
    ("そば", "food"),
];

/// The departments that see the demo's patients: (the access context's code, the name).
const DEPARTMENTS: &[(&str, &str)] = &[
    ("internal-medicine", "内科"),
    ("surgery", "外科"),
    ("emergency", "救急科"),
];

/// A small deterministic generator (SplitMix64): the same seed makes the same hospital.
#[derive(Clone, Debug)]
pub struct Rng(u64);

impl Rng {
    /// A generator from `seed`.
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A whole number in `0..n` (n ≥ 1).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }

    /// A number in `low..=high` to one decimal place, as text.
    fn decimal(&mut self, low: u64, high: u64) -> f64 {
        (low * 10 + self.below((high - low) * 10 + 1)) as f64 / 10.0
    }
}

/// A name in katakana as the demo gives them (family and given, no space): what a clerk types
/// into a search.
pub fn kana_name(rng: &mut Rng) -> String {
    let family = rng.pick(FAMILIES).1;
    let names = if rng.below(2) == 0 { WOMEN } else { MEN };
    let given = rng.pick(names).1;
    format!("{family}{given}")
}

/// A `urn:uuid` for the Bundle, unique per patient, resource kind and position.
fn urn(number: u64, kind: &str, n: usize) -> String {
    let code = [
        "Patient",
        "Condition",
        "AllergyIntolerance",
        "Encounter",
        "Vital",
        "Laboratory",
        "MedicationRequest",
        "DocumentReference",
    ]
    .iter()
    .position(|k| *k == kind)
    .unwrap_or(255);
    format!(
        "urn:uuid:00000000-0000-4000-8000-{:06x}{code:02x}{:04x}",
        number % 0x100_0000,
        n % 0x1_0000
    )
}

fn entry(full_url: &str, resource: Value) -> Value {
    let kind = resource["resourceType"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    json!({ "fullUrl": full_url, "resource": resource, "request": { "method": "POST", "url": kind } })
}

fn name(kanji: (&str, &str), kana: (&str, &str)) -> Value {
    json!([
        {
            "extension": [{ "url": REPRESENTATION, "valueCode": "IDE" }],
            "use": "official",
            "text": format!("{} {}", kanji.0, kanji.1),
            "family": kanji.0,
            "given": [kanji.1]
        },
        {
            "extension": [{ "url": REPRESENTATION, "valueCode": "SYL" }],
            "use": "official",
            "text": format!("{} {}", kana.0, kana.1),
            "family": kana.0,
            "given": [kana.1]
        }
    ])
}

fn jst(date: Date, hour: u64, minute: u64) -> String {
    format!("{date}T{hour:02}:{minute:02}:00+09:00")
}

fn quantity(value: f64, digits: usize, unit: &str, code: &str) -> Value {
    // The value's text is written with its digits (`6.50` stays two decimals): FHIR keeps
    // the precision a result was measured to.
    let text = format!("{value:.digits$}");
    let number: serde_json::Number = text.parse().unwrap_or_else(|_| serde_json::Number::from(0));
    json!({ "value": number, "unit": unit, "system": UCUM, "code": code })
}

fn observation(
    subject: &str,
    encounter: &str,
    category: &str,
    code: (&str, &str),
    when: &str,
    value: Value,
) -> Value {
    let laboratory = category == "laboratory";
    let mut observation = json!({
        "resourceType": "Observation",
        "meta": { "profile": [format!("{JP}{}", if laboratory { "JP_Observation_LabResult" } else { "JP_Observation_VitalSigns" })] },
        "status": "final",
        "category": [{ "coding": [
            { "system": "http://terminology.hl7.org/CodeSystem/observation-category", "code": category },
            { "system": JP_CATEGORY, "code": category }
        ] }],
        "code": { "coding": [{ "system": LOINC, "code": code.0, "display": code.1 }], "text": code.1 },
        "subject": { "reference": subject },
        "encounter": { "reference": encounter },
        "effectiveDateTime": when,
        "valueQuantity": value
    });
    if laboratory {
        observation["specimen"] = json!({ "display": "血液" });
    }
    observation
}

/// One synthetic patient's chart, as a transaction Bundle: patient `number` (the hospital's
/// patient id), with history up to `today`. `full`: encounters, results, prescriptions and
/// notes too; otherwise the patient alone (for benchmarks that need many patients).
pub fn chart(
    rng: &mut Rng,
    number: u64,
    today: Date,
    full: bool,
    attending: Option<&str>,
) -> Value {
    let woman = rng.below(2) == 0;
    let family = *rng.pick(FAMILIES);
    let given = *rng.pick(if woman { WOMEN } else { MEN });
    // Adults: the problems below (diabetes, hypertension…) are adults' problems.
    let age_days = 365 * (20 + rng.below(70)) + rng.below(365);
    let birth = today.plus_days(-(age_days as i64)).unwrap_or(today);
    let patient_url = urn(number, "Patient", 0);
    let patient = json!({
        "resourceType": "Patient",
        "meta": { "profile": ["http://jpfhir.jp/fhir/core/StructureDefinition/JP_Patient"] },
        "identifier": [{ "system": PATIENT_ID_SYSTEM, "value": format!("{number:08}") }],
        "name": name((family.0, given.0), (family.1, given.1)),
        "telecom": [{ "system": "phone", "value": format!("0229-{:02}-{:04}", 10 + rng.below(90), rng.below(10000)), "use": "home" }],
        "gender": if woman { "female" } else { "male" },
        "birthDate": birth.to_string(),
        "address": [{
            "text": format!("宮城県大崎市{}{}丁目{}-{}", rng.pick(TOWNS), 1 + rng.below(5), 1 + rng.below(30), 1 + rng.below(20)),
            "postalCode": format!("989-{:04}", 6000 + rng.below(1000)),
            "country": "JP"
        }]
    });
    let mut entries = vec![entry(&patient_url, patient)];
    if !full {
        return json!({ "resourceType": "Bundle", "type": "transaction", "entry": entries });
    }
    let subject = patient_url.as_str();
    // Problems, each with the prescription that treats it.
    let problems: Vec<&(&str, &str, &str, &str, &str)> = (0..1 + rng.below(3))
        .map(|_| rng.pick(PROBLEMS))
        .collect::<Vec<_>>();
    let mut problems = problems;
    problems.sort_by_key(|p| p.0);
    problems.dedup_by_key(|p| p.0);
    let onset_days = 60 + rng.below(1800);
    for (n, (icd, label, ..)) in problems.iter().enumerate() {
        let onset = today
            .plus_days(-(onset_days as i64) + n as i64 * 30)
            .unwrap_or(today);
        entries.push(entry(
            &urn(number, "Condition", n),
            json!({
                "resourceType": "Condition",
                "meta": { "profile": [format!("{JP}JP_Condition")] },
                "clinicalStatus": { "coding": [{ "system": "http://terminology.hl7.org/CodeSystem/condition-clinical", "code": "active" }] },
                "verificationStatus": { "coding": [{ "system": "http://terminology.hl7.org/CodeSystem/condition-ver-status", "code": "confirmed" }] },
                "category": [{ "coding": [{ "system": "http://terminology.hl7.org/CodeSystem/condition-category", "code": "problem-list-item" }] }],
                "code": { "coding": [{ "system": ICD10_SYSTEM, "code": icd, "display": label }], "text": label },
                "subject": { "reference": subject },
                "onsetDateTime": onset.to_string(),
                "recordedDate": onset.to_string()
            }),
        ));
    }
    if rng.below(4) == 0 {
        let (substance, category) = *rng.pick(ALLERGIES);
        entries.push(entry(
            &urn(number, "AllergyIntolerance", 0),
            json!({
                "resourceType": "AllergyIntolerance",
                "meta": { "profile": [format!("{JP}JP_AllergyIntolerance")] },
                "clinicalStatus": { "coding": [{ "system": "http://terminology.hl7.org/CodeSystem/allergyintolerance-clinical", "code": "active" }] },
                "verificationStatus": { "coding": [{ "system": "http://terminology.hl7.org/CodeSystem/allergyintolerance-verification", "code": "confirmed" }] },
                "category": [category],
                "code": { "text": substance },
                "patient": { "reference": subject },
                "recordedDate": today.plus_days(-(onset_days as i64)).unwrap_or(today).to_string()
            }),
        ));
    }
    // Encounters from the first problem's onset to today: mostly outpatient visits.
    let visits = 2 + rng.below(5);
    let mut day = onset_days;
    for v in 0..visits as usize {
        let date = today.plus_days(-(day as i64)).unwrap_or(today);
        let (class, display, kind) = match rng.below(10) {
            0 => ("IMP", "inpatient encounter", "入院"),
            1 => ("EMER", "emergency", "救急外来"),
            _ => ("AMB", "ambulatory", "外来"),
        };
        let department = *rng.pick(DEPARTMENTS);
        // The attending doctor, by staff id: the encounter relates the doctor to the patient.
        let attended = attending.map(|account| {
            json!([{
                "type": [{ "coding": [{ "system": "http://terminology.hl7.org/CodeSystem/v3-ParticipationType", "code": "ATND" }] }],
                "individual": { "identifier": { "system": STAFF_ID_SYSTEM, "value": account } }
            }])
        });
        let encounter_url = urn(number, "Encounter", v);
        let end = if class == "IMP" {
            date.plus_days(3 + rng.below(10) as i64).unwrap_or(date)
        } else {
            date
        };
        let mut encounter = json!({
            "resourceType": "Encounter",
            "meta": { "profile": [format!("{JP}JP_Encounter")] },
            "status": "finished",
            "class": { "system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": class, "display": display },
            "type": [{ "text": kind }],
            "serviceType": {
                "coding": [{ "system": kiroku_records::care::DEPARTMENT_SYSTEM, "code": department.0, "display": department.1 }],
                "text": department.1
            },
            "subject": { "reference": subject },
            "period": { "start": jst(date, 9 + rng.below(7), rng.below(60)), "end": jst(end, 17, 0) }
        });
        if let Some(attended) = &attended {
            encounter["participant"] = attended.clone();
        }
        entries.push(entry(&encounter_url, encounter));
        let when = jst(date, 10, rng.below(60));
        let encounter = encounter_url.as_str();
        let temperature = rng.decimal(358, 374) / 10.0;
        let weight = rng.decimal(45, 85);
        let pulse = 55 + rng.below(40);
        let sys = 105 + rng.below(50);
        for (n, (code, value)) in [
            (("8310-5", "体温"), quantity(temperature, 1, "℃", "Cel")),
            (("29463-7", "体重"), quantity(weight, 1, "kg", "kg")),
            (
                ("8867-4", "脈拍数"),
                quantity(pulse as f64, 0, "回/分", "/min"),
            ),
            (
                ("8480-6", "収縮期血圧"),
                quantity(sys as f64, 0, "mmHg", "mm[Hg]"),
            ),
        ]
        .into_iter()
        .enumerate()
        {
            entries.push(entry(
                &urn(number, "Vital", v * 8 + n),
                observation(subject, encounter, "vital-signs", code, &when, value),
            ));
        }
        let hba1c = rng.decimal(50, 90) / 10.0;
        let creatinine = rng.decimal(5, 14) / 10.0;
        let alt = 8 + rng.below(50);
        for (n, (code, value)) in [
            (("4548-4", "HbA1c"), quantity(hba1c, 1, "%", "%")),
            (
                ("2160-0", "クレアチニン"),
                quantity(creatinine, 2, "mg/dL", "mg/dL"),
            ),
            (("1742-6", "ALT"), quantity(alt as f64, 0, "U/L", "U/L")),
        ]
        .into_iter()
        .enumerate()
        {
            entries.push(entry(
                &urn(number, "Laboratory", v * 8 + n),
                observation(subject, encounter, "laboratory", code, &when, value),
            ));
        }
        // One prescription per problem, one Rp each.
        for (rp, (_, label, hot, drug, dose)) in problems.iter().enumerate() {
            entries.push(entry(
                &urn(number, "MedicationRequest", v * 8 + rp),
                json!({
                    "resourceType": "MedicationRequest",
                    "meta": { "profile": [format!("{JP}JP_MedicationRequest")] },
                    "identifier": [
                        { "system": RP_SYSTEM, "value": (rp + 1).to_string() },
                        { "system": ORDER_IN_RP_SYSTEM, "value": "1" }
                    ],
                    "status": if v + 1 == visits as usize { "active" } else { "completed" },
                    "intent": "order",
                    "medicationCodeableConcept": { "coding": [{ "system": HOT_SYSTEM, "code": hot, "display": drug }], "text": drug },
                    "subject": { "reference": subject },
                    "encounter": { "reference": encounter },
                    "authoredOn": when,
                    "reasonCode": [{ "text": label }],
                    "dosageInstruction": [{ "text": dose }],
                    "dispenseRequest": { "expectedSupplyDuration": { "value": 28, "unit": "日", "system": UCUM, "code": "d" } }
                }),
            ));
        }
        let note = format!(
            "S: 前回受診後、大きな変化なし。{}\nO: 体温 {temperature:.1}℃、脈拍 {pulse}/分、血圧 {sys}/{} mmHg、体重 {weight:.1} kg。HbA1c {hba1c:.1}%。\nA: {}。経過は概ね安定。\nP: 処方継続。次回 4週後に再診、採血予定。",
            if rng.below(3) == 0 { "夜間の咳嗽あり。" } else { "" },
            sys - 35,
            problems.iter().map(|p| p.1).collect::<Vec<_>>().join("、"),
        );
        entries.push(entry(
            &urn(number, "DocumentReference", v),
            json!({
                "resourceType": "DocumentReference",
                "meta": { "profile": [format!("{JP}JP_DocumentReference")] },
                "status": "current",
                "docStatus": "final",
                "type": { "coding": [{ "system": LOINC, "code": "11506-3", "display": "Progress note" }], "text": "経過記録（SOAP）" },
                "category": [{ "text": "診療記録" }],
                "subject": { "reference": subject },
                "date": jst(date, 11, rng.below(60)),
                "description": format!("{} {kind} 経過記録", department.1),
                "content": [{ "attachment": {
                    "contentType": "text/plain; charset=utf-8",
                    "language": "ja",
                    "data": base64_text(&note),
                    "title": "経過記録"
                } }],
                "context": { "encounter": [{ "reference": encounter }] }
            }),
        ));
        day = day
            .saturating_sub(onset_days / visits.max(1) + rng.below(20))
            .max(v as u64);
    }
    json!({ "resourceType": "Bundle", "type": "transaction", "entry": entries })
}

fn base64_text(text: &str) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(text.as_bytes())
}

/// The clinical date of a version written (its search date), as written.
fn clinical_date(served: &kiroku_app::records::Served) -> Option<String> {
    let resource = kiroku_records::resource::Resource::parse(&served.body, None).ok()?;
    kiroku_records::index::index(&resource, &served.id).date
}

/// What [`seed_records`] wrote.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Seeded {
    /// The patients' ids, in the order written.
    pub patient_ids: Vec<String>,
    /// Patients written.
    pub patients: u64,
    /// Resources written (versions).
    pub resources: u64,
    /// Drafts confirmed by a doctor.
    pub confirmed: u64,
}

/// Writes `patients` synthetic patients' charts (from `seed`), patient numbers from
/// `first_number`, as the laboratory's system client (`client`, with its `secret`) would;
/// then `doctor` confirms the drafts older than four weeks. `full`: whole charts, or patients
/// alone. `progress` is told how many patients are written so far.
#[allow(clippy::too_many_arguments)]
pub async fn seed_records(
    app: &App,
    client: (&str, &str),
    doctor: Option<&str>,
    patients: u64,
    first_number: u64,
    seed: u64,
    full: bool,
    progress: &mut dyn FnMut(u64),
) -> Result<Seeded> {
    // The confirming doctor attends every encounter (and so may confirm the drafts).
    let attending = doctor;
    let token = app.access().client_token(client.0, client.1, None).await?;
    let system = app
        .access()
        .authenticate_bearer(&token.token, "demo")
        .await?;
    let doctor = doctor
        .map(|d| {
            kiroku_core::AccountId::parse(d)
                .map(|account| Actor {
                    account,
                    session: Some("demo".into()),
                })
                .map_err(|e| Error::Invalid(e.to_string()))
        })
        .transpose()?;
    let today = app.today()?;
    let cutoff = today.plus_days(-28).unwrap_or(today).to_string();
    let mut rng = Rng::new(seed);
    let mut seeded = Seeded::default();
    // Patients alone go a hundred to a transaction; whole charts one each.
    let per_bundle = if full {
        1
    } else {
        kiroku_records::transaction::ENTRIES_MAX as u64
    };
    let mut number = first_number;
    let end = first_number + patients;
    while number < end {
        let count = per_bundle.min(end - number);
        let mut entries = Vec::new();
        for n in number..number + count {
            if let Value::Array(mut more) =
                chart(&mut rng, n, today, full, attending)["entry"].take()
            {
                entries.append(&mut more);
            }
        }
        let bundle = json!({ "resourceType": "Bundle", "type": "transaction", "entry": entries });
        let written = app
            .records()
            .transact(
                system.clone(),
                bundle.to_string().into_bytes(),
                kiroku_app::records::Writing::default(),
            )
            .await?;
        seeded.patients += count;
        seeded.resources += written.len() as u64;
        seeded.patient_ids.extend(
            written
                .iter()
                .filter(|w| w.served.kind == "Patient")
                .map(|w| w.served.id.clone()),
        );
        if let Some(doctor) = &doctor {
            let old: Vec<(String, String, u64)> = written
                .iter()
                .filter(|w| w.served.state == kiroku_records::record::State::Draft)
                .filter(|w| clinical_date(&w.served).is_some_and(|d| d.as_str() < cutoff.as_str()))
                .map(|w| (w.served.kind.clone(), w.served.id.clone(), w.served.version))
                .collect();
            if !old.is_empty() {
                seeded.confirmed += app.records().confirm_resources(doctor.clone(), old).await?;
            }
        }
        number += count;
        progress(seeded.patients);
    }
    Ok(seeded)
}

#[cfg(test)]
mod tests {
    use super::*;

    // Shows that a chart is a transaction of the resources the demo promises, made the same
    // way from the same seed, with every reference inside the Bundle.
    #[test]
    fn charts_are_whole_and_repeatable() {
        let today = Date::parse("2026-11-25").unwrap();
        let one = chart(&mut Rng::new(7), 42, today, true, Some("yamada.taro1"));
        let again = chart(&mut Rng::new(7), 42, today, true, Some("yamada.taro1"));
        assert_eq!(one, again);
        let entries = one["entry"].as_array().unwrap();
        let kinds: std::collections::BTreeSet<&str> = entries
            .iter()
            .map(|e| e["resource"]["resourceType"].as_str().unwrap())
            .collect();
        for kind in [
            "Patient",
            "Encounter",
            "Condition",
            "Observation",
            "MedicationRequest",
            "DocumentReference",
        ] {
            assert!(kinds.contains(kind), "{kind} in {kinds:?}");
        }
        let urls: std::collections::BTreeSet<&str> = entries
            .iter()
            .map(|e| e["fullUrl"].as_str().unwrap())
            .collect();
        assert_eq!(urls.len(), entries.len(), "every fullUrl is its own");
        let text = one.to_string();
        for reference in text.split("\"reference\":\"").skip(1) {
            let target = &reference[..reference.find('"').unwrap()];
            assert!(urls.contains(target), "{target} is in the Bundle");
        }
        assert_eq!(entries[0]["resource"]["identifier"][0]["value"], "00000042");
        let alone = chart(&mut Rng::new(7), 43, today, false, None);
        assert_eq!(alone["entry"].as_array().unwrap().len(), 1);
    }

    // Shows every resource of two hundred charts conforming to FHIR R4 and to the JP Core
    // profile it claims (every one claims one), as the server will check on writing them.
    #[test]
    fn charts_conform_to_the_profiles_they_claim() {
        let today = Date::parse("2026-11-25").unwrap();
        let mut rng = Rng::new(11);
        for number in 1..=200 {
            let bundle = chart(&mut rng, number, today, true, Some("yamada.taro1"));
            for entry in bundle["entry"].as_array().unwrap() {
                let resource = &entry["resource"];
                assert!(
                    resource["meta"]["profile"][0]
                        .as_str()
                        .is_some_and(|p| p.starts_with(JP)),
                    "{} claims a JP Core profile",
                    resource["resourceType"]
                );
                let tree = kiroku_records::json::parse(resource.to_string().as_bytes()).unwrap();
                if let Err(invalid) = kiroku_records::validate::check(&tree) {
                    panic!("chart {number}: {invalid}");
                }
            }
        }
    }
}
