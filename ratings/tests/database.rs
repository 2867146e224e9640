//! ratings v2 against a real MariaDB (skipped without `mariadbd`, a failure under
//! BOOKINFO_REQUIRE_MARIADB=1), and what can be checked of MongoDB without a server.

use std::time::{Duration, Instant};

use ratings::{Config, DatabaseConfig, DatabaseKind, Secret};
use service_runtime::RunningServer;
use test_kit::{
    SpawnedBinary,
    databases::{LocalMariaDb, PASSWORD, REQUIRE_MARIADB},
    get, post, serve, tool_or_skip,
};

fn mariadb(test: &str) -> Option<LocalMariaDb> {
    tool_or_skip(test, REQUIRE_MARIADB, LocalMariaDb::start())
}

async fn ratings_on(database: DatabaseConfig) -> RunningServer {
    serve(ratings::app(Config::v2(database)).unwrap()).await
}

const DEFAULT: &str = r#"{"id":0,"ratings":{"Reviewer1":5,"Reviewer2":4}}"#;
const UNREACHABLE: &str = r#"{"error":"could not connect to ratings database"}"#;

#[tokio::test]
async fn v2_reads_the_current_rows_and_refuses_posts() {
    let Some(db) = mariadb("v2_reads_the_current_rows_and_refuses_posts") else {
        return;
    };
    let ratings = ratings_on(db.config(PASSWORD)).await;
    let url = |id: &str| format!("{}/ratings/{id}", ratings.url());
    assert_eq!(get(url("0")).await.status_and_body(), (200, DEFAULT.into()));
    // Upstream ignores the id for the stars and echoes it.
    assert_eq!(
        get(url("7")).await.body,
        r#"{"id":7,"ratings":{"Reviewer1":5,"Reviewer2":4}}"#
    );
    // The istio.io VM task's edit shows on the next request.
    db.sql("update ratings set rating=1 where reviewid=1")
        .unwrap();
    assert_eq!(
        get(url("0")).await.body,
        r#"{"id":0,"ratings":{"Reviewer1":1,"Reviewer2":4}}"#
    );
    assert_eq!(
        post(url("0"), r#"{"Reviewer1":3}"#).await.status_and_body(),
        (
            501,
            r#"{"error":"Post not implemented for database backed ratings"}"#.into()
        )
    );
    // Rows that are not two ratings of 0-5 stars: a clear 500, never a crash.
    db.sql("update ratings set rating=9 where reviewid=2")
        .unwrap();
    let (status, body) = get(url("0")).await.status_and_body();
    assert_eq!(status, 500, "{body}");
    assert!(body.contains("ReviewID 2's Rating is 9"), "{body}");
    db.sql("update ratings set rating=NULL where reviewid=2")
        .unwrap();
    let (status, body) = get(url("0")).await.status_and_body();
    assert_eq!(status, 500, "{body}");
    assert!(body.contains("ReviewID 2's Rating is NULL"), "{body}");
    db.sql("delete from ratings where reviewid=2").unwrap();
    let (status, body) = get(url("0")).await.status_and_body();
    assert_eq!(status, 500, "{body}");
    assert!(body.contains("ReviewID 1 and 2"), "{body}");
    db.sql("drop table ratings").unwrap();
    assert_eq!(
        get(url("0")).await.status_and_body(),
        (500, r#"{"error":"could not perform select"}"#.into())
    );
    // Unsigned and other integer types read as well as INT.
    db.sql(
        "create table ratings (ReviewID INT UNSIGNED, Rating TINYINT UNSIGNED); \
         insert into ratings values (2, 4), (1, 5)",
    )
    .unwrap();
    assert_eq!(get(url("0")).await.status_and_body(), (200, DEFAULT.into()));
    // Without a primary key a ReviewID can repeat: the stars would depend on row order.
    db.sql("insert into ratings values (1, 1)").unwrap();
    let (status, body) = get(url("0")).await.status_and_body();
    assert_eq!(status, 500, "{body}");
    assert!(body.contains("more than one row with ReviewID 1"), "{body}");
    let metrics = get(format!("{}/metrics", ratings.url())).await.body;
    for line in [
        r#"db_client_operations_total{db_system_name="mysql"} 9"#,
        r#"db_client_operation_errors_total{db_system_name="mysql",error_type="data"} 4"#,
        r#"db_client_operation_errors_total{db_system_name="mysql",error_type="query"} 1"#,
    ] {
        assert!(metrics.contains(line), "no {line} in\n{metrics}");
    }
}

#[tokio::test]
async fn a_stopped_database_gives_503_in_time_and_a_restart_recovers() {
    let Some(db) = mariadb("a_stopped_database_gives_503_in_time_and_a_restart_recovers") else {
        return;
    };
    let ratings = ratings_on(db.config(PASSWORD)).await;
    let url = format!("{}/ratings/0", ratings.url());
    assert_eq!(get(&url).await.status, 200);
    db.stop().unwrap();
    let asked = Instant::now();
    assert_eq!(get(&url).await.status_and_body(), (503, UNREACHABLE.into()));
    assert!(
        asked.elapsed() < Duration::from_secs(4),
        "{:?}",
        asked.elapsed()
    );
    // Liveness is the process's, not the database's.
    assert_eq!(get(format!("{}/health", ratings.url())).await.status, 200);
    assert_eq!(get(format!("{}/ready", ratings.url())).await.status, 200);
    db.start_again().unwrap();
    assert_eq!(get(&url).await.status_and_body(), (200, DEFAULT.into()));
}

#[test]
fn wrong_credentials_give_503_and_no_password_anywhere() {
    let Some(db) = mariadb("wrong_credentials_give_503_and_no_password_anywhere") else {
        return;
    };
    const WRONG: &str = "wrong-pw-81b2-never-shown";
    let mut env: Vec<(&str, String)> = db
        .env()
        .into_iter()
        .filter(|(name, _)| *name != "MYSQL_DB_PASSWORD")
        .collect();
    env.extend([
        ("MYSQL_DB_PASSWORD", WRONG.to_owned()),
        ("SERVICE_VERSION", "v2".to_owned()),
        ("RUST_LOG", "debug".to_owned()),
        ("LOG_FORMAT", "text".to_owned()),
        ("SHUTDOWN_DELAY_MS", "0".to_owned()),
    ]);
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let mut ratings = SpawnedBinary::start(env!("CARGO_BIN_EXE_ratings"), &env).unwrap();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let url = format!("http://127.0.0.1:{}/ratings/0", ratings.port);
    let (status, body) = runtime.block_on(get(&url)).status_and_body();
    assert_eq!((status, body.as_str()), (503, UNREACHABLE));
    let failure = ratings.wait_for("ratings database read failed").unwrap();
    assert!(failure.contains("Access denied"), "{failure}");
    ratings.terminate().unwrap();
    for secret in [WRONG, PASSWORD] {
        assert!(!failure.contains(secret));
        assert_eq!(ratings.wait_for(secret), None, "{secret} in the log");
    }
}

/// A TCP port that accepts connections and never answers: a database that hangs.
async fn silent_port() -> (u16, tokio::task::JoinHandle<()>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let holder = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            held.push(socket);
        }
    });
    (port, holder)
}

