//! Jobs: the asynchronous work behind droplet operations, how each runs, and how the jobs of a
//! server process that died are found and taken over. What a job does, and how a dead process's
//! job is settled, is its operation's: `crate::droplets` (see `droplets::recovery`). Nothing here
//! knows one kind of job from another, so `jobs/` sits below `droplets/`, never beside it.
//!
//! Every job is a row in the metadata store, written in the same transaction as the droplet change
//! that starts it, and left `PROCESSING` until the transaction that records its outcome. The row
//! names its owner (the server process running it) and a lease the owner renews while it works.
//! Every kind of job is started through [`runner::JobRunner::start`], which records it, runs
//! it under its renewed lease (`lease`) and lets graceful shutdown wait for it.
//!
//! A job still `PROCESSING` whose lease ran out is therefore exactly a job whose process died
//! before recording its outcome; every replica looks for such jobs at start-up and every half
//! lease, takes each over with one conditional UPDATE (so exactly one replica settles it), and
//! has it settled by the settling its caller gives (`abandoned`). On SQLite, which one server
//! process uses at a time, a job owned by another instance is abandoned at once, so a restart
//! settles the previous process's jobs before serving.
//!
//! A step that fails for a passing reason is retried a few times (`retry`), the same way for
//! every kind of job.

pub mod abandoned;
pub mod lease;
pub mod retry;
pub mod runner;
