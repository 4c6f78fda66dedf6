//! What a client asks of a search, a history or a Provenance lookup, read from its parameters:
//! every value checked here, before anything is looked up, so that hostile parameters are
//! refused by one parser that never panics (`fuzz/fuzz_targets/search_params.rs`). Running a
//! search over the tables is the use case's work.

use crate::index::reference_to;
use crate::normalise::normalise;
use crate::resource::is_id;

/// Most resources on one page of search or history.
pub const PAGE_MAX: u64 = 100;
/// Resources on a page when the client does not say.
pub const PAGE_DEFAULT: u64 = 20;
/// Longest token value (`system|code`'s code) a search takes.
const TOKEN_VALUE_MAX: usize = 256;

/// A search parameter the server does not know, or a value it cannot use.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SearchError {
    /// Not a parameter of this type.
    #[error("unknown search parameter {0}")]
    Unknown(String),
    /// A value that does not fit its parameter.
    #[error("search parameter {0} has a value that cannot be used")]
    BadValue(String),
}

/// A date comparison of FHIR search (`eq` by prefix, `ge`, `le`, `gt`, `lt`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DateTest {
    /// Equal at the precision given (`2026-12` matches every day of December).
    Prefix(String),
    /// On or after.
    Ge(String),
    /// On or before.
    Le(String),
    /// After.
    Gt(String),
    /// Before.
    Lt(String),
}

impl DateTest {
    /// Reads `[prefix]date`; `None` for anything else.
    pub fn parse(value: &str) -> Option<DateTest> {
        let (op, date) =
            if value.len() > 2 && value.as_bytes()[..2].iter().all(u8::is_ascii_lowercase) {
                value.split_at(2)
            } else {
                ("eq", value)
            };
        let ok = (4..=35).contains(&date.len())
            && date
                .bytes()
                .all(|b| b.is_ascii_digit() || b"-:T+.Z".contains(&b));
        if !ok {
            return None;
        }
        let date = date.to_owned();
        Some(match op {
            "eq" => DateTest::Prefix(date),
            "ge" => DateTest::Ge(date),
            "le" => DateTest::Le(date),
            "gt" => DateTest::Gt(date),
            "lt" => DateTest::Lt(date),
            _ => return None,
        })
    }

    /// Does a stored date (compared as text, the same precision being usual) pass?
    pub fn passes(&self, date: &str) -> bool {
        if date.is_empty() {
            return false;
        }
        match self {
            DateTest::Prefix(p) => date.starts_with(p.as_str()),
            // A date within the given day counts as equal to it for ge and le.
            DateTest::Ge(d) => date >= d.as_str() || date.starts_with(d.as_str()),
            DateTest::Le(d) => date <= d.as_str() || date.starts_with(d.as_str()),
            DateTest::Gt(d) => date > d.as_str() && !date.starts_with(d.as_str()),
            DateTest::Lt(d) => date < d.as_str(),
        }
    }
}

/// A bound on when a resource's latest version was written (`_lastUpdated`), in microseconds
/// since the epoch, as the ledger's entry times are kept.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Updated {
    /// Written after.
    Gt(i64),
    /// Written at or after.
    Ge(i64),
    /// Written before.
    Lt(i64),
    /// Written at or before.
    Le(i64),
}

impl Updated {
    /// Reads `gt|ge|lt|le` and an instant: the form `meta.lastUpdated` is served in, RFC 3339
    /// with `Z` or an offset, or a date or date and time without one (Japan time). `eq` and
    /// no prefix are refused: an instant is never equal to a date.
    pub fn parse(value: &str) -> Option<Updated> {
        let (op, instant) = value.split_at_checked(2)?;
        let micros = instant_micros(instant)?;
        Some(match op {
            "gt" => Updated::Gt(micros),
            "ge" => Updated::Ge(micros),
            "lt" => Updated::Lt(micros),
            "le" => Updated::Le(micros),
            _ => return None,
        })
    }

    /// Does a version written at `micros` pass?
    pub fn passes(self, micros: i64) -> bool {
        match self {
            Updated::Gt(t) => micros > t,
            Updated::Ge(t) => micros >= t,
            Updated::Lt(t) => micros < t,
            Updated::Le(t) => micros <= t,
        }
    }
}

