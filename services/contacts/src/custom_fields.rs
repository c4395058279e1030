//! The custom fields of accounts and contacts, on the shared standard methods
//! ([`crm_records::definitions`]), announced as contacts events.

use sea_orm::DatabaseTransaction;

use crate::account::Accounts;
use crate::contact::Contacts;
use crate::resource::ResourceType;
use crm_platform::error::Error;
use crm_proto::contacts::ContactsEvent;
pub use crm_records::custom_fields::*;
pub use crm_records::custom_values::MAX_DEFINITIONS;
use crm_records::definitions::CustomFieldHost;

/// The contacts service as the host of custom fields.
#[derive(Debug, Clone, Copy)]
pub struct CustomerFields;

impl CustomFieldHost for CustomerFields {
    type Event = ContactsEvent;
    const READ: &'static str = "contacts.custom_fields.read";
    const WRITE: &'static str = "contacts.custom_fields.write";

    fn kind(field: &str, value: &str) -> Result<&'static str, Error> {
        ResourceType::parse(field, value).map(ResourceType::name)
    }

    async fn strip_deleted(
        txn: &DatabaseTransaction,
        tenant_id: &str,
        kind: &'static str,
        name: &str,
    ) -> Result<(), Error> {
        match ResourceType::parse("resource_type", kind)? {
            ResourceType::Account => strip_deleted::<Accounts>(txn, tenant_id, name).await,
            ResourceType::Contact => strip_deleted::<Contacts>(txn, tenant_id, name).await,
        }
    }
}
