//! The service desk's background sweep: the service-level clocks. A ticket whose warning
//! share of a target has passed is announced once (`SLA_WARNING`); one whose due time has
//! passed unmet is announced once (`SLA_BREACHED`) and escalated by the tenant's policy: its
//! priority raised a step, reassigned to the lead, the people to tell named in the event.
//! Whichever replica marks a ticket first announces it; a breach's mark is a change of the
//! ticket under its version, so it never overwrites a user's concurrent write (the next
//! sweep tries again).

use std::collections::HashMap;
use std::time::Duration;

use sea_orm::{ColumnTrait, Condition, EntityTrait, QueryFilter, QuerySelect};

use crate::entity::ticket::{Column, Entity, Model};
use crate::sla_clock::{self, SlaRules};
use crate::ticket::Tickets;
use crm_platform::audit;
use crm_platform::error::Error;
use crm_platform::time::to_timestamp_opt;
use crm_proto::servicedesk::{
    ServicedeskEvent, ServicedeskEventType, SlaAlert, SlaMetric, TicketPriority, TicketStatus,
    servicedesk_event::Subject,
};
use crm_records::handlers::Records;
use crm_records::jobs::{Announcement, SweptChange, announce_marked, run_every};
use crm_records::resource::Resource;

/// Tickets announced per question and sweep at most; the rest wait for the next turn.
const BATCH: u64 = 500;

/// Sweeps every `interval` until `shutdown`.
pub(crate) async fn run(records: Records, interval: Duration, shutdown: impl Future<Output = ()>) {
    run_every("servicedesk", interval, shutdown, |now| {
        let records = records.clone();
        async move {
            let mut announced = 0;
            for clock in [Clock::FIRST_RESPONSE, Clock::RESOLUTION] {
                announced += announce(&records, now, clock, Alert::Warning).await?;
                announced += announce(&records, now, clock, Alert::Breach).await?;
            }
            Ok::<_, Error>(announced)
        }
    })
    .await;
}

/// One of a ticket's two clocks, by its columns.
#[derive(Debug, Clone, Copy)]
struct Clock {
    metric: SlaMetric,
    warn_at: Column,
    due: Column,
    warned: Column,
    breached: Column,
}

impl Clock {
    const FIRST_RESPONSE: Clock = Clock {
        metric: SlaMetric::FirstResponse,
        warn_at: Column::ResponseWarnAt,
        due: Column::ResponseDue,
        warned: Column::ResponseWarned,
        breached: Column::ResponseBreached,
    };
    const RESOLUTION: Clock = Clock {
        metric: SlaMetric::Resolution,
        warn_at: Column::ResolutionWarnAt,
        due: Column::ResolutionDue,
        warned: Column::ResolutionWarned,
        breached: Column::ResolutionBreached,
    };

    /// Whether the clock runs: the first response has not come, or the ticket is not
    /// pending, resolved or closed.
    fn running(self) -> Condition {
        match self.metric {
            SlaMetric::FirstResponse => Condition::all()
                .add(Column::FirstResponseTime.is_null())
                .add(Column::Status.ne(TicketStatus::Closed as i32)),
            _ => Condition::all().add(Column::ResolutionSince.is_not_null()),
        }
    }

    fn due_of(self, m: &Model) -> Option<i64> {
        match self.metric {
            SlaMetric::FirstResponse => m.response_due,
            _ => m.resolution_due,
        }
    }
}

/// What is announced.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Alert {
    Warning,
    Breach,
}

/// Announces `alert` for the tickets whose `clock` reached it by `now`; returns how many.
async fn announce(records: &Records, now: i64, clock: Clock, alert: Alert) -> Result<u64, Error> {
    let (time, flag) = match alert {
        Alert::Warning => (clock.warn_at, clock.warned),
        Alert::Breach => (clock.due, clock.breached),
    };
    let due = Entity::find()
        .filter(clock.running())
        .filter(Column::DeleteTime.is_null())
        .filter(flag.eq(false))
        .filter(time.lte(now))
        .limit(BATCH)
        .all(&records.db)
        .await?;
    if due.is_empty() {
        return Ok(0);
    }
    let mut rules: HashMap<String, SlaRules> = HashMap::new();
    let mut announcements = Vec::with_capacity(due.len());
    let mut forget = Vec::new();
    for ticket in due {
        if !rules.contains_key(&ticket.tenant_id) {
            let found = sla_clock::rules(&records.db, &ticket.tenant_id).await?;
            rules.insert(ticket.tenant_id.clone(), found);
        }
        let Some(tenant_rules) = rules.get(&ticket.tenant_id) else {
            continue;
        };
        forget.push((ticket.tenant_id.clone(), ticket.id.clone()));
        announcements.push(match alert {
            Alert::Warning => warning(ticket, clock, tenant_rules),
            Alert::Breach => breach(ticket, clock, tenant_rules, now),
        });
    }
    let announced = announce_marked(&records.db, announcements).await?;
    for (tenant_id, id) in forget {
        records.forget(&tenant_id, Tickets::KIND, &id).await;
    }
    Ok(announced)
}

