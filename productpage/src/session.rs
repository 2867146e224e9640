//! The signed-in user, kept in an HMAC-signed cookie so any replica sharing the key can read
//! it. Format: `session=<base64url(user)>.<base64url(HMAC-SHA256(key, "v1:" + user))>`.

use axum::http::{HeaderMap, header};
use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

pub const COOKIE_NAME: &str = "session";
const DOMAIN: &[u8] = b"v1:";

/// HttpOnly and Path=/ as upstream; not Secure, since the gateway serves plain HTTP and the
/// docs log in with curl over it; SameSite=Lax against cross-site form posts.
const ATTRIBUTES: &str = "HttpOnly; Path=/; SameSite=Lax";

#[derive(Clone)]
pub struct SessionKey {
    secret: Vec<u8>,
}

impl SessionKey {
    pub fn new(secret: &str) -> Self {
        Self {
            secret: secret.as_bytes().to_vec(),
        }
    }

    fn mac(&self, user: &str) -> Option<Hmac<Sha256>> {
        let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(&self.secret).ok()?;
        mac.update(DOMAIN);
        mac.update(user.as_bytes());
        Some(mac)
    }

    /// The `Set-Cookie` value that signs `user` in.
    pub fn login_cookie(&self, user: &str) -> Option<String> {
        let tag = self.mac(user)?.finalize().into_bytes();
        Some(format!(
            "{COOKIE_NAME}={}.{}; {ATTRIBUTES}",
            URL_SAFE_NO_PAD.encode(user),
            URL_SAFE_NO_PAD.encode(tag)
        ))
    }

    /// The signed-in user, if the request carries a session cookie with a valid signature.
    pub fn user(&self, headers: &HeaderMap) -> Option<String> {
        headers
            .get_all(header::COOKIE)
            .iter()
            .filter_map(|value| value.to_str().ok())
            .flat_map(|value| value.split(';'))
            .filter_map(|pair| pair.trim().split_once('='))
            .filter(|(name, _)| *name == COOKIE_NAME)
            .find_map(|(_, value)| self.verify(value))
    }

    fn verify(&self, value: &str) -> Option<String> {
        let (user, tag) = value.split_once('.')?;
        let user = String::from_utf8(URL_SAFE_NO_PAD.decode(user).ok()?).ok()?;
        let tag = URL_SAFE_NO_PAD.decode(tag).ok()?;
        self.mac(&user)?.verify_slice(&tag).ok()?;
        Some(user)
    }
}

/// The `Set-Cookie` value that signs out.
pub fn logout_cookie() -> String {
    format!("{COOKIE_NAME}=; Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:00 GMT; {ATTRIBUTES}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn cookie_header(set_cookie: &str) -> HeaderMap {
        let pair = set_cookie.split(';').next().unwrap();
        let mut headers = HeaderMap::new();
        headers.insert(
            header::COOKIE,
            HeaderValue::from_str(&format!("other=1; {pair}")).unwrap(),
        );
        headers
    }

    #[test]
    fn a_signed_user_round_trips() {
        let key = SessionKey::new("k");
        let cookie = key.login_cookie("jason <j@example.com>").unwrap();
        assert!(cookie.ends_with("; HttpOnly; Path=/; SameSite=Lax"));
        assert!(!cookie.contains("Secure"));
        assert_eq!(
            key.user(&cookie_header(&cookie)).as_deref(),
            Some("jason <j@example.com>")
        );
    }

    #[test]
    fn forged_or_foreign_cookies_are_ignored() {
        let cookie = SessionKey::new("k").login_cookie("jason").unwrap();
        assert_eq!(
            SessionKey::new("other key").user(&cookie_header(&cookie)),
            None
        );
        let forged = cookie.replacen("amFzb24", "YWRtaW4", 1);
        assert_eq!(SessionKey::new("k").user(&cookie_header(&forged)), None);
        assert_eq!(
            SessionKey::new("k").user(&cookie_header("session=garbage")),
            None
        );
        assert_eq!(SessionKey::new("k").user(&HeaderMap::new()), None);
    }
}
