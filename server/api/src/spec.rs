//! The OpenAPI documents of the API, one per version: what dropshot derives from the trait for
//! that version, completed where dropshot has no words for it (several success statuses, the
//! security scheme), with the version history in the description. The server serves them and
//! `cargo xtask regen` writes them under `openapi/droplets/`, the latest also to `openapi.json`.

use semver::Version;
use serde_json::{Value, json};

use crate::versions::{self, VERSION_HEADER};

/// The documents' title.
pub const TITLE: &str = "Droplet bits API";

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

/// The refusals of each resumable upload (tus) operation beside those every operation has
/// (401, 403, 404, 5XX): the rules its schema cannot state.
const TUS_REFUSALS: &[(&str, &[(&str, &str)])] = &[
    (
        "resumable_upload_create",
        &[
            ("400", "`Upload-Metadata` is not tus metadata, or longer than 4096 bytes."),
            ("412", TUS_VERSION_REFUSED),
            ("413", "`Upload-Length` is more than the server's `max_upload_bytes`."),
            (
                "422",
                "The droplet is not `AWAITING_UPLOAD` (it has bits, or they are being \
                 processed), another upload of it is in progress, or `Upload-Length` is 0. \
                 Nothing was created.",
            ),
        ],
    ),
    ("resumable_upload_head", &[("412", TUS_VERSION_REFUSED)]),
    (
        "resumable_upload_append",
        &[
            ("400", "`Upload-Checksum` is malformed or names an algorithm other than `sha256`."),
            (
                "409",
                "`Upload-Offset` is not the upload's offset; `HEAD` tells it. Nothing was read.",
            ),
            ("412", TUS_VERSION_REFUSED),
            (
                "413",
                "The body would take the upload past its `Upload-Length` (or the upload is \
                 complete): nothing of it was kept.",
            ),
            ("415", "The body is not `application/offset+octet-stream`."),
            ("423", "Another request is appending to the upload; try again after `Retry-After`."),
            ("460", "The body does not match `Upload-Checksum`: nothing of it was kept."),
            (
                "503",
                "The server is receiving as many upload bodies as it takes at once \
                 (`max_concurrent_uploads`); nothing was read. Try again after `Retry-After`.",
            ),
        ],
    ),
    (
        "resumable_upload_delete",
        &[
            ("412", TUS_VERSION_REFUSED),
            ("422", "The upload is complete: its bits are the droplet's job's now."),
            ("423", "Another request is appending to the upload; try again after `Retry-After`."),
        ],
    ),
];

const TUS_VERSION_REFUSED: &str =
    "No `Tus-Resumable: 1.0.0`: `Tus-Version` names the version this server speaks.";

/// The operation whose body is tus's `application/offset+octet-stream`, which dropshot
/// documents as `application/octet-stream`.
const OFFSET_STREAM_OPERATION: &str = "resumable_upload_append";

/// Operations that answer with the droplet's bits, and those that answer with their headers.
const BITS_OPERATIONS: &[&str] = &["droplet_download", "droplet_bits_signed"];
const BITS_HEAD_OPERATIONS: &[&str] = &["droplet_download_head", "droplet_bits_signed_head"];

/// The document of the latest version: `openapi.json`.
pub fn openapi_document() -> Value {
    versioned_document(&versions::latest_version())
}

/// The document of `version`, one of `versions::supported_versions()`.
pub fn versioned_document(version: &Version) -> Value {
    let description = crate::droplet_api_mod::stub_api_description()
        .expect("the API trait describes a valid API");
    let mut definition = description.openapi(TITLE, version.clone());
    // A newcomer's guide, rendered at the top of `/docs`: tokens, the flow, redirects, errors;
    // then which version this is, and the versions before it.
    let guide = format!(
        "{}{}{}",
        include_str!("guide.md"),
        resumable_guide(version),
        version_history(version)
    );
    definition.description(guide).license_name("Apache-2.0");
    let mut document = definition.json().expect("the OpenAPI document serializes");
    add_bearer_security(&mut document);
    let bits = BITS_OPERATIONS.iter().map(|o| (o, true));
    for (operation, with_body) in bits.chain(BITS_HEAD_OPERATIONS.iter().map(|o| (o, false))) {
        if let Some(operation) = operation_mut(&mut document, operation) {
            describe_bits_responses(operation, with_body);
        }
    }
    if let Some(upload) = operation_mut(&mut document, "droplet_upload") {
        describe_upload_responses(upload);
    }
    describe_text_response(&mut document, "docs_get", "text/html", "The documentation page.");
    describe_text_response(
        &mut document,
        "metrics_get",
        "text/plain",
        "The metrics, in the Prometheus text format (`text/plain; version=0.0.4`).",
    );
    describe_tus_refusals(&mut document);
    if let Some(append) = operation_mut(&mut document, OFFSET_STREAM_OPERATION) {
        let content = &mut append["requestBody"]["content"];
        let binary = content.as_object_mut().and_then(|c| c.remove("application/octet-stream"));
        content[crate::resumable::OFFSET_OCTET_STREAM] = binary.expect("a binary body");
    }
    for (operation, description) in UNPROCESSABLE {
        if let Some(operation) = operation_mut(&mut document, operation) {
            operation["responses"]["422"] =
                json!({ "description": description, "content": error_content() });
        }
    }
    document
}

