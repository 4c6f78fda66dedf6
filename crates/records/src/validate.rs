//! Checks a resource against the FHIR R4 (4.0.1) structure and the JP Core 1.1.2 profiles it
//! claims in `meta.profile`: which elements exist, their cardinality and JSON shape, the
//! formats of primitive values, required bindings whose value set can be listed, fixed and
//! pattern values, and the slices JP Core defines by value (the Rp number and order-in-Rp
//! identifiers of a prescription, the category of a laboratory result, extensions by url).
//!
//! The rules are facts read off the published definitions by `scripts/fhir-rules` into
//! `fhir-r4.rules` (its header says the format); `docs/records-validation.md` says what is checked
//! and what is not. Nothing here changes a resource: it is kept as sent.

use crate::json::Json;
use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::OnceLock;

/// Problems reported at most, so a broken document does not make a huge answer.
pub const PROBLEMS_MAX: usize = 20;

/// The rules, as `scripts/fhir-rules` wrote them.
const RULES: &str = include_str!("fhir-r4.rules");

/// Why a resource does not conform.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Invalid {
    /// What is wrong, where (in document order; at most [`PROBLEMS_MAX`]).
    pub problems: Vec<Problem>,
    /// The profiles checked besides the base structure.
    pub profiles: Vec<String>,
}

impl std::fmt::Display for Invalid {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "the resource does not conform")?;
        for p in &self.problems {
            write!(f, "; {}: {:?}", p.expression, p.what)?;
        }
        Ok(())
    }
}

impl std::error::Error for Invalid {}

/// One problem: where (a FHIRPath expression such as `Patient.name[0].family`) and what.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Problem {
    /// Where.
    pub expression: String,
    /// What.
    pub what: What,
}

/// What is wrong with an element. Texts only name elements, types, codes and profiles — never
/// a value that was sent, which may be a patient's.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum What {
    /// No element of that name is defined here.
    Unknown,
    /// A repeating element sent as a single value.
    NotArray,
    /// A single element sent as an array.
    NotSingle,
    /// Empty object, empty array, empty string or `null`.
    Empty,
    /// Fewer than `min` values.
    TooFew {
        /// The least.
        min: u32,
    },
    /// More than `max` values.
    TooMany {
        /// The most.
        max: u32,
    },
    /// Not a valid value of the primitive type.
    Format {
        /// The FHIR type.
        of: String,
    },
    /// A code outside the required value set.
    Binding {
        /// The value set.
        value_set: String,
    },
    /// Does not hold the fixed or pattern value the profile sets.
    Pattern {
        /// The value, as JSON (profile text, never sent data).
        pattern: String,
    },
    /// A slice has too few or too many items.
    Slice {
        /// The slice's name.
        name: String,
        /// The least.
        min: u32,
        /// The most, when bounded.
        max: Option<u32>,
    },
    /// An item of a slice misses a member the slice requires.
    SliceMember {
        /// The slice's name.
        name: String,
        /// The member.
        member: String,
    },
    /// An item matches no slice, and the slicing is closed.
    Closed,
    /// A contained resource of a type without definitions.
    ResourceType,
    /// An extension has both a value and nested extensions, or neither (ext-1).
    Extension,
}

#[derive(Debug)]
struct Element {
    min: u32,
    max: Option<u32>,
    types: Vec<String>,
    binding: Option<String>,
    reference: Option<String>,
}

#[derive(Debug)]
struct Slice {
    name: String,
    min: u32,
    max: Option<u32>,
    matches: Json,
    whole: Json,
    required: Vec<String>,
    closed: bool,
    /// Fixed values of optional members: binding where those members are present.
    optional: Json,
}

#[derive(Debug, Default)]
struct Def {
    primitive: bool,
    /// A resource type (not a datatype), or a profile of one.
    resource: bool,
    elements: HashMap<String, Element>,
    children: HashMap<String, Vec<String>>,
    patterns: HashMap<String, Json>,
    slices: HashMap<String, Vec<Slice>>,
}

/// The definitions of base types and resources, and of the JP Core profiles.
#[derive(Debug, Default)]
struct Rules {
    types: HashMap<String, Def>,
    profiles: HashMap<String, (String, Def)>,
    value_sets: HashMap<String, HashSet<String>>,
}

