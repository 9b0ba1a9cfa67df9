//! The optional `resources` form field: every listed file must be in the tarball with that size
//! and SHA-1, whether the field comes before the bits or after them.

use droplet_client::{DropletUploadForm, FilePart, types};

use crate::common::*;

const A: &[u8] = b"puts 'hello from a'\n";
const B: &[u8] = b"gem 'sinatra'\n";

#[derive(Clone, Copy, Debug)]
enum Order {
    /// Sent by hand: `resources`, then `bits`; the job checks the files as the bits stream in.
    BeforeBits,
    /// What the generated client sends: `bits`, then `resources`; the job reads the blob again.
    AfterBits,
}

const ORDERS: [Order; 2] = [Order::BeforeBits, Order::AfterBits];

/// Always the same bits: the tarball has no timestamps and gzip is deterministic.
fn droplet_bits() -> Vec<u8> {
    tarball(&[("./app/a.txt", A), ("./app/Gemfile", B), ("./staging_info.yml", b"{}")])
}

fn resource(path: &str, size: usize, sha1: &str) -> types::UploadResource {
    types::UploadResource {
        path: path.to_owned(),
        size_in_bytes: size as u64,
        checksum: types::ResourceChecksum { value: sha1.to_owned() },
    }
}

/// Uploads the droplet bits with `resources` to a new droplet; returns the finished job and the
/// droplet.
async fn upload_with_resources(
    server: &TestServer,
    resources: Vec<types::UploadResource>,
    order: Order,
) -> (types::Job, types::Droplet) {
    let guid = server.create_droplet().await;
    let bits = droplet_bits();
    let job = match order {
        Order::BeforeBits => {
            let json = serde_json::to_string(&resources).unwrap();
            let form =
                Multipart::new().field("resources", &json).file("bits", "droplet.tgz", &bits);
            let response = server.post_form(&guid, form).await;
            assert_eq!(response.status(), 202, "{order:?}: {}", response.text().await.unwrap());
            let location = response.headers()["location"].to_str().unwrap().to_owned();
            server.wait_for_job(&location).await
        }
        Order::AfterBits => {
            let bits = FilePart::from_bytes("droplet.tgz", bits);
            let form = DropletUploadForm { bits, resources: Some(resources) };
            let client = server.client();
            let accepted = client.droplet_upload(&guid, form).await.unwrap();
            within_deadline("the job", client.wait_for_accepted_job(&accepted)).await.unwrap()
        }
    };
    (job, server.droplet(&guid).await)
}

#[tokio::test]
pub async fn matching_resources_stage_the_droplet() {
    let server = TestServer::start();
    for order in ORDERS {
        // Listed with and without the tarball's `./` prefix.
        let resources = vec![
            resource("app/a.txt", A.len(), &sha1_hex(A)),
            resource("./app/Gemfile", B.len(), &sha1_hex(B)),
        ];
        let (job, droplet) = upload_with_resources(&server, resources, order).await;
        assert_eq!(job.state, types::JobState::Complete, "{order:?}: {job:?}");
        assert_eq!(droplet.state, types::DropletState::Staged, "{order:?}");
        assert_eq!(droplet.checksum.unwrap().value, sha256_hex(&droplet_bits()));
    }
}

/// Uploads with `resources` in both orders and expects the job and droplet `FAILED` with an
/// error containing every one of `words`, and no blob kept.
async fn assert_resources_refused(resources: Vec<types::UploadResource>, words: &[&str]) {
    let server = TestServer::start();
    for order in ORDERS {
        let (job, droplet) = upload_with_resources(&server, resources.clone(), order).await;
        assert_eq!(job.state, types::JobState::Failed, "{order:?}: {job:?}");
        assert_eq!(job.errors[0].code, 10008, "{order:?}: {job:?}");
        assert_eq!(droplet.state, types::DropletState::Failed, "{order:?}");
        assert!(droplet.checksum.is_none());
        let error = droplet.error.unwrap();
        assert_eq!(error, job.errors[0].detail);
        for word in words {
            assert!(error.contains(word), "{order:?}: {error:?} does not mention {word:?}");
        }
        server.wait_for_empty_blobstore().await;
    }
}

#[tokio::test]
pub async fn resource_with_another_sha1_fails_the_droplet() {
    let wrong = sha1_hex(b"something else");
    let resources = vec![
        resource("app/Gemfile", B.len(), &sha1_hex(B)),
        resource("app/a.txt", A.len(), &wrong),
    ];
    assert_resources_refused(resources, &["app/a.txt", "SHA-1", &wrong, &sha1_hex(A)]).await;
}

#[tokio::test]
async fn resource_with_another_size_fails_the_droplet() {
    let resources = vec![resource("app/a.txt", A.len() + 1, &sha1_hex(A))];
    let sizes = [A.len().to_string(), (A.len() + 1).to_string()];
    assert_resources_refused(resources, &["app/a.txt", "bytes", &sizes[0], &sizes[1]]).await;
}

#[tokio::test]
async fn resource_missing_from_the_tarball_fails_the_droplet() {
    let resources = vec![
        resource("app/a.txt", A.len(), &sha1_hex(A)),
        resource("app/missing.rb", 3, &sha1_hex(b"abc")),
    ];
    assert_resources_refused(resources, &["app/missing.rb", "not in the droplet"]).await;
}

/// Refused by the second check (`resources` after the bits), with a store that cannot remove the
/// blob already published: the droplet fails all the same, an error line names the blob left
/// behind, and the droplet's delete removes it.
#[tokio::test]
async fn a_refused_blob_that_cannot_be_removed_is_logged_and_goes_with_its_droplet() {
    let server = TestServer::start();
    let guid = server.create_droplet().await;
    // The local store removes a copy's leftover with the blob, first; a directory in its place
    // cannot be removed as a file.
    let blocker = server.blob_dir().join("tmp").join(format!("droplets-{guid}.copy"));
    std::fs::create_dir(&blocker).unwrap();
    let resources = vec![resource("app/a.txt", A.len(), &sha1_hex(b"something else"))];
    let form = DropletUploadForm {
        bits: FilePart::from_bytes("droplet.tgz", droplet_bits()),
        resources: Some(resources),
    };
    let client = server.client();
    let accepted = client.droplet_upload(&guid, form).await.unwrap();
    let job = within_deadline("the job", client.wait_for_accepted_job(&accepted)).await.unwrap();
    assert_eq!(job.state, types::JobState::Failed, "{job:?}");
    assert_eq!(job.errors[0].code, 10008, "{job:?}");
    assert_eq!(server.droplet(&guid).await.state, types::DropletState::Failed);
    let key = format!("droplets/{guid}");
    let log = server.log();
    let logged = log.lines().any(|line| line.contains(" ERRO ") && line.contains(&key));
    assert!(logged, "no error line names {key}:\n{log}");
    assert!(server.blob_path(&guid).exists());

    std::fs::remove_dir(&blocker).unwrap();
    let response = server.request(reqwest::Method::DELETE, &format!("/v3/droplets/{guid}"));
    let response = response.send().await.unwrap();
    assert_eq!(response.status(), 202);
    let job = server.wait_for_job(response.headers()["location"].to_str().unwrap()).await;
    assert_eq!(job.state, types::JobState::Complete, "{job:?}");
    server.wait_for_empty_blobstore().await;
}
