//! `bookinfo traffic`: loads a Bookinfo product page at a fixed rate or concurrency, through
//! the project's own HTTP client, as anonymous visitors and signed-in users, and reports what
//! the pages said: status codes, latency, which reviews pod served each page, the stars, and
//! the degraded blocks. `--expect` makes a run a check (exit 1 when one fails).

pub mod expect;
pub mod page;
pub mod progress;
pub mod summary;
mod table;
pub mod users;

use std::{
    sync::{
        Arc, Mutex, PoisonError,
        atomic::{AtomicU64, Ordering},
    },
    time::Duration,
};

use bytes::Bytes;
use clap::{Args, ValueEnum};
use http::{HeaderMap, HeaderValue, Uri, header};
use service_runtime::{
    CallError, CallPolicy, HttpClient, Observability, TraceConfig, client::Call, tls::TlsError,
};
use tokio::{sync::mpsc, time::Instant};
pub use users::PageUrl;

use expect::Expectation;
use progress::Progress;
use summary::{Outcome, Report};
use users::{ANONYMOUS, Schedule, UserFlag, UserMix, Visitor};

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
    /// `degraded=0%`, `served-by=v3:33%±5` (see the README for the grammar).
    #[arg(long = "expect", value_name = "CHECK")]
    pub expect: Vec<Expectation>,
    /// Summary format: a table, or JSON for scripts (on stdout either way).
    #[arg(long, value_enum, default_value_t)]
    pub output: OutputFormat,
}

/// The slowest and fastest `--rate`: one request every 1,000 s, and a million a second (far
/// beyond what one client process sends; the schedule's tick must stay above a nanosecond).
const RATE_BOUNDS: (f64, f64) = (0.001, 1_000_000.0);

/// `50%` → 50: a percentage from 0 to 100 with its sign, as `--user` shares and `--expect`
/// shares are written.
fn percentage(text: &str) -> Option<f64> {
    text.strip_suffix('%')
        .and_then(|number| number.parse::<f64>().ok())
        .filter(|percent| (0.0..=100.0).contains(percent))
}

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

/// Why a run could not start.
#[derive(Debug, thiserror::Error)]
pub enum TrafficError {
    /// Flags that do not fit together; the message starts with the flag.
    #[error("{0}")]
    Flag(String),
    #[error("cannot build the TLS client configuration: {0}")]
    Tls(#[from] TlsError),
    #[error("{url} is unreachable: {reason}")]
    Unreachable { url: Uri, reason: String },
    #[error("--user {user}: signing in at {url} failed: {problem}")]
    SignIn {
        user: String,
        url: Uri,
        problem: String,
    },
    #[error("stopped before the first request (Ctrl-C or SIGTERM)")]
    Interrupted,
}

/// Requests in flight at most in `--rate` mode; a schedule the target cannot keep up with
/// counts its extra requests as failed (`overloaded`) instead of piling up.
const MAX_IN_FLIGHT: u64 = 4096;

/// What stops a run.
#[derive(Debug, Clone, Copy)]
enum Budget {
    Requests(u64),
    Until(Instant),
    /// `--duration 0` (or one too long to have an end): until Ctrl-C or SIGTERM.
    Unbounded,
}

impl Budget {
    fn of(args: &TrafficArgs) -> Self {
        match (args.duration, args.requests) {
            (Some(Duration::ZERO), _) => Self::Unbounded,
            (Some(duration), _) => Instant::now()
                .checked_add(duration)
                .map_or(Self::Unbounded, Self::Until),
            (None, requests) => Self::Requests(requests.unwrap_or(100)),
        }
    }

    /// Takes the next request's place; `false` once the run is over.
    fn take(&self, started: &AtomicU64) -> bool {
        match self {
            Self::Requests(total) => started.fetch_add(1, Ordering::Relaxed) < *total,
            Self::Until(deadline) => {
                started.fetch_add(1, Ordering::Relaxed);
                Instant::now() < *deadline
            }
            Self::Unbounded => true,
        }
    }

    /// Whether no request is left to start, so that `--rate` stops at once rather than after
    /// one more interval.
    fn spent(&self, started: &AtomicU64) -> bool {
        match self {
            Self::Requests(total) => started.load(Ordering::Relaxed) >= *total,
            Self::Until(deadline) => Instant::now() >= *deadline,
            Self::Unbounded => false,
        }
    }

