//! A search as its caller sees it: the query read once, the matches of one or more resource
//! types scored ([`crate::search::score`]) and merged into one ranked list, and pages of it
//! cut by score, so a service searching several kinds pages them as one.

use std::cmp::Reverse;

use sea_orm::{ColumnTrait, QueryFilter};

use crate::handlers::Records;
use crate::resource::Resource;
use crate::search::{
    DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE, QueryGram, candidates, normalize, query_grams, score,
};
use crate::store;
use crm_platform::auth::Principal;
use crm_platform::error::Error;
use crm_platform::paging::{self, Cursor, SortKey};

/// One scored match, carrying the service's result message.
#[derive(Debug)]
pub struct Hit<T> {
    /// Higher is better.
    pub score: i32,
    /// The service's result.
    pub result: T,
    name: String,
    kind: &'static str,
    id: String,
}

impl<T> Hit<T> {
    /// Best first, then by name; the kind and id break ties.
    fn order(&self) -> (Reverse<i32>, &str, &str, &str) {
        (Reverse(self.score), &self.name, self.kind, &self.id)
    }
}

/// A read search request: the normalised query, its grams and the page it asks for.
#[derive(Debug)]
pub struct SearchQuery {
    text: String,
    grams: Vec<QueryGram>,
    binding: String,
    cursor: Option<Cursor>,
    limit: u64,
}

impl Records {
    /// Reads a search: `kinds` names what it covers, so a page token fits only its search.
    pub fn search_query(
        &self,
        principal: &Principal,
        query: &str,
        kinds: &str,
        (page_size, page_token): (i32, &str),
    ) -> Result<SearchQuery, Error> {
        let limit = match page_size {
            0 => DEFAULT_PAGE_SIZE,
            n => paging::page_size(n, MAX_PAGE_SIZE)?,
        };
        let text = normalize(query.trim());
        let grams = query_grams(&text)?;
        let binding = paging::binding(&[
            "search",
            &principal.tenant_id,
            &principal.user_id,
            &text,
            kinds,
        ]);
        let cursor = self.pages.read(page_token, &binding)?;
        Ok(SearchQuery {
            text,
            grams,
            binding,
            cursor,
            limit,
        })
    }

    /// Adds the live records of `R` the caller sees that match, scored, to `hits`.
    pub async fn collect_hits<R: Resource, T>(
        &self,
        principal: &Principal,
        query: &SearchQuery,
        hits: &mut Vec<Hit<T>>,
        wrap: fn(R::Proto, i32, &'static str) -> T,
    ) -> Result<(), Error> {
        let ids = candidates::<R, _>(&self.db, principal, &query.grams).await?;
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
            let Some((score, field)) = score(&query.text, &fields) else {
                continue;
            };
            let stamps = R::stamps(&row);
            hits.push(Hit {
                score,
                result: wrap(R::to_proto(&row), score, field),
                name: stamps.display_name.to_lowercase(),
                kind: R::KIND,
                id: stamps.id,
            });
        }
        Ok(())
    }

    /// The page of `hits` the query asks for, best first, and the next page's token.
    pub fn page_hits<T>(
        &self,
        query: &SearchQuery,
        mut hits: Vec<Hit<T>>,
    ) -> Result<(Vec<T>, String), Error> {
        hits.sort_by(|a, b| a.order().cmp(&b.order()));
        if let Some(cursor) = &query.cursor {
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
        let more = hits.len() as u64 > query.limit;
        hits.truncate(query.limit as usize);
        let token = match hits.last() {
            Some(last) if more => self.pages.issue(
                Cursor {
                    key: SortKey::Int(i64::from(last.score)),
                    id: format!("{}\0{}\0{}", last.name, last.kind, last.id),
                },
                &query.binding,
            ),
            _ => String::new(),
        };
        Ok((hits.into_iter().map(|h| h.result).collect(), token))
    }
}
