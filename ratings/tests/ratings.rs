use std::{
    process::Command,
    time::{Duration, Instant},
};

use ratings::{Config, DatabaseKind, FaultMode, Faults, MySqlSettings, RatingsArgs, Secret};
use service_runtime::RunningServer;
use test_kit::{SpawnedBinary, get, http_client, parse_flags, post, serve};

async fn start(mode: FaultMode, tune: impl FnOnce(&mut Faults)) -> RunningServer {
    let mut config = Config::new(mode);
    tune(&mut config.faults);
    serve(ratings::app(config).unwrap()).await
}

#[tokio::test]
async fn ratings_answers_the_golden_default() {
    let server = start(FaultMode::None, |_| {}).await;
    let response = http_client()
        .get(format!("{}/ratings/0", server.url()))
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()["content-type"], "application/json");
    assert_eq!(
        response.text().await.unwrap(),
        r#"{"id":0,"ratings":{"Reviewer1":5,"Reviewer2":4}}"#
    );
    assert_eq!(
        get(format!("{}/ratings/42", server.url()))
            .await
            .status_and_body(),
        (
            200,
            r#"{"id":42,"ratings":{"Reviewer1":5,"Reviewer2":4}}"#.into()
        )
    );
}

#[tokio::test]
async fn post_stores_and_echoes_ratings() {
    let server = start(FaultMode::None, |_| {}).await;
    let url = format!("{}/ratings/0", server.url());
    assert_eq!(
        post(url.clone(), r#"{"Reviewer1":1,"Reviewer2":2}"#)
            .await
            .status_and_body(),
        (
            200,
            r#"{"id":0,"ratings":{"Reviewer1":1,"Reviewer2":2}}"#.into()
        )
    );
    assert_eq!(
        get(url).await.body,
        r#"{"id":0,"ratings":{"Reviewer1":1,"Reviewer2":2}}"#
    );
    // Other products keep the default.
    assert_eq!(
        get(format!("{}/ratings/1", server.url())).await.body,
        r#"{"id":1,"ratings":{"Reviewer1":5,"Reviewer2":4}}"#
    );
}

#[tokio::test]
async fn bad_ids_and_bodies_are_400_with_upstream_messages() {
    let server = start(FaultMode::None, |_| {}).await;
    let bad_id = (
        400,
        r#"{"error":"please provide numeric product ID"}"#.to_owned(),
    );
    assert_eq!(
        get(format!("{}/ratings/abc", server.url()))
            .await
            .status_and_body(),
        bad_id
    );
    assert_eq!(
        get(format!("{}/ratings/12abc", server.url()))
            .await
            .status_and_body(),
        bad_id
    );
    assert_eq!(
        post(format!("{}/ratings/abc", server.url()), "{}")
            .await
            .status_and_body(),
        bad_id
    );
    assert_eq!(
        post(format!("{}/ratings/0", server.url()), "{not json")
            .await
            .status_and_body(),
        (
            400,
            r#"{"error":"please provide valid ratings JSON"}"#.into()
        )
    );
    for body in [
        r#"[1,2]"#,
        r#"{"Reviewer1":9}"#,
        r#"{"Reviewer1":"5"}"#,
        r#""x""#,
    ] {
        let (status, text) = post(format!("{}/ratings/0", server.url()), body)
            .await
            .status_and_body();
        assert_eq!(status, 400, "{body}");
        assert!(text.contains("whole stars from 0 to 5"), "{text}");
    }
    // Rejected bodies change nothing.
    assert_eq!(
        get(format!("{}/ratings/0", server.url())).await.body,
        r#"{"id":0,"ratings":{"Reviewer1":5,"Reviewer2":4}}"#
    );
}

#[tokio::test]
async fn health_unknown_paths_and_methods() {
    let server = start(FaultMode::None, |_| {}).await;
    assert_eq!(
        get(format!("{}/health", server.url()))
            .await
            .status_and_body(),
        (200, r#"{"status":"Ratings is healthy"}"#.into())
    );
    assert_eq!(get(format!("{}/static/x", server.url())).await.status, 404);
    let put = http_client()
        .put(format!("{}/ratings/0", server.url()))
        .send()
        .await
        .unwrap();
    assert_eq!(put.status(), 405);
}

#[tokio::test]
async fn concurrent_posts_lose_no_update() {
    let server = start(FaultMode::None, |_| {}).await;
    let client = http_client();
    let writes = (0..64).map(|id| {
        let client = client.clone();
        let url = format!("{}/ratings/{id}", server.url());
        async move {
            let body = format!(r#"{{"Reviewer1":{},"Reviewer2":{}}}"#, id % 6, (id / 6) % 6);
            client.post(url).body(body).send().await.unwrap().status()
        }
    });
    assert!(
        futures::future::join_all(writes)
            .await
            .iter()
            .all(|s| s.as_u16() == 200)
    );
    for id in 0..64 {
        let expected = format!(
            r#"{{"id":{id},"ratings":{{"Reviewer1":{},"Reviewer2":{}}}}}"#,
            id % 6,
            (id / 6) % 6
        );
        assert_eq!(
            get(format!("{}/ratings/{id}", server.url())).await.body,
            expected
        );
    }
}

#[tokio::test]
async fn faulty_answers_503() {
    let server = start(FaultMode::Faulty, |f| f.probability = 1.0).await;
    assert_eq!(
        get(format!("{}/ratings/0", server.url()))
            .await
            .status_and_body(),
        (503, r#"{"error":"Service unavailable"}"#.into())
    );
    // POST is unaffected by fault modes.
    assert_eq!(
        post(format!("{}/ratings/0", server.url()), r#"{"a":1}"#)
            .await
            .status,
        200
    );
}

#[tokio::test]
async fn delayed_answers_late_but_correctly() {
    let server = start(FaultMode::Delayed, |f| {
        f.probability = 1.0;
        f.delay = Duration::from_millis(400);
    })
    .await;
    let started = Instant::now();
    let (status, body) = get(format!("{}/ratings/0", server.url()))
        .await
        .status_and_body();
    assert_eq!(
        (status, body.as_str()),
        (200, r#"{"id":0,"ratings":{"Reviewer1":5,"Reviewer2":4}}"#)
    );
    assert!(started.elapsed() >= Duration::from_millis(400));
}

#[tokio::test]
async fn unavailable_is_503_in_its_second_period() {
    let server = start(FaultMode::Unavailable, |f| {
        f.origin = Instant::now() - f.unavailable_period - Duration::from_secs(1);
    })
    .await;
    assert_eq!(get(format!("{}/ratings/0", server.url())).await.status, 503);
    assert_eq!(get(format!("{}/health", server.url())).await.status, 200);
}

#[tokio::test]
async fn unhealthy_fails_health_and_gets_in_its_second_period() {
    let server = start(FaultMode::Unhealthy, |f| {
        f.origin = Instant::now() - f.unhealthy_period - Duration::from_secs(1);
    })
    .await;
    assert_eq!(
        get(format!("{}/health", server.url()))
            .await
            .status_and_body(),
        (500, r#"{"status":"Ratings is not healthy"}"#.into())
    );
    assert_eq!(get(format!("{}/ratings/0", server.url())).await.status, 503);
    // Readiness follows health, so an unhealthy pod leaves the Service's endpoints too.
    assert_eq!(get(format!("{}/ready", server.url())).await.status, 503);
    let healthy = start(FaultMode::Unhealthy, |_| {}).await;
    assert_eq!(get(format!("{}/health", healthy.url())).await.status, 200);
    assert_eq!(get(format!("{}/ready", healthy.url())).await.status, 200);
}

/// One 1.8 MB POST used to blank every rating (reviews reads at most 1 MiB) and 40 of them
/// took 600 MB: bodies, reviewers and products are now bounded.
#[tokio::test]
async fn the_store_is_bounded() {
    let server = start(FaultMode::None, |_| {}).await;
    let client = http_client();
    let post_json = |id: i64, body: String| {
        let request = client
            .post(format!("{}/ratings/{id}", server.url()))
            .body(body);
        async move {
            let response = request.send().await.unwrap();
            let status = response.status().as_u16();
            (status, response.text().await.unwrap())
        }
    };
    let huge: String = format!(
        "{{{}}}",
        (0..100_000)
            .map(|n| format!("\"reviewer{n}\":5"))
            .collect::<Vec<_>>()
            .join(",")
    );
    let (status, body) = post_json(0, huge).await;
    assert_eq!(status, 413, "{body}");
    assert!(body.contains("at most 4096 bytes"), "{body}");
    let too_many = format!(
        "{{{}}}",
        (0..101)
            .map(|n| format!("\"r{n}\":1"))
            .collect::<Vec<_>>()
            .join(",")
    );
    assert_eq!(post_json(0, too_many).await.0, 400);
    assert_eq!(
        get(format!("{}/ratings/0", server.url())).await.body,
        r#"{"id":0,"ratings":{"Reviewer1":5,"Reviewer2":4}}"#,
        "nothing refused was stored"
    );
    for id in 0..1000 {
        assert_eq!(post_json(id, r#"{"a":1}"#.into()).await.0, 200);
    }
    let (status, body) = post_json(1000, r#"{"a":1}"#.into()).await;
    assert_eq!(status, 409, "{body}");
    assert_eq!(post_json(5, r#"{"b":2}"#.into()).await.0, 200);
}

#[test]
fn service_versions_select_modes_and_the_database() {
    let config = |flags: &[&str]| {
        let args = parse_flags::<RatingsArgs>(flags).unwrap();
        Config::try_from(args)
    };
    let mode = |v: &str| config(&["--service-version", v]).map(|c| c.faults.mode);
    assert_eq!(mode("v1"), Ok(FaultMode::None));
    assert_eq!(mode("v-faulty"), Ok(FaultMode::Faulty));
    assert_eq!(mode("v-delayed"), Ok(FaultMode::Delayed));
    assert_eq!(mode("v-unavailable"), Ok(FaultMode::Unavailable));
    assert_eq!(mode("v-unhealthy"), Ok(FaultMode::Unhealthy));
    assert_eq!(mode("anything"), Ok(FaultMode::None));
    assert_eq!(config(&["--service-version", "v1"]).unwrap().database, None);
    let mysql = config(&["--service-version", "v2", "--db-type", "mysql"]).unwrap();
    assert_eq!(
        mysql.database.map(|db| db.kind),
        Some(DatabaseKind::MySql(MySqlSettings {
            host: "localhost".into(),
            port: 3306,
            user: "root".into(),
            password: Secret::default(),
        }))
    );
    // Any other DB_TYPE reads MongoDB, which needs its URL.
    let err = config(&["--service-version", "v2", "--db-type", "mongo"]).unwrap_err();
    assert_eq!(err.variable, "MONGO_DB_URL");
    let mongo = config(&[
        "--service-version",
        "v2",
        "--mongo-db-url",
        "mongodb://mongodb:27017/test",
    ])
    .unwrap();
    assert_eq!(mongo.database.unwrap().kind.system_name(), "mongodb");
    let bad = parse_flags::<RatingsArgs>(&["--fault-probability", "2"]).unwrap_err();
    assert!(bad.to_string().contains("FAULT_PROBABILITY"), "{bad}");
}

#[test]
fn a_mongo_url_that_cannot_work_stops_start_up_naming_the_variable_but_not_its_value() {
    for url in [
        "mongo://user:hunter2@mongodb:27017/test",
        "mongodb://user:hunter2@mongodb:notaport/test",
        "mongodb+srv://user:hunter2@cluster.example.com/test",
        // An unescaped `?` in the password: the driver reads the rest as the port and would
        // quote it.
        "mongodb://admin:hun?ter2@mongodb:27017/test",
        "mongodb://admin:hunter2?@mongodb:27017/test",
        "mongodb://127.0.0.1:1/test?authMechanismProperties=AWS_SESSION_TOKEN:hunter2&x",
        // Options the driver parses but then refuses.
        "mongodb://user:hunter2@127.0.0.1:1/test?maxPoolSize=0",
        "mongodb://user:hunter2@127.0.0.1:1/test?w=0&journal=true",
    ] {
        let output = Command::new(env!("CARGO_BIN_EXE_ratings"))
            .arg("0")
            .env_clear()
            .env("SERVICE_VERSION", "v2")
            .env("MONGO_DB_URL", url)
            .output()
            .unwrap();
        assert!(!output.status.success(), "{url}: {output:?}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains("MONGO_DB_URL"), "{url}: {stderr}");
        for piece in ["hunter2", "hun", "ter2", "admin"] {
            assert!(!stderr.contains(piece), "{url}: {piece} leaked: {stderr}");
        }
    }
}

#[test]
fn sigterm_drains_in_flight_requests_then_exits_zero() {
    let mut ratings = SpawnedBinary::start(
        env!("CARGO_BIN_EXE_ratings"),
        &[
            ("SERVICE_VERSION", "v-delayed"),
            ("FAULT_PROBABILITY", "1"),
            ("FAULT_DELAY_MS", "1500"),
            ("RUST_LOG", "info"),
            ("LOG_FORMAT", "text"),
            ("SHUTDOWN_DELAY_MS", "0"),
        ],
    )
    .unwrap();
    let port = ratings.port;
    let in_flight = std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async {
            let response = http_client()
                .get(format!("http://127.0.0.1:{port}/ratings/0"))
                .send()
                .await
                .unwrap();
            (response.status().as_u16(), response.text().await.unwrap())
        })
    });
    // The server logs the injected delay once the request is being handled.
    assert!(ratings.wait_for("injecting a delay").is_some());
    ratings.terminate().unwrap();
    let (status, body) = in_flight.join().unwrap();
    assert_eq!(
        (status, body.as_str()),
        (200, r#"{"id":0,"ratings":{"Reviewer1":5,"Reviewer2":4}}"#)
    );
    let exit = ratings.child.wait().unwrap();
    assert_eq!(exit.code(), Some(0));
    assert!(
        std::net::TcpStream::connect(("127.0.0.1", port)).is_err(),
        "still accepting after exit"
    );
}

#[test]
fn help_version_and_bad_values_speak_to_the_user() {
    test_kit::assert_command_line(
        env!("CARGO_BIN_EXE_ratings"),
        &[
            "SERVICE_VERSION",
            "FAULT_PROBABILITY",
            "FAULT_DELAY_MS",
            "UNAVAILABLE_PERIOD_MS",
            "UNHEALTHY_PERIOD_MS",
            "DB_TYPE",
            "MONGO_DB_URL",
            "MYSQL_DB_HOST",
            "MYSQL_DB_PORT",
            "MYSQL_DB_USER",
            "MYSQL_DB_PASSWORD",
            "DB_TIMEOUT_MS",
            "DB_POOL_MAX_CONNECTIONS",
            "OTEL_EXPORTER_OTLP_ENDPOINT",
        ],
        ("FAULT_PROBABILITY", "2"),
    );
}
