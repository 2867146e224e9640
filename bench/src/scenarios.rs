//! What the benchmark measures: each scenario, the process serving it and the processes whose
//! CPU it spends, and the baseline each is a fraction of.

/// The process that serves the comparison: the whole application in one process.
pub const APP: &str = "bookinfo (cargo run)";

/// The baseline scenario: wrk on the whole application's page.
pub const WRK: &str = "whole app /productpage, wrk -c32 (baseline)";

/// The tool on the same page.
pub const TOOL: &str = "whole app /productpage, bookinfo traffic --keep-alive --concurrency 32";

/// The share of wrk's rate the tool must keep (issue #15).
pub const TARGET_RATIO: f64 = 0.8;

/// ratings v2's pool in the benchmark: the service's default.
pub const DB_POOL_MAX_CONNECTIONS: u32 = 10;

/// (scenario, process serving it, path, processes whose CPU it spends); a scenario whose
/// process did not start (ratings v2 without MariaDB) is left out.
pub const SCENARIOS: &[(&str, &str, &str, &[&str])] = &[
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
    (RATINGS_V1, "ratings", "/ratings/0", &["ratings"]),
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

/// The in-memory ratings scenario, the baseline of ratings v2's.
pub const RATINGS_V1: &str = "ratings /ratings/0";

/// Which baseline a scenario is a fraction of: pages against the front that does the same
/// work shape (two backend calls per request), everything else against bare hello.
pub fn baseline_of(scenario: &str) -> &'static str {
    if scenario == TOOL || scenario == WRK {
        WRK
    } else if scenario.starts_with("ratings v2") {
        // What the database costs: the same answer from memory.
        RATINGS_V1
    } else if scenario.ends_with(", export on") {
        // What exporting costs: the same page with export off.
        "productpage v1 /productpage"
    } else if scenario.contains("/productpage") && scenario.contains("pooled") {
        "front, pooled (baseline)"
    } else if scenario.contains("/productpage") {
        "front, fresh connections (baseline)"
    } else {
        "hello (baseline)"
    }
}

/// Processes that are not one Bookinfo service: the baselines, and the whole application in
/// one process (six services).
pub fn is_baseline(name: &str) -> bool {
    name == APP
        || ["hello", "leaf-", "front-"]
            .iter()
            .any(|p| name.starts_with(p))
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
        assert_eq!(baseline_of(scenario), RATINGS_V1);
        assert!(SCENARIOS.iter().any(|s| s.0 == RATINGS_V1));
    }
}
