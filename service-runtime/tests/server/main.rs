//! The server's connection handling over real sockets: the three connection timers, the
//! body timer, h2c, the Host rule, the connection cap, `/ready`, and shutdown.

mod bounds;
mod h2_client;
mod http2;
mod lifecycle;
mod requests;
mod timers;

use std::{
    net::SocketAddr,
    time::{Duration, Instant},
};

use axum::{Router, http::StatusCode, routing::get};
use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper_util::rt::{TokioExecutor, TokioIo};
use service_runtime::{
    RunningServer,
    server::{ServerArgs, UNSENT_REFUSALS_PER_PLACE},
};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::{TcpListener, TcpStream},
};

/// Larger than any socket buffer pair, so a client that stops reading stalls the answer.
const BIG_ANSWER: usize = 32 * 1024 * 1024;

/// Generous: these tests show that a timer fires, not how precisely.
const WITHIN: Duration = Duration::from_secs(10);

fn app() -> Router {
    Router::new()
        .route("/health", get(|| async { "ok" }))
        .route(
            "/hello",
            get(|| async { "hello" }).post(|body: Bytes| async move { body }),
        )
        .route(
            "/slow",
            get(|| async {
                tokio::time::sleep(Duration::from_millis(300)).await;
                "slow"
            }),
        )
        .route("/big", get(|| async { vec![b'x'; BIG_ANSWER] }))
        .route(
            "/cookies",
            get(|headers: axum::http::HeaderMap| async move {
                let fields: Vec<_> = headers
                    .get_all("cookie")
                    .iter()
                    .map(|value| String::from_utf8_lossy(value.as_bytes()).into_owned())
                    .collect();
                format!("{} field(s): {}", fields.len(), fields.join(" | "))
            }),
        )
        .route(
            "/forever",
            get(|| async {
                tokio::time::sleep(Duration::from_secs(3600)).await;
                "never"
            }),
        )
}

fn quick_shutdown() -> ServerArgs {
    ServerArgs {
        shutdown_delay: Duration::ZERO,
        drain_timeout: Duration::from_secs(5),
        ..ServerArgs::default()
    }
}

async fn start(args: ServerArgs) -> RunningServer {
    start_app(app(), args).await
}

async fn start_app(app: Router, args: ServerArgs) -> RunningServer {
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .expect("a local port");
    RunningServer::start_with(listener, app, args).expect("the server starts")
}

/// Reads until the server closes the connection; returns what arrived and when it closed.
async fn read_until_closed(stream: &mut TcpStream) -> (String, Instant) {
    let mut received = Vec::new();
    let read = tokio::time::timeout(WITHIN, stream.read_to_end(&mut received)).await;
    assert!(
        read.is_ok(),
        "the connection is still open after {WITHIN:?}"
    );
    (
        String::from_utf8_lossy(&received).into_owned(),
        Instant::now(),
    )
}

/// Reads one whole answer (headers and a Content-Length body) off a keep-alive connection.
async fn read_answer(stream: &mut TcpStream) -> String {
    let mut received = Vec::new();
    let mut chunk = [0_u8; 4096];
    loop {
        let text = String::from_utf8_lossy(&received).into_owned();
        if let Some((head, body)) = text.split_once("\r\n\r\n") {
            let length = head
                .lines()
                .find_map(|line| {
                    let (name, value) = line.split_once(':')?;
                    name.eq_ignore_ascii_case("content-length")
                        .then(|| value.trim().parse::<usize>().ok())?
                })
                .unwrap_or(0);
            if body.len() >= length {
                return text;
            }
        }
        let n = tokio::time::timeout(WITHIN, stream.read(&mut chunk))
            .await
            .expect("an answer in time")
            .expect("the connection reads");
        assert!(n > 0, "closed before a whole answer: {text:?}");
        received.extend_from_slice(&chunk[..n]);
    }
}

async fn connect(addr: SocketAddr) -> TcpStream {
    TcpStream::connect(addr).await.expect("the server accepts")
}

/// `count` new connections, each having sent `bytes`.
async fn open_sending(addr: SocketAddr, count: usize, bytes: &[u8]) -> Vec<TcpStream> {
    let mut streams = Vec::new();
    for _ in 0..count {
        let mut stream = connect(addr).await;
        stream.write_all(bytes).await.expect("sends");
        streams.push(stream);
    }
    streams
}

/// Sends `request` on a new connection and reads the whole answer.
async fn ask(addr: SocketAddr, request: &[u8]) -> String {
    let mut stream = connect(addr).await;
    stream.write_all(request).await.expect("sends");
    read_answer(&mut stream).await
}
