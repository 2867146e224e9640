//! The one TLS client configuration of a process: rustls with the ring provider, trusting the
//! system's CA certificates. Every TLS user takes it from here (outbound service calls, and
//! the OTLP exporters).

use std::sync::{Arc, OnceLock};

use hyper_rustls::{HttpsConnector, HttpsConnectorBuilder};
use hyper_util::client::legacy::connect::HttpConnector;
use rustls::{ClientConfig, RootCertStore, crypto::ring};

/// Why the TLS client configuration could not be built.
pub use rustls::Error as TlsError;

/// The shared client configuration, built on first use. Roots come from rustls-native-certs,
/// which honours `SSL_CERT_FILE` and `SSL_CERT_DIR` before the platform's store; certificates
/// it cannot read are logged and skipped, so a broken store means failed handshakes, not a
/// service that will not start.
///
/// # Errors
/// Only if the ring provider lacked every safe protocol version, which it does not.
pub fn client_config() -> Result<Arc<ClientConfig>, TlsError> {
    static CONFIG: OnceLock<Result<Arc<ClientConfig>, TlsError>> = OnceLock::new();
    CONFIG.get_or_init(|| build().map(Arc::new)).clone()
}

/// Debian's bundle of the system's CA certificates, as `update-ca-certificates` writes it (and
/// as the images carry it).
pub const SYSTEM_CA_FILE: &str = "/etc/ssl/certs/ca-certificates.crt";

/// The one PEM file of trusted CA certificates, for a client that takes a file rather than a
/// rustls configuration (the MongoDB driver's `tlsCAFile`): `SSL_CERT_FILE` when set and not
/// empty, as for [`client_config`], else [`SYSTEM_CA_FILE`]. `SSL_CERT_DIR` has no such form.
pub fn ca_file() -> std::path::PathBuf {
    std::env::var_os("SSL_CERT_FILE")
        .filter(|path| !path.is_empty())
        .map_or_else(|| SYSTEM_CA_FILE.into(), Into::into)
}

/// A configuration that trusts no certificate authority, for clients that only call plain
/// HTTP: the same stack, with no certificate store to read.
///
/// # Errors
/// As [`client_config`].
pub fn no_roots() -> Result<Arc<ClientConfig>, TlsError> {
    static CONFIG: OnceLock<Result<Arc<ClientConfig>, TlsError>> = OnceLock::new();
    CONFIG
        .get_or_init(|| with_roots(RootCertStore::empty()).map(Arc::new))
        .clone()
}

fn with_roots(roots: RootCertStore) -> Result<ClientConfig, TlsError> {
    Ok(
        ClientConfig::builder_with_provider(Arc::new(ring::default_provider()))
            .with_safe_default_protocol_versions()?
            .with_root_certificates(roots)
            .with_no_client_auth(),
    )
}

fn build() -> Result<ClientConfig, TlsError> {
    let loaded = rustls_native_certs::load_native_certs();
    for err in &loaded.errors {
        tracing::warn!(%err, "a CA certificate could not be loaded");
    }
    let mut roots = RootCertStore::empty();
    let (added, ignored) = roots.add_parsable_certificates(loaded.certs);
    if ignored > 0 {
        tracing::warn!(ignored, "CA certificates that did not parse were ignored");
    }
    tracing::debug!(added, "CA certificates loaded");
    with_roots(roots)
}

/// The TCP and TLS connector of every outbound client: HTTP/1.1 to `http://` and `https://`
/// URLs, or, for gRPC, HTTPS only with HTTP/2.
pub fn connector(config: Arc<ClientConfig>, grpc: bool) -> HttpsConnector<HttpConnector> {
    let mut http = HttpConnector::new();
    http.set_nodelay(true);
    // The TLS layer decides by scheme; the TCP layer must let https URLs through.
    http.enforce_http(false);
    let builder = HttpsConnectorBuilder::new().with_tls_config((*config).clone());
    if grpc {
        builder.https_only().enable_http2().wrap_connector(http)
    } else {
        builder.https_or_http().enable_http1().wrap_connector(http)
    }
}