/// An instant as FHIR writes it (`2026-12-08T10:57:54.586448+09:00`, the fraction of a second
/// optional, up to nine digits and kept to the microsecond), or as people give one
/// ([`kiroku_core::Timestamp::parse_given`]), in microseconds since the epoch.
fn instant_micros(text: &str) -> Option<i64> {
    let Some(dot) = text.find('.') else {
        return Some(kiroku_core::Timestamp::parse_given(text)?.micros());
    };
    let digits = text[dot + 1..]
        .bytes()
        .take_while(u8::is_ascii_digit)
        .count();
    if !(1..=9).contains(&digits) || dot < 19 {
        return None;
    }
    let fraction = &text[dot + 1..dot + 1 + digits];
    let whole = format!("{}{}", &text[..dot], &text[dot + 1 + digits..]);
    let micros: i64 = format!("{fraction:0<6}").get(..6)?.parse().ok()?;
    Some(kiroku_core::Timestamp::parse_given(&whole)?.micros() + micros)
}

/// A token test: `system|code`, `|code` (no system) or `code` (any system).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Token {
    /// The system asked for (`Some("")` for none), or `None` for any.
    pub system: Option<String>,
    /// The code or value.
    pub value: String,
}

impl Token {
    /// Reads a token; `None` when its value is empty or too long.
    pub fn parse(value: &str) -> Option<Token> {
        let token = match value.split_once('|') {
            Some((system, code)) => Token {
                system: Some(system.to_owned()),
                value: code.to_owned(),
            },
            None => Token {
                system: None,
                value: value.to_owned(),
            },
        };
        (!token.value.is_empty() && token.value.len() <= TOKEN_VALUE_MAX).then_some(token)
    }
}

/// A parsed search of one resource type.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SearchQuery {
    /// The resource type.
    pub kind: &'static str,
    /// `_id`: these ids only.
    pub ids: Option<Vec<String>>,
    /// `patient` / `subject`: this patient's resources.
    pub patient: Option<String>,
    /// `encounter`: this encounter's resources.
    pub encounter: Option<String>,
    /// Token parameters (`identifier`, `code`, `status` …), all to hold.
    pub tokens: Vec<(String, Token)>,
    /// `name` (and `family`, `given`, `phonetic`), normalised: names starting so.
    pub name: Option<String>,
    /// `date` comparisons, all to hold.
    pub dates: Vec<DateTest>,
    /// `_lastUpdated` bounds, all to hold.
    pub updated: Vec<Updated>,
    /// `_count`, at most [`PAGE_MAX`].
    pub count: u64,
    /// `_sort=-date`.
    pub descending: bool,
    /// `_page`: the cursor after which this page starts.
    pub after: Option<String>,
    /// `_include=…:patient`: the patients of the matches too.
    pub include_patient: bool,
}

/// The token parameters of each type (the status of every type is one).
fn token_params(kind: &str) -> &'static [&'static str] {
    match kind {
        "Patient" => &["identifier", "gender", "birthdate", "status"],
        "Practitioner" | "Organization" => &["identifier", "status"],
        _ => &[
            "identifier",
            "status",
            "category",
            "code",
            "clinical-status",
            "class",
            "type",
        ],
    }
}

impl SearchQuery {
    /// A search of every resource of `kind`, the first page in date order.
    pub fn of(kind: &'static str) -> SearchQuery {
        SearchQuery {
            kind,
            ids: None,
            patient: None,
            encounter: None,
            tokens: Vec::new(),
            name: None,
            dates: Vec::new(),
            updated: Vec::new(),
            count: PAGE_DEFAULT,
            descending: false,
            after: None,
            include_patient: false,
        }
    }

    /// The newest `count` resources of `kind` of `patient` (a chart's section).
    pub fn newest_of_patient(kind: &'static str, patient: &str, count: u64) -> SearchQuery {
        SearchQuery {
            patient: Some(patient.to_owned()),
            count,
            descending: true,
            ..SearchQuery::of(kind)
        }
    }

