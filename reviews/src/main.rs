use std::process::ExitCode;

fn main() -> ExitCode {
    service_runtime::run_service(
        "reviews",
        "Bookinfo reviews: two reviews, with black (v2) or red (v3) star ratings",
        |args: reviews::ReviewsArgs| reviews::Config::try_from(args),
        reviews::app,
    )
}
