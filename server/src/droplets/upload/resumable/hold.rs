//! A request's hold on a resumable upload, so that one request at a time appends to it or ends
//! it: a row lease in the metadata store (any replica sees it), renewed while the request runs.
//! A request that finds the upload held by a request of this same process asks that one to
//! give way (its client has most likely reconnected) and waits a moment for it to record what
//! it has; held by another process, the upload is locked until that request ends or its lease
//! lapses.

use std::time::Duration;

use droplet_api::CfError;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use super::lookup::{Refused, complete};
use crate::context::ServerContext;
use crate::handover::Registration;
use crate::jobs::lease::LeaseRenewal;
use crate::store::MetadataStore;
use crate::store::resumable_uploads::ResumableUpload;

/// How long a request waits for an older one of this process to give way.
const HANDOVER_WAIT: Duration = Duration::from_secs(10);
/// How often it asks the store again meanwhile.
const HANDOVER_POLL: Duration = Duration::from_millis(20);
/// What a client turned away is told to wait.
const RETRY_AFTER_SECS: u64 = 1;

pub struct Hold<'a> {
    store: MetadataStore,
    upload: Uuid,
    holder: Uuid,
    registration: Registration<'a>,
    _renewal: LeaseRenewal,
    ended: bool,
}

impl<'a> Hold<'a> {
    /// Holds `upload` for this request. 423 while another request holds it; 404 if it is gone.
    pub async fn take(ctx: &'a ServerContext, upload: &ResumableUpload) -> Result<Self, Refused> {
        let (id, holder) = (upload.id, Uuid::new_v4());
        let deadline = tokio::time::Instant::now() + HANDOVER_WAIT;
        while !ctx.store.hold_resumable_upload(id, holder).await? {
            let still_there = ctx.store.resumable_upload(upload.droplet, id).await?;
            match still_there {
                None => return Err(CfError::not_found("Upload").into()),
                Some(now) if now.job.is_some() => return Err(complete().into()),
                Some(_) => {}
            }
            if !ctx.appends.ask(id) || tokio::time::Instant::now() >= deadline {
                return Err(Refused {
                    error: CfError::upload_locked(
                        "Another request is appending to this upload. Try again in a moment, \
                         from the offset HEAD reports.",
                    ),
                    retry_after_secs: Some(RETRY_AFTER_SECS),
                });
            }
            tokio::time::sleep(HANDOVER_POLL).await;
        }
        let renewal =
            LeaseRenewal::start(&ctx.store, &ctx.log, "upload hold", move |store| async move {
                store.renew_resumable_hold(id, holder).await
            });
        Ok(Hold {
            store: ctx.store.clone(),
            upload: id,
            holder,
            registration: ctx.appends.register(id),
            _renewal: renewal,
            ended: false,
        })
    }

    pub fn holder(&self) -> Uuid {
        self.holder
    }

    /// Cancelled when a newer request of this process asks for the upload.
    pub fn asked(&self) -> &CancellationToken {
        &self.registration.asked
    }

    /// Lets go of the upload before the request answers, so that a client asking again at
    /// once finds it free.
    pub async fn let_go(mut self) {
        self.ended = true;
        let _ = self.store.let_go_of_resumable_upload(self.upload, self.holder).await;
    }

    /// The hold ended with what it did (an append recorded, the upload ended): nothing to let
    /// go of.
    pub fn ended(mut self) {
        self.ended = true;
    }
}

impl Drop for Hold<'_> {
    fn drop(&mut self) {
        if !self.ended {
            let (store, upload, holder) = (self.store.clone(), self.upload, self.holder);
            tokio::spawn(async move {
                // If this fails, the hold lapses with its lease instead.
                let _ = store.let_go_of_resumable_upload(upload, holder).await;
            });
        }
    }
}
