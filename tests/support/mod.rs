//! Helpers for the cross-service tests: start services on 127.0.0.1:0, fetch pages, count.
#![allow(dead_code)]

pub mod otlp;
pub mod webdriver;

use std::time::Duration;

use bookinfo::{Bookinfo, LaunchOptions};
use productpage::{CallPolicy, Config};
use reqwest::{Client, redirect::Policy};
use service_runtime::{Env, RunningServer, testing};

#[allow(unused_imports)]
pub use service_runtime::testing::{Answer, Stub, closed_port};

/// The real services, wired together on ephemeral ports.
pub async fn whole_app() -> Bookinfo {
    bookinfo::launch(LaunchOptions {
        port: 0,
        env: Env::default(),
    })
    .await
    .expect("the whole application starts")
}

/// productpage's configuration pointed at the given backends, with short test timeouts.
pub fn config(details: String, reviews: Vec<String>, ratings: String) -> Config {
    let mut config = Config::from_env(&Env::default()).expect("defaults parse");
    config.details_url = details;
    config.reviews_urls = reviews;
    config.ratings_url = ratings;
    let short = |attempts| CallPolicy {
        timeout: Duration::from_millis(400),
        attempts,
    };
    config.details_call = short(1);
    config.reviews_call = short(2);
    config.ratings_call = short(1);
    config
}

pub async fn productpage(config: Config) -> RunningServer {
    RunningServer::start_local(productpage::app(config))
        .await
        .expect("productpage starts")
}

/// A client that does not follow redirects, so tests see login's 302.
pub fn client() -> Client {
    let _ = testing::http_client();
    Client::builder()
        .no_proxy()
        .redirect(Policy::none())
        .build()
        .expect("client builds")
}

pub struct Fetched {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub body: String,
}

pub async fn fetch(request: reqwest::RequestBuilder) -> Fetched {
    let response = request.send().await.expect("request is answered");
    Fetched {
        status: response.status().as_u16(),
        headers: response.headers().clone(),
        body: response.text().await.expect("body reads"),
    }
}

pub async fn get(url: String) -> Fetched {
    fetch(client().get(url)).await
}

pub fn count(haystack: &str, needle: &str) -> usize {
    haystack.matches(needle).count()
}

/// Full stars on a page: each carries the class the docs grep for.
pub fn full_stars(page: &str) -> usize {
    count(page, "glyphicon glyphicon-star")
}

pub fn empty_stars(page: &str) -> usize {
    count(page, "class=\"star-outline\"")
}

/// Signs in through productpage and returns the `Cookie` header value to send afterwards.
pub async fn sign_in(productpage: &str, user: &str) -> String {
    let response = fetch(
        client()
            .post(format!("{productpage}/login"))
            .form(&[("username", user), ("passwd", "anything")]),
    )
    .await;
    assert_eq!(response.status, 302, "{}", response.body);
    let set_cookie = response.headers["set-cookie"]
        .to_str()
        .expect("ascii cookie");
    set_cookie.split(';').next().expect("name=value").to_owned()
}
