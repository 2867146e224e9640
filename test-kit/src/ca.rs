//! A certificate authority for tests, and the server certificates it signs.

use std::net::SocketAddr;

/// A certificate authority for tests, and the server certificates it signs.
pub struct TestCa {
    issuer: rcgen::CertifiedIssuer<'static, rcgen::KeyPair>,
}

impl TestCa {
    pub fn new() -> Self {
        let mut params =
            rcgen::CertificateParams::new(Vec::<String>::new()).expect("CA parameters");
        params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        params.distinguished_name = common_name("Bookinfo test CA");
        let key = rcgen::KeyPair::generate().expect("a CA key");
        Self {
            issuer: rcgen::CertifiedIssuer::self_signed(params, key).expect("a CA certificate"),
        }
    }

    /// The CA certificate written as PEM to a new file under `dir`, for `SSL_CERT_FILE`.
    pub fn write_pem(&self, dir: &std::path::Path) -> std::path::PathBuf {
        static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let path = dir.join(format!("test-ca-{}-{n}.pem", std::process::id()));
        std::fs::write(&path, self.issuer.pem()).expect("the CA file is written");
        path
    }

    /// A TLS server configuration for `names` (DNS names), signed by this CA, offering
    /// HTTP/2 and HTTP/1.1.
    pub fn server_config(&self, names: &[&str]) -> std::sync::Arc<rustls::ServerConfig> {
        use rustls::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};
        let key = rcgen::KeyPair::generate().expect("a server key");
        let names: Vec<String> = names.iter().map(|n| (*n).to_owned()).collect();
        let mut params = rcgen::CertificateParams::new(names).expect("server parameters");
        params.distinguished_name = common_name("Bookinfo test server");
        let certificate = params
            .signed_by(&key, &self.issuer)
            .expect("a server certificate");
        let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der()));
        let mut config = rustls::ServerConfig::builder_with_provider(std::sync::Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .expect("TLS versions")
        .with_no_client_auth()
        .with_single_cert(vec![certificate.der().clone()], key)
        .expect("a server configuration");
        config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        std::sync::Arc::new(config)
    }

    /// A workload certificate for the SPIFFE identity `spiffe` (its only name, a URI SAN, as
    /// Istio issues them), for TLS in both directions: (certificate PEM, private key PEM).
    pub fn workload_identity(&self, spiffe: &str) -> (String, String) {
        let key = rcgen::KeyPair::generate().expect("a workload key");
        let mut params =
            rcgen::CertificateParams::new(Vec::<String>::new()).expect("workload parameters");
        // Its own name: a subject equal to the CA's would read as self-signed.
        params.distinguished_name = common_name(spiffe);
        params.subject_alt_names = vec![rcgen::SanType::URI(
            spiffe.try_into().expect("a SPIFFE URI"),
        )];
        params.extended_key_usages = vec![
            rcgen::ExtendedKeyUsagePurpose::ServerAuth,
            rcgen::ExtendedKeyUsagePurpose::ClientAuth,
        ];
        let certificate = params
            .signed_by(&key, &self.issuer)
            .expect("a workload certificate");
        (certificate.pem(), key.serialize_pem())
    }

    /// The CA certificate, PEM.
    pub fn pem(&self) -> String {
        self.issuer.pem()
    }

    /// A TLS front for `localhost` on 127.0.0.1 that passes every connection, decrypted, to
    /// `backend`: an HTTPS or gRPC-over-TLS server in front of a plain test server. Returns
    /// its port.
    pub async fn tls_front(&self, backend: SocketAddr) -> std::io::Result<u16> {
        let acceptor = tokio_rustls::TlsAcceptor::from(self.server_config(&["localhost"]));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let port = listener.local_addr()?.port();
        tokio::spawn(async move {
            while let Ok((tcp, _)) = listener.accept().await {
                let acceptor = acceptor.clone();
                tokio::spawn(async move {
                    let Ok(mut tls) = acceptor.accept(tcp).await else {
                        return;
                    };
                    if let Ok(mut plain) = tokio::net::TcpStream::connect(backend).await {
                        let _ = tokio::io::copy_bidirectional(&mut tls, &mut plain).await;
                    }
                });
            }
        });
        Ok(port)
    }
}

fn common_name(name: &str) -> rcgen::DistinguishedName {
    let mut distinguished = rcgen::DistinguishedName::new();
    distinguished.push(rcgen::DnType::CommonName, name);
    distinguished
}

impl Default for TestCa {
    fn default() -> Self {
        Self::new()
    }
}
