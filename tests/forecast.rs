//! Targets and the forecast end to end through the gateway: a manager sets their reps'
//! targets, deals are worked through a custom pipeline to won, and the forecast gives each
//! rep's attainment and weighted pipeline in the base currency, exactly, within the caller's
//! data scope; the suite's clock is moved into the period so deals are won in it.

// Helpers panic on purpose: a failed step is a failed test with a clear message.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::support;

use std::time::Duration;

use tonic::Code;

use crm_platform::time::parse_rfc3339_micros;
use crm_proto::common::{Date, Money};
use crm_proto::sales::*;
use support::clients::{Session, expect_code, expect_invalid, reason};
use support::{Mode, Suite, org};

fn money(code: &str, amount: &str) -> Option<Money> {
    Some(Money {
        currency_code: code.into(),
        amount: amount.into(),
    })
}

fn date(year: i32, month: i32, day: i32) -> Option<Date> {
    Some(Date { year, month, day })
}

fn q1() -> Option<TargetPeriod> {
    Some(TargetPeriod {
        kind: PeriodKind::Quarter as i32,
        start: date(2027, 1, 1),
    })
}

/// Moves the suite's clock forward to `when` (RFC 3339).
async fn move_clock_to(suite: &Suite, when: &str) {
    let target = parse_rfc3339_micros(when).unwrap();
    let by = target - suite.now_micros();
    assert!(by > 0, "the clock only moves forward");
    suite
        .advance_clock(Duration::from_micros(by.unsigned_abs()))
        .await;
}

async fn create_target(session: &Session, target: Target) -> Result<Target, tonic::Status> {
    Ok(session
        .sales()
        .create_target(CreateTargetRequest {
            target: Some(target),
            request_id: String::new(),
        })
        .await?
        .into_inner()
        .target
        .unwrap())
}

async fn forecast(
    session: &Session,
    offset: i32,
    owner_id: &str,
) -> Result<GetForecastResponse, tonic::Status> {
    Ok(session
        .sales()
        .get_forecast(GetForecastRequest {
            period: q1(),
            utc_offset_minutes: offset,
            owner_id: owner_id.into(),
            team_id: String::new(),
        })
        .await?
        .into_inner())
}

/// The forecast of Q1 in Shanghai's offset narrowed to `team_id` (empty: every team).
async fn team_forecast(
    session: &Session,
    team_id: &str,
) -> Result<GetForecastResponse, tonic::Status> {
    Ok(session
        .sales()
        .get_forecast(GetForecastRequest {
            period: q1(),
            utc_offset_minutes: 480,
            owner_id: String::new(),
            team_id: team_id.into(),
        })
        .await?
        .into_inner())
}

