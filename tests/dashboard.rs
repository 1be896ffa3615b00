//! The dashboard in a real browser: headless Chromium (Debian's `chromium`),
//! driven over WebDriver by `chromedriver` (Debian's `chromium-driver`)
//! through fantoccini. A person's steps: log in through the form, find a
//! connected client on the clients page, kick it and see it gone (and its
//! socket closed), and watch the overview's rate chart rise while messages
//! flow.
//!
//! `cargo test --test dashboard -- --ignored screenshots` drives the same
//! browser to write docs/dashboard-*.png (the README's pictures).

#[macro_use]
mod common;
use common::browser::{log_in, open, wait_js, ChromeDriver, STEP};
use common::http::http;
use common::*;

use fantoccini::{Client, Locator};
use serde_json::json;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// The monitor behind the overview's charts samples every second (EMQX's
/// default is 10 s), so a test sees a rate within a poll or two.
const SAMPLE_EVERY_SECOND: (&str, &str) = ("ROOST__DASHBOARD__SAMPLE_INTERVAL", "1s");

/// A number a chart keeps in a data attribute of its canvas (0 if none yet).
async fn chart_value(c: &Client, canvas: &str, attr: &str) -> f64 {
    let v = c
        .execute(
            "return document.getElementById(arguments[0])?.getAttribute(arguments[1]) || ''",
            vec![json!(canvas), json!(attr)],
        )
        .await
        .unwrap();
    v.as_str().and_then(|s| s.parse().ok()).unwrap_or(0.0)
}

