//! Periodic clean-up of the platform tables every service database carries, so they stay
//! bounded: published outbox events after a week, idempotency keys after a day.

use std::time::Duration;

use sea_orm::DatabaseConnection;

use crate::error::Error;

/// How long published events stay in the outbox (for delivery audits and manual replay).
pub const OUTBOX_RETENTION: Duration = Duration::from_secs(7 * 24 * 3600);
/// How long a request id replays its first response (AIP-155 leaves the window to the
/// service; a day covers every client's retry policy).
pub const REQUEST_ID_RETENTION: Duration = Duration::from_secs(24 * 3600);
/// How often housekeeping runs.
const INTERVAL: Duration = Duration::from_secs(600);

/// Purges once; returns (outbox events, idempotency keys) deleted.
pub async fn purge_once(db: &DatabaseConnection) -> Result<(u64, u64), Error> {
    let events = crate::events::purge_published(db, OUTBOX_RETENTION).await?;
    let keys = crate::idempotency::purge(db, REQUEST_ID_RETENTION).await?;
    Ok((events, keys))
}

/// Purges every [`INTERVAL`] until `shutdown` resolves.
pub async fn run(db: DatabaseConnection, shutdown: impl Future<Output = ()>) {
    tokio::pin!(shutdown);
    loop {
        match purge_once(&db).await {
            Ok((0, 0)) => {}
            Ok((events, keys)) => tracing::info!(events, keys, "housekeeping purged old rows"),
            Err(e) => tracing::warn!(error = ?e, "housekeeping failed; will retry"),
        }
        tokio::select! {
            _ = tokio::time::sleep(INTERVAL) => {}
            _ = &mut shutdown => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use sea_orm::{ActiveValue::Set, Database, EntityTrait, PaginatorTrait};

    use super::*;
    use crate::entity::idempotency_key;

    struct Tables;

    impl sea_orm_migration::MigratorTrait for Tables {
        fn migrations() -> Vec<Box<dyn sea_orm_migration::MigrationTrait>> {
            crate::migration::migrations()
        }
    }

    #[tokio::test]
    async fn request_ids_older_than_a_day_are_forgotten() {
        let db = Database::connect("sqlite::memory:").await.unwrap();
        crate::db::migrate::<Tables>(&db).await.unwrap();
        let day = REQUEST_ID_RETENTION.as_micros() as i64;
        for (request_id, age) in [("old", day + 1_000_000), ("fresh", 1_000_000)] {
            idempotency_key::Entity::insert(idempotency_key::ActiveModel {
                tenant_id: Set("t".into()),
                principal_id: Set("u".into()),
                method: Set("m".into()),
                request_id: Set(request_id.into()),
                request_hash: Set("h".into()),
                response: Set(vec![]),
                create_time: Set(crate::clock::now_micros() - age),
            })
            .exec(&db)
            .await
            .unwrap();
        }
        assert_eq!(purge_once(&db).await.unwrap(), (0, 1));
        assert_eq!(idempotency_key::Entity::find().count(&db).await.unwrap(), 1);
    }
}
