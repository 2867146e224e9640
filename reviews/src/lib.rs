//! reviews: `GET /reviews/{id}` (spec §5). One binary; `ENABLE_RATINGS` and `STAR_COLOR`
//! select v1 (no ratings), v2 (black stars) and v3 (red stars).

mod ratings_client;
mod review;
mod routes;

use std::time::Duration;

use service_runtime::{ConfigError, Env, TraceConfig};

pub use review::{Rating, Review, ReviewsResponse};
pub use routes::app;

/// v2's colour; it also selects the long ratings timeout (spec §5.2, kept on purpose: the
/// fault-injection task shows productpage giving up before reviews v2 does).
const BLACK: &str = "black";

#[derive(Debug, Clone)]
pub struct Config {
    /// `None` is v1: no ratings calls and no `rating` field.
    pub ratings: Option<RatingsConfig>,
    pub star_color: String,
    /// From `HOSTNAME`; the literal `null` when unset, as upstream.
    pub podname: String,
    /// From `CLUSTER_NAME`; the literal `null` when unset, which productpage hides.
    pub clustername: String,
    pub tracing: TraceConfig,
}

#[derive(Debug, Clone)]
pub struct RatingsConfig {
    /// `http://host:port` of ratings.
    pub base_url: String,
    pub timeout: Duration,
}

impl Config {
    /// `ENABLE_RATINGS`, `STAR_COLOR`, `RATINGS_HOSTNAME`, `RATINGS_SERVICE_PORT`,
    /// `SERVICES_DOMAIN`, `HOSTNAME`, `CLUSTER_NAME`.
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        let star_color = env.string_or("STAR_COLOR", BLACK);
        let ratings = if env.flag("ENABLE_RATINGS") {
            Some(RatingsConfig {
                base_url: env.backend_url("RATINGS", "ratings")?,
                timeout: ratings_timeout(&star_color),
            })
        } else {
            None
        };
        // service.version: SERVICE_VERSION when the image sets it, else what the switches make.
        let derived = match (&ratings, star_color.as_str()) {
            (None, _) => "v1",
            (Some(_), BLACK) => "v2",
            (Some(_), _) => "v3",
        };
        let version = env.string_or("SERVICE_VERSION", derived);
        Ok(Self {
            tracing: TraceConfig::from_env(env, "reviews", &version)?,
            ratings,
            star_color,
            podname: env.string_or("HOSTNAME", "null"),
            clustername: env.string_or("CLUSTER_NAME", "null"),
        })
    }
}

/// 10 s for black stars, 2.5 s for any other colour (upstream keys it off the colour).
pub fn ratings_timeout(star_color: &str) -> Duration {
    if star_color == BLACK {
        Duration::from_secs(10)
    } else {
        Duration::from_millis(2500)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn variants_come_from_enable_ratings_and_star_color() {
        let v1 = Config::from_env(&Env::default()).unwrap();
        assert!(v1.ratings.is_none());
        assert_eq!(
            (v1.podname.as_str(), v1.clustername.as_str()),
            ("null", "null")
        );
        let v2 = Config::from_env(&Env::from_pairs([("ENABLE_RATINGS", "true")])).unwrap();
        let v2_ratings = v2.ratings.unwrap();
        assert_eq!(v2_ratings.timeout, Duration::from_secs(10));
        assert_eq!(v2_ratings.base_url, "http://ratings:9080");
        let v3 = Config::from_env(&Env::from_pairs([
            ("ENABLE_RATINGS", "True"),
            ("STAR_COLOR", "red"),
        ]))
        .unwrap();
        assert_eq!(v3.star_color, "red");
        assert_eq!(v3.ratings.unwrap().timeout, Duration::from_millis(2500));
    }
}
