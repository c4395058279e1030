//! The contacts service's registration with the suite (see `crm_platform::service`).

use sea_orm::DatabaseConnection;
use tonic::service::RoutesBuilder;

use crate::{SERVICE_NAME, add_to, jobs, migration};
use crm_platform::config::{self, ConfigError, env, number};
use crm_platform::error::Error;
use crm_platform::service::{BoxFuture, Running, ServiceModule, StartContext};

/// The contacts service.
#[derive(Debug, Clone, Copy)]
pub struct Contacts;

/// Its registration.
pub static MODULE: Contacts = Contacts;

impl ServiceModule for Contacts {
    fn name(&self) -> &'static str {
        "contacts"
    }

    fn grpc_services(&self) -> &'static [&'static str] {
        &[SERVICE_NAME]
    }

    fn default_listen_addr(&self) -> &'static str {
        "0.0.0.0:50052"
    }

    fn migrate<'a>(&'a self, db: &'a DatabaseConnection) -> BoxFuture<'a, Result<(), Error>> {
        Box::pin(crm_platform::db::migrate::<migration::Migrator>(db))
    }

    fn start(
        &self,
        routes: &mut RoutesBuilder,
        context: StartContext<'_>,
    ) -> Result<Running, ConfigError> {
        let schedule = schedule_from_env()?;
        let (handlers, in_process) = add_to(routes, context.db, context.infra)?;
        tokio::spawn(handlers.relay.clone().run(context.shutdown.clone().wait()));
        tokio::spawn(jobs::run(handlers, schedule, context.shutdown.wait()));
        Ok(Running { in_process })
    }
}

/// How often background jobs sweep (due follow-ups, pool returns, birthdays, erasure of
/// long-deleted contacts), the local day they count in, and the retention of deleted contacts.
fn schedule_from_env() -> Result<jobs::Schedule, ConfigError> {
    const NAME: &str = "CRM_LOCAL_UTC_OFFSET_MINUTES";
    let utc_offset_minutes = match env(NAME) {
        None => 0,
        Some(text) => text
            .parse::<i32>()
            .ok()
            .filter(|m| (-14 * 60..=14 * 60).contains(m))
            .ok_or_else(|| {
                ConfigError(format!(
                    "{NAME} must be minutes from -840 to 840, got {text:?}"
                ))
            })?,
    };
    // Zero erases deleted contacts at the next sweep.
    let erase_days = config::count("CRM_ERASE_DELETED_AFTER_DAYS", 30)?;
    Ok(jobs::Schedule {
        interval: std::time::Duration::from_secs(number("CRM_JOBS_INTERVAL_SECS", 60)?),
        utc_offset_minutes,
        erase_deleted_after: std::time::Duration::from_secs(erase_days * 86_400),
    })
}
