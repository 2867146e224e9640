//! productpage's settings: the original's variables and ours (docs/behaviour.md#productpage-settings).

use std::time::Duration;

use clap::Args;

use crate::mesh_panel::TraceUrl;
use service_runtime::{
    CallPolicy, Endpoints, HostList, TelemetryArgs, TraceConfig,
    config::{ConfigError, DEFAULT_PORT, non_blank, strict_switch},
    outbound::address::services_domain,
};

/// The session key used when `SESSION_SECRET` is unset. It is public: set your own in any
/// deployment where the signed-in user matters. Replicas sharing the default agree.
pub const DEFAULT_SESSION_SECRET: &str = "bookinfo-rs-demo-session-secret";

/// Extra reviews calls per page view; the original flooding image uses 100.
const MAX_FLOOD_FACTOR: i64 = 1000;

const THREE_SECONDS: Duration = Duration::from_secs(3);

/// The page's own settings, which the whole-application launcher takes too.
#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "productpage")]
pub struct PageArgs {
    /// Extra reviews calls per page view, sent concurrently (rate-limiting demos), at most 1000;
    /// at most 32 are in flight across all page views, and a page waits for them at most one
    /// reviews call's time (3 s × 2 attempts).
    #[arg(long, env, value_parser = clap::value_parser!(u32).range(0..=MAX_FLOOD_FACTOR), default_value_t = 0)]
    pub flood_factor: u32,
    /// `true` reuses backend connections; `false`, as the original, opens one per call so that
    /// L4 traffic splits spread over backend versions.
    #[arg(long, env, value_parser = strict_switch, default_value = "false", num_args = 0..=1, require_equals = true, default_missing_value = "true")]
    pub backend_connection_pooling: bool,
    /// Key that signs the session cookie; replicas must share it. The default is public: set
    /// your own wherever the signed-in user matters.
    #[arg(long, env, hide_env_values = true, value_parser = non_blank, default_value = DEFAULT_SESSION_SECRET)]
    pub session_secret: String,
    /// `true` ends the product page with the mesh panel: one row per hop of the page view
    /// (ingress → productpage → details and reviews → ratings) with the workload that answered,
    /// status, time, attempts, and the caller's identity as the callee's sidecar verified it
    /// (docs/observability.md#the-mesh-panel). Off, the page is upstream's.
    #[arg(long, env, value_parser = strict_switch, default_value = "false", num_args = 0..=1, require_equals = true, default_missing_value = "true")]
    pub mesh_panel: bool,
    /// Where the panel links its trace id: an http:// or https:// URL containing {trace_id},
    /// e.g. http://localhost:16686/trace/{trace_id} (Jaeger), or
    /// http://localhost:16686/jaeger/trace/{trace_id} (Istio's add-on behind `istioctl
    /// dashboard jaeger`).
    #[arg(long, env, value_parser = TraceUrl::parse)]
    pub mesh_panel_trace_url: Option<TraceUrl>,
}

impl Default for PageArgs {
    fn default() -> Self {
        Self {
            flood_factor: 0,
            backend_connection_pooling: false,
            session_secret: DEFAULT_SESSION_SECRET.to_owned(),
            mesh_panel: false,
            mesh_panel_trace_url: None,
        }
    }
}

/// productpage's command line and environment.
#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "productpage")]
pub struct ProductpageArgs {
    /// details' host, `host[:port]` or `[ipv6][:port]`; a comma-separated list is used round
    /// robin.
    #[arg(long, env, default_value = "details")]
    pub details_hostname: HostList,
    /// details' port, for entries of DETAILS_HOSTNAME without one.
    #[arg(long, env, default_value_t = DEFAULT_PORT)]
    pub details_service_port: u16,
    /// reviews' host or hosts, as DETAILS_HOSTNAME.
    #[arg(long, env, default_value = "reviews")]
    pub reviews_hostname: HostList,
    /// reviews' port, for entries of REVIEWS_HOSTNAME without one.
    #[arg(long, env, default_value_t = DEFAULT_PORT)]
    pub reviews_service_port: u16,
    /// ratings' host or hosts, as DETAILS_HOSTNAME (only the ratings API route calls it).
    #[arg(long, env, default_value = "ratings")]
    pub ratings_hostname: HostList,
    /// ratings' port, for entries of RATINGS_HOSTNAME without one.
    #[arg(long, env, default_value_t = DEFAULT_PORT)]
    pub ratings_service_port: u16,
    /// DNS suffix appended to every host name (not to IP addresses), e.g. svc.cluster.local.
    #[arg(long, env, value_parser = services_domain)]
    pub services_domain: Option<String>,
    #[command(flatten)]
    pub page: PageArgs,
    /// `service.version` of the spans; a free label (the flooding image sets v-flooding).
    #[arg(long, env, default_value = "v1")]
    pub service_version: String,
    #[command(flatten)]
    pub telemetry: TelemetryArgs,
}

/// productpage's configuration, parsed and checked.
#[derive(Debug, Clone)]
pub struct Config {
    pub details: Endpoints,
    pub reviews: Endpoints,
    pub ratings: Endpoints,
    /// One attempt.
    pub details_call: CallPolicy,
    /// Two attempts, as the original: the retry doubles the fault-injection delay to about
    /// 6 s, which the Istio fault-injection task shows on purpose.
    pub reviews_call: CallPolicy,
    pub ratings_call: CallPolicy,
    pub page: PageArgs,
    pub tracing: TraceConfig,
}

impl Config {
    /// The original's call policies and the default page settings, no span export.
    pub fn new(details: Endpoints, reviews: Endpoints, ratings: Endpoints) -> Self {
        let policy = |attempts| CallPolicy::service(THREE_SECONDS, attempts);
        Self {
            details,
            reviews,
            ratings,
            details_call: policy(1),
            reviews_call: policy(2),
            ratings_call: policy(1),
            page: PageArgs::default(),
            tracing: TraceConfig::disabled("productpage"),
        }
    }
}

impl TryFrom<ProductpageArgs> for Config {
    type Error = ConfigError;

    fn try_from(args: ProductpageArgs) -> Result<Self, ConfigError> {
        let domain = args.services_domain.as_deref();
        let mut config = Self::new(
            args.details_hostname.endpoints(
                "DETAILS_HOSTNAME",
                domain,
                args.details_service_port,
            )?,
            args.reviews_hostname.endpoints(
                "REVIEWS_HOSTNAME",
                domain,
                args.reviews_service_port,
            )?,
            args.ratings_hostname.endpoints(
                "RATINGS_HOSTNAME",
                domain,
                args.ratings_service_port,
            )?,
        );
        config.page = args.page;
        config.tracing = args
            .telemetry
            .trace_config("productpage", &args.service_version);
        Ok(config)
    }
}
