//! An answer's body, holding its request's place until it has gone out.

use std::{
    pin::Pin,
    task::{Context, Poll},
};

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use tokio::sync::OwnedSemaphorePermit;

use super::connection::RequestGuard;

/// An answer's body, holding its request's place in the connection's count until hyper has
/// sent (or dropped) it; on HTTP/2, until its last frame is on the wire.
pub struct GuardedBody {
    /// The router's answer body.
    pub inner: axum::body::Body,
    /// The request's place under MAX_CONCURRENT_REQUESTS, or a refusal's room (none for
    /// probes).
    pub place: Option<OwnedSemaphorePermit>,
    /// Whether the answer goes out on HTTP/2, where h2 takes it whole and sends it later.
    pub http2: bool,
    /// The request, ended (for the connection's timers) when this body is dropped.
    pub request: RequestGuard,
}

impl Drop for GuardedBody {
    fn drop(&mut self) {
        // h2 takes the whole answer at once and sends it as the client's window allows.
        if self.http2 {
            self.request.hold_until_sent(self.place.take());
        }
    }
}

impl Body for GuardedBody {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        Pin::new(&mut self.inner).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
