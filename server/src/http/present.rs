//! Stored records as the API presents them: absolute links, redactions, defaults.

use droplet_api::{
    Checksum, Droplet, DropletLinks, DropletRelationships, DropletState, Job, JobLinks, Lifecycle,
    LifecycleData, LifecycleType, Link, Metadata, RelationshipData, Timestamp, ToOneRelationship,
};

use crate::context::ServerContext;
use crate::store::records::{DropletRecord, JobRecord};

fn timestamp(secs: i64) -> Timestamp {
    Timestamp(chrono::DateTime::from_timestamp(secs, 0).unwrap_or_default())
}

fn link(ctx: &ServerContext, path: &str) -> Link {
    Link { href: ctx.url(path), method: None }
}

fn link_with_method(ctx: &ServerContext, path: &str, method: &str) -> Link {
    Link { href: ctx.url(path), method: Some(method.to_owned()) }
}

pub fn droplet(ctx: &ServerContext, record: &DropletRecord) -> Droplet {
    let guid = record.guid;
    let app = record.app_guid;
    Droplet {
        guid,
        created_at: timestamp(record.created_at),
        updated_at: timestamp(record.updated_at),
        state: record.state,
        error: record.error.clone(),
        lifecycle: Lifecycle { type_: LifecycleType::Buildpack, data: LifecycleData {} },
        checksum: record
            .checksum_sha256
            .as_ref()
            .filter(|_| record.state == DropletState::Staged)
            .map(|value| Checksum { type_: "sha256".to_owned(), value: value.clone() }),
        buildpacks: vec![],
        stack: None,
        image: None,
        execution_metadata: String::new(),
        process_types: record.process_types.clone(),
        relationships: DropletRelationships {
            app: ToOneRelationship { data: RelationshipData { guid: app } },
        },
        metadata: Metadata {
            labels: record.labels.clone(),
            annotations: record.annotations.clone(),
        },
        links: DropletLinks {
            self_: link(ctx, &format!("/v3/droplets/{guid}")),
            app: link(ctx, &format!("/v3/apps/{app}")),
            assign_current_droplet: link_with_method(
                ctx,
                &format!("/v3/apps/{app}/relationships/current_droplet"),
                "PATCH",
            ),
            upload: (record.state == DropletState::AwaitingUpload)
                .then(|| link_with_method(ctx, &format!("/v3/droplets/{guid}/upload"), "POST")),
            download: (record.state == DropletState::Staged)
                .then(|| link(ctx, &format!("/v3/droplets/{guid}/download"))),
        },
    }
}

/// `[PRIVATE DATA HIDDEN]`: a single droplet read by a caller who may not read secrets.
pub const PRIVATE_DATA_HIDDEN: &str = "[PRIVATE DATA HIDDEN]";
/// `[PRIVATE DATA HIDDEN IN LISTS]`: every droplet of a list.
pub const PRIVATE_DATA_HIDDEN_LIST: &str = "[PRIVATE DATA HIDDEN IN LISTS]";

/// A droplet with its secrets (`execution_metadata`, `process_types`) replaced by `message`,
/// as the reference's presenter does when it may not show them.
pub fn droplet_redacted(ctx: &ServerContext, record: &DropletRecord, message: &str) -> Droplet {
    let mut droplet = droplet(ctx, record);
    droplet.execution_metadata = message.to_owned();
    droplet.process_types = [("redacted_message".to_owned(), message.to_owned())].into();
    droplet
}

/// A job; `droplet_exists` says whether its droplet is still there to link to.
pub fn job(ctx: &ServerContext, record: &JobRecord, droplet_exists: bool) -> Job {
    Job {
        guid: record.guid,
        created_at: timestamp(record.created_at),
        updated_at: timestamp(record.updated_at),
        operation: record.operation.clone(),
        state: record.state,
        errors: record.errors.clone(),
        warnings: vec![],
        links: JobLinks {
            self_: link(ctx, &format!("/v3/jobs/{}", record.guid)),
            droplet: record
                .droplet_guid
                .filter(|_| droplet_exists)
                .map(|guid| link(ctx, &format!("/v3/droplets/{guid}"))),
        },
    }
}
