//! The OpenAPI document of the API: what dropshot derives from the trait, completed where
//! dropshot has no words for it (several success statuses, the security scheme). The server
//! serves this document and `cargo xtask regen` writes it to `openapi.json`.

use serde_json::{Value, json};

/// Name of the CF error envelope's schema, and of dropshot's shared error response, which is named
/// after it (`CfError`'s schemars name).
const ERROR_SCHEMA: &str = "CfErrorEnvelope";

/// Name of the bearer-token security scheme in the document.
const BEARER: &str = "bearer";

/// Operations that carry their own authorization and take no bearer token.
const UNAUTHENTICATED_OPERATIONS: &[&str] = &[
    "droplet_bits_signed",
    "droplet_bits_signed_head",
    "root_get",
    "v3_root_get",
    "health_get",
    "openapi_get",
    "docs_get",
];

/// The 422s of each operation: the rules a request can break that its schema cannot state.
const UNPROCESSABLE: &[(&str, &str)] = &[
    (
        "droplet_create",
        "The body breaks a rule: a label, annotation or process type the Cloud Controller would \
         refuse; a copy (`source_guid`) with anything but `relationships`; or a copy of a droplet \
         that is not `STAGED`. Nothing was created.",
    ),
    (
        "droplet_update",
        "A label or annotation the Cloud Controller would refuse. Nothing was changed.",
    ),
    (
        "droplet_upload",
        "The form breaks a rule: no `bits` file, a `bits` file name that does not end in `.tgz` \
         or `.tar.gz`, an empty or cut-short file, an unknown field, or `resources` that is not \
         a JSON array of resources; or the droplet is not `AWAITING_UPLOAD`, or another upload \
         of it is in progress. Nothing was stored. (Bits that are not a gzip tarball are \
         accepted and fail the droplet in the job.)",
    ),
    ("droplet_download", "Only `STAGED` droplets can be downloaded."),
    ("droplet_download_head", "Only `STAGED` droplets can be downloaded."),
];

/// Operations that answer with the droplet's bits, and those that answer with their headers.
const BITS_OPERATIONS: &[&str] = &["droplet_download", "droplet_bits_signed"];
const BITS_HEAD_OPERATIONS: &[&str] = &["droplet_download_head", "droplet_bits_signed_head"];

pub fn openapi_document() -> Value {
    let description = crate::droplet_api_mod::stub_api_description()
        .expect("the API trait describes a valid API");
    let mut definition = description.openapi("Droplet bits API", semver::Version::new(3, 0, 0));
    // A newcomer's guide, rendered at the top of `/docs`: tokens, the flow, redirects, errors.
    definition.description(include_str!("guide.md")).license_name("Apache-2.0");
    let mut document = definition.json().expect("the OpenAPI document serializes");
    add_bearer_security(&mut document);
    for operation in BITS_OPERATIONS {
        describe_bits_responses(operation_mut(&mut document, operation), true);
    }
    for operation in BITS_HEAD_OPERATIONS {
        describe_bits_responses(operation_mut(&mut document, operation), false);
    }
    describe_upload_responses(operation_mut(&mut document, "droplet_upload"));
    describe_text_response(&mut document, "docs_get", "text/html", "The documentation page.");
    describe_text_response(
        &mut document,
        "metrics_get",
        "text/plain",
        "The metrics, in the Prometheus text format (`text/plain; version=0.0.4`).",
    );
    for (operation, description) in UNPROCESSABLE {
        operation_mut(&mut document, operation)["responses"]["422"] =
            json!({ "description": description, "content": error_content() });
    }
    document
}

fn add_bearer_security(document: &mut Value) {
    document["components"]["securitySchemes"] = json!({
        BEARER: {
            "type": "http",
            "scheme": "bearer",
            "bearerFormat": "JWT",
            "description": "A UAA access token: `Authorization: bearer <JWT>`. Reads need \
                cloud_controller.read, .admin, .admin_read_only or .global_auditor; everything \
                else cloud_controller.write or .admin."
        }
    });
    document["security"] = json!([{ BEARER: [] }]);
    for operation in UNAUTHENTICATED_OPERATIONS {
        operation_mut(document, operation)["security"] = json!([]);
    }
    // A token only where the server is configured to ask for one.
    operation_mut(document, "metrics_get")["security"] = json!([{}, { BEARER: [] }]);
}

