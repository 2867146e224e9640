//! The loads and attacks that once took services past their pods' 64 MiB, as a client sends
//! them: ordinary keep-alive load, unfinished big heads, slow bodies (each over HTTP/1.1 and
//! h2c), and a `/health` prober that must keep being answered within a second throughout.
//! Every loop is bounded in count and time, and targets only 127.0.0.1.

mod prober;

pub use prober::HealthProber;

use std::{
    collections::BTreeMap,
    net::SocketAddr,
    sync::{Arc, Mutex},
    time::Duration,
};

use bytes::Bytes;
use http_body_util::{BodyExt, Empty, StreamBody};
use hyper::{Request, body::Frame};
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::{
    io::AsyncWriteExt,
    net::TcpStream,
    sync::mpsc,
    task::JoinSet,
    time::{Instant, timeout},
};

/// Which protocol a scenario speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    Http1,
    /// HTTP/2 with prior knowledge, as a sidecar speaks to a port named `http2`.
    H2c,
}

/// What a load got back: answers by status, and requests that got none.
#[derive(Debug, Default, Clone)]
pub struct Tally {
    pub statuses: BTreeMap<u16, u64>,
    pub unanswered: u64,
    pub first_error: Option<String>,
}

impl Tally {
    fn answered(&mut self, status: u16) {
        *self.statuses.entry(status).or_default() += 1;
    }

    fn failed(&mut self, why: String) {
        self.unanswered += 1;
        self.first_error.get_or_insert(why);
    }

    fn merge(&mut self, other: Tally) {
        for (status, n) in other.statuses {
            *self.statuses.entry(status).or_default() += n;
        }
        self.unanswered += other.unanswered;
        if self.first_error.is_none() {
            self.first_error = other.first_error;
        }
    }

    /// Answers that were neither 2xx nor the documented overload 503.
    pub fn unexpected(&self) -> u64 {
        self.statuses
            .iter()
            .filter(|(status, _)| !(200..300).contains(*status) && **status != 503)
            .map(|(_, n)| n)
            .sum()
    }

    pub fn total(&self) -> u64 {
        self.statuses.values().sum::<u64>() + self.unanswered
    }
}

/// Raises this process's open-file limit to its hard limit (a thousand connections need more
/// than the usual 1,024 soft limit), and says so.
pub fn raise_open_file_limit() {
    let raised = service_runtime::server::raise_open_file_limit();
    eprintln!("abuse client: open-file limit raised to {raised:?}");
}

/// The shape of a load: how many streams share an h2c connection, and the size of an
/// `X-Pad` field on every request (0: none).
#[derive(Debug, Clone, Copy)]
pub struct Shape {
    pub streams_per_h2c_connection: usize,
    pub pad: usize,
}

impl Shape {
    /// Ordinary requests: ten streams per h2c connection, small heads.
    pub const ORDINARY: Self = Self {
        streams_per_h2c_connection: 10,
        pad: 0,
    };
}

/// (1) `connections` clients each sending `GET path` in a loop for `duration`: one keep-alive
/// connection per client on HTTP/1.1 (a sidecar opens one per concurrent request), or
/// `connections` concurrent streams over fewer connections on h2c, as `shape` says. A client
/// whose connection closes opens another.
pub async fn ordinary_load(
    addr: SocketAddr,
    path: &str,
    connections: usize,
    duration: Duration,
    protocol: Protocol,
    shape: Shape,
) -> Tally {
    let deadline = Instant::now() + duration;
    let mut clients = JoinSet::new();
    let per_connection = match protocol {
        Protocol::Http1 => 1,
        Protocol::H2c => shape.streams_per_h2c_connection.max(1),
    };
    let pad = "a".repeat(shape.pad);
    for _ in 0..connections.div_ceil(per_connection) {
        let path = path.to_owned();
        let pad = pad.clone();
        clients.spawn(async move {
            let mut tally = Tally::default();
            while Instant::now() < deadline {
                match connect(addr, protocol).await {
                    Ok(sender) => {
                        let mut streams = JoinSet::new();
                        for _ in 0..per_connection {
                            let (sender, path) = (sender.clone(), path.clone());
                            streams.spawn(keep_asking(sender, path, pad.clone(), deadline));
                        }
                        while let Some(done) = streams.join_next().await {
                            tally.merge(done.unwrap_or_default());
                        }
                    }
                    Err(why) => {
                        tally.failed(why);
                        tokio::time::sleep(Duration::from_millis(50)).await;
                    }
                }
            }
            tally
        });
    }
    let mut tally = Tally::default();
    while let Some(done) = clients.join_next().await {
        tally.merge(done.unwrap_or_default());
    }
    tally
}

