//! The processes of one run: every service and baseline, started and ready.

use std::collections::BTreeMap;

use crate::{
    process::{Probe, Service, free_port},
    scenarios::{APP, DB_POOL_MAX_CONNECTIONS, SCENARIOS},
    sink,
};

/// The processes of one run, by name.
pub struct Fleet {
    pub services: BTreeMap<String, Service>,
    /// ratings v2's database, while the run lasts (none without `mariadbd`).
    database: Option<test_kit::databases::LocalMariaDb>,
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

    pub fn get(&self, name: &str) -> &Service {
        &self.services[name]
    }

    /// The scenarios whose process runs.
    pub fn scenarios(
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

    pub fn cpu(&self, names: &[&str]) -> f64 {
        names.iter().map(|n| self.get(n).cpu_seconds()).sum()
    }
}

pub fn launch() -> Result<Fleet, String> {
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
    match test_kit::databases::LocalMariaDb::start() {
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
        APP,
        "bookinfo",
        &[s("--port"), port.to_string()],
        &[],
        Probe::Health,
    )?;
    fleet.services.insert(APP.to_owned(), whole_app);
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
