//! Work of this process that a newer request may ask to give way, by what it works on: an
//! append to a resumable upload, whose client may have reconnected while this process still
//! waits for the old connection's bytes. The newer request asks, the older one stops reading
//! at once and records what it has, and the newer one goes on from there.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use tokio_util::sync::CancellationToken;
use uuid::Uuid;

#[derive(Default)]
pub struct Handovers {
    running: Mutex<HashMap<Uuid, (u64, CancellationToken)>>,
    registered: AtomicU64,
}

/// Work registered on a subject: cancelled when a newer request asks it to give way, and
/// unregistered when dropped.
pub struct Registration<'a> {
    handovers: &'a Handovers,
    subject: Uuid,
    number: u64,
    pub asked: CancellationToken,
}

impl Handovers {
    /// Registers work on `subject`, in place of any registered before.
    pub fn register(&self, subject: Uuid) -> Registration<'_> {
        let number = self.registered.fetch_add(1, Ordering::Relaxed);
        let asked = CancellationToken::new();
        self.lock().insert(subject, (number, asked.clone()));
        Registration { handovers: self, subject, number, asked }
    }

    /// Asks the work on `subject` in this process, if any, to give way; false if there is none.
    pub fn ask(&self, subject: Uuid) -> bool {
        match self.lock().get(&subject) {
            Some((_, asked)) => {
                asked.cancel();
                true
            }
            None => false,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<Uuid, (u64, CancellationToken)>> {
        // Each change is one call: a panic elsewhere leaves the map whole.
        self.running.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl Drop for Registration<'_> {
    fn drop(&mut self) {
        let mut running = self.handovers.lock();
        if running.get(&self.subject).is_some_and(|(number, _)| *number == self.number) {
            running.remove(&self.subject);
        }
    }
}
