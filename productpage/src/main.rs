use std::process::ExitCode;

fn main() -> ExitCode {
    service_runtime::run_service(
        "productpage",
        "Bookinfo productpage: the product page, login, and the JSON API",
        |args: productpage::ProductpageArgs| productpage::Config::try_from(args),
        productpage::app,
    )
}
