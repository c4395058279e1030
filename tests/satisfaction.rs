//! Satisfaction surveys end to end through the gateway, in both modes: resolving a ticket
//! announces an invitation with a signed token; the customer answers with the token alone,
//! over a connection with no credentials, once; a forged token is UNAUTHENTICATED, an expired
//! one FAILED_PRECONDITION, a bad score names its field and writes nothing. The service's
//! figures (tickets filed and resolved, business times, reopen rate, SLA shares, CSAT, the
//! backlog by age) are summed per agent and queue within the manager's reach; agents and
//! other tenants are refused or see nothing of it.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tonic::Code;

use crm_proto::servicedesk::servicedesk_service_client::ServicedeskServiceClient;
use crm_proto::servicedesk::*;
use support::clients::{Session, expect_code, expect_invalid};
use support::desk::*;
use support::{ADMIN_PASSWORD, Mode, Suite, org};

use crate::support;

/// The invitations announced for a ticket, oldest first.
async fn invitations(suite: &Suite, ticket_id: &str) -> Vec<SurveyInvitation> {
    suite
        .outbox::<ServicedeskEvent>("servicedesk")
        .await
        .into_iter()
        .filter_map(|e| match e.subject {
            Some(servicedesk_event::Subject::SurveyInvitation(i)) if i.ticket_id == ticket_id => {
                Some(i)
            }
            _ => None,
        })
        .collect()
}

async fn resolved_ticket(suite: &Suite, agent: &Session, ticket: Ticket) -> (Ticket, String) {
    let ticket = create_ticket(agent, ticket).await.unwrap();
    let ticket = move_to(agent, &ticket.id, TicketStatus::Resolved, "换了密封圈")
        .await
        .unwrap();
    let sent = invitations(suite, &ticket.id).await;
    assert_eq!(sent.len(), 1, "one invitation on resolution");
    assert_eq!(sent[0].ticket_number, ticket.number);
    assert_eq!(sent[0].contact_id, ticket.contact_id);
    (ticket, sent[0].token.clone())
}

async fn answer(
    customer: &mut ServicedeskServiceClient<tonic::transport::Channel>,
    token: &str,
    (score, comment): (i32, &str),
) -> Result<String, tonic::Status> {
    Ok(customer
        .submit_survey(SubmitSurveyRequest {
            token: token.into(),
            score,
            comment: comment.into(),
        })
        .await?
        .into_inner()
        .ticket_number)
}

fn around_now() -> GetServiceQualityRequest {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let at = |seconds| prost_types::Timestamp { seconds, nanos: 0 };
    GetServiceQualityRequest {
        start_time: Some(at(now - 86_400)),
        end_time: Some(at(now + 86_400)),
    }
}

async fn quality(
    session: &Session,
    request: GetServiceQualityRequest,
) -> Result<GetServiceQualityResponse, tonic::Status> {
    Ok(session
        .servicedesk()
        .get_service_quality(request)
        .await?
        .into_inner())
}

