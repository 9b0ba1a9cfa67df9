//! `droplet-server check` beside a busy server: an upload and copies running during a check and a
//! repair complete untouched; after a store under strain (503s, connections cut once the store
//! acted) nothing is lost, and nothing stays open after a sweep; and recovery sweeps stale
//! multipart uploads by itself.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use droplet_test_s3_server::{BUCKET, S3Server, blobstore_toml};
use object_store::multipart::MultipartStore;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::check::{Env, s3_client};
use crate::common::*;
use crate::copy::{copy_body, settled, staged};

/// An upload streaming and copies being made while a check with `--repair` runs (`--grace-secs
/// 0`: only the metadata tells them in flight) complete with their bits.
async fn work_in_flight_is_untouched(env: Env) {
    let server = &env.server;
    let (source, source_bits) = staged(server).await;
    let guid = server.create_droplet().await;
    let bits = tarball(&[("./app/blob.bin", &random_bytes(12 * 1024 * 1024))]);
    let (content_type, body) = Multipart::new().file("bits", "droplet.tgz", &bits).finish();
    let head = format!(
        "POST /v3/droplets/{guid}/upload HTTP/1.1\r\nhost: {}\r\nauthorization: bearer {}\r\n\
         content-type: {content_type}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
        server.addr,
        server.token(&[READ, WRITE]),
        body.len()
    );
    let mut upload = tokio::net::TcpStream::connect(server.addr).await.expect("connect");
    upload.write_all(head.as_bytes()).await.unwrap();
    let sent = 8 * 1024 * 1024;
    upload.write_all(&body[..sent]).await.unwrap();
    eventually("the upload's write to be pending", || async { !env.pending().is_empty() }).await;
    // The upload records its write's name right after starting it.
    tokio::time::sleep(Duration::from_millis(500)).await;

    // Copies are made, one after another, for as long as the checks run.
    let copying = Arc::new(AtomicBool::new(true));
    let copies = tokio::spawn({
        let (url, token) =
            (server.url(&format!("/v3/droplets?source_guid={source}")), server.token(&[WRITE]));
        let copying = copying.clone();
        async move {
            let client = reqwest::Client::new();
            let mut copies = Vec::new();
            while copying.load(Ordering::SeqCst) || copies.len() < 2 {
                let body = copy_body(&uuid::Uuid::new_v4().to_string());
                let response = client.post(&url).bearer_auth(&token).json(&body).send().await;
                let response = response.expect("POST a copy");
                assert_eq!(response.status(), 201);
                let created: serde_json::Value = response.json().await.expect("a droplet");
                copies.push(created["guid"].as_str().expect("a guid").to_owned());
            }
            copies
        }
    });
    let runs = tokio::task::block_in_place(|| {
        let repair = server.check(&["--deep", "--repair", "--json", "--grace-secs", "0"]);
        [repair, server.check(&["--deep", "--json", "--grace-secs", "0"])]
    });
    copying.store(false, Ordering::SeqCst);
    let copies = copies.await.expect("the copies");
    for run in runs {
        assert_eq!((run.status, run.findings()), (0, vec![]), "{}", run.stdout);
    }

    upload.write_all(&body[sent..]).await.unwrap();
    let mut answer = Vec::new();
    upload.read_to_end(&mut answer).await.unwrap();
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 202"), "{answer}");
    let location = answer
        .lines()
        .find_map(|line| line.strip_prefix("location: "))
        .expect("the job's location");
    let job = server.wait_for_job(location.trim()).await;
    assert_eq!(job.state, droplet_client::types::JobState::Complete);
    assert_eq!(std::fs::read(env.object(&guid)).expect("the uploaded blob"), bits);
    for copied in copies {
        assert_eq!(settled(server, &copied).await["state"], "STAGED");
        assert_eq!(std::fs::read(env.object(&copied)).expect("a copy's blob"), source_bits);
    }
}

#[tokio::test(flavor = "multi_thread")]
pub async fn work_in_flight_on_a_local_store_is_untouched() {
    work_in_flight_is_untouched(Env::local()).await;
}

#[tokio::test(flavor = "multi_thread")]
pub async fn work_in_flight_on_s3_is_untouched() {
    work_in_flight_is_untouched(Env::s3()).await;
}

