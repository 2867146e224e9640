//! The HTTP server every service runs: dual-stack bind, TCP_NODELAY, graceful shutdown.

use std::{
    future::Future,
    io,
    net::{Ipv4Addr, Ipv6Addr, SocketAddr},
    process::ExitCode,
};

use axum::{Router, serve::ListenerExt};
use socket2::{Domain, Protocol, Socket, Type};
use tokio::{net::TcpListener, sync::oneshot, task::JoinHandle};

use clap::{Args, CommandFactory, Parser, error::ErrorKind};

use crate::{
    config::{ConfigError, DEFAULT_PORT, LogArgs, parse_command_line},
    logging,
    spans::ServiceTracer,
};

/// A service ready to serve: its router, and the tracer whose buffered spans are flushed
/// once the server has stopped.
pub struct App {
    router: Router,
    tracer: Option<ServiceTracer>,
}

impl App {
    pub fn new(router: Router, tracer: Option<ServiceTracer>) -> Self {
        Self { router, tracer }
    }
}

impl From<Router> for App {
    fn from(router: Router) -> Self {
        Self::new(router, None)
    }
}

/// Exports buffered spans; the exporter blocks, so it runs off the async workers.
async fn flush(tracer: Option<ServiceTracer>) {
    if let Some(tracer) = tracer {
        let _ = tokio::task::spawn_blocking(move || tracer.shutdown()).await;
    }
}

/// Binds `[::]:port` with IPV6_V6ONLY off, so IPv4 and IPv6 clients both connect
/// (dual-stack Services need it; docs/behaviour.md#ports-and-binding);
/// on a host with IPv6 disabled, `0.0.0.0:port`.
pub fn bind_dual_stack(port: u16) -> io::Result<TcpListener> {
    match bind(
        Domain::IPV6,
        SocketAddr::from((Ipv6Addr::UNSPECIFIED, port)),
    ) {
        Err(err) if ipv6_unavailable(&err) => {
            tracing::warn!(%err, "no IPv6 on this host; listening on IPv4 only");
            bind(
                Domain::IPV4,
                SocketAddr::from((Ipv4Addr::UNSPECIFIED, port)),
            )
        }
        bound => bound,
    }
}

/// EAFNOSUPPORT (IPv6 disabled in the kernel) or EADDRNOTAVAIL (no IPv6 address).
fn ipv6_unavailable(err: &io::Error) -> bool {
    const EAFNOSUPPORT: i32 = 97;
    err.kind() == io::ErrorKind::AddrNotAvailable || err.raw_os_error() == Some(EAFNOSUPPORT)
}

fn bind(domain: Domain, addr: SocketAddr) -> io::Result<TcpListener> {
    let socket = Socket::new(domain, Type::STREAM, Some(Protocol::TCP))?;
    if domain == Domain::IPV6 {
        socket.set_only_v6(false)?;
    }
    socket.set_reuse_address(true)?;
    socket.set_nonblocking(true)?;
    socket.bind(&addr.into())?;
    socket.listen(1024)?;
    TcpListener::from_std(socket.into())
}

/// Serves `app` until `shutdown` completes, then lets in-flight requests finish.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> io::Result<()> {
    // Without TCP_NODELAY a small response can wait ~40 ms for the peer's delayed ACK.
    let listener = listener.tap_io(|stream| {
        if let Err(err) = stream.set_nodelay(true) {
            tracing::debug!(%err, "could not set TCP_NODELAY");
        }
    });
    // Connect info lets handlers and tests see the peer (fresh vs reused connections).
    axum::serve(
        listener,
        app.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown)
    .await
}

/// Completes on SIGTERM (Kubernetes stopping the pod) or Ctrl-C.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    tracing::info!("shutdown signal received, draining in-flight requests");
}

/// A server running on a background task; used by the whole-app launcher and by tests.
pub struct RunningServer {
    addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<io::Result<()>>,
    tracer: Option<ServiceTracer>,
}

impl RunningServer {
    /// Starts serving on an already bound listener. The socket accepts connections before this
    /// returns, so callers can send requests at once without polling for readiness.
    pub fn start(listener: TcpListener, app: impl Into<App>) -> io::Result<Self> {
        let App { router, tracer } = app.into();
        let addr = listener.local_addr()?;
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(serve(listener, router, async {
            let _ = stopped.await;
        }));
        Ok(Self {
            addr,
            stop: Some(stop),
            task,
            tracer,
        })
    }

    /// Binds `127.0.0.1:0` and starts serving: the hermetic server for tests.
    pub async fn start_local(app: impl Into<App>) -> io::Result<Self> {
        Self::start(TcpListener::bind("127.0.0.1:0").await?, app)
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://host:port` of this server.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Stops accepting, waits for in-flight requests, flushes spans, and returns the
    /// server's result.
    pub async fn stop(mut self) -> io::Result<()> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        let served = (&mut self.task).await.map_err(io::Error::other)?;
        flush(self.tracer.take()).await;
        served
    }
}

/// A service binary's command line: the port first, as the original images pass it, then
/// the log settings and the service's own.
#[derive(Debug, Parser)]
struct ServiceCli<A: Args> {
    /// Port to listen on, as the first argument (the original images' form) or PORT.
    #[arg(env = "PORT", default_value_t = DEFAULT_PORT)]
    port: u16,
    #[command(flatten)]
    log: LogArgs,
    #[command(flatten)]
    service: A,
}

/// The whole `main` of a service binary: the command line and environment (`--help`,
/// `--version`; a bad value stops start-up, exit 2, with a message naming the variable),
/// logging, dual-stack bind, serve until SIGTERM or Ctrl-C, then flush spans.
pub async fn run_service<A: Args, C, E: std::fmt::Display>(
    service: &'static str,
    about: &'static str,
    config: impl FnOnce(A) -> Result<C, ConfigError>,
    app: impl FnOnce(C) -> Result<App, E>,
) -> ExitCode {
    let (cli, mut command) = parse_command_line::<ServiceCli<A>>(
        ServiceCli::<A>::command()
            .name(service)
            .bin_name(service)
            .about(about)
            .version(env!("CARGO_PKG_VERSION")),
    );
    let config = match config(cli.service) {
        Ok(config) => config,
        Err(err) => command.error(ErrorKind::ValueValidation, err).exit(),
    };
    logging::init(&cli.log);
    let port = cli.port;
    let listener = match bind_dual_stack(port) {
        Ok(listener) => listener,
        Err(err) => {
            eprintln!("{service}: cannot listen on port {port}: {err}");
            return ExitCode::FAILURE;
        }
    };
    match listener.local_addr() {
        Ok(addr) => tracing::info!(service, "listening on {addr}"),
        Err(err) => tracing::warn!(service, %err, "listening on an unknown address"),
    }
    let App { router, tracer } = match app(config) {
        Ok(app) => app,
        Err(err) => {
            eprintln!("{service}: cannot start: {err}");
            return ExitCode::FAILURE;
        }
    };
    let result = serve(listener, router, shutdown_signal()).await;
    flush(tracer).await;
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("{service}: server error: {err}");
            ExitCode::FAILURE
        }
    }
}
