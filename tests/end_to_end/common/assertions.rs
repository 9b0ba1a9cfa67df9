//! Assertions: CF error bodies, timestamps, key order, and waiting for eventual states.

use std::future::Future;
use std::time::Duration;

use droplet_client::types;
use serde_json::Value;

/// How long eventual states (jobs, cleanup) and server start-up may take.
pub(super) const DEADLINE: Duration = Duration::from_secs(60);
const POLL_INTERVAL: Duration = Duration::from_millis(50);

/// Checks the response is `status` with exactly `{"errors":[{"code","title","detail"}]}` carrying
/// `code` and `title`; returns the detail.
pub async fn assert_cf_error(
    response: reqwest::Response,
    status: u16,
    code: i64,
    title: &str,
) -> String {
    let actual = response.status().as_u16();
    let text = response.text().await.expect("error body");
    assert_eq!(actual, status, "status; body: {text}");
    assert_cf_body(&text, code, title)
}

/// Checks the generated client got a CF error response; returns the detail.
pub fn assert_client_cf_error<T>(
    result: Result<T, droplet_client::Error<types::CfErrorEnvelope>>,
    status: u16,
    code: i64,
    title: &str,
) -> String {
    match result {
        Err(droplet_client::Error::ErrorResponse(response)) => {
            assert_eq!(response.status().as_u16(), status, "{response:?}");
            let body = serde_json::to_string(&*response).expect("JSON");
            assert_cf_body(&body, code, title)
        }
        Err(other) => panic!("expected a {status} CF error, got {other:?}"),
        Ok(_) => panic!("expected a {status} CF error, got a success"),
    }
}

fn assert_cf_body(text: &str, code: i64, title: &str) -> String {
    let body: Value = serde_json::from_str(text).unwrap_or_else(|e| panic!("{e}: {text}"));
    let envelope = body.as_object().expect("an object");
    assert_eq!(envelope.keys().collect::<Vec<_>>(), ["errors"], "{text}");
    let errors = body["errors"].as_array().expect("errors is an array");
    assert_eq!(errors.len(), 1, "{text}");
    assert_eq!(keys(&errors[0]), ["code", "detail", "title"], "{text}");
    assert_eq!(errors[0]["code"], code, "{text}");
    assert_eq!(errors[0]["title"], title, "{text}");
    errors[0]["detail"].as_str().expect("detail is a string").to_owned()
}

/// The keys of a JSON object (sorted: serde_json's map is ordered by key).
pub fn keys(value: &Value) -> Vec<&str> {
    value.as_object().expect("an object").keys().map(String::as_str).collect()
}

/// Checks a timestamp is `YYYY-MM-DDThh:mm:ssZ` (UTC, no fraction).
pub fn assert_cf_timestamp(value: &Value) {
    let text = value.as_str().expect("a string timestamp");
    assert!(
        chrono::NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%SZ").is_ok(),
        "not a CF timestamp: {text}"
    );
}

/// Object keys in document order, all the way down: serde_json's `Value` sorts them, and the
/// order of a droplet's fields is part of what the reference returns.
#[derive(Debug, Default)]
pub struct KeyOrder(Vec<(String, KeyOrder)>);

impl KeyOrder {
    pub fn parse(json: &str) -> Self {
        serde_json::from_str(json).expect("JSON")
    }

    pub fn names(&self) -> Vec<&str> {
        self.0.iter().map(|(name, _)| name.as_str()).collect()
    }

    pub fn get(&self, name: &str) -> &KeyOrder {
        &self.0.iter().find(|(key, _)| key == name).unwrap_or_else(|| panic!("no {name}")).1
    }
}

impl<'de> serde::Deserialize<'de> for KeyOrder {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl<'de> serde::de::Visitor<'de> for Visitor {
            type Value = KeyOrder;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<KeyOrder, A::Error> {
                let mut entries = Vec::new();
                while let Some(entry) = map.next_entry::<String, KeyOrder>()? {
                    entries.push(entry);
                }
                Ok(KeyOrder(entries))
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                mut seq: A,
            ) -> Result<KeyOrder, A::Error> {
                while seq.next_element::<serde::de::IgnoredAny>()?.is_some() {}
                Ok(KeyOrder::default())
            }
            fn visit_bool<E>(self, _: bool) -> Result<KeyOrder, E> {
                Ok(KeyOrder::default())
            }
            fn visit_i64<E>(self, _: i64) -> Result<KeyOrder, E> {
                Ok(KeyOrder::default())
            }
            fn visit_u64<E>(self, _: u64) -> Result<KeyOrder, E> {
                Ok(KeyOrder::default())
            }
            fn visit_f64<E>(self, _: f64) -> Result<KeyOrder, E> {
                Ok(KeyOrder::default())
            }
            fn visit_str<E>(self, _: &str) -> Result<KeyOrder, E> {
                Ok(KeyOrder::default())
            }
            fn visit_unit<E>(self) -> Result<KeyOrder, E> {
                Ok(KeyOrder::default())
            }
        }
        deserializer.deserialize_any(Visitor)
    }
}

/// Polls `check` until it holds; fails the test after a generous deadline.
pub async fn eventually<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + DEADLINE;
    while !check().await {
        assert!(tokio::time::Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(POLL_INTERVAL).await;
    }
}

/// Fails the test if `future` does not finish within a generous deadline (a job stuck
/// `PROCESSING` would otherwise hang the test).
pub async fn within_deadline<T>(what: &str, future: impl Future<Output = T>) -> T {
    tokio::time::timeout(DEADLINE, future)
        .await
        .unwrap_or_else(|_| panic!("timed out waiting for {what}"))
}

/// Peak resident set size of a process (`VmHWM`), in KiB.
pub fn peak_rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("/proc status");
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .and_then(|value| value.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmHWM in /proc/PID/status")
}
