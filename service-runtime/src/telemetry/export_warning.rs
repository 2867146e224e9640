//! A failed span export, reported as a user reads it: one warning per outage, naming the
//! service and the collector's endpoint, and one line when export works again. The SDK's batch
//! processor would log an error of its own for every batch it could not send, without either
//! name; this wrapper reports instead and tells the SDK the batch is done (its spans are
//! dropped either way).

use std::{
    sync::atomic::{AtomicBool, Ordering},
    time::Duration,
};

use opentelemetry_sdk::{
    Resource,
    error::OTelSdkResult,
    trace::{SpanData, SpanExporter},
};

/// `inner`, its failures reported.
#[derive(Debug)]
pub struct ReportedExporter<E> {
    inner: E,
    service: String,
    endpoint: String,
    failing: AtomicBool,
}

impl<E> ReportedExporter<E> {
    pub fn new(inner: E, service: &str, endpoint: &str) -> Self {
        Self {
            inner,
            service: service.to_owned(),
            endpoint: endpoint.to_owned(),
            failing: AtomicBool::new(false),
        }
    }

    /// Records the outcome of one export; `true` when it starts or ends an outage (the
    /// outcome was then logged).
    fn report(&self, result: &OTelSdkResult) -> bool {
        match result {
            Err(err) => {
                let first = !self.failing.swap(true, Ordering::Relaxed);
                if first {
                    tracing::warn!(
                        service = %self.service,
                        endpoint = %self.endpoint,
                        %err,
                        "span export failed: spans are dropped until the collector answers \
                         (this is said once per outage)"
                    );
                }
                first
            }
            Ok(()) => {
                let recovered = self.failing.swap(false, Ordering::Relaxed);
                if recovered {
                    tracing::info!(
                        service = %self.service,
                        endpoint = %self.endpoint,
                        "span export works again"
                    );
                }
                recovered
            }
        }
    }
}

impl<E: SpanExporter> SpanExporter for ReportedExporter<E> {
    async fn export(&self, batch: Vec<SpanData>) -> OTelSdkResult {
        let result = self.inner.export(batch).await;
        self.report(&result);
        Ok(())
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        self.inner.shutdown_with_timeout(timeout)
    }

    fn force_flush(&self) -> OTelSdkResult {
        self.inner.force_flush()
    }

    fn set_resource(&mut self, resource: &Resource) {
        self.inner.set_resource(resource);
    }
}

#[cfg(test)]
mod tests {
    use opentelemetry_sdk::error::OTelSdkError;

    use super::*;

    #[test]
    fn an_outage_is_reported_once_and_its_end_once() {
        let exporter = ReportedExporter::new((), "details", "http://jaeger:4318/v1/traces");
        let failed = || Err(OTelSdkError::InternalFailure("connection refused".into()));
        assert!(!exporter.report(&Ok(())));
        assert!(exporter.report(&failed()));
        assert!(!exporter.report(&failed()));
        assert!(!exporter.report(&failed()));
        assert!(exporter.report(&Ok(())));
        assert!(!exporter.report(&Ok(())));
        assert!(exporter.report(&failed()));
    }
}
