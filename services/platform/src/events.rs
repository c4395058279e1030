//! Domain events with a transactional outbox: a mutation appends its event in the same
//! transaction as its rows; a relay publishes committed events to the bus in commit order and
//! marks them sent. The outbox is the durable log and the bus is transport only, so a crash of
//! any process, or of Redis, loses nothing: unsent rows are sent again (at least once), and
//! consumers deduplicate on the event id with [`Inbox`].

use crate::clock;
use std::sync::Arc;
use std::time::Duration;

use redis::aio::ConnectionManager;
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, QueryFilter,
    QueryOrder, QuerySelect,
};
use tokio::sync::{Notify, broadcast};

use crate::entity::{inbox, outbox};
use crate::error::Error;

/// How many events the relay publishes per round.
const RELAY_BATCH: u64 = 256;
/// Longest a committed event waits for the relay when nobody wakes it.
const RELAY_IDLE_POLL: Duration = Duration::from_millis(500);
/// Streams are also trimmed to roughly this many entries, so a burst cannot fill Redis.
const STREAM_MAX_LEN: usize = 1_000_000;

/// Trims a stream to the outbox's retention, in the same pipeline as the `XADD` before it:
/// entries older than that go, so event payloads (personal data among them) live no longer
/// on a stream, or on its dead-letter stream, than in the outbox. Stream ids begin with the
/// Redis server's time in milliseconds, so the cut is taken by that clock, in a script: the
/// platform clock may differ from it (a host's skew; a test's moved clock), and a cut by the
/// platform clock ahead of Redis would trim what was just added.
pub(crate) fn trim_by_age(pipe: &mut redis::Pipeline, stream: &str) {
    const TRIM: &str = "local t = redis.call('TIME') \
        local oldest = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000) - tonumber(ARGV[1]) \
        if oldest > 0 then redis.call('XTRIM', KEYS[1], 'MINID', oldest) end \
        return 0";
    let retention = crate::housekeeping::OUTBOX_RETENTION.as_millis();
    pipe.cmd("EVAL")
        .arg(TRIM)
        .arg(1)
        .arg(stream)
        .arg(retention.to_string())
        .ignore();
}

/// An event as it travels on the bus.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Envelope {
    /// Event id.
    pub id: String,
    /// Stream name, for example `crm.contacts.v1`.
    pub stream: String,
    /// Tenant of the subject.
    pub tenant_id: String,
    /// Event type name.
    pub event_type: String,
    /// Id of the changed resource.
    pub aggregate_id: String,
    /// Protobuf-encoded event.
    pub payload: Vec<u8>,
    /// The writer's W3C `traceparent`, so the consumer's work joins the writer's trace.
    pub trace_context: Option<String>,
}

/// Whose change an event announces: the tenant, the actor and the changed resource.
#[derive(Debug, Clone, Copy)]
pub struct Origin<'a> {
    /// The tenant of the subject.
    pub tenant_id: &'a str,
    /// Who caused it (a user id, or `system` for background work).
    pub actor_id: &'a str,
    /// The id of the changed resource; events of one aggregate are published in order.
    pub aggregate_id: &'a str,
}

/// The outbox envelope of a service's event, stamped with a fresh id, the tenant, the actor,
/// the platform clock's time and the current trace, for the stream its contract names.
pub fn envelope<E: crm_proto::DomainEvent>(origin: Origin<'_>, mut event: E) -> Envelope {
    let event_id = uuid::Uuid::now_v7().to_string();
    event.stamp(crm_proto::EventStamp {
        event_id: event_id.clone(),
        tenant_id: origin.tenant_id.to_owned(),
        actor_id: origin.actor_id.to_owned(),
        occur_time: crate::time::to_timestamp(clock::now_micros()),
    });
    Envelope {
        id: event_id,
        stream: E::STREAM.to_owned(),
        tenant_id: origin.tenant_id.to_owned(),
        event_type: event.type_name().to_owned(),
        aggregate_id: origin.aggregate_id.to_owned(),
        payload: prost::Message::encode_to_vec(&event),
        trace_context: crate::telemetry::current_traceparent(),
    }
}

/// Appends a service's event to the outbox inside the caller's transaction (see
/// [`envelope`]).
pub async fn announce<C: ConnectionTrait, E: crm_proto::DomainEvent>(
    db: &C,
    origin: Origin<'_>,
    event: E,
) -> Result<(), Error> {
    append(db, envelope(origin, event)).await
}

/// Appends an event to the outbox inside the caller's transaction.
pub async fn append<C: ConnectionTrait>(db: &C, event: Envelope) -> Result<(), Error> {
    append_many(db, vec![event]).await
}

