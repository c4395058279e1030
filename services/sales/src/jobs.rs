//! The sales service's background sweep: the next steps of open deals and the open tasks
//! that fell due are announced once each (`OPPORTUNITY_NEXT_STEP_DUE`, `TASK_DUE`), and sent
//! quotes past their valid-until day expire (`QUOTE_EXPIRED`), signed contracts become
//! active on their start day, contracts' key dates are reminded their lead time before
//! (`CONTRACT_KEY_DATE_DUE`), and instalments past due unpaid are announced
//! (`INSTALMENT_OVERDUE`), each once, by whichever replica marks it first.

use std::time::Duration;

use sea_orm::sea_query::{Expr, ExprTrait as _};
use sea_orm::{ColumnTrait, Condition, DatabaseConnection, EntityTrait, QueryFilter, QuerySelect};

use crate::contract::{self, Contracts};
use crate::contract_flow;
use crate::entity::opportunity::{Column, Entity};
use crate::entity::{contract as contract_row, payment_plan, quote, task};
use crate::opportunity::Opportunities;
use crate::quote::Quotes;
use crate::receivables::{self, PaymentPlans};
use crate::task::Tasks;
use crm_platform::audit;
use crm_platform::error::Error;
use crm_platform::time::day;
use crm_proto::sales::{
    ContractReminder, ContractStatus, InstalmentOverdue, OpportunityStatus, QuoteStatus,
    SalesEvent, SalesEventType, TaskStatus, sales_event::Subject,
};
use crm_records::handlers::Records;
use crm_records::jobs::{Announcement, SweptChange, announce_marked, run_every};
use crm_records::json;
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
            let contracts = activate_contracts(&records, now).await?;
            let reminders = remind_key_dates(&records, now).await?;
            let overdue = announce_overdue(&records, now).await?;
            Ok::<_, Error>(steps + tasks + quotes + contracts + reminders + overdue)
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
            change: None,
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
            change: None,
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
                change: Some(SweptChange {
                    resource_type: Quotes::KIND,
                    action: "expire",
                    changes: audit::diff(
                        &Quotes::audit_fields(&q),
                        &Quotes::audit_fields(&expired),
                    ),
                }),
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

/// The mark of a contract's change by a sweep: its new columns, only if nobody changed it
/// since it was read.
fn contract_mark(
    before: &contract_row::Model,
    after: &contract_row::Model,
) -> sea_orm::UpdateMany<contract_row::Entity> {
    use contract_row::Column as C;
    contract_row::Entity::update_many()
        .col_expr(C::Status, after.status.into())
        .col_expr(C::Reminded, after.reminded.clone().into())
        .col_expr(C::NextReminder, after.next_reminder.into())
        .col_expr(C::Version, after.version.into())
        .col_expr(C::UpdateTime, after.update_time.into())
        .filter(C::Id.eq(before.id.as_str()))
        .filter(C::Version.eq(before.version))
}

/// Makes the signed contracts whose start day has come active; returns how many.
async fn activate_contracts(records: &Records, now: i64) -> Result<u64, Error> {
    use contract_row::Column as C;
    let today = day::of_micros(now);
    let due = contract_row::Entity::find()
        .filter(C::Status.eq(ContractStatus::Signed as i32))
        .filter(C::DeleteTime.is_null())
        .filter(C::StartDate.lte(today))
        .limit(BATCH)
        .all(&records.db)
        .await?;
    let announcements = due
        .iter()
        .map(|c| {
            let mut active = c.clone();
            active.status = contract_flow::signed_status(c, today) as i32;
            active.version += 1;
            active.update_time = now;
            Announcement {
                mark: contract_mark(c, &active),
                tenant_id: c.tenant_id.clone(),
                aggregate_id: c.id.clone(),
                change: Some(SweptChange {
                    resource_type: Contracts::KIND,
                    action: "activate",
                    changes: audit::diff(
                        &Contracts::audit_fields(c),
                        &Contracts::audit_fields(&active),
                    ),
                }),
                event: SalesEvent {
                    r#type: SalesEventType::ContractUpdated as i32,
                    subject: Some(Subject::Contract(Contracts::to_proto(&active))),
                    ..Default::default()
                },
            }
        })
        .collect();
    let done = announce_marked(&records.db, announcements).await?;
    for c in &due {
        records.forget(&c.tenant_id, Contracts::KIND, &c.id).await;
    }
    Ok(done)
}

