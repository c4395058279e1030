//! The customers sales refers to, asked of the contacts service as the caller: the shared
//! lookups ([`crm_records::customers`], with each record's owner cached under sales' prefix
//! and dropped when contacts announces a change), and the account and contact a lead's
//! conversion makes or reuses.

use tonic::{Code, Status};

use crm_platform::auth::Principal;
use crm_platform::cache::Cache;
use crm_platform::client::ServiceClient;
use crm_platform::normalize;
use crm_proto::contacts::contacts_service_client::ContactsServiceClient;
use crm_proto::contacts::{
    Account, Contact, CreateAccountRequest, CreateContactRequest, ListContactsRequest,
};
pub(crate) use crm_records::customers::{
    CustomerKind, Customers, DEADLINE, check_visible, deployed, fetch_account, fetch_contact,
    unanswered,
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

/// A customer a conversion made or found: its id, and whether it already existed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Customer {
    /// The id in contacts.
    pub(crate) id: String,
    /// Whether it existed before.
    pub(crate) reused: bool,
}

/// The record a create answered, or the visible duplicate contacts refused it for.
fn created_or_found(result: Result<String, Status>) -> Result<Customer, Status> {
    match result {
        Ok(id) => Ok(Customer { id, reused: false }),
        Err(status) if status.code() == Code::AlreadyExists => {
            let duplicate = tonic_types::StatusExt::get_error_details(&status)
                .error_info()
                .and_then(|info| info.metadata.get("duplicate_id").cloned());
            match duplicate {
                Some(id) => Ok(Customer { id, reused: true }),
                // A duplicate the caller cannot see is theirs to resolve.
                None => Err(status),
            }
        }
        Err(status) => Err(unanswered(status)),
    }
}

/// Creates `account` in contacts as the caller, or finds the one it duplicates (by name,
/// phone or email) that they can see. `request_id` makes a retry answer the first result.
pub(crate) async fn account_for(
    contacts: Option<&ServiceClient>,
    principal: &Principal,
    account: Account,
    request_id: String,
) -> Result<Customer, Status> {
    let contacts = deployed(contacts)?;
    let request = CreateAccountRequest {
        account: Some(account),
        request_id,
        allow_duplicates: false,
    };
    let request = contacts.request(principal, request, DEADLINE)?;
    let created = ContactsServiceClient::new(contacts.channel())
        .create_account(request)
        .await
        .map(|r| r.into_inner().account.unwrap_or_default().id);
    created_or_found(created)
}

/// Creates `contact` in contacts as the caller, or finds the one it duplicates (by phone or
/// email) that they can see. `request_id` makes a retry answer the first result.
pub(crate) async fn contact_for(
    contacts: Option<&ServiceClient>,
    principal: &Principal,
    contact: Contact,
    request_id: String,
) -> Result<Customer, Status> {
    let contacts = deployed(contacts)?;
    let request = CreateContactRequest {
        contact: Some(contact),
        request_id,
        allow_duplicates: false,
    };
    let request = contacts.request(principal, request, DEADLINE)?;
    let created = ContactsServiceClient::new(contacts.channel())
        .create_contact(request)
        .await
        .map(|r| r.into_inner().contact.unwrap_or_default().id);
    created_or_found(created)
}

/// A contact the caller sees with `email` or `phone` (normalised as a lead stores them), to
/// tell an agent the person is already a customer. Best effort: contacts away or not
/// deployed, or the caller unable to read contacts, is no match, never a failed write.
pub(crate) async fn matching_contact(
    contacts: Option<&ServiceClient>,
    principal: &Principal,
    (email, phone): (&str, &str),
) -> String {
    let Some(contacts) = contacts else {
        return String::new();
    };
    if !principal.has("contacts.contacts.read") {
        return String::new();
    }
    let email = normalize::email(email).unwrap_or_default();
    let phone = normalize::phone(phone, principal.phone_region()).unwrap_or_default();
    let filters = [("email", email), ("phone", phone)];
    for (field, value) in filters.iter().filter(|(_, v)| !v.is_empty()) {
        let request = ListContactsRequest {
            filter: format!("{field} = \"{value}\""),
            page_size: 1,
            ..Default::default()
        };
        let Ok(request) = contacts.request(principal, request, DEADLINE) else {
            return String::new();
        };
        match ContactsServiceClient::new(contacts.channel())
            .list_contacts(request)
            .await
        {
            Ok(found) => {
                if let Some(contact) = found.into_inner().contacts.into_iter().next() {
                    return contact.id;
                }
            }
            Err(status) => {
                tracing::warn!(error = %status, "contacts could not be asked for a lead's match");
                return String::new();
            }
        }
    }
    String::new()
}