    /// Reads a search of `kind` from its parameters. Lists (`a,b`, but for `_id`) and repeated
    /// parameters (but for `date` and `_lastUpdated`) are refused, never guessed.
    pub fn parse(
        kind: &'static str,
        params: &[(String, String)],
    ) -> Result<SearchQuery, SearchError> {
        let bad = |name: &str| SearchError::BadValue(name.to_owned());
        let mut search = SearchQuery::of(kind);
        for (name, value) in params {
            let repeated = params.iter().filter(|(n, _)| n == name).count() > 1;
            if (value.contains(',') && name != "_id")
                || (repeated && name != "date" && name != "_lastUpdated")
            {
                return Err(bad(name));
            }
            match name.as_str() {
                "_count" => {
                    search.count = value
                        .parse::<u64>()
                        .ok()
                        .filter(|c| *c >= 1)
                        .ok_or_else(|| bad(name))?
                        .min(PAGE_MAX)
                }
                "_sort" => match value.as_str() {
                    "date" => search.descending = false,
                    "-date" => search.descending = true,
                    _ => return Err(bad(name)),
                },
                "_page" => search.after = Some(value.clone()),
                "_include" => match value.as_str() {
                    "*" => search.include_patient = true,
                    v if v.ends_with(":patient") || v.ends_with(":subject") => {
                        search.include_patient = true
                    }
                    _ => return Err(bad(name)),
                },
                "_id" => {
                    let ids: Vec<String> = value.split(',').map(str::to_owned).collect();
                    if ids.iter().any(|i| !is_id(i)) {
                        return Err(bad(name));
                    }
                    search.ids = Some(ids);
                }
                "_format" => {}
                "_lastUpdated" => search
                    .updated
                    .push(Updated::parse(value).ok_or_else(|| bad(name))?),
                "patient" | "subject" if kind != "Patient" => {
                    let id = reference_to(value, "Patient")
                        .or_else(|| is_id(value).then(|| value.clone()))
                        .ok_or_else(|| bad(name))?;
                    search.patient = Some(id);
                }
                "encounter" if kind != "Patient" => {
                    let id = reference_to(value, "Encounter")
                        .or_else(|| is_id(value).then(|| value.clone()))
                        .ok_or_else(|| bad(name))?;
                    search.encounter = Some(id);
                }
                "date" if kind != "Patient" => search
                    .dates
                    .push(DateTest::parse(value).ok_or_else(|| bad(name))?),
                "name" | "family" | "given" | "phonetic"
                    if matches!(kind, "Patient" | "Practitioner" | "Organization") =>
                {
                    let normalised = normalise(value);
                    if normalised.is_empty() {
                        return Err(bad(name));
                    }
                    search.name = Some(normalised);
                }
                other if token_params(kind).contains(&other) => {
                    let token = Token::parse(value).ok_or_else(|| bad(name))?;
                    search.tokens.push((other.to_owned(), token));
                }
                other => return Err(SearchError::Unknown(other.to_owned())),
            }
        }
        Ok(search)
    }
}

/// A version number as a URL or a parameter writes it: 1 and up, within what the tables keep
/// (`i64`); `None` for anything else (`_history/18446744073709551615` is no version).
pub fn version_number(text: &str) -> Option<u64> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse::<u64>()
        .ok()
        .filter(|v| (1..=i64::MAX as u64).contains(v))
}

/// What `GET [type]/[id]/_history` asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HistoryQuery {
    /// Versions on the page.
    pub count: u64,
    /// `_page`: versions before this one (the cursor of the previous page).
    pub before: Option<u64>,
}

impl HistoryQuery {
    /// Reads a history's parameters (`_count`, `_page`, `_format`).
    pub fn parse(params: &[(String, String)]) -> Result<HistoryQuery, SearchError> {
        let mut query = HistoryQuery {
            count: PAGE_DEFAULT,
            before: None,
        };
        for (name, value) in params {
            let bad = || SearchError::BadValue(name.clone());
            match name.as_str() {
                "_count" => {
                    query.count = value
                        .parse::<u64>()
                        .ok()
                        .filter(|c| *c >= 1)
                        .ok_or_else(bad)?
                        .min(PAGE_MAX)
                }
                "_page" => {
                    query.before = Some(
                        value
                            .parse::<u64>()
                            .ok()
                            .filter(|v| i64::try_from(*v).is_ok())
                            .ok_or_else(bad)?,
                    )
                }
                "_format" => {}
                other => return Err(SearchError::Unknown(other.to_owned())),
            }
        }
        Ok(query)
    }
}

/// What `GET Provenance?target=Type/id[/_history/v]` asks for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProvenanceQuery {
    /// The target's type, as sent (checked by the read that follows).
    pub kind: String,
    /// The target's id, as sent.
    pub id: String,
    /// One version of it, or all.
    pub version: Option<u64>,
}

