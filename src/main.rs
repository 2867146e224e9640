//! `cargo run`: the whole Bookinfo application on localhost.

use std::{io::Write, process::ExitCode};

use bookinfo::{LaunchOptions, launch};
use clap::{CommandFactory, Parser, Subcommand, error::ErrorKind};
use productpage::PageArgs;
use ratings::DatabaseArgs;
use service_runtime::{
    TelemetryArgs,
    config::{ConfigError, LogArgs, parse_command_line},
    serve::shutdown_signal,
    telemetry::logging,
};
use traffic::{OutputFormat, TrafficArgs};

/// The whole Bookinfo application on localhost: details, ratings, reviews v1, v2 and v3, and
/// productpage, in one process. productpage calls the three reviews versions in turn.
#[derive(Debug, Parser)]
#[command(name = "bookinfo", version, args_conflicts_with_subcommands = true)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    /// productpage's port; the other services take the next free ports after it. 0 binds
    /// every service to an ephemeral port on 127.0.0.1.
    #[arg(
        long,
        env = "BOOKINFO_PORT",
        value_name = "BOOKINFO_PORT",
        default_value_t = 9080
    )]
    port: u16,
    #[command(flatten)]
    log: LogArgs,
    /// ratings' version: v1 (in memory), v2 (MongoDB at MONGO_DB_URL), v2-mysql (MySQL or
    /// MariaDB at MYSQL_DB_HOST:MYSQL_DB_PORT, see scripts/mariadb-local.sh), or a fault
    /// mode: v-faulty, v-delayed, v-unavailable, v-unhealthy.
    #[arg(
        long,
        env = "BOOKINFO_RATINGS",
        value_name = "BOOKINFO_RATINGS",
        help_heading = "ratings v2 (database)",
        default_value = "v1",
        value_parser = ["v1", "v2", "v2-mysql", "v-faulty", "v-delayed", "v-unavailable", "v-unhealthy"]
    )]
    ratings: String,
    #[command(flatten)]
    database: DatabaseArgs,
    #[command(flatten)]
    page: PageArgs,
    #[command(flatten)]
    telemetry: TelemetryArgs,
}

/// ratings' configuration for `--ratings`: `v2-mysql` is v2 with DB_TYPE=mysql, as upstream's
/// ratings-v2-mysql Deployment sets it.
fn ratings_config(label: &str, mut database: DatabaseArgs) -> Result<ratings::Config, ConfigError> {
    let version = match label {
        "v2-mysql" => {
            database.db_type = Some("mysql".into());
            "v2"
        }
        other => other,
    };
    ratings::Config::for_version(version, database)
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Load a Bookinfo page at a fixed rate or concurrency and report what the pages said:
    /// status codes, latency, reviews versions, stars, degraded blocks.
    Traffic(TrafficArgs),
}

/// `bookinfo traffic`: the summary on stdout, each expectation's result on stderr; exit 1 when
/// one fails or the run cannot start, 2 for flags that do not fit together. A closed stdout
/// or stderr changes neither the run nor its exit code.
async fn traffic(args: TrafficArgs, mut command: clap::Command) -> ExitCode {
    if let Err(problem) = args.user_mix() {
        let traffic = command.find_subcommand_mut("traffic").map(|c| c.clone());
        traffic
            .unwrap_or(command)
            .error(ErrorKind::ArgumentConflict, problem)
            .exit();
    }
    let mut stderr = std::io::stderr();
    let report = match traffic::run(&args, shutdown_signal()).await {
        Ok(report) => report,
        Err(err) => {
            let _ = writeln!(stderr, "bookinfo traffic: {err}");
            return ExitCode::FAILURE;
        }
    };
    let verdicts: Vec<_> = args.expect.iter().map(|e| e.verdict(&report)).collect();
    let text = match args.output {
        OutputFormat::Table => report.table(),
        OutputFormat::Json => {
            let mut json = report.json();
            if let Some(map) = json.as_object_mut() {
                map.insert("expectations".into(), serde_json::json!(verdicts));
            }
            format!("{json:#}\n")
        }
    };
    let _ = std::io::stdout().write_all(text.as_bytes());
    for verdict in &verdicts {
        let mark = if verdict.held { "ok   " } else { "FAIL " };
        let _ = writeln!(stderr, "{mark} {}", verdict.message);
    }
    if verdicts.iter().any(|v| !v.held) {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    let (mut cli, mut command) = parse_command_line::<Cli>(Cli::command());
    if let Some(Command::Traffic(args)) = cli.command {
        // The summary reports every failed request; one log line each would bury it.
        // Nor do the report's readers need the signal handler's notice.
        cli.log.rust_log = format!(
            "{},service_runtime::outbound::client=warn,service_runtime::serve=warn",
            cli.log.rust_log
        );
        logging::init_on_stderr(&cli.log);
        return traffic(args, command).await;
    }
    logging::init(&cli.log);
    // Before the banner: from then on Ctrl-C or SIGTERM stops the application gracefully.
    let shutdown = shutdown_signal();
    service_runtime::server::raise_open_file_limit();
    let ratings = match ratings_config(&cli.ratings, cli.database) {
        Ok(config) => config,
        Err(err) => command.error(ErrorKind::ValueValidation, err).exit(),
    };
    let ratings_database = ratings
        .database
        .as_ref()
        .map(|database| database.kind.to_string());
    let options = LaunchOptions {
        port: cli.port,
        telemetry: cli.telemetry,
        page: cli.page,
        ratings,
    };
    let app = match launch(options).await {
        Ok(app) => app,
        Err(err) => {
            eprintln!("bookinfo: {err}");
            return ExitCode::FAILURE;
        }
    };
    let mut banner = String::from("Bookinfo is running:\n");
    for (name, url) in app.services() {
        if name == "ratings" && cli.ratings != "v1" {
            let database = ratings_database
                .as_deref()
                .map(|database| format!(", {database}"))
                .unwrap_or_default();
            banner.push_str(&format!(
                "  {name:<12} {url}  ({}{database})\n",
                cli.ratings
            ));
        } else {
            banner.push_str(&format!("  {name:<12} {url}\n"));
        }
    }
    banner.push_str(&format!(
        "\nOpen http://localhost:{}/productpage  (Ctrl-C stops everything)\n",
        app.productpage.addr().port()
    ));
    // A closed stdout (`bookinfo | head`) must not stop the application.
    let _ = std::io::stdout().write_all(banner.as_bytes());
    shutdown.await;
    match app.stop().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("bookinfo: {err}");
            ExitCode::FAILURE
        }
    }
}
