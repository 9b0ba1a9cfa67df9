//! Validation of the configuration's keys.

use super::*;

fn with_location(kind: BlobstoreKind, location: &str) -> Config {
    let mut config = Config::default();
    config.blobstore.kind = kind;
    config.blobstore.bucket = Some("droplets".to_owned());
    config.blobstore.x_accel_redirect_location = Some(location.to_owned());
    config
}

fn error(config: &Config) -> String {
    config.validate().expect_err("an invalid configuration").to_string()
}

#[test]
fn x_accel_redirect_location_is_off_by_default() {
    let config = Config::default();
    assert_eq!(config.blobstore.x_accel_redirect_location, None);
    config.validate().unwrap();
}

#[test]
fn x_accel_redirect_location_is_a_path_between_slashes() {
    for location in ["/droplet-bits/", "/internal/droplets_v2/", "/a.b~c/"] {
        with_location(BlobstoreKind::Local, location).validate().expect(location);
    }
    for location in ["droplet-bits/", "/droplet-bits", "", "/", "//", "/a//b/", "/../", "/./"] {
        let message = error(&with_location(BlobstoreKind::Local, location));
        assert!(message.contains("blobstore.x_accel_redirect_location"), "{message}");
        assert!(message.contains("/droplet-bits/"), "an example in: {message}");
    }
    for location in ["/droplet bits/", "/bits?x/", "/%2e%2e/", "/bits#/", "/bïts/"] {
        let message = error(&with_location(BlobstoreKind::Local, location));
        assert!(message.contains("plain segments"), "{location}: {message}");
    }
}

#[test]
fn s3_parts_must_hold_the_largest_upload() {
    let mut config = Config::default();
    config.blobstore.kind = BlobstoreKind::S3;
    config.blobstore.bucket = Some("droplets".to_owned());
    config.validate().expect("2 GiB in 5 MiB parts");
    config.max_upload_bytes = 60 * 1024 * 1024 * 1024;
    let message = error(&config);
    assert!(message.contains("max_upload_bytes"), "{message}");
    assert!(message.contains("blobstore.part_size_mib"), "{message}");
    config.blobstore.part_size_mib = 8;
    config.validate().expect("60 GiB in 8 MiB parts");
}

#[test]
fn x_accel_redirect_location_needs_the_local_blobstore() {
    let message = error(&with_location(BlobstoreKind::S3, "/droplet-bits/"));
    assert!(message.contains("blobstore.x_accel_redirect_location"), "{message}");
    assert!(message.contains("local blobstore"), "{message}");
    assert!(message.contains("s3"), "{message}");
}

#[test]
fn uaa_keys_are_refetched_at_most_every_30_seconds_by_default() {
    let mut config = Config::default();
    assert_eq!(config.auth.uaa_key_refetch_interval_secs, 30);
    config.auth.uaa_key_refetch_interval_secs = 0;
    let message = error(&config);
    assert!(message.contains("auth.uaa_key_refetch_interval_secs"), "{message}");
}
