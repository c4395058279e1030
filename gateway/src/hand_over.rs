//! Handing a leaver's customers to their successor: contacts' `TransferOwnership` of every
//! live account and contact they own, called as the admin who deactivates them, so contacts
//! checks that admin's permissions and data scope as it would for a call of their own.

use std::time::Duration;

use sha2::{Digest as _, Sha256};
use tonic::Status;

use crm_platform::auth::Principal;
use crm_platform::client::ServiceClient;
use crm_proto::contacts::TransferOwnershipRequest;
use crm_proto::contacts::contacts_service_client::ContactsServiceClient;

/// How long one transfer may take: it moves every record of one owner in one transaction.
const TRANSFER_DEADLINE: Duration = Duration::from_secs(60);

/// What moved.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Transferred {
    /// Accounts handed over.
    pub accounts: i32,
    /// Contacts handed over.
    pub contacts: i32,
}

/// The leaver and who takes over.
#[derive(Debug, Clone, Copy)]
pub struct HandOver<'a> {
    /// The user who leaves.
    pub from_user_id: &'a str,
    /// Their successor.
    pub to_user_id: &'a str,
    /// The deactivation's request id; empty when the caller sent none.
    pub request_id: &'a str,
}

/// Moves every live account, then every live contact, of the leaver to the successor.
pub async fn transfer_customers(
    contacts: &ServiceClient,
    principal: &Principal,
    hand_over: HandOver<'_>,
) -> Result<Transferred, Status> {
    let mut moved = Transferred::default();
    for resource_type in ["account", "contact"] {
        let message = TransferOwnershipRequest {
            resource_type: resource_type.to_owned(),
            ids: Vec::new(),
            from_owner_id: hand_over.from_user_id.to_owned(),
            to_owner_id: hand_over.to_user_id.to_owned(),
            request_id: derived_request_id(hand_over.request_id, resource_type),
        };
        let request = contacts.request(principal, message, TRANSFER_DEADLINE)?;
        let count = ContactsServiceClient::new(contacts.channel())
            .transfer_ownership(request)
            .await?
            .into_inner()
            .transferred_count;
        match resource_type {
            "account" => moved.accounts = count,
            _ => moved.contacts = count,
        }
    }
    Ok(moved)
}

/// A request id of its own for each transfer, fixed by the deactivation's, so that a retry
/// of the deactivation is answered by contacts as the first transfer was (and fits the
/// 64 characters a request id may have).
fn derived_request_id(request_id: &str, resource_type: &str) -> String {
    if request_id.is_empty() {
        return String::new();
    }
    let digest = Sha256::digest(format!("deactivate-user\n{request_id}\n{resource_type}"));
    format!("hand-over-{digest:x}")[..42].to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn derived_ids_are_fixed_distinct_and_short() {
        let a = derived_request_id("r1", "account");
        assert_eq!(a, derived_request_id("r1", "account"));
        assert_ne!(a, derived_request_id("r1", "contact"));
        assert_ne!(a, derived_request_id("r2", "account"));
        assert!(a.len() <= 64);
        assert_eq!(derived_request_id("", "account"), "");
        let long = "x".repeat(64);
        assert!(derived_request_id(&long, "contact").len() <= 64);
    }
}
