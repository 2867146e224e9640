//! Who called: the caller's identity as this service's sidecar verified it, read from what
//! arrived with the request.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use axum::{
    extract::ConnectInfo,
    http::{HeaderMap, request::Parts},
};

use super::xfcc;

/// The source address of connections from an Istio sidecar to its app: the inbound
/// clusters bind `127.0.0.6` (`InboundPassthroughBindIpv4`, since Istio 1.10), so that the
/// app's traffic is not mistaken for the pod's own. A request from anywhere else did not come
/// through a sidecar (no sidecar, ambient mode, or the sidecar's TPROXY interception mode,
/// which keeps the client's address), and its `x-forwarded-client-cert` is only a claim.
pub const SIDECAR_INBOUND_SOURCE: IpAddr = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 6));

/// The same on an IPv6-only pod: `::6` (`InboundPassthroughBindIpv6`).
pub const SIDECAR_INBOUND_SOURCE_V6: IpAddr = IpAddr::V6(Ipv6Addr::new(0, 0, 0, 0, 0, 0, 0, 6));

/// Whether a connection from `source` came from the pod's own sidecar. A dual-stack listener
/// (the services' own) reports an IPv4 peer as `::ffff:127.0.0.6`: compared canonically.
fn from_sidecar(source: IpAddr) -> bool {
    let source = source.to_canonical();
    source == SIDECAR_INBOUND_SOURCE || source == SIDECAR_INBOUND_SOURCE_V6
}

/// The connection's peer address the server put in `extensions`.
pub(crate) fn source_of(extensions: &axum::http::Extensions) -> Option<IpAddr> {
    extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(peer)| peer.ip())
}

/// Longest unverified header shown, in bytes: it is the caller's text, not ours.
const MAX_UNVERIFIED_BYTES: usize = 256;

/// The caller's identity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Peer {
    /// The SPIFFE URI of the client certificate this service's sidecar verified (the last
    /// `x-forwarded-client-cert` element, which the sidecar appended).
    Verified(String),
    /// No client certificate: plaintext, no sidecar, or ambient mode (ztunnel passes no
    /// `x-forwarded-client-cert`, istio/istio#54995).
    NoCertificate,
    /// An `x-forwarded-client-cert` that did not come through a sidecar, as arrived (printable
    /// ASCII only, at most 256 bytes): anyone may send one.
    Unverified(String),
}

/// What the request says about its hop.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Inbound {
    pub peer: Peer,
    /// `x-envoy-attempt-count` as received: which attempt of the caller's sidecar this is
    /// (Istio's outbound routes set it); `None` without a sidecar.
    pub envoy_attempt: Option<u32>,
}

impl Inbound {
    /// Reads a request's head: its headers, and its connection's peer from the server's
    /// `ConnectInfo`.
    pub fn read_parts(parts: &Parts) -> Self {
        Self::read(&parts.headers, source_of(&parts.extensions))
    }

    /// Reads `headers` of a request that arrived from `source` (its connection's peer).
    pub fn read(headers: &HeaderMap, source: Option<IpAddr>) -> Self {
        // Bytes outside ASCII are allowed in a field value: read them, do not drop the claim.
        let claims: Vec<String> = headers
            .get_all(xfcc::HEADER)
            .iter()
            .map(|value| String::from_utf8_lossy(value.as_bytes()).into_owned())
            .collect();
        let peer = if claims.is_empty() {
            Peer::NoCertificate
        } else if source.is_some_and(from_sidecar) {
            // Envoy removes a client's header on a connection without mTLS and appends its own
            // element on one with it: what arrives through the sidecar is the sidecar's.
            xfcc::last_uri(&claims.join(",")).map_or(Peer::NoCertificate, Peer::Verified)
        } else {
            Peer::Unverified(printable(&claims.join(","), MAX_UNVERIFIED_BYTES))
        };
        let envoy_attempt = headers
            .get("x-envoy-attempt-count")
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.trim().parse().ok());
        Self {
            peer,
            envoy_attempt,
        }
    }
}

/// `text` with every character outside printable ASCII as `?`, cut to `max` bytes (an RFC
/// 8941 string carries nothing else).
pub(crate) fn printable(text: &str, max: usize) -> String {
    text.chars()
        .map(|c| {
            if c == ' ' || c.is_ascii_graphic() {
                c
            } else {
                '?'
            }
        })
        .take(max)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(
                axum::http::HeaderName::from_bytes(name.as_bytes()).unwrap(),
                value.parse().unwrap(),
            );
        }
        map
    }

    const XFCC: &str = "By=spiffe://cluster.local/ns/istio-app/sa/bookinfo-details;URI=spiffe://cluster.local/ns/istio-app/sa/bookinfo-productpage";

    #[test]
    fn through_the_sidecar_the_identity_is_verified() {
        let inbound = Inbound::read(
            &headers(&[(xfcc::HEADER, XFCC), ("x-envoy-attempt-count", "2")]),
            Some(SIDECAR_INBOUND_SOURCE),
        );
        assert_eq!(
            inbound.peer,
            Peer::Verified("spiffe://cluster.local/ns/istio-app/sa/bookinfo-productpage".into())
        );
        assert_eq!(inbound.envoy_attempt, Some(2));
    }

    #[test]
    fn from_anywhere_else_it_is_a_claim() {
        let source = Some(IpAddr::V4(Ipv4Addr::LOCALHOST));
        let inbound = Inbound::read(&headers(&[(xfcc::HEADER, XFCC)]), source);
        assert_eq!(inbound.peer, Peer::Unverified(XFCC.into()));
        let forged = "URI=spiffe://x/\u{e9}<script>";
        let mut map = HeaderMap::new();
        map.insert(
            xfcc::HEADER,
            axum::http::HeaderValue::from_bytes(forged.as_bytes()).unwrap(),
        );
        match Inbound::read(&map, source).peer {
            Peer::Unverified(text) => assert!(text.is_ascii() && text.ends_with("<script>")),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn the_sidecar_is_recognised_through_a_dual_stack_listener() {
        let mapped: IpAddr = "::ffff:127.0.0.6".parse().unwrap();
        for source in [SIDECAR_INBOUND_SOURCE, SIDECAR_INBOUND_SOURCE_V6, mapped] {
            let inbound = Inbound::read(&headers(&[(xfcc::HEADER, XFCC)]), Some(source));
            assert!(matches!(inbound.peer, Peer::Verified(_)), "{source}");
        }
        let other: IpAddr = "::ffff:127.0.0.7".parse().unwrap();
        let inbound = Inbound::read(&headers(&[(xfcc::HEADER, XFCC)]), Some(other));
        assert!(matches!(inbound.peer, Peer::Unverified(_)));
    }

    #[test]
    fn without_a_header_there_is_no_certificate() {
        for source in [None, Some(SIDECAR_INBOUND_SOURCE)] {
            let inbound = Inbound::read(&HeaderMap::new(), source);
            assert_eq!(inbound.peer, Peer::NoCertificate);
            assert_eq!(inbound.envoy_attempt, None);
        }
    }

    #[test]
    fn long_claims_are_cut() {
        assert_eq!(printable(&"a".repeat(1000), 256).len(), 256);
        assert_eq!(printable("a\tb\u{1F600}", 10), "a?b?");
    }
}
