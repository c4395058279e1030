//! Static groups ("high frequency", "local"): named lists a record joins through its
//! `group_ids`. A group with members cannot be deleted, so no record points at nothing.

use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseTransaction, EntityTrait,
    IntoActiveModel, QueryFilter, QueryOrder,
};

use crate::entity::contact_group::{Column, Entity, Model};
use crate::handlers::{Handlers, Idempotency};
use crate::index;
use crate::resource::Resource;
use crm_platform::auth::Principal;
use crm_platform::clock;
use crm_platform::error::Error;
use crm_platform::idempotency::{RequestKey, mutate};
use crm_platform::time::to_timestamp;
use crm_platform::validate::Violations;
use crm_proto::contacts::{DeleteGroupResponse, Group};

/// Permission to read groups.
pub const READ: &str = "contacts.groups.read";
/// Permission to create and delete groups.
pub const WRITE: &str = "contacts.groups.write";

fn to_proto(m: &Model) -> Group {
    Group {
        id: m.id.clone(),
        display_name: m.display_name.clone(),
        description: m.description.clone(),
        create_time: Some(to_timestamp(m.create_time)),
    }
}

/// Checks that the groups a record is put in exist in the caller's tenant (on
/// `<kind>.group_ids`).
pub async fn check_labels<R: Resource>(
    txn: &DatabaseTransaction,
    principal: &Principal,
    model: &R::Model,
) -> Result<(), Error> {
    let field = format!("{}.group_ids", R::KIND);
    check_exist(
        txn,
        &principal.tenant_id,
        &field,
        &R::labels(model).group_ids,
    )
    .await
}

/// Every id must name a group of the tenant; `field` is the request path of the list.
pub async fn check_exist<C: ConnectionTrait>(
    db: &C,
    tenant_id: &str,
    field: &str,
    ids: &[String],
) -> Result<(), Error> {
    if ids.is_empty() {
        return Ok(());
    }
    let found: Vec<String> = Entity::find()
        .filter(Column::TenantId.eq(tenant_id))
        .filter(Column::Id.is_in(ids.iter().map(String::as_str)))
        .all(db)
        .await?
        .into_iter()
        .map(|g| g.id)
        .collect();
    let mut v = Violations::new();
    for (i, id) in ids.iter().enumerate() {
        if !found.contains(id) {
            v.add(&format!("{field}[{i}]"), format!("no group `{id}`"));
        }
    }
    v.finish()
}

impl Handlers {
    /// Creates a group; names are unique in the tenant ignoring case.
    pub async fn create_group<M: prost::Message>(
        &self,
        principal: &Principal,
        idem: Idempotency<'_, M>,
        input: Group,
    ) -> Result<Group, Error> {
        principal.require(WRITE)?;
        let key = RequestKey::new(principal, idem.method, idem.request_id, idem.request)?;
        let mut v = Violations::new();
        let name = input.display_name.trim().to_owned();
        v.required("group.display_name", &name);
        v.max_chars("group.display_name", &name, 100);
        v.max_chars("group.description", &input.description, 1000);
        v.finish()?;
        let model = Model {
            id: uuid::Uuid::now_v7().to_string(),
            tenant_id: principal.tenant_id.clone(),
            name_key: name.to_lowercase(),
            display_name: name,
            description: input.description.trim().to_owned(),
            create_time: clock::now_micros(),
        };
        mutate(&self.db, key.as_ref(), |txn| async move {
            let taken = Entity::find()
                .filter(Column::TenantId.eq(principal.tenant_id.as_str()))
                .filter(Column::NameKey.eq(model.name_key.as_str()))
                .one(&txn)
                .await?;
            if let Some(existing) = taken {
                return Err(Error::AlreadyExists {
                    reason: "GROUP_NAME_TAKEN",
                    message: format!("a group named `{}` exists", existing.display_name),
                    metadata: [("id".to_owned(), existing.id)].into(),
                });
            }
            model.clone().into_active_model().insert(&txn).await?;
            crm_platform::audit::record(
                &txn,
                principal,
                "group",
                &model.id,
                "create",
                &crm_platform::audit::created(&[("display_name", model.display_name.clone())]),
            )
            .await?;
            Ok((txn, to_proto(&model)))
        })
        .await
    }

    /// Lists the tenant's groups by name.
    pub async fn list_groups(&self, principal: &Principal) -> Result<Vec<Group>, Error> {
        principal.require(READ)?;
        let rows = Entity::find()
            .filter(Column::TenantId.eq(principal.tenant_id.as_str()))
            .order_by_asc(Column::NameKey)
            .all(&self.db)
            .await?;
        Ok(rows.iter().map(to_proto).collect())
    }

    /// Deletes a group without members; under a request id a retry answers as the first
    /// call did.
    pub async fn delete_group<M: prost::Message>(
        &self,
        principal: &Principal,
        idem: crate::handlers::Idempotency<'_, M>,
        id: &str,
    ) -> Result<DeleteGroupResponse, Error> {
        principal.require(WRITE)?;
        let key = crm_platform::idempotency::RequestKey::new(
            principal,
            idem.method,
            idem.request_id,
            idem.request,
        )?;
        if id.is_empty() {
            return Err(Error::invalid("id", "is required"));
        }
        crm_platform::idempotency::mutate(&self.db, key.as_ref(), |txn| async move {
            let group = Entity::find()
                .filter(Column::TenantId.eq(principal.tenant_id.as_str()))
                .filter(Column::Id.eq(id))
                .one(&txn)
                .await?
                .ok_or_else(|| Error::not_found("group", id))?;
            let members = index::count_label(&txn, &principal.tenant_id, "group", id).await?;
            if members > 0 {
                return Err(Error::precondition(
                    "GROUP_IN_USE",
                    format!(
                        "group `{}` has {members} members; remove them first",
                        group.display_name
                    ),
                ));
            }
            Entity::delete_by_id(id).exec(&txn).await?;
            crm_platform::audit::record(&txn, principal, "group", id, "delete", &[]).await?;
            Ok((txn, DeleteGroupResponse {}))
        })
        .await
    }
}
