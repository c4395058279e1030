//! The consuming side of domain events: each event is applied at most once per subscriber,
//! however often it is delivered. The subscriber's effect and its inbox row commit in one
//! transaction; a redelivered event finds its inbox row and is skipped.
//!
//! On Redis Streams a subscriber is a consumer group: a restarted consumer first finishes its
//! own pending entries, entries left pending by a dead consumer are reclaimed after
//! [`RECLAIM_IDLE`], and an entry that keeps failing moves to `<stream>:dlq` after
//! [`MAX_DELIVERIES`] attempts so it cannot block the stream.

use std::future::Future;
use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::streams::{StreamAutoClaimReply, StreamId, StreamPendingCountReply, StreamReadReply};
use sea_orm::{DatabaseConnection, DatabaseTransaction};
use tokio::sync::broadcast;
use tracing::Instrument as _;

use crate::db::begin_write;
use crate::error::Error;
use crate::events::{Envelope, Inbox};

/// Deliveries after which a failing event goes to the dead-letter stream.
pub const MAX_DELIVERIES: usize = 5;
/// Idle time after which another consumer's pending entry is taken over.
pub const RECLAIM_IDLE: Duration = Duration::from_secs(30);

/// This process's name in a consumer group: the pod's host name where there is one (a
/// restarted container keeps it and finishes its own pending events first; a replaced pod's
/// pending events are reclaimed by the others), else the service and the process id.
pub fn consumer_name(service: &str) -> String {
    std::env::var("HOSTNAME")
        .ok()
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| format!("{service}-{}", std::process::id()))
}
/// Entries read per round.
const BATCH: usize = 100;
/// How long a read waits for new entries.
const READ_BLOCK: Duration = Duration::from_secs(1);

/// Applies events inside the consumer's transaction.
pub trait Handler: Send + Sync + 'static {
    /// Applies one event; an error leaves it to be delivered again.
    fn handle<'a>(
        &'a self,
        txn: &'a DatabaseTransaction,
        event: &'a Envelope,
    ) -> impl Future<Output = Result<(), Error>> + Send + 'a;
}

/// A subscriber: its name (the consumer group) and its database (where its inbox lives).
#[derive(Debug, Clone)]
pub struct Subscriber {
    /// Subscriber name, for example `reporting`.
    pub name: String,
    /// The subscriber's own database.
    pub db: DatabaseConnection,
    /// Idle time after which a dead consumer's pending entries are taken over; normally
    /// [`RECLAIM_IDLE`].
    pub reclaim_idle: Duration,
}

/// What became of one delivery.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// The handler ran and its effect committed.
    Applied,
    /// The event was applied before; nothing ran.
    Duplicate,
}

impl Subscriber {
    /// Applies one delivery at most once.
    pub async fn apply<H: Handler>(&self, handler: &H, event: &Envelope) -> Result<Outcome, Error> {
        let span = crate::telemetry::event_span(&self.name, event);
        self.apply_once(handler, event).instrument(span).await
    }

    async fn apply_once<H: Handler>(
        &self,
        handler: &H,
        event: &Envelope,
    ) -> Result<Outcome, Error> {
        let txn = begin_write(&self.db).await?;
        if !Inbox::first_delivery(&txn, &self.name, &event.id).await? {
            return Ok(Outcome::Duplicate);
        }
        handler.handle(&txn, event).await?;
        txn.commit().await?;
        Ok(Outcome::Applied)
    }

    /// Consumes `stream` from whichever bus `infra` runs on until `shutdown`: Redis Streams
    /// as consumer `consumer` of this subscriber's group, or the in-process bus (which carries
    /// every service's events: only `stream`'s reach the handler). The returned task owns
    /// what it needs, ready to spawn.
    pub fn consume<H: Handler>(
        self,
        infra: &crate::config::Infra,
        (stream, consumer): (&str, &str),
        handler: H,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> impl Future<Output = ()> + Send + 'static {
        let redis = infra.redis.clone();
        let events = infra.bus.subscribe();
        let (stream, consumer) = (stream.to_owned(), consumer.to_owned());
        async move {
            match (redis, events) {
                (Some(client), _) => {
                    self.run_redis(client, &stream, &consumer, handler, shutdown)
                        .await
                }
                (None, Some(events)) => self.run_memory(events, &stream, handler, shutdown).await,
                (None, None) => tracing::warn!(subscriber = %self.name, "no bus to consume"),
            }
        }
    }

    /// Consumes `stream`'s events on the in-process bus until `shutdown` resolves. The bus
    /// carries every service's events; another stream's are passed over before the inbox
    /// sees them, so that a subscriber may follow several streams, each with its own task.
    pub async fn run_memory<H: Handler>(
        self,
        mut events: broadcast::Receiver<Envelope>,
        stream: &str,
        handler: H,
        shutdown: impl Future<Output = ()>,
    ) {
        tokio::pin!(shutdown);
        loop {
            let event = tokio::select! {
                event = events.recv() => event,
                _ = &mut shutdown => return,
            };
            match event {
                Ok(event) if event.stream != stream => {}
                Ok(event) => {
                    if let Err(e) = self.apply(&handler, &event).await {
                        tracing::warn!(subscriber = %self.name, event = %event.id, error = ?e, "event not applied");
                    }
                }
                Err(broadcast::error::RecvError::Lagged(missed)) => {
                    tracing::warn!(subscriber = %self.name, missed, "subscriber fell behind the in-process bus");
                }
                Err(broadcast::error::RecvError::Closed) => return,
            }
        }
    }

