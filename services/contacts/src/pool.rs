//! The tenant's shared customer pool. A pooled record has no owner (`owner_id` is empty), so
//! no rep's scope reaches it; reps see the pool through `ListPool` and take customers with
//! `ClaimFromPool`, where the first claim wins. A tenant rule returns customers nobody has
//! been in touch with for N days, and another caps how many one rep may own.

use crm_platform::clock;
use sea_orm::sea_query::Query;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, IntoActiveModel, PaginatorTrait,
    QueryFilter, QuerySelect,
};

use crate::entity::{interaction, pool_rule};
use crate::handlers::{Handlers, Idempotency, refuse_deleted};
use crate::interactions;
use crate::resource::{Action, Resource, Stamps};
use crm_platform::audit;
use crm_platform::auth::{DataScope, Principal};
use crm_platform::error::Error;
use crm_platform::idempotency::{RequestKey, mutate};
use crm_proto::contacts::PoolRules;

/// Permission to see the pool and claim from it.
pub const USE: &str = "contacts.pool.use";
/// Permission to set the pool's rules.
pub const ADMIN: &str = "contacts.pool.admin";
/// The owner of a pooled record: nobody.
pub const NO_OWNER: &str = "";
/// Most customers one sweep returns per tenant and type; the rest wait for the next sweep.
const SWEEP_BATCH: u64 = 500;

/// A principal whose scope is exactly the pool of `principal`'s tenant.
pub fn pool_view(principal: &Principal) -> Principal {
    Principal {
        user_id: NO_OWNER.to_owned(),
        scope: DataScope::Own,
        team_member_ids: Vec::new(),
        ..principal.clone()
    }
}

/// The rules of one tenant and type; zeros when never set.
pub async fn rules<C: ConnectionTrait>(
    db: &C,
    tenant_id: &str,
    kind: &str,
) -> Result<PoolRules, Error> {
    let row = pool_rule::Entity::find_by_id((tenant_id.to_owned(), kind.to_owned()))
        .one(db)
        .await?;
    Ok(PoolRules {
        resource_type: kind.to_owned(),
        return_after_days: row.as_ref().map_or(0, |r| r.return_after_days),
        max_owned_per_rep: row.as_ref().map_or(0, |r| r.max_owned_per_rep),
        disclose_duplicate_owner: row.as_ref().is_some_and(|r| r.disclose_duplicate_owner),
    })
}

impl Handlers {
    /// Gives records up to the pool; their open follow-ups are cancelled.
    pub async fn release<R: Resource, M: prost::Message>(
        &self,
        principal: &Principal,
        idem: Idempotency<'_, M>,
        ids: &[String],
        reason: &str,
    ) -> Result<i32, Error> {
        principal.require(R::WRITE)?;
        let key = RequestKey::new(principal, idem.method, idem.request_id, idem.request)?;
        let ids = crate::bulk::batch_ids(ids)?;
        if reason.chars().count() > 500 {
            return Err(Error::invalid("reason", "must be at most 500 characters"));
        }
        let released = mutate(&self.db, key.as_ref(), |txn| async move {
            let mut released = Vec::new();
            for id in &ids {
                let current = crate::store::find::<R, _>(&txn, principal, id).await?;
                let stamps = R::stamps(&current);
                refuse_deleted::<R>(&stamps)?;
                if stamps.owner_id == NO_OWNER {
                    continue;
                }
                let mut next = current.clone();
                R::set_stamps(
                    &mut next,
                    Stamps {
                        owner_id: NO_OWNER.to_owned(),
                        ..stamps.clone()
                    },
                );
                self.save_change::<R>(&txn, principal, &current, next, Action::Update, &[])
                    .await?;
                interactions::cancel_open_follow_ups(&txn, &principal.tenant_id, (R::KIND, id))
                    .await?;
                let why = audit::Change {
                    field: "reason".to_owned(),
                    before: String::new(),
                    after: reason.trim().to_owned(),
                };
                audit::record(&txn, principal, R::KIND, id, "release", &[why]).await?;
                released.push(id.clone());
            }
            Ok((txn, crate::bulk::Changed { ids: released }))
        })
        .await?;
        for id in &released.ids {
            self.after_write::<R>(principal, id).await;
        }
        Ok(released.ids.len() as i32)
    }

