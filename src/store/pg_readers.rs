//! PostgreSQL connections of their own for short reads by key on the
//! request path (the pay page), outside sqlx's pool.
//!
//! sqlx's pool pings a connection when it hands it out and again when it
//! takes it back (a `Sync` and its answer each time), so a one-statement
//! read cost three round trips to the database server and a task spawned
//! for the return. Taken from here it costs one. A connection is given back
//! only after its statement finished without an error; one that failed or
//! whose request was dropped half-way is closed, and a new one is opened
//! in its place when needed. Nothing checks a connection before use: a
//! statement that fails on one runs again on the pool (`sql::on_target`).

use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use sqlx::postgres::PgConnectOptions;
use sqlx::{ConnectOptions, PgConnection};

/// Opened when first needed, at most `max` at once; when all are busy the
/// caller reads through the pool instead (`take` says `None`).
#[derive(Debug)]
pub struct PgReaders {
    options: PgConnectOptions,
    idle: Mutex<Vec<PgConnection>>,
    opened: AtomicUsize,
    max: usize,
}

impl PgReaders {
    pub fn new(options: PgConnectOptions, max: usize) -> PgReaders {
        PgReaders {
            options,
            idle: Mutex::new(Vec::with_capacity(max)),
            opened: AtomicUsize::new(0),
            max,
        }
    }

    /// A connection of its own until `give_back`, or `None` when `max` are
    /// in use or a new one cannot be opened.
    pub async fn take(&self) -> Option<PgReader<'_>> {
        let idle = self.idle.lock().ok().and_then(|mut idle| idle.pop());
        if let Some(conn) = idle {
            return Some(PgReader {
                slot: Slot(self),
                conn,
            });
        }
        if !super::claim_place(&self.opened, self.max) {
            return None;
        }
        // Claimed before the connection exists: freed if this future is
        // dropped while connecting, or connecting fails.
        let slot = Slot(self);
        match self.options.connect().await {
            Ok(conn) => Some(PgReader { slot, conn }),
            Err(e) => {
                tracing::warn!(error = %e, "cannot open a reader; reading through the pool");
                None
            }
        }
    }
}

/// One of the `max` connections `PgReaders` may have open, freed when dropped.
struct Slot<'a>(&'a PgReaders);

impl Drop for Slot<'_> {
    fn drop(&mut self) {
        self.0.opened.fetch_sub(1, Ordering::AcqRel);
    }
}

/// A connection taken from `PgReaders`. Dropped without `give_back` (an
/// error, or the request dropped mid-statement) it is closed and its slot
/// freed.
pub struct PgReader<'a> {
    slot: Slot<'a>,
    conn: PgConnection,
}

impl PgReader<'_> {
    pub fn conn(&mut self) -> &mut PgConnection {
        &mut self.conn
    }

    /// Its statement finished: the connection is ready for the next one.
    pub fn give_back(self) {
        let PgReader { slot, conn } = self;
        let readers = slot.0;
        // Poisoned: the connection is closed and its slot freed.
        if let Ok(mut idle) = readers.idle.lock() {
            idle.push(conn);
            // The slot stays taken by the idle connection.
            std::mem::forget(slot);
        }
    }
}