fn rules() -> &'static Rules {
    static RULES_PARSED: OnceLock<Rules> = OnceLock::new();
    RULES_PARSED.get_or_init(|| Rules::parse(RULES))
}

fn max_of(text: &str) -> Option<u32> {
    text.parse().ok()
}

fn pattern(text: &str) -> Json {
    crate::json::parse(text.as_bytes()).unwrap_or(Json::Null)
}

/// Which definition the `E`, `F` and `S` lines belong to: a type's, or a profile's.
enum At {
    Nothing,
    Type(String),
    Profile(String),
}

impl Rules {
    fn target(&mut self, at: &At) -> Option<&mut Def> {
        match at {
            At::Nothing => None,
            At::Type(t) => self.types.get_mut(t),
            At::Profile(p) => self.profiles.get_mut(p).map(|(_, d)| d),
        }
    }

    fn parse(text: &str) -> Rules {
        let mut rules = Rules::default();
        let mut at = At::Nothing;
        for line in text.lines() {
            let f: Vec<&str> = line.split('\t').collect();
            match f.as_slice() {
                ["T", name, kind] => {
                    rules.types.insert(
                        (*name).to_owned(),
                        Def {
                            primitive: *kind == "primitive",
                            resource: *kind == "resource",
                            ..Def::default()
                        },
                    );
                    at = At::Type((*name).to_owned());
                }
                ["P", url, kind] => {
                    let def = Def {
                        resource: true,
                        ..Def::default()
                    };
                    rules
                        .profiles
                        .insert((*url).to_owned(), ((*kind).to_owned(), def));
                    at = At::Profile((*url).to_owned());
                }
                ["E", path, min, max, types, binding, reference] => {
                    let Some(def) = rules.target(&at) else {
                        continue;
                    };
                    let element = Element {
                        min: min.parse().unwrap_or(0),
                        max: max_of(max),
                        types: if *types == "-" {
                            Vec::new()
                        } else {
                            types.split(',').map(str::to_owned).collect()
                        },
                        binding: (*binding != "-").then(|| (*binding).to_owned()),
                        reference: (*reference != "-").then(|| (*reference).to_owned()),
                    };
                    if let Some((parent, _)) = path.rsplit_once('.') {
                        def.children
                            .entry(parent.to_owned())
                            .or_default()
                            .push((*path).to_owned());
                    }
                    def.elements.insert((*path).to_owned(), element);
                }
                ["F", path, value] => {
                    if let Some(def) = rules.target(&at) {
                        def.patterns.insert((*path).to_owned(), pattern(value));
                    }
                }
                ["S", path, name, min, max, matches, whole, required, slicing, optional] => {
                    if let Some(def) = rules.target(&at) {
                        def.slices
                            .entry((*path).to_owned())
                            .or_default()
                            .push(Slice {
                                name: (*name).to_owned(),
                                min: min.parse().unwrap_or(0),
                                max: max_of(max),
                                matches: pattern(matches),
                                whole: pattern(whole),
                                required: if *required == "-" {
                                    Vec::new()
                                } else {
                                    required.split(',').map(str::to_owned).collect()
                                },
                                closed: *slicing == "closed",
                                optional: pattern(optional),
                            });
                    }
                }
                ["V", url, codes @ ..] => {
                    rules.value_sets.insert(
                        (*url).to_owned(),
                        codes.iter().map(|c| (*c).to_owned()).collect(),
                    );
                }
                _ => {}
            }
        }
        rules
    }
}

/// The JP Core profiles this validator knows, each with the resource type it constrains.
pub fn known_profiles() -> Vec<(String, String)> {
    let mut all: Vec<(String, String)> = rules()
        .profiles
        .iter()
        .map(|(url, (kind, _))| (url.clone(), kind.clone()))
        .collect();
    all.sort();
    all
}

