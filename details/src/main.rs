use std::process::ExitCode;

fn main() -> ExitCode {
    service_runtime::run_service(
        "details",
        "Bookinfo details: the book's publication details",
        |args: details::DetailsArgs| details::Config::try_from(args),
        details::app,
    )
}