    /// Takes a record from the pool for the caller. Of two concurrent claims one wins; the
    /// other is refused with `FAILED_PRECONDITION` (`ALREADY_CLAIMED`).
    pub async fn claim<R: Resource, M: prost::Message, Resp: prost::Message + Default>(
        &self,
        principal: &Principal,
        idem: Idempotency<'_, M>,
        id: &str,
        wrap: fn(R::Proto) -> Resp,
    ) -> Result<Resp, Error> {
        principal.require(USE)?;
        principal.require(R::WRITE)?;
        let key = RequestKey::new(principal, idem.method, idem.request_id, idem.request)?;
        if id.is_empty() {
            return Err(Error::invalid("id", "is required"));
        }
        let claimed = || {
            Error::precondition(
                "ALREADY_CLAIMED",
                format!("{} {id} is no longer in the pool", R::KIND),
            )
        };
        let response = mutate(&self.db, key.as_ref(), |txn| async move {
            let pool = pool_view(principal);
            // Not in the pool: "already claimed" only for a record the caller can see, or
            // one that was in the pool, where every pool user saw it; any other id answers
            // exactly like an unknown one.
            let current = match crate::store::find::<R, _>(&txn, &pool, id).await {
                Ok(row) => row,
                Err(Error::NotFound { .. }) => {
                    let visible = crate::store::find::<R, _>(&txn, principal, id)
                        .await
                        .is_ok();
                    if visible || was_in_pool::<R, _>(&txn, &principal.tenant_id, id).await? {
                        return Err(claimed());
                    }
                    return Err(Error::not_found(R::KIND, id));
                }
                Err(e) => return Err(e),
            };
            let stamps = R::stamps(&current);
            refuse_deleted::<R>(&stamps)?;
            let limit = rules(&txn, &principal.tenant_id, R::KIND)
                .await?
                .max_owned_per_rep;
            if limit > 0 {
                // Two claims by one rep must not both pass the count.
                let lock = format!(
                    "{}/{}/claims/{}",
                    principal.tenant_id,
                    R::KIND,
                    principal.user_id
                );
                crm_platform::db::lock_keys(&txn, &[lock]).await?;
                let owned =
                    owned_count::<R, _>(&txn, &principal.tenant_id, &principal.user_id).await?;
                if owned >= limit as u64 {
                    return Err(Error::precondition(
                        "CLAIM_LIMIT_REACHED",
                        format!("you own {owned} {}s; the limit is {limit}", R::KIND),
                    ));
                }
            }
            let mut next = current.clone();
            R::set_stamps(
                &mut next,
                Stamps {
                    owner_id: principal.user_id.clone(),
                    ..stamps.clone()
                },
            );
            let proto = self
                .save_change::<R>(&txn, principal, &current, next, Action::Update, &[])
                .await
                .map_err(|e| match e {
                    Error::StaleEtag { .. } => claimed(),
                    other => other,
                })?;
            audit::record(&txn, principal, R::KIND, id, "claim", &[]).await?;
            Ok((txn, wrap(proto)))
        })
        .await?;
        self.after_write::<R>(principal, id).await;
        Ok(response)
    }

    /// Sets a tenant's rules for one type.
    pub async fn set_pool_rules(
        &self,
        principal: &Principal,
        kind: &'static str,
        input: &PoolRules,
    ) -> Result<PoolRules, Error> {
        principal.require(ADMIN)?;
        let mut v = crm_platform::validate::Violations::new();
        if !(0..=3650).contains(&input.return_after_days) {
            v.add("rules.return_after_days", "must be 0 (never) to 3650 days");
        }
        if !(0..=1_000_000).contains(&input.max_owned_per_rep) {
            v.add(
                "rules.max_owned_per_rep",
                "must be 0 (no limit) to 1,000,000",
            );
        }
        v.finish()?;
        let txn = crm_platform::db::begin_write(&self.db).await?;
        let before = rules(&txn, &principal.tenant_id, kind).await?;
        let wanted = PoolRules {
            resource_type: kind.to_owned(),
            ..input.clone()
        };
        // Setting the rules they already are changes nothing, so a retry writes nothing.
        if before == wanted {
            return Ok(before);
        }
        pool_rule::Entity::delete_by_id((principal.tenant_id.clone(), kind.to_owned()))
            .exec(&txn)
            .await?;
        pool_rule::Model {
            tenant_id: principal.tenant_id.clone(),
            resource_kind: kind.to_owned(),
            return_after_days: input.return_after_days,
            max_owned_per_rep: input.max_owned_per_rep,
            disclose_duplicate_owner: input.disclose_duplicate_owner,
            update_time: clock::now_micros(),
        }
        .into_active_model()
        .insert(&txn)
        .await?;
        let describe = |r: &PoolRules| {
            vec![
                ("return_after_days", r.return_after_days.to_string()),
                ("max_owned_per_rep", r.max_owned_per_rep.to_string()),
                (
                    "disclose_duplicate_owner",
                    r.disclose_duplicate_owner.to_string(),
                ),
            ]
        };
        let after = rules(&txn, &principal.tenant_id, kind).await?;
        let changes = audit::diff(&describe(&before), &describe(&after));
        audit::record(&txn, principal, "pool_rules", kind, "update", &changes).await?;
        txn.commit().await?;
        Ok(after)
    }

