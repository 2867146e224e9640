//! Signing in and out: a signed session cookie, then back to the page the user came from.

use std::sync::Arc;

use axum::{
    body::Bytes,
    extract::{State, rejection::BytesRejection},
    http::{HeaderMap, HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};

use crate::{render::html_error, session::logout_cookie, state::AppState};

/// Where login and logout go when the Referer is missing or points off-site.
const HOME: &str = "/productpage";

/// The name travels to every backend as `end-user`; keep it a sane header value.
const MAX_USERNAME_BYTES: usize = 256;

/// A sign-in form is small; anything larger is not one (413).
pub const MAX_FORM_BYTES: usize = 64 * 1024;

/// Whether the body is an HTML form, as the page's dialog and the docs' curl send it.
fn is_form(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|mime| {
            mime.trim()
                .eq_ignore_ascii_case("application/x-www-form-urlencoded")
        })
}

/// The decoded value of `field` in a URL-encoded form; an error for bytes that do not decode
/// to UTF-8 (the usual form parsers would substitute U+FFFD and sign in a name nobody typed).
fn form_field(body: &[u8], field: &str) -> Result<Option<String>, std::str::Utf8Error> {
    let decode = |raw: &[u8]| {
        let spaced: Vec<u8> = raw
            .iter()
            .map(|&b| if b == b'+' { b' ' } else { b })
            .collect();
        percent_encoding::percent_decode(&spaced)
            .decode_utf8()
            .map(|text| text.into_owned())
    };
    for pair in body.split(|&b| b == b'&') {
        let (key, value) = match pair.iter().position(|&b| b == b'=') {
            Some(at) => (&pair[..at], &pair[at + 1..]),
            None => (pair, &[][..]),
        };
        if decode(key)? == field {
            return decode(value).map(Some);
        }
    }
    Ok(None)
}

pub async fn login(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    if !is_form(&headers) {
        return html_error(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "Sign in with a form (application/x-www-form-urlencoded).",
        );
    }
    let body = match body {
        Ok(body) => body,
        // Too large (413), or the body could not be read.
        Err(rejection) => return html_error(rejection.status(), &rejection.body_text()),
    };
    let username = match form_field(&body, "username") {
        Ok(username) => username.unwrap_or_default().trim().to_owned(),
        Err(_) => {
            return html_error(StatusCode::BAD_REQUEST, "The form is not valid UTF-8.");
        }
    };
    if username.is_empty() {
        return html_error(StatusCode::BAD_REQUEST, "Please provide a username.");
    }
    // The name travels to every backend as `end-user`, which Istio's rules match.
    let printable = !username.chars().any(char::is_control);
    if username.len() > MAX_USERNAME_BYTES
        || !printable
        || HeaderValue::from_str(&username).is_err()
    {
        return html_error(
            StatusCode::BAD_REQUEST,
            "A username is at most 256 bytes of printable characters.",
        );
    }
    match state.session.login_cookie(&username) {
        Some(cookie) => redirect_back(&headers, cookie),
        None => html_error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "The session could not be signed.",
        ),
    }
}

pub async fn logout(headers: HeaderMap) -> Response {
    redirect_back(&headers, logout_cookie())
}

/// 302 to the page the user came from, if it is on this site, with a session cookie.
fn redirect_back(headers: &HeaderMap, cookie: String) -> Response {
    let referer = headers.get(header::REFERER).and_then(|v| v.to_str().ok());
    let host = headers.get(header::HOST).and_then(|v| v.to_str().ok());
    let target = same_site_path(referer, host).unwrap_or(HOME);
    let mut response = StatusCode::FOUND.into_response();
    let headers = response.headers_mut();
    if let Ok(location) = HeaderValue::from_str(target) {
        headers.insert(header::LOCATION, location);
    }
    if let Ok(cookie) = HeaderValue::from_str(&cookie) {
        headers.insert(header::SET_COOKIE, cookie);
    }
    headers.insert(header::VARY, HeaderValue::from_static("Cookie"));
    response
}

/// The path of `referer` when it points at this site (a relative path, or an absolute URL
/// whose authority is our Host); upstream redirected anywhere (an open redirect).
fn same_site_path<'a>(referer: Option<&'a str>, host: Option<&str>) -> Option<&'a str> {
    let referer = referer?;
    let path = if let Some((_, rest)) = referer.split_once("://") {
        let split = rest.find(['/', '?', '#']).unwrap_or(rest.len());
        let (authority, path) = rest.split_at(split);
        if Some(authority) != host {
            return None;
        }
        path
    } else {
        referer
    };
    // Browsers drop tabs and newlines from Location, so `/\t/evil.example` would become
    // `//evil.example`: any control character or space disqualifies the path.
    let local = path.starts_with('/')
        && !path.starts_with("//")
        && !path.contains('\\')
        && !path.bytes().any(|b| b <= b' ' || b == 0x7f);
    local.then_some(path)
}

#[cfg(test)]
mod tests {
    use super::{form_field, same_site_path};

    #[test]
    fn form_fields_decode_strictly() {
        assert_eq!(
            form_field(b"passwd=x&username=jason+b%C3%A9", "username"),
            Ok(Some("jason bé".to_owned()))
        );
        assert_eq!(form_field(b"passwd=x", "username"), Ok(None));
        assert!(form_field(b"username=%ff%fe", "username").is_err());
    }

    #[test]
    fn redirects_stay_on_this_site() {
        let host = Some("bookinfo.example:8080");
        assert_eq!(
            same_site_path(Some("http://bookinfo.example:8080/productpage?u=1"), host),
            Some("/productpage?u=1")
        );
        assert_eq!(
            same_site_path(Some("/productpage"), host),
            Some("/productpage")
        );
        assert_eq!(
            same_site_path(Some("http://bookinfo.example:8080"), host),
            None
        );
        assert_eq!(
            same_site_path(Some("https://evil.example/productpage"), host),
            None
        );
        assert_eq!(same_site_path(Some("//evil.example/x"), host), None);
        assert_eq!(same_site_path(Some("/\\evil.example"), host), None);
        assert_eq!(same_site_path(Some("javascript:alert(1)"), host), None);
        assert_eq!(same_site_path(Some("/\t/evil.example"), host), None);
        assert_eq!(same_site_path(Some("/product page"), host), None);
        assert_eq!(same_site_path(None, host), None);
    }
}
