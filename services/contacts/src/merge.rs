//! References a merge moves inside this service. Other services repoint theirs when they
//! receive the `*_MERGED` event, which names the merged ids.

use crm_platform::clock;
use sea_orm::sea_query::{Expr, ExprTrait as _};
use sea_orm::{ColumnTrait, DatabaseTransaction, EntityTrait, QueryFilter, QuerySelect};

use crate::entity::{account, contact};
use crate::fields;
use crate::handlers::{Handlers, Idempotency, check_links, current, refuse_deleted};
use crate::index;
use crate::interactions;
use crate::resource::{Action, Repointed, Resource, Stamps};
use crate::store;
use crm_platform::audit;
use crm_platform::auth::Principal;
use crm_platform::error::Error;
use crm_platform::etag;
use crm_platform::idempotency::{RequestKey, mutate};
use crm_platform::validate::Violations;

/// Moves every reference to account `from_id` onto `to_id`: contacts' account and linked
/// accounts, and subsidiaries' parent. Each moved row gets a new version.
pub async fn repoint_account(
    txn: &DatabaseTransaction,
    tenant_id: &str,
    from_id: &str,
    to_id: &str,
) -> Result<Vec<Repointed>, Error> {
    let now = clock::now_micros();
    let mut moved = Vec::new();

    let staff: Vec<String> = contact::Entity::find()
        .select_only()
        .column(contact::Column::Id)
        .filter(contact::Column::TenantId.eq(tenant_id))
        .filter(contact::Column::AccountId.eq(from_id))
        .into_tuple()
        .all(txn)
        .await?;
    if !staff.is_empty() {
        contact::Entity::update_many()
            .col_expr(contact::Column::AccountId, Expr::value(to_id))
            .col_expr(
                contact::Column::Version,
                Expr::col(contact::Column::Version).add(1),
            )
            .col_expr(contact::Column::UpdateTime, Expr::value(now))
            .filter(contact::Column::TenantId.eq(tenant_id))
            .filter(contact::Column::AccountId.eq(from_id))
            .exec(txn)
            .await?;
        moved.extend(staff.into_iter().map(|id| Repointed {
            kind: "contact",
            id,
            field: "account_id",
        }));
    }

    // Linked accounts live in a JSON list; the quoted id cannot match inside another id.
    let linked = contact::Entity::find()
        .filter(contact::Column::TenantId.eq(tenant_id))
        .filter(contact::Column::RelatedAccountIds.contains(format!("\"{from_id}\"")))
        .all(txn)
        .await?;
    for row in linked {
        let mut ids: Vec<String> = fields::from_json(&row.related_account_ids);
        ids.retain(|id| id != from_id);
        if row.account_id != to_id && !ids.iter().any(|id| id == to_id) {
            ids.push(to_id.to_owned());
        }
        contact::Entity::update_many()
            .col_expr(
                contact::Column::RelatedAccountIds,
                Expr::value(fields::to_json(&ids)),
            )
            .col_expr(
                contact::Column::Version,
                Expr::col(contact::Column::Version).add(1),
            )
            .col_expr(contact::Column::UpdateTime, Expr::value(now))
            .filter(contact::Column::Id.eq(row.id.as_str()))
            .exec(txn)
            .await?;
        moved.push(Repointed {
            kind: "contact",
            id: row.id,
            field: "related_account_ids",
        });
    }

    let subsidiaries: Vec<String> = account::Entity::find()
        .select_only()
        .column(account::Column::Id)
        .filter(account::Column::TenantId.eq(tenant_id))
        .filter(account::Column::ParentId.eq(from_id))
        .filter(account::Column::Id.ne(to_id))
        .into_tuple()
        .all(txn)
        .await?;
    if !subsidiaries.is_empty() {
        account::Entity::update_many()
            .col_expr(account::Column::ParentId, Expr::value(to_id))
            .col_expr(
                account::Column::Version,
                Expr::col(account::Column::Version).add(1),
            )
            .col_expr(account::Column::UpdateTime, Expr::value(now))
            .filter(account::Column::TenantId.eq(tenant_id))
            .filter(account::Column::ParentId.eq(from_id))
            .filter(account::Column::Id.ne(to_id))
            .exec(txn)
            .await?;
        moved.extend(subsidiaries.into_iter().map(|id| Repointed {
            kind: "account",
            id,
            field: "parent_id",
        }));
    }
    Ok(moved)
}

