//! reviews' settings: the original image's variables, typed.

use std::time::Duration;

use clap::Args;
use service_runtime::{
    Endpoints, HostList, TelemetryArgs, TraceConfig,
    config::{ConfigError, DEFAULT_PORT, upstream_switch},
    outbound::address::services_domain,
};

/// v2's colour. It also selects the long ratings timeout, kept on purpose: the fault-injection
/// task shows productpage giving up before reviews v2 does (docs/behaviour.md#calling-ratings).
pub const BLACK: &str = "black";

/// A reviews version as the images build it: the settings that make it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReviewsVersion {
    pub name: &'static str,
    pub enable_ratings: bool,
    pub star_color: &'static str,
}

/// The three versions of the Istio docs, the one place the launcher, the benchmark and the
/// image tests take them from.
pub const VERSIONS: [ReviewsVersion; 3] = [
    ReviewsVersion {
        name: "v1",
        enable_ratings: false,
        star_color: BLACK,
    },
    ReviewsVersion {
        name: "v2",
        enable_ratings: true,
        star_color: BLACK,
    },
    ReviewsVersion {
        name: "v3",
        enable_ratings: true,
        star_color: "red",
    },
];

/// reviews' command line and environment.
#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "reviews")]
pub struct ReviewsArgs {
    /// `true` calls ratings and adds a rating to each review (v2, v3); any other value is v1.
    #[arg(long, env, value_parser = upstream_switch, default_value = "false", num_args = 0..=1, require_equals = true, default_missing_value = "true")]
    pub enable_ratings: bool,
    /// The colour of the stars, free text. Also the ratings timeout: 10 s for black, 2.5 s for
    /// any other colour.
    #[arg(long, env, default_value = BLACK)]
    pub star_color: String,
    /// ratings' host, `host[:port]` or `[ipv6][:port]`; a comma-separated list is used round
    /// robin.
    #[arg(long, env, default_value = "ratings")]
    pub ratings_hostname: HostList,
    /// ratings' port, for entries of RATINGS_HOSTNAME without one.
    #[arg(long, env, default_value_t = DEFAULT_PORT)]
    pub ratings_service_port: u16,
    /// DNS suffix appended to every host name (not to IP addresses), e.g. svc.cluster.local.
    #[arg(long, env, value_parser = services_domain)]
    pub services_domain: Option<String>,
    /// `clustername` in every answer [default: null].
    #[arg(long, env)]
    pub cluster_name: Option<String>,
    /// `service.version` of the spans [default: v1, v2 or v3, from the settings above].
    #[arg(long, env)]
    pub service_version: Option<String>,
    #[command(flatten)]
    pub telemetry: TelemetryArgs,
}

/// How reviews calls ratings (v2 and v3).
#[derive(Debug, Clone, PartialEq)]
pub struct RatingsSettings {
    pub endpoints: Endpoints,
    pub timeout: Duration,
}

/// reviews' configuration, parsed and checked.
#[derive(Debug, Clone)]
pub struct Config {
    /// `None` is v1: no ratings calls and no `rating` field.
    pub ratings: Option<RatingsSettings>,
    pub star_color: String,
    /// The literal `null` when unset, as the original answers.
    pub podname: String,
    /// The literal `null` when unset, which productpage hides.
    pub clustername: String,
    pub tracing: TraceConfig,
}

impl Config {
    /// `version` of [`VERSIONS`] calling ratings at `ratings`, no span export: what tests and
    /// the launcher start from.
    pub fn new(version: ReviewsVersion, ratings: Endpoints) -> Self {
        Self {
            ratings: version.enable_ratings.then(|| RatingsSettings {
                endpoints: ratings,
                timeout: ratings_timeout(version.star_color),
            }),
            star_color: version.star_color.to_owned(),
            podname: "null".to_owned(),
            clustername: "null".to_owned(),
            tracing: TraceConfig::disabled("reviews"),
        }
    }
}

impl TryFrom<ReviewsArgs> for Config {
    type Error = ConfigError;

    fn try_from(args: ReviewsArgs) -> Result<Self, ConfigError> {
        let ratings = if args.enable_ratings {
            Some(RatingsSettings {
                endpoints: args.ratings_hostname.endpoints(
                    "RATINGS_HOSTNAME",
                    args.services_domain.as_deref(),
                    args.ratings_service_port,
                )?,
                timeout: ratings_timeout(&args.star_color),
            })
        } else {
            None
        };
        let derived = match (&ratings, args.star_color.as_str()) {
            (None, _) => "v1",
            (Some(_), BLACK) => "v2",
            (Some(_), _) => "v3",
        };
        let version = args.service_version.as_deref().unwrap_or(derived);
        Ok(Self {
            tracing: args.telemetry.trace_config("reviews", version),
            ratings,
            star_color: args.star_color,
            // The pod name, also `k8s.pod.name` of the spans.
            podname: args
                .telemetry
                .pod_name
                .clone()
                .unwrap_or_else(|| "null".to_owned()),
            clustername: args.cluster_name.unwrap_or_else(|| "null".to_owned()),
        })
    }
}

/// 10 s for black stars, 2.5 s for any other colour: the original keys it off the colour.
pub fn ratings_timeout(star_color: &str) -> Duration {
    if star_color == BLACK {
        Duration::from_secs(10)
    } else {
        Duration::from_millis(2500)
    }
}
