//! The service desk's registration with the suite (see `crm_platform::service`).

use sea_orm::DatabaseConnection;
use tonic::service::RoutesBuilder;

use std::time::Duration;

use crate::consumers::{ContactsEvents, SUBSCRIBER};
use crate::{SERVICE_NAME, add_to, jobs, migration};
use crm_platform::client::ServiceClient;
use crm_platform::config;
use crm_platform::config::ConfigError;
use crm_platform::consumer::{RECLAIM_IDLE, Subscriber};
use crm_platform::error::Error;
use crm_platform::service::{BoxFuture, Running, ServiceModule, StartContext};
use crm_records::contacts_events;

/// The service desk.
#[derive(Debug, Clone, Copy)]
pub struct Servicedesk;

/// Its registration.
pub static MODULE: Servicedesk = Servicedesk;

impl ServiceModule for Servicedesk {
    fn name(&self) -> &'static str {
        "servicedesk"
    }

    fn grpc_services(&self) -> &'static [&'static str] {
        &[SERVICE_NAME]
    }

    fn default_listen_addr(&self) -> &'static str {
        "0.0.0.0:50054"
    }

    /// Tickets name contacts and accounts the caller must be able to see in contacts, and
    /// follow contacts' merges and erasures.
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
        let interval = Duration::from_secs(config::number("CRM_JOBS_INTERVAL_SECS", 60)?);
        tokio::spawn(jobs::run(
            records.clone(),
            interval,
            context.shutdown.clone().wait(),
        ));
        let subscriber = Subscriber {
            name: SUBSCRIBER.to_owned(),
            db,
            reclaim_idle: RECLAIM_IDLE,
        };
        tokio::spawn(subscriber.consume(
            context.infra,
            (
                contacts_events::STREAM,
                &crm_platform::consumer::consumer_name("servicedesk"),
            ),
            ContactsEvents { records },
            context.shutdown.wait(),
        ));
        Ok(Running { in_process })
    }
}
