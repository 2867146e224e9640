//! Request bodies with a read timer: a client that stops sending in the middle of a body
//! fails its request instead of holding a handler (and its connection) forever.

use std::{
    future::Future,
    pin::Pin,
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    task::{Context, Poll},
    time::Duration,
};

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use tokio::time::{Instant, Sleep};

/// The next piece of a request body did not arrive within the body read timeout.
#[derive(Debug, thiserror::Error)]
#[error("no request body data for {} ms", .0.as_millis())]
pub struct BodyReadTimeout(pub Duration);

/// A request body whose every frame must arrive within `timeout` of the previous one (or
/// of the request head).
pub struct TimedBody<B> {
    inner: B,
    timeout: Duration,
    /// Made on the first wait only: most requests carry no body, or one already read.
    timer: Option<Pin<Box<Sleep>>>,
    /// Set when the timer fires, so the server can answer 408 whatever the handler made of
    /// the error.
    timed_out: Arc<AtomicBool>,
}

impl<B> TimedBody<B> {
    pub fn new(inner: B, timeout: Duration, timed_out: Arc<AtomicBool>) -> Self {
        Self {
            inner,
            timeout,
            timer: None,
            timed_out,
        }
    }
}

type BoxError = Box<dyn std::error::Error + Send + Sync>;

impl<B> Body for TimedBody<B>
where
    B: Body<Data = Bytes> + Unpin,
    B::Error: Into<BoxError>,
{
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let this = &mut *self;
        match Pin::new(&mut this.inner).poll_frame(cx) {
            Poll::Ready(frame) => {
                if let Some(timer) = &mut this.timer {
                    timer.as_mut().reset(Instant::now() + this.timeout);
                }
                Poll::Ready(frame.map(|frame| frame.map_err(Into::into)))
            }
            Poll::Pending => {
                let timeout = this.timeout;
                let timer = this
                    .timer
                    .get_or_insert_with(|| Box::pin(tokio::time::sleep(timeout)));
                match timer.as_mut().poll(cx) {
                    Poll::Ready(()) => {
                        this.timed_out.store(true, Ordering::Relaxed);
                        Poll::Ready(Some(Err(Box::new(BodyReadTimeout(timeout)))))
                    }
                    Poll::Pending => Poll::Pending,
                }
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use http_body_util::{BodyExt, StreamBody};

    use super::*;

    #[tokio::test(start_paused = true)]
    async fn a_stalled_body_fails_after_the_timeout() {
        let (sender, receiver) = tokio::sync::mpsc::channel::<Result<Frame<Bytes>, BoxError>>(1);
        let stream = futures_stream(receiver);
        let timed_out = Arc::new(AtomicBool::new(false));
        let mut body = TimedBody::new(
            StreamBody::new(stream),
            Duration::from_secs(5),
            timed_out.clone(),
        );
        sender
            .send(Ok(Frame::data(Bytes::from_static(b"a"))))
            .await
            .ok();
        assert!(body.frame().await.is_some_and(|frame| frame.is_ok()));
        let started = Instant::now();
        let stalled = body.frame().await;
        assert!(stalled.is_some_and(|frame| frame.is_err_and(|err| err.is::<BodyReadTimeout>())));
        assert_eq!(started.elapsed(), Duration::from_secs(5));
        assert!(timed_out.load(Ordering::Relaxed));
        drop(sender);
    }

    fn futures_stream(
        mut receiver: tokio::sync::mpsc::Receiver<Result<Frame<Bytes>, BoxError>>,
    ) -> impl futures::Stream<Item = Result<Frame<Bytes>, BoxError>> + Unpin {
        Box::pin(futures::stream::poll_fn(move |cx| receiver.poll_recv(cx)))
    }
}
