//! Where an HTTP/2 connection stands on the wire: inside a frame, inside a header block, or
//! between frames, and which streams are open. The header-read timer (and the shared head
//! budget) run while a header block, or a frame's 9-byte header, is incomplete, which is how
//! a client that stops in the middle of a request's HEADERS is caught on HTTP/2; a DATA frame
//! in flight is the body timers' job. A stream stays open until the server's END_STREAM (or
//! either side's RST_STREAM) is on the wire: an answer hyper has handed to h2 but a client's
//! shut window keeps unsent still holds its request's place (see `connection.rs`).

/// The client connection preface (RFC 9113 §3.4) that opens every HTTP/2 connection.
pub const PREFACE: &[u8; 24] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

const FRAME_HEADER_LEN: usize = 9;
const DATA: u8 = 0x0;
const HEADERS: u8 = 0x1;
const RST_STREAM: u8 = 0x3;
const CONTINUATION: u8 = 0x9;
const END_STREAM: u8 = 0x1;
const END_HEADERS: u8 = 0x4;

/// Open streams tracked per connection at most. The server allows 16 at once and refuses
/// more with RST_STREAM; past this the count errs low, which releases places early rather
/// than holding them.
const MAX_TRACKED_STREAMS: usize = 64;

/// A complete frame header: its type, flags and stream.
#[derive(Debug, Clone, Copy)]
struct FrameHeader {
    kind: u8,
    flags: u8,
    stream: u32,
}

impl FrameHeader {
    /// HEADERS, CONTINUATION or DATA: part of a request or an answer.
    fn carries_a_message(self) -> bool {
        matches!(self.kind, DATA | HEADERS | CONTINUATION)
    }
}

/// Frame boundaries of the bytes a client sent, after the preface.
#[derive(Debug, Default)]
pub struct FrameTracker {
    preface_left: usize,
    header: [u8; FRAME_HEADER_LEN],
    header_len: usize,
    payload_left: usize,
    /// The frame being read is a HEADERS or CONTINUATION frame.
    in_header_frame: bool,
    header_block_open: bool,
    /// The header of the frame whose payload is being read, reported once it is whole.
    current: Option<FrameHeader>,
    /// Bytes since the last point between frames outside a header block: while a head is
    /// incomplete, what it has taken so far.
    since_boundary: usize,
}

impl FrameTracker {
    /// A tracker for a connection whose first `seen` bytes were the start of the preface.
    pub fn after_preface_bytes(seen: usize) -> Self {
        Self {
            preface_left: PREFACE.len().saturating_sub(seen),
            ..Self::default()
        }
    }

    /// Takes the next bytes; `on_frame` sees each frame's header once the whole frame has
    /// passed. Returns whether any of the bytes belong to a HEADERS, CONTINUATION or DATA
    /// frame (a request or an answer, not the connection's control frames).
    fn feed(&mut self, mut bytes: &[u8], mut on_frame: impl FnMut(FrameHeader)) -> bool {
        let skip = self.preface_left.min(bytes.len());
        self.preface_left -= skip;
        bytes = &bytes[skip..];
        let mut message_bytes = false;
        self.since_boundary += skip;
        while !bytes.is_empty() {
            if self.payload_left == 0 && self.header_len == 0 && !self.header_block_open {
                self.since_boundary = 0;
            }
            if self.payload_left > 0 {
                let taken = self.payload_left.min(bytes.len());
                self.payload_left -= taken;
                self.since_boundary += taken;
                bytes = &bytes[taken..];
                message_bytes |= self.current.is_some_and(|frame| frame.carries_a_message());
                if self.payload_left == 0
                    && let Some(frame) = self.current.take()
                {
                    on_frame(frame);
                }
                continue;
            }
            let taken = (FRAME_HEADER_LEN - self.header_len).min(bytes.len());
            self.header[self.header_len..self.header_len + taken].copy_from_slice(&bytes[..taken]);
            self.header_len += taken;
            self.since_boundary += taken;
            bytes = &bytes[taken..];
            if self.header_len == FRAME_HEADER_LEN {
                self.header_len = 0;
                let [l0, l1, l2, kind, flags, s0, s1, s2, s3] = self.header;
                self.payload_left = usize::from(l0) << 16 | usize::from(l1) << 8 | usize::from(l2);
                self.in_header_frame = kind == HEADERS || kind == CONTINUATION;
                if self.in_header_frame {
                    self.header_block_open = flags & END_HEADERS == 0;
                }
                let frame = FrameHeader {
                    kind,
                    flags,
                    stream: u32::from_be_bytes([s0 & 0x7f, s1, s2, s3]),
                };
                message_bytes |= frame.carries_a_message();
                if self.payload_left == 0 {
                    on_frame(frame);
                } else {
                    self.current = Some(frame);
                }
            }
        }
        message_bytes
    }

