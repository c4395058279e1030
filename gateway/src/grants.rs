//! Who may hand out what. Every path that grants access goes through here: assigning roles to
//! a user, creating a role, minting an API key, and changing a user at all. One rule holds on
//! each: a caller grants only permissions it holds itself, with a data scope no wider than its
//! own, and acts only on users who hold no more than it does. The platform-level permissions
//! (`*` and tenant creation) reach beyond one tenant, so only a holder of `*` grants them.

use std::collections::HashSet;

use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter};

use crate::directory::{self, parse_scope};
use crate::entity::{role, split, user};
use crate::permissions;
use crm_platform::auth::{DataScope, Principal};
use crm_platform::error::Error;

/// Permissions only a holder of the wildcard may grant.
const PLATFORM_ONLY: &[&str] = &["*", "identity.tenants.create"];

/// Tells whether `p` may grant `permission`.
fn may_grant(p: &Principal, permission: &str) -> bool {
    if PLATFORM_ONLY.contains(&permission) {
        p.permissions.iter().any(|held| held == "*")
    } else {
        p.has(permission)
    }
}

fn denied(field: &str, message: String) -> Error {
    Error::GrantDenied {
        field: field.to_owned(),
        message,
    }
}

/// Checks that every permission exists and that the caller may grant it.
pub fn check_permissions(p: &Principal, field: &str, granted: &[String]) -> Result<(), Error> {
    if let Some(unknown) = granted.iter().find(|g| !permissions::is_known(g)) {
        return Err(Error::invalid(
            field,
            format!("unknown permission `{unknown}`"),
        ));
    }
    match granted.iter().find(|g| !may_grant(p, g)) {
        Some(permission) => Err(denied(
            field,
            format!("cannot grant `{permission}`: the caller does not hold it"),
        )),
        None => Ok(()),
    }
}

/// Checks that a data scope is no wider than the caller's own.
pub fn check_scope(p: &Principal, field: &str, scope: DataScope) -> Result<(), Error> {
    if scope.is_wider_than(p.scope) {
        return Err(denied(
            field,
            "cannot grant a data scope wider than the caller's own".to_owned(),
        ));
    }
    Ok(())
}

/// Checks that every role exists in the caller's tenant and that the caller may grant all
/// it holds.
pub async fn check_roles<C: ConnectionTrait>(
    db: &C,
    p: &Principal,
    field: &str,
    role_ids: &[String],
) -> Result<(), Error> {
    if role_ids.is_empty() {
        return Ok(());
    }
    let roles = role::Entity::find()
        .filter(role::Column::TenantId.eq(p.tenant_id.as_str()))
        .filter(role::Column::Id.is_in(role_ids.to_vec()))
        .all(db)
        .await?;
    let distinct: HashSet<&String> = role_ids.iter().collect();
    if roles.len() != distinct.len() {
        return Err(Error::invalid(
            field,
            "names an id that does not exist in this tenant",
        ));
    }
    for role in &roles {
        check_role(p, field, "assign", role)?;
    }
    Ok(())
}

/// Checks that the caller holds everything `role` grants, before it may `act` on it (assign
/// it, or change it: a role above the caller is as out of reach as a user above it).
pub fn check_role(p: &Principal, field: &str, act: &str, role: &role::Model) -> Result<(), Error> {
    let permissions = split(&role.permissions);
    if let Some(permission) = permissions.iter().find(|g| !may_grant(p, g)) {
        return Err(denied(
            field,
            format!(
                "cannot {act} role `{}`: it holds `{permission}`, which the caller does not",
                role.display_name
            ),
        ));
    }
    if parse_scope(&role.data_scope).is_wider_than(p.scope) {
        return Err(denied(
            field,
            format!(
                "cannot {act} role `{}`: its data scope is wider than the caller's",
                role.display_name
            ),
        ));
    }
    Ok(())
}

/// Checks that the caller holds everything `target` holds, so that nobody changes, disables
/// or acts as a user above them. Reported on `field`.
pub async fn check_may_manage<C: ConnectionTrait>(
    db: &C,
    p: &Principal,
    field: &str,
    target: &user::Model,
) -> Result<(), Error> {
    if target.id == p.user_id && target.tenant_id == p.tenant_id {
        return Ok(());
    }
    let (held, scope) = directory::authority(db, target).await?;
    let covered = held.iter().all(|g| may_grant(p, g)) && !scope.is_wider_than(p.scope);
    if covered {
        Ok(())
    } else {
        Err(denied(
            field,
            "cannot act on a user who holds more than the caller".to_owned(),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn caller(permissions: &[&str], scope: DataScope) -> Principal {
        Principal {
            tenant_id: "t".into(),
            user_id: "u".into(),
            client: "user".into(),
            permissions: permissions.iter().map(|p| p.to_string()).collect(),
            scope,
            team_member_ids: vec![],
            phone_region: String::new(),
            expires_at: 0,
            delegations: Vec::new(),
        }
    }

    #[test]
    fn only_the_wildcard_grants_platform_permissions() {
        let admin = caller(permissions::TENANT_ADMIN, DataScope::All);
        let star = vec!["*".to_owned()];
        let tenants = vec!["identity.tenants.create".to_owned()];
        assert!(check_permissions(&admin, "f", &star).is_err());
        assert!(check_permissions(&admin, "f", &tenants).is_err());
        let platform = caller(&["*"], DataScope::All);
        assert!(check_permissions(&platform, "f", &star).is_ok());
        assert!(check_permissions(&platform, "f", &tenants).is_ok());
    }

    #[test]
    fn scopes_grant_downwards_only() {
        let team = caller(&[], DataScope::Team);
        assert!(check_scope(&team, "f", DataScope::Own).is_ok());
        assert!(check_scope(&team, "f", DataScope::Team).is_ok());
        assert!(check_scope(&team, "f", DataScope::All).is_err());
    }

    #[test]
    fn unknown_permissions_are_invalid_not_denied() {
        let admin = caller(&["*"], DataScope::All);
        let err = check_permissions(&admin, "f", &["nope".to_owned()]).unwrap_err();
        assert!(matches!(err, Error::InvalidArgument(_)));
    }
}
