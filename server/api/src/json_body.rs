//! A JSON request body with the Cloud Controller's distinction between a body that is not JSON
//! (400 `CF-MessageParseError`) and JSON that does not fit the message (422
//! `CF-UnprocessableEntity`). dropshot's `TypedBody` answers 400 for both; this extractor is
//! described in the spec exactly like a `TypedBody<T>`.

use dropshot::{
    ApiEndpointBodyContentType, ClientErrorStatusCode, ExclusiveExtractor, ExtractorMetadata,
    HttpError, RequestContext, ServerContext, TypedBody,
};
use http_body_util::BodyExt;
use schemars::JsonSchema;
use serde::de::DeserializeOwned;

/// The largest JSON request body accepted (droplet creation and updates).
pub const MAX_JSON_BODY_BYTES: usize = 64 * 1024;

#[derive(Debug)]
pub struct CfJson<T>(pub T);

impl<T> CfJson<T> {
    pub fn into_inner(self) -> T {
        self.0
    }
}

#[async_trait::async_trait]
impl<T: DeserializeOwned + JsonSchema + Send + Sync + 'static> ExclusiveExtractor for CfJson<T> {
    async fn from_request<Context: ServerContext>(
        _rqctx: &RequestContext<Context>,
        request: hyper::Request<dropshot::Body>,
    ) -> Result<Self, HttpError> {
        let limited = http_body_util::Limited::new(request.into_body(), MAX_JSON_BODY_BYTES);
        let bytes = limited
            .collect()
            .await
            .map_err(|e| match e.downcast_ref::<http_body_util::LengthLimitError>() {
                Some(_) => HttpError::for_client_error(
                    None,
                    ClientErrorStatusCode::PAYLOAD_TOO_LARGE,
                    format!("the request body exceeds {MAX_JSON_BODY_BYTES} bytes"),
                ),
                None => {
                    HttpError::for_bad_request(None, format!("the body could not be read: {e}"))
                }
            })?
            .to_bytes();
        let value: serde_json::Value = serde_json::from_slice(&bytes)
            .map_err(|e| HttpError::for_bad_request(None, format!("invalid JSON: {e}")))?;
        if let Some(detail) = unknown_fields::<T>(&value) {
            return Err(HttpError::for_client_error(
                None,
                ClientErrorStatusCode::UNPROCESSABLE_ENTITY,
                detail,
            ));
        }
        serde_json::from_value(value).map(CfJson).map_err(|e| {
            HttpError::for_client_error(
                None,
                ClientErrorStatusCode::UNPROCESSABLE_ENTITY,
                e.to_string(),
            )
        })
    }

    fn metadata(content_type: ApiEndpointBodyContentType) -> ExtractorMetadata {
        TypedBody::<T>::metadata(content_type)
    }
}

/// The reference's `Unknown field(s): 'a', 'b'` for top-level keys the message does not have
/// (the properties of `T`'s schema).
fn unknown_fields<T: JsonSchema>(value: &serde_json::Value) -> Option<String> {
    let object = value.as_object()?;
    let schema = schemars::r#gen::SchemaGenerator::default().into_root_schema_for::<T>();
    let known = schema.schema.object.as_ref()?;
    let unknown: Vec<&str> = object
        .keys()
        .filter(|key| !known.properties.contains_key(*key))
        .map(String::as_str)
        .collect();
    (!unknown.is_empty()).then(|| format!("Unknown field(s): '{}'", unknown.join("', '")))
}
