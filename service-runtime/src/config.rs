//! Settings every service shares, and the value parsers that keep upstream's semantics where
//! clap's defaults differ. Each setting is a flag and an environment variable of the same name
//! (`--flood-factor` / `FLOOD_FACTOR`); the value name in `--help` and in error messages is the
//! variable's name, so a bad value names the variable that carried it.

use std::{
    ffi::{OsStr, OsString},
    fmt,
    sync::Mutex,
    time::Duration,
};

use clap::{Arg, Args, Command, FromArgMatches, ValueEnum};

/// The port every Bookinfo service listens on unless told otherwise.
pub const DEFAULT_PORT: u16 = 9080;

/// A setting whose value cannot be used, found after parsing (a combination of settings); the
/// binaries print it as a usage error and exit 2, like clap's own errors.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid {variable}={value:?}: {reason}")]
pub struct ConfigError {
    /// The environment variable (and, in kebab case, the flag) that carried the value.
    pub variable: &'static str,
    pub value: String,
    pub reason: String,
}

impl ConfigError {
    pub fn new(
        variable: &'static str,
        value: impl Into<String>,
        reason: impl Into<String>,
    ) -> Self {
        Self {
            variable,
            value: value.into(),
            reason: reason.into(),
        }
    }
}

/// Parses the process's command line and environment with `command`; on `--help`,
/// `--version` or a bad value, prints and exits (0, or 2 for a usage error).
///
/// A variable set to the empty string counts as unset, as the original services read them
/// and as the OpenTelemetry specification asks: templates (Helm, compose) often render
/// unset values as "". An `OTEL_*` variable whose value cannot be used (an unknown or
/// unsupported enum value, each list entry on its own; a number that does not parse or is
/// out of range) is ignored with a warning and its default applies, as the OpenTelemetry
/// SDK configuration specification requires; the warnings are logged by
/// [`crate::telemetry::logging::init`]. The same value typed as an `--otel-*` flag, and every other
/// setting, stays an error.
pub fn parse_command_line<T: FromArgMatches>(command: Command) -> (T, Command) {
    let mut command = command.mut_args(|arg| {
        let empty = arg
            .get_env()
            .and_then(std::env::var_os)
            .is_some_and(|value| value.is_empty());
        if empty {
            arg.env(None)
        } else {
            lenient_otel_variable(arg)
        }
    });
    match command
        .try_get_matches_from_mut(std::env::args_os())
        .and_then(|matches| T::from_arg_matches(&matches))
    {
        Ok(parsed) => (parsed, command),
        Err(err) => err.exit(),
    }
}

/// Warnings found while parsing, logged once logging is set up.
static DEFERRED_WARNINGS: Mutex<Vec<String>> = Mutex::new(Vec::new());

/// The warnings [`parse_command_line`] found, each once.
pub(crate) fn take_deferred_warnings() -> Vec<String> {
    std::mem::take(
        &mut *DEFERRED_WARNINGS
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner),
    )
}

/// `arg` as is, unless it reads an `OTEL_*` variable whose value its own parser refuses:
/// then the variable is dropped (the default applies) or, for a list, only its usable entries
/// are kept, and a warning naming the variable is deferred.
fn lenient_otel_variable(arg: Arg) -> Arg {
    let Some(variable) = arg
        .get_env()
        .and_then(OsStr::to_str)
        .filter(|variable| variable.starts_with("OTEL_"))
        .map(str::to_owned)
    else {
        return arg;
    };
    let Some(value) = std::env::var_os(&variable) else {
        return arg;
    };
    let Err(problem) = trial_parse(&arg, &value) else {
        return arg;
    };
    // A header or endpoint may carry a secret: its value is never logged.
    let secret = arg.is_hide_env_values_set();
    let (arg, warning) = match (arg.get_value_delimiter(), value.to_str()) {
        (Some(delimiter), Some(list)) => {
            let (usable, unusable): (Vec<&str>, Vec<&str>) = list
                .split(delimiter)
                .map(str::trim)
                .filter(|entry| !entry.is_empty())
                .partition(|entry| trial_parse(&arg, OsStr::new(entry)).is_ok());
            let warning = format!(
                "{variable}: ignoring {} (unknown or unsupported); using {}",
                unusable.join(", "),
                if usable.is_empty() {
                    "the default".to_owned()
                } else {
                    usable.join(",")
                }
            );
            let usable: Vec<String> = usable.into_iter().map(str::to_owned).collect();
            let arg = arg.env(None);
            if usable.is_empty() {
                (arg, warning)
            } else {
                (arg.default_values(usable), warning)
            }
        }
        _ if secret => (
            arg.env(None),
            format!("{variable} ignored (its value is not usable); using the default"),
        ),
        _ => (
            arg.env(None),
            format!("{variable}={value:?} ignored ({problem}); using the default"),
        ),
    };
    DEFERRED_WARNINGS
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .push(warning);
    arg
}

