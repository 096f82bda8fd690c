//! The WebDriver client shared by the browser tests: Debian's headless Chromium through
//! `chromedriver` (started per driver on a free port, its own profile), with the few
//! commands the tests use and PNG screenshots.

#![allow(dead_code)]

use std::{
    path::PathBuf,
    process::{Child, Command, Stdio},
    time::Duration,
};

use serde_json::{Value, json};

pub struct Driver {
    http: reqwest::Client,
    base: String,
    session: String,
    child: Child,
    profile: PathBuf,
}

pub fn b64decode(s: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(s.len() * 3 / 4);
    let (mut buf, mut bits) = (0u32, 0u32);
    for c in s.bytes() {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => continue,
        } as u32;
        buf = (buf << 6) | v;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((buf >> bits) as u8);
            buf &= (1 << bits) - 1;
        }
    }
    out
}

pub fn which(cmd: &str) -> Option<PathBuf> {
    std::env::var_os("PATH")?
        .to_str()?
        .split(':')
        .map(|d| PathBuf::from(d).join(cmd))
        .find(|p| p.exists())
}

impl Driver {
    /// A phone-sized browser (390×844); `None` when chromedriver/chromium are missing
    /// (a failure in CI).
    pub async fn start() -> Option<Driver> {
        Self::start_sized(390, 844).await
    }

