//! The identity store's queries, and the resolution of a user into the principal services
//! see: permissions from roles, the widest data scope, and the team members a manager reaches.

use std::collections::{HashMap, HashSet};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use sea_orm::{
    ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder,
    QuerySelect, Select,
};

use crate::entity::{role, split, team, tenant, user};
use crm_platform::auth::{DataScope, Principal};
use crm_platform::error::Error;
use crm_platform::paging::{Cursor, id_cursor, split_page};

/// How long a resolved principal is reused. Changes made through this gateway apply at
/// once (the cache is invalidated); other replicas pick them up within this bound.
const PRINCIPAL_TTL: Duration = Duration::from_secs(5);

/// Parses a stored data scope.
pub fn parse_scope(scope: &str) -> DataScope {
    match scope {
        "all" => DataScope::All,
        "team" => DataScope::Team,
        _ => DataScope::Own,
    }
}

/// Formats a data scope for storage.
pub fn scope_name(scope: DataScope) -> &'static str {
    match scope {
        DataScope::All => "all",
        DataScope::Team => "team",
        DataScope::Own => "own",
    }
}

fn widest(a: DataScope, b: DataScope) -> DataScope {
    if b.is_wider_than(a) { b } else { a }
}

/// Returns one page of a tenant's rows in id order (ids are time-ordered UUIDv7).
pub async fn page<E, C>(
    db: &C,
    query: Select<E>,
    id_column: E::Column,
    cursor: Option<Cursor>,
    limit: u64,
    id_of: fn(&E::Model) -> String,
) -> Result<(Vec<E::Model>, Option<Cursor>), Error>
where
    E: EntityTrait,
    C: ConnectionTrait,
{
    let mut query = query;
    if let Some(cursor) = cursor {
        query = query.filter(id_column.gt(cursor.id));
    }
    let rows = query
        .order_by_asc(id_column)
        .limit(limit + 1)
        .all(db)
        .await?;
    Ok(split_page(rows, limit, |row| id_cursor(&id_of(row))))
}

/// Tells whether the store has no tenant yet.
pub async fn is_empty<C: ConnectionTrait>(db: &C) -> Result<bool, Error> {
    Ok(crate::entity::tenant::Entity::find().count(db).await? == 0)
}

/// Finds a user by sign-in email.
pub async fn user_by_email<C: ConnectionTrait>(
    db: &C,
    email: &str,
) -> Result<Option<user::Model>, Error> {
    Ok(user::Entity::find()
        .filter(user::Column::Email.eq(email.trim().to_lowercase()))
        .one(db)
        .await?)
}

/// The refusal of an email already signed in with. Sign-in emails are unique across the
/// suite, so the answer is the same whichever tenant holds it, and says no more than that
/// this email cannot be used.
pub fn email_unavailable(field: &str) -> Error {
    Error::AlreadyExists {
        reason: "EMAIL_UNAVAILABLE",
        message: "this email cannot be used; choose another".to_owned(),
        metadata: [("field".to_owned(), field.to_owned())].into(),
    }
}

/// Finds a user of a tenant.
pub async fn user_in_tenant<C: ConnectionTrait>(
    db: &C,
    tenant_id: &str,
    user_id: &str,
) -> Result<user::Model, Error> {
    user::Entity::find_by_id(user_id)
        .filter(user::Column::TenantId.eq(tenant_id))
        .one(db)
        .await?
        .ok_or_else(|| Error::not_found("user", user_id))
}

/// Checks that every id names a row of the tenant; reports the first unknown one on `field`.
pub async fn check_ids_exist<E, C>(
    db: &C,
    ids: &[String],
    tenant_column: E::Column,
    tenant_id: &str,
    id_column: E::Column,
    field: &str,
) -> Result<(), Error>
where
    E: EntityTrait,
    E::Model: Sync,
    C: ConnectionTrait,
{
    if ids.is_empty() {
        return Ok(());
    }
    let found = E::find()
        .filter(tenant_column.eq(tenant_id))
        .filter(id_column.is_in(ids.to_vec()))
        .count(db)
        .await?;
    let distinct: HashSet<&String> = ids.iter().collect();
    if found as usize == distinct.len() {
        Ok(())
    } else {
        Err(Error::invalid(
            field,
            "names an id that does not exist in this tenant",
        ))
    }
}

