//! What sales does with the contacts service's events, each applied once through the
//! platform's inbox (`crm_platform::consumer`): a changed account or contact drops the owner
//! sales cached for it (see `customers`), a merge of accounts or contacts repoints the
//! opportunities and lead conversions that named the merged records at the survivor, and
//! an erased contact takes the personal data of the lead it was converted from with it.
//! Each change is a normal write of the system actor: a new version, an audit entry and an
//! event, in the inbox's transaction.
//!
//! Identity's events keep sales' directory of teams (`crm_records::directory`), and a team's
//! new manager takes over the team's targets.

use sea_orm::{ColumnTrait, Condition, DatabaseTransaction, EntityTrait, QueryFilter};

use crate::customers::{self, CustomerKind};
use crate::entity::{lead, opportunity, target};
use crate::lead::{Leads, StoredConversion};
use crate::opportunity::Opportunities;
use crate::target::Targets;
use crm_platform::error::Error;
use crm_platform::events::Envelope;
use crm_records::contacts_events::{self, Followed};
use crm_records::directory::{self, Change};
use crm_records::handlers::Records;
use crm_records::jobs::system_principal;
use crm_records::json;
use crm_records::resource::{Action, Resource};

/// The stream contacts publishes on.
pub(crate) const CONTACTS_STREAM: &str = contacts_events::STREAM;
/// The consumer group (and inbox name) of sales.
pub(crate) const SUBSCRIBER: &str = "sales";

/// Applies contacts' events to sales' records.
#[derive(Debug, Clone)]
pub(crate) struct ContactsEvents {
    /// Sales' records, whose cached copies a change drops.
    pub(crate) records: Records,
}

impl crm_platform::consumer::Handler for ContactsEvents {
    async fn handle(&self, txn: &DatabaseTransaction, event: &Envelope) -> Result<(), Error> {
        let Some(decoded) = contacts_events::decode(event)? else {
            return Ok(());
        };
        let tenant_id = event.tenant_id.as_str();
        for (kind, id) in contacts_events::changed_customers(&decoded) {
            let key = customers::owner_key(kind, tenant_id, &id);
            self.records.cache.invalidate(&key).await;
        }
        let Some(follow) = contacts_events::followed(&decoded) else {
            return Ok(());
        };
        let changed = match follow {
            Followed::Merged {
                kind,
                survivor,
                merged,
            } => {
                let mut changed = Vec::new();
                if kind == CustomerKind::Account {
                    changed.extend(
                        repoint_opportunities(self, txn, tenant_id, (&survivor, &merged)).await?,
                    );
                }
                changed.extend(
                    repoint_conversions(self, txn, tenant_id, kind, (&survivor, &merged)).await?,
                );
                changed
            }
            Followed::Erased { contact_id } => {
                erase_leads(self, txn, tenant_id, &contact_id).await?
            }
        };
        for (kind, id) in changed {
            self.records.forget(tenant_id, kind, &id).await;
        }
        self.records.relay.wake();
        Ok(())
    }
}

/// Applies identity's events to sales' directory of teams.
#[derive(Debug, Clone)]
pub(crate) struct IdentityEvents {
    /// Sales' records, whose team targets follow their team's manager.
    pub(crate) records: Records,
}

impl crm_platform::consumer::Handler for IdentityEvents {
    async fn handle(&self, txn: &DatabaseTransaction, event: &Envelope) -> Result<(), Error> {
        let Some(Change::Team {
            team_id,
            manager_user_id,
            deleted: false,
        }) = directory::apply(txn, event).await?
        else {
            return Ok(());
        };
        if manager_user_id.is_empty() {
            return Ok(());
        }
        let tenant_id = event.tenant_id.as_str();
        let principal = system_principal(tenant_id);
        let held_by_another = target::Entity::find()
            .filter(target::Column::TenantId.eq(tenant_id))
            .filter(target::Column::TeamId.eq(team_id.as_str()))
            .filter(target::Column::OwnerId.ne(manager_user_id.as_str()))
            .all(txn)
            .await?;
        for current in held_by_another {
            let next = target::Model {
                owner_id: manager_user_id.clone(),
                owner_since: crm_platform::clock::now_micros(),
                ..current.clone()
            };
            self.records
                .save_change::<Targets>(txn, &principal, &current, next, Action::Update, &[])
                .await?;
            self.records
                .forget(tenant_id, Targets::KIND, &current.id)
                .await;
        }
        self.records.relay.wake();
        Ok(())
    }
}