/// A store under strain: every droplet ends `STAGED` with intact bits, `FAILED` with a reason, or
/// still `AWAITING_UPLOAD` after an upload refused; the uploads the server never learned of stay
/// open in the bucket until a check with `--repair` sweeps them, and then nothing is open.
#[tokio::test]
pub async fn a_store_under_strain_loses_nothing_and_a_sweep_leaves_nothing_open() {
    let dir = tempfile::Builder::new().prefix("droplet-strain-").tempdir().unwrap();
    let s3 = S3Server::start(dir.path());
    let strain = Strain::default();
    strain.slow_down_percent.store(15, Ordering::SeqCst);
    strain.cut_percent.store(6, Ordering::SeqCst);
    strain.cut_every_nth_create.store(3, Ordering::SeqCst);
    let proxy = FaultyS3::start(&s3.endpoint, strain);
    let server = TestServer::start_with_config(&blobstore_toml(&proxy.endpoint, None));
    let mut droplets = Vec::new();
    for _ in 0..9 {
        let guid = server.create_droplet().await;
        let bits = tarball(&[("./app/blob.bin", &random_bytes(6 * 1024 * 1024))]);
        let form = Multipart::new().file("bits", "droplet.tgz", &bits);
        let response = server.post_form(&guid, form).await;
        if response.status() == 202 {
            let location = response.headers()["location"].to_str().unwrap().to_owned();
            server.wait_for_job(&location).await;
        } else {
            assert!(response.status().is_server_error(), "{}", response.status());
        }
        droplets.push((guid, bits));
    }
    proxy.strain.heal();
    let counts = [&proxy.strain.requests, &proxy.strain.slowed, &proxy.strain.cut];
    let [requests, slowed, cut] = counts.map(|count| count.load(Ordering::SeqCst));
    eprintln!("{requests} requests to the store: {slowed} answered 503 SlowDown, {cut} cut");
    assert!(slowed > 0 && cut > 0);
    for (guid, bits) in &droplets {
        let droplet = server.droplet_json(guid).await;
        match droplet["state"].as_str().unwrap() {
            "STAGED" => {
                let object = s3.root.join(BUCKET).join("droplets").join(guid);
                assert_eq!(&std::fs::read(object).expect("a staged droplet's object"), bits);
            }
            "FAILED" => assert!(droplet["error"].as_str().is_some_and(|e| !e.is_empty())),
            state => assert_eq!(state, "AWAITING_UPLOAD", "{droplet}"),
        }
    }
    let open = |s3: &S3Server| {
        let pending = s3.pending_uploads();
        pending
            .iter()
            .filter(|name| name.starts_with(".upload-") && name.ends_with(".json"))
            .count()
    };
    // The server aborts what it started and failed; what it never learned of stays.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let left = open(&s3);
    assert!(left >= 1, "a cut CreateMultipartUpload leaves an upload open");

    let swept = server.check(&["--repair", "--json", "--grace-secs", "0"]);
    assert_eq!(swept.status, 0, "{}", swept.stdout);
    let kinds: Vec<String> = swept.findings().into_iter().map(|(kind, _)| kind).collect();
    assert_eq!(kinds, vec!["stale-multipart-upload".to_owned(); left]);
    assert_eq!(open(&s3), 0, "{:?}", s3.pending_uploads());
    let again = server.check(&["--deep", "--json", "--grace-secs", "0"]);
    assert_eq!((again.status, again.findings()), (0, vec![]));
}

/// Recovery aborts multipart uploads under the server's prefix once older than
/// `stale_write_grace_secs`, and leaves other prefixes alone.
#[tokio::test]
pub async fn recovery_aborts_stale_multipart_uploads_under_its_prefix() {
    let dir = tempfile::Builder::new().prefix("droplet-sweep-").tempdir().unwrap();
    let s3 = S3Server::start(dir.path());
    let client = s3_client(&s3);
    for key in ["droplets/left-by-a-dead-client", "elsewhere/not-ours"] {
        let path = object_store::path::Path::from(key);
        client.create_multipart(&path).await.expect("CreateMultipartUpload");
    }
    assert_eq!(s3.pending_uploads().len(), 4, "{:?}", s3.pending_uploads());
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let config = format!("stale_write_grace_secs = 1\n{}", s3.blobstore_toml());
    let server = TestServer::start_with_config(&config);
    eventually("the stale upload under droplets/ to be aborted", || async {
        s3.pending_uploads().len() == 2
    })
    .await;
    let left = s3.pending_uploads().join(" ");
    let not_ours = base64_url("elsewhere/not-ours");
    assert!(left.contains(&not_ours), "{left}");
    // Logged once the discard is done, which removes the write's tails after the abort.
    eventually("the sweep to log the discard", || async {
        server.log().contains("discarded a write no upload recorded")
    })
    .await;
}

fn base64_url(text: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(text)
}
