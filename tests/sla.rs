//! Service levels end to end through the gateway, in both modes, on a moved platform clock:
//! the desk's lead sets a Shanghai business calendar (a lunch break, a holiday, a make-up
//! Saturday) and a policy; tickets get due times in business time, exactly; pending on the
//! customer stops the resolution clock and the due time moves by the wait; the sweep warns
//! and breaches once each, and a breach raises the priority and hands the ticket to the
//! lead, audited as the system's change. Bad settings name their field; agents read them and
//! cannot change them; another tenant keeps its own.
//!
//! Every instant the test creates or moves a ticket at lies outside working hours, so the
//! milliseconds the test itself takes never show in a due time.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use chrono::{Datelike, TimeZone, Weekday as ChronoWeekday};
use chrono_tz::Asia::Shanghai;
use tonic::Code;

use crm_proto::common::Date;
use crm_proto::servicedesk::*;
use support::clients::{Session, expect_code, expect_invalid};
use support::desk::*;
use support::quoting::eventually;
use support::{ADMIN_PASSWORD, Mode, Suite, org};

use crate::support;

/// Microseconds of a protobuf time.
fn micros(ts: &Option<prost_types::Timestamp>) -> i64 {
    let ts = ts.as_ref().expect("a time");
    ts.seconds * 1_000_000 + i64::from(ts.nanos / 1000)
}

/// The Saturday 10:00 in Shanghai at least two days after `now`.
fn saturday_after(now: i64) -> chrono::DateTime<chrono_tz::Tz> {
    let mut day = chrono::DateTime::from_timestamp_micros(now + 2 * 86_400_000_000)
        .unwrap()
        .with_timezone(&Shanghai)
        .date_naive();
    while day.weekday() != ChronoWeekday::Sat {
        day = day.succ_opt().unwrap();
    }
    Shanghai
        .from_local_datetime(&day.and_hms_opt(10, 0, 0).unwrap())
        .unwrap()
}

fn date(day: chrono::NaiveDate) -> Date {
    Date {
        year: day.year(),
        month: day.month() as i32,
        day: day.day() as i32,
    }
}

/// Weekdays 09:00–12:00 and 13:30–18:00, one holiday, one make-up day.
fn calendar(holiday: chrono::NaiveDate, make_up: chrono::NaiveDate) -> BusinessCalendar {
    let mut hours = Vec::new();
    for weekday in 1..=5 {
        for (start, end) in [("09:00", "12:00"), ("13:30", "18:00")] {
            hours.push(WorkingHours {
                weekday,
                start: start.into(),
                end: end.into(),
            });
        }
    }
    BusinessCalendar {
        time_zone: "Asia/Shanghai".into(),
        working_hours: hours,
        holidays: vec![date(holiday)],
        make_up_days: vec![date(make_up)],
        ..Default::default()
    }
}

fn target(priority: TicketPriority, first_response: i32, resolution: i32) -> SlaTarget {
    SlaTarget {
        priority: priority as i32,
        support_level: String::new(),
        first_response_minutes: first_response,
        resolution_minutes: resolution,
    }
}

fn policy(lead_id: &str) -> SlaPolicy {
    SlaPolicy {
        targets: vec![
            target(TicketPriority::Normal, 240, 1200),
            target(TicketPriority::High, 60, 600),
            target(TicketPriority::Urgent, 30, 600),
        ],
        warning_percent: 50,
        escalation: Some(SlaEscalation {
            raise_priority: true,
            reassign_to: lead_id.into(),
            notify_user_ids: vec![lead_id.into()],
        }),
        ..Default::default()
    }
}

async fn update_calendar(
    session: &Session,
    calendar: BusinessCalendar,
) -> Result<BusinessCalendar, tonic::Status> {
    Ok(session
        .servicedesk()
        .update_business_calendar(UpdateBusinessCalendarRequest {
            calendar: Some(calendar),
            request_id: String::new(),
        })
        .await?
        .into_inner()
        .calendar
        .unwrap())
}

async fn update_policy(session: &Session, policy: SlaPolicy) -> Result<SlaPolicy, tonic::Status> {
    Ok(session
        .servicedesk()
        .update_sla_policy(UpdateSlaPolicyRequest {
            policy: Some(policy),
            request_id: String::new(),
        })
        .await?
        .into_inner()
        .policy
        .unwrap())
}

