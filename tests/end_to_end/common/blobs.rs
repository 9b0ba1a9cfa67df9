//! The blobstore of the server under test, as files: its blobs and the partial blobs of uploads in
//! progress, in the local blob directory or in the test S3 server's bucket directory.

use std::path::PathBuf;

use droplet_test_s3_server::{BUCKET, S3Server};

use super::assertions::eventually;
use super::server::TestServer;

impl TestServer {
    /// Where the blobs are files: `<data-dir>/blobs`, or, for replicas sharing a bucket, the
    /// bucket's directory on the S3 server (objects as files, named by their keys).
    pub fn blob_dir(&self) -> PathBuf {
        match self.shared_s3() {
            Some(s3) => s3.root.join(BUCKET),
            None => self.data_dir().join("blobs"),
        }
    }

    fn shared_s3(&self) -> Option<&S3Server> {
        self.shared.as_ref().and_then(|shared| shared.s3.as_ref())
    }

    /// Every file under [`Self::blob_dir`], relative to it.
    pub fn blob_files(&self) -> Vec<PathBuf> {
        let root = self.blob_dir();
        let mut files = Vec::new();
        let mut dirs = vec![root.clone()];
        while let Some(dir) = dirs.pop() {
            let Ok(entries) = std::fs::read_dir(&dir) else { continue };
            for entry in entries.flatten() {
                let path = entry.path();
                if path.is_dir() {
                    dirs.push(path);
                } else {
                    files.push(path.strip_prefix(&root).expect("under root").to_owned());
                }
            }
        }
        files.sort();
        files
    }

    /// Partial blobs being written: files in `blobs/tmp`, or the bucket's pending multipart
    /// uploads.
    pub fn partial_blobs(&self) -> Vec<PathBuf> {
        if let Some(s3) = self.shared_s3() {
            return s3.pending_uploads().into_iter().map(PathBuf::from).collect();
        }
        self.blob_files().into_iter().filter(|path| path.starts_with("tmp")).collect()
    }

    /// Waits until no file is left under `blobs/` (cleanup of an abandoned blob is asynchronous),
    /// and checks the empty `blobs/tmp` directory is still there.
    pub async fn wait_for_empty_blobstore(&self) {
        eventually("the blobstore to hold no file", || async { self.blob_files().is_empty() })
            .await;
        assert!(self.blob_dir().join("tmp").is_dir(), "blobs/tmp is gone");
    }

    /// Path of a droplet's stored blob.
    pub fn blob_path(&self, guid: &str) -> PathBuf {
        self.blob_dir().join("droplets").join(guid)
    }
}
