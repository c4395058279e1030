//! Service desk benchmark: `cargo bench --bench servicedesk`. On PostgreSQL and Redis started
//! on loopback, through the gateway over real sockets, it prints, each beside a baseline
//! measured in the same run on the same data:
//!
//! - CreateTicket by an agent (the contact checked in contacts as the caller, the tenant's
//!   next number, the row, its audit entry and its event in one transaction) against plain
//!   single-row INSERTs of the same ticket rows, at the same concurrency;
//! - IngestEmail of new emails by the mail gateway's key (parsed, the sender matched in
//!   contacts, a new ticket filed) against the same plain INSERTs;
//! - SuggestArticles for ticket texts over 100,000 published articles (p50/p95/p99, and how
//!   often the article a ticket was drawn from is among the five suggested) against point
//!   reads of articles by id through the same gateway.
//!
//! Every workload must finish with 0 errors, or its figure is void: the bench panics then.
//! Figures are printed, never asserted. Without `--bench` (under `cargo test`) it runs small
//! only to check that every step still works.

// A benchmark panics on a broken setup: there is nothing to measure then.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "../shared/mod.rs"]
mod common;
#[path = "../../tests/support/mod.rs"]
mod support;

mod knowledge;

use std::sync::Arc;

use sea_orm::ConnectionTrait as _;

use common::{CALLERS, row_copy, scale, throughput};
use crm_proto::contacts::{Contact, CreateContactRequest};
use crm_proto::identity::CreateApiKeyRequest;
use crm_proto::servicedesk::*;
use support::clients::Session;
use support::{Mode, Suite, org};

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(run());
}

async fn run() {
    let env = [
        ("CRM_ACCESS_TOKEN_TTL_SECS", "7200"),
        ("CRM_RATE_LIMIT_RPS", "100000"),
        ("CRM_TENANT_RATE_LIMIT_RPS", "100000"),
        ("CRM_API_KEY_RATE_LIMIT_RPS", "100000"),
    ];
    let suite = Suite::start_with(Mode::Distributed, &env).await;
    let admin = suite.admin().await;
    let desk = org::service_desk(&suite, &admin, "desk-bench").await;
    let db = suite.db("servicedesk").await;
    let caller = desk
        .agent1
        .contacts()
        .create_contact(CreateContactRequest {
            contact: Some(Contact {
                display_name: "王小明".into(),
                email: "wang.xm@bench.example".into(),
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
    println!("service desk bench, {CALLERS} concurrent callers:");

    // CreateTicket by the agent.
    let tickets = scale("CRM_BENCH_TICKETS", 2_000, 20);
    let created = {
        let (agent, contact_id) = (desk.agent1.clone(), caller.id.clone());
        throughput(tickets, move |n| {
            let (agent, contact_id) = (agent.clone(), contact_id.clone());
            async move {
                agent
                    .servicedesk()
                    .create_ticket(CreateTicketRequest {
                        ticket: Some(Ticket {
                            r#type: TicketType::Repair as i32,
                            channel: TicketChannel::Phone as i32,
                            subject: format!("水泵漏水 {n}"),
                            description: "Water under the pump since Monday.".into(),
                            contact_id,
                            ..Default::default()
                        }),
                        request_id: String::new(),
                    })
                    .await
                    .map(|_| ())
                    .map_err(|e| e.to_string())
            }
        })
        .await
    };
    let copy = Arc::new(row_copy(&db, "tickets").await);
    let plain = {
        let (db, copy) = (db.clone(), copy.clone());
        throughput(tickets, move |n| {
            let (db, copy) = (db.clone(), copy.clone());
            async move {
                db.execute_unprepared(&copy.replace("{id}", &format!("plain-t-{n}")))
                    .await
                    .map(|_| ())
                    .map_err(|e| e.to_string())
            }
        })
        .await
    };
    println!(
        "  CreateTicket through the gateway        {created:>8.0} tickets/s  {:>5.1}% of plain INSERTs",
        100.0 * created / plain
    );
    println!("  plain single-row INSERT of the rows     {plain:>8.0} rows/s    (baseline)");

    // IngestEmail of new emails by the mail gateway.
    let key = admin
        .identity()
        .create_api_key(CreateApiKeyRequest {
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
    let gateway = Session::api_key(&suite, &key.secret).await;
    let mails = scale("CRM_BENCH_MAILS", 1_000, 10);
    let ingested = throughput(mails, move |n| {
        let gateway = gateway.clone();
        async move {
            let raw = format!(
                "From: =?UTF-8?B?546L5bCP5piO?= <wang.xm@bench.example>\r\n\
                 To: service@desk.example\r\nMessage-ID: <bench-{n}@bench.example>\r\n\
                 Subject: pump {n} leaks\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n\
                 Water under the pump since Monday.\r\n"
            );
            let answer = gateway
                .servicedesk()
                .ingest_email(IngestEmailRequest {
                    raw: raw.into_bytes(),
                    r#type: 0,
                })
                .await
                .map_err(|e| e.to_string())?
                .into_inner();
            if answer.outcome() == EmailOutcome::NewTicket {
                Ok(())
            } else {
                Err(format!(
                    "email {n} did not open a ticket: {:?}",
                    answer.outcome()
                ))
            }
        }
    })
    .await;
    println!(
        "  IngestEmail (new tickets) via gateway   {ingested:>8.0} mails/s    {:>5.1}% of the plain INSERTs above",
        100.0 * ingested / plain
    );

    // SuggestArticles over a large knowledge base, one caller.
    let total = scale("CRM_BENCH_ARTICLES", 100_000, 300);
    let started = std::time::Instant::now();
    let kb = knowledge::seed(&suite, (&admin.tenant_id, &desk.lead.user_id), total);
    db.execute_unprepared("ANALYZE").await.unwrap();
    println!(
        "knowledge base: seeded {total} articles and {} search grams in {:.1} s; one caller:",
        kb.grams,
        started.elapsed().as_secs_f64()
    );
    let queries = scale("CRM_BENCH_SUGGESTIONS", 400, 10) as usize;
    // Warm the connections and the database's cache the same way for both.
    knowledge::time_gets(&desk.agent1, &kb, queries / 10).await;
    knowledge::time_suggestions(&desk.agent1, &kb, ("warm-up", queries / 10, 1)).await;
    let baseline = knowledge::time_gets(&desk.agent1, &kb, queries).await;
    baseline.print(None);
    let suggested = knowledge::time_suggestions(
        &desk.agent1,
        &kb,
        ("SuggestArticles, ticket texts", queries, 2),
    )
    .await;
    suggested.print(Some(&baseline));
    println!(
        "  the ticket's own article among the 5 suggested: {:.1}% of {queries}",
        100.0 * suggested.found as f64 / queries as f64
    );
}
