//! The signed-in user, kept in an HMAC-signed cookie so any replica sharing the key can read
//! it. Format: `session=<base64url(user)>.<issued>.<base64url(HMAC-SHA256(key, "v2:" +
//! issued + ":" + user))>`, where `issued` is the sign-in time in Unix seconds. A cookie
//! older than [`SESSION_LIFETIME`] is refused, so a copy taken before logout stops working;
//! `Max-Age` tells the browser the same.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::http::{HeaderMap, header};
use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

pub const COOKIE_NAME: &str = "session";
const DOMAIN: &[u8] = b"v2:";

/// How long a sign-in lasts: 31 days, the lifetime of upstream's Flask sessions.
pub const SESSION_LIFETIME: Duration = Duration::from_secs(31 * 24 * 60 * 60);

/// Clock difference between replicas tolerated for a cookie issued "in the future".
const CLOCK_SKEW: Duration = Duration::from_secs(300);

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |since| since.as_secs())
}

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

    fn mac(&self, issued: u64, user: &str) -> Option<Hmac<Sha256>> {
        let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(&self.secret).ok()?;
        mac.update(DOMAIN);
        mac.update(issued.to_string().as_bytes());
        mac.update(b":");
        mac.update(user.as_bytes());
        Some(mac)
    }

    /// The `Set-Cookie` value that signs `user` in now.
    pub fn login_cookie(&self, user: &str) -> Option<String> {
        self.login_cookie_issued_at(user, unix_now())
    }

    /// The `Set-Cookie` value that signed `user` in at `issued` (Unix seconds).
    pub fn login_cookie_issued_at(&self, user: &str, issued: u64) -> Option<String> {
        let tag = self.mac(issued, user)?.finalize().into_bytes();
        Some(format!(
            "{COOKIE_NAME}={}.{issued}.{}; Max-Age={}; {ATTRIBUTES}",
            URL_SAFE_NO_PAD.encode(user),
            URL_SAFE_NO_PAD.encode(tag),
            SESSION_LIFETIME.as_secs(),
        ))
    }

    /// The signed-in user, if the request carries a session cookie with a valid signature
    /// issued less than [`SESSION_LIFETIME`] ago.
    pub fn user(&self, headers: &HeaderMap) -> Option<String> {
        self.user_at(headers, unix_now())
    }

    /// [`SessionKey::user`] as of `now` (Unix seconds).
    pub fn user_at(&self, headers: &HeaderMap, now: u64) -> Option<String> {
        headers
            .get_all(header::COOKIE)
            .iter()
            .filter_map(|value| value.to_str().ok())
            .flat_map(|value| value.split(';'))
            .filter_map(|pair| pair.trim().split_once('='))
            .filter(|(name, _)| *name == COOKIE_NAME)
            .find_map(|(_, value)| self.verify(value, now))
    }

    fn verify(&self, value: &str, now: u64) -> Option<String> {
        let mut parts = value.split('.');
        let (user, issued, tag) = (parts.next()?, parts.next()?, parts.next()?);
        if parts.next().is_some() {
            return None;
        }
        let issued: u64 = issued.parse().ok()?;
        let user = String::from_utf8(URL_SAFE_NO_PAD.decode(user).ok()?).ok()?;
        let tag = URL_SAFE_NO_PAD.decode(tag).ok()?;
        self.mac(issued, &user)?.verify_slice(&tag).ok()?;
        let fresh = issued <= now.saturating_add(CLOCK_SKEW.as_secs())
            && now.saturating_sub(issued) < SESSION_LIFETIME.as_secs();
        fresh.then_some(user)
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
        assert!(cookie.ends_with("; Max-Age=2678400; HttpOnly; Path=/; SameSite=Lax"));
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
        // A changed issue time breaks the signature.
        let issued = "1000";
        let cookie = SessionKey::new("k")
            .login_cookie_issued_at("jason", 1000)
            .unwrap();
        let moved = cookie.replacen(&format!(".{issued}."), ".999999.", 1);
        assert_eq!(
            SessionKey::new("k").user_at(&cookie_header(&moved), 1000),
            None
        );
    }

    #[test]
    fn a_session_expires_after_31_days() {
        let key = SessionKey::new("k");
        let issued = 1_700_000_000;
        let cookie = cookie_header(&key.login_cookie_issued_at("jason", issued).unwrap());
        let day = 24 * 60 * 60;
        assert_eq!(key.user_at(&cookie, issued).as_deref(), Some("jason"));
        assert_eq!(
            key.user_at(&cookie, issued + 30 * day).as_deref(),
            Some("jason")
        );
        assert_eq!(key.user_at(&cookie, issued + 31 * day), None);
        assert_eq!(
            key.user_at(&cookie, issued - 3600),
            None,
            "issued in the future"
        );
    }
}
