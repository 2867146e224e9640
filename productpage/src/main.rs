use std::process::ExitCode;

#[tokio::main]
async fn main() -> ExitCode {
    service_runtime::run_service(
        "productpage",
        productpage::Config::from_env,
        productpage::app,
    )
    .await
}