    fn deadline(&self) -> Option<Instant> {
        match self {
            Self::Until(deadline) => Some(*deadline),
            _ => None,
        }
    }
}

/// Runs the traffic and returns its report; stops early, keeping what ran, when `stop`
/// completes (Ctrl-C). Before the first request it connects to the page's host and signs
/// the users in, so that a wrong address fails at once, not as N failed requests; `stop`
/// ends that part too.
///
/// # Errors
/// Flags that do not fit together, an unreachable target, a failed sign-in, a stop before
/// the first request, or a TLS configuration that cannot be built.
pub async fn run(
    args: &TrafficArgs,
    stop: impl std::future::Future<Output = ()>,
) -> Result<Report, TrafficError> {
    let mix = args.user_mix().map_err(TrafficError::Flag)?;
    tokio::pin!(stop);
    let traffic = tokio::select! {
        prepared = prepare(args, &mix) => Arc::new(prepared?),
        () = &mut stop => return Err(TrafficError::Interrupted),
    };
    let budget = Budget::of(args);
    let mut progress = Progress::new(match budget {
        Budget::Requests(total) => Some(total),
        _ => None,
    });
    let started = Instant::now();
    let (outcomes, mut received) = mpsc::unbounded_channel::<(usize, Outcome)>();
    let load = drive(args, traffic, budget, outcomes);
    let mut report = Report::new(args.url.to_string(), &mix);
    let mut refresh = tokio::time::interval(progress::REFRESH_INTERVAL);
    tokio::pin!(load);
    let mut load_done = false;
    loop {
        tokio::select! {
            outcome = received.recv() => match outcome {
                Some((user, outcome)) => report.add(user, &outcome),
                None => break,
            },
            () = &mut load, if !load_done => load_done = true,
            _ = refresh.tick() => progress.update(&report, started.elapsed()),
            () = &mut stop => {
                report.interrupted = true;
                break;
            }
        }
    }
    progress.finish();
    report.elapsed = started.elapsed();
    Ok(report)
}

/// The client, the target checked, and every user signed in.
async fn prepare(args: &TrafficArgs, mix: &UserMix) -> Result<Traffic, TrafficError> {
    let observability = Observability::new(&TraceConfig::disabled("bookinfo-traffic"));
    let client = HttpClient::with_system_roots(args.keep_alive, &observability)?;
    // Pages are at most a few hundred KB (docs/performance.md); the tool is not a service
    // under the pod budget, so it reads what an unbounded browser would, up to 1 MiB.
    let policy = CallPolicy {
        timeout: args.timeout,
        attempts: 1,
        max_answer_bytes: 1024 * 1024,
    };
    let login = args
        .url
        .login()
        .map_err(|problem| TrafficError::Flag(format!("URL `{}`: {problem}", args.url)))?;
    check_reachable(&args.url, args.timeout).await?;
    let visitors: Vec<Visitor> = mix
        .users()
        .iter()
        .map(|(name, _)| {
            if name == ANONYMOUS {
                Visitor::anonymous()
            } else {
                Visitor::signed_in(name)
            }
        })
        .collect();
    let traffic = Traffic {
        client,
        page: args.url.clone(),
        login,
        policy,
        schedule: (visitors.len() > 1).then(|| Mutex::new(Schedule::new(mix))),
        visitors,
    };
    for visitor in traffic.visitors.iter().filter(|v| v.signs_in()) {
        traffic.sign_in(visitor).await?;
    }
    Ok(traffic)
}

/// Opens (and drops) one TCP connection to the page's host, so that a wrong host or port is
/// reported by name before the run.
async fn check_reachable(page: &PageUrl, timeout: Duration) -> Result<(), TrafficError> {
    let unreachable = |reason: String| TrafficError::Unreachable {
        url: page.uri.clone(),
        reason,
    };
    let host = page.url.host_str().unwrap_or_default();
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let port = page.url.port_or_known_default().unwrap_or(80);
    let connect = tokio::net::TcpStream::connect((host, port));
    match tokio::time::timeout(timeout, connect).await {
        Ok(Ok(_connection)) => Ok(()),
        Ok(Err(err)) => Err(unreachable(format!(
            "cannot connect to {host}:{port}: {err}"
        ))),
        Err(_) => Err(unreachable(format!(
            "no connection to {host}:{port} within {}",
            humantime::format_duration(timeout)
        ))),
    }
}

/// Sends the requests; each outcome goes to `outcomes` with its user. Returns once every
/// request was started (the senders close as the last ones finish).
async fn drive(
    args: &TrafficArgs,
    traffic: Arc<Traffic>,
    budget: Budget,
    outcomes: mpsc::UnboundedSender<(usize, Outcome)>,
) {
    let started = Arc::new(AtomicU64::new(0));
    match args.rate {
        Some(rate) => {
            let in_flight = Arc::new(AtomicU64::new(0));
            // Within RATE_BOUNDS, the period is between 1 µs and 1,000 s.
            let mut ticks = tokio::time::interval(Duration::from_secs_f64(1.0 / rate));
            ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
            loop {
                match budget.deadline() {
                    Some(deadline) => tokio::select! {
                        _ = ticks.tick() => {}
                        () = tokio::time::sleep_until(deadline) => break,
                    },
                    None => {
                        ticks.tick().await;
                    }
                }
                if !budget.take(&started) {
                    break;
                }
                let user = traffic.next_user();
                if in_flight.load(Ordering::Relaxed) >= MAX_IN_FLIGHT {
                    let overloaded = Outcome::failed("overloaded", None, None);
                    let _ = outcomes.send((user, overloaded));
                } else {
                    in_flight.fetch_add(1, Ordering::Relaxed);
                    let (traffic, outcomes, in_flight) =
                        (traffic.clone(), outcomes.clone(), in_flight.clone());
                    tokio::spawn(async move {
                        let _ = outcomes.send((user, traffic.send(user).await));
                        in_flight.fetch_sub(1, Ordering::Relaxed);
                    });
                }
                if budget.spent(&started) {
                    break;
                }
            }
        }
        None => {
            let workers: Vec<_> = (0..args.concurrency)
                .map(|_| {
                    let (traffic, outcomes, started) =
                        (traffic.clone(), outcomes.clone(), started.clone());
                    tokio::spawn(async move {
                        while budget.take(&started) {
                            let user = traffic.next_user();
                            if outcomes.send((user, traffic.send(user).await)).is_err() {
                                break;
                            }
                        }
                    })
                })
                .collect();
            for worker in workers {
                let _ = worker.await;
            }
        }
    }
}

/// The request a run repeats, and who sends it.
struct Traffic {
    client: HttpClient,
    page: PageUrl,
    /// The sign-in form beside the page.
    login: PageUrl,
    policy: CallPolicy,
    visitors: Vec<Visitor>,
    /// Who sends the next request, when there is more than one user.
    schedule: Option<Mutex<Schedule>>,
}

impl Traffic {
    fn next_user(&self) -> usize {
        self.schedule.as_ref().map_or(0, |schedule| {
            schedule
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .next_user()
        })
    }

