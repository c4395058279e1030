//! A database outage: calls that need the database fail with UNAVAILABLE (safe to retry) and
//! a generic message, never INTERNAL and never a leak of SQL or driver details; calls served
//! from the cache keep working. (The suite has a PostgreSQL server of its own, which it kills.)

// Helpers panic on purpose: a failed step is a failed test with a clear message.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::support;

use tonic::Code;

use crm_proto::contacts::*;
use support::clients::{expect_code, reason};
use support::{Mode, Suite};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_outage_is_unavailable_not_internal() {
    let suite = Suite::builder(Mode::Distributed)
        .own_postgres()
        .start()
        .await;
    let admin = suite.admin().await;
    let cached = admin.create_contact("Cached before the outage").await;
    let mut api = admin.contacts();
    api.get_contact(GetContactRequest {
        id: cached.id.clone(),
    })
    .await
    .unwrap();

    suite.postgres().kill();

    // A cached record is still served.
    let read = api
        .get_contact(GetContactRequest {
            id: cached.id.clone(),
        })
        .await
        .unwrap();
    assert_eq!(
        read.into_inner().contact.unwrap().display_name,
        "Cached before the outage"
    );
    // What needs the database is refused as retryable, without internals.
    let failures = [
        api.list_contacts(ListContactsRequest::default())
            .await
            .map(|_| ()),
        api.create_contact(CreateContactRequest {
            allow_duplicates: false,
            contact: Some(Contact {
                display_name: "During".into(),
                ..Default::default()
            }),
            request_id: String::new(),
        })
        .await
        .map(|_| ()),
    ];
    for failure in failures {
        let status = expect_code(failure, Code::Unavailable);
        assert_eq!(reason(&status), "UNAVAILABLE");
        let message = status.message().to_lowercase();
        for secret in [
            "sqlx", "select", "insert", "postgres", "password", "panicked", "/src/",
        ] {
            assert!(!message.contains(secret), "leaked `{secret}`: {message}");
        }
    }
}
