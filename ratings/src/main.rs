use std::process::ExitCode;

#[tokio::main]
async fn main() -> ExitCode {
    service_runtime::run_service("ratings", ratings::Config::from_env, ratings::app).await
}
