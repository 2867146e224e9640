//! The `Host` field of HTTP/1.x requests (RFC 9112 §3.2): an HTTP/1.1 request carries exactly
//! one, and its value must be `uri-host [ ":" port ]` (RFC 3986 §3.2.2) or empty; anything else
//! is answered 400. With an absolute-form target the target's authority wins and `Host` is
//! ignored (§3.2.2). HTTP/2 carries `:authority`, which hyper has already checked.

use axum::http::{Request, Version, header};

/// Why the request's `Host` is refused, or `None` when it is acceptable.
pub fn problem<B>(request: &Request<B>) -> Option<&'static str> {
    let version = request.version();
    if version != Version::HTTP_11 && version != Version::HTTP_10 {
        return None;
    }
    if request.uri().authority().is_some() {
        return None;
    }
    let hosts = request.headers().get_all(header::HOST);
    match hosts.iter().count() {
        0 if version == Version::HTTP_11 => Some("an HTTP/1.1 request needs a Host header"),
        2.. if version == Version::HTTP_11 => {
            Some("an HTTP/1.1 request carries one Host header, not several")
        }
        _ if hosts.iter().any(|value| !valid_host(value.as_bytes())) => {
            Some("the Host header is not a host with an optional port")
        }
        _ => None,
    }
}

/// `uri-host [ ":" port ]`, or empty (RFC 9112 §3.2 allows an empty Host).
fn valid_host(value: &[u8]) -> bool {
    let (host, port) = match value.strip_prefix(b"[") {
        Some(rest) => match rest.iter().position(|&b| b == b']') {
            Some(end) => (&value[..end + 2], &rest[end + 1..]),
            None => return false,
        },
        None => match value.iter().rposition(|&b| b == b':') {
            Some(colon) => (&value[..colon], &value[colon..]),
            None => (value, &b""[..]),
        },
    };
    let port_ok = match port {
        [] => true,
        [b':', digits @ ..] => digits.iter().all(u8::is_ascii_digit),
        _ => false,
    };
    port_ok && (ip_literal(host) || reg_name(host))
}

/// `"[" ( IPv6address / IPvFuture ) "]"`.
fn ip_literal(host: &[u8]) -> bool {
    let [b'[', inner @ .., b']'] = host else {
        return false;
    };
    match inner {
        // IPvFuture: "v" 1*HEXDIG "." 1*( unreserved / sub-delims / ":" )
        [b'v' | b'V', rest @ ..] => match rest.iter().position(|&b| b == b'.') {
            Some(dot) if dot > 0 => {
                rest[..dot].iter().all(u8::is_ascii_hexdigit)
                    && rest.len() > dot + 1
                    && rest[dot + 1..]
                        .iter()
                        .all(|&b| b == b':' || unreserved_or_sub_delim(b))
            }
            _ => false,
        },
        _ => {
            std::str::from_utf8(inner).is_ok_and(|text| text.parse::<std::net::Ipv6Addr>().is_ok())
        }
    }
}

/// `reg-name` (which also covers IPv4 addresses): unreserved, %-escapes and sub-delims.
fn reg_name(host: &[u8]) -> bool {
    let mut rest = host;
    while let [first, tail @ ..] = rest {
        rest = match (first, tail) {
            (b'%', [high, low, after @ ..])
                if high.is_ascii_hexdigit() && low.is_ascii_hexdigit() =>
            {
                after
            }
            (&b, after) if unreserved_or_sub_delim(b) => after,
            _ => return false,
        };
    }
    true
}

fn unreserved_or_sub_delim(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"-._~!$&'()*+,;=".contains(&b)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused(version: Version, uri: &str, hosts: &[&[u8]]) -> bool {
        let mut builder = Request::get(uri).version(version);
        for host in hosts {
            builder = builder.header(header::HOST, *host);
        }
        problem(&builder.body(()).expect("a request")).is_some()
    }

    #[test]
    fn http11_needs_exactly_one_host() {
        assert!(!refused(Version::HTTP_11, "/", &[b"x"]));
        assert!(refused(Version::HTTP_11, "/", &[]));
        assert!(refused(Version::HTTP_11, "/", &[b"x", b"y"]));
        assert!(!refused(Version::HTTP_10, "/", &[]));
        assert!(!refused(Version::HTTP_2, "/", &[]));
    }

    #[test]
    fn a_host_value_is_a_host_and_an_optional_port() {
        for bad in [
            &b"a b"[..],
            b"::::",
            b"user@evil:80",
            b"x:80a",
            b"[::1",
            b"%zz",
            b"a/b",
            b"[zz]",
            b"[v1.]",
        ] {
            assert!(refused(Version::HTTP_11, "/", &[bad]), "{bad:?}");
            assert!(refused(Version::HTTP_10, "/", &[bad]), "{bad:?}");
        }
        for good in [
            &b""[..],
            b"productpage",
            b"productpage:9080",
            b"host:",
            b"127.0.0.1:80",
            b"[::1]",
            b"[::1]:9080",
            b"[v1.fe]",
            b"my_host.local",
            b"caf%C3%A9.example",
        ] {
            assert!(!refused(Version::HTTP_11, "/", &[good]), "{good:?}");
        }
    }

    #[test]
    fn every_host_value_of_an_http10_request_is_checked() {
        assert!(refused(Version::HTTP_10, "/", &[b"good", b"a b"]));
        assert!(!refused(Version::HTTP_10, "/", &[b"good", b"also-good"]));
    }

    #[test]
    fn an_absolute_target_makes_host_irrelevant() {
        assert!(!refused(
            Version::HTTP_11,
            "http://details:9080/details/0",
            &[b"a b"]
        ));
        assert!(!refused(
            Version::HTTP_11,
            "http://details:9080/details/0",
            &[]
        ));
    }
}
