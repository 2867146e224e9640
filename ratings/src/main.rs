use std::process::ExitCode;

fn main() -> ExitCode {
    service_runtime::run_service(
        "ratings",
        "Bookinfo ratings: star ratings per product, with the original's fault modes",
        |args: ratings::RatingsArgs| ratings::Config::try_from(args),
        ratings::app,
    )
}
