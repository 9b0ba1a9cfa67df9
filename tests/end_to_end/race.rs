//! Two uploads to one droplet at the same time: exactly one wins.

use futures::SinkExt;

use crate::common::*;

struct Contender {
    bits: Vec<u8>,
    body: Vec<u8>,
    sender: futures::channel::mpsc::Sender<std::io::Result<bytes::Bytes>>,
    /// The response: status, `Location` header, body.
    answer: tokio::task::JoinHandle<(u16, Option<String>, String)>,
}

impl Contender {
    /// Starts an upload of a new droplet tarball whose body the test feeds by hand.
    fn start(server: &TestServer, guid: &str) -> Self {
        let bits = tarball(&[("./app/blob.bin", &random_bytes(256 * 1024))]);
        let (content_type, body) = Multipart::new().file("bits", "droplet.tgz", &bits).finish();
        let (sender, request_body) = channel_body();
        let request = server
            .request(reqwest::Method::POST, &format!("/v3/droplets/{guid}/upload"))
            .header("content-type", content_type)
            .body(request_body);
        let answer = tokio::spawn(async move {
            let response = request.send().await.expect("a response");
            let location =
                response.headers().get("location").map(|v| v.to_str().unwrap().to_owned());
            (response.status().as_u16(), location, response.text().await.unwrap())
        });
        Contender { bits, body, sender, answer }
    }

    /// Sends `range` of the body. The server may have stopped reading (this upload lost), and
    /// then the bytes have nowhere to go; that is fine.
    async fn send(&mut self, range: std::ops::Range<usize>) {
        let chunk = bytes::Bytes::copy_from_slice(&self.body[range]);
        let _ = self.sender.send(Ok(chunk)).await;
    }
}

#[tokio::test]
pub async fn concurrent_uploads_to_one_droplet_have_exactly_one_winner() {
    let server = TestServer::start();
    let guid = server.create_droplet().await;
    let mut contenders = [Contender::start(&server, &guid), Contender::start(&server, &guid)];

    // Both uploads get half their bits in before either finishes.
    for contender in &mut contenders {
        let half = contender.body.len() / 2;
        contender.send(0..half).await;
    }
    // One of them holds the droplet and streams into a partial blob.
    eventually("an upload to stream into a partial blob", || async {
        !server.partial_blobs().is_empty()
    })
    .await;
    // The other one may already have been turned away; give its answer a moment to arrive.
    let _ = tokio::time::timeout(std::time::Duration::from_secs(5), async {
        while !contenders.iter().any(|c| c.answer.is_finished()) {
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    })
    .await;
    for contender in &mut contenders {
        let half = contender.body.len() / 2;
        contender.send(half..contender.body.len()).await;
        contender.sender.close_channel();
    }

    let mut answers = Vec::new();
    for contender in &mut contenders {
        answers.push((&mut contender.answer).await.unwrap());
    }
    let statuses: Vec<u16> = answers.iter().map(|(status, _, _)| *status).collect();
    let winner = match statuses.as_slice() {
        [202, 422] => 0,
        [422, 202] => 1,
        other => panic!("expected one 202 and one 422, got {other:?}: {answers:#?}"),
    };
    let (_, _, loser_body) = &answers[1 - winner];
    let loser: serde_json::Value = serde_json::from_str(loser_body).unwrap();
    // Turned away while the winner streamed, or once it was done.
    let detail = &loser["errors"][0]["detail"];
    assert!(detail == IN_PROGRESS || detail == ONLY_ONCE, "{loser_body}");

    let location = answers[winner].1.as_deref().expect("the winner's Location");
    let job = server.wait_for_job(location).await;
    assert_eq!(job.state, droplet_client::types::JobState::Complete, "{job:?}");
    let droplet = server.droplet(&guid).await;
    assert_eq!(droplet.state, droplet_client::types::DropletState::Staged);
    let winner_sha256 = sha256_hex(&contenders[winner].bits);
    assert_eq!(droplet.checksum.unwrap().value, winner_sha256);
    assert_eq!(sha256_hex(&std::fs::read(server.blob_path(&guid)).unwrap()), winner_sha256);
    eventually("no partial blob left", || async { server.partial_blobs().is_empty() }).await;
}
