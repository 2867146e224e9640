//! One run: prepare the visitors, send the pages at the rate or concurrency asked, and
//! collect what they said.

use std::{
    sync::{
        Arc, Mutex, PoisonError,
        atomic::{AtomicU64, Ordering},
    },
    time::Duration,
};

use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Uri, header};
use service_runtime::{
    CallError, CallPolicy, HttpClient, Observability, TraceConfig, outbound::client::Call,
    tls::TlsError,
};
use tokio::{sync::mpsc, time::Instant};

use crate::progress::Progress;
use crate::summary::{Outcome, Report};
use crate::users::{ANONYMOUS, Schedule, UserMix, Visitor};
use crate::{
    args::TrafficArgs,
    page, progress,
    users::{self, PageUrl},
};

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
    let client = HttpClient::with_system_roots(args.keep_alive, observability.calls())?;
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
