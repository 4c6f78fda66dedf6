//! Real Chromium through ChromeDriver (Debian's `chromium` and `chromium-driver`), spoken to
//! over the W3C WebDriver protocol. Every page test uses this harness.

use crate::http;
use serde_json::{json, Value};
use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
/// The W3C key under which an element reference is returned.
const ELEMENT_KEY: &str = "element-6066-11e4-a52e-4f735466cecf";

/// A headless Chromium session.
pub struct Browser {
    driver: Child,
    base: String,
    session: String,
    profile: std::path::PathBuf,
}

/// An element on the page.
pub struct Element<'a> {
    browser: &'a Browser,
    id: String,
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("no free port")
}

impl Browser {
    /// Starts ChromeDriver and a headless Chromium session. Fails with instructions when the
    /// browser is not installed (`scripts/test` installs it).
    pub fn start() -> Browser {
        for path in [CHROMIUM, CHROMEDRIVER] {
            assert!(
                std::path::Path::new(path).exists(),
                "{path} is missing: install Debian's chromium and chromium-driver (scripts/test does)"
            );
        }
        let port = free_port();
        let driver = Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("cannot start chromedriver");
        let base = format!("http://127.0.0.1:{port}");
        let deadline = Instant::now() + Duration::from_secs(30);
        while http::request("GET", &format!("{base}/status"), &[], None).status != 200 {
            assert!(Instant::now() < deadline, "chromedriver did not start");
            std::thread::sleep(Duration::from_millis(50));
        }
        let profile =
            std::env::temp_dir().join(format!("kiroku-chromium-{}-{port}", std::process::id()));
        let capabilities = json!({
            "capabilities": { "alwaysMatch": {
                "browserName": "chrome",
                "goog:chromeOptions": {
                    "binary": CHROMIUM,
                    "args": [
                        "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                        "--disable-quic", "--no-first-run", "--disable-background-networking",
                        "--disable-component-update", "--disable-sync",
                        format!("--user-data-dir={}", profile.display()),
                    ]
                }
            }}
        });
        let reply = post(&format!("{base}/session"), &capabilities);
        let session = reply["value"]["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("chromedriver refused the session: {reply}"))
            .to_owned();
        Browser {
            driver,
            base,
            session,
            profile,
        }
    }

    fn url(&self, path: &str) -> String {
        format!("{}/session/{}{path}", self.base, self.session)
    }

    /// Opens a URL and waits for the page to load.
    pub fn goto(&self, url: &str) {
        post(&self.url("/url"), &json!({ "url": url }));
    }

    /// The page title.
    pub fn title(&self) -> String {
        get(&self.url("/title"))["value"]
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    /// Runs a script and returns its value.
    pub fn eval(&self, script: &str) -> Value {
        post(
            &self.url("/execute/sync"),
            &json!({ "script": script, "args": [] }),
        )["value"]
            .clone()
    }

    /// The current page's URL.
    pub fn current_url(&self) -> String {
        get(&self.url("/url"))["value"]
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    /// How many elements match a CSS selector.
    pub fn count(&self, css: &str) -> usize {
        let reply = post(
            &self.url("/elements"),
            &json!({ "using": "css selector", "value": css }),
        );
        reply["value"].as_array().map_or(0, Vec::len)
    }

    /// The first element matching a CSS selector once it is there — after a click that
    /// navigates, the next page may not have loaded yet. Waits up to 20 seconds.
    pub fn wait_for(&self, css: &str) -> Element<'_> {
        let deadline = Instant::now() + Duration::from_secs(20);
        while self.count(css) == 0 {
            assert!(
                Instant::now() < deadline,
                "no element matches {css} at {}",
                self.current_url()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        self.find(css)
    }

    /// The first element matching a CSS selector.
    pub fn find(&self, css: &str) -> Element<'_> {
        let reply = post(
            &self.url("/element"),
            &json!({ "using": "css selector", "value": css }),
        );
        let id = reply["value"][ELEMENT_KEY]
            .as_str()
            .unwrap_or_else(|| panic!("no element matches {css}: {reply}"))
            .to_owned();
        Element { browser: self, id }
    }
}

impl Browser {
    /// The page printed to PDF on A4 paper, as the browser's print command makes it (the
    /// stylesheet's print rules applied).
    pub fn print_pdf(&self) -> Vec<u8> {
        use base64::Engine as _;
        let reply = post(
            &self.url("/print"),
            &json!({ "page": { "width": 21.0, "height": 29.7 }, "background": true }),
        );
        let data = reply["value"]
            .as_str()
            .unwrap_or_else(|| panic!("no PDF: {reply}"));
        base64::engine::general_purpose::STANDARD
            .decode(data)
            .unwrap_or_else(|e| panic!("the PDF is not base64: {e}"))
    }

    /// Adds a virtual WebAuthn authenticator to the session (Chromium's, through the WebAuthn
    /// extension of WebDriver): a platform authenticator that holds discoverable credentials
    /// and verifies its user without asking. Returns its id.
    pub fn add_virtual_authenticator(&self) -> String {
        let reply = post(
            &self.url("/webauthn/authenticator"),
            &json!({
                "protocol": "ctap2",
                "transport": "internal",
                "hasResidentKey": true,
                "hasUserVerification": true,
                "isUserConsenting": true,
                "isUserVerified": true,
            }),
        );
        reply["value"]
            .as_str()
            .unwrap_or_else(|| panic!("no virtual authenticator: {reply}"))
            .to_owned()
    }

    /// The credentials the virtual authenticator `id` holds.
    pub fn authenticator_credentials(&self, id: &str) -> Vec<Value> {
        get(&self.url(&format!("/webauthn/authenticator/{id}/credentials")))["value"]
            .as_array()
            .cloned()
            .unwrap_or_default()
    }
}

impl Element<'_> {
    /// The element's rendered text.
    pub fn text(&self) -> String {
        get(&self.browser.url(&format!("/element/{}/text", self.id)))["value"]
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    /// Types text into it (a form field).
    pub fn send_keys(&self, text: &str) {
        post(
            &self.browser.url(&format!("/element/{}/value", self.id)),
            &json!({ "text": text }),
        );
    }

    /// Empties it (a form field).
    pub fn clear(&self) {
        post(
            &self.browser.url(&format!("/element/{}/clear", self.id)),
            &json!({}),
        );
    }

    /// Clicks it.
    pub fn click(&self) {
        post(
            &self.browser.url(&format!("/element/{}/click", self.id)),
            &json!({}),
        );
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = http::request("DELETE", &self.url(""), &[], None);
        let _ = self.driver.kill();
        let _ = self.driver.wait();
        let _ = std::fs::remove_dir_all(&self.profile);
    }
}

fn post(url: &str, body: &Value) -> Value {
    let reply = http::request(
        "POST",
        url,
        &[("content-type", "application/json")],
        Some(body.to_string().as_bytes()),
    );
    assert_eq!(reply.status, 200, "WebDriver {url}: {}", reply.text());
    reply.json()
}

fn get(url: &str) -> Value {
    let reply = http::request("GET", url, &[], None);
    assert_eq!(reply.status, 200, "WebDriver {url}: {}", reply.text());
    reply.json()
}
