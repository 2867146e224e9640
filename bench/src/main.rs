//! `bench/run.sh` (or `cargo run --release -p bench`): every service under load with wrk,
//! each in its own process so its memory and CPU can be read from /proc, beside baselines
//! measured in the same run, so that the figures hold as ratios on a noisy shared machine.
//!
//!   bench [--smoke] [--seconds N] [--rounds N] [--out FILE]   (`bench --help`)
//!
//! Each round runs every scenario once; a scenario's figures are the median over rounds, and
//! its ratio is the median of its per-round ratios to the baseline measured in that round, so
//! a machine that speeds up or slows down during the run moves both sides alike.

mod process;
mod report;
mod sink;
mod traffic_tool;
mod wrk;

use std::{collections::BTreeMap, process::ExitCode, time::Duration};

use process::{Probe, Service, free_port};
use report::{Measurement, Report};

/// Every service under load with wrk, each in its own process, beside baselines measured in
/// the same run.
#[derive(Debug, clap::Parser)]
#[command(name = "bench", version)]
struct Cli {
    /// A few seconds in all (1 round of 1 s at 32 connections, no warm-up): keeps the command
    /// from rotting; its numbers mean little.
    #[arg(long)]
    smoke: bool,
    /// Seconds per scenario and round (wrk takes whole seconds).
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u64).range(1..))]
    seconds: u64,
    /// Rounds; each runs every scenario once.
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u64).range(1..))]
    rounds: u64,
    /// Where the JSON results go.
    #[arg(long, default_value = "bench/results/latest.json")]
    out: String,
}

struct Options {
    seconds: u64,
    rounds: usize,
    warmup: bool,
    connections: Vec<u32>,
    out: String,
}

impl From<Cli> for Options {
    fn from(cli: Cli) -> Self {
        if cli.smoke {
            return Self {
                seconds: 1,
                rounds: 1,
                warmup: false,
                connections: vec![32],
                out: cli.out,
            };
        }
        Self {
            seconds: cli.seconds,
            rounds: usize::try_from(cli.rounds).unwrap_or(usize::MAX),
            warmup: true,
            connections: vec![1, 32],
            out: cli.out,
        }
    }
}

/// The processes of one run, by name.
struct Fleet {
    services: BTreeMap<String, Service>,
    /// ratings v2's database, while the run lasts (none without `mariadbd`).
    database: Option<ratings::testing::LocalMariaDb>,
}

impl Fleet {
    fn start(
        &mut self,
        name: &str,
        binary: &str,
        extra_args: &[String],
        env: &[(&str, String)],
        probe: Probe,
    ) -> Result<u16, String> {
        let port = free_port().map_err(|e| e.to_string())?;
        let mut args = vec![];
        if binary == "bench-baseline" {
            args.push(extra_args.first().cloned().unwrap_or_default());
            args.push(port.to_string());
            args.extend(extra_args.iter().skip(1).cloned());
        } else {
            args.push(port.to_string());
        }
        let service = Service::start(name, binary, &args, env, probe)?;
        self.services.insert(name.to_owned(), service);
        Ok(port)
    }

    fn get(&self, name: &str) -> &Service {
        &self.services[name]
    }

    /// The scenarios whose process runs.
    fn scenarios(
        &self,
    ) -> impl Iterator<
        Item = &'static (
            &'static str,
            &'static str,
            &'static str,
            &'static [&'static str],
        ),
    > + '_ {
        SCENARIOS
            .iter()
            .filter(|(_, server, ..)| self.services.contains_key(*server))
    }

    fn cpu(&self, names: &[&str]) -> f64 {
        names.iter().map(|n| self.get(n).cpu_seconds()).sum()
    }
}

