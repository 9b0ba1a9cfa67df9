//! Downloads whose bits the nginx in front sends (`blobstore.x_accel_redirect_location`). Once
//! `download` has checked the token and the droplet, and answered `If-None-Match` itself, it
//! answers with `X-Accel-Redirect` naming the blob's file under nginx's internal location, and
//! nginx sends that file by sendfile, applying `Range` and `If-Range`.
//! `server/deploy/nginx-droplets.conf` is that nginx's configuration.
//!
//! Rack::Sendfile's convention: nginx asks for the handover with `X-Sendfile-Type:
//! X-Accel-Redirect`, so a server configured for nginx still streams the bits to a client that
//! reaches it directly. A request nginx would answer otherwise than this server is not handed
//! over either, and streams through nginx as without it: nginx checks `If-Match` and
//! `If-Unmodified-Since` against its file (412 where this server ignores them), and answers a
//! `Range` this server ignores (several ranges, another unit, bad syntax) with 206 or 416, and one
//! past the end with a 416 that is not in the CF error format.

use http::{HeaderMap, header};

use super::range::RangeRequest;
use crate::blobstore::droplet_key;
use crate::config::BlobstoreConfig;

/// What nginx sends in `X-Sendfile-Type` when it can follow an `X-Accel-Redirect`.
const X_ACCEL_REDIRECT: &str = "X-Accel-Redirect";

/// Whether the request came through an nginx that offers to send the bits, and carries no
/// precondition nginx would check otherwise than this server.
pub fn offered(headers: &HeaderMap) -> bool {
    let asked = headers
        .get("x-sendfile-type")
        .is_some_and(|kind| kind.as_bytes().eq_ignore_ascii_case(X_ACCEL_REDIRECT.as_bytes()));
    asked
        && !headers.contains_key(header::IF_MATCH)
        && !headers.contains_key(header::IF_UNMODIFIED_SINCE)
}

/// The URI under nginx's internal location of the droplet's file, when this server is configured
/// to hand downloads over and nginx answers this `range` (after `If-Range`) as it would: the
/// whole droplet or a single byte range within it.
pub fn uri(
    config: &BlobstoreConfig,
    droplet: uuid::Uuid,
    range: Option<&RangeRequest>,
) -> Option<String> {
    let location = config.x_accel_redirect_location.as_deref()?;
    let alike = matches!(range, None | Some(RangeRequest::Bytes { .. }));
    // The local blobstore keeps a blob at `<blob_dir>/<key>`, which the location serves.
    alike.then(|| format!("{location}{}", droplet_key(droplet)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.insert(*name, value.parse().unwrap());
        }
        map
    }

    #[test]
    fn offered_only_by_nginx_and_without_preconditions_nginx_would_check() {
        assert!(offered(&headers(&[("x-sendfile-type", "X-Accel-Redirect")])));
        assert!(offered(&headers(&[("x-sendfile-type", "x-accel-redirect")])));
        assert!(!offered(&headers(&[])));
        assert!(!offered(&headers(&[("x-sendfile-type", "X-Sendfile")])));
        for precondition in ["if-match", "if-unmodified-since"] {
            let request = headers(&[("x-sendfile-type", "X-Accel-Redirect"), (precondition, "*")]);
            assert!(!offered(&request), "{precondition}");
        }
    }

    #[test]
    fn the_uri_names_the_blob_under_the_location() {
        let guid = uuid::Uuid::new_v4();
        let mut config = BlobstoreConfig::default();
        assert_eq!(uri(&config, guid, None), None, "off by default");
        config.x_accel_redirect_location = Some("/droplet-bits/".to_owned());
        let expected = Some(format!("/droplet-bits/droplets/{guid}"));
        assert_eq!(uri(&config, guid, None), expected);
        assert_eq!(uri(&config, guid, Some(&RangeRequest::Bytes { first: 0, last: 9 })), expected);
        assert_eq!(uri(&config, guid, Some(&RangeRequest::Ignored)), None);
        assert_eq!(uri(&config, guid, Some(&RangeRequest::Unsatisfiable)), None);
    }
}
