//! `GET /v3/droplets`: filters, label selectors, pagination, ordering and bad parameters, through
//! the generated client and plain HTTP.

use std::collections::BTreeSet;
use std::time::Duration;

use droplet_client::{DropletQuery, types};
use serde_json::{Value, json};

use crate::common::*;

/// Creates a droplet for `app` with these labels and process types; returns it as JSON.
pub async fn create(server: &TestServer, app: &str, labels: Value) -> Value {
    let body = json!({
        "relationships": { "app": { "data": { "guid": app } } },
        "process_types": { "web": "rackup" },
        "metadata": { "labels": labels },
    });
    let response =
        server.request(reqwest::Method::POST, "/v3/droplets").json(&body).send().await.unwrap();
    assert_eq!(response.status(), 201);
    response.json().await.unwrap()
}

pub async fn list(server: &TestServer, query: &str) -> Value {
    let response = server.get(&format!("/v3/droplets?{query}")).send().await.unwrap();
    let status = response.status();
    let text = response.text().await.unwrap();
    assert_eq!(status, 200, "{query}: {text}");
    serde_json::from_str(&text).unwrap()
}

fn guids(page: &Value) -> Vec<String> {
    page["resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["guid"].as_str().unwrap().to_owned())
        .collect()
}

async fn listed(server: &TestServer, query: &str) -> BTreeSet<String> {
    let page = list(server, query).await;
    assert_eq!(page["pagination"]["total_results"], page["resources"].as_array().unwrap().len());
    guids(&page).into_iter().collect()
}

fn set(items: &[&Value]) -> BTreeSet<String> {
    items.iter().map(|d| d["guid"].as_str().unwrap().to_owned()).collect()
}

pub fn uuid() -> String {
    uuid::Uuid::new_v4().to_string()
}

fn encode(text: &str) -> String {
    text.bytes()
        .map(
            |b| {
                if b.is_ascii_alphanumeric() {
                    (b as char).to_string()
                } else {
                    format!("%{b:02X}")
                }
            },
        )
        .collect()
}

#[tokio::test]
pub async fn pages_carry_exact_totals_and_links() {
    let server = TestServer::start();
    let mut all = BTreeSet::new();
    for _ in 0..7 {
        all.insert(server.create_droplet().await);
    }

    // Through the client crate.
    let query = DropletQuery { per_page: Some(3), ..DropletQuery::default() };
    let first = server.client().list_droplets(&query).await.unwrap();
    assert_eq!(first.pagination.total_results, 7);
    assert_eq!(first.pagination.total_pages, 3);
    assert_eq!(first.resources.len(), 3);
    assert!(first.pagination.previous.is_none());
    let base = &server.base_url;
    assert_eq!(first.pagination.first.href, format!("{base}/v3/droplets?page=1&per_page=3"));
    assert_eq!(first.pagination.last.href, format!("{base}/v3/droplets?page=3&per_page=3"));
    assert_eq!(
        first.pagination.next.as_ref().unwrap().href,
        format!("{base}/v3/droplets?page=2&per_page=3")
    );

    // Following `next` by plain HTTP visits every droplet once.
    let mut seen = Vec::new();
    let mut href = Some(first.pagination.first.href.clone());
    let mut pages = 0;
    while let Some(url) = href {
        let page = server.json_as(&[READ], &url).await;
        pages += 1;
        assert_eq!(page["pagination"]["total_results"], 7);
        if pages > 1 {
            assert!(page["pagination"]["previous"]["href"].as_str().unwrap().starts_with(base));
        }
        seen.extend(guids(&page));
        href = page["pagination"]["next"]["href"].as_str().map(str::to_owned);
    }
    assert_eq!(pages, 3);
    assert_eq!(seen.len(), 7);
    assert_eq!(seen.into_iter().collect::<BTreeSet<_>>(), all);

    // Past the end: an empty page that still counts everything.
    let past = list(&server, "per_page=3&page=4").await;
    assert_eq!(past["resources"], json!([]));
    assert_eq!(past["pagination"]["total_results"], 7);
    assert_eq!(past["pagination"]["next"], Value::Null);
    assert_eq!(
        past["pagination"]["previous"]["href"],
        format!("{base}/v3/droplets?page=3&per_page=3")
    );

    // Defaults: page 1 of 50; filters and order carry into the links.
    let default = list(&server, "").await;
    assert_eq!(default["pagination"]["total_pages"], 1);
    assert_eq!(
        default["pagination"]["first"]["href"],
        format!("{base}/v3/droplets?page=1&per_page=50")
    );
    let filtered = list(&server, "states=AWAITING_UPLOAD&order_by=-created_at&per_page=2").await;
    assert_eq!(
        filtered["pagination"]["next"]["href"],
        format!("{base}/v3/droplets?order_by=-created_at&page=2&per_page=2&states=AWAITING_UPLOAD")
    );

    // An empty list has one (empty) page.
    let none = list(&server, &format!("app_guids={}", uuid())).await;
    assert_eq!(none["pagination"]["total_results"], 0);
    assert_eq!(none["pagination"]["total_pages"], 1);
}

#[tokio::test]
pub async fn order_by_both_directions() {
    let server = TestServer::start();
    let app = uuid();
    let early = [create(&server, &app, json!({})).await, create(&server, &app, json!({})).await];
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let late = [create(&server, &app, json!({})).await, create(&server, &app, json!({})).await];

    let ascending = guids(&list(&server, "order_by=created_at").await);
    let default = guids(&list(&server, "").await);
    assert_eq!(ascending, default);
    assert_eq!(
        ascending[..2].iter().collect::<BTreeSet<_>>(),
        set(&[&early[0], &early[1]]).iter().collect()
    );
    assert_eq!(
        ascending[2..].iter().collect::<BTreeSet<_>>(),
        set(&[&late[0], &late[1]]).iter().collect()
    );
    let mut descending = guids(&list(&server, "order_by=-created_at").await);
    descending.reverse();
    assert_eq!(descending, ascending);
    assert_eq!(guids(&list(&server, "order_by=%2Bcreated_at").await), ascending);

    // Touch an early droplet: it becomes the last updated.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let touched = early[0]["guid"].as_str().unwrap();
    let response = server
        .request(reqwest::Method::PATCH, &format!("/v3/droplets/{touched}"))
        .json(&json!({ "metadata": { "labels": { "touched": "yes" } } }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let by_update = guids(&list(&server, "order_by=updated_at").await);
    assert_eq!(by_update.last().unwrap(), touched);
    let by_update_desc = guids(&list(&server, "order_by=-updated_at").await);
    assert_eq!(by_update_desc.first().unwrap(), touched);
}

#[tokio::test]
pub async fn filters_combine() {
    let server = TestServer::start();
    let (app_a, app_b) = (uuid(), uuid());
    let a1 = create(&server, &app_a, json!({})).await;
    let a2 = create(&server, &app_a, json!({})).await;
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let b1 = create(&server, &app_b, json!({})).await;
    let b2 = create(&server, &app_b, json!({})).await;
    let staged = b2["guid"].as_str().unwrap();
    server.upload_succeeds(staged).await;
    let guid = |d: &Value| d["guid"].as_str().unwrap().to_owned();

    assert_eq!(
        listed(&server, &format!("guids={},{}", guid(&a1), guid(&b1))).await,
        set(&[&a1, &b1])
    );
    assert_eq!(listed(&server, &format!("app_guids={app_a}")).await, set(&[&a1, &a2]));
    assert_eq!(
        listed(&server, &format!("app_guids={app_a},{app_b}")).await,
        set(&[&a1, &a2, &b1, &b2])
    );
    assert_eq!(listed(&server, "states=STAGED").await, set(&[&b2]));
    assert_eq!(listed(&server, "states=AWAITING_UPLOAD,STAGED").await, set(&[&a1, &a2, &b1, &b2]));
    assert_eq!(
        listed(&server, &format!("app_guids={app_b}&states=AWAITING_UPLOAD")).await,
        set(&[&b1])
    );
    assert_eq!(
        listed(&server, &format!("guids={}&app_guids={app_b}", guid(&a1))).await,
        BTreeSet::new()
    );

    // Timestamps: the two batches are a second or more apart. Within a batch the two may still
    // fall in different seconds, so what each filter should find is read off their timestamps.
    let all = [&a1, &a2, &b1, &b2];
    let created = |d: &Value| d["created_at"].as_str().unwrap().to_owned();
    let created_where = |keep: &dyn Fn(&str) -> bool| {
        let matching: Vec<&Value> = all.iter().copied().filter(|d| keep(&created(d))).collect();
        set(&matching)
    };
    let (t_a, t_b) = (created(&a1), created(&b1));
    assert_ne!(t_a, t_b);
    let both = set(&all);
    let at = |t: &str| created_where(&|c| c == t);
    assert_eq!(listed(&server, &format!("created_ats={t_a}")).await, at(&t_a));
    let at_either = created_where(&|c| c == t_a || c == t_b);
    assert_eq!(listed(&server, &format!("created_ats={t_a},{t_b}")).await, at_either);
    let before_b = created_where(&|c| c < t_b.as_str());
    assert_eq!(listed(&server, &format!("created_ats%5Blt%5D={t_b}")).await, before_b);
    let until_b = created_where(&|c| c <= t_b.as_str());
    assert_eq!(listed(&server, &format!("created_ats[lte]={t_b}")).await, until_b);
    let after_a = created_where(&|c| c > t_a.as_str());
    assert_eq!(listed(&server, &format!("created_ats[gt]={t_a}")).await, after_a);
    assert_eq!(listed(&server, &format!("created_ats[gte]={t_a}")).await, both);
    assert_eq!(
        listed(&server, &format!("created_ats[gte]={t_a}&created_ats[lt]={t_b}")).await,
        before_b
    );
    let staged_at = server.droplet_json(staged).await["updated_at"].as_str().unwrap().to_owned();
    assert!(listed(&server, &format!("updated_ats[gte]={staged_at}")).await.contains(staged));
    assert_eq!(
        listed(&server, &format!("updated_ats[gte]={staged_at}&states=STAGED")).await,
        set(&[&b2])
    );
    assert_eq!(listed(&server, &format!("updated_ats={t_a}")).await, at(&t_a));

    // The typed client sends the same filters.
    let query = DropletQuery {
        app_guids: vec![app_a.parse().unwrap()],
        order_by: Some("-created_at".to_owned()),
        ..DropletQuery::default()
    };
    let page = server.client().list_droplets(&query).await.unwrap();
    assert_eq!(page.pagination.total_results, 2);
}

#[tokio::test]
pub async fn label_selectors() {
    let server = TestServer::start();
    let app = uuid();
    let prod = create(&server, &app, json!({ "env": "prod", "example.com/tier": "web" })).await;
    let dev = create(&server, &app, json!({ "env": "dev" })).await;
    let staging = create(&server, &app, json!({ "env": "staging", "old": "" })).await;
    let bare = create(&server, &app, json!({})).await;
    let all = set(&[&prod, &dev, &staging, &bare]);
    let select = |selector: &str| format!("label_selector={}", encode(selector));

    assert_eq!(listed(&server, &select("env")).await, set(&[&prod, &dev, &staging]));
    assert_eq!(listed(&server, &select("!env")).await, set(&[&bare]));
    assert_eq!(listed(&server, &select("env=prod")).await, set(&[&prod]));
    assert_eq!(listed(&server, &select("env==dev")).await, set(&[&dev]));
    assert_eq!(listed(&server, &select("env!=prod")).await, set(&[&dev, &staging, &bare]));
    assert_eq!(listed(&server, &select("env in (prod,dev)")).await, set(&[&prod, &dev]));
    assert_eq!(listed(&server, &select("env notin (prod,dev)")).await, set(&[&staging, &bare]));
    assert_eq!(listed(&server, &select("example.com/tier=web")).await, set(&[&prod]));
    assert_eq!(listed(&server, &select("old=")).await, set(&[&staging]));
    assert_eq!(listed(&server, &select("env,!old")).await, set(&[&prod, &dev]));
    assert_eq!(
        listed(&server, &select("env in (prod,staging),env notin (staging)")).await,
        set(&[&prod])
    );
    assert_eq!(listed(&server, &select("nothing notin (x)")).await, all);
    assert_eq!(listed(&server, &select("env=prod,env=dev")).await, BTreeSet::new());
    // With other filters, through the typed client.
    let query = DropletQuery {
        app_guids: vec![app.parse().unwrap()],
        label_selector: Some("env in (prod,dev)".to_owned()),
        per_page: Some(1),
        ..DropletQuery::default()
    };
    let page = server.client().list_droplets(&query).await.unwrap();
    assert_eq!(page.pagination.total_results, 2);
    assert_eq!(page.pagination.total_pages, 2);
    assert_eq!(page.resources.len(), 1);
}

#[tokio::test]
pub async fn bad_parameters_are_400_naming_them() {
    let server = TestServer::start();
    for (query, expected) in [
        ("foo=bar", "Unknown query parameter(s): 'foo'"),
        ("guids=x&colour=red", "'colour'"),
        ("per_page=0", "Per page must be a positive integer"),
        ("per_page=5001", "Per page must be between 1 and 5000"),
        ("per_page=ten", "Per page must be a positive integer"),
        ("page=0", "Page must be a positive integer"),
        ("page=-1", "Page must be a positive integer"),
        ("page=2147483648", "Page must be at most 2147483647"),
        ("order_by=guid", "Order by can only be: 'created_at', 'updated_at'"),
        ("order_by=--created_at", "Order by"),
        ("created_ats=yesterday", "Created ats has an invalid timestamp format"),
        ("created_ats=2026-01-01T00:00:00", "Created ats has an invalid timestamp format"),
        ("updated_ats[gt]=2026-13-01T00:00:00Z", "Updated ats has an invalid timestamp format"),
        (
            "created_ats[near]=2026-01-01T00:00:00Z",
            "Created ats has an invalid relational operator",
        ),
        ("guids[lt]=x", "Unknown query parameter(s): 'guids[lt]'"),
        ("states=DONE", "States has an invalid value 'DONE'"),
        ("label_selector=", "Missing label_selector value"),
        ("label_selector=a%20b", "Invalid label_selector value"),
        ("label_selector=env%3Da%2Fb", "'a/b' contains invalid characters"),
        ("label_selector=cloudfoundry.org%2Fx", "prefix 'cloudfoundry.org' is reserved"),
        ("label_selector=env%20in%20(a,-b)", "'-b' starts or ends with invalid characters"),
        ("page=%ZZ", "query"),
    ] {
        let response = server.get(&format!("/v3/droplets?{query}")).send().await.unwrap();
        let detail = assert_cf_error(response, 400, 10005, "CF-BadQueryParameter").await;
        assert!(detail.contains(expected), "{query}: {detail}");
    }
    // All the problems at once.
    let response = server.get("/v3/droplets?per_page=0&order_by=x").send().await.unwrap();
    let detail = assert_cf_error(response, 400, 10005, "CF-BadQueryParameter").await;
    assert!(detail.contains("Per page") && detail.contains("Order by"), "{detail}");

    // The typed client checks the documented syntax itself; a rule the syntax cannot state (the
    // reserved prefix) reaches the server, and the client sees its error.
    assert!(types::LabelSelector::try_from("no spaces allowed").is_err());
    let query = DropletQuery {
        label_selector: Some("cloudfoundry.org/x".to_owned()),
        ..DropletQuery::default()
    };
    let error = server.client().list_droplets(&query).await.unwrap_err();
    assert_eq!(error.status().map(|s| s.as_u16()), Some(400), "{error}");
    let cf = error.cf_error().expect("a CF error");
    assert_eq!((cf.code, cf.title.as_str()), (10005, "CF-BadQueryParameter"));
    assert!(cf.detail.contains("prefix 'cloudfoundry.org' is reserved"), "{}", cf.detail);
}
