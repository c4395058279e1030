//! Customer search: accounts and contacts through the shared search
//! ([`crm_records::search`]), merged into one ranked list.

use std::cmp::Reverse;

use sea_orm::{ColumnTrait, QueryFilter};

use crate::account::Accounts;
use crate::contact::Contacts;
use crate::handlers::Handlers;
use crate::resource::{Resource, ResourceType};
use crate::store;
use crm_platform::auth::Principal;
use crm_platform::error::Error;
use crm_platform::paging::{self, Cursor, SortKey};
use crm_proto::contacts::{SearchResult, search_result::Customer};
pub use crm_records::search::*;

/// One scored match.
struct Hit {
    score: i32,
    name: String,
    kind: &'static str,
    id: String,
    result: SearchResult,
}

impl Hit {
    /// Best first, then by name; the id breaks ties.
    fn order(&self) -> (Reverse<i32>, &str, &str, &str) {
        (Reverse(self.score), &self.name, self.kind, &self.id)
    }
}

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
        let limit = match page_size {
            0 => DEFAULT_PAGE_SIZE,
            n => paging::page_size(n, MAX_PAGE_SIZE)?,
        };
        let query = normalize(query.trim());
        let grams = query_grams(&query)?;
        let binding = paging::binding(&[
            "search",
            &principal.tenant_id,
            &principal.user_id,
            &query,
            resource_type,
        ]);
        let cursor = self.pages.read(page_token, &binding)?;
        let mut hits = Vec::new();
        for kind in allowed {
            match kind {
                ResourceType::Account => {
                    self.collect::<Accounts>(principal, &grams, &query, &mut hits, |a| {
                        Customer::Account(a)
                    })
                    .await?
                }
                ResourceType::Contact => {
                    self.collect::<Contacts>(principal, &grams, &query, &mut hits, |c| {
                        Customer::Contact(c)
                    })
                    .await?
                }
            }
        }
        hits.sort_by(|a, b| a.order().cmp(&b.order()));
        if let Some(cursor) = &cursor {
            let SortKey::Int(score) = cursor.key else {
                return Err(Error::invalid("page_token", "belongs to another list"));
            };
            let mut parts = cursor.id.splitn(3, '\0');
            let (name, kind, id) = (
                parts.next().unwrap_or_default(),
                parts.next().unwrap_or_default(),
                parts.next().unwrap_or_default(),
            );
            let after = (Reverse(score as i32), name, kind, id);
            hits.retain(|h| h.order() > after);
        }
        let more = hits.len() as u64 > limit;
        hits.truncate(limit as usize);
        let token = match hits.last() {
            Some(last) if more => self.pages.issue(
                Cursor {
                    key: SortKey::Int(i64::from(last.score)),
                    id: format!("{}\0{}\0{}", last.name, last.kind, last.id),
                },
                &binding,
            ),
            _ => String::new(),
        };
        Ok((hits.into_iter().map(|h| h.result).collect(), token))
    }

    /// Finds the candidates of one resource type, checks and scores them.
    async fn collect<R: Resource>(
        &self,
        principal: &Principal,
        grams: &[QueryGram],
        query: &str,
        hits: &mut Vec<Hit>,
        wrap: fn(R::Proto) -> Customer,
    ) -> Result<(), Error> {
        let ids = candidates::<R, _>(&self.db, principal, grams).await?;
        if ids.is_empty() {
            return Ok(());
        }
        let columns = R::columns();
        let rows = store::scoped::<R>(principal)
            .filter(columns.id.is_in(ids))
            .filter(columns.delete_time.is_null())
            .all(&self.db)
            .await?;
        for row in rows {
            let fields = R::search_fields(&row);
            let Some((score, field)) = score(query, &fields) else {
                continue;
            };
            let stamps = R::stamps(&row);
            hits.push(Hit {
                score,
                name: stamps.display_name.to_lowercase(),
                kind: R::KIND,
                id: stamps.id,
                result: SearchResult {
                    customer: Some(wrap(R::to_proto(&row))),
                    score,
                    matched_field: field.to_owned(),
                },
            });
        }
        Ok(())
    }
}
