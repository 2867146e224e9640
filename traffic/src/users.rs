//! `--user`: who the traffic is. A run mixes anonymous visitors and users signed in through
//! productpage's `POST /login`, each user with a cookie jar of their own, as a browser per
//! user would be.

use std::{fmt, str::FromStr, sync::Mutex};

use cookie_store::{CookieStore, RawCookie};
use http::{HeaderMap, HeaderValue, Uri, header};
use url::Url;

/// The name that stands for visitors who do not sign in.
pub const ANONYMOUS: &str = "anonymous";

/// One `--user NAME[:SHARE%]` flag: sign in as NAME for SHARE percent of the requests (an
/// equal part of what the other flags leave, without SHARE).
#[derive(Debug, Clone, PartialEq)]
pub struct UserFlag {
    pub name: String,
    pub share: Option<f64>,
}

impl FromStr for UserFlag {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        let (name, share) = match text.rsplit_once(':') {
            Some((name, share)) => (name, Some(share)),
            None => (text, None),
        };
        let name = name.trim();
        if name.is_empty() || name.ends_with('%') {
            return Err("expected NAME or NAME:SHARE%, as in jason or jason:30%".into());
        }
        // `user=NAME:` in --expect ends the name at the first colon.
        if name.contains(':') {
            return Err(format!("`{name}`: a name cannot contain `:`"));
        }
        // The name travels as the `end-user` header: productpage refuses what a header
        // cannot carry.
        if name.chars().any(char::is_control) || HeaderValue::from_str(name).is_err() {
            return Err(format!("`{name}` is not a name productpage accepts"));
        }
        let share = match share {
            None => None,
            Some(share) => Some(
                crate::shares::percentage(share.trim())
                    .filter(|p| *p > 0.0)
                    .ok_or_else(|| {
                        format!("`{share}` is not a share of requests from 0% (excluded) to 100%")
                    })?,
            ),
        };
        Ok(Self {
            name: name.to_owned(),
            share,
        })
    }
}

/// The run's users, in the order of the flags, with their shares of the requests in
/// percent (adding up to 100). Without `--user`, everyone is anonymous.
#[derive(Debug, Clone, PartialEq)]
pub struct UserMix {
    users: Vec<(String, f64)>,
}

impl UserMix {
    /// Shares out the requests: flags without a share split what the others leave equally;
    /// when every flag has a share and they leave some, anonymous visitors take the rest.
    ///
    /// # Errors
    /// A name given twice, shares above 100% in all, or flags without a share left nothing.
    pub fn new(flags: &[UserFlag]) -> Result<Self, String> {
        if flags.is_empty() {
            return Ok(Self {
                users: vec![(ANONYMOUS.to_owned(), 100.0)],
            });
        }
        for (i, flag) in flags.iter().enumerate() {
            if flags[..i].iter().any(|other| other.name == flag.name) {
                return Err(format!("--user {} is given twice", flag.name));
            }
        }
        let given: f64 = flags.iter().filter_map(|flag| flag.share).sum();
        if given > 100.0 + 1e-9 {
            return Err(format!("--user shares add up to {given}%, above 100%"));
        }
        let unshared = flags.iter().filter(|flag| flag.share.is_none()).count();
        let left = 100.0 - given;
        if unshared > 0 && left <= 1e-9 {
            return Err(format!(
                "--user shares add up to {given}%: nothing is left for the users without one"
            ));
        }
        let mut users: Vec<(String, f64)> = flags
            .iter()
            .map(|flag| {
                let share = flag.share.unwrap_or(left / unshared.max(1) as f64);
                (flag.name.clone(), share)
            })
            .collect();
        if unshared == 0 && left > 1e-9 {
            match users.iter_mut().find(|(name, _)| name == ANONYMOUS) {
                Some((_, share)) => *share += left,
                None => users.push((ANONYMOUS.to_owned(), left)),
            }
        }
        Ok(Self { users })
    }

    /// The users and their shares (percent), in the order of the flags.
    pub fn users(&self) -> &[(String, f64)] {
        &self.users
    }

    /// The position of `name` in [`UserMix::users`].
    pub fn position(&self, name: &str) -> Option<usize> {
        self.users.iter().position(|(user, _)| user == name)
    }
}

