//! Birthday events: the last year each contact's birthday was announced, so every replica's
//! daily job sends it once.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

/// Adds `contacts.birthday_announced`.
pub(super) struct AddBirthdayAnnouncements;

impl MigrationName for AddBirthdayAnnouncements {
    fn name(&self) -> &str {
        "m20261123_000005_add_birthday_announcements"
    }
}

// The trait declares `&SchemaManager` without its lifetime; matching it exactly is required.
#[allow(elided_lifetimes_in_paths)]
#[async_trait::async_trait]
impl MigrationTrait for AddBirthdayAnnouncements {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table("contacts")
                    .add_column(integer("birthday_announced").default(0))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table("contacts")
                    .drop_column("birthday_announced")
                    .to_owned(),
            )
            .await
    }
}