/// MySQL at 127.0.0.1:`port` as root without a password.
fn mysql_on_loopback(port: u16) -> DatabaseKind {
    DatabaseKind::MySql(ratings::MySqlSettings {
        host: "127.0.0.1".into(),
        port,
        user: "root".into(),
        password: Secret::default(),
    })
}

fn bounded(kind: DatabaseKind) -> DatabaseConfig {
    DatabaseConfig {
        kind,
        timeout: Duration::from_millis(500),
        pool_max_connections: 2,
    }
}

/// The body of a 503 that came within the bound.
async fn assert_503_within_bound(ratings: &RunningServer) -> String {
    let asked = Instant::now();
    let (status, body) = get(format!("{}/ratings/0", ratings.url()))
        .await
        .status_and_body();
    let elapsed = asked.elapsed();
    assert_eq!(status, 503, "{body}");
    assert!(body.starts_with(r#"{"error":"#), "{body}");
    // DB_TIMEOUT_MS is 500 here; generous for a loaded machine.
    assert!(elapsed < Duration::from_secs(3), "{elapsed:?}");
    body
}

#[tokio::test]
async fn a_mysql_that_never_finishes_the_handshake_is_unreachable_within_db_timeout() {
    let (port, _holder) = silent_port().await;
    let ratings = ratings_on(bounded(mysql_on_loopback(port))).await;
    for _ in 0..2 {
        assert_eq!(assert_503_within_bound(&ratings).await, UNREACHABLE);
    }
}

#[tokio::test]
async fn a_query_without_an_answer_gives_the_timeout_answer_then_recovers() {
    let Some(db) = mariadb("a_query_without_an_answer_gives_the_timeout_answer_then_recovers")
    else {
        return;
    };
    let ratings = ratings_on(DatabaseConfig {
        timeout: Duration::from_millis(500),
        ..db.config(PASSWORD)
    })
    .await;
    assert_eq!(
        get(format!("{}/ratings/0", ratings.url())).await.status,
        200
    );
    // Another session holds the table: ratings' SELECT waits.
    use sqlx::{Connection, Executor};
    let mut locker = sqlx::MySqlConnection::connect(&format!(
        "mysql://{}:{PASSWORD}@127.0.0.1:{}/test",
        test_kit::databases::USER,
        db.port
    ))
    .await
    .unwrap();
    locker.execute("LOCK TABLES ratings WRITE").await.unwrap();
    assert_eq!(
        assert_503_within_bound(&ratings).await,
        r#"{"error":"the ratings database did not answer within 500 ms"}"#
    );
    locker.execute("UNLOCK TABLES").await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(5);
    while get(format!("{}/ratings/0", ratings.url())).await.status != 200 {
        assert!(Instant::now() < deadline, "no recovery after the unlock");
    }
}

#[tokio::test]
async fn an_unreachable_or_hanging_mongodb_gives_503_within_db_timeout() {
    let closed = test_kit::closed_port().await.unwrap();
    let (silent, _holder) = silent_port().await;
    for port in [closed, silent] {
        let url = Secret::new(format!("mongodb://127.0.0.1:{port}/test"));
        let ratings = ratings_on(bounded(DatabaseKind::MongoDb(url))).await;
        assert_503_within_bound(&ratings).await;
        assert_eq!(get(format!("{}/health", ratings.url())).await.status, 200);
    }
}

/// ratings v2 on MongoDB over TLS (istio.io's `ssl=true` string) trusts what every client here
/// trusts, `SSL_CERT_FILE` or the system bundle, not only the driver's compiled-in roots: a
/// listener whose certificate a test CA signed, with that CA in `SSL_CERT_FILE`, sees the
/// handshake complete. No mongod answers after it, so the request itself is a 503.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mongodb_over_tls_trusts_the_ca_file_every_client_trusts() {
    let ca = test_kit::TestCa::new();
    let ca_file = ca.write_pem(std::path::Path::new(env!("CARGO_TARGET_TMPDIR")));
    let acceptor = tokio_rustls::TlsAcceptor::from(ca.server_config(&["localhost"]));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let (handshake, mut handshakes) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let (acceptor, handshake) = (acceptor.clone(), handshake.clone());
            tokio::spawn(async move {
                let done = acceptor.accept(tcp).await;
                let _ = handshake.send(done.map(drop).map_err(|err| err.to_string()));
            });
        }
    });
    let url = format!("mongodb://localhost:{port}/test?ssl=true");
    let ca = ca_file.to_string_lossy().into_owned();
    let ratings = SpawnedBinary::start(
        env!("CARGO_BIN_EXE_ratings"),
        &[
            ("SERVICE_VERSION", "v2"),
            ("DB_TYPE", "mongodb"),
            ("MONGO_DB_URL", &url),
            ("SSL_CERT_FILE", &ca),
        ],
    )
    .unwrap();
    let asked = tokio::spawn(get(format!("http://127.0.0.1:{}/ratings/0", ratings.port)));
    let first = tokio::time::timeout(Duration::from_secs(10), handshakes.recv())
        .await
        .expect("the driver connects within 10 s")
        .expect("a handshake");
    assert_eq!(
        first,
        Ok(()),
        "the handshake with a server the CA file trusts"
    );
    assert_eq!(asked.await.unwrap().status, 503);
}

