//! `bookinfo traffic`: loads a Bookinfo product page at a fixed rate or concurrency, through
//! the project's own HTTP client, and reports what the pages said: status codes, latency,
//! which reviews pod served each page, the stars, and the degraded blocks. `--expect` makes
//! a run a check (exit 1 when one fails).

pub mod expect;
pub mod page;
pub mod summary;

use std::{
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::Duration,
};

use clap::{Args, ValueEnum};
use http::{HeaderMap, Uri};
use service_runtime::{
    CallError, CallPolicy, HttpClient, Observability, TraceConfig, client::Call, tls::TlsError,
};
use tokio::{sync::mpsc, time::Instant};

use expect::Expectation;
use summary::{Outcome, Summary};

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
    /// The page to load.
    #[arg(
        default_value = "http://localhost:9080/productpage",
        value_name = "URL"
    )]
    pub url: Uri,
    /// Requests started per second, on schedule whatever the answers take (open loop).
    #[arg(long, conflicts_with = "concurrency", value_parser = positive_rate)]
    pub rate: Option<f64>,
    /// Requests in flight at once, each starting when the previous one ends (closed loop);
    /// used when no --rate is given.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=10_000))]
    pub concurrency: u32,
    /// How long to send, e.g. 60s, 2m (default: until --requests are sent).
    #[arg(long, value_parser = humantime::parse_duration, conflicts_with = "requests")]
    pub duration: Option<Duration>,
    /// Requests to send in all (default 100 when no --duration is given).
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..))]
    pub requests: Option<u64>,
    /// Reuse connections. By default each request opens a fresh connection, so that the mesh
    /// sees (and balances) every request.
    #[arg(long)]
    pub keep_alive: bool,
    /// Deadline of each request.
    #[arg(long, default_value = "10s", value_parser = humantime::parse_duration)]
    pub timeout: Duration,
    /// A check on the run, repeatable; exit 1 when one fails: `stars=red:50%±10`,
    /// `p99<500ms`, `rate>=950`, `errors=0%`, `degraded=0%`, `served-by=v3:33%±5`.
    #[arg(long = "expect", value_name = "CHECK")]
    pub expect: Vec<Expectation>,
    /// Summary format.
    #[arg(long, value_enum, default_value_t)]
    pub output: OutputFormat,
}

fn positive_rate(value: &str) -> Result<f64, String> {
    match value.parse::<f64>() {
        Ok(rate) if rate > 0.0 && rate.is_finite() => Ok(rate),
        _ => Err("expected requests per second above 0".to_owned()),
    }
}

/// Requests in flight at most in `--rate` mode; a schedule the target cannot keep up with
/// counts its extra requests as failed (`overloaded`) instead of piling up.
const MAX_IN_FLIGHT: u64 = 4096;

/// What stops a run.
#[derive(Debug, Clone, Copy)]
enum Budget {
    Requests(u64),
    Until(Instant),
}

impl Budget {
    /// Takes the next request's place; `false` once the run is over.
    fn take(&self, started: &AtomicU64) -> bool {
        match self {
            Self::Requests(total) => started.fetch_add(1, Ordering::Relaxed) < *total,
            Self::Until(deadline) => {
                started.fetch_add(1, Ordering::Relaxed);
                Instant::now() < *deadline
            }
        }
    }
}

/// Runs the traffic and returns its summary; stops early, keeping what ran, when `stop`
/// completes (Ctrl-C).
///
/// # Errors
/// When the HTTP client cannot be built.
pub async fn run(
    args: &TrafficArgs,
    stop: impl std::future::Future<Output = ()>,
) -> Result<Summary, TlsError> {
    let observability = Observability::new(&TraceConfig::disabled("bookinfo-traffic"));
    let client = HttpClient::with_system_roots(args.keep_alive, &observability)?;
    let budget = match (args.duration, args.requests) {
        (Some(duration), _) => Budget::Until(Instant::now() + duration),
        (None, requests) => Budget::Requests(requests.unwrap_or(100)),
    };
    let started = Instant::now();
    let (outcomes, mut received) = mpsc::unbounded_channel::<Outcome>();
    let load = drive(args, client, budget, outcomes);
    let mut summary = Summary::default();
    tokio::pin!(load, stop);
    let mut load_done = false;
    loop {
        tokio::select! {
            outcome = received.recv() => match outcome {
                Some(outcome) => summary.add(outcome),
                None => break,
            },
            () = &mut load, if !load_done => load_done = true,
            () = &mut stop => break,
        }
    }
    summary.elapsed = started.elapsed();
    Ok(summary)
}

/// Sends the requests; each outcome goes to `outcomes`. Returns once every request was
/// started (the senders close as the last ones finish).
async fn drive(
    args: &TrafficArgs,
    client: HttpClient,
    budget: Budget,
    outcomes: mpsc::UnboundedSender<Outcome>,
) {
    let started = Arc::new(AtomicU64::new(0));
    let request = Arc::new(Request {
        client,
        url: args.url.clone(),
        policy: CallPolicy {
            timeout: args.timeout,
            attempts: 1,
        },
    });
    match args.rate {
        Some(rate) => {
            let in_flight = Arc::new(AtomicU64::new(0));
            let mut ticks = tokio::time::interval(Duration::from_secs_f64(1.0 / rate));
            ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
            loop {
                ticks.tick().await;
                if !budget.take(&started) {
                    break;
                }
                if in_flight.load(Ordering::Relaxed) >= MAX_IN_FLIGHT {
                    let _ = outcomes.send(Outcome {
                        latency: Duration::ZERO,
                        status: "overloaded".into(),
                        reading: None,
                    });
                    continue;
                }
                in_flight.fetch_add(1, Ordering::Relaxed);
                let (request, outcomes, in_flight) =
                    (request.clone(), outcomes.clone(), in_flight.clone());
                tokio::spawn(async move {
                    let _ = outcomes.send(request.send().await);
                    in_flight.fetch_sub(1, Ordering::Relaxed);
                });
            }
        }
        None => {
            let workers: Vec<_> = (0..args.concurrency)
                .map(|_| {
                    let (request, outcomes, started) =
                        (request.clone(), outcomes.clone(), started.clone());
                    tokio::spawn(async move {
                        while budget.take(&started) {
                            if outcomes.send(request.send().await).is_err() {
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

/// The one request a run repeats.
struct Request {
    client: HttpClient,
    url: Uri,
    policy: CallPolicy,
}

impl Request {
    async fn send(&self) -> Outcome {
        let headers = HeaderMap::new();
        let call = Call {
            destination: "productpage",
            url: self.url.clone(),
            headers: &headers,
            policy: self.policy,
        };
        let began = Instant::now();
        let result = self.client.get(&call).await;
        let latency = began.elapsed();
        match result {
            Ok(reply) => {
                let reading = reply
                    .status
                    .is_success()
                    .then(|| page::read(&String::from_utf8_lossy(&reply.body)));
                Outcome {
                    latency,
                    status: reply.status.as_str().to_owned(),
                    reading,
                }
            }
            Err(err) => Outcome {
                latency,
                status: match err {
                    CallError::Timeout(_) => "timeout".into(),
                    _ => "error".into(),
                },
                reading: None,
            },
        }
    }
}