    /// The bytes of the incomplete head (preface, frame header or header block) so far; 0
    /// when none is incomplete. Counted from the head's start, not summed over reads: a busy
    /// connection whose reads often end inside a small frame holds no large head.
    pub fn incomplete_head_bytes(&self) -> usize {
        if self.head_incomplete() {
            self.since_boundary
        } else {
            0
        }
    }

    /// Whether the client stopped inside the preface, a frame header, or a header block.
    pub fn head_incomplete(&self) -> bool {
        self.preface_left > 0
            || self.header_len > 0
            || (self.in_header_frame && self.payload_left > 0)
            || self.header_block_open
    }
}

/// What the server's bytes did to its answers.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Sent {
    /// A HEADERS, CONTINUATION or DATA frame went out whole. Acknowledgements of a client's
    /// PINGs or SETTINGS are not progress, or a client could hold its streams with a shut
    /// window for ever by sending them.
    pub answer_moved: bool,
    /// Answers whose last frame (END_STREAM) went out: the client read them whole. Resets are
    /// not, or a client could seem to read by having streams refused.
    pub answers_ended: usize,
}

/// Both directions of one HTTP/2 connection, and the streams open between them.
#[derive(Debug, Default)]
pub struct Http2Wire {
    incoming: FrameTracker,
    outgoing: FrameTracker,
    open_streams: Vec<u32>,
    /// The highest stream the client has opened: its streams only ever go up (RFC 9113
    /// §5.1.1), so a HEADERS frame on a lower one is trailers, not a new stream.
    last_opened: u32,
}

impl Http2Wire {
    /// A connection whose first `seen` bytes were the start of the preface.
    pub fn after_preface_bytes(seen: usize) -> Self {
        Self {
            incoming: FrameTracker::after_preface_bytes(seen),
            ..Self::default()
        }
    }

    /// Bytes the client sent: a HEADERS frame on a new stream opens it, a RST_STREAM closes
    /// it. Returns whether any were part of a request (HEADERS, CONTINUATION, DATA).
    pub fn received(&mut self, bytes: &[u8]) -> bool {
        let (open, last_opened) = (&mut self.open_streams, &mut self.last_opened);
        self.incoming.feed(bytes, |frame| match frame.kind {
            HEADERS if frame.stream > *last_opened => {
                *last_opened = frame.stream;
                if open.len() < MAX_TRACKED_STREAMS {
                    open.push(frame.stream);
                }
            }
            RST_STREAM => open.retain(|&id| id != frame.stream),
            _ => {}
        })
    }

    /// Bytes the server wrote: END_STREAM or RST_STREAM closes a stream.
    pub fn sent(&mut self, bytes: &[u8]) -> Sent {
        let open = &mut self.open_streams;
        let mut sent = Sent::default();
        self.outgoing.feed(bytes, |frame| {
            sent.answer_moved |= frame.carries_a_message();
            let ended = matches!(frame.kind, DATA | HEADERS) && frame.flags & END_STREAM != 0;
            sent.answers_ended += usize::from(ended);
            if ended || frame.kind == RST_STREAM {
                open.retain(|&id| id != frame.stream);
            }
        });
        sent
    }

    /// Whether the client stopped inside the preface, a frame header, or a header block.
    pub fn head_incomplete(&self) -> bool {
        self.incoming.head_incomplete()
    }

    /// See [`FrameTracker::incomplete_head_bytes`].
    pub fn incomplete_head_bytes(&self) -> usize {
        self.incoming.incomplete_head_bytes()
    }

