//! Test support (feature `testing`): a stub backend that records what arrives and answers
//! what it is told, and a port on which nothing listens.

use std::{
    io::{BufRead, BufReader, Lines},
    net::SocketAddr,
    process::{Child, ChildStdout, Command, Stdio},
    sync::{
        Arc, Mutex,
        atomic::{AtomicUsize, Ordering},
    },
    time::Duration,
};

use axum::{
    Router,
    extract::{ConnectInfo, Request, State},
    http::{HeaderMap, Method, StatusCode, header},
    response::{IntoResponse, Response},
};

use crate::RunningServer;

/// One request the stub received.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub method: Method,
    /// Path and query.
    pub uri: String,
    pub headers: HeaderMap,
    /// The client's address: a new port means a new connection.
    pub peer: SocketAddr,
}

/// What the stub answers.
#[derive(Debug, Clone)]
pub struct Answer {
    pub status: StatusCode,
    pub body: String,
    /// Wait this long before answering (a slow or hanging backend).
    pub delay: Duration,
}

impl Answer {
    pub fn json(status: u16, body: &str) -> Self {
        Self {
            status: StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            body: body.to_owned(),
            delay: Duration::ZERO,
        }
    }

    pub fn delayed(mut self, delay: Duration) -> Self {
        self.delay = delay;
        self
    }
}

struct StubState {
    answer: Mutex<Answer>,
    log: Mutex<Vec<Recorded>>,
    in_progress: AtomicUsize,
    most_in_progress: AtomicUsize,
}

/// A recording HTTP backend on 127.0.0.1.
pub struct Stub {
    server: RunningServer,
    state: Arc<StubState>,
}

impl Stub {
    pub async fn start(answer: Answer) -> std::io::Result<Self> {
        let state = Arc::new(StubState {
            answer: Mutex::new(answer),
            log: Mutex::new(Vec::new()),
            in_progress: AtomicUsize::new(0),
            most_in_progress: AtomicUsize::new(0),
        });
        let app = Router::new().fallback(respond).with_state(state.clone());
        Ok(Self {
            server: RunningServer::start_local(app).await?,
            state,
        })
    }

    pub fn url(&self) -> String {
        self.server.url()
    }

    pub fn port(&self) -> u16 {
        self.server.addr().port()
    }

    pub fn set_answer(&self, answer: Answer) {
        *self.state.answer.lock().unwrap_or_else(|p| p.into_inner()) = answer;
    }

    pub fn requests(&self) -> Vec<Recorded> {
        self.state
            .log
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// The most requests the stub has been answering at once.
    pub fn most_in_progress(&self) -> usize {
        self.state.most_in_progress.load(Ordering::SeqCst)
    }

    pub async fn stop(self) -> std::io::Result<()> {
        self.server.stop().await
    }
}

async fn respond(
    State(state): State<Arc<StubState>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    request: Request,
) -> Response {
    let recorded = Recorded {
        peer,
        method: request.method().clone(),
        uri: request.uri().to_string(),
        headers: request.headers().clone(),
    };
    state
        .log
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .push(recorded);
    let answer = state
        .answer
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .clone();
    let now = state.in_progress.fetch_add(1, Ordering::SeqCst) + 1;
    state.most_in_progress.fetch_max(now, Ordering::SeqCst);
    if !answer.delay.is_zero() {
        tokio::time::sleep(answer.delay).await;
    }
    state.in_progress.fetch_sub(1, Ordering::SeqCst);
    (
        answer.status,
        [(header::CONTENT_TYPE, "application/json")],
        answer.body,
    )
        .into_response()
}

/// A plain HTTP client for tests: no proxy, no redirects followed, so tests see a 302.
pub fn http_client() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap_or_else(|_| reqwest::Client::new())
}

/// What a test request got back.
#[derive(Debug)]
pub struct Fetched {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub body: String,
}

impl Fetched {
    /// The `Content-Type`, or "" without one.
    pub fn content_type(&self) -> &str {
        self.headers
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    }

    /// (status, content type, body).
    pub fn parts(self) -> (u16, String, String) {
        (self.status, self.content_type().to_owned(), self.body)
    }

    /// (status, body).
    pub fn status_and_body(self) -> (u16, String) {
        (self.status, self.body)
    }

    /// The body as JSON; panics (failing the test) when it is not.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body)
            .unwrap_or_else(|err| panic!("not JSON ({err}): {}", self.body))
    }
}

