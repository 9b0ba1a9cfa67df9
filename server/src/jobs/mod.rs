//! Jobs: the asynchronous work behind droplet operations, how each runs, and how the jobs of a
//! server process that died are settled.
//!
//! Every job is a row in the metadata store, written in the same transaction as the droplet change
//! that starts it, and left `PROCESSING` until the transaction that records its outcome. The row
//! names its owner (the server process running it) and a lease the owner renews while it works.
//! Every kind of job is started through [`JobRunner::start`] (`runner`), which records it, runs it
//! under its renewed lease (`lease`) and lets graceful shutdown wait for it.
//!
//! A job still `PROCESSING` whose lease ran out is therefore exactly a job whose process died
//! before recording its outcome; every replica looks for such jobs at start-up and every half
//! lease, takes each over with one conditional UPDATE (so exactly one replica settles it), and
//! settles it by its operation (`recovery`):
//!
//! | operation | what was lost | recovery |
//! |---|---|---|
//! | `droplet.upload` | the uploaded bits' digests and inspection | discard the pending write, remove the blob, fail the job and the droplet |
//! | `droplet.copy` (internal) | nothing: the job names its source | copy again (idempotent) and complete, or fail as a copy fails |
//! | `droplet.delete` | nothing: the droplet is gone already | remove the blob (idempotent), complete the job |
//!
//! Uploads still streaming hold no job but an upload claim on their droplet, leased the same way;
//! a lapsed claim is settled by recovery too. On SQLite, which one server process uses at a time,
//! a job owned by another instance is abandoned at once, so a restart settles the previous
//! process's jobs before serving.
//!
//! A step that fails for a passing reason is retried a few times (`retry`), the same way for
//! every kind of job.
//!
//! Jobs call the droplet operations' own code (`crate::droplets`) to do their work; the runner
//! and the lease know nothing of what a job does.

pub mod lease;
pub mod recovery;
pub mod retry;
pub mod runner;
