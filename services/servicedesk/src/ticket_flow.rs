//! How a ticket's status moves: NEW → OPEN, PENDING or RESOLVED; OPEN ⇄ PENDING; OPEN or
//! PENDING → RESOLVED with a resolution; RESOLVED → CLOSED, or reopened to OPEN with a reason
//! within the reopen window. Each move is one transaction on the shared state-change path,
//! audited and announced.

use crate::entity::ticket::Model;
use crate::satisfaction::Surveys;
use crate::ticket::Tickets;
use crm_platform::audit::enum_name;
use crm_platform::auth::Principal;
use crm_platform::clock;
use crm_platform::error::Error;
use crm_platform::validate::Violations;
use crm_proto::servicedesk::{
    ChangeTicketStatusRequest, ReassignTicketRequest, ReassignTicketResponse, Ticket, TicketStatus,
};
use crm_records::handlers::{Records, StateChange, follow_up};
use crm_records::resource::reaches;

/// How long after its resolution a customer may still reopen a ticket.
pub(crate) const REOPEN_WINDOW_DAYS: i64 = 7;

const DAY_MICROS: i64 = 86_400_000_000;

/// Moves the ticket `request` names to the status it asks for.
pub(crate) async fn change_status(
    records: &Records,
    surveys: &Surveys,
    principal: &Principal,
    (method, request): (&'static str, &ChangeTicketStatusRequest),
) -> Result<Ticket, Error> {
    let mut v = Violations::new();
    let to = v.required_enumeration::<TicketStatus>("status", request.status);
    let comment = request.comment.trim().to_owned();
    v.max_chars("comment", &comment, 2000);
    v.finish()?;
    let to = TicketStatus::try_from(to).unwrap_or(TicketStatus::Unspecified);
    let asked = StateChange {
        method,
        id: &request.id,
        etag: &request.etag,
        request_id: &request.request_id,
    };
    let now = clock::now_micros();
    // A resolution sends the customer's survey in the same transaction.
    let (surveys, survey_principal) = (surveys.clone(), principal.clone());
    let follow = follow_up::<Model, _>(move |txn, before, after| {
        Box::pin(async move {
            surveys
                .on_status_change(txn, &survey_principal, (before, after))
                .await
        })
    });
    let answer = records
        .change_state_then::<Tickets, _, _>(
            principal,
            (asked, request),
            (|current: &Model| step(current, to, &comment, now), follow),
            |ticket| crm_proto::servicedesk::ChangeTicketStatusResponse {
                ticket: Some(ticket),
            },
        )
        .await?;
    answer
        .ticket
        .ok_or_else(|| Error::internal("a status change answered no ticket"))
}

/// Hands the ticket `request` names to another agent in the caller's scope, with a reason.
pub(crate) async fn reassign(
    records: &Records,
    principal: &Principal,
    (method, request): (&'static str, &ReassignTicketRequest),
) -> Result<Ticket, Error> {
    let mut v = Violations::new();
    let owner_id = request.owner_id.trim().to_owned();
    let reason = request.reason.trim().to_owned();
    v.required("owner_id", &owner_id);
    v.required("reason", &reason);
    v.max_chars("reason", &reason, 2000);
    v.finish()?;
    // The same rule as every write of an owner: only to someone the caller reaches.
    if !reaches::<Tickets>(principal, &owner_id) {
        return Err(Error::invalid(
            "owner_id",
            "is not an agent you can assign to",
        ));
    }
    let asked = StateChange {
        method,
        id: &request.id,
        etag: &request.etag,
        request_id: &request.request_id,
    };
    let answer = records
        .change_state::<Tickets, _, _>(
            principal,
            (asked, request),
            |current| {
                if current.status == TicketStatus::Closed as i32 {
                    return Err(Error::wrong_state(
                        "TICKET_CLOSED",
                        "ticket.status",
                        format!("ticket {} is closed and no longer changes", current.number),
                    ));
                }
                let mut next = current.clone();
                next.owner_id = owner_id;
                next.assignment_reason = reason;
                Ok(next)
            },
            |ticket| ReassignTicketResponse {
                ticket: Some(ticket),
            },
        )
        .await?;
    answer
        .ticket
        .ok_or_else(|| Error::internal("a reassignment answered no ticket"))
}

/// Whether the status `from` may move to `to`.
fn allowed(from: TicketStatus, to: TicketStatus) -> bool {
    use TicketStatus::{Closed, New, Open, Pending, Resolved};
    matches!(
        (from, to),
        (New, Open | Pending | Resolved)
            | (Open, Pending | Resolved)
            | (Pending, Open | Resolved)
            | (Resolved, Open | Closed)
    )
}

/// The ticket after moving `current` to `to` at `now`, or why it may not move.
fn step(current: &Model, to: TicketStatus, comment: &str, now: i64) -> Result<Model, Error> {
    let from = TicketStatus::try_from(current.status).unwrap_or(TicketStatus::Unspecified);
    if !allowed(from, to) {
        return Err(Error::wrong_state(
            "TICKET_STATUS",
            "ticket.status",
            format!(
                "ticket {} is {}; it cannot move to {}",
                current.number,
                enum_name::<TicketStatus>(current.status),
                enum_name::<TicketStatus>(to as i32)
            ),
        ));
    }
    let mut next = current.clone();
    if from == TicketStatus::New {
        next.first_response_time = Some(now);
    }
    match (from, to) {
        (_, TicketStatus::Resolved) => {
            if comment.is_empty() {
                return Err(Error::invalid(
                    "comment",
                    "is required: how was it resolved?",
                ));
            }
            next.resolution = comment.to_owned();
            next.resolve_time = Some(now);
        }
        (TicketStatus::Resolved, TicketStatus::Open) => {
            if comment.is_empty() {
                return Err(Error::invalid(
                    "comment",
                    "is required: why is it reopened?",
                ));
            }
            if !reopens(current, now) {
                return Err(Error::wrong_state(
                    "TICKET_REOPEN_WINDOW",
                    "ticket.status",
                    format!(
                        "ticket {} was resolved more than {REOPEN_WINDOW_DAYS} days ago; file a new ticket",
                        current.number
                    ),
                ));
            }
            next.reopen_count += 1;
            next.resolution.clear();
        }
        (_, TicketStatus::Closed) => next.close_time = Some(now),
        _ => {}
    }
    next.status = to as i32;
    next.status_comment = comment.to_owned();
    Ok(next)
}

/// Whether `ticket` may still be reopened at `now`: any ticket not resolved, or one resolved
/// within the reopen window.
pub(crate) fn reopens(ticket: &Model, now: i64) -> bool {
    ticket.status != TicketStatus::Resolved as i32
        || ticket
            .resolve_time
            .is_none_or(|resolved| now <= resolved + REOPEN_WINDOW_DAYS * DAY_MICROS)
}

/// The ticket after its customer wrote in at `now`: one waiting on them is open again, and a
/// resolved one (within the window) is reopened; `None` when its status stays.
pub(crate) fn answered_by_customer(current: &Model, now: i64) -> Option<Model> {
    let mut next = current.clone();
    match TicketStatus::try_from(current.status) {
        Ok(TicketStatus::Pending) => {}
        Ok(TicketStatus::Resolved) if reopens(current, now) => {
            next.reopen_count += 1;
            next.resolution.clear();
        }
        _ => return None,
    }
    next.status = TicketStatus::Open as i32;
    next.status_comment = "the customer wrote in".to_owned();
    Some(next)
}

#[cfg(test)]
mod tests {
    use super::*;
    use TicketStatus::{Closed, New, Open, Pending, Resolved, Unspecified};

    #[test]
    fn only_the_documented_moves_are_allowed() {
        let all = [Unspecified, New, Open, Pending, Resolved, Closed];
        let mut moves = Vec::new();
        for from in all {
            for to in all {
                if allowed(from, to) {
                    moves.push((from, to));
                }
            }
        }
        assert_eq!(
            moves,
            [
                (New, Open),
                (New, Pending),
                (New, Resolved),
                (Open, Pending),
                (Open, Resolved),
                (Pending, Open),
                (Pending, Resolved),
                (Resolved, Open),
                (Resolved, Closed),
            ]
        );
    }
}