/// The responses of a download, with the body (`GET`) or without it (`HEAD`).
fn describe_bits_responses(operation: &mut Value, with_body: bool) {
    let binary = json!({ "application/octet-stream": { "schema": { "type": "string", "format": "binary" } } });
    let header =
        |description: &str| json!({ "description": description, "schema": { "type": "string" } });
    let length = json!({ "description": "Bytes in the body.", "schema": { "type": "integer", "format": "uint64" } });
    let etag = header("The quoted SHA-256 of the whole droplet.");
    let accept_ranges = header("`bytes`: a `Range` request is answered with 206.");
    let digest = header("RFC 9530: `sha-256=:<base64 of the SHA-256>:` of the whole droplet.");
    let disposition = header("`attachment; filename=\"droplet_<guid>.tgz\"`.");
    let responses = &mut operation["responses"];
    responses["200"] = json!({
        "description": "The droplet's gzip tarball.",
        "headers": {
            "Content-Length": length,
            "ETag": etag,
            "Accept-Ranges": accept_ranges,
            "Repr-Digest": digest,
            "Content-Disposition": disposition,
        },
        "content": binary,
    });
    responses["206"] = json!({
        "description": "The requested byte range of the droplet's gzip tarball.",
        "headers": {
            "Content-Length": length,
            "Content-Range": header("`bytes FIRST-LAST/SIZE`."),
            "ETag": etag,
            "Accept-Ranges": accept_ranges,
            "Repr-Digest": digest,
            "Content-Disposition": disposition,
        },
        "content": binary,
    });
    responses["304"] = json!({
        "description": "`If-None-Match` named the droplet's `ETag`: the client's copy is current.",
        "headers": { "ETag": etag },
    });
    responses["416"] = json!({
        "description": "The `Range` does not overlap the droplet.",
        "headers": { "Content-Range": header("`bytes */SIZE`: the droplet's size.") },
        "content": error_content(),
    });
    // Errors keep their documented body, as dropshot documents every error of a HEAD.
    if !with_body {
        for status in ["200", "206"] {
            responses[status].as_object_mut().expect("a response").remove("content");
        }
    }
    responses["302"] = json!({
        "description": "The bits are at `Location`, a short-lived presigned or signed URL. \
            Follow it without the `Authorization` header.",
        "headers": { "Location": { "description": "Where to fetch the bits.", "required": true, "schema": { "type": "string" } } },
    });
}

fn describe_upload_responses(operation: &mut Value) {
    let json_of = |schema: &str| json!({ "application/json": { "schema": { "$ref": format!("#/components/schemas/{schema}") } } });
    let responses = &mut operation["responses"];
    responses["202"] = json!({
        "description": "successfully enqueued operation",
        "headers": { "location": {
            "description": "Absolute URL of the job.",
            "required": true,
            "schema": { "type": "string" },
            "style": "simple",
        } },
        "content": json_of("Droplet"),
    });
    responses["503"] = json!({
        "description": "The server is receiving as many uploads as it takes at once \
            (`max_concurrent_uploads`); nothing was read or stored. Try again after `Retry-After`.",
        "headers": { "Retry-After": {
            "description": "Seconds to wait before trying again.",
            "required": true,
            "schema": { "type": "integer", "format": "uint64" },
        } },
        "content": error_content(),
    });
}

/// A `200` with a text body, in place of the `default` dropshot documents for a raw response.
fn describe_text_response(document: &mut Value, operation: &str, media: &str, description: &str) {
    let responses = &mut operation_mut(document, operation)["responses"];
    responses.as_object_mut().expect("responses").remove("default");
    responses["200"] = json!({
        "description": description,
        "content": { media: { "schema": { "type": "string" } } },
    });
    for range in ["4XX", "5XX"] {
        responses[range] = json!({ "$ref": format!("#/components/responses/{ERROR_SCHEMA}") });
    }
}

/// An error response's body: the CF error envelope.
fn error_content() -> Value {
    json!({ "application/json": { "schema": { "$ref": format!("#/components/schemas/{ERROR_SCHEMA}") } } })
}

fn operation_mut<'a>(document: &'a mut Value, operation_id: &str) -> &'a mut Value {
    let paths = document["paths"].as_object_mut().expect("the document has paths");
    paths
        .values_mut()
        .flat_map(|item| item.as_object_mut().into_iter().flat_map(|m| m.values_mut()))
        .find(|op| op["operationId"] == operation_id)
        .unwrap_or_else(|| panic!("the API has an operation {operation_id}"))
}
