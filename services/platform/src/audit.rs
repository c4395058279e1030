//! The audit trail: who changed what, when, from which client, with field-level before and
//! after. Entries are written in the mutation's transaction, so no change goes unrecorded.

use crate::clock;
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect,
};
use serde::{Deserialize, Serialize};

use crate::auth::Principal;
use crate::entity::audit_log;
use crate::error::Error;
use crate::paging::{self, Cursor, PageTokens, id_cursor, split_page};
use crate::time::to_timestamp;
use crm_proto::common::{AuditEntry, FieldChange};

/// A field's value before and after a change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Change {
    /// Field path.
    pub field: String,
    /// Value before, as text.
    pub before: String,
    /// Value after, as text.
    pub after: String,
}

/// An enum number's name for audit entries (empty when unset), or the number when it is not
/// defined.
pub fn enum_name<E: TryFrom<i32> + std::fmt::Debug>(value: i32) -> String {
    match E::try_from(value) {
        Ok(e) if value != 0 => format!("{e:?}"),
        Ok(_) => String::new(),
        Err(_) => value.to_string(),
    }
}

/// Returns the fields whose values differ between two snapshots of the same fields.
pub fn diff(before: &[(&str, String)], after: &[(&str, String)]) -> Vec<Change> {
    before
        .iter()
        .zip(after)
        .filter(|((_, old), (_, new))| old != new)
        .map(|((field, old), (_, new))| Change {
            field: (*field).to_owned(),
            before: old.clone(),
            after: new.clone(),
        })
        .collect()
}

/// The changes of a creation: every non-empty field, from nothing.
pub fn created(after: &[(&str, String)]) -> Vec<Change> {
    let before: Vec<(&str, String)> = after.iter().map(|(f, _)| (*f, String::new())).collect();
    diff(&before, after)
}

/// One audit entry to write.
#[derive(Debug, Clone)]
pub struct Entry<'a> {
    /// Resource type.
    pub resource_type: &'a str,
    /// Resource id.
    pub resource_id: &'a str,
    /// What was done.
    pub action: &'a str,
    /// The fields it changed.
    pub changes: Vec<Change>,
}

/// Writes one audit entry inside the caller's transaction.
pub async fn record<C: ConnectionTrait>(
    db: &C,
    principal: &Principal,
    resource_type: &str,
    resource_id: &str,
    action: &str,
    changes: &[Change],
) -> Result<(), Error> {
    let entry = Entry {
        resource_type,
        resource_id,
        action,
        changes: changes.to_vec(),
    };
    record_many(db, principal, vec![entry]).await
}

/// Writes many audit entries of one principal in few statements (imports).
pub async fn record_many<C: ConnectionTrait>(
    db: &C,
    principal: &Principal,
    entries: Vec<Entry<'_>>,
) -> Result<(), Error> {
    // Nine columns a row: well within PostgreSQL's 65,535 parameters a statement.
    for chunk in crate::db::fixed_chunks(&entries, 512) {
        let mut rows = Vec::with_capacity(chunk.len());
        for entry in chunk {
            rows.push(audit_log::ActiveModel {
                id: Set(uuid::Uuid::now_v7().to_string()),
                tenant_id: Set(principal.tenant_id.clone()),
                resource_type: Set(entry.resource_type.to_owned()),
                resource_id: Set(entry.resource_id.to_owned()),
                action: Set(entry.action.to_owned()),
                actor_id: Set(principal.user_id.clone()),
                client: Set(principal.client.clone()),
                changes: Set(serde_json::to_string(&entry.changes).map_err(Error::internal)?),
                create_time: Set(clock::now_micros()),
            });
        }
        audit_log::Entity::insert_many(rows).exec(db).await?;
    }
    Ok(())
}

/// Empties the recorded changes of one resource's entries (who did what, and when, stays):
/// erasing personal data must not leave it in the history.
pub async fn redact<C: ConnectionTrait>(
    db: &C,
    tenant_id: &str,
    resource_type: &str,
    resource_id: &str,
) -> Result<u64, Error> {
    redact_all(db, tenant_id, resource_type, &[resource_id.to_owned()]).await
}

