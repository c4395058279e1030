//! The service desk's figures over a period, per agent the caller reaches, per queue and in
//! all: tickets filed and resolved, the mean first response and resolution in business time
//! (the tenant's calendar; the resolution clock as the ticket kept it, so waits on the
//! customer do not count), the share reopened, the shares within their service-level
//! targets, CSAT from the surveys, and the open backlog by age. Everything is counted in
//! integers and written as exact ratios to two places.

use std::collections::BTreeMap;

use sea_orm::sea_query::ExprTrait as _;
use sea_orm::{ColumnTrait, Condition, EntityTrait, QueryFilter};

use crate::entity::ticket::{Column as TicketColumn, Model as Ticket};
use crate::entity::ticket_survey::{Column as SurveyColumn, Entity as Surveys, Model as Survey};
use crate::sla_clock;
use crate::ticket::Tickets;
use crm_platform::auth::Principal;
use crm_platform::clock;
use crm_platform::error::Error;
use crm_proto::servicedesk::{
    GetServiceQualityRequest, GetServiceQualityResponse, QualityLine, TicketStatus,
};
use crm_records::handlers::Records;
use crm_records::store;

/// Who reads the figures.
const QUALITY_READ: &str = "servicedesk.quality.read";
const MINUTE_MICROS: i64 = 60_000_000;
const DAY_MICROS: i64 = 86_400_000_000;
/// The upper bounds of the backlog's age buckets, in days; the last bucket is open.
const BACKLOG_DAYS: [i64; 3] = [1, 3, 7];

/// One line's counts.
#[derive(Debug, Default, Clone, Copy)]
struct Sums {
    created: i64,
    resolved: i64,
    first_responses: i64,
    first_response_micros: i64,
    resolution_micros: i64,
    reopened: i64,
    responses_with_target: i64,
    responses_in_time: i64,
    resolutions_with_target: i64,
    resolutions_in_time: i64,
    surveys_sent: i64,
    surveys_answered: i64,
    score_total: i64,
    satisfied: i64,
    backlog: [i64; 4],
}

/// What the period is, and how business time is counted.
struct Period<'a> {
    start: i64,
    end: i64,
    now: i64,
    rules: &'a sla_clock::SlaRules,
}

impl Period<'_> {
    fn holds(&self, micros: Option<i64>) -> bool {
        micros.is_some_and(|t| (self.start..self.end).contains(&t))
    }
}

impl Sums {
    fn add_ticket(&mut self, t: &Ticket, period: &Period<'_>) {
        if period.holds(Some(t.create_time)) {
            self.created += 1;
        }
        if let Some(answered) = t.first_response_time.filter(|a| period.holds(Some(*a))) {
            self.first_responses += 1;
            self.first_response_micros += period.rules.calendar.between(t.create_time, answered);
            if t.response_due.is_some() {
                self.responses_with_target += 1;
                if !t.response_breached {
                    self.responses_in_time += 1;
                }
            }
        }
        let settled = [TicketStatus::Resolved as i32, TicketStatus::Closed as i32];
        if period.holds(t.resolve_time) && settled.contains(&t.status) {
            self.resolved += 1;
            self.resolution_micros += t.resolution_used;
            if t.reopen_count > 0 {
                self.reopened += 1;
            }
            if t.resolution_target > 0 {
                self.resolutions_with_target += 1;
                if !t.resolution_breached {
                    self.resolutions_in_time += 1;
                }
            }
        }
        if is_open(t.status) {
            let age = std::cmp::max(period.now - t.create_time, 0);
            let bucket = BACKLOG_DAYS
                .iter()
                .position(|days| age < days * DAY_MICROS)
                .unwrap_or(BACKLOG_DAYS.len());
            self.backlog[bucket] += 1;
        }
    }

    fn add_survey(&mut self, s: &Survey) {
        self.surveys_sent += 1;
        if s.answer_time.is_some() {
            self.surveys_answered += 1;
            self.score_total += i64::from(s.score);
            if s.score >= 4 {
                self.satisfied += 1;
            }
        }
    }

    fn line(&self, agent_id: &str, queue_id: &str) -> QualityLine {
        QualityLine {
            agent_id: agent_id.to_owned(),
            queue_id: queue_id.to_owned(),
            created: self.created,
            resolved: self.resolved,
            first_responses: self.first_responses,
            first_response_minutes: hundredths(
                self.first_response_micros,
                self.first_responses * MINUTE_MICROS,
            ),
            resolution_minutes: hundredths(self.resolution_micros, self.resolved * MINUTE_MICROS),
            reopen_percent: hundredths(100 * self.reopened, self.resolved),
            first_response_sla_percent: hundredths(
                100 * self.responses_in_time,
                self.responses_with_target,
            ),
            resolution_sla_percent: hundredths(
                100 * self.resolutions_in_time,
                self.resolutions_with_target,
            ),
            surveys_sent: self.surveys_sent,
            surveys_answered: self.surveys_answered,
            average_score: hundredths(self.score_total, self.surveys_answered),
            csat_percent: hundredths(100 * self.satisfied, self.surveys_answered),
            backlog_by_age: self.backlog.to_vec(),
        }
    }
}

