//! A tenant's settings of one kind: one document per tenant (a business calendar, a
//! service-level policy), stored as JSON in the service's `tenant_settings` table, replaced
//! whole under its etag, and audited as one change. A tenant that has set none has the
//! kind's default.

use sea_orm::sea_query::OnConflict;
use sea_orm::{ConnectionTrait, DatabaseTransaction, DbErr, EntityTrait, IntoActiveModel};
use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::entity::tenant_setting::{Column, Entity, Model};
use crate::json;
use crm_platform::audit;
use crm_platform::auth::Principal;
use crm_platform::clock;
use crm_platform::error::Error;
use crm_platform::etag;

/// A kind of settings, in its stored form.
pub trait Settings: Default + Serialize + DeserializeOwned + Send + Sync {
    /// The kind's name, also the resource type of its audit entries ("business_calendar").
    const KIND: &'static str;
}

/// A tenant's settings as stored.
#[derive(Debug, Clone, Default)]
pub struct Stored<S> {
    /// The settings.
    pub value: S,
    /// 0 while the tenant has the default.
    pub version: i64,
    /// When they were last replaced; `None` while the tenant has the default.
    pub update_time: Option<i64>,
}

impl<S> Stored<S> {
    /// The etag callers send back.
    pub fn etag(&self) -> String {
        etag::format(self.version)
    }
}

/// The tenant's settings of kind `S`.
pub async fn load<S: Settings, C: ConnectionTrait>(
    db: &C,
    tenant_id: &str,
) -> Result<Stored<S>, Error> {
    let row = Entity::find_by_id((tenant_id.to_owned(), S::KIND.to_owned()))
        .one(db)
        .await?;
    Ok(row.map_or_else(Stored::default, |row| Stored {
        value: json::object_from_json(&row.body),
        version: row.version,
        update_time: Some(row.update_time),
    }))
}

/// Replaces the caller's tenant's settings of kind `S` with `value` in `txn`, if `sent_etag`
/// (named `etag_field` in errors) is empty or current; audits the change. Concurrent
/// replacements of one tenant's kind queue on a lock, so one of two with the same etag fails.
pub async fn replace<S: Settings>(
    txn: &DatabaseTransaction,
    principal: &Principal,
    (etag_field, sent_etag): (&str, &str),
    value: S,
) -> Result<Stored<S>, Error> {
    let expected = etag::parse(etag_field, sent_etag)?;
    write(txn, principal, expected, |_| value).await
}

/// Changes the caller's tenant's settings of kind `S` in `txn` by `change` of the current
/// ones, read under the lock (so concurrent changes all land); audits the change.
pub async fn modify<S: Settings>(
    txn: &DatabaseTransaction,
    principal: &Principal,
    change: impl FnOnce(&S) -> S,
) -> Result<Stored<S>, Error> {
    write(txn, principal, None, change).await
}

async fn write<S: Settings>(
    txn: &DatabaseTransaction,
    principal: &Principal,
    expected: Option<i64>,
    next: impl FnOnce(&S) -> S,
) -> Result<Stored<S>, Error> {
    let tenant_id = principal.tenant_id.as_str();
    crm_platform::db::lock_keys(txn, &[format!("{tenant_id}/settings/{}", S::KIND)]).await?;
    let current = load::<S, _>(txn, tenant_id).await?;
    if expected.is_some_and(|e| e != current.version) {
        return Err(Error::StaleEtag { resource: S::KIND });
    }
    let value = next(&current.value);
    let row = Model {
        tenant_id: tenant_id.to_owned(),
        kind: S::KIND.to_owned(),
        body: json::object_to_json(&value),
        version: current.version + 1,
        update_time: clock::now_micros(),
    };
    Entity::insert(row.clone().into_active_model())
        .on_conflict(
            OnConflict::columns([Column::TenantId, Column::Kind])
                .update_columns([Column::Body, Column::Version, Column::UpdateTime])
                .to_owned(),
        )
        .exec(txn)
        .await?;
    let change = audit::Change {
        field: S::KIND.to_owned(),
        before: json::object_to_json(&current.value),
        after: row.body.clone(),
    };
    audit::record(txn, principal, S::KIND, tenant_id, "update", &[change]).await?;
    Ok(Stored {
        value,
        version: row.version,
        update_time: Some(row.update_time),
    })
}

/// Creates the settings table in a service's database.
pub struct SettingsTables;

impl MigrationName for SettingsTables {
    fn name(&self) -> &str {
        "m20261205_000000_create_tenant_settings"
    }
}

// The trait declares `&SchemaManager` without its lifetime; matching it exactly is required.
#[allow(elided_lifetimes_in_paths)]
#[async_trait::async_trait]
impl MigrationTrait for SettingsTables {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table("tenant_settings")
                    .if_not_exists()
                    .col(string("tenant_id"))
                    .col(string("kind"))
                    .col(text("body"))
                    .col(big_integer("version"))
                    .col(big_integer("update_time"))
                    .primary_key(Index::create().col("tenant_id").col("kind"))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        crate::schema::drop_tables(manager, &["tenant_settings"]).await
    }
}

/// How a kind of settings is answered and announced.
#[derive(Debug, Clone, Copy)]
pub struct Shown<S, P, V> {
    /// The wire form of the stored settings.
    pub wire: fn(&Stored<S>) -> P,
    /// The event announcing them.
    pub event: fn(P) -> V,
}

/// Replaces the caller's tenant's settings with `value` as one idempotent request: the
/// write, its audit entry and the event `announced` makes of the stored form (`wire`), in
/// one transaction. `permission` is checked first.
pub async fn put<S, M, P, V>(
    records: &crate::handlers::Records,
    (principal, permission): (&Principal, &str),
    idem: crate::handlers::Idempotency<'_, M>,
    (etag_field, sent_etag, value): (&str, &str, S),
    shown: Shown<S, P, V>,
) -> Result<P, Error>
where
    S: Settings,
    M: prost::Message,
    P: prost::Message + Default + Clone,
    V: crm_proto::DomainEvent,
{
    principal.require(permission)?;
    let key = crm_platform::idempotency::RequestKey::new(
        principal,
        idem.method,
        idem.request_id,
        idem.request,
    )?;
    let tenant_id = principal.tenant_id.as_str();
    let proto = crm_platform::idempotency::mutate(&records.db, key.as_ref(), |txn| async move {
        let stored = replace(&txn, principal, (etag_field, sent_etag), value).await?;
        let proto = (shown.wire)(&stored);
        let event = (shown.event)(proto.clone());
        crate::handlers::announce(&txn, tenant_id, &principal.user_id, event, tenant_id).await?;
        Ok((txn, proto))
    })
    .await?;
    records.relay.wake();
    Ok(proto)
}
