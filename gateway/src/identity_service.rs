//! `crm.identity.v1.IdentityService`: tenants, users, teams, roles and API keys. Every call
//! is scoped to the caller's tenant and re-checks its permission here as well.

use crm_platform::clock;
use std::sync::Arc;

use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, EntityTrait, IntoActiveModel, QueryFilter,
};
use tonic::{Request, Response, Status};

use crate::Peers;
use crate::announcements;
use crate::authn::Gatekeeper;
use crate::credentials::{check_password, random_secret, secret_hash};
use crate::directory::{
    self, check_ids_exist, email_unavailable, page, parse_scope, scope_name, user_in_tenant,
};
use crate::entity::{api_key, join, role, split, team, tenant, user};
use crate::grants;
use crate::hand_over::{self, HandOver};
use crate::permissions;
use crate::teams;
use crate::tenants::{self, NewTenant};
use crm_platform::audit;
use crm_platform::auth::{DataScope, Principal};
use crm_platform::error::Error;
use crm_platform::idempotency::{RequestKey, mutate};
use crm_platform::paging::{self, PageTokens};
use crm_platform::time::to_timestamp;
use crm_platform::validate::Violations;
use crm_platform::{etag, field_mask};
use crm_proto::identity::identity_service_server::IdentityService;
use crm_proto::identity::*;

/// Largest page of an identity list.
const MAX_PAGE: u64 = 500;
/// Most roles a user holds.
const MAX_ROLES_PER_USER: usize = 20;
/// Most teams a user belongs to.
const MAX_TEAMS_PER_USER: usize = 50;
/// Most permissions a role or key names (more than exist, so no honest request is refused).
const MAX_PERMISSIONS: usize = 200;

/// Implements `crm.identity.v1.IdentityService`.
#[derive(Debug, Clone)]
pub struct IdentityGrpc {
    gatekeeper: Arc<Gatekeeper>,
    pages: PageTokens,
    peers: Peers,
}

impl IdentityGrpc {
    /// Creates the service.
    pub fn new(gatekeeper: Arc<Gatekeeper>, pages: PageTokens, peers: Peers) -> Self {
        Self {
            gatekeeper,
            pages,
            peers,
        }
    }

    fn db(&self) -> &sea_orm::DatabaseConnection {
        &self.gatekeeper.db
    }

    /// Returns one page of the caller's tenant's rows of `E` in id order, and the next
    /// page's token (bound to the caller and the list).
    async fn list_page<E>(
        &self,
        p: &Principal,
        (page_size, page_token): (i32, &str),
        tenant_column: E::Column,
        id_column: E::Column,
        id_of: fn(&E::Model) -> String,
    ) -> Result<(Vec<E::Model>, String), Error>
    where
        E: sea_orm::EntityTrait,
    {
        let limit = paging::page_size(page_size, MAX_PAGE)?;
        let binding = paging::binding(&[E::default().table_name(), &p.tenant_id, &p.user_id]);
        let cursor = self.pages.read(page_token, &binding)?;
        let query = E::find().filter(tenant_column.eq(p.tenant_id.as_str()));
        let (rows, next) = page(self.db(), query, id_column, cursor, limit, id_of).await?;
        let token = next
            .map(|c| self.pages.issue(c, &binding))
            .unwrap_or_default();
        Ok((rows, token))
    }
}

/// The principal the auth layer attached, with the permission re-checked.
fn caller<'r, T>(
    request: &'r Request<T>,
    permission: Option<&str>,
) -> Result<&'r Principal, Error> {
    let principal = request
        .extensions()
        .get::<Principal>()
        .ok_or(Error::Unauthenticated("missing principal"))?;
    if let Some(permission) = permission {
        principal.require(permission)?;
    }
    Ok(principal)
}

fn user_proto(u: &user::Model) -> User {
    User {
        id: u.id.clone(),
        tenant_id: u.tenant_id.clone(),
        email: u.email.clone(),
        display_name: u.display_name.clone(),
        role_ids: split(&u.role_ids),
        team_ids: split(&u.team_ids),
        state: if u.disabled {
            UserState::Disabled
        } else {
            UserState::Active
        } as i32,
        etag: etag::format(u.version),
        create_time: Some(to_timestamp(u.create_time)),
    }
}

fn tenant_proto(t: &tenant::Model) -> Tenant {
    Tenant {
        id: t.id.clone(),
        display_name: t.display_name.clone(),
        create_time: Some(to_timestamp(t.create_time)),
        phone_region: t.phone_region.clone(),
        etag: etag::format(t.version),
    }
}

/// The caller's own tenant.
async fn own_tenant<C: sea_orm::ConnectionTrait>(
    db: &C,
    p: &Principal,
) -> Result<tenant::Model, Error> {
    tenant::Entity::find_by_id(p.tenant_id.as_str())
        .one(db)
        .await?
        .ok_or_else(|| Error::not_found("tenant", &p.tenant_id))
}

fn role_proto(r: &role::Model) -> Role {
    let scope = match parse_scope(&r.data_scope) {
        DataScope::Own => crm_proto::identity::DataScope::Own,
        DataScope::Team => crm_proto::identity::DataScope::Team,
        DataScope::All => crm_proto::identity::DataScope::All,
    };
    Role {
        id: r.id.clone(),
        display_name: r.display_name.clone(),
        permissions: split(&r.permissions),
        data_scope: scope as i32,
        etag: etag::format(r.version),
        built_in: permissions::is_built_in(&r.display_name),
    }
}

fn team_proto(t: &team::Model) -> Team {
    Team {
        id: t.id.clone(),
        display_name: t.display_name.clone(),
        parent_team_id: t.parent_team_id.clone(),
        manager_user_id: t.manager_user_id.clone(),
        etag: etag::format(t.version),
    }
}