async fn get_policy(session: &Session) -> SlaPolicy {
    session
        .servicedesk()
        .get_sla_policy(GetSlaPolicyRequest {})
        .await
        .unwrap()
        .into_inner()
        .policy
        .unwrap()
}

/// The suite's clock moved forward to `at`.
async fn move_clock_to(suite: &Suite, at: chrono::DateTime<chrono_tz::Tz>) {
    let ahead = at.timestamp_micros() - suite.now_micros();
    assert!(ahead > 0, "the clock only moves forward");
    suite
        .advance_clock(Duration::from_micros(ahead as u64))
        .await;
}

/// The SLA alerts announced so far, as (ticket number, event type, metric).
async fn alerts(suite: &Suite) -> Vec<(String, ServicedeskEventType, SlaMetric, SlaAlert)> {
    suite
        .outbox::<ServicedeskEvent>("servicedesk")
        .await
        .into_iter()
        .filter_map(|e| match (e.r#type(), e.subject) {
            (kind, Some(servicedesk_event::Subject::SlaAlert(alert))) => Some((
                alert.ticket.clone().unwrap().number,
                kind,
                alert.metric(),
                alert,
            )),
            _ => None,
        })
        .collect()
}

/// Waits for `count` alerts, then a moment for any extra.
async fn wait_for_alerts(
    suite: &Suite,
    count: usize,
) -> Vec<(String, ServicedeskEventType, SlaMetric, SlaAlert)> {
    eventually(&format!("{count} SLA alerts"), || async {
        (alerts(suite).await.len() >= count).then_some(())
    })
    .await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    alerts(suite).await
}

async fn set_priority(session: &Session, id: &str, priority: TicketPriority) -> Ticket {
    session
        .servicedesk()
        .update_ticket(UpdateTicketRequest {
            ticket: Some(Ticket {
                id: id.into(),
                priority: priority as i32,
                ..Default::default()
            }),
            update_mask: Some(prost_types::FieldMask {
                paths: vec!["priority".into()],
            }),
            request_id: String::new(),
        })
        .await
        .unwrap()
        .into_inner()
        .ticket
        .unwrap()
}

async fn sign_in_again(suite: &Suite, email: &str) -> Session {
    Session::login(suite, email, ADMIN_PASSWORD).await.unwrap()
}

