//! Where an HTTP/2 byte stream stands: inside a frame, inside a header block, or between
//! frames. The header-read timer (and the shared head budget) run while a header block, or
//! a frame's 9-byte header, is incomplete, which is how a client that stops in the middle of
//! a request's HEADERS is caught on HTTP/2; a DATA frame in flight is the body timers' job.

/// The client connection preface (RFC 9113 §3.4) that opens every HTTP/2 connection.
pub const PREFACE: &[u8; 24] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

const FRAME_HEADER_LEN: usize = 9;
const HEADERS: u8 = 0x1;
const CONTINUATION: u8 = 0x9;
const END_HEADERS: u8 = 0x4;

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
}

impl FrameTracker {
    /// A tracker for a connection whose first `seen` bytes were the start of the preface.
    pub fn after_preface_bytes(seen: usize) -> Self {
        Self {
            preface_left: PREFACE.len().saturating_sub(seen),
            ..Self::default()
        }
    }

    /// Takes the next bytes the client sent.
    pub fn feed(&mut self, mut bytes: &[u8]) {
        let skip = self.preface_left.min(bytes.len());
        self.preface_left -= skip;
        bytes = &bytes[skip..];
        while !bytes.is_empty() {
            if self.payload_left > 0 {
                let taken = self.payload_left.min(bytes.len());
                self.payload_left -= taken;
                bytes = &bytes[taken..];
                continue;
            }
            let taken = (FRAME_HEADER_LEN - self.header_len).min(bytes.len());
            self.header[self.header_len..self.header_len + taken].copy_from_slice(&bytes[..taken]);
            self.header_len += taken;
            bytes = &bytes[taken..];
            if self.header_len == FRAME_HEADER_LEN {
                self.header_len = 0;
                let [l0, l1, l2, kind, flags, ..] = self.header;
                self.payload_left = usize::from(l0) << 16 | usize::from(l1) << 8 | usize::from(l2);
                self.in_header_frame = kind == HEADERS || kind == CONTINUATION;
                if self.in_header_frame {
                    self.header_block_open = flags & END_HEADERS == 0;
                }
            }
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

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(kind: u8, flags: u8, payload: &[u8]) -> Vec<u8> {
        let len = payload.len();
        let mut bytes = vec![(len >> 16) as u8, (len >> 8) as u8, len as u8, kind, flags];
        bytes.extend_from_slice(&[0, 0, 0, 1]);
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
            tracker.feed(&stream[..split]);
            // Inside the SETTINGS payload is neither a frame header nor a header block.
            let boundary =
                split == PREFACE.len() || (PREFACE.len() + 9..=PREFACE.len() + 21).contains(&split);
            assert_eq!(tracker.head_incomplete(), !boundary, "split {split}");
            tracker.feed(&stream[split..]);
            assert!(!tracker.head_incomplete(), "split {split}");
        }
    }

    #[test]
    fn a_partial_frame_or_an_open_header_block_is_pending() {
        let mut tracker = FrameTracker::after_preface_bytes(PREFACE.len());
        tracker.feed(&frame(HEADERS, 0, &[1; 10]));
        assert!(tracker.head_incomplete(), "HEADERS without END_HEADERS");
        tracker.feed(&frame(CONTINUATION, END_HEADERS, &[1; 3]));
        assert!(!tracker.head_incomplete());
        tracker.feed(&frame(HEADERS, END_HEADERS, &[1; 30])[..20]);
        assert!(tracker.head_incomplete(), "half a HEADERS frame");
        tracker.feed(&frame(HEADERS, END_HEADERS, &[1; 30])[20..]);
        tracker.feed(&frame(0x0, 0, &[1; 100])[..50]);
        assert!(
            !tracker.head_incomplete(),
            "half a DATA frame is a body, not a head"
        );
    }
}
