//! A resumable upload holds its droplet against any other upload, survives a start-up sweep,
//! takes one append at a time from the offset it is at, and goes with its claim, its job or
//! its droplet.

use droplet_api::DropletState;
use uuid::Uuid;

use super::{RecordedAppend, ResumableUpload};
use crate::store::records::{DELETE_OPERATION, JobRecord, UPLOAD_OPERATION};
use crate::store::test_support::{TestDb, droplets};
use crate::time::now_ms;

async fn awaiting_droplet(db: &TestDb) -> Uuid {
    let mut droplet = droplets(1, 21).remove(0);
    droplet.state = DropletState::AwaitingUpload;
    db.store.insert_droplets(std::slice::from_ref(&droplet)).await;
    droplet.guid
}

fn upload(droplet: Uuid, expires_ms: i64) -> ResumableUpload {
    ResumableUpload {
        id: Uuid::new_v4(),
        droplet,
        length: 1000,
        metadata: Some("filename ZHJvcGxldC50Z3o=".to_owned()),
        offset: 0,
        write_name: format!("{}.resumable", Uuid::new_v4()),
        write: r#"{"name":"w","offset":0}"#.to_owned(),
        expires_ms,
        job: None,
    }
}

/// An append from `from` to `to`, its write state `write`.
fn append<'a>(from: u64, to: u64, write: &'a str) -> RecordedAppend<'a> {
    RecordedAppend { from_offset: from, offset: to, write, expires_ms: now_ms() + 3_600_000 }
}

async fn an_upload_holds_its_droplet_and_takes_one_append_at_a_time(db: TestDb) {
    let store = &db.store;
    let droplet = awaiting_droplet(&db).await;
    let first = upload(droplet, now_ms() + 3_600_000);
    assert!(store.create_resumable_upload(&first).await.unwrap());
    // One upload at a time, of either kind.
    assert!(!store.create_resumable_upload(&upload(droplet, now_ms() + 3_600_000)).await.unwrap());
    assert!(!store.claim_upload(droplet, Uuid::new_v4()).await.unwrap());
    // Its write is recorded, so the stale-write sweep leaves it alone.
    assert!(store.pending_blob_names().await.unwrap().contains(&first.write_name));
    // Found by its droplet and id only.
    assert_eq!(store.resumable_upload(droplet, first.id).await.unwrap(), Some(first.clone()));
    assert_eq!(store.resumable_upload(Uuid::new_v4(), first.id).await.unwrap(), None);
    assert_eq!(store.resumable_upload(droplet, Uuid::new_v4()).await.unwrap(), None);
    // A server's start-up sweep, which takes every streaming upload for dead, leaves it.
    assert!(store.lapsed_upload_claims(true).await.unwrap().is_empty());

    let (a, b) = (Uuid::new_v4(), Uuid::new_v4());
    assert!(store.hold_resumable_upload(first.id, a).await.unwrap());
    assert!(!store.hold_resumable_upload(first.id, b).await.unwrap(), "held by a");
    assert!(
        !store.record_append(first.id, b, &append(0, 10, "b")).await.unwrap(),
        "b holds nothing"
    );
    assert!(!store.record_append(first.id, a, &append(5, 10, "a")).await.unwrap(), "not at 5");
    assert!(store.record_append(first.id, a, &append(0, 400, "after a")).await.unwrap());
    let now = store.resumable_upload(droplet, first.id).await.unwrap().unwrap();
    assert_eq!((now.offset, now.write.as_str()), (400, "after a"));
    // Recording let go of it; so does a refused append.
    assert!(store.hold_resumable_upload(first.id, b).await.unwrap());
    store.let_go_of_resumable_upload(first.id, b).await.unwrap();
    assert!(store.hold_resumable_upload(first.id, a).await.unwrap());
    store.let_go_of_resumable_upload(first.id, a).await.unwrap();

    // A holder that lost its hold (a lapsed lease, taken over) renews nothing.
    assert!(store.hold_resumable_upload(first.id, a).await.unwrap());
    assert!(store.renew_resumable_hold(first.id, a).await.unwrap());
    assert!(!store.renew_resumable_hold(first.id, b).await.unwrap());
    // A restart on SQLite lets go of every hold: no request of the dead process appends.
    store.release_every_resumable_hold().await.unwrap();
    assert!(store.hold_resumable_upload(first.id, b).await.unwrap());

    // The last append and the job in one: the row names the job until it expires.
    let job = JobRecord::new(UPLOAD_OPERATION, droplet, 1);
    let last = append(400, 1000, "whole");
    assert!(!store.record_last_append(&first, a, &last, &job).await.unwrap(), "b holds it");
    assert!(store.record_last_append(&first, b, &last, &job).await.unwrap());
    let complete = store.resumable_upload(droplet, first.id).await.unwrap().unwrap();
    assert_eq!((complete.offset, complete.job), (1000, Some(job.guid)));
    assert_eq!(store.resumable_upload_of_job(job.guid).await.unwrap(), Some(complete));
    let state = store.droplet(droplet).await.unwrap().unwrap().state;
    assert_eq!(state, DropletState::ProcessingUpload);
    assert!(!store.hold_resumable_upload(first.id, a).await.unwrap(), "a complete upload");
    assert_eq!(store.remove_ended_uploads().await.unwrap(), 0, "not expired yet");
    db.remove().await;
}

