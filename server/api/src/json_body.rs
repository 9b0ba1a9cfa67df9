//! A JSON request body with the Cloud Controller's distinction between a body that is not JSON
//! (400 `CF-MessageParseError`) and JSON that does not fit the message (422
//! `CF-UnprocessableEntity`). dropshot's `TypedBody` answers 400 for both; this extractor is
//! described in the spec exactly like a `TypedBody<T>`.

use std::any::TypeId;
use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex, OnceLock};

use dropshot::{
    ApiEndpointBodyContentType, ClientErrorStatusCode, ExclusiveExtractor, ExtractorMetadata,
    HttpError, RequestContext, ServerContext, TypedBody,
};
use http_body_util::BodyExt;
use jsonschema::Validator;
use schemars::JsonSchema;
use schemars::r#gen::{SchemaGenerator, SchemaSettings};
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
        let unprocessable = |detail: String| {
            HttpError::for_client_error(None, ClientErrorStatusCode::UNPROCESSABLE_ENTITY, detail)
        };
        let message = Message::of::<T>();
        if let Some(detail) = message.unknown_fields(&value) {
            return Err(unprocessable(detail));
        }
        // The schema the document publishes decides, not serde alone, which would also take an
        // object's fields from an array.
        if let Some(error) = message.validator.iter_errors(&value).next() {
            let field = error.instance_path().as_str().trim_start_matches('/').replace('/', ".");
            let field = if field.is_empty() { "The body".to_owned() } else { field };
            return Err(unprocessable(format!("{field} is invalid: {}", error.masked())));
        }
        serde_json::from_value(value).map(CfJson).map_err(|e| unprocessable(e.to_string()))
    }

    fn metadata(content_type: ApiEndpointBodyContentType) -> ExtractorMetadata {
        TypedBody::<T>::metadata(content_type)
    }
}

/// What the server knows of a message type: its top-level fields and its schema, compiled once.
struct Message {
    fields: BTreeSet<String>,
    validator: Validator,
}

impl Message {
    fn of<T: JsonSchema + 'static>() -> Arc<Message> {
        static MESSAGES: OnceLock<Mutex<HashMap<TypeId, Arc<Message>>>> = OnceLock::new();
        let mut messages = MESSAGES.get_or_init(Default::default).lock().expect("not poisoned");
        let message = messages.entry(TypeId::of::<T>()).or_insert_with(|| {
            // Inlined, an optional object is `"type": ["object", "null"]` rather than an `anyOf`,
            // so that an error names the innermost field at fault.
            let settings = SchemaSettings::draft07().with(|s| s.inline_subschemas = true);
            let schema = SchemaGenerator::new(settings).into_root_schema_for::<T>();
            let fields = schema.schema.object.as_ref().map(|o| o.properties.keys().cloned());
            let schema = serde_json::to_value(&schema).expect("a schema serializes");
            Arc::new(Message {
                fields: fields.into_iter().flatten().collect(),
                validator: jsonschema::validator_for(&schema)
                    .expect("schemars makes valid schemas"),
            })
        });
        Arc::clone(message)
    }

    /// The reference's `Unknown field(s): 'a', 'b'` for top-level keys the message does not have.
    fn unknown_fields(&self, value: &serde_json::Value) -> Option<String> {
        let unknown: Vec<&str> = value
            .as_object()?
            .keys()
            .filter(|key| !self.fields.contains(*key))
            .map(String::as_str)
            .collect();
        (!unknown.is_empty()).then(|| format!("Unknown field(s): '{}'", unknown.join("', '")))
    }
}
