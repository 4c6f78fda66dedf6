//! The access wing's typed test client: a person signed in through the web pages as a browser
//! does (the sign-in form's double-submit token, the session cookie, the session's CSRF token
//! for forms and state-changing API requests), and a system client's token from the OAuth
//! token endpoint.

use crate::{Reply, TestServer};
use base64::Engine as _;
use serde_json::Value;

/// A signed-in person: the session cookie and the session's CSRF token.
pub struct Person<'a> {
    server: &'a TestServer,
    /// The `Cookie` header value of the session.
    pub cookie: String,
    /// The session's CSRF token.
    pub csrf: String,
}

impl<'a> Person<'a> {
    /// Signs `account` in with `password` through the sign-in form, then reads the session's
    /// CSRF token from "my account".
    pub fn sign_in(server: &'a TestServer, account: &str, password: &str) -> Person<'a> {
        let cookie = web_sign_in(server, account, password);
        let csrf = form_csrf(&server.get_with("/me", &[("cookie", &cookie)]).text());
        Person {
            server,
            cookie,
            csrf,
        }
    }

    /// The server signed in to.
    pub fn server(&self) -> &TestServer {
        self.server
    }

    /// GET `path` with the session.
    pub fn get(&self, path: &str) -> Reply {
        self.server.get_with(path, &[("cookie", &self.cookie)])
    }

    /// A request with the session, its CSRF token and these headers.
    pub fn send(
        &self,
        method: &str,
        path: &str,
        extra: &[(&str, &str)],
        body: Option<&[u8]>,
    ) -> Reply {
        let mut headers = vec![
            ("cookie", self.cookie.as_str()),
            ("x-csrf-token", self.csrf.as_str()),
        ];
        headers.extend_from_slice(extra);
        self.server.send(method, path, &headers, body)
    }

    /// A JSON API request with the session and its CSRF token.
    pub fn api(&self, method: &str, path: &str, body: Option<&Value>) -> Reply {
        let body = body.map(Value::to_string);
        self.send(
            method,
            path,
            &[("content-type", "application/json")],
            body.as_deref().map(str::as_bytes),
        )
    }

    /// A form posted as the browser posts it, with the session's CSRF token.
    pub fn form(&self, path: &str, fields: &[(&str, &str)]) -> Reply {
        let mut fields = fields.to_vec();
        fields.push(("csrf", &self.csrf));
        self.server.send(
            "POST",
            path,
            &[
                ("cookie", self.cookie.as_str()),
                ("content-type", "application/x-www-form-urlencoded"),
            ],
            Some(&form_body(&fields)),
        )
    }
}

/// Signs in over HTTP as the sign-in form does; returns the session's `Cookie` header value.
pub fn web_sign_in(server: &TestServer, account: &str, password: &str) -> String {
    let page = server.get("/sign-in");
    let pre = set_cookie(&page, "kiroku_sign_in").expect("the sign-in form's cookie");
    let cookie = format!("kiroku_sign_in={pre}");
    let headers = [
        ("content-type", "application/x-www-form-urlencoded"),
        ("cookie", cookie.as_str()),
    ];
    let body = form_body(&[("account", account), ("password", password), ("csrf", &pre)]);
    let reply = server.send("POST", "/sign-in", &headers, Some(&body));
    assert_eq!(reply.status, 303, "{}", reply.text());
    format!(
        "kiroku_session={}",
        set_cookie(&reply, "kiroku_session").expect("a session cookie")
    )
}

/// The value a reply sets for cookie `name`.
pub fn set_cookie(reply: &Reply, name: &str) -> Option<String> {
    reply
        .headers
        .iter()
        .filter(|(k, _)| k == "set-cookie")
        .filter_map(|(_, v)| v.split(';').next())
        .filter_map(|kv| kv.split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_owned())
}

/// The value of the hidden `csrf` field of a page.
pub fn form_csrf(html: &str) -> String {
    let marker = "name=\"csrf\" value=\"";
    let at = html.find(marker).expect("a csrf field") + marker.len();
    html[at..].split('"').next().unwrap_or_default().to_owned()
}

/// Form fields as `application/x-www-form-urlencoded`.
pub fn form_body(fields: &[(&str, &str)]) -> Vec<u8> {
    fields
        .iter()
        .map(|(k, v)| format!("{k}={}", url_encode(v)))
        .collect::<Vec<_>>()
        .join("&")
        .into_bytes()
}

fn url_encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// HTTP Basic credentials of a system client.
pub fn basic(id: &str, secret: &str) -> String {
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{id}:{secret}"))
    )
}

/// A request to the token endpoint with these form fields (and Basic credentials if given).
pub fn token_request(server: &TestServer, auth: Option<&str>, fields: &[(&str, &str)]) -> Reply {
    let body = form_body(fields);
    let mut headers = vec![("content-type", "application/x-www-form-urlencoded")];
    if let Some(auth) = auth {
        headers.push(("authorization", auth));
    }
    server.send("POST", "/oauth/token", &headers, Some(&body))
}

/// A bearer token for system client `id` (client credentials, `scope` if asked), checked to be
/// the answer RFC 6749 describes.
pub fn token(server: &TestServer, id: &str, secret: &str, scope: Option<&str>) -> String {
    let auth = basic(id, secret);
    let mut fields = vec![("grant_type", "client_credentials")];
    if let Some(scope) = scope {
        fields.push(("scope", scope));
    }
    let reply = token_request(server, Some(&auth), &fields);
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert_eq!(reply.header("cache-control"), Some("no-store"));
    let body = reply.json();
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 3600);
    body["access_token"]
        .as_str()
        .expect("an access token")
        .to_owned()
}
