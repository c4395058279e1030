//! Customer search: accounts and contacts through the shared search
//! ([`crm_records::search`]), merged into one ranked list.

use crate::account::Accounts;
use crate::contact::Contacts;
use crate::handlers::Handlers;
use crate::resource::{Resource, ResourceType};
use crm_platform::auth::Principal;
use crm_platform::error::Error;
use crm_proto::contacts::{SearchResult, search_result::Customer};
pub use crm_records::search::*;

impl Handlers {
    /// Searches the caller's accounts and contacts.
    pub async fn search_customers(
        &self,
        principal: &Principal,
        query: &str,
        resource_type: &str,
        (page_size, page_token): (i32, &str),
    ) -> Result<(Vec<SearchResult>, String), Error> {
        let kinds: Vec<ResourceType> = match resource_type {
            "" => vec![ResourceType::Account, ResourceType::Contact],
            other => vec![ResourceType::parse("resource_type", other)?],
        };
        let allowed: Vec<ResourceType> = kinds
            .into_iter()
            .filter(|k| match k {
                ResourceType::Account => principal.require(Accounts::READ).is_ok(),
                ResourceType::Contact => principal.require(Contacts::READ).is_ok(),
            })
            .collect();
        if allowed.is_empty() {
            // Names the permission the caller lacks.
            principal.require(Contacts::READ)?;
            principal.require(Accounts::READ)?;
        }
        let query = self.search_query(principal, query, resource_type, (page_size, page_token))?;
        let mut hits = Vec::new();
        for kind in allowed {
            match kind {
                ResourceType::Account => {
                    self.collect_hits::<Accounts, _>(principal, &query, &mut hits, |a, s, f| {
                        result(Customer::Account(a), s, f)
                    })
                    .await?
                }
                ResourceType::Contact => {
                    self.collect_hits::<Contacts, _>(principal, &query, &mut hits, |c, s, f| {
                        result(Customer::Contact(c), s, f)
                    })
                    .await?
                }
            }
        }
        self.page_hits(&query, hits)
    }
}

/// A match as the search answers it.
fn result(customer: Customer, score: i32, matched_field: &str) -> SearchResult {
    SearchResult {
        customer: Some(customer),
        score,
        matched_field: matched_field.to_owned(),
    }
}
