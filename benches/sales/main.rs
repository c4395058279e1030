//! Sales benchmark: `cargo bench --bench sales`. On PostgreSQL and Redis started on loopback,
//! through the gateway over real sockets, it prints, each beside a baseline measured in the
//! same run on the same data:
//!
//! - lead capture (an API key's CaptureLead: scored, assigned by round robin, de-duplicated,
//!   audited, announced) against plain single-row INSERTs of the same lead rows, at the same
//!   concurrency;
//! - lead conversion (an account and a contact created in contacts as the caller, then the
//!   opportunity and the lead in one sales transaction) against plain INSERTs of the same
//!   three rows and the lead's UPDATE;
//! - the quote → order flow (CreateQuote with two priced lines, SubmitQuote, SendQuote,
//!   AcceptQuote, CreateOrder from the quote, ConfirmOrder with its ERP hand-off) against
//!   the same rows written by plain SQL: the quote's and the order's INSERTs and their status
//!   UPDATEs;
//! - GetForecast and ListOpportunities at `CRM_BENCH_OPPORTUNITIES` opportunities (default
//!   100,000, seeded straight into the database), p50/p95, against the raw SQL of the same
//!   question on the same data.
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

use std::sync::Arc;
use std::time::Instant;

use hdrhistogram::Histogram;
use sea_orm::{
    ActiveModelTrait as _, ConnectionTrait as _, DatabaseConnection, EntityTrait as _,
    IntoActiveModel as _, Statement,
};

use common::{CALLERS, row_copy, scale, smoke, throughput};
use crm_proto::common::{Date, Money};
use crm_proto::identity::CreateApiKeyRequest;
use crm_proto::sales::*;
use crm_sales::entity::{lead, opportunity};
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

struct Latency {
    name: String,
    histogram: Histogram<u64>,
}

impl Latency {
    fn new(name: &str) -> Self {
        Self {
            name: name.to_owned(),
            histogram: Histogram::new_with_bounds(1, 600_000_000, 3).unwrap(),
        }
    }

    fn ms(&self, quantile: f64) -> f64 {
        self.histogram.value_at_quantile(quantile) as f64 / 1000.0
    }

    fn print(&self, baseline: Option<&Latency>) {
        let ratio = baseline
            .map(|b| format!("  p95 {:>6.1}x the raw SQL", self.ms(0.95) / b.ms(0.95)))
            .unwrap_or_else(|| "  (baseline)".to_owned());
        println!(
            "  {:<48} n {:>4}  p50 {:>8.2} ms  p95 {:>8.2} ms{ratio}",
            self.name,
            self.histogram.len(),
            self.ms(0.50),
            self.ms(0.95),
        );
    }
}

fn money(code: &str, amount: &str) -> Option<Money> {
    Some(Money {
        currency_code: code.into(),
        amount: amount.into(),
    })
}

fn bench_lead(n: u64) -> Lead {
    Lead {
        display_name: format!("Lead {n}"),
        company_name: format!("Company {n}"),
        email: format!("lead{n}@bench.example"),
        source: LeadSource::WebForm as i32,
        region_code: "CN-GD".into(),
        ..Default::default()
    }
}

/// A lead row as a plain INSERT writes it.
fn lead_row(tenant_id: &str, owner_id: &str, n: u64) -> lead::Model {
    lead::Model {
        id: format!("0190c0c0-0000-7000-8000-{n:012}"),
        tenant_id: tenant_id.into(),
        owner_id: owner_id.into(),
        owner_since: 0,
        display_name: format!("Lead {n}"),
        company_name: format!("Company {n}"),
        title: String::new(),
        email: format!("plain{n}@bench.example"),
        phone: String::new(),
        source: LeadSource::WebForm as i32,
        campaign_id: String::new(),
        region_code: "CN-GD".into(),
        status: LeadStatus::New as i32,
        disqualify_reason: String::new(),
        score: 35,
        interaction_count: 0,
        description: String::new(),
        conversion: String::new(),
        matched_contact_id: String::new(),
        tags: "[]".into(),
        custom_fields: "{}".into(),
        version: 1,
        create_time: 0,
        update_time: 0,
        delete_time: None,
    }
}

