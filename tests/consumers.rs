//! Event consumers on a real Redis: each event is applied once per subscriber although the
//! bus delivers at least once; a dead consumer's unacknowledged entries are taken over; an
//! event that keeps failing moves to the dead-letter stream instead of blocking the rest.

// Helpers panic on purpose: a failed step is a failed test with a clear message.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::support;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use redis::aio::ConnectionManager;
use sea_orm::DatabaseTransaction;

use crm_platform::consumer::{Handler, Subscriber};
use crm_platform::error::Error;
use crm_platform::events::{Bus, Envelope};

const STREAM: &str = "crm.test.v1";

struct TestMigrator;

impl sea_orm_migration::MigratorTrait for TestMigrator {
    fn migrations() -> Vec<Box<dyn sea_orm_migration::MigrationTrait>> {
        crm_platform::migration::migrations()
    }
}

#[derive(Clone, Default)]
struct Applied(Arc<Mutex<HashMap<String, usize>>>);

impl Handler for Applied {
    async fn handle(&self, _txn: &DatabaseTransaction, event: &Envelope) -> Result<(), Error> {
        if event.event_type == "poison" {
            return Err(Error::internal("this event can never be applied"));
        }
        *self.0.lock().unwrap().entry(event.id.clone()).or_default() += 1;
        Ok(())
    }
}

/// A fresh SQLite database with the platform's tables, for a subscriber's inbox, and the
/// directory that holds it.
async fn inbox_db(name: &str) -> (sea_orm::DatabaseConnection, std::path::PathBuf) {
    let dir = support::process::scratch_dir(name);
    let db = crm_platform::db::connect(&format!(
        "sqlite://{}?mode=rwc",
        dir.join("inbox.db").display()
    ))
    .await
    .unwrap();
    crm_platform::db::migrate::<TestMigrator>(&db)
        .await
        .unwrap();
    (db, dir)
}

fn event(id: &str, kind: &str) -> Envelope {
    Envelope {
        id: id.into(),
        stream: STREAM.into(),
        tenant_id: "t1".into(),
        event_type: kind.into(),
        aggregate_id: "a1".into(),
        payload: id.as_bytes().to_vec(),
        trace_context: None,
    }
}

