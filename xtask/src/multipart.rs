//! Client methods for the `multipart/form-data` operations of the document, which progenitor 0.15
//! cannot generate. Generated from the same document, in progenitor's style (same `Client`,
//! `ResponseValue` and `Error` types, and the same `ClientHooks` around sending the request), so
//! that they behave like the generated operations and `cargo xtask check` covers them like the
//! rest.
//!
//! Form fields map to Rust types by their schema: a binary string is a streamed file part
//! (`crate::file_part::FilePart`), a string a text part, and a reference to a component
//! schema (or an array of them) a JSON part, the OpenAPI default for structured multipart fields.
//! The generated code names each item by the file that defines it (`crate::generated`,
//! `crate::file_part`), not by re-exports, so that it depends on no file that may depend
//! on it (the extras' upload helper uses the generated form).

use anyhow::{Context, bail};
use proc_macro2::TokenStream;
use quote::{format_ident, quote};
use serde_json::Value;

pub const CONTENT_TYPE: &str = "multipart/form-data";

/// Removes the multipart operations from `document` and returns the code of their client methods.
pub fn take_operations(document: &mut Value) -> anyhow::Result<TokenStream> {
    let ours = |_: &str, op: &Value| op["requestBody"]["content"].get(CONTENT_TYPE).is_some();
    take_operations_generated_by(document, ours, method_tokens)
}

/// Removes the operations `ours` picks (by method and operation) from `document`, and returns
/// the client methods `generate` writes for them (from the path, the method, the operation and
/// the document's components), after the imports they use.
pub(crate) fn take_operations_generated_by(
    document: &mut Value,
    ours: impl Fn(&str, &Value) -> bool,
    generate: impl Fn(&str, &str, &Value, &Value) -> anyhow::Result<TokenStream>,
) -> anyhow::Result<TokenStream> {
    let components = document["components"].clone();
    let mut methods = Vec::new();
    let paths = document["paths"].as_object_mut().context("document has paths")?;
    for (path, item) in paths.iter_mut() {
        let item = item.as_object_mut().context("path item is an object")?;
        let taken: Vec<String> =
            item.iter().filter(|(method, op)| ours(method, op)).map(|(m, _)| m.clone()).collect();
        for method in taken {
            let operation = item.remove(&method).expect("listed above");
            methods.push(
                generate(path, &method, &operation, &components)
                    .with_context(|| format!("generating {} {path}", method.to_uppercase()))?,
            );
        }
    }
    Ok(quote! {
        use crate::generated::{Client, types};
        #[allow(unused_imports)]
        use progenitor_client::{ClientHooks, ClientInfo, Error, OperationInfo, ResponseValue, encode_path};
        #(#methods)*
    })
}

pub(crate) fn schema_ref_name(schema: &Value) -> Option<&str> {
    schema["$ref"].as_str().and_then(|r| r.strip_prefix("#/components/schemas/"))
}

/// Follows a `$ref` into the document's components (`#/components/KIND/NAME`).
pub(crate) fn resolve<'a>(value: &'a Value, components: &'a Value) -> &'a Value {
    let target = value["$ref"].as_str().and_then(|r| r.strip_prefix("#/components/"));
    match target.and_then(|t| t.split_once('/')) {
        Some((kind, name)) => &components[kind][name],
        None => value,
    }
}

