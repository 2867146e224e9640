//! The application run from its images, hardened as the manifests run it, and ratings v2 on a
//! real MariaDB.

use super::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_application_runs_from_its_images() {
    let Some(_heavy) = docker_ready("the_application_runs_from_its_images") else {
        return;
    };
    let mut app = Deployment::new("app");
    app.run("details", "details-v1", &[], &[], false);
    let ratings = app.run("ratings", "ratings-v1", &[], &[], false);
    let mut reviews = Vec::new();
    for version in ["v1", "v2", "v3"] {
        reviews.push(app.run(
            &format!("reviews-{version}"),
            &format!("reviews-{version}"),
            &["reviews"],
            &[],
            false,
        ));
    }
    // Round robin over the three versions, so each is seen in turn.
    let productpage = app.run(
        "productpage",
        "productpage-v1",
        &[],
        &[(
            "REVIEWS_HOSTNAME",
            "reviews-v1:9080,reviews-v2:9080,reviews-v3:9080",
        )],
        true,
    );
    let base = format!("http://127.0.0.1:{}", app.published_port(&productpage));
    wait_healthy(&base).await;

    let pages: Vec<String> = pages_in_turn(&base, 3).await;
    assert!(pages[0].contains("Reviews served by: reviews-v1") && full_stars(&pages[0]) == 0);
    assert!(pages[1].contains("Reviews served by: reviews-v2") && full_stars(&pages[1]) == 9);
    assert!(pages[1].contains("text-black-500"));
    assert!(pages[2].contains("Reviews served by: reviews-v3") && full_stars(&pages[2]) == 9);
    assert!(pages[2].contains("text-red-500"));
    assert!(
        pages
            .iter()
            .all(|p| p.contains("Book Details") && p.contains("PublisherA"))
    );

    // What Istio's docs run inside the containers.
    let title = docker_ok(&[
        "exec",
        &ratings,
        "curl",
        "-sS",
        "productpage:9080/productpage",
    ]);
    assert!(title.contains("<title>Simple Bookstore App</title>"));
    let via_alias = docker_ok(&["exec", &reviews[0], "curl", "-sS", "reviews:9080/reviews/0"]);
    assert!(via_alias.contains("\"podname\":\"reviews-v"), "{via_alias}");
    assert_eq!(
        docker_ok(&["exec", &ratings, "bash", "-c", "echo $((6 * 7))"]),
        "42"
    );

    // Non-root, as the images declare: ask the kernel for the processes' real UIDs.
    for (container, expected) in [(&ratings, 1000), (&reviews[0], 1001), (&productpage, 1000)] {
        let pid = docker_ok(&["inspect", "-f", "{{.State.Pid}}", container]);
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
        let uid = status.lines().find(|l| l.starts_with("Uid:")).unwrap();
        let uids: Vec<u32> = uid
            .split_whitespace()
            .skip(1)
            .map(|u| u.parse().unwrap())
            .collect();
        assert!(uids.iter().all(|&u| u == expected), "{container}: {uid}");
    }

    // The load generator's image on the same network, as it runs in a cluster: a third of
    // the pages each version's, for jason as for everyone.
    let traffic = docker(&[
        "run",
        "--rm",
        "--network",
        &app.network,
        "--read-only",
        "--cap-drop",
        "ALL",
        &image(TRAFFIC),
        "http://productpage:9080/productpage",
        "--requests",
        "30",
        "--user",
        "jason:50%",
        "--timeout",
        "10s",
        "--output",
        "json",
        "--expect",
        "errors=0%",
        "--expect",
        "stars=red:33.3%±4",
        "--expect",
        "user=jason:served-by=reviews-v1:33.3%±4",
    ]);
    let stderr = String::from_utf8_lossy(&traffic.stderr);
    assert!(traffic.status.success(), "{stderr}");
    let report: serde_json::Value = serde_json::from_slice(&traffic.stdout).expect("JSON");
    assert_eq!(report["total"]["requests"], 30, "{report}");
    assert_eq!(report["users"][0]["user"], "jason");

    // Cut ratings off the network without killing it: reviews v3 (2.5 s deadline) still
    // answers, and the page says ratings are unavailable.
    docker_ok(&["network", "disconnect", &app.network, &ratings]);
    let mut v3_page = None;
    for _ in 0..3 {
        let started = Instant::now();
        let page = get(format!("{base}/productpage")).await.body;
        if page.contains("Reviews served by: reviews-v3") {
            v3_page = Some((page, started.elapsed()));
        }
    }
    let (page, elapsed) = v3_page.expect("a page served by reviews v3");
    assert_eq!(
        count(&page, "Ratings service is currently unavailable"),
        2,
        "{page}"
    );
    assert!(
        elapsed < Duration::from_secs(3),
        "within the reviews timeout: {elapsed:?}"
    );
    assert!(docker_ok(&["inspect", "-f", "{{.State.Running}}", &ratings]) == "true");
}

async fn pages_in_turn(base: &str, n: usize) -> Vec<String> {
    let mut pages = Vec::new();
    for _ in 0..n {
        let page = get(format!("{base}/productpage")).await;
        assert_eq!(page.status, 200);
        pages.push(page.body);
    }
    pages
}

/// The ratings-v2 image as a container against a real MariaDB on this host (host network:
/// the server listens on 127.0.0.1 only), hardened as Kubernetes runs it.
#[tokio::test]
async fn the_ratings_v2_image_reads_a_real_mariadb() {
    let test = "the_ratings_v2_image_reads_a_real_mariadb";
    let Some(_heavy) = docker_ready(test) else {
        return;
    };
    let Some(db) = test_kit::tool_or_skip(
        test,
        test_kit::databases::REQUIRE_MARIADB,
        test_kit::databases::LocalMariaDb::start(),
    ) else {
        return;
    };
    let port = crate::support::closed_port().await.unwrap();
    let container = format!("bookinfo-test-ratings-v2-{}", std::process::id());
    let mut args: Vec<String> = [
        "run",
        "-d",
        "--name",
        &container,
        "--network",
        "host",
        "--read-only",
        "--cap-drop",
        "ALL",
        "--security-opt",
        "no-new-privileges",
        "-e",
        &format!("PORT={port}"),
    ]
    .map(str::to_owned)
    .into();
    for (key, value) in db.env() {
        args.extend(["-e".to_owned(), format!("{key}={value}")]);
    }
    args.push(image("ratings-v2"));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    docker_ok(&args);
    let result = async {
        let base = format!("http://127.0.0.1:{port}");
        wait_healthy(&base).await;
        let url = format!("{base}/ratings/0");
        assert_eq!(
            get(&url).await.body,
            r#"{"id":0,"ratings":{"Reviewer1":5,"Reviewer2":4}}"#
        );
        db.sql("update ratings set rating=2 where reviewid=2")
            .unwrap();
        assert_eq!(
            get(&url).await.body,
            r#"{"id":0,"ratings":{"Reviewer1":5,"Reviewer2":2}}"#
        );
    }
    .await;
    let _ = docker(&["rm", "-f", &container]);
    result
}
