//! Real databases for ratings v2: MariaDB, started by `scripts/mariadb-local.sh` on a data
//! directory and port of its own, and a scratch mongod.

use std::{
    path::PathBuf,
    process::{Command, Output},
    sync::atomic::{AtomicU32, Ordering},
    time::Duration,
};

use ratings::{DatabaseConfig, DatabaseKind, MySqlSettings, Secret};

/// CI sets it to `1`: a missing MariaDB then fails the tests instead of skipping them.
pub const REQUIRE_MARIADB: &str = "BOOKINFO_REQUIRE_MARIADB";

const SCRIPT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../scripts/mariadb-local.sh");

/// The account ratings signs in with, made by [`LocalMariaDb::start`]; the password is
/// distinctive so tests can look for it in logs and bodies.
pub const USER: &str = "bookinfo";
pub const PASSWORD: &str = "pw-5f3a9c-never-shown";

/// A MariaDB server with upstream's schema and rows, stopped and its data removed on drop.
pub struct LocalMariaDb {
    dir: PathBuf,
    pub port: u16,
}

impl LocalMariaDb {
    /// Starts a fresh server, or says why it cannot: no `mariadbd` (a reason to skip).
    ///
    /// # Panics
    /// When MariaDB is installed but the script cannot start it (a failure, with its output).
    pub fn start() -> Result<Self, String> {
        which("mariadbd").ok_or("mariadbd not found (apt-get install mariadb-server)")?;
        let (dir, port) = scratch_dir_and_port("mariadb")?;
        let server = Self { dir, port };
        let started = server.script(&["start"]).and_then(|_| {
            server.sql(&format!(
                "CREATE USER '{USER}'@'127.0.0.1' IDENTIFIED BY '{PASSWORD}'; \
                 GRANT ALL ON test.* TO '{USER}'@'127.0.0.1'"
            ))
        });
        if let Err(why) = started {
            panic!("MariaDB is installed but did not start: {why}");
        }
        Ok(server)
    }

    /// Stops the server; the data stays for [`LocalMariaDb::start_again`].
    pub fn stop(&self) -> Result<(), String> {
        self.script(&["stop"]).map(drop)
    }

    /// Starts the stopped server on the same port and data.
    pub fn start_again(&self) -> Result<(), String> {
        self.script(&["start"]).map(drop)
    }

    /// Runs `statements` in database `test` as root.
    pub fn sql(&self, statements: &str) -> Result<String, String> {
        self.script(&["sql", statements])
    }

    /// ratings v2's settings for this server, signing in as [`USER`] with `password`.
    pub fn config(&self, password: &str) -> DatabaseConfig {
        DatabaseConfig {
            kind: DatabaseKind::MySql(MySqlSettings {
                host: "127.0.0.1".into(),
                port: self.port,
                user: USER.into(),
                password: Secret::new(password),
            }),
            timeout: Duration::from_secs(2),
            pool_max_connections: 10,
        }
    }

    /// The environment a ratings binary needs for this server.
    pub fn env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("DB_TYPE", "mysql".into()),
            ("MYSQL_DB_HOST", "127.0.0.1".into()),
            ("MYSQL_DB_PORT", self.port.to_string()),
            ("MYSQL_DB_USER", USER.into()),
            ("MYSQL_DB_PASSWORD", PASSWORD.into()),
        ]
    }

    fn script(&self, args: &[&str]) -> Result<String, String> {
        let output: Output = Command::new("bash")
            .arg(SCRIPT)
            .args(args)
            .env("BOOKINFO_MARIADB_DIR", &self.dir)
            .env("MYSQL_DB_PORT", self.port.to_string())
            .env_remove("MYSQL_DB_USER")
            .env_remove("MYSQL_DB_PASSWORD")
            .output()
            .map_err(|err| format!("cannot run {SCRIPT}: {err}"))?;
        let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
        if output.status.success() {
            Ok(stdout)
        } else {
            Err(format!(
                "{SCRIPT} {args:?} failed: {stdout}{}",
                String::from_utf8_lossy(&output.stderr)
            ))
        }
    }
}

