//! The service desk's database schema, applied in order by [`Migrator`].

use sea_orm_migration::prelude::*;

mod entitlements;
mod key_accounts;
mod knowledge;
mod queues;
mod surveys;
mod tickets;

/// Applies the platform tables, the record machinery's and the document numbers, then the
/// tickets, entitlements, queues, the knowledge base and the surveys.
#[derive(Debug)]
pub struct Migrator;

impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        let mut migrations = crm_platform::migration::migrations();
        migrations.push(Box::new(crm_records::schema::RecordTables));
        migrations.push(Box::new(crm_records::numbers::NumberTables));
        migrations.push(Box::new(crm_records::settings::SettingsTables));
        migrations.push(Box::new(tickets::CreateTickets));
        migrations.push(Box::new(entitlements::CreateEntitlements));
        migrations.push(Box::new(queues::CreateQueues));
        migrations.push(Box::new(knowledge::CreateKnowledge));
        migrations.push(Box::new(surveys::CreateSurveys));
        migrations.push(Box::new(key_accounts::AddKeyAccounts));
        migrations
    }
}
