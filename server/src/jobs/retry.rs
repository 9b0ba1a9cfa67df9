//! How a job retries a step that failed for a passing reason (a store that could not be reached
//! for a moment): a few attempts, a little apart, the same for every kind of job. A failure that
//! outlasts them is the job's to settle: a delete records it, a copy is left to recovery.

use std::fmt::Display;
use std::future::Future;
use std::time::Duration;

use slog::Logger;

/// Attempts at a step before the job gives up on it for now.
pub const ATTEMPTS: u32 = 3;

/// Waited after the first failed attempt; after the n-th, n times this.
const BACKOFF: Duration = Duration::from_millis(500);

/// Runs `step` until it succeeds, fails in a way `passing` says retrying will not mend, or has
/// failed [`ATTEMPTS`] times; answers its last result. Each failure retried is logged, as `what`
/// failing.
pub async fn retry<T, E, F>(
    log: &Logger,
    what: &str,
    passing: impl Fn(&E) -> bool,
    mut step: impl FnMut() -> F,
) -> Result<T, E>
where
    E: Display,
    F: Future<Output = Result<T, E>>,
{
    let mut attempt = 1;
    loop {
        match step().await {
            Err(error) if attempt < ATTEMPTS && passing(&error) => {
                slog::warn!(log, "{what} failed; retrying"; "attempt" => attempt,
                    "error" => %error);
                tokio::time::sleep(BACKOFF * attempt).await;
                attempt += 1;
            }
            result => return result,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::cell::Cell;

    use super::{ATTEMPTS, retry};

    fn log() -> slog::Logger {
        slog::Logger::root(slog::Discard, slog::o!())
    }

    #[tokio::test]
    async fn passing_failures_are_retried_until_one_succeeds_or_attempts_run_out() {
        let calls = Cell::new(0);
        let result = retry(
            &log(),
            "step",
            |_: &String| true,
            || {
                calls.set(calls.get() + 1);
                let n = calls.get();
                async move { if n < 2 { Err(format!("failure {n}")) } else { Ok(n) } }
            },
        )
        .await;
        assert_eq!((result, calls.get()), (Ok(2), 2));

        calls.set(0);
        let result: Result<(), String> = retry(
            &log(),
            "step",
            |_| true,
            || {
                calls.set(calls.get() + 1);
                async { Err("down".to_owned()) }
            },
        )
        .await;
        assert_eq!((result, calls.get()), (Err("down".to_owned()), ATTEMPTS));
    }

    #[tokio::test]
    async fn a_lasting_failure_is_not_retried() {
        let calls = Cell::new(0);
        let result: Result<(), String> = retry(
            &log(),
            "step",
            |_| false,
            || {
                calls.set(calls.get() + 1);
                async { Err("refused".to_owned()) }
            },
        )
        .await;
        assert_eq!((result, calls.get()), (Err("refused".to_owned()), 1));
    }
}
