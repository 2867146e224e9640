//! A downstream service as its callers see it: a name, where it lives, how it is called, and
//! the one walk every call takes (forwarded headers → call → status → JSON).

use axum::http::{HeaderMap, StatusCode};
use serde::de::DeserializeOwned;

use crate::{
    outbound::address::Endpoints,
    outbound::client::{Call, CallError, CallPolicy, HttpClient, Reply},
};

/// A named downstream: its endpoints (taken round robin, one per logical call), its call
/// policy, and the service's shared client.
#[derive(Clone)]
pub struct Downstream {
    name: &'static str,
    endpoints: std::sync::Arc<Endpoints>,
    policy: CallPolicy,
    client: HttpClient,
}

/// Why a downstream gave no usable answer.
#[derive(Debug, thiserror::Error)]
pub enum DownstreamError {
    #[error(transparent)]
    Call(#[from] CallError),
    #[error("answered {0}")]
    Status(StatusCode),
    #[error("answered 200 with a body that is not the expected JSON object: {0}")]
    Malformed(String),
}

impl Downstream {
    pub fn new(
        name: &'static str,
        endpoints: Endpoints,
        policy: CallPolicy,
        client: HttpClient,
    ) -> Self {
        Self {
            name,
            endpoints: std::sync::Arc::new(endpoints),
            policy,
            client,
        }
    }

    pub fn name(&self) -> &'static str {
        self.name
    }

    pub fn endpoints(&self) -> &Endpoints {
        &self.endpoints
    }

    /// `GET path_and_query` with `headers`: the last attempt's answer, whatever its status.
    pub async fn get(&self, path_and_query: &str, headers: &HeaderMap) -> Result<Reply, CallError> {
        let url = self
            .endpoints
            .pick()
            .url(path_and_query)
            .map_err(CallError::Build)?;
        self.client
            .get(&Call {
                destination: self.name,
                url,
                headers,
                policy: self.policy,
            })
            .await
    }

    /// `GET path_and_query`, requiring a 200 answer whose body is a JSON object of type `T`.
    pub async fn get_json<T: DeserializeOwned>(
        &self,
        path_and_query: &str,
        headers: &HeaderMap,
    ) -> Result<T, DownstreamError> {
        json_answer(self.get(path_and_query, headers).await?)
    }
}

/// A 200 answer whose body is a JSON object of type `T`, else why not.
pub fn json_answer<T: DeserializeOwned>(reply: Reply) -> Result<T, DownstreamError> {
    if reply.status != StatusCode::OK {
        return Err(DownstreamError::Status(reply.status));
    }
    json_object(&reply.body).map_err(DownstreamError::Malformed)
}

/// `body` as `T` if it is a JSON object. Every Bookinfo answer is an object; serde's derived
/// structs would also accept an array, matching fields by position, which no service means.
pub fn json_object<T: DeserializeOwned>(body: &[u8]) -> Result<T, String> {
    if body.trim_ascii_start().first() != Some(&b'{') {
        return Err("not a JSON object".to_owned());
    }
    serde_json::from_slice(body).map_err(|err| err.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize, PartialEq)]
    struct Pair {
        a: u8,
        b: u8,
    }

    #[test]
    fn only_objects_are_answers() {
        assert_eq!(
            json_object::<Pair>(br#" {"a":1,"b":2}"#),
            Ok(Pair { a: 1, b: 2 })
        );
        assert!(json_object::<Pair>(b"[1,2]").is_err());
        assert!(json_object::<Pair>(b"<html>").is_err());
        assert!(json_object::<Pair>(br#"{"a":1}"#).is_err());
    }
}