fn launch() -> Result<Fleet, String> {
    let mut fleet = Fleet {
        services: BTreeMap::new(),
        database: None,
    };
    let s = |v: &str| v.to_owned();
    // Baselines: a bare hello, and a front over two JSON leaves, fresh and pooled.
    fleet.start("hello", "bench-baseline", &[s("hello")], &[], Probe::Root)?;
    let leaf1 = fleet.start("leaf-1", "bench-baseline", &[s("leaf")], &[], Probe::Root)?;
    let leaf2 = fleet.start("leaf-2", "bench-baseline", &[s("leaf")], &[], Probe::Root)?;
    for mode in ["fresh", "pooled"] {
        let args = [s("front"), leaf1.to_string(), leaf2.to_string(), s(mode)];
        fleet.start(
            &format!("front-{mode}"),
            "bench-baseline",
            &args,
            &[],
            Probe::Root,
        )?;
    }
    // The application, one process per service.
    let details = fleet.start("details", "details", &[], &[], Probe::Health)?;
    let ratings = fleet.start("ratings", "ratings", &[], &[], Probe::Health)?;
    let ratings_env = || {
        vec![
            ("RATINGS_HOSTNAME", s("127.0.0.1")),
            ("RATINGS_SERVICE_PORT", ratings.to_string()),
        ]
    };
    let mut reviews = BTreeMap::new();
    for version in reviews::VERSIONS {
        let mut env = ratings_env();
        env.extend([
            ("ENABLE_RATINGS", version.enable_ratings.to_string()),
            ("STAR_COLOR", s(version.star_color)),
        ]);
        let port = fleet.start(
            &format!("reviews-{}", version.name),
            "reviews",
            &[],
            &env,
            Probe::Health,
        )?;
        reviews.insert(version.name, port);
    }
    for (name, version, pooling) in [
        ("productpage", "v1", "false"),
        ("productpage-pooled", "v1", "true"),
        ("productpage-v2", "v2", "false"),
        ("productpage-v3", "v3", "false"),
    ] {
        let env = vec![
            ("DETAILS_HOSTNAME", s("127.0.0.1")),
            ("DETAILS_SERVICE_PORT", details.to_string()),
            (
                "REVIEWS_HOSTNAME",
                format!("127.0.0.1:{}", reviews[version]),
            ),
            ("RATINGS_HOSTNAME", s("127.0.0.1")),
            ("RATINGS_SERVICE_PORT", ratings.to_string()),
            ("BACKEND_CONNECTION_POOLING", s(pooling)),
        ];
        fleet.start(name, "productpage", &[], &env, Probe::Health)?;
    }
    // ratings v2 on a real MariaDB, when one is installed.
    match ratings::testing::LocalMariaDb::start() {
        Ok(database) => {
            let mut env = database.env();
            env.extend([
                ("SERVICE_VERSION", s("v2")),
                (
                    "DB_POOL_MAX_CONNECTIONS",
                    DB_POOL_MAX_CONNECTIONS.to_string(),
                ),
            ]);
            fleet.start("ratings-v2-mysql", "ratings", &[], &env, Probe::Health)?;
            fleet.database = Some(database);
        }
        Err(why) => eprintln!("no ratings v2 scenario: {why}"),
    }
    // The v1 page again, with every service it calls exporting its spans to a sink.
    let sink = sink::start().map_err(|e| format!("cannot start the OTLP sink: {e}"))?;
    let export = [("OTEL_EXPORTER_OTLP_ENDPOINT", format!("http://{sink}"))];
    // The whole application as `cargo run` starts it, for the traffic tool against wrk.
    let port = free_port().map_err(|e| e.to_string())?;
    let whole_app = Service::start(
        traffic_tool::APP,
        "bookinfo",
        &[s("--port"), port.to_string()],
        &[],
        Probe::Health,
    )?;
    fleet
        .services
        .insert(traffic_tool::APP.to_owned(), whole_app);
    let details_traced = fleet.start("details-traced", "details", &[], &export, Probe::Health)?;
    let mut reviews_env = ratings_env();
    reviews_env.extend(export.iter().cloned());
    let reviews_traced = fleet.start(
        "reviews-v1-traced",
        "reviews",
        &[],
        &reviews_env,
        Probe::Health,
    )?;
    let mut env = vec![
        ("DETAILS_HOSTNAME", s("127.0.0.1")),
        ("DETAILS_SERVICE_PORT", details_traced.to_string()),
        ("REVIEWS_HOSTNAME", format!("127.0.0.1:{reviews_traced}")),
    ];
    env.extend(export);
    fleet.start(
        "productpage-traced",
        "productpage",
        &[],
        &env,
        Probe::Health,
    )?;
    Ok(fleet)
}