impl Drop for LocalMariaDb {
    fn drop(&mut self) {
        let _ = self.script(&["stop"]);
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A data directory of this process's own under the temporary directory (not created), and
/// a local port that was free a moment ago, for a database server a test starts.
pub(crate) fn scratch_dir_and_port(server: &str) -> Result<(PathBuf, u16), String> {
    static STARTED: AtomicU32 = AtomicU32::new(0);
    let started = STARTED.fetch_add(1, Ordering::Relaxed);
    let dir = std::env::temp_dir().join(format!(
        "bookinfo-{server}-{}-{started}",
        std::process::id(),
    ));
    Ok((dir, free_port_outside_the_ephemeral_range(started)?))
}

/// Database ports come from here, below Linux's ephemeral range (32768–60999): a port the
/// kernel hands out (`bind` to port 0) can be taken, before the server binds it, as the local
/// port of one of the thousands of connections the load tests open meanwhile (MariaDB then
/// failed with "Address already in use").
const DATABASE_PORTS: std::ops::Range<u16> = 20_000..30_000;

fn free_port_outside_the_ephemeral_range(started: u32) -> Result<u16, String> {
    let span = u32::from(DATABASE_PORTS.end - DATABASE_PORTS.start);
    // Spread by process and by server, so concurrent test processes rarely probe alike.
    let first = (std::process::id().wrapping_mul(7_919) + started.wrapping_mul(101)) % span;
    (0..span)
        .map(|offset| DATABASE_PORTS.start + u16::try_from((first + offset) % span).unwrap_or(0))
        .find(|port| std::net::TcpListener::bind(("127.0.0.1", *port)).is_ok())
        .ok_or_else(|| format!("no free port in {DATABASE_PORTS:?}"))
}

/// `tool` on `PATH`, or in the system's sbin directories (where Debian keeps servers).
pub(crate) fn which(tool: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .chain([PathBuf::from("/usr/sbin"), PathBuf::from("/sbin")])
        .map(|dir| dir.join(tool))
        .find(|candidate| candidate.is_file())
}

/// Points the MongoDB tests at a server of yours (its `test.ratings` is replaced).
pub const MONGO_URL_VARIABLE: &str = "BOOKINFO_MONGO_URL";

/// A real MongoDB for ratings v2: the server at `BOOKINFO_MONGO_URL`, or a `mongod` from `PATH`
/// started on a data directory and port of its own (stopped and removed on drop). Its
/// `test.ratings` holds upstream's two documents after [`LocalMongo::start`].
///
/// No MongoDB server can be installed where CI runs, so these tests skip there; they run
/// wherever one is available.
pub struct LocalMongo {
    url: String,
    /// The `mongod` this helper started, with its data directory and port; `None` for a server
    /// given by `BOOKINFO_MONGO_URL`, which cannot be stopped.
    own: Option<(std::process::Child, PathBuf, u16)>,
}

impl LocalMongo {
    /// The server, seeded; or why there is none (a reason to skip).
    ///
    /// # Panics
    /// When a server is there but cannot be started or seeded.
    pub async fn start() -> Result<Self, String> {
        let mut mongo = if let Ok(url) = std::env::var(MONGO_URL_VARIABLE) {
            Self { url, own: None }
        } else {
            which("mongod").ok_or(format!(
                "no MongoDB: set {MONGO_URL_VARIABLE} or put mongod on PATH"
            ))?;
            let (dir, port) = scratch_dir_and_port("mongod")?;
            let url = format!("mongodb://127.0.0.1:{port}/test");
            let mut mongo = Self { url, own: None };
            mongo.own = Some((spawn_mongod(&dir, port), dir, port));
            mongo
        };
        if let Err(err) = mongo.seed().await {
            mongo.stop();
            panic!("MongoDB at {} cannot be seeded: {err}", mongo.url);
        }
        Ok(mongo)
    }

    /// Whether [`LocalMongo::stop`] and [`LocalMongo::start_again`] can work (a server this
    /// helper started).
    pub fn can_restart(&self) -> bool {
        self.own.is_some()
    }

    /// Stops the server this helper started.
    pub fn stop(&mut self) {
        if let Some((child, ..)) = &mut self.own {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts the stopped server again on the same data and port, and waits until it answers.
    pub async fn start_again(&mut self) {
        if let Some((child, dir, port)) = &mut self.own {
            *child = spawn_mongod(dir, *port);
        }
        self.client()
            .await
            .expect("mongod restarts")
            .database("test")
            .run_command(mongodb::bson::doc! { "ping": 1 })
            .await
            .expect("mongod answers after a restart");
    }

    /// ratings v2's settings for this server.
    pub fn config(&self) -> DatabaseConfig {
        DatabaseConfig {
            kind: DatabaseKind::MongoDb(Secret::new(&self.url)),
            timeout: Duration::from_secs(2),
            pool_max_connections: 10,
        }
    }

    /// The collection ratings v2 reads, for a test to edit.
    pub async fn ratings(
        &self,
    ) -> Result<mongodb::Collection<mongodb::bson::Document>, mongodb::error::Error> {
        Ok(self.client().await?.database("test").collection("ratings"))
    }

    async fn client(&self) -> Result<mongodb::Client, mongodb::error::Error> {
        let mut options = mongodb::options::ClientOptions::parse(&self.url).await?;
        // mongod may still be starting.
        options.server_selection_timeout = Some(Duration::from_secs(30));
        mongodb::Client::with_options(options)
    }

    /// Upstream's two documents, as ratings/db-init/mongodb-init.js inserts them.
    async fn seed(&self) -> Result<(), mongodb::error::Error> {
        let ratings = self.ratings().await?;
        ratings.drop().await?;
        ratings
            .insert_many([
                mongodb::bson::doc! { "rating": 5_i32 },
                mongodb::bson::doc! { "rating": 4_i32 },
            ])
            .await?;
        Ok(())
    }
}

fn spawn_mongod(dir: &std::path::Path, port: u16) -> std::process::Child {
    std::fs::create_dir_all(dir).expect("a data directory for mongod");
    Command::new("mongod")
        .arg("--dbpath")
        .arg(dir)
        .args([
            "--port",
            &port.to_string(),
            "--bind_ip",
            "127.0.0.1",
            "--quiet",
        ])
        .stdout(std::process::Stdio::null())
        .spawn()
        .expect("mongod starts")
}

impl Drop for LocalMongo {
    fn drop(&mut self) {
        self.stop();
        if let Some((_, dir, _)) = &self.own {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}
