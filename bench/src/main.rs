//! `bench/run.sh` (or `cargo run --release -p bench`): every service under load with wrk,
//! each in its own process so its memory and CPU can be read from /proc, beside baselines
//! measured in the same run, so that the figures hold as ratios on a noisy shared machine.
//!
//!   bench [--smoke] [--seconds N] [--rounds N] [--out FILE]   (`bench --help`)
//!
//! Each round runs every scenario once; a scenario's figures are the median over rounds, and
//! its ratio is the median of its per-round ratios to the baseline measured in that round, so
//! a machine that speeds up or slows down during the run moves both sides alike.

mod fleet;
mod process;
mod report;
mod scenarios;
mod sink;
mod traffic_tool;
mod wrk;

use std::{collections::BTreeMap, process::ExitCode, time::Duration};

use fleet::{Fleet, launch};
use report::{Measurement, Report};
use scenarios::{SCENARIOS, baseline_of};

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
        let baseline = SCENARIOS.iter().position(|s| s.0 == baseline_of(scenario));
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
