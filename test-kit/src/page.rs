//! productpage against given backends with short timeouts, and readers of what the page
//! shows.

use std::time::Duration;

use productpage::Config;
use service_runtime::{CallPolicy, Endpoint, Endpoints};

use crate::{fetch, http_client};

fn endpoints(urls: &[String]) -> Endpoints {
    let list = urls
        .iter()
        .map(|url| url.parse::<Endpoint>().expect("a test backend URL"))
        .collect();
    Endpoints::new(list).expect("at least one test backend")
}

/// productpage calling the given base URLs, with 400 ms timeouts (the real ones are tested
/// on their own) and the original's attempts.
pub fn config(details: String, reviews: Vec<String>, ratings: String) -> Config {
    let mut config = Config::new(
        endpoints(&[details]),
        endpoints(&reviews),
        endpoints(&[ratings]),
    );
    let short = |attempts| CallPolicy::service(Duration::from_millis(400), attempts);
    config.details_call = short(1);
    config.reviews_call = short(2);
    config.ratings_call = short(1);
    config
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

/// Signs in through productpage at `base` and returns the `Cookie` header value to send
/// afterwards.
pub async fn sign_in(base: &str, user: &str) -> String {
    let response = fetch(
        http_client()
            .post(format!("{base}/login"))
            .form(&[("username", user), ("passwd", "anything")]),
    )
    .await;
    assert_eq!(response.status, 302, "{}", response.body);
    let set_cookie = response.headers["set-cookie"]
        .to_str()
        .expect("ascii cookie");
    set_cookie.split(';').next().expect("name=value").to_owned()
}
