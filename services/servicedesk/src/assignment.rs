//! Who a new ticket goes to: the first queue (by position) that covers its type and category
//! picks one of its agents who are not away (all of them when every one is), by its rule:
//! each in turn, the fewest open tickets, or the fewest open among those skilled in the
//! ticket's category. A queue may give a key account's ticket to the account's owner first,
//! when they are one of its agents not away. The queue's row is bumped first, which locks it: concurrent tickets
//! of one queue are assigned one after the other, each seeing the ones before, so turns and
//! counts stay fair.

use sea_orm::sea_query::{Expr, ExprTrait as _};
use sea_orm::{
    ColumnTrait, DatabaseTransaction, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
};

use crate::entity::queue::{self, Model as Queue};
use crate::entity::ticket::{self, Model as Ticket};
use crate::presence::StoredPresence;
use crate::queue::{StoredMember, members};
use crm_platform::error::Error;
use crm_proto::servicedesk::{AssignmentRule, TicketStatus};
use crm_records::json;
use crm_records::settings;

/// Whether `queue` takes `ticket`.
fn covers(queue: &Queue, ticket: &Ticket) -> bool {
    let types: Vec<i32> = json::from_json(&queue.ticket_types);
    let categories: Vec<String> = json::from_json(&queue.categories);
    (types.is_empty() || types.contains(&ticket.ticket_type))
        && (categories.is_empty() || categories.contains(&ticket.category.to_lowercase()))
}

/// Sets the owner and queue of a new `ticket` that names no owner; `creator` keeps it when
/// no queue covers it.
pub(crate) async fn assign(
    txn: &DatabaseTransaction,
    tenant_id: &str,
    ticket: &mut Ticket,
    creator: &str,
) -> Result<(), Error> {
    let queues = queue::Entity::find()
        .filter(queue::Column::TenantId.eq(tenant_id))
        .filter(queue::Column::DeleteTime.is_null())
        .order_by_asc(queue::Column::Position)
        .order_by_asc(queue::Column::CreateTime)
        .all(txn)
        .await?;
    let Some(found) = queues.into_iter().find(|q| covers(q, ticket)) else {
        ticket.owner_id = creator.to_owned();
        return Ok(());
    };
    let away = settings::load::<StoredPresence, _>(txn, tenant_id)
        .await?
        .value
        .away;
    let all = members(&found);
    let mut candidates: Vec<&StoredMember> =
        all.iter().filter(|m| !away.contains(&m.user_id)).collect();
    if candidates.is_empty() {
        candidates = all.iter().collect();
    }
    let owner = &ticket.key_account_owner_id;
    let key_account_owner = (found.key_account_owner_first && !owner.is_empty())
        .then(|| candidates.iter().find(|m| &m.user_id == owner))
        .flatten();
    if let Some(owner) = key_account_owner {
        // Not the rule's pick: it takes no turn from the others.
        ticket.owner_id = owner.user_id.clone();
        ticket.queue_id = found.id;
        return Ok(());
    }
    let turn = take_turn(txn, &found.id).await?;
    let rule = AssignmentRule::try_from(found.rule).unwrap_or(AssignmentRule::RoundRobin);
    let chosen = match rule {
        AssignmentRule::LeastOpen => least_open(txn, tenant_id, &candidates).await?,
        AssignmentRule::SkillMatch => {
            let category = ticket.category.to_lowercase();
            let skilled: Vec<&StoredMember> = candidates
                .iter()
                .copied()
                .filter(|m| m.skills.contains(&category))
                .collect();
            let pool = if skilled.is_empty() {
                &candidates
            } else {
                &skilled
            };
            least_open(txn, tenant_id, pool).await?
        }
        _ => candidates
            .get(turn.rem_euclid(candidates.len().max(1) as i64) as usize)
            .map(|m| m.user_id.clone()),
    };
    ticket.owner_id = chosen.unwrap_or_else(|| creator.to_owned());
    ticket.queue_id = found.id;
    Ok(())
}

/// Bumps the queue's counter (locking its row until the transaction ends) and returns the
/// turn before the bump, from 0.
async fn take_turn(txn: &DatabaseTransaction, queue_id: &str) -> Result<i64, Error> {
    queue::Entity::update_many()
        .col_expr(
            queue::Column::Assigned,
            Expr::col(queue::Column::Assigned).add(1),
        )
        .filter(queue::Column::Id.eq(queue_id))
        .exec(txn)
        .await?;
    let row = queue::Entity::find_by_id(queue_id)
        .one(txn)
        .await?
        .ok_or_else(|| Error::internal("a queue vanished while assigning"))?;
    Ok(row.assigned - 1)
}

/// The candidate with the fewest open tickets; ties go to the first listed.
async fn least_open(
    txn: &DatabaseTransaction,
    tenant_id: &str,
    candidates: &[&StoredMember],
) -> Result<Option<String>, Error> {
    let ids: Vec<&str> = candidates.iter().map(|m| m.user_id.as_str()).collect();
    let open = [
        TicketStatus::New as i32,
        TicketStatus::Open as i32,
        TicketStatus::Pending as i32,
    ];
    let counts: Vec<(String, i64)> = ticket::Entity::find()
        .select_only()
        .column(ticket::Column::OwnerId)
        .column_as(ticket::Column::Id.count(), "open")
        .filter(ticket::Column::TenantId.eq(tenant_id))
        .filter(ticket::Column::DeleteTime.is_null())
        .filter(ticket::Column::Status.is_in(open))
        .filter(ticket::Column::OwnerId.is_in(ids.clone()))
        .group_by(ticket::Column::OwnerId)
        .into_tuple()
        .all(txn)
        .await?;
    let count_of = |id: &str| {
        counts
            .iter()
            .find(|(owner, _)| owner == id)
            .map_or(0, |(_, n)| *n)
    };
    Ok(ids
        .iter()
        .min_by_key(|id| count_of(id))
        .map(|id| (*id).to_owned()))
}
