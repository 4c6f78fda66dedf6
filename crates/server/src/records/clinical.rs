//! Clinical records as the pages show them: a patient's identity, the rows of a chart's
//! sections, a note's text, results with their trend — all read from the FHIR JSON the server
//! keeps, through the records' own parser, so that a value shows as it was recorded (`6.50`
//! stays `6.50`). Dates are shown as Japanese users read them, times in Japan time.

use crate::i18n::Lang;
use kiroku_app::records::Served;
use kiroku_core::{Timestamp, JST_OFFSET_SECONDS};
use kiroku_records::json::{self, Json};

/// The extension that says which representation of a name a `HumanName` is (JP Core: `IDE`
/// for kanji, `SYL` for kana).
const REPRESENTATION: &str = "http://hl7.org/fhir/StructureDefinition/iso21090-EN-representation";

/// A version's resource as a tree (an empty object if it does not parse, which verification
/// would have caught).
pub fn tree(served: &Served) -> Json {
    json::parse(&served.body).unwrap_or(Json::Object(Vec::new()))
}

/// The member at `path` (object members by name; an array on the way takes its first item).
pub fn at<'a>(json: &'a Json, path: &[&str]) -> Option<&'a Json> {
    let mut here = json;
    for name in path {
        if let Json::Array(items) = here {
            here = items.first()?;
        }
        here = here.get(name)?;
    }
    Some(here)
}

/// The items of an array member (none if absent or not an array).
pub fn items<'a>(json: &'a Json, name: &str) -> &'a [Json] {
    match json.get(name) {
        Some(Json::Array(items)) => items,
        _ => &[],
    }
}

