//! What every service's background jobs share: the system actor, marking rows announced so
//! that replicas running the same job never announce one twice, and the loop that sweeps on
//! a schedule.

use crm_platform::clock;
use std::fmt::Debug;
use std::time::Duration;

use crm_platform::auth::{DataScope, Principal};
use crm_platform::error::Error;
use crm_proto::DomainEvent;

/// The actor of changes the service makes by itself, in audit entries and events.
pub const SYSTEM_ACTOR: &str = "system";
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
        delegations: Vec::new(),
    }
}

/// One announcement a job makes: the compare-and-set that marks its row as announced, and
/// the event to write when this run's mark is the one that took.
pub struct Announcement<E: sea_orm::EntityTrait, V: DomainEvent> {
    /// The marking update, filtered so it changes the row only if not yet marked.
    pub mark: sea_orm::UpdateMany<E>,
    /// Tenant of the event.
    pub tenant_id: String,
    /// The record the event is about.
    pub aggregate_id: String,
    /// The event.
    pub event: V,
    /// What the mark changes in the record's own fields (a quote expiring), kept in its
    /// history as the system's change; `None` for a bookkeeping mark (a reminder sent).
    pub change: Option<SweptChange>,
}

/// A record's change a job makes, for its audit entry.
#[derive(Debug, Clone)]
pub struct SweptChange {
    /// The resource type (`quote`).
    pub resource_type: &'static str,
    /// The audit action (`expire`).
    pub action: &'static str,
    /// The fields changed.
    pub changes: Vec<crm_platform::audit::Change>,
}

/// Writes the announcements whose marks take, in one transaction; returns how many. Replicas
/// running the same job never announce a row twice: only one mark can change it.
pub async fn announce_marked<E: sea_orm::EntityTrait, V: DomainEvent>(
    db: &sea_orm::DatabaseConnection,
    announcements: Vec<Announcement<E, V>>,
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
        if let Some(change) = &a.change {
            let system = system_principal(&a.tenant_id);
            let (kind, action) = (change.resource_type, change.action);
            crm_platform::audit::record(
                &txn,
                &system,
                kind,
                &a.aggregate_id,
                action,
                &change.changes,
            )
            .await?;
        }
        announced += 1;
    }
    txn.commit().await?;
    Ok(announced)
}

/// Runs `sweep` as of the platform clock's now, every `interval`, until `shutdown`
/// resolves. A sweep that did something is logged with what it did; a failed one is logged
/// and tried again at the next turn.
pub async fn run_every<F, Fut, S>(
    job: &'static str,
    interval: Duration,
    shutdown: impl Future<Output = ()>,
    mut sweep: F,
) where
    F: FnMut(i64) -> Fut,
    Fut: Future<Output = Result<S, Error>>,
    S: Debug + Default + PartialEq,
{
    tokio::pin!(shutdown);
    loop {
        match sweep(clock::now_micros()).await {
            Ok(done) if done == S::default() => {}
            Ok(done) => tracing::info!(job, done = ?done, "jobs swept"),
            Err(e) => tracing::warn!(job, error = ?e, "jobs failed; will retry"),
        }
        tokio::select! {
            _ = tokio::time::sleep(interval) => {}
            _ = &mut shutdown => return,
        }
    }
}