/// An opportunity row for seeding: spread over owners, stages, amounts and close days.
fn opportunity_row(
    tenant_id: &str,
    owners: &[String],
    (pipeline, stages): (&str, &[String]),
    n: u64,
) -> opportunity::Model {
    let stage = (n % stages.len() as u64) as usize;
    let status = match stage {
        s if s == stages.len() - 2 => OpportunityStatus::Won,
        s if s == stages.len() - 1 => OpportunityStatus::Lost,
        _ => OpportunityStatus::Open,
    };
    let day = 20270101 + (n % 90) as i32 % 28 + ((n % 3) as i32) * 100;
    opportunity::Model {
        id: format!("0190d0d0-0000-7000-8000-{n:012}"),
        tenant_id: tenant_id.into(),
        owner_id: owners[(n as usize) % owners.len()].clone(),
        owner_since: 0,
        display_name: format!("Deal {n}"),
        account_id: format!("account-{}", n % 5000),
        pipeline_id: pipeline.into(),
        stage_id: stages[stage].clone(),
        status: status as i32,
        amount_currency: "CNY".into(),
        amount: Some(((n % 997) as i64 + 1) * 1_000 * 10_000),
        expected_close_date: day,
        probability: [10, 40, 70, 100, 0][stage.min(4)],
        description: String::new(),
        next_step: String::new(),
        next_step_due_time: None,
        next_step_reminded: None,
        close_reason: String::new(),
        close_time: (status != OpportunityStatus::Open).then_some(1_800_000_000_000_000),
        stage_history: "[]".into(),
        contacts: "[]".into(),
        competitors: "[]".into(),
        tags: "[]".into(),
        custom_fields: "{}".into(),
        version: 1,
        create_time: 1_700_000_000_000_000 + n as i64,
        update_time: 1_700_000_000_000_000 + n as i64,
        delete_time: None,
    }
}

