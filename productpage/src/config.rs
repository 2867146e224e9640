//! productpage's configuration (spec §3.2).

use std::time::Duration;

use service_runtime::{ConfigError, Env, TraceConfig, config::DEFAULT_PORT};

/// The session key used when `SESSION_SECRET` is unset. It is public: set your own in any
/// deployment where the signed-in user matters. Replicas sharing the default agree.
pub const DEFAULT_SESSION_SECRET: &str = "bookinfo-rs-demo-session-secret";

/// How one backend is called.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CallPolicy {
    pub timeout: Duration,
    pub attempts: u32,
}

#[derive(Debug, Clone)]
pub struct Config {
    pub details_url: String,
    /// One or more reviews addresses, used round robin.
    pub reviews_urls: Vec<String>,
    pub ratings_url: String,
    pub details_call: CallPolicy,
    /// Two attempts upstream: the retry doubles the fault-injection delay to about 6 s, which
    /// the Istio fault-injection task shows on purpose.
    pub reviews_call: CallPolicy,
    pub ratings_call: CallPolicy,
    /// Extra reviews calls per page view (rate-limiting demos).
    pub flood_factor: u32,
    /// Reuse backend connections. Off by default, as upstream: a fresh connection per call
    /// keeps L4 traffic splits spreading over backend versions.
    pub reuse_connections: bool,
    pub session_secret: String,
    pub tracing: TraceConfig,
}

const THREE_SECONDS: Duration = Duration::from_secs(3);

impl Config {
    /// `SERVICES_DOMAIN`, `DETAILS_HOSTNAME`/`_SERVICE_PORT`, `REVIEWS_…`, `RATINGS_…`,
    /// `FLOOD_FACTOR`, and our `BACKEND_CONNECTION_POOLING` and `SESSION_SECRET`.
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        Ok(Self {
            details_url: env.backend_url("DETAILS", "details")?,
            reviews_urls: reviews_urls(env)?,
            ratings_url: env.backend_url("RATINGS", "ratings")?,
            details_call: CallPolicy {
                timeout: THREE_SECONDS,
                attempts: 1,
            },
            reviews_call: CallPolicy {
                timeout: THREE_SECONDS,
                attempts: 2,
            },
            ratings_call: CallPolicy {
                timeout: THREE_SECONDS,
                attempts: 1,
            },
            flood_factor: flood_factor(env)?,
            reuse_connections: parse_bool(env, "BACKEND_CONNECTION_POOLING")?,
            session_secret: env.string_or("SESSION_SECRET", DEFAULT_SESSION_SECRET),
            tracing: TraceConfig::from_env(
                env,
                "productpage",
                &env.string_or("SERVICE_VERSION", "v1"),
            )?,
        })
    }
}

/// Extra reviews calls per page view; upstream's flooding image uses 100.
const MAX_FLOOD_FACTOR: u32 = 1000;

fn flood_factor(env: &Env) -> Result<u32, ConfigError> {
    let factor = env.parse_or("FLOOD_FACTOR", 0)?;
    if factor > MAX_FLOOD_FACTOR {
        return Err(ConfigError::new(
            "FLOOD_FACTOR",
            &factor.to_string(),
            format!("at most {MAX_FLOOD_FACTOR}"),
        ));
    }
    Ok(factor)
}

fn parse_bool(env: &Env, name: &str) -> Result<bool, ConfigError> {
    match env.get(name).map(str::to_ascii_lowercase).as_deref() {
        None | Some("false" | "0" | "no") => Ok(false),
        Some("true" | "1" | "yes") => Ok(true),
        Some(other) => Err(ConfigError::new(name, other, "expected true or false")),
    }
}

/// `REVIEWS_HOSTNAME` may list several `host[:port]` entries separated by commas (our
/// addition: the whole-app launcher spreads calls over v1, v2 and v3 this way).
fn reviews_urls(env: &Env) -> Result<Vec<String>, ConfigError> {
    let Some(list) = env
        .get("REVIEWS_HOSTNAME")
        .filter(|l| l.contains(',') || l.contains(':'))
    else {
        return Ok(vec![env.backend_url("REVIEWS", "reviews")?]);
    };
    let default_port: u16 = env.parse_or("REVIEWS_SERVICE_PORT", DEFAULT_PORT)?;
    let invalid = |why: String| ConfigError::new("REVIEWS_HOSTNAME", list, why);
    list.split(',')
        .map(str::trim)
        .filter(|entry| !entry.is_empty())
        .map(|entry| {
            let (host, port) = match entry.rsplit_once(':') {
                Some((host, port)) => (
                    host,
                    port.parse::<u16>()
                        .map_err(|e| invalid(format!("{entry}: {e}")))?,
                ),
                None => (entry, default_port),
            };
            let url = format!("http://{}:{port}", env.qualified_host(host));
            service_runtime::Endpoint::parse(&url).map_err(invalid)?;
            Ok(url)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upstream_defaults() {
        let config = Config::from_env(&Env::default()).unwrap();
        assert_eq!(config.details_url, "http://details:9080");
        assert_eq!(config.reviews_urls, ["http://reviews:9080"]);
        assert_eq!(config.ratings_url, "http://ratings:9080");
        assert_eq!(
            config.reviews_call,
            CallPolicy {
                timeout: THREE_SECONDS,
                attempts: 2
            }
        );
        assert_eq!(config.details_call.attempts, 1);
        assert_eq!(config.flood_factor, 0);
        assert!(!config.reuse_connections);
        assert_eq!(config.session_secret, DEFAULT_SESSION_SECRET);
    }

    #[test]
    fn reviews_hostname_may_list_several_entries() {
        let env = Env::from_pairs([
            ("REVIEWS_HOSTNAME", "a:1, b ,c:3"),
            ("REVIEWS_SERVICE_PORT", "7"),
        ]);
        assert_eq!(
            Config::from_env(&env).unwrap().reviews_urls,
            ["http://a:1", "http://b:7", "http://c:3"]
        );
        let spaces = Env::from_pairs([("REVIEWS_HOSTNAME", "a b:1")]);
        assert_eq!(
            Config::from_env(&spaces).unwrap_err().variable,
            "REVIEWS_HOSTNAME"
        );
        let bad = Env::from_pairs([("REVIEWS_HOSTNAME", "a:x")]);
        assert_eq!(
            Config::from_env(&bad).unwrap_err().variable,
            "REVIEWS_HOSTNAME"
        );
    }

    #[test]
    fn invalid_numbers_and_switches_stop_start_up() {
        let huge = Env::from_pairs([("FLOOD_FACTOR", "1001")]);
        assert_eq!(
            Config::from_env(&huge).unwrap_err().variable,
            "FLOOD_FACTOR"
        );
        let flood = Env::from_pairs([("FLOOD_FACTOR", "lots")]);
        assert_eq!(
            Config::from_env(&flood).unwrap_err().variable,
            "FLOOD_FACTOR"
        );
        let pooling = Env::from_pairs([("BACKEND_CONNECTION_POOLING", "maybe")]);
        assert_eq!(
            Config::from_env(&pooling).unwrap_err().variable,
            "BACKEND_CONNECTION_POOLING"
        );
        let on = Env::from_pairs([
            ("BACKEND_CONNECTION_POOLING", "true"),
            ("FLOOD_FACTOR", "100"),
        ]);
        let on = Config::from_env(&on).unwrap();
        assert!(on.reuse_connections);
        assert_eq!(on.flood_factor, 100);
    }
}
