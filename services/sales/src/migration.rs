//! The sales database schema, applied in order by [`Migrator`].

use sea_orm_migration::prelude::*;

mod catalog;
mod contracts;
mod deals;
mod leads;
mod orders;
mod pipeline;
mod quotes;
mod targets;

/// Applies the platform tables, the record machinery's, then the catalogue, the pipelines,
/// the leads and the targets, and what each gained later (the directory of teams with the
/// team targets), then quotes with their approvals, orders, contracts and
/// payment plans.
#[derive(Debug)]
pub struct Migrator;

impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        let mut migrations = crm_platform::migration::migrations();
        migrations.push(Box::new(crm_records::schema::RecordTables));
        migrations.push(Box::new(catalog::CreateCatalog));
        migrations.push(Box::new(pipeline::CreatePipelines));
        migrations.push(Box::new(leads::CreateLeads));
        migrations.push(Box::new(targets::CreateTargets));
        migrations.push(Box::new(deals::AddDealPeople));
        migrations.push(Box::new(deals::AddNextStepDue));
        migrations.push(Box::new(deals::CreateTasks));
        migrations.push(Box::new(crm_records::directory::DirectoryTables));
        migrations.push(Box::new(targets::AddTeamTargets));
        migrations.push(Box::new(crm_records::numbers::NumberTables));
        migrations.push(Box::new(quotes::CreateQuotes));
        migrations.push(Box::new(orders::CreateOrders));
        migrations.push(Box::new(contracts::CreateContracts));
        migrations
    }
}
