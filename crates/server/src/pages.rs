//! Server-rendered pages: the base layout every page uses (title, navigation, language switch,
//! one stylesheet) and HTML escaping. Text is Japanese by default, English on request.

use crate::i18n::Lang;
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE};
use axum::response::{Html, IntoResponse, Response};

/// The stylesheet.
pub const CSS: &str = include_str!("assets/kiroku.css");

/// Escapes text for HTML element content and quoted attributes.
pub fn esc(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

/// A whole page: `title` and `body` (already HTML) in the base layout. `path` is the page's own
/// path, for the language switch.
pub fn layout(lang: Lang, title: &str, path: &str, body: &str) -> String {
    let other = match lang {
        Lang::Ja => Lang::En,
        Lang::En => Lang::Ja,
    };
    let other_label = match other {
        Lang::Ja => "日本語",
        Lang::En => "English",
    };
    format!(
        r#"<!doctype html>
<html lang="{code}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title} — Kiroku</title>
<link rel="stylesheet" href="/assets/kiroku.css">
</head>
<body>
<header>
<a class="brand" href="/">Kiroku 記録</a>
<nav>
<a href="/">{status}</a>
<a href="/ledger/checkpoint">{checkpoint}</a>
<a id="lang-switch" href="{path}?lang={other_code}" hreflang="{other_code}" lang="{other_code}">{other_label}</a>
</nav>
</header>
<main>
<h1>{title}</h1>
{body}
</main>
<footer>{footer}</footer>
</body>
</html>
"#,
        code = lang.code(),
        title = esc(title),
        status = lang.pick("台帳の状態", "Ledger status"),
        checkpoint = lang.pick("最新チェックポイント", "Latest checkpoint"),
        path = esc(path),
        other_code = other.code(),
        footer = lang.pick(
            "Kiroku — 検証可能な台帳に基づく記録・ガバナンス基盤",
            "Kiroku — records and governance on a verifiable ledger"
        ),
    )
}

/// An HTML response that sets the language cookie when the page was asked for by `?lang=`.
pub fn page(lang: Lang, set_cookie: bool, html: String) -> Response {
    let mut response = Html(html).into_response();
    if set_cookie {
        if let Ok(value) = format!(
            "lang={}; Path=/; Max-Age=31536000; SameSite=Lax",
            lang.code()
        )
        .parse()
        {
            response
                .headers_mut()
                .insert(axum::http::header::SET_COOKIE, value);
        }
    }
    response
}

/// The stylesheet response.
pub fn css() -> Response {
    (
        [
            (CONTENT_TYPE, "text/css; charset=utf-8"),
            (CACHE_CONTROL, "public, max-age=3600"),
        ],
        CSS,
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    // Shows that markup in text is escaped.
    #[test]
    fn escaping() {
        assert_eq!(
            esc(r#"<a href="x">'&'</a>"#),
            "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;"
        );
    }
}
