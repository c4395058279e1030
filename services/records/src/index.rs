//! The record index: each live record's duplicate keys (normalised phones, emails, company
//! names, codes) and its tags, groups and custom values (for filters), rewritten in the
//! transaction of every write so it always agrees with the record.

use sea_orm::sea_query::{Expr, ExprTrait as _};
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, DatabaseTransaction, EntityTrait, QueryFilter,
    QueryOrder, QuerySelect,
};

use crate::entity::record_index::{ActiveModel, Column, Entity};
use crate::resource::{IndexKey, Resource};
use crm_platform::auth::Principal;
use crm_platform::error::Error;

/// Every key of a row: its duplicate-detection keys and its labels. A deleted or merged row
/// has none, so it is neither a duplicate candidate nor found by label.
pub fn keys<R: Resource>(model: &R::Model) -> Vec<IndexKey> {
    let stamps = R::stamps(model);
    if stamps.delete_time.is_some() {
        return Vec::new();
    }
    let labels = R::labels(model);
    let mut keys = R::index_keys(model);
    keys.extend(
        labels
            .tags
            .iter()
            .map(|t| IndexKey::new("tag", t.to_lowercase())),
    );
    keys.extend(
        labels
            .group_ids
            .iter()
            .map(|g| IndexKey::new("group", g.clone())),
    );
    keys.extend(crate::custom_values::index_keys(&R::custom_json(model)));
    keys.sort();
    keys.dedup();
    keys
}

/// Whether a row is being created: version 1 is only ever written by the insert, in the
/// transaction that also writes its first index rows, so there are none to delete yet.
pub fn is_new(version: i64) -> bool {
    version == 1
}

/// Rewrites the index rows, and the search grams, of one record.
pub async fn sync<R: Resource>(
    txn: &DatabaseTransaction,
    tenant_id: &str,
    model: &R::Model,
) -> Result<(), Error> {
    let stamps = R::stamps(model);
    let id = stamps.id;
    if !is_new(stamps.version) {
        Entity::delete_many()
            .filter(Column::RecordKind.eq(R::KIND))
            .filter(Column::RecordId.eq(id.as_str()))
            .exec(txn)
            .await?;
    }
    let rows = rows::<R>(tenant_id, model);
    if !rows.is_empty() {
        Entity::insert_many(rows).exec(txn).await?;
    }
    crate::search::sync::<R>(txn, tenant_id, model).await
}

/// The index rows of one record.
fn rows<R: Resource>(tenant_id: &str, model: &R::Model) -> Vec<ActiveModel> {
    let id = R::stamps(model).id;
    keys::<R>(model)
        .into_iter()
        .map(|key| ActiveModel {
            tenant_id: sea_orm::Set(tenant_id.to_owned()),
            record_kind: sea_orm::Set(R::KIND.to_owned()),
            record_id: sea_orm::Set(id.clone()),
            key_kind: sea_orm::Set(key.kind.to_owned()),
            key_value: sea_orm::Set(key.value),
        })
        .collect()
}

/// Writes the index rows and search grams of many new records in few statements.
pub async fn insert_new_many<R: Resource>(
    txn: &DatabaseTransaction,
    tenant_id: &str,
    models: &[R::Model],
) -> Result<(), Error> {
    let rows: Vec<ActiveModel> = models
        .iter()
        .flat_map(|m| rows::<R>(tenant_id, m))
        .collect();
    for chunk in crm_platform::db::fixed_chunks(&rows, 1024) {
        Entity::insert_many(chunk.to_vec()).exec(txn).await?;
    }
    crate::search::insert_new_many::<R>(txn, tenant_id, models).await
}

/// The duplicate-detection keys of a row.
pub fn duplicate_keys<R: Resource>(model: &R::Model) -> Vec<IndexKey> {
    let mut keys = R::index_keys(model);
    keys.retain(|k| R::DUPLICATE_KINDS.contains(&k.kind));
    keys.sort();
    keys.dedup();
    keys
}

/// Another live record of the tenant sharing a phone, email or company name with `model`,
/// oldest first. Concurrent writers of the same value are serialised first (on PostgreSQL
/// by transaction-scoped advisory locks; SQLite writes are serial anyway), so two creates
/// of one new customer cannot both miss each other.
pub async fn find_duplicate<R: Resource>(
    txn: &DatabaseTransaction,
    tenant_id: &str,
    model: &R::Model,
) -> Result<Option<(String, IndexKey)>, Error> {
    let keys = duplicate_keys::<R>(model);
    if keys.is_empty() {
        return Ok(None);
    }
    let lock_names: Vec<String> = keys
        .iter()
        .map(|k| format!("{tenant_id}/{}/{}/{}", R::KIND, k.kind, k.value))
        .collect();
    crm_platform::db::lock_keys(txn, &lock_names).await?;
    let mut any = Condition::any();
    for key in &keys {
        any = any.add(
            Condition::all()
                .add(Column::KeyKind.eq(key.kind))
                .add(Column::KeyValue.eq(key.value.as_str())),
        );
    }
    let found = Entity::find()
        .filter(Column::TenantId.eq(tenant_id))
        .filter(Column::RecordKind.eq(R::KIND))
        .filter(Column::RecordId.ne(R::stamps(model).id))
        .filter(any)
        .order_by_asc(Column::RecordId)
        .one(txn)
        .await?;
    Ok(found.and_then(|row| {
        let kind = R::DUPLICATE_KINDS.iter().find(|k| **k == row.key_kind)?;
        Some((row.record_id, IndexKey::new(kind, row.key_value)))
    }))
}

