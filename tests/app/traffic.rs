//! `bookinfo traffic` against the whole application and against stubs: what it reads off the
//! pages, whom it signs in, its checks, and its command line as a user meets it.

use std::collections::BTreeMap;

use bookinfo::traffic::{self, TrafficArgs, expect::Expectation, summary::Report};
use service_runtime::testing::{Answer, Stub, closed_port, parse_flags, run_binary};

use crate::support::*;

const BOOKINFO: &str = env!("CARGO_BIN_EXE_bookinfo");

fn args(flags: &[&str]) -> TrafficArgs {
    parse_flags(flags).expect("valid flags")
}

async fn run(flags: &[&str]) -> Report {
    traffic::run(&args(flags), std::future::pending())
        .await
        .expect("the run starts")
}

fn holds(report: &Report, check: &str) -> bool {
    let expectation: Expectation = check.parse().expect("a valid check");
    expectation.evaluate(report).is_ok()
}

/// Runs the `bookinfo` binary without blocking the test's runtime (the app under test is
/// served by it).
async fn bookinfo(args: Vec<String>) -> std::process::Output {
    tokio::task::spawn_blocking(move || {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        run_binary(BOOKINFO, &args, &[])
    })
    .await
    .expect("the binary runs")
}

/// productpage in front of stubs: details answering as told, reviews (also standing in for
/// ratings) a page without reviews served by the given pod.
struct PageOverStubs {
    details: Stub,
    reviews: Stub,
    page: service_runtime::RunningServer,
}

