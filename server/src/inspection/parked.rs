//! The checks of resumable uploads between two appends, in this process: an append takes its
//! upload's checks (when they have read exactly the bytes before its offset), feeds them its
//! bytes, and parks them again for the next. They are a shortcut, never the record: an append
//! that reaches another replica, follows a restart, or finds them evicted goes without, and
//! the upload's job then reads the stored bits through fresh checks.
//!
//! Parked checks hold two idle threads of the blocking pool each, so there are at most as many
//! as uploads may stream at once, and none older than `MAX_IDLE`: the oldest go first.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use uuid::Uuid;

use super::Checks;

/// How long checks wait for their upload's next append before they are dropped.
const MAX_IDLE: Duration = Duration::from_secs(10 * 60);

pub struct ParkedChecks {
    parked: Mutex<HashMap<Uuid, (Checks, Instant)>>,
    limit: usize,
}

impl ParkedChecks {
    /// Room for the checks of `limit` uploads.
    pub fn new(limit: usize) -> Self {
        ParkedChecks { parked: Mutex::new(HashMap::new()), limit }
    }

    /// The checks to feed an append at `offset` of `upload`: those parked for it if they have
    /// read exactly the bytes before `offset`, new ones for an upload's first bytes, else none.
    pub fn take(&self, upload: Uuid, offset: u64) -> Option<Checks> {
        let parked = self.lock().remove(&upload).map(|(checks, _)| checks);
        match parked {
            Some(checks) if checks.fed() == offset => Some(checks),
            _ if offset == 0 => Some(Checks::start(Vec::new())),
            _ => None,
        }
    }

    /// Keeps `checks` for `upload`'s next append, dropping the idle and, past the limit, the
    /// oldest.
    pub fn park(&self, upload: Uuid, checks: Checks) {
        let mut parked = self.lock();
        let now = Instant::now();
        parked.retain(|_, (_, since)| now.duration_since(*since) < MAX_IDLE);
        while parked.len() >= self.limit {
            let oldest = parked.iter().min_by_key(|(_, (_, since))| *since).map(|(id, _)| *id);
            match oldest {
                Some(id) => parked.remove(&id),
                None => break,
            };
        }
        parked.insert(upload, (checks, now));
    }

    /// Drops `upload`'s checks: it ended, or its bytes went elsewhere.
    pub fn drop_checks(&self, upload: Uuid) {
        self.lock().remove(&upload);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<Uuid, (Checks, Instant)>> {
        // A panic while the map was held leaves it whole: each change is one call.
        self.parked.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}