/// The live records of the tenant holding any of `keys` (duplicate-detection keys of many new
/// rows), by key, the oldest holder of each. The keys are locked first, all in one sorted
/// statement, so concurrent imports of overlapping rows serialise without deadlocking.
pub async fn holders<R: Resource>(
    txn: &DatabaseTransaction,
    tenant_id: &str,
    keys: &[IndexKey],
) -> Result<std::collections::HashMap<IndexKey, String>, Error> {
    let mut found = std::collections::HashMap::new();
    if keys.is_empty() {
        return Ok(found);
    }
    let lock_names: Vec<String> = keys
        .iter()
        .map(|k| format!("{tenant_id}/{}/{}/{}", R::KIND, k.kind, k.value))
        .collect();
    crm_platform::db::lock_keys(txn, &lock_names).await?;
    // By kind, so the lookup walks the (tenant, kind, key kind, value) index.
    for kind in R::DUPLICATE_KINDS {
        let values: Vec<&str> = keys
            .iter()
            .filter(|k| k.kind == *kind)
            .map(|k| k.value.as_str())
            .collect();
        for chunk in values.chunks(1000) {
            let rows = Entity::find()
                .filter(Column::TenantId.eq(tenant_id))
                .filter(Column::RecordKind.eq(R::KIND))
                .filter(Column::KeyKind.eq(*kind))
                .filter(Column::KeyValue.is_in(chunk.iter().copied()))
                .order_by_asc(Column::RecordId)
                .all(txn)
                .await?;
            for row in rows {
                found
                    .entry(IndexKey::new(kind, row.key_value))
                    .or_insert(row.record_id);
            }
        }
    }
    Ok(found)
}

/// The record a new one would duplicate, as the writer may learn of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Existing {
    /// The writer can see it: named by id, so a client can open it.
    Visible(String),
    /// Outside the writer's reach: its id is never named; its owner only when the tenant's
    /// ownership rules say so.
    Hidden {
        /// The owner, when disclosed.
        owner_id: Option<String>,
    },
}

/// The refusal of a write that would duplicate an existing record: `ALREADY_EXISTS` with
/// reason `DUPLICATE_RECORD` and the shared value, so two reps do not chase one customer.
pub fn duplicate_error<R: Resource>(existing: Existing, key: IndexKey) -> Error {
    let kind = R::KIND;
    let mut metadata: std::collections::HashMap<String, String> = [
        ("matched_field".to_owned(), key.kind.to_owned()),
        ("matched_value".to_owned(), key.value.clone()),
    ]
    .into();
    let whose = match existing {
        Existing::Visible(id) => {
            metadata.insert("duplicate_id".to_owned(), id);
            format!("another {kind}")
        }
        Existing::Hidden {
            owner_id: Some(owner),
        } => {
            metadata.insert("owner_id".to_owned(), owner);
            format!("a {kind} of another owner")
        }
        Existing::Hidden { owner_id: None } => format!("a {kind} outside your reach"),
    };
    Error::AlreadyExists {
        reason: "DUPLICATE_RECORD",
        message: if R::KEYS_UNIQUE {
            format!("{whose} has the same {}: {}", key.kind, key.value)
        } else {
            format!(
                "{whose} has the same {}: {}; set allow_duplicates to save anyway",
                key.kind, key.value
            )
        },
        metadata,
    }
}

/// The owners of records `ids` of the tenant, by id.
pub async fn owners<R: Resource>(
    txn: &DatabaseTransaction,
    tenant_id: &str,
    ids: &[String],
) -> Result<std::collections::HashMap<String, String>, Error> {
    let columns = R::columns();
    let mut owners = std::collections::HashMap::new();
    for chunk in ids.chunks(1000) {
        let rows: Vec<(String, String)> = R::Entity::find()
            .select_only()
            .column(columns.id)
            .column(columns.owner_id)
            .filter(columns.tenant_id.eq(tenant_id))
            .filter(columns.id.is_in(chunk.iter().map(String::as_str)))
            .into_tuple()
            .all(txn)
            .await?;
        owners.extend(rows);
    }
    Ok(owners)
}

/// How the writer may learn of the existing record `id`: by id when it can see it, else by
/// owner if the tenant's rules disclose owners, else not at all.
pub async fn as_seen_by<R: Resource>(
    txn: &DatabaseTransaction,
    principal: &Principal,
    id: &str,
) -> Result<Existing, Error> {
    let columns = R::columns();
    let row = R::Entity::find()
        .filter(columns.tenant_id.eq(principal.tenant_id.as_str()))
        .filter(columns.id.eq(id))
        .one(txn)
        .await?
        .ok_or_else(|| Error::internal("a duplicate key names a missing record"))?;
    let owner = R::stamps(&row).owner_id;
    if crate::resource::reaches::<R>(principal, &owner) {
        return Ok(Existing::Visible(id.to_owned()));
    }
    let disclose = R::discloses_duplicate_owner(txn, &principal.tenant_id).await?;
    Ok(Existing::Hidden {
        owner_id: disclose.then_some(owner),
    })
}

/// Counts a tenant's records carrying a label (a group's members, before it is deleted).
pub async fn count_label<C: ConnectionTrait>(
    db: &C,
    tenant_id: &str,
    kind: &str,
    value: &str,
) -> Result<u64, Error> {
    let count: Option<i64> = Entity::find()
        .select_only()
        .expr(Expr::col(Column::RecordId).count())
        .filter(Column::TenantId.eq(tenant_id))
        .filter(Column::KeyKind.eq(kind))
        .filter(Column::KeyValue.eq(value))
        .into_tuple()
        .one(db)
        .await?;
    Ok(u64::try_from(count.unwrap_or(0)).unwrap_or(0))
}
