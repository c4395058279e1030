//! Queues and assignment end to end through the gateway, in both modes: thirty tickets filed
//! at once into a round-robin queue of three agents give exactly ten each; the fewest-open
//! rule counts open tickets and skips an agent who is away; a skill match picks the skilled
//! agent; an uncovered ticket stays its creator's and a named owner is kept. Reassignment
//! needs a reason and stays within the caller's reach; bad queues name their field; agents
//! neither keep queues nor mark others away; another tenant sees none of it.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;

use tonic::Code;

use crm_proto::servicedesk::*;
use support::clients::{Session, expect_code, expect_invalid};
use support::desk::*;
use support::{Mode, Suite, org};

use crate::support;

fn member(user_id: &str, skills: &[&str]) -> QueueMember {
    QueueMember {
        user_id: user_id.into(),
        skills: skills.iter().map(|s| s.to_string()).collect(),
    }
}

fn queue(name: &str, rule: AssignmentRule, members: Vec<QueueMember>) -> Queue {
    Queue {
        display_name: name.into(),
        rule: rule as i32,
        members,
        ..Default::default()
    }
}

async fn create_queue(session: &Session, queue: Queue) -> Result<Queue, tonic::Status> {
    Ok(session
        .servicedesk()
        .create_queue(CreateQueueRequest {
            queue: Some(queue),
            request_id: String::new(),
        })
        .await?
        .into_inner()
        .queue
        .unwrap())
}

async fn set_agent_away(
    session: &Session,
    user_id: &str,
    away: bool,
) -> Result<AgentPresence, tonic::Status> {
    Ok(session
        .servicedesk()
        .set_agent_away(SetAgentAwayRequest {
            user_id: user_id.into(),
            away,
            request_id: String::new(),
        })
        .await?
        .into_inner()
        .presence
        .unwrap())
}

async fn reassign_ticket(
    session: &Session,
    (id, etag): (&str, &str),
    owner_id: &str,
    (reason, request_id): (&str, &str),
) -> Result<Ticket, tonic::Status> {
    Ok(session
        .servicedesk()
        .reassign_ticket(ReassignTicketRequest {
            id: id.into(),
            etag: etag.into(),
            owner_id: owner_id.into(),
            reason: reason.into(),
            request_id: request_id.into(),
        })
        .await?
        .into_inner()
        .ticket
        .unwrap())
}

fn of_type(contact_id: &str, kind: TicketType, category: &str) -> Ticket {
    Ticket {
        r#type: kind as i32,
        category: category.into(),
        ..repair(contact_id)
    }
}