/// Opportunities of a merged account now name the survivor.
async fn repoint_opportunities(
    events: &ContactsEvents,
    txn: &DatabaseTransaction,
    tenant_id: &str,
    (survivor, merged): (&str, &[String]),
) -> Result<Vec<(&'static str, String)>, Error> {
    let principal = system_principal(tenant_id);
    let found = opportunity::Entity::find()
        .filter(opportunity::Column::TenantId.eq(tenant_id))
        .filter(opportunity::Column::AccountId.is_in(merged.iter().map(String::as_str)))
        .all(txn)
        .await?;
    let mut changed = Vec::with_capacity(found.len());
    for current in found {
        let next = opportunity::Model {
            account_id: survivor.to_owned(),
            ..current.clone()
        };
        events
            .records
            .save_change::<Opportunities>(txn, &principal, &current, next, Action::Update, &[])
            .await?;
        changed.push((Opportunities::KIND, current.id));
    }
    Ok(changed)
}

/// The converted leads of the tenant whose conversion names any of `ids`, with their
/// conversions (ids are UUIDs, so a text match on the stored conversion finds them).
async fn converted_leads(
    txn: &DatabaseTransaction,
    tenant_id: &str,
    ids: &[String],
) -> Result<Vec<(lead::Model, StoredConversion)>, Error> {
    let mut naming = Condition::any();
    for id in ids {
        naming = naming.add(lead::Column::Conversion.contains(id.as_str()));
    }
    let rows = lead::Entity::find()
        .filter(lead::Column::TenantId.eq(tenant_id))
        .filter(naming)
        .all(txn)
        .await?;
    Ok(rows
        .into_iter()
        .filter_map(|row| crate::lead::conversion(&row).map(|c| (row, c)))
        .collect())
}

/// Lead conversions that made or reused a merged record now name the survivor.
async fn repoint_conversions(
    events: &ContactsEvents,
    txn: &DatabaseTransaction,
    tenant_id: &str,
    kind: CustomerKind,
    (survivor, merged): (&str, &[String]),
) -> Result<Vec<(&'static str, String)>, Error> {
    let principal = system_principal(tenant_id);
    let mut changed = Vec::new();
    for (current, mut conversion) in converted_leads(txn, tenant_id, merged).await? {
        let named = match kind {
            CustomerKind::Account => &mut conversion.account_id,
            CustomerKind::Contact => &mut conversion.contact_id,
        };
        if !merged.contains(named) {
            continue;
        }
        *named = survivor.to_owned();
        let next = lead::Model {
            conversion: json::object_to_json(&conversion),
            ..current.clone()
        };
        events
            .records
            .save_change::<Leads>(txn, &principal, &current, next, Action::Update, &[])
            .await?;
        changed.push((Leads::KIND, current.id));
    }
    Ok(changed)
}

/// The lead an erased contact was converted from keeps its history but no personal data.
async fn erase_leads(
    events: &ContactsEvents,
    txn: &DatabaseTransaction,
    tenant_id: &str,
    contact_id: &str,
) -> Result<Vec<(&'static str, String)>, Error> {
    let principal = system_principal(tenant_id);
    let mut changed = Vec::new();
    let erased = [contact_id.to_owned()];
    for (current, conversion) in converted_leads(txn, tenant_id, &erased).await? {
        if conversion.contact_id != contact_id {
            continue;
        }
        let next = crate::lead::erased(&current);
        if next == current {
            continue;
        }
        events
            .records
            .save_change::<Leads>(txn, &principal, &current, next, Action::Update, &[])
            .await?;
        changed.push((Leads::KIND, current.id));
    }
    Ok(changed)
}
