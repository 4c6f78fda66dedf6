//! Text decoding that more than one context needs.

/// Percent-decodes UTF-8 text (RFC 3986 `%XX`); with `form`, a `+` is a space as well (the
/// `application/x-www-form-urlencoded` rule of query strings and OAuth's Basic credentials).
/// `None` for a broken escape or bytes that are not UTF-8.
pub fn percent_decode(text: &str, form: bool) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' => {
                let hex = text.get(i + 1..i + 3)?;
                if !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
                    return None;
                }
                out.push(u8::from_str_radix(hex, 16).ok()?);
                i += 3;
            }
            b'+' if form => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    // Shows UTF-8 decoded from its escapes, `+` by the rule asked, and broken text refused.
    #[test]
    fn percent_decoding() {
        assert_eq!(
            percent_decode("%E8%A8%98%E8%BC%89%E8%AA%A4%E3%82%8A", false).as_deref(),
            Some("記載誤り")
        );
        assert_eq!(
            percent_decode("typo fixed", false).as_deref(),
            Some("typo fixed")
        );
        assert_eq!(percent_decode("a+b", false).as_deref(), Some("a+b"));
        assert_eq!(percent_decode("a+b%2B", true).as_deref(), Some("a b+"));
        assert_eq!(percent_decode("%E8%A8", false), None);
        assert_eq!(percent_decode("%zz", false), None);
        assert_eq!(percent_decode("%+1", true), None);
        assert_eq!(percent_decode("%", false), None);
    }
}