/// Reminds the earliest key date due for a reminder of each live contract (the next sweep
/// takes the next one); returns how many.
async fn remind_key_dates(records: &Records, now: i64) -> Result<u64, Error> {
    use contract_row::Column as C;
    let today = day::of_micros(now);
    let live = [ContractStatus::Signed as i32, ContractStatus::Active as i32];
    let due = contract_row::Entity::find()
        .filter(C::Status.is_in(live))
        .filter(C::DeleteTime.is_null())
        .filter(C::NextReminder.gt(0))
        .filter(C::NextReminder.lte(today))
        .limit(BATCH)
        .all(&records.db)
        .await?;
    let mut announcements = Vec::new();
    for c in &due {
        let mut done: Vec<String> = json::from_json(&c.reminded);
        let Some(key_date) = contract::key_dates(c)
            .into_iter()
            .filter(|k| !done.contains(&k.key()) && k.remind_on() <= today)
            .min_by_key(|k| k.remind_on())
        else {
            continue;
        };
        done.push(key_date.key());
        let mut reminded = c.clone();
        reminded.reminded = json::to_json(&done);
        reminded.next_reminder = contract::next_reminder(&reminded);
        reminded.version += 1;
        reminded.update_time = now;
        announcements.push(Announcement {
            mark: contract_mark(c, &reminded),
            tenant_id: c.tenant_id.clone(),
            aggregate_id: c.id.clone(),
            change: None,
            event: SalesEvent {
                r#type: SalesEventType::ContractKeyDateDue as i32,
                subject: Some(Subject::ContractReminder(ContractReminder {
                    contract: Some(Contracts::to_proto(&reminded)),
                    key_date: Some(key_date.to_proto()),
                })),
                ..Default::default()
            },
        });
    }
    let done = announce_marked(&records.db, announcements).await?;
    for c in &due {
        records.forget(&c.tenant_id, Contracts::KIND, &c.id).await;
    }
    Ok(done)
}

/// Announces the earliest instalment of each plan that passed its due day unpaid (the next
/// sweep takes the next one); returns how many.
async fn announce_overdue(records: &Records, now: i64) -> Result<u64, Error> {
    use payment_plan::Column as P;
    let today = day::of_micros(now);
    let due = payment_plan::Entity::find()
        .filter(P::DeleteTime.is_null())
        .filter(P::NextDue.gt(0))
        .filter(P::NextDue.lt(today))
        .limit(BATCH)
        .all(&records.db)
        .await?;
    let mut announcements = Vec::new();
    for plan in &due {
        let mut instalments = receivables::instalments(plan);
        let Some(position) = instalments
            .iter()
            .position(|i| i.due_date == plan.next_due && !i.overdue_announced)
        else {
            continue;
        };
        instalments[position].overdue_announced = true;
        let mut marked = plan.clone();
        marked.instalments = json::to_json(&instalments);
        marked.next_due = receivables::next_due(&marked);
        marked.version += 1;
        marked.update_time = now;
        announcements.push(Announcement {
            mark: payment_plan::Entity::update_many()
                .col_expr(P::Instalments, marked.instalments.clone().into())
                .col_expr(P::NextDue, marked.next_due.into())
                .col_expr(P::Version, marked.version.into())
                .col_expr(P::UpdateTime, now.into())
                .filter(P::Id.eq(plan.id.as_str()))
                .filter(P::Version.eq(plan.version)),
            tenant_id: plan.tenant_id.clone(),
            aggregate_id: plan.id.clone(),
            change: None,
            event: SalesEvent {
                r#type: SalesEventType::InstalmentOverdue as i32,
                subject: Some(Subject::InstalmentOverdue(InstalmentOverdue {
                    plan: Some(PaymentPlans::to_proto(&marked)),
                    position: i32::try_from(position + 1).unwrap_or(i32::MAX),
                })),
                ..Default::default()
            },
        });
    }
    let done = announce_marked(&records.db, announcements).await?;
    for plan in &due {
        records
            .forget(&plan.tenant_id, PaymentPlans::KIND, &plan.id)
            .await;
    }
    Ok(done)
}