/// [`redact`] for many resources of one type.
pub async fn redact_all<C: ConnectionTrait>(
    db: &C,
    tenant_id: &str,
    resource_type: &str,
    resource_ids: &[String],
) -> Result<u64, Error> {
    use sea_orm::{ColumnTrait as _, QueryFilter as _};
    let mut redacted = 0;
    for ids in resource_ids.chunks(500) {
        let result = audit_log::Entity::update_many()
            .col_expr(
                audit_log::Column::Changes,
                sea_orm::sea_query::Expr::value("[]"),
            )
            .filter(audit_log::Column::TenantId.eq(tenant_id))
            .filter(audit_log::Column::ResourceType.eq(resource_type))
            .filter(audit_log::Column::ResourceId.is_in(ids.to_vec()))
            .exec(db)
            .await?;
        redacted += result.rows_affected;
    }
    Ok(redacted)
}

/// Lists one resource's entries, newest first, starting after `cursor`.
pub async fn list<C: ConnectionTrait>(
    db: &C,
    tenant_id: &str,
    resource_type: &str,
    resource_id: &str,
    cursor: Option<Cursor>,
    limit: u64,
) -> Result<(Vec<AuditEntry>, Option<Cursor>), Error> {
    let mut query = audit_log::Entity::find()
        .filter(audit_log::Column::TenantId.eq(tenant_id))
        .filter(audit_log::Column::ResourceType.eq(resource_type))
        .filter(audit_log::Column::ResourceId.eq(resource_id));
    if let Some(cursor) = cursor {
        query = query.filter(audit_log::Column::Id.lt(cursor.id));
    }
    let rows = query
        .order_by_desc(audit_log::Column::Id)
        .limit(limit + 1)
        .all(db)
        .await?;
    let (rows, next) = split_page(rows, limit, |row| id_cursor(&row.id));
    let entries = rows
        .into_iter()
        .map(|row| {
            let changes: Vec<Change> = serde_json::from_str(&row.changes).unwrap_or_default();
            AuditEntry {
                id: row.id,
                resource_type: row.resource_type,
                resource_id: row.resource_id,
                action: row.action,
                actor_id: row.actor_id,
                client: row.client,
                changes: changes
                    .into_iter()
                    .map(|c| FieldChange {
                        field: c.field,
                        before: c.before,
                        after: c.after,
                    })
                    .collect(),
                create_time: Some(to_timestamp(row.create_time)),
            }
        })
        .collect();
    Ok((entries, next))
}

/// A page request for one record's history.
#[derive(Debug, Clone, Copy)]
pub struct HistoryPage<'a> {
    /// Resource type.
    pub resource_type: &'a str,
    /// Resource id.
    pub resource_id: &'a str,
    /// Requested page size.
    pub page_size: i32,
    /// Token from the previous page.
    pub page_token: &'a str,
}

/// Lists one record's history for the caller (page tokens bound to the caller and record);
/// returns the entries and the next page's token. The caller has already checked that the
/// principal may see the record.
pub async fn history<C: ConnectionTrait>(
    db: &C,
    pages: &PageTokens,
    principal: &Principal,
    request: HistoryPage<'_>,
    max_page_size: u64,
) -> Result<(Vec<AuditEntry>, String), Error> {
    let limit = paging::page_size(request.page_size, max_page_size)?;
    let binding = paging::binding(&[
        "audit",
        &principal.tenant_id,
        &principal.user_id,
        request.resource_type,
        request.resource_id,
    ]);
    let cursor = pages.read(request.page_token, &binding)?;
    let (entries, next) = list(
        db,
        &principal.tenant_id,
        request.resource_type,
        request.resource_id,
        cursor,
        limit,
    )
    .await?;
    let token = next.map(|c| pages.issue(c, &binding)).unwrap_or_default();
    Ok((entries, token))
}
