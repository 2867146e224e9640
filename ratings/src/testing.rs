//! Test support (feature `testing`): a real MariaDB for ratings v2, started by
//! `scripts/mariadb-local.sh` on a data directory and port of its own.

use std::{
    path::PathBuf,
    process::{Command, Output},
    sync::atomic::{AtomicU32, Ordering},
    time::Duration,
};

use crate::{DatabaseConfig, DatabaseKind, MySqlSettings, Secret};

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
        static STARTED: AtomicU32 = AtomicU32::new(0);
        let dir = std::env::temp_dir().join(format!(
            "bookinfo-mariadb-{}-{}",
            std::process::id(),
            STARTED.fetch_add(1, Ordering::Relaxed)
        ));
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|listener| listener.local_addr())
            .map_err(|err| format!("no free port: {err}"))?
            .port();
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

fn which(tool: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .chain([PathBuf::from("/usr/sbin"), PathBuf::from("/sbin")])
        .map(|dir| dir.join(tool))
        .find(|candidate| candidate.is_file())
}
