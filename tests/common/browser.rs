//! A real browser for the dashboard tests: headless Chromium (Debian's
//! `chromium`) driven over WebDriver by `chromedriver` (Debian's
//! `chromium-driver`) through fantoccini; logging in and opening pages as a
//! person does.

use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{json, Value};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// How long the browser may take for one step (a page load, a poll).
pub const STEP: Duration = Duration::from_secs(15);

/// A `chromedriver` child process on a free port; killed on drop.
pub struct ChromeDriver {
    child: Child,
    port: u16,
}

impl ChromeDriver {
    /// Starts chromedriver (`$CHROMEDRIVER`, else `chromedriver` on the PATH),
    /// or answers `None` where it is not installed and this is not CI.
    pub fn start() -> Option<ChromeDriver> {
        let bin = std::env::var("CHROMEDRIVER").unwrap_or_else(|_| "chromedriver".into());
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let child = match Command::new(&bin)
            .arg(format!("--port={port}"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
        {
            Ok(child) => child,
            Err(e) if std::env::var_os("CI").is_none() => {
                eprintln!("SKIP: cannot run {bin} ({e}); install chromium and chromium-driver");
                return None;
            }
            Err(e) => panic!("cannot run {bin} ({e}); .ci/run installs chromium-driver"),
        };
        let driver = ChromeDriver { child, port };
        let deadline = Instant::now() + STEP;
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "chromedriver did not listen on {port}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        Some(driver)
    }

    /// A new headless Chromium session (as root in CI: no sandbox).
    pub async fn browser(&self) -> Client {
        let args = [
            "--headless=new",
            "--no-sandbox",
            "--disable-dev-shm-usage",
            "--disable-gpu",
            "--window-size=1400,900",
        ];
        let mut options = json!({ "args": args });
        if let Ok(binary) = std::env::var("CHROMIUM") {
            options["binary"] = json!(binary);
        }
        let mut caps = serde_json::Map::new();
        caps.insert("goog:chromeOptions".into(), options);
        ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
            .capabilities(caps)
            .connect(&format!("http://127.0.0.1:{}", self.port))
            .await
            .expect("a WebDriver session with headless Chromium")
    }
}

impl Drop for ChromeDriver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs `script` (a function body, `arguments[i]` are `args`) in the page
/// until it answers something truthy; answers that, or panics after [`STEP`].
pub async fn wait_js(c: &Client, what: &str, script: &str, args: Vec<Value>) -> Value {
    let deadline = Instant::now() + STEP;
    loop {
        let v = c.execute(script, args.clone()).await.expect("run script");
        let truthy = match &v {
            Value::Null => false,
            Value::Bool(b) => *b,
            Value::Number(n) => n.as_f64() != Some(0.0),
            Value::String(s) => !s.is_empty(),
            _ => true,
        };
        if truthy {
            return v;
        }
        if Instant::now() >= deadline {
            let text = c
                .execute("return document.body.innerText", vec![])
                .await
                .unwrap_or_default();
            panic!("timed out waiting for {what}; the page shows:\n{text}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Opens the dashboard, which sends a new visitor to its login page, and
/// logs in through the form as a person would.
pub async fn log_in(c: &Client, http: SocketAddr) {
    c.goto(&format!("http://{http}/")).await.expect("open /");
    let form = c
        .wait()
        .at_most(STEP)
        .for_element(Locator::Css("#login-form"))
        .await
        .expect("the login form");
    let user = form
        .find(Locator::Css("input[name=username]"))
        .await
        .unwrap();
    user.send_keys("admin").await.unwrap();
    let pass = form
        .find(Locator::Css("input[name=password]"))
        .await
        .unwrap();
    pass.send_keys("public").await.unwrap();
    form.find(Locator::Css("button[type=submit]"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    wait_js(
        c,
        "the overview after logging in",
        "return location.hash.startsWith('#/overview') && !!document.querySelector('nav a[data-nav=clients]')",
        vec![],
    )
    .await;
}

/// Goes to a page of the dashboard by its route (`clients`, `overview`...).
pub async fn open(c: &Client, http: SocketAddr, route: &str) {
    c.goto(&format!("http://{http}/#/{route}")).await.unwrap();
    wait_js(
        c,
        &format!("page {route}"),
        "return document.querySelector('section.page')?.dataset.page === arguments[0]",
        vec![json!(route.split(['/', '?']).next().unwrap())],
    )
    .await;
}
