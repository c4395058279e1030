//! Customer search: the grams of every live record's names, phones and emails.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

/// Adds `search_grams`.
pub(super) struct AddSearch;

impl MigrationName for AddSearch {
    fn name(&self) -> &str {
        "m20261123_000007_add_search"
    }
}

// The trait declares `&SchemaManager` without its lifetime; matching it exactly is required.
#[allow(elided_lifetimes_in_paths)]
#[async_trait::async_trait]
impl MigrationTrait for AddSearch {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // The key's order is the lookup's: tenant, gram, then owner for scoped searches.
        manager
            .create_table(
                Table::create()
                    .table("search_grams")
                    .if_not_exists()
                    .col(string("tenant_id"))
                    .col(string("gram"))
                    .col(string("owner_id"))
                    .col(string("record_kind"))
                    .col(string("record_id"))
                    .primary_key(
                        Index::create()
                            .col("tenant_id")
                            .col("gram")
                            .col("owner_id")
                            .col("record_kind")
                            .col("record_id"),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("search_grams_by_record")
                    .table("search_grams")
                    .col("record_kind")
                    .col("record_id")
                    .if_not_exists()
                    .to_owned(),
            )
            .await?;
        // Records written before search existed are indexed now.
        let db = manager.get_connection();
        crate::search::backfill::<crate::account::Accounts, _>(db).await?;
        crate::search::backfill::<crate::contact::Contacts, _>(db).await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table("search_grams").to_owned())
            .await
    }
}
