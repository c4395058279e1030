//! The sales service's background sweep: the next steps of open deals and the open tasks
//! that fell due are announced once each (`OPPORTUNITY_NEXT_STEP_DUE`, `TASK_DUE`), and sent
//! quotes past their valid-until day expire (`QUOTE_EXPIRED`), by whichever replica marks
//! them first.

use std::time::Duration;

use sea_orm::sea_query::{Expr, ExprTrait as _};
use sea_orm::{ColumnTrait, Condition, DatabaseConnection, EntityTrait, QueryFilter, QuerySelect};

use crate::entity::opportunity::{Column, Entity};
use crate::entity::{quote, task};
use crate::opportunity::Opportunities;
use crate::quote::Quotes;
use crate::task::Tasks;
use crm_platform::error::Error;
use crm_platform::time::day;
use crm_proto::sales::{
    OpportunityStatus, QuoteStatus, SalesEvent, SalesEventType, TaskStatus, sales_event::Subject,
};
use crm_records::handlers::Records;
use crm_records::jobs::{Announcement, announce_marked, run_every};
use crm_records::resource::Resource;

/// Deals announced per sweep at most; the rest wait for the next turn.
const BATCH: u64 = 500;

/// Sweeps every `interval` until `shutdown`.
pub(crate) async fn run(records: Records, interval: Duration, shutdown: impl Future<Output = ()>) {
    run_every("sales", interval, shutdown, |now| {
        let records = records.clone();
        async move {
            let db = &records.db;
            let steps = announce_due_steps(db, now).await?;
            let tasks = announce_due_tasks(db, now).await?;
            let quotes = expire_quotes(&records, now).await?;
            Ok::<_, Error>(steps + tasks + quotes)
        }
    })
    .await;
}

/// Not yet announced for its current due time.
fn unannounced() -> Condition {
    Condition::any()
        .add(Column::NextStepReminded.is_null())
        .add(Expr::col(Column::NextStepReminded).ne(Expr::col(Column::NextStepDueTime)))
}

/// Announces the open deals whose next step is due at `now`; returns how many.
async fn announce_due_steps(db: &DatabaseConnection, now: i64) -> Result<u64, Error> {
    let due = Entity::find()
        .filter(Column::Status.eq(OpportunityStatus::Open as i32))
        .filter(Column::DeleteTime.is_null())
        .filter(Column::NextStepDueTime.lte(now))
        .filter(unannounced())
        .limit(BATCH)
        .all(db)
        .await?;
    let announcements = due
        .into_iter()
        .map(|deal| Announcement {
            mark: Entity::update_many()
                .col_expr(Column::NextStepReminded, deal.next_step_due_time.into())
                .filter(Column::Id.eq(deal.id.as_str()))
                .filter(Column::NextStepDueTime.eq(deal.next_step_due_time))
                .filter(unannounced()),
            tenant_id: deal.tenant_id.clone(),
            aggregate_id: deal.id.clone(),
            event: SalesEvent {
                r#type: SalesEventType::OpportunityNextStepDue as i32,
                subject: Some(Subject::Opportunity(Opportunities::to_proto(&deal))),
                ..Default::default()
            },
        })
        .collect();
    announce_marked(db, announcements).await
}

/// A task not yet announced for its current due time.
fn task_unannounced() -> Condition {
    Condition::any()
        .add(task::Column::Reminded.is_null())
        .add(Expr::col(task::Column::Reminded).ne(Expr::col(task::Column::DueTime)))
}

/// Announces the open tasks due at `now`; returns how many.
async fn announce_due_tasks(db: &DatabaseConnection, now: i64) -> Result<u64, Error> {
    let due = task::Entity::find()
        .filter(task::Column::Status.eq(TaskStatus::Open as i32))
        .filter(task::Column::DeleteTime.is_null())
        .filter(task::Column::DueTime.lte(now))
        .filter(task_unannounced())
        .limit(BATCH)
        .all(db)
        .await?;
    let announcements = due
        .into_iter()
        .map(|t| Announcement {
            mark: task::Entity::update_many()
                .col_expr(task::Column::Reminded, t.due_time.into())
                .filter(task::Column::Id.eq(t.id.as_str()))
                .filter(task::Column::DueTime.eq(t.due_time))
                .filter(task_unannounced()),
            tenant_id: t.tenant_id.clone(),
            aggregate_id: t.id.clone(),
            event: SalesEvent {
                r#type: SalesEventType::TaskDue as i32,
                subject: Some(Subject::Task(Tasks::to_proto(&t))),
                ..Default::default()
            },
        })
        .collect();
    announce_marked(db, announcements).await
}

/// Expires the sent quotes whose valid-until day ended before `now`'s (UTC) day; returns
/// how many. The mark moves the row's status and version, so a quote expires once, and a
/// customer's acceptance racing the sweep either lands first or finds it expired.
async fn expire_quotes(records: &Records, now: i64) -> Result<u64, Error> {
    let today = day::of_micros(now);
    let due = quote::Entity::find()
        .filter(quote::Column::Status.eq(QuoteStatus::Sent as i32))
        .filter(quote::Column::DeleteTime.is_null())
        .filter(quote::Column::ValidUntil.lt(today))
        .limit(BATCH)
        .all(&records.db)
        .await?;
    let forget: Vec<(String, String)> = due
        .iter()
        .map(|q| (q.tenant_id.clone(), q.id.clone()))
        .collect();
    let announcements = due
        .into_iter()
        .map(|q| {
            let mut expired = q.clone();
            expired.status = QuoteStatus::Expired as i32;
            expired.close_time = Some(now);
            expired.version += 1;
            expired.update_time = now;
            Announcement {
                mark: quote::Entity::update_many()
                    .col_expr(quote::Column::Status, expired.status.into())
                    .col_expr(quote::Column::CloseTime, now.into())
                    .col_expr(quote::Column::Version, expired.version.into())
                    .col_expr(quote::Column::UpdateTime, now.into())
                    .filter(quote::Column::Id.eq(q.id.as_str()))
                    .filter(quote::Column::Version.eq(q.version)),
                tenant_id: q.tenant_id.clone(),
                aggregate_id: q.id.clone(),
                event: SalesEvent {
                    r#type: SalesEventType::QuoteExpired as i32,
                    subject: Some(Subject::Quote(Quotes::to_proto(&expired))),
                    ..Default::default()
                },
            }
        })
        .collect();
    let expired = announce_marked(&records.db, announcements).await?;
    for (tenant_id, id) in forget {
        records.forget(&tenant_id, Quotes::KIND, &id).await;
    }
    Ok(expired)
}
