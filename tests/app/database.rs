//! ratings v2 under the whole application, started as a user starts it
//! (`BOOKINFO_RATINGS=v2-mysql cargo run`) against a real MariaDB. Skipped without
//! `mariadbd`, a failure under BOOKINFO_REQUIRE_MARIADB=1 (CI).

use std::{
    io::{BufRead, BufReader},
    process::{Child, Command, Stdio},
};

use test_kit::databases::{LocalMariaDb, REQUIRE_MARIADB};
use test_kit::{get, tool_or_skip};

use crate::support::{count, empty_stars, full_stars};

const UNAVAILABLE: &str = "Ratings service is currently unavailable";

/// The launcher on ephemeral ports with `env`; its productpage URL, from the banner.
fn start_launcher(env: &[(&str, String)]) -> (Child, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_bookinfo"))
        .env_clear()
        .env("BOOKINFO_PORT", "0")
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let banner = BufReader::new(stdout)
        .lines()
        .map_while(Result::ok)
        .find(|line| line.trim_start().starts_with("productpage"))
        .expect("the banner names productpage");
    let url = banner.split_whitespace().nth(1).unwrap().to_owned();
    (child, url)
}

/// The reviews-v2 and reviews-v3 pages out of the next three (productpage takes the
/// versions in turn).
async fn starred_pages(url: &str) -> Vec<String> {
    let mut pages = Vec::new();
    for _ in 0..3 {
        let page = get(format!("{url}/productpage")).await.body;
        if !page.contains("reviews-v1") {
            pages.push(page);
        }
    }
    assert_eq!(pages.len(), 2);
    pages
}

#[tokio::test]
async fn database_edits_and_outages_show_on_the_page() {
    let test = "database_edits_and_outages_show_on_the_page";
    let Some(db) = tool_or_skip(test, REQUIRE_MARIADB, LocalMariaDb::start()) else {
        return;
    };
    // As docs/running.md#ratings-v2-on-a-database has it: the script's root account (no
    // password), the launcher's defaults (localhost, root), only the port differs.
    let (mut launcher, url) = start_launcher(&[
        ("BOOKINFO_RATINGS", "v2-mysql".into()),
        ("MYSQL_DB_PORT", db.port.to_string()),
    ]);
    for page in starred_pages(&url).await {
        assert_eq!((full_stars(&page), empty_stars(&page)), (9, 1));
    }
    // The istio.io VM task: one star for Reviewer1 on the next page.
    db.sql("update ratings set rating=1 where reviewid=1")
        .unwrap();
    for page in starred_pages(&url).await {
        assert_eq!((full_stars(&page), empty_stars(&page)), (5, 5));
    }
    db.stop().unwrap();
    for page in starred_pages(&url).await {
        assert_eq!(count(&page, UNAVAILABLE), 2, "{page}");
        assert_eq!(full_stars(&page), 0);
    }
    db.start_again().unwrap();
    for page in starred_pages(&url).await {
        assert_eq!((full_stars(&page), empty_stars(&page)), (5, 5));
    }
    let _ = launcher.kill();
    let _ = launcher.wait();
}

#[test]
fn the_launcher_refuses_unknown_ratings_versions_and_v2_without_its_url() {
    let launcher = env!("CARGO_BIN_EXE_bookinfo");
    let unknown = test_kit::run_binary(launcher, &[], &[("BOOKINFO_RATINGS", "v9")]);
    assert_eq!(unknown.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&unknown.stderr).contains("v2-mysql"));
    let mongo_without_url = test_kit::run_binary(launcher, &[], &[("BOOKINFO_RATINGS", "v2")]);
    assert_eq!(mongo_without_url.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&mongo_without_url.stderr).contains("MONGO_DB_URL"));
}