/// Publishes QoS 1 messages every 20 ms until the flag is cleared.
fn publish_in_background(addr: SocketAddr, id: &str) -> Arc<AtomicBool> {
    let running = Arc::new(AtomicBool::new(true));
    let flag = running.clone();
    let id = id.to_string();
    tokio::spawn(async move {
        let mut publisher = V5Client::connect(addr, &id).await;
        while flag.load(Ordering::Relaxed) {
            publisher.publish("dashboard/load", b"tick", 1, false).await;
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        publisher.disconnect().await;
    });
    running
}

/// The page and its files are served without credentials (the page logs in
/// itself), with their content types; the API stays closed.
#[tokio::test]
async fn page_and_assets_need_no_credentials() {
    let b = Broker::start();
    let addr = b.http_addr();
    let page = http(addr, "GET", "/", None, None).await;
    assert_eq!(page.status, 200, "GET /: {}", page.body);
    assert_eq!(
        page.header("content-type"),
        Some("text/html; charset=utf-8")
    );
    let csp = page.header("content-security-policy").unwrap_or_default();
    assert!(csp.contains("script-src 'self'"), "CSP: {csp:?}");
    assert!(page.body.contains("/assets/app.js"), "{}", page.body);
    for (path, ctype, needle) in [
        (
            "/assets/app.js",
            "text/javascript; charset=utf-8",
            "/api/v5/login",
        ),
        ("/assets/style.css", "text/css; charset=utf-8", "--accent"),
        (
            "/assets/pages/clients.js",
            "text/javascript; charset=utf-8",
            "/api/v5/clients",
        ),
        (
            "/assets/pages/actors.js",
            "text/javascript; charset=utf-8",
            "/api/v5/actors",
        ),
    ] {
        let r = http(addr, "GET", path, None, None).await;
        assert_eq!(r.status, 200, "GET {path}");
        assert_eq!(r.header("content-type"), Some(ctype), "GET {path}");
        assert!(r.body.contains(needle), "GET {path} holds {needle:?}");
    }
    let r = http(addr, "GET", "/assets/pages/nowhere.js", None, None).await;
    assert_eq!(r.status, 404, "a missing asset");
    assert_eq!(r.json()["code"], "NOT_FOUND");
    let r = http(addr, "GET", "/assets/../Cargo.toml", None, None).await;
    assert_eq!(r.status, 404, "nothing outside the dashboard's files");
    let r = http(addr, "GET", "/actors?depth=2", None, None).await;
    assert!(matches!(r.status, 301..=308), "GET /actors: {}", r.status);
    assert_eq!(r.header("location"), Some("/#/actors?depth=2"));
    let r = http(addr, "GET", "/api/v5/nodes", None, None).await;
    assert_eq!(r.status, 401, "the API still needs credentials");
}

#[tokio::test]
async fn log_in_kick_a_client_and_watch_the_rate_chart() {
    let Some(driver) = ChromeDriver::start() else {
        return;
    };
    let b = Broker::start_with(&[SAMPLE_EVERY_SECOND]);
    let http = b.http_addr();
    let c = driver.browser().await;
    log_in(&c, http).await;

    // Every page of the navigation loads its script and draws without an error.
    let pages = c
        .execute(
            "return [...document.querySelectorAll('nav a[data-nav]')].map(a => a.dataset.nav)",
            vec![],
        )
        .await
        .unwrap();
    let pages: Vec<String> = serde_json::from_value(pages).unwrap();
    assert!(pages.len() >= 10, "the navigation: {pages:?}");
    for page in &pages {
        open(&c, http, page).await;
        let error = wait_js(
            &c,
            &format!("page {page} to draw"),
            "const s = document.querySelector('section.page');              const err = s.querySelector('.notice.error');              if (err) return 'error: ' + err.innerText;              return s.querySelector('table, .notice, .cards, .panel') ? 'ok' : ''",
            vec![],
        )
        .await;
        assert_eq!(error, "ok", "page {page}");
    }

    // A connected client, found by searching on the clients page.
    let id = "dashboard-victim";
    let (mut victim, _) =
        RawClient::connect_ok(b.addr(), connect_packet(ProtocolVersion::V5, id)).await;
    open(&c, http, "clients").await;
    let search = c
        .wait()
        .at_most(STEP)
        .for_element(Locator::Css("input[name=like_clientid]"))
        .await
        .expect("the client search box");
    search.send_keys("victim").await.unwrap();
    let row = format!("tr[data-clientid=\"{id}\"]");
    wait_js(
        &c,
        "the client in the search results",
        "const rows = document.querySelectorAll('tr[data-clientid]'); \
         return rows.length === 1 && rows[0].dataset.clientid === arguments[0]",
        vec![json!(id)],
    )
    .await;

    // Kick it: the button asks first, then the row goes and the socket closes.
    c.find(Locator::Css(&format!("{row} button.kick")))
        .await
        .expect("a kick button on the client's row")
        .click()
        .await
        .unwrap();
    c.wait()
        .at_most(STEP)
        .for_element(Locator::Css("dialog[open] #confirm-ok"))
        .await
        .expect("the confirmation dialog")
        .click()
        .await
        .unwrap();
    let closed = victim.expect_closed().await;
    assert_eq!(
        closed.map(|d| d.reason_code),
        Some(ReasonCode::AdministrativeAction),
        "a kicked 5.0 client hears why before its socket closes"
    );
    wait_js(
        &c,
        "the kicked client to leave the list",
        "return !document.querySelector(arguments[0]) && !!document.querySelector('td.empty')",
        vec![json!(row)],
    )
    .await;

    // The overview's received-rate series rises while a client publishes.
    open(&c, http, "overview").await;
    wait_js(
        &c,
        "the first point on the rate chart",
        "return +(document.getElementById('chart-rates')?.dataset.points || 0) >= 1",
        vec![],
    )
    .await;
    let before = chart_value(&c, "chart-rates", "data-last-received").await;
    let points_before = chart_value(&c, "chart-rates", "data-points").await;
    let publishing = publish_in_background(b.addr(), "dashboard-publisher");
    let risen = wait_js(
        &c,
        "the received rate to rise on the chart",
        "const v = +(document.getElementById('chart-rates').dataset.lastReceived || 0); \
         return v > arguments[0] ? v : 0",
        vec![json!(before)],
    )
    .await;
    publishing.store(false, Ordering::Relaxed);
    let points_after = chart_value(&c, "chart-rates", "data-points").await;
    assert!(
        points_after > points_before,
        "the chart gained points ({points_before} -> {points_after})"
    );
    eprintln!("received rate on the chart: {before} -> {risen}");
    let card = c
        .find(Locator::Css("[data-stat=received_msg_rate]"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_ne!(card, "–", "the received-rate card shows a number");
    c.close().await.unwrap();
}

/// Writes docs/dashboard-{overview,clients,actors}.png from a broker with a
/// few clients and some traffic. Run by hand after changing the dashboard:
/// `cargo test --test dashboard -- --ignored screenshots`.
#[tokio::test]
#[ignore]
async fn screenshots() {
    let driver = ChromeDriver::start().expect("chromedriver for the screenshots");
    let b = Broker::start_with(&[SAMPLE_EVERY_SECOND]);
    let http = b.http_addr();
    let mut clients = Vec::new();
    for (i, name) in [
        "thermostat-kitchen",
        "thermostat-hall",
        "door-front",
        "meter-main",
        "gateway-1",
    ]
    .into_iter()
    .enumerate()
    {
        let mut c = V5Client::connect(b.addr(), name).await;
        c.subscribe(&format!("home/{name}/cmd"), (i % 3) as u8)
            .await;
        clients.push(c);
    }
    let mut archive = V5Client::connect(b.addr(), "telemetry-archive").await;
    archive.subscribe("dashboard/#", 0).await;
    clients.push(archive);
    let publishing = publish_in_background(b.addr(), "telemetry-bridge");
    let c = driver.browser().await;
    log_in(&c, http).await;
    // Let the charts draw a little history.
    tokio::time::sleep(Duration::from_secs(20)).await;

    let docs = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("docs");
    for (route, file) in [
        ("overview", "dashboard-overview.png"),
        ("clients", "dashboard-clients.png"),
        ("actors?depth=2", "dashboard-actors.png"),
    ] {
        open(&c, http, route).await;
        tokio::time::sleep(Duration::from_secs(if route == "overview" {
            12
        } else {
            2
        }))
        .await;
        let png = c.screenshot().await.expect("a screenshot");
        std::fs::write(docs.join(file), png).expect("write the screenshot");
        eprintln!("wrote docs/{file}");
    }
    publishing.store(false, Ordering::Relaxed);
    c.close().await.unwrap();
}