/// Checks `tree`, a resource, against the base FHIR R4 structure of its type and every JP Core
/// profile it claims in `meta.profile` that is known here (profiles not known are not checked;
/// [`known_profiles`] lists the others).
pub fn check(tree: &Json) -> Result<(), Invalid> {
    let rules = rules();
    let mut walk = Walk {
        rules,
        problems: BTreeSet::new(),
        order: Vec::new(),
        profiles: Vec::new(),
    };
    walk.resource(tree, None, true);
    if walk.order.is_empty() {
        return Ok(());
    }
    let mut problems = walk.order;
    problems.truncate(PROBLEMS_MAX);
    Err(Invalid {
        problems,
        profiles: walk.profiles,
    })
}

struct Walk<'r> {
    rules: &'r Rules,
    problems: BTreeSet<Problem>,
    order: Vec<Problem>,
    profiles: Vec<String>,
}

fn member_name(name: &str) -> (&str, bool) {
    match name.strip_prefix('_') {
        Some(rest) => (rest, true),
        None => (name, false),
    }
}

fn upper_first(text: &str) -> String {
    let mut chars = text.chars();
    chars.next().map_or_else(String::new, |c| {
        c.to_ascii_uppercase().to_string() + chars.as_str()
    })
}

impl Walk<'_> {
    fn problem(&mut self, expression: impl Into<String>, what: What) {
        let p = Problem {
            expression: expression.into(),
            what,
        };
        if self.problems.insert(p.clone()) {
            self.order.push(p);
        }
    }

    /// A resource at `at` (None for the top).
    fn resource(&mut self, tree: &Json, at: Option<&str>, top: bool) {
        let Some(kind) = tree.get("resourceType").and_then(Json::as_str) else {
            self.problem(at.unwrap_or("resourceType"), What::ResourceType);
            return;
        };
        let Some(def) = self
            .rules
            .types
            .get(&kind)
            .filter(|d| d.resource && kind != "Resource" && kind != "DomainResource")
        else {
            self.problem(at.unwrap_or(&kind), What::ResourceType);
            return;
        };
        let expression = at.map_or_else(|| kind.clone(), str::to_owned);
        self.object(def, &kind, tree, &expression);
        let claimed: Vec<String> = tree
            .get("meta")
            .and_then(|m| m.get("profile"))
            .and_then(|p| match p {
                Json::Array(items) => Some(items.iter().filter_map(Json::as_str).collect()),
                _ => None,
            })
            .unwrap_or_default();
        for url in claimed {
            let url = url.split('|').next().unwrap_or_default().to_owned();
            if let Some((of, profile)) = self.rules.profiles.get(&url) {
                if *of == kind {
                    if top {
                        self.profiles.push(url.clone());
                    }
                    self.object(profile, &kind, tree, &expression);
                }
            }
        }
    }

    /// The element `path` of `def`, or the choice element `member` is a variant of, with the
    /// variant's type.
    fn element<'d>(
        def: &'d Def,
        parent: &str,
        member: &str,
    ) -> Option<(String, &'d Element, Option<String>)> {
        let path = format!("{parent}.{member}");
        if let Some(e) = def.elements.get(&path) {
            return Some((path, e, None));
        }
        for child in def.children.get(parent)? {
            let Some(base) = child
                .rsplit_once('.')
                .and_then(|(_, last)| last.strip_suffix("[x]"))
            else {
                continue;
            };
            let Some(variant) = member.strip_prefix(base) else {
                continue;
            };
            let e = &def.elements[child];
            if let Some(ty) = e.types.iter().find(|t| upper_first(t) == variant) {
                return Some((child.clone(), e, Some(ty.clone())));
            }
        }
        None
    }

    /// An object whose definition is the element `path` of `def`.
    fn object(&mut self, def: &Def, path: &str, value: &Json, expression: &str) {
        let Json::Object(members) = value else {
            self.problem(expression, What::Format { of: path.into() });
            return;
        };
        if members.is_empty() {
            self.problem(expression, What::Empty);
            return;
        }
        let top = def.resource && !path.contains('.');
        let mut present: HashMap<String, usize> = HashMap::new();
        // Members sent for each choice element (`valueQuantity` and `valueString`…).
        let mut variants: HashMap<String, usize> = HashMap::new();
        for (key, member) in members {
            let key = key.value();
            if top && key == "resourceType" {
                continue;
            }
            let (name, extension_only) = member_name(&key);
            let Some((element_path, element, variant)) = Walk::element(def, path, name) else {
                // The name is echoed only when it looks like an element's name: a sender's
                // mistake may put data (a patient's name, a number) where a name belongs.
                let plausible = name.len() <= 64
                    && name.starts_with(|c: char| c.is_ascii_alphabetic())
                    && name.chars().all(|c| c.is_ascii_alphanumeric());
                let at = if plausible {
                    format!("{expression}.{key}")
                } else {
                    expression.to_owned()
                };
                self.problem(at, What::Unknown);
                continue;
            };
            let count = match member {
                Json::Array(items) => items.len(),
                _ => 1,
            };
            let seen = present.entry(element_path.clone()).or_default();
            *seen = (*seen).max(count);
            if variant.is_some() && !extension_only {
                *variants.entry(element_path.clone()).or_default() += 1;
            }
            let here = format!("{expression}.{name}");
            let repeats = element.max != Some(1);
            let items: Vec<(String, &Json)> = match member {
                Json::Array(items) if repeats => {
                    if items.is_empty() {
                        self.problem(&here, What::Empty);
                    }
                    items
                        .iter()
                        .enumerate()
                        .map(|(i, item)| (format!("{here}[{i}]"), item))
                        .collect()
                }
                Json::Array(_) => {
                    self.problem(&here, What::NotSingle);
                    continue;
                }
                single if repeats => {
                    self.problem(&here, What::NotArray);
                    vec![(here.clone(), single)]
                }
                single => vec![(here.clone(), single)],
            };
            let paired = |other: &str| members.iter().any(|(k, _)| k.value() == other);
            for (at, item) in items {
                if extension_only {
                    if matches!(item, Json::Null) && paired(name) {
                        continue;
                    }
                    if let Some(element_def) = self.rules.types.get("Element") {
                        self.object(element_def, "Element", item, &at);
                    }
                    continue;
                }
                if matches!(item, Json::Null) && repeats && paired(&format!("_{name}")) {
                    continue;
                }
                let ty = variant
                    .clone()
                    .or_else(|| (element.types.len() == 1).then(|| element.types[0].clone()));
                self.value(def, &element_path, element, ty.as_deref(), item, &at);
            }
            if let Some(pattern) = def.patterns.get(&element_path) {
                let items: Vec<&Json> = match member {
                    Json::Array(items) => items.iter().collect(),
                    single => vec![single],
                };
                for item in items {
                    if !contains(item, pattern) {
                        self.problem(
                            &here,
                            What::Pattern {
                                pattern: String::from_utf8_lossy(&pattern.to_bytes()).into(),
                            },
                        );
                    }
                }
            }
            if let (Some(slices), Json::Array(items)) = (def.slices.get(&element_path), member) {
                self.slices(slices, items, &here);
            }
        }
        if path == "Extension"
            || def.elements.contains_key(&format!("{path}.url")) && path.ends_with("extension")
        {
            let value = members.iter().any(|(k, _)| k.value().starts_with("value"));
            let nested = members.iter().any(|(k, _)| k.value() == "extension");
            if value == nested {
                self.problem(expression, What::Extension);
            }
        }
        for child in def.children.get(path).into_iter().flatten() {
            let element = &def.elements[child];
            let count = present.get(child).copied().unwrap_or(0);
            if count < element.min as usize {
                let name = child.rsplit_once('.').map_or(child.as_str(), |(_, n)| n);
                self.problem(
                    format!("{expression}.{name}"),
                    What::TooFew { min: element.min },
                );
            }
            let count = count.max(variants.get(child).copied().unwrap_or(0));
            if let Some(max) = element.max {
                if count > max as usize && (max != 1 || variants.contains_key(child)) {
                    let name = child.rsplit_once('.').map_or(child.as_str(), |(_, n)| n);
                    self.problem(format!("{expression}.{name}"), What::TooMany { max });
                }
            }
        }
    }

    /// One value of an element.
    fn value(
        &mut self,
        def: &Def,
        path: &str,
        element: &Element,
        ty: Option<&str>,
        item: &Json,
        at: &str,
    ) {
        if let Some(reference) = &element.reference {
            self.object(def, reference, item, at);
            return;
        }
        let Some(ty) = ty else {
            if def.children.contains_key(path) {
                self.object(def, path, item, at);
            }
            return;
        };
        match ty {
            "BackboneElement" | "Element" if def.children.contains_key(path) => {
                self.object(def, path, item, at);
            }
            "Resource" => {
                if matches!(item, Json::Object(_)) {
                    self.resource(item, Some(at), false);
                } else {
                    self.problem(at, What::ResourceType);
                }
            }
            _ => {
                let Some(type_def) = self.rules.types.get(ty) else {
                    return;
                };
                if type_def.primitive {
                    if !primitive(ty, item) {
                        let what = if matches!(item, Json::Null)
                            || matches!(item, Json::String(s) if s.raw().is_empty())
                        {
                            What::Empty
                        } else {
                            What::Format { of: ty.into() }
                        };
                        self.problem(at, what);
                        return;
                    }
                } else {
                    self.object(type_def, ty, item, at);
                    // A profile's snapshot may spell out a datatype's members with its own
                    // constraints (JP_Patient: `Patient.identifier.value` 1..1).
                    if def.children.contains_key(path) {
                        self.object(def, path, item, at);
                    }
                }
                if let Some(value_set) = &element.binding {
                    if !self.bound(ty, item, value_set) {
                        self.problem(
                            at,
                            What::Binding {
                                value_set: value_set.clone(),
                            },
                        );
                    }
                }
            }
        }
    }

    /// Does the value hold a code of `value_set`?
    fn bound(&self, ty: &str, item: &Json, value_set: &str) -> bool {
        let Some(codes) = self.rules.value_sets.get(value_set) else {
            return true;
        };
        let coding = |c: &Json| {
            let system = c.get("system").and_then(Json::as_str).unwrap_or_default();
            let code = c.get("code").and_then(Json::as_str).unwrap_or_default();
            codes.contains(&format!("{system}|{code}"))
        };
        match ty {
            "code" => {
                let code = item.as_str().unwrap_or_default();
                codes
                    .iter()
                    .any(|c| c.rsplit_once('|').is_some_and(|(_, c)| c == code))
            }
            "Coding" => coding(item),
            "CodeableConcept" => match item.get("coding") {
                Some(Json::Array(codings)) => codings.iter().any(coding),
                _ => false,
            },
            _ => true,
        }
    }

    /// The slices of a repeating element's items.
    fn slices(&mut self, slices: &[Slice], items: &[Json], at: &str) {
        let mut sliced = vec![false; items.len()];
        for slice in slices {
            let mut count = 0u32;
            for (i, item) in items.iter().enumerate() {
                if !contains(item, &slice.matches) {
                    continue;
                }
                count += 1;
                sliced[i] = true;
                let here = format!("{at}[{i}]");
                if !contains(item, &slice.whole) || !contains_present(item, &slice.optional) {
                    self.problem(
                        &here,
                        What::Pattern {
                            pattern: String::from_utf8_lossy(&slice.whole.to_bytes()).into(),
                        },
                    );
                }
                for member in &slice.required {
                    let has = item.get(member).is_some()
                        || item.get(&format!("_{member}")).is_some()
                        || member.ends_with("[x]")
                            && matches!(item, Json::Object(m) if m.iter().any(|(k, _)| k.value().starts_with(member.trim_end_matches("[x]"))));
                    if !has {
                        self.problem(
                            &here,
                            What::SliceMember {
                                name: slice.name.clone(),
                                member: member.clone(),
                            },
                        );
                    }
                }
            }
            if count < slice.min || slice.max.is_some_and(|m| count > m) {
                self.problem(
                    at,
                    What::Slice {
                        name: slice.name.clone(),
                        min: slice.min,
                        max: slice.max,
                    },
                );
            }
        }
        if slices.iter().any(|s| s.closed) {
            for (i, done) in sliced.iter().enumerate() {
                if !done {
                    self.problem(format!("{at}[{i}]"), What::Closed);
                }
            }
        }
    }
}

