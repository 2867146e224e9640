//! Where a downstream service lives: the `*_HOSTNAME` lists, `*_SERVICE_PORT` and
//! `SERVICES_DOMAIN` of the original services, parsed once into endpoints that calls only
//! append a path to.

use std::{
    fmt,
    net::{Ipv4Addr, Ipv6Addr},
    str::FromStr,
    sync::atomic::{AtomicUsize, Ordering},
};

use http::{
    Uri,
    uri::{Authority, PathAndQuery, Scheme},
};

use crate::config::ConfigError;

/// One entry of a `*_HOSTNAME` value: a DNS name or an IP literal, and maybe a port.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostEntry {
    /// As it goes into a URI: IPv6 literals keep their brackets.
    host: String,
    ip_literal: bool,
    port: Option<u16>,
}

/// The authority's port, checked: http's parser leaves it unchecked, and it must be a number
/// from 1 to 65535. Also refuses a missing host, user information, and a bracketed host that
/// is not an IPv6 address.
fn checked_port(authority: &Authority) -> Result<Option<u16>, String> {
    let host = authority.host();
    if host.is_empty() {
        return Err("no host".to_owned());
    }
    if authority.as_str().contains('@') {
        return Err("an address carries no user information".to_owned());
    }
    if let Some(inner) = host.strip_prefix('[').and_then(|h| h.strip_suffix(']'))
        && inner.parse::<Ipv6Addr>().is_err()
    {
        return Err(format!("{host} is not an IPv6 address"));
    }
    match authority.as_str().get(host.len()..).unwrap_or_default() {
        "" => Ok(None),
        rest => match rest.trim_start_matches(':').parse::<u16>() {
            Ok(0) => Err("port 0 is not a port to call".to_owned()),
            Ok(port) => Ok(Some(port)),
            Err(err) => Err(format!("port: {err}")),
        },
    }
}

/// A `*_HOSTNAME` value: one host, or several separated by commas (used round robin), each
/// `host`, `host:port`, `[v6]`, `[v6]:port`, or a bare IPv6 address. Never empty.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostList(Vec<HostEntry>);

impl FromStr for HostEntry {
    type Err = String;

    fn from_str(entry: &str) -> Result<Self, String> {
        // A bare IPv6 address has colons a URI authority would read as a port.
        if let Ok(ip) = entry.parse::<Ipv6Addr>() {
            return Ok(Self {
                host: format!("[{ip}]"),
                ip_literal: true,
                port: None,
            });
        }
        let invalid = |why: &str| format!("{entry}: {why}");
        let authority: Authority = entry.parse().map_err(|e| invalid(&format!("{e}")))?;
        let host = authority.host();
        let port = checked_port(&authority).map_err(|why| invalid(&why))?;
        let ip_literal = host.starts_with('[') || host.parse::<Ipv4Addr>().is_ok();
        Ok(Self {
            host: host.to_owned(),
            ip_literal,
            port,
        })
    }
}

impl FromStr for HostList {
    type Err = String;

    fn from_str(list: &str) -> Result<Self, String> {
        let entries = list
            .split(',')
            .map(str::trim)
            .filter(|entry| !entry.is_empty())
            .map(HostEntry::from_str)
            .collect::<Result<Vec<_>, _>>()?;
        if entries.is_empty() {
            return Err("no host given".to_owned());
        }
        Ok(Self(entries))
    }
}