/// Appends many events in few statements, in order (imports).
pub async fn append_many<C: ConnectionTrait>(db: &C, events: Vec<Envelope>) -> Result<(), Error> {
    let rows: Vec<outbox::ActiveModel> = events
        .into_iter()
        .map(|event| outbox::ActiveModel {
            id: Set(event.id),
            tenant_id: Set(event.tenant_id),
            stream: Set(event.stream),
            aggregate_id: Set(event.aggregate_id),
            event_type: Set(event.event_type),
            payload: Set(event.payload),
            create_time: Set(clock::now_micros()),
            publish_time: Set(None),
            trace_context: Set(event.trace_context),
            ..Default::default()
        })
        .collect();
    for chunk in crate::db::fixed_chunks(&rows, 512) {
        outbox::Entity::insert_many(chunk.to_vec()).exec(db).await?;
    }
    Ok(())
}

/// Where published events go: Redis Streams in production, an in-process channel embedded.
#[derive(Clone)]
pub enum Bus {
    /// In-process broadcast, for the all-in-one binary.
    Memory(broadcast::Sender<Envelope>),
    /// Redis Streams, one stream per producing service.
    Redis(ConnectionManager),
}

impl std::fmt::Debug for Bus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Bus::Memory(_) => "Bus::Memory",
            Bus::Redis(_) => "Bus::Redis",
        })
    }
}

impl Bus {
    /// Creates an in-process bus.
    pub fn memory() -> Self {
        Bus::Memory(broadcast::channel(4096).0)
    }

    /// Publishes one event.
    pub async fn publish(&self, event: &Envelope) -> Result<(), Error> {
        self.publish_all(std::slice::from_ref(event)).await
    }

    /// Publishes events in order, in one round trip on Redis.
    pub async fn publish_all(&self, events: &[Envelope]) -> Result<(), Error> {
        match self {
            Bus::Memory(sender) => {
                for event in events {
                    // No subscriber is not an error: the outbox keeps the event.
                    let _ = sender.send(event.clone());
                }
                Ok(())
            }
            Bus::Redis(conn) => {
                let mut conn = conn.clone();
                let mut pipe = redis::pipe();
                let mut streams: Vec<&str> = Vec::new();
                for event in events {
                    pipe.add_command(xadd(event));
                    if !streams.contains(&event.stream.as_str()) {
                        streams.push(&event.stream);
                    }
                }
                for stream in streams {
                    trim_by_age(&mut pipe, stream);
                    pipe.cmd("XTRIM")
                        .arg(stream)
                        .arg("MAXLEN")
                        .arg("~")
                        .arg(STREAM_MAX_LEN)
                        .ignore();
                }
                let publish = pipe.query_async::<Vec<String>>(&mut conn);
                match tokio::time::timeout(Duration::from_secs(5), publish).await {
                    Ok(Ok(_)) => Ok(()),
                    Ok(Err(e)) => Err(Error::Unavailable(format!("redis xadd: {e}"))),
                    Err(_) => Err(Error::Unavailable("redis xadd timed out".to_owned())),
                }
            }
        }
    }

    /// Subscribes to the in-process bus; `None` for Redis, whose consumers use groups.
    pub fn subscribe(&self) -> Option<broadcast::Receiver<Envelope>> {
        match self {
            Bus::Memory(sender) => Some(sender.subscribe()),
            Bus::Redis(_) => None,
        }
    }
}

/// The `XADD` that puts one event on its stream (fields: id, tenant, type, aggregate,
/// payload, and traceparent when traced).
fn xadd(event: &Envelope) -> redis::Cmd {
    let mut cmd = redis::cmd("XADD");
    cmd.arg(&event.stream)
        .arg("*")
        .arg("id")
        .arg(&event.id)
        .arg("tenant")
        .arg(&event.tenant_id)
        .arg("type")
        .arg(&event.event_type)
        .arg("aggregate")
        .arg(&event.aggregate_id)
        .arg("payload")
        .arg(event.payload.as_slice());
    if let Some(trace) = &event.trace_context {
        cmd.arg("traceparent").arg(trace);
    }
    cmd
}

/// Publishes committed outbox rows to the bus.
#[derive(Debug, Clone)]
pub struct Relay {
    db: DatabaseConnection,
    bus: Bus,
    wake: Arc<Notify>,
}

impl Relay {
    /// Creates a relay over a service's database.
    pub fn new(db: DatabaseConnection, bus: Bus) -> Self {
        Self {
            db,
            bus,
            wake: Arc::new(Notify::new()),
        }
    }

    /// Wakes the relay after a commit so events leave without waiting for the next poll.
    pub fn wake(&self) {
        self.wake.notify_one();
    }

