//! A service's process: its command line, its server, and its shutdown (drain, then flush
//! spans, then exit 0).

use std::{io, net::SocketAddr, process::ExitCode, time::Duration};

use axum::Router;
use clap::{Args, CommandFactory, Parser, error::ErrorKind};
use tokio::{net::TcpListener, sync::oneshot, task::JoinHandle};

pub use crate::server::listener::bind_dual_stack;
use crate::{
    config::{ConfigError, DEFAULT_PORT, LogArgs, parse_command_line},
    metrics::ServerMetrics,
    server::{self, ServerArgs, connection_cap, open_file_limit, raise_open_file_limit},
    telemetry::logging,
    telemetry::{observe::Observability, spans::ServiceTracer},
};

/// A service ready to serve: its router, and the tracer whose buffered spans are flushed
/// once the server has stopped.
pub struct App {
    router: Router,
    tracer: Option<ServiceTracer>,
    overload: ServerMetrics,
}

impl App {
    pub fn new(router: Router, tracer: Option<ServiceTracer>) -> Self {
        Self {
            router,
            tracer,
            overload: ServerMetrics::default(),
        }
    }

    /// Where the server counts the requests its bounds refuse (the service's `/metrics`).
    pub fn with_server_metrics(self, overload: ServerMetrics) -> Self {
        Self { overload, ..self }
    }

    /// `router` with `GET /metrics` and the request middleware of `observability`, whose
    /// tracer and overload counter the server shares.
    pub fn observed(router: Router, observability: Observability) -> Self {
        let tracer = observability.tracer.clone();
        let overload = observability.metrics.overload();
        Self::new(observability.observe(router), Some(tracer)).with_server_metrics(overload)
    }
}

impl From<Router> for App {
    fn from(router: Router) -> Self {
        Self::new(router, None)
    }
}

/// Exports buffered spans, for at most `timeout`; the exporter blocks, so it runs off the
/// async workers.
async fn flush(tracer: Option<ServiceTracer>, timeout: Duration) {
    if let Some(tracer) = tracer {
        let _ = tokio::task::spawn_blocking(move || tracer.shutdown(timeout)).await;
    }
}

/// Completes on SIGTERM (Kubernetes stopping the pod) or Ctrl-C. The handlers are installed
/// when this is called, not when the future is first awaited: a SIGTERM that arrives while
/// the server is still starting is then held for it, instead of taking the signal's default
/// action (killing the process). Call it inside the Tokio runtime.
pub fn shutdown_signal() -> impl Future<Output = ()> + Send + 'static {
    #[cfg(unix)]
    let (terminate, interrupt) = {
        use tokio::signal::unix::{SignalKind, signal};
        (
            signal(SignalKind::terminate()).ok(),
            signal(SignalKind::interrupt()).ok(),
        )
    };
    async move {
        #[cfg(unix)]
        {
            async fn received(signal: Option<tokio::signal::unix::Signal>) {
                match signal {
                    Some(mut signal) => {
                        signal.recv().await;
                    }
                    None => std::future::pending::<()>().await,
                }
            }
            tokio::select! {
                () = received(terminate) => {},
                () = received(interrupt) => {},
            }
        }
        #[cfg(not(unix))]
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
        tracing::info!("shutdown signal received");
    }
}

/// A server running on a background task; used by the whole-app launcher and by tests.
pub struct RunningServer {
    addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<()>,
    tracer: Option<ServiceTracer>,
    span_flush_timeout: Duration,
}

impl RunningServer {
    /// Starts serving on an already bound listener. The socket accepts connections before this
    /// returns, so callers can send requests at once without polling for readiness.
    /// In-process servers (the launcher, tests) have no load balancer to wait for, so they
    /// shut down without the readiness delay.
    pub fn start(listener: TcpListener, app: impl Into<App>) -> io::Result<Self> {
        let args = ServerArgs {
            shutdown_delay: Duration::ZERO,
            ..ServerArgs::default()
        };
        Self::start_with(listener, app, args)
    }

