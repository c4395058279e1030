//! The embedded data directory holds the master secret and every database, so nobody but the
//! process's own user may read it: the directory is 0700 and its files 0600, also when an
//! older release left them world-readable.

use std::fs::{DirBuilder, OpenOptions, Permissions};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::Path;

use crate::config::ConfigError;

const DIR_MODE: u32 = 0o700;
const FILE_MODE: u32 = 0o600;

fn refused(path: &Path, e: std::io::Error) -> ConfigError {
    ConfigError(format!("cannot secure {}: {e}", path.display()))
}

/// Creates `dir` readable by this user only, or narrows an existing one to that.
pub fn private_dir(dir: &Path) -> Result<(), ConfigError> {
    DirBuilder::new()
        .recursive(true)
        .mode(DIR_MODE)
        .create(dir)
        .map_err(|e| refused(dir, e))?;
    std::fs::set_permissions(dir, Permissions::from_mode(DIR_MODE)).map_err(|e| refused(dir, e))
}

/// Creates `path` empty and readable by this user only if it is missing, or narrows an
/// existing file to that. SQLite gives its journal and WAL files the database file's mode.
pub fn private_file(path: &Path) -> Result<(), ConfigError> {
    OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(false)
        .mode(FILE_MODE)
        .open(path)
        .map_err(|e| refused(path, e))?;
    std::fs::set_permissions(path, Permissions::from_mode(FILE_MODE)).map_err(|e| refused(path, e))
}

/// Writes a new file readable by this user only; fails if it exists, so two starts racing
/// cannot both write a secret.
pub fn create_private(path: &Path, contents: &[u8]) -> std::io::Result<()> {
    use std::io::Write as _;
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(FILE_MODE)
        .open(path)?;
    file.write_all(contents)?;
    file.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mode(path: &Path) -> u32 {
        std::fs::metadata(path).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn narrows_what_exists_and_creates_private() {
        let root = std::env::temp_dir().join(format!("crm-private-{}", std::process::id()));
        let dir = root.join("data");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::set_permissions(&dir, Permissions::from_mode(0o755)).unwrap();
        let db = dir.join("x.db");
        std::fs::write(&db, b"").unwrap();
        std::fs::set_permissions(&db, Permissions::from_mode(0o644)).unwrap();
        private_dir(&dir).unwrap();
        private_file(&db).unwrap();
        assert_eq!(mode(&dir), 0o700);
        assert_eq!(mode(&db), 0o600);
        let secret = dir.join("secret.key");
        create_private(&secret, b"s").unwrap();
        assert_eq!(mode(&secret), 0o600);
        assert!(create_private(&secret, b"t").is_err(), "never overwrites");
        std::fs::remove_dir_all(&root).unwrap();
    }
}