impl fmt::Display for UserMix {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let parts: Vec<String> = self
            .users
            .iter()
            .map(|(name, share)| format!("{name} {share:.4}%"))
            .collect();
        f.write_str(&parts.join(", "))
    }
}

/// Picks each next request's user so that every stretch of the run follows the mix as
/// closely as whole requests allow: smooth weighted round robin, nginx's balancing of
/// weighted upstreams. A random draw would put 200 requests at 30% anywhere from 49 to 71.
#[derive(Debug, Clone)]
pub struct Schedule {
    shares: Vec<f64>,
    credit: Vec<f64>,
}

impl Schedule {
    pub fn new(mix: &UserMix) -> Self {
        let shares: Vec<f64> = mix.users.iter().map(|(_, share)| *share).collect();
        Self {
            credit: vec![0.0; shares.len()],
            shares,
        }
    }

    /// The index (in [`UserMix::users`]) of the next request's user.
    pub fn next_user(&mut self) -> usize {
        let total: f64 = self.shares.iter().sum();
        let mut chosen = 0;
        for (i, share) in self.shares.iter().enumerate() {
            self.credit[i] += share;
            if self.credit[i] > self.credit[chosen] {
                chosen = i;
            }
        }
        self.credit[chosen] -= total;
        chosen
    }
}

/// One user's side of the traffic: anonymous, or signed in with a cookie jar that every
/// answer updates (as a browser's would).
#[derive(Debug)]
pub struct Visitor {
    pub name: String,
    jar: Option<Mutex<CookieStore>>,
}

impl Visitor {
    pub fn anonymous() -> Self {
        Self {
            name: ANONYMOUS.to_owned(),
            jar: None,
        }
    }

    /// A user who signs in, with an empty cookie jar until the sign-in answer fills it.
    pub fn signed_in(name: &str) -> Self {
        Self {
            name: name.to_owned(),
            jar: Some(Mutex::new(CookieStore::default())),
        }
    }

    /// Whether this visitor signs in (has a jar).
    pub fn signs_in(&self) -> bool {
        self.jar.is_some()
    }

    /// The `Cookie` header for a request to `url`, if the jar has cookies for it.
    pub fn cookie_header(&self, url: &Url) -> Option<HeaderValue> {
        let jar = self.jar.as_ref()?;
        let jar = jar
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let pairs: Vec<String> = jar
            .get_request_values(url)
            .map(|(name, value)| format!("{name}={value}"))
            .collect();
        if pairs.is_empty() {
            return None;
        }
        HeaderValue::from_str(&pairs.join("; ")).ok()
    }

    /// Keeps the cookies an answer from `url` sets (a renewed or cleared session).
    pub fn store(&self, url: &Url, headers: &HeaderMap) {
        let Some(jar) = &self.jar else { return };
        let cookies: Vec<RawCookie<'static>> = headers
            .get_all(header::SET_COOKIE)
            .iter()
            .filter_map(|value| value.to_str().ok())
            .filter_map(|text| RawCookie::parse(text.to_owned()).ok())
            .collect();
        if cookies.is_empty() {
            return;
        }
        let mut jar = jar
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        jar.store_response_cookies(cookies.into_iter(), url);
    }
}

/// An address in the two forms a run needs, parsed once: hyper's [`Uri`] to send to, and
/// the WHATWG [`Url`] the cookie jars match cookies against.
#[derive(Debug, Clone, PartialEq)]
pub struct PageUrl {
    pub uri: Uri,
    pub url: Url,
}

impl PageUrl {
    /// # Errors
    /// A URL the WHATWG parser refuses (the http crate accepts a few it does not: ports
    /// above 65535, zone identifiers).
    pub fn new(uri: Uri) -> Result<Self, String> {
        let url = Url::parse(&uri.to_string()).map_err(|err| err.to_string())?;
        Ok(Self { uri, url })
    }

    /// The sign-in form's address beside this page: `/productpage` becomes `/login`, so a
    /// page behind a path prefix signs in behind the same prefix.
    ///
    /// # Errors
    /// When the address cannot be rebuilt with the new path.
    pub fn login(&self) -> Result<Self, String> {
        let path = self.uri.path();
        let directory = &path[..path.rfind('/').unwrap_or(0)];
        let mut parts = self.uri.clone().into_parts();
        parts.path_and_query = Some(
            format!("{directory}/login")
                .parse()
                .map_err(|err: http::uri::InvalidUri| err.to_string())?,
        );
        Self::new(Uri::from_parts(parts).map_err(|err| err.to_string())?)
    }
}

