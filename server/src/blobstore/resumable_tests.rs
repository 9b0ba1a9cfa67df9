//! Resumable writes on the local store and on a real S3-protocol server: appends of every size
//! around S3's part minimum, each through a store opened anew (another process, a restart),
//! broken off midway, or left unrecorded, publish exactly the bytes recorded, and leave nothing
//! behind once finished or discarded.

use std::sync::Arc;

use bytes::Bytes;
use droplet_test_s3_server::{ACCESS_KEY, BUCKET, REGION, S3Server, SECRET_KEY};
use futures::StreamExt;
use rand::{RngCore, SeedableRng};

use super::resumable::ResumableWrite;
use crate::blobstore::local::LocalBlobstore;
use crate::blobstore::s3::S3Blobstore;
use crate::blobstore::{BlobStream, Blobstore};
use crate::config::{BlobstoreConfig, BlobstoreKind, Secret};

const MIB: usize = 1024 * 1024;
const KEY: &str = "droplets/00000000-0000-4000-8000-000000000001";

/// A backend, and how to open it again as another process would.
struct Backend {
    open: Box<dyn Fn() -> Arc<dyn Blobstore>>,
    /// What the write may have left in the store, besides the blob, after it ended.
    leftovers: Box<dyn Fn() -> Vec<String>>,
    _dir: tempfile::TempDir,
    _s3: Option<S3Server>,
}

fn local() -> Backend {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().to_owned();
    // Opened as the one process using the directory: a restart clears `tmp/`, not the writes.
    let open_root = root.clone();
    let open =
        move || -> Arc<dyn Blobstore> { Arc::new(LocalBlobstore::open(&open_root, true).unwrap()) };
    let leftovers = move || files(&root.join("resumable"));
    Backend { open: Box::new(open), leftovers: Box::new(leftovers), _dir: dir, _s3: None }
}

fn s3() -> Backend {
    let dir = tempfile::tempdir().unwrap();
    let server = S3Server::start(dir.path());
    let config = BlobstoreConfig {
        kind: BlobstoreKind::S3,
        bucket: Some(BUCKET.to_owned()),
        endpoint: Some(server.endpoint.clone()),
        region: Some(REGION.to_owned()),
        access_key_id: Some(ACCESS_KEY.to_owned()),
        secret_access_key: Some(Secret(SECRET_KEY.to_owned())),
        allow_http: true,
        ..BlobstoreConfig::default()
    };
    let open = move || -> Arc<dyn Blobstore> {
        let log = slog::Logger::root(slog::Discard, slog::o!());
        Arc::new(S3Blobstore::new(&config, log).unwrap())
    };
    let root = server.root.clone();
    let leftovers = move || {
        let mut left = files(&root.join(BUCKET).join("resumable-tails"));
        left.extend(files(&root).into_iter().filter(|name| name.contains(".upload")));
        left
    };
    Backend { open: Box::new(open), leftovers: Box::new(leftovers), _dir: dir, _s3: Some(server) }
}

/// The files under `directory`, at any depth.
fn files(directory: &std::path::Path) -> Vec<String> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(directory).into_iter().flatten().flatten() {
        if entry.path().is_dir() {
            found.extend(files(&entry.path()));
        } else {
            found.push(entry.file_name().to_string_lossy().into_owned());
        }
    }
    found
}

fn random_bytes(len: usize, seed: u64) -> Vec<u8> {
    let mut bytes = vec![0; len];
    rand::rngs::StdRng::seed_from_u64(seed).fill_bytes(&mut bytes);
    bytes
}

/// `bytes` in chunks of 64 KiB, then, if `broken`, a failure (a connection that broke).
fn stream(bytes: &[u8], broken: bool) -> BlobStream {
    let chunks: Vec<std::io::Result<Bytes>> =
        bytes.chunks(64 * 1024).map(|c| Ok(Bytes::copy_from_slice(c))).collect();
    let failure = broken.then(|| Err(std::io::Error::other("the connection broke")));
    Box::pin(futures::stream::iter(chunks.into_iter().chain(failure)))
}

async fn read_all(store: &dyn Blobstore, len: u64) -> Vec<u8> {
    let mut read = Vec::new();
    let mut chunks = store.read(KEY, 0, len - 1).await.unwrap();
    while let Some(chunk) = chunks.next().await {
        read.extend_from_slice(&chunk.unwrap());
    }
    read
}

