//! The S3 store's configuration, checked without a store.

use super::{ca_certificates, signs_payload};
use crate::config::{BlobstoreConfig, BlobstoreKind, Secret};

/// A file that cannot be the CAs to trust stops the server at start, naming the key.
#[test]
fn a_ca_certificate_file_must_hold_certificates() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("missing.pem");
    let empty = dir.path().join("empty.pem");
    std::fs::write(&empty, "").unwrap();
    let garbage = dir.path().join("garbage.pem");
    std::fs::write(&garbage, "-----BEGIN CERTIFICATE-----\nnot base64!\n").unwrap();
    for path in [missing, empty, garbage] {
        let message = format!("{:#}", ca_certificates(&path).expect_err("refused"));
        assert!(message.contains("blobstore.ca_certificate_file"), "{message}");
        assert!(message.contains(&path.display().to_string()), "{message}");
    }
}

#[test]
fn the_payload_is_signed_where_nothing_else_protects_it() {
    assert!(signs_payload(None, Some("http://127.0.0.1:9000")));
    assert!(signs_payload(None, Some("HTTP://minio.internal")));
    assert!(!signs_payload(None, Some("https://minio.example.com")));
    assert!(!signs_payload(None, None), "AWS itself, over https");
    assert!(signs_payload(Some(true), Some("https://s3.example.com")));
    assert!(!signs_payload(Some(false), Some("http://127.0.0.1:9000")));
}

#[test]
fn debug_redacts_the_secret_key() {
    let config = BlobstoreConfig {
        kind: BlobstoreKind::S3,
        access_key_id: Some("AKIDEXAMPLE".to_owned()),
        secret_access_key: Some(Secret("wJalrXUtnFEMI-very-secret".to_owned())),
        ..Default::default()
    };
    let shown = format!("{config:?}");
    assert!(!shown.contains("very-secret"), "{shown}");
    assert!(shown.contains("<redacted>"), "{shown}");
}
