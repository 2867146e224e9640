//! Helpers for the cross-service tests: the whole application on 127.0.0.1:0, productpage in
//! front of stubs, and a lock that keeps the heavy suites apart.

pub mod abuse;
pub mod browser;
pub mod otlp;
pub mod zipkin;

use bookinfo::{Bookinfo, LaunchOptions};
use service_runtime::RunningServer;

pub use test_kit::page::{config, count, empty_stars, full_stars, sign_in};
pub use test_kit::{Answer, Stub, closed_port, fetch, get, http_client as client, serve};

/// The real services, wired together on ephemeral ports.
pub async fn whole_app() -> Bookinfo {
    launch(LaunchOptions::default()).await
}

pub async fn launch(options: LaunchOptions) -> Bookinfo {
    bookinfo::launch(options)
        .await
        .expect("the whole application starts")
}

/// productpage with `config`, on 127.0.0.1:0.
pub async fn productpage(config: productpage::Config) -> RunningServer {
    serve(productpage::app(config).expect("productpage builds")).await
}

/// Held by the tests that each load the whole machine (containers, the browser), so that on
/// 2 cores they never run at the same time.
pub struct HeavySuite {
    _guard: std::sync::MutexGuard<'static, ()>,
}

/// Waits for the other heavy tests to finish. Every test runs on its own thread with its own
/// runtime, so the blocking wait holds up only the test that waits.
pub fn heavy_suite() -> HeavySuite {
    static LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());
    HeavySuite {
        _guard: LOCK
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner),
    }
}