async fn appends_resume_anywhere_and_publish_what_was_recorded(backend: Backend) {
    let mut write: ResumableWrite = (backend.open)().start_resumable(KEY).await.unwrap();
    let mut expected = Vec::new();
    // Around S3's 5 MiB minimum and its 5 MiB parts here: tails, parts, a tail that becomes
    // part of a part, and a part and a tail from one append.
    let sizes = [MIB, 3 * MIB, 6 * MIB + 5, 100, 11 * MIB, 0, 2 * MIB];
    for (i, &size) in sizes.iter().enumerate() {
        let bytes = random_bytes(size, i as u64);
        // Left unrecorded (a checksum that did not match, a process gone before recording):
        // the next append writes over it.
        let rejected = random_bytes(size.max(1), 100 + i as u64);
        let store = (backend.open)();
        let unrecorded = store.append(KEY, &write, stream(&rejected, false), None).await.unwrap();
        assert_eq!(unrecorded.write.offset, write.offset + rejected.len() as u64);
        // Broken off halfway: what arrived is kept, and said to be, its announced length or not.
        let (first, rest) = bytes.split_at(size / 2);
        let announced = (i % 2 == 0).then_some(size as u64);
        let store = (backend.open)();
        let appended = store.append(KEY, &write, stream(first, true), announced).await.unwrap();
        assert!(appended.interrupted.is_some());
        assert_eq!(appended.write.offset, write.offset + first.len() as u64);
        // An append that announces its length leaves a tail only if it brings too few bytes
        // for a part of their own.
        let (broken, announced) = (appended.write, (i % 3 != 0).then_some(rest.len() as u64));
        let appended = (backend.open)().append(KEY, &broken, stream(rest, false), announced).await;
        let appended = appended.unwrap();
        if announced.is_some() && rest.len() + broken.tail_size() as usize >= 5 * MIB {
            assert_eq!(appended.write.tail, None, "an announced append of {} bytes", rest.len());
        }
        assert!(appended.interrupted.is_none());
        write = appended.write;
        expected.extend_from_slice(&bytes);
        assert_eq!(write.offset, expected.len() as u64);
    }
    let store = (backend.open)();
    store.finish_resumable(KEY, &write).await.unwrap();
    assert_eq!(store.stat(KEY).await.unwrap().size, expected.len() as u64);
    assert!(read_all(store.as_ref(), expected.len() as u64).await == expected, "the bytes differ");
    assert_eq!((backend.leftovers)(), Vec::<String>::new());
}

async fn a_discarded_write_leaves_nothing(backend: Backend) {
    let store = (backend.open)();
    let write = store.start_resumable(KEY).await.unwrap();
    let appended =
        store.append(KEY, &write, stream(&random_bytes(MIB, 1), false), None).await.unwrap();
    assert!(!(backend.leftovers)().is_empty());
    (backend.open)().discard(KEY, &appended.write.name).await.unwrap();
    assert_eq!((backend.leftovers)(), Vec::<String>::new());
    assert!(store.stat(KEY).await.is_err(), "nothing published");
}

async fn an_empty_write_publishes_an_empty_blob(backend: Backend) {
    let store = (backend.open)();
    let write = store.start_resumable(KEY).await.unwrap();
    store.finish_resumable(KEY, &write).await.unwrap();
    assert_eq!(store.stat(KEY).await.unwrap().size, 0);
    assert_eq!((backend.leftovers)(), Vec::<String>::new());
}

#[tokio::test]
async fn local_appends_resume_anywhere_and_publish_what_was_recorded() {
    appends_resume_anywhere_and_publish_what_was_recorded(local()).await;
}

#[tokio::test]
async fn s3_appends_resume_anywhere_and_publish_what_was_recorded() {
    appends_resume_anywhere_and_publish_what_was_recorded(s3()).await;
}

#[tokio::test]
async fn local_discarded_write_leaves_nothing() {
    a_discarded_write_leaves_nothing(local()).await;
}

#[tokio::test]
async fn s3_discarded_write_leaves_nothing() {
    a_discarded_write_leaves_nothing(s3()).await;
}

#[tokio::test]
async fn local_empty_write_publishes_an_empty_blob() {
    an_empty_write_publishes_an_empty_blob(local()).await;
}

#[tokio::test]
async fn s3_empty_write_publishes_an_empty_blob() {
    an_empty_write_publishes_an_empty_blob(s3()).await;
}
