use std::process::ExitCode;

#[tokio::main]
async fn main() -> ExitCode {
    service_runtime::run_service("details", details::Config::from_env, details::app).await
}
