//! The group writer's write-ahead log, written in one system call per
//! commit instead of two per page.
//!
//! SQLite writes each page of a commit to the log as two `pwrite` calls (a
//! 24-byte frame header, then the page), and then `fsync`s. In the load
//! benchmark's payments the writer's thread spent a third of its time in
//! those calls. This VFS is SQLite's own (`unix`) with one difference: the
//! log's writes that follow each other in the file are gathered in memory
//! and handed to the file in one write before anything else is done with
//! it: before a sync (so a commit is durable exactly as before), a read, a
//! truncation, a size asked, a lock change, a file control or its close.
//!
//! So it is only for connections that sync every commit (`synchronous =
//! FULL`, as the group writer's): SQLite syncs the log before it makes a
//! commit visible to other connections, and the sync writes what was
//! gathered first. What could be lost is only what SQLite has not synced
//! yet, which a crash may lose anyway: a commit is acknowledged after its
//! sync. Other files (the database, its shared memory) go to `unix`
//! untouched, and so do other connections: the file's locks are `unix`'s
//! own, shared by all.

use std::ffi::{CStr, c_char, c_int, c_void};
use std::sync::OnceLock;

use rusqlite::ffi;

/// The VFS's name, for `sqlite3_open_v2`.
pub const NAME: &CStr = c"fieldpay-batched-wal";

/// The most bytes gathered for one write: `unix` writes at most 128 KiB
/// in one call (a large commit writes in pieces of about this size).
const GATHER_LIMIT: usize = 128 * 1024 - 1;

/// Registers the VFS (once per process) and answers whether it is there.
pub fn register() -> bool {
    static REGISTERED: OnceLock<bool> = OnceLock::new();
    *REGISTERED.get_or_init(|| {
        // SAFETY: `sqlite3_vfs_find` with a null name returns the default
        // VFS, which lives as long as the process. The copy keeps every
        // function of it (they use the VFS's path length, the same here)
        // except `xOpen`, and is leaked: SQLite keeps the pointer.
        unsafe {
            let unix = ffi::sqlite3_vfs_find(std::ptr::null());
            if unix.is_null() {
                return false;
            }
            let mut vfs: ffi::sqlite3_vfs = *unix;
            vfs.szOsFile =
                (std::mem::size_of::<BatchedFile>() + (*unix).szOsFile as usize) as c_int;
            vfs.zName = NAME.as_ptr();
            vfs.pNext = std::ptr::null_mut();
            vfs.pAppData = unix.cast::<c_void>();
            vfs.xOpen = Some(open);
            ffi::sqlite3_vfs_register(Box::leak(Box::new(vfs)), 0) == ffi::SQLITE_OK
        }
    })
}

/// What SQLite holds for an open file: this header, then `unix`'s own
/// file right after it (`szOsFile` covers both).
#[repr(C)]
struct BatchedFile {
    base: ffi::sqlite3_file,
    /// The log's gathered writes (null for every other file).
    gathered: *mut Gathered,
}

struct Gathered {
    /// Where in the file `bytes` start.
    at: i64,
    bytes: Vec<u8>,
}

static METHODS: ffi::sqlite3_io_methods = ffi::sqlite3_io_methods {
    iVersion: 3,
    xClose: Some(close),
    xRead: Some(read),
    xWrite: Some(write),
    xTruncate: Some(truncate),
    xSync: Some(sync),
    xFileSize: Some(file_size),
    xLock: Some(lock),
    xUnlock: Some(unlock),
    xCheckReservedLock: Some(check_reserved_lock),
    xFileControl: Some(file_control),
    xSectorSize: Some(sector_size),
    xDeviceCharacteristics: Some(device_characteristics),
    xShmMap: Some(shm_map),
    xShmLock: Some(shm_lock),
    xShmBarrier: Some(shm_barrier),
    xShmUnmap: Some(shm_unmap),
    xFetch: Some(fetch),
    xUnfetch: Some(unfetch),
};

/// `unix`'s file inside ours.
unsafe fn inner(file: *mut ffi::sqlite3_file) -> *mut ffi::sqlite3_file {
    // SAFETY: every file of this VFS was allocated `szOsFile` bytes: ours,
    // then `unix`'s (whose alignment ours, a multiple of 8, keeps).
    unsafe {
        file.cast::<u8>()
            .add(std::mem::size_of::<BatchedFile>())
            .cast()
    }
}

unsafe fn methods(file: *mut ffi::sqlite3_file) -> &'static ffi::sqlite3_io_methods {
    // SAFETY: `open` only hands SQLite files whose inner file opened.
    unsafe { &*(*inner(file)).pMethods }
}