async fn an_expired_complete_upload_is_removed(db: TestDb) {
    let store = &db.store;
    let droplet = awaiting_droplet(&db).await;
    let upload = upload(droplet, now_ms() + 3_600_000);
    assert!(store.create_resumable_upload(&upload).await.unwrap());
    let (holder, job) = (Uuid::new_v4(), JobRecord::new(UPLOAD_OPERATION, droplet, 1));
    assert!(store.hold_resumable_upload(upload.id, holder).await.unwrap());
    let last = RecordedAppend { expires_ms: now_ms() - 1, ..append(0, 1000, "whole") };
    assert!(store.record_last_append(&upload, holder, &last, &job).await.unwrap());
    assert_eq!(store.resumable_upload(droplet, upload.id).await.unwrap(), None, "expired");
    // Recovery can still redo its job from it until it is removed.
    assert!(store.resumable_upload_of_job(job.guid).await.unwrap().is_some());
    assert_eq!(store.remove_ended_uploads().await.unwrap(), 1);
    assert_eq!(store.resumable_upload_of_job(job.guid).await.unwrap(), None);
    db.remove().await;
}

async fn an_expired_upload_is_recovered_and_leaves_nothing(db: TestDb) {
    let store = &db.store;
    let droplet = awaiting_droplet(&db).await;
    let expired = upload(droplet, now_ms() - 1);
    assert!(store.create_resumable_upload(&expired).await.unwrap());
    assert_eq!(store.resumable_upload(droplet, expired.id).await.unwrap(), None, "expired");
    // Recovery takes the claim over, discards the write it names, and releases the claim.
    let lapsed = store.lapsed_upload_claims(false).await.unwrap();
    assert_eq!(lapsed.len(), 1);
    assert_eq!(lapsed[0].pending_blob.as_deref(), Some(expired.write_name.as_str()));
    let recovery = Uuid::new_v4();
    assert!(store.take_over_upload_claim(&lapsed[0], recovery, false).await.unwrap());
    store.release_upload_claim(droplet, recovery).await.unwrap();
    let rows = sqlx::query("SELECT id FROM resumable_uploads").fetch_all(&store.pool).await;
    assert!(rows.unwrap().is_empty());
    // The droplet takes a new upload.
    assert!(store.create_resumable_upload(&upload(droplet, now_ms() + 1000)).await.unwrap());
    // Deleting the droplet ends it too.
    let job = JobRecord::new(DELETE_OPERATION, droplet, 2);
    assert!(store.delete_droplet(droplet, &job).await.unwrap());
    let rows = sqlx::query("SELECT id FROM resumable_uploads").fetch_all(&store.pool).await;
    assert!(rows.unwrap().is_empty());
    db.remove().await;
}

#[tokio::test]
async fn sqlite_an_upload_holds_its_droplet_and_takes_one_append_at_a_time() {
    an_upload_holds_its_droplet_and_takes_one_append_at_a_time(TestDb::sqlite(None).await).await;
}

#[tokio::test]
async fn postgres_an_upload_holds_its_droplet_and_takes_one_append_at_a_time() {
    an_upload_holds_its_droplet_and_takes_one_append_at_a_time(TestDb::postgres(None).await).await;
}

#[tokio::test]
async fn sqlite_an_expired_upload_is_recovered_and_leaves_nothing() {
    an_expired_upload_is_recovered_and_leaves_nothing(TestDb::sqlite(None).await).await;
}

#[tokio::test]
async fn postgres_an_expired_upload_is_recovered_and_leaves_nothing() {
    an_expired_upload_is_recovered_and_leaves_nothing(TestDb::postgres(None).await).await;
}

#[tokio::test]
async fn sqlite_an_expired_complete_upload_is_removed() {
    an_expired_complete_upload_is_removed(TestDb::sqlite(None).await).await;
}

#[tokio::test]
async fn postgres_an_expired_complete_upload_is_removed() {
    an_expired_complete_upload_is_removed(TestDb::postgres(None).await).await;
}
