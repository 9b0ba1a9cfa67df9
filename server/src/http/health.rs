//! `GET /healthz`: the metadata database and the blobstore each answer and take a write.

use std::collections::BTreeMap;
use std::time::Duration;

use droplet_api::{CfError, Health};

use crate::context::ServerContext;

/// How long one check may take before it counts as failed.
const CHECK_TIMEOUT: Duration = Duration::from_secs(5);

pub async fn check(ctx: &ServerContext) -> Result<Health, CfError> {
    let (metadata, blobstore) = tokio::join!(
        within_timeout(async { ctx.store.ping().await.map_err(|e| e.to_string()) }),
        within_timeout(async { ctx.blobs.check().await.map_err(|e| e.to_string()) }),
    );
    let mut checks = BTreeMap::new();
    let mut failed = Vec::new();
    for (name, outcome) in [("metadata", metadata), ("blobstore", blobstore)] {
        match outcome {
            Ok(()) => {
                checks.insert(name.to_owned(), "ok".to_owned());
            }
            Err(reason) => {
                slog::warn!(ctx.log, "health check failed"; "check" => name, "reason" => &reason);
                failed.push(format!("{name}: {reason}"));
            }
        }
    }
    if !failed.is_empty() {
        return Err(CfError::service_unavailable(format!(
            "health check failed: {}",
            failed.join("; ")
        )));
    }
    Ok(Health { status: "ok".to_owned(), checks })
}

async fn within_timeout(check: impl Future<Output = Result<(), String>>) -> Result<(), String> {
    tokio::time::timeout(CHECK_TIMEOUT, check)
        .await
        .unwrap_or_else(|_| Err(format!("no answer within {} s", CHECK_TIMEOUT.as_secs())))
}
