//! `POST /v3/droplets?source_guid=S`: a copy is `COPYING`, then takes the source's state and
//! checksum with identical bits; validation, 404, 403 and 422 as the reference; a copy whose
//! server is killed is finished after the restart.

use serde_json::{Value, json};

use crate::common::*;

pub fn copy_body(app: &str) -> Value {
    json!({ "relationships": { "app": { "data": { "guid": app } } } })
}

/// `POST /v3/droplets?source_guid=SOURCE` with this body and token.
pub async fn copy(
    server: &TestServer,
    source: &str,
    body: &Value,
    token: &str,
) -> reqwest::Response {
    server
        .raw()
        .post(server.url(&format!("/v3/droplets?source_guid={source}")))
        .header("authorization", format!("bearer {token}"))
        .json(body)
        .send()
        .await
        .expect("POST")
}

/// A staged droplet; returns its guid and bits.
pub async fn staged(server: &TestServer) -> (String, Vec<u8>) {
    let guid = server.create_droplet().await;
    let bits = tarball(&[("./app/blob.bin", &random_bytes(256 * 1024))]);
    let job = server.upload_and_wait(&guid, &bits).await;
    assert_eq!(job.state, droplet_client::types::JobState::Complete);
    (guid, bits)
}

/// Waits until the droplet is no longer `COPYING`; returns it.
pub async fn settled(server: &TestServer, guid: &str) -> Value {
    within_deadline("the copy to finish", async {
        loop {
            let droplet = server.droplet_json(guid).await;
            if droplet["state"] != "COPYING" {
                return droplet;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
    })
    .await
}

#[tokio::test]
pub async fn copy_takes_the_source_bits_and_checksum() {
    let server = TestServer::start();
    let (source, bits) = staged(&server).await;
    let app = uuid::Uuid::new_v4().to_string();
    let response = copy(&server, &source, &copy_body(&app), &server.token(&[READ, WRITE])).await;
    assert_eq!(response.status(), 201);
    let created: Value = response.json().await.unwrap();
    assert_eq!(created["state"], "COPYING", "{created:#}");
    assert_eq!(created["checksum"], Value::Null);
    assert_eq!(created["relationships"]["app"]["data"]["guid"], app);
    assert_eq!(keys(&created["links"]), ["app", "assign_current_droplet", "self"]);
    let guid = created["guid"].as_str().unwrap().to_owned();
    assert_ne!(guid, source);

    let droplet = settled(&server, &guid).await;
    assert_eq!(droplet["state"], "STAGED", "{droplet:#}");
    assert_eq!(droplet["error"], Value::Null);
    assert_eq!(droplet["checksum"]["value"], sha256_hex(&bits));
    assert!(droplet["links"]["download"].is_object());
    let response = server.get(&format!("/v3/droplets/{guid}/download")).send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.bytes().await.unwrap(), bits);

    // The copy is a droplet of its own: deleting the source leaves it whole.
    let response = server
        .request(reqwest::Method::DELETE, &format!("/v3/droplets/{source}"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 202);
    let location = response.headers()["location"].to_str().unwrap().to_owned();
    server.wait_for_job(&location).await;
    let response = server.get(&format!("/v3/droplets/{guid}/download")).send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.bytes().await.unwrap(), bits);
}

#[tokio::test]
pub async fn copy_of_a_droplet_that_is_not_staged_is_422() {
    let server = TestServer::start();
    let source = server.create_droplet().await;
    let app = uuid::Uuid::new_v4().to_string();
    let response = copy(&server, &source, &copy_body(&app), &server.token(&[READ, WRITE])).await;
    let detail = assert_cf_error(response, 422, 10008, "CF-UnprocessableEntity").await;
    assert_eq!(detail, "source droplet is not staged");
}

#[tokio::test]
async fn copy_of_an_unknown_droplet_is_404() {
    let server = TestServer::start();
    let app = uuid::Uuid::new_v4().to_string();
    for source in ["nope".to_owned(), uuid::Uuid::new_v4().to_string()] {
        let response =
            copy(&server, &source, &copy_body(&app), &server.token(&[READ, WRITE])).await;
        let detail = assert_cf_error(response, 404, 10010, "CF-ResourceNotFound").await;
        assert_eq!(detail, "Droplet not found");
    }
}

#[tokio::test]
async fn copy_needs_the_write_scope() {
    let server = TestServer::start();
    let (source, _) = staged(&server).await;
    let app = uuid::Uuid::new_v4().to_string();
    let response = copy(&server, &source, &copy_body(&app), &server.token(&[READ])).await;
    assert_cf_error(response, 403, 10003, "CF-NotAuthorized").await;
}

#[tokio::test]
async fn copy_body_is_validated() {
    let server = TestServer::start();
    let (source, _) = staged(&server).await;
    let app = uuid::Uuid::new_v4().to_string();
    let token = server.token(&[READ, WRITE]);
    let mut with_process_types = copy_body(&app);
    with_process_types["process_types"] = json!({ "web": "run" });
    let response = copy(&server, &source, &with_process_types, &token).await;
    let detail = assert_cf_error(response, 422, 10008, "CF-UnprocessableEntity").await;
    assert!(detail.contains("process_types"), "{detail}");
    for body in [json!({}), json!({ "relationships": { "app": "x" } }), json!([])] {
        let response = copy(&server, &source, &body, &token).await;
        assert_cf_error(response, 422, 10008, "CF-UnprocessableEntity").await;
    }
    // Body validation comes first, before the source is looked up.
    let response = copy(&server, &uuid::Uuid::new_v4().to_string(), &json!({}), &token).await;
    assert_cf_error(response, 422, 10008, "CF-UnprocessableEntity").await;
}

/// `kill -9` right after the 201: after the restart the copy is `STAGED` with the right bits,
/// finished by the new process if the old one had not.
#[tokio::test]
pub async fn server_killed_during_a_copy_is_consistent_after_restart() {
    let mut server = TestServer::start();
    let (source, bits) = staged(&server).await;
    let app = uuid::Uuid::new_v4().to_string();
    let response = copy(&server, &source, &copy_body(&app), &server.token(&[READ, WRITE])).await;
    assert_eq!(response.status(), 201);
    let created: Value = response.json().await.unwrap();
    let guid = created["guid"].as_str().unwrap().to_owned();

    server.kill_and_restart();
    // On SQLite settled at start-up; on PostgreSQL once the dead process's lease runs out.
    // Finished by the new process, from the source the job recorded, whatever the dead one did.
    let droplet = settled(&server, &guid).await;
    assert_eq!(droplet["state"], "STAGED", "{droplet:#}");
    assert_eq!(droplet["checksum"]["value"], sha256_hex(&bits));
    assert_eq!(std::fs::read(server.blob_path(&guid)).unwrap(), bits);
    assert!(server.partial_blobs().is_empty(), "{:?}", server.partial_blobs());
    // The source is untouched.
    let response = server.get(&format!("/v3/droplets/{source}/download")).send().await.unwrap();
    assert_eq!(response.bytes().await.unwrap(), bits);
}
