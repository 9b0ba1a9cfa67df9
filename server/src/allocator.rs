//! glibc's allocator, tuned for a server whose memory is mostly droplet chunks: allocated on the
//! network's threads, freed on the checks' threads, in many sizes. Left alone, glibc gives each
//! thread an arena of its own (up to eight per core) and keeps what is freed in them, so the
//! resident set grows with the number of threads and creeps up from upload to upload. Elsewhere
//! than on glibc these do nothing.

/// At most two arenas, what `MALLOC_ARENA_MAX=2` does, unless the operator set that variable: 32
/// uploads at once peaked at 110 MiB with an arena per thread, under 96 MiB with two, and were no
/// slower (`cargo xtask bench`). To be called first thing, before any other thread runs.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
#[allow(unsafe_code)]
pub fn limit_arenas() {
    if std::env::var_os("MALLOC_ARENA_MAX").is_none() {
        // SAFETY: mallopt only sets a tunable of the allocator, and no other thread runs yet.
        unsafe { libc::mallopt(libc::M_ARENA_MAX, 2) };
    }
}

/// Hands the memory freed since back to the system, once an upload's buffers are gone. Without
/// it a server's resident set crept up upload after upload (48, 52, then 57 MiB in the bench)
/// instead of returning to where it was; it takes a few milliseconds.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
#[allow(unsafe_code)]
pub fn release_freed_memory() {
    // SAFETY: malloc_trim takes the allocator's locks itself and only releases free pages.
    unsafe { libc::malloc_trim(0) };
}

/// [`release_freed_memory`], at most once a second for the whole process: for the end of each
/// append of a resumable upload, which may come many times a second, each costing a trim. Two
/// 1 GiB droplets in 16 MiB appends through S3 peaked at 56 MiB without it, and at 47 MiB with
/// it (44 MiB as two multipart uploads).
pub fn release_freed_memory_now_and_then() {
    use std::sync::atomic::{AtomicU64, Ordering};
    static LAST_MS: AtomicU64 = AtomicU64::new(0);
    let now = crate::time::now_ms() as u64;
    let last = LAST_MS.load(Ordering::Relaxed);
    if now.saturating_sub(last) >= 1000
        && LAST_MS.compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed).is_ok()
    {
        release_freed_memory();
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
pub fn limit_arenas() {}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
pub fn release_freed_memory() {}
