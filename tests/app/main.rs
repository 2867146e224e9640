//! Cross-service tests, one binary with a module per suite: the whole application over real
//! HTTP, telemetry, the manifests, the mesh behind real Envoy sidecars, the container images,
//! and the browser. Each service's own
//! tests live in its crate.
//!
//! `cargo test --test app manifests::` runs one suite.

mod browser;
mod containers;
mod database;
mod layout;
mod links;
mod manifests;
mod mesh;
mod pod_limit;
mod scripts;
mod support;
mod telemetry;
mod traffic;
mod whole_app;