/// The text of a string, number or boolean at `path`, as recorded.
pub fn text(json: &Json, path: &[&str]) -> Option<String> {
    match at(json, path)? {
        Json::String(t) => Some(t.value()),
        Json::Number(n) => Some(n.clone()),
        Json::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// A CodeableConcept as a person reads it: its text, else its first coding's display, else its
/// code.
pub fn concept(json: Option<&Json>) -> Option<String> {
    let json = json?;
    let json = match json {
        Json::Array(items) => items.first()?,
        other => other,
    };
    text(json, &["text"])
        .or_else(|| text(json, &["coding", "display"]))
        .or_else(|| text(json, &["coding", "code"]))
}

/// A quantity as recorded: its value and its unit.
pub fn quantity(json: Option<&Json>) -> Option<String> {
    let json = json?;
    let value = text(json, &["value"])?;
    let unit = text(json, &["unit"]).or_else(|| text(json, &["code"]));
    Some(match unit {
        Some(unit) => format!("{value} {unit}"),
        None => value,
    })
}

/// A FHIR date or dateTime as the language reads it: a date as `2026年11月25日`, a time with its
/// offset in Japan time (`2026年11月25日 10:05`). Text that is neither is shown as it is.
pub fn when(lang: Lang, value: &str) -> String {
    if let Some(t) = instant(value) {
        let c = t.civil(JST_OFFSET_SECONDS);
        return match lang {
            Lang::Ja => format!(
                "{}年{}月{}日 {:02}:{:02}",
                c.year, c.month, c.day, c.hour, c.minute
            ),
            Lang::En => format!(
                "{}-{:02}-{:02} {:02}:{:02}",
                c.year, c.month, c.day, c.hour, c.minute
            ),
        };
    }
    match (ymd(value), lang) {
        (Some((y, m, d)), Lang::Ja) => format!("{y}年{m}月{d}日"),
        (Some((y, m, d)), Lang::En) => format!("{y}-{m:02}-{d:02}"),
        _ => value.to_owned(),
    }
}

/// A dateTime with a time and an offset, as an instant (fractions of a second dropped).
pub fn instant(value: &str) -> Option<Timestamp> {
    if value.len() <= 10 {
        return None;
    }
    let (main, zone) = match value.strip_suffix('Z') {
        Some(main) => (main, "Z"),
        None => value.split_at(value.len().checked_sub(6)?),
    };
    let main = main.split('.').next()?;
    Timestamp::parse_given(&format!("{main}{zone}"))
}

/// The year, month and day of a date or dateTime.
pub fn ymd(value: &str) -> Option<(i64, u8, u8)> {
    let date = value.get(..10)?;
    let b = date.as_bytes();
    if b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    let y: i64 = date[..4].parse().ok()?;
    let m: u8 = date[5..7].parse().ok()?;
    let d: u8 = date[8..10].parse().ok()?;
    ((1..=12).contains(&m) && (1..=31).contains(&d)).then_some((y, m, d))
}

/// The Japanese era of a date (明治 from 1868-01-25 on), as `昭和41年`.
pub fn era(y: i64, m: u8, d: u8) -> Option<String> {
    const ERAS: [((i64, u8, u8), &str); 5] = [
        ((2019, 5, 1), "令和"),
        ((1989, 1, 8), "平成"),
        ((1926, 12, 25), "昭和"),
        ((1912, 7, 30), "大正"),
        ((1868, 1, 25), "明治"),
    ];
    let (start, name) = ERAS.iter().find(|(start, _)| (y, m, d) >= *start)?;
    let year = y - start.0 + 1;
    Some(if year == 1 {
        format!("{name}元年")
    } else {
        format!("{name}{year}年")
    })
}

/// A birth date as Japanese forms give it: `1966年6月6日（昭和41年）`, or `1966-06-06`.
pub fn birth_date(lang: Lang, value: &str) -> String {
    match (ymd(value), lang) {
        (Some((y, m, d)), Lang::Ja) => match era(y, m, d) {
            Some(era) => format!("{y}年{m}月{d}日（{era}）"),
            None => format!("{y}年{m}月{d}日"),
        },
        _ => value.to_owned(),
    }
}

/// Full years from `birth` to `today`.
pub fn age(birth: &str, today: (i64, u8, u8)) -> Option<i64> {
    let (y, m, d) = ymd(birth)?;
    let mut years = today.0 - y;
    if (today.1, today.2) < (m, d) {
        years -= 1;
    }
    (years >= 0).then_some(years)
}

/// Today in Japan, as year, month and day.
pub fn today(now: Timestamp) -> (i64, u8, u8) {
    let c = now.civil(JST_OFFSET_SECONDS);
    (c.year, c.month, c.day)
}

/// A patient as the pages show them.
#[derive(Clone, Debug, Default)]
pub struct PatientView {
    pub id: String,
    /// The hospital's patient number (the first identifier's value).
    pub number: String,
    /// The name in kanji.
    pub name: String,
    /// The name in kana.
    pub kana: String,
    /// The birth date, as read.
    pub birth: String,
    /// Age in full years.
    pub age: Option<i64>,
    /// Sex, as read.
    pub sex: String,
    /// `VIP`, `職員` and the like.
    pub flags: Vec<String>,
    pub address: String,
    pub phone: String,
}

/// A HumanName as one line: its text, else family and given names.
fn name_line(name: &Json) -> String {
    if let Some(text) = text(name, &["text"]) {
        return text;
    }
    let family = text(name, &["family"]).unwrap_or_default();
    let given: Vec<String> = items(name, "given")
        .iter()
        .filter_map(Json::as_str)
        .collect();
    format!("{family} {}", given.join(" ")).trim().to_owned()
}

/// A patient's names: kanji (`IDE`, or the first name without a representation) and kana
/// (`SYL`).
fn names(patient: &Json) -> (String, String) {
    let (mut kanji, mut kana) = (None, None);
    for name in items(patient, "name") {
        let representation = items(name, "extension")
            .iter()
            .find(|e| text(e, &["url"]).as_deref() == Some(REPRESENTATION))
            .and_then(|e| text(e, &["valueCode"]));
        match representation.as_deref() {
            Some("SYL") => kana = kana.or_else(|| Some(name_line(name))),
            _ => kanji = kanji.or_else(|| Some(name_line(name))),
        }
    }
    (kanji.unwrap_or_default(), kana.unwrap_or_default())
}

/// The patient of a version.
pub fn patient(served: &Served, lang: Lang, today: (i64, u8, u8)) -> PatientView {
    let json = tree(served);
    let (name, kana) = names(&json);
    let birth = text(&json, &["birthDate"]).unwrap_or_default();
    let sex = match text(&json, &["gender"]).as_deref() {
        Some("male") => lang.pick("男性", "male"),
        Some("female") => lang.pick("女性", "female"),
        Some("other") => lang.pick("その他", "other"),
        Some(_) => lang.pick("不明", "unknown"),
        None => "",
    };
    let flags = items(json.get("meta").unwrap_or(&Json::Null), "security")
        .iter()
        .filter_map(|label| match text(label, &["code"]).as_deref() {
            Some("CELEB") => Some(lang.pick("著名人（VIP）", "VIP").to_owned()),
            Some("EMP") => Some(lang.pick("職員", "staff member").to_owned()),
            _ => None,
        })
        .collect();
    PatientView {
        id: served.id.clone(),
        number: text(&json, &["identifier", "value"]).unwrap_or_default(),
        name,
        kana,
        age: age(&birth, today),
        birth: birth_date(lang, &birth),
        sex: sex.to_owned(),
        flags,
        address: text(&json, &["address", "text"]).unwrap_or_default(),
        phone: text(&json, &["telecom", "value"]).unwrap_or_default(),
    }
}

/// A status code of a chart's resources as the language reads it (the code itself when it is
/// not one of these).
pub fn status(lang: Lang, code: &str) -> String {
    let ja = match code {
        "active" => "継続中",
        "recurrence" => "再発",
        "relapse" => "再燃",
        "inactive" => "非活動",
        "remission" => "寛解",
        "resolved" => "治癒",
        "planned" => "予定",
        "arrived" => "来院",
        "triaged" => "トリアージ済み",
        "in-progress" => "診療中",
        "onleave" => "外出・外泊中",
        "finished" => "終了",
        "cancelled" => "取消",
        "entered-in-error" => "誤入力",
        "on-hold" => "保留",
        "completed" => "完了",
        "stopped" => "中止",
        "draft" => "下書き",
        "current" => "有効",
        "superseded" => "差し替え済み",
        "final" => "確定報告",
        "preliminary" => "速報",
        "amended" => "修正報告",
        "registered" => "受付",
        "low" => "重篤度 低",
        "high" => "重篤度 高",
        "unable-to-assess" => "重篤度 評価不能",
        "food" => "食物",
        "medication" => "薬剤",
        "environment" => "環境",
        "biologic" => "生物由来",
        _ => return code.to_owned(),
    };
    match lang {
        Lang::Ja => ja.to_owned(),
        Lang::En => code.replace('-', " "),
    }
}

/// One row of a chart's section, or of the timeline.
#[derive(Clone, Debug, Default)]
pub struct RecordRow {
    pub kind: String,
    pub id: String,
    /// The clinical date as recorded (for ordering) and as read.
    pub sort: String,
    pub date: String,
    /// What it is (a diagnosis, a drug, a note's type…).
    pub title: String,
    /// More about it (a dose, a department, a value…).
    pub detail: String,
    /// Its status as recorded (`active`, `finished`…).
    pub status: String,
    /// Waiting for confirmation (確定).
    pub draft: bool,
}

/// The clinical date of a resource, as recorded.
pub fn clinical_date(kind: &str, json: &Json) -> String {
    let paths: &[&[&str]] = match kind {
        "Encounter" => &[&["period", "start"]],
        "DocumentReference" | "Composition" => &[&["date"]],
        "Condition" => &[&["onsetDateTime"], &["recordedDate"]],
        "AllergyIntolerance" => &[&["recordedDate"], &["onsetDateTime"]],
        "Observation" => &[
            &["effectiveDateTime"],
            &["effectivePeriod", "start"],
            &["issued"],
        ],
        "MedicationRequest" => &[&["authoredOn"]],
        _ => &[],
    };
    paths.iter().find_map(|p| text(json, p)).unwrap_or_default()
}

/// A version as a row of its chart section.
pub fn row(served: &Served, lang: Lang) -> RecordRow {
    let json = tree(served);
    let kind = served.kind.as_str();
    let sort = clinical_date(kind, &json);
    let (title, detail) = match kind {
        "Encounter" => {
            let class = match text(&json, &["class", "code"]).as_deref() {
                Some("AMB") => lang.pick("外来", "outpatient"),
                Some("IMP") => lang.pick("入院", "inpatient"),
                Some("EMER") => lang.pick("救急", "emergency"),
                Some("HH") => lang.pick("在宅", "home health"),
                _ => lang.pick("受診", "encounter"),
            };
            let department = concept(json.get("serviceType")).unwrap_or_default();
            let end = text(&json, &["period", "end"])
                .map(|e| format!("〜{}", when(lang, &e)))
                .unwrap_or_default();
            (format!("{class} {department}"), end)
        }
        "DocumentReference" | "Composition" => (
            concept(json.get("type")).unwrap_or_else(|| lang.pick("文書", "document").into()),
            text(&json, &["description"]).unwrap_or_default(),
        ),
        "Condition" => (
            concept(json.get("code")).unwrap_or_default(),
            text(&json, &["clinicalStatus", "coding", "code"])
                .map(|c| status(lang, &c))
                .or_else(|| concept(json.get("clinicalStatus")))
                .unwrap_or_default(),
        ),
        "AllergyIntolerance" => (
            concept(json.get("code")).unwrap_or_default(),
            [
                text(&json, &["category"]).map(|c| status(lang, &c)),
                text(&json, &["criticality"]).map(|c| status(lang, &c)),
            ]
            .into_iter()
            .flatten()
            .collect::<Vec<_>>()
            .join(" "),
        ),
        "Observation" => (
            concept(json.get("code")).unwrap_or_default(),
            value(&json).unwrap_or_default(),
        ),
        "MedicationRequest" => (
            concept(json.get("medicationCodeableConcept")).unwrap_or_default(),
            text(&json, &["dosageInstruction", "text"]).unwrap_or_default(),
        ),
        _ => (format!("{kind}/{}", served.id), String::new()),
    };
    RecordRow {
        kind: served.kind.clone(),
        id: served.id.clone(),
        date: if sort.is_empty() {
            String::new()
        } else {
            when(lang, &sort)
        },
        sort,
        title,
        detail,
        status: text(&json, &["status"])
            .or_else(|| text(&json, &["clinicalStatus", "coding", "code"]))
            .map(|c| status(lang, &c))
            .unwrap_or_default(),
        draft: served.state == kiroku_records::record::State::Draft,
    }
}

/// An observation's value as recorded.
pub fn value(json: &Json) -> Option<String> {
    quantity(json.get("valueQuantity"))
        .or_else(|| text(json, &["valueString"]))
        .or_else(|| concept(json.get("valueCodeableConcept")))
        .or_else(|| text(json, &["valueInteger"]))
        .or_else(|| text(json, &["valueBoolean"]))
}

/// A result's latest value and its trend.
#[derive(Clone, Debug, Default)]
pub struct Trend {
    pub title: String,
    /// The latest value as recorded, its date, and the resource.
    pub latest: String,
    pub date: String,
    pub id: String,
    pub draft: bool,
    /// The values, oldest first, as an SVG polyline's points in a 120 × 28 box (empty with fewer
    /// than two numeric values).
    pub points: String,
    /// How many values the trend holds.
    pub count: usize,
    /// `↑`, `↓` or `→` from the value before the latest.
    pub arrow: &'static str,
}

/// The latest results, one per code, with their trends, in the order of their latest date
/// (newest first). `observations` are newest first.
pub fn trends(observations: &[Served], lang: Lang) -> Vec<Trend> {
    let mut groups: Vec<(String, Vec<(&Served, Json)>)> = Vec::new();
    for served in observations {
        let json = tree(served);
        let key = text(&json, &["code", "coding", "code"])
            .or_else(|| concept(json.get("code")))
            .unwrap_or_default();
        match groups.iter_mut().find(|(k, _)| *k == key) {
            Some((_, members)) => members.push((served, json)),
            None => groups.push((key, vec![(served, json)])),
        }
    }
    groups
        .into_iter()
        .map(|(_, members)| {
            let (latest, json) = &members[0];
            let numbers: Vec<f64> = members
                .iter()
                .rev()
                .filter_map(|(_, j)| text(j, &["valueQuantity", "value"])?.parse().ok())
                .collect();
            let arrow = match numbers.as_slice() {
                [.., before, last] if last > before => "↑",
                [.., before, last] if last < before => "↓",
                [_, _, ..] => "→",
                _ => "",
            };
            let date = clinical_date("Observation", json);
            Trend {
                title: concept(json.get("code")).unwrap_or_default(),
                latest: value(json).unwrap_or_default(),
                date: when(lang, &date),
                id: latest.id.clone(),
                draft: latest.state == kiroku_records::record::State::Draft,
                points: sparkline(&numbers),
                count: members.len(),
                arrow,
            }
        })
        .collect()
}

/// The points of a polyline through `values` in a 120 × 28 box, 2 units of margin.
fn sparkline(values: &[f64]) -> String {
    if values.len() < 2 {
        return String::new();
    }
    let (low, high) = values
        .iter()
        .fold((f64::MAX, f64::MIN), |(l, h), v| (l.min(*v), h.max(*v)));
    let span = if high > low { high - low } else { 1.0 };
    let step = 116.0 / (values.len() - 1) as f64;
    values
        .iter()
        .enumerate()
        .map(|(i, v)| {
            let x = 2.0 + step * i as f64;
            let y = 26.0 - (v - low) / span * 24.0;
            format!("{x:.1},{y:.1}")
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// A note's title and text: the attachments' plain text (decoded from base64), or its
/// description when it carries none.
pub fn note_text(served: &Served) -> (String, String) {
    use base64::Engine as _;
    let json = tree(served);
    let title = concept(json.get("type"))
        .or_else(|| text(&json, &["description"]))
        .unwrap_or_default();
    let mut body = Vec::new();
    for content in items(&json, "content") {
        let Some(attachment) = content.get("attachment") else {
            continue;
        };
        let is_text =
            text(attachment, &["contentType"]).is_some_and(|t| t.starts_with("text/plain"));
        if let (true, Some(data)) = (is_text, text(attachment, &["data"])) {
            if let Ok(bytes) = base64::engine::general_purpose::STANDARD.decode(data.as_bytes()) {
                body.push(String::from_utf8_lossy(&bytes).into_owned());
            }
        } else if let Some(url) = text(attachment, &["url"]) {
            body.push(format!("[{url}]"));
        }
    }
    if body.is_empty() {
        body.push(text(&json, &["description"]).unwrap_or_default());
    }
    (title, body.join("\n\n"))
}

/// A document's attachments held as Binary resources here: each one's title (or media type)
/// and where the browser reads it (`/fhir/Binary/{id}`, the content in its own format).
pub fn attachments(served: &Served) -> Vec<(String, String)> {
    let json = tree(served);
    items(&json, "content")
        .iter()
        .filter_map(|content| {
            let attachment = content.get("attachment")?;
            let id = text(attachment, &["url"])
                .and_then(|url| kiroku_records::index::reference_to(&url, "Binary"))?;
            let title = text(attachment, &["title"])
                .or_else(|| text(attachment, &["contentType"]))
                .unwrap_or_else(|| format!("Binary/{id}"));
            Some((title, format!("/fhir/Binary/{id}")))
        })
        .collect()
}

/// Most characters of one value a page shows of a resource's fields (a Binary's data is
/// longer; its content is read at `/fhir/Binary/{id}`).
const FIELD_CHARS_SHOWN: usize = 500;

/// A resource's fields as a page lists them: every leaf, less the server's `id` and `meta`,
/// each value cut at [`FIELD_CHARS_SHOWN`] characters.
pub fn fields(served: &Served) -> Vec<(String, String)> {
    leaves(&tree(served))
        .into_iter()
        .filter(|(path, _)| !path.starts_with("meta.") && path != "id")
        .map(|(path, value)| {
            let count = value.chars().count();
            if count > FIELD_CHARS_SHOWN {
                let shown: String = value.chars().take(80).collect();
                (path, format!("{shown}… ({count})"))
            } else {
                (path, value)
            }
        })
        .collect()
}

/// The note kind and encounter of a note the editor wrote.
pub fn note_kind(
    served: &Served,
) -> (Option<kiroku_app::records::chart::NoteKind>, Option<String>) {
    let json = tree(served);
    let kind = items(json.get("type").unwrap_or(&Json::Null), "coding")
        .iter()
        .find(|c| text(c, &["system"]).as_deref() == Some("http://loinc.org"))
        .and_then(|c| text(c, &["code"]))
        .and_then(|code| kiroku_app::records::chart::NoteKind::of_loinc(&code));
    let encounter = text(&json, &["context", "encounter", "reference"])
        .and_then(|r| r.strip_prefix("Encounter/").map(str::to_owned));
    (kind, encounter)
}

/// Every leaf of a resource as `path = value` lines, in the order recorded (for showing any
/// resource, and the differences between two versions).
pub fn leaves(json: &Json) -> Vec<(String, String)> {
    fn walk(json: &Json, path: &mut String, out: &mut Vec<(String, String)>) {
        match json {
            Json::Object(members) => {
                for (name, value) in members {
                    let len = path.len();
                    if !path.is_empty() {
                        path.push('.');
                    }
                    path.push_str(&name.value());
                    walk(value, path, out);
                    path.truncate(len);
                }
            }
            Json::Array(values) => {
                for (i, value) in values.iter().enumerate() {
                    let len = path.len();
                    path.push_str(&format!("[{i}]"));
                    walk(value, path, out);
                    path.truncate(len);
                }
            }
            Json::String(t) => out.push((path.clone(), t.value())),
            Json::Number(n) => out.push((path.clone(), n.clone())),
            Json::Bool(b) => out.push((path.clone(), b.to_string())),
            Json::Null => out.push((path.clone(), "null".into())),
        }
    }
    let mut out = Vec::new();
    walk(json, &mut String::new(), &mut out);
    out
}

/// One line of a difference between two versions.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Change {
    /// Only in the older version.
    Removed(String),
    /// Only in the newer version.
    Added(String),
}

/// The lines that differ between `old` and `new` (a longest-common-subsequence difference,
/// bounded: beyond 2,000 lines a side, every line of both is shown as changed).
pub fn difference(old: &[String], new: &[String]) -> Vec<Change> {
    const LINES_MAX: usize = 2000;
    if old.len() > LINES_MAX || new.len() > LINES_MAX {
        return old
            .iter()
            .map(|l| Change::Removed(l.clone()))
            .chain(new.iter().map(|l| Change::Added(l.clone())))
            .collect();
    }
    // lengths[i][j]: the longest common subsequence of old[i..] and new[j..].
    let mut lengths = vec![vec![0u32; new.len() + 1]; old.len() + 1];
    for i in (0..old.len()).rev() {
        for j in (0..new.len()).rev() {
            lengths[i][j] = if old[i] == new[j] {
                lengths[i + 1][j + 1] + 1
            } else {
                lengths[i + 1][j].max(lengths[i][j + 1])
            };
        }
    }
    let (mut i, mut j, mut out) = (0, 0, Vec::new());
    while i < old.len() || j < new.len() {
        if i < old.len() && j < new.len() && old[i] == new[j] {
            i += 1;
            j += 1;
        } else if j < new.len() && (i == old.len() || lengths[i][j + 1] >= lengths[i + 1][j]) {
            out.push(Change::Added(new[j].clone()));
            j += 1;
        } else {
            out.push(Change::Removed(old[i].clone()));
            i += 1;
        }
    }
    out
}

/// The lines a version is compared by: a note's text, or any other resource's leaves (less
/// the server's `meta` and `id`, which every version changes).
pub fn comparable(served: &Served) -> Vec<String> {
    if matches!(served.kind.as_str(), "DocumentReference") {
        let (_, text) = note_text(served);
        return text.lines().map(str::to_owned).collect();
    }
    leaves(&tree(served))
        .into_iter()
        .filter(|(path, _)| {
            path != "id"
                && !path.starts_with("meta.versionId")
                && !path.starts_with("meta.lastUpdated")
        })
        .map(|(path, value)| format!("{path} = {value}"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    // Shows the eras as Japanese forms give them, at their boundaries.
    #[test]
    fn eras_begin_on_their_days() {
        assert_eq!(era(1989, 1, 7).as_deref(), Some("昭和64年"));
        assert_eq!(era(1989, 1, 8).as_deref(), Some("平成元年"));
        assert_eq!(era(2019, 4, 30).as_deref(), Some("平成31年"));
        assert_eq!(era(2019, 5, 1).as_deref(), Some("令和元年"));
        assert_eq!(era(1966, 6, 6).as_deref(), Some("昭和41年"));
        assert_eq!(era(1926, 12, 24).as_deref(), Some("大正15年"));
        assert_eq!(era(1800, 1, 1), None);
        assert_eq!(
            birth_date(Lang::Ja, "1966-06-06"),
            "1966年6月6日（昭和41年）"
        );
        assert_eq!(birth_date(Lang::En, "1966-06-06"), "1966-06-06");
    }

    // Shows ages counted in full years, the birthday itself included.
    #[test]
    fn ages_count_full_years() {
        assert_eq!(age("1966-06-06", (2026, 6, 5)), Some(59));
        assert_eq!(age("1966-06-06", (2026, 6, 6)), Some(60));
        assert_eq!(age("not a date", (2026, 6, 6)), None);
    }

    // Shows FHIR dates and times read in Japan time, whatever offset they were written with.
    #[test]
    fn times_are_shown_in_japan_time() {
        assert_eq!(
            when(Lang::Ja, "2026-11-25T01:05:00Z"),
            "2026年11月25日 10:05"
        );
        assert_eq!(
            when(Lang::Ja, "2026-11-25T10:05:00.123+09:00"),
            "2026年11月25日 10:05"
        );
        assert_eq!(when(Lang::En, "2026-11-25"), "2026-11-25");
        assert_eq!(when(Lang::Ja, "2026-11"), "2026-11");
    }

    // Shows the difference of two texts: what was removed and what was added, nothing else.
    #[test]
    fn differences_name_changed_lines() {
        let lines = |s: &str| s.lines().map(str::to_owned).collect::<Vec<_>>();
        let changes = difference(&lines("a\nb\nc"), &lines("a\nB\nc\nd"));
        assert_eq!(
            changes,
            vec![
                Change::Added("B".into()),
                Change::Removed("b".into()),
                Change::Added("d".into())
            ]
        );
        assert!(difference(&lines("x"), &lines("x")).is_empty());
    }
}
