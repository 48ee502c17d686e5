//! The one data directory of an embedded deployment, and the lock that keeps a
//! second process from opening it (two writers would corrupt the index).

use std::fs::File;
use std::path::{Path, PathBuf};

/// Errors opening the data directory.
#[derive(Debug, thiserror::Error)]
pub enum DataDirError {
    /// Another process holds the directory.
    #[error("data directory {0} is already in use by another process (lock file {0}/.lock)")]
    InUse(PathBuf),
    /// The directory cannot be created or the lock file opened.
    #[error("data directory {path}: {source}")]
    Io {
        /// The directory.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
}

/// An exclusively held data directory; the lock is released on drop (or when
/// the process dies, however it dies: it is an OS file lock, not a pid file).
#[derive(Debug)]
pub struct DataDir {
    root: PathBuf,
    _lock: File,
}

impl DataDir {
    /// Creates `root` if needed and takes its lock, failing fast if it is held.
    pub fn open(root: &Path) -> Result<Self, DataDirError> {
        let io = |source| DataDirError::Io {
            path: root.to_path_buf(),
            source,
        };
        std::fs::create_dir_all(root).map_err(io)?;
        let lock = File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(root.join(".lock"))
            .map_err(io)?;
        match lock.try_lock() {
            Ok(()) => Ok(Self {
                root: root.to_path_buf(),
                _lock: lock,
            }),
            Err(std::fs::TryLockError::WouldBlock) => Err(DataDirError::InUse(root.to_path_buf())),
            Err(std::fs::TryLockError::Error(e)) => Err(io(e)),
        }
    }

    /// The directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// SQLite URL of the system of record inside the directory.
    pub fn record_url(&self) -> String {
        format!("sqlite:{}", self.root.join("record.db").display())
    }

    /// Directory of the embedded vector index.
    pub fn index_dir(&self) -> PathBuf {
        self.root.join("index")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn second_open_is_refused_until_the_first_is_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let first = DataDir::open(dir.path()).unwrap();
        let err = DataDir::open(dir.path()).unwrap_err();
        assert!(matches!(err, DataDirError::InUse(_)));
        assert!(err.to_string().contains("already in use"));
        drop(first);
        let again = DataDir::open(dir.path()).unwrap();
        assert!(again.record_url().ends_with("record.db"));
    }
}
