//! The customers sales refers to, asked of the contacts service as the caller: the shared
//! lookups ([`crm_records::customers`], with each record's owner cached under sales' prefix
//! and dropped when contacts announces a change), and the account and contact a lead's
//! conversion makes or reuses (shared too: any service may file a customer).

use crm_platform::cache::Cache;
use crm_platform::client::ServiceClient;
pub(crate) use crm_records::customers::{
    Customer, CustomerKind, Customers, account_for, check_visible, contact_for, fetch_account,
    fetch_contact, matching_contact,
};

/// Sales' prefix of the owner cache keys.
pub(crate) const OWNER_PREFIX: &str = "sales:v1";

/// Where sales asks about customers: contacts, with the owner cache.
pub(crate) fn asked<'a>(contacts: Option<&'a ServiceClient>, cache: &'a Cache) -> Customers<'a> {
    Customers {
        contacts,
        owners: Some((cache, OWNER_PREFIX)),
    }
}

/// The cache key of a customer record's owner, as sales keeps it.
pub(crate) fn owner_key(kind: CustomerKind, tenant_id: &str, id: &str) -> String {
    crm_records::customers::owner_key(OWNER_PREFIX, kind, tenant_id, id)
}
