//! SIGTERM: uploads in flight finish within `shutdown_grace_secs`; past it they are cut like a
//! dropped client, leaving the droplet `AWAITING_UPLOAD` and no partial blob.

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::common::*;

const BOUNDARY: &str = "------------------------droplet0shutdown0test";

/// The head and the form of an upload of `bits`, by hand so that the test sends it in pieces.
fn upload_request(server: &TestServer, guid: &str, bits: &[u8]) -> (String, Vec<u8>) {
    let mut body = format!(
        "--{BOUNDARY}\r\ncontent-disposition: form-data; name=\"bits\"; \
         filename=\"droplet.tgz\"\r\ncontent-type: application/gzip\r\n\r\n"
    )
    .into_bytes();
    body.extend_from_slice(bits);
    body.extend_from_slice(format!("\r\n--{BOUNDARY}--\r\n").as_bytes());
    let head = format!(
        "POST /v3/droplets/{guid}/upload HTTP/1.1\r\nhost: {}\r\n\
         authorization: bearer {}\r\ncontent-type: multipart/form-data; boundary={BOUNDARY}\r\n\
         content-length: {}\r\n\r\n",
        server.addr,
        server.token(&[READ, WRITE]),
        body.len()
    );
    (head, body)
}

#[tokio::test]
async fn sigterm_lets_an_upload_in_flight_finish_and_stage() {
    let mut server = TestServer::start();
    let guid = server.create_droplet().await;
    let bits = tarball(&[("./app/blob.bin", &random_bytes(300 * 1024))]);
    let (head, body) = upload_request(&server, &guid, &bits);
    let mut stream = tokio::net::TcpStream::connect(server.addr).await.unwrap();
    stream.write_all(head.as_bytes()).await.unwrap();
    let half = body.len() / 2;
    stream.write_all(&body[..half]).await.unwrap();
    eventually("the upload to stream into a partial blob", || async {
        !server.partial_blobs().is_empty()
    })
    .await;

    server.sigterm();
    // The rest of the body comes only once the server is shutting down.
    eventually("the server to log that it is shutting down", || async {
        server.log().contains("shutting down: serving no new connections")
    })
    .await;
    stream.write_all(&body[half..]).await.unwrap();
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).await.unwrap();
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 202"), "{answer}");
    assert!(server.wait_for_exit(Duration::from_secs(30)), "the server did not exit");

    server.kill_and_restart();
    let droplet = server.droplet(&guid).await;
    assert_eq!(droplet.state, droplet_client::types::DropletState::Staged);
    assert_eq!(droplet.checksum.unwrap().value, sha256_hex(&bits));
}

#[tokio::test]
async fn sigterm_cuts_an_endless_upload_after_the_grace_period() {
    let mut server = TestServer::start_with_config("shutdown_grace_secs = 1\n");
    let guid = server.create_droplet().await;
    let bits = tarball(&[("./app/blob.bin", &random_bytes(300 * 1024))]);
    let (head, body) = upload_request(&server, &guid, &bits);
    let mut stream = tokio::net::TcpStream::connect(server.addr).await.unwrap();
    stream.write_all(head.as_bytes()).await.unwrap();
    stream.write_all(&body[..body.len() / 2]).await.unwrap();
    eventually("the upload to stream into a partial blob", || async {
        !server.partial_blobs().is_empty()
    })
    .await;

    server.sigterm();
    // The rest never comes; the server gives up on it after a second.
    assert!(server.wait_for_exit(Duration::from_secs(15)), "the server did not exit");
    assert_eq!(server.partial_blobs(), Vec::<std::path::PathBuf>::new());
    drop(stream);

    server.kill_and_restart();
    let droplet = server.droplet_json(&guid).await;
    assert_eq!(droplet["state"], "AWAITING_UPLOAD");
    server.upload_succeeds(&guid).await;
}
