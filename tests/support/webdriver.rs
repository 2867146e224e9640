//! A minimal W3C WebDriver client over reqwest, enough to drive headless Chromium through
//! chromedriver: sessions, navigation, elements, clicks, typing, scripts and screenshots.

use std::{
    path::PathBuf,
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use base64::Engine;
use serde_json::{Value, json};

/// The key W3C WebDriver uses for element references.
const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

/// Set by CI: the browser must be there, so a missing one fails instead of skipping.
pub const REQUIRE_BROWSER: &str = "BOOKINFO_REQUIRE_BROWSER";

pub fn find_executable(names: &[&str], override_var: &str) -> Option<PathBuf> {
    if let Some(path) = std::env::var_os(override_var) {
        return Some(PathBuf::from(path));
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .flat_map(|dir| names.iter().map(move |name| dir.join(name)))
        .find(|candidate| candidate.is_file())
}

pub struct Browser {
    driver: Child,
    http: reqwest::Client,
    /// chromedriver's address, then (once created) the session's: `.../session/{id}`.
    base: String,
}

impl Browser {
    /// Starts chromedriver and a headless Chromium session, or says why it cannot.
    pub async fn start() -> Result<Self, String> {
        let driver_path = find_executable(&["chromedriver"], "CHROMEDRIVER")
            .ok_or("chromedriver not found (Debian: apt-get install chromium-driver)")?;
        let chromium = find_executable(
            &["chromium", "chromium-browser", "google-chrome"],
            "CHROME_BIN",
        )
        .ok_or("chromium not found (Debian: apt-get install chromium)")?;
        let port = super::closed_port().await.map_err(|e| e.to_string())?;
        let driver = Command::new(&driver_path)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("cannot start {}: {e}", driver_path.display()))?;
        let http = service_runtime::testing::http_client();
        let mut browser = Self {
            driver,
            http,
            base: format!("http://127.0.0.1:{port}"),
        };
        browser.wait_until_ready().await?;
        let created = browser
            .call(
                reqwest::Method::POST,
                "/session",
                json!({
                    "capabilities": {"alwaysMatch": {
                        "browserName": "chrome",
                        "goog:chromeOptions": {
                            "binary": chromium,
                            "args": ["--headless=new", "--no-sandbox", "--disable-gpu",
                                     "--disable-dev-shm-usage", "--window-size=1280,1100"]
                        }
                    }}
                }),
            )
            .await?;
        let id = created["sessionId"]
            .as_str()
            .ok_or(format!("no session: {created}"))?;
        browser.base = format!("{}/session/{id}", browser.base);
        // Element lookups wait for the element (a click may still be navigating).
        browser
            .call(
                reqwest::Method::POST,
                "/timeouts",
                json!({"implicit": 10_000}),
            )
            .await?;
        Ok(browser)
    }

    /// Polls chromedriver's status endpoint until it reports ready.
    async fn wait_until_ready(&self) -> Result<(), String> {
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if let Ok(response) = self.http.get(format!("{}/status", self.base)).send().await {
                let status: Value = response.json().await.unwrap_or_default();
                if status["value"]["ready"] == true {
                    return Ok(());
                }
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Err("chromedriver did not become ready within 20 s".into())
    }

    /// One WebDriver command relative to `base`; its `value`, or the driver's error.
    async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Value,
    ) -> Result<Value, String> {
        let mut request = self
            .http
            .request(method.clone(), format!("{}{path}", self.base));
        if method != reqwest::Method::GET && method != reqwest::Method::DELETE {
            request = request.json(&body);
        }
        let response = request.send().await.map_err(|e| e.to_string())?;
        let reply: Value = response.json().await.map_err(|e| e.to_string())?;
        if let Some(error) = reply["value"]["error"].as_str() {
            return Err(format!("{path}: {error}: {}", reply["value"]["message"]));
        }
        Ok(reply["value"].clone())
    }

    pub async fn goto(&self, url: &str) -> Result<(), String> {
        self.call(reqwest::Method::POST, "/url", json!({ "url": url }))
            .await
            .map(drop)
    }

    pub async fn find(&self, css: &str) -> Result<String, String> {
        let found = self
            .call(
                reqwest::Method::POST,
                "/element",
                json!({"using": "css selector", "value": css}),
            )
            .await?;
        found[ELEMENT]
            .as_str()
            .map(str::to_owned)
            .ok_or(format!("no element for {css}"))
    }

    pub async fn click(&self, css: &str) -> Result<(), String> {
        let element = self.find(css).await?;
        self.call(
            reqwest::Method::POST,
            &format!("/element/{element}/click"),
            json!({}),
        )
        .await
        .map(drop)
    }

    pub async fn type_into(&self, css: &str, text: &str) -> Result<(), String> {
        let element = self.find(css).await?;
        self.call(
            reqwest::Method::POST,
            &format!("/element/{element}/value"),
            json!({ "text": text }),
        )
        .await
        .map(drop)
    }

    pub async fn text(&self, css: &str) -> Result<String, String> {
        let element = self.find(css).await?;
        let text = self
            .call(
                reqwest::Method::GET,
                &format!("/element/{element}/text"),
                Value::Null,
            )
            .await?;
        Ok(text.as_str().unwrap_or_default().to_owned())
    }

    pub async fn script(&self, script: &str) -> Result<Value, String> {
        self.call(
            reqwest::Method::POST,
            "/execute/sync",
            json!({"script": script, "args": []}),
        )
        .await
    }

    pub async fn screenshot(&self, path: &std::path::Path) -> Result<(), String> {
        let png = self
            .call(reqwest::Method::GET, "/screenshot", Value::Null)
            .await?;
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(png.as_str().unwrap_or_default())
            .map_err(|e| e.to_string())?;
        std::fs::write(path, bytes).map_err(|e| e.to_string())
    }

    pub async fn close(mut self) {
        let _ = self.call(reqwest::Method::DELETE, "", Value::Null).await;
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.driver.kill();
    }
}
