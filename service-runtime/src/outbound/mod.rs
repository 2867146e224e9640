//! Calls to other services: where they live ([`address`]), the one HTTP client with its
//! deadlines, attempts and answer cap ([`client`]), and a downstream as its callers see it
//! ([`downstream`]). Nothing here knows the server or the request middleware: a client is
//! given the outbound metrics and the tracer it reports to.

pub mod address;
pub mod client;
pub mod downstream;
