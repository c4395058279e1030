//! The identity store's schema, applied in order by [`Migrator`].

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

/// Applies the platform tables, then the identity tables.
#[derive(Debug)]
pub struct Migrator;

impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        let mut migrations = crm_platform::migration::migrations();
        migrations.push(Box::new(CreateIdentityTables));
        migrations
    }
}

struct CreateIdentityTables;

impl MigrationName for CreateIdentityTables {
    fn name(&self) -> &str {
        "m20261123_000002_create_identity_tables"
    }
}

/// Builds a table whose first column is a string primary key.
fn table(name: &'static str, key: &'static str) -> TableCreateStatement {
    Table::create()
        .table(name)
        .if_not_exists()
        .col(string(key).primary_key())
        .to_owned()
}

// The trait declares `&SchemaManager` without its lifetime; matching it exactly is required.
#[allow(elided_lifetimes_in_paths)]
#[async_trait::async_trait]
impl MigrationTrait for CreateIdentityTables {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                table("tenants", "id")
                    .col(string("display_name"))
                    .col(big_integer("create_time"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                table("users", "id")
                    .col(string("tenant_id"))
                    .col(string_uniq("email"))
                    .col(string("display_name"))
                    .col(string("password_hash"))
                    .col(text("role_ids"))
                    .col(text("team_ids"))
                    .col(boolean("disabled"))
                    .col(big_integer("version"))
                    .col(big_integer("create_time"))
                    .col(big_integer("update_time"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                table("teams", "id")
                    .col(string("tenant_id"))
                    .col(string("display_name"))
                    .col(string("parent_team_id"))
                    .col(string("manager_user_id"))
                    .col(big_integer("create_time"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                table("roles", "id")
                    .col(string("tenant_id"))
                    .col(string("display_name"))
                    .col(text("permissions"))
                    .col(string("data_scope"))
                    .col(big_integer("create_time"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                table("api_keys", "id")
                    .col(string("tenant_id"))
                    .col(string("user_id"))
                    .col(string("display_name"))
                    .col(string("secret_hash"))
                    .col(text("permissions"))
                    .col(boolean("revoked"))
                    .col(big_integer("create_time"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                table("refresh_tokens", "token_hash")
                    .col(string("tenant_id"))
                    .col(string("user_id"))
                    .col(big_integer("expires_at"))
                    .col(boolean("revoked"))
                    .to_owned(),
            )
            .await?;
        for (name, table_name, columns) in [
            ("users_by_tenant", "users", ["tenant_id", "id"]),
            ("teams_by_tenant", "teams", ["tenant_id", "id"]),
            (
                "roles_by_tenant_name",
                "roles",
                ["tenant_id", "display_name"],
            ),
            ("api_keys_by_tenant", "api_keys", ["tenant_id", "id"]),
        ] {
            let mut index = Index::create();
            index.name(name).table(table_name).if_not_exists();
            for column in columns {
                index.col(column);
            }
            if name == "roles_by_tenant_name" {
                index.unique();
            }
            manager.create_index(index).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for name in [
            "refresh_tokens",
            "api_keys",
            "roles",
            "teams",
            "users",
            "tenants",
        ] {
            manager
                .drop_table(Table::drop().table(name).to_owned())
                .await?;
        }
        Ok(())
    }
}