pub(crate) fn doc_lines(text: &str) -> Vec<TokenStream> {
    text.lines().map(|line| quote! { #[doc = #line] }).collect()
}

enum FieldKind {
    File,
    Text,
    Json(TokenStream),
}

fn field_kind(schema: &Value) -> anyhow::Result<FieldKind> {
    if let Some(name) = schema_ref_name(schema) {
        let ident = format_ident!("{name}");
        return Ok(FieldKind::Json(quote! { types::#ident }));
    }
    match (schema["type"].as_str(), schema["format"].as_str()) {
        (Some("string"), Some("binary")) => Ok(FieldKind::File),
        (Some("string"), _) => Ok(FieldKind::Text),
        (Some("array"), _) => match schema_ref_name(&schema["items"]) {
            Some(name) => {
                let ident = format_ident!("{name}");
                Ok(FieldKind::Json(quote! { ::std::vec::Vec<types::#ident> }))
            }
            None => bail!("unsupported array field {schema}"),
        },
        _ => bail!("unsupported form field {schema}"),
    }
}

fn method_tokens(
    path: &str,
    method: &str,
    operation: &Value,
    components: &Value,
) -> anyhow::Result<TokenStream> {
    let operation_id = operation["operationId"].as_str().context("operationId")?;
    let name = format_ident!("{operation_id}");
    let form_name = format_ident!("{}Form", to_pascal_case(operation_id));

    // Path parameters, in the order they appear in the template.
    let (url_format, path_args) = url_format(path);

    let form_schema =
        resolve(&operation["requestBody"]["content"][CONTENT_TYPE]["schema"], components);
    let required: Vec<&str> = form_schema["required"]
        .as_array()
        .map(|r| r.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let mut fields = Vec::new();
    let mut parts = Vec::new();
    for (field, schema) in form_schema["properties"].as_object().context("form properties")? {
        let ident = format_ident!("{field}");
        let docs = doc_lines(schema["description"].as_str().unwrap_or_default());
        let is_required = required.contains(&field.as_str());
        let (ty, to_part) = match field_kind(schema)? {
            FieldKind::File => {
                (quote! { crate::file_part::FilePart }, quote! { value.into_part() })
            }
            FieldKind::Text => {
                (quote! { ::std::string::String }, quote! { reqwest::multipart::Part::text(value) })
            }
            FieldKind::Json(ty) => (
                ty,
                quote! {
                    reqwest::multipart::Part::text(
                        serde_json::to_string(&value).map_err(|e| Error::InvalidRequest(e.to_string()))?,
                    )
                    .mime_str("application/json")
                    .map_err(|e| Error::InvalidRequest(e.to_string()))?
                },
            ),
        };
        if is_required {
            fields.push(quote! { #(#docs)* pub #ident: #ty, });
            parts.push(
                quote! { let value = form.#ident; multipart = multipart.part(#field, #to_part); },
            );
        } else {
            fields.push(quote! { #(#docs)* pub #ident: ::std::option::Option<#ty>, });
            parts.push(quote! {
                if let Some(value) = form.#ident { multipart = multipart.part(#field, #to_part); }
            });
        }
    }

    let (success_code, success_type) = operation["responses"]
        .as_object()
        .context("responses")?
        .iter()
        .find_map(|(code, response)| {
            let code: u16 = code.parse().ok()?;
            let schema = &response["content"]["application/json"]["schema"];
            (200..300)
                .contains(&code)
                .then(|| (code, schema_ref_name(schema).map(|n| format_ident!("{n}"))))
        })
        .context("a 2xx response")?;
    let success_type = success_type.context("the 2xx response has a component schema")?;
    let error_type = error_type(operation, components)?;

    let summary = operation["summary"].as_str().unwrap_or_default();
    let description = operation["description"].as_str().unwrap_or_default();
    let sends =
        format!("Sends a `{}` request to `{path}` as `{CONTENT_TYPE}`.", method.to_uppercase());
    let method_docs = doc_lines(&format!("{summary}\n\n{description}\n\n{sends}"));
    let form_doc = format!("The `{CONTENT_TYPE}` form of [`Client::{operation_id}`].");
    let http_method = format_ident!("{method}");
    let url_args = path_args.iter().map(|arg| quote! { encode_path(#arg) });
    let send = send_tokens(
        operation_id,
        quote! { ResponseValue::from_response(response).await },
        success_code,
    );

    Ok(quote! {
        #[doc = #form_doc]
        pub struct #form_name {
            #(#fields)*
        }

        impl Client {
            #(#method_docs)*
            pub async fn #name<'a>(
                &'a self,
                #(#path_args: &'a str,)*
                form: #form_name,
            ) -> Result<ResponseValue<types::#success_type>, Error<types::#error_type>> {
                let url = format!(#url_format, self.baseurl(), #(#url_args),*);
                let mut multipart = reqwest::multipart::Form::new();
                #(#parts)*
                let mut request = self
                    .client()
                    .#http_method(url)
                    .header(reqwest::header::ACCEPT, reqwest::header::HeaderValue::from_static("application/json"))
                    .header("api-version", <Client as ClientInfo<()>>::api_version())
                    .multipart(multipart)
                    .build()?;
                #send
            }
        }
    })
}

/// The type of an operation's error body: its `4XX` response's schema.
pub(crate) fn error_type(
    operation: &Value,
    components: &Value,
) -> anyhow::Result<proc_macro2::Ident> {
    let error_response = resolve(&operation["responses"]["4XX"], components);
    schema_ref_name(&error_response["content"]["application/json"]["schema"])
        .map(|n| format_ident!("{n}"))
        .context("a 4XX response with a component schema")
}

/// Sends `request` through the hooks every progenitor operation goes through (`ClientHooks`),
/// and answers `success` for status `success_code`, the error body for 4xx and 5xx.
pub(crate) fn send_tokens(
    operation_id: &str,
    success: TokenStream,
    success_code: u16,
) -> TokenStream {
    quote! {
        let info = OperationInfo { operation_id: #operation_id };
        self.pre(&mut request, &info).await?;
        let result = self.exec(request, &info).await;
        self.post(&result, &info).await?;
        let response = result?;
        match response.status().as_u16() {
            #success_code => #success,
            400u16..=599u16 => Err(Error::ErrorResponse(ResponseValue::from_response(response).await?)),
            _ => Err(Error::UnexpectedResponse(response)),
        }
    }
}

/// `{}/a/{}/b` and the path's variables, for `format!` with the base URL first.
pub(crate) fn url_format(path: &str) -> (String, Vec<proc_macro2::Ident>) {
    let mut url_format = String::from("{}");
    let mut path_args = Vec::new();
    for segment in path.split('/').skip(1) {
        url_format.push('/');
        match segment.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
            Some(param) => {
                url_format.push_str("{}");
                path_args.push(format_ident!("{param}"));
            }
            None => url_format.push_str(segment),
        }
    }
    (url_format, path_args)
}

fn to_pascal_case(snake: &str) -> String {
    snake
        .split('_')
        .map(|word| {
            let mut chars = word.chars();
            chars
                .next()
                .map(|c| c.to_ascii_uppercase().to_string() + chars.as_str())
                .unwrap_or_default()
        })
        .collect()
}
