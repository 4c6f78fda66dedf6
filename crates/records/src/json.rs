//! FHIR JSON kept as it was sent. A resource is parsed into a tree that holds every number and
//! every string as its source text (validated, not re-encoded), with object members in the
//! order sent — so `6.50` stays `6.50`, `"\u00e9"` stays as written, and characters outside the
//! Basic Multilingual Plane and variation selectors (異体字) pass through untouched. Writing the
//! tree back gives the input again, byte for byte, less the whitespace between tokens.
//!
//! Strict RFC 8259: UTF-8 only, no byte-order mark, no comments, no trailing commas, no lone
//! surrogates in escapes, and — as FHIR's JSON rules require — no duplicate member names in an
//! object (which a general-purpose parser silently resolves by keeping one). Depth and size
//! are bounded. Errors name the byte offset and what was expected, never the content.

/// The deepest nesting accepted (FHIR resources nest a dozen levels; contained resources and
/// extensions a few more).
pub const DEPTH_MAX: usize = 64;

/// A JSON value with its source text kept.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Json {
    /// `null`.
    Null,
    /// `true` or `false`.
    Bool(bool),
    /// A number, as written (e.g. `6.50`, `1e3`, `-0`).
    Number(String),
    /// A string, as written between its quotes (escapes kept).
    String(Text),
    /// An array.
    Array(Vec<Json>),
    /// An object: its members in the order sent, names unique.
    Object(Vec<(Text, Json)>),
}

/// A string's source text between its quotes: valid, its escapes kept as written.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Text(String);

/// Why a document is not accepted.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum JsonError {
    /// Not JSON at `offset`: `expected` says what should have come.
    #[error("not valid JSON at byte {offset}: expected {expected}")]
    Syntax {
        /// The byte offset.
        offset: usize,
        /// What should have come there.
        expected: &'static str,
    },
    /// An object names a member twice (the second at `offset`).
    #[error("an object names a member twice (byte {offset})")]
    DuplicateKey {
        /// The byte offset of the second name.
        offset: usize,
    },
    /// Nested deeper than [`DEPTH_MAX`].
    #[error("nested deeper than {DEPTH_MAX} levels (byte {offset})")]
    TooDeep {
        /// Where.
        offset: usize,
    },
}

impl Text {
    /// The source text between the quotes.
    pub fn raw(&self) -> &str {
        &self.0
    }

    /// A string of `value`, written with the fewest escapes (quote, backslash and control
    /// characters only).
    pub fn from_value(value: &str) -> Text {
        let mut out = String::with_capacity(value.len());
        for c in value.chars() {
            match c {
                '"' => out.push_str("\\\""),
                '\\' => out.push_str("\\\\"),
                '\n' => out.push_str("\\n"),
                '\r' => out.push_str("\\r"),
                '\t' => out.push_str("\\t"),
                '\u{8}' => out.push_str("\\b"),
                '\u{c}' => out.push_str("\\f"),
                c if u32::from(c) < 0x20 => out.push_str(&format!("\\u{:04x}", u32::from(c))),
                c => out.push(c),
            }
        }
        Text(out)
    }

    /// The string's value, its escapes decoded.
    pub fn value(&self) -> String {
        if !self.0.contains('\\') {
            return self.0.clone();
        }
        let mut out = String::with_capacity(self.0.len());
        let mut chars = self.0.chars();
        while let Some(c) = chars.next() {
            if c != '\\' {
                out.push(c);
                continue;
            }
            match chars.next() {
                Some('n') => out.push('\n'),
                Some('r') => out.push('\r'),
                Some('t') => out.push('\t'),
                Some('b') => out.push('\u{8}'),
                Some('f') => out.push('\u{c}'),
                Some('u') => {
                    let hex = |chars: &mut std::str::Chars<'_>| -> u32 {
                        let digits: String = chars.by_ref().take(4).collect();
                        u32::from_str_radix(&digits, 16).unwrap_or(0xfffd)
                    };
                    let first = hex(&mut chars);
                    let code = if (0xd800..0xdc00).contains(&first) {
                        // The parser accepted only a high surrogate followed by `\u` and a low one.
                        chars.next();
                        chars.next();
                        let second = hex(&mut chars);
                        0x10000 + ((first - 0xd800) << 10) + (second - 0xdc00)
                    } else {
                        first
                    };
                    out.push(char::from_u32(code).unwrap_or('\u{fffd}'));
                }
                Some(other) => out.push(other),
                None => {}
            }
        }
        out
    }

    /// Does the value hold a control character FHIR does not allow in a string (any below
    /// U+0020 but tab, line feed and carriage return)? The parser refuses them raw, so only an
    /// escape can carry one.
    pub fn has_forbidden_control(&self) -> bool {
        self.0.contains('\\')
            && self
                .value()
                .chars()
                .any(|c| c < '\u{20}' && !matches!(c, '\t' | '\n' | '\r'))
    }
}