/// Does `value` contain `pattern` (FHIR's pattern rule: every member of the pattern present with
/// a value that contains it; an array item of the pattern found among the value's items; an
/// object pattern against an array, found among its items)?
fn contains(value: &Json, pattern: &Json) -> bool {
    match (value, pattern) {
        (Json::Object(_), Json::Object(wanted)) => wanted
            .iter()
            .all(|(k, p)| value.get(&k.value()).is_some_and(|v| contains(v, p))),
        (Json::Array(items), Json::Array(wanted)) => {
            wanted.iter().all(|p| items.iter().any(|v| contains(v, p)))
        }
        (Json::Array(items), p @ Json::Object(_)) => items.iter().any(|v| contains(v, p)),
        (Json::String(a), Json::String(b)) => a.value() == b.value(),
        (Json::Number(a), Json::Number(b)) => {
            a == b || a.parse::<f64>().ok() == b.parse::<f64>().ok()
        }
        (a, b) => a == b,
    }
}

/// Like [`contains`], but a member of the pattern missing from the value is no mismatch: the
/// fixed values of optional members bind only where those members are present.
fn contains_present(value: &Json, pattern: &Json) -> bool {
    match (value, pattern) {
        (Json::Object(_), Json::Object(wanted)) => wanted
            .iter()
            .all(|(k, p)| value.get(&k.value()).is_none_or(|v| contains_present(v, p))),
        (Json::Array(items), Json::Array(wanted)) => wanted
            .iter()
            .all(|p| items.iter().any(|v| contains_present(v, p))),
        (Json::Array(items), p @ Json::Object(_)) => items.iter().any(|v| contains_present(v, p)),
        _ => contains(value, pattern),
    }
}

