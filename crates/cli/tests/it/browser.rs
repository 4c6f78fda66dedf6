//! The status page in real Chromium, in Japanese and in English: the harness every later page
//! test uses.

use kiroku_testkit::browser::Browser;
use kiroku_testkit::TestServer;

// Shows that the status page opens in Japanese by default with the ledger's facts, that the
// language switch turns it into English, and that the choice sticks on the next visit.
#[test]
fn status_page_in_japanese_and_english() {
    let server = TestServer::start();
    assert_eq!(server.post_note("browser test").status, 201);
    let browser = Browser::start();
    browser.goto(&server.url("/"));
    assert_eq!(browser.eval("return document.documentElement.lang"), "ja");
    assert_eq!(browser.title(), "台帳の状態 — Kiroku");
    assert_eq!(browser.find("h1").text(), "台帳の状態");
    assert_eq!(browser.find("#origin").text(), server.data().origin);
    assert_eq!(browser.find("#tree-size").text(), "2");
    assert!(browser
        .find("#verification-outcome")
        .text()
        .contains("まだ検証されていません"));
    // The stylesheet loaded (CSP allows it): the header is laid out as flex.
    assert_eq!(
        browser.eval("return getComputedStyle(document.querySelector('header')).display"),
        "flex"
    );

    browser.find("#lang-switch").click();
    assert_eq!(browser.eval("return document.documentElement.lang"), "en");
    assert_eq!(browser.find("h1").text(), "Ledger status");
    assert!(browser
        .find("#verification-outcome")
        .text()
        .contains("Not verified yet"));

    browser.goto(&server.url("/"));
    assert_eq!(
        browser.find("h1").text(),
        "Ledger status",
        "the cookie keeps English"
    );
    browser.find("#lang-switch").click();
    assert_eq!(browser.find("h1").text(), "台帳の状態");
}
