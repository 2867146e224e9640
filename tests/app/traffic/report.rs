//! What a run reports: the table, the JSON, the exit status and its first line.

use super::*;

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