    pub async fn start_sized(width: u32, height: u32) -> Option<Driver> {
        let (Some(driver), Some(chromium)) = (
            which("chromedriver"),
            which("chromium").or_else(|| which("chromium-browser")),
        ) else {
            if std::env::var("CI").is_ok() {
                panic!("chromedriver and chromium are required in CI (.ci/run installs them)");
            }
            eprintln!("chromedriver/chromium not installed: skipping the browser test");
            return None;
        };
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Command::new(driver)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver starts");
        let http = reqwest::Client::new();
        let base = format!("http://127.0.0.1:{port}");
        for _ in 0..100 {
            if http.get(format!("{base}/status")).send().await.is_ok() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let profile = std::env::temp_dir().join(format!("choso-chrome-{}", ulid::Ulid::generate()));
        let caps = json!({ "capabilities": { "alwaysMatch": { "browserName": "chrome", "goog:chromeOptions": {
            "binary": chromium,
            "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-dev-shm-usage",
                     "--disable-component-update", "--disable-sync", "--no-first-run", format!("--window-size={width},{height}"),
                     format!("--user-data-dir={}", profile.display())]
        } } } });
        let v: Value = http
            .post(format!("{base}/session"))
            .json(&caps)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let session = v["value"]["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("no session: {v}"))
            .to_string();
        Some(Driver {
            http,
            base,
            session,
            child,
            profile,
        })
    }

    pub async fn cmd(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        let url = format!("{}/session/{}{path}", self.base, self.session);
        let mut req = self.http.request(method, url);
        if let Some(b) = body {
            req = req.json(&b);
        }
        let v: Value = req.send().await.unwrap().json().await.unwrap();
        v["value"].clone()
    }

    pub async fn goto(&self, url: &str) {
        self.cmd(reqwest::Method::POST, "/url", Some(json!({ "url": url })))
            .await;
    }

    pub async fn find(&self, css: &str) -> String {
        for _ in 0..50 {
            let v = self
                .cmd(
                    reqwest::Method::POST,
                    "/element",
                    Some(json!({ "using": "css selector", "value": css })),
                )
                .await;
            if let Some(obj) = v.as_object()
                && let Some(id) = obj.values().next().and_then(Value::as_str)
                && !obj.contains_key("error")
            {
                return id.to_string();
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("no element {css} on {}", self.url().await);
    }

    pub async fn fill(&self, css: &str, text: &str) {
        let id = self.find(css).await;
        self.cmd(
            reqwest::Method::POST,
            &format!("/element/{id}/clear"),
            Some(json!({})),
        )
        .await;
        self.cmd(
            reqwest::Method::POST,
            &format!("/element/{id}/value"),
            Some(json!({ "text": text })),
        )
        .await;
    }

    /// Follows a link: reads its `href` from the page and goes there.
    pub async fn follow(&self, css: &str) {
        let id = self.find(css).await;
        let href = self
            .cmd(
                reqwest::Method::GET,
                &format!("/element/{id}/property/href"),
                None,
            )
            .await;
        let href = href
            .as_str()
            .unwrap_or_else(|| panic!("{css} has no href"))
            .to_string();
        self.goto(&href).await;
    }

    /// Presses Enter in a field: the form's implicit submission (the phone keyboard's "Go").
    pub async fn enter(&self, css: &str) {
        let id = self.find(css).await;
        self.cmd(
            reqwest::Method::POST,
            &format!("/element/{id}/value"),
            Some(json!({ "text": "\u{E007}" })),
        )
        .await;
    }

    pub async fn text(&self) -> String {
        let id = self.find("body").await;
        self.cmd(reqwest::Method::GET, &format!("/element/{id}/text"), None)
            .await
            .as_str()
            .unwrap_or("")
            .to_string()
    }

    /// Waits (up to 10 s) until the address contains `part`.
    pub async fn wait_url(&self, part: &str) -> String {
        for _ in 0..100 {
            let u = self.url().await;
            if u.contains(part) {
                return u;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let u = self.url().await;
        panic!(
            "the browser is at {u}, not at …{part}\n{}",
            self.text().await
        );
    }

    pub async fn url(&self) -> String {
        self.cmd(reqwest::Method::GET, "/url", None)
            .await
            .as_str()
            .unwrap_or("")
            .to_string()
    }

    /// True when a JavaScript dialog (alert) is open.
    pub async fn alert_open(&self) -> bool {
        let v = self.cmd(reqwest::Method::GET, "/alert/text", None).await;
        v.is_string()
    }

    pub async fn screenshot(&self, dir: &std::path::Path, name: &str) {
        let v = self.cmd(reqwest::Method::GET, "/screenshot", None).await;
        let png = b64decode(v.as_str().unwrap_or(""));
        assert!(png.starts_with(b"\x89PNG"), "a screenshot of {name}");
        std::fs::create_dir_all(dir).unwrap();
        std::fs::write(dir.join(format!("{name}.png")), png).unwrap();
    }

    pub async fn quit(mut self) {
        let _ = self
            .http
            .delete(format!("{}/session/{}", self.base, self.session))
            .send()
            .await;
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.profile);
    }
}

impl Driver {
    /// Clicks an element.
    pub async fn click(&self, css: &str) {
        let id = self.find(css).await;
        self.cmd(
            reqwest::Method::POST,
            &format!("/element/{id}/click"),
            Some(json!({})),
        )
        .await;
    }

    /// Runs a script in the page and answers its value.
    pub async fn exec(&self, script: &str, args: Value) -> Value {
        self.cmd(
            reqwest::Method::POST,
            "/execute/sync",
            Some(json!({ "script": script, "args": args })),
        )
        .await
    }

    /// A property of an element (`value`, `href`, `checked`…).
    pub async fn property(&self, css: &str, name: &str) -> Value {
        let id = self.find(css).await;
        self.cmd(
            reqwest::Method::GET,
            &format!("/element/{id}/property/{name}"),
            None,
        )
        .await
    }

    /// Types into an element without clearing it first (e.g. a file path into a file input).
    pub async fn send_keys(&self, css: &str, text: &str) {
        let id = self.find(css).await;
        self.cmd(
            reqwest::Method::POST,
            &format!("/element/{id}/value"),
            Some(json!({ "text": text })),
        )
        .await;
    }

    /// Waits (up to `secs`) until the page's text contains `part`, without reloading.
    pub async fn wait_text(&self, part: &str, secs: u64) -> String {
        for _ in 0..secs * 10 {
            let t = self.text().await;
            if t.contains(part) {
                return t;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("the page never showed {part:?}:\n{}", self.text().await);
    }
}