/// How resumable uploads go, in the documents of the versions that have them.
fn resumable_guide(version: &Version) -> &'static str {
    match *version >= versions::VERSION_RESUMABLE_UPLOADS {
        true => include_str!("guide_resumable.md"),
        false => "",
    }
}

/// The description's last section: this document's version and the versions up to it, newest
/// first. A version's document does not list later ones, so that it stays the same when they
/// come.
fn version_history(version: &Version) -> String {
    let latest = versions::latest_version();
    let mut text = format!(
        "\n## Versions\n\nThis document describes version **{version}** of the API. A client \
         names the version it speaks in the `{VERSION_HEADER}` request header (the clients \
         generated from a document send that document's version); a request without it gets the \
         latest version, {latest}. A version the server does not serve gets 400 \
         `CF-InvalidRequest`.\n\n| Version | What it brought |\n|---|---|\n"
    );
    let history = versions::supported_versions();
    let mut earlier: Vec<_> = history.iter().filter(|v| v.semver() <= version).collect();
    earlier.reverse();
    for v in earlier {
        text += &format!("| {} | {} |\n", v.semver(), versions::what_changed(v.label()));
    }
    text
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
        if let Some(operation) = operation_mut(document, operation) {
            operation["security"] = json!([]);
        }
    }
    // A token only where the server is configured to ask for one.
    if let Some(operation) = operation_mut(document, "metrics_get") {
        operation["security"] = json!([{}, { BEARER: [] }]);
    }
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
    let Some(operation) = operation_mut(document, operation) else { return };
    let responses = &mut operation["responses"];
    responses.as_object_mut().expect("responses").remove("default");
    responses["200"] = json!({
        "description": description,
        "content": { media: { "schema": { "type": "string" } } },
    });
    for range in ["4XX", "5XX"] {
        responses[range] = json!({ "$ref": format!("#/components/responses/{ERROR_SCHEMA}") });
    }
}

/// The tus operations' refusals, each a CF error, with the headers tus asks for.
fn describe_tus_refusals(document: &mut Value) {
    let retry_after = json!({ "Retry-After": {
        "description": "Seconds to wait before trying again.",
        "required": true,
        "schema": { "type": "integer", "format": "uint64" },
    } });
    let tus_version = json!({ "Tus-Version": {
        "description": "The tus versions this server speaks: `1.0.0`.",
        "required": true,
        "schema": { "type": "string" },
    } });
    for (operation, refusals) in TUS_REFUSALS {
        let Some(operation) = operation_mut(document, operation) else { continue };
        for (status, description) in *refusals {
            let mut response = json!({ "description": description, "content": error_content() });
            match *status {
                "412" => response["headers"] = tus_version.clone(),
                "423" | "503" => response["headers"] = retry_after.clone(),
                _ => {}
            }
            operation["responses"][*status] = response;
        }
    }
}

/// An error response's body: the CF error envelope.
fn error_content() -> Value {
    json!({ "application/json": { "schema": { "$ref": format!("#/components/schemas/{ERROR_SCHEMA}") } } })
}

/// The operation `operation_id`, if this version has it. (A unit test checks that each name
/// given here is an operation of some version.)
fn operation_mut<'a>(document: &'a mut Value, operation_id: &str) -> Option<&'a mut Value> {
    let paths = document["paths"].as_object_mut().expect("the document has paths");
    paths
        .values_mut()
        .flat_map(|item| item.as_object_mut().into_iter().flat_map(|m| m.values_mut()))
        .find(|op| op["operationId"] == operation_id)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The operations this file completes exist, so that a renamed one is not silently skipped.
    #[test]
    fn every_operation_named_here_is_in_some_version() {
        let documents: Vec<Value> = versions::all().iter().map(versioned_document).collect();
        let named = UNAUTHENTICATED_OPERATIONS
            .iter()
            .chain(UNPROCESSABLE.iter().map(|(operation, _)| operation))
            .chain(BITS_OPERATIONS)
            .chain(BITS_HEAD_OPERATIONS)
            .chain(TUS_REFUSALS.iter().map(|(operation, _)| operation))
            .chain(&[OFFSET_STREAM_OPERATION])
            .chain(&["droplet_upload", "docs_get", "metrics_get"]);
        for operation in named {
            let found = documents.iter().any(|d| {
                let paths = d["paths"].as_object().expect("paths");
                let items = paths.values().filter_map(|item| item.as_object());
                items.flat_map(|item| item.values()).any(|op| op["operationId"] == *operation)
            });
            assert!(found, "no version of the API has an operation {operation}");
        }
    }

    #[test]
    fn each_document_states_its_version_and_the_versions_before_it() {
        for version in versions::all() {
            let document = versioned_document(&version);
            assert_eq!(document["info"]["version"], version.to_string());
            let description = document["info"]["description"].as_str().expect("a description");
            assert!(description.contains(&format!("version **{version}**")));
            for other in versions::all() {
                let row = format!("| {other} |");
                assert_eq!(description.contains(&row), other <= version, "{other} in {version}");
            }
        }
    }
}
