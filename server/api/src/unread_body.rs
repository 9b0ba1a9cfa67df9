//! A request body handed to a handler unread, so that it streams: what the upload form and a
//! resumable upload's append both take.

/// The body of `request`, unread, with its `Content-Type` and `Content-Length` (when sent).
pub(crate) fn unread(
    request: hyper::Request<dropshot::Body>,
) -> (Option<String>, Option<u64>, dropshot::Body) {
    let (parts, body) = request.into_parts();
    let header = |name| parts.headers.get(name).and_then(|v| v.to_str().ok());
    let content_type = header(http::header::CONTENT_TYPE).map(str::to_owned);
    let content_length = header(http::header::CONTENT_LENGTH).and_then(|v| v.parse().ok());
    (content_type, content_length, body)
}