impl PageOverStubs {
    async fn start(details: Answer, reviews_pod: &str) -> Self {
        let details = Stub::start(details).await.unwrap();
        let reviews =
            format!(r#"{{"id":"0","podname":"{reviews_pod}","clustername":"null","reviews":[]}}"#);
        let reviews = Stub::start(Answer::json(200, &reviews)).await.unwrap();
        let page = productpage(config(details.url(), vec![reviews.url()], reviews.url())).await;
        Self {
            details,
            reviews,
            page,
        }
    }

    fn page_url(&self) -> String {
        format!("{}/productpage", self.page.url())
    }
}

#[tokio::test]
async fn the_round_robin_over_three_versions_reads_as_thirds_with_each_versions_stars() {
    let app = whole_app().await;
    let url = format!("{}/productpage", app.productpage.url());
    let report = run(&[&url, "--requests", "90", "--concurrency", "4"]).await;
    let total = &report.total;
    assert_eq!(total.requests(), 90);
    assert_eq!(total.failed, 0);
    for (version, stars) in [
        ("reviews-v1", "none"),
        ("reviews-v2", "black"),
        ("reviews-v3", "red"),
    ] {
        let pod = &total.reviews[version];
        assert!((29..=31).contains(&pod.pages), "{version}: {pod:?} of 90");
        let colours: Vec<&str> = pod.stars.keys().map(|s| s.name()).collect();
        assert_eq!(colours, [stars], "{version}");
        assert!(holds(&report, &format!("served-by={version}:33.3%±1.2")));
        assert!(holds(&report, &format!("stars={stars}:33.3%±1.2")));
    }
    let failing: Expectation = "stars=red:50%±10".parse().unwrap();
    let failure = failing.evaluate(&report).unwrap_err();
    assert!(failure.contains("stars=red:50%±10"), "{failure}");
    app.stop().await.unwrap();
}

#[tokio::test]
async fn a_failing_details_reads_as_details_error_on_every_page() {
    let stubs =
        PageOverStubs::start(Answer::json(503, r#"{"error":"down"}"#), "reviews-v1-x").await;
    let url = stubs.page_url();
    let report = run(&[&url, "--requests", "10", "--rate", "200"]).await;
    assert_eq!(report.total.details_error, 10);
    for check in [
        "details-error=100%",
        "reviews-error=0%",
        "errors=0%",
        "p100<5s",
    ] {
        assert!(holds(&report, check), "{check}\n{}", report.table());
    }
    assert!(!holds(&report, "degraded=0%"));
}

#[tokio::test]
async fn jasons_cookie_reaches_the_backends_as_end_user_jason() {
    let details = Answer::json(
        200,
        r#"{"id":0,"author":"William Shakespeare","year":1595,"type":"paperback","pages":200,"publisher":"PublisherA","language":"English","ISBN-10":"1234567890","ISBN-13":"123-1234567890"}"#,
    );
    let stubs = PageOverStubs::start(details, "reviews-v2-x").await;
    let url = stubs.page_url();
    let report = run(&[&url, "--requests", "20", "--user", "jason:30%"]).await;
    assert_eq!(report.user("jason").map(|s| s.requests()), Some(6));
    assert_eq!(report.user("anonymous").map(|s| s.requests()), Some(14));
    for backend in [&stubs.details, &stubs.reviews] {
        let mut end_users = BTreeMap::new();
        for request in backend.requests() {
            let end_user = request
                .headers
                .get("end-user")
                .map(|v| v.to_str().unwrap_or("?").to_owned());
            *end_users.entry(end_user).or_insert(0) += 1;
        }
        assert_eq!(
            end_users,
            BTreeMap::from([(None, 14), (Some("jason".to_owned()), 6)]),
            "{}",
            backend.url()
        );
    }
}

#[tokio::test]
async fn a_sign_in_the_target_refuses_names_the_user_and_the_form() {
    let stub = Stub::start(Answer::json(404, "{}")).await.unwrap();
    let url = format!("{}/bookinfo/productpage", stub.url());
    let err = traffic::run(&args(&[&url, "--user", "jason"]), std::future::pending())
        .await
        .unwrap_err()
        .to_string();
    let login = format!("{}/bookinfo/login", stub.url());
    assert!(err.starts_with("--user jason: signing in at "), "{err}");
    assert!(err.contains(&login) && err.contains("404"), "{err}");
}

/// Splits the table's rows into label → cells.
fn table_rows(table: &str) -> BTreeMap<String, Vec<String>> {
    table
        .lines()
        .filter_map(|line| line.strip_prefix('|')?.strip_suffix('|'))
        .filter_map(|row| {
            let cells: Vec<String> = row
                .split("  ")
                .map(str::trim)
                .filter(|cell| !cell.is_empty())
                .map(str::to_owned)
                .collect();
            let (label, values) = cells.split_first()?;
            Some((label.clone(), values.to_vec()))
        })
        .collect()
}

#[tokio::test]
async fn the_json_report_matches_the_table() {
    let app = whole_app().await;
    let url = format!("{}/productpage", app.productpage.url());
    let report = run(&[&url, "--requests", "30", "--user", "jason:50%"]).await;
    let rows = table_rows(&report.table());
    let json = report.json();
    // Columns: jason, anonymous, all.
    let columns = [&json["users"][0], &json["users"][1], &json["total"]];
    assert_eq!(json["users"][0]["user"], "jason");
    let pages = |figures: &serde_json::Value| figures["pages"].as_u64().unwrap();
    for (i, figures) in columns.iter().enumerate() {
        let cell = |label: &str| rows[label][i].clone();
        assert_eq!(cell("requests"), figures["requests"].to_string());
        assert_eq!(cell("status 200"), figures["statuses"]["200"].to_string());
        assert_eq!(cell("pages (2xx)"), figures["pages"].to_string());
        for (label, key) in [
            ("latency p50 (ms)", "p50"),
            ("latency p99 (ms)", "p99"),
            ("latency max (ms)", "max"),
        ] {
            let ms = figures["latency_ms"][key].as_f64().unwrap();
            assert_eq!(cell(label), format!("{ms:.2}"), "{label}");
        }
        for (stars, n) in figures["stars"].as_object().unwrap() {
            let share = 100.0 * n.as_f64().unwrap() / pages(figures) as f64;
            assert_eq!(
                cell(&format!("stars {stars}")),
                format!("{n} ({share:.1}%)")
            );
        }
        for (pod, served) in figures["reviews_served_by"].as_object().unwrap() {
            for (stars, n) in served["stars"].as_object().unwrap() {
                let phrase = if stars == "none" {
                    "no stars".to_owned()
                } else {
                    format!("{stars} stars")
                };
                let share = 100.0 * n.as_f64().unwrap() / pages(figures) as f64;
                assert_eq!(
                    cell(&format!("served by {pod}, {phrase}")),
                    format!("{n} ({share:.1}%)")
                );
            }
        }
        assert_eq!(
            cell("details error"),
            format!("{} (0.0%)", figures["details_error"])
        );
    }
    app.stop().await.unwrap();
}

#[tokio::test]
async fn the_command_exits_non_zero_naming_a_failed_expectation_and_prints_json() {
    let app = whole_app().await;
    let url = format!("{}/productpage", app.productpage.url());
    let output = bookinfo(
        [
            "traffic",
            &url,
            "--requests",
            "12",
            "--user",
            "jason:50%",
            "--output",
            "json",
            "--expect",
            "stars=red:50%±10",
            "--expect",
            "user=jason:errors=0%",
            "--expect",
            "p99<500ms",
        ]
        .map(str::to_owned)
        .to_vec(),
    )
    .await;
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("FAIL  expectation `stars=red:50%±10` failed: 33.3% (4 of 12)"),
        "{stderr}"
    );
    assert!(stderr.contains("ok    user=jason:errors=0%"), "{stderr}");
    let json: serde_json::Value = serde_json::from_slice(&output.stdout).expect("JSON on stdout");
    assert_eq!(json["total"]["requests"], 12);
    assert_eq!(json["users"][0]["requests"], 6);
    let verdicts: Vec<(&str, bool)> = json["expectations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| (v["check"].as_str().unwrap(), v["held"].as_bool().unwrap()))
        .collect();
    assert_eq!(
        verdicts,
        [
            ("stars=red:50%±10", false),
            ("user=jason:errors=0%", true),
            ("p99<500ms", true)
        ]
    );

    let passing = bookinfo(
        ["traffic", &url, "--requests", "3", "--expect", "errors=0%"]
            .map(str::to_owned)
            .to_vec(),
    )
    .await;
    assert_eq!(passing.status.code(), Some(0), "{passing:?}");
    app.stop().await.unwrap();
}

#[tokio::test]
async fn bad_flags_and_unreachable_targets_are_named_on_the_first_line() {
    let port = closed_port().await.unwrap();
    let unreachable = format!("http://127.0.0.1:{port}/productpage");
    for (flags, code, first_line) in [
        (
            vec![unreachable.clone()],
            1,
            format!("bookinfo traffic: {unreachable} is unreachable: cannot connect"),
        ),
        (
            vec!["--rate".into(), "0".into()],
            2,
            "error: invalid value '0' for '--rate <RATE>'".into(),
        ),
        (
            vec!["--expect".into(), "stars=blue:50%".into()],
            2,
            "error: invalid value 'stars=blue:50%' for '--expect <CHECK>'".into(),
        ),
        (
            vec![
                "--user".into(),
                "jason:70%".into(),
                "--user".into(),
                "bob:40%".into(),
            ],
            2,
            "error: --user shares add up to 110%, above 100%".into(),
        ),
        (
            vec![
                "--expect".into(),
                "user=jason:ratings-unavailable=100%".into(),
            ],
            2,
            "error: --expect 'user=jason:ratings-unavailable=100%': jason takes no part".into(),
        ),
        (
            vec!["ftp://example.com/productpage".into()],
            2,
            "error: invalid value 'ftp://example.com/productpage' for '[URL]': expected an \
             http:// or https:// URL"
                .into(),
        ),
        (
            vec!["http://localhost:99999/productpage".into()],
            2,
            "error: invalid value 'http://localhost:99999/productpage' for '[URL]'".into(),
        ),
        (
            vec!["http://jason:secret@localhost/productpage".into()],
            2,
            "error: invalid value 'http://jason:secret@localhost/productpage' for '[URL]': \
             credentials in the URL are not supported"
                .into(),
        ),
        (
            vec!["--timeout".into(), "0s".into()],
            2,
            "error: invalid value '0s' for '--timeout <TIMEOUT>': expected at least 1ms".into(),
        ),
        (
            vec!["--rate".into(), "3e9".into()],
            2,
            "error: invalid value '3e9' for '--rate <RATE>': expected requests per second from"
                .into(),
        ),
    ] {
        let mut argv = vec!["traffic".to_owned()];
        argv.extend(flags.iter().cloned());
        let output = bookinfo(argv).await;
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(code), "{flags:?}: {stderr}");
        let first = stderr.lines().next().unwrap_or_default();
        assert!(first.starts_with(&first_line), "{flags:?}: {stderr}");
    }
}

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
