//! The articles that solved a ticket: linked once per pair by whoever may change the ticket,
//! each link counted on the article, audited on the ticket and announced. The count moves
//! the article's version too: a write of the article read before the link would otherwise
//! put the old count back, and now gets `ABORTED` instead.

use sea_orm::sea_query::{Expr, ExprTrait as _};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, EntityTrait, IntoActiveModel, QueryFilter, QueryOrder,
};

use crate::article::{Articles, is_published};
use crate::entity::{article, ticket_article};
use crate::ticket::Tickets;
use crm_platform::audit::{self, Change};
use crm_platform::auth::Principal;
use crm_platform::clock;
use crm_platform::error::Error;
use crm_platform::idempotency::{RequestKey, mutate};
use crm_platform::validate::Violations;
use crm_proto::servicedesk::{
    Article, ArticleLink, LinkTicketArticleRequest, LinkTicketArticleResponse, ServicedeskEvent,
    ServicedeskEventType, servicedesk_event::Subject,
};
use crm_records::handlers::{self, Records, announce};
use crm_records::resource::Resource;
use crm_records::store;

/// Links the article `request` names to its ticket, and returns the article counted.
pub(crate) async fn link(
    records: &Records,
    principal: &Principal,
    (method, request): (&'static str, &LinkTicketArticleRequest),
) -> Result<Article, Error> {
    principal.require(Tickets::WRITE)?;
    principal.require(Articles::READ)?;
    let mut v = Violations::new();
    let ticket_id = request.ticket_id.trim().to_owned();
    let article_id = request.article_id.trim().to_owned();
    v.required("ticket_id", &ticket_id);
    v.required("article_id", &article_id);
    v.finish()?;
    let key = RequestKey::new(principal, method, &request.request_id, request)?;
    let answer = mutate(&records.db, key.as_ref(), |txn| async move {
        let ticket = store::find::<Tickets, _>(&txn, principal, &ticket_id).await?;
        handlers::refuse_deleted::<Tickets>(&Tickets::stamps(&ticket))?;
        let found = store::find::<Articles, _>(&txn, principal, &article_id).await?;
        handlers::refuse_deleted::<Articles>(&Articles::stamps(&found))?;
        if !is_published(&found) {
            return Err(Error::wrong_state(
                "ARTICLE_NOT_PUBLISHED",
                "article_id",
                "only a published article can be linked as a ticket's solution",
            ));
        }
        let linked = ticket_article::Entity::find_by_id((
            principal.tenant_id.clone(),
            ticket.id.clone(),
            found.id.clone(),
        ))
        .one(&txn)
        .await?;
        if linked.is_some() {
            return Err(Error::AlreadyExists {
                reason: "ARTICLE_ALREADY_LINKED",
                message: format!("the article is already linked to ticket {}", ticket.number),
                metadata: [("article_id".to_owned(), found.id.clone())].into(),
            });
        }
        ticket_article::Model {
            tenant_id: principal.tenant_id.clone(),
            ticket_id: ticket.id.clone(),
            article_id: found.id.clone(),
            linked_by: principal.user_id.clone(),
            create_time: clock::now_micros(),
        }
        .into_active_model()
        .insert(&txn)
        .await?;
        article::Entity::update_many()
            .col_expr(
                article::Column::UseCount,
                Expr::col(article::Column::UseCount).add(1),
            )
            .col_expr(
                article::Column::Version,
                Expr::col(article::Column::Version).add(1),
            )
            .filter(article::Column::TenantId.eq(principal.tenant_id.as_str()))
            .filter(article::Column::Id.eq(found.id.as_str()))
            .exec(&txn)
            .await?;
        let counted = Articles::to_proto(&article::Model {
            use_count: found.use_count + 1,
            version: found.version + 1,
            ..found
        });
        let change = Change {
            field: "article".to_owned(),
            before: String::new(),
            after: counted.id.clone(),
        };
        audit::record(
            &txn,
            principal,
            Tickets::KIND,
            &ticket.id,
            "link_article",
            &[change],
        )
        .await?;
        let event = ServicedeskEvent {
            r#type: ServicedeskEventType::TicketArticleLinked as i32,
            subject: Some(Subject::ArticleLink(ArticleLink {
                ticket_id: ticket.id.clone(),
                article: Some(counted.clone()),
            })),
            ..Default::default()
        };
        announce(
            &txn,
            &principal.tenant_id,
            &principal.user_id,
            event,
            &ticket.id,
        )
        .await?;
        Ok((
            txn,
            LinkTicketArticleResponse {
                article: Some(counted),
            },
        ))
    })
    .await?;
    let article = answer
        .article
        .ok_or_else(|| Error::internal("linking an article answered none"))?;
    records
        .after_write::<Articles>(principal, &article.id)
        .await;
    Ok(article)
}

/// The live articles linked to a ticket the caller sees, first linked first.
pub(crate) async fn of_ticket(
    records: &Records,
    principal: &Principal,
    ticket_id: &str,
) -> Result<Vec<Article>, Error> {
    principal.require(Articles::READ)?;
    let mut v = Violations::new();
    v.required("ticket_id", ticket_id.trim());
    v.finish()?;
    let ticket = records.get::<Tickets>(principal, ticket_id.trim()).await?;
    let links = ticket_article::Entity::find()
        .filter(ticket_article::Column::TenantId.eq(principal.tenant_id.as_str()))
        .filter(ticket_article::Column::TicketId.eq(ticket.id.as_str()))
        .order_by_asc(ticket_article::Column::CreateTime)
        .all(&records.db)
        .await?;
    let ids: Vec<String> = links.iter().map(|l| l.article_id.clone()).collect();
    let rows = store::scoped::<Articles>(principal)
        .filter(article::Column::Id.is_in(ids.clone()))
        .filter(article::Column::DeleteTime.is_null())
        .all(&records.db)
        .await?;
    Ok(ids
        .iter()
        .filter_map(|id| rows.iter().find(|r| &r.id == id))
        .map(Articles::to_proto)
        .collect())
}