    /// Streams the client opened whose answer is not yet wholly on the wire.
    pub fn open_streams(&self) -> usize {
        self.open_streams.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(kind: u8, flags: u8, payload: &[u8]) -> Vec<u8> {
        frame_on(1, kind, flags, payload)
    }

    fn frame_on(stream: u8, kind: u8, flags: u8, payload: &[u8]) -> Vec<u8> {
        let len = payload.len();
        let mut bytes = vec![(len >> 16) as u8, (len >> 8) as u8, len as u8, kind, flags];
        bytes.extend_from_slice(&[0, 0, 0, stream]);
        bytes.extend_from_slice(payload);
        bytes
    }

    #[test]
    fn whole_frames_leave_nothing_pending_whatever_the_split() {
        let mut stream = PREFACE.to_vec();
        stream.extend(frame(0x4, 0, &[0; 12]));
        stream.extend(frame(HEADERS, END_HEADERS, &[1; 30]));
        for split in 0..stream.len() {
            let mut tracker = FrameTracker::after_preface_bytes(0);
            tracker.feed(&stream[..split], |_| {});
            // Inside the SETTINGS payload is neither a frame header nor a header block.
            let boundary =
                split == PREFACE.len() || (PREFACE.len() + 9..=PREFACE.len() + 21).contains(&split);
            assert_eq!(tracker.head_incomplete(), !boundary, "split {split}");
            tracker.feed(&stream[split..], |_| {});
            assert!(!tracker.head_incomplete(), "split {split}");
        }
    }

    #[test]
    fn a_partial_frame_or_an_open_header_block_is_pending() {
        let mut tracker = Http2Wire::after_preface_bytes(PREFACE.len());
        tracker.received(&frame(HEADERS, 0, &[1; 10]));
        assert!(tracker.head_incomplete(), "HEADERS without END_HEADERS");
        tracker.received(&frame(CONTINUATION, END_HEADERS, &[1; 3]));
        assert!(!tracker.head_incomplete());
        tracker.received(&frame(HEADERS, END_HEADERS, &[1; 30])[..20]);
        assert!(tracker.head_incomplete(), "half a HEADERS frame");
        tracker.received(&frame(HEADERS, END_HEADERS, &[1; 30])[20..]);
        tracker.received(&frame(DATA, 0, &[1; 100])[..50]);
        assert!(
            !tracker.head_incomplete(),
            "half a DATA frame is a body, not a head"
        );
    }

    #[test]
    fn an_incomplete_head_counts_from_its_start_not_over_reads() {
        let mut wire = Http2Wire::after_preface_bytes(PREFACE.len());
        // Reads that each end inside a small frame: never more than that frame is pending.
        for _ in 0..100 {
            let headers = frame(HEADERS, END_HEADERS | END_STREAM, &[1; 100]);
            wire.received(&headers[..50]);
            assert_eq!(wire.incomplete_head_bytes(), 50);
            wire.received(&headers[50..]);
            assert_eq!(wire.incomplete_head_bytes(), 0);
        }
        // A header block across frames counts whole, DATA before it not at all.
        wire.received(&frame(DATA, 0, &[1; 1000]));
        wire.received(&frame(HEADERS, 0, &[1; 300]));
        wire.received(&frame(CONTINUATION, 0, &[1; 300])[..100]);
        assert_eq!(wire.incomplete_head_bytes(), 9 + 300 + 100);
    }

    #[test]
    fn a_stream_is_open_until_its_end_or_reset_is_on_the_wire() {
        let mut wire = Http2Wire::after_preface_bytes(PREFACE.len());
        wire.received(&frame_on(1, HEADERS, END_HEADERS | END_STREAM, &[1; 4]));
        wire.received(&frame_on(3, HEADERS, END_HEADERS | END_STREAM, &[1; 4]));
        wire.received(&frame_on(1, DATA, END_STREAM, &[]));
        assert_eq!(
            wire.open_streams(),
            2,
            "the client's END_STREAM half-closes only"
        );
        wire.sent(&frame_on(1, HEADERS, END_HEADERS, &[1; 8]));
        let answer = frame_on(1, DATA, END_STREAM, &[b'x'; 40]);
        wire.sent(&answer[..20]);
        assert_eq!(wire.open_streams(), 2, "half an answer");
        wire.sent(&answer[20..]);
        assert_eq!(wire.open_streams(), 1, "stream 1 answered");
        wire.received(&frame_on(3, RST_STREAM, 0, &[0, 0, 0, 8]));
        assert_eq!(wire.open_streams(), 0, "stream 3 reset by the client");
        wire.received(&frame_on(1, HEADERS, END_HEADERS | END_STREAM, &[1; 4]));
        assert_eq!(
            wire.open_streams(),
            0,
            "trailers on an answered stream open nothing"
        );
        assert_eq!(
            wire.sent(&frame_on(0, 0x6, 0x1, &[0; 8])),
            Sent::default(),
            "a PING ack is no answer"
        );
        wire.received(&frame_on(5, HEADERS, END_HEADERS | END_STREAM, &[1; 4]));
        let started = wire.sent(&frame_on(5, HEADERS, END_HEADERS, &[1; 8]));
        assert!(started.answer_moved && started.answers_ended == 0);
        wire.received(&frame_on(7, HEADERS, END_HEADERS | END_STREAM, &[1; 4]));
        let reset = wire.sent(&frame_on(7, RST_STREAM, 0, &[0, 0, 0, 7]));
        assert_eq!(reset, Sent::default(), "a refused stream is no answer read");
        let ended = wire.sent(&frame_on(5, DATA, END_STREAM, &[b'x'; 4]));
        assert!(ended.answer_moved && ended.answers_ended == 1);
    }
}
