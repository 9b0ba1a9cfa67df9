//! Faults a test can switch on in the server it starts, to prove that the server survives them:
//! `DROPLET_TEST_PANIC_IN`, a comma-separated list of the points below, makes the code at those
//! points panic; `DROPLET_TEST_ABORT_IN` makes the process die there at once, as `kill -9`
//! would, at a point a test could not otherwise hit.
//!
//! Only debug builds (what `cargo test` starts) read the variable. In a release build
//! `debug_assertions` is off, the check is compiled out, and no setting switches a fault on.

/// The upload's gzip and tar check, on its worker thread (also when it reads a stored blob
/// again for `resources` sent after the bits).
pub const UPLOAD_INSPECTION: &str = "upload-inspection";
/// The `droplet.copy` job, as it starts.
pub const COPY_JOB: &str = "copy-job";

/// A resumable upload's job, once it published the bits and before it recorded them.
pub const RESUMABLE_JOB_PUBLISHED: &str = "resumable-job-published";

/// Panics if the test that started this (debug) build named `point` in `DROPLET_TEST_PANIC_IN`.
pub fn panic_if_injected(point: &str) {
    if injected("DROPLET_TEST_PANIC_IN", point) {
        panic!("fault injected at {point} (DROPLET_TEST_PANIC_IN)");
    }
}

/// Ends the process at once if the test that started this (debug) build named `point` in
/// `DROPLET_TEST_ABORT_IN`.
pub fn abort_if_injected(point: &str) {
    if injected("DROPLET_TEST_ABORT_IN", point) {
        eprintln!("fault injected at {point} (DROPLET_TEST_ABORT_IN): aborting");
        std::process::abort();
    }
}

/// Whether the variable names `point`; never in a release build.
fn injected(variable: &str, point: &str) -> bool {
    #[cfg(debug_assertions)]
    return std::env::var(variable)
        .is_ok_and(|points| points.split(',').any(|p| p.trim() == point));
    #[cfg(not(debug_assertions))]
    {
        let _ = (variable, point);
        false
    }
}
