//! The command line of `bookinfo traffic`: its flags, their values and how they combine.

use std::time::Duration;

use clap::{Args, ValueEnum};
use http::Uri;

use crate::expect::Expectation;
use crate::users::PageUrl;
use crate::users::{UserFlag, UserMix};

/// How the summary is written.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    #[default]
    Table,
    Json,
}

/// `bookinfo traffic`'s flags.
#[derive(Debug, Clone, Args)]
pub struct TrafficArgs {
    /// The page to load (through a gateway: http://$GATEWAY_URL/productpage).
    #[arg(
        default_value = "http://localhost:9080/productpage",
        value_name = "URL",
        value_parser = page_url
    )]
    pub url: PageUrl,
    /// Requests started per second, on schedule whatever the answers take (open loop).
    #[arg(long, conflicts_with = "concurrency", value_parser = positive_rate)]
    pub rate: Option<f64>,
    /// Requests in flight at once, each starting when the previous one ends (closed loop);
    /// not with --rate.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=10_000))]
    pub concurrency: u32,
    /// How long to send, e.g. 60s, 2m; 0 sends until Ctrl-C or SIGTERM, as fortio's `-t 0`
    /// (default: until --requests are sent).
    #[arg(long, value_parser = run_duration, conflicts_with = "requests")]
    pub duration: Option<Duration>,
    /// Requests to send in all (default 100 when no --duration is given).
    #[arg(long, value_parser = request_count)]
    pub requests: Option<u64>,
    /// Sign in as NAME (POST /login beside the page, a cookie jar per user) for SHARE of the
    /// requests, repeatable: `--user jason`, `--user jason:30%` (the rest anonymous).
    /// Users without a share split what the others leave; `anonymous` names the visitors
    /// who do not sign in.
    #[arg(long = "user", value_name = "NAME[:SHARE%]")]
    pub users: Vec<UserFlag>,
    /// Reuse connections. By default each request opens a fresh connection, so that the mesh
    /// sees (and balances) every request.
    #[arg(long)]
    pub keep_alive: bool,
    /// Deadline of each request (and of connecting and signing in before the run).
    #[arg(long, default_value = "10s", value_parser = positive_duration)]
    pub timeout: Duration,
    /// A check on the run, repeatable; exit 1 when one fails: `stars=red:50%±10`,
    /// `user=jason:ratings-unavailable=100%`, `p99<500ms`, `rate>=950`, `errors=0%`,
    /// `degraded=0%`, `served-by=v3:33%±5` (docs/traffic.md#expectations has the grammar).
    #[arg(long = "expect", value_name = "CHECK")]
    pub expect: Vec<Expectation>,
    /// Summary format: a table, or JSON for scripts (on stdout either way).
    #[arg(long, value_enum, default_value_t)]
    pub output: OutputFormat,
}

/// The slowest and fastest `--rate`: one request every 1,000 s, and a million a second (far
/// beyond what one client process sends; the schedule's tick must stay above a nanosecond).
const RATE_BOUNDS: (f64, f64) = (0.001, 1_000_000.0);

fn positive_rate(value: &str) -> Result<f64, String> {
    let (slowest, fastest) = RATE_BOUNDS;
    match value.parse::<f64>() {
        Ok(rate) if (slowest..=fastest).contains(&rate) => Ok(rate),
        _ => Err(format!(
            "expected requests per second from {slowest} to {fastest}"
        )),
    }
}

fn run_duration(value: &str) -> Result<Duration, String> {
    humantime::parse_duration(value).map_err(|err| {
        format!("expected a duration such as 60s or 2m, or 0 to run until stopped ({err})")
    })
}

fn request_count(value: &str) -> Result<u64, String> {
    match value.parse::<u64>() {
        Ok(count) if count > 0 => Ok(count),
        _ => Err("expected a whole number of requests, at least 1".to_owned()),
    }
}

fn positive_duration(value: &str) -> Result<Duration, String> {
    match humantime::parse_duration(value) {
        Ok(duration) if duration >= Duration::from_millis(1) => Ok(duration),
        Ok(_) => Err("expected at least 1ms".to_owned()),
        Err(err) => Err(format!("expected a duration such as 10s or 500ms ({err})")),
    }
}

/// The page's address: http or https, a host, no credentials (the tool sends none, and a
/// password would be printed in the report).
fn page_url(value: &str) -> Result<PageUrl, String> {
    const EXAMPLE: &str = "expected an http:// or https:// URL such as \
                           http://localhost:9080/productpage";
    let uri: Uri = value.parse().map_err(|err| format!("{EXAMPLE} ({err})"))?;
    match uri.scheme_str() {
        Some("http" | "https") => {}
        _ => return Err(EXAMPLE.to_owned()),
    }
    let page = PageUrl::new(uri).map_err(|err| format!("{EXAMPLE} ({err})"))?;
    if page.url.host_str().is_none_or(str::is_empty) {
        return Err(format!("{EXAMPLE} (no host)"));
    }
    if !page.url.username().is_empty() || page.url.password().is_some() {
        return Err("credentials in the URL are not supported: the tool sends none".to_owned());
    }
    Ok(page)
}

impl TrafficArgs {
    /// The user mix, checked against the URL and the expectations: what clap cannot check
    /// flag by flag.
    ///
    /// # Errors
    /// The flag and its problem, as the first words of the message.
    pub fn user_mix(&self) -> Result<UserMix, String> {
        let mix = UserMix::new(&self.users)?;
        for expectation in &self.expect {
            if let Some(user) = &expectation.user
                && mix.position(user).is_none()
            {
                let names: Vec<&str> = mix.users().iter().map(|(n, _)| n.as_str()).collect();
                return Err(format!(
                    "--expect '{expectation}': {user} takes no part in this run (users: {}); \
                     add --user {user}",
                    names.join(", ")
                ));
            }
        }
        Ok(mix)
    }
}