/// What a user's roles give: their permissions, without repeats, and the widest data scope.
pub async fn authority<C: ConnectionTrait>(
    db: &C,
    user: &user::Model,
) -> Result<(Vec<String>, DataScope), Error> {
    let role_ids = split(&user.role_ids);
    let roles = role::Entity::find()
        .filter(role::Column::TenantId.eq(user.tenant_id.as_str()))
        .filter(role::Column::Id.is_in(role_ids))
        .all(db)
        .await?;
    let mut permissions: Vec<String> = Vec::new();
    let mut scope = DataScope::Own;
    for role in &roles {
        scope = widest(scope, parse_scope(&role.data_scope));
        for permission in split(&role.permissions) {
            if !permissions.contains(&permission) {
                permissions.push(permission);
            }
        }
    }
    Ok((permissions, scope))
}

/// Builds the principal of `user` acting through `client`; an API key narrows the
/// permissions to those it carries.
pub async fn resolve<C: ConnectionTrait>(
    db: &C,
    user: &user::Model,
    client: &str,
    key_permissions: Option<Vec<String>>,
) -> Result<Principal, Error> {
    let (mut permissions, scope) = authority(db, user).await?;
    if let Some(key_permissions) = key_permissions {
        let wildcard = permissions.iter().any(|p| p == "*");
        permissions = key_permissions
            .into_iter()
            .filter(|p| wildcard || permissions.contains(p))
            .collect();
    }
    let team_member_ids = if scope == DataScope::Team {
        team_members(db, user).await?
    } else {
        Vec::new()
    };
    let phone_region = tenant::Entity::find_by_id(user.tenant_id.as_str())
        .one(db)
        .await?
        .map(|t| t.phone_region)
        .unwrap_or_default();
    Ok(Principal {
        phone_region,
        tenant_id: user.tenant_id.clone(),
        user_id: user.id.clone(),
        client: client.to_owned(),
        permissions,
        scope,
        team_member_ids,
        expires_at: 0,
        delegations: Vec::new(),
    })
}

/// Users in the teams `user` belongs to or manages, and in all their sub-teams, with the
/// managers of those teams: a sub-team's manager belongs to the organisation above them.
async fn team_members<C: ConnectionTrait>(
    db: &C,
    user: &user::Model,
) -> Result<Vec<String>, Error> {
    let teams = team::Entity::find()
        .filter(team::Column::TenantId.eq(user.tenant_id.as_str()))
        .all(db)
        .await?;
    let mut children: HashMap<&str, Vec<&str>> = HashMap::new();
    for team in &teams {
        children
            .entry(team.parent_team_id.as_str())
            .or_default()
            .push(team.id.as_str());
    }
    let own_teams = split(&user.team_ids);
    let mut reached: HashSet<&str> = HashSet::new();
    let mut stack: Vec<&str> = teams
        .iter()
        .filter(|t| t.manager_user_id == user.id || own_teams.contains(&t.id))
        .map(|t| t.id.as_str())
        .collect();
    while let Some(team) = stack.pop() {
        if reached.insert(team) {
            stack.extend(children.get(team).into_iter().flatten().copied());
        }
    }
    let managers: HashSet<&str> = teams
        .iter()
        .filter(|t| reached.contains(t.id.as_str()) && !t.manager_user_id.is_empty())
        .map(|t| t.manager_user_id.as_str())
        .collect();
    let users = user::Entity::find()
        .filter(user::Column::TenantId.eq(user.tenant_id.as_str()))
        .all(db)
        .await?;
    Ok(users
        .into_iter()
        .filter(|u| {
            u.id == user.id
                || managers.contains(u.id.as_str())
                || split(&u.team_ids)
                    .iter()
                    .any(|t| reached.contains(t.as_str()))
        })
        .map(|u| u.id)
        .collect())
}

/// Resolved principals, reused for a few seconds so each call does not query the store.
#[derive(Debug, Default)]
pub struct PrincipalCache {
    entries: Mutex<HashMap<(String, String), (Principal, Instant)>>,
}

impl PrincipalCache {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<(String, String), (Principal, Instant)>> {
        // A panic while holding the lock cannot leave the map half-updated.
        self.entries.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Returns a fresh cached principal.
    pub fn get(&self, user_id: &str, client: &str) -> Option<Principal> {
        let entries = self.lock();
        entries
            .get(&(user_id.to_owned(), client.to_owned()))
            .filter(|(_, at)| at.elapsed() < PRINCIPAL_TTL)
            .map(|(p, _)| p.clone())
    }

    /// Remembers a principal.
    pub fn put(&self, principal: &Principal) {
        let mut entries = self.lock();
        if entries.len() > 50_000 {
            entries.clear();
        }
        entries.insert(
            (principal.user_id.clone(), principal.client.clone()),
            (principal.clone(), Instant::now()),
        );
    }

    /// Forgets everything, after a change to users, roles, teams or keys.
    pub fn clear(&self) {
        self.lock().clear();
    }
}