/// A request sender of either protocol.
#[derive(Clone)]
enum Sender {
    Http1(Arc<tokio::sync::Mutex<hyper::client::conn::http1::SendRequest<Empty<Bytes>>>>),
    H2c(hyper::client::conn::http2::SendRequest<Empty<Bytes>>),
}

async fn connect(addr: SocketAddr, protocol: Protocol) -> Result<Sender, String> {
    let stream = timeout(Duration::from_secs(5), TcpStream::connect(addr))
        .await
        .map_err(|_| "connect timed out".to_owned())?
        .map_err(|err| format!("connect: {err}"))?;
    let io = TokioIo::new(stream);
    match protocol {
        Protocol::Http1 => {
            let (sender, connection) = hyper::client::conn::http1::handshake(io)
                .await
                .map_err(|err| format!("handshake: {err}"))?;
            tokio::spawn(connection);
            Ok(Sender::Http1(Arc::new(tokio::sync::Mutex::new(sender))))
        }
        Protocol::H2c => {
            let (sender, connection) =
                hyper::client::conn::http2::handshake(TokioExecutor::new(), io)
                    .await
                    .map_err(|err| format!("handshake: {err}"))?;
            tokio::spawn(connection);
            Ok(Sender::H2c(sender))
        }
    }
}

/// Sends `GET path` (with an `X-Pad: pad` field unless `pad` is empty) until the deadline or
/// the connection fails or closes.
async fn keep_asking(sender: Sender, path: String, pad: String, deadline: Instant) -> Tally {
    let mut tally = Tally::default();
    while Instant::now() < deadline {
        let mut request = Request::get(path.as_str()).header("host", "localhost");
        if !pad.is_empty() {
            request = request.header("x-pad", pad.as_str());
        }
        let request = request.body(Empty::<Bytes>::new());
        let Ok(request) = request else {
            tally.failed("request build".to_owned());
            break;
        };
        let answer = match &sender {
            Sender::Http1(sender) => {
                let mut sender = sender.lock().await;
                if sender.ready().await.is_err() {
                    break;
                }
                timeout(Duration::from_secs(30), sender.send_request(request)).await
            }
            Sender::H2c(sender) => {
                // After the server's GOAWAY (it closes a connection that carried a large
                // head), a client asks on a new connection.
                if sender.is_closed() {
                    break;
                }
                let mut sender = sender.clone();
                timeout(Duration::from_secs(30), sender.send_request(request)).await
            }
        };
        match answer {
            Ok(Ok(response)) => {
                let status = response.status().as_u16();
                let close = response
                    .headers()
                    .get("connection")
                    .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"close"));
                match response.into_body().collect().await {
                    Ok(_) => tally.answered(status),
                    Err(err) => tally.failed(format!("body: {err}")),
                }
                if close {
                    break;
                }
            }
            // Never processed (RFC 9113 §8.7): a client retries it on a new connection.
            Ok(Err(err)) if unprocessed(&err) => break,
            Ok(Err(err)) => {
                tally.failed(format!("request: {err}"));
                break;
            }
            Err(_) => {
                tally.failed("no answer in 30 s".to_owned());
                break;
            }
        }
    }
    tally
}

/// Whether a request failed before the server processed it: cancelled before it was sent
/// (the connection was already going away), or refused with REFUSED_STREAM.
fn unprocessed(err: &hyper::Error) -> bool {
    let mut source: Option<&dyn std::error::Error> = Some(err);
    while let Some(error) = source {
        if error.to_string().contains("refused stream") {
            return true;
        }
        source = error.source();
    }
    err.is_canceled()
}

/// (2) `connections` connections that each send a request head with a `pad`-byte field and
/// never finish it; the connections are held until the returned set is dropped.
pub async fn unfinished_heads(
    addr: SocketAddr,
    connections: usize,
    pad: usize,
    protocol: Protocol,
) -> Vec<TcpStream> {
    let mut openers = JoinSet::new();
    for _ in 0..connections {
        openers.spawn(async move {
            let mut stream = TcpStream::connect(addr).await.ok()?;
            let head = match protocol {
                Protocol::Http1 => {
                    let mut head =
                        b"GET /productpage HTTP/1.1\r\nHost: localhost\r\nX-Pad: ".to_vec();
                    head.resize(head.len() + pad, b'a');
                    head
                }
                Protocol::H2c => unfinished_h2_headers(pad),
            };
            // The server may stop reading (or close) long before the end: that is its bound.
            let _ = timeout(Duration::from_secs(5), stream.write_all(&head)).await;
            Some(stream)
        });
    }
    let mut held = Vec::new();
    while let Some(opened) = openers.join_next().await {
        held.extend(opened.ok().flatten());
    }
    held
}