/// Writes what was gathered; SQLite's answer to that write.
unsafe fn flush(file: *mut ffi::sqlite3_file) -> c_int {
    // SAFETY: `file` is ours (`open`); `gathered` is null or ours alone.
    unsafe {
        let gathered = (*file.cast::<BatchedFile>()).gathered;
        if gathered.is_null() || (*gathered).bytes.is_empty() {
            return ffi::SQLITE_OK;
        }
        let g = &mut *gathered;
        let write = methods(file).xWrite.expect("unix writes");
        let rc = write(
            inner(file),
            g.bytes.as_ptr().cast(),
            g.bytes.len() as c_int,
            g.at,
        );
        g.bytes.clear();
        rc
    }
}

unsafe extern "C" fn open(
    vfs: *mut ffi::sqlite3_vfs,
    name: *const c_char,
    file: *mut ffi::sqlite3_file,
    flags: c_int,
    out_flags: *mut c_int,
) -> c_int {
    // SAFETY: SQLite gives `szOsFile` bytes at `file`; `pAppData` is `unix`.
    unsafe {
        let unix = (*vfs).pAppData.cast::<ffi::sqlite3_vfs>();
        let ours = file.cast::<BatchedFile>();
        (*ours).base.pMethods = std::ptr::null();
        (*ours).gathered = std::ptr::null_mut();
        let open = (*unix).xOpen.expect("unix opens files");
        let rc = open(unix, name, inner(file), flags, out_flags);
        // `unix` clears its file first; a file it failed to open but set
        // up is closed through ours, as SQLite closes any file with methods.
        if (*inner(file)).pMethods.is_null() {
            return rc;
        }
        if rc == ffi::SQLITE_OK && flags & ffi::SQLITE_OPEN_WAL != 0 {
            (*ours).gathered = Box::into_raw(Box::new(Gathered {
                at: 0,
                bytes: Vec::new(),
            }));
        }
        (*ours).base.pMethods = &METHODS;
        rc
    }
}

unsafe extern "C" fn close(file: *mut ffi::sqlite3_file) -> c_int {
    // SAFETY: ours (`open`); SQLite closes a file once.
    unsafe {
        let flushed = flush(file);
        let rc = (methods(file).xClose.expect("unix closes"))(inner(file));
        let ours = file.cast::<BatchedFile>();
        if !(*ours).gathered.is_null() {
            drop(Box::from_raw((*ours).gathered));
            (*ours).gathered = std::ptr::null_mut();
        }
        if flushed != ffi::SQLITE_OK {
            flushed
        } else {
            rc
        }
    }
}

unsafe extern "C" fn write(
    file: *mut ffi::sqlite3_file,
    data: *const c_void,
    amount: c_int,
    offset: i64,
) -> c_int {
    // SAFETY: ours (`open`); SQLite's buffer holds `amount` bytes.
    unsafe {
        let gathered = (*file.cast::<BatchedFile>()).gathered;
        if gathered.is_null() {
            return (methods(file).xWrite.expect("unix writes"))(inner(file), data, amount, offset);
        }
        let g = &mut *gathered;
        let size = usize::try_from(amount).unwrap_or(0);
        let follows = offset == g.at + g.bytes.len() as i64;
        if !g.bytes.is_empty() && (!follows || g.bytes.len() + size > GATHER_LIMIT) {
            let rc = flush(file);
            if rc != ffi::SQLITE_OK {
                return rc;
            }
        }
        if size > GATHER_LIMIT {
            return (methods(file).xWrite.expect("unix writes"))(inner(file), data, amount, offset);
        }
        if g.bytes.is_empty() {
            g.at = offset;
        }
        g.bytes
            .extend_from_slice(std::slice::from_raw_parts(data.cast::<u8>(), size));
        ffi::SQLITE_OK
    }
}

/// Each of these first writes what was gathered, then does as `unix` does.
macro_rules! flushed_first {
    ($name:ident, $method:ident, ($($arg:ident: $ty:ty),*)) => {
        unsafe extern "C" fn $name(file: *mut ffi::sqlite3_file, $($arg: $ty),*) -> c_int {
            // SAFETY: ours (`open`); the arguments are SQLite's, passed on.
            unsafe {
                let rc = flush(file);
                if rc != ffi::SQLITE_OK {
                    return rc;
                }
                (methods(file).$method.expect(concat!("unix has ", stringify!($method))))(
                    inner(file),
                    $($arg),*
                )
            }
        }
    };
}

