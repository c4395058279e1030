//! Finding articles: search by words, and suggestions for a ticket from its subject and
//! description (what an agent is offered, and what a web form or an auto-reply may show the
//! customer). Both rank published articles by the words they share with what was asked
//! ([`crm_records::relevance`]), so a sentence finds an article written in other words.

use sea_orm::sea_query::{Expr, ExprTrait as _, Func};
use sea_orm::{ColumnTrait, Condition};

use crate::article::Articles;
use crate::entity::article::Column;
use crate::ticket::Tickets;
use crm_platform::auth::Principal;
use crm_platform::error::Error;
use crm_platform::validate::Violations;
use crm_proto::servicedesk::{
    ArticleMatch, ArticleStatus, ArticleVisibility, SearchArticlesRequest, SuggestArticlesRequest,
};
use crm_records::handlers::Records;
use crm_records::relevance::{Related, text_grams};
use crm_records::resource::Resource;

/// The least share of a query a search result holds.
const SEARCH_MIN_SCORE: i32 = 50;
/// The least share of a ticket's text a suggestion holds unless the caller says.
const SUGGEST_MIN_SCORE: i32 = 20;

/// The page size asked, checked: `default` for 0, at most `max`.
fn page_size(v: &mut Violations, asked: i32, (default, max): (usize, usize)) -> usize {
    match usize::try_from(asked) {
        Ok(0) => default,
        Ok(n) if n <= max => n,
        _ => {
            v.add("page_size", format!("must be from 0 to {max}"));
            default
        }
    }
}

/// Published articles, only public ones when asked, of one category when named.
fn findable(public_only: bool, category: &str) -> Condition {
    let mut condition = Condition::all().add(Column::Status.eq(ArticleStatus::Published as i32));
    if public_only {
        condition = condition.add(Column::Visibility.eq(ArticleVisibility::Public as i32));
    }
    if !category.is_empty() {
        condition = condition
            .add(Expr::expr(Func::lower(Expr::col(Column::Category))).eq(category.to_lowercase()));
    }
    condition
}

fn matches(found: Vec<Related<crate::entity::article::Model>>) -> Vec<ArticleMatch> {
    found
        .into_iter()
        .map(|r| ArticleMatch {
            article: Some(Articles::to_proto(&r.model)),
            score: r.score,
        })
        .collect()
}

/// The published articles holding at least half of the query's words, best first.
pub(crate) async fn search(
    records: &Records,
    principal: &Principal,
    request: &SearchArticlesRequest,
) -> Result<Vec<ArticleMatch>, Error> {
    principal.require(Articles::READ)?;
    let mut v = Violations::new();
    let query = request.query.trim();
    if query.chars().count() > 200 {
        v.add("query", "must be at most 200 characters");
    } else if text_grams(query, "").is_empty() {
        v.add(
            "query",
            "give at least 2 Chinese characters, 3 letters or 4 digits",
        );
    }
    let limit = page_size(&mut v, request.page_size, (10, 50));
    v.max_chars("category", request.category.trim(), 100);
    v.finish()?;
    let found = records
        .related::<Articles>(
            principal,
            (query, ""),
            findable(request.public_only, request.category.trim()),
            (limit, SEARCH_MIN_SCORE),
        )
        .await?;
    Ok(matches(found))
}

/// The published articles that may solve a ticket (one the caller sees, or a text not yet
/// filed), best first.
pub(crate) async fn suggest(
    records: &Records,
    principal: &Principal,
    request: &SuggestArticlesRequest,
) -> Result<Vec<ArticleMatch>, Error> {
    principal.require(Articles::READ)?;
    let mut v = Violations::new();
    let limit = page_size(&mut v, request.page_size, (5, 20));
    let min_score = match request.min_score {
        0 => SUGGEST_MIN_SCORE,
        n if (1..=100).contains(&n) => n,
        _ => {
            v.add("min_score", "must be from 0 to 100");
            SUGGEST_MIN_SCORE
        }
    };
    let ticket_id = request.ticket_id.trim();
    let subject = request.subject.trim();
    let description = request.description.trim();
    if ticket_id.is_empty() {
        v.max_chars("subject", subject, 200);
        v.max_chars("description", description, 20_000);
        if subject.is_empty() && description.is_empty() {
            v.add("ticket_id", "or a subject or description is required");
        }
    } else if !subject.is_empty() || !description.is_empty() {
        v.add(
            "subject",
            "is the ticket's when ticket_id is set; send one or the other",
        );
    }
    v.finish()?;
    let (subject, description) = if ticket_id.is_empty() {
        (subject.to_owned(), description.to_owned())
    } else {
        let ticket = records.get::<Tickets>(principal, ticket_id).await?;
        (ticket.subject, ticket.description)
    };
    let found = records
        .related::<Articles>(
            principal,
            (&subject, &description),
            findable(request.public_only, ""),
            (limit, min_score),
        )
        .await?;
    Ok(matches(found))
}