async fn customers_answer_surveys_once(mode: Mode) {
    let suite = Suite::start(mode).await;
    let admin = suite.admin().await;
    let desk = org::service_desk(&suite, &admin, "csat").await;
    let other = org::other_tenant(&suite, &admin, "csat-other").await;
    let front = desk
        .lead
        .servicedesk()
        .create_queue(CreateQueueRequest {
            queue: Some(Queue {
                display_name: "Front line".into(),
                rule: AssignmentRule::RoundRobin as i32,
                members: vec![QueueMember {
                    user_id: desk.agent1.user_id.clone(),
                    skills: vec![],
                }],
                ..Default::default()
            }),
            request_id: String::new(),
        })
        .await
        .unwrap()
        .into_inner()
        .queue
        .unwrap();
    let caller = desk.agent1.create_contact("张三丰").await;
    let (first, token1) = resolved_ticket(&suite, &desk.agent1, repair(&caller.id)).await;
    assert_eq!(
        (first.owner_id.as_str(), first.queue_id.as_str()),
        (desk.agent1.user_id.as_str(), front.id.as_str())
    );
    let (second, token2) = resolved_ticket(&suite, &desk.agent1, repair(&caller.id)).await;
    let own = desk.agent2.create_contact("殷素素").await;
    let kept = Ticket {
        owner_id: desk.agent2.user_id.clone(),
        ..repair(&own.id)
    };
    let (third, token3) = resolved_ticket(&suite, &desk.agent2, kept).await;
    assert_eq!(third.queue_id, "");

    // The customer answers over a connection with no credentials: the token is all.
    let mut customer = ServicedeskServiceClient::new(suite.channel().await);
    let number = answer(&mut customer, &token1, (5, "师傅很专业，当天就修好了"))
        .await
        .unwrap();
    assert_eq!(number, first.number);
    // Once: a second answer is refused, and the first stands.
    let status = expect_code(
        answer(&mut customer, &token1, (1, "changed my mind")).await,
        Code::AlreadyExists,
    );
    assert_eq!(support::clients::reason(&status), "SURVEY_ANSWERED");

    // Forged tokens are refused as credentials; bad answers name their field and write
    // nothing, so the survey can still be answered.
    let (payload, tag) = token2.split_once('.').unwrap();
    let flipped = if tag.starts_with('A') { "B" } else { "A" };
    for forged in [
        format!("{payload}.{flipped}{}", &tag[1..]),
        format!("{}.{tag}", &payload[1..]),
        token2.replace('.', ""),
        "not-a-token".to_owned(),
        String::new(),
    ] {
        expect_code(
            answer(&mut customer, &forged, (5, "")).await,
            Code::Unauthenticated,
        );
    }
    expect_invalid(answer(&mut customer, &token2, (0, "")).await, "score");
    expect_invalid(answer(&mut customer, &token2, (6, "")).await, "score");
    expect_invalid(
        answer(&mut customer, &token2, (4, &"长".repeat(2001))).await,
        "comment",
    );
    answer(&mut customer, &token2, (3, "")).await.unwrap();

    // A ticket reopened and resolved again after its answer is not surveyed again.
    move_to(&desk.agent1, &first.id, TicketStatus::Open, "又漏了")
        .await
        .unwrap();
    move_to(&desk.agent1, &first.id, TicketStatus::Resolved, "再换一次")
        .await
        .unwrap();
    assert_eq!(invitations(&suite, &first.id).await.len(), 1);

    // A ticket still open counts in the backlog by its age.
    let waiting = create_ticket(&desk.agent1, repair(&caller.id))
        .await
        .unwrap();
    assert_eq!(waiting.queue_id, front.id);

    // The figures: the manager sees their team's agent and the queue; the admin everyone.
    // No policy sets targets here, so no share is within one; the tickets were answered and
    // resolved at once, in no business time.
    let team = quality(&desk.lead, around_now()).await.unwrap();
    type Figures = (String, String, [i64; 3], [String; 4], [String; 4], Vec<i64>);
    let line = |l: &QualityLine| -> Figures {
        (
            l.agent_id.clone(),
            l.queue_id.clone(),
            [l.created, l.resolved, l.first_responses],
            [
                l.first_response_minutes.clone(),
                l.resolution_minutes.clone(),
                l.reopen_percent.clone(),
                l.first_response_sla_percent.clone() + &l.resolution_sla_percent,
            ],
            [
                l.surveys_sent.to_string(),
                l.surveys_answered.to_string(),
                l.average_score.clone(),
                l.csat_percent.clone(),
            ],
            l.backlog_by_age.clone(),
        )
    };
    let a1 = desk.agent1.user_id.clone();
    let a2 = desk.agent2.user_id.clone();
    let s = |v: &str| v.to_owned();
    let agent1_figures = |agent: &str, queue: &str| -> Figures {
        (
            s(agent),
            s(queue),
            [3, 2, 2],
            [s("0.00"), s("0.00"), s("50.00"), s("")],
            [s("2"), s("2"), s("4.00"), s("50.00")],
            vec![1, 0, 0, 0],
        )
    };
    assert_eq!(
        team.agents.iter().map(line).collect::<Vec<_>>(),
        [agent1_figures(&a1, "")]
    );
    assert_eq!(
        team.queues.iter().map(line).collect::<Vec<_>>(),
        [agent1_figures("", &front.id)]
    );
    let whole = quality(&admin, around_now()).await.unwrap();
    let mut agents: Vec<Figures> = whole.agents.iter().map(line).collect();
    agents.sort();
    let mut expected = vec![
        agent1_figures(&a1, ""),
        (
            a2.clone(),
            String::new(),
            [1, 1, 1],
            [s("0.00"), s("0.00"), s("0.00"), s("")],
            [s("1"), s("0"), s(""), s("")],
            vec![0, 0, 0, 0],
        ),
    ];
    expected.sort();
    assert_eq!(agents, expected);
    let total = whole.total.unwrap();
    assert_eq!(
        (total.created, total.surveys_sent, total.surveys_answered),
        (4, 3, 2)
    );
    // Refused: an agent, bad periods; another tenant has no surveys.
    expect_code(
        quality(&desk.agent1, around_now()).await,
        Code::PermissionDenied,
    );
    expect_invalid(
        quality(
            &desk.lead,
            GetServiceQualityRequest {
                start_time: None,
                ..around_now()
            },
        )
        .await,
        "start_time",
    );
    let backwards = GetServiceQualityRequest {
        start_time: around_now().end_time,
        end_time: around_now().start_time,
    };
    expect_invalid(quality(&desk.lead, backwards).await, "end_time");
    let theirs = quality(&other, around_now()).await.unwrap();
    assert!(theirs.agents.is_empty() && theirs.queues.is_empty());
    assert_eq!(theirs.total.unwrap().surveys_sent, 0);

    // The answers are in the tickets' history and announced, by the customer.
    let history = desk
        .agent1
        .servicedesk()
        .list_audit_entries(ListAuditEntriesRequest {
            resource_type: "ticket".into(),
            resource_id: second.id.clone(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .entries;
    let scores: Vec<(&str, &str)> = history
        .iter()
        .filter(|e| e.action == "survey")
        .map(|e| (e.actor_id.as_str(), e.changes[0].after.as_str()))
        .collect();
    assert_eq!(scores, [("customer", "3")]);
    let answered: Vec<(String, i32)> = suite
        .outbox::<ServicedeskEvent>("servicedesk")
        .await
        .into_iter()
        .filter(|e| e.r#type == ServicedeskEventType::SurveyAnswered as i32)
        .filter_map(|e| match e.subject {
            Some(servicedesk_event::Subject::Survey(s)) if e.actor_id == "customer" => {
                Some((s.ticket_id, s.score))
            }
            _ => None,
        })
        .collect();
    assert_eq!(answered, [(first.id.clone(), 5), (second.id.clone(), 3)]);

    // Past its 14 days the token is refused, and says why; the open ticket has aged.
    suite.advance_clock(Duration::from_secs(15 * 86_400)).await;
    let status = expect_code(
        answer(&mut customer, &token3, (4, "")).await,
        Code::FailedPrecondition,
    );
    assert_eq!(support::clients::reason(&status), "SURVEY_EXPIRED");
    let lead = Session::login(&suite, &format!("lead@{}.example", "csat"), ADMIN_PASSWORD)
        .await
        .unwrap();
    let later = GetServiceQualityRequest {
        start_time: Some(prost_types::Timestamp {
            seconds: 0,
            nanos: 0,
        }),
        end_time: Some(prost_types::Timestamp {
            seconds: 86_400 * 365,
            nanos: 0,
        }),
    };
    let aged = quality(&lead, later).await.unwrap();
    assert_eq!(aged.total.unwrap().backlog_by_age, [0, 0, 0, 1]);
}

both_modes!(customers_answer_surveys_once);
