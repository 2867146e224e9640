//! details' settings: the original image's switches, and our additions for the book service.

use std::time::Duration;

use clap::Args;
use service_runtime::{
    Endpoint, TelemetryArgs, TraceConfig,
    config::{ConfigError, millis, upstream_switch},
};

/// Google Books over HTTPS, the original default.
const GOOGLE_BOOKS_HTTPS: &str = "https://www.googleapis.com";
/// Plain HTTP on port 80, so that an Istio egress gateway can originate the TLS.
const GOOGLE_BOOKS_PLAIN: &str = "http://www.googleapis.com:80";

/// details' command line and environment.
#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "details")]
pub struct DetailsArgs {
    /// `true` looks the book up in the Google Books volumes API (details v2); any other value
    /// serves the static book (v1).
    #[arg(long, env, value_parser = upstream_switch, default_value = "false", num_args = 0..=1, require_equals = true, default_missing_value = "true")]
    pub enable_external_book_service: bool,
    /// `true` calls the book service over plain HTTP on port 80 (for Istio egress TLS
    /// origination); otherwise HTTPS on 443.
    #[arg(long, env, value_parser = upstream_switch, default_value = "false", num_args = 0..=1, require_equals = true, default_missing_value = "true")]
    pub do_not_encrypt: bool,
    /// Another base address for the volumes API (a proxy, a local stub), `http[s]://host[:port]`
    /// [default: https://www.googleapis.com, or http://www.googleapis.com:80 with DO_NOT_ENCRYPT].
    #[arg(long, env, hide_env_values = true)]
    pub book_service_url: Option<Endpoint>,
    /// Deadline of a book-service lookup, in milliseconds.
    #[arg(long, env, value_parser = millis, default_value = "5000")]
    pub book_service_timeout_ms: Duration,
    /// `service.version` of the spans [default: v2 with the book service, else v1].
    #[arg(long, env)]
    pub service_version: Option<String>,
    #[command(flatten)]
    pub telemetry: TelemetryArgs,
}

/// Where the book comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BookSource {
    /// The fixed book every v1 instance serves.
    Static,
    /// The Google Books volumes API at `endpoint` (v2).
    GoogleBooks {
        endpoint: Endpoint,
        timeout: Duration,
    },
}

/// details' configuration, parsed and checked.
#[derive(Debug, Clone)]
pub struct Config {
    pub book_source: BookSource,
    pub tracing: TraceConfig,
}

impl Config {
    /// The static book, no span export: what tests and the launcher start from.
    pub fn v1() -> Self {
        Self {
            book_source: BookSource::Static,
            tracing: TraceConfig::disabled("details"),
        }
    }
}

impl TryFrom<DetailsArgs> for Config {
    type Error = ConfigError;

    fn try_from(args: DetailsArgs) -> Result<Self, ConfigError> {
        let book_source = if args.enable_external_book_service {
            let default = if args.do_not_encrypt {
                GOOGLE_BOOKS_PLAIN
            } else {
                GOOGLE_BOOKS_HTTPS
            };
            let endpoint = match args.book_service_url {
                Some(endpoint) => endpoint,
                None => default
                    .parse()
                    .map_err(|why| ConfigError::new("BOOK_SERVICE_URL", default, why))?,
            };
            BookSource::GoogleBooks {
                endpoint,
                timeout: args.book_service_timeout_ms,
            }
        } else {
            BookSource::Static
        };
        let version = args.service_version.unwrap_or_else(|| {
            match book_source {
                BookSource::Static => "v1",
                BookSource::GoogleBooks { .. } => "v2",
            }
            .to_owned()
        });
        Ok(Self {
            tracing: args.telemetry.trace_config("details", &version),
            book_source,
        })
    }
}