/// The MongoDB behaviour against a real server: `BOOKINFO_MONGO_URL`, or `mongod` on `PATH`.
/// Skipped without one, which is the case where CI runs (no MongoDB server installs there).
#[tokio::test]
async fn v2_reads_mongodb_documents_live_and_recovers_from_a_restart() {
    use test_kit::databases::LocalMongo;
    let Ok(mut mongo) = LocalMongo::start().await.map_err(|why| {
        test_kit::report_skip(
            "v2_reads_mongodb_documents_live_and_recovers_from_a_restart",
            &why,
        );
    }) else {
        return;
    };
    let ratings = ratings_on(mongo.config()).await;
    let url = format!("{}/ratings/0", ratings.url());
    assert_eq!(get(&url).await.status_and_body(), (200, DEFAULT.into()));
    let collection = mongo.ratings().await.unwrap();
    // mongosh stores a typed 1 as a double.
    collection
        .update_one(
            mongodb::bson::doc! { "rating": 5 },
            mongodb::bson::doc! { "$set": { "rating": 1.0 } },
        )
        .await
        .unwrap();
    assert_eq!(
        get(&url).await.body,
        r#"{"id":0,"ratings":{"Reviewer1":1,"Reviewer2":4}}"#
    );
    assert_eq!(
        post(&url, r#"{"Reviewer1":3}"#).await.status,
        501,
        "no POST on v2"
    );
    collection
        .delete_one(mongodb::bson::doc! { "rating": 4 })
        .await
        .unwrap();
    let (status, body) = get(&url).await.status_and_body();
    assert_eq!(status, 500, "{body}");
    assert!(body.contains("holds 1 documents"), "{body}");
    if mongo.can_restart() {
        collection
            .insert_one(mongodb::bson::doc! { "rating": 4 })
            .await
            .unwrap();
        mongo.stop();
        let asked = Instant::now();
        assert_eq!(get(&url).await.status, 503);
        assert!(asked.elapsed() < Duration::from_secs(4));
        mongo.start_again().await;
        // The driver notices the server's return by its own monitoring (at most every
        // 500 ms once a selection has failed): recovery within seconds, with no restart.
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let (status, body) = get(&url).await.status_and_body();
            if status == 200 {
                assert_eq!(body, r#"{"id":0,"ratings":{"Reviewer1":1,"Reviewer2":4}}"#);
                break;
            }
            assert!(Instant::now() < deadline, "no recovery: {status} {body}");
        }
    }
}

/// A "MySQL server" whose greeting is cut short: sqlx's decoder panics on it. The request
/// still gets its 503, and the service goes on.
#[tokio::test]
async fn a_malformed_server_greeting_gives_503_not_a_dropped_request() {
    use tokio::io::AsyncWriteExt;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let _server = tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            // A 5-byte packet holding protocol 10 and two bytes of a version string.
            let _ = socket.write_all(&[5, 0, 0, 0, 0x0a, 0x41, 0, 1, 2]).await;
            tokio::spawn(async move {
                tokio::time::sleep(Duration::from_secs(5)).await;
                drop(socket);
            });
        }
    });
    let ratings = ratings_on(bounded(mysql_on_loopback(port))).await;
    assert_eq!(assert_503_within_bound(&ratings).await, UNREACHABLE);
    assert_eq!(get(format!("{}/health", ratings.url())).await.status, 200);
}