impl Json {
    /// Does any string of the document, a member's name or a value, hold a control character
    /// FHIR does not allow ([`Text::has_forbidden_control`])?
    pub fn has_forbidden_control(&self) -> bool {
        match self {
            Json::String(text) => text.has_forbidden_control(),
            Json::Array(items) => items.iter().any(Json::has_forbidden_control),
            Json::Object(members) => members
                .iter()
                .any(|(name, value)| name.has_forbidden_control() || value.has_forbidden_control()),
            Json::Null | Json::Bool(_) | Json::Number(_) => false,
        }
    }

    /// The member `name` of an object.
    pub fn get(&self, name: &str) -> Option<&Json> {
        match self {
            Json::Object(members) => members
                .iter()
                .find(|(k, _)| k.raw() == name || k.value() == name)
                .map(|(_, v)| v),
            _ => None,
        }
    }

    /// The value of a string.
    pub fn as_str(&self) -> Option<String> {
        match self {
            Json::String(text) => Some(text.value()),
            _ => None,
        }
    }

    /// Sets the member `name` of an object: replaced where it stands, or added at `at` (the
    /// member's index, clamped) when absent. Does nothing to other values.
    pub fn set(&mut self, name: &str, value: Json, at: usize) {
        if let Json::Object(members) = self {
            if let Some(slot) = members
                .iter_mut()
                .find(|(k, _)| k.raw() == name || k.value() == name)
            {
                slot.1 = value;
            } else {
                let at = at.min(members.len());
                members.insert(at, (Text::from_value(name), value));
            }
        }
    }

    /// The compact text of the value.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::new();
        self.write(&mut out);
        out
    }

    /// Writes the compact text of the value.
    pub fn write(&self, out: &mut Vec<u8>) {
        match self {
            Json::Null => out.extend_from_slice(b"null"),
            Json::Bool(true) => out.extend_from_slice(b"true"),
            Json::Bool(false) => out.extend_from_slice(b"false"),
            Json::Number(text) => out.extend_from_slice(text.as_bytes()),
            Json::String(text) => {
                out.push(b'"');
                out.extend_from_slice(text.raw().as_bytes());
                out.push(b'"');
            }
            Json::Array(items) => {
                out.push(b'[');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push(b',');
                    }
                    item.write(out);
                }
                out.push(b']');
            }
            Json::Object(members) => {
                out.push(b'{');
                for (i, (name, value)) in members.iter().enumerate() {
                    if i > 0 {
                        out.push(b',');
                    }
                    out.push(b'"');
                    out.extend_from_slice(name.raw().as_bytes());
                    out.extend_from_slice(b"\":");
                    value.write(out);
                }
                out.push(b'}');
            }
        }
    }
}

/// Parses one JSON document (whitespace around it allowed, nothing else).
pub fn parse(bytes: &[u8]) -> Result<Json, JsonError> {
    let text = std::str::from_utf8(bytes).map_err(|e| JsonError::Syntax {
        offset: e.valid_up_to(),
        expected: "UTF-8",
    })?;
    let mut parser = Parser { text, bytes, at: 0 };
    parser.space();
    let value = parser.value(0)?;
    parser.space();
    if parser.at != bytes.len() {
        return Err(parser.expected("the end of the document"));
    }
    Ok(value)
}

struct Parser<'a> {
    text: &'a str,
    bytes: &'a [u8],
    at: usize,
}

