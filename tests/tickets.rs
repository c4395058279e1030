//! Tickets end to end through the gateway, in both modes: filed for a customer the agent sees
//! in contacts (its account taken from the contact), numbered, moved NEW → OPEN → PENDING →
//! RESOLVED, reopened within the window and not after it, closed for good; every refused move
//! names `ticket.status`; bad input names its field; stale etags and replays change nothing;
//! the history keeps each move; another agent and another tenant are told what an unknown id
//! gets, and the desk's lead sees the team's tickets.

// Helpers panic on purpose: a failed step is a failed test with a clear message.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::support;

use std::time::Duration;

use tonic::Code;

use crm_proto::contacts::{Contact, CreateContactRequest};
use crm_proto::servicedesk::*;
use support::clients::{Session, expect_code, expect_invalid, reason};
use support::desk::*;
use support::quoting::{eventually, state_reason};
use support::{Mode, Suite, org};

async fn change_ticket_status(
    session: &Session,
    (id, etag): (&str, &str),
    status: TicketStatus,
    (comment, request_id): (&str, &str),
) -> Result<Ticket, tonic::Status> {
    Ok(session
        .servicedesk()
        .change_ticket_status(ChangeTicketStatusRequest {
            id: id.into(),
            etag: etag.into(),
            status: status as i32,
            comment: comment.into(),
            request_id: request_id.into(),
        })
        .await?
        .into_inner()
        .ticket
        .unwrap())
}

