//! A Zipkin v2 (JSON) receiver for tests, where Envoy's Zipkin tracer reports: its spans become
//! [`ReceivedSpan`]s like the OTLP receivers'.

use std::sync::{Arc, Mutex};

use axum::{Json, Router, extract::State, routing::post};
use serde::Deserialize;
use service_runtime::RunningServer;

use super::otlp::ReceivedSpan;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ZipkinSpan {
    trace_id: String,
    id: String,
    #[serde(default)]
    parent_id: Option<String>,
    #[serde(default)]
    name: String,
    #[serde(default)]
    kind: Option<String>,
    #[serde(default)]
    local_endpoint: Option<Endpoint>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Endpoint {
    #[serde(default)]
    service_name: String,
}

type Received = Arc<Mutex<Vec<ReceivedSpan>>>;

pub struct ZipkinReceiver {
    server: RunningServer,
    spans: Received,
}

async fn receive(State(spans): State<Received>, Json(batch): Json<Vec<ZipkinSpan>>) {
    let mut received = spans.lock().unwrap();
    for span in batch {
        received.push(ReceivedSpan {
            service: span
                .local_endpoint
                .map(|e| e.service_name)
                .unwrap_or_default(),
            version: String::new(),
            name: span.name,
            kind: match span.kind.as_deref() {
                Some("SERVER") => 2,
                Some("CLIENT") => 3,
                _ => 1,
            },
            // 64-bit ids are left-padded, as the OTLP side has them.
            trace_id: format!("{:0>32}", span.trace_id),
            span_id: span.id,
            parent_span_id: span.parent_id.unwrap_or_default(),
            error: false,
            // Envoy's Zipkin spans carry no OpenTelemetry resource.
            sdk: Default::default(),
        });
    }
}

impl ZipkinReceiver {
    pub async fn start() -> Self {
        let spans = Received::default();
        let app = Router::new()
            .route("/api/v2/spans", post(receive))
            .with_state(spans.clone());
        Self {
            server: RunningServer::start_local(app).await.unwrap(),
            spans,
        }
    }

    pub fn addr(&self) -> std::net::SocketAddr {
        self.server.addr()
    }

    pub fn spans(&self) -> Vec<ReceivedSpan> {
        self.spans.lock().unwrap().clone()
    }
}
