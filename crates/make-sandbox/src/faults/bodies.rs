//! Response bodies that are produced while they are sent: the oversize padding (never held
//! in memory, so a 20 MiB answer costs the sandbox 64 KiB of static data) and the body that
//! breaks off halfway.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use axum::body::Bytes;
use http_body::{Body, Frame, SizeHint};

use super::ConnKill;

const PREFIX: &[u8] = br#"{"padding":""#;
const SUFFIX: &[u8] = br#""}"#;
const CHUNK: usize = 64 * 1024;
static PADDING: [u8; CHUNK] = [b'x'; CHUNK];

/// `{"padding":"xxx…"}` of an exact size, in 64 KiB frames.
pub(super) struct Padding {
    /// Bytes of `x` still to send.
    left: u64,
    prefix_sent: bool,
    done: bool,
}

impl Padding {
    /// A body of `bytes` bytes, or of the smallest such JSON (14 bytes) if `bytes` is less.
    pub(crate) fn new(bytes: u64) -> Self {
        let frame = (PREFIX.len() + SUFFIX.len()) as u64;
        Padding {
            left: bytes.saturating_sub(frame),
            prefix_sent: false,
            done: false,
        }
    }
}

impl Body for Padding {
    type Data = Bytes;
    type Error = std::convert::Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        let data = if !self.prefix_sent {
            self.prefix_sent = true;
            Bytes::from_static(PREFIX)
        } else if self.left > 0 {
            let n = self.left.min(CHUNK as u64) as usize;
            self.left -= n as u64;
            Bytes::from_static(&PADDING[..n])
        } else if !self.done {
            self.done = true;
            Bytes::from_static(SUFFIX)
        } else {
            return Poll::Ready(None);
        };
        Poll::Ready(Some(Ok(Frame::data(data))))
    }

    fn is_end_stream(&self) -> bool {
        self.done
    }

    fn size_hint(&self) -> SizeHint {
        let mut left = self.left + if self.done { 0 } else { SUFFIX.len() as u64 };
        if !self.prefix_sent {
            left += PREFIX.len() as u64;
        }
        SizeHint::with_exact(left)
    }
}

/// Sends `head`, waits a moment so it leaves the server, then fails: hyper closes the
/// connection with the message unfinished. The connection's kill switch, when there is
/// one, makes sure nothing more goes out.
pub(super) struct Cut {
    head: Option<Bytes>,
    /// Without a pause hyper would meet the error before flushing the head, and the client
    /// would see no response at all.
    pause: Pin<Box<tokio::time::Sleep>>,
    kill: Option<ConnKill>,
}

/// How long a cut body waits between its head and the break.
const PAUSE: std::time::Duration = std::time::Duration::from_millis(20);

impl Cut {
    pub(crate) fn new(head: Bytes, kill: Option<ConnKill>) -> Self {
        Cut {
            head: Some(head).filter(|h| !h.is_empty()),
            pause: Box::pin(tokio::time::sleep(PAUSE)),
            kill,
        }
    }
}

impl Body for Cut {
    type Data = Bytes;
    type Error = std::io::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        if let Some(head) = self.head.take() {
            return Poll::Ready(Some(Ok(Frame::data(head))));
        }
        if self.pause.as_mut().poll(cx).is_pending() {
            return Poll::Pending;
        }
        if let Some(kill) = &self.kill {
            kill.kill();
        }
        Poll::Ready(Some(Err(std::io::Error::new(
            std::io::ErrorKind::ConnectionAborted,
            "body cut by sandbox fault injection",
        ))))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::BodyExt;

    #[tokio::test]
    async fn padding_is_valid_json_of_the_exact_size() {
        for size in [0u64, 14, 15, 200_000] {
            let body = Padding::new(size);
            let expected = size.max(14);
            assert_eq!(body.size_hint().exact(), Some(expected));
            let bytes = body.collect().await.unwrap().to_bytes();
            assert_eq!(bytes.len() as u64, expected);
            let value: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
            assert_eq!(
                value["padding"].as_str().unwrap().len() as u64,
                expected - 14
            );
        }
    }
}
