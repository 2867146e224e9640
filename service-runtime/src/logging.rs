//! The log subscriber: human-readable on a terminal, JSON when `LOG_FORMAT=json`, level from
//! `RUST_LOG` (default `info`). Request log lines carry `trace_id` and `span_id` (see observe).

use std::io::IsTerminal;

use tracing_subscriber::{EnvFilter, fmt, prelude::*};

use crate::Env;

/// Installs the global subscriber. A second call (tests, the whole-app launcher) keeps the
/// first one.
pub fn init(env: &Env) {
    let filter = EnvFilter::try_new(env.get("RUST_LOG").unwrap_or("info"))
        .unwrap_or_else(|_| EnvFilter::new("info"));
    let json = env
        .get("LOG_FORMAT")
        .is_some_and(|f| f.eq_ignore_ascii_case("json"));
    let registry = tracing_subscriber::registry().with(filter);
    let installed = if json {
        registry
            .with(
                fmt::layer()
                    .json()
                    .with_current_span(true)
                    .with_span_list(false),
            )
            .try_init()
    } else {
        registry
            .with(fmt::layer().with_ansi(std::io::stdout().is_terminal()))
            .try_init()
    };
    if installed.is_err() {
        tracing::debug!("a log subscriber was already installed");
    }
}
