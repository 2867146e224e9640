//! A hand-written HTTP/2 client for the attacks: frames, prefaces and requests written byte by
//! byte (windows shut, streams left open), and hyper's client where an ordinary one will do.

use super::*;

/// One HTTP/2 frame.
pub(super) fn h2_frame(stream: u8, kind: u8, flags: u8, payload: &[u8]) -> Vec<u8> {
    let len = payload.len();
    let mut bytes = vec![(len >> 16) as u8, (len >> 8) as u8, len as u8, kind, flags];
    bytes.extend_from_slice(&[0, 0, 0, stream]);
    bytes.extend_from_slice(payload);
    bytes
}

/// The preface and SETTINGS with SETTINGS_INITIAL_WINDOW_SIZE `window`.
pub(super) fn h2_preface(window: u8) -> Vec<u8> {
    let mut bytes = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".to_vec();
    bytes.extend(h2_frame(0, 4, 0, &[0, 4, 0, 0, 0, window]));
    bytes
}

/// A HEADERS block for `GET http://x{path}` (HPACK, nothing indexed).
pub(super) fn h2_get(path: &str) -> Vec<u8> {
    let mut block = vec![0x82, 0x86, 0x04, path.len() as u8];
    block.extend_from_slice(path.as_bytes());
    block.extend_from_slice(&[0x01, 1, b'x']);
    block
}

/// Reads frames until one of `kind` on `stream` (and, with `end`, END_STREAM set); `false`
/// if the connection closed first.
pub(super) async fn h2_read_until(
    connection: &mut TcpStream,
    stream: u8,
    kinds: &[u8],
    end: bool,
) -> bool {
    let mut header = [0_u8; 9];
    loop {
        match tokio::time::timeout(WITHIN, connection.read_exact(&mut header)).await {
            Ok(Ok(_)) => {}
            Ok(Err(_)) => return false,
            Err(_) => panic!("no frame in {WITHIN:?}"),
        }
        let len =
            usize::from(header[0]) << 16 | usize::from(header[1]) << 8 | usize::from(header[2]);
        let mut payload = vec![0_u8; len];
        if connection.read_exact(&mut payload).await.is_err() {
            return false;
        }
        if kinds.contains(&header[3]) && (!end || header[4] & 1 != 0) && header[8] == stream {
            return true;
        }
    }
}

/// Reads frames until the server ends `stream` (END_STREAM on HEADERS or DATA).
pub(super) async fn h2_read_until_end(connection: &mut TcpStream, stream: u8) {
    assert!(
        h2_read_until(connection, stream, &[0, 1], true).await,
        "closed before stream {stream} ended"
    );
}

/// A new HTTP/2 connection whose client grants each stream `window` bytes
/// (SETTINGS_INITIAL_WINDOW_SIZE) and asks for `path` on streams 1, 3, …, `requests` of them.
/// With a window of 0 no answer body moves; with 1, hyper hands h2 the whole answer, which
/// then waits for window updates that never come.
pub(super) async fn http2_asking(
    addr: SocketAddr,
    window: u8,
    path: &str,
    requests: u8,
) -> TcpStream {
    let mut bytes = h2_preface(window);
    for stream in (0..requests).map(|n| 2 * n + 1) {
        bytes.extend(h2_frame(stream, 1, 5, &h2_get(path)));
    }
    let mut connection = connect(addr).await;
    connection.write_all(&bytes).await.expect("sends");
    connection
}

/// Sends `frame` every 100 ms until the server closes the connection (`true`) or
/// [`WITHIN`] passes (`false`), reading what arrives meanwhile.
pub(super) async fn closed_while_sending_every_100_ms(
    connection: &mut TcpStream,
    frame: &[u8],
) -> bool {
    let started = Instant::now();
    let mut buffer = [0_u8; 4096];
    loop {
        if connection.write_all(frame).await.is_err() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        match tokio::time::timeout(Duration::from_millis(10), connection.read(&mut buffer)).await {
            Ok(Ok(0) | Err(_)) => return true,
            _ if started.elapsed() > WITHIN => return false,
            _ => {}
        }
    }
}

/// Asks `request` on new connections until the answer starts with `status_line`; fails
/// after [`WITHIN`].
pub(super) async fn ask_until(addr: SocketAddr, request: &[u8], status_line: &str, why: &str) {
    let deadline = Instant::now() + WITHIN;
    loop {
        let answer = ask(addr, request).await;
        if answer.starts_with(status_line) {
            return;
        }
        assert!(Instant::now() < deadline, "{why}: {answer}");
    }
}

/// An HTTP/2 client connection to `addr` with prior knowledge, as a sidecar opens one.
pub(super) async fn http2_client(
    addr: SocketAddr,
) -> hyper::client::conn::http2::SendRequest<Empty<Bytes>> {
    let (sender, connection) = hyper::client::conn::http2::handshake(
        TokioExecutor::new(),
        TokioIo::new(connect(addr).await),
    )
    .await
    .expect("the HTTP/2 handshake succeeds");
    tokio::spawn(connection);
    sender
}
