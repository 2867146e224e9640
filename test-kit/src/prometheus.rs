//! A real Prometheus (Debian's `prometheus`) scraping the services a test names every second,
//! with exemplar storage on: for the exemplar and dashboard tests. Stopped, and its data
//! removed, on drop.

use std::{
    path::PathBuf,
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use serde_json::Value;

use crate::databases::{scratch_dir_and_port, which};

/// CI sets it to `1`: a missing Prometheus then fails the tests instead of skipping them.
pub const REQUIRE_PROMETHEUS: &str = "BOOKINFO_REQUIRE_PROMETHEUS";

/// How long a test waits for Prometheus to start, or for a scrape to show what it looks for.
pub const PATIENCE: Duration = Duration::from_secs(30);

pub struct LocalPrometheus {
    child: Child,
    dir: PathBuf,
    /// `http://127.0.0.1:<port>`.
    pub url: String,
}

impl LocalPrometheus {
    /// Starts Prometheus scraping each `(job, host:port)` of `targets` every second, or says
    /// why it cannot: no `prometheus` on `PATH` (a reason to skip).
    ///
    /// # Panics
    /// When Prometheus is installed but does not become ready.
    pub async fn start(targets: &[(&str, String)]) -> Result<Self, String> {
        let binary =
            which("prometheus").ok_or("prometheus not found (apt-get install prometheus)")?;
        let (dir, port) = scratch_dir_and_port("prometheus")?;
        std::fs::create_dir_all(dir.join("data")).map_err(|err| err.to_string())?;
        let mut config = String::from(
            "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n  evaluation_interval: 1s\nscrape_configs:\n",
        );
        for (job, target) in targets {
            config.push_str(&format!(
                "- job_name: {job}\n  static_configs:\n  - targets: ['{target}']\n    labels: {{app: {job}}}\n"
            ));
        }
        let config_file = dir.join("prometheus.yml");
        std::fs::write(&config_file, config).map_err(|err| err.to_string())?;
        let child = Command::new(binary)
            .arg(format!("--config.file={}", config_file.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.join("data").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .arg("--enable-feature=exemplar-storage")
            .arg("--log.level=warn")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|err| format!("prometheus did not start: {err}"))?;
        let prometheus = Self {
            child,
            dir,
            url: format!("http://127.0.0.1:{port}"),
        };
        let ready = format!("{}/-/ready", prometheus.url);
        let deadline = Instant::now() + PATIENCE;
        loop {
            if let Ok(answer) = crate::http_client().get(&ready).send().await
                && answer.status().is_success()
            {
                return Ok(prometheus);
            }
            assert!(
                Instant::now() < deadline,
                "Prometheus was not ready within {PATIENCE:?}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// `POST /api/v1/<path>` with `params` as a form (Prometheus takes either): the answer's
    /// `data`.
    ///
    /// # Panics
    /// When Prometheus does not answer `success` (a query it refuses, with its error).
    pub async fn api(&self, path: &str, params: &[(&str, &str)]) -> Value {
        let answer: Value = crate::http_client()
            .post(format!("{}/api/v1/{path}", self.url))
            .form(params)
            .send()
            .await
            .expect("Prometheus answers")
            .json()
            .await
            .expect("Prometheus answers JSON");
        assert_eq!(answer["status"], "success", "{path} {params:?}: {answer}");
        answer["data"].clone()
    }

    /// The result of the instant query `promql`.
    pub async fn query(&self, promql: &str) -> Vec<Value> {
        let data = self.api("query", &[("query", promql)]).await;
        data["result"].as_array().cloned().unwrap_or_default()
    }

    /// Polls `check` on [`Self::query`]'s result until it holds; the last result either way.
    pub async fn query_until(&self, promql: &str, check: impl Fn(&[Value]) -> bool) -> Vec<Value> {
        let deadline = Instant::now() + PATIENCE;
        loop {
            let result = self.query(promql).await;
            if check(&result) || Instant::now() >= deadline {
                return result;
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }
}

impl Drop for LocalPrometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
