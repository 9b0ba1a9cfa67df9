//! The syntax of the list endpoints' query parameters, as schemas, so that the document says what
//! the server accepts (`droplets/listing.rs` in the server is what checks it, with the reference's
//! messages). The patterns describe the server's grammar; where they are narrower, they say so.

use schemars::JsonSchema;
use schemars::r#gen::SchemaGenerator;
use schemars::schema::{InstanceType, NumberValidation, Schema, SchemaObject, StringValidation};
use serde::Deserialize;

/// A calendar date `YYYY-MM-DD`, with month lengths and leap years.
const DATE: &str = concat!(
    r"(?:[0-9]{4}-(?:(?:0[13578]|1[02])-(?:0[1-9]|[12][0-9]|3[01])",
    r"|(?:0[469]|11)-(?:0[1-9]|[12][0-9]|30)|02-(?:0[1-9]|1[0-9]|2[0-8]))",
    r"|(?:[0-9]{2}(?:0[48]|[2468][048]|[13579][26])|(?:[02468][048]|[13579][26])00)-02-29)",
);
/// `Thh:mm:ssZ`: UTC, whole seconds.
const TIME: &str = r"T(?:[01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9]Z";

/// A label value: empty, or up to 63 of `A-Za-z0-9-_.` starting and ending alphanumeric.
const LABEL_VALUE: &str = r"(?:[A-Za-z0-9](?:[-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)?";
/// A label key: an optional DNS prefix of two or three labels and `/`, then a name like a
/// non-empty value. (The server takes prefixes of up to 253 characters; the pattern stops at
/// three labels so that it stays a regular expression generators can handle.)
const LABEL_KEY: &str = concat!(
    r"(?:[A-Za-z0-9](?:[-A-Za-z0-9]{0,61}[A-Za-z0-9])?",
    r"(?:\.[A-Za-z0-9](?:[-A-Za-z0-9]{0,61}[A-Za-z0-9])?){1,2}/)?",
    r"[A-Za-z0-9](?:[-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?",
);

/// The states a droplet list filters on.
const STATE: &str = "(?:AWAITING_UPLOAD|PROCESSING_UPLOAD|STAGED|FAILED|COPYING|EXPIRED)";

fn timestamp() -> String {
    format!("{DATE}{TIME}")
}

fn label_requirement() -> String {
    let (key, value) = (LABEL_KEY, LABEL_VALUE);
    format!("(?:!?{key}|{key}(?:==?|!=){value}|{key} (?:in|notin) \\({value}(?:,{value})*\\))")
}

fn string_matching(pattern: String) -> SchemaObject {
    SchemaObject {
        instance_type: Some(InstanceType::String.into()),
        string: Some(Box::new(StringValidation { pattern: Some(pattern), ..Default::default() })),
        ..Default::default()
    }
}

/// A query value of a documented syntax: a named schema, so that the document states each syntax
/// once and generated clients get one type for it.
macro_rules! query_syntax {
    ($name:ident, $description:literal, $pattern:expr) => {
        #[doc = $description]
        #[derive(Clone, Debug, Deserialize)]
        pub struct $name(pub String);

        impl JsonSchema for $name {
            fn schema_name() -> String {
                stringify!($name).to_owned()
            }

            fn json_schema(_: &mut SchemaGenerator) -> Schema {
                let mut schema = string_matching($pattern);
                schema.metadata().description = Some($description.to_owned());
                Schema::Object(schema)
            }
        }
    };
}

query_syntax!(UtcTime, "A time, `YYYY-MM-DDThh:mm:ssZ` (UTC, whole seconds).", {
    format!("^{}$", timestamp())
});

query_syntax!(UtcTimeList, "One or more times, `YYYY-MM-DDThh:mm:ssZ`, comma-separated.", {
    let one = timestamp();
    format!("^{one}(?:,{one})*$")
});

query_syntax!(StateList, "One or more droplet states, comma-separated, e.g. `STAGED,FAILED`.", {
    format!("^{STATE}(?:,{STATE})*$")
});

query_syntax!(
    LabelSelector,
    "1 to 50 label requirements, comma-separated: `key`, `!key`, `key=value`, `key==value`, \
     `key!=value`, `key in (v1,v2)`, `key notin (v1,v2)`. A key is an optional DNS prefix and \
     `/`, then a name of up to 63 of `A-Za-z0-9-_.` starting and ending alphanumeric; a value is \
     empty or like a name.",
    {
        let requirement = label_requirement();
        format!("^,*{requirement}(?:,+{requirement}){{0,49}},*$")
    }
);

query_syntax!(
    ListOrder,
    "`created_at` or `updated_at`, with `-` for descending order (`+`, or nothing, for \
     ascending).",
    "^[+-]?(?:created_at|updated_at)$".to_owned()
);

/// The largest page number a list takes.
pub const MAX_PAGE: u64 = i32::MAX as u64;

/// `page`: from 1.
pub fn page(_: &mut SchemaGenerator) -> Schema {
    integer(1, Some(MAX_PAGE))
}

/// `per_page`: 1 to 5000.
pub fn per_page(_: &mut SchemaGenerator) -> Schema {
    integer(1, Some(5000))
}

fn integer(minimum: u64, maximum: Option<u64>) -> Schema {
    let format =
        if maximum.is_some_and(|m| m <= u64::from(u32::MAX)) { "uint32" } else { "uint64" };
    Schema::Object(SchemaObject {
        instance_type: Some(InstanceType::Integer.into()),
        format: Some(format.to_owned()),
        number: Some(Box::new(NumberValidation {
            minimum: Some(minimum as f64),
            maximum: maximum.map(|m| m as f64),
            ..Default::default()
        })),
        ..Default::default()
    })
}
