//! Creating a tenant with its built-in roles and first admin, shared by the `CreateTenant`
//! RPC and the first start's bootstrap.

use crm_platform::clock;
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, IntoActiveModel, QueryFilter,
};

use crate::directory::{email_unavailable, scope_name, user_by_email};
use crate::entity::{role, tenant, user};
use crate::permissions::built_in_roles;
use crm_platform::auth::DataScope;
use crm_platform::error::Error;
use crm_platform::normalize::PhoneRegion;

/// What a new tenant starts with.
#[derive(Debug)]
pub struct NewTenant<'a> {
    /// Tenant name.
    pub display_name: &'a str,
    /// Region for phone numbers without a country code.
    pub phone_region: PhoneRegion,
    /// First admin's email (already validated).
    pub admin_email: &'a str,
    /// First admin's password hash.
    pub admin_password_hash: String,
    /// First admin's name.
    pub admin_display_name: &'a str,
    /// Whether the admin also administers the platform (may create tenants).
    pub platform_admin: bool,
    /// Who creates it: a platform admin's user id, or `system` at bootstrap.
    pub actor_id: &'a str,
}

/// Creates the tenant, its roles and its admin inside the caller's transaction.
pub async fn create<C: ConnectionTrait>(
    db: &C,
    new: NewTenant<'_>,
) -> Result<(tenant::Model, user::Model), Error> {
    if user_by_email(db, new.admin_email).await?.is_some() {
        return Err(email_unavailable("admin_email"));
    }
    let now = clock::now_micros();
    let tenant = tenant::Model {
        id: uuid::Uuid::now_v7().to_string(),
        display_name: new.display_name.trim().to_owned(),
        create_time: now,
        phone_region: new.phone_region.code().to_owned(),
        version: 1,
    };
    tenant::Entity::insert(tenant.clone().into_active_model())
        .exec(db)
        .await?;

    let mut roles: Vec<(String, Vec<&str>, DataScope)> = built_in_roles()
        .into_iter()
        .map(|r| (r.name.to_owned(), r.permissions, r.scope))
        .collect();
    if new.platform_admin {
        roles.push(("platform_admin".to_owned(), vec!["*"], DataScope::All));
    }
    let mut admin_roles = Vec::new();
    for (name, permissions, scope) in roles {
        let id = uuid::Uuid::now_v7().to_string();
        if name == "admin" || name == "platform_admin" {
            admin_roles.push(id.clone());
        }
        role::Entity::insert(role::ActiveModel {
            id: Set(id),
            tenant_id: Set(tenant.id.clone()),
            display_name: Set(name),
            permissions: Set(permissions.join(",")),
            data_scope: Set(scope_name(scope).to_owned()),
            version: Set(1),
            create_time: Set(now),
        })
        .exec(db)
        .await?;
    }

    let admin = user::Model {
        id: uuid::Uuid::now_v7().to_string(),
        tenant_id: tenant.id.clone(),
        email: new.admin_email.trim().to_lowercase(),
        display_name: new.admin_display_name.trim().to_owned(),
        password_hash: new.admin_password_hash,
        role_ids: admin_roles.join(","),
        team_ids: String::new(),
        disabled: false,
        version: 1,
        create_time: now,
        update_time: now,
    };
    user::Entity::insert(user::ActiveModel::from(admin.clone()))
        .exec(db)
        .await?;
    crate::announcements::member(db, new.actor_id, &admin).await?;
    Ok((tenant, admin))
}

/// Brings every tenant's built-in roles (admin, the sales and service roles) up to the
/// permissions this release gives them, so a new capability reaches tenants created by an
/// older one. Built-in roles cannot be edited, so nothing a tenant chose is overwritten.
/// Returns how many roles changed.
pub async fn sync_built_in_roles<C: ConnectionTrait>(db: &C) -> Result<u64, Error> {
    let mut changed = add_missing_built_in_roles(db).await?;
    for built_in in built_in_roles() {
        let permissions = built_in.permissions.join(",");
        let result = role::Entity::update_many()
            .col_expr(role::Column::Permissions, Expr::value(permissions.clone()))
            .filter(role::Column::DisplayName.eq(built_in.name))
            .filter(role::Column::Permissions.ne(permissions))
            .exec(db)
            .await?;
        changed += result.rows_affected;
    }
    Ok(changed)
}

/// Gives every tenant the built-in roles a later release added (the service desk's), so they
/// can be granted there as in a new tenant. Returns how many were added.
async fn add_missing_built_in_roles<C: ConnectionTrait>(db: &C) -> Result<u64, Error> {
    let tenants = tenant::Entity::find().all(db).await?;
    let roles = role::Entity::find().all(db).await?;
    let now = clock::now_micros();
    let mut added = 0;
    for tenant in &tenants {
        for built_in in built_in_roles() {
            let held = roles
                .iter()
                .any(|r| r.tenant_id == tenant.id && r.display_name == built_in.name);
            if held {
                continue;
            }
            role::Entity::insert(role::ActiveModel {
                id: Set(uuid::Uuid::now_v7().to_string()),
                tenant_id: Set(tenant.id.clone()),
                display_name: Set(built_in.name.to_owned()),
                permissions: Set(built_in.permissions.join(",")),
                data_scope: Set(scope_name(built_in.scope).to_owned()),
                version: Set(1),
                create_time: Set(now),
            })
            .exec(db)
            .await?;
            added += 1;
        }
    }
    Ok(added)
}

#[cfg(test)]
mod tests {
    use super::*;
    use sea_orm::Database;

    #[tokio::test]
    async fn built_in_roles_gain_new_permissions() {
        let db = Database::connect("sqlite::memory:").await.unwrap();
        crm_platform::db::migrate::<crate::migration::Migrator>(&db)
            .await
            .unwrap();
        let (tenant, _) = create(
            &db,
            NewTenant {
                display_name: "Old",
                phone_region: PhoneRegion::CHINA,
                admin_email: "admin@old.example",
                admin_password_hash: crate::credentials::hash_password("a long enough password")
                    .unwrap(),
                admin_display_name: "Admin",
                platform_admin: false,
                actor_id: "system",
            },
        )
        .await
        .unwrap();
        // As an older release left it.
        role::Entity::update_many()
            .col_expr(
                role::Column::Permissions,
                Expr::value("contacts.contacts.read"),
            )
            .filter(role::Column::TenantId.eq(tenant.id.as_str()))
            .exec(&db)
            .await
            .unwrap();
        // ... and before the service desk's roles existed.
        role::Entity::delete_many()
            .filter(role::Column::DisplayName.is_in(["service_agent", "service_manager"]))
            .exec(&db)
            .await
            .unwrap();
        // Three built-in roles brought up to date, two added.
        assert_eq!(sync_built_in_roles(&db).await.unwrap(), 5);
        let names: Vec<String> = role::Entity::find()
            .filter(role::Column::TenantId.eq(tenant.id.as_str()))
            .all(&db)
            .await
            .unwrap()
            .into_iter()
            .map(|r| r.display_name)
            .collect();
        for built_in in built_in_roles() {
            assert!(names.iter().any(|n| n == built_in.name), "{names:?}");
        }
        assert_eq!(
            sync_built_in_roles(&db).await.unwrap(),
            0,
            "already current"
        );
        let admin = role::Entity::find()
            .filter(role::Column::DisplayName.eq("admin"))
            .one(&db)
            .await
            .unwrap()
            .unwrap();
        assert!(admin.permissions.contains("contacts.custom_fields.write"));
    }
}