/// ratings v2's pool in the benchmark: the service's default.
const DB_POOL_MAX_CONNECTIONS: u32 = 10;

/// (scenario, process serving it, path, processes whose CPU it spends); a scenario whose
/// process did not start (ratings v2 without MariaDB) is left out.
const SCENARIOS: &[(&str, &str, &str, &[&str])] = &[
    ("hello (baseline)", "hello", "/", &["hello"]),
    (
        "front, fresh connections (baseline)",
        "front-fresh",
        "/",
        &["front-fresh", "leaf-1", "leaf-2"],
    ),
    (
        "front, pooled (baseline)",
        "front-pooled",
        "/",
        &["front-pooled", "leaf-1", "leaf-2"],
    ),
    ("details /details/0", "details", "/details/0", &["details"]),
    (
        "reviews v1 /reviews/0",
        "reviews-v1",
        "/reviews/0",
        &["reviews-v1"],
    ),
    (report::RATINGS_V1, "ratings", "/ratings/0", &["ratings"]),
    (
        "ratings v2 /ratings/0, MariaDB, pool of 10",
        "ratings-v2-mysql",
        "/ratings/0",
        // MariaDB's own CPU is not counted: it is not our process.
        &["ratings-v2-mysql"],
    ),
    (
        "productpage v1 /productpage",
        "productpage",
        "/productpage",
        &["productpage", "details", "reviews-v1"],
    ),
    (
        "productpage v1 /productpage, export on",
        "productpage-traced",
        "/productpage",
        &["productpage-traced", "details-traced", "reviews-v1-traced"],
    ),
    (
        "productpage v1 /productpage, pooled",
        "productpage-pooled",
        "/productpage",
        &["productpage-pooled", "details", "reviews-v1"],
    ),
    (
        "productpage v2 /productpage",
        "productpage-v2",
        "/productpage",
        &["productpage-v2", "details", "reviews-v2", "ratings"],
    ),
    (
        "productpage v3 /productpage",
        "productpage-v3",
        "/productpage",
        &["productpage-v3", "details", "reviews-v3", "ratings"],
    ),
    (
        "productpage /api/v1/products",
        "productpage",
        "/api/v1/products",
        &["productpage"],
    ),
];

/// One run of one scenario at one concurrency.
struct Run {
    load: wrk::Load,
    cpu_us_per_request: f64,
}

impl Run {
    /// A load and the CPU seconds its processes spent on it.
    fn new(load: wrk::Load, cpu_seconds: f64) -> Self {
        Self {
            cpu_us_per_request: cpu_seconds * 1e6 / load.requests.max(1) as f64,
            load,
        }
    }
}

/// A scenario's figures over its rounds: the round whose requests/s is the median, the
/// median CPU per request, and every round's requests/s.
fn summarize(
    scenario: &str,
    connections: u32,
    rounds: &[Run],
    ratio: Option<f64>,
) -> Result<Measurement, String> {
    let rps = median(rounds.iter().map(|r| r.load.requests_per_sec).collect());
    let typical = rounds
        .iter()
        .min_by(|a, b| {
            (a.load.requests_per_sec - rps)
                .abs()
                .total_cmp(&(b.load.requests_per_sec - rps).abs())
        })
        .ok_or("no rounds")?;
    Ok(Measurement {
        scenario: scenario.to_owned(),
        connections,
        load: typical.load.clone(),
        cpu_us_per_request: median(rounds.iter().map(|r| r.cpu_us_per_request).collect()),
        ratio,
        rounds_requests_per_sec: rounds.iter().map(|r| r.load.requests_per_sec).collect(),
    })
}