/// Whom an alert tells: the owner and the policy's list.
fn notified(owner_id: &str, rules: &SlaRules) -> Vec<String> {
    let mut users = vec![owner_id.to_owned()];
    for user in &rules.policy.notify_user_ids {
        if !users.contains(user) {
            users.push(user.clone());
        }
    }
    users
}

fn event(kind: ServicedeskEventType, alert: SlaAlert) -> ServicedeskEvent {
    ServicedeskEvent {
        r#type: kind as i32,
        subject: Some(Subject::SlaAlert(alert)),
        ..Default::default()
    }
}

/// The warning: a bookkeeping mark, the ticket itself unchanged.
fn warning(
    ticket: Model,
    clock: Clock,
    rules: &SlaRules,
) -> Announcement<Entity, ServicedeskEvent> {
    let alert = SlaAlert {
        metric: clock.metric as i32,
        due_time: to_timestamp_opt(clock.due_of(&ticket)),
        notify_user_ids: notified(&ticket.owner_id, rules),
        ticket: Some(Tickets::to_proto(&ticket)),
        ..Default::default()
    };
    Announcement {
        mark: Entity::update_many()
            .col_expr(clock.warned, true.into())
            .filter(Column::Id.eq(ticket.id.as_str()))
            .filter(clock.warned.eq(false)),
        tenant_id: ticket.tenant_id.clone(),
        aggregate_id: ticket.id.clone(),
        event: event(ServicedeskEventType::SlaWarning, alert),
        change: None,
    }
}

/// The breach and its escalation: marked breached, the priority raised and the owner
/// changed as the policy says, under the ticket's version; audited as the system's change.
fn breach(
    ticket: Model,
    clock: Clock,
    rules: &SlaRules,
    now: i64,
) -> Announcement<Entity, ServicedeskEvent> {
    let policy = &rules.policy;
    let mut escalated = ticket.clone();
    match clock.metric {
        SlaMetric::FirstResponse => escalated.response_breached = true,
        _ => escalated.resolution_breached = true,
    }
    let priority_raised = policy.raise_priority && ticket.priority < TicketPriority::Urgent as i32;
    if priority_raised {
        escalated.priority += 1;
    }
    let reassigned_to = if policy.reassign_to.is_empty() || policy.reassign_to == ticket.owner_id {
        String::new()
    } else {
        escalated.owner_id = policy.reassign_to.clone();
        escalated.owner_since = now;
        policy.reassign_to.clone()
    };
    escalated.version += 1;
    escalated.update_time = now;
    let alert = SlaAlert {
        metric: clock.metric as i32,
        due_time: to_timestamp_opt(clock.due_of(&ticket)),
        notify_user_ids: notified(&ticket.owner_id, rules),
        priority_raised,
        reassigned_to,
        ticket: Some(Tickets::to_proto(&escalated)),
    };
    Announcement {
        mark: Entity::update_many()
            .col_expr(clock.breached, true.into())
            .col_expr(Column::Priority, escalated.priority.into())
            .col_expr(Column::OwnerId, escalated.owner_id.clone().into())
            .col_expr(Column::OwnerSince, escalated.owner_since.into())
            .col_expr(Column::Version, escalated.version.into())
            .col_expr(Column::UpdateTime, now.into())
            .filter(Column::Id.eq(ticket.id.as_str()))
            .filter(Column::Version.eq(ticket.version)),
        tenant_id: ticket.tenant_id.clone(),
        aggregate_id: ticket.id.clone(),
        change: Some(SweptChange {
            resource_type: Tickets::KIND,
            action: "escalate",
            changes: audit::diff(
                &Tickets::audit_fields(&ticket),
                &Tickets::audit_fields(&escalated),
            ),
        }),
        event: event(ServicedeskEventType::SlaBreached, alert),
    }
}
