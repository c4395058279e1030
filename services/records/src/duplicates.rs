//! Sets of live records that share a normalised duplicate key (phone, email, company name, a
//! code), read from the record index and limited to what the caller may see.

use sea_orm::sea_query::{Expr, ExprTrait as _};
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
};

use crate::entity::record_index::{Column, Entity};
use crate::resource::Resource;
use crate::store;
use crm_platform::auth::Principal;
use crm_platform::error::Error;
use crm_platform::paging::{Cursor, SortKey, split_page};
use crm_proto::common::DuplicateSet;

/// One page of duplicate sets in (field, value) order, and the cursor of the next page.
pub async fn find_sets<R: Resource, C: ConnectionTrait>(
    db: &C,
    principal: &Principal,
    limit: u64,
    cursor: Option<Cursor>,
) -> Result<(Vec<DuplicateSet>, Option<Cursor>), Error> {
    let tenant = principal.tenant_id.as_str();
    let base = || {
        Entity::find()
            .filter(Column::TenantId.eq(tenant))
            .filter(Column::RecordKind.eq(R::KIND))
            .filter(Column::RecordId.in_subquery(store::visible_ids::<R>(principal)))
    };
    let mut keys = base()
        .select_only()
        .column(Column::KeyKind)
        .column(Column::KeyValue)
        .filter(Column::KeyKind.is_in(R::DUPLICATE_KINDS.iter().copied()))
        .group_by(Column::KeyKind)
        .group_by(Column::KeyValue)
        .having(Expr::col(Column::RecordId).count().gt(1))
        .order_by_asc(Column::KeyKind)
        .order_by_asc(Column::KeyValue)
        .limit(limit + 1);
    if let Some(cursor) = &cursor {
        let SortKey::Text(value) = &cursor.key else {
            return Err(Error::invalid(
                "page_token",
                "is not a duplicates page token",
            ));
        };
        keys = keys.filter(
            Condition::any()
                .add(Column::KeyKind.gt(cursor.id.as_str()))
                .add(
                    Condition::all()
                        .add(Column::KeyKind.eq(cursor.id.as_str()))
                        .add(Column::KeyValue.gt(value.as_str())),
                ),
        );
    }
    let keys: Vec<(String, String)> = keys.into_tuple().all(db).await?;
    let (keys, next) = split_page(keys, limit, |(kind, value)| Cursor {
        key: SortKey::Text(value.clone()),
        id: kind.clone(),
    });
    if keys.is_empty() {
        return Ok((Vec::new(), next));
    }
    let mut any = Condition::any();
    for (kind, value) in &keys {
        any = any.add(
            Condition::all()
                .add(Column::KeyKind.eq(kind.as_str()))
                .add(Column::KeyValue.eq(value.as_str())),
        );
    }
    let members = base()
        .filter(any)
        .order_by_asc(Column::RecordId)
        .all(db)
        .await?;
    let sets = keys
        .into_iter()
        .map(|(kind, value)| DuplicateSet {
            ids: members
                .iter()
                .filter(|m| m.key_kind == kind && m.key_value == value)
                .map(|m| m.record_id.clone())
                .collect(),
            matched_field: kind,
            matched_value: value,
        })
        .collect();
    Ok((sets, next))
}
