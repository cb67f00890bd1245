//! Responses whose body holds a guard until it has been sent or dropped, so that "this
//! request is still being answered" lasts as long as the answer does (an SSE stream too).

use std::pin::Pin;
use std::task::{Context, Poll};

use axum::body::{Body, Bytes};
use axum::response::Response;
use http_body::{Frame, SizeHint};

/// `response` with `guard` held by its body, dropped when the body is done or dropped.
pub(crate) fn with_guard<G: Send + Unpin + 'static>(response: Response, guard: G) -> Response {
    let (parts, body) = response.into_parts();
    Response::from_parts(
        parts,
        Body::new(Guarded {
            body,
            _guard: guard,
        }),
    )
}

/// A body that holds a guard.
///
/// Unlike `BodyExt::map_frame`, it passes the size on, so a JSON answer keeps its
/// `Content-Length` instead of becoming a chunked body.
struct Guarded<G> {
    body: Body,
    _guard: G,
}

impl<G: Send + Unpin + 'static> http_body::Body for Guarded<G> {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        Pin::new(&mut self.body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}