    /// Publishes everything pending once; returns how many events left.
    pub async fn publish_pending(&self) -> Result<usize, Error> {
        let mut sent = 0;
        loop {
            let batch = outbox::Entity::find()
                .filter(outbox::Column::PublishTime.is_null())
                .order_by_asc(outbox::Column::Seq)
                .limit(RELAY_BATCH)
                .all(&self.db)
                .await?;
            if batch.is_empty() {
                return Ok(sent);
            }
            let events: Vec<Envelope> = batch
                .iter()
                .map(|row| Envelope {
                    id: row.id.clone(),
                    stream: row.stream.clone(),
                    tenant_id: row.tenant_id.clone(),
                    event_type: row.event_type.clone(),
                    aggregate_id: row.aggregate_id.clone(),
                    payload: row.payload.clone(),
                    trace_context: row.trace_context.clone(),
                })
                .collect();
            // The whole batch goes in one round trip, in commit order. If it fails part-way,
            // nothing is marked and the batch is sent again: at least once, never reordered.
            self.bus.publish_all(&events).await?;
            sent += batch.len();
            outbox::Entity::update_many()
                .col_expr(
                    outbox::Column::PublishTime,
                    Expr::value(clock::now_micros()),
                )
                .filter(outbox::Column::Seq.is_in(batch.iter().map(|row| row.seq)))
                .exec(&self.db)
                .await?;
        }
    }

    /// Runs until `shutdown` resolves, publishing on every wake-up and poll.
    pub async fn run(self, shutdown: impl std::future::Future<Output = ()>) {
        tokio::pin!(shutdown);
        let mut backoff = Duration::from_millis(100);
        loop {
            match self.publish_pending().await {
                Ok(_) => backoff = Duration::from_millis(100),
                Err(e) => {
                    tracing::warn!(error = %e, cause = ?e, "outbox relay could not publish; will retry");
                    tokio::select! {
                        _ = tokio::time::sleep(backoff) => {}
                        _ = &mut shutdown => return,
                    }
                    backoff = (backoff * 2).min(Duration::from_secs(5));
                    continue;
                }
            }
            tokio::select! {
                _ = self.wake.notified() => {}
                _ = tokio::time::sleep(RELAY_IDLE_POLL) => {}
                _ = &mut shutdown => return,
            }
        }
    }
}

/// Deletes events published more than `retention` ago; the outbox is a log for re-delivery,
/// not an archive.
pub async fn purge_published<C: ConnectionTrait>(
    db: &C,
    retention: Duration,
) -> Result<u64, Error> {
    let cutoff = clock::now_micros() - retention.as_micros() as i64;
    let deleted = outbox::Entity::delete_many()
        .filter(outbox::Column::PublishTime.lt(cutoff))
        .exec(db)
        .await?;
    Ok(deleted.rows_affected)
}

/// Records which events a consumer has applied, in the consumer's own transaction.
#[derive(Debug, Clone, Copy)]
pub struct Inbox;

impl Inbox {
    /// Records `event_id` for `consumer`; returns `false` if it was already applied, in which
    /// case the caller skips the effect.
    pub async fn first_delivery<C: ConnectionTrait>(
        db: &C,
        consumer: &str,
        event_id: &str,
    ) -> Result<bool, Error> {
        let seen = inbox::Entity::find_by_id((consumer.to_owned(), event_id.to_owned()))
            .one(db)
            .await?;
        if seen.is_some() {
            return Ok(false);
        }
        inbox::Entity::insert(inbox::ActiveModel {
            consumer: Set(consumer.to_owned()),
            event_id: Set(event_id.to_owned()),
            process_time: Set(clock::now_micros()),
        })
        .exec(db)
        .await?;
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use sea_orm::{Database, EntityTrait, PaginatorTrait};

    use super::*;

    struct Tables;

    impl sea_orm_migration::MigratorTrait for Tables {
        fn migrations() -> Vec<Box<dyn sea_orm_migration::MigrationTrait>> {
            crate::migration::migrations()
        }
    }

    fn event(id: &str) -> Envelope {
        Envelope {
            id: id.into(),
            stream: "s".into(),
            tenant_id: "t".into(),
            event_type: "x".into(),
            aggregate_id: "a".into(),
            payload: vec![1],
            trace_context: None,
        }
    }

    #[tokio::test]
    async fn the_relay_publishes_in_commit_order_and_purges_what_was_sent() {
        let db = Database::connect("sqlite::memory:").await.unwrap();
        crate::db::migrate::<Tables>(&db).await.unwrap();
        for id in ["e1", "e2", "e3"] {
            append(&db, event(id)).await.unwrap();
        }
        let bus = Bus::memory();
        let mut received = bus.subscribe().unwrap();
        let relay = Relay::new(db.clone(), bus);
        assert_eq!(relay.publish_pending().await.unwrap(), 3);
        for id in ["e1", "e2", "e3"] {
            assert_eq!(received.recv().await.unwrap().id, id);
        }
        assert_eq!(
            relay.publish_pending().await.unwrap(),
            0,
            "nothing is sent twice"
        );
        let week = Duration::from_secs(7 * 24 * 3600);
        assert_eq!(
            purge_published(&db, week).await.unwrap(),
            0,
            "recent events stay"
        );
        append(&db, event("e4")).await.unwrap();
        assert_eq!(
            purge_published(&db, Duration::ZERO).await.unwrap(),
            3,
            "unsent events stay"
        );
        assert_eq!(outbox::Entity::find().count(&db).await.unwrap(), 1);
    }
}