/// Sends `request` and reads the whole answer; panics (failing the test) when there is none.
pub async fn fetch(request: reqwest::RequestBuilder) -> Fetched {
    let response = request.send().await.expect("request is answered");
    Fetched {
        status: response.status().as_u16(),
        headers: response.headers().clone(),
        body: response.text().await.expect("body reads"),
    }
}

/// `GET url` with [`http_client`].
pub async fn get(url: impl AsRef<str>) -> Fetched {
    fetch(http_client().get(url.as_ref())).await
}

/// `POST url` with `body`.
pub async fn post(url: impl AsRef<str>, body: &'static str) -> Fetched {
    fetch(http_client().post(url.as_ref()).body(body)).await
}

/// `GET url`, which must answer `application/json`: (status, the parsed body).
pub async fn get_json(url: impl AsRef<str>) -> (u16, serde_json::Value) {
    let fetched = get(url).await;
    assert_eq!(fetched.content_type(), "application/json", "{fetched:?}");
    (fetched.status, fetched.json())
}

/// Serves `app` on 127.0.0.1:0; panics (failing the test) when it cannot.
pub async fn serve(app: impl Into<crate::App>) -> RunningServer {
    RunningServer::start_local(app)
        .await
        .expect("the service starts on 127.0.0.1:0")
}

/// A local port that refuses connections: bound, then released.
pub async fn closed_port() -> std::io::Result<u16> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    Ok(listener.local_addr()?.port())
}

/// A service binary started on port 0, its stdout read line by line (the log).
pub struct SpawnedBinary {
    pub child: Child,
    pub port: u16,
    lines: Lines<BufReader<ChildStdout>>,
}

impl SpawnedBinary {
    /// Starts `path 0` with `envs` and waits for its "listening on" line (text or JSON log).
    pub fn start(path: &str, envs: &[(&str, &str)]) -> std::io::Result<Self> {
        let mut command = Command::new(path);
        command.arg("0");
        Self::spawn(command, envs)
    }

    /// [`SpawnedBinary::start`] under an open-file limit of `limit` (soft and hard), set by
    /// the shell's `ulimit` before it runs the binary.
    pub fn start_with_open_file_limit(
        path: &str,
        limit: u32,
        envs: &[(&str, &str)],
    ) -> std::io::Result<Self> {
        let mut command = Command::new("sh");
        command.args([
            "-c",
            r#"ulimit -n "$1" && exec "$0" 0"#,
            path,
            &limit.to_string(),
        ]);
        Self::spawn(command, envs)
    }

    fn spawn(mut command: Command, envs: &[(&str, &str)]) -> std::io::Result<Self> {
        // Only the given variables: the services read many, and a developer's shell must not
        // change what a test sees.
        let mut child = command
            .env_clear()
            .envs(envs.iter().copied())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()?;
        let stdout = child
            .stdout
            .take()
            .ok_or_else(|| std::io::Error::other("no stdout"))?;
        let mut spawned = Self {
            child,
            port: 0,
            lines: BufReader::new(stdout).lines(),
        };
        let line = spawned
            .wait_for("listening on ")
            .ok_or_else(|| std::io::Error::other("the service never said where it listens"))?;
        let address = line
            .split("listening on ")
            .nth(1)
            .and_then(|rest| rest.split(|c: char| c.is_whitespace() || c == '"').next());
        spawned.port = address
            .and_then(|a| a.rsplit(':').next()?.parse().ok())
            .ok_or_else(|| std::io::Error::other(format!("no port in {line:?}")))?;
        Ok(spawned)
    }

