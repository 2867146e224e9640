use std::process::ExitCode;

#[tokio::main]
async fn main() -> ExitCode {
    service_runtime::run_service("reviews", reviews::Config::from_env, reviews::app).await
}
