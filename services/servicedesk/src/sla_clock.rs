//! A ticket's service-level clocks, recomputed on every write of the ticket from the
//! tenant's policy and business calendar.
//!
//! - **First response** counts business time from the ticket's creation; it stops at the
//!   first response (the first public reply, or the first move out of NEW). An answer after
//!   the due time marks the ticket breached.
//! - **Resolution** counts business time while the ticket is NEW or OPEN. Pending on the
//!   customer, resolved or closed stop it: the business time so far is kept, and the clock
//!   resumes from there when the ticket is open again (the customer answers, or it is
//!   reopened), so the due time moves by the time the customer kept us waiting.
//!
//! Due times follow the ticket's current priority and support level: a changed priority
//! changes them at once. Warnings and breaches are announced by the sweep (`jobs`), once
//! each per ticket; a ticket resolved late between two sweeps carries its breach in its own
//! fields.

use sea_orm::ConnectionTrait;

use crate::business_calendar::StoredCalendar;
use crate::entity::ticket::Model;
use crate::sla_policy::StoredPolicy;
use crm_platform::calendar::{self, BusinessCalendar};
use crm_platform::error::Error;
use crm_platform::time::to_timestamp_opt;
use crm_proto::servicedesk::{TicketSla, TicketStatus};
use crm_records::settings;

/// What a tenant's clocks count by.
#[derive(Debug, Clone)]
pub(crate) struct SlaRules {
    pub(crate) policy: StoredPolicy,
    pub(crate) calendar: BusinessCalendar,
}

/// The tenant's policy and calendar.
pub(crate) async fn rules<C: ConnectionTrait>(db: &C, tenant_id: &str) -> Result<SlaRules, Error> {
    let policy = settings::load::<StoredPolicy, _>(db, tenant_id)
        .await?
        .value;
    let calendar = settings::load::<StoredCalendar, _>(db, tenant_id)
        .await?
        .value
        .calendar();
    Ok(SlaRules { policy, calendar })
}

/// Whether the resolution clock runs in `status`.
fn resolution_runs(status: i32) -> bool {
    status == TicketStatus::New as i32 || status == TicketStatus::Open as i32
}

/// Sets `next`'s clocks after a write at `now`; `current` is the ticket before it (`None`
/// for a new ticket).
pub(crate) fn recompute(current: Option<&Model>, next: &mut Model, rules: &SlaRules, now: i64) {
    let cal = &rules.calendar;
    let percent = i64::from(rules.policy.warning_percent());
    let target = rules.policy.target(next.priority, &next.support_level);
    let share = |total: i64| total * percent / 100;

    let response = target
        .map(|t| calendar::minutes(i64::from(t.first_response)))
        .filter(|m| *m > 0);
    match (next.first_response_time, response) {
        (None, Some(total)) => {
            next.response_due = cal.add(next.create_time, total);
            next.response_warn_at = cal.add(next.create_time, share(total));
        }
        (None, None) => {
            next.response_due = None;
            next.response_warn_at = None;
        }
        (Some(answered), _) => {
            let just_answered = current.is_some_and(|c| c.first_response_time.is_none());
            if just_answered && next.response_due.is_some_and(|due| answered > due) {
                next.response_breached = true;
            }
        }
    }

    let runs = resolution_runs(next.status);
    match next.resolution_since {
        Some(since) if !runs => {
            next.resolution_used += cal.between(since, now);
            next.resolution_since = None;
            if next.resolution_due.is_some_and(|due| now > due) {
                next.resolution_breached = true;
            }
        }
        None if runs => next.resolution_since = Some(now),
        _ => {}
    }
    let resolution = target
        .map(|t| calendar::minutes(i64::from(t.resolution)))
        .filter(|m| *m > 0);
    next.resolution_target = resolution.unwrap_or(0);
    match (resolution, next.resolution_since) {
        (None, _) => {
            next.resolution_due = None;
            next.resolution_warn_at = None;
        }
        (Some(total), Some(since)) => {
            let used = next.resolution_used;
            next.resolution_due = cal.add(since, (total - used).max(0));
            next.resolution_warn_at = cal.add(since, (share(total) - used).max(0));
        }
        // Stopped: the due time is recomputed when the clock resumes.
        (Some(_), None) => {}
    }
}

/// The wire form of a ticket's clocks.
pub(crate) fn to_proto(m: &Model) -> TicketSla {
    let paused = m.resolution_since.is_none();
    TicketSla {
        support_level: m.support_level.clone(),
        first_response_due: to_timestamp_opt(m.response_due),
        resolution_due: to_timestamp_opt(m.resolution_due.filter(|_| !paused)),
        resolution_paused: paused,
        resolution_business_seconds: m.resolution_used / 1_000_000,
        first_response_breached: m.response_breached,
        resolution_breached: m.resolution_breached,
    }
}