    /// Sends SIGTERM, as Kubernetes does to stop a pod (by the shell's `kill`: no `unsafe`).
    pub fn terminate(&self) -> std::io::Result<()> {
        let status = Command::new("sh")
            .args(["-c", r#"kill -TERM "$0""#, &self.child.id().to_string()])
            .status()?;
        if status.success() {
            Ok(())
        } else {
            Err(std::io::Error::other(format!(
                "kill -TERM failed: {status}"
            )))
        }
    }

    /// Waits at most `within` for the process to exit; its status, or `None` if it is still
    /// running.
    pub fn wait_exit(&mut self, within: Duration) -> Option<std::process::ExitStatus> {
        let started = std::time::Instant::now();
        loop {
            match self.child.try_wait() {
                Ok(Some(status)) => return Some(status),
                Ok(None) if started.elapsed() < within => {
                    std::thread::sleep(Duration::from_millis(20));
                }
                _ => return None,
            }
        }
    }

    /// The next log line containing `needle`; `None` once the output ends.
    pub fn wait_for(&mut self, needle: &str) -> Option<String> {
        self.lines
            .by_ref()
            .map_while(Result::ok)
            .find(|line| line.contains(needle))
    }
}

impl Drop for SpawnedBinary {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A service's settings parsed from `flags` alone, as its binary would parse them (the
/// process environment still applies, as it does to the binary).
pub fn parse_flags<A: clap::Args>(flags: &[&str]) -> Result<A, clap::Error> {
    #[derive(clap::Parser)]
    struct Cli<A: clap::Args> {
        #[command(flatten)]
        args: A,
    }
    let argv = std::iter::once("service").chain(flags.iter().copied());
    <Cli<A> as clap::Parser>::try_parse_from(argv).map(|cli| cli.args)
}

/// Runs a service binary with `args` and only the variables `envs`.
pub fn run_binary(path: &str, args: &[&str], envs: &[(&str, &str)]) -> std::process::Output {
    Command::new(path)
        .args(args)
        .env_clear()
        .envs(envs.iter().copied())
        .output()
        .unwrap_or_else(|err| panic!("cannot run {path}: {err}"))
}

/// Checks a service binary's command line as a user meets it: `--help` lists every variable
/// in `variables` (and PORT), `--version` names the binary, a bad value in `bad_env` stops
/// start-up with exit 2 and a message naming the variable, and `healthcheck` exits 0 for the
/// running service and 1 once it has stopped.
pub fn assert_command_line(path: &str, variables: &[&str], bad_env: (&str, &str)) {
    let help = run_binary(path, &["--help"], &[]);
    assert!(help.status.success(), "--help failed: {help:?}");
    let text = String::from_utf8_lossy(&help.stdout);
    for variable in std::iter::once(&"PORT").chain(variables) {
        // A secret's variable shows without its value: `[env: SESSION_SECRET]`.
        assert!(
            text.contains(&format!("[env: {variable}="))
                || text.contains(&format!("[env: {variable}]")),
            "--help does not list {variable}:\n{text}"
        );
    }
    assert!(text.contains("[default: 9080]"), "{text}");
    let version = run_binary(path, &["--version"], &[]);
    assert!(version.status.success());
    let name = std::path::Path::new(path)
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or_default();
    assert_eq!(
        String::from_utf8_lossy(&version.stdout).trim(),
        format!("{name} {}", env!("CARGO_PKG_VERSION"))
    );
    let refused = run_binary(path, &["0"], &[bad_env]);
    assert_eq!(refused.status.code(), Some(2), "{refused:?}");
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(
        stderr.contains(bad_env.0),
        "the error does not name {}: {stderr}",
        bad_env.0
    );
    // `healthcheck`: 0 for a running service (its PORT or the argument), 1 for none.
    let running = SpawnedBinary::start(path, &[]).expect("the service starts");
    let port = running.port.to_string();
    for (args, envs) in [
        (vec!["healthcheck"], vec![("PORT", port.as_str())]),
        (vec!["healthcheck", port.as_str()], vec![]),
    ] {
        let check = run_binary(path, &args, &envs);
        assert_eq!(check.status.code(), Some(0), "{args:?} {envs:?}: {check:?}");
    }
    drop(running);
    let down = run_binary(path, &["healthcheck", &port], &[]);
    assert_eq!(down.status.code(), Some(1), "{down:?}");
    assert!(String::from_utf8_lossy(&down.stderr).contains("healthcheck"));
}

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

/// A test's outside tool (Envoy, Chromium, Docker, MariaDB): `found`, or `None` after printing
/// `SKIPPED <test>: <why>` (see [`report_skip`]); a panic instead when `require_variable` is
/// `1`, as CI sets it after installing the tool.
pub fn tool_or_skip<T>(test: &str, require_variable: &str, found: Result<T, String>) -> Option<T> {
    match found {
        Ok(tool) => Some(tool),
        Err(why) if std::env::var(require_variable).is_ok_and(|v| v == "1") => {
            panic!("{require_variable}=1 but {why}")
        }
        Err(why) => {
            report_skip(test, &why);
            None
        }
    }
}

/// Prints `SKIPPED <test>: <why>` on the process's real stderr: libtest captures `println!`
/// and `eprintln!` of a passing test, so `cargo test` would show a skipped test as passed
/// with no word of why.
pub fn report_skip(test: &str, why: &str) {
    use std::io::Write;
    let _ = writeln!(std::io::stderr().lock(), "SKIPPED {test}: {why}");
}
