//! The raw query string of a list endpoint, decoded into name/value pairs. dropshot's `Query<T>`
//! silently ignores unknown parameters and cannot express the Cloud Controller's bracketed
//! parameters (`created_ats[lt]=...`), so this extractor hands every pair to the server, which
//! validates them all itself (unknown or malformed ones are 400 `CF-BadQueryParameter`). The
//! parameters are documented in the spec exactly like a `Query<T>`.

use std::marker::PhantomData;

use dropshot::{
    ApiEndpointBodyContentType, ExtractorMetadata, HttpError, Query, RequestContext, ServerContext,
    SharedExtractor,
};
use schemars::JsonSchema;
use serde::de::DeserializeOwned;

/// The decoded `name=value` pairs of the query string, in order; `T` documents them.
#[derive(Debug)]
pub struct ListQuery<T> {
    pub pairs: Vec<(String, String)>,
    _documents: PhantomData<fn() -> T>,
}

impl<T> ListQuery<T> {
    pub fn new(pairs: Vec<(String, String)>) -> Self {
        ListQuery { pairs, _documents: PhantomData }
    }

    pub fn into_pairs(self) -> Vec<(String, String)> {
        self.pairs
    }
}

/// Decodes `application/x-www-form-urlencoded` text: `+` is a space, `%XX` a byte.
fn decode(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?;
                out.push(u8::from_str_radix(hex, 16).ok()?);
                i += 2;
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8(out).ok()
}

/// The pairs of a raw query string; `None` if it is not valid form encoding of UTF-8.
pub fn parse_query_string(query: &str) -> Option<Vec<(String, String)>> {
    query
        .split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            Some((decode(name)?, decode(value)?))
        })
        .collect()
}

#[async_trait::async_trait]
impl<T: DeserializeOwned + JsonSchema + Send + Sync + 'static> SharedExtractor for ListQuery<T> {
    async fn from_request<Context: ServerContext>(
        rqctx: &RequestContext<Context>,
    ) -> Result<Self, HttpError> {
        let raw = rqctx.request.uri().query().unwrap_or("");
        parse_query_string(raw).map(ListQuery::new).ok_or_else(|| {
            HttpError::for_bad_request(None, "the query string is not valid form encoding".into())
        })
    }

    fn metadata(content_type: ApiEndpointBodyContentType) -> ExtractorMetadata {
        Query::<T>::metadata(content_type)
    }
}