async fn time_raw(db: &DatabaseConnection, name: &str, sql: &str, runs: usize) -> Latency {
    let mut latency = Latency::new(name);
    for _ in 0..runs {
        let started = Instant::now();
        let rows = db
            .query_all_raw(Statement::from_string(db.get_database_backend(), sql))
            .await
            .unwrap();
        assert!(!rows.is_empty(), "{sql} finds nothing");
        latency
            .histogram
            .record(started.elapsed().as_micros() as u64)
            .unwrap();
    }
    latency
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
    let o = org::build(&suite, admin.clone(), "sales-bench").await;
    let sales_db = suite.db("sales").await;
    let reps = vec![o.rep1.user_id.clone(), o.rep2.user_id.clone()];

    // Capture.
    let captures = scale("CRM_BENCH_CAPTURES", 2_000, 50);
    admin
        .sales()
        .update_lead_rules(UpdateLeadRulesRequest {
            rules: Some(LeadRules {
                scoring: Some(LeadScoring {
                    sources: vec![SourcePoints {
                        source: LeadSource::WebForm as i32,
                        points: 20,
                    }],
                    ..Default::default()
                }),
                assignment: Some(LeadAssignment {
                    mode: LeadAssignmentMode::RoundRobin as i32,
                    user_ids: reps.clone(),
                    territories: Vec::new(),
                }),
                ..Default::default()
            }),
        })
        .await
        .unwrap();
    let key = admin
        .identity()
        .create_api_key(CreateApiKeyRequest {
            display_name: "Bench form".into(),
            user_id: String::new(),
            permissions: vec!["sales.leads.capture".into()],
        })
        .await
        .unwrap()
        .into_inner();
    let form = Session::api_key(&suite, &key.secret).await;
    println!("sales bench, {CALLERS} concurrent callers:");
    let captured = {
        let form = form.clone();
        throughput(captures, move |n| {
            let form = form.clone();
            async move {
                form.sales()
                    .capture_lead(CaptureLeadRequest {
                        lead: Some(bench_lead(n)),
                        request_id: String::new(),
                    })
                    .await
                    .map(|_| ())
                    .map_err(|e| e.to_string())
            }
        })
        .await
    };
    let plain = {
        let (db, tenant, owner) = (
            sales_db.clone(),
            admin.tenant_id.clone(),
            o.rep1.user_id.clone(),
        );
        throughput(captures, move |n| {
            let (db, row) = (db.clone(), lead_row(&tenant, &owner, n));
            async move {
                lead::Entity::insert(row.into_active_model().reset_all())
                    .exec(&db)
                    .await
                    .map(|_| ())
                    .map_err(|e| e.to_string())
            }
        })
        .await
    };
    println!(
        "  CaptureLead through the gateway        {captured:>8.0} leads/s  {:>5.1}% of plain INSERTs",
        100.0 * captured / plain
    );
    println!("  plain single-row INSERT of the rows    {plain:>8.0} rows/s   (baseline)");

    // Conversion.
    let conversions = scale("CRM_BENCH_CONVERSIONS", 300, 10);
    let projects = admin
        .sales()
        .create_pipeline(CreatePipelineRequest {
            pipeline: Some(Pipeline {
                display_name: "Bench".into(),
                stages: ["Lead", "Proposal", "Negotiation", "Won", "Lost"]
                    .iter()
                    .zip([10, 40, 70, 100, 0])
                    .zip([
                        StageKind::Open,
                        StageKind::Open,
                        StageKind::Open,
                        StageKind::Won,
                        StageKind::Lost,
                    ])
                    .map(|((name, probability), kind)| Stage {
                        display_name: (*name).into(),
                        probability,
                        kind: kind as i32,
                        ..Default::default()
                    })
                    .collect(),
                ..Default::default()
            }),
            request_id: String::new(),
        })
        .await
        .unwrap()
        .into_inner()
        .pipeline
        .unwrap();
    let mut qualified = Vec::new();
    for n in 0..conversions {
        let created = o
            .rep1
            .sales()
            .create_lead(CreateLeadRequest {
                lead: Some(Lead {
                    email: format!("convert{n}@bench.example"),
                    company_name: format!("Convert Co {n}"),
                    status: LeadStatus::New as i32,
                    ..bench_lead(n)
                }),
                request_id: String::new(),
                allow_duplicates: false,
            })
            .await
            .unwrap()
            .into_inner()
            .lead
            .unwrap();
        let moved = o
            .rep1
            .sales()
            .update_lead(UpdateLeadRequest {
                lead: Some(Lead {
                    id: created.id.clone(),
                    status: LeadStatus::Qualified as i32,
                    ..Default::default()
                }),
                update_mask: Some(prost_types::FieldMask {
                    paths: vec!["status".into()],
                }),
                request_id: String::new(),
                allow_duplicates: false,
            })
            .await
            .unwrap()
            .into_inner()
            .lead
            .unwrap();
        qualified.push(moved.id);
    }
    let qualified = Arc::new(qualified);
    let converted = {
        let (rep, ids, pipeline_id) = (o.rep1.clone(), qualified.clone(), projects.id.clone());
        throughput(conversions, move |n| {
            let (rep, id, pipeline_id) =
                (rep.clone(), ids[n as usize].clone(), pipeline_id.clone());
            async move {
                rep.sales()
                    .convert_lead(ConvertLeadRequest {
                        lead_id: id,
                        account_id: String::new(),
                        opportunity: Some(Opportunity {
                            pipeline_id,
                            amount: money("CNY", "50000"),
                            ..Default::default()
                        }),
                    })
                    .await
                    .map(|_| ())
                    .map_err(|e| e.to_string())
            }
        })
        .await
    };
    let contacts_db = suite.contacts_db().await;
    let plain_conversions = {
        let (contacts_db, sales_db, tenant) = (
            contacts_db.clone(),
            sales_db.clone(),
            admin.tenant_id.clone(),
        );
        let stages: Vec<String> = projects.stages.iter().map(|s| s.id.clone()).collect();
        let pipeline_id = projects.id.clone();
        let account_copy = Arc::new(row_copy(&contacts_db, "accounts").await);
        let contact_copy = Arc::new(row_copy(&contacts_db, "contacts").await);
        throughput(conversions, move |n| {
            let (contacts_db, sales_db) = (contacts_db.clone(), sales_db.clone());
            let (account_copy, contact_copy) = (account_copy.clone(), contact_copy.clone());
            let owners = vec!["plain-owner".to_owned()];
            let deal = opportunity_row(&tenant, &owners, (&pipeline_id, &stages), 900_000 + n);
            async move {
                let run = |db: DatabaseConnection, sql: String| async move {
                    db.execute_unprepared(&sql)
                        .await
                        .map(|_| ())
                        .map_err(|e| e.to_string())
                };
                run(
                    contacts_db.clone(),
                    account_copy.replace("{id}", &format!("plain-a-{n}")),
                )
                .await?;
                run(
                    contacts_db,
                    contact_copy.replace("{id}", &format!("plain-c-{n}")),
                )
                .await?;
                opportunity::Entity::insert(deal.into_active_model().reset_all())
                    .exec(&sales_db)
                    .await
                    .map_err(|e| e.to_string())?;
                let lead = format!("0190c0c0-0000-7000-8000-{:012}", n % 50);
                run(
                    sales_db,
                    format!("UPDATE leads SET version = version + 1 WHERE id = '{lead}'"),
                )
                .await
            }
        })
        .await
    };
    println!(
        "  ConvertLead through the gateway        {converted:>8.0} leads/s  {:>5.1}% of plain writes",
        100.0 * converted / plain_conversions
    );
    println!(
        "  plain INSERTs of account, contact, deal + lead UPDATE {plain_conversions:>6.0} /s (baseline)"
    );
    quote_to_order(&admin, &o.rep1, &sales_db).await;

    // The forecast and lists at scale.
    let total = scale("CRM_BENCH_OPPORTUNITIES", 100_000, 2_000);
    let stages: Vec<String> = projects.stages.iter().map(|s| s.id.clone()).collect();
    let started = Instant::now();
    let rows: Vec<opportunity::Model> = (0..total)
        .map(|n| opportunity_row(&admin.tenant_id, &reps, (&projects.id, &stages), n))
        .collect();
    for batch in rows.chunks(1000) {
        let active: Vec<opportunity::ActiveModel> = batch
            .iter()
            .cloned()
            .map(|m| m.into_active_model().reset_all())
            .collect();
        opportunity::Entity::insert_many(active)
            .exec(&sales_db)
            .await
            .unwrap();
    }
    sales_db
        .execute_unprepared("ANALYZE opportunities")
        .await
        .unwrap();
    println!(
        "{total} opportunities seeded in {:.1} s:",
        started.elapsed().as_secs_f64()
    );
    let runs = if smoke() { 3 } else { 50 };
    let period = TargetPeriod {
        kind: PeriodKind::Quarter as i32,
        start: Some(Date {
            year: 2027,
            month: 1,
            day: 1,
        }),
    };
    let mut forecast = Latency::new("GetForecast, admin, Q1 (whole tenant)");
    for _ in 0..runs {
        let started = Instant::now();
        let answer = admin
            .sales()
            .get_forecast(GetForecastRequest {
                period: Some(period),
                utc_offset_minutes: 480,
                owner_id: String::new(),
                team_id: String::new(),
            })
            .await
            .unwrap()
            .into_inner();
        forecast
            .histogram
            .record(started.elapsed().as_micros() as u64)
            .unwrap();
        assert!(answer.total.unwrap().open_deal_count > 0);
    }
    let tenant = &admin.tenant_id;
    let raw_forecast = time_raw(
        &sales_db,
        "the same sums in one SQL statement",
        &format!(
            "SELECT owner_id, status, count(*), sum(amount), sum(amount * probability) \
             FROM opportunities WHERE tenant_id = '{tenant}' AND delete_time IS NULL AND \
             ((status = 1 AND expected_close_date BETWEEN 20270101 AND 20270331) OR \
              (status = 2 AND close_time >= 1798732800000000 AND close_time < 1806508800000000)) \
             GROUP BY owner_id, status"
        ),
        runs,
    )
    .await;
    raw_forecast.print(None);
    forecast.print(Some(&raw_forecast));

    let proposal = &stages[1];
    let filter = format!("stage_id = \"{proposal}\" AND amount >= 500000");
    let mut list = Latency::new("ListOpportunities, stage and amount, 50 a page");
    for _ in 0..runs {
        let started = Instant::now();
        let page = o
            .manager
            .sales()
            .list_opportunities(ListOpportunitiesRequest {
                page_size: 50,
                filter: filter.clone(),
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner();
        list.histogram
            .record(started.elapsed().as_micros() as u64)
            .unwrap();
        assert!(!page.opportunities.is_empty());
    }
    let owners = reps
        .iter()
        .map(|r| format!("'{r}'"))
        .collect::<Vec<_>>()
        .join(",");
    let raw_list = time_raw(
        &sales_db,
        "the same page in SQL",
        &format!(
            "SELECT * FROM opportunities WHERE tenant_id = '{tenant}' AND owner_id IN ({owners}) \
             AND delete_time IS NULL AND stage_id = '{proposal}' AND amount >= 5000000000 \
             ORDER BY create_time DESC, id DESC LIMIT 51"
        ),
        runs,
    )
    .await;
    raw_list.print(None);
    list.print(Some(&raw_list));
}

/// The quote → order flow through the gateway, per second, against its rows in plain SQL.
async fn quote_to_order(admin: &Session, rep: &Session, sales_db: &DatabaseConnection) {
    let flows = scale("CRM_BENCH_QUOTE_FLOWS", 300, 10);
    let product = |code: &str, tax: &str| Product {
        code: code.into(),
        display_name: format!("Product {code}"),
        unit: "pcs".into(),
        tax_rate: tax.into(),
        cost: money("CNY", "10"),
        ..Default::default()
    };
    let mut ids = Vec::new();
    for (code, tax) in [("BENCH-PUMP", "0.13"), ("BENCH-VALVE", "0.06")] {
        let created = admin
            .sales()
            .create_product(CreateProductRequest {
                product: Some(product(code, tax)),
                request_id: String::new(),
            })
            .await
            .unwrap()
            .into_inner()
            .product
            .unwrap();
        ids.push(created.id);
    }
    admin
        .sales()
        .create_price_list(CreatePriceListRequest {
            price_list: Some(PriceList {
                display_name: "Bench retail".into(),
                currency_code: "CNY".into(),
                entries: ids
                    .iter()
                    .map(|id| PriceListEntry {
                        product_id: id.clone(),
                        unit_price: money("CNY", "99.99"),
                        volume_breaks: vec![],
                    })
                    .collect(),
                ..Default::default()
            }),
            request_id: String::new(),
        })
        .await
        .unwrap();
    let account = rep.create_account("Bench customer").await;
    let valid_until = {
        let (year, month, day) = crm_platform::time::civil_date(
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_micros() as i64
                + 30 * 86_400_000_000,
        );
        Some(Date {
            year,
            month: month as i32,
            day: day as i32,
        })
    };
    let ids = Arc::new(ids);
    let flowed = {
        let (rep, ids, account_id) = (rep.clone(), ids.clone(), account.id.clone());
        throughput(flows, move |_| {
            let (rep, ids, account_id) = (rep.clone(), ids.clone(), account_id.clone());
            let valid_until = valid_until;
            async move {
                one_flow(&rep, &ids, &account_id, valid_until)
                    .await
                    .map_err(|e| e.to_string())
            }
        })
        .await
    };
    let plain = {
        let db = sales_db.clone();
        let quote_copy = Arc::new(row_copy(sales_db, "quotes").await);
        let order_copy = Arc::new(row_copy(sales_db, "orders").await);
        throughput(flows, move |n| {
            let (db, quote_copy, order_copy) = (db.clone(), quote_copy.clone(), order_copy.clone());
            async move {
                let (quote, order) = (format!("plain-q-{n}"), format!("plain-o-{n}"));
                let mut script = vec![quote_copy.replace("{id}", &quote)];
                for status in [3, 4, 5] {
                    script.push(format!(
                        "UPDATE quotes SET status = {status}, version = version + 1 WHERE id = '{quote}'"
                    ));
                }
                script.push(order_copy.replace("{id}", &order));
                script.push(format!(
                    "UPDATE orders SET status = 3, version = version + 1 WHERE id = '{order}'"
                ));
                for sql in script {
                    db.execute_unprepared(&sql).await.map_err(|e| e.to_string())?;
                }
                Ok(())
            }
        })
        .await
    };
    println!(
        "  quote → order flow through the gateway {flowed:>8.1} flows/s  {:>5.1}% of plain SQL",
        100.0 * flowed / plain
    );
    println!("  the same rows in plain SQL (6 statements) {plain:>6.0} flows/s (baseline)");
}

/// One quote → order flow, as a rep does it.
async fn one_flow(
    rep: &Session,
    products: &[String],
    account_id: &str,
    valid_until: Option<Date>,
) -> Result<(), tonic::Status> {
    let sales = rep.sales();
    let lines = products
        .iter()
        .map(|id| LineItem {
            product_id: id.clone(),
            quantity: "3".into(),
            discount_percent: "5".into(),
            ..Default::default()
        })
        .collect();
    let quote = sales
        .clone()
        .create_quote(CreateQuoteRequest {
            quote: Some(Quote {
                account_id: account_id.into(),
                display_name: "Bench quote".into(),
                currency_code: "CNY".into(),
                valid_until,
                lines,
                ..Default::default()
            }),
            request_id: String::new(),
        })
        .await?
        .into_inner()
        .quote
        .unwrap_or_default();
    let id = quote.id;
    sales
        .clone()
        .submit_quote(SubmitQuoteRequest {
            id: id.clone(),
            ..Default::default()
        })
        .await?;
    sales
        .clone()
        .send_quote(SendQuoteRequest {
            id: id.clone(),
            ..Default::default()
        })
        .await?;
    sales
        .clone()
        .accept_quote(AcceptQuoteRequest {
            id: id.clone(),
            ..Default::default()
        })
        .await?;
    let order = sales
        .clone()
        .create_order(CreateOrderRequest {
            order: Some(Order {
                quote_id: id,
                ..Default::default()
            }),
            request_id: String::new(),
        })
        .await?
        .into_inner()
        .order
        .unwrap_or_default();
    sales
        .clone()
        .confirm_order(ConfirmOrderRequest {
            id: order.id,
            ..Default::default()
        })
        .await?;
    Ok(())
}
