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
        migrations.push(Box::new(AddSessionFamilies));
        migrations.push(Box::new(AddTeamAndRoleVersions));
        migrations.push(Box::new(AddTenantSettings));
        migrations.push(Box::new(crate::announcements::AnnounceDirectory));
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

/// Gives refresh tokens a family (their sign-in) and an absolute session end. Tokens issued
/// before it have neither; a refresh treats such a token as the first of its family and
/// starts the session clock then.
struct AddSessionFamilies;

impl MigrationName for AddSessionFamilies {
    fn name(&self) -> &str {
        "m20261201_000001_add_session_families"
    }
}

#[allow(elided_lifetimes_in_paths)]
#[async_trait::async_trait]
impl MigrationTrait for AddSessionFamilies {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // One column a statement: SQLite alters one column at a time.
        for column in [
            string("family_id").default("").to_owned(),
            big_integer("session_expires_at").default(0).to_owned(),
        ] {
            manager
                .alter_table(
                    Table::alter()
                        .table("refresh_tokens")
                        .add_column(column)
                        .to_owned(),
                )
                .await?;
        }
        manager
            .create_index(
                Index::create()
                    .name("refresh_tokens_by_family")
                    .table("refresh_tokens")
                    .col("family_id")
                    .if_not_exists()
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_index(Index::drop().name("refresh_tokens_by_family").to_owned())
            .await?;
        for column in ["family_id", "session_expires_at"] {
            manager
                .alter_table(
                    Table::alter()
                        .table("refresh_tokens")
                        .drop_column(column)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }
}

/// Gives teams and roles a version, so their updates are conditional on an etag.
struct AddTeamAndRoleVersions;

impl MigrationName for AddTeamAndRoleVersions {
    fn name(&self) -> &str {
        "m20261201_000002_add_team_and_role_versions"
    }
}

#[allow(elided_lifetimes_in_paths)]
#[async_trait::async_trait]
impl MigrationTrait for AddTeamAndRoleVersions {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in ["teams", "roles"] {
            manager
                .alter_table(
                    Table::alter()
                        .table(table)
                        .add_column(big_integer("version").default(1))
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in ["teams", "roles"] {
            manager
                .alter_table(
                    Table::alter()
                        .table(table)
                        .drop_column("version")
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }
}

struct AddTenantSettings;

impl MigrationName for AddTenantSettings {
    fn name(&self) -> &str {
        "m20261202_000001_add_tenant_settings"
    }
}

#[allow(elided_lifetimes_in_paths)]
#[async_trait::async_trait]
impl MigrationTrait for AddTenantSettings {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // Existing tenants read numbers as mainland China did before the setting existed.
        for column in [
            string("phone_region").default("CN").to_owned(),
            big_integer("version").default(1).to_owned(),
        ] {
            manager
                .alter_table(
                    Table::alter()
                        .table("tenants")
                        .add_column(column)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for column in ["phone_region", "version"] {
            manager
                .alter_table(
                    Table::alter()
                        .table("tenants")
                        .drop_column(column)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }
}