    /// Consumes `stream` as consumer `consumer` of this subscriber's group until `shutdown`.
    /// The group reads on a connection of its own: a blocking read on a shared, multiplexed
    /// connection would stall every other command on it.
    pub async fn run_redis<H: Handler>(
        self,
        client: redis::Client,
        stream: &str,
        consumer: &str,
        handler: H,
        shutdown: impl Future<Output = ()>,
    ) {
        tokio::pin!(shutdown);
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(Duration::from_secs(2)))
            .set_response_timeout(Some(READ_BLOCK + Duration::from_secs(2)));
        let conn = loop {
            let connecting = ConnectionManager::new_with_config(client.clone(), config.clone());
            let result = tokio::select! {
                result = connecting => result,
                _ = &mut shutdown => return,
            };
            match result {
                Ok(conn) => break conn,
                Err(e) => {
                    tracing::warn!(subscriber = %self.name, error = %e, "cannot reach redis; retrying");
                    tokio::select! {
                        _ = tokio::time::sleep(Duration::from_secs(1)) => {}
                        _ = &mut shutdown => return,
                    }
                }
            }
        };
        let group = RedisGroup {
            conn,
            stream: stream.to_owned(),
            group: self.name.clone(),
            consumer: consumer.to_owned(),
            reclaim_idle: self.reclaim_idle,
        };
        loop {
            let round = async {
                group.ensure().await?;
                // Own pending entries first: after a restart, or after a failure.
                let pending = group.read("0").await?;
                let failed = self.process(&group, &handler, pending).await?;
                let reclaimed = group.reclaim().await?;
                self.process(&group, &handler, reclaimed).await?;
                if failed > 0 {
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
                let fresh = group.read(">").await?;
                self.process(&group, &handler, fresh).await
            };
            let result = tokio::select! {
                result = round => result,
                _ = &mut shutdown => return,
            };
            if let Err(e) = result {
                tracing::warn!(subscriber = %self.name, error = ?e, "event stream unavailable; retrying");
                tokio::select! {
                    _ = tokio::time::sleep(Duration::from_secs(1)) => {}
                    _ = &mut shutdown => return,
                }
            }
        }
    }

    /// Applies entries and acknowledges them; returns how many failed and stay pending.
    async fn process<H: Handler>(
        &self,
        group: &RedisGroup,
        handler: &H,
        entries: Vec<StreamId>,
    ) -> Result<usize, Error> {
        let mut failed = 0;
        for entry in entries {
            let Some(event) = envelope(&group.stream, &entry) else {
                tracing::warn!(entry = %entry.id, "malformed stream entry; dead-lettering it");
                group.dead_letter(&entry, "malformed entry").await?;
                continue;
            };
            match self.apply(handler, &event).await {
                Ok(_) => group.ack(&entry.id).await?,
                Err(error) => {
                    let deliveries = group.deliveries(&entry.id).await?;
                    if deliveries >= MAX_DELIVERIES {
                        tracing::error!(subscriber = %self.name, event = %event.id, deliveries, error = ?error, "event dead-lettered");
                        group.dead_letter(&entry, &format!("{error:?}")).await?;
                    } else {
                        failed += 1;
                    }
                }
            }
        }
        Ok(failed)
    }
}

fn envelope(stream: &str, entry: &StreamId) -> Option<Envelope> {
    Some(Envelope {
        id: entry.get("id")?,
        stream: stream.to_owned(),
        tenant_id: entry.get("tenant")?,
        event_type: entry.get("type")?,
        aggregate_id: entry.get("aggregate")?,
        payload: entry.get("payload")?,
        trace_context: entry.get("traceparent"),
    })
}

struct RedisGroup {
    conn: ConnectionManager,
    stream: String,
    group: String,
    consumer: String,
    reclaim_idle: Duration,
}

fn unavailable(e: redis::RedisError) -> Error {
    Error::Unavailable(format!("redis: {e}"))
}

impl RedisGroup {
    /// Creates the group at the start of the stream if it does not exist (also after Redis
    /// lost it in a restart).
    async fn ensure(&self) -> Result<(), Error> {
        let mut conn = self.conn.clone();
        let created: Result<(), _> = redis::cmd("XGROUP")
            .arg("CREATE")
            .arg(&self.stream)
            .arg(&self.group)
            .arg("0")
            .arg("MKSTREAM")
            .query_async(&mut conn)
            .await;
        match created {
            Ok(()) => Ok(()),
            Err(e) if e.code() == Some("BUSYGROUP") => Ok(()),
            Err(e) => Err(unavailable(e)),
        }
    }

