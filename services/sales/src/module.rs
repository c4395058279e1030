//! The sales service's registration with the suite (see `crm_platform::service`).

use std::time::Duration;

use sea_orm::DatabaseConnection;
use tonic::service::RoutesBuilder;

use crate::consumers::{CONTACTS_STREAM, ContactsEvents, IdentityEvents, SUBSCRIBER};
use crate::{SERVICE_NAME, add_to, jobs, migration};
use crm_platform::client::ServiceClient;
use crm_platform::config::{self, ConfigError};
use crm_platform::consumer::{RECLAIM_IDLE, Subscriber};
use crm_platform::error::Error;
use crm_platform::service::{BoxFuture, Running, ServiceModule, StartContext};

/// The sales service.
#[derive(Debug, Clone, Copy)]
pub struct Sales;

/// Its registration.
pub static MODULE: Sales = Sales;

impl ServiceModule for Sales {
    fn name(&self) -> &'static str {
        "sales"
    }

    fn grpc_services(&self) -> &'static [&'static str] {
        &[SERVICE_NAME]
    }

    fn default_listen_addr(&self) -> &'static str {
        "0.0.0.0:50053"
    }

    /// Opportunities name accounts the caller must be able to see in contacts. (Identity's
    /// events, which keep the directory of teams, need no call.)
    fn peers(&self) -> &'static [&'static str] {
        &["contacts"]
    }

    fn migrate<'a>(&'a self, db: &'a DatabaseConnection) -> BoxFuture<'a, Result<(), Error>> {
        Box::pin(crm_platform::db::migrate::<migration::Migrator>(db))
    }

    fn start(
        &self,
        routes: &mut RoutesBuilder,
        context: StartContext<'_>,
    ) -> Result<Running, ConfigError> {
        let contacts = context
            .peers
            .get("contacts")
            .map(|channel| ServiceClient::delegated(channel.clone(), "contacts"));
        let db = context.db.clone();
        let (records, in_process) = add_to(routes, context.db, context.infra, contacts)?;
        tokio::spawn(records.relay.clone().run(context.shutdown.clone().wait()));
        let subscriber = Subscriber {
            name: SUBSCRIBER.to_owned(),
            db,
            reclaim_idle: RECLAIM_IDLE,
        };
        let interval = Duration::from_secs(config::number("CRM_JOBS_INTERVAL_SECS", 60)?);
        tokio::spawn(jobs::run(
            records.clone(),
            interval,
            context.shutdown.clone().wait(),
        ));
        let consumer = crm_platform::consumer::consumer_name("sales");
        tokio::spawn(subscriber.clone().consume(
            context.infra,
            (crm_records::directory::STREAM, &consumer),
            IdentityEvents {
                records: records.clone(),
            },
            context.shutdown.clone().wait(),
        ));
        tokio::spawn(subscriber.consume(
            context.infra,
            (CONTACTS_STREAM, &consumer),
            ContactsEvents { records },
            context.shutdown.wait(),
        ));
        Ok(Running { in_process })
    }
}