async fn settings_are_the_tenants(mode: Mode) {
    let suite = Suite::start(mode).await;
    let admin = suite.admin().await;
    let desk = org::service_desk(&suite, &admin, "sla-set").await;
    let other = org::other_tenant(&suite, &admin, "sla-set-other").await;
    let day = |y, m, d| chrono::NaiveDate::from_ymd_opt(y, m, d).unwrap();

    // Until set: round the clock in UTC, no targets.
    let default = desk
        .agent1
        .servicedesk()
        .get_business_calendar(GetBusinessCalendarRequest {})
        .await
        .unwrap()
        .into_inner()
        .calendar
        .unwrap();
    assert_eq!(
        (default.time_zone.as_str(), default.working_hours.len()),
        ("UTC", 7)
    );
    assert!(get_policy(&desk.agent1).await.targets.is_empty());

    let set = update_calendar(&desk.lead, calendar(day(2026, 10, 1), day(2026, 10, 10)))
        .await
        .unwrap();
    assert_eq!(set.working_hours.len(), 10);
    assert_eq!(set.working_hours[1].start, "13:30");
    assert_eq!(set.holidays, vec![date(day(2026, 10, 1))]);
    let stale = BusinessCalendar {
        etag: "\"9\"".into(),
        ..calendar(day(2026, 10, 1), day(2026, 10, 10))
    };
    expect_code(update_calendar(&desk.lead, stale).await, Code::Aborted);

    // Bad calendars name the field.
    let bad = |change: fn(&mut BusinessCalendar)| {
        let mut c = calendar(day(2026, 10, 1), day(2026, 10, 10));
        change(&mut c);
        c
    };
    for (calendar, field) in [
        (
            bad(|c| c.time_zone = "Mars/Olympus".into()),
            "calendar.time_zone",
        ),
        (bad(|c| c.time_zone.clear()), "calendar.time_zone"),
        (
            bad(|c| c.working_hours[0].end = "08:00".into()),
            "calendar.working_hours[0].end",
        ),
        (
            bad(|c| c.working_hours[0].start = "9am".into()),
            "calendar.working_hours[0].start",
        ),
        (
            bad(|c| c.working_hours[0].weekday = 0),
            "calendar.working_hours[0].weekday",
        ),
        (
            bad(|c| c.working_hours[1].start = "11:00".into()),
            "calendar.working_hours",
        ),
        (bad(|c| c.working_hours.clear()), "calendar.working_hours"),
        (bad(|c| c.holidays[0].month = 13), "calendar.holidays[0]"),
        (
            bad(|c| c.make_up_days = c.holidays.clone()),
            "calendar.make_up_days",
        ),
    ] {
        expect_invalid(update_calendar(&desk.lead, calendar).await, field);
    }

    let stored = update_policy(&desk.lead, policy(&desk.lead.user_id))
        .await
        .unwrap();
    assert_eq!((stored.targets.len(), stored.warning_percent), (3, 50));
    assert_eq!(get_policy(&desk.agent1).await, stored);
    let bad = |change: fn(&mut SlaPolicy)| {
        let mut p = policy("lead");
        change(&mut p);
        p
    };
    for (policy, field) in [
        (
            bad(|p| p.targets[1].priority = p.targets[0].priority),
            "policy.targets[1].priority",
        ),
        (
            bad(|p| p.targets[0].priority = 0),
            "policy.targets[0].priority",
        ),
        (
            bad(|p| p.targets[0].resolution_minutes = -5),
            "policy.targets[0].resolution_minutes",
        ),
        (
            bad(|p| {
                p.targets[0].first_response_minutes = 0;
                p.targets[0].resolution_minutes = 0;
            }),
            "policy.targets[0].first_response_minutes",
        ),
        (bad(|p| p.warning_percent = 100), "policy.warning_percent"),
        (
            bad(|p| p.escalation.as_mut().unwrap().notify_user_ids = vec![" ".into()]),
            "policy.escalation.notify_user_ids[0]",
        ),
    ] {
        expect_invalid(update_policy(&desk.lead, policy).await, field);
    }

    // Agents read the settings and cannot change them; another tenant has its own.
    expect_code(
        update_policy(&desk.agent1, policy("x")).await,
        Code::PermissionDenied,
    );
    expect_code(
        update_calendar(&desk.agent1, calendar(day(2026, 10, 1), day(2026, 10, 10))).await,
        Code::PermissionDenied,
    );
    assert!(get_policy(&other).await.targets.is_empty());
    let others = update_policy(&other, policy("someone")).await.unwrap();
    assert_eq!(others.etag, "\"1\"");
    assert_eq!(get_policy(&desk.agent1).await, stored);

    // Each replacement is audited and announced.
    let announced: Vec<ServicedeskEventType> = suite
        .outbox::<ServicedeskEvent>("servicedesk")
        .await
        .iter()
        .map(ServicedeskEvent::r#type)
        .collect();
    assert_eq!(
        announced
            .iter()
            .filter(|t| **t == ServicedeskEventType::SlaPolicyUpdated)
            .count(),
        2
    );
    assert_eq!(
        announced
            .iter()
            .filter(|t| **t == ServicedeskEventType::BusinessCalendarUpdated)
            .count(),
        1
    );
}

async fn due_times_count_business_time(mode: Mode) {
    let suite = Suite::builder(mode)
        .env(&[("CRM_JOBS_INTERVAL_SECS", "1")])
        .start()
        .await;
    let admin = suite.admin().await;
    let desk = org::service_desk(&suite, &admin, "sla").await;
    let saturday = saturday_after(suite.now_micros());
    let at = |days: i64, h: u32, m: u32| {
        let day = saturday.date_naive() + chrono::Duration::days(days);
        Shanghai
            .from_local_datetime(&day.and_hms_opt(h, m, 0).unwrap())
            .unwrap()
    };
    // The Tuesday after is a holiday; the Saturday after the next works.
    let holiday = at(3, 0, 0).date_naive();
    let make_up = at(7, 0, 0).date_naive();
    update_calendar(&desk.lead, calendar(holiday, make_up))
        .await
        .unwrap();
    update_policy(&desk.lead, policy(&desk.lead.user_id))
        .await
        .unwrap();
    let caller = desk.agent1.create_contact("李娜").await;

    // Filed on Saturday: counted from Monday 09:00. First response in 60 business minutes
    // (Monday 10:00); resolution in 600: Monday's 450, then Wednesday (Tuesday is a
    // holiday) 09:00 + 150 = 11:30.
    move_clock_to(&suite, saturday).await;
    let agent1 = sign_in_again(&suite, "agent1@sla.example").await;
    let high = Ticket {
        priority: TicketPriority::High as i32,
        ..repair(&caller.id)
    };
    let ticket = create_ticket(&agent1, high).await.unwrap();
    let sla = ticket.sla.clone().unwrap();
    assert_eq!(
        micros(&sla.first_response_due),
        at(2, 10, 0).timestamp_micros()
    );
    assert_eq!(
        micros(&sla.resolution_due),
        at(4, 11, 30).timestamp_micros()
    );
    assert!(!sla.resolution_paused && !sla.first_response_breached);

    // A lower priority takes its own targets at once: 240 minutes to the first response
    // (Monday 14:30, over lunch), 1,200 to the resolution (Monday 450, Wednesday 450,
    // Thursday 09:00 + 300 = 15:30).
    let normal = set_priority(&agent1, &ticket.id, TicketPriority::Normal).await;
    let sla = normal.sla.clone().unwrap();
    assert_eq!(
        micros(&sla.first_response_due),
        at(2, 14, 30).timestamp_micros()
    );
    assert_eq!(
        micros(&sla.resolution_due),
        at(5, 15, 30).timestamp_micros()
    );
    let ticket = set_priority(&agent1, &ticket.id, TicketPriority::High).await;
    assert_eq!(
        micros(&ticket.sla.as_ref().unwrap().resolution_due),
        at(4, 11, 30).timestamp_micros()
    );
    assert!(alerts(&suite).await.is_empty());

    // Monday 12:10, at lunch, nobody has answered: the first response warned (at 09:30)
    // and breached (at 10:00), once each; the breach raised the priority and handed the
    // ticket to the lead, and its first owner no longer reaches it.
    move_clock_to(&suite, at(2, 12, 10)).await;
    let agent1 = sign_in_again(&suite, "agent1@sla.example").await;
    let lead = sign_in_again(&suite, "lead@sla.example").await;
    let seen = wait_for_alerts(&suite, 2).await;
    let kinds: Vec<_> = seen
        .iter()
        .map(|(n, t, m, _)| (n.as_str(), *t, *m))
        .collect();
    assert_eq!(
        kinds,
        [
            (
                ticket.number.as_str(),
                ServicedeskEventType::SlaWarning,
                SlaMetric::FirstResponse
            ),
            (
                ticket.number.as_str(),
                ServicedeskEventType::SlaBreached,
                SlaMetric::FirstResponse
            ),
        ]
    );
    let breach = &seen[1].3;
    assert_eq!(micros(&breach.due_time), at(2, 10, 0).timestamp_micros());
    assert!(breach.priority_raised);
    assert_eq!(breach.reassigned_to, lead.user_id);
    assert_eq!(
        breach.notify_user_ids,
        vec![agent1.user_id.clone(), lead.user_id.clone()]
    );
    let escalated = get_ticket(&lead, &ticket.id).await.unwrap();
    assert_eq!(
        (escalated.priority(), escalated.owner_id.as_str()),
        (TicketPriority::Urgent, lead.user_id.as_str())
    );
    assert!(escalated.sla.as_ref().unwrap().first_response_breached);
    expect_code(get_ticket(&agent1, &ticket.id).await, Code::NotFound);
    let history = lead
        .servicedesk()
        .list_audit_entries(ListAuditEntriesRequest {
            resource_type: "ticket".into(),
            resource_id: ticket.id.clone(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .entries;
    assert_eq!(
        (history[0].action.as_str(), history[0].actor_id.as_str()),
        ("escalate", "system")
    );

    // The lead asks the customer and waits (still at lunch): 180 business minutes used,
    // the resolution clock stopped. The customer answers on Wednesday at 08:00; the 420
    // minutes left run from 09:00 (over lunch): Wednesday 17:30, not 11:30.
    let pending = move_to(&lead, &ticket.id, TicketStatus::Pending, "which model?")
        .await
        .unwrap();
    let sla = pending.sla.clone().unwrap();
    assert!(sla.resolution_paused && sla.resolution_due.is_none());
    assert_eq!(sla.resolution_business_seconds, 180 * 60);
    move_clock_to(&suite, at(4, 8, 0)).await;
    let lead = sign_in_again(&suite, "lead@sla.example").await;
    let open = move_to(
        &lead,
        &ticket.id,
        TicketStatus::Open,
        "the customer answered",
    )
    .await
    .unwrap();
    let sla = open.sla.clone().unwrap();
    assert!(!sla.resolution_paused);
    assert_eq!(
        micros(&sla.resolution_due),
        at(4, 17, 30).timestamp_micros()
    );

    // Friday evening: the resolution warned (Wednesday 11:00) and breached, once each; it
    // is urgent already and the lead's, so nothing more changes. A new ticket filed now
    // counts from the make-up Saturday: first response 240 minutes = Saturday 14:30.
    move_clock_to(&suite, at(6, 20, 0)).await;
    let lead = sign_in_again(&suite, "lead@sla.example").await;
    let seen = wait_for_alerts(&suite, 4).await;
    let later: Vec<_> = seen[2..].iter().map(|(_, t, m, _)| (*t, *m)).collect();
    assert_eq!(
        later,
        [
            (ServicedeskEventType::SlaWarning, SlaMetric::Resolution),
            (ServicedeskEventType::SlaBreached, SlaMetric::Resolution),
        ]
    );
    let breach = &seen[3].3;
    assert_eq!(micros(&breach.due_time), at(4, 17, 30).timestamp_micros());
    assert!(!breach.priority_raised && breach.reassigned_to.is_empty());
    let resolved = move_to(
        &lead,
        &ticket.id,
        TicketStatus::Resolved,
        "replaced the seal",
    )
    .await
    .unwrap();
    assert!(resolved.sla.as_ref().unwrap().resolution_breached);

    let next = create_ticket(&lead, repair(&caller.id)).await.unwrap();
    let sla = next.sla.clone().unwrap();
    assert_eq!(
        micros(&sla.first_response_due),
        at(7, 14, 30).timestamp_micros()
    );
    // 1,200 minutes: Saturday 450, Monday 450, Tuesday 09:00 + 300 = 15:30.
    assert_eq!(
        micros(&sla.resolution_due),
        at(10, 15, 30).timestamp_micros()
    );
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(alerts(&suite).await.len(), 4, "every alert once");
}

async fn create_entitlement(
    session: &Session,
    entitlement: Entitlement,
) -> Result<Entitlement, tonic::Status> {
    Ok(session
        .servicedesk()
        .create_entitlement(CreateEntitlementRequest {
            entitlement: Some(entitlement),
            request_id: String::new(),
        })
        .await?
        .into_inner()
        .entitlement
        .unwrap())
}

/// A UTC day `days` from `now`.
fn day_from(now: i64, days: i64) -> Date {
    date(
        chrono::DateTime::from_timestamp_micros(now + days * 86_400_000_000)
            .unwrap()
            .date_naive(),
    )
}

async fn entitlements_set_support_levels(mode: Mode) {
    let suite = Suite::start(mode).await;
    let admin = suite.admin().await;
    let desk = org::service_desk(&suite, &admin, "ent").await;
    let other = org::other_tenant(&suite, &admin, "ent-other").await;
    let lead = &desk.lead;
    let gold_account = lead.create_account("金牌客户有限公司").await;
    let lapsed_account = lead.create_account("Lapsed Ltd").await;
    let plain_account = lead.create_account("Plain Ltd").await;
    let now = suite.now_micros();
    let gold = create_entitlement(
        lead,
        Entitlement {
            account_id: gold_account.id.clone(),
            support_level: "gold".into(),
            contract_id: "C-2026-017".into(),
            start_date: Some(day_from(now, -1)),
            end_date: Some(day_from(now, 365)),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    create_entitlement(
        lead,
        Entitlement {
            account_id: lapsed_account.id.clone(),
            support_level: "gold".into(),
            start_date: Some(day_from(now, -30)),
            end_date: Some(day_from(now, -2)),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    update_policy(
        lead,
        SlaPolicy {
            targets: vec![
                target(TicketPriority::Normal, 240, 0),
                SlaTarget {
                    support_level: "gold".into(),
                    ..target(TicketPriority::Normal, 30, 0)
                },
            ],
            ..Default::default()
        },
    )
    .await
    .unwrap();

    // Round the clock (no calendar set): due times are plain elapsed time.
    let file = |account_id: &str| Ticket {
        account_id: account_id.to_owned(),
        ..repair("")
    };
    for (account, level, minutes) in [
        (&gold_account, "gold", 30),
        (&lapsed_account, "", 240),
        (&plain_account, "", 240),
    ] {
        let ticket = create_ticket(lead, file(&account.id)).await.unwrap();
        let sla = ticket.sla.unwrap();
        assert_eq!(sla.support_level, level, "{}", account.display_name);
        assert_eq!(
            micros(&sla.first_response_due) - micros(&ticket.create_time),
            minutes * 60_000_000,
            "{}",
            account.display_name
        );
        assert!(sla.resolution_due.is_none(), "no resolution target");
    }

    // Bad input names its field; an account the writer does not see is refused like none.
    let bad = |change: fn(&mut Entitlement)| {
        let mut e = Entitlement {
            account_id: plain_account.id.clone(),
            support_level: "silver".into(),
            start_date: Some(day_from(now, 0)),
            ..Default::default()
        };
        change(&mut e);
        e
    };
    let admins = admin.create_account("Not the lead's").await;
    for (entitlement, field) in [
        (bad(|e| e.account_id.clear()), "entitlement.account_id"),
        (
            bad(|e| e.support_level.clear()),
            "entitlement.support_level",
        ),
        (bad(|e| e.start_date = None), "entitlement.start_date"),
        (
            bad(|e| {
                e.end_date = Some(Date {
                    year: 2020,
                    month: 1,
                    day: 1,
                })
            }),
            "entitlement.end_date",
        ),
        (
            bad(|e| {
                e.start_date = Some(Date {
                    year: 2026,
                    month: 2,
                    day: 30,
                })
            }),
            "entitlement.start_date",
        ),
    ] {
        expect_invalid(create_entitlement(lead, entitlement).await, field);
    }
    let unseen = Entitlement {
        account_id: admins.id.clone(),
        ..bad(|_| {})
    };
    expect_invalid(
        create_entitlement(lead, unseen).await,
        "entitlement.account_id",
    );

    // Agents read entitlements and do not write them; another tenant finds none.
    let read = desk
        .agent1
        .servicedesk()
        .get_entitlement(GetEntitlementRequest {
            id: gold.id.clone(),
        })
        .await
        .unwrap()
        .into_inner()
        .entitlement
        .unwrap();
    assert_eq!(read, gold);
    expect_code(
        create_entitlement(&desk.agent1, bad(|_| {})).await,
        Code::PermissionDenied,
    );
    expect_code(
        other
            .servicedesk()
            .get_entitlement(GetEntitlementRequest {
                id: gold.id.clone(),
            })
            .await,
        Code::NotFound,
    );
    expect_code(
        other
            .servicedesk()
            .delete_entitlement(DeleteEntitlementRequest {
                id: gold.id.clone(),
                ..Default::default()
            })
            .await,
        Code::NotFound,
    );
    let listed = lead
        .servicedesk()
        .list_entitlements(ListEntitlementsRequest {
            filter: format!("account_id = \"{}\"", gold_account.id),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .entitlements;
    assert_eq!(listed, vec![gold.clone()]);
    assert!(
        other
            .servicedesk()
            .list_entitlements(ListEntitlementsRequest::default())
            .await
            .unwrap()
            .into_inner()
            .entitlements
            .is_empty()
    );
    expect_invalid(
        lead.servicedesk()
            .list_entitlements(ListEntitlementsRequest {
                filter: "level = \"gold\"".into(),
                ..Default::default()
            })
            .await,
        "filter",
    );

    // Changed under its etag (a stale one is refused), then deleted: new tickets of the
    // account are plain again.
    let update = |etag: &str| UpdateEntitlementRequest {
        entitlement: Some(Entitlement {
            id: gold.id.clone(),
            etag: etag.into(),
            support_level: "platinum".into(),
            ..Default::default()
        }),
        update_mask: Some(prost_types::FieldMask {
            paths: vec!["support_level".into()],
        }),
        request_id: "raise-level".into(),
    };
    let raised = lead
        .servicedesk()
        .update_entitlement(update(&gold.etag))
        .await
        .unwrap()
        .into_inner()
        .entitlement
        .unwrap();
    assert_eq!(raised.support_level, "platinum");
    let replay = lead
        .servicedesk()
        .update_entitlement(update(&gold.etag))
        .await
        .unwrap()
        .into_inner()
        .entitlement
        .unwrap();
    assert_eq!(replay, raised, "a retry answers the first result");
    // Bad changes name their field; another tenant changes nothing.
    let mut backwards = update(&raised.etag);
    backwards.request_id = "backwards".into();
    backwards.entitlement.as_mut().unwrap().end_date = Some(Date {
        year: 2000,
        month: 1,
        day: 1,
    });
    backwards.update_mask = Some(prost_types::FieldMask {
        paths: vec!["end_date".into()],
    });
    expect_invalid(
        lead.servicedesk()
            .update_entitlement(backwards.clone())
            .await,
        "entitlement.end_date",
    );
    expect_code(
        other.servicedesk().update_entitlement(backwards).await,
        Code::NotFound,
    );
    let mut stale = update(&gold.etag);
    stale.request_id = "another".into();
    expect_code(
        lead.servicedesk().update_entitlement(stale).await,
        Code::Aborted,
    );
    lead.servicedesk()
        .delete_entitlement(DeleteEntitlementRequest {
            id: gold.id.clone(),
            ..Default::default()
        })
        .await
        .unwrap();
    let after = create_ticket(lead, file(&gold_account.id)).await.unwrap();
    assert_eq!(after.sla.unwrap().support_level, "");
}

/// Entitlement writes replay their first answer on a retry, also when the retries race.
async fn entitlement_writes_replay(mode: Mode) {
    let suite = Suite::start(mode).await;
    let admin = suite.admin().await;
    let desk = org::service_desk(&suite, &admin, "ent-retry").await;
    let account = desk.lead.create_account("重试客户").await;
    let now = suite.now_micros();
    let create = || {
        let mut client = desk.lead.servicedesk();
        let entitlement = Entitlement {
            account_id: account.id.clone(),
            support_level: "silver".into(),
            start_date: Some(day_from(now, 0)),
            ..Default::default()
        };
        async move {
            client
                .create_entitlement(CreateEntitlementRequest {
                    entitlement: Some(entitlement),
                    request_id: "ent-create-1".into(),
                })
                .await
                .unwrap()
                .into_inner()
                .entitlement
                .unwrap()
        }
    };
    let (first, second) = tokio::join!(create(), create());
    assert_eq!(first, second);
    let listed = desk
        .lead
        .servicedesk()
        .list_entitlements(ListEntitlementsRequest::default())
        .await
        .unwrap()
        .into_inner()
        .entitlements;
    assert_eq!(listed.len(), 1, "one entitlement for two racing retries");
    let delete = || {
        let mut client = desk.lead.servicedesk();
        let id = first.id.clone();
        async move {
            client
                .delete_entitlement(DeleteEntitlementRequest {
                    id,
                    etag: String::new(),
                    request_id: "ent-delete-1".into(),
                })
                .await
                .unwrap()
                .into_inner()
                .entitlement
                .unwrap()
        }
    };
    let deleted = delete().await;
    assert!(deleted.delete_time.is_some());
    assert_eq!(delete().await, deleted, "the retry replays the deletion");
}

both_modes!(
    settings_are_the_tenants,
    due_times_count_business_time,
    entitlements_set_support_levels,
    entitlement_writes_replay
);
