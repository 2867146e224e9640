//! The one product Bookinfo sells.

use serde::Serialize;

/// `/api/v1/products` serialises it, so field order is interface
/// (docs/behaviour.md#the-json-api).
#[derive(Debug, Serialize)]
pub struct Product {
    pub id: u32,
    pub title: &'static str,
    #[serde(rename = "descriptionHtml")]
    pub description_html: &'static str,
}

pub const PRODUCT: Product = Product {
    id: 0,
    title: "The Comedy of Errors",
    description_html: "<a href=\"https://en.wikipedia.org/wiki/The_Comedy_of_Errors\">Wikipedia Summary</a>: The Comedy of Errors is one of <b>William Shakespeare's</b> early plays. It is his shortest and one of his most farcical comedies, with a major part of the humour coming from slapstick and mistaken identity, in addition to puns and word play.",
};
