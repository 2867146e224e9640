//! ratings v2's settings: upstream's `DB_TYPE`, `MONGO_DB_URL` and `MYSQL_DB_*` variables, plus
//! our bound on a database read and the pool's size.

use std::{fmt, time::Duration};

use clap::Args;
use mongodb::options::ConnectionString;
use service_runtime::config::{ConfigError, positive_millis};

/// A value that must never reach a log line, an error body or `--help` (passwords, and
/// connection strings that may carry one). `Debug` and `Display` print `***`.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The value itself, for the driver only.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

impl std::str::FromStr for Secret {
    type Err = std::convert::Infallible;

    fn from_str(value: &str) -> Result<Self, Self::Err> {
        Ok(Self(value.to_owned()))
    }
}

/// ratings v2's command line and environment. Read only when `SERVICE_VERSION=v2`.
#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "ratings v2 (database)")]
pub struct DatabaseArgs {
    /// `mysql` reads MySQL (or MariaDB); any other value, or none, reads MongoDB, as upstream.
    #[arg(long, env)]
    pub db_type: Option<String>,
    /// MongoDB connection string (`mongodb://host:27017/test`); required for MongoDB. The
    /// database is always `test`, whatever the string names, as in upstream's newest driver.
    #[arg(long, env, hide_env_values = true)]
    pub mongo_db_url: Option<Secret>,
    /// MySQL host name or address.
    #[arg(long, env, default_value = "localhost")]
    pub mysql_db_host: String,
    /// MySQL port.
    #[arg(long, env, value_parser = clap::value_parser!(u16).range(1..), default_value = "3306")]
    pub mysql_db_port: u16,
    /// MySQL user.
    #[arg(long, env, default_value = "root")]
    pub mysql_db_user: String,
    /// MySQL password; none by default.
    #[arg(long, env, hide_env_values = true, default_value = "")]
    pub mysql_db_password: Secret,
    /// Longest a GET waits for the database (connecting included), in milliseconds; then
    /// 503. Also the pool's connect and MongoDB's server-selection timeout.
    #[arg(long, env, value_parser = positive_millis, default_value = "2000")]
    pub db_timeout_ms: Duration,
    /// Most database connections the pool keeps open. Connections open on demand, so none
    /// exists until the first GET.
    #[arg(long, env, value_parser = clap::value_parser!(u32).range(1..=1000), default_value = "10")]
    pub db_pool_max_connections: u32,
}

impl Default for DatabaseArgs {
    fn default() -> Self {
        Self {
            db_type: None,
            mongo_db_url: None,
            mysql_db_host: "localhost".into(),
            mysql_db_port: 3306,
            mysql_db_user: "root".into(),
            mysql_db_password: Secret::default(),
            db_timeout_ms: Duration::from_secs(2),
            db_pool_max_connections: 10,
        }
    }
}

/// Where MySQL is and who to be there. The database is always `test`, as upstream's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MySqlSettings {
    pub host: String,
    pub port: u16,
    pub user: String,
    pub password: Secret,
}

/// Which database ratings v2 reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DatabaseKind {
    MySql(MySqlSettings),
    /// A connection string already checked by the driver's own parser.
    MongoDb(Secret),
}

/// Where the stars come from, for people: `MySQL at host:port as user`, or `MongoDB` (the
/// connection string may hold a password, so it is not shown).
impl fmt::Display for DatabaseKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::MySql(settings) => write!(
                f,
                "MySQL at {}:{} as {}",
                settings.host, settings.port, settings.user
            ),
            Self::MongoDb(_) => f.write_str("MongoDB at MONGO_DB_URL"),
        }
    }
}

impl DatabaseKind {
    /// The OpenTelemetry `db.system.name` of this database, used in metric labels and logs.
    pub fn system_name(&self) -> &'static str {
        match self {
            Self::MySql(_) => "mysql",
            Self::MongoDb(_) => "mongodb",
        }
    }
}

/// ratings v2's database settings, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DatabaseConfig {
    pub kind: DatabaseKind,
    /// Bound on one GET's database work, connecting included.
    pub timeout: Duration,
    pub pool_max_connections: u32,
}

impl TryFrom<DatabaseArgs> for DatabaseConfig {
    type Error = ConfigError;

    /// # Errors
    /// MongoDB without `MONGO_DB_URL`, or with one the driver cannot parse (the error names
    /// the variable and never prints its value, which may hold a password).
    fn try_from(args: DatabaseArgs) -> Result<Self, ConfigError> {
        let kind = if args.db_type.as_deref() == Some("mysql") {
            DatabaseKind::MySql(MySqlSettings {
                host: args.mysql_db_host,
                port: args.mysql_db_port,
                user: args.mysql_db_user,
                password: args.mysql_db_password,
            })
        } else {
            let url = args.mongo_db_url.ok_or_else(|| {
                ConfigError::new(
                    "MONGO_DB_URL",
                    "",
                    "ratings v2 reads MongoDB unless DB_TYPE=mysql, and needs MONGO_DB_URL \
                     (for example mongodb://mongodb:27017/test)",
                )
            })?;
            check_mongo_url(&url)?;
            DatabaseKind::MongoDb(url)
        };
        Ok(Self {
            kind,
            timeout: args.db_timeout_ms,
            pool_max_connections: args.db_pool_max_connections,
        })
    }
}

/// What is wrong with a `MONGO_DB_URL`, said without the driver's words: those can quote
/// pieces of the string, and so of a password in it.
pub(super) const BAD_URL: &str = "the MongoDB driver refuses this connection string or its \
     options; check it against mongodb://[user:password@]host[:port][/database][?options], \
     with the user name and password percent-encoded";

fn check_mongo_url(url: &Secret) -> Result<(), ConfigError> {
    let invalid = |reason: &str| ConfigError::new("MONGO_DB_URL", "(not shown)", reason);
    if url.expose().starts_with("mongodb+srv://") {
        // SRV lookups need the driver's DNS resolver, which this build leaves out.
        return Err(invalid(
            "mongodb+srv:// is not supported; give the hosts: mongodb://host:27017/test",
        ));
    }
    // The driver's own message is left out: it can quote pieces of the string.
    ConnectionString::parse(url.expose())
        .map(drop)
        .map_err(|_| invalid(BAD_URL))
}