/// Is `item` a valid JSON value of the FHIR primitive type `ty`?
fn primitive(ty: &str, item: &Json) -> bool {
    match (ty, item) {
        ("boolean", Json::Bool(_)) => true,
        ("integer" | "positiveInt" | "unsignedInt", Json::Number(n)) => {
            n.parse::<i32>().is_ok_and(|v| match ty {
                "positiveInt" => v > 0,
                "unsignedInt" => v >= 0,
                _ => true,
            })
        }
        ("decimal", Json::Number(_)) => true,
        ("boolean" | "integer" | "positiveInt" | "unsignedInt" | "decimal", _) => false,
        (_, Json::String(s)) => {
            let v = s.value();
            !v.is_empty() && string_format(ty, &v)
        }
        _ => false,
    }
}

fn digits(text: &str, n: usize) -> bool {
    text.len() == n && text.bytes().all(|b| b.is_ascii_digit())
}

/// `YYYY`, `YYYY-MM` or `YYYY-MM-DD` (with `full` only the last), with real months and days.
fn date(text: &str, full: bool) -> bool {
    let parts: Vec<&str> = text.split('-').collect();
    let ok_year = parts.first().is_some_and(|y| digits(y, 4));
    let month = parts
        .get(1)
        .map(|m| digits(m, 2).then(|| m.parse::<u32>().unwrap_or(0)));
    let day = parts
        .get(2)
        .map(|d| digits(d, 2).then(|| d.parse::<u32>().unwrap_or(0)));
    match (parts.len(), month, day) {
        (1, None, None) => ok_year && !full,
        (2, Some(Some(m)), None) => ok_year && (1..=12).contains(&m) && !full,
        (3, Some(Some(m)), Some(Some(d))) => {
            let year: u32 = parts[0].parse().unwrap_or(0);
            let leap =
                year.is_multiple_of(4) && (!year.is_multiple_of(100) || year.is_multiple_of(400));
            let days = match m {
                2 if leap => 29,
                2 => 28,
                4 | 6 | 9 | 11 => 30,
                1..=12 => 31,
                _ => 0,
            };
            ok_year && (1..=days).contains(&d)
        }
        _ => false,
    }
}