impl Handlers {
    /// Folds `merged_ids` into `survivor_id`: the survivor's empty fields are filled, labels
    /// united, references moved; each merged record is deleted with `merged_into_id` set. One
    /// `*_MERGED` event names them all. A concurrent change to any of the records makes the
    /// whole merge fail with ABORTED.
    pub async fn merge<R: Resource, M: prost::Message, Resp: prost::Message + Default>(
        &self,
        principal: &Principal,
        idem: Idempotency<'_, M>,
        (survivor_id, survivor_etag, merged_ids): (&str, &str, &[String]),
        wrap: fn(R::Proto) -> Resp,
    ) -> Result<Resp, Error> {
        principal.require(R::WRITE)?;
        principal.require(R::MERGE)?;
        let key = RequestKey::new(principal, idem.method, idem.request_id, idem.request)?;
        if survivor_id.is_empty() {
            return Err(Error::invalid("survivor_id", "is required"));
        }
        let expected = etag::parse("survivor_etag", survivor_etag)?;
        let mut v = Violations::new();
        let merged = fields::ids(&mut v, "merged_ids", merged_ids);
        if merged.is_empty() || merged.len() > MAX_MERGED {
            v.add("merged_ids", format!("name 1 to {MAX_MERGED} records"));
        }
        if merged.iter().any(|id| id == survivor_id) {
            v.add("merged_ids", "must not include the survivor");
        }
        v.finish()?;
        let (response, touched) = mutate(&self.db, key.as_ref(), |txn| async move {
            let (survivor, stamps) = current::<R>(&txn, principal, survivor_id, expected).await?;
            refuse_deleted::<R>(&stamps)?;
            let mut next = survivor.clone();
            let mut labels = R::labels(&survivor);
            let mut touched = Vec::new();
            for id in &merged {
                let row = store::find::<R, _>(&txn, principal, id).await?;
                let row_stamps = R::stamps(&row);
                if row_stamps.delete_time.is_some() {
                    return Err(Error::precondition(
                        "RESOURCE_DELETED",
                        format!("{} {id} is deleted or already merged", R::KIND),
                    ));
                }
                R::absorb(&mut next, &row);
                let extra = R::labels(&row);
                for tag in extra.tags {
                    if !labels
                        .tags
                        .iter()
                        .any(|t| t.to_lowercase() == tag.to_lowercase())
                    {
                        labels.tags.push(tag);
                    }
                }
                for group in extra.group_ids {
                    if !labels.group_ids.contains(&group) {
                        labels.group_ids.push(group);
                    }
                }
                let mut gone = row.clone();
                R::set_merged_into(&mut gone, survivor_id);
                R::release_on_merge(&mut gone);
                R::set_stamps(
                    &mut gone,
                    Stamps {
                        delete_time: Some(clock::now_micros()),
                        ..row_stamps.clone()
                    },
                );
                let version = row_stamps.version;
                let gone_stamps = R::stamps(&gone);
                R::set_stamps(
                    &mut gone,
                    Stamps {
                        version: version + 1,
                        update_time: clock::now_micros(),
                        ..gone_stamps
                    },
                );
                store::compare_and_set::<R, _>(&txn, &principal.tenant_id, version, gone.clone())
                    .await?;
                index::sync::<R>(&txn, &principal.tenant_id, &gone).await?;
                let changes = audit::diff(&R::audit_fields(&row), &R::audit_fields(&gone));
                audit::record(&txn, principal, R::KIND, id, "merged", &changes).await?;
                touched.push(Repointed {
                    kind: R::KIND,
                    id: id.clone(),
                    field: "merged_into_id",
                });
                interactions::repoint(&txn, &principal.tenant_id, R::KIND, id, survivor_id).await?;
                for moved in R::repoint(&txn, &principal.tenant_id, id, survivor_id).await? {
                    let change = audit::Change {
                        field: moved.field.to_owned(),
                        before: id.clone(),
                        after: survivor_id.to_owned(),
                    };
                    audit::record(&txn, principal, moved.kind, &moved.id, "repoint", &[change])
                        .await?;
                    touched.push(moved);
                }
            }
            if labels.tags.len() > fields::MAX_TAGS {
                labels.tags.truncate(fields::MAX_TAGS);
            }
            R::set_labels(&mut next, &labels);
            check_links::<R>(&txn, principal, &next).await?;
            let proto = self
                .save_change::<R>(&txn, principal, &survivor, next, Action::Merge, &merged)
                .await?;
            Ok((
                txn,
                Merged {
                    response: wrap(proto).encode_to_vec(),
                    touched: touched
                        .into_iter()
                        .map(|t| format!("{}/{}", t.kind, t.id))
                        .collect(),
                },
            ))
        })
        .await
        .and_then(|m| {
            let response = Resp::decode(m.response.as_slice()).map_err(Error::internal)?;
            Ok((response, m.touched))
        })?;
        self.after_write::<R>(principal, survivor_id).await;
        for entry in touched {
            if let Some((kind, id)) = entry.split_once('/') {
                self.forget(&principal.tenant_id, kind, id).await;
            }
        }
        Ok(response)
    }
}

/// Most records one merge folds into a survivor.
const MAX_MERGED: usize = 10;

/// A merge's response and the records whose cached copies it made stale, stored together as
/// the replayable result of its request id.
#[derive(Clone, PartialEq, prost::Message)]
struct Merged {
    #[prost(bytes = "vec", tag = "1")]
    response: Vec<u8>,
    #[prost(string, repeated, tag = "2")]
    touched: Vec<String>,
}
