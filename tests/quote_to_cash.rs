//! The whole sales-to-cash story through the gateway, every figure checked exactly: the ERP
//! upserts its customer; a won deal becomes a quote whose discount needs the manager; the
//! approved quote is sent and accepted; its order is confirmed into the ERP hand-off; the ERP,
//! with its API key, ships it in two parts, invoices it and reports payments by its own
//! document numbers; the contract made from the order is signed and planned in two
//! instalments, which the ERP's payments fill; the suite's clock makes the second overdue,
//! announced once; the last payment settles it, and the order completes.

// Helpers panic on purpose: a failed step is a failed test with a clear message.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::support;

use std::time::Duration;

use tonic::Code;

use crm_proto::common::UpsertOutcome;
use crm_proto::contacts::{Account, UpsertAccountRequest};
use crm_proto::sales::*;
use support::cash::*;
use support::clients::{Session, expect_code};
use support::quoting::*;
use support::{Mode, Suite, org};

/// Quote totals: gross, discount, net, tax, total.
fn totals(quote: &Quote) -> [String; 5] {
    [
        amount(&quote.gross_total),
        amount(&quote.discount_total),
        amount(&quote.net_total),
        amount(&quote.tax_total),
        amount(&quote.total),
    ]
}

/// Order figures: total, invoiced, paid, status.
fn order_figures(order: &Order) -> [String; 4] {
    [
        amount(&order.total),
        amount(&order.invoiced_total),
        amount(&order.paid_total),
        OrderStatus::try_from(order.status)
            .unwrap()
            .as_str_name()
            .to_owned(),
    ]
}

async fn get_plan(session: &Session, id: &str) -> PaymentPlan {
    session
        .sales()
        .get_payment_plan(GetPaymentPlanRequest { id: id.into() })
        .await
        .unwrap()
        .into_inner()
        .plan
        .unwrap()
}