/// Retries `attempt` until it answers `Some`: identity's events reach sales a moment after
/// the change.
async fn eventually<T, F, Fut>(what: &str, mut attempt: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        if let Some(found) = attempt().await {
            return found;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{what}: not seen within 20 s"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// (owner, target, won, won deals, pipeline, weighted, open deals, attainment, count
/// attainment) of a line, amounts as their wire text.
type Row = (
    String,
    String,
    String,
    i32,
    String,
    String,
    i32,
    String,
    String,
);

/// The [`Row`] of a line.
fn row(line: &ForecastLine) -> Row {
    let amount = |m: &Option<Money>| m.clone().unwrap().amount;
    (
        line.owner_id.clone(),
        amount(&line.target_amount),
        amount(&line.won_amount),
        line.won_deal_count,
        amount(&line.pipeline_amount),
        amount(&line.weighted_amount),
        line.open_deal_count,
        line.amount_attainment_percent.clone(),
        line.count_attainment_percent.clone(),
    )
}

fn expected(
    owner: &str,
    amounts: (&str, &str, &str, &str),
    counts: (i32, i32),
    attainment: (&str, &str),
) -> Row {
    (
        owner.into(),
        amounts.0.into(),
        amounts.1.into(),
        counts.0,
        amounts.2.into(),
        amounts.3.into(),
        counts.1,
        attainment.0.into(),
        attainment.1.into(),
    )
}

async fn pipeline(admin: &Session) -> Pipeline {
    let stage = |name: &str, probability: i32, kind: StageKind| Stage {
        display_name: name.into(),
        probability,
        kind: kind as i32,
        ..Default::default()
    };
    admin
        .sales()
        .create_pipeline(CreatePipelineRequest {
            pipeline: Some(Pipeline {
                display_name: "Projects".into(),
                stages: vec![
                    stage("Discovery", 20, StageKind::Open),
                    stage("Proposal", 60, StageKind::Open),
                    stage("Won", 100, StageKind::Won),
                    stage("Lost", 0, StageKind::Lost),
                ],
                ..Default::default()
            }),
            request_id: String::new(),
        })
        .await
        .unwrap()
        .into_inner()
        .pipeline
        .unwrap()
}

fn stage(pipeline: &Pipeline, name: &str) -> String {
    pipeline
        .stages
        .iter()
        .find(|s| s.display_name == name)
        .unwrap()
        .id
        .clone()
}

/// Opens a deal for `amount` closing on `close`, then moves it to `stage_name`.
async fn deal(
    session: &Session,
    (pipeline, stage_name): (&Pipeline, &str),
    account_id: &str,
    (amount, close): (Option<Money>, Option<Date>),
) -> Opportunity {
    let created = session
        .sales()
        .create_opportunity(CreateOpportunityRequest {
            opportunity: Some(Opportunity {
                display_name: "Deal".into(),
                account_id: account_id.into(),
                pipeline_id: pipeline.id.clone(),
                amount,
                expected_close_date: close,
                ..Default::default()
            }),
            request_id: String::new(),
        })
        .await
        .unwrap()
        .into_inner()
        .opportunity
        .unwrap();
    if stage_name == "Discovery" {
        return created;
    }
    session
        .sales()
        .update_opportunity(UpdateOpportunityRequest {
            opportunity: Some(Opportunity {
                id: created.id.clone(),
                etag: created.etag.clone(),
                stage_id: stage(pipeline, stage_name),
                close_reason: "Signed".into(),
                ..Default::default()
            }),
            update_mask: Some(prost_types::FieldMask {
                paths: vec!["stage_id".into(), "close_reason".into()],
            }),
            request_id: String::new(),
        })
        .await
        .unwrap()
        .into_inner()
        .opportunity
        .unwrap()
}

/// Targets are set by managers for their reps, checked, and scoped like the reps' deals.
async fn targets_are_set_within_scope(mode: Mode) {
    let suite = Suite::start(mode).await;
    let admin = suite.admin().await;
    let o = org::build(&suite, admin.clone(), "targets").await;
    let other = org::other_tenant(&suite, &admin, "targets-other").await;
    let target = |owner: &str, amount: Option<Money>, deals: i32| Target {
        owner_id: owner.into(),
        period: q1(),
        amount,
        deal_count: deals,
        ..Default::default()
    };
    let rep1 = create_target(
        &o.manager,
        target(&o.rep1.user_id, money("CNY", "500000"), 4),
    )
    .await
    .unwrap();
    assert_eq!(rep1.display_name, "2027-Q1");
    assert_eq!(rep1.amount, money("CNY", "500000.00"));
    let misaligned = Target {
        period: Some(TargetPeriod {
            kind: PeriodKind::Quarter as i32,
            start: date(2027, 2, 1),
        }),
        ..target(&o.rep2.user_id, money("CNY", "1"), 0)
    };
    for (input, field) in [
        (misaligned, "target.period.start"),
        (
            Target {
                period: None,
                ..target(&o.rep2.user_id, money("CNY", "1"), 0)
            },
            "target.period",
        ),
        (target(&o.rep2.user_id, None, 0), "target.amount"),
        (
            target(&o.rep2.user_id, money("USD", "1000"), 0),
            "target.amount.currency_code",
        ),
        (
            target(&o.rep2.user_id, money("CNY", "1"), -1),
            "target.deal_count",
        ),
        (
            target(&o.outsider.user_id, money("CNY", "1"), 0),
            "target.owner_id",
        ),
    ] {
        expect_invalid(create_target(&o.manager, input).await, field);
    }
    let twice = expect_code(
        create_target(&o.manager, target(&o.rep1.user_id, money("CNY", "1"), 0)).await,
        Code::AlreadyExists,
    );
    assert_eq!(reason(&twice), "DUPLICATE_RECORD");
    expect_code(
        create_target(&o.rep1, target(&o.rep1.user_id, money("CNY", "1"), 0)).await,
        Code::PermissionDenied,
    );
    // The rep reads their own; another rep and another tenant see nothing.
    let get = |session: &Session| {
        let session = session.clone();
        let id = rep1.id.clone();
        async move {
            session
                .sales()
                .get_target(GetTargetRequest { id })
                .await
                .map(|r| r.into_inner().target.unwrap())
        }
    };
    assert_eq!(get(&o.rep1).await.unwrap(), rep1);
    expect_code(get(&o.rep2).await, Code::NotFound);
    expect_code(get(&other).await, Code::NotFound);
    let listed = o
        .rep2
        .sales()
        .list_targets(ListTargetsRequest {
            filter: "period_start >= 2027-01-01".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .targets;
    assert!(listed.is_empty());
    expect_invalid(
        o.rep1
            .sales()
            .list_targets(ListTargetsRequest {
                filter: "period_start >= soon".into(),
                ..Default::default()
            })
            .await,
        "filter",
    );
    // Changed with its etag; the period stays.
    let raise = |etag: String| {
        let session = o.manager.clone();
        let id = rep1.id.clone();
        async move {
            session
                .sales()
                .update_target(UpdateTargetRequest {
                    target: Some(Target {
                        id,
                        etag,
                        amount: money("CNY", "600000"),
                        ..Default::default()
                    }),
                    update_mask: Some(prost_types::FieldMask {
                        paths: vec!["amount".into()],
                    }),
                    request_id: String::new(),
                })
                .await
                .map(|r| r.into_inner().target.unwrap())
        }
    };
    let raised = raise(rep1.etag.clone()).await.unwrap();
    assert_eq!(raised.amount, money("CNY", "600000.00"));
    expect_code(raise(rep1.etag.clone()).await, Code::Aborted);
    expect_code(
        o.rep2
            .sales()
            .update_target(UpdateTargetRequest {
                target: Some(Target {
                    id: rep1.id.clone(),
                    deal_count: 9,
                    ..Default::default()
                }),
                update_mask: None,
                request_id: String::new(),
            })
            .await,
        Code::PermissionDenied,
    );
    let delete = |session: &Session, etag: String| {
        let session = session.clone();
        let request = DeleteTargetRequest {
            id: rep1.id.clone(),
            etag,
            request_id: "drop-target".into(),
        };
        async move { session.sales().delete_target(request).await }
    };
    expect_code(delete(&other, String::new()).await, Code::NotFound);
    let junk = DeleteTargetRequest {
        id: rep1.id.clone(),
        etag: "junk".into(),
        request_id: String::new(),
    };
    expect_invalid(o.manager.sales().delete_target(junk).await, "etag");
    expect_code(delete(&o.manager, rep1.etag.clone()).await, Code::Aborted);
    let deleted = delete(&o.manager, raised.etag.clone())
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        delete(&o.manager, raised.etag.clone())
            .await
            .unwrap()
            .into_inner(),
        deleted,
        "a replayed delete answers the first"
    );
    // Deleted, the period is free; restoring the old target would make two.
    let replacement = create_target(&o.manager, target(&o.rep1.user_id, None, 3))
        .await
        .unwrap();
    let undelete = o
        .manager
        .sales()
        .undelete_target(UndeleteTargetRequest {
            id: rep1.id.clone(),
            etag: deleted.target.unwrap().etag,
            request_id: String::new(),
        })
        .await;
    expect_code(undelete, Code::AlreadyExists);
    let junk = UndeleteTargetRequest {
        id: rep1.id.clone(),
        etag: "junk".into(),
        request_id: String::new(),
    };
    expect_invalid(o.manager.sales().undelete_target(junk).await, "etag");
    assert_eq!(replacement.deal_count, 3);
}

/// Deals taken through a custom pipeline to won inside the quarter: the forecast gives the
/// exact attainment, pipeline and weighted pipeline of each rep in the base currency, the
/// team total to the manager, each rep only their own, and the won day in the caller's
/// offset from UTC.
async fn the_forecast_adds_up_exactly(mode: Mode) {
    let suite = Suite::start(mode).await;
    // Into the quarter first: sign-ins then stay fresh for the rest of the scenario.
    move_clock_to(&suite, "2027-02-10T02:00:00Z").await;
    let admin = suite.admin().await;
    let o = org::build(&suite, admin.clone(), "forecast").await;
    let other = org::other_tenant(&suite, &admin, "forecast-other").await;
    admin
        .sales()
        .set_exchange_rate(SetExchangeRateRequest {
            exchange_rate: Some(ExchangeRate {
                currency_code: "USD".into(),
                rate: "7.1234".into(),
                effective_date: date(2027, 1, 1),
                ..Default::default()
            }),
            request_id: String::new(),
        })
        .await
        .unwrap();
    let projects = pipeline(&admin).await;
    let rep1_account = o.rep1.create_account("Shenzhen Optics").await.id;
    let rep2_account = o.rep2.create_account("Hangzhou Tea").await.id;
    let target = |owner: &str, amount: &str, deals: i32| Target {
        owner_id: owner.into(),
        period: q1(),
        amount: money("CNY", amount),
        deal_count: deals,
        ..Default::default()
    };
    create_target(&o.manager, target(&o.rep1.user_id, "500000", 4))
        .await
        .unwrap();
    create_target(&o.manager, target(&o.rep2.user_id, "200000", 0))
        .await
        .unwrap();

    let feb = date(2027, 2, 15);
    let mar = date(2027, 3, 20);
    let won = deal(
        &o.rep1,
        (&projects, "Won"),
        &rep1_account,
        (money("CNY", "120000"), feb),
    )
    .await;
    assert_eq!(won.status, OpportunityStatus::Won as i32);
    // Open: USD 10,000 at 60% and CNY 80,000 at 20%; April's and lost deals do not count.
    deal(
        &o.rep1,
        (&projects, "Proposal"),
        &rep1_account,
        (money("USD", "10000"), mar),
    )
    .await;
    deal(
        &o.rep1,
        (&projects, "Discovery"),
        &rep1_account,
        (money("CNY", "80000"), date(2027, 3, 31)),
    )
    .await;
    deal(
        &o.rep1,
        (&projects, "Discovery"),
        &rep1_account,
        (money("CNY", "50000"), date(2027, 4, 1)),
    )
    .await;
    deal(
        &o.rep1,
        (&projects, "Lost"),
        &rep1_account,
        (money("CNY", "999999"), mar),
    )
    .await;
    deal(
        &o.rep2,
        (&projects, "Won"),
        &rep2_account,
        (money("CNY", "30000"), feb),
    )
    .await;

    let rep1_line = expected(
        &o.rep1.user_id,
        ("500000.00", "120000.00", "151234.00", "58740.40"),
        (1, 2),
        ("24.00", "25.00"),
    );
    let rep2_line = expected(
        &o.rep2.user_id,
        ("200000.00", "30000.00", "0.00", "0.00"),
        (1, 0),
        ("15.00", ""),
    );
    let team = forecast(&o.manager, 480, "").await.unwrap();
    assert_eq!(team.base_currency_code, "CNY");
    let mut lines: Vec<_> = team.lines.iter().map(row).collect();
    lines.sort();
    let mut want = vec![rep1_line.clone(), rep2_line.clone()];
    want.sort();
    assert_eq!(lines, want);
    assert_eq!(
        row(team.total.as_ref().unwrap()),
        expected(
            "",
            ("700000.00", "150000.00", "151234.00", "58740.40"),
            (2, 2),
            ("21.43", "50.00"),
        )
    );
    // A rep sees their own line only; a filter names one rep within the caller's scope.
    let mine = forecast(&o.rep1, 480, "").await.unwrap();
    assert_eq!(mine.lines.iter().map(row).collect::<Vec<_>>(), [rep1_line]);
    let theirs = forecast(&o.manager, 480, &o.rep2.user_id).await.unwrap();
    assert_eq!(
        theirs.lines.iter().map(row).collect::<Vec<_>>(),
        [rep2_line]
    );
    expect_invalid(forecast(&o.rep1, 480, &o.rep2.user_id).await, "owner_id");
    assert!(forecast(&other, 480, "").await.unwrap().lines.is_empty());
    expect_invalid(forecast(&o.manager, 1000, "").await, "utc_offset_minutes");
    expect_invalid(
        o.manager
            .sales()
            .get_forecast(GetForecastRequest::default())
            .await,
        "period",
    );

    // Won at 20:00 UTC on 31 March: still the quarter's in London, April's in Shanghai.
    move_clock_to(&suite, "2027-03-31T20:00:00Z").await;
    let admin = suite.admin().await;
    let late = {
        let account = admin.create_account("Late customer").await.id;
        deal(
            &admin,
            (&projects, "Won"),
            &account,
            (money("CNY", "1000"), date(2027, 3, 31)),
        )
        .await
    };
    let won_total = |offset: i32| {
        let admin = admin.clone();
        async move {
            forecast(&admin, offset, "")
                .await
                .unwrap()
                .total
                .unwrap()
                .won_amount
                .unwrap()
                .amount
        }
    };
    assert_eq!(won_total(0).await, "151000.00");
    assert_eq!(won_total(480).await, "150000.00");
    assert!(late.close_time.is_some());
}

/// (team name, target, won, won deals, pipeline, weighted, open deals, attainment, count
/// attainment) of each team line.
fn team_rows(forecast: &GetForecastResponse) -> Vec<Row> {
    forecast
        .team_lines
        .iter()
        .map(|line| {
            let mut r = row(line);
            r.0 = line.team_display_name.clone();
            r
        })
        .collect()
}

/// Team targets and team lines follow identity's directory: a team's target is held by its
/// manager, checked against the team and the caller's scope; a team's line adds up its
/// people's deals (the team below included) against its own target; a new manager takes
/// the target over and a member who moves takes their deals along, each as soon as identity
/// announces it.
async fn team_targets_follow_the_directory(mode: Mode) {
    let suite = Suite::start(mode).await;
    move_clock_to(&suite, "2027-02-10T02:00:00Z").await;
    let admin = suite.admin().await;
    let o = org::build(&suite, admin.clone(), "teams").await;
    let other = org::other_tenant(&suite, &admin, "teams-other").await;
    let north = org::team_of(&admin, &o.rep1.user_id).await;
    let north_east = org::team_of(&admin, &o.rep2.user_id).await;
    let projects = pipeline(&admin).await;
    let rep1_account = o.rep1.create_account("Dalian Ports").await.id;
    let rep2_account = o.rep2.create_account("Qingdao Beer").await.id;
    let feb = date(2027, 2, 20);
    deal(
        &o.rep1,
        (&projects, "Won"),
        &rep1_account,
        (money("CNY", "120000"), feb),
    )
    .await;
    deal(
        &o.rep2,
        (&projects, "Won"),
        &rep2_account,
        (money("CNY", "30000"), feb),
    )
    .await;
    deal(
        &o.rep2,
        (&projects, "Proposal"),
        &rep2_account,
        (money("CNY", "50000"), feb),
    )
    .await;

    let team_target = |team: &str| Target {
        team_id: team.into(),
        period: q1(),
        amount: money("CNY", "400000"),
        deal_count: 3,
        ..Default::default()
    };
    let set = eventually("the team North in sales' directory", || {
        let manager = o.manager.clone();
        let target = team_target(&north);
        async move { create_target(&manager, target).await.ok() }
    })
    .await;
    assert_eq!(
        (set.team_id.as_str(), set.owner_id.as_str()),
        (north.as_str(), o.manager.user_id.as_str()),
        "a team's target is held by its manager"
    );
    // Refused: a team with no manager, one that does not exist, another tenant's, an owner
    // beside a team, the same team and period twice, and a rep.
    for (session, input, field) in [
        (&o.manager, team_target(&north_east), "target.team_id"),
        (
            &o.manager,
            team_target("0190d1d6-0000-7000-8000-000000000000"),
            "target.team_id",
        ),
        (&other, team_target(&north), "target.team_id"),
        (
            &o.manager,
            Target {
                owner_id: o.rep1.user_id.clone(),
                period: Some(TargetPeriod {
                    kind: PeriodKind::Month as i32,
                    start: date(2027, 2, 1),
                }),
                ..team_target(&north)
            },
            "target.owner_id",
        ),
    ] {
        expect_invalid(create_target(session, input).await, field);
    }
    let twice = expect_code(
        create_target(&o.manager, team_target(&north)).await,
        Code::AlreadyExists,
    );
    assert_eq!(reason(&twice), "DUPLICATE_RECORD");
    expect_code(
        create_target(&o.rep1, team_target(&north)).await,
        Code::PermissionDenied,
    );
    let get = |session: &Session| {
        let session = session.clone();
        let id = set.id.clone();
        async move {
            session
                .sales()
                .get_target(GetTargetRequest { id })
                .await
                .map(|r| r.into_inner().target.unwrap())
        }
    };
    expect_code(get(&o.rep1).await, Code::NotFound);
    expect_code(get(&other).await, Code::NotFound);

    // The manager's team lines: North adds up both reps against its own target; North-East
    // (below it, no target) only rep2.
    let north_line = |won: &str, deals: i32, attainment: (&str, &str)| {
        expected(
            "North",
            ("400000.00", won, "50000.00", "30000.00"),
            (deals, 1),
            attainment,
        )
    };
    let north_east_line = (
        "North-East".to_owned(),
        "0.00".to_owned(),
        "30000.00".to_owned(),
        1,
        "50000.00".to_owned(),
        "30000.00".to_owned(),
        1,
        String::new(),
        String::new(),
    );
    let managed = team_forecast(&o.manager, "").await.unwrap();
    assert_eq!(
        team_rows(&managed),
        [
            north_line("150000.00", 2, ("37.50", "66.67")),
            north_east_line.clone()
        ]
    );
    // Narrowed to North-East: its rep's line and its own team line only.
    let narrowed = team_forecast(&o.manager, &north_east).await.unwrap();
    assert_eq!(team_rows(&narrowed), std::slice::from_ref(&north_east_line));
    let owners: Vec<_> = narrowed.lines.iter().map(|l| l.owner_id.clone()).collect();
    assert_eq!(owners, std::slice::from_ref(&o.rep2.user_id));
    assert_eq!(narrowed.total.unwrap().won_amount, money("CNY", "30000.00"));
    // One rep's forecast has no team lines.
    let one_rep = forecast(&o.manager, 480, &o.rep1.user_id).await.unwrap();
    assert!(one_rep.team_lines.is_empty());
    assert_eq!(one_rep.lines.len(), 1);
    // The tenant admin sees every team; a rep leads none; another tenant sees none of these.
    assert_eq!(
        team_rows(&team_forecast(&admin, "").await.unwrap()).len(),
        2
    );
    assert!(
        team_forecast(&o.rep1, "")
            .await
            .unwrap()
            .team_lines
            .is_empty()
    );
    expect_invalid(team_forecast(&o.rep1, &north).await, "team_id");
    expect_invalid(team_forecast(&other, &north).await, "team_id");
    assert!(
        team_forecast(&other, "")
            .await
            .unwrap()
            .team_lines
            .is_empty()
    );

    // A new manager of North takes its target over; the old one no longer reaches it.
    let successor = org::user(
        &suite,
        &admin,
        "successor@teams.example",
        "sales_manager",
        &[],
    )
    .await;
    let team = admin
        .identity()
        .get_team(crm_proto::identity::GetTeamRequest { id: north.clone() })
        .await
        .unwrap()
        .into_inner()
        .team
        .unwrap();
    admin
        .identity()
        .update_team(crm_proto::identity::UpdateTeamRequest {
            team: Some(crm_proto::identity::Team {
                manager_user_id: successor.user_id.clone(),
                ..team
            }),
            update_mask: Some(prost_types::FieldMask {
                paths: vec!["manager_user_id".into()],
            }),
            request_id: String::new(),
        })
        .await
        .unwrap();
    let taken_over = eventually("the target held by North's new manager", || {
        let successor = successor.clone();
        let get = get(&successor);
        async move { get.await.ok() }
    })
    .await;
    assert_eq!(taken_over.owner_id, successor.user_id);
    assert_eq!(taken_over.team_id, north);
    expect_code(get(&o.manager).await, Code::NotFound);
    assert!(
        team_forecast(&o.manager, "")
            .await
            .unwrap()
            .team_lines
            .is_empty()
    );
    assert_eq!(
        team_rows(&team_forecast(&successor, "").await.unwrap())[0],
        north_line("150000.00", 2, ("37.50", "66.67"))
    );

    // rep2 moves up to North: North-East's line loses their deals, North keeps them.
    let rep2 = admin
        .identity()
        .get_user(crm_proto::identity::GetUserRequest {
            id: o.rep2.user_id.clone(),
        })
        .await
        .unwrap()
        .into_inner()
        .user
        .unwrap();
    admin
        .identity()
        .update_user(crm_proto::identity::UpdateUserRequest {
            user: Some(crm_proto::identity::User {
                team_ids: vec![north.clone()],
                ..rep2
            }),
            update_mask: Some(prost_types::FieldMask {
                paths: vec!["team_ids".into()],
            }),
            request_id: String::new(),
        })
        .await
        .unwrap();
    let after_move = eventually("rep2's deals leaving North-East", || {
        let admin = admin.clone();
        async move {
            let rows = team_rows(&team_forecast(&admin, "").await.unwrap());
            (rows[1].2 == "0.00").then_some(rows)
        }
    })
    .await;
    assert_eq!(
        after_move[0],
        north_line("150000.00", 2, ("37.50", "66.67"))
    );
    assert_eq!(after_move[1].6, 0, "North-East has no open deal left");

    // North-East, now empty, is deleted: its line goes, North's stays.
    admin
        .identity()
        .delete_team(crm_proto::identity::DeleteTeamRequest {
            id: north_east.clone(),
            etag: String::new(),
            request_id: String::new(),
        })
        .await
        .unwrap();
    let after_delete = eventually("North-East leaving the forecast", || {
        let admin = admin.clone();
        async move {
            let rows = team_rows(&team_forecast(&admin, "").await.unwrap());
            (rows.len() == 1).then_some(rows)
        }
    })
    .await;
    assert_eq!(
        after_delete[0],
        north_line("150000.00", 2, ("37.50", "66.67"))
    );
    expect_invalid(team_forecast(&admin, &north_east).await, "team_id");
}

both_modes!(
    targets_are_set_within_scope,
    the_forecast_adds_up_exactly,
    team_targets_follow_the_directory
);
