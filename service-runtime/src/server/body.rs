//! Request bodies with a read timer and a deadline: a client that stops sending in the middle
//! of a body, or sends it a byte at a time, fails its request instead of holding a handler
//! (and its connection) for as long as it likes.

use std::{
    future::Future,
    pin::Pin,
    sync::{Arc, OnceLock},
    task::{Context, Poll},
    time::Duration,
};

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use tokio::time::{Instant, Sleep};

use super::connection::Tracker;

/// A request body that took too long: the answer is 408.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum BodyReadTimeout {
    /// The next piece did not arrive within BODY_READ_TIMEOUT_MS.
    #[error("no request body data for {} ms", .0.as_millis())]
    Gap(Duration),
    /// The whole body did not arrive within BODY_DEADLINE_MS of the head.
    #[error("the request body did not arrive within {} ms", .0.as_millis())]
    Deadline(Duration),
}

/// A request body whose every frame must arrive within `gap` of the previous one (or of the
/// request head), and the last one within `deadline` of the head.
pub struct TimedBody<B> {
    inner: B,
    gap: Duration,
    deadline: Duration,
    deadline_at: Instant,
    /// Told while the handler waits for the client, so a connection held only by a slow
    /// body can be evicted at the connection cap.
    tracker: Option<Arc<Tracker>>,
    waiting: bool,
    /// Made on the first wait only: most requests carry no body, or one already read.
    timer: Option<Pin<Box<Sleep>>>,
    /// Set when the timer fires, so the server can answer 408 whatever the handler made of
    /// the error.
    timed_out: Arc<OnceLock<BodyReadTimeout>>,
}

impl<B> TimedBody<B> {
    pub fn new(
        inner: B,
        gap: Duration,
        deadline: Duration,
        timed_out: Arc<OnceLock<BodyReadTimeout>>,
        tracker: Option<Arc<Tracker>>,
    ) -> Self {
        Self {
            inner,
            gap,
            deadline,
            deadline_at: Instant::now() + deadline,
            tracker,
            waiting: false,
            timer: None,
            timed_out,
        }
    }

    fn set_waiting(&mut self, waiting: bool) {
        if self.waiting != waiting {
            self.waiting = waiting;
            if let Some(tracker) = &self.tracker {
                tracker.body_waiting(waiting);
            }
        }
    }

    /// When the timer must fire next: the gap from now, or the deadline if sooner.
    fn next_expiry(&self) -> Instant {
        (Instant::now() + self.gap).min(self.deadline_at)
    }
}

impl<B> Drop for TimedBody<B> {
    fn drop(&mut self) {
        self.set_waiting(false);
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
                this.set_waiting(false);
                let expiry = this.next_expiry();
                if let Some(timer) = &mut this.timer {
                    timer.as_mut().reset(expiry);
                }
                Poll::Ready(frame.map(|frame| frame.map_err(Into::into)))
            }
            Poll::Pending => {
                this.set_waiting(true);
                let expiry = this.next_expiry();
                let timer = this
                    .timer
                    .get_or_insert_with(|| Box::pin(tokio::time::sleep_until(expiry)));
                match timer.as_mut().poll(cx) {
                    Poll::Ready(()) => {
                        this.set_waiting(false);
                        let why = if Instant::now() >= this.deadline_at {
                            BodyReadTimeout::Deadline(this.deadline)
                        } else {
                            BodyReadTimeout::Gap(this.gap)
                        };
                        let _ = this.timed_out.set(why);
                        Poll::Ready(Some(Err(Box::new(why))))
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
        let timed_out = Arc::new(OnceLock::new());
        let mut body = TimedBody::new(
            StreamBody::new(stream),
            Duration::from_secs(5),
            Duration::from_secs(60),
            timed_out.clone(),
            None,
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
        assert_eq!(
            timed_out.get(),
            Some(&BodyReadTimeout::Gap(Duration::from_secs(5)))
        );
        drop(sender);
    }

    #[tokio::test(start_paused = true)]
    async fn a_trickling_body_fails_at_its_deadline() {
        let (sender, receiver) = tokio::sync::mpsc::channel::<Result<Frame<Bytes>, BoxError>>(1);
        let timed_out = Arc::new(OnceLock::new());
        let mut body = TimedBody::new(
            StreamBody::new(futures_stream(receiver)),
            Duration::from_secs(5),
            Duration::from_secs(12),
            timed_out.clone(),
            None,
        );
        let started = Instant::now();
        let trickle = tokio::spawn(async move {
            // A byte every 4 s: inside the gap timer, for ever.
            loop {
                tokio::time::sleep(Duration::from_secs(4)).await;
                if sender
                    .send(Ok(Frame::data(Bytes::from_static(b"a"))))
                    .await
                    .is_err()
                {
                    break;
                }
            }
        });
        let failed = loop {
            match body.frame().await {
                Some(Ok(_)) => continue,
                Some(Err(err)) => break err.downcast::<BodyReadTimeout>().ok().map(|why| *why),
                None => break None,
            }
        };
        assert_eq!(
            failed,
            Some(BodyReadTimeout::Deadline(Duration::from_secs(12)))
        );
        assert_eq!(started.elapsed(), Duration::from_secs(12));
        assert!(timed_out.get().is_some());
        drop(body);
        trickle.abort();
    }

    fn futures_stream(
        mut receiver: tokio::sync::mpsc::Receiver<Result<Frame<Bytes>, BoxError>>,
    ) -> impl futures::Stream<Item = Result<Frame<Bytes>, BoxError>> + Unpin {
        Box::pin(futures::stream::poll_fn(move |cx| receiver.poll_recv(cx)))
    }
}
