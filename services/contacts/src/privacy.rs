//! Personal data of contacts: the export a data subject may ask for, and erasure (on request,
//! or when a deleted contact's retention runs out). Erasure empties every personal field but
//! keeps the id as a deleted tombstone, so orders, tickets and merge redirects that name it
//! stay valid; `CONTACT_ERASED` tells other services to erase what they hold.

use sea_orm::{
    ColumnTrait, DatabaseTransaction, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
};

use crate::contact::Contacts;
use crate::entity::contact::{Column, Entity, Model};
use crate::handlers::{Handlers, Idempotency, announce};
use crate::resource::Resource;
use crate::{index, interactions, store};
use crm_platform::audit;
use crm_platform::auth::Principal;
use crm_platform::clock;
use crm_platform::error::Error;
use crm_platform::idempotency::{RequestKey, mutate};
use crm_platform::time::to_timestamp;
use crm_proto::contacts::{
    Contact, ContactsEvent, ContactsEventType, ExportPersonalDataResponse, contacts_event::Subject,
};

/// Permission to export and erase a contact's personal data.
pub const ADMIN: &str = "contacts.privacy.admin";
/// Contacts erased per sweep when their retention runs out.
const PURGE_BATCH: u64 = 500;

/// The contact with every personal field emptied, deleted, marked erased, one version on.
fn erased(current: &Model, now: i64) -> Model {
    let empty_list = || "[]".to_owned();
    Model {
        given_name: String::new(),
        family_name: String::new(),
        display_name: interactions::ERASED.to_owned(),
        email: String::new(),
        phone: String::new(),
        title: String::new(),
        account_id: String::new(),
        department: String::new(),
        gender: 0,
        birth_year: 0,
        birth_month: 0,
        birth_day: 0,
        phones: empty_list(),
        emails: empty_list(),
        region_code: String::new(),
        administrative_area: String::new(),
        locality: String::new(),
        sublocality: String::new(),
        postal_code: String::new(),
        address_lines: String::new(),
        related_account_ids: empty_list(),
        occupation: String::new(),
        notes: String::new(),
        tags: empty_list(),
        group_ids: empty_list(),
        custom_fields: "{}".to_owned(),
        id_document_type: 0,
        id_document_sealed: String::new(),
        id_document_hash: String::new(),
        id_document_masked: String::new(),
        bank_card_sealed: String::new(),
        bank_card_hash: String::new(),
        bank_card_masked: String::new(),
        erase_time: Some(now),
        delete_time: current.delete_time.or(Some(now)),
        version: current.version + 1,
        update_time: now,
        ..current.clone()
    }
}

/// Erases one contact in `txn`: the record, its history's recorded values, its timeline's
/// texts, its index entries; then announces it.
async fn erase_in(
    txn: &DatabaseTransaction,
    principal: &Principal,
    current: &Model,
) -> Result<Contact, Error> {
    let now = clock::now_micros();
    let next = erased(current, now);
    store::compare_and_set::<Contacts, _>(txn, &principal.tenant_id, current.version, next.clone())
        .await?;
    index::sync::<Contacts>(txn, &principal.tenant_id, &next).await?;
    audit::redact(txn, &principal.tenant_id, Contacts::KIND, &current.id).await?;
    audit::record(txn, principal, Contacts::KIND, &current.id, "erase", &[]).await?;
    interactions::erase_contact(txn, &principal.tenant_id, &current.id).await?;
    let proto = Contacts::to_proto(&next);
    let event = ContactsEvent {
        r#type: ContactsEventType::ContactErased as i32,
        subject: Some(Subject::Contact(proto.clone())),
        ..Default::default()
    };
    announce(
        txn,
        &principal.tenant_id,
        &principal.user_id,
        event,
        &current.id,
    )
    .await?;
    Ok(proto)
}

