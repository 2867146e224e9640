//! The socket, watched: what arrives and leaves is reported to the connection's tracker.

use std::{
    io,
    pin::Pin,
    sync::Arc,
    task::{Context, Poll},
};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use super::Tracker;

/// A socket that reports what arrives on it to its [`Tracker`].
#[derive(Debug)]
pub struct WatchedIo<S> {
    inner: S,
    tracker: Arc<Tracker>,
}

impl<S> WatchedIo<S> {
    pub fn new(inner: S, tracker: Arc<Tracker>) -> Self {
        Self { inner, tracker }
    }
}

impl<S> WatchedIo<S> {
    /// Reports a write of the first `written` bytes of `bufs`.
    fn wrote<'a>(&self, polled: &Poll<io::Result<usize>>, bufs: impl Iterator<Item = &'a [u8]>) {
        match polled {
            Poll::Ready(Ok(written)) if *written > 0 => {
                let mut left = *written;
                self.tracker.bytes_written(bufs.map_while(|buf| {
                    let taken = buf.len().min(left);
                    left -= taken;
                    (taken > 0).then(|| &buf[..taken])
                }));
            }
            Poll::Pending => self.tracker.write_blocked(),
            Poll::Ready(_) => {}
        }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for WatchedIo<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.inner).poll_read(cx, buf);
        if let Poll::Ready(Ok(())) = polled
            && buf.filled().len() > before
            && let Err(err) = self.tracker.bytes_read(&buf.filled()[before..])
        {
            return Poll::Ready(Err(io::Error::other(err)));
        }
        polled
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for WatchedIo<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let polled = Pin::new(&mut self.inner).poll_write(cx, buf);
        self.wrote(&polled, std::iter::once(buf));
        polled
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let polled = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        self.wrote(&polled, bufs.iter().map(|buf| &**buf));
        polled
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}