flushed_first!(read, xRead, (data: *mut c_void, amount: c_int, offset: i64));
flushed_first!(truncate, xTruncate, (size: i64));
flushed_first!(sync, xSync, (flags: c_int));
flushed_first!(file_size, xFileSize, (size: *mut i64));
flushed_first!(lock, xLock, (level: c_int));
flushed_first!(unlock, xUnlock, (level: c_int));
flushed_first!(file_control, xFileControl, (op: c_int, arg: *mut c_void));
flushed_first!(fetch, xFetch, (offset: i64, amount: c_int, pages: *mut *mut c_void));

/// Each of these does as `unix` does (nothing gathered is involved).
macro_rules! passed_on {
    ($name:ident, $method:ident, ($($arg:ident: $ty:ty),*) -> $ret:ty) => {
        unsafe extern "C" fn $name(file: *mut ffi::sqlite3_file, $($arg: $ty),*) -> $ret {
            // SAFETY: ours (`open`); the arguments are SQLite's, passed on.
            unsafe {
                (methods(file).$method.expect(concat!("unix has ", stringify!($method))))(
                    inner(file),
                    $($arg),*
                )
            }
        }
    };
}

passed_on!(check_reserved_lock, xCheckReservedLock, (out: *mut c_int) -> c_int);
passed_on!(sector_size, xSectorSize, () -> c_int);
passed_on!(device_characteristics, xDeviceCharacteristics, () -> c_int);
passed_on!(shm_map, xShmMap, (region: c_int, size: c_int, extend: c_int, out: *mut *mut c_void) -> c_int);
passed_on!(shm_lock, xShmLock, (offset: c_int, n: c_int, flags: c_int) -> c_int);
passed_on!(shm_barrier, xShmBarrier, () -> ());
passed_on!(shm_unmap, xShmUnmap, (delete: c_int) -> c_int);
passed_on!(unfetch, xUnfetch, (offset: i64, page: *mut c_void) -> c_int);

#[cfg(test)]
mod tests {
    use rusqlite::{Connection, OpenFlags};

    /// Commits through the batched log are read by a connection on plain
    /// `unix`, survive the writer's close, and leave a sound database.
    #[test]
    fn commits_written_in_one_piece_read_back_everywhere() {
        assert!(super::register());
        let dir = std::env::temp_dir().join(format!("fp-wal-{}", crate::crypto::new_id("t")));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("db.sqlite");
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_CREATE;
        let writer =
            Connection::open_with_flags_and_vfs(&path, flags, super::NAME.to_str().unwrap())
                .unwrap();
        writer
            .execute_batch(
                "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL;
                 PRAGMA cache_size = 4;
                 CREATE TABLE t (k INTEGER PRIMARY KEY, v TEXT NOT NULL);",
            )
            .unwrap();
        let reader = Connection::open_with_flags(&path, OpenFlags::SQLITE_OPEN_READ_ONLY).unwrap();
        let count = |c: &Connection| -> i64 {
            c.query_row("SELECT count(*) FROM t", [], |r| r.get(0))
                .unwrap()
        };
        // Small commits, and one far larger than the gathering limit and
        // the page cache (SQLite spills and reads pages back meanwhile).
        for round in 0..20_i64 {
            writer
                .execute(
                    "INSERT INTO t (k, v) VALUES (?1, ?2)",
                    (round, "x".repeat(3000)),
                )
                .unwrap();
            assert_eq!(count(&reader), round + 1);
        }
        writer
            .execute_batch(
                "BEGIN;
                 WITH RECURSIVE n(i) AS (SELECT 100 UNION ALL SELECT i + 1 FROM n WHERE i < 2099)
                 INSERT INTO t (k, v) SELECT i, printf('%.3000c', 'y') FROM n;
                 UPDATE t SET v = 'z' || v WHERE k % 7 = 0;
                 COMMIT;",
            )
            .unwrap();
        assert_eq!(count(&reader), 2020);
        // Undone work leaves nothing behind.
        writer
            .execute_batch("BEGIN; DELETE FROM t; ROLLBACK;")
            .unwrap();
        assert_eq!(count(&reader), 2020);
        writer
            .execute_batch("PRAGMA wal_checkpoint(TRUNCATE);")
            .unwrap();
        drop(writer);
        let after = Connection::open(&path).unwrap();
        assert_eq!(count(&after), 2020);
        let sevens: i64 = after
            .query_row("SELECT count(*) FROM t WHERE v LIKE 'z%'", [], |r| r.get(0))
            .unwrap();
        let expected = (0..20).chain(100..2100).filter(|k| k % 7 == 0).count();
        assert_eq!(sevens, expected as i64);
        let check: String = after
            .query_row("PRAGMA integrity_check", [], |r| r.get(0))
            .unwrap();
        assert_eq!(check, "ok");
        drop((reader, after));
        std::fs::remove_dir_all(&dir).ok();
    }
}
