//! The quote-to-cash helpers the quote and order tests share: a catalogue, an approval
//! policy, a deal, and the calls of a quote's life.

use std::time::Duration;

use tonic::Code;

use crm_platform::time::civil_date;
use crm_proto::common::{Date, Money};
use crm_proto::sales::*;

use super::Suite;
use super::clients::{Session, reason};

pub const DAY: i64 = 86_400_000_000;

pub fn money(code: &str, amount: &str) -> Option<Money> {
    Some(Money {
        currency_code: code.into(),
        amount: amount.into(),
    })
}

pub fn amount(m: &Option<Money>) -> String {
    m.clone().unwrap().amount
}

/// The suite's day `days` from now.
pub fn day_after(suite: &Suite, days: i64) -> Option<Date> {
    let (year, month, day) = civil_date(suite.now_micros() + days * DAY);
    Some(Date {
        year,
        month: month as i32,
        day: day as i32,
    })
}

/// Retries `attempt` until it answers `Some`: identity's events reach sales a moment after
/// a change of teams.
pub async fn eventually<T, F, Fut>(what: &str, mut attempt: F) -> T
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

/// The catalogue: a pump (cost 80, 13% VAT) listed at 100.00, 95.00 from 10; a valve (cost 10,
/// 6%) at 33.33. Returns (pump, valve) ids.
pub async fn catalogue(admin: &Session) -> (String, String) {
    let product = |code: &str, name: &str, tax: &str, cost: &str| Product {
        code: code.into(),
        display_name: name.into(),
        unit: "pcs".into(),
        tax_rate: tax.into(),
        cost: money("CNY", cost),
        ..Default::default()
    };
    let create = |p: Product| {
        let admin = admin.clone();
        async move {
            admin
                .sales()
                .create_product(CreateProductRequest {
                    product: Some(p),
                    request_id: String::new(),
                })
                .await
                .unwrap()
                .into_inner()
                .product
                .unwrap()
                .id
        }
    };
    let pump = create(product("PUMP-1", "Booster pump", "0.13", "80")).await;
    let valve = create(product("VALVE-2", "Check valve", "0.06", "10")).await;
    admin
        .sales()
        .create_price_list(CreatePriceListRequest {
            price_list: Some(PriceList {
                display_name: "Retail".into(),
                currency_code: "CNY".into(),
                entries: vec![
                    PriceListEntry {
                        product_id: pump.clone(),
                        unit_price: money("CNY", "100"),
                        volume_breaks: vec![VolumeBreak {
                            min_quantity: "10".into(),
                            unit_price: money("CNY", "95"),
                        }],
                    },
                    PriceListEntry {
                        product_id: valve.clone(),
                        unit_price: money("CNY", "33.33"),
                        volume_breaks: vec![],
                    },
                ],
                ..Default::default()
            }),
            request_id: String::new(),
        })
        .await
        .unwrap();
    (pump, valve)
}

/// Discounts above 10% or totals above 100,000 need level 1; totals above 500,000 level 2.
pub async fn policy(admin: &Session) {
    let rule = |level: i32, discount: &str, amount: Option<Money>| ApprovalRule {
        subject_kind: ApprovalSubjectKind::Quote as i32,
        level,
        discount_percent_above: discount.into(),
        amount_above: amount,
    };
    admin
        .sales()
        .update_approval_policy(UpdateApprovalPolicyRequest {
            policy: Some(ApprovalPolicy {
                rules: vec![
                    rule(1, "10", None),
                    rule(1, "", money("CNY", "100000")),
                    rule(2, "", money("CNY", "500000")),
                ],
                ..Default::default()
            }),
        })
        .await
        .unwrap();
}

/// A deal of `session`'s on a new account, in a new pipeline of the tenant's.
pub async fn deal(admin: &Session, session: &Session, name: &str) -> Opportunity {
    let account = session.create_account(name).await;
    deal_on(admin, session, name, &account.id).await
}