async fn queues_assign_new_tickets_fairly(mode: Mode) {
    let suite = Suite::start(mode).await;
    let admin = suite.admin().await;
    let desk = org::service_desk(&suite, &admin, "queue").await;
    let (a1, a2, lead) = (
        desk.agent1.user_id.clone(),
        desk.agent2.user_id.clone(),
        desk.lead.user_id.clone(),
    );
    let repairs = create_queue(
        &desk.lead,
        Queue {
            ticket_types: vec![TicketType::Repair as i32],
            position: 1,
            ..queue(
                "Repairs",
                AssignmentRule::RoundRobin,
                vec![member(&a1, &[]), member(&a2, &[]), member(&lead, &[])],
            )
        },
    )
    .await
    .unwrap();
    let returns = create_queue(
        &desk.lead,
        Queue {
            ticket_types: vec![TicketType::Return as i32],
            ..queue(
                "Returns",
                AssignmentRule::LeastOpen,
                vec![member(&a1, &[]), member(&a2, &[])],
            )
        },
    )
    .await
    .unwrap();
    let installs = create_queue(
        &desk.lead,
        Queue {
            categories: vec!["Installation".into()],
            ..queue(
                "Installations",
                AssignmentRule::SkillMatch,
                vec![member(&a1, &["wiring"]), member(&a2, &["installation"])],
            )
        },
    )
    .await
    .unwrap();
    assert_eq!(installs.categories, vec!["installation"]);
    let caller = admin.create_contact("赵敏").await;

    // Thirty repairs filed at once: ten for each agent, every one by the queue.
    let filed = futures_join(&admin, &caller.id, 30).await;
    let mut per_owner: BTreeMap<String, usize> = BTreeMap::new();
    for ticket in &filed {
        assert_eq!(ticket.queue_id, repairs.id);
        *per_owner.entry(ticket.owner_id.clone()).or_default() += 1;
    }
    assert_eq!(
        per_owner,
        BTreeMap::from([(a1.clone(), 10), (a2.clone(), 10), (lead.clone(), 10)])
    );

    // Fewest open: a tie goes to the first listed, then the other; an agent away is skipped.
    let returned = |n| of_type(&caller.id, TicketType::Return, &format!("box {n}"));
    let first = create_ticket(&admin, returned(1)).await.unwrap();
    let second = create_ticket(&admin, returned(2)).await.unwrap();
    assert_eq!(
        (first.owner_id.as_str(), second.owner_id.as_str()),
        (a1.as_str(), a2.as_str())
    );
    assert_eq!(first.queue_id, returns.id);
    let presence = set_agent_away(&desk.agent1, "", true).await.unwrap();
    assert_eq!(presence.away_user_ids, vec![a1.clone()]);
    let third = create_ticket(&admin, returned(3)).await.unwrap();
    assert_eq!(third.owner_id, a2, "agent1 is away");
    set_agent_away(&desk.agent1, "", false).await.unwrap();
    let fourth = create_ticket(&admin, returned(4)).await.unwrap();
    assert_eq!(fourth.owner_id, a1, "back, and with the fewest open");

    // A skill match beats the count; nothing covers a question, which stays its creator's;
    // an owner named is kept.
    let install = create_ticket(
        &admin,
        of_type(&caller.id, TicketType::Other, "INSTALLATION"),
    )
    .await
    .unwrap();
    assert_eq!(
        (install.owner_id.as_str(), install.queue_id.as_str()),
        (a2.as_str(), installs.id.as_str())
    );
    let question = create_ticket(&admin, of_type(&caller.id, TicketType::Question, ""))
        .await
        .unwrap();
    assert_eq!(
        (question.owner_id.as_str(), question.queue_id.as_str()),
        (admin.user_id.as_str(), "")
    );
    let named = create_ticket(
        &admin,
        Ticket {
            owner_id: a2.clone(),
            ..repair(&caller.id)
        },
    )
    .await
    .unwrap();
    assert_eq!(
        (named.owner_id.as_str(), named.queue_id.as_str()),
        (a2.as_str(), "")
    );

    // Each agent sees exactly their own.
    let mine = desk
        .agent1
        .servicedesk()
        .list_tickets(ListTicketsRequest {
            page_size: 100,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .tickets;
    let theirs: Vec<&Ticket> = filed.iter().filter(|t| t.owner_id == a1).collect();
    assert_eq!(mine.len(), theirs.len() + 2);
}

/// Files `n` repairs at once.
async fn futures_join(session: &Session, contact_id: &str, n: usize) -> Vec<Ticket> {
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..n {
        let (session, ticket) = (session.clone(), repair(contact_id));
        tasks.spawn(async move { create_ticket(&session, ticket).await.unwrap() });
    }
    let mut filed = Vec::new();
    while let Some(ticket) = tasks.join_next().await {
        filed.push(ticket.unwrap());
    }
    filed
}

async fn queues_and_reassignment_are_checked(mode: Mode) {
    let suite = Suite::start(mode).await;
    let admin = suite.admin().await;
    let desk = org::service_desk(&suite, &admin, "reassign").await;
    let other = org::other_tenant(&suite, &admin, "reassign-other").await;
    let a1 = desk.agent1.user_id.clone();
    let ok = || {
        queue(
            "Front line",
            AssignmentRule::RoundRobin,
            vec![member(&a1, &[])],
        )
    };

    // Bad queues name their field; a second queue of one name is refused.
    let bad = |change: fn(&mut Queue)| {
        let mut q = ok();
        change(&mut q);
        q
    };
    for (queue, field) in [
        (bad(|q| q.display_name.clear()), "queue.display_name"),
        (bad(|q| q.rule = 0), "queue.rule"),
        (bad(|q| q.members.clear()), "queue.members"),
        (
            bad(|q| q.members.push(q.members[0].clone())),
            "queue.members[1].user_id",
        ),
        (bad(|q| q.position = 5000), "queue.position"),
        (bad(|q| q.ticket_types = vec![0]), "queue.ticket_types[0]"),
        (
            bad(|q| q.categories = vec![" ".into()]),
            "queue.categories[0]",
        ),
    ] {
        expect_invalid(create_queue(&desk.lead, queue).await, field);
    }
    let front = create_queue(&desk.lead, ok()).await.unwrap();
    expect_code(create_queue(&desk.lead, ok()).await, Code::AlreadyExists);

    // Agents read queues and keep none; another tenant sees none.
    let read = desk
        .agent1
        .servicedesk()
        .get_queue(GetQueueRequest {
            id: front.id.clone(),
        })
        .await
        .unwrap()
        .into_inner()
        .queue
        .unwrap();
    assert_eq!(read, front);
    expect_code(
        create_queue(&desk.agent1, ok()).await,
        Code::PermissionDenied,
    );
    expect_code(
        other
            .servicedesk()
            .get_queue(GetQueueRequest {
                id: front.id.clone(),
            })
            .await,
        Code::NotFound,
    );
    for session in [&other, &desk.lead] {
        expect_code(
            session
                .servicedesk()
                .update_queue(UpdateQueueRequest {
                    queue: Some(Queue {
                        id: front.id.clone(),
                        etag: "\"9\"".into(),
                        position: 3,
                        ..Default::default()
                    }),
                    update_mask: Some(prost_types::FieldMask {
                        paths: vec!["position".into()],
                    }),
                    request_id: String::new(),
                })
                .await,
            if session.tenant_id == other.tenant_id {
                Code::NotFound
            } else {
                Code::Aborted
            },
        );
    }
    expect_invalid(
        desk.lead
            .servicedesk()
            .update_queue(UpdateQueueRequest {
                queue: Some(Queue {
                    id: front.id.clone(),
                    rule: 9,
                    ..Default::default()
                }),
                update_mask: Some(prost_types::FieldMask {
                    paths: vec!["rule".into()],
                }),
                request_id: String::new(),
            })
            .await,
        "queue.rule",
    );
    expect_code(
        other
            .servicedesk()
            .delete_queue(DeleteQueueRequest {
                id: front.id.clone(),
                ..Default::default()
            })
            .await,
        Code::NotFound,
    );
    assert!(
        other
            .servicedesk()
            .list_queues(ListQueuesRequest::default())
            .await
            .unwrap()
            .into_inner()
            .queues
            .is_empty()
    );
    expect_invalid(
        desk.lead
            .servicedesk()
            .list_queues(ListQueuesRequest {
                filter: "members = \"x\"".into(),
                ..Default::default()
            })
            .await,
        "filter",
    );
    expect_code(
        set_agent_away(&desk.agent1, &desk.agent2.user_id, true).await,
        Code::PermissionDenied,
    );
    set_agent_away(&desk.lead, &desk.agent2.user_id, true)
        .await
        .unwrap();

    // The queue gives agent1 the ticket. Reassigning needs a reason and an agent in reach:
    // agent1 reaches only themselves; their lead reaches the team.
    let caller = desk.agent1.create_contact("周芷若").await;
    let ticket = create_ticket(&desk.agent1, repair(&caller.id))
        .await
        .unwrap();
    assert_eq!(ticket.owner_id, a1);
    expect_invalid(
        reassign_ticket(
            &desk.agent1,
            (&ticket.id, ""),
            &desk.agent2.user_id,
            ("busy", ""),
        )
        .await,
        "owner_id",
    );
    expect_invalid(
        reassign_ticket(&desk.lead, (&ticket.id, ""), &desk.lead.user_id, ("", "")).await,
        "reason",
    );
    expect_invalid(
        desk.agent1
            .servicedesk()
            .update_ticket(UpdateTicketRequest {
                ticket: Some(Ticket {
                    id: ticket.id.clone(),
                    owner_id: desk.lead.user_id.clone(),
                    ..Default::default()
                }),
                update_mask: Some(prost_types::FieldMask {
                    paths: vec!["owner_id".into()],
                }),
                request_id: String::new(),
            })
            .await,
        "ticket.owner_id",
    );
    for stranger in [&other, &desk.agent2] {
        expect_code(
            reassign_ticket(
                stranger,
                (&ticket.id, ""),
                &stranger.user_id,
                ("mine now", ""),
            )
            .await,
            Code::NotFound,
        );
    }
    expect_code(
        reassign_ticket(
            &desk.lead,
            (&ticket.id, "\"9\""),
            &desk.lead.user_id,
            ("escalated", ""),
        )
        .await,
        Code::Aborted,
    );
    let taken = reassign_ticket(
        &desk.lead,
        (&ticket.id, &ticket.etag),
        &desk.lead.user_id,
        ("the customer asked for a senior engineer", "take-over"),
    )
    .await
    .unwrap();
    let again = reassign_ticket(
        &desk.lead,
        (&ticket.id, &ticket.etag),
        &desk.lead.user_id,
        ("the customer asked for a senior engineer", "take-over"),
    )
    .await
    .unwrap();
    assert_eq!(again, taken, "a retry answers the first result");
    assert_eq!(
        (taken.owner_id.as_str(), taken.assignment_reason.as_str()),
        (
            desk.lead.user_id.as_str(),
            "the customer asked for a senior engineer"
        )
    );
    expect_code(get_ticket(&desk.agent1, &ticket.id).await, Code::NotFound);
    let history = desk
        .lead
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
    let reason = history[0]
        .changes
        .iter()
        .find(|c| c.field == "assignment_reason")
        .expect("the reason is in the history");
    assert_eq!(reason.after, "the customer asked for a senior engineer");

    // Deleting the queue leaves its tickets with their agents; new repairs stay the creator's.
    desk.lead
        .servicedesk()
        .delete_queue(DeleteQueueRequest {
            id: front.id.clone(),
            ..Default::default()
        })
        .await
        .unwrap();
    let after = create_ticket(&desk.agent2, repair(&caller.id)).await;
    expect_invalid(after, "ticket.contact_id");
    let own = desk.agent2.create_contact("张无忌").await;
    let after = create_ticket(&desk.agent2, repair(&own.id)).await.unwrap();
    assert_eq!(
        (after.owner_id.as_str(), after.queue_id.as_str()),
        (desk.agent2.user_id.as_str(), "")
    );
}

async fn key_accounts_go_to_their_owner(mode: Mode) {
    use crm_proto::contacts::{Account, AccountTier, CreateAccountRequest};
    let suite = Suite::start(mode).await;
    let admin = suite.admin().await;
    let desk = org::service_desk(&suite, &admin, "key-account").await;
    let (a1, a2) = (desk.agent1.user_id.clone(), desk.agent2.user_id.clone());
    let both = vec![member(&a1, &[]), member(&a2, &[])];
    let front = Queue {
        key_account_owner_first: true,
        ..queue("Front line", AssignmentRule::RoundRobin, both)
    };
    let front = create_queue(&desk.lead, front).await.unwrap();
    assert!(front.key_account_owner_first);
    // agent2 holds a key account in contacts, and an ordinary one.
    let account = |name: &str, tier: AccountTier| {
        let mut client = desk.agent2.contacts();
        let name = name.to_owned();
        async move {
            client
                .create_account(CreateAccountRequest {
                    account: Some(Account {
                        display_name: name,
                        tier: tier as i32,
                        ..Default::default()
                    }),
                    ..Default::default()
                })
                .await
                .unwrap()
                .into_inner()
                .account
                .unwrap()
        }
    };
    let key = account("华强电子", AccountTier::Key).await;
    let plain = account("小卖部", AccountTier::Standard).await;
    let key_caller = desk.agent2.create_contact_of("王经理", &key.id).await;
    let plain_caller = desk.agent2.create_contact_of("李老板", &plain.id).await;

    // A key account's tickets all go to its owner; others take turns. What the caller says
    // of the key account's owner is not taken.
    let mut owners = Vec::new();
    for caller in [
        &key_caller,
        &plain_caller,
        &key_caller,
        &plain_caller,
        &key_caller,
    ] {
        let ticket = Ticket {
            key_account_owner_id: a1.clone(),
            ..repair(&caller.id)
        };
        let filed = create_ticket(&desk.agent2, ticket).await.unwrap();
        let expected_owner = if caller.id == key_caller.id { &a2 } else { "" };
        assert_eq!(filed.key_account_owner_id, expected_owner);
        owners.push((caller.id == key_caller.id, filed.owner_id == a2));
    }
    assert_eq!(owners.iter().filter(|(key, _)| *key).count(), 3);
    assert!(
        owners
            .iter()
            .filter(|(key, _)| *key)
            .all(|(_, to_owner)| *to_owner)
    );
    let plain_owners: Vec<bool> = owners
        .iter()
        .filter(|(key, _)| !*key)
        .map(|(_, to_a2)| *to_a2)
        .collect();
    assert_eq!(plain_owners.len(), 2);
    assert_ne!(plain_owners[0], plain_owners[1], "turns: {owners:?}");

    // Away, the owner is skipped like anyone; a queue without the flag ignores owners.
    set_agent_away(&desk.agent2, &a2, true).await.unwrap();
    let filed = create_ticket(&desk.agent2, repair(&key_caller.id))
        .await
        .unwrap();
    assert_eq!(filed.owner_id, a1);
    set_agent_away(&desk.agent2, &a2, false).await.unwrap();
    let off = Queue {
        id: front.id.clone(),
        key_account_owner_first: false,
        ..Default::default()
    };
    desk.lead
        .servicedesk()
        .update_queue(UpdateQueueRequest {
            queue: Some(off),
            update_mask: Some(prost_types::FieldMask {
                paths: vec!["key_account_owner_first".into()],
            }),
            request_id: String::new(),
        })
        .await
        .unwrap();
    let mut to_a2 = 0;
    for _ in 0..4 {
        let filed = create_ticket(&desk.agent2, repair(&key_caller.id))
            .await
            .unwrap();
        to_a2 += usize::from(filed.owner_id == a2);
    }
    assert_eq!(to_a2, 2, "turns again");
}

/// Agents marking themselves away at once are all away; a retried mark or queue deletion
/// replays its first answer; bad marks name their field.
async fn presence_and_queue_deletes_replay(mode: Mode) {
    let suite = Suite::start(mode).await;
    let admin = suite.admin().await;
    let desk = org::service_desk(&suite, &admin, "presence").await;
    let away = |session: &Session, request_id: &str| {
        let mut client = session.servicedesk();
        let request_id = request_id.to_owned();
        async move {
            client
                .set_agent_away(SetAgentAwayRequest {
                    user_id: String::new(),
                    away: true,
                    request_id,
                })
                .await
                .map(|r| r.into_inner().presence.unwrap())
        }
    };
    let (one, two) = tokio::join!(away(&desk.agent1, "away-1"), away(&desk.agent2, "away-2"));
    let (one, _two) = (one.unwrap(), two.unwrap());
    assert_eq!(away(&desk.agent1, "away-1").await.unwrap(), one, "replayed");
    let now = away(&desk.lead, "").await.unwrap();
    for agent in [&desk.agent1, &desk.agent2, &desk.lead] {
        assert!(now.away_user_ids.contains(&agent.user_id), "{now:?}");
    }
    let long = SetAgentAwayRequest {
        user_id: "u".repeat(101),
        away: true,
        request_id: String::new(),
    };
    expect_invalid(
        desk.lead.servicedesk().set_agent_away(long).await,
        "user_id",
    );
    let bad_key = SetAgentAwayRequest {
        user_id: String::new(),
        away: false,
        request_id: "k".repeat(65),
    };
    expect_invalid(
        desk.agent1.servicedesk().set_agent_away(bad_key).await,
        "request_id",
    );

    let front = create_queue(
        &desk.lead,
        queue(
            "Front line",
            AssignmentRule::RoundRobin,
            vec![member(&desk.agent1.user_id, &[])],
        ),
    )
    .await
    .unwrap();
    let delete = || {
        let mut client = desk.lead.servicedesk();
        let id = front.id.clone();
        async move {
            client
                .delete_queue(DeleteQueueRequest {
                    id,
                    etag: String::new(),
                    request_id: "queue-delete-1".into(),
                })
                .await
                .unwrap()
                .into_inner()
                .queue
                .unwrap()
        }
    };
    let (first, second) = tokio::join!(delete(), delete());
    assert_eq!(first, second);
    assert!(first.delete_time.is_some());
}

both_modes!(
    queues_assign_new_tickets_fairly,
    queues_and_reassignment_are_checked,
    key_accounts_go_to_their_owner,
    presence_and_queue_deletes_replay
);