fn is_open(status: i32) -> bool {
    [TicketStatus::New, TicketStatus::Open, TicketStatus::Pending]
        .iter()
        .any(|s| *s as i32 == status)
}

/// `numerator / denominator` to two places, rounded half up; empty when nothing is counted.
fn hundredths(numerator: i64, denominator: i64) -> String {
    if denominator == 0 {
        return String::new();
    }
    let numerator = i128::from(numerator) * 100;
    let denominator = i128::from(denominator);
    let scaled = (2 * numerator + denominator) / (2 * denominator);
    format!("{}.{:02}", scaled / 100, scaled % 100)
}

/// Lines that add one record to its agent's, its queue's and the total.
#[derive(Default)]
struct Lines {
    agents: BTreeMap<String, Sums>,
    queues: BTreeMap<String, Sums>,
    total: Sums,
}

impl Lines {
    fn add(&mut self, (agent_id, queue_id): (&str, &str), add: impl Fn(&mut Sums)) {
        add(self.agents.entry(agent_id.to_owned()).or_default());
        if !queue_id.is_empty() {
            add(self.queues.entry(queue_id.to_owned()).or_default());
        }
        add(&mut self.total);
    }
}

/// The figures of the period `request` names.
pub(crate) async fn figures(
    records: &Records,
    principal: &Principal,
    request: &GetServiceQualityRequest,
) -> Result<GetServiceQualityResponse, Error> {
    principal.require(QUALITY_READ)?;
    let (start, end) = crm_platform::time::period(
        ("start_time", request.start_time.as_ref()),
        ("end_time", request.end_time.as_ref()),
        366,
    )?;
    let rules = sla_clock::rules(&records.db, &principal.tenant_id).await?;
    let in_period = |column: TicketColumn| column.gte(start).and(column.lt(end));
    let open: Vec<i32> = [TicketStatus::New, TicketStatus::Open, TicketStatus::Pending]
        .iter()
        .map(|s| *s as i32)
        .collect();
    // The caller's scope is in the query: tickets of agents out of reach are never read.
    let tickets = store::scoped::<Tickets>(principal)
        .filter(TicketColumn::DeleteTime.is_null())
        .filter(
            Condition::any()
                .add(in_period(TicketColumn::CreateTime))
                .add(in_period(TicketColumn::FirstResponseTime))
                .add(in_period(TicketColumn::ResolveTime))
                .add(TicketColumn::Status.is_in(open)),
        )
        .all(&records.db)
        .await?;
    let surveys = Surveys::find()
        .filter(SurveyColumn::TenantId.eq(principal.tenant_id.as_str()))
        .filter(SurveyColumn::SendTime.gte(start))
        .filter(SurveyColumn::SendTime.lt(end))
        .all(&records.db)
        .await?;
    let period = Period {
        start,
        end,
        now: clock::now_micros(),
        rules: &rules,
    };
    let mut lines = Lines::default();
    for t in &tickets {
        lines.add((&t.owner_id, &t.queue_id), |sums| {
            sums.add_ticket(t, &period)
        });
    }
    for s in surveys.iter().filter(|s| principal.reaches(&s.agent_id)) {
        lines.add((&s.agent_id, &s.queue_id), |sums| sums.add_survey(s));
    }
    Ok(GetServiceQualityResponse {
        agents: lines.agents.iter().map(|(a, s)| s.line(a, "")).collect(),
        queues: lines.queues.iter().map(|(q, s)| s.line("", q)).collect(),
        total: Some(lines.total.line("", "")),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn means_and_shares_round_half_up_to_two_places() {
        assert_eq!(hundredths(13, 3), "4.33");
        assert_eq!(hundredths(14, 3), "4.67");
        assert_eq!(hundredths(100 * 7, 8), "87.50");
        assert_eq!(hundredths(100 * 2, 3), "66.67");
        assert_eq!(hundredths(5, 1), "5.00");
        assert_eq!(hundredths(90 * MINUTE_MICROS, MINUTE_MICROS), "90.00");
        assert_eq!(hundredths(0, 0), "");
    }
}
