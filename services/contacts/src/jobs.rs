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
use crm_platform::auth::{DataScope, Principal};
use crm_platform::error::Error;
use crm_platform::time::now_micros;

/// The actor of changes the service makes by itself, in audit entries and events.
pub const SYSTEM_ACTOR: &str = "system";
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

/// The principal background work acts as: the whole tenant, no permissions to check.
pub fn system_principal(tenant_id: &str) -> Principal {
    Principal {
        tenant_id: tenant_id.to_owned(),
        user_id: SYSTEM_ACTOR.to_owned(),
        client: "job".to_owned(),
        permissions: Vec::new(),
        scope: DataScope::All,
        team_member_ids: Vec::new(),
        phone_region: String::new(),
        expires_at: 0,
    }
}

/// One announcement a job makes: the compare-and-set that marks its row as announced, and
/// the event to write when this run's mark is the one that took.
pub(crate) struct Announcement<E: sea_orm::EntityTrait> {
    /// The marking update, filtered so it changes the row only if not yet marked.
    pub mark: sea_orm::UpdateMany<E>,
    /// Tenant of the event.
    pub tenant_id: String,
    /// The record the event is about.
    pub aggregate_id: String,
    /// The event.
    pub event: crm_proto::contacts::ContactsEvent,
}

/// Writes the announcements whose marks take, in one transaction; returns how many. Replicas
/// running the same job never announce a row twice: only one mark can change it.
pub(crate) async fn announce_marked<E: sea_orm::EntityTrait>(
    db: &sea_orm::DatabaseConnection,
    announcements: Vec<Announcement<E>>,
) -> Result<u64, Error> {
    if announcements.is_empty() {
        return Ok(0);
    }
    let txn = crm_platform::db::begin_write(db).await?;
    let mut announced = 0;
    for a in announcements {
        if a.mark.exec(&txn).await?.rows_affected != 1 {
            continue;
        }
        crate::handlers::announce(&txn, &a.tenant_id, SYSTEM_ACTOR, a.event, &a.aggregate_id)
            .await?;
        announced += 1;
    }
    txn.commit().await?;
    Ok(announced)
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
    tokio::pin!(shutdown);
    loop {
        match sweep(&handlers, now_micros(), &schedule).await {
            Ok(done) if done == Sweep::default() => {}
            Ok(done) => tracing::info!(
                due = done.due,
                returned = done.returned,
                birthdays = done.birthdays,
                erased = done.erased,
                "contacts jobs"
            ),
            Err(e) => tracing::warn!(error = ?e, "contacts jobs failed; will retry"),
        }
        tokio::select! {
            _ = tokio::time::sleep(schedule.interval) => {}
            _ = &mut shutdown => return,
        }
    }
}
