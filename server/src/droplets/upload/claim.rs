//! The right to stream bits into a droplet: an upload claim in the metadata store
//! (`crate::store`'s `upload_claims`), renewed while the body streams in, and released when the
//! upload fails or its client goes away, so that the droplet takes an upload again at once.

use std::sync::Arc;

use uuid::Uuid;

use crate::context::ServerContext;
use crate::jobs::lease::LeaseRenewal;
use crate::store::StoreError;

/// A claim held by this request. Released when dropped unless the upload got as far as its job.
pub struct UploadClaim {
    ctx: Arc<ServerContext>,
    droplet: Uuid,
    id: Uuid,
    _renewal: LeaseRenewal,
    released: bool,
}

impl UploadClaim {
    /// Claims the droplet for this upload; None if another upload holds it or the droplet is no
    /// longer awaiting bits.
    pub async fn take(ctx: &Arc<ServerContext>, droplet: Uuid) -> Result<Option<Self>, StoreError> {
        let id = Uuid::new_v4();
        if !ctx.store.claim_upload(droplet, id).await? {
            return Ok(None);
        }
        let renewal =
            LeaseRenewal::start(&ctx.store, &ctx.log, "upload claim", move |store| async move {
                store.renew_upload_claim(droplet, id).await
            });
        Ok(Some(UploadClaim { ctx: ctx.clone(), droplet, id, _renewal: renewal, released: false }))
    }

    pub fn id(&self) -> Uuid {
        self.id
    }

    /// The upload job took the droplet over; there is nothing left to release.
    pub fn consumed(mut self) {
        self.released = true;
    }

    /// Gives the droplet back to whoever uploads next. If the database cannot take the write,
    /// the claim lapses after the lease instead.
    pub async fn release(mut self) {
        self.released = true;
        if let Err(error) = self.ctx.store.release_upload_claim(self.droplet, self.id).await {
            slog::warn!(self.ctx.log, "releasing an upload claim failed; it lapses instead";
                "droplet" => %self.droplet, "error" => %error);
        }
    }
}

impl Drop for UploadClaim {
    fn drop(&mut self) {
        if !self.released {
            let (ctx, droplet, id) = (self.ctx.clone(), self.droplet, self.id);
            tokio::spawn(async move {
                let _ = ctx.store.release_upload_claim(droplet, id).await;
            });
        }
    }
}
