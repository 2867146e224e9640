//! What a product page says, read the way a person reading Istio's tasks reads it: which
//! reviews pod served it, the colour of the stars, and which blocks show an error. Reads this
//! project's page and the original's (`<font color="red">` stars, the served-by line split
//! over tags).

use serde::Serialize;

/// The star colour of a page: reviews v1 shows none, v2 black, v3 red.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Stars {
    None,
    Black,
    Red,
}

impl Stars {
    pub fn name(self) -> &'static str {
        match self {
            Self::None => "none",
            Self::Black => "black",
            Self::Red => "red",
        }
    }

    /// As the table says it: `no stars`, `black stars`, `red stars`.
    pub fn phrase(self) -> &'static str {
        match self {
            Self::None => "no stars",
            Self::Black => "black stars",
            Self::Red => "red stars",
        }
    }
}

/// One page's reading.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reading {
    /// Whether the answer is a Bookinfo product page at all (its title, in this project's
    /// page and the original's): a misrouted 200 is not a healthy page.
    pub product_page: bool,
    /// "Reviews served by:" — the reviews pod (and version) behind the page.
    pub reviews_pod: Option<String>,
    pub stars: Stars,
    pub details_error: bool,
    pub reviews_error: bool,
    pub ratings_unavailable: bool,
}

impl Reading {
    /// Whether the page is not a product page, or any of its blocks shows an error.
    pub fn degraded(&self) -> bool {
        !self.product_page || self.details_error || self.reviews_error || self.ratings_unavailable
    }
}

const SERVED_BY: &str = "Reviews served by:";

const TITLE: &str = "<title>Simple Bookstore App</title>";

/// The product's description, on every product page (ours and the original's) and on no
/// other page of the site: the start page has the same title.
const PRODUCT: &str = "Wikipedia Summary";

/// The longest pod name kept: a Kubernetes pod name is a DNS subdomain, but the ones a
/// Deployment makes stay well under this; longer text is not a pod's name.
const MAX_POD_NAME_CHARS: usize = 100;

/// Reads a product page's HTML.
pub fn read(html: &str) -> Reading {
    let stars = if html.contains("text-red-500") || html.contains(r#"<font color="red">"#) {
        Stars::Red
    } else if html.contains("text-black-500") || html.contains(r#"<font color="black">"#) {
        Stars::Black
    } else {
        Stars::None
    };
    Reading {
        product_page: html.contains(TITLE) && html.contains(PRODUCT),
        reviews_pod: served_by(html),
        stars,
        details_error: html.contains("Error fetching product details"),
        reviews_error: html.contains("Error fetching product reviews"),
        ratings_unavailable: html.contains("Ratings service is currently unavailable"),
    }
}

/// The first word after "Reviews served by:", tags skipped.
fn served_by(html: &str) -> Option<String> {
    let after = &html[html.find(SERVED_BY)? + SERVED_BY.len()..];
    let mut text = String::new();
    let mut in_tag = false;
    for c in after.chars().take(400) {
        match c {
            '<' => in_tag = true,
            '>' => in_tag = false,
            _ if in_tag => {}
            c if c.is_whitespace() && !text.is_empty() => break,
            // The report goes to a terminal: no escape sequences from a page.
            c if c.is_whitespace() || c.is_control() => {}
            c if text.chars().count() < MAX_POD_NAME_CHARS => text.push(c),
            _ => {}
        }
    }
    (!text.is_empty()).then_some(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn our_page_and_the_originals_read_alike() {
        let ours = r#"<title>Simple Bookstore App</title>Wikipedia Summary<div class="stars text-red-500" role="img"></div>
          <div class="served-by">Reviews served by: reviews-v3-7d9 on cluster <span class="cluster">c1</span></div>"#;
        let original = r#"<title>Simple Bookstore App</title>Wikipedia Summary<font color="red"><span class="glyphicon glyphicon-star"></span></font>
            <dd><u>Reviews served by:</u>
            <u>reviews-v3-5c8f</u></dd>"#;
        for (html, pod) in [(ours, "reviews-v3-7d9"), (original, "reviews-v3-5c8f")] {
            let reading = read(html);
            assert_eq!(reading.stars, Stars::Red);
            assert_eq!(reading.reviews_pod.as_deref(), Some(pod));
            assert!(!reading.degraded());
        }
    }

    #[test]
    fn degraded_blocks_are_read() {
        let html =
            "<p>Error fetching product details</p><p>Ratings service is currently unavailable</p>";
        let reading = read(html);
        assert!(reading.details_error && reading.ratings_unavailable && !reading.reviews_error);
        assert_eq!(reading.stars, Stars::None);
        assert_eq!(reading.reviews_pod, None);
    }

    #[test]
    fn a_page_that_is_not_bookinfos_is_degraded_and_pod_names_are_clean() {
        let reading = read("ok");
        assert!(!reading.product_page && reading.degraded());
        assert!(!read(TITLE).product_page, "the start page");
        let hostile = format!(
            "{TITLE}{PRODUCT}Reviews served by: reviews-v1-\u{1b}[31mPWN{}",
            "x".repeat(500)
        );
        let pod = read(&hostile).reviews_pod.unwrap();
        assert!(pod.starts_with("reviews-v1-[31mPWN") && !pod.contains('\u{1b}'));
        assert_eq!(pod.chars().count(), MAX_POD_NAME_CHARS);
    }
}
