//! How a run ends: SIGTERM, a stop while signing in, the last request of a slow rate, and
//! sessions that end.

use super::*;

/// `--duration 0` runs until stopped; SIGTERM (as `kubectl delete` sends, or Ctrl-C's
/// SIGINT) ends it with the report of what ran.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_ends_an_endless_run_with_its_report() {
    let stubs = PageOverStubs::start(Answer::json(200, "{}"), "reviews-v1-x").await;
    let child = std::process::Command::new(BOOKINFO)
        .args([
            "traffic",
            &stubs.page_url(),
            "--duration",
            "0",
            "--rate",
            "200",
        ])
        .args(["--output", "json"])
        .env_clear()
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("bookinfo runs");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while stubs.details.requests().len() < 20 {
        assert!(std::time::Instant::now() < deadline, "no traffic arrived");
        tokio::task::yield_now().await;
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    let status = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let output = tokio::task::spawn_blocking(move || child.wait_with_output())
        .await
        .unwrap()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "{stderr}");
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).expect("JSON");
    assert_eq!(report["interrupted"], true);
    let requests = report["total"]["requests"].as_u64().unwrap();
    assert!(requests >= 20, "{report}");
}

/// Ctrl-C or SIGTERM while connecting or signing in (a gateway that accepts and never
/// answers) ends the run at once, not after --timeout.
#[tokio::test]
async fn a_stop_while_signing_in_ends_the_run_at_once() {
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/productpage", silent.local_addr().unwrap());
    let flags = args(&[&url, "--user", "jason", "--timeout", "60s"]);
    let began = std::time::Instant::now();
    let stop = tokio::time::sleep(std::time::Duration::from_millis(200));
    let err = traffic::run(&flags, stop).await.unwrap_err();
    assert!(matches!(err, traffic::TrafficError::Interrupted), "{err}");
    assert!(began.elapsed() < std::time::Duration::from_secs(10));
}

/// `--rate` ends with its last request, not one interval later.
#[tokio::test]
async fn a_slow_rate_ends_with_its_last_request() {
    let stubs = PageOverStubs::start(Answer::json(200, "{}"), "reviews-v1-x").await;
    let url = stubs.page_url();
    let began = std::time::Instant::now();
    let report = run(&[&url, "--rate", "0.5", "--requests", "2"]).await;
    assert_eq!(report.total.requests(), 2);
    // Two requests 2 s apart: about 2 s, not 4.
    assert!(
        began.elapsed() < std::time::Duration::from_secs(3),
        "{:?}",
        began.elapsed()
    );
}

/// A site that ends the session on every page (`Set-Cookie: session=; Max-Age=0`): jason
/// signs in again before each of his requests, so every one of them goes out as jason.
#[tokio::test]
async fn a_user_whose_session_ends_signs_in_again() {
    use axum::{
        Router,
        http::header,
        routing::{get, post},
    };
    use std::sync::{Arc, Mutex};
    let seen: Arc<Mutex<Vec<(String, bool)>>> = Arc::default();
    let record =
        |seen: &Arc<Mutex<Vec<(String, bool)>>>, path: &str, headers: &axum::http::HeaderMap| {
            let signed_in = headers
                .get(header::COOKIE)
                .is_some_and(|c| c.to_str().unwrap_or("").contains("session=jason"));
            seen.lock().unwrap().push((path.to_owned(), signed_in));
        };
    let (on_login, on_page) = (seen.clone(), seen.clone());
    let app = Router::new()
        .route(
            "/login",
            post(move |headers: axum::http::HeaderMap| async move {
                record(&on_login, "/login", &headers);
                ([(header::SET_COOKIE, "session=jason; Path=/")], "")
            }),
        )
        .route(
            "/productpage",
            get(move |headers: axum::http::HeaderMap| async move {
                record(&on_page, "/productpage", &headers);
                (
                    [(header::SET_COOKIE, "session=; Path=/; Max-Age=0")],
                    "<title>Simple Bookstore App</title>",
                )
            }),
        );
    let site = service_runtime::RunningServer::start_local(app)
        .await
        .unwrap();
    let url = format!("{}/productpage", site.url());
    let report = run(&[&url, "--requests", "3", "--user", "jason"]).await;
    assert_eq!(report.user("jason").map(|s| s.failed), Some(0));
    let seen = seen.lock().unwrap().clone();
    let pages: Vec<bool> = seen
        .iter()
        .filter(|(path, _)| path == "/productpage")
        .map(|(_, signed_in)| *signed_in)
        .collect();
    assert_eq!(pages, [true, true, true], "{seen:?}");
    assert_eq!(seen.iter().filter(|(path, _)| path == "/login").count(), 3);
}