/// Erases the tombstones of contacts merged into `survivor_id` (and into those, and so on):
/// they are the same person's earlier records.
async fn erase_merged_into(
    txn: &DatabaseTransaction,
    principal: &Principal,
    survivor_id: &str,
) -> Result<(), Error> {
    let mut survivors = vec![survivor_id.to_owned()];
    while let Some(survivor) = survivors.pop() {
        let merged = Entity::find()
            .filter(Column::TenantId.eq(principal.tenant_id.as_str()))
            .filter(Column::MergedIntoId.eq(survivor.as_str()))
            .filter(Column::EraseTime.is_null())
            .all(txn)
            .await?;
        for tombstone in merged {
            erase_in(txn, principal, &tombstone).await?;
            survivors.push(tombstone.id);
        }
    }
    Ok(())
}

impl Handlers {
    /// Everything held about one contact, sensitive fields unmasked; the export is audited.
    pub async fn export_personal_data(
        &self,
        principal: &Principal,
        contact_id: &str,
    ) -> Result<ExportPersonalDataResponse, Error> {
        principal.require(ADMIN)?;
        if contact_id.is_empty() {
            return Err(Error::invalid("contact_id", "is required"));
        }
        let txn = crm_platform::db::begin_write(&self.db).await?;
        let model = store::find::<Contacts, _>(&txn, principal, contact_id).await?;
        let mut contact = Contacts::to_proto(&model);
        Contacts::reveal(&model, &self.keys, &mut contact)?;
        let (interactions, follow_ups) =
            interactions::held_about(&txn, &principal.tenant_id, Contacts::KIND, contact_id)
                .await?;
        audit::record(
            &txn,
            principal,
            Contacts::KIND,
            contact_id,
            "export_personal_data",
            &[],
        )
        .await?;
        txn.commit().await?;
        Ok(ExportPersonalDataResponse {
            contact: Some(contact),
            interactions,
            follow_ups,
            export_time: Some(to_timestamp(clock::now_micros())),
        })
    }

    /// Erases one contact's personal data; erasing an erased contact returns it unchanged.
    pub async fn erase_personal_data<M: prost::Message>(
        &self,
        principal: &Principal,
        idem: Idempotency<'_, M>,
        contact_id: &str,
    ) -> Result<Contact, Error> {
        principal.require(ADMIN)?;
        let key = RequestKey::new(principal, idem.method, idem.request_id, idem.request)?;
        if contact_id.is_empty() {
            return Err(Error::invalid("contact_id", "is required"));
        }
        let contact = mutate(&self.db, key.as_ref(), |txn| async move {
            let current = store::find::<Contacts, _>(&txn, principal, contact_id).await?;
            if current.erase_time.is_some() {
                return Ok((txn, Contacts::to_proto(&current)));
            }
            let proto = erase_in(&txn, principal, &current).await?;
            erase_merged_into(&txn, principal, &current.id).await?;
            Ok((txn, proto))
        })
        .await?;
        self.after_write::<Contacts>(principal, contact_id).await;
        Ok(contact)
    }

    /// Erases contacts deleted before `deleted_before` (microseconds), a batch at a time;
    /// returns how many. Each is erased in its own transaction under a compare-and-set, so
    /// replicas running this at once never erase one twice.
    pub async fn erase_expired(&self, deleted_before: i64) -> Result<u64, Error> {
        let expired = Entity::find()
            .filter(Column::DeleteTime.lt(deleted_before))
            .filter(Column::EraseTime.is_null())
            .order_by_asc(Column::DeleteTime)
            .limit(PURGE_BATCH)
            .all(&self.db)
            .await?;
        let mut erased = 0;
        for current in expired {
            let principal = crate::jobs::system_principal(&current.tenant_id);
            let txn = crm_platform::db::begin_write(&self.db).await?;
            match erase_in(&txn, &principal, &current).await {
                Ok(_) => {
                    txn.commit().await?;
                    self.forget(&current.tenant_id, Contacts::KIND, &current.id)
                        .await;
                    erased += 1;
                }
                // Another replica, or a user, changed it first: the next sweep looks again.
                Err(Error::StaleEtag { .. }) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(erased)
    }
}