/// The ERP's payment `number` of `amount` received today on the order it knows as
/// `external_id`.
async fn erp_payment(
    (suite, erp): (&Suite, &Session),
    external_id: &str,
    number: &str,
    amount: &str,
) -> Order {
    let answer = erp
        .sales()
        .record_payment(RecordPaymentRequest {
            order_id: String::new(),
            order_external_id: external_id.into(),
            payment: Some(Payment {
                number: number.into(),
                amount: money("CNY", amount),
                receive_date: day_after(suite, 0),
                credit: false,
            }),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(answer.outcome, ErpOutcome::Applied as i32, "{number}");
    answer.order.unwrap()
}

async fn won_deal_to_paid_contract(mode: Mode) {
    let suite = Suite::builder(mode)
        .env(&[("CRM_JOBS_INTERVAL_SECS", "1")])
        .start()
        .await;
    let admin = suite.admin().await;
    let o = org::build(&suite, admin.clone(), "cash").await;
    let other = org::other_tenant(&suite, &admin, "cash-other").await;
    let (pump, valve) = catalogue(&admin).await;
    policy(&admin).await;
    let erp = erp_key(&suite, &admin).await;

    // The ERP's customer master brings the customer, owned by rep1.
    let customer = erp
        .contacts()
        .upsert_account(UpsertAccountRequest {
            account: Some(Account {
                external_id: "C-2001".into(),
                display_name: "深圳华强电子有限公司".into(),
                owner_id: o.rep1.user_id.clone(),
                ..Default::default()
            }),
            request_id: String::new(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(customer.outcome, UpsertOutcome::Created as i32);
    let customer = customer.account.unwrap();

    // rep1 wins the deal.
    let deal = deal_on(&admin, &o.rep1, "Huaqiang", &customer.id).await;
    let pipeline = admin
        .sales()
        .get_pipeline(GetPipelineRequest {
            id: deal.pipeline_id.clone(),
        })
        .await
        .unwrap()
        .into_inner()
        .pipeline
        .unwrap();
    let won_stage = pipeline
        .stages
        .iter()
        .find(|s| s.kind == StageKind::Won as i32)
        .unwrap();
    let won = o
        .rep1
        .sales()
        .update_opportunity(UpdateOpportunityRequest {
            opportunity: Some(Opportunity {
                id: deal.id.clone(),
                etag: deal.etag.clone(),
                stage_id: won_stage.id.clone(),
                amount: money("CNY", "1200.96"),
                close_reason: "best lead time".into(),
                ..Default::default()
            }),
            update_mask: Some(prost_types::FieldMask {
                paths: vec!["stage_id".into(), "amount".into(), "close_reason".into()],
            }),
            request_id: String::new(),
        })
        .await
        .unwrap()
        .into_inner()
        .opportunity
        .unwrap();
    assert_eq!(won.status, OpportunityStatus::Won as i32);

    // The quote: 12 pumps at the volume price 95.00 less 15%, 3 valves at 33.33.
    // Pumps 1,140.00 − 171.00 = 969.00 + 13% 125.97; valves 99.99 + 6% 6.00 (5.9994).
    let quote = create_quote(
        &o.rep1,
        Quote {
            opportunity_id: deal.id.clone(),
            display_name: "Booster pumps for Huaqiang".into(),
            currency_code: "CNY".into(),
            valid_until: day_after(&suite, 30),
            lines: vec![line(&pump, "12", "15"), line(&valve, "3", "")],
            ..Default::default()
        },
    )
    .await
    .unwrap();
    assert_eq!(quote.account_id, customer.id);
    assert_eq!(
        totals(&quote),
        ["1239.99", "171.00", "1068.99", "131.97", "1200.96"]
    );
    assert_eq!(
        quote.approval_reasons,
        ["a discount of 15% is above 10% (level 1)"]
    );
    let unapproved = send_quote(&o.rep1, &quote.id).await.unwrap_err();
    assert_eq!(state_reason(&unapproved), "QUOTE_STATUS");

    // Approved by rep1's manager, from the inbox; a rep may not decide, another tenant's
    // admin does not find it.
    let submitted = submit_when_approvers_known(&o.rep1, &quote.id, "").await;
    assert_eq!(
        submitted.quote.unwrap().status,
        QuoteStatus::PendingApproval as i32
    );
    let request = submitted.approval_request.unwrap();
    assert_eq!(request.approver_id, o.manager.user_id);
    let inbox = list_approval_inbox(&o.manager).await;
    assert!(inbox.iter().any(|r| r.id == request.id));
    for (stranger, code) in [(&o.rep2, Code::PermissionDenied), (&other, Code::NotFound)] {
        expect_code(
            decide_approval_request(stranger, &request.id, ApprovalDecision::Approve, "", "").await,
            code,
        );
    }
    let decided = decide_approval_request(
        &o.manager,
        &request.id,
        ApprovalDecision::Approve,
        "15% for a first order",
        "",
    )
    .await
    .unwrap();
    assert_eq!(decided.status, ApprovalStatus::Approved as i32);
    let approved = get_quote(&o.rep1, &quote.id).await.unwrap();
    assert_eq!(approved.status, QuoteStatus::Approved as i32);

    // Sent and accepted.
    assert_eq!(
        send_quote(&o.rep1, &quote.id).await.unwrap().status,
        QuoteStatus::Sent as i32
    );
    assert_eq!(
        accept_quote(&o.rep1, &quote.id).await.unwrap().status,
        QuoteStatus::Accepted as i32
    );

    // The order takes the quote whole; its confirmation hands it to the ERP.
    let order = create_order(
        &o.rep1,
        Order {
            quote_id: quote.id.clone(),
            ..Default::default()
        },
        "",
    )
    .await
    .unwrap();
    assert_eq!(order.number, "SO-000001");
    assert_eq!(
        order_figures(&order),
        ["1200.96", "0.00", "0.00", "ORDER_STATUS_DRAFT"]
    );
    let confirmed = confirm_order(&o.rep1, &order.id, "").await.unwrap();
    assert_eq!(
        confirmed.order.unwrap().status,
        OrderStatus::Confirmed as i32
    );
    let handoff = events_of(&suite, SalesEventType::OrderConfirmed).await;
    assert_eq!(handoff.len(), 1);
    let Some(sales_event::Subject::OrderHandoff(handoff)) = &handoff[0].subject else {
        panic!("ORDER_CONFIRMED carries no hand-off");
    };
    let handed = handoff.order.as_ref().unwrap();
    assert_eq!(amount(&handed.total), "1200.96");
    assert_eq!(
        handed
            .lines
            .iter()
            .map(|l| (
                l.product_code.as_str(),
                amount(&l.net_amount),
                amount(&l.tax_amount)
            ))
            .collect::<Vec<_>>(),
        [
            ("PUMP-1", "969.00".to_owned(), "125.97".to_owned()),
            ("VALVE-2", "99.99".to_owned(), "6.00".to_owned()),
        ]
    );
    assert_eq!(handoff.account.as_ref().unwrap().external_id, "C-2001");
    assert_eq!(handoff.products.len(), 2);

    // The ERP takes the order under its number and ships it in two parts.
    erp.sales()
        .update_order(UpdateOrderRequest {
            order: Some(Order {
                id: order.id.clone(),
                external_id: "ERP-SO-9001".into(),
                ..Default::default()
            }),
            update_mask: Some(prost_types::FieldMask {
                paths: vec!["external_id".into()],
            }),
            request_id: String::new(),
        })
        .await
        .unwrap();
    let part = record_shipment(&erp, "ERP-SO-9001", "DN-1", &[(1, "5")])
        .await
        .unwrap()
        .order
        .unwrap();
    assert_eq!(part.status, OrderStatus::PartiallyShipped as i32);
    assert_eq!(
        (
            part.lines[0].shipped_quantity.as_str(),
            part.lines[1].shipped_quantity.as_str()
        ),
        ("5", "0")
    );
    let replay = record_shipment(&erp, "ERP-SO-9001", "DN-1", &[(1, "5")])
        .await
        .unwrap();
    assert_eq!(replay.outcome, ErpOutcome::Unchanged as i32);
    assert_eq!(replay.order.unwrap().etag, part.etag);
    let shipped = record_shipment(&erp, "ERP-SO-9001", "DN-2", &[(1, "7"), (2, "3")])
        .await
        .unwrap()
        .order
        .unwrap();
    assert_eq!(shipped.status, OrderStatus::Shipped as i32);
    let invoiced = record_invoice(&erp, &order.id, "INV-9001", "1200.96")
        .await
        .unwrap()
        .order
        .unwrap();
    assert_eq!(
        order_figures(&invoiced),
        ["1200.96", "1200.96", "0.00", "ORDER_STATUS_SHIPPED"]
    );

    // The contract made from the order, signed; its plan: 30% now, the rest in 30 days.
    let contract = o
        .rep1
        .sales()
        .create_contract(CreateContractRequest {
            contract: Some(Contract {
                order_id: order.id.clone(),
                display_name: "Huaqiang supply".into(),
                payment_terms: "30% on signing, 70% within 30 days".into(),
                start_date: day_after(&suite, 0),
                end_date: day_after(&suite, 364),
                ..Default::default()
            }),
            request_id: String::new(),
        })
        .await
        .unwrap()
        .into_inner()
        .contract
        .unwrap();
    assert_eq!(amount(&contract.amount), "1200.96");
    let submitted = submit_contract(&o.rep1, &contract.id).await.unwrap();
    assert!(submitted.approval_request.is_none(), "no contract rule");
    let signed = sign_contract(&o.rep1, &contract.id, day_after(&suite, 0))
        .await
        .unwrap();
    assert_eq!(signed.status, ContractStatus::Active as i32);
    let uneven = create_payment_plan(
        &o.rep1,
        PaymentPlan {
            contract_id: contract.id.clone(),
            instalments: vec![
                instalment(day_after(&suite, 0), "360.29"),
                instalment(day_after(&suite, 30), "840.66"),
            ],
            ..Default::default()
        },
    )
    .await;
    let uneven = expect_code(uneven, Code::InvalidArgument);
    assert!(uneven.message().contains("1200.95"), "{uneven:?}");
    let plan = create_payment_plan(
        &o.rep1,
        PaymentPlan {
            contract_id: contract.id.clone(),
            instalments: vec![
                instalment(day_after(&suite, 0), "360.29"),
                instalment(day_after(&suite, 30), "840.67"),
            ],
            ..Default::default()
        },
    )
    .await
    .unwrap();

    // The ERP's payments on the order fill the contract's instalments, oldest first.
    let paid = erp_payment((&suite, &erp), "ERP-SO-9001", "PAY-1", "360.29").await;
    assert_eq!(amount(&paid.paid_total), "360.29");
    erp_payment((&suite, &erp), "ERP-SO-9001", "PAY-2", "200.00").await;
    let partly = get_plan(&o.rep1, &plan.id).await;
    assert_eq!(
        schedule(&partly),
        [
            ("360.29".into(), "360.29".into(), "PAID".into()),
            ("840.67".into(), "200.00".into(), "PARTLY_PAID".into()),
        ]
    );
    assert_eq!(owed(&partly), ["560.29", "640.67", "0.00", "0.00"]);

    // Nothing of it shows to rep2 or the other tenant.
    for stranger in [&o.rep2, &other] {
        expect_code(get_quote(stranger, &quote.id).await, Code::NotFound);
        expect_code(get_order(stranger, &order.id).await, Code::NotFound);
        expect_code(get_contract(stranger, &contract.id).await, Code::NotFound);
    }

    // A month on, the second instalment is overdue, announced once.
    suite.advance_clock(Duration::from_secs(31 * 86_400)).await;
    let overdue = wait_for(&suite, SalesEventType::InstalmentOverdue, 1).await;
    assert_eq!(overdue.len(), 1);
    let Some(sales_event::Subject::InstalmentOverdue(late)) = &overdue[0].subject else {
        panic!("INSTALMENT_OVERDUE carries no instalment");
    };
    assert_eq!(late.position, 2);
    let rep1 = Session::login(&suite, "rep1@cash.example", support::ADMIN_PASSWORD)
        .await
        .unwrap();
    let late_plan = get_plan(&rep1, &plan.id).await;
    assert_eq!(owed(&late_plan), ["560.29", "640.67", "640.67", "0.00"]);
    assert_eq!(schedule(&late_plan)[1].2, "OVERDUE");

    // The last payment settles the plan and the order; delivered, the order completes.
    let settled = erp_payment((&suite, &erp), "ERP-SO-9001", "PAY-3", "640.67").await;
    assert_eq!(
        order_figures(&settled),
        ["1200.96", "1200.96", "1200.96", "ORDER_STATUS_SHIPPED"]
    );
    let paid_plan = get_plan(&rep1, &plan.id).await;
    assert_eq!(owed(&paid_plan), ["1200.96", "0.00", "0.00", "0.00"]);
    assert!(schedule(&paid_plan).iter().all(|s| s.2 == "PAID"));
    rep1.sales()
        .deliver_order(DeliverOrderRequest {
            id: order.id.clone(),
            ..Default::default()
        })
        .await
        .unwrap();
    let completed = rep1
        .sales()
        .complete_order(CompleteOrderRequest {
            id: order.id.clone(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .order
        .unwrap();
    assert_eq!(completed.status, OrderStatus::Completed as i32);

    // Each money event once: three payments, three receipts, one overdue.
    for (kind, count) in [
        (SalesEventType::OrderPaid, 3),
        (SalesEventType::PaymentReceived, 3),
        (SalesEventType::InstalmentOverdue, 1),
    ] {
        assert_eq!(events_of(&suite, kind).await.len(), count, "{kind:?}");
    }
}

both_modes!(won_deal_to_paid_contract);