    /// [`RunningServer::start`] with these timers, cap and shutdown budget; [`stop`]
    /// (`RunningServer::stop`) then follows the same shutdown as SIGTERM.
    pub fn start_with(
        listener: TcpListener,
        app: impl Into<App>,
        args: ServerArgs,
    ) -> io::Result<Self> {
        let App {
            router,
            tracer,
            overload,
        } = app.into();
        let addr = listener.local_addr()?;
        let (stop, stopped) = oneshot::channel::<()>();
        let span_flush_timeout = args.span_flush_timeout;
        let cap = connection_cap(args.max_connections, open_file_limit());
        let task = tokio::spawn(async move {
            server::serve(listener, router, overload, &args, cap, async {
                let _ = stopped.await;
            })
            .await;
        });
        Ok(Self {
            addr,
            stop: Some(stop),
            task,
            tracer,
            span_flush_timeout,
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

    /// Shuts down as on SIGTERM (readiness delay, bounded drain), then flushes spans.
    pub async fn stop(mut self) -> io::Result<()> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        let served = (&mut self.task).await.map_err(io::Error::other);
        flush(self.tracer.take(), self.span_flush_timeout).await;
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
    server: ServerArgs,
    #[command(flatten)]
    service: A,
}

/// The whole `main` of a service binary: the command line and environment (`--help`,
/// `--version`; a bad value stops start-up, exit 2, with a message naming the variable;
/// `healthcheck` as the first argument asks a running service instead, see
/// [`crate::healthcheck`]), a Tokio runtime of WORKER_THREADS workers and at most
/// MAX_BLOCKING_THREADS blocking threads (whatever the node's core count), logging, the
/// open-file limit raised, dual-stack bind, serve until SIGTERM or Ctrl-C, shut down within
/// the budget of [`ServerArgs`], flush spans, exit 0.
pub fn run_service<A: Args, C, E: std::fmt::Display>(
    service: &'static str,
    about: &'static str,
    config: impl FnOnce(A) -> Result<C, ConfigError>,
    app: impl FnOnce(C) -> Result<App, E>,
) -> ExitCode {
    if crate::healthcheck::requested() {
        return match tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
        {
            Ok(runtime) => runtime.block_on(crate::healthcheck::run(service)),
            Err(err) => {
                eprintln!("{service} healthcheck: cannot start: {err}");
                ExitCode::FAILURE
            }
        };
    }
    let (cli, mut command) = parse_command_line::<ServiceCli<A>>(
        ServiceCli::<A>::command()
            .name(service)
            .bin_name(service)
            .about(about)
            .after_help(
                "`<binary> healthcheck` asks the service running on 127.0.0.1:$PORT for /health \
                 and exits 0 (200) or 1 (anything else): Docker's and compose's healthcheck.",
            )
            .version(env!("CARGO_PKG_VERSION")),
    );
    let config = match config(cli.service) {
        Ok(config) => config,
        Err(err) => command.error(ErrorKind::ValueValidation, err).exit(),
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(usize::from(cli.server.worker_threads))
        .max_blocking_threads(usize::from(cli.server.max_blocking_threads))
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("{service}: cannot start the runtime: {err}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(serve_until_stopped(
        service, cli.port, cli.log, cli.server, config, app,
    ))
}

/// [`run_service`] once the settings are read and the runtime runs.
async fn serve_until_stopped<C, E: std::fmt::Display>(
    service: &'static str,
    port: u16,
    log: LogArgs,
    server_args: ServerArgs,
    config: C,
    app: impl FnOnce(C) -> Result<App, E>,
) -> ExitCode {
    logging::init(&log);
    // Before the service says it listens: from then on a SIGTERM is a graceful shutdown.
    let shutdown = shutdown_signal();
    let open_files = raise_open_file_limit();
    let cap = connection_cap(server_args.max_connections, open_files);
    if cap < usize::try_from(server_args.max_connections).unwrap_or(usize::MAX) {
        tracing::info!(
            max_connections = server_args.max_connections,
            open_file_limit = open_files,
            "connection cap lowered to {cap}, half the open-file limit"
        );
    }
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
    let App {
        router,
        tracer,
        overload,
    } = match app(config) {
        Ok(app) => app,
        Err(err) => {
            eprintln!("{service}: cannot start: {err}");
            return ExitCode::FAILURE;
        }
    };
    server::serve(listener, router, overload, &server_args, cap, shutdown).await;
    flush(tracer, server_args.span_flush_timeout).await;
    tracing::info!(service, "stopped");
    ExitCode::SUCCESS
}
