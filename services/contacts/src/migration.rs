//! The contacts database schema, applied in order by [`Migrator`].

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

mod account_external_id;
mod birthdays;
mod custom_fields;
mod customer_record;
mod duplicate_owner;
mod engagement;
mod narrow_masks;
mod privacy;
mod search;

/// Applies the platform tables, then the contacts tables.
#[derive(Debug)]
pub struct Migrator;

impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        let mut migrations = crm_platform::migration::migrations();
        migrations.push(Box::new(CreateAccountsAndContacts));
        migrations.push(Box::new(customer_record::AddCustomerRecord));
        migrations.push(Box::new(engagement::AddEngagement));
        migrations.push(Box::new(birthdays::AddBirthdayAnnouncements));
        migrations.push(Box::new(custom_fields::AddCustomFields));
        migrations.push(Box::new(search::AddSearch));
        migrations.push(Box::new(privacy::AddPrivacy));
        migrations.push(Box::new(narrow_masks::NarrowIdMasks));
        migrations.push(Box::new(duplicate_owner::AddDuplicateOwnerRule));
        migrations.push(Box::new(account_external_id::AddAccountExternalId));
        migrations
    }
}

struct CreateAccountsAndContacts;

impl MigrationName for CreateAccountsAndContacts {
    fn name(&self) -> &str {
        "m20261123_000002_create_accounts_and_contacts"
    }
}

/// Indexes serve the hot paths: scoped keyset pages (tenant, owner, sort key, id) and
/// lookups by email.
const INDEXES: &[crm_records::schema::IndexSpec] = &[
    (
        "accounts_by_tenant_created",
        "accounts",
        &["tenant_id", "create_time", "id"],
    ),
    (
        "accounts_by_owner_created",
        "accounts",
        &["tenant_id", "owner_id", "create_time", "id"],
    ),
    (
        "accounts_by_tenant_name",
        "accounts",
        &["tenant_id", "display_name", "id"],
    ),
    (
        "contacts_by_tenant_created",
        "contacts",
        &["tenant_id", "create_time", "id"],
    ),
    (
        "contacts_by_owner_created",
        "contacts",
        &["tenant_id", "owner_id", "create_time", "id"],
    ),
    (
        "contacts_by_tenant_name",
        "contacts",
        &["tenant_id", "display_name", "id"],
    ),
    (
        "contacts_by_tenant_email",
        "contacts",
        &["tenant_id", "email"],
    ),
    (
        "contacts_by_account",
        "contacts",
        &["tenant_id", "account_id"],
    ),
];

// The trait declares `&SchemaManager` without its lifetime; matching it exactly is required.
#[allow(elided_lifetimes_in_paths)]
#[async_trait::async_trait]
impl MigrationTrait for CreateAccountsAndContacts {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let mut accounts = Table::create();
        accounts
            .table("accounts")
            .if_not_exists()
            .col(string("id").primary_key());
        for column in [
            "tenant_id",
            "owner_id",
            "display_name",
            "industry",
            "website",
            "phone",
            "email",
            "region_code",
            "administrative_area",
            "locality",
            "sublocality",
            "postal_code",
        ] {
            accounts.col(string(column));
        }
        accounts
            .col(text("address_lines"))
            .col(big_integer("version"))
            .col(big_integer("create_time"))
            .col(big_integer("update_time"))
            .col(big_integer_null("delete_time"));
        manager.create_table(accounts).await?;

        let mut contacts = Table::create();
        contacts
            .table("contacts")
            .if_not_exists()
            .col(string("id").primary_key());
        for column in [
            "tenant_id",
            "owner_id",
            "given_name",
            "family_name",
            "display_name",
            "email",
            "phone",
            "title",
            "account_id",
        ] {
            contacts.col(string(column));
        }
        contacts
            .col(big_integer("version"))
            .col(big_integer("create_time"))
            .col(big_integer("update_time"))
            .col(big_integer_null("delete_time"));
        manager.create_table(contacts).await?;

        crm_records::schema::create_indexes(manager, INDEXES).await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table("contacts").to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table("accounts").to_owned())
            .await
    }
}

#[cfg(test)]
mod tests {
    use sea_orm::{ConnectionTrait, Database, Statement};
    use sea_orm_migration::prelude::*;

    /// A service that starts today builds the machinery's tables with `RecordTables`.
    struct NewService;

    #[async_trait::async_trait]
    impl MigratorTrait for NewService {
        fn migrations() -> Vec<Box<dyn MigrationTrait>> {
            vec![Box::new(crm_records::schema::RecordTables)]
        }
    }

    async fn schema(db: &sea_orm::DatabaseConnection) -> Vec<String> {
        let rows = db
            .query_all_raw(Statement::from_string(
                db.get_database_backend(),
                "SELECT sql FROM sqlite_master WHERE tbl_name IN \
                 ('record_index', 'search_grams', 'custom_fields') AND sql IS NOT NULL \
                 ORDER BY name",
            ))
            .await
            .unwrap();
        rows.iter()
            .map(|r| r.try_get_by_index::<String>(0).unwrap())
            .collect()
    }

    #[tokio::test]
    async fn contacts_has_the_record_tables_a_new_service_gets() {
        let contacts = Database::connect("sqlite::memory:").await.unwrap();
        crm_platform::db::migrate::<super::Migrator>(&contacts)
            .await
            .unwrap();
        let fresh = Database::connect("sqlite::memory:").await.unwrap();
        crm_platform::db::migrate::<NewService>(&fresh)
            .await
            .unwrap();
        let expected = schema(&contacts).await;
        assert_eq!(expected.len(), 6, "{expected:?}");
        assert_eq!(schema(&fresh).await, expected);
    }
}
