//! `cargo run`: the whole Bookinfo application on localhost.

use std::process::ExitCode;

use bookinfo::{LaunchOptions, launch};
use service_runtime::{Env, logging, serve::shutdown_signal};

const USAGE: &str = "\
usage: bookinfo [--port PORT]

Starts details, ratings, reviews v1/v2/v3 and productpage in one process.
productpage listens on PORT (default 9080, or BOOKINFO_PORT); the others on the next free ports.";

#[tokio::main]
async fn main() -> ExitCode {
    let env = Env::from_process();
    let args: Vec<String> = std::env::args().skip(1).collect();
    let port = match parse_port(&args, &env) {
        Ok(port) => port,
        Err(message) => {
            eprintln!("{message}\n\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    logging::init(&env);
    let app = match launch(LaunchOptions { port, env }).await {
        Ok(app) => app,
        Err(err) => {
            eprintln!("bookinfo: {err}");
            return ExitCode::FAILURE;
        }
    };
    println!("Bookinfo is running:");
    for (name, url) in app.services() {
        println!("  {name:<12} {url}");
    }
    println!(
        "\nOpen http://localhost:{}/productpage  (Ctrl-C stops everything)",
        app.productpage.addr().port()
    );
    shutdown_signal().await;
    match app.stop().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("bookinfo: {err}");
            ExitCode::FAILURE
        }
    }
}

fn parse_port(args: &[String], env: &Env) -> Result<u16, String> {
    match args {
        [] => env
            .parse_or("BOOKINFO_PORT", 9080)
            .map_err(|err| err.to_string()),
        [flag, value] if flag == "--port" => value
            .parse()
            .map_err(|err| format!("invalid --port {value:?}: {err}")),
        [flag] if flag == "--help" || flag == "-h" => Err("Bookinfo in Rust".into()),
        other => Err(format!("unexpected arguments: {}", other.join(" "))),
    }
}
