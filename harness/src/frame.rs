//! Frames on the wire: a 4-byte big-endian length, then a postcard-encoded
//! [`Frame`]. A frame that is too long or does not decode is a [`FrameError`]; the
//! connection carrying it is closed and the trace says why — never a panic.

use mesochaos_reference::{Message, ProcessId};
use serde::{Deserialize, Serialize};

/// Largest frame body accepted (a re-registration of a big agent is far smaller).
pub const MAX_FRAME_BYTES: usize = 16 * 1024 * 1024;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Frame {
    /// The first frame a dialer sends: who it is.
    Hello {
        from: ProcessId,
        incarnation: u32,
    },
    Message {
        seq: u64,
        message: Message,
    },
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum FrameError {
    #[error("frame of {0} bytes exceeds the {MAX_FRAME_BYTES}-byte limit")]
    TooLong(usize),
    #[error("malformed frame: {0}")]
    Malformed(String),
}

pub fn encode(frame: &Frame) -> Vec<u8> {
    let body = postcard::to_allocvec(frame).expect("frames serialize");
    assert!(
        body.len() <= MAX_FRAME_BYTES,
        "refusing to send an oversized frame"
    );
    let mut bytes = Vec::with_capacity(4 + body.len());
    bytes.extend_from_slice(&(body.len() as u32).to_be_bytes());
    bytes.extend_from_slice(&body);
    bytes
}

/// Checks a length prefix before reading the body.
pub fn body_len(prefix: [u8; 4]) -> Result<usize, FrameError> {
    let len = u32::from_be_bytes(prefix) as usize;
    if len > MAX_FRAME_BYTES {
        return Err(FrameError::TooLong(len));
    }
    Ok(len)
}

pub fn decode(body: &[u8]) -> Result<Frame, FrameError> {
    postcard::from_bytes(body).map_err(|e| FrameError::Malformed(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_round_trip_and_garbage_is_an_error_not_a_panic() {
        let frame = Frame::Message {
            seq: 3,
            message: Message::Ping { epoch: 2 },
        };
        let bytes = encode(&frame);
        let len = body_len(bytes[..4].try_into().unwrap()).unwrap();
        assert_eq!(decode(&bytes[4..4 + len]).unwrap(), frame);
        assert!(matches!(
            decode(&[0xff, 0xff, 0xff]),
            Err(FrameError::Malformed(_))
        ));
        assert_eq!(
            body_len([0xff; 4]),
            Err(FrameError::TooLong(u32::MAX as usize))
        );
    }
}
