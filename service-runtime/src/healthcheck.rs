//! `<binary> healthcheck`: asks the service in this container for `GET /health` and exits 0
//! when it answers 200, 1 otherwise. The images have no shell or curl to do it (scratch), so
//! Docker's `HEALTHCHECK` and compose's `healthcheck:` run the binary itself.

use std::{process::ExitCode, time::Duration};

use clap::{CommandFactory, Parser};
use http_body_util::Empty;
use hyper::{Request, body::Bytes, header};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

use crate::config::{DEFAULT_PORT, parse_command_line};

/// The subcommand's name, the first argument.
pub const SUBCOMMAND: &str = "healthcheck";

/// Longest wait for the answer; Docker's own timeout is usually longer.
const TIMEOUT: Duration = Duration::from_secs(2);

/// `<binary> healthcheck [PORT]`: the port to ask, read as the service reads its own (an
/// empty `PORT` counts as unset). A service started with its port as an argument
/// (`details 9081`) is asked with the same argument (`details healthcheck 9081`).
#[derive(Debug, Parser)]
struct HealthcheckCli {
    #[arg(hide = true, value_parser = [SUBCOMMAND])]
    subcommand: String,
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
pub async fn run(service: &'static str) -> ExitCode {
    let (cli, _) = parse_command_line::<HealthcheckCli>(
        HealthcheckCli::command()
            .name(service)
            .bin_name(service)
            .override_usage(format!("{service} {SUBCOMMAND} [PORT]"))
            .about("Asks the service on 127.0.0.1:PORT for /health: exit 0 for 200, 1 otherwise"),
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
