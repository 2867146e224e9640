//! `cookie` crumbs joined into one field where a request is received. HTTP/2 lets a client
//! send `cookie` as several fields, and a sidecar does (Envoy's default HTTP/2 codec since 1.29
//! splits them, envoyproxy/envoy#32611); RFC 9113 §8.2.3 joins them with `"; "`, in order,
//! before a request goes to HTTP/1.1 or to a generic application. Joined once here, the session
//! reader, the forwarded copy and the logs all see one field. Only `cookie` is joined.

use axum::http::{HeaderMap, HeaderValue, header::COOKIE};

/// Replaces several `cookie` fields by one, their values joined with `"; "` in the order
/// received; one field or none is left as it is.
pub fn join_cookie_crumbs(headers: &mut HeaderMap) {
    // Most requests carry one field or none: they cost no allocation.
    if headers.get_all(COOKIE).iter().nth(1).is_none() {
        return;
    }
    let crumbs: Vec<&[u8]> = headers
        .get_all(COOKIE)
        .iter()
        .map(HeaderValue::as_bytes)
        .collect();
    // Joining valid field values with "; " gives a valid value.
    if let Ok(joined) = HeaderValue::from_bytes(&crumbs.join(&b"; "[..])) {
        headers.insert(COOKIE, joined);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crumbs_are_joined_in_order_and_other_fields_left_alone() {
        let mut headers = HeaderMap::new();
        for crumb in ["theme=dark", "session=s1", "lang=en"] {
            headers.append(COOKIE, HeaderValue::from_static(crumb));
        }
        headers.append("x-twice", HeaderValue::from_static("a"));
        headers.append("x-twice", HeaderValue::from_static("b"));
        join_cookie_crumbs(&mut headers);
        let cookies: Vec<_> = headers.get_all(COOKIE).iter().collect();
        assert_eq!(cookies, ["theme=dark; session=s1; lang=en"]);
        assert_eq!(headers.get_all("x-twice").iter().count(), 2);
        let mut one = HeaderMap::new();
        one.insert(COOKIE, HeaderValue::from_static("a=1"));
        join_cookie_crumbs(&mut one);
        assert_eq!(one[COOKIE], "a=1");
    }
}
