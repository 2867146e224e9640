//! Envoy's `x-forwarded-client-cert` (XFCC): one element per proxy that verified a client
//! certificate, comma-separated, each a `;`-separated list of `Key=value` pairs (`By`, `Hash`,
//! `Cert`, `Chain`, `Subject`, `URI`, `DNS`). A value containing `,`, `;` or `=` is
//! double-quoted, with `\"` for a quote inside (Envoy always quotes `Subject`).
//! Istio's inbound listener uses `forward_client_cert_details: APPEND_FORWARD`, so the
//! **last** element is the one the callee's own sidecar appended.
//!
//! Hand-written: no maintained crate parses this header; Envoy's format is documented in
//! its `x-forwarded-client-cert` reference.

/// The header's name.
pub const HEADER: &str = "x-forwarded-client-cert";

/// One element: its pairs in order, keys as sent, values unquoted.
pub type Element = Vec<(String, String)>;

/// The elements of `value`, in order. Never fails: an unterminated quote ends at the end of
/// the text, and a pair without `=` has an empty value.
pub fn parse(value: &str) -> Vec<Element> {
    elements(&split_unquoted(value, ',').0)
}

/// The non-empty elements among `texts`, each split into its pairs.
fn elements(texts: &[String]) -> Vec<Element> {
    texts
        .iter()
        .filter(|element| !element.trim().is_empty())
        .map(|element| {
            split_unquoted(element, ';')
                .0
                .into_iter()
                .filter(|pair| !pair.trim().is_empty())
                .map(|pair| match pair.split_once('=') {
                    Some((key, value)) => (key.trim().to_owned(), unquote(value.trim())),
                    None => (pair.trim().to_owned(), String::new()),
                })
                .collect()
        })
        .collect()
}

/// The first `URI=` value of the last element: the SPIFFE identity of the client whose
/// certificate the nearest proxy verified. `None` when the header has an unterminated quote
/// (a client's text could then swallow what the sidecar appended after it) or the URI is not
/// a SPIFFE ID (`spiffe://`, no separators, quotes or spaces).
pub fn last_uri(value: &str) -> Option<String> {
    let (texts, quotes_closed) = split_unquoted(value, ',');
    if !quotes_closed {
        return None;
    }
    elements(&texts)
        .pop()?
        .into_iter()
        .find(|(key, _)| key.eq_ignore_ascii_case("URI"))
        .map(|(_, uri)| uri)
        .filter(|uri| {
            uri.len() > "spiffe://".len()
                && uri
                    .get(..9)
                    .is_some_and(|scheme| scheme.eq_ignore_ascii_case("spiffe://"))
                && !uri
                    .chars()
                    .any(|c| c.is_whitespace() || [',', ';', '"'].contains(&c))
        })
}

/// `text` split at `separator` where it is outside double quotes (quotes and escapes kept),
/// and whether every quote was closed by the end.
fn split_unquoted(text: &str, separator: char) -> (Vec<String>, bool) {
    let mut parts = Vec::new();
    let mut current = String::new();
    let mut quoted = false;
    let mut escaped = false;
    for c in text.chars() {
        if escaped {
            escaped = false;
        } else if quoted && c == '\\' {
            escaped = true;
        } else if c == '"' {
            quoted = !quoted;
        } else if c == separator && !quoted {
            parts.push(std::mem::take(&mut current));
            continue;
        }
        current.push(c);
    }
    parts.push(current);
    (parts, !quoted)
}

/// A value without its surrounding quotes, `\x` read as `x`; an unquoted value as it is.
fn unquote(value: &str) -> String {
    let Some(inner) = value.strip_prefix('"') else {
        return value.to_owned();
    };
    let inner = inner.strip_suffix('"').unwrap_or(inner);
    let mut out = String::with_capacity(inner.len());
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            if let Some(next) = chars.next() {
                out.push(next);
            }
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// As Istio's sidecars send it: the gateway's element, then productpage's sidecar's.
    const TWO_HOPS: &str = concat!(
        r#"By=spiffe://cluster.local/ns/istio-app/sa/bookinfo-productpage;Hash=abc;"#,
        r#"Subject="";URI=spiffe://cluster.local/ns/istio-system/sa/istio-ingressgateway,"#,
        r#"By=spiffe://cluster.local/ns/istio-app/sa/bookinfo-details;Hash=def;"#,
        r#"Subject="O=example,CN=\"product, page\"";"#,
        r#"URI=spiffe://cluster.local/ns/istio-app/sa/bookinfo-productpage;DNS=productpage"#,
    );

    #[test]
    fn the_last_element_is_the_nearest_proxys() {
        assert_eq!(
            last_uri(TWO_HOPS).as_deref(),
            Some("spiffe://cluster.local/ns/istio-app/sa/bookinfo-productpage")
        );
        let elements = parse(TWO_HOPS);
        assert_eq!(elements.len(), 2);
        assert_eq!(
            elements[1][2],
            (
                "Subject".to_owned(),
                r#"O=example,CN="product, page""#.to_owned()
            )
        );
        assert_eq!(elements[1][4], ("DNS".to_owned(), "productpage".to_owned()));
    }

    #[test]
    fn quoted_separators_do_not_split() {
        let value = r#"Subject="CN=a,b;c";URI=spiffe://a/b"#;
        assert_eq!(last_uri(value).as_deref(), Some("spiffe://a/b"));
        // A quoted URI with separators in it is no SPIFFE ID.
        assert_eq!(last_uri(r#"URI="spiffe://a;b,c";By=x"#), None);
    }

    #[test]
    fn odd_input_parses_without_failing() {
        assert_eq!(last_uri(""), None);
        assert_eq!(last_uri(",,,"), None);
        assert_eq!(last_uri("URI="), None);
        assert_eq!(
            last_uri("By=x;URI=spiffe://a"),
            Some("spiffe://a".to_owned())
        );
        // An unterminated quote from a client would swallow what a sidecar appends.
        let swallowed =
            r#"URI="spiffe://x/sa/admin,By=spiffe://x/sa/me;URI=spiffe://x/sa/attacker"#;
        assert_eq!(last_uri(swallowed), None);
        assert_eq!(last_uri("URI=https://example.com"), None);
        // parse() itself still reads it, to the end.
        assert_eq!(
            parse(r#"URI="a,b"#),
            vec![vec![("URI".to_owned(), "a,b".to_owned())]]
        );
        assert_eq!(
            parse("novalue"),
            vec![vec![("novalue".to_owned(), String::new())]]
        );
        // The last element without a URI: no identity, even if an earlier one had one.
        assert_eq!(last_uri("URI=spiffe://a,Hash=x"), None);
    }
}