    /// Returns to the pool the customers of every tenant whose owner has recorded no
    /// interaction for the tenant's `return_after_days`, counted from the later of the
    /// owner's taking it and its last interaction. Returns how many went back.
    pub async fn return_idle<R: Resource>(&self, now: i64) -> Result<u64, Error> {
        let tenants = pool_rule::Entity::find()
            .filter(pool_rule::Column::ResourceKind.eq(R::KIND))
            .filter(pool_rule::Column::ReturnAfterDays.gt(0))
            .all(&self.db)
            .await?;
        let mut returned = 0;
        for rule in tenants {
            let cutoff = now - i64::from(rule.return_after_days) * 86_400_000_000;
            let recent = Query::select()
                .column(interaction::Column::SubjectId)
                .from(interaction::Entity)
                .and_where(interaction::Column::TenantId.eq(rule.tenant_id.as_str()))
                .and_where(interaction::Column::SubjectKind.eq(R::KIND))
                .and_where(interaction::Column::OccurTime.gte(cutoff))
                .to_owned();
            let columns = R::columns();
            let idle = R::Entity::find()
                .filter(columns.tenant_id.eq(rule.tenant_id.as_str()))
                .filter(columns.owner_id.ne(NO_OWNER))
                .filter(columns.delete_time.is_null())
                .filter(columns.owner_since.lt(cutoff))
                .filter(columns.id.not_in_subquery(recent))
                .limit(SWEEP_BATCH)
                .all(&self.db)
                .await?;
            if idle.is_empty() {
                continue;
            }
            let system = crate::jobs::system_principal(&rule.tenant_id);
            let txn = crm_platform::db::begin_write(&self.db).await?;
            let mut moved = Vec::new();
            for current in idle {
                let stamps = R::stamps(&current);
                let mut next = current.clone();
                R::set_stamps(
                    &mut next,
                    Stamps {
                        owner_id: NO_OWNER.to_owned(),
                        ..stamps.clone()
                    },
                );
                // A concurrent edit wins; the customer is looked at again next sweep.
                match self
                    .save_change::<R>(&txn, &system, &current, next, Action::Update, &[])
                    .await
                {
                    Ok(_) => {}
                    Err(Error::StaleEtag { .. }) => continue,
                    Err(e) => return Err(e),
                }
                interactions::cancel_open_follow_ups(&txn, &rule.tenant_id, (R::KIND, &stamps.id))
                    .await?;
                let why = audit::Change {
                    field: "reason".to_owned(),
                    before: String::new(),
                    after: format!("no interaction for {} days", rule.return_after_days),
                };
                audit::record(&txn, &system, R::KIND, &stamps.id, "release", &[why]).await?;
                moved.push(stamps.id);
            }
            txn.commit().await?;
            for id in &moved {
                self.after_write::<R>(&system, id).await;
            }
            returned += moved.len() as u64;
        }
        Ok(returned)
    }
}

/// Tells whether a record was ever released to the pool (its history says so).
async fn was_in_pool<R: Resource, C: ConnectionTrait>(
    db: &C,
    tenant_id: &str,
    id: &str,
) -> Result<bool, Error> {
    use crm_platform::entity::audit_log;
    let released = audit_log::Entity::find()
        .filter(audit_log::Column::TenantId.eq(tenant_id))
        .filter(audit_log::Column::ResourceType.eq(R::KIND))
        .filter(audit_log::Column::ResourceId.eq(id))
        .filter(audit_log::Column::Action.eq("release"))
        .count(db)
        .await?;
    Ok(released > 0)
}

/// Live records a user owns.
async fn owned_count<R: Resource, C: ConnectionTrait>(
    db: &C,
    tenant_id: &str,
    owner_id: &str,
) -> Result<u64, Error> {
    let columns = R::columns();
    Ok(R::Entity::find()
        .filter(columns.tenant_id.eq(tenant_id))
        .filter(columns.owner_id.eq(owner_id))
        .filter(columns.delete_time.is_null())
        .count(db)
        .await?)
}
