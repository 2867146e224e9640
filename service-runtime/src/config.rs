//! Typed configuration from environment variables. Every service reads its settings through
//! [`Env`], so tests hand in a map instead of touching the process environment.

use std::{collections::HashMap, fmt, str::FromStr, time::Duration};

/// The port every Bookinfo service listens on unless told otherwise (spec §1).
pub const DEFAULT_PORT: u16 = 9080;

/// A snapshot of environment variables.
#[derive(Clone, Debug, Default)]
pub struct Env {
    vars: HashMap<String, String>,
}

/// A variable whose value cannot be used; start-up stops with this message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    pub variable: String,
    pub value: String,
    pub reason: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "invalid {}={:?}: {}",
            self.variable, self.value, self.reason
        )
    }
}

impl std::error::Error for ConfigError {}

impl ConfigError {
    pub fn new(variable: &str, value: &str, reason: impl Into<String>) -> Self {
        Self {
            variable: variable.to_owned(),
            value: value.to_owned(),
            reason: reason.into(),
        }
    }
}

impl Env {
    /// The process environment; variables that are not valid UTF-8 are left out.
    pub fn from_process() -> Self {
        let vars = std::env::vars_os()
            .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)))
            .collect();
        Self { vars }
    }

    pub fn from_pairs<I, K, V>(pairs: I) -> Self
    where
        I: IntoIterator<Item = (K, V)>,
        K: Into<String>,
        V: Into<String>,
    {
        Self {
            vars: pairs
                .into_iter()
                .map(|(k, v)| (k.into(), v.into()))
                .collect(),
        }
    }

    /// The same environment with one variable set (used by the launcher to configure variants).
    pub fn with(mut self, name: &str, value: impl Into<String>) -> Self {
        self.vars.insert(name.to_owned(), value.into());
        self
    }

    /// The value, treating an empty string as unset (Kubernetes often renders unset values as "").
    pub fn get(&self, name: &str) -> Option<&str> {
        self.vars
            .get(name)
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    }

    pub fn string_or(&self, name: &str, default: &str) -> String {
        self.get(name).unwrap_or(default).to_owned()
    }

    /// Upstream's boolean switches: only `true` (any case) turns them on.
    pub fn flag(&self, name: &str) -> bool {
        self.get(name)
            .is_some_and(|v| v.eq_ignore_ascii_case("true"))
    }

    pub fn parse_or<T>(&self, name: &str, default: T) -> Result<T, ConfigError>
    where
        T: FromStr,
        T::Err: fmt::Display,
    {
        match self.get(name) {
            None => Ok(default),
            Some(raw) => raw
                .trim()
                .parse()
                .map_err(|e: T::Err| ConfigError::new(name, raw, e.to_string())),
        }
    }

    /// A duration given in milliseconds.
    pub fn millis_or(&self, name: &str, default: Duration) -> Result<Duration, ConfigError> {
        self.parse_or(name, default.as_millis() as u64)
            .map(Duration::from_millis)
    }

    /// `http://{host}{.SERVICES_DOMAIN}:{port}` for a backend, from `<PREFIX>_HOSTNAME` and
    /// `<PREFIX>_SERVICE_PORT` (spec §3.2). The port is validated, unlike upstream, so a typo
    /// stops start-up instead of failing every request.
    pub fn backend_url(&self, prefix: &str, default_host: &str) -> Result<String, ConfigError> {
        let host_var = format!("{prefix}_HOSTNAME");
        let host = self.string_or(&host_var, default_host);
        let port: u16 = self.parse_or(&format!("{prefix}_SERVICE_PORT"), DEFAULT_PORT)?;
        let url = format!("http://{}:{port}", self.qualified_host(&host));
        crate::Endpoint::parse(&url)
            .map(|_| url)
            .map_err(|why| ConfigError::new(&host_var, &host, why))
    }

    /// The host with `.SERVICES_DOMAIN` appended when that variable is set.
    pub fn qualified_host(&self, host: &str) -> String {
        match self.get("SERVICES_DOMAIN") {
            Some(domain) => format!("{host}.{domain}"),
            None => host.to_owned(),
        }
    }

    /// The listening port: the first command-line argument, else `PORT`, else 9080.
    pub fn listen_port(&self, args: &[String]) -> Result<u16, ConfigError> {
        match args.first() {
            Some(arg) => arg
                .parse()
                .map_err(|e| ConfigError::new("port argument", arg, format!("{e}"))),
            None => self.parse_or("PORT", DEFAULT_PORT),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn port_comes_from_argument_then_env_then_default() {
        let env = Env::from_pairs([("PORT", "9999")]);
        assert_eq!(env.listen_port(&["9081".into()]), Ok(9081));
        assert_eq!(env.listen_port(&[]), Ok(9999));
        assert_eq!(Env::default().listen_port(&[]), Ok(9080));
    }

    #[test]
    fn invalid_values_name_the_variable() {
        let env = Env::from_pairs([("PORT", "nine")]);
        let err = env.listen_port(&[]).unwrap_err();
        assert_eq!(err.variable, "PORT");
        assert!(err.to_string().contains("PORT=\"nine\""), "{err}");
        let err = Env::default().listen_port(&["x".into()]).unwrap_err();
        assert!(
            err.to_string().contains("invalid port argument=\"x\""),
            "{err}"
        );
    }

    #[test]
    fn backend_url_uses_upstream_defaults_and_domain() {
        assert_eq!(
            Env::default().backend_url("DETAILS", "details").unwrap(),
            "http://details:9080"
        );
        let env = Env::from_pairs([
            ("SERVICES_DOMAIN", "svc.cluster.local"),
            ("RATINGS_HOSTNAME", "r"),
            ("RATINGS_SERVICE_PORT", "1234"),
        ]);
        assert_eq!(
            env.backend_url("RATINGS", "ratings").unwrap(),
            "http://r.svc.cluster.local:1234"
        );
        let host = Env::from_pairs([("RATINGS_HOSTNAME", "a b")]);
        assert_eq!(
            host.backend_url("RATINGS", "ratings").unwrap_err().variable,
            "RATINGS_HOSTNAME"
        );
        let bad = Env::from_pairs([("RATINGS_SERVICE_PORT", "tcp://10.0.0.1:9080")]);
        assert_eq!(
            bad.backend_url("RATINGS", "ratings").unwrap_err().variable,
            "RATINGS_SERVICE_PORT"
        );
    }

    #[test]
    fn flags_accept_only_true() {
        let env = Env::from_pairs([("A", "TRUE"), ("B", "yes"), ("C", "")]);
        assert!(env.flag("A"));
        assert!(!env.flag("B"));
        assert!(!env.flag("C"));
        assert!(!env.flag("D"));
    }
}
