// glibc malloc showed up at ~15% of the pay page's CPU (arena locking across
// the sqlx worker threads); mimalloc keeps per-thread heaps. Built without
// its transparent-huge-page advice (Cargo.toml, `no_thp`): with it every
// touched 2 MB of its arena stayed resident, and the server's peak RSS in
// the load benchmark was 230-260 MB instead of about 80 (docs/PERFORMANCE.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

unsafe extern "C" {
    fn mi_option_get(option: std::ffi::c_int) -> std::ffi::c_long;
    fn mi_option_set(option: std::ffi::c_int, value: std::ffi::c_long);
}

/// `mi_option_purge_delay` in mimalloc 3's `mi_option_e` (`mimalloc.h`).
const MI_OPTION_PURGE_DELAY: std::ffi::c_int = 15;
/// mimalloc 3's default for it, in milliseconds.
const MI_DEFAULT_PURGE_DELAY: std::ffi::c_long = 1000;

/// Memory a thread's heap frees goes back to the OS at once instead of a
/// second later: a burst of PDF renders or spool writes on the blocking
/// threads otherwise stays resident (about 10 MB of the load benchmark's
/// peak). Only when the option still holds mimalloc 3's default, so a
/// `MIMALLOC_PURGE_DELAY` the operator set wins, and a different mimalloc
/// (whose options are numbered differently) is left alone.
fn purge_freed_memory_at_once() {
    // SAFETY: plain reads and writes of mimalloc's option table.
    unsafe {
        if mi_option_get(MI_OPTION_PURGE_DELAY) == MI_DEFAULT_PURGE_DELAY {
            mi_option_set(MI_OPTION_PURGE_DELAY, 0);
        }
    }
}
/// SQLite allocates with the C library's malloc, not the global allocator
/// above. glibc gives each thread that calls malloc an arena of its own (up
/// to eight per core), and memory freed in one arena serves only that
/// arena's threads: the group writer's thread, the four readers, the pooled
/// writer and the sandbox's connection held seven arenas, 22 MB in all
/// after the load benchmark's payments, for about 14 MB in use. One arena
/// for every thread: the load benchmark's peak went from 72 to 64 MB, with
/// no loss of throughput (SQLite's threads are few and mostly wait on the
/// disk). `MALLOC_ARENA_MAX` set by the operator wins.
fn one_malloc_arena() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        unsafe extern "C" {
            fn mallopt(param: std::ffi::c_int, value: std::ffi::c_int) -> std::ffi::c_int;
        }
        /// `M_ARENA_MAX` in glibc's `malloc.h`.
        const M_ARENA_MAX: std::ffi::c_int = -8;
        if std::env::var_os("MALLOC_ARENA_MAX").is_none() {
            // SAFETY: a plain setting of glibc's allocator, made before any
            // other thread exists.
            unsafe {
                mallopt(M_ARENA_MAX, 1);
            }
        }
    }
}

fn main() {
    purge_freed_memory_at_once();
    one_malloc_arena();
    fieldpay::store::direct::keep_undo_journals_in_memory();
    fieldpay::cli::main();
}