/// The HTTP/2 preface, an empty SETTINGS, and a HEADERS frame followed by CONTINUATION frames
/// carrying an `x-pad` field of `pad` bytes, the last without END_HEADERS.
fn unfinished_h2_headers(pad: usize) -> Vec<u8> {
    const MAX_FRAME: usize = 16_384;
    let mut block = vec![0x82, 0x86, 0x84]; // :method GET, :scheme http, :path /
    block.push(0x00); // a literal field, not indexed, new name
    hpack_integer(&mut block, 0, 7, 5);
    block.extend_from_slice(b"x-pad");
    hpack_integer(&mut block, 0, 7, pad);
    block.resize(block.len() + pad, b'a');
    let mut bytes = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".to_vec();
    bytes.extend_from_slice(&[0, 0, 0, 0x4, 0, 0, 0, 0, 0]); // SETTINGS, empty
    for (index, chunk) in block.chunks(MAX_FRAME).enumerate() {
        let kind = if index == 0 { 0x1 } else { 0x9 };
        let len = chunk.len();
        bytes.extend_from_slice(&[(len >> 16) as u8, (len >> 8) as u8, len as u8, kind, 0]);
        bytes.extend_from_slice(&[0, 0, 0, 1]);
        bytes.extend_from_slice(chunk);
    }
    bytes
}

/// RFC 7541 §5.1's integer with an `prefix_bits`-bit prefix.
fn hpack_integer(out: &mut Vec<u8>, flags: u8, prefix_bits: u32, value: usize) {
    let max = (1usize << prefix_bits) - 1;
    if value < max {
        out.push(flags | value as u8);
        return;
    }
    out.push(flags | max as u8);
    let mut rest = value - max;
    while rest >= 128 {
        out.push((rest % 128) as u8 | 0x80);
        rest /= 128;
    }
    out.push(rest as u8);
}

/// (3) `connections` requests that announce a `Content-Length: 100000` body to `path` and then
/// send one byte every four seconds, for `hold`. On h2c, the requests are streams, ten per
/// connection.
pub async fn slow_bodies(
    addr: SocketAddr,
    path: &str,
    connections: usize,
    hold: Duration,
    protocol: Protocol,
) {
    let deadline = Instant::now() + hold;
    let mut senders = JoinSet::new();
    match protocol {
        Protocol::Http1 => {
            for _ in 0..connections {
                let head = format!(
                    "POST {path} HTTP/1.1\r\nHost: localhost\r\nContent-Type: \
                     application/x-www-form-urlencoded\r\nContent-Length: 100000\r\n\r\n"
                );
                senders.spawn(async move {
                    let Ok(mut stream) = TcpStream::connect(addr).await else {
                        return;
                    };
                    if stream.write_all(head.as_bytes()).await.is_err() {
                        return;
                    }
                    while Instant::now() < deadline {
                        tokio::time::sleep(Duration::from_secs(4)).await;
                        if stream.write_all(b"a").await.is_err() {
                            return;
                        }
                    }
                });
            }
        }
        Protocol::H2c => {
            for _ in 0..connections.div_ceil(10) {
                let path = path.to_owned();
                senders.spawn(async move {
                    let Ok(stream) = TcpStream::connect(addr).await else {
                        return;
                    };
                    let Ok((sender, connection)) = hyper::client::conn::http2::handshake(
                        TokioExecutor::new(),
                        TokioIo::new(stream),
                    )
                    .await
                    else {
                        return;
                    };
                    tokio::spawn(connection);
                    let mut streams = JoinSet::new();
                    for _ in 0..10 {
                        let (mut sender, path) = (sender.clone(), path.clone());
                        streams.spawn(async move {
                            let (bytes, body) = mpsc::channel::<Result<Frame<Bytes>, String>>(1);
                            let body = StreamBody::new(futures_stream(body));
                            let request = Request::post(path.as_str())
                                .header("content-type", "application/x-www-form-urlencoded")
                                .header("content-length", "100000")
                                .body(body);
                            let Ok(request) = request else {
                                return;
                            };
                            let answer = tokio::spawn(sender.send_request(request));
                            while Instant::now() < deadline && !answer.is_finished() {
                                tokio::time::sleep(Duration::from_secs(4)).await;
                                if bytes
                                    .send(Ok(Frame::data(Bytes::from_static(b"a"))))
                                    .await
                                    .is_err()
                                {
                                    break;
                                }
                            }
                            answer.abort();
                        });
                    }
                    while streams.join_next().await.is_some() {}
                });
            }
        }
    }
    while senders.join_next().await.is_some() {}
}

fn futures_stream(
    mut receiver: mpsc::Receiver<Result<Frame<Bytes>, String>>,
) -> impl futures::Stream<Item = Result<Frame<Bytes>, String>> + Unpin {
    Box::pin(futures::stream::poll_fn(move |cx| receiver.poll_recv(cx)))
}
