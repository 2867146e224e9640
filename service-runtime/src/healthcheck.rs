//! `<binary> healthcheck`: asks the service in this container for `GET /health` and exits 0
//! when it answers 200, 1 otherwise. The images have no shell or curl to do it (scratch), so
//! Docker's `HEALTHCHECK` and compose's `healthcheck:` run the binary itself.

use std::{process::ExitCode, time::Duration};

use clap::Parser;
use http_body_util::Empty;
use hyper::{Request, body::Bytes, header};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

use crate::config::DEFAULT_PORT;

/// The subcommand's name, the first argument.
pub const SUBCOMMAND: &str = "healthcheck";

/// Longest wait for the answer; Docker's own timeout is usually longer.
const TIMEOUT: Duration = Duration::from_secs(2);

/// `<binary> healthcheck`: the port to ask, the same `PORT` the service listens on.
#[derive(Debug, Parser)]
struct HealthcheckCli {
    /// The service's port (PORT, else 9080), on 127.0.0.1.
    #[arg(env = "PORT", default_value_t = DEFAULT_PORT)]
    port: u16,
}

/// Whether the process was started as `<binary> healthcheck …`.
pub fn requested() -> bool {
    std::env::args_os()
        .nth(1)
        .is_some_and(|arg| arg == SUBCOMMAND)
}

/// Runs the check for `service` and says why it failed on stderr: exit 0 for a 200, 1 for
/// anything else (another status, a refused connection, no answer within 2 s).
pub async fn run(service: &str) -> ExitCode {
    let cli = HealthcheckCli::parse_from(
        std::iter::once(format!("{service} {SUBCOMMAND}")).chain(std::env::args().skip(2)),
    );
    match tokio::time::timeout(TIMEOUT, health_status(cli.port)).await {
        Ok(Ok(200)) => ExitCode::SUCCESS,
        Ok(Ok(status)) => {
            eprintln!("{service} healthcheck: /health answered {status}");
            ExitCode::FAILURE
        }
        Ok(Err(err)) => {
            eprintln!("{service} healthcheck: 127.0.0.1:{}: {err}", cli.port);
            ExitCode::FAILURE
        }
        Err(_) => {
            eprintln!("{service} healthcheck: no answer within {TIMEOUT:?}");
            ExitCode::FAILURE
        }
    }
}

async fn health_status(port: u16) -> Result<u16, Box<dyn std::error::Error + Send + Sync>> {
    let stream = TcpStream::connect(("127.0.0.1", port)).await?;
    let (mut sender, connection) =
        hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
    tokio::spawn(connection);
    let request = Request::get("/health")
        // The server answers 400 to an HTTP/1.1 request without a Host.
        .header(header::HOST, format!("127.0.0.1:{port}"))
        .header(header::CONNECTION, "close")
        .body(Empty::<Bytes>::new())?;
    let response = sender.send_request(request).await?;
    Ok(response.status().as_u16())
}