    /// Signs `visitor` in through the form beside the page and returns the `Cookie` header
    /// their jar then holds for the page.
    async fn sign_in(&self, visitor: &Visitor) -> Result<HeaderValue, TrafficError> {
        let failed = |problem: String| TrafficError::SignIn {
            user: visitor.name.clone(),
            url: self.login.uri.clone(),
            problem,
        };
        let headers = HeaderMap::new();
        let call = Call {
            destination: "productpage",
            url: self.login.uri.clone(),
            headers: &headers,
            policy: self.policy,
        };
        let form = Bytes::from(users::login_form(&visitor.name));
        let reply = self
            .client
            .post(&call, "application/x-www-form-urlencoded", form)
            .await
            .map_err(|err| failed(err.to_string()))?;
        // productpage answers a sign-in with a redirect back to the page.
        if !(reply.status.is_success() || reply.status.is_redirection()) {
            return Err(failed(format!("the form answered {}", reply.status)));
        }
        visitor.store(&self.login.url, &reply.headers);
        visitor.cookie_header(&self.page.url).ok_or_else(|| {
            failed(format!(
                "the answer ({}) set no session cookie",
                reply.status
            ))
        })
    }

    /// One page load as `user` (a position in the mix): their cookies go out, and whatever
    /// cookies the answer sets come back into their jar. A signed-in user whose session the
    /// site ended (a cleared or expired cookie) signs in again first, as a person would.
    async fn send(&self, user: usize) -> Outcome {
        let visitor = self.visitors.get(user);
        let mut headers = HeaderMap::new();
        if let Some(visitor) = visitor {
            let cookie = match visitor.cookie_header(&self.page.url) {
                Some(cookie) => Some(cookie),
                None if visitor.signs_in() => match self.sign_in(visitor).await {
                    Ok(cookie) => Some(cookie),
                    Err(err) => {
                        return Outcome::failed("sign-in failed", None, Some(err.to_string()));
                    }
                },
                None => None,
            };
            if let Some(cookie) = cookie {
                headers.insert(header::COOKIE, cookie);
            }
        }
        let call = Call {
            destination: "productpage",
            url: self.page.uri.clone(),
            headers: &headers,
            policy: self.policy,
        };
        let began = Instant::now();
        let result = self.client.get(&call).await;
        let latency = began.elapsed();
        match result {
            Ok(reply) => {
                if let Some(visitor) = visitor {
                    visitor.store(&self.page.url, &reply.headers);
                }
                let reading = reply
                    .status
                    .is_success()
                    .then(|| page::read(&String::from_utf8_lossy(&reply.body)));
                Outcome {
                    latency: Some(latency),
                    status: reply.status.as_str().to_owned(),
                    reading,
                    reason: None,
                }
            }
            // A timeout's latency is the deadline it hit: slowness stays in the percentiles.
            Err(err @ CallError::Timeout(_)) => {
                Outcome::failed("timeout", Some(latency), Some(err.to_string()))
            }
            Err(err) => Outcome::failed("error", None, Some(err.to_string())),
        }
    }
}