/// A role's data scope from the wire.
fn role_scope(value: i32) -> Result<DataScope, Error> {
    match crm_proto::identity::DataScope::try_from(value) {
        Ok(crm_proto::identity::DataScope::All) => Ok(DataScope::All),
        Ok(crm_proto::identity::DataScope::Team) => Ok(DataScope::Team),
        Ok(_) => Ok(DataScope::Own),
        Err(_) => Err(Error::invalid("role.data_scope", "unknown data scope")),
    }
}

/// Refuses a role name another role of the tenant has.
async fn check_role_name<C: sea_orm::ConnectionTrait>(
    db: &C,
    tenant_id: &str,
    name: &str,
    except_id: &str,
) -> Result<(), Error> {
    let exists = role::Entity::find()
        .filter(role::Column::TenantId.eq(tenant_id))
        .filter(role::Column::DisplayName.eq(name))
        .filter(role::Column::Id.ne(except_id))
        .one(db)
        .await?;
    if exists.is_some() || permissions::is_built_in(name) {
        return Err(Error::AlreadyExists {
            reason: "ROLE_NAME_TAKEN",
            message: "a role with this name already exists".to_owned(),
            metadata: [("field".to_owned(), "role.display_name".to_owned())].into(),
        });
    }
    Ok(())
}

/// Checks a team's new manager: a user of the tenant whom the caller could manage, since a
/// manager reaches the team's records.
async fn check_manager<C: sea_orm::ConnectionTrait>(
    db: &C,
    p: &Principal,
    manager_id: &str,
) -> Result<(), Error> {
    if manager_id.is_empty() {
        return Ok(());
    }
    let manager = user_in_tenant(db, &p.tenant_id, manager_id)
        .await
        .map_err(|_| {
            Error::invalid(
                "team.manager_user_id",
                "names an id that does not exist in this tenant",
            )
        })?;
    grants::check_may_manage(db, p, "team.manager_user_id", &manager).await
}

/// A team of the caller's tenant, or `NOT_FOUND`.
async fn team_in_tenant<C: sea_orm::ConnectionTrait>(
    db: &C,
    tenant_id: &str,
    id: &str,
) -> Result<team::Model, Error> {
    team::Entity::find_by_id(id)
        .filter(team::Column::TenantId.eq(tenant_id))
        .one(db)
        .await?
        .ok_or_else(|| Error::not_found("team", id))
}

/// A role of the caller's tenant, or `NOT_FOUND`.
async fn role_in_tenant<C: sea_orm::ConnectionTrait>(
    db: &C,
    tenant_id: &str,
    id: &str,
) -> Result<role::Model, Error> {
    role::Entity::find_by_id(id)
        .filter(role::Column::TenantId.eq(tenant_id))
        .one(db)
        .await?
        .ok_or_else(|| Error::not_found("role", id))
}

fn key_proto(k: &api_key::Model) -> ApiKey {
    ApiKey {
        id: k.id.clone(),
        display_name: k.display_name.clone(),
        user_id: k.user_id.clone(),
        permissions: split(&k.permissions),
        revoked: k.revoked,
        create_time: Some(to_timestamp(k.create_time)),
    }
}

/// Inserts a new row, its audit entry and its `events` in one transaction and answers
/// `response`; under a request id, a retry answers the first response instead.
async fn insert_audited<A, R>(
    db: &sea_orm::DatabaseConnection,
    (p, key): (&Principal, Option<&RequestKey>),
    (row, events): (A, Vec<crm_platform::events::Envelope>),
    (kind, id): (&str, &str),
    fields: &[(&str, String)],
    response: R,
) -> Result<R, Error>
where
    A: sea_orm::ActiveModelTrait + sea_orm::ActiveModelBehavior + Send,
    <A::Entity as sea_orm::EntityTrait>::Model: sea_orm::IntoActiveModel<A>,
    R: prost::Message + Default,
{
    mutate(db, key, |txn| async move {
        <A::Entity as sea_orm::EntityTrait>::insert(row)
            .exec(&txn)
            .await?;
        audit::record(&txn, p, kind, id, "create", &audit::created(fields)).await?;
        crm_platform::events::append_many(&txn, events).await?;
        Ok((txn, response))
    })
    .await
}

