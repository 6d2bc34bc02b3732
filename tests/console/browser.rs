//! Headless Chromium from Debian's packages (`chromium`, `chromium-driver`),
//! driven over WebDriver. Where they are not installed the tests say so and
//! pass without running, except in CI (`CI` set), where `.ci/run` installs
//! them and their absence is a failure.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use fantoccini::elements::Element;
use fantoccini::error::CmdError;
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{Value, json};

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";

/// How long a test waits for the page to show what it expects.
pub const WAIT: Duration = Duration::from_secs(10);

/// A chromedriver process, stopped when dropped.
pub struct Driver {
    child: Child,
    url: String,
}

impl Driver {
    /// Starts chromedriver, or `None` (with the reason printed) where the
    /// browser is not installed.
    pub async fn start() -> Option<Driver> {
        let missing: Vec<&str> = [CHROMIUM, CHROMEDRIVER]
            .into_iter()
            .filter(|path| !Path::new(path).exists())
            .collect();
        if !missing.is_empty() {
            let message = format!(
                "console browser tests skipped: {} not installed (apt-get install chromium chromium-driver; .ci/run does)",
                missing.join(" and ")
            );
            assert!(std::env::var_os("CI").is_none(), "{message}");
            eprintln!("{message}");
            return None;
        }
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|listener| listener.local_addr())
            .expect("a free port")
            .port();
        let mut child = Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start chromedriver");
        let url = format!("http://127.0.0.1:{port}");
        let status = format!("{url}/status");
        let http = reqwest::Client::new();
        for _ in 0..100 {
            if http
                .get(&status)
                .send()
                .await
                .is_ok_and(|r| r.status().is_success())
            {
                return Some(Driver { child, url });
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let _ = child.kill();
        let _ = child.wait();
        panic!("chromedriver did not start on port {port}");
    }

    /// A new browser session (its own profile, so its own sessionStorage)
    /// with a window of `width` × `height` CSS pixels.
    pub async fn session(&self, base_url: &str, width: u32, height: u32) -> Browser {
        let mut options = json!({
            "binary": CHROMIUM,
            "args": [
                "--headless=new",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-dev-shm-usage",
                "--force-device-scale-factor=1",
                format!("--window-size={width},{height}"),
                // Every outside host is unreachable: what the pages need
                // must come from the server itself.
                "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
            ],
        });
        // Windows narrower than 500 px are widened by Chromium: a phone's
        // viewport needs its device emulation.
        if width < 500 {
            options["mobileEmulation"] = json!({
                "deviceMetrics": { "width": width, "height": height, "pixelRatio": 1.0 },
            });
        }
        let mut capabilities = serde_json::Map::new();
        capabilities.insert("goog:chromeOptions".into(), options);
        let client = ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
            .capabilities(capabilities)
            .connect(&self.url)
            .await
            .expect("a browser session");
        Browser {
            client,
            base_url: base_url.to_owned(),
        }
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One browser window on the console.
pub struct Browser {
    client: Client,
    base_url: String,
}

impl Browser {
    pub async fn open(&self, path: &str) {
        self.client
            .goto(&format!("{}{path}", self.base_url))
            .await
            .expect("navigate");
    }

    /// Signs in through the form, as a user pasting a token.
    pub async fn sign_in(&self, token: &str) {
        self.open("/console/").await;
        let field = self.wait_for("#token").await;
        field.clear().await.expect("clear the token field");
        field.send_keys(token).await.expect("type the token");
        self.click("#sign-in").await;
        self.wait_for("#sign-out").await;
    }

    pub async fn wait_for(&self, css: &str) -> Element {
        self.client
            .wait()
            .at_most(WAIT)
            .for_element(Locator::Css(css))
            .await
            .unwrap_or_else(|error| panic!("{css} did not appear: {error}"))
    }

    /// Finds the element and runs `op` on it; again, with the element
    /// found anew, if the page replaced it in between (live updates and
    /// reads re-render rows at any time).
    async fn on_element<T, F, Fut>(&self, css: &str, what: &str, op: F) -> T
    where
        F: Fn(Element) -> Fut,
        Fut: Future<Output = Result<T, CmdError>>,
    {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            match op(self.wait_for(css).await).await {
                Ok(value) => return value,
                Err(error)
                    if error.is_stale_element_reference()
                        && tokio::time::Instant::now() < deadline => {}
                Err(error) => panic!("cannot {what} {css}: {error}"),
            }
        }
    }

    pub async fn click(&self, css: &str) {
        self.on_element(css, "click", |element| async move { element.click().await })
            .await;
    }

    /// Replaces what a form control holds with `text`, as typed.
    pub async fn fill(&self, css: &str, text: &str) {
        self.on_element(css, "type into", |element| async move {
            element.clear().await?;
            element.send_keys(text).await
        })
        .await;
    }

    pub async fn text(&self, css: &str) -> String {
        self.on_element(css, "read the text of", |element| async move {
            element.text().await
        })
        .await
    }

    /// The texts of every element that matches, read at one instant.
    pub async fn texts(&self, css: &str) -> Vec<String> {
        let script = format!(
            "return [...document.querySelectorAll({})].map((el) => el.innerText.trim())",
            Value::from(css)
        );
        serde_json::from_value(self.eval(&script).await).expect("texts")
    }

    /// Waits until the element's text satisfies `check`; its last text.
    pub async fn wait_for_text(
        &self,
        css: &str,
        what: &str,
        check: impl Fn(&str) -> bool,
    ) -> String {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let text = match self.client.find(Locator::Css(css)).await {
                Ok(element) => element.text().await.unwrap_or_default(),
                Err(_) => String::new(),
            };
            if check(&text) {
                return text;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "{css} never showed {what}; it shows {text:?}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    pub async fn attribute(&self, css: &str, name: &str) -> Option<String> {
        self.on_element(css, "read an attribute of", |element| async move {
            element.attr(name).await
        })
        .await
    }

    pub async fn eval(&self, script: &str) -> Value {
        self.client
            .execute(script, Vec::new())
            .await
            .expect("run a script")
    }

    /// Presses a key on the focused element (e.g. "\u{e00c}" for Escape).
    pub async fn press(&self, key: &str) {
        let focused = self
            .client
            .active_element()
            .await
            .expect("the focused element");
        focused.send_keys(key).await.expect("press a key");
    }

    /// Saves what the window shows as `target/console-screenshots/NAME.png`.
    pub async fn screenshot(&self, name: &str) -> PathBuf {
        let png = self.client.screenshot().await.expect("a screenshot");
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
            .parent()
            .expect("the target directory")
            .join("console-screenshots");
        std::fs::create_dir_all(&dir).expect("the screenshot directory");
        let path = dir.join(format!("{name}.png"));
        std::fs::write(&path, png).expect("write the screenshot");
        path
    }

    pub async fn close(self) {
        let _ = self.client.close().await;
    }
}
