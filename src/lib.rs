//! The whole Bookinfo application in one process: details, ratings, reviews v1, v2 and v3, and
//! productpage spreading its reviews calls over the three versions in turn.

use std::{io, net::SocketAddr};

use service_runtime::{ConfigError, Env, RunningServer, serve::bind_dual_stack};
use tokio::net::TcpListener;

/// How `cargo run` lays the application out.
#[derive(Debug, Clone)]
pub struct LaunchOptions {
    /// productpage's port; the other services take the next free ports after it. `0` binds
    /// every service to an ephemeral port on 127.0.0.1 (tests).
    pub port: u16,
    /// The environment the services read (telemetry, pooling, flood factor, ...). The
    /// launcher sets the addresses and versions itself.
    pub env: Env,
}

#[derive(Debug)]
pub enum LaunchError {
    Bind(u16, io::Error),
    NoFreePort(u16),
    Config(ConfigError),
    Io(io::Error),
}

impl std::fmt::Display for LaunchError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Bind(port, err) => write!(f, "cannot listen on port {port}: {err}"),
            Self::NoFreePort(after) => write!(f, "no free port found after {after}"),
            Self::Config(err) => write!(f, "{err}"),
            Self::Io(err) => write!(f, "{err}"),
        }
    }
}

impl std::error::Error for LaunchError {}

impl From<ConfigError> for LaunchError {
    fn from(err: ConfigError) -> Self {
        Self::Config(err)
    }
}

impl From<io::Error> for LaunchError {
    fn from(err: io::Error) -> Self {
        Self::Io(err)
    }
}

/// The running application.
pub struct Bookinfo {
    pub productpage: RunningServer,
    pub details: RunningServer,
    pub ratings: RunningServer,
    /// v1, v2, v3.
    pub reviews: [RunningServer; 3],
}

/// (name as shown, ENABLE_RATINGS, STAR_COLOR) of the reviews versions.
const REVIEWS_VERSIONS: [(&str, &str, &str); 3] = [
    ("v1", "false", "black"),
    ("v2", "true", "black"),
    ("v3", "true", "red"),
];

struct Ports {
    next: u16,
}

impl Ports {
    /// The next port after the last one taken that we can bind.
    fn bind_next(&mut self) -> Result<TcpListener, LaunchError> {
        let start = self.next;
        for port in start..start.saturating_add(200) {
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

fn port(listener: &TcpListener) -> Result<String, LaunchError> {
    Ok(listener
        .local_addr()
        .map(|a: SocketAddr| a.port().to_string())?)
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

    // The services find each other on loopback; no cluster DNS, no SERVICES_DOMAIN. Each
    // reports spans under its own name, so one OTEL_SERVICE_NAME cannot apply.
    let env = options
        .env
        .clone()
        .with("SERVICES_DOMAIN", "")
        .with("OTEL_SERVICE_NAME", "");
    let loopback = "127.0.0.1";
    let ratings_port = port(&ratings)?;
    let mut reviews_hosts = Vec::new();
    let mut reviews_apps = Vec::new();
    for ((version, enable_ratings, color), listener) in REVIEWS_VERSIONS.iter().zip(&reviews) {
        reviews_hosts.push(format!("{loopback}:{}", port(listener)?));
        let reviews_env = env
            .clone()
            .with("SERVICE_VERSION", *version)
            .with("ENABLE_RATINGS", *enable_ratings)
            .with("STAR_COLOR", *color)
            .with("RATINGS_HOSTNAME", loopback)
            .with("RATINGS_SERVICE_PORT", ratings_port.clone())
            .with("HOSTNAME", format!("reviews-{version}"));
        reviews_apps.push(reviews::app(reviews::Config::from_env(&reviews_env)?));
    }
    let productpage_env = env
        .clone()
        .with("DETAILS_HOSTNAME", loopback)
        .with("DETAILS_SERVICE_PORT", port(&details)?)
        .with("REVIEWS_HOSTNAME", reviews_hosts.join(","))
        .with("RATINGS_HOSTNAME", loopback)
        .with("RATINGS_SERVICE_PORT", ratings_port);
    let details_app = details::app(details::Config::from_env(
        &env.clone().with("SERVICE_VERSION", "v1"),
    )?);
    let ratings_app = ratings::app(ratings::Config::from_env(
        &env.clone().with("SERVICE_VERSION", "v1"),
    )?);
    let productpage_app = productpage::app(productpage::Config::from_env(&productpage_env)?);

    let [r1, r2, r3] = reviews;
    let [a1, a2, a3] =
        <[_; 3]>::try_from(reviews_apps).map_err(|_| LaunchError::NoFreePort(options.port))?;
    Ok(Bookinfo {
        details: RunningServer::start(details, details_app)?,
        ratings: RunningServer::start(ratings, ratings_app)?,
        reviews: [
            RunningServer::start(r1, a1)?,
            RunningServer::start(r2, a2)?,
            RunningServer::start(r3, a3)?,
        ],
        productpage: RunningServer::start(productpage, productpage_app)?,
    })
}

impl Bookinfo {
    /// (name, base URL) of every service, productpage first.
    pub fn services(&self) -> Vec<(&'static str, String)> {
        let local = |server: &RunningServer| format!("http://localhost:{}", server.addr().port());
        let mut services = vec![
            ("productpage", local(&self.productpage)),
            ("details", local(&self.details)),
            ("ratings", local(&self.ratings)),
        ];
        for (server, name) in self
            .reviews
            .iter()
            .zip(["reviews-v1", "reviews-v2", "reviews-v3"])
        {
            services.push((name, local(server)));
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
