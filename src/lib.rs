//! The whole Bookinfo application in one process: details, ratings, reviews v1, v2 and v3, and
//! productpage spreading its reviews calls over the three versions in turn.

use std::io;

use productpage::PageArgs;
use service_runtime::{
    Endpoint, Endpoints, RunningServer, TelemetryArgs, serve::bind_dual_stack, tls::TlsError,
};
use tokio::net::TcpListener;

/// How `cargo run` lays the application out.
#[derive(Debug, Clone, Default)]
pub struct LaunchOptions {
    /// productpage's port; the other services take the next free ports after it. `0` binds
    /// every service to an ephemeral port on 127.0.0.1 (tests).
    pub port: u16,
    /// Span export, for every service; each reports under its own `service.name`.
    pub telemetry: TelemetryArgs,
    /// productpage's own settings (pooling, flood factor, session key).
    pub page: PageArgs,
    /// ratings' version (v1 by default; v2 reads a database). Its tracing is set here.
    pub ratings: ratings::Config,
}

/// Why the application could not start.
#[derive(Debug, thiserror::Error)]
pub enum LaunchError {
    #[error("cannot listen on port {0}: {1} (choose another with --port or BOOKINFO_PORT)")]
    Bind(u16, #[source] io::Error),
    #[error("no free port from {0} on")]
    NoFreePort(u16),
    #[error("{0}")]
    Io(#[from] io::Error),
    #[error("cannot build the TLS client configuration: {0}")]
    Tls(#[from] TlsError),
    /// ratings v2's database settings, refused by its driver.
    #[error("{0}")]
    Config(#[from] service_runtime::config::ConfigError),
}

/// The running application.
pub struct Bookinfo {
    pub productpage: RunningServer,
    pub details: RunningServer,
    pub ratings: RunningServer,
    /// v1, v2, v3.
    pub reviews: [RunningServer; 3],
}

struct Ports {
    next: u16,
}

impl Ports {
    /// The next port after the last one taken that we can bind.
    fn bind_next(&mut self) -> Result<TcpListener, LaunchError> {
        let start = self.next;
        for port in start..=start.saturating_add(199) {
            if let Ok(listener) = bind_dual_stack(port) {
                self.next = port + 1;
                return Ok(listener);
            }
        }
        Err(LaunchError::NoFreePort(start))
    }
}

async fn bind_all(port: u16) -> Result<Vec<TcpListener>, LaunchError> {
    if port == 0 {
        let mut listeners = Vec::new();
        for _ in 0..6 {
            listeners.push(TcpListener::bind("127.0.0.1:0").await?);
        }
        return Ok(listeners);
    }
    let mut listeners = vec![bind_dual_stack(port).map_err(|err| LaunchError::Bind(port, err))?];
    let next = port.checked_add(1).ok_or(LaunchError::NoFreePort(port))?;
    let mut ports = Ports { next };
    for _ in 0..5 {
        listeners.push(ports.bind_next()?);
    }
    Ok(listeners)
}

/// Where `listener` is reachable on loopback, as a downstream address.
fn loopback(listener: &TcpListener) -> Result<Endpoints, LaunchError> {
    let port = listener.local_addr()?.port();
    let endpoint: Endpoint = format!("http://127.0.0.1:{port}")
        .parse()
        .map_err(io::Error::other)?;
    Ok(Endpoints::single(endpoint))
}

/// Binds every service and starts serving; returns once all accept connections.
pub async fn launch(options: LaunchOptions) -> Result<Bookinfo, LaunchError> {
    let mut listeners = bind_all(options.port).await?.into_iter();
    let mut take = || {
        listeners
            .next()
            .ok_or(LaunchError::NoFreePort(options.port))
    };
    let (productpage, details, ratings) = (take()?, take()?, take()?);
    let reviews = [take()?, take()?, take()?];

    // The services find each other on loopback: no cluster DNS, no SERVICES_DOMAIN. Each
    // reports spans under its own name, so OTEL_SERVICE_NAME cannot apply; and each is its
    // own "pod", `<service>-<version>` as reviews' podname (the process's HOSTNAME would
    // name every service alike in spans and in the mesh panel).
    let telemetry = TelemetryArgs {
        otel_service_name: None,
        ..options.telemetry
    };
    let trace_config = |service: &str, version: &str| {
        TelemetryArgs {
            pod_name: Some(format!("{service}-{version}")),
            ..telemetry.clone()
        }
        .trace_config(service, version)
    };
    let mut reviews_apps = Vec::new();
    for version in reviews::VERSIONS {
        let mut config = reviews::Config::new(version, loopback(&ratings)?);
        config.podname = format!("reviews-{}", version.name);
        config.tracing = trace_config("reviews", version.name);
        reviews_apps.push(reviews::app(config)?);
    }
    let mut details_config = details::Config::v1();
    details_config.tracing = trace_config("details", "v1");
    let ratings_version = if options.ratings.database.is_some() {
        "v2"
    } else {
        "v1"
    };
    let ratings_config = ratings::Config {
        tracing: trace_config("ratings", ratings_version),
        ..options.ratings
    };
    let reviews_endpoints = reviews
        .iter()
        .map(|listener| Ok(loopback(listener)?.pick().clone()))
        .collect::<Result<Vec<_>, LaunchError>>()?;
    let mut productpage_config = productpage::Config::new(
        loopback(&details)?,
        Endpoints::new(reviews_endpoints).ok_or(LaunchError::NoFreePort(options.port))?,
        loopback(&ratings)?,
    );
    productpage_config.page = options.page;
    productpage_config.tracing = trace_config("productpage", "v1");

    let [r1, r2, r3] = reviews;
    let [a1, a2, a3] =
        <[_; 3]>::try_from(reviews_apps).map_err(|_| LaunchError::NoFreePort(options.port))?;
    Ok(Bookinfo {
        details: RunningServer::start(details, details::app(details_config)?)?,
        ratings: RunningServer::start(ratings, ratings::app(ratings_config)?)?,
        reviews: [
            RunningServer::start(r1, a1)?,
            RunningServer::start(r2, a2)?,
            RunningServer::start(r3, a3)?,
        ],
        productpage: RunningServer::start(productpage, productpage::app(productpage_config)?)?,
    })
}

impl Bookinfo {
    /// (name, base URL) of every service, productpage first.
    pub fn services(&self) -> Vec<(String, String)> {
        let local = |server: &RunningServer| format!("http://localhost:{}", server.addr().port());
        let mut services = vec![
            ("productpage".to_owned(), local(&self.productpage)),
            ("details".to_owned(), local(&self.details)),
            ("ratings".to_owned(), local(&self.ratings)),
        ];
        for (server, version) in self.reviews.iter().zip(reviews::VERSIONS) {
            services.push((format!("reviews-{}", version.name), local(server)));
        }
        services
    }

    /// Stops productpage first (no new page views), then the backends, each draining and
    /// then flushing its spans.
    pub async fn stop(self) -> io::Result<()> {
        self.productpage.stop().await?;
        for server in self.reviews {
            server.stop().await?;
        }
        self.details.stop().await?;
        self.ratings.stop().await
    }
}
