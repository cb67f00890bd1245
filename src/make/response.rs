//! Reading Make's answers defensively: the body is read in chunks up to a fixed cap, and a
//! redirect's target is described without its query string.
//!
//! Make's largest real answers (a team's connection list) stay far below a megabyte. A
//! broken or hostile upstream could send hundreds, and an answer read whole is held several
//! times over while it is parsed and copied. The cap keeps memory bounded.

use reqwest::Response;
use reqwest::header::{CONTENT_TYPE, LOCATION};

/// The cap on a response body, in MiB (named in the error message).
pub(crate) const MAX_RESPONSE_MIB: usize = 16;
/// The cap on a response body, in bytes.
pub const MAX_RESPONSE_BYTES: usize = MAX_RESPONSE_MIB * 1024 * 1024;

/// Why a body could not be read.
pub(super) enum BodyError {
    /// Past [`MAX_RESPONSE_BYTES`]: by its `Content-Length`, or while reading.
    TooLarge,
    /// The connection failed while reading.
    Transport(reqwest::Error),
}

/// Reads the body into one buffer, refusing it as soon as it passes the cap. A declared
/// `Content-Length` above the cap is refused before anything is read, and a smaller one
/// sizes the buffer up front, so the body is never copied while it grows.
pub(super) async fn read_capped(response: &mut Response) -> Result<Vec<u8>, BodyError> {
    let declared = response.content_length();
    if declared.is_some_and(|len| len > MAX_RESPONSE_BYTES as u64) {
        return Err(BodyError::TooLarge);
    }
    let mut body = Vec::with_capacity(declared.unwrap_or(0) as usize);
    while let Some(chunk) = response.chunk().await.map_err(BodyError::Transport)? {
        if body.len() + chunk.len() > MAX_RESPONSE_BYTES {
            return Err(BodyError::TooLarge);
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// Where a 3xx points, as `scheme://host[:port]/path`: the query string and fragment (which
/// may carry tokens or signatures) and any user info are left out. `None` when the header
/// is missing or unreadable.
pub(super) fn redirect_target(response: &Response) -> Option<String> {
    let location = response.headers().get(LOCATION)?.to_str().ok()?;
    // Relative to the URL that was asked for (a redirect is never followed, so it is that one).
    let mut target = response.url().join(location).ok()?;
    target.set_query(None);
    target.set_fragment(None);
    let _ = target.set_username("");
    let _ = target.set_password(None);
    Some(super::error::clip(target.as_str(), 200))
}

/// The content type of a successful answer that is declared and is not JSON (e.g. the
/// `text/html` page of a proxy or captive portal that answered instead of Make). Make's API
/// always answers JSON, so such an answer cannot be taken for Make's.
pub(super) fn foreign_content_type(response: &Response) -> Option<String> {
    let declared = response.headers().get(CONTENT_TYPE)?.to_str().ok()?;
    let essence = declared
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    (!essence.is_empty() && !essence.contains("json")).then(|| super::error::clip(&essence, 60))
}

/// Why a body could not be decoded, in words a model can act on.
pub(super) fn decode_reason(error: &serde_json::Error) -> String {
    use serde_json::error::Category;
    let what = match error.classify() {
        Category::Syntax | Category::Eof => "the body is not JSON",
        Category::Data => "the JSON does not have the expected shape",
        Category::Io => "the body could not be read",
    };
    super::error::clip(&format!("{what} ({error})"), super::error::MAX_REASON_CHARS)
}