/// `hh:mm:ss` with optional fraction.
fn time(text: &str) -> bool {
    if !text.is_ascii() {
        return false;
    }
    let (whole, fraction) = text.split_once('.').unwrap_or((text, "0"));
    let parts: Vec<&str> = whole.split(':').collect();
    parts.len() == 3
        && parts.iter().all(|p| digits(p, 2))
        && parts[0] < "24"
        && parts[1] < "60"
        && parts[2] <= "60"
        && !fraction.is_empty()
        && fraction.bytes().all(|b| b.is_ascii_digit())
}

/// A date, a time and a zone (`Z` or `±hh:mm`).
fn date_time(text: &str) -> bool {
    // Every valid form is ASCII; the byte slicing below relies on it.
    if !text.is_ascii() {
        return false;
    }
    let Some((day, rest)) = text.split_once('T') else {
        return false;
    };
    let (clock, zone) = if let Some(clock) = rest.strip_suffix('Z') {
        (clock, "+00:00")
    } else if rest.len() > 6 {
        rest.split_at(rest.len() - 6)
    } else {
        return false;
    };
    let zone_ok = zone.len() == 6
        && matches!(zone.as_bytes()[0], b'+' | b'-')
        && digits(&zone[1..3], 2)
        && &zone[3..4] == ":"
        && digits(&zone[4..6], 2)
        && &zone[1..3] <= "14"
        && &zone[4..6] < "60";
    date(day, true) && time(clock) && zone_ok
}

