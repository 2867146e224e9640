//! Asking a service under test, and a port on which nothing listens.

use service_runtime::{App, RunningServer};

/// A plain HTTP client for tests: no proxy, no redirects followed, so tests see a 302.
pub fn http_client() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap_or_else(|_| reqwest::Client::new())
}

/// What a test request got back.
#[derive(Debug)]
pub struct Fetched {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub body: String,
}

impl Fetched {
    /// The `Content-Type`, or "" without one.
    pub fn content_type(&self) -> &str {
        self.headers
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    }

    /// (status, content type, body).
    pub fn parts(self) -> (u16, String, String) {
        (self.status, self.content_type().to_owned(), self.body)
    }

    /// (status, body).
    pub fn status_and_body(self) -> (u16, String) {
        (self.status, self.body)
    }

    /// The body as JSON; panics (failing the test) when it is not.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body)
            .unwrap_or_else(|err| panic!("not JSON ({err}): {}", self.body))
    }
}

/// Sends `request` and reads the whole answer; panics (failing the test) when there is none.
pub async fn fetch(request: reqwest::RequestBuilder) -> Fetched {
    let response = request.send().await.expect("request is answered");
    Fetched {
        status: response.status().as_u16(),
        headers: response.headers().clone(),
        body: response.text().await.expect("body reads"),
    }
}

/// `GET url` with [`http_client`].
pub async fn get(url: impl AsRef<str>) -> Fetched {
    fetch(http_client().get(url.as_ref())).await
}

/// `POST url` with `body`.
pub async fn post(url: impl AsRef<str>, body: &'static str) -> Fetched {
    fetch(http_client().post(url.as_ref()).body(body)).await
}

/// `GET url`, which must answer `application/json`: (status, the parsed body).
pub async fn get_json(url: impl AsRef<str>) -> (u16, serde_json::Value) {
    let fetched = get(url).await;
    assert_eq!(fetched.content_type(), "application/json", "{fetched:?}");
    (fetched.status, fetched.json())
}

/// Serves `app` on 127.0.0.1:0; panics (failing the test) when it cannot.
pub async fn serve(app: impl Into<App>) -> RunningServer {
    RunningServer::start_local(app)
        .await
        .expect("the service starts on 127.0.0.1:0")
}

/// A local port that refuses connections: bound, then released.
pub async fn closed_port() -> std::io::Result<u16> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    Ok(listener.local_addr()?.port())
}

/// `GET url` over HTTP/2 with prior knowledge (h2c), as a sidecar speaks to an `http2` port,
/// with `headers` sent as separate fields in order (a name may repeat); panics (failing the
/// test) when there is no answer.
pub async fn get_over_h2c(url: &str, headers: &[(&str, &str)]) -> Fetched {
    use http_body_util::{BodyExt, Empty};
    let uri: axum::http::Uri = url.parse().expect("a test URL");
    let authority = uri
        .authority()
        .expect("a URL with a host")
        .as_str()
        .to_owned();
    let stream = tokio::net::TcpStream::connect(authority)
        .await
        .expect("the server listens");
    let (mut sender, connection) = hyper::client::conn::http2::handshake(
        hyper_util::rt::TokioExecutor::new(),
        hyper_util::rt::TokioIo::new(stream),
    )
    .await
    .expect("the HTTP/2 handshake succeeds");
    tokio::spawn(connection);
    let mut request = axum::http::Request::get(uri);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let request = request
        .body(Empty::<bytes::Bytes>::new())
        .expect("a request");
    let response = sender.send_request(request).await.expect("answered");
    let (parts, body) = response.into_parts();
    let body = body.collect().await.expect("a body").to_bytes();
    Fetched {
        status: parts.status.as_u16(),
        headers: parts.headers,
        body: String::from_utf8_lossy(&body).into_owned(),
    }
}
