//! Files at rest that only the owner may read: the SQLite database and its
//! WAL and SHM files, the secret, the spool folder and its messages (they
//! hold names, addresses and amounts). Modes are set explicitly, so a loose
//! umask (0022, 0002) does not leave them readable by others.

use std::io;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::Path;

pub const FILE_MODE: u32 = 0o600;
pub const DIR_MODE: u32 = 0o700;

/// Creates `dir` (and missing parents) readable by the owner only; an
/// existing folder is narrowed to that too.
pub fn create_dir(dir: &Path) -> io::Result<()> {
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(DIR_MODE)
        .create(dir)?;
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(DIR_MODE))
}

/// Writes a new file readable by the owner only; fails if it exists.
pub fn write_new(path: &Path, bytes: &[u8]) -> io::Result<()> {
    use std::io::Write;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(FILE_MODE)
        .open(path)?;
    f.write_all(bytes)?;
    f.sync_all()
}

/// Writes `bytes` into the spool folder `dir` as `name`: under a temporary
/// name first, renamed when complete, so a reader never sees half a file.
pub async fn spool(dir: &Path, name: &str, bytes: Vec<u8>) -> io::Result<()> {
    let dir = dir.to_path_buf();
    let name = name.to_string();
    tokio::task::spawn_blocking(move || {
        create_dir(&dir)?;
        let tmp = dir.join(format!(".{name}.tmp"));
        write_new(&tmp, &bytes)?;
        std::fs::rename(&tmp, dir.join(&name))
    })
    .await
    .map_err(io::Error::other)?
}

/// Before SQLite opens `db`: creates the file readable by the owner only
/// when missing (SQLite then gives its WAL and SHM files the same mode), and
/// narrows an existing file and its WAL and SHM to that mode.
pub fn prepare_sqlite_file(db: &Path) -> io::Result<()> {
    if let Some(dir) = db.parent().filter(|d| !d.as_os_str().is_empty())
        && !dir.exists()
    {
        create_dir(dir)?;
    }
    match std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(FILE_MODE)
        .open(db)
    {
        Ok(_) => {}
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
        Err(e) => return Err(e),
    }
    for suffix in ["", "-wal", "-shm", "-journal"] {
        let mut name = db.as_os_str().to_os_string();
        name.push(suffix);
        let path = Path::new(&name);
        if path.exists() {
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(FILE_MODE))?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mode(p: &Path) -> u32 {
        std::fs::metadata(p).unwrap().permissions().mode() & 0o777
    }

    #[tokio::test]
    async fn spool_files_and_folders_are_private() {
        let base = std::env::temp_dir().join(crate::crypto::new_id("pf"));
        std::fs::create_dir_all(&base).unwrap();
        std::fs::set_permissions(&base, std::fs::Permissions::from_mode(0o755)).unwrap();
        let spool = base.join("spool/inner");
        spool_file(&spool, "a.eml", b"x").await;
        assert_eq!(mode(&spool), DIR_MODE);
        assert_eq!(mode(&spool.join("a.eml")), FILE_MODE);
        // An existing folder that others could read is narrowed.
        std::fs::set_permissions(&spool, std::fs::Permissions::from_mode(0o755)).unwrap();
        spool_file(&spool, "b.eml", b"y").await;
        assert_eq!(mode(&spool), DIR_MODE);

        let db = base.join("data/app.db");
        prepare_sqlite_file(&db).unwrap();
        assert_eq!(mode(&db), FILE_MODE);
        std::fs::set_permissions(&db, std::fs::Permissions::from_mode(0o644)).unwrap();
        std::fs::write(base.join("data/app.db-wal"), b"").unwrap();
        std::fs::set_permissions(
            base.join("data/app.db-wal"),
            std::fs::Permissions::from_mode(0o644),
        )
        .unwrap();
        prepare_sqlite_file(&db).unwrap();
        assert_eq!(mode(&db), FILE_MODE);
        assert_eq!(mode(&base.join("data/app.db-wal")), FILE_MODE);
        std::fs::remove_dir_all(&base).ok();
    }

    async fn spool_file(dir: &Path, name: &str, bytes: &[u8]) {
        spool(dir, name, bytes.to_vec()).await.unwrap();
    }
}