/// Whether `arg`'s own parser accepts `value` (typed as `--flag=value`), and if not, why.
fn trial_parse(arg: &Arg, value: &OsStr) -> Result<(), String> {
    let Some(long) = arg.get_long() else {
        return Ok(());
    };
    let mut flag = OsString::from(format!("--{long}="));
    flag.push(value);
    Command::new("trial")
        .no_binary_name(true)
        .arg(arg.clone().env(None))
        .try_get_matches_from([flag])
        .map(drop)
        .map_err(|err| {
            let text = err.to_string();
            let first = text.lines().next().unwrap_or_default();
            first.trim_start_matches("error: ").to_owned()
        })
}

/// Upstream's switches (`ENABLE_RATINGS`, `DO_NOT_ENCRYPT`, ...): on only for `true`, in any
/// case; any other value is off rather than an error, as the original services read them.
pub fn upstream_switch(value: &str) -> Result<bool, std::convert::Infallible> {
    Ok(value.trim().eq_ignore_ascii_case("true"))
}

/// Our own switches: `true`/`false` (also `1`/`0`, `yes`/`no`), anything else an error.
pub fn strict_switch(value: &str) -> Result<bool, String> {
    match value.trim().to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" => Ok(true),
        "false" | "0" | "no" => Ok(false),
        _ => Err("expected true or false".to_owned()),
    }
}

/// A duration given in whole milliseconds (the `*_MS` variables).
pub fn millis(value: &str) -> Result<Duration, String> {
    value
        .trim()
        .parse::<u64>()
        .map(Duration::from_millis)
        .map_err(|err| format!("{err} (expected whole milliseconds)"))
}

/// A period in whole milliseconds, at least 1 ms: a zero period would flip at random.
pub fn positive_millis(value: &str) -> Result<Duration, String> {
    match millis(value)? {
        Duration::ZERO => Err("must be at least 1 ms".to_owned()),
        period => Ok(period),
    }
}

/// A secret or name that must hold more than white space.
pub fn non_blank(value: &str) -> Result<String, String> {
    if value.trim().is_empty() {
        Err("must not be blank".to_owned())
    } else {
        Ok(value.to_owned())
    }
}

/// `LOG_FORMAT`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    #[default]
    Text,
    /// One JSON object per line.
    Json,
}

impl fmt::Display for LogFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Text => "text",
            Self::Json => "json",
        })
    }
}

/// Log settings, shared by every binary.
#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "Logs")]
pub struct LogArgs {
    /// Log level and per-target filters, in tracing's EnvFilter syntax; `access=debug` adds one
    /// line per request.
    #[arg(long, env, default_value = "info")]
    pub rust_log: String,
    /// Log line format.
    #[arg(long, env, value_enum, ignore_case = true, default_value_t)]
    pub log_format: LogFormat,
}

impl Default for LogArgs {
    fn default() -> Self {
        Self {
            rust_log: "info".to_owned(),
            log_format: LogFormat::Text,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upstream_switches_are_on_only_for_true() {
        for (value, on) in [
            ("true", true),
            ("TRUE", true),
            ("True", true),
            ("yes", false),
            ("1", false),
            ("", false),
        ] {
            assert_eq!(upstream_switch(value), Ok(on), "{value:?}");
        }
    }

    #[test]
    fn strict_switches_refuse_other_words() {
        assert_eq!(strict_switch("Yes"), Ok(true));
        assert_eq!(strict_switch("0"), Ok(false));
        assert!(strict_switch("maybe").is_err());
    }

    #[test]
    fn millis_are_whole_milliseconds() {
        assert_eq!(millis("2500"), Ok(Duration::from_millis(2500)));
        assert!(millis("2.5s").is_err());
        assert!(millis("-1").is_err());
    }
}
