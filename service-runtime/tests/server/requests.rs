//! What a request must be: one valid Host, a method the route takes.

use super::*;

#[tokio::test]
async fn http1_requests_need_exactly_one_host() {
    let server = start(quick_shutdown()).await;
    for (request, status) in [
        (&b"GET /hello HTTP/1.1\r\n\r\n"[..], "400"),
        (b"GET /hello HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", "400"),
        (b"GET /hello HTTP/1.0\r\n\r\n", "200"),
        (
            b"GET /hello HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n",
            "200",
        ),
    ] {
        let mut stream = connect(server.addr()).await;
        stream.write_all(request).await.expect("sends");
        let (received, _) = read_until_closed(&mut stream).await;
        assert!(
            received.starts_with(&format!("HTTP/1.1 {status}"))
                || received.starts_with(&format!("HTTP/1.0 {status}")),
            "{:?} → {received}",
            String::from_utf8_lossy(request)
        );
    }
    server.stop().await.expect("stops");
}

#[tokio::test]
async fn an_invalid_host_value_is_a_json_400() {
    let server = start(quick_shutdown()).await;
    for host in ["a b", "::::", "user@evil:80"] {
        let request = format!("GET /hello HTTP/1.1\r\nHost: {host}\r\n\r\n");
        let mut stream = connect(server.addr()).await;
        stream.write_all(request.as_bytes()).await.expect("sends");
        let (answer, _) = read_until_closed(&mut stream).await;
        assert!(answer.starts_with("HTTP/1.1 400"), "{host}: {answer}");
        assert!(answer.contains("application/json"), "{host}: {answer}");
    }
    for host in ["", "[::1]:9080", "my_host", "caf%C3%A9"] {
        let request = format!("GET /hello HTTP/1.1\r\nHost: {host}\r\n\r\n");
        let answer = ask(server.addr(), request.as_bytes()).await;
        assert!(answer.starts_with("HTTP/1.1 200"), "{host:?}: {answer}");
    }
    let absolute = ask(
        server.addr(),
        b"GET http://x/hello HTTP/1.1\r\nHost: a b\r\n\r\n",
    )
    .await;
    assert!(absolute.starts_with("HTTP/1.1 200"), "{absolute}");
    let http10 = ask(server.addr(), b"GET /hello HTTP/1.0\r\nHost: a b\r\n\r\n").await;
    assert!(http10.starts_with("HTTP/1.0 400"), "{http10}");
    server.stop().await.expect("stops");
}

#[tokio::test]
async fn a_wrong_method_is_a_json_405_with_allow() {
    let server = start(quick_shutdown()).await;
    let answer = ask(server.addr(), b"DELETE /hello HTTP/1.1\r\nHost: x\r\n\r\n").await;
    let lower = answer.to_ascii_lowercase();
    assert!(answer.starts_with("HTTP/1.1 405"), "{answer}");
    assert!(lower.contains("allow: get,head,post"), "{answer}");
    assert!(lower.contains("content-type: application/json"), "{answer}");
    assert!(
        answer.ends_with(r#"{"error":"method not allowed"}"#),
        "{answer}"
    );
    server.stop().await.expect("stops");
}