impl HostList {
    /// The endpoints to call: `http://{host}[.{domain}]:{port}`. A port inside an entry wins
    /// over `default_port`; `domain` (`SERVICES_DOMAIN`) is never appended to an IP literal.
    /// `variable` names the setting in the error, raised when the domain makes a name invalid.
    pub fn endpoints(
        &self,
        variable: &'static str,
        domain: Option<&str>,
        default_port: u16,
    ) -> Result<Endpoints, ConfigError> {
        let endpoints = self
            .0
            .iter()
            .map(|entry| {
                // A name ending in a dot is absolute, as in DNS: no suffix is added.
                let host = match domain {
                    Some(domain) if !entry.ip_literal && !entry.host.ends_with('.') => {
                        format!("{}.{domain}", entry.host)
                    }
                    _ => entry.host.clone(),
                };
                let port = entry.port.unwrap_or(default_port);
                Endpoint::new(Scheme::HTTP, &format!("{host}:{port}"))
                    .map_err(|why| ConfigError::new(variable, &entry.host, why))
            })
            .collect::<Result<Vec<_>, _>>()?;
        Endpoints::new(endpoints).ok_or_else(|| ConfigError::new(variable, "", "no host given"))
    }
}

/// A base address (scheme and authority), parsed once; a call only adds its path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    scheme: Scheme,
    authority: Authority,
}

impl Endpoint {
    fn new(scheme: Scheme, authority: &str) -> Result<Self, String> {
        let authority = authority.parse().map_err(|e| format!("{authority}: {e}"))?;
        Ok(Self { scheme, authority })
    }

    /// This endpoint with `path_and_query` appended. Fails only for characters a URI cannot
    /// hold; callers percent-encode what they paste in.
    pub fn url(&self, path_and_query: &str) -> Result<Uri, http::Error> {
        let path_and_query: PathAndQuery = path_and_query.parse()?;
        Uri::builder()
            .scheme(self.scheme.clone())
            .authority(self.authority.clone())
            .path_and_query(path_and_query)
            .build()
    }

    pub fn is_https(&self) -> bool {
        self.scheme == Scheme::HTTPS
    }
}

/// `http://host:port` or `https://host[:port]`, with no path: the form of `BOOK_SERVICE_URL`.
impl FromStr for Endpoint {
    type Err = String;

    fn from_str(base: &str) -> Result<Self, String> {
        let uri: Uri = base.parse().map_err(|e| format!("{base}: {e}"))?;
        let expected = || format!("{base}: expected http://host[:port] or https://host[:port]");
        let scheme = uri.scheme().cloned().ok_or_else(expected)?;
        if scheme != Scheme::HTTP && scheme != Scheme::HTTPS {
            return Err(expected());
        }
        let authority = uri.authority().cloned().ok_or_else(expected)?;
        checked_port(&authority).map_err(|why| format!("{base}: {why}"))?;
        if !matches!(uri.path(), "" | "/") || uri.query().is_some() {
            return Err(format!("{base}: a base address has no path or query"));
        }
        Ok(Self { scheme, authority })
    }
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}://{}", self.scheme, self.authority)
    }
}

/// One or more endpoints of the same service, taken in turn.
#[derive(Debug)]
pub struct Endpoints {
    list: Vec<Endpoint>,
    next: AtomicUsize,
}

impl Endpoints {
    /// `None` for an empty list: a downstream always has somewhere to go.
    pub fn new(list: Vec<Endpoint>) -> Option<Self> {
        (!list.is_empty()).then(|| Self {
            list,
            next: AtomicUsize::new(0),
        })
    }

    pub fn single(endpoint: Endpoint) -> Self {
        Self {
            list: vec![endpoint],
            next: AtomicUsize::new(0),
        }
    }

    /// The next endpoint, round robin.
    pub fn pick(&self) -> &Endpoint {
        let turn = self.next.fetch_add(1, Ordering::Relaxed);
        &self.list[turn % self.list.len()]
    }

    pub fn iter(&self) -> impl Iterator<Item = &Endpoint> {
        self.list.iter()
    }
}

impl Clone for Endpoints {
    fn clone(&self) -> Self {
        Self {
            list: self.list.clone(),
            next: AtomicUsize::new(0),
        }
    }
}

impl PartialEq for Endpoints {
    fn eq(&self, other: &Self) -> bool {
        self.list == other.list
    }
}

