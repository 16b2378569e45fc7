//! A private temporary directory per Envoy run, removed on drop (kept when `AUTHZ_E2E_KEEP` is set).

use crate::error::{Error, Result};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};

static RUNS: AtomicU32 = AtomicU32::new(0);

/// A temporary directory that lives as long as the value.
#[derive(Debug)]
pub struct WorkDir {
    path: PathBuf,
    run: u32,
}

impl WorkDir {
    /// Creates `$TMPDIR/authz-e2e-<pid>-<run>`, `run` counting the directories this process made.
    pub fn create() -> Result<Self> {
        let run = RUNS.fetch_add(1, Ordering::SeqCst);
        let path = std::env::temp_dir().join(format!("authz-e2e-{}-{run}", std::process::id()));
        // A directory left by an earlier process with the same pid is stale.
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).map_err(Error::io(format!("create `{}`", path.display())))?;
        Ok(Self { path, run })
    }

    /// Which directory of this process this is (0, 1, ...).
    pub fn run(&self) -> u32 {
        self.run
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Writes `name` in the directory and returns its path.
    pub fn write(&self, name: &str, contents: &str) -> Result<PathBuf> {
        let path = self.path.join(name);
        std::fs::write(&path, contents).map_err(Error::io(format!("write `{}`", path.display())))?;
        Ok(path)
    }
}

impl Drop for WorkDir {
    fn drop(&mut self) {
        if std::env::var_os("AUTHZ_E2E_KEEP").is_none() {
            let _ = std::fs::remove_dir_all(&self.path);
        }
    }
}