async fn list_ticket_ids(session: &Session, filter: &str) -> Vec<String> {
    session
        .servicedesk()
        .list_tickets(ListTicketsRequest {
            filter: filter.into(),
            page_size: 100,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .tickets
        .into_iter()
        .map(|t| t.id)
        .collect()
}

async fn a_ticket_lives_from_new_to_closed(mode: Mode) {
    let suite = Suite::start(mode).await;
    let admin = suite.admin().await;
    let desk = org::service_desk(&suite, &admin, "desk").await;
    let other = org::other_tenant(&suite, &admin, "desk-other").await;

    // The caller is filed in contacts with their company; the ticket takes the company.
    let account = desk.agent1.create_account("深圳华强电子有限公司").await;
    let caller = desk.agent1.create_contact_of("王小明", &account.id).await;
    let ticket = create_ticket(&desk.agent1, repair(&caller.id))
        .await
        .unwrap();
    assert_eq!(ticket.number, "T-000001");
    assert_eq!(
        (
            ticket.status(),
            ticket.priority(),
            ticket.account_id.as_str(),
            ticket.owner_id.as_str()
        ),
        (
            TicketStatus::New,
            TicketPriority::Normal,
            account.id.as_str(),
            desk.agent1.user_id.as_str()
        )
    );

    // Bad input names its field; a customer the agent cannot see is refused like none.
    let bad = |change: fn(&mut Ticket)| {
        let mut t = repair(&caller.id);
        change(&mut t);
        t
    };
    for (ticket, field) in [
        (bad(|t| t.subject.clear()), "ticket.subject"),
        (bad(|t| t.subject = "x".repeat(201)), "ticket.subject"),
        (bad(|t| t.r#type = 0), "ticket.type"),
        (bad(|t| t.channel = 0), "ticket.channel"),
        (bad(|t| t.priority = 9), "ticket.priority"),
        (bad(|t| t.contact_id.clear()), "ticket.contact_id"),
        (bad(|t| t.tags = vec!["x".repeat(51)]), "ticket.tags"),
    ] {
        expect_invalid(create_ticket(&desk.agent1, ticket).await, field);
    }
    let admins = admin.create_contact("Not the agent's").await;
    expect_invalid(
        create_ticket(&desk.agent1, repair(&admins.id)).await,
        "ticket.contact_id",
    );
    expect_invalid(
        create_ticket(&other, repair(&caller.id)).await,
        "ticket.contact_id",
    );

    // NEW cannot close; it opens (the first response), waits on the customer, is resolved.
    let closed_early = move_to(&desk.agent1, &ticket.id, TicketStatus::Closed, "")
        .await
        .unwrap_err();
    assert_eq!(state_reason(&closed_early), "TICKET_STATUS");
    expect_invalid(
        move_to(&desk.agent1, &ticket.id, TicketStatus::Unspecified, "").await,
        "status",
    );
    let open = move_to(&desk.agent1, &ticket.id, TicketStatus::Open, "")
        .await
        .unwrap();
    assert!(open.first_response_time.is_some());
    let stale = change_ticket_status(
        &desk.agent1,
        (&ticket.id, &ticket.etag),
        TicketStatus::Pending,
        ("", ""),
    )
    .await;
    expect_code(stale, Code::Aborted);
    let pending = change_ticket_status(
        &desk.agent1,
        (&ticket.id, &open.etag),
        TicketStatus::Pending,
        ("waiting for photos of the leak", "pend-1"),
    )
    .await
    .unwrap();
    assert_eq!(pending.status_comment, "waiting for photos of the leak");
    let replayed = change_ticket_status(
        &desk.agent1,
        (&ticket.id, &open.etag),
        TicketStatus::Pending,
        ("waiting for photos of the leak", "pend-1"),
    )
    .await
    .unwrap();
    assert_eq!(replayed, pending, "a replay answers the first result");
    expect_invalid(
        move_to(&desk.agent1, &ticket.id, TicketStatus::Resolved, "").await,
        "comment",
    );
    let resolved = move_to(
        &desk.agent1,
        &ticket.id,
        TicketStatus::Resolved,
        "seal replaced on site",
    )
    .await
    .unwrap();
    assert_eq!(resolved.resolution, "seal replaced on site");
    assert!(resolved.resolve_time.is_some());

    // Reopened within the window (with a reason), resolved again; a week and a day later it
    // can no longer be reopened, only closed; closed, nothing changes.
    expect_invalid(
        move_to(&desk.agent1, &ticket.id, TicketStatus::Open, "").await,
        "comment",
    );
    let reopened = move_to(&desk.agent1, &ticket.id, TicketStatus::Open, "leaks again")
        .await
        .unwrap();
    assert_eq!(
        (reopened.reopen_count, reopened.resolution.as_str()),
        (1, "")
    );
    move_to(
        &desk.agent1,
        &ticket.id,
        TicketStatus::Resolved,
        "pump replaced",
    )
    .await
    .unwrap();
    suite.advance_clock(Duration::from_secs(8 * 86_400)).await;
    let agent1 = Session::login(&suite, "agent1@desk.example", support::ADMIN_PASSWORD)
        .await
        .unwrap();
    let late = move_to(&agent1, &ticket.id, TicketStatus::Open, "again")
        .await
        .unwrap_err();
    assert_eq!(state_reason(&late), "TICKET_REOPEN_WINDOW");
    let closed = move_to(&agent1, &ticket.id, TicketStatus::Closed, "")
        .await
        .unwrap();
    assert!(closed.close_time.is_some());
    let frozen = agent1
        .servicedesk()
        .update_ticket(UpdateTicketRequest {
            ticket: Some(Ticket {
                id: ticket.id.clone(),
                priority: TicketPriority::High as i32,
                ..Default::default()
            }),
            update_mask: None,
            request_id: String::new(),
        })
        .await
        .unwrap_err();
    assert_eq!(state_reason(&frozen), "TICKET_CLOSED");
    let after_close = move_to(&agent1, &ticket.id, TicketStatus::Open, "no")
        .await
        .unwrap_err();
    assert_eq!(state_reason(&after_close), "TICKET_STATUS");

    // The history keeps every move, newest first.
    let history = agent1
        .servicedesk()
        .list_audit_entries(ListAuditEntriesRequest {
            resource_type: "ticket".into(),
            resource_id: ticket.id.clone(),
            page_size: 50,
            page_token: String::new(),
        })
        .await
        .unwrap()
        .into_inner()
        .entries;
    let statuses: Vec<String> = history
        .iter()
        .filter_map(|e| e.changes.iter().find(|c| c.field == "status"))
        .map(|c| c.after.clone())
        .collect();
    assert_eq!(
        statuses,
        [
            "Closed", "Resolved", "Open", "Resolved", "Pending", "Open", "New"
        ]
    );
    let events = suite.outbox::<ServicedeskEvent>("servicedesk").await;
    let count =
        |kind: ServicedeskEventType| events.iter().filter(|e| e.r#type == kind as i32).count();
    assert_eq!(
        (
            count(ServicedeskEventType::TicketCreated),
            count(ServicedeskEventType::TicketUpdated)
        ),
        (1, 6)
    );

    // Another agent and another tenant get what an unknown id gets; the lead sees the team's.
    let agent2 = Session::login(&suite, "agent2@desk.example", support::ADMIN_PASSWORD)
        .await
        .unwrap();
    let lead = Session::login(&suite, "lead@desk.example", support::ADMIN_PASSWORD)
        .await
        .unwrap();
    let other = Session::login(&suite, "admin@desk-other.example", support::ADMIN_PASSWORD)
        .await
        .unwrap();
    for stranger in [&agent2, &other] {
        let missing = expect_code(get_ticket(stranger, &ticket.id).await, Code::NotFound);
        assert_eq!(reason(&missing), "NOT_FOUND");
        expect_code(
            move_to(stranger, &ticket.id, TicketStatus::Open, "x").await,
            Code::NotFound,
        );
        assert!(list_ticket_ids(stranger, "").await.is_empty());
    }
    let mine = std::slice::from_ref(&ticket.id);
    assert_eq!(list_ticket_ids(&lead, "").await, mine);
    let admin = suite.admin().await;
    assert_eq!(
        list_ticket_ids(&admin, "status = TICKET_STATUS_CLOSED").await,
        mine
    );
    assert!(
        list_ticket_ids(&admin, "status = TICKET_STATUS_OPEN")
            .await
            .is_empty()
    );
}

fn photo(name: &str) -> Attachment {
    Attachment {
        url: format!("https://files.example.cn/tickets/{name}"),
        file_name: name.into(),
        content_type: "image/jpeg".into(),
        size_bytes: 1_482_113,
        sha256: "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08".into(),
    }
}

async fn add_message(
    session: &Session,
    message: TicketMessage,
    request_id: &str,
) -> Result<TicketMessage, tonic::Status> {
    Ok(session
        .servicedesk()
        .add_ticket_message(AddTicketMessageRequest {
            message: Some(message),
            request_id: request_id.into(),
        })
        .await?
        .into_inner()
        .message
        .unwrap())
}

async fn thread(session: &Session, ticket_id: &str, public_only: bool) -> Vec<TicketMessage> {
    session
        .servicedesk()
        .list_ticket_messages(ListTicketMessagesRequest {
            ticket_id: ticket_id.into(),
            page_size: 0,
            page_token: String::new(),
            public_only,
        })
        .await
        .unwrap()
        .into_inner()
        .messages
}

/// A ticket's thread: an internal note, then the first public reply with photos (the first
/// response), oldest first; the customer's view holds the reply only; bad files are named;
/// a replay adds nothing; a closed ticket takes no more; strangers see nothing.
async fn a_ticket_thread_keeps_replies_and_notes(mode: Mode) {
    let suite = Suite::start(mode).await;
    let admin = suite.admin().await;
    let desk = org::service_desk(&suite, &admin, "thread").await;
    let other = org::other_tenant(&suite, &admin, "thread-other").await;
    let caller = desk.agent1.create_contact("李娜").await;
    let ticket = create_ticket(&desk.agent1, repair(&caller.id))
        .await
        .unwrap();
    let note = TicketMessage {
        ticket_id: ticket.id.clone(),
        kind: TicketMessageKind::InternalNote as i32,
        body: "Same model failed at two other sites this month.".into(),
        ..Default::default()
    };
    let noted = add_message(&desk.agent1, note.clone(), "").await.unwrap();
    assert_eq!(noted.author_id, desk.agent1.user_id);
    assert!(
        get_ticket(&desk.agent1, &ticket.id)
            .await
            .unwrap()
            .first_response_time
            .is_none(),
        "a note is no response"
    );
    let reply = TicketMessage {
        kind: TicketMessageKind::PublicReply as i32,
        body: "您好，请按附件图示检查密封圈。".into(),
        attachments: vec![photo("seal.jpg"), photo("valve.jpg")],
        ..note.clone()
    };
    let replied = add_message(&desk.agent1, reply.clone(), "reply-1")
        .await
        .unwrap();
    let again = add_message(&desk.agent1, reply.clone(), "reply-1")
        .await
        .unwrap();
    assert_eq!(again, replied, "a replay answers the first result");
    assert_eq!(replied.attachments, reply.attachments);
    let stamped = get_ticket(&desk.agent1, &ticket.id).await.unwrap();
    assert!(stamped.first_response_time.is_some());
    assert_eq!(
        stamped.status(),
        TicketStatus::New,
        "a reply does not move the status"
    );
    let ids = |messages: Vec<TicketMessage>| messages.into_iter().map(|m| m.id).collect::<Vec<_>>();
    assert_eq!(
        ids(thread(&desk.agent1, &ticket.id, false).await),
        [noted.id.clone(), replied.id.clone()]
    );
    assert_eq!(
        ids(thread(&desk.lead, &ticket.id, true).await),
        std::slice::from_ref(&replied.id)
    );

    // Bad messages name their field.
    let with = |change: fn(&mut TicketMessage)| {
        let mut m = reply.clone();
        change(&mut m);
        m
    };
    for (message, field) in [
        (with(|m| m.kind = 0), "message.kind"),
        (
            with(|m| {
                m.body.clear();
                m.attachments.clear();
            }),
            "message.body",
        ),
        (with(|m| m.ticket_id.clear()), "message.ticket_id"),
        (
            with(|m| m.attachments[0].url = "http://files.example.cn/a.jpg".into()),
            "message.attachments[0].url",
        ),
        (
            with(|m| m.attachments[1].content_type = "application/x-msdownload".into()),
            "message.attachments[1].content_type",
        ),
        (
            with(|m| m.attachments[0].size_bytes = 26 * 1024 * 1024),
            "message.attachments[0].size_bytes",
        ),
        (
            with(|m| m.attachments[0].sha256 = "abc".into()),
            "message.attachments[0].sha256",
        ),
        (
            with(|m| m.attachments = vec![photo("x.jpg"); 11]),
            "message.attachments",
        ),
    ] {
        expect_invalid(add_message(&desk.agent1, message, "").await, field);
    }

    // Strangers get what an unknown ticket gets.
    for stranger in [&desk.agent2, &other] {
        expect_code(
            add_message(stranger, note.clone(), "").await,
            Code::NotFound,
        );
        expect_code(
            stranger
                .servicedesk()
                .list_ticket_messages(ListTicketMessagesRequest {
                    ticket_id: ticket.id.clone(),
                    ..Default::default()
                })
                .await,
            Code::NotFound,
        );
    }

    // Closed, the ticket takes no more; the thread and its events stay.
    move_to(
        &desk.agent1,
        &ticket.id,
        TicketStatus::Resolved,
        "advice given",
    )
    .await
    .unwrap();
    move_to(&desk.agent1, &ticket.id, TicketStatus::Closed, "")
        .await
        .unwrap();
    let late = add_message(&desk.agent1, note.clone(), "")
        .await
        .unwrap_err();
    assert_eq!(state_reason(&late), "TICKET_CLOSED");
    let added = suite
        .outbox::<ServicedeskEvent>("servicedesk")
        .await
        .into_iter()
        .filter(|e| e.r#type == ServicedeskEventType::TicketMessageAdded as i32)
        .count();
    assert_eq!(added, 2);
}

/// An email as a mail gateway receives it.
fn email(from: &str, message_id: &str, in_reply_to: &str, subject: &str, body: &str) -> Vec<u8> {
    let mut raw =
        format!("From: {from}\r\nTo: service@desk.example\r\nMessage-ID: <{message_id}>\r\n");
    if !in_reply_to.is_empty() {
        raw.push_str(&format!(
            "In-Reply-To: <{in_reply_to}>\r\nReferences: <{in_reply_to}>\r\n"
        ));
    }
    raw.push_str(&format!(
        "Subject: {subject}\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n{body}\r\n"
    ));
    raw.into_bytes()
}

async fn ingest(session: &Session, raw: Vec<u8>) -> Result<IngestEmailResponse, tonic::Status> {
    Ok(session
        .servicedesk()
        .ingest_email(IngestEmailRequest { raw, r#type: 0 })
        .await?
        .into_inner())
}

async fn mail_key(suite: &Suite, admin: &Session) -> Session {
    let key = admin
        .identity()
        .create_api_key(crm_proto::identity::CreateApiKeyRequest {
            display_name: "Mail gateway".into(),
            user_id: String::new(),
            permissions: vec![
                "servicedesk.mail.ingest".into(),
                "contacts.contacts.read".into(),
                "contacts.contacts.write".into(),
            ],
        })
        .await
        .unwrap()
        .into_inner();
    Session::api_key(suite, &key.secret).await
}

/// Email to ticket: the first email opens a ticket for the contact its sender is; the same
/// email again changes nothing; the customer's answer (by In-Reply-To, or by the ticket
/// number in the subject) joins the thread and reopens a ticket waiting on them; an unknown
/// sender is filed as a contact; a closed ticket's thread opens a new ticket; bad mail is
/// refused; another tenant's mail never reaches ours.
async fn email_opens_tickets_and_threads_replies(mode: Mode) {
    let suite = Suite::start(mode).await;
    let admin = suite.admin().await;
    let desk = org::service_desk(&suite, &admin, "mail").await;
    let other = org::other_tenant(&suite, &admin, "mail-other").await;
    let gateway = mail_key(&suite, &admin).await;
    let wang = admin
        .contacts()
        .create_contact(CreateContactRequest {
            contact: Some(Contact {
                display_name: "王小明".into(),
                email: "wang.xm@example.cn".into(),
                ..Default::default()
            }),
            request_id: String::new(),
            allow_duplicates: false,
        })
        .await
        .unwrap()
        .into_inner()
        .contact
        .unwrap();
    let first = email(
        "=?UTF-8?B?546L5bCP5piO?= <Wang.XM@Example.CN>",
        "first@example.cn",
        "",
        "=?UTF-8?B?5rC05rO15ryP5rC0?=",
        "The pump leaks since Monday.",
    );
    let opened = ingest(&gateway, first.clone()).await.unwrap();
    assert_eq!(opened.outcome(), EmailOutcome::NewTicket);
    let ticket = opened.ticket.unwrap();
    assert_eq!(
        (
            ticket.subject.as_str(),
            ticket.description.as_str(),
            ticket.contact_id.as_str(),
            ticket.channel(),
            ticket.r#type()
        ),
        (
            "水泵漏水",
            "The pump leaks since Monday.",
            wang.id.as_str(),
            TicketChannel::Email,
            TicketType::Question
        )
    );
    let replayed = ingest(&gateway, first).await.unwrap();
    assert_eq!(replayed.outcome(), EmailOutcome::Unchanged);
    assert_eq!(replayed.ticket.unwrap().id, ticket.id);
    assert_eq!(
        list_ticket_ids(&admin, "").await,
        std::slice::from_ref(&ticket.id)
    );

    // Waiting on the customer; their answer joins the thread and opens the ticket again.
    move_to(
        &admin,
        &ticket.id,
        TicketStatus::Pending,
        "asked for photos",
    )
    .await
    .unwrap();
    let answer = ingest(
        &gateway,
        email(
            "wang.xm@example.cn",
            "reply-1@example.cn",
            "first@example.cn",
            "Re: 水泵漏水",
            "Photos attached in the next mail.",
        ),
    )
    .await
    .unwrap();
    assert_eq!(answer.outcome(), EmailOutcome::Reply);
    assert_eq!(answer.ticket.as_ref().unwrap().status(), TicketStatus::Open);
    let message = answer.message.unwrap();
    assert_eq!(
        (
            message.kind(),
            message.body.as_str(),
            message.ticket_id.as_str()
        ),
        (
            TicketMessageKind::CustomerMessage,
            "Photos attached in the next mail.",
            ticket.id.as_str()
        )
    );
    // A colleague writes by the number in the subject: filed as a contact, joins the thread.
    let colleague = ingest(
        &gateway,
        email(
            "Li Na <li.na@example.cn>",
            "cc-1@example.cn",
            "",
            "[T-000001] also leaking in hall B",
            "Same here.",
        ),
    )
    .await
    .unwrap();
    assert_eq!(colleague.outcome(), EmailOutcome::Reply);
    let filed = admin
        .contacts()
        .list_contacts(crm_proto::contacts::ListContactsRequest {
            filter: "email = \"li.na@example.cn\"".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .contacts;
    assert_eq!(filed.len(), 1);
    assert_eq!(filed[0].display_name, "Li Na");
    assert_eq!(thread(&admin, &ticket.id, false).await.len(), 2);

    // Closed, its thread opens a new ticket.
    move_to(&admin, &ticket.id, TicketStatus::Resolved, "seal replaced")
        .await
        .unwrap();
    move_to(&admin, &ticket.id, TicketStatus::Closed, "")
        .await
        .unwrap();
    let after = ingest(
        &gateway,
        email(
            "wang.xm@example.cn",
            "reply-2@example.cn",
            "first@example.cn",
            "Re: 水泵漏水",
            "It leaks again.",
        ),
    )
    .await
    .unwrap();
    assert_eq!(after.outcome(), EmailOutcome::NewTicket);
    assert_eq!(after.ticket.unwrap().number, "T-000002");

    // Bad mail names `raw`; a caller without the gateway's permission is refused; another
    // tenant's gateway files its own ticket even when the mail answers ours.
    for raw in [
        Vec::new(),
        b"this is not an email".to_vec(),
        b"From: a@b.example\r\nSubject: no id\r\n\r\nbody\r\n".to_vec(),
    ] {
        expect_invalid(ingest(&gateway, raw).await, "raw");
    }
    expect_code(
        ingest(
            &desk.agent1,
            email("x@example.cn", "denied@example.cn", "", "hi", "hi"),
        )
        .await,
        Code::PermissionDenied,
    );
    let their_gateway = mail_key(&suite, &other).await;
    let theirs = ingest(
        &their_gateway,
        email(
            "wang.xm@example.cn",
            "foreign@example.cn",
            "first@example.cn",
            "Re: [T-000001]",
            "wrong desk",
        ),
    )
    .await
    .unwrap();
    assert_eq!(theirs.outcome(), EmailOutcome::NewTicket);
    expect_code(get_ticket(&other, &ticket.id).await, Code::NotFound);
    assert_eq!(thread(&admin, &ticket.id, false).await.len(), 2);
}

async fn update_ticket(
    session: &Session,
    ticket: Ticket,
    paths: &[&str],
) -> Result<Ticket, tonic::Status> {
    Ok(session
        .servicedesk()
        .update_ticket(UpdateTicketRequest {
            ticket: Some(ticket),
            update_mask: Some(prost_types::FieldMask {
                paths: paths.iter().map(|p| (*p).to_owned()).collect(),
            }),
            request_id: String::new(),
        })
        .await?
        .into_inner()
        .ticket
        .unwrap())
}

/// A ticket's fields change under its etag, each refused value named; a reassignment stays
/// within the writer's scope; another agent or tenant can neither change, delete nor restore
/// it; deleted, it takes no moves until restored.
async fn a_ticket_changes_and_is_deleted_within_reach(mode: Mode) {
    let suite = Suite::start(mode).await;
    let admin = suite.admin().await;
    let desk = org::service_desk(&suite, &admin, "edit").await;
    let other = org::other_tenant(&suite, &admin, "edit-other").await;
    let caller = desk.agent1.create_contact("赵磊").await;
    let ticket = create_ticket(&desk.agent1, repair(&caller.id))
        .await
        .unwrap();
    let urgent = update_ticket(
        &desk.agent1,
        Ticket {
            id: ticket.id.clone(),
            etag: ticket.etag.clone(),
            priority: TicketPriority::Urgent as i32,
            category: "warranty".into(),
            tags: vec!["vip".into()],
            ..Default::default()
        },
        &["priority", "category", "tags"],
    )
    .await
    .unwrap();
    assert_eq!(
        (
            urgent.priority(),
            urgent.category.as_str(),
            urgent.tags.as_slice()
        ),
        (TicketPriority::Urgent, "warranty", &["vip".to_owned()][..])
    );
    let by_priority = list_ticket_ids(&desk.agent1, "priority = TICKET_PRIORITY_URGENT").await;
    assert_eq!(by_priority, std::slice::from_ref(&ticket.id));
    // A stale etag, a bad value, an output-only field, a hidden contact are refused.
    let stale = update_ticket(
        &desk.agent1,
        Ticket {
            id: ticket.id.clone(),
            etag: ticket.etag.clone(),
            priority: TicketPriority::Low as i32,
            ..Default::default()
        },
        &["priority"],
    )
    .await;
    expect_code(stale, Code::Aborted);
    expect_invalid(
        update_ticket(
            &desk.agent1,
            Ticket {
                id: ticket.id.clone(),
                subject: String::new(),
                ..Default::default()
            },
            &["subject"],
        )
        .await,
        "ticket.subject",
    );
    expect_invalid(
        update_ticket(
            &desk.agent1,
            Ticket {
                id: ticket.id.clone(),
                ..Default::default()
            },
            &["status"],
        )
        .await,
        "update_mask",
    );
    let hidden = admin.create_contact("Admin's customer").await;
    expect_invalid(
        update_ticket(
            &desk.agent1,
            Ticket {
                id: ticket.id.clone(),
                contact_id: hidden.id,
                ..Default::default()
            },
            &["contact_id"],
        )
        .await,
        "ticket.contact_id",
    );
    // The agent cannot hand the ticket to someone outside their reach.
    expect_invalid(
        update_ticket(
            &desk.agent1,
            Ticket {
                id: ticket.id.clone(),
                owner_id: desk.agent2.user_id.clone(),
                ..Default::default()
            },
            &["owner_id"],
        )
        .await,
        "ticket.owner_id",
    );
    // Strangers change nothing.
    for stranger in [&desk.agent2, &other] {
        let change = Ticket {
            id: ticket.id.clone(),
            priority: TicketPriority::Low as i32,
            ..Default::default()
        };
        expect_code(
            update_ticket(stranger, change, &["priority"]).await,
            Code::NotFound,
        );
        expect_code(
            stranger
                .servicedesk()
                .delete_ticket(DeleteTicketRequest {
                    id: ticket.id.clone(),
                    ..Default::default()
                })
                .await,
            Code::NotFound,
        );
    }
    // Deleted, it takes no moves and is found only with show_deleted; restored, it moves.
    desk.agent1
        .servicedesk()
        .delete_ticket(DeleteTicketRequest {
            id: ticket.id.clone(),
            ..Default::default()
        })
        .await
        .unwrap();
    let gone = move_to(&desk.agent1, &ticket.id, TicketStatus::Open, "")
        .await
        .unwrap_err();
    assert_eq!(state_reason(&gone), "RESOURCE_DELETED");
    assert!(list_ticket_ids(&desk.agent1, "").await.is_empty());
    let undelete = |session: &Session| {
        let (sales, id) = (session.servicedesk(), ticket.id.clone());
        async move {
            sales
                .clone()
                .undelete_ticket(UndeleteTicketRequest {
                    id,
                    ..Default::default()
                })
                .await
        }
    };
    for stranger in [&desk.agent2, &other] {
        expect_code(undelete(stranger).await, Code::NotFound);
    }
    undelete(&desk.agent1).await.unwrap();
    move_to(&desk.agent1, &ticket.id, TicketStatus::Open, "")
        .await
        .unwrap();

    // A retried delete or restore (same request id) answers the first result again.
    let mut api = desk.agent1.servicedesk();
    let delete = DeleteTicketRequest {
        id: ticket.id.clone(),
        etag: String::new(),
        request_id: "delete-once".into(),
    };
    let first = api
        .delete_ticket(delete.clone())
        .await
        .unwrap()
        .into_inner();
    let again = api.delete_ticket(delete).await.unwrap().into_inner();
    assert_eq!(again, first);
    let restore = UndeleteTicketRequest {
        id: ticket.id.clone(),
        etag: String::new(),
        request_id: "restore-once".into(),
    };
    let restored = api
        .undelete_ticket(restore.clone())
        .await
        .unwrap()
        .into_inner();
    let again = api.undelete_ticket(restore).await.unwrap().into_inner();
    assert_eq!(again, restored);
    assert!(restored.ticket.unwrap().delete_time.is_none());

    // Lists refuse a bad filter by name; the history is the ticket's, for whoever sees it.
    expect_invalid(
        desk.agent1
            .servicedesk()
            .list_tickets(ListTicketsRequest {
                filter: "colour = \"red\"".into(),
                ..Default::default()
            })
            .await,
        "filter",
    );
    let history = |session: &Session, resource_type: &str| {
        let (api, id, resource_type) = (
            session.servicedesk(),
            ticket.id.clone(),
            resource_type.to_owned(),
        );
        async move {
            api.clone()
                .list_audit_entries(ListAuditEntriesRequest {
                    resource_type,
                    resource_id: id,
                    ..Default::default()
                })
                .await
                .map(|r| r.into_inner().entries)
        }
    };
    let actions: Vec<String> = history(&desk.agent1, "ticket")
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.action)
        .collect();
    assert_eq!(&actions[..3], ["undelete", "delete", "update"]);
    expect_invalid(history(&desk.agent1, "contact").await, "resource_type");
    for stranger in [&desk.agent2, &other] {
        expect_code(history(stranger, "ticket").await, Code::NotFound);
    }
}

async fn context_of(
    session: &Session,
    id: &str,
) -> Result<GetTicketContextResponse, tonic::Status> {
    Ok(session
        .servicedesk()
        .get_ticket_context(GetTicketContextRequest { id: id.into() })
        .await?
        .into_inner())
}

async fn a_ticket_shows_its_customer(mode: Mode) {
    let suite = Suite::start(mode).await;
    let admin = suite.admin().await;
    let desk = org::service_desk(&suite, &admin, "context").await;
    let other = org::other_tenant(&suite, &admin, "context-other").await;
    let account = desk.agent1.create_account("宁波海天机械").await;
    let caller = desk.agent1.create_contact_of("陈工", &account.id).await;
    let first = create_ticket(&desk.agent1, repair(&caller.id))
        .await
        .unwrap();
    move_to(
        &desk.agent1,
        &first.id,
        TicketStatus::Resolved,
        "fixed on site",
    )
    .await
    .unwrap();
    let second = create_ticket(&desk.agent1, repair(&caller.id))
        .await
        .unwrap();
    let third = create_ticket(&desk.agent1, repair(&caller.id))
        .await
        .unwrap();
    // The admin's own ticket for the account is outside agent1's reach.
    let admins = create_ticket(
        &admin,
        Ticket {
            account_id: account.id.clone(),
            ..repair("")
        },
    )
    .await
    .unwrap();

    let context = context_of(&desk.agent1, &third.id).await.unwrap();
    assert_eq!(context.ticket.unwrap().id, third.id);
    assert_eq!(context.contact.unwrap().display_name, "陈工");
    assert_eq!(context.account.unwrap().id, account.id);
    let previous: Vec<&str> = context
        .previous_tickets
        .iter()
        .map(|t| t.id.as_str())
        .collect();
    assert_eq!(previous, [second.id.as_str(), first.id.as_str()]);
    assert_eq!(context.open_ticket_count, 2);

    // The admin sees all four; their ticket names no contact.
    let theirs = context_of(&admin, &admins.id).await.unwrap();
    assert!(theirs.contact.is_none());
    assert_eq!(theirs.previous_tickets.len(), 3);
    assert_eq!(theirs.open_ticket_count, 3);

    // The lead sees the team's; another agent and another tenant are told what an unknown
    // id gets.
    let lead = context_of(&desk.lead, &third.id).await.unwrap();
    assert_eq!(lead.previous_tickets.len(), 2);
    for stranger in [&desk.agent2, &other] {
        expect_code(context_of(stranger, &third.id).await, Code::NotFound);
    }
    expect_code(
        context_of(&desk.agent1, "no-such-ticket").await,
        Code::NotFound,
    );
    expect_invalid(context_of(&desk.agent1, "").await, "id");
}

/// Contacts' merges and erasures reach the tickets through the desk's inbox: a ticket of a
/// merged contact names the survivor, and an erased contact's words leave their tickets
/// (the description and their messages); each event changes each ticket once.
async fn contacts_merges_and_erasures_reach_tickets(mode: Mode) {
    use crm_proto::contacts::{ErasePersonalDataRequest, MergeContactsRequest};
    let suite = Suite::start(mode).await;
    let admin = suite.admin().await;
    let gateway = mail_key(&suite, &admin).await;
    let person = |name: &str, address: &str| Contact {
        display_name: name.into(),
        email: address.into(),
        ..Default::default()
    };
    let mut contacts = Vec::new();
    for (name, address) in [
        ("刘洋", "liu.yang@example.cn"),
        ("刘洋 (old)", "ly@example.cn"),
    ] {
        contacts.push(
            admin
                .contacts()
                .create_contact(CreateContactRequest {
                    contact: Some(person(name, address)),
                    request_id: String::new(),
                    allow_duplicates: true,
                })
                .await
                .unwrap()
                .into_inner()
                .contact
                .unwrap(),
        );
    }
    let (survivor, merged) = (&contacts[0], &contacts[1]);
    let opened = ingest(
        &gateway,
        email(
            "ly@example.cn",
            "m1@example.cn",
            "",
            "发票开错了",
            "我的身份证号码是 110101199003071234",
        ),
    )
    .await
    .unwrap();
    let ticket = opened.ticket.unwrap();
    assert_eq!(ticket.contact_id, merged.id);
    ingest(
        &gateway,
        email(
            "ly@example.cn",
            "m2@example.cn",
            "m1@example.cn",
            "Re: 发票开错了",
            "电话 13800138000",
        ),
    )
    .await
    .unwrap();

    admin
        .contacts()
        .merge_contacts(MergeContactsRequest {
            survivor_id: survivor.id.clone(),
            survivor_etag: String::new(),
            merged_ids: vec![merged.id.clone()],
            request_id: String::new(),
        })
        .await
        .unwrap();
    eventually("the ticket names the surviving contact", || async {
        let found = get_ticket(&admin, &ticket.id).await.unwrap();
        (found.contact_id == survivor.id).then_some(())
    })
    .await;

    admin
        .contacts()
        .erase_personal_data(ErasePersonalDataRequest {
            contact_id: survivor.id.clone(),
            request_id: String::new(),
        })
        .await
        .unwrap();
    eventually("the ticket loses the customer's words", || async {
        let found = get_ticket(&admin, &ticket.id).await.unwrap();
        (found.description == "(erased)").then_some(())
    })
    .await;
    let thread = admin
        .servicedesk()
        .list_ticket_messages(ListTicketMessagesRequest {
            ticket_id: ticket.id.clone(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .messages;
    let customers: Vec<&str> = thread
        .iter()
        .filter(|m| m.kind() == TicketMessageKind::CustomerMessage)
        .map(|m| m.body.as_str())
        .collect();
    assert_eq!(customers, ["(erased)"]);
    tokio::time::sleep(std::time::Duration::from_secs(2)).await;
    let by_system = suite
        .outbox::<ServicedeskEvent>("servicedesk")
        .await
        .into_iter()
        .filter(|e| {
            e.r#type == ServicedeskEventType::TicketUpdated as i32 && e.actor_id == "system"
        })
        .count();
    assert_eq!(by_system, 2, "one repoint, one erasure");
}

/// Racing retries of one filing give one ticket; a thread's page names its bad input.
async fn ticket_filings_replay_and_threads_check_input(mode: Mode) {
    let suite = Suite::start(mode).await;
    let admin = suite.admin().await;
    let desk = org::service_desk(&suite, &admin, "ticket-retry").await;
    let caller = desk.agent1.create_contact("重试张").await;
    let file = || {
        let mut client = desk.agent1.servicedesk();
        let ticket = repair(&caller.id);
        async move {
            client
                .create_ticket(CreateTicketRequest {
                    ticket: Some(ticket),
                    request_id: "ticket-create-1".into(),
                })
                .await
                .unwrap()
                .into_inner()
                .ticket
                .unwrap()
        }
    };
    let (first, second) = tokio::join!(file(), file());
    assert_eq!(first, second);
    let listed = desk
        .agent1
        .servicedesk()
        .list_tickets(ListTicketsRequest::default())
        .await
        .unwrap()
        .into_inner()
        .tickets;
    assert_eq!(listed.len(), 1, "one ticket for two racing retries");
    for (request, field) in [
        (
            ListTicketMessagesRequest {
                ticket_id: first.id.clone(),
                page_size: -1,
                ..Default::default()
            },
            "page_size",
        ),
        (ListTicketMessagesRequest::default(), "ticket_id"),
    ] {
        expect_invalid(
            desk.agent1
                .servicedesk()
                .list_ticket_messages(request)
                .await,
            field,
        );
    }
}

both_modes!(
    ticket_filings_replay_and_threads_check_input,
    contacts_merges_and_erasures_reach_tickets,
    a_ticket_shows_its_customer,
    a_ticket_changes_and_is_deleted_within_reach,
    a_ticket_lives_from_new_to_closed,
    a_ticket_thread_keeps_replies_and_notes,
    email_opens_tickets_and_threads_replies
);