/// A fresh PostgreSQL database with the platform's tables, on the harness's server.
async fn inbox_pg(name: &str) -> sea_orm::DatabaseConnection {
    let pg = support::postgres();
    let database = format!("{name}_{}", std::process::id());
    support::psql(pg.port, &format!("create database {database}")).unwrap();
    let db = crm_platform::db::connect(&format!(
        "postgres://postgres@127.0.0.1:{}/{database}",
        pg.port
    ))
    .await
    .unwrap();
    crm_platform::db::migrate::<TestMigrator>(&db)
        .await
        .unwrap();
    db
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_apply_once_with_an_sqlite_inbox() {
    let (db, dir) = inbox_db("consumer").await;
    events_apply_once_survive_a_dead_consumer_and_poison_is_dead_lettered(db).await;
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_apply_once_with_a_postgres_inbox() {
    let db = inbox_pg("inbox").await;
    events_apply_once_survive_a_dead_consumer_and_poison_is_dead_lettered(db).await;
}

async fn events_apply_once_survive_a_dead_consumer_and_poison_is_dead_lettered(
    db: sea_orm::DatabaseConnection,
) {
    let redis = support::Redis::start();
    let client = redis::Client::open(redis.url()).unwrap();
    let conn = ConnectionManager::new(client.clone()).await.unwrap();
    let bus = Bus::Redis(conn.clone());
    let inbox = db.clone();

    // e2 is published twice, as a relay does when it re-sends after a crash.
    for e in [
        event("e1", "x"),
        event("e2", "x"),
        event("e2", "x"),
        event("bad", "poison"),
    ] {
        bus.publish(&e).await.unwrap();
    }
    // A consumer takes e3 and dies before acknowledging it.
    let mut raw = conn.clone();
    let _: () = redis::cmd("XGROUP")
        .arg("CREATE")
        .arg(STREAM)
        .arg("reporting")
        .arg("0")
        .arg("MKSTREAM")
        .query_async(&mut raw)
        .await
        .unwrap();
    let _: redis::Value = redis::cmd("XREADGROUP")
        .arg("GROUP")
        .arg("reporting")
        .arg("dead-consumer")
        .arg("COUNT")
        .arg(10)
        .arg("STREAMS")
        .arg(STREAM)
        .arg(">")
        .query_async(&mut raw)
        .await
        .unwrap();
    bus.publish(&event("e3", "x")).await.unwrap();

    let applied = Applied::default();
    let subscriber = Subscriber {
        name: "reporting".into(),
        db,
        reclaim_idle: Duration::from_millis(300),
    };
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let running = tokio::spawn(subscriber.run_redis(
        client.clone(),
        STREAM,
        "reporting-1",
        applied.clone(),
        async {
            let _ = stopped.await;
        },
    ));

    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let dead_letters: Vec<redis::streams::StreamId> = {
            let reply: redis::streams::StreamRangeReply = redis::cmd("XRANGE")
                .arg(format!("{STREAM}:dlq"))
                .arg("-")
                .arg("+")
                .query_async(&mut raw)
                .await
                .unwrap();
            reply.ids
        };
        let counts = applied.0.lock().unwrap().clone();
        let done = ["e1", "e2", "e3"].iter().all(|id| counts.contains_key(*id))
            && !dead_letters.is_empty();
        if done {
            assert_eq!(
                counts.values().sum::<usize>(),
                3,
                "each event applied exactly once: {counts:?}"
            );
            assert_eq!(dead_letters.len(), 1);
            let letter = &dead_letters[0];
            assert_eq!(letter.get::<String>("id").as_deref(), Some("bad"));
            assert!(
                letter
                    .get::<String>("reason")
                    .unwrap()
                    .contains("never be applied")
            );
            break;
        }
        assert!(
            Instant::now() < deadline,
            "applied {counts:?}, dead letters {}",
            dead_letters.len()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Everything is acknowledged: nothing stays pending, the poison included.
    let pending: redis::streams::StreamPendingReply = redis::cmd("XPENDING")
        .arg(STREAM)
        .arg("reporting")
        .query_async(&mut raw)
        .await
        .unwrap();
    assert_eq!(pending.count(), 0);
    let _ = stop.send(());
    running.await.unwrap();
    // The inbox holds each applied event once, in the subscriber's own database.
    use sea_orm::{ColumnTrait as _, EntityTrait as _, PaginatorTrait as _, QueryFilter as _};
    let recorded = crm_platform::entity::inbox::Entity::find()
        .filter(crm_platform::entity::inbox::Column::Consumer.eq("reporting"))
        .count(&inbox)
        .await
        .unwrap();
    assert_eq!(recorded, 3, "e1, e2 and e3, each once");
}

/// Event payloads hold personal data, so they live on the stream, and on its dead-letter
/// stream, no longer than the outbox keeps them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn streams_forget_events_older_than_the_outbox_keeps() {
    let redis = support::Redis::start();
    let client = redis::Client::open(redis.url()).unwrap();
    let mut raw = ConnectionManager::new(client.clone()).await.unwrap();
    let bus = Bus::Redis(raw.clone());
    let old_stream = "crm.old.v1";
    // An entry from 2001 (stream ids start with their time in milliseconds), on the stream
    // and on its dead-letter stream.
    for stream in [old_stream.to_owned(), format!("{old_stream}:dlq")] {
        let _: String = redis::cmd("XADD")
            .arg(&stream)
            .arg("1000000000000-0")
            .arg("id")
            .arg("ancient")
            .query_async(&mut raw)
            .await
            .unwrap();
    }
    let mut fresh = event("fresh", "x");
    fresh.stream = old_stream.into();
    bus.publish(&fresh).await.unwrap();
    let ids = |reply: redis::streams::StreamRangeReply| {
        reply
            .ids
            .into_iter()
            .map(|e| e.get::<String>("id").unwrap())
            .collect::<Vec<_>>()
    };
    let on_stream: redis::streams::StreamRangeReply = redis::cmd("XRANGE")
        .arg(old_stream)
        .arg("-")
        .arg("+")
        .query_async(&mut raw)
        .await
        .unwrap();
    assert_eq!(ids(on_stream), vec!["fresh".to_owned()]);

    // A poison event dead-lettered now trims the dead-letter stream the same way.
    let (db, dir) = inbox_db("dlq-trim").await;
    let mut poison = event("poison-now", "poison");
    poison.stream = old_stream.into();
    bus.publish(&poison).await.unwrap();
    let subscriber = Subscriber {
        name: "trim".into(),
        db,
        reclaim_idle: Duration::from_millis(100),
    };
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let running = tokio::spawn(subscriber.run_redis(
        client.clone(),
        old_stream,
        "trim-1",
        Applied::default(),
        async {
            let _ = stopped.await;
        },
    ));
    let deadline = Instant::now() + Duration::from_secs(30);
    let dead = loop {
        let reply: redis::streams::StreamRangeReply = redis::cmd("XRANGE")
            .arg(format!("{old_stream}:dlq"))
            .arg("-")
            .arg("+")
            .query_async(&mut raw)
            .await
            .unwrap();
        let dead = ids(reply);
        if dead.iter().any(|id| id == "poison-now") || Instant::now() > deadline {
            break dead;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let _ = stop.send(());
    let _ = running.await;
    assert_eq!(dead, vec!["poison-now".to_owned()]);
    let _ = std::fs::remove_dir_all(dir);
}