impl Parser<'_> {
    fn expected(&self, expected: &'static str) -> JsonError {
        JsonError::Syntax {
            offset: self.at,
            expected,
        }
    }

    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.at).copied()
    }

    fn space(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.at += 1;
        }
    }

    fn literal(&mut self, word: &'static str, value: Json) -> Result<Json, JsonError> {
        if self.bytes[self.at..].starts_with(word.as_bytes()) {
            self.at += word.len();
            Ok(value)
        } else {
            Err(self.expected("a value"))
        }
    }

    fn value(&mut self, depth: usize) -> Result<Json, JsonError> {
        match self.peek() {
            Some(b'{') => self.object(depth + 1),
            Some(b'[') => self.array(depth + 1),
            Some(b'"') => Ok(Json::String(self.string()?)),
            Some(b't') => self.literal("true", Json::Bool(true)),
            Some(b'f') => self.literal("false", Json::Bool(false)),
            Some(b'n') => self.literal("null", Json::Null),
            Some(b'-' | b'0'..=b'9') => self.number(),
            _ => Err(self.expected("a value")),
        }
    }

    fn object(&mut self, depth: usize) -> Result<Json, JsonError> {
        if depth > DEPTH_MAX {
            return Err(JsonError::TooDeep { offset: self.at });
        }
        self.at += 1;
        let mut members: Vec<(Text, Json)> = Vec::new();
        let mut names = std::collections::HashSet::new();
        self.space();
        if self.peek() == Some(b'}') {
            self.at += 1;
            return Ok(Json::Object(members));
        }
        loop {
            self.space();
            if self.peek() != Some(b'"') {
                return Err(self.expected("a member name in quotes"));
            }
            let offset = self.at;
            let name = self.string()?;
            // Names are compared by value: `"a"` and `"\u0061"` are the same name.
            if !names.insert(name.value()) {
                return Err(JsonError::DuplicateKey { offset });
            }
            self.space();
            if self.peek() != Some(b':') {
                return Err(self.expected("`:`"));
            }
            self.at += 1;
            self.space();
            let value = self.value(depth)?;
            members.push((name, value));
            self.space();
            match self.peek() {
                Some(b',') => self.at += 1,
                Some(b'}') => {
                    self.at += 1;
                    return Ok(Json::Object(members));
                }
                _ => return Err(self.expected("`,` or `}`")),
            }
        }
    }

    fn array(&mut self, depth: usize) -> Result<Json, JsonError> {
        if depth > DEPTH_MAX {
            return Err(JsonError::TooDeep { offset: self.at });
        }
        self.at += 1;
        let mut items = Vec::new();
        self.space();
        if self.peek() == Some(b']') {
            self.at += 1;
            return Ok(Json::Array(items));
        }
        loop {
            self.space();
            items.push(self.value(depth)?);
            self.space();
            match self.peek() {
                Some(b',') => self.at += 1,
                Some(b']') => {
                    self.at += 1;
                    return Ok(Json::Array(items));
                }
                _ => return Err(self.expected("`,` or `]`")),
            }
        }
    }

    fn hex4(&mut self) -> Result<u32, JsonError> {
        let digits = self
            .bytes
            .get(self.at..self.at + 4)
            .filter(|d| d.iter().all(u8::is_ascii_hexdigit))
            .ok_or(self.expected("four hex digits"))?;
        self.at += 4;
        let text = std::str::from_utf8(digits).map_err(|_| self.expected("four hex digits"))?;
        u32::from_str_radix(text, 16).map_err(|_| self.expected("four hex digits"))
    }

    /// A string's source text (the quotes consumed, not kept), its escapes checked.
    fn string(&mut self) -> Result<Text, JsonError> {
        self.at += 1;
        let start = self.at;
        loop {
            match self.peek() {
                None => return Err(self.expected("`\"`")),
                Some(b'"') => {
                    let raw = &self.text[start..self.at];
                    self.at += 1;
                    return Ok(Text(raw.to_owned()));
                }
                Some(b'\\') => {
                    self.at += 1;
                    match self.peek() {
                        Some(b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't') => {
                            self.at += 1;
                        }
                        Some(b'u') => {
                            self.at += 1;
                            let first = self.hex4()?;
                            if (0xdc00..0xe000).contains(&first) {
                                return Err(self.expected("a high surrogate first"));
                            }
                            if (0xd800..0xdc00).contains(&first) {
                                if !self.bytes[self.at..].starts_with(b"\\u") {
                                    return Err(self.expected("a low surrogate"));
                                }
                                self.at += 2;
                                let second = self.hex4()?;
                                if !(0xdc00..0xe000).contains(&second) {
                                    return Err(self.expected("a low surrogate"));
                                }
                            }
                        }
                        _ => return Err(self.expected("an escape")),
                    }
                }
                Some(b) if b < 0x20 => return Err(self.expected("no control character")),
                Some(_) => self.at += 1,
            }
        }
    }

    fn digits(&mut self) -> usize {
        let start = self.at;
        while matches!(self.peek(), Some(b'0'..=b'9')) {
            self.at += 1;
        }
        self.at - start
    }

    fn number(&mut self) -> Result<Json, JsonError> {
        let start = self.at;
        if self.peek() == Some(b'-') {
            self.at += 1;
        }
        match self.peek() {
            Some(b'0') => self.at += 1,
            Some(b'1'..=b'9') => {
                self.digits();
            }
            _ => return Err(self.expected("a digit")),
        }
        if self.peek() == Some(b'.') {
            self.at += 1;
            if self.digits() == 0 {
                return Err(self.expected("a digit after `.`"));
            }
        }
        if matches!(self.peek(), Some(b'e' | b'E')) {
            self.at += 1;
            if matches!(self.peek(), Some(b'+' | b'-')) {
                self.at += 1;
            }
            if self.digits() == 0 {
                return Err(self.expected("a digit in the exponent"));
            }
        }
        Ok(Json::Number(self.text[start..self.at].to_owned()))
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    // Shows the round trip: compact input comes back byte for byte — decimals as written,
    // escapes as written, characters outside the BMP and variation selectors untouched,
    // members in the order sent; spaced input comes back compact with the same tokens.
    #[test]
    fn round_trip_keeps_the_text() {
        let compact = "{\"resourceType\":\"Observation\",\"valueQuantity\":{\"value\":6.50,\"unit\":\"mmol/L\"},\"x\":[1e3,-0,0.0,12345678901234567890.123456789],\"name\":\"\u{20bb7}野家\",\"alt\":\"葛\u{e0100}城\",\"esc\":\"\\u00e9\\n\\\"\\/\",\"pair\":\"\\ud83d\\ude00\",\"z\":null,\"t\":true,\"f\":false,\"empty\":{},\"none\":[]}";
        let tree = parse(compact.as_bytes()).unwrap();
        assert_eq!(String::from_utf8(tree.to_bytes()).unwrap(), compact);
        assert_eq!(
            tree.get("valueQuantity").and_then(|q| q.get("value")),
            Some(&Json::Number("6.50".into()))
        );
        assert_eq!(tree.get("name").unwrap().as_str().unwrap(), "\u{20bb7}野家");
        assert_eq!(tree.get("esc").unwrap().as_str().unwrap(), "é\n\"/");
        assert_eq!(tree.get("pair").unwrap().as_str().unwrap(), "😀");
        let spaced = " {\n  \"a\" : [ 1 , 2.50 ] ,\t\"b\" : { } \r\n} ";
        assert_eq!(
            parse(spaced.as_bytes()).unwrap().to_bytes(),
            b"{\"a\":[1,2.50],\"b\":{}}"
        );
    }

    // Shows the refusals: duplicate names (also when spelt with escapes), and each kind of
    // malformed input, with the offset of the fault.
    #[test]
    fn refusals() {
        assert_eq!(
            parse(br#"{"a":1,"b":{"c":1},"a":2}"#),
            Err(JsonError::DuplicateKey { offset: 19 })
        );
        assert!(matches!(
            parse(br#"{"a":1,"\u0061":2}"#),
            Err(JsonError::DuplicateKey { .. })
        ));
        assert!(
            parse(br#"{"a":{"a":1}}"#).is_ok(),
            "the same name at another level"
        );
        for bad in [
            &b""[..],
            b"{",
            b"{\"a\":1,}",
            b"[1,]",
            b"{\"a\" 1}",
            b"{a:1}",
            b"01",
            b"1.",
            b"1e",
            b"-",
            b"+1",
            b".5",
            b"\"\\x\"",
            b"\"\\ud800\"",
            b"\"\\udc00\"",
            b"\"\\ud800\\u0041\"",
            b"\"a\nb\"",
            b"tru",
            b"nul",
            b"{} {}",
            b"\xef\xbb\xbf{}",
            b"\"\xff\"",
            b"NaN",
            b"// c\n{}",
        ] {
            assert!(parse(bad).is_err(), "{:?}", String::from_utf8_lossy(bad));
        }
        assert_eq!(
            parse(b"{\"a\":tru}"),
            Err(JsonError::Syntax {
                offset: 5,
                expected: "a value"
            })
        );
        let deep = "[".repeat(DEPTH_MAX) + &"]".repeat(DEPTH_MAX);
        assert!(parse(deep.as_bytes()).is_ok());
        let deeper = "[".repeat(DEPTH_MAX + 1) + &"]".repeat(DEPTH_MAX + 1);
        assert!(matches!(
            parse(deeper.as_bytes()),
            Err(JsonError::TooDeep { .. })
        ));
    }

    /// Any JSON document.
    pub(crate) fn tree() -> impl proptest::strategy::Strategy<Value = Json> {
        use proptest::prelude::*;
        let number = (
            any::<bool>(),
            0u64..1_000_000_000,
            proptest::option::of("[0-9]{1,6}"),
            proptest::option::of(("[eE]", "[+-]?", "[0-9]{1,3}")),
        )
            .prop_map(|(minus, int, frac, exp)| {
                let mut text = format!("{}{int}", if minus { "-" } else { "" });
                if let Some(frac) = frac {
                    text += &format!(".{frac}");
                }
                if let Some((e, sign, digits)) = exp {
                    text += &format!("{e}{sign}{digits}");
                }
                Json::Number(text)
            });
        let leaf = prop_oneof![
            Just(Json::Null),
            any::<bool>().prop_map(Json::Bool),
            number,
            any::<String>().prop_map(|s| Json::String(Text::from_value(&s))),
        ];
        leaf.prop_recursive(4, 48, 6, |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..6).prop_map(Json::Array),
                proptest::collection::btree_map(any::<String>(), inner, 0..6).prop_map(|m| {
                    Json::Object(
                        m.into_iter()
                            .map(|(k, v)| (Text::from_value(&k), v))
                            .collect(),
                    )
                }),
            ]
        })
    }

    proptest::proptest! {
        // Shows, for any document, that parsing its compact text and writing it back gives
        // the same bytes, and every string's value survives.
        #[test]
        fn any_document_round_trips(tree in tree()) {
            let bytes = tree.to_bytes();
            let parsed = parse(&bytes).unwrap();
            proptest::prop_assert_eq!(&parsed, &tree);
            proptest::prop_assert_eq!(parsed.to_bytes(), bytes);
        }

        // Shows that a string's value decodes back to what was encoded, whatever it holds.
        #[test]
        fn any_string_value_survives(value in proptest::prelude::any::<String>()) {
            let text = Text::from_value(&value);
            proptest::prop_assert_eq!(text.value(), value.clone());
            let parsed = parse(format!("\"{}\"", text.raw()).as_bytes()).unwrap();
            proptest::prop_assert_eq!(parsed.as_str(), Some(value));
        }
    }

    #[test]
    fn forbidden_controls() {
        // Shows which characters FHIR's string type refuses: every control character below
        // U+0020 but tab, line feed and carriage return, however it is escaped, in a value or
        // in a member's name; everything else passes, non-characters and bidi overrides too.
        for refused in [
            r#"{"a":"x\u0000y"}"#,
            r#"{"a":["ok","\u001f"]}"#,
            r#"{"a":{"b":"\b"}}"#,
            r#"{"a":"\f"}"#,
            r#"{"\u0001":"x"}"#,
        ] {
            assert!(
                parse(refused.as_bytes()).unwrap().has_forbidden_control(),
                "{refused}"
            );
        }
        for accepted in [
            r#"{"a":"tab\t lf\n cr\r\u0009\u000a\u000D"}"#,
            r#"{"a":"\u007f\u0085\uffff\ufffe\u202e\u2066 \\u0000"}"#,
            "{\"a\":\"\u{202e}\u{fffe}\"}",
            r#"{"a":1,"b":true,"c":null}"#,
        ] {
            assert!(
                !parse(accepted.as_bytes()).unwrap().has_forbidden_control(),
                "{accepted}"
            );
        }
    }

    // Shows setting the server's members: replaced in place when present, inserted at the
    // place given when absent; the rest of the text unchanged.
    #[test]
    fn setting_members() {
        let mut tree =
            parse(br#"{"resourceType":"Patient","id":"old","gender":"female"}"#).unwrap();
        tree.set("id", Json::String(Text::from_value("p1")), 1);
        tree.set("meta", parse(br#"{"versionId":"2"}"#).unwrap(), 2);
        assert_eq!(
            tree.to_bytes(),
            br#"{"resourceType":"Patient","id":"p1","meta":{"versionId":"2"},"gender":"female"}"#
        );
        assert_eq!(
            Text::from_value("a\"b\\c\u{1}\n").raw(),
            "a\\\"b\\\\c\\u0001\\n"
        );
        assert_eq!(Text::from_value("a\"b\\c\u{1}\n").value(), "a\"b\\c\u{1}\n");
    }
}
