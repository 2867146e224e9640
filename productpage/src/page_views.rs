//! `bookinfo_page_views_total{reviews_version, star_color}`: the product pages served, by
//! the reviews version that filled them and the colour of their stars. It is the traffic
//! split as the audience sees it: Istio's metrics count requests to reviews, not what the
//! page then showed (a failed ratings call still shows a page, with no stars).

use prometheus_client::{
    encoding::EncodeLabelSet,
    metrics::{counter::Counter, family::Family},
    registry::Registry,
};

use crate::view::{RatingView, ReviewsView};

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct PageViewLabels {
    /// `v1`, `v2`, `v3` (from reviews' `podname`, `reviews-v2-…`), `unknown`, or
    /// `unavailable` when the page showed the reviews error block.
    reviews_version: String,
    /// `none` (reviews v1), `black`, `red`, `other`, or `unavailable` (ratings failed, or
    /// reviews did).
    star_color: &'static str,
}

/// The page-view counter, registered with the service's metrics.
#[derive(Clone, Debug)]
pub struct PageViews(Family<PageViewLabels, Counter>);

impl PageViews {
    pub fn register(registry: &mut Registry) -> Self {
        let family = Family::default();
        registry.register(
            "bookinfo_page_views",
            "Product pages served, by the reviews version that filled them and their stars' colour",
            family.clone(),
        );
        Self(family)
    }

    /// Counts one page showing `reviews` (`None`: the reviews error block).
    pub fn count(&self, reviews: Option<&ReviewsView>) {
        let labels = match reviews {
            None => PageViewLabels {
                reviews_version: "unavailable".to_owned(),
                star_color: "unavailable",
            },
            Some(view) => PageViewLabels {
                reviews_version: version_in(&view.podname),
                star_color: star_color(view),
            },
        };
        self.0.get_or_create(&labels).inc();
    }
}

/// The `v<digits>` part of a pod name (`reviews-v2-5d8c9f7b9c-x7k2p`), at most four
/// characters so that a label cannot take arbitrary values.
fn version_in(podname: &str) -> String {
    podname
        .split('-')
        .find(|part| {
            part.len() <= 4
                && part.strip_prefix('v').is_some_and(|digits| {
                    !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit())
                })
        })
        .unwrap_or("unknown")
        .to_owned()
}

/// The colour of the page's first rating, from a fixed set.
fn star_color(view: &ReviewsView) -> &'static str {
    match view.cards.first().map(|card| &card.rating) {
        None | Some(RatingView::None) => "none",
        Some(RatingView::Unavailable) => "unavailable",
        Some(RatingView::Stars(stars)) => match stars.color_class.as_str() {
            "text-black-500" => "black",
            "text-red-500" => "red",
            _ => "other",
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_come_from_pod_names_and_stay_few() {
        assert_eq!(version_in("reviews-v2-5d8c9f7b9c-x7k2p"), "v2");
        assert_eq!(version_in("reviews-v3"), "v3");
        assert_eq!(version_in("reviews-v12345-x"), "unknown");
        assert_eq!(version_in("null"), "unknown");
        assert_eq!(version_in("reviews-vx-v"), "unknown");
    }
}