impl fmt::Display for PageUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.uri.fmt(f)
    }
}

/// The sign-in form for `name`: productpage reads `username`; `passwd` is there because the
/// original's form sends one (and ignores it).
pub fn login_form(name: &str) -> String {
    form_urlencoded::Serializer::new(String::new())
        .append_pair("username", name)
        .append_pair("passwd", "bookinfo-traffic")
        .finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mix(flags: &[&str]) -> Result<UserMix, String> {
        let flags: Vec<UserFlag> = flags.iter().map(|f| f.parse().unwrap()).collect();
        UserMix::new(&flags)
    }

    #[test]
    fn shares_fill_up_to_one_hundred_percent() {
        assert_eq!(mix(&[]).unwrap().users(), [("anonymous".into(), 100.0)]);
        assert_eq!(mix(&["jason"]).unwrap().users(), [("jason".into(), 100.0)]);
        assert_eq!(
            mix(&["jason:30%"]).unwrap().users(),
            [("jason".into(), 30.0), ("anonymous".into(), 70.0)]
        );
        assert_eq!(
            mix(&["jason:40%", "alice", "bob"]).unwrap().users(),
            [
                ("jason".into(), 40.0),
                ("alice".into(), 30.0),
                ("bob".into(), 30.0)
            ]
        );
        assert_eq!(
            mix(&["jason:50%", "anonymous:20%"]).unwrap().users(),
            [("jason".into(), 50.0), ("anonymous".into(), 50.0)]
        );
    }

    #[test]
    fn impossible_mixes_say_why() {
        assert!(mix(&["jason:70%", "bob:40%"]).unwrap_err().contains("110%"));
        assert!(
            mix(&["jason:100%", "bob"])
                .unwrap_err()
                .contains("nothing is left")
        );
        assert!(mix(&["jason", "jason:20%"]).unwrap_err().contains("twice"));
        for bad in [
            "",
            ":30%",
            "jason:30",
            "jason:0%",
            "jason:130%",
            "ja\u{7}son",
        ] {
            assert!(bad.parse::<UserFlag>().is_err(), "{bad:?}");
        }
    }

    #[test]
    fn the_schedule_follows_the_shares_at_every_length() {
        let mix = mix(&["jason:30%"]).unwrap();
        let mut schedule = Schedule::new(&mix);
        let mut jason = 0;
        for n in 1..=200 {
            jason += usize::from(schedule.next_user() == 0);
            let expected = 0.3 * n as f64;
            assert!((jason as f64 - expected).abs() < 1.0, "{jason} of {n}");
        }
    }

    #[test]
    fn the_login_form_sits_beside_the_page() {
        let login = |page: &str| {
            let page = PageUrl::new(page.parse().unwrap()).unwrap();
            page.login().unwrap().to_string()
        };
        assert_eq!(
            login("http://localhost:9080/productpage?u=normal"),
            "http://localhost:9080/login"
        );
        assert_eq!(
            login("https://gw.example/bookinfo/productpage"),
            "https://gw.example/bookinfo/login"
        );
        assert_eq!(
            login_form("jason w"),
            "username=jason+w&passwd=bookinfo-traffic"
        );
    }

    #[test]
    fn the_jar_sends_what_the_sign_in_set_and_follows_later_answers() {
        let url = Url::parse("http://localhost:9080/productpage").unwrap();
        let mut headers = HeaderMap::new();
        headers.insert(
            header::SET_COOKIE,
            HeaderValue::from_static("session=abc; Path=/; HttpOnly"),
        );
        let jason = Visitor::signed_in("jason");
        jason.store(&url, &headers);
        assert_eq!(jason.cookie_header(&url).unwrap(), "session=abc");
        headers.insert(
            header::SET_COOKIE,
            HeaderValue::from_static("session=; Path=/; Max-Age=0"),
        );
        jason.store(&url, &headers);
        assert!(jason.cookie_header(&url).is_none());
        assert!(Visitor::anonymous().cookie_header(&url).is_none());
    }
}
