//! A small filesystem the test mounts itself (a tmpfs of a given size; needs root, as CI runs),
//! to see what the server does when its disk is full. Unmounted when dropped.

use std::path::{Path, PathBuf};
use std::process::Command;

pub struct SmallFilesystem {
    dir: tempfile::TempDir,
}

impl SmallFilesystem {
    /// A fresh tmpfs of `mib` MiB.
    pub fn mount(mib: u64) -> Self {
        let dir = tempfile::Builder::new().prefix("droplet-small-fs-").tempdir().expect("dir");
        let output = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={mib}m"), "tmpfs"])
            .arg(dir.path())
            .output()
            .expect("running mount");
        assert!(
            output.status.success(),
            "this test mounts a small filesystem and needs root (CI runs as root): {}",
            String::from_utf8_lossy(&output.stderr)
        );
        SmallFilesystem { dir }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Fills what is left of the filesystem with one file; remove it to free the space.
    pub fn fill(&self) -> PathBuf {
        let filler = self.path().join("filler");
        let status = Command::new("dd")
            .args(["if=/dev/zero", "bs=1M"])
            .arg(format!("of={}", filler.display()))
            .output()
            .expect("running dd");
        // dd ends with "No space left on device": that is the point.
        assert!(!status.status.success(), "the filesystem did not fill up");
        filler
    }
}

impl Drop for SmallFilesystem {
    fn drop(&mut self) {
        // Lazily, so that a server still holding a file does not keep it mounted.
        let _ = Command::new("umount").arg("-l").arg(self.dir.path()).status();
    }
}
