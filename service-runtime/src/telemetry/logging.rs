//! The log subscriber: human-readable, or JSON when `LOG_FORMAT=json`; level from `RUST_LOG`
//! (default `info`). Request log lines carry `trace_id` and `span_id` (see observe); in JSON
//! they and the event's own fields sit at the top level of each line, where log pipelines
//! (Loki, Elastic, Cloud Logging) look for them.

use std::io::IsTerminal;

use tracing_subscriber::{EnvFilter, fmt, fmt::writer::BoxMakeWriter, prelude::*};

use crate::config::{LogArgs, LogFormat};

/// Installs the global subscriber, writing to stdout (the services: one stream for the
/// container runtime). A second call (tests, the whole-app launcher) keeps the first one.
pub fn init(args: &LogArgs) {
    install(args, false);
}

/// The same subscriber on stderr, for commands whose stdout carries their result
/// (`bookinfo traffic --output json`).
pub fn init_on_stderr(args: &LogArgs) {
    install(args, true);
}

fn install(args: &LogArgs, on_stderr: bool) {
    let filter = EnvFilter::try_new(&args.rust_log).unwrap_or_else(|err| {
        eprintln!(
            "RUST_LOG={:?} is not a valid filter ({err}); logging at info",
            args.rust_log
        );
        EnvFilter::new("info")
    });
    let json = args.log_format == LogFormat::Json;
    let (writer, terminal) = if on_stderr {
        (
            BoxMakeWriter::new(std::io::stderr),
            std::io::stderr().is_terminal(),
        )
    } else {
        (
            BoxMakeWriter::new(std::io::stdout),
            std::io::stdout().is_terminal(),
        )
    };
    let registry = tracing_subscriber::registry().with(filter);
    let installed = if json {
        registry
            .with(
                json_subscriber::fmt::layer()
                    .with_writer(writer)
                    .flatten_event(true)
                    .with_current_span(false)
                    .with_span_list(false)
                    .flatten_current_span_on_top_level(true),
            )
            .try_init()
    } else {
        registry
            .with(fmt::layer().with_writer(writer).with_ansi(terminal))
            .try_init()
    };
    if installed.is_err() {
        tracing::debug!("a log subscriber was already installed");
    }
    for warning in crate::config::take_deferred_warnings() {
        tracing::warn!("{warning}");
    }
}
