//! Client methods for the tus operations progenitor 0.15 cannot generate: those whose body is
//! `application/offset+octet-stream` (it knows `application/octet-stream` alone), and
//! `OPTIONS` (it calls a `reqwest::Client::options` that does not exist). Generated from the
//! same document in progenitor's style, as `multipart` does for forms: the same `Client`,
//! `ResponseValue` and `Error` types and the same `ClientHooks` around sending, with the path
//! and header parameters progenitor would take, and a body as anything reqwest can stream
//! (`Into<reqwest::Body>`).

use anyhow::{Context, bail};
use proc_macro2::TokenStream;
use quote::{format_ident, quote};
use serde_json::Value;

use crate::multipart::{
    doc_lines, error_type, send_tokens, take_operations_generated_by, url_format,
};

pub const CONTENT_TYPE: &str = "application/offset+octet-stream";

/// Whether progenitor cannot generate the operation `method`, and it is ours.
fn is_ours(method: &str, operation: &Value) -> bool {
    method == "options" || operation["requestBody"]["content"].get(CONTENT_TYPE).is_some()
}

/// Removes those operations from `document` and returns their client methods.
pub fn take_operations(document: &mut Value) -> anyhow::Result<TokenStream> {
    take_operations_generated_by(document, is_ours, method_tokens)
}

/// A header parameter: its argument, and the code that adds it to `header_map`.
fn header_parameter(parameter: &Value) -> anyhow::Result<(TokenStream, TokenStream)> {
    let name = parameter["name"].as_str().context("a parameter name")?;
    anyhow::ensure!(name == name.to_lowercase(), "header {name} is not named in lower case");
    let ident = format_ident!("{}", name.replace('-', "_"));
    let required = parameter["required"].as_bool().unwrap_or(false);
    let schema = &parameter["schema"];
    let ty = match (schema["type"].as_str(), schema["format"].as_str()) {
        (Some("string"), _) => quote! { &'a str },
        (Some("integer"), Some("uint64")) => quote! { u64 },
        _ => bail!("unsupported header parameter {parameter}"),
    };
    Ok(match required {
        true => (
            quote! { #ident: #ty, },
            quote! { header_map.append(#name, #ident.to_string().try_into()?); },
        ),
        false => (
            quote! { #ident: Option<#ty>, },
            quote! {
                if let Some(value) = #ident { header_map.append(#name, value.to_string().try_into()?); }
            },
        ),
    })
}

fn method_tokens(
    path: &str,
    method: &str,
    operation: &Value,
    components: &Value,
) -> anyhow::Result<TokenStream> {
    let operation_id = operation["operationId"].as_str().context("operationId")?;
    let name = format_ident!("{operation_id}");
    let (url_format, path_args) = url_format(path);
    let mut header_args = Vec::new();
    let mut headers = Vec::new();
    let parameters = operation["parameters"].as_array().into_iter().flatten();
    for parameter in parameters.filter(|p| p["in"] == "header") {
        let (argument, append) = header_parameter(parameter)?;
        header_args.push(argument);
        headers.push(append);
    }
    let success_code = operation["responses"]
        .as_object()
        .context("responses")?
        .keys()
        .filter_map(|code| code.parse::<u16>().ok())
        .find(|code| (200..300).contains(code))
        .context("a 2xx response")?;
    if operation["responses"][success_code.to_string()].get("content").is_some() {
        bail!("only a success without a body is supported");
    }
    let error_type = error_type(operation, components)?;
    let summary = operation["summary"].as_str().unwrap_or_default();
    let description = operation["description"].as_str().unwrap_or_default();
    let has_body = operation["requestBody"]["content"].get(CONTENT_TYPE).is_some();
    let sends = match has_body {
        true => {
            format!("Sends a `{}` request to `{path}` as `{CONTENT_TYPE}`.", method.to_uppercase())
        }
        false => format!("Sends an `{}` request to `{path}`.", method.to_uppercase()),
    };
    let method_docs = doc_lines(&format!("{summary}\n\n{description}\n\n{sends}"));
    let http_method = format_ident!("{}", method.to_uppercase());
    let (generics, body_arg, body) = match has_body {
        true => (
            quote! { <'a, B: Into<reqwest::Body>> },
            quote! { body: B, },
            quote! {
                .header(reqwest::header::CONTENT_TYPE, reqwest::header::HeaderValue::from_static(#CONTENT_TYPE))
                .body(body)
            },
        ),
        false => (quote! { <'a> }, quote! {}, quote! {}),
    };
    let url_args = path_args.iter().map(|arg| quote! { encode_path(#arg) });
    let send =
        send_tokens(operation_id, quote! { Ok(ResponseValue::empty(response)) }, success_code);

    Ok(quote! {
        impl Client {
            #(#method_docs)*
            pub async fn #name #generics(
                &'a self,
                #(#path_args: &'a str,)*
                #(#header_args)*
                #body_arg
            ) -> Result<ResponseValue<()>, Error<types::#error_type>> {
                let url = format!(#url_format, self.baseurl(), #(#url_args),*);
                let mut header_map = reqwest::header::HeaderMap::new();
                header_map.append("api-version", reqwest::header::HeaderValue::from_static(<Client as ClientInfo<()>>::api_version()));
                #(#headers)*
                let mut request = self
                    .client()
                    .request(reqwest::Method::#http_method, url)
                    .header(reqwest::header::ACCEPT, reqwest::header::HeaderValue::from_static("application/json"))
                    .headers(header_map)
                    #body
                    .build()?;
                #send
            }
        }
    })
}
