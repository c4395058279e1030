//! The customers a service refers to, asked of the contacts service as the caller: whether
//! an account or contact is one they may see, and the live record as they see it. The calls
//! are made before the write's transaction (a remote call never holds one open); a record out
//! of the caller's reach is refused exactly like one that does not exist. A service that
//! follows contacts' events may cache each record's owner (dropping it when contacts
//! announces a change); one that does not asks every time.

use std::time::Duration;

use tonic::{Code, Status};

use crm_platform::auth::Principal;
use crm_platform::cache::Cache;
use crm_platform::client::ServiceClient;
use crm_platform::error::Error;
use crm_platform::normalize;
use crm_proto::contacts::contacts_service_client::ContactsServiceClient;
use crm_proto::contacts::{
    Account, Contact, CreateAccountRequest, CreateContactRequest, GetAccountRequest,
    GetContactRequest, ListContactsRequest,
};

/// Where a service asks about customers: contacts (when deployed with it), and the cache of
/// owners it keeps under its own prefix, if it follows contacts' events.
#[derive(Debug, Clone, Copy)]
pub struct Customers<'a> {
    /// The way to contacts; `None` when the deployment has no contacts service.
    pub contacts: Option<&'a ServiceClient>,
    /// The owner cache and the service's key prefix (`sales:v1`); `None` to ask every time.
    pub owners: Option<(&'a Cache, &'static str)>,
}

/// How long contacts has to answer.
pub const DEADLINE: Duration = Duration::from_secs(5);

/// A kind of customer record sales names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CustomerKind {
    /// An account.
    Account,
    /// A contact (a person).
    Contact,
}

impl CustomerKind {
    /// The record type's name.
    pub fn name(self) -> &'static str {
        match self {
            CustomerKind::Account => "account",
            CustomerKind::Contact => "contact",
        }
    }
}

/// The cache key of what a service last learned of a customer record: its owner, while it is
/// live. The answer is the record's, not the caller's: whether a caller sees it is their
/// scope over that owner, decided here as contacts decides it (the same shared machinery).
/// The service drops the key when contacts announces the record changed.
pub fn owner_key(prefix: &str, kind: CustomerKind, tenant_id: &str, id: &str) -> String {
    format!("{prefix}:customer-owner:{}:{tenant_id}:{id}", kind.name())
}

/// Checks that `id` (sent in `field`) names a live account or contact the caller can see:
/// from the cached owner when the service knows it and the caller reaches that owner, else by
/// asking contacts as the caller (and caching the owner it answers).
pub async fn check_visible(
    Customers { contacts, owners }: Customers<'_>,
    principal: &Principal,
    kind: CustomerKind,
    (field, id): (&str, &str),
) -> Result<(), Status> {
    if id.is_empty() {
        return Err(Error::invalid(field, "is required").into());
    }
    let key =
        owners.map(|(cache, prefix)| (cache, owner_key(prefix, kind, &principal.tenant_id, id)));
    if let Some((cache, key)) = &key
        && let Some(owner) = cache.get(key).await
        && principal.reaches(&String::from_utf8_lossy(&owner))
    {
        return Ok(());
    }
    let hidden = || {
        let why = format!("is not a live {} you can see", kind.name());
        Status::from(Error::invalid(field, why))
    };
    let owner = match kind {
        CustomerKind::Account => fetch_account(contacts, principal, id)
            .await?
            .map(|a| a.owner_id),
        CustomerKind::Contact => fetch_contact(contacts, principal, id)
            .await?
            .map(|c| c.owner_id),
    };
    let owner = owner.ok_or_else(hidden)?;
    if let Some((cache, key)) = key {
        cache.set(&key, owner.into_bytes()).await;
    }
    Ok(())
}

/// The live account of this id as the caller sees it in contacts; `None` when it does not
/// exist, is deleted or is out of their reach.
pub async fn fetch_account(
    contacts: Option<&ServiceClient>,
    principal: &Principal,
    id: &str,
) -> Result<Option<Account>, Status> {
    let contacts = deployed(contacts)?;
    let request = contacts.request(principal, GetAccountRequest { id: id.to_owned() }, DEADLINE)?;
    let answer = ContactsServiceClient::new(contacts.channel())
        .get_account(request)
        .await
        .map(|r| r.into_inner().account.filter(|a| a.delete_time.is_none()));
    visible(answer)
}

/// The live contact of this id as the caller sees it in contacts; `None` when it does not
/// exist, is deleted or is out of their reach.
pub async fn fetch_contact(
    contacts: Option<&ServiceClient>,
    principal: &Principal,
    id: &str,
) -> Result<Option<Contact>, Status> {
    let contacts = deployed(contacts)?;
    let request = contacts.request(principal, GetContactRequest { id: id.to_owned() }, DEADLINE)?;
    let answer = ContactsServiceClient::new(contacts.channel())
        .get_contact(request)
        .await
        .map(|r| r.into_inner().contact.filter(|c| c.delete_time.is_none()));
    visible(answer)
}

/// Contacts' answer, with "not there" and "not yours" as `None`.
fn visible<T>(answer: Result<Option<T>, Status>) -> Result<Option<T>, Status> {
    match answer {
        Ok(found) => Ok(found),
        Err(status) if matches!(status.code(), Code::NotFound | Code::InvalidArgument) => Ok(None),
        Err(status) => Err(unanswered(status)),
    }
}

/// The way to contacts, or why there is none.
pub fn deployed(contacts: Option<&ServiceClient>) -> Result<&ServiceClient, Status> {
    contacts.ok_or_else(|| {
        Error::precondition(
            "SERVICE_NOT_DEPLOYED",
            "customers cannot be checked: the contacts service is not part of this deployment",
        )
        .into()
    })
}

/// A failed call to contacts as the caller's answer: contacts being away is `UNAVAILABLE`
/// with nothing written here; anything else is passed on as contacts said it.
pub fn unanswered(status: Status) -> Status {
    if matches!(status.code(), Code::Unavailable | Code::DeadlineExceeded) {
        tracing::warn!(error = %status, "contacts did not answer");
        return Status::unavailable(
            "the contacts service is unavailable, so nothing was written; retry",
        );
    }
    status
}

/// A customer a write made or found: its id, and whether it already existed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Customer {
    /// The id in contacts.
    pub id: String,
    /// Whether it existed before.
    pub reused: bool,
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
pub async fn account_for(
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
pub async fn contact_for(
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

/// A contact the caller sees with `email` or `phone` (normalised as contacts stores them), to
/// tell an agent the person is already a customer. Best effort: contacts away or not
/// deployed, or the caller unable to read contacts, is no match, never a failed write.
pub async fn matching_contact(
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