/// A deal of `session`'s on `account_id`, in a new pipeline (Proposal, Won, Lost).
pub async fn deal_on(
    admin: &Session,
    session: &Session,
    name: &str,
    account_id: &str,
) -> Opportunity {
    let pipeline = admin
        .sales()
        .create_pipeline(CreatePipelineRequest {
            pipeline: Some(Pipeline {
                display_name: format!("Pipeline for {name}"),
                stages: vec![
                    Stage {
                        display_name: "Proposal".into(),
                        probability: 50,
                        kind: StageKind::Open as i32,
                        ..Default::default()
                    },
                    Stage {
                        display_name: "Won".into(),
                        probability: 100,
                        kind: StageKind::Won as i32,
                        ..Default::default()
                    },
                    Stage {
                        display_name: "Lost".into(),
                        probability: 0,
                        kind: StageKind::Lost as i32,
                        ..Default::default()
                    },
                ],
                ..Default::default()
            }),
            request_id: String::new(),
        })
        .await
        .unwrap()
        .into_inner()
        .pipeline
        .unwrap();
    session
        .sales()
        .create_opportunity(CreateOpportunityRequest {
            opportunity: Some(Opportunity {
                display_name: format!("{name} pumps"),
                account_id: account_id.into(),
                pipeline_id: pipeline.id,
                ..Default::default()
            }),
            request_id: String::new(),
        })
        .await
        .unwrap()
        .into_inner()
        .opportunity
        .unwrap()
}

pub fn line(product_id: &str, quantity: &str, discount: &str) -> LineItem {
    LineItem {
        product_id: product_id.into(),
        quantity: quantity.into(),
        discount_percent: discount.into(),
        ..Default::default()
    }
}

pub async fn create_quote(session: &Session, quote: Quote) -> Result<Quote, tonic::Status> {
    Ok(session
        .sales()
        .create_quote(CreateQuoteRequest {
            quote: Some(quote),
            request_id: String::new(),
        })
        .await?
        .into_inner()
        .quote
        .unwrap())
}

pub async fn get_quote(session: &Session, id: &str) -> Result<Quote, tonic::Status> {
    Ok(session
        .sales()
        .get_quote(GetQuoteRequest { id: id.into() })
        .await?
        .into_inner()
        .quote
        .unwrap())
}

pub async fn submit_quote(
    session: &Session,
    id: &str,
    request_id: &str,
) -> Result<SubmitQuoteResponse, tonic::Status> {
    Ok(session
        .sales()
        .submit_quote(SubmitQuoteRequest {
            id: id.into(),
            etag: String::new(),
            request_id: request_id.into(),
        })
        .await?
        .into_inner())
}

/// Submits once the directory in sales knows the approvers (identity's events arrive a
/// moment after the teams change).
pub async fn submit_when_approvers_known(
    session: &Session,
    id: &str,
    request_id: &str,
) -> SubmitQuoteResponse {
    eventually("the approvers in the directory", || async {
        match submit_quote(session, id, request_id).await {
            Ok(answer) => Some(answer),
            Err(status) if reason(&status) == "NO_APPROVER" => None,
            Err(status) => panic!("submit: {status:?}"),
        }
    })
    .await
}

pub async fn send_quote(session: &Session, id: &str) -> Result<Quote, tonic::Status> {
    Ok(session
        .sales()
        .send_quote(SendQuoteRequest {
            id: id.into(),
            etag: String::new(),
            request_id: String::new(),
        })
        .await?
        .into_inner()
        .quote
        .unwrap())
}

pub async fn accept_quote(session: &Session, id: &str) -> Result<Quote, tonic::Status> {
    Ok(session
        .sales()
        .accept_quote(AcceptQuoteRequest {
            id: id.into(),
            etag: String::new(),
            request_id: String::new(),
        })
        .await?
        .into_inner()
        .quote
        .unwrap())
}

pub async fn decide_approval_request(
    session: &Session,
    id: &str,
    decision: ApprovalDecision,
    comment: &str,
    request_id: &str,
) -> Result<ApprovalRequest, tonic::Status> {
    Ok(session
        .sales()
        .decide_approval_request(DecideApprovalRequestRequest {
            id: id.into(),
            decision: decision as i32,
            comment: comment.into(),
            request_id: request_id.into(),
        })
        .await?
        .into_inner()
        .approval_request
        .unwrap())
}

pub async fn list_approval_inbox(session: &Session) -> Vec<ApprovalRequest> {
    session
        .sales()
        .list_approval_inbox(ListApprovalInboxRequest {
            page_size: 50,
            page_token: String::new(),
        })
        .await
        .unwrap()
        .into_inner()
        .approval_requests
}

pub fn state_reason(status: &tonic::Status) -> String {
    assert_eq!(status.code(), Code::FailedPrecondition, "{status:?}");
    reason(status)
}
