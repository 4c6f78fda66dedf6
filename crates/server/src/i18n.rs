//! The user's language: Japanese by default, English on request. Pages follow the `lang` query
//! parameter, then the `lang` cookie, and are otherwise Japanese — a hospital's shared PCs
//! often run with an English browser locale, and the UI should not change language with the
//! PC. API errors also honour `Accept-Language`, which programs set deliberately.

use axum::extract::FromRequestParts;
use axum::http::header::{ACCEPT_LANGUAGE, COOKIE};
use axum::http::request::Parts;
use kiroku_core::{Timestamp, JST_OFFSET_SECONDS};
use std::convert::Infallible;

/// A supported language.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Lang {
    /// 日本語 (default).
    #[default]
    Ja,
    /// English.
    En,
}

impl Lang {
    /// The BCP 47 code.
    pub fn code(self) -> &'static str {
        match self {
            Lang::Ja => "ja",
            Lang::En => "en",
        }
    }

    /// Parses `ja` or `en` (and regional variants such as `en-GB`).
    pub fn parse(text: &str) -> Option<Lang> {
        let primary = text.trim().split(['-', '_']).next()?.to_ascii_lowercase();
        match primary.as_str() {
            "ja" => Some(Lang::Ja),
            "en" => Some(Lang::En),
            _ => None,
        }
    }

    /// The other language (for the switch).
    pub fn other(self) -> Lang {
        match self {
            Lang::Ja => Lang::En,
            Lang::En => Lang::Ja,
        }
    }

    /// The language's name in itself.
    pub fn label(self) -> &'static str {
        match self {
            Lang::Ja => "日本語",
            Lang::En => "English",
        }
    }

    /// An instant in Japan time, as users of this language read it:
    /// `2026年11月25日（水）10:23:45` or `2026-11-25 (Wed) 10:23:45 JST`.
    pub fn datetime(self, time: Timestamp) -> String {
        let c = time.civil(JST_OFFSET_SECONDS);
        match self {
            Lang::Ja => format!(
                "{}年{}月{}日（{}）{:02}:{:02}:{:02}",
                c.year,
                c.month,
                c.day,
                ["日", "月", "火", "水", "木", "金", "土"][usize::from(c.weekday % 7)],
                c.hour,
                c.minute,
                c.second
            ),
            Lang::En => format!(
                "{}-{:02}-{:02} ({}) {:02}:{:02}:{:02} JST",
                c.year,
                c.month,
                c.day,
                ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"][usize::from(c.weekday % 7)],
                c.hour,
                c.minute,
                c.second
            ),
        }
    }

    /// The day of an instant in Japan, as users of this language read it: `2026年11月25日
    /// （令和8年）` or `2026-11-25`.
    pub fn date(self, time: Timestamp) -> String {
        let c = time.civil(JST_OFFSET_SECONDS);
        match self {
            // Reiwa began on 2019-05-01; paper forms in Japan give the era year too.
            Lang::Ja if (c.year, c.month) >= (2019, 5) => {
                let era = c.year - 2018;
                let era = if era == 1 {
                    "元".to_owned()
                } else {
                    era.to_string()
                };
                format!("{}年{}月{}日（令和{era}年）", c.year, c.month, c.day)
            }
            Lang::Ja => format!("{}年{}月{}日", c.year, c.month, c.day),
            Lang::En => format!("{}-{:02}-{:02}", c.year, c.month, c.day),
        }
    }

    /// Picks the Japanese or the English text.
    pub fn pick<'a>(self, ja: &'a str, en: &'a str) -> &'a str {
        match self {
            Lang::Ja => ja,
            Lang::En => en,
        }
    }

    /// The language of a page: `?lang=`, then the cookie, then Japanese.
    pub fn of_page(parts: &Parts) -> Lang {
        Lang::chosen(parts).unwrap_or_default()
    }

    /// The language of an API answer: `?lang=`, the cookie, then `Accept-Language`.
    pub fn of_request(parts: &Parts) -> Lang {
        Lang::chosen(parts).unwrap_or_else(|| {
            parts
                .headers
                .get(ACCEPT_LANGUAGE)
                .and_then(|v| v.to_str().ok())
                .and_then(from_accept_language)
                .unwrap_or_default()
        })
    }

    /// The language explicitly chosen by query or cookie.
    fn chosen(parts: &Parts) -> Option<Lang> {
        if let Some(lang) = parts
            .uri
            .query()
            .and_then(|q| q.split('&').find_map(|kv| kv.strip_prefix("lang=")))
            .and_then(Lang::parse)
        {
            return Some(lang);
        }
        parts
            .headers
            .get_all(COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(';'))
            .find_map(|kv| kv.trim().strip_prefix("lang="))
            .and_then(Lang::parse)
    }
}

/// The first supported language in an `Accept-Language` header, by quality.
fn from_accept_language(header: &str) -> Option<Lang> {
    let mut best: Option<(f32, Lang)> = None;
    for item in header.split(',').take(32) {
        let mut fields = item.split(';');
        let Some(lang) = fields.next().and_then(Lang::parse) else {
            continue;
        };
        let q = fields
            .find_map(|f| f.trim().strip_prefix("q="))
            .and_then(|q| q.parse::<f32>().ok())
            .unwrap_or(1.0);
        if q > 0.0 && best.is_none_or(|(bq, _)| q > bq) {
            best = Some((q, lang));
        }
    }
    best.map(|(_, lang)| lang)
}

impl<S: Send + Sync> FromRequestParts<S> for Lang {
    type Rejection = Infallible;

    /// Handlers take `Lang` for pages.
    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Lang, Infallible> {
        Ok(Lang::of_page(parts))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Shows times in Japan time, as Japanese and English readers read them: 15:30 UTC on
    // 24 November is 00:30 on Wednesday 25 November in Japan.
    #[test]
    fn japan_time() {
        let t = Timestamp::parse("2026-11-24T15:30:05.123456Z").unwrap();
        assert_eq!(Lang::Ja.datetime(t), "2026年11月25日（水）00:30:05");
        assert_eq!(Lang::En.datetime(t), "2026-11-25 (Wed) 00:30:05 JST");
    }

    // Shows the order of precedence and that Japanese is the default.
    #[test]
    fn negotiation() {
        let parts = |uri: &str, headers: &[(&str, &str)]| {
            let mut builder = axum::http::Request::builder().uri(uri);
            for (k, v) in headers {
                builder = builder.header(*k, *v);
            }
            builder.body(()).map(|r| r.into_parts().0).ok()
        };
        let lang =
            |uri: &str, headers: &[(&str, &str)]| parts(uri, headers).map(|p| Lang::of_request(&p));
        assert_eq!(lang("/", &[]), Some(Lang::Ja));
        assert_eq!(lang("/?lang=en", &[]), Some(Lang::En));
        assert_eq!(lang("/", &[("cookie", "a=b; lang=en")]), Some(Lang::En));
        assert_eq!(lang("/?lang=ja", &[("cookie", "lang=en")]), Some(Lang::Ja));
        assert_eq!(
            lang("/", &[("accept-language", "fr, en-US;q=0.8, ja;q=0.5")]),
            Some(Lang::En)
        );
        assert_eq!(
            lang("/", &[("accept-language", "ja, en;q=0.9")]),
            Some(Lang::Ja)
        );
        assert_eq!(
            lang("/?lang=xx", &[("accept-language", "de")]),
            Some(Lang::Ja)
        );
    }
}
