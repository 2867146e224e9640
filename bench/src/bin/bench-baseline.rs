//! The machine's ceilings, measured in the same run as the services:
//!   bench-baseline hello PORT                      a bare hyper server answering "hello"
//!   bench-baseline leaf PORT                       the same, answering a small JSON document
//!   bench-baseline front PORT LEAF1 LEAF2 fresh|pooled
//!                                                  per request, calls both leaves concurrently
//!                                                  (a fresh connection per call, or pooled)
//!                                                  and answers their bodies
//! No framework, no telemetry: what the services add is measured against these.

use std::{convert::Infallible, net::SocketAddr, process::ExitCode, sync::Arc};

use bytes::Bytes;
use http_body_util::Full;
use hyper::{Request, Response, body::Incoming, server::conn::http1, service::service_fn};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

const LEAF_JSON: &str = r#"{"id":0,"ratings":{"Reviewer1":5,"Reviewer2":4}}"#;

type Body = Full<Bytes>;

async fn serve<F, Fut>(port: u16, handler: F) -> std::io::Result<()>
where
    F: Fn(Request<Incoming>) -> Fut + Clone + Send + 'static,
    Fut: std::future::Future<Output = Response<Body>> + Send,
{
    let listener = TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], port))).await?;
    loop {
        let (stream, _) = listener.accept().await?;
        stream.set_nodelay(true)?;
        let handler = handler.clone();
        tokio::spawn(async move {
            let service = service_fn(move |request| {
                let handler = handler.clone();
                async move { Ok::<_, Infallible>(handler(request).await) }
            });
            let _ = http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

fn text(body: &'static str) -> Response<Body> {
    Response::new(Full::new(Bytes::from_static(body.as_bytes())))
}

#[tokio::main]
async fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let port_at = |i: usize| args.get(i).and_then(|p| p.parse::<u16>().ok());
    let result = match (args.first().map(String::as_str), port_at(1)) {
        (Some("hello"), Some(port)) => serve(port, |_| async { text("hello") }).await,
        (Some("leaf"), Some(port)) => serve(port, |_| async { text(LEAF_JSON) }).await,
        (Some("front"), Some(port)) => {
            let (Some(first), Some(second)) = (port_at(2), port_at(3)) else {
                return usage();
            };
            let mut builder = reqwest::Client::builder().no_proxy().tcp_nodelay(true);
            if args.get(4).map(String::as_str) != Some("pooled") {
                builder = builder.pool_max_idle_per_host(0);
            }
            let Ok(client) = builder.build() else {
                eprintln!("cannot build the HTTP client");
                return ExitCode::FAILURE;
            };
            let leaves = Arc::new([
                format!("http://127.0.0.1:{first}/"),
                format!("http://127.0.0.1:{second}/"),
            ]);
            serve(port, move |_| {
                let (client, leaves) = (client.clone(), leaves.clone());
                async move {
                    let fetch = |url: String| {
                        let client = client.clone();
                        async move { client.get(url).send().await?.bytes().await }
                    };
                    let (a, b) = tokio::join!(fetch(leaves[0].clone()), fetch(leaves[1].clone()));
                    match (a, b) {
                        (Ok(a), Ok(b)) => Response::new(Full::new([a, b].concat().into())),
                        _ => {
                            let mut failed = text("leaf failed");
                            *failed.status_mut() = hyper::StatusCode::BAD_GATEWAY;
                            failed
                        }
                    }
                }
            })
            .await
        }
        _ => return usage(),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("bench-baseline: {err}");
            ExitCode::FAILURE
        }
    }
}

fn usage() -> ExitCode {
    eprintln!("usage: bench-baseline hello|leaf PORT | front PORT LEAF1 LEAF2 fresh|pooled");
    ExitCode::from(2)
}
