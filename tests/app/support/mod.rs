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

/// The repository's root (the root package's directory).
pub fn repository_root() -> &'static std::path::Path {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// Files under `dir` whose name ends with one of `suffixes`, sorted, skipping build output
/// and hidden directories.
pub fn files_under(dir: &std::path::Path, suffixes: &[&str]) -> Vec<std::path::PathBuf> {
    let mut found = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return found;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let name = entry.file_name().to_string_lossy().into_owned();
        if path.is_dir() {
            if name != "target" && !name.starts_with('.') {
                found.extend(files_under(&path, suffixes));
            }
        } else if suffixes.iter().any(|suffix| name.ends_with(suffix)) {
            found.push(path);
        }
    }
    found.sort();
    found
}
