//! The book and the product id.

use serde::Serialize;

/// A product id: a plain decimal integer (upstream's Ruby `Integer()` also took hex and octal;
/// no caller meant: docs/behaviour.md#details-ids-and-errors).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProductId(pub i64);

impl ProductId {
    pub fn parse(text: &str) -> Option<Self> {
        let digits = text.strip_prefix(['-', '+']).unwrap_or(text);
        if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        text.parse().ok().map(Self)
    }
}

/// Upstream's static mode sends `year` as a number, the external mode as a string.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum Year {
    Number(u32),
    Text(String),
}

/// The details JSON; field order is interface, since clients compare bytes
/// (docs/behaviour.md#the-book).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Book {
    pub id: i64,
    pub author: String,
    pub year: Year,
    #[serde(rename = "type")]
    pub kind: String,
    pub pages: u32,
    pub publisher: String,
    pub language: String,
    #[serde(rename = "ISBN-10")]
    pub isbn_10: String,
    #[serde(rename = "ISBN-13")]
    pub isbn_13: String,
}

impl Book {
    /// The book every v1 details instance serves, whatever the id.
    pub fn comedy_of_errors(id: ProductId) -> Self {
        Self {
            id: id.0,
            author: "William Shakespeare".into(),
            year: Year::Number(1595),
            kind: "paperback".into(),
            pages: 200,
            publisher: "PublisherA".into(),
            language: "English".into(),
            isbn_10: "1234567890".into(),
            isbn_13: "123-1234567890".into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_plain_decimal_integers() {
        assert_eq!(ProductId::parse("0"), Some(ProductId(0)));
        assert_eq!(ProductId::parse("-1"), Some(ProductId(-1)));
        assert_eq!(ProductId::parse("010"), Some(ProductId(10)));
        for bad in [
            "",
            "-",
            "abc",
            "0x1A",
            "1_000",
            " 1",
            "1.5",
            "99999999999999999999",
        ] {
            assert_eq!(ProductId::parse(bad), None, "{bad:?}");
        }
    }
}
