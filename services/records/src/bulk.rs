//! Changes to many records in one atomic call: tagging and grouping, and ownership
//! transfer. Each record is written like a single update (new version, record index, audit
//! entry, event), all in one transaction, so either every record changes or none does.

use crate::handlers::{Idempotency, Records, check_owner};
use crate::labels as fields;
use crate::resource::{Action, Labels, OwnerChange, Resource, Stamps};
use crate::store;
use crm_platform::auth::Principal;
use crm_platform::error::Error;
use crm_platform::idempotency::{RequestKey, mutate};
use crm_platform::validate::Violations;

/// Most records one batch call names.
pub const MAX_BATCH: usize = 1000;
/// Most records one "everything of this owner" transfer moves; more must go in batches of ids.
pub const MAX_TRANSFER: u64 = 10_000;

/// Labels to add and remove.
#[derive(Debug, Clone, Default)]
pub struct LabelChange {
    /// Tags to add.
    pub add_tags: Vec<String>,
    /// Tags to remove, matched ignoring case.
    pub remove_tags: Vec<String>,
    /// Groups to join.
    pub add_group_ids: Vec<String>,
    /// Groups to leave.
    pub remove_group_ids: Vec<String>,
}

impl LabelChange {
    /// The labels after the change; `None` when nothing changes.
    fn apply(&self, labels: &Labels) -> Option<Labels> {
        let mut next = labels.clone();
        let removed: Vec<String> = self.remove_tags.iter().map(|t| t.to_lowercase()).collect();
        next.tags.retain(|t| !removed.contains(&t.to_lowercase()));
        for tag in &self.add_tags {
            if !next
                .tags
                .iter()
                .any(|t| t.to_lowercase() == tag.to_lowercase())
            {
                next.tags.push(tag.clone());
            }
        }
        next.group_ids
            .retain(|g| !self.remove_group_ids.contains(g));
        for group in &self.add_group_ids {
            if !next.group_ids.contains(group) {
                next.group_ids.push(group.clone());
            }
        }
        (next != *labels).then_some(next)
    }
}

/// Checks a batch's ids: 1 to [`MAX_BATCH`], repeats dropped.
pub fn batch_ids(ids: &[String]) -> Result<Vec<String>, Error> {
    // The cap comes before any work on the ids, repeats included.
    if ids.len() > MAX_BATCH {
        return Err(Error::invalid(
            "ids",
            format!("at most {MAX_BATCH} records per call"),
        ));
    }
    if let Some(i) = ids.iter().position(|id| id.trim().is_empty()) {
        return Err(Error::invalid(format!("ids[{i}]"), "is empty"));
    }
    let out = fields::unique_ids(ids);
    if out.is_empty() {
        return Err(Error::invalid("ids", "name at least one record"));
    }
    Ok(out)
}

impl Records {
    /// Adds and removes tags and groups on every named record, atomically. Returns how many
    /// records changed.
    pub async fn modify_labels<R: Resource, M: prost::Message>(
        &self,
        principal: &Principal,
        idem: Idempotency<'_, M>,
        ids: &[String],
        change: LabelChange,
    ) -> Result<i32, Error> {
        principal.require(R::WRITE)?;
        let key = RequestKey::new(principal, idem.method, idem.request_id, idem.request)?;
        let ids = batch_ids(ids)?;
        let mut v = Violations::new();
        let change = LabelChange {
            add_tags: fields::tags(&mut v, "add_tags", &change.add_tags),
            remove_tags: fields::tags(&mut v, "remove_tags", &change.remove_tags),
            add_group_ids: fields::ids(&mut v, "add_group_ids", &change.add_group_ids),
            remove_group_ids: fields::ids(&mut v, "remove_group_ids", &change.remove_group_ids),
        };
        if change.add_tags.is_empty()
            && change.remove_tags.is_empty()
            && change.add_group_ids.is_empty()
            && change.remove_group_ids.is_empty()
        {
            v.add(
                "add_tags",
                "name at least one tag or group to add or remove",
            );
        }
        v.finish()?;
        let changed = mutate(&self.db, key.as_ref(), |txn| async move {
            R::check_groups(
                &txn,
                &principal.tenant_id,
                "add_group_ids",
                &change.add_group_ids,
            )
            .await?;
            let mut changed = Vec::new();
            for id in &ids {
                let current = store::find::<R, _>(&txn, principal, id).await?;
                crate::handlers::refuse_deleted::<R>(&R::stamps(&current))?;
                let Some(labels) = change.apply(&R::labels(&current)) else {
                    continue;
                };
                if labels.tags.len() > fields::MAX_TAGS {
                    return Err(Error::invalid(
                        "add_tags",
                        format!(
                            "{} `{id}` would have more than {} tags",
                            R::KIND,
                            fields::MAX_TAGS
                        ),
                    ));
                }
                let mut next = current.clone();
                R::set_labels(&mut next, &labels);
                self.save_change::<R>(&txn, principal, &current, next, Action::Update, &[])
                    .await?;
                changed.push(id.clone());
            }
            Ok((txn, Changed { ids: changed }))
        })
        .await?;
        for id in &changed.ids {
            self.after_write::<R>(principal, id).await;
        }
        Ok(changed.ids.len() as i32)
    }