impl ProvenanceQuery {
    /// Reads the parameters: exactly one `target`, and `_count` or `_format` beside it.
    pub fn parse(params: &[(String, String)]) -> Result<ProvenanceQuery, SearchError> {
        let bad = || SearchError::BadValue("target".into());
        if let Some((name, _)) = params
            .iter()
            .find(|(k, _)| !matches!(k.as_str(), "target" | "_count" | "_format"))
        {
            return Err(SearchError::Unknown(name.clone()));
        }
        let targets: Vec<&str> = params
            .iter()
            .filter(|(k, _)| k == "target")
            .map(|(_, v)| v.as_str())
            .collect();
        let [target] = targets.as_slice() else {
            return Err(bad());
        };
        let parts: Vec<&str> = target.split('/').collect();
        let (kind, id, version) = match parts.as_slice() {
            [kind, id] => (*kind, *id, None),
            [kind, id, "_history", v] => (*kind, *id, Some(version_number(v).ok_or_else(bad)?)),
            _ => return Err(bad()),
        };
        Ok(ProvenanceQuery {
            kind: kind.to_owned(),
            id: id.to_owned(),
            version,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn searches_read_their_parameters_and_refuse_the_rest() {
        let q = SearchQuery::parse(
            "Observation",
            &params(&[
                ("patient", "Patient/p1"),
                ("code", "http://loinc.org|1234-5"),
                ("date", "ge2026-01-01"),
                ("date", "lt2026-02"),
                ("_count", "500"),
                ("_sort", "-date"),
            ]),
        )
        .expect("a search");
        assert_eq!(q.patient.as_deref(), Some("p1"));
        assert_eq!(q.count, PAGE_MAX);
        assert!(q.descending);
        assert_eq!(q.dates.len(), 2);
        assert_eq!(
            q.tokens,
            vec![(
                "code".to_owned(),
                Token {
                    system: Some("http://loinc.org".into()),
                    value: "1234-5".into()
                }
            )]
        );
        for bad in [
            &[("code", "a,b")][..],
            &[("status", "a"), ("status", "b")],
            &[("_count", "0")],
            &[("date", "yesterday")],
            &[("code", "sys|")],
            &[("_id", "no spaces")],
        ] {
            assert!(matches!(
                SearchQuery::parse("Observation", &params(bad)),
                Err(SearchError::BadValue(_))
            ));
        }
        assert_eq!(
            SearchQuery::parse("Patient", &params(&[("patient", "x")])),
            Err(SearchError::Unknown("patient".into()))
        );
    }

    #[test]
    fn last_updated_takes_bounds_on_an_instant() {
        let q = SearchQuery::parse(
            "Observation",
            &params(&[
                ("_lastUpdated", "gt2026-12-08T01:00:00.000000Z"),
                ("_lastUpdated", "le2026-12-09"),
            ]),
        )
        .expect("a search");
        let t = kiroku_core::Timestamp::parse("2026-12-08T01:00:00.000000Z")
            .expect("a time")
            .micros();
        assert_eq!(q.updated[0], Updated::Gt(t));
        assert!(q.updated[0].passes(t + 1) && !q.updated[0].passes(t));
        // 2026-12-09 is midnight in Japan, 15:00 the day before in UTC.
        let midnight = kiroku_core::Timestamp::parse("2026-12-08T15:00:00.000000Z")
            .expect("a time")
            .micros();
        assert_eq!(q.updated[1], Updated::Le(midnight));
        // As `meta.lastUpdated` is served: Japan time, to the microsecond.
        assert_eq!(
            Updated::parse("gt2026-12-08T10:00:00.000001+09:00"),
            Some(Updated::Gt(t + 1))
        );
        assert_eq!(
            Updated::parse("gt2026-12-08T10:00:00.5+09:00"),
            Some(Updated::Gt(t + 500_000))
        );
        for bad in [
            "2026-12-08",
            "eq2026-12-08",
            "gt",
            "gtyesterday",
            "ge2026-13-01",
        ] {
            assert!(
                SearchQuery::parse("Observation", &params(&[("_lastUpdated", bad)])).is_err(),
                "{bad}"
            );
        }
    }

    #[test]
    fn versions_are_positive_and_within_the_tables() {
        assert_eq!(version_number("1"), Some(1));
        assert_eq!(version_number("0"), None);
        assert_eq!(version_number("+1"), None);
        assert_eq!(version_number("18446744073709551615"), None);
        assert_eq!(version_number(&i64::MAX.to_string()), Some(i64::MAX as u64));
        assert_eq!(
            HistoryQuery::parse(&params(&[("_page", "9223372036854775808")])),
            Err(SearchError::BadValue("_page".into()))
        );
        assert_eq!(
            ProvenanceQuery::parse(&params(&[("target", "Patient/p/_history/2")])),
            Ok(ProvenanceQuery {
                kind: "Patient".into(),
                id: "p".into(),
                version: Some(2)
            })
        );
        assert!(ProvenanceQuery::parse(&params(&[("target", "Patient/p/_history/0")])).is_err());
    }
}