fn string_format(ty: &str, v: &str) -> bool {
    let no_space = || !v.chars().any(char::is_whitespace);
    match ty {
        "code" => {
            !v.starts_with(char::is_whitespace)
                && !v.ends_with(char::is_whitespace)
                && !v.contains("  ")
                && !v.contains(['\t', '\n', '\r'])
        }
        "id" => crate::resource::is_id(v),
        "uri" | "url" | "canonical" => no_space(),
        "oid" => v.strip_prefix("urn:oid:").is_some_and(|rest| {
            rest.starts_with(['0', '1', '2'])
                && rest.split('.').count() > 1
                && rest.split('.').all(|arc| {
                    !arc.is_empty()
                        && arc.bytes().all(|b| b.is_ascii_digit())
                        && (arc == "0" || !arc.starts_with('0'))
                })
        }),
        "uuid" => v.strip_prefix("urn:uuid:").is_some_and(|rest| {
            let groups: Vec<&str> = rest.split('-').collect();
            groups.iter().map(|g| g.len()).eq([8, 4, 4, 4, 12])
                && rest
                    .bytes()
                    .all(|b| b == b'-' || b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        }),
        "date" => date(v, false),
        "dateTime" => date(v, false) || date_time(v),
        "instant" => date_time(v),
        "time" => time(v),
        "base64Binary" => {
            let clean: Vec<u8> = v.bytes().filter(|b| !b.is_ascii_whitespace()).collect();
            clean.len().is_multiple_of(4)
                && clean
                    .iter()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'='))
        }
        "xhtml" => v.trim_start().starts_with("<div"),
        // string, markdown: any text that is not empty.
        _ => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn problems(text: &str) -> Vec<(String, What)> {
        match check(&crate::json::parse(text.as_bytes()).unwrap()) {
            Ok(()) => Vec::new(),
            Err(invalid) => invalid
                .problems
                .into_iter()
                .map(|p| (p.expression, p.what))
                .collect(),
        }
    }

    // Shows primitive formats: dates with real days, instants with a zone, codes without
    // padding, oids and uuids in their URN forms.
    #[test]
    fn primitive_formats() {
        for (ty, good, bad) in [
            ("date", "2024-02-29", "2023-02-29"),
            ("date", "1970-01", "1970-13"),
            (
                "dateTime",
                "2026-11-25T09:00:00+09:00",
                "2026-11-25T09:00+09:00",
            ),
            ("instant", "2026-11-25T00:00:00.123Z", "2026-11-25"),
            ("time", "23:59:59", "24:00:00"),
            ("code", "final", " final"),
            ("oid", "urn:oid:1.2.392.100495.20.3.81", "urn:oid:1.02"),
            (
                "uuid",
                "urn:uuid:0b5f6b14-4c33-4c8e-9d4b-2f8b1a0c0d11",
                "urn:uuid:0B5F",
            ),
            ("base64Binary", "aGVsbG8=", "aGVsbG8"),
        ] {
            let s = |v: &str| Json::String(crate::json::Text::from_value(v));
            assert!(primitive(ty, &s(good)), "{ty} {good}");
            assert!(!primitive(ty, &s(bad)), "{ty} {bad}");
        }
        assert!(!primitive(
            "string",
            &Json::String(crate::json::Text::from_value(""))
        ));
        assert!(primitive("positiveInt", &Json::Number("3".into())));
        assert!(!primitive("positiveInt", &Json::Number("0".into())));
        assert!(!primitive("integer", &Json::Number("1.5".into())));
        assert!(!primitive(
            "boolean",
            &Json::String(crate::json::Text::from_value("true"))
        ));
    }

    // Shows the base structure: unknown elements, shapes, cardinality, choice types, required
    // bindings and primitive extensions, each problem with where it is.
    #[test]
    fn base_structure() {
        assert_eq!(
            problems(
                r#"{"resourceType":"Patient","gender":"female","birthDate":"1950-04-01","name":[{"family":"山田","given":["花子"]}],"_birthDate":{"extension":[{"url":"http://example.org/x","valueString":"x"}]}}"#
            ),
            vec![]
        );
        assert_eq!(
            problems(
                r#"{"resourceType":"Patient","gender":"woman","nickname":"x","name":{"family":"山田"},"birthDate":"1950-13-01","active":"yes"}"#
            ),
            vec![
                (
                    "Patient.gender".into(),
                    What::Binding {
                        value_set: "http://hl7.org/fhir/ValueSet/administrative-gender".into()
                    }
                ),
                ("Patient.nickname".into(), What::Unknown),
                ("Patient.name".into(), What::NotArray),
                (
                    "Patient.birthDate".into(),
                    What::Format { of: "date".into() }
                ),
                (
                    "Patient.active".into(),
                    What::Format {
                        of: "boolean".into()
                    }
                ),
            ]
        );
        // Observation.status is required; value[x] takes the types it lists.
        assert_eq!(
            problems(
                r#"{"resourceType":"Observation","code":{"text":"体温"},"valueQuantity":{"value":36.5},"valueFoo":1}"#
            ),
            vec![
                ("Observation.valueFoo".into(), What::Unknown),
                ("Observation.status".into(), What::TooFew { min: 1 }),
            ]
        );
        assert_eq!(
            problems(
                r#"{"resourceType":"Observation","status":"final","code":{},"extension":[{"url":"http://example.org/x"}]}"#
            ),
            vec![
                ("Observation.code".into(), What::Empty),
                ("Observation.extension[0]".into(), What::Extension),
            ]
        );
    }

    // Shows the edges a review found: text that is not ASCII where a time belongs is a format
    // problem (not a panic); a member name that looks like data is not echoed; resourceType
    // belongs to resources only, and a contained resource must be of a resource type; the
    // members Medplum adds to Meta are not FHIR R4's.
    #[test]
    fn edges() {
        assert_eq!(
            problems(
                r#"{"resourceType":"Observation","status":"final","code":{"text":"x"},"effectiveDateTime":"2026-01-01Tあaaaa","issued":"2026-01-01T00:00:00+あ00"}"#
            ),
            vec![
                (
                    "Observation.effectiveDateTime".into(),
                    What::Format {
                        of: "dateTime".into()
                    }
                ),
                (
                    "Observation.issued".into(),
                    What::Format {
                        of: "instant".into()
                    }
                ),
            ]
        );
        assert_eq!(
            problems(
                r#"{"resourceType":"Patient","山田花子":{"birthDate":"1950-01-01"},"name":[{"resourceType":"HumanName"}],"meta":{"compartment":[{"reference":"Patient/1"}]},"contained":[{"resourceType":"HumanName","family":"x"}]}"#
            ),
            vec![
                ("Patient".into(), What::Unknown),
                ("Patient.name[0].resourceType".into(), What::Unknown),
                ("Patient.meta.compartment".into(), What::Unknown),
                ("Patient.contained[0]".into(), What::ResourceType),
            ]
        );
    }
}