    async fn read(&self, from: &str) -> Result<Vec<StreamId>, Error> {
        let mut conn = self.conn.clone();
        let mut cmd = redis::cmd("XREADGROUP");
        cmd.arg("GROUP")
            .arg(&self.group)
            .arg(&self.consumer)
            .arg("COUNT")
            .arg(BATCH);
        if from == ">" {
            cmd.arg("BLOCK").arg(READ_BLOCK.as_millis() as u64);
        }
        let reply: Option<StreamReadReply> = cmd
            .arg("STREAMS")
            .arg(&self.stream)
            .arg(from)
            .query_async(&mut conn)
            .await
            .map_err(unavailable)?;
        Ok(reply
            .map(|r| r.keys.into_iter().flat_map(|k| k.ids).collect())
            .unwrap_or_default())
    }

    async fn reclaim(&self) -> Result<Vec<StreamId>, Error> {
        let mut conn = self.conn.clone();
        let reply: StreamAutoClaimReply = redis::cmd("XAUTOCLAIM")
            .arg(&self.stream)
            .arg(&self.group)
            .arg(&self.consumer)
            .arg(self.reclaim_idle.as_millis() as u64)
            .arg("0-0")
            .arg("COUNT")
            .arg(BATCH)
            .query_async(&mut conn)
            .await
            .map_err(unavailable)?;
        Ok(reply.claimed)
    }

    async fn ack(&self, id: &str) -> Result<(), Error> {
        let mut conn = self.conn.clone();
        redis::cmd("XACK")
            .arg(&self.stream)
            .arg(&self.group)
            .arg(id)
            .query_async::<i64>(&mut conn)
            .await
            .map_err(unavailable)?;
        Ok(())
    }

    async fn deliveries(&self, id: &str) -> Result<usize, Error> {
        let mut conn = self.conn.clone();
        let reply: StreamPendingCountReply = redis::cmd("XPENDING")
            .arg(&self.stream)
            .arg(&self.group)
            .arg(id)
            .arg(id)
            .arg(1)
            .query_async(&mut conn)
            .await
            .map_err(unavailable)?;
        Ok(reply.ids.first().map_or(0, |p| p.times_delivered))
    }

    /// Copies the entry to `<stream>:dlq` with the reason, then acknowledges it.
    async fn dead_letter(&self, entry: &StreamId, reason: &str) -> Result<(), Error> {
        let mut conn = self.conn.clone();
        let dead_letters = format!("{}:dlq", self.stream);
        let mut cmd = redis::cmd("XADD");
        cmd.arg(&dead_letters)
            .arg("*")
            .arg("group")
            .arg(&self.group)
            .arg("entry")
            .arg(&entry.id)
            .arg("reason")
            .arg(reason);
        for field in entry.map.keys() {
            if let Some(value) = entry.get::<Vec<u8>>(field) {
                cmd.arg(field).arg(value);
            }
        }
        let mut pipe = redis::pipe();
        pipe.add_command(cmd);
        crate::events::trim_by_age(&mut pipe, &dead_letters);
        pipe.query_async::<Vec<String>>(&mut conn)
            .await
            .map_err(unavailable)?;
        self.ack(&entry.id).await
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use sea_orm::Database;

    use super::*;

    struct Count(Arc<AtomicUsize>);

    impl Handler for Count {
        async fn handle(&self, _txn: &DatabaseTransaction, event: &Envelope) -> Result<(), Error> {
            if event.event_type == "poison" {
                return Err(Error::internal("cannot apply"));
            }
            self.0.fetch_add(1, Ordering::SeqCst);
            Ok(())
        }
    }

    fn event(id: &str, kind: &str) -> Envelope {
        Envelope {
            id: id.into(),
            stream: "s".into(),
            tenant_id: "t".into(),
            event_type: kind.into(),
            aggregate_id: "a".into(),
            payload: vec![],
            trace_context: None,
        }
    }

    #[tokio::test]
    async fn redelivered_events_apply_once_and_failures_commit_nothing() {
        let db = Database::connect("sqlite::memory:").await.unwrap();
        crate::db::migrate::<TestMigrator>(&db).await.unwrap();
        let subscriber = Subscriber {
            name: "reporting".into(),
            db,
            reclaim_idle: RECLAIM_IDLE,
        };
        let applied = Arc::new(AtomicUsize::new(0));
        let handler = Count(applied.clone());
        assert_eq!(
            subscriber.apply(&handler, &event("e1", "x")).await.unwrap(),
            Outcome::Applied
        );
        assert_eq!(
            subscriber.apply(&handler, &event("e1", "x")).await.unwrap(),
            Outcome::Duplicate
        );
        assert!(
            subscriber
                .apply(&handler, &event("p", "poison"))
                .await
                .is_err()
        );
        // The failed attempt left no inbox row, so a later fixed handler could still apply it.
        assert!(
            subscriber
                .apply(&handler, &event("p", "poison"))
                .await
                .is_err()
        );
        assert_eq!(applied.load(Ordering::SeqCst), 1);
    }

    struct TestMigrator;

    impl sea_orm_migration::MigratorTrait for TestMigrator {
        fn migrations() -> Vec<Box<dyn sea_orm_migration::MigrationTrait>> {
            crate::migration::migrations()
        }
    }
}