/// A record's audited fields and their values.
type Snapshot<'a> = &'a [(&'a str, String)];

/// Writes `next` over the row `id` only while its version is still `version`
/// (compare-and-set: a concurrent change wins and this one is `ABORTED`), and audits the
/// fields that differ between the `before` and `after` snapshots.
async fn save_versioned<E, A>(
    txn: &sea_orm::DatabaseTransaction,
    p: &Principal,
    (kind, id_column, version_column): (&'static str, E::Column, E::Column),
    (id, version): (&str, i64),
    next: A,
    (before, after): (Snapshot<'_>, Snapshot<'_>),
) -> Result<(), Error>
where
    E: EntityTrait,
    A: sea_orm::ActiveModelTrait<Entity = E> + Send,
{
    let updated = E::update_many()
        .set(next)
        .filter(id_column.eq(id))
        .filter(version_column.eq(version))
        .exec(txn)
        .await?;
    if updated.rows_affected != 1 {
        return Err(Error::StaleEtag { resource: kind });
    }
    let changes = audit::diff(before, after);
    audit::record(txn, p, kind, id, "update", &changes).await
}

/// Checks a deactivation and disables the leaver (audited) unless they already are; returns
/// the leaver as stored.
async fn disable_for_hand_over(
    db: &sea_orm::DatabaseConnection,
    p: &Principal,
    r: &DeactivateUserRequest,
) -> Result<user::Model, Error> {
    let txn = crm_platform::db::begin_write(db).await?;
    let current = user_in_tenant(&txn, &p.tenant_id, &r.user_id).await?;
    grants::check_may_manage(&txn, p, "user_id", &current).await?;
    let successor = user_in_tenant(&txn, &p.tenant_id, &r.successor_user_id)
        .await
        .map_err(|_| Error::invalid("successor_user_id", "names no user of this tenant"))?;
    if successor.disabled {
        return Err(Error::invalid("successor_user_id", "is disabled"));
    }
    // Contacts would refuse a transfer across the caller's data scope; say so before the
    // leaver is disabled.
    for (field, user) in [("user_id", &current), ("successor_user_id", &successor)] {
        if !p.reaches(&user.id) {
            return Err(Error::invalid(field, "is outside your data scope"));
        }
    }
    if current.disabled {
        return Ok(current);
    }
    let mut next = current.clone();
    next.disabled = true;
    next.version = current.version + 1;
    next.update_time = clock::now_micros();
    save_versioned(
        &txn,
        p,
        ("user", user::Column::Id, user::Column::Version),
        (&current.id, current.version),
        next.clone().into_active_model().reset_all(),
        (
            &[("disabled", current.disabled.to_string())],
            &[("disabled", next.disabled.to_string())],
        ),
    )
    .await?;
    announcements::member(&txn, &p.user_id, &next).await?;
    txn.commit().await?;
    Ok(next)
}

#[tonic::async_trait]
impl IdentityService for IdentityGrpc {
    async fn create_tenant(
        &self,
        request: Request<CreateTenantRequest>,
    ) -> Result<Response<CreateTenantResponse>, Status> {
        let p = caller(&request, Some("identity.tenants.create"))?;
        let r = request.get_ref();
        let mut v = Violations::new();
        v.required("display_name", &r.display_name);
        v.max_chars("display_name", &r.display_name, 200);
        v.required("admin_email", &r.admin_email);
        let email = v.email("admin_email", &r.admin_email);
        v.required("admin_display_name", &r.admin_display_name);
        let phone_region = v.phone_region("phone_region", &r.phone_region);
        v.finish()?;
        check_password("admin_password", &r.admin_password)?;
        let key = RequestKey::new(
            p,
            "/crm.identity.v1.IdentityService/CreateTenant",
            &r.request_id,
            r,
        )?;
        let admin_password_hash = self.gatekeeper.passwords.hash(&r.admin_password).await?;
        let response = mutate(self.db(), key.as_ref(), |txn| async move {
            let (tenant, admin) = tenants::create(
                &txn,
                NewTenant {
                    display_name: &r.display_name,
                    phone_region,
                    admin_email: &email,
                    admin_password_hash,
                    admin_display_name: &r.admin_display_name,
                    platform_admin: false,
                    actor_id: &p.user_id,
                },
            )
            .await?;
            // Recorded in the creating platform admin's tenant: that is who acted.
            let fields = [
                ("display_name", tenant.display_name.clone()),
                ("phone_region", tenant.phone_region.clone()),
                ("admin_email", admin.email.clone()),
            ];
            audit::record(
                &txn,
                p,
                "tenant",
                &tenant.id,
                "create",
                &audit::created(&fields),
            )
            .await?;
            let response = CreateTenantResponse {
                tenant: Some(tenant_proto(&tenant)),
                admin: Some(user_proto(&admin)),
            };
            Ok((txn, response))
        })
        .await?;
        Ok(Response::new(response))
    }

    async fn get_tenant(
        &self,
        request: Request<GetTenantRequest>,
    ) -> Result<Response<GetTenantResponse>, Status> {
        let p = caller(&request, None)?;
        let tenant = own_tenant(self.db(), p).await?;
        Ok(Response::new(GetTenantResponse {
            tenant: Some(tenant_proto(&tenant)),
        }))
    }

    async fn update_tenant(
        &self,
        request: Request<UpdateTenantRequest>,
    ) -> Result<Response<UpdateTenantResponse>, Status> {
        let p = caller(&request, Some("identity.tenants.write"))?;
        let r = request.get_ref();
        let input = r
            .tenant
            .clone()
            .ok_or_else(|| Error::invalid("tenant", "is required"))?;
        // Only the caller's own tenant: another id answers as if it did not exist.
        if !input.id.is_empty() && input.id != p.tenant_id {
            return Err(Error::not_found("tenant", &input.id).into());
        }
        let paths = r.update_mask.clone().map(|m| m.paths).unwrap_or_default();
        let fields = field_mask::resolve(
            &paths,
            &["display_name", "phone_region"],
            &["id", "etag", "create_time"],
            |f| match f {
                "display_name" => !input.display_name.is_empty(),
                "phone_region" => !input.phone_region.is_empty(),
                _ => false,
            },
        )?;
        let mut v = Violations::new();
        if fields.contains(&"display_name") {
            v.required("tenant.display_name", &input.display_name);
            v.max_chars("tenant.display_name", &input.display_name, 200);
        }
        let region = fields
            .contains(&"phone_region")
            .then(|| v.phone_region("tenant.phone_region", &input.phone_region));
        v.finish()?;
        let expected = etag::parse("tenant.etag", &input.etag)?;
        let key = RequestKey::new(
            p,
            "/crm.identity.v1.IdentityService/UpdateTenant",
            &r.request_id,
            r,
        )?;
        let response = mutate(self.db(), key.as_ref(), |txn| async move {
            let current = own_tenant(&txn, p).await?;
            if expected.is_some_and(|v| v != current.version) {
                return Err(Error::StaleEtag { resource: "tenant" });
            }
            let mut next = current.clone();
            if fields.contains(&"display_name") {
                next.display_name = input.display_name.trim().to_owned();
            }
            if let Some(region) = region {
                next.phone_region = region.code().to_owned();
            }
            next.version = current.version + 1;
            let snapshot = |t: &tenant::Model| {
                vec![
                    ("display_name", t.display_name.clone()),
                    ("phone_region", t.phone_region.clone()),
                ]
            };
            save_versioned(
                &txn,
                p,
                ("tenant", tenant::Column::Id, tenant::Column::Version),
                (&current.id, current.version),
                next.clone().into_active_model().reset_all(),
                (&snapshot(&current), &snapshot(&next)),
            )
            .await?;
            Ok((
                txn,
                UpdateTenantResponse {
                    tenant: Some(tenant_proto(&next)),
                },
            ))
        })
        .await?;
        // Everyone in the tenant reads numbers in the new region from their next call.
        self.gatekeeper.directory_changed();
        Ok(Response::new(response))
    }

    async fn get_current_user(
        &self,
        request: Request<GetCurrentUserRequest>,
    ) -> Result<Response<GetCurrentUserResponse>, Status> {
        let p = caller(&request, None)?;
        let user = user_in_tenant(self.db(), &p.tenant_id, &p.user_id).await?;
        let scope = match p.scope {
            DataScope::Own => crm_proto::identity::DataScope::Own,
            DataScope::Team => crm_proto::identity::DataScope::Team,
            DataScope::All => crm_proto::identity::DataScope::All,
        };
        Ok(Response::new(GetCurrentUserResponse {
            user: Some(user_proto(&user)),
            permissions: p.permissions.clone(),
            data_scope: scope as i32,
        }))
    }

    async fn create_user(
        &self,
        request: Request<CreateUserRequest>,
    ) -> Result<Response<CreateUserResponse>, Status> {
        let p = caller(&request, Some("identity.users.write"))?;
        let r = request.get_ref();
        let input = r
            .user
            .clone()
            .ok_or_else(|| Error::invalid("user", "is required"))?;
        let mut v = Violations::new();
        v.at_most("user.role_ids", input.role_ids.len(), MAX_ROLES_PER_USER);
        v.at_most("user.team_ids", input.team_ids.len(), MAX_TEAMS_PER_USER);
        v.required("user.email", &input.email);
        let email = v.email("user.email", &input.email);
        v.required("user.display_name", &input.display_name);
        v.max_chars("user.display_name", &input.display_name, 200);
        v.finish()?;
        check_password("password", &r.password)?;
        let key = RequestKey::new(
            p,
            "/crm.identity.v1.IdentityService/CreateUser",
            &r.request_id,
            r,
        )?;
        let password_hash = self.gatekeeper.passwords.hash(&r.password).await?;
        let response = mutate(self.db(), key.as_ref(), |txn| async move {
            grants::check_roles(&txn, p, "user.role_ids", &input.role_ids).await?;
            check_ids_exist::<team::Entity, _>(
                &txn,
                &input.team_ids,
                team::Column::TenantId,
                &p.tenant_id,
                team::Column::Id,
                "user.team_ids",
            )
            .await?;
            if directory::user_by_email(&txn, &email).await?.is_some() {
                return Err(email_unavailable("user.email"));
            }
            let now = clock::now_micros();
            let model = user::Model {
                id: uuid::Uuid::now_v7().to_string(),
                tenant_id: p.tenant_id.clone(),
                email,
                display_name: input.display_name.trim().to_owned(),
                password_hash,
                role_ids: join(&input.role_ids),
                team_ids: join(&input.team_ids),
                disabled: false,
                version: 1,
                create_time: now,
                update_time: now,
            };
            user::Entity::insert(user::ActiveModel::from(model.clone()))
                .exec(&txn)
                .await?;
            let changes = [audit::Change {
                field: "email".into(),
                before: String::new(),
                after: model.email.clone(),
            }];
            audit::record(&txn, p, "user", &model.id, "create", &changes).await?;
            announcements::member(&txn, &p.user_id, &model).await?;
            Ok((
                txn,
                CreateUserResponse {
                    user: Some(user_proto(&model)),
                },
            ))
        })
        .await?;
        self.gatekeeper.directory_changed();
        Ok(Response::new(response))
    }

    async fn get_user(
        &self,
        request: Request<GetUserRequest>,
    ) -> Result<Response<GetUserResponse>, Status> {
        let p = caller(&request, Some("identity.users.read"))?;
        let user = user_in_tenant(self.db(), &p.tenant_id, &request.get_ref().id).await?;
        Ok(Response::new(GetUserResponse {
            user: Some(user_proto(&user)),
        }))
    }

    async fn list_users(
        &self,
        request: Request<ListUsersRequest>,
    ) -> Result<Response<ListUsersResponse>, Status> {
        let p = caller(&request, Some("identity.users.read"))?;
        let r = request.get_ref();
        let (rows, next_page_token) = self
            .list_page::<user::Entity>(
                p,
                (r.page_size, &r.page_token),
                user::Column::TenantId,
                user::Column::Id,
                |row| row.id.clone(),
            )
            .await?;
        Ok(Response::new(ListUsersResponse {
            users: rows.iter().map(user_proto).collect(),
            next_page_token,
        }))
    }

    async fn update_user(
        &self,
        request: Request<UpdateUserRequest>,
    ) -> Result<Response<UpdateUserResponse>, Status> {
        let p = caller(&request, Some("identity.users.write"))?;
        let r = request.get_ref();
        let input = r
            .user
            .clone()
            .ok_or_else(|| Error::invalid("user", "is required"))?;
        let paths = r.update_mask.clone().map(|m| m.paths).unwrap_or_default();
        let fields = field_mask::resolve(
            &paths,
            &["display_name", "role_ids", "team_ids", "state"],
            &["id", "tenant_id", "email", "etag", "create_time"],
            |f| match f {
                "display_name" => !input.display_name.is_empty(),
                "role_ids" => !input.role_ids.is_empty(),
                "team_ids" => !input.team_ids.is_empty(),
                "state" => input.state != UserState::Unspecified as i32,
                _ => false,
            },
        )?;
        let mut v = Violations::new();
        v.at_most("user.role_ids", input.role_ids.len(), MAX_ROLES_PER_USER);
        v.at_most("user.team_ids", input.team_ids.len(), MAX_TEAMS_PER_USER);
        v.finish()?;
        let expected = etag::parse("user.etag", &input.etag)?;
        let key = RequestKey::new(
            p,
            "/crm.identity.v1.IdentityService/UpdateUser",
            &r.request_id,
            r,
        )?;
        let response = mutate(self.db(), key.as_ref(), |txn| async move {
            let current = user_in_tenant(&txn, &p.tenant_id, &input.id).await?;
            if expected.is_some_and(|v| v != current.version) {
                return Err(Error::StaleEtag { resource: "user" });
            }
            grants::check_may_manage(&txn, p, "user.id", &current).await?;
            let mut next = current.clone();
            for field in fields {
                match field {
                    "display_name" => {
                        let mut v = Violations::new();
                        v.required("user.display_name", &input.display_name);
                        v.finish()?;
                        next.display_name = input.display_name.trim().to_owned();
                    }
                    "role_ids" => {
                        grants::check_roles(&txn, p, "user.role_ids", &input.role_ids).await?;
                        next.role_ids = join(&input.role_ids);
                    }
                    "team_ids" => {
                        check_ids_exist::<team::Entity, _>(
                            &txn,
                            &input.team_ids,
                            team::Column::TenantId,
                            &p.tenant_id,
                            team::Column::Id,
                            "user.team_ids",
                        )
                        .await?;
                        next.team_ids = join(&input.team_ids);
                    }
                    "state" => {
                        next.disabled = match UserState::try_from(input.state) {
                            Ok(UserState::Active) => false,
                            Ok(UserState::Disabled) => true,
                            _ => {
                                return Err(Error::invalid(
                                    "user.state",
                                    "must be ACTIVE or DISABLED",
                                ));
                            }
                        };
                    }
                    _ => {}
                }
            }
            next.version = current.version + 1;
            next.update_time = clock::now_micros();
            let snapshot = |u: &user::Model| {
                vec![
                    ("display_name", u.display_name.clone()),
                    ("role_ids", u.role_ids.clone()),
                    ("team_ids", u.team_ids.clone()),
                    ("disabled", u.disabled.to_string()),
                ]
            };
            save_versioned(
                &txn,
                p,
                ("user", user::Column::Id, user::Column::Version),
                (&current.id, current.version),
                next.clone().into_active_model().reset_all(),
                (&snapshot(&current), &snapshot(&next)),
            )
            .await?;
            announcements::member(&txn, &p.user_id, &next).await?;
            Ok((
                txn,
                UpdateUserResponse {
                    user: Some(user_proto(&next)),
                },
            ))
        })
        .await?;
        // Role, team and state changes apply to this user's next call.
        self.gatekeeper.directory_changed();
        Ok(Response::new(response))
    }

    async fn deactivate_user(
        &self,
        request: Request<DeactivateUserRequest>,
    ) -> Result<Response<DeactivateUserResponse>, Status> {
        let p = caller(&request, Some("identity.users.write"))?;
        // The hand-over is a transfer in contacts, which needs both write permissions: refused
        // before anything changes rather than halfway.
        p.require("contacts.accounts.write")?;
        p.require("contacts.contacts.write")?;
        let Some(contacts) = &self.peers.contacts else {
            return Err(Error::precondition(
                "SERVICE_NOT_DEPLOYED",
                "customers cannot be handed over: the contacts service is not part of this deployment",
            )
            .into());
        };
        let r = request.get_ref();
        let mut v = Violations::new();
        v.required("user_id", &r.user_id);
        v.required("successor_user_id", &r.successor_user_id);
        v.finish()?;
        if r.user_id == p.user_id {
            return Err(Error::invalid("user_id", "is you: another admin deactivates you").into());
        }
        if r.successor_user_id == r.user_id {
            return Err(Error::invalid("successor_user_id", "is the user who leaves").into());
        }
        let key = RequestKey::new(
            p,
            "/crm.identity.v1.IdentityService/DeactivateUser",
            &r.request_id,
            r,
        )?;
        if let Some(key) = &key
            && let Some(response) = key.replay(self.db()).await?
        {
            return Ok(Response::new(response));
        }
        // First the leaver stops working, so that nothing new lands on them; a retry after a
        // cut finds them disabled and goes on to the hand-over.
        let user = disable_for_hand_over(self.db(), p, r).await?;
        self.gatekeeper.directory_changed();
        let moved = hand_over::transfer_customers(
            contacts,
            p,
            HandOver {
                from_user_id: &user.id,
                to_user_id: &r.successor_user_id,
                request_id: &r.request_id,
            },
        )
        .await?;
        let response = DeactivateUserResponse {
            user: Some(user_proto(&user)),
            transferred_accounts: moved.accounts,
            transferred_contacts: moved.contacts,
        };
        if let Some(key) = &key {
            key.remember(self.db(), &response).await?;
        }
        Ok(Response::new(response))
    }

    async fn create_team(
        &self,
        request: Request<CreateTeamRequest>,
    ) -> Result<Response<CreateTeamResponse>, Status> {
        let p = caller(&request, Some("identity.teams.write"))?;
        let input = request
            .get_ref()
            .team
            .clone()
            .ok_or_else(|| Error::invalid("team", "is required"))?;
        let mut v = Violations::new();
        v.required("team.display_name", &input.display_name);
        v.max_chars("team.display_name", &input.display_name, 200);
        v.finish()?;
        let db = self.db();
        if !input.parent_team_id.is_empty() {
            check_ids_exist::<team::Entity, _>(
                db,
                std::slice::from_ref(&input.parent_team_id),
                team::Column::TenantId,
                &p.tenant_id,
                team::Column::Id,
                "team.parent_team_id",
            )
            .await?;
        }
        check_manager(db, p, &input.manager_user_id).await?;
        let model = team::Model {
            id: uuid::Uuid::now_v7().to_string(),
            tenant_id: p.tenant_id.clone(),
            display_name: input.display_name.trim().to_owned(),
            parent_team_id: input.parent_team_id,
            manager_user_id: input.manager_user_id,
            version: 1,
            create_time: clock::now_micros(),
        };
        let fields = [
            ("display_name", model.display_name.clone()),
            ("parent_team_id", model.parent_team_id.clone()),
            ("manager_user_id", model.manager_user_id.clone()),
        ];
        let key = RequestKey::new(
            p,
            "/crm.identity.v1.IdentityService/CreateTeam",
            &request.get_ref().request_id,
            request.get_ref(),
        )?;
        let row = team::ActiveModel::from(model.clone());
        let response = CreateTeamResponse {
            team: Some(team_proto(&model)),
        };
        let response = insert_audited(
            db,
            (p, key.as_ref()),
            (
                row,
                vec![announcements::team_event(&p.user_id, &model, false)],
            ),
            ("team", &model.id),
            &fields,
            response,
        )
        .await?;
        self.gatekeeper.directory_changed();
        Ok(Response::new(response))
    }

    async fn list_teams(
        &self,
        request: Request<ListTeamsRequest>,
    ) -> Result<Response<ListTeamsResponse>, Status> {
        let p = caller(&request, Some("identity.teams.read"))?;
        let r = request.get_ref();
        let (rows, next_page_token) = self
            .list_page::<team::Entity>(
                p,
                (r.page_size, &r.page_token),
                team::Column::TenantId,
                team::Column::Id,
                |row| row.id.clone(),
            )
            .await?;
        Ok(Response::new(ListTeamsResponse {
            teams: rows.iter().map(team_proto).collect(),
            next_page_token,
        }))
    }

    async fn create_role(
        &self,
        request: Request<CreateRoleRequest>,
    ) -> Result<Response<CreateRoleResponse>, Status> {
        let p = caller(&request, Some("identity.roles.write"))?;
        let input = request
            .get_ref()
            .role
            .clone()
            .ok_or_else(|| Error::invalid("role", "is required"))?;
        let mut v = Violations::new();
        v.at_most("role.permissions", input.permissions.len(), MAX_PERMISSIONS);
        v.required("role.display_name", &input.display_name);
        v.max_chars("role.display_name", &input.display_name, 100);
        v.finish()?;
        grants::check_permissions(p, "role.permissions", &input.permissions)?;
        let scope = role_scope(input.data_scope)?;
        grants::check_scope(p, "role.data_scope", scope)?;
        let model = role::Model {
            id: uuid::Uuid::now_v7().to_string(),
            tenant_id: p.tenant_id.clone(),
            display_name: input.display_name.trim().to_owned(),
            permissions: join(&input.permissions),
            data_scope: scope_name(scope).to_owned(),
            version: 1,
            create_time: clock::now_micros(),
        };
        let key = RequestKey::new(
            p,
            "/crm.identity.v1.IdentityService/CreateRole",
            &request.get_ref().request_id,
            request.get_ref(),
        )?;
        // A retry replays its first answer before the name is checked again (it is taken by
        // then, by the role the first call made).
        if let Some(key) = &key
            && let Some(first) = key.replay::<_, CreateRoleResponse>(self.db()).await?
        {
            return Ok(Response::new(first));
        }
        check_role_name(self.db(), &p.tenant_id, &model.display_name, "").await?;
        let fields = [
            ("display_name", model.display_name.clone()),
            ("permissions", model.permissions.clone()),
            ("data_scope", model.data_scope.clone()),
        ];
        let row = role::ActiveModel::from(model.clone());
        let response = CreateRoleResponse {
            role: Some(role_proto(&model)),
        };
        let response = insert_audited(
            self.db(),
            (p, key.as_ref()),
            (row, Vec::new()),
            ("role", &model.id),
            &fields,
            response,
        )
        .await?;
        Ok(Response::new(response))
    }

    async fn list_roles(
        &self,
        request: Request<ListRolesRequest>,
    ) -> Result<Response<ListRolesResponse>, Status> {
        let p = caller(&request, Some("identity.roles.read"))?;
        let r = request.get_ref();
        let (rows, next_page_token) = self
            .list_page::<role::Entity>(
                p,
                (r.page_size, &r.page_token),
                role::Column::TenantId,
                role::Column::Id,
                |row| row.id.clone(),
            )
            .await?;
        Ok(Response::new(ListRolesResponse {
            roles: rows.iter().map(role_proto).collect(),
            next_page_token,
        }))
    }

    async fn create_api_key(
        &self,
        request: Request<CreateApiKeyRequest>,
    ) -> Result<Response<CreateApiKeyResponse>, Status> {
        let p = caller(&request, Some("identity.api_keys.write"))?;
        let r = request.get_ref();
        let mut v = Violations::new();
        v.required("display_name", &r.display_name);
        v.max_chars("display_name", &r.display_name, 200);
        if r.permissions.is_empty() {
            v.add("permissions", "name at least one permission");
        }
        v.at_most("permissions", r.permissions.len(), MAX_PERMISSIONS);
        v.finish()?;
        grants::check_permissions(p, "permissions", &r.permissions)?;
        let user_id = if r.user_id.is_empty() {
            p.user_id.clone()
        } else {
            r.user_id.clone()
        };
        // A key acts as its user: minting one for someone else is acting as them.
        let target = user_in_tenant(self.db(), &p.tenant_id, &user_id).await?;
        grants::check_may_manage(self.db(), p, "user_id", &target).await?;
        let id = uuid::Uuid::now_v7().simple().to_string();
        let secret = format!("crm_{id}_{}", random_secret());
        let model = api_key::Model {
            id,
            tenant_id: p.tenant_id.clone(),
            user_id,
            display_name: r.display_name.trim().to_owned(),
            secret_hash: secret_hash(&secret),
            permissions: join(&r.permissions),
            revoked: false,
            create_time: clock::now_micros(),
        };
        let fields = [
            ("display_name", model.display_name.clone()),
            ("user_id", model.user_id.clone()),
            ("permissions", model.permissions.clone()),
        ];
        let row = api_key::ActiveModel::from(model.clone());
        // No request id: the secret is shown once and never stored, not even for a replay.
        let response = CreateApiKeyResponse {
            api_key: Some(key_proto(&model)),
            secret,
        };
        let response = insert_audited(
            self.db(),
            (p, None),
            (row, Vec::new()),
            ("api_key", &model.id),
            &fields,
            response,
        )
        .await?;
        Ok(Response::new(response))
    }

    async fn list_api_keys(
        &self,
        request: Request<ListApiKeysRequest>,
    ) -> Result<Response<ListApiKeysResponse>, Status> {
        let p = caller(&request, Some("identity.api_keys.read"))?;
        let r = request.get_ref();
        let (rows, next_page_token) = self
            .list_page::<api_key::Entity>(
                p,
                (r.page_size, &r.page_token),
                api_key::Column::TenantId,
                api_key::Column::Id,
                |row| row.id.clone(),
            )
            .await?;
        Ok(Response::new(ListApiKeysResponse {
            api_keys: rows.iter().map(key_proto).collect(),
            next_page_token,
        }))
    }

    async fn revoke_api_key(
        &self,
        request: Request<RevokeApiKeyRequest>,
    ) -> Result<Response<RevokeApiKeyResponse>, Status> {
        let p = caller(&request, Some("identity.api_keys.write"))?;
        let id = &request.get_ref().id;
        if id.trim().is_empty() {
            return Err(Error::invalid("id", "is required").into());
        }
        let key = api_key::Entity::find_by_id(id.as_str())
            .filter(api_key::Column::TenantId.eq(p.tenant_id.as_str()))
            .one(self.db())
            .await
            .map_err(Error::from)?
            .ok_or_else(|| Error::not_found("api_key", id))?;
        // Revoking a revoked key changes nothing: a retry answers as the first call did.
        if key.revoked {
            return Ok(Response::new(RevokeApiKeyResponse {
                api_key: Some(key_proto(&key)),
            }));
        }
        let txn = crm_platform::db::begin_write(self.db()).await?;
        let mut revoked = key.into_active_model();
        revoked.revoked = Set(true);
        let key = revoked.update(&txn).await.map_err(Error::from)?;
        let changes = [audit::Change {
            field: "revoked".into(),
            before: "false".into(),
            after: "true".into(),
        }];
        audit::record(&txn, p, "api_key", &key.id, "revoke", &changes).await?;
        txn.commit().await.map_err(Error::from)?;
        self.gatekeeper.directory_changed();
        Ok(Response::new(RevokeApiKeyResponse {
            api_key: Some(key_proto(&key)),
        }))
    }

    async fn get_team(
        &self,
        request: Request<GetTeamRequest>,
    ) -> Result<Response<GetTeamResponse>, Status> {
        let p = caller(&request, Some("identity.teams.read"))?;
        let team = team_in_tenant(self.db(), &p.tenant_id, &request.get_ref().id).await?;
        Ok(Response::new(GetTeamResponse {
            team: Some(team_proto(&team)),
        }))
    }

    async fn update_team(
        &self,
        request: Request<UpdateTeamRequest>,
    ) -> Result<Response<UpdateTeamResponse>, Status> {
        let p = caller(&request, Some("identity.teams.write"))?;
        let r = request.get_ref();
        let input = r
            .team
            .clone()
            .ok_or_else(|| Error::invalid("team", "is required"))?;
        let paths = r.update_mask.clone().map(|m| m.paths).unwrap_or_default();
        let fields = field_mask::resolve(
            &paths,
            &["display_name", "parent_team_id", "manager_user_id"],
            &["id", "etag"],
            |f| match f {
                "display_name" => !input.display_name.is_empty(),
                "parent_team_id" => !input.parent_team_id.is_empty(),
                "manager_user_id" => !input.manager_user_id.is_empty(),
                _ => false,
            },
        )?;
        let expected = etag::parse("team.etag", &input.etag)?;
        let key = RequestKey::new(
            p,
            "/crm.identity.v1.IdentityService/UpdateTeam",
            &r.request_id,
            r,
        )?;
        let response = mutate(self.db(), key.as_ref(), |txn| async move {
            let current = team_in_tenant(&txn, &p.tenant_id, &input.id).await?;
            if expected.is_some_and(|v| v != current.version) {
                return Err(Error::StaleEtag { resource: "team" });
            }
            let mut next = current.clone();
            for field in fields {
                match field {
                    "display_name" => {
                        let mut v = Violations::new();
                        v.required("team.display_name", &input.display_name);
                        v.max_chars("team.display_name", &input.display_name, 200);
                        v.finish()?;
                        next.display_name = input.display_name.trim().to_owned();
                    }
                    "parent_team_id" => {
                        let parent = input.parent_team_id.trim();
                        teams::check_parent(&txn, &p.tenant_id, &current.id, parent).await?;
                        next.parent_team_id = parent.to_owned();
                    }
                    "manager_user_id" => {
                        let manager = input.manager_user_id.trim();
                        check_manager(&txn, p, manager).await?;
                        next.manager_user_id = manager.to_owned();
                    }
                    _ => {}
                }
            }
            next.version = current.version + 1;
            let snapshot = |t: &team::Model| {
                vec![
                    ("display_name", t.display_name.clone()),
                    ("parent_team_id", t.parent_team_id.clone()),
                    ("manager_user_id", t.manager_user_id.clone()),
                ]
            };
            save_versioned(
                &txn,
                p,
                ("team", team::Column::Id, team::Column::Version),
                (&current.id, current.version),
                next.clone().into_active_model().reset_all(),
                (&snapshot(&current), &snapshot(&next)),
            )
            .await?;
            announcements::team(&txn, &p.user_id, &next, false).await?;
            Ok((
                txn,
                UpdateTeamResponse {
                    team: Some(team_proto(&next)),
                },
            ))
        })
        .await?;
        // Who reaches whom changed: the next call of everyone resolves it anew.
        self.gatekeeper.directory_changed();
        Ok(Response::new(response))
    }

    async fn delete_team(
        &self,
        request: Request<DeleteTeamRequest>,
    ) -> Result<Response<DeleteTeamResponse>, Status> {
        let p = caller(&request, Some("identity.teams.write"))?;
        let r = request.get_ref();
        let expected = etag::parse("etag", &r.etag)?;
        let key = RequestKey::new(
            p,
            "/crm.identity.v1.IdentityService/DeleteTeam",
            &r.request_id,
            r,
        )?;
        let id = r.id.clone();
        let response = mutate(self.db(), key.as_ref(), |txn| async move {
            let current = team_in_tenant(&txn, &p.tenant_id, &id).await?;
            if expected.is_some_and(|v| v != current.version) {
                return Err(Error::StaleEtag { resource: "team" });
            }
            teams::check_empty(&txn, &p.tenant_id, &current.id).await?;
            let deleted = team::Entity::delete_many()
                .filter(team::Column::Id.eq(current.id.as_str()))
                .filter(team::Column::Version.eq(current.version))
                .exec(&txn)
                .await?;
            if deleted.rows_affected != 1 {
                return Err(Error::StaleEtag { resource: "team" });
            }
            let changes = [audit::Change {
                field: "display_name".into(),
                before: current.display_name.clone(),
                after: String::new(),
            }];
            audit::record(&txn, p, "team", &current.id, "delete", &changes).await?;
            announcements::team(&txn, &p.user_id, &current, true).await?;
            Ok((txn, DeleteTeamResponse {}))
        })
        .await?;
        self.gatekeeper.directory_changed();
        Ok(Response::new(response))
    }

    async fn get_role(
        &self,
        request: Request<GetRoleRequest>,
    ) -> Result<Response<GetRoleResponse>, Status> {
        let p = caller(&request, Some("identity.roles.read"))?;
        let role = role_in_tenant(self.db(), &p.tenant_id, &request.get_ref().id).await?;
        Ok(Response::new(GetRoleResponse {
            role: Some(role_proto(&role)),
        }))
    }

    async fn update_role(
        &self,
        request: Request<UpdateRoleRequest>,
    ) -> Result<Response<UpdateRoleResponse>, Status> {
        let p = caller(&request, Some("identity.roles.write"))?;
        let r = request.get_ref();
        let input = r
            .role
            .clone()
            .ok_or_else(|| Error::invalid("role", "is required"))?;
        let paths = r.update_mask.clone().map(|m| m.paths).unwrap_or_default();
        let fields = field_mask::resolve(
            &paths,
            &["display_name", "permissions", "data_scope"],
            &["id", "etag", "built_in"],
            |f| match f {
                "display_name" => !input.display_name.is_empty(),
                "permissions" => !input.permissions.is_empty(),
                "data_scope" => input.data_scope != 0,
                _ => false,
            },
        )?;
        let mut v = Violations::new();
        v.at_most("role.permissions", input.permissions.len(), MAX_PERMISSIONS);
        v.finish()?;
        let expected = etag::parse("role.etag", &input.etag)?;
        let key = RequestKey::new(
            p,
            "/crm.identity.v1.IdentityService/UpdateRole",
            &r.request_id,
            r,
        )?;
        let response = mutate(self.db(), key.as_ref(), |txn| async move {
            let current = role_in_tenant(&txn, &p.tenant_id, &input.id).await?;
            if permissions::is_built_in(&current.display_name) {
                return Err(Error::precondition(
                    "BUILT_IN_ROLE",
                    "built-in roles follow the release; create a custom role instead",
                ));
            }
            if expected.is_some_and(|v| v != current.version) {
                return Err(Error::StaleEtag { resource: "role" });
            }
            // A role above the caller is out of its reach, before and after the change.
            grants::check_role(p, "role.id", "change", &current)?;
            let mut next = current.clone();
            for field in fields {
                match field {
                    "display_name" => {
                        let mut v = Violations::new();
                        v.required("role.display_name", &input.display_name);
                        v.max_chars("role.display_name", &input.display_name, 100);
                        v.finish()?;
                        let name = input.display_name.trim();
                        check_role_name(&txn, &p.tenant_id, name, &current.id).await?;
                        next.display_name = name.to_owned();
                    }
                    "permissions" => {
                        grants::check_permissions(p, "role.permissions", &input.permissions)?;
                        next.permissions = join(&input.permissions);
                    }
                    "data_scope" => {
                        let scope = role_scope(input.data_scope)?;
                        grants::check_scope(p, "role.data_scope", scope)?;
                        next.data_scope = scope_name(scope).to_owned();
                    }
                    _ => {}
                }
            }
            next.version = current.version + 1;
            let snapshot = |r: &role::Model| {
                vec![
                    ("display_name", r.display_name.clone()),
                    ("permissions", r.permissions.clone()),
                    ("data_scope", r.data_scope.clone()),
                ]
            };
            save_versioned(
                &txn,
                p,
                ("role", role::Column::Id, role::Column::Version),
                (&current.id, current.version),
                next.clone().into_active_model().reset_all(),
                (&snapshot(&current), &snapshot(&next)),
            )
            .await?;
            Ok((
                txn,
                UpdateRoleResponse {
                    role: Some(role_proto(&next)),
                },
            ))
        })
        .await?;
        // Everyone holding the role gets its new permissions on their next call.
        self.gatekeeper.directory_changed();
        Ok(Response::new(response))
    }

    async fn list_audit_entries(
        &self,
        request: Request<ListAuditEntriesRequest>,
    ) -> Result<Response<ListAuditEntriesResponse>, Status> {
        let p = caller(&request, Some("identity.audit.read"))?;
        let r = request.get_ref();
        if !["user", "team", "role", "api_key", "tenant"].contains(&r.resource_type.as_str()) {
            return Err(Error::invalid(
                "resource_type",
                "must be user, team, role, api_key or tenant",
            )
            .into());
        }
        // Entries are stored in the acting tenant, so another tenant's history is unreachable.
        let page = audit::HistoryPage {
            resource_type: &r.resource_type,
            resource_id: &r.resource_id,
            page_size: r.page_size,
            page_token: &r.page_token,
        };
        let (entries, next_page_token) =
            audit::history(self.db(), &self.pages, p, page, MAX_PAGE).await?;
        Ok(Response::new(ListAuditEntriesResponse {
            entries,
            next_page_token,
        }))
    }
}