fn run_once(
    fleet: &Fleet,
    server: &str,
    path: &str,
    spenders: &[&str],
    connections: u32,
    seconds: u64,
) -> Result<Run, String> {
    let cpu_before = fleet.cpu(spenders);
    let load = wrk::run(
        &fleet.get(server).url(path),
        connections,
        Duration::from_secs(seconds),
    )?;
    Ok(Run::new(load, fleet.cpu(spenders) - cpu_before))
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values.get(values.len() / 2).copied().unwrap_or(0.0)
}

fn measure(fleet: &Fleet, options: &Options) -> Result<Vec<Measurement>, String> {
    if options.warmup {
        for &(_, server, path, _) in fleet.scenarios() {
            wrk::run(&fleet.get(server).url(path), 32, Duration::from_secs(1))?;
        }
    }
    // runs[(scenario index, connections)] = one Run per round
    let mut runs: BTreeMap<(usize, u32), Vec<Run>> = BTreeMap::new();
    for round in 1..=options.rounds {
        eprintln!("round {round} of {}", options.rounds);
        for (index, &(scenario, server, path, spenders)) in SCENARIOS.iter().enumerate() {
            if !fleet.services.contains_key(server) {
                continue;
            }
            for &connections in &options.connections {
                let run = run_once(fleet, server, path, spenders, connections, options.seconds)?;
                eprintln!(
                    "  {scenario} c{connections}: {:.0} req/s",
                    run.load.requests_per_sec
                );
                runs.entry((index, connections)).or_default().push(run);
            }
        }
    }
    let mut measurements = traffic_tool::measure(fleet, options)?;
    for ((index, connections), rounds) in &runs {
        let scenario = SCENARIOS[*index].0;
        let baseline = SCENARIOS
            .iter()
            .position(|s| s.0 == report::baseline_of(scenario));
        let ratio = baseline.filter(|b| b != index).map(|b| {
            let reference = &runs[&(b, *connections)];
            median(
                rounds
                    .iter()
                    .zip(reference)
                    .map(|(run, base)| {
                        run.load.requests_per_sec / base.load.requests_per_sec.max(1.0)
                    })
                    .collect(),
            )
        });
        measurements.push(summarize(scenario, *connections, rounds, ratio)?);
    }
    Ok(measurements)
}

fn main() -> ExitCode {
    let options = Options::from(<Cli as clap::Parser>::parse());
    if !wrk::available() {
        eprintln!("wrk not found: bench/run.sh installs it (apt-get install wrk)");
        return ExitCode::FAILURE;
    }
    let run = || -> Result<Report, String> {
        let fleet = launch()?;
        eprintln!(
            "measuring {} scenarios, {} round(s) of {} s each, at {:?} connections",
            fleet.scenarios().count(),
            options.rounds,
            options.seconds,
            options.connections
        );
        let measurements = measure(&fleet, &options)?;
        Ok(Report::new(
            options.seconds as f64,
            options.rounds,
            measurements,
            fleet.services.values().collect(),
        ))
    };
    match run() {
        Ok(report) => {
            println!("{}", report.table());
            if let Err(err) = report.write_json(&options.out) {
                eprintln!("cannot write {}: {err}", options.out);
                return ExitCode::FAILURE;
            }
            eprintln!("results written to {}", options.out);
            ExitCode::SUCCESS
        }
        Err(err) => {
            eprintln!("bench: {err}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_ratings_v2_scenario_names_its_pool_and_compares_with_v1() {
        let (scenario, ..) = SCENARIOS
            .iter()
            .find(|(_, server, ..)| *server == "ratings-v2-mysql")
            .unwrap();
        assert!(scenario.ends_with(&format!("pool of {DB_POOL_MAX_CONNECTIONS}")));
        assert_eq!(report::baseline_of(scenario), report::RATINGS_V1);
        assert!(SCENARIOS.iter().any(|s| s.0 == report::RATINGS_V1));
    }
}
