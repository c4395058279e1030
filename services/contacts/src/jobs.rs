//! Background work of the contacts service: announcing follow-ups that fall due and today's
//! birthdays, returning idle customers to the pool, and erasing contacts whose retention
//! after deletion ran out. Every replica runs it; each step is safe to run concurrently
//! (a row changes, and its event is written, only by the run that wins its compare-and-set).

use std::time::Duration;

use crate::account::Accounts;
use crate::birthdays;
use crate::contact::Contacts;
use crate::handlers::Handlers;
use crate::interactions;
use crm_platform::error::Error;
pub use crm_records::jobs::*;

/// Due follow-ups, and birthdays, announced per sweep.
const DUE_BATCH: u64 = 1000;

/// When the jobs run and which local day they consider "today".
#[derive(Debug, Clone, Copy)]
pub struct Schedule {
    /// Time between sweeps.
    pub interval: Duration,
    /// The service's local time zone as minutes east of UTC (480 for China), for the day
    /// of birthdays.
    pub utc_offset_minutes: i32,
    /// How long a deleted contact keeps its personal data before it is erased.
    pub erase_deleted_after: Duration,
}

/// What one sweep did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Sweep {
    /// Follow-ups announced as due.
    pub due: u64,
    /// Customers returned to the pool.
    pub returned: u64,
    /// Birthdays announced.
    pub birthdays: u64,
    /// Deleted contacts erased.
    pub erased: u64,
}

/// Runs every step once as of `now` (microseconds), so tests can sweep at a chosen time.
pub async fn sweep(handlers: &Handlers, now: i64, schedule: &Schedule) -> Result<Sweep, Error> {
    let due = interactions::announce_due(&handlers.db, now, DUE_BATCH).await?;
    let returned = handlers.return_idle::<Accounts>(now).await?
        + handlers.return_idle::<Contacts>(now).await?;
    let birthdays =
        birthdays::announce_today(&handlers.db, now, schedule.utc_offset_minutes, DUE_BATCH)
            .await?;
    let retention = i64::try_from(schedule.erase_deleted_after.as_micros()).unwrap_or(i64::MAX);
    let erased = handlers
        .erase_expired(now.saturating_sub(retention))
        .await?;
    let done = Sweep {
        due,
        returned,
        birthdays,
        erased,
    };
    if done != Sweep::default() {
        handlers.relay.wake();
    }
    Ok(done)
}

/// Sweeps on `schedule` until `shutdown` resolves.
pub async fn run(handlers: Handlers, schedule: Schedule, shutdown: impl Future<Output = ()>) {
    let handlers = &handlers;
    let schedule = &schedule;
    run_every("contacts", schedule.interval, shutdown, |now| {
        sweep(handlers, now, schedule)
    })
    .await
}