/// `SERVICES_DOMAIN`: a DNS suffix such as `svc.cluster.local`.
pub fn services_domain(value: &str) -> Result<String, String> {
    let domain = value.trim().trim_matches('.');
    let label_ok = |label: &str| {
        !label.is_empty()
            && label.len() <= 63
            && label
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-')
    };
    if domain.split('.').all(label_ok) {
        Ok(domain.to_owned())
    } else {
        Err(format!(
            "{value}: expected a DNS suffix such as svc.cluster.local"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn urls(list: &str, domain: Option<&str>, port: u16) -> Result<Vec<String>, String> {
        let hosts: HostList = list.parse()?;
        let endpoints = hosts
            .endpoints("X_HOSTNAME", domain, port)
            .map_err(|e| e.to_string())?;
        Ok(endpoints.iter().map(ToString::to_string).collect())
    }

    #[test]
    fn every_host_form_is_understood() {
        for (list, expected) in [
            ("details", vec!["http://details:9080"]),
            ("details:1234", vec!["http://details:1234"]),
            ("[::1]", vec!["http://[::1]:9080"]),
            ("::1", vec!["http://[::1]:9080"]),
            ("[fd00::5]:9081", vec!["http://[fd00::5]:9081"]),
            ("10.0.0.7", vec!["http://10.0.0.7:9080"]),
            (
                "a:1, b ,[::1]:3",
                vec!["http://a:1", "http://b:9080", "http://[::1]:3"],
            ),
        ] {
            assert_eq!(urls(list, None, 9080).unwrap(), expected, "{list}");
        }
    }

    #[test]
    fn absolute_names_keep_their_dot_and_get_no_suffix() {
        assert_eq!(
            urls("details.", Some("svc"), 9080).unwrap(),
            ["http://details.:9080"]
        );
    }

    #[test]
    fn the_domain_is_never_appended_to_ip_literals() {
        assert_eq!(
            urls(
                "ratings,[fd00::5],10.1.2.3:7",
                Some("svc.cluster.local"),
                9080
            )
            .unwrap(),
            [
                "http://ratings.svc.cluster.local:9080",
                "http://[fd00::5]:9080",
                "http://10.1.2.3:7"
            ]
        );
    }

    #[test]
    fn empty_or_malformed_lists_are_refused() {
        for bad in [
            ",", "", " , ", "a b", "a:x", "a:", "user@a", "[::1", "a:99999",
        ] {
            assert!(bad.parse::<HostList>().is_err(), "{bad:?} was accepted");
        }
    }

    #[test]
    fn round_robin_takes_each_endpoint_in_turn() {
        let endpoints = "a,b,c"
            .parse::<HostList>()
            .unwrap()
            .endpoints("X_HOSTNAME", None, 1)
            .unwrap();
        let picked: Vec<String> = (0..4).map(|_| endpoints.pick().to_string()).collect();
        assert_eq!(
            picked,
            ["http://a:1", "http://b:1", "http://c:1", "http://a:1"]
        );
    }

    #[test]
    fn base_addresses_have_a_scheme_and_no_path() {
        assert_eq!(
            "https://www.googleapis.com"
                .parse::<Endpoint>()
                .unwrap()
                .url("/books/v1/volumes?q=isbn:1")
                .unwrap()
                .to_string(),
            "https://www.googleapis.com/books/v1/volumes?q=isbn:1"
        );
        for bad in [
            "www.googleapis.com",
            "ftp://x",
            "http://x/path",
            "http://x/?q",
        ] {
            assert!(bad.parse::<Endpoint>().is_err(), "{bad}");
        }
    }

    #[test]
    fn domains_are_dns_suffixes() {
        assert_eq!(
            services_domain("svc.cluster.local").unwrap(),
            "svc.cluster.local"
        );
        assert!(services_domain("a b").is_err());
        assert!(services_domain("a..b").is_err());
    }
}
