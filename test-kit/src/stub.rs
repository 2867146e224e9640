//! A stub backend that records what arrives and answers what it is told.

use std::{
    net::SocketAddr,
    sync::{
        Arc, Mutex,
        atomic::{AtomicUsize, Ordering},
    },
    time::Duration,
};

use axum::{
    Router,
    extract::{ConnectInfo, Request, State},
    http::{HeaderMap, Method, StatusCode, header},
    response::{IntoResponse, Response},
};

use service_runtime::RunningServer;

/// One request the stub received.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub method: Method,
    /// Path and query.
    pub uri: String,
    pub headers: HeaderMap,
    /// The client's address: a new port means a new connection.
    pub peer: SocketAddr,
}

/// What the stub answers.
#[derive(Debug, Clone)]
pub struct Answer {
    pub status: StatusCode,
    pub body: String,
    /// Wait this long before answering (a slow or hanging backend).
    pub delay: Duration,
}

impl Answer {
    pub fn json(status: u16, body: &str) -> Self {
        Self {
            status: StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            body: body.to_owned(),
            delay: Duration::ZERO,
        }
    }

    pub fn delayed(mut self, delay: Duration) -> Self {
        self.delay = delay;
        self
    }
}

struct StubState {
    answer: Mutex<Answer>,
    log: Mutex<Vec<Recorded>>,
    in_progress: AtomicUsize,
    most_in_progress: AtomicUsize,
}

/// A recording HTTP backend on 127.0.0.1.
pub struct Stub {
    server: RunningServer,
    state: Arc<StubState>,
}

impl Stub {
    pub async fn start(answer: Answer) -> std::io::Result<Self> {
        let state = Arc::new(StubState {
            answer: Mutex::new(answer),
            log: Mutex::new(Vec::new()),
            in_progress: AtomicUsize::new(0),
            most_in_progress: AtomicUsize::new(0),
        });
        let app = Router::new().fallback(respond).with_state(state.clone());
        Ok(Self {
            server: RunningServer::start_local(app).await?,
            state,
        })
    }

    pub fn url(&self) -> String {
        self.server.url()
    }

    pub fn port(&self) -> u16 {
        self.server.addr().port()
    }

    pub fn set_answer(&self, answer: Answer) {
        *self.state.answer.lock().unwrap_or_else(|p| p.into_inner()) = answer;
    }

    pub fn requests(&self) -> Vec<Recorded> {
        self.state
            .log
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// The most requests the stub has been answering at once.
    pub fn most_in_progress(&self) -> usize {
        self.state.most_in_progress.load(Ordering::SeqCst)
    }

    pub async fn stop(self) -> std::io::Result<()> {
        self.server.stop().await
    }
}

async fn respond(
    State(state): State<Arc<StubState>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    request: Request,
) -> Response {
    let recorded = Recorded {
        peer,
        method: request.method().clone(),
        uri: request.uri().to_string(),
        headers: request.headers().clone(),
    };
    state
        .log
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .push(recorded);
    let answer = state
        .answer
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .clone();
    let now = state.in_progress.fetch_add(1, Ordering::SeqCst) + 1;
    state.most_in_progress.fetch_max(now, Ordering::SeqCst);
    if !answer.delay.is_zero() {
        tokio::time::sleep(answer.delay).await;
    }
    state.in_progress.fetch_sub(1, Ordering::SeqCst);
    (
        answer.status,
        [(header::CONTENT_TYPE, "application/json")],
        answer.body,
    )
        .into_response()
}
