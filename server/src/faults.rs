//! Faults a test can switch on in the server it starts, to prove that the server survives them:
//! `DROPLET_TEST_PANIC_IN`, a comma-separated list of the points below, makes the code at those
//! points panic.
//!
//! Only debug builds (what `cargo test` starts) read the variable. In a release build
//! `debug_assertions` is off, the check is compiled out, and no setting switches a fault on.

/// The upload's gzip and tar check, on its worker thread (also when it reads a stored blob
/// again for `resources` sent after the bits).
pub const UPLOAD_INSPECTION: &str = "upload-inspection";
/// The `droplet.copy` job, as it starts.
pub const COPY_JOB: &str = "copy-job";

/// The variable naming the points that panic.
#[cfg(debug_assertions)]
const VARIABLE: &str = "DROPLET_TEST_PANIC_IN";

/// Panics if the test that started this (debug) build named `point` in `DROPLET_TEST_PANIC_IN`.
pub fn panic_if_injected(point: &str) {
    #[cfg(debug_assertions)]
    if std::env::var(VARIABLE).is_ok_and(|points| points.split(',').any(|p| p.trim() == point)) {
        panic!("fault injected at {point} ({VARIABLE})");
    }
    #[cfg(not(debug_assertions))]
    let _ = point;
}
