//! A route's one path parameter, never a rejection: axum's `Path` answers an undecodable
//! value (`%ff`, invalid UTF-8) with its own plain-text 400, while every Bookinfo route has a
//! documented answer for a bad id. An undecodable value reads as empty, which each service
//! then refuses exactly as it refuses any other bad id.

use axum::{
    extract::{FromRequestParts, Path},
    http::request::Parts,
};

/// The percent-decoded value of the route's single parameter; empty when it does not decode.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PathParam(pub String);

impl<S: Send + Sync> FromRequestParts<S> for PathParam {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let value = Path::<String>::from_request_parts(parts, state)
            .await
            .map_or_else(|_| String::new(), |Path(value)| value);
        Ok(Self(value))
    }
}