    /// Moves records to `to_owner_id`: the named ones, or every live record of
    /// `from_owner_id` the caller may see. Both owners must be within the caller's scope.
    pub async fn transfer<R: Resource, M: prost::Message>(
        &self,
        principal: &Principal,
        idem: Idempotency<'_, M>,
        ids: &[String],
        from_owner_id: &str,
        to_owner_id: &str,
    ) -> Result<i32, Error> {
        principal.require(R::WRITE)?;
        let key = RequestKey::new(principal, idem.method, idem.request_id, idem.request)?;
        let to = to_owner_id.trim();
        let from = from_owner_id.trim();
        if to.is_empty() {
            return Err(Error::invalid("to_owner_id", "is required"));
        }
        check_owner::<R>(principal, to)
            .map_err(|_| Error::invalid("to_owner_id", "is outside your data scope"))?;
        let ids = if ids.is_empty() {
            if from.is_empty() {
                return Err(Error::invalid(
                    "from_owner_id",
                    "is required when no ids are given",
                ));
            }
            Vec::new()
        } else {
            batch_ids(ids)?
        };
        if !from.is_empty() && !principal.reaches(from) {
            return Err(Error::invalid(
                "from_owner_id",
                "is outside your data scope",
            ));
        }
        let moved = mutate(&self.db, key.as_ref(), |txn| async move {
            let rows = if ids.is_empty() {
                let rows = store::owned_by::<R, _>(&txn, principal, from, MAX_TRANSFER + 1).await?;
                if rows.len() as u64 > MAX_TRANSFER {
                    return Err(Error::precondition(
                        "TOO_MANY_RECORDS",
                        format!(
                            "{from} owns more than {MAX_TRANSFER} {}s; transfer them in batches of ids",
                            R::KIND
                        ),
                    ));
                }
                rows
            } else {
                let mut rows = Vec::with_capacity(ids.len());
                for id in &ids {
                    let row = store::find::<R, _>(&txn, principal, id).await?;
                    let stamps = R::stamps(&row);
                    crate::handlers::refuse_deleted::<R>(&stamps)?;
                    if !from.is_empty() && stamps.owner_id != from {
                        return Err(Error::precondition(
                            "OWNER_CHANGED",
                            format!("{} {id} is not owned by {from}", R::KIND),
                        ));
                    }
                    rows.push(row);
                }
                rows
            };
            let mut moved = Vec::new();
            for current in rows {
                let stamps = R::stamps(&current);
                if stamps.owner_id == to {
                    continue;
                }
                let mut next = current.clone();
                R::set_stamps(
                    &mut next,
                    Stamps {
                        owner_id: to.to_owned(),
                        ..stamps.clone()
                    },
                );
                self.save_change::<R>(&txn, principal, &current, next, Action::Update, &[])
                    .await?;
                R::after_owner_change(
                    &txn,
                    OwnerChange {
                        tenant_id: &principal.tenant_id,
                        id: &stamps.id,
                        from: &stamps.owner_id,
                        to,
                    },
                )
                .await?;
                moved.push(stamps.id);
            }
            Ok((txn, Changed { ids: moved }))
        })
        .await?;
        for id in &moved.ids {
            self.after_write::<R>(principal, id).await;
        }
        Ok(moved.ids.len() as i32)
    }
}

/// The ids a batch changed, stored as the replayable result of its request id.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Changed {
    /// Changed record ids.
    #[prost(string, repeated, tag = "1")]
    pub ids: Vec<String>,
}
