//! Orders end to end through the gateway: an accepted quote becomes an order, its
//! confirmation hands it to the ERP (the event carries the order, the customer and the
//! products), and an ERP caller with an API key reports shipments, invoices and payments by
//! its own document numbers, each applied once; a direct order goes to its approvers first.
//! Every figure is checked exactly; other reps, other tenants and replays change nothing.

// Helpers panic on purpose: a failed step is a failed test with a clear message.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::support;

use tonic::Code;

use crm_proto::common::{PostalAddress, UpsertOutcome};
use crm_proto::sales::*;
use support::cash::*;
use support::clients::{Session, expect_code, expect_invalid, reason};
use support::quoting::*;
use support::{Mode, Suite, org};

async fn order_move(session: &Session, id: &str, step: &str) -> Result<Order, tonic::Status> {
    let sales = session.sales();
    let (id, etag, request_id) = (id.to_owned(), String::new(), String::new());
    Ok(match step {
        "deliver" => {
            sales
                .clone()
                .deliver_order(DeliverOrderRequest {
                    id,
                    etag,
                    request_id,
                })
                .await?
                .into_inner()
                .order
        }
        "complete" => {
            sales
                .clone()
                .complete_order(CompleteOrderRequest {
                    id,
                    etag,
                    request_id,
                })
                .await?
                .into_inner()
                .order
        }
        reason => {
            sales
                .clone()
                .cancel_order(CancelOrderRequest {
                    id,
                    etag,
                    request_id,
                    reason: reason.into(),
                })
                .await?
                .into_inner()
                .order
        }
    }
    .unwrap())
}

/// Quote → order → ERP hand-off → partial and full shipment → invoice → payments → complete.
async fn an_accepted_quote_becomes_an_order_the_erp_fulfils(mode: Mode) {
    let suite = Suite::start(mode).await;
    let admin = suite.admin().await;
    let o = org::build(&suite, admin.clone(), "orders").await;
    let other = org::other_tenant(&suite, &admin, "orders-other").await;
    let (pump, valve) = catalogue(&admin).await;
    let deal = deal(&admin, &o.rep1, "深圳华强电子有限公司").await;
    // 12 pumps at 95.00 less 5% (1,083.00 + 140.79 VAT) and 3 valves at 33.33 (99.99 + 6.00).
    let quote = create_quote(
        &o.rep1,
        Quote {
            opportunity_id: deal.id.clone(),
            display_name: "Pumps".into(),
            currency_code: "CNY".into(),
            valid_until: day_after(&suite, 30),
            lines: vec![line(&pump, "12", "5"), line(&valve, "3", "")],
            ..Default::default()
        },
    )
    .await
    .unwrap();
    assert_eq!(amount(&quote.total), "1329.78");
    let early = Order {
        quote_id: quote.id.clone(),
        ..Default::default()
    };
    expect_invalid(
        create_order(&o.rep1, early.clone(), "").await,
        "order.quote_id",
    );
    let approved = submit_quote(&o.rep1, &quote.id, "").await.unwrap();
    assert!(
        approved.approval_request.is_none(),
        "no policy, no approval"
    );
    send_quote(&o.rep1, &quote.id).await.unwrap();
    accept_quote(&o.rep1, &quote.id).await.unwrap();

    // The order takes the quote's lines, customer and owner; a quote gives one order.
    let shipping = PostalAddress {
        region_code: "CN".into(),
        administrative_area: "广东省".into(),
        locality: "深圳市".into(),
        address_lines: vec!["华强北路 1 号".into()],
        ..Default::default()
    };
    let wanted = Order {
        quote_id: quote.id.clone(),
        shipping_address: Some(shipping.clone()),
        ..Default::default()
    };
    let order = create_order(&o.rep1, wanted.clone(), "order-1")
        .await
        .unwrap();
    assert_eq!(
        create_order(&o.rep1, wanted.clone(), "order-1")
            .await
            .unwrap(),
        order
    );
    let again = create_order(&o.rep1, wanted.clone(), "").await;
    expect_code(again, Code::AlreadyExists);
    assert_eq!(
        (order.number.as_str(), order.owner_id.as_str(), order.status),
        (
            "SO-000001",
            o.rep1.user_id.as_str(),
            OrderStatus::Draft as i32
        )
    );
    assert_eq!(order.account_id, deal.account_id);
    assert_eq!(order.display_name, "Pumps");
    assert_eq!(order.lines.len(), 2);
    assert_eq!(amount(&order.lines[0].total_amount), "1223.79");
    assert_eq!(order.lines[0].shipped_quantity, "0");
    assert_eq!(figures(&order)[0], "1329.78");
    assert_eq!(order.shipping_address, Some(shipping.clone()));
    let relined = o
        .rep1
        .sales()
        .update_order(UpdateOrderRequest {
            order: Some(Order {
                id: order.id.clone(),
                lines: vec![line(&pump, "1", "")],
                ..Default::default()
            }),
            update_mask: None,
            request_id: String::new(),
        })
        .await;
    expect_invalid(relined, "order.lines");
    for stranger in [&o.rep2, &other] {
        expect_code(get_order(stranger, &order.id).await, Code::NotFound);
        expect_code(confirm_order(stranger, &order.id, "").await, Code::NotFound);
    }

    // Confirmed: the hand-off carries what the ERP needs; a replay answers the same.
    let confirmed = confirm_order(&o.rep1, &order.id, "confirm-1")
        .await
        .unwrap();
    let order = confirmed.order.clone().unwrap();
    assert_eq!(order.status, OrderStatus::Confirmed as i32);
    assert!(confirmed.approval_request.is_none());
    assert_eq!(
        confirm_order(&o.rep1, &order.id, "confirm-1")
            .await
            .unwrap(),
        confirmed
    );
    let twice = confirm_order(&o.rep1, &order.id, "confirm-2")
        .await
        .unwrap_err();
    assert_eq!(state_reason(&twice), "ORDER_STATUS");
    let handoffs = order_events(&suite, SalesEventType::OrderConfirmed, &order.id).await;
    assert_eq!(handoffs.len(), 1);
    let Some(sales_event::Subject::OrderHandoff(handoff)) = &handoffs[0].subject else {
        panic!("no hand-off");
    };
    assert_eq!(
        handoff.account.as_ref().unwrap().display_name,
        "深圳华强电子有限公司"
    );
    let codes: Vec<_> = handoff.products.iter().map(|p| p.code.as_str()).collect();
    assert_eq!(codes, ["PUMP-1", "VALVE-2"]);
    let sent = handoff.order.as_ref().unwrap();
    assert_eq!(sent.shipping_address, Some(shipping));
    assert_eq!(amount(&sent.lines[0].tax_amount), "140.79");
    let deleted = o
        .rep1
        .sales()
        .delete_order(DeleteOrderRequest {
            id: order.id.clone(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(state_reason(&deleted), "ORDER_STATUS");

    // A payment plan for the order: the ERP's payments are its receipts.
    let plan = o
        .rep1
        .sales()
        .create_payment_plan(CreatePaymentPlanRequest {
            plan: Some(PaymentPlan {
                order_id: order.id.clone(),
                instalments: vec![
                    Instalment {
                        due_date: day_after(&suite, 7),
                        amount: money("CNY", "398.93"),
                        ..Default::default()
                    },
                    Instalment {
                        due_date: day_after(&suite, 37),
                        amount: money("CNY", "930.85"),
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
        .plan
        .unwrap();
    let plan_received = || {
        let (rep, id) = (o.rep1.clone(), plan.id.clone());
        async move {
            let plan = rep
                .sales()
                .get_payment_plan(GetPaymentPlanRequest { id })
                .await
                .unwrap()
                .into_inner()
                .plan
                .unwrap();
            (
                amount(&plan.received_total),
                amount(&plan.credit_total),
                plan.receipts.len(),
            )
        }
    };

    // The ERP takes it under its own number, then reports by that number.
    let erp = erp_key(&suite, &admin).await;
    let foreign_erp = erp_key(&suite, &other).await;
    erp.sales()
        .update_order(UpdateOrderRequest {
            order: Some(Order {
                id: order.id.clone(),
                external_id: "ERP-SO-7001".into(),
                ..Default::default()
            }),
            update_mask: Some(prost_types::FieldMask {
                paths: vec!["external_id".into()],
            }),
            request_id: String::new(),
        })
        .await
        .unwrap();
    expect_code(
        record_shipment(&foreign_erp, "ERP-SO-7001", "DN-1", &[(1, "5")]).await,
        Code::NotFound,
    );
    expect_code(
        record_invoice(&foreign_erp, &order.id, "INV-1", "1").await,
        Code::NotFound,
    );
    expect_code(
        record_shipment(&o.rep1, "ERP-SO-7001", "DN-1", &[(1, "5")]).await,
        Code::PermissionDenied,
    );

    // Shipped in part, replayed, conflicting, over-shipped, then in full.
    let first = record_shipment(&erp, "ERP-SO-7001", "DN-1", &[(1, "5")])
        .await
        .unwrap();
    assert_eq!(first.outcome, ErpOutcome::Applied as i32);
    let partial = first.order.unwrap();
    assert_eq!(partial.status, OrderStatus::PartiallyShipped as i32);
    assert_eq!(partial.lines[0].shipped_quantity, "5");
    let replay = record_shipment(&erp, "ERP-SO-7001", "DN-1", &[(1, "5")])
        .await
        .unwrap();
    assert_eq!(replay.outcome, ErpOutcome::Unchanged as i32);
    assert_eq!(replay.order.unwrap().etag, partial.etag);
    let conflict = record_shipment(&erp, "ERP-SO-7001", "DN-1", &[(1, "6")]).await;
    assert_eq!(
        reason(&expect_code(conflict, Code::AlreadyExists)),
        "ERP_DOCUMENT_CONFLICT"
    );
    expect_invalid(
        record_shipment(&erp, "ERP-SO-7001", "DN-2", &[(1, "8")]).await,
        "shipment.lines[0].quantity",
    );
    expect_invalid(
        record_shipment(&erp, "ERP-SO-7001", "DN-2", &[(3, "1")]).await,
        "shipment.lines[0].position",
    );
    expect_invalid(
        record_shipment(&erp, "ERP-SO-7001", "", &[(1, "1")]).await,
        "shipment.number",
    );
    let full = record_shipment(&erp, "ERP-SO-7001", "DN-2", &[(1, "7"), (2, "3")])
        .await
        .unwrap();
    let shipped = full.order.unwrap();
    assert_eq!(shipped.status, OrderStatus::Shipped as i32);
    assert_eq!(shipped.shipments.len(), 2);
    assert_eq!(
        state_reason(
            &order_move(&o.rep1, &order.id, "changed mind")
                .await
                .unwrap_err()
        ),
        "ORDER_STATUS"
    );

    // Invoiced; more than the total is refused, as is another currency.
    let invoiced = record_invoice(&erp, &order.id, "INV-1", "1329.78")
        .await
        .unwrap();
    assert_eq!(figures(&invoiced.order.unwrap())[1], "1329.78");
    expect_invalid(
        record_invoice(&erp, &order.id, "INV-2", "0.01").await,
        "invoice.amount.amount",
    );
    let usd = erp
        .sales()
        .record_invoice(RecordInvoiceRequest {
            order_id: order.id.clone(),
            order_external_id: String::new(),
            invoice: Some(Invoice {
                number: "INV-3".into(),
                amount: money("USD", "1"),
                issue_date: None,
            }),
        })
        .await;
    expect_invalid(usd, "invoice.amount.currency_code");

    // Paid: 30% first; an over-payment is refused unless kept as credit; replays change nothing.
    let deposit = record_payment(&erp, &order.id, "PAY-1", ("398.93", false))
        .await
        .unwrap();
    assert_eq!(
        figures(&deposit.order.unwrap()),
        [
            "1329.78",
            "1329.78",
            "398.93",
            "0.00",
            "ORDER_STATUS_SHIPPED"
        ]
    );
    assert_eq!(plan_received().await, ("398.93".into(), "0.00".into(), 1));
    assert_eq!(
        state_reason(
            &order_move(&o.rep1, &order.id, "complete")
                .await
                .unwrap_err()
        ),
        "ORDER_STATUS"
    );
    let delivered = order_move(&o.rep1, &order.id, "deliver").await.unwrap();
    assert_eq!(delivered.status, OrderStatus::Delivered as i32);
    let unpaid = order_move(&o.rep1, &order.id, "complete")
        .await
        .unwrap_err();
    assert_eq!(state_reason(&unpaid), "ORDER_UNPAID");
    expect_invalid(
        record_payment(&erp, &order.id, "PAY-2", ("1000", false)).await,
        "payment.amount.amount",
    );
    expect_invalid(
        record_payment(&erp, &order.id, "PAY-2", ("-5", false)).await,
        "payment.amount.amount",
    );
    let rest = record_payment(&erp, &order.id, "PAY-2", ("1000", true))
        .await
        .unwrap();
    assert_eq!(
        figures(&rest.order.unwrap()),
        [
            "1329.78",
            "1329.78",
            "1329.78",
            "69.15",
            "ORDER_STATUS_DELIVERED"
        ]
    );
    let replayed = record_payment(&erp, &order.id, "PAY-2", ("1000", true))
        .await
        .unwrap();
    assert_eq!(replayed.outcome, ErpOutcome::Unchanged as i32);
    let conflict = record_payment(&erp, &order.id, "PAY-2", ("999", true)).await;
    expect_code(conflict, Code::AlreadyExists);
    assert_eq!(plan_received().await, ("1329.78".into(), "69.15".into(), 2));
    let completed = order_move(&o.rep1, &order.id, "complete").await.unwrap();
    assert_eq!(completed.status, OrderStatus::Completed as i32);
    assert!(completed.close_time.is_some());

    // Each report was announced once.
    for (kind, count) in [
        (SalesEventType::OrderShipped, 2),
        (SalesEventType::OrderInvoiced, 1),
        (SalesEventType::OrderPaid, 2),
    ] {
        let seen = order_events(&suite, kind, &order.id).await.len();
        assert_eq!(seen, count, "{kind:?}");
    }
    // The order is found by the ERP's number.
    let found = o
        .rep1
        .sales()
        .list_orders(ListOrdersRequest {
            filter: "external_id = \"ERP-SO-7001\"".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .orders;
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].id, order.id);
}

/// A direct order is priced like a quote, checked, sent to its approvers when the policy says
/// so, confirmed by the decision, then cancelled and deleted.
async fn a_direct_order_is_approved_then_cancelled(mode: Mode) {
    let suite = Suite::start(mode).await;
    let admin = suite.admin().await;
    let o = org::build(&suite, admin.clone(), "direct").await;
    let (pump, _) = catalogue(&admin).await;
    admin
        .sales()
        .update_approval_policy(UpdateApprovalPolicyRequest {
            policy: Some(ApprovalPolicy {
                rules: vec![ApprovalRule {
                    subject_kind: ApprovalSubjectKind::Order as i32,
                    level: 1,
                    discount_percent_above: "10".into(),
                    amount_above: None,
                }],
                ..Default::default()
            }),
        })
        .await
        .unwrap();
    let account = o.rep1.create_account("Wuxi Motors").await;
    let direct = Order {
        display_name: "Spare pumps".into(),
        account_id: account.id.clone(),
        currency_code: "CNY".into(),
        lines: vec![line(&pump, "2", "15")],
        ..Default::default()
    };
    let without = |change: fn(&mut Order)| {
        let mut order = direct.clone();
        change(&mut order);
        order
    };
    expect_invalid(
        create_order(&o.rep1, without(|o| o.account_id.clear()), "").await,
        "order.account_id",
    );
    expect_invalid(
        create_order(&o.rep1, without(|o| o.lines.clear()), "").await,
        "order.lines",
    );
    expect_invalid(
        create_order(&o.rep1, without(|o| o.currency_code.clear()), "").await,
        "order.currency_code",
    );
    let rep2_account = o.rep2.create_account("Not yours").await;
    let theirs = Order {
        account_id: rep2_account.id,
        ..direct.clone()
    };
    expect_invalid(create_order(&o.rep1, theirs, "").await, "order.account_id");

    // 2 × 100.00 less 15% = 170.00 + 22.10 VAT.
    let order = create_order(&o.rep1, direct.clone(), "").await.unwrap();
    assert_eq!(amount(&order.total), "192.10");
    let pending = eventually("the approvers in the directory", || async {
        match confirm_order(&o.rep1, &order.id, "").await {
            Ok(answer) => Some(answer),
            Err(status) if reason(&status) == "NO_APPROVER" => None,
            Err(status) => panic!("confirm: {status:?}"),
        }
    })
    .await;
    let request = pending.approval_request.unwrap();
    assert_eq!(
        pending.order.unwrap().status,
        OrderStatus::PendingApproval as i32
    );
    assert_eq!(request.subject_kind, ApprovalSubjectKind::Order as i32);
    assert_eq!(request.approver_id, o.manager.user_id);
    assert!(
        order_events(&suite, SalesEventType::OrderConfirmed, &order.id)
            .await
            .is_empty()
    );
    decide_approval_request(&o.manager, &request.id, ApprovalDecision::Approve, "ok", "")
        .await
        .unwrap();
    let confirmed = get_order(&o.rep1, &order.id).await.unwrap();
    assert_eq!(confirmed.status, OrderStatus::Confirmed as i32);
    assert_eq!(
        order_events(&suite, SalesEventType::OrderConfirmed, &order.id)
            .await
            .len(),
        1
    );

    // Cancelled with a reason, announced, then deleted.
    expect_invalid(order_move(&o.rep1, &order.id, " ").await, "reason");
    let cancelled = order_move(&o.rep1, &order.id, "customer withdrew")
        .await
        .unwrap();
    assert_eq!(cancelled.status, OrderStatus::Cancelled as i32);
    assert_eq!(cancelled.cancel_reason, "customer withdrew");
    assert_eq!(
        order_events(&suite, SalesEventType::OrderCancelled, &order.id)
            .await
            .len(),
        1
    );
    let erp = erp_key(&suite, &admin).await;
    let late = record_shipment(&erp, "", "DN-1", &[(1, "1")]).await;
    expect_invalid(late, "order_id");
    let late = erp
        .sales()
        .record_payment(RecordPaymentRequest {
            order_id: order.id.clone(),
            order_external_id: String::new(),
            payment: Some(Payment {
                number: "PAY-1".into(),
                amount: money("CNY", "1"),
                receive_date: None,
                credit: false,
            }),
        })
        .await
        .unwrap_err();
    assert_eq!(state_reason(&late), "ORDER_STATUS");
    o.rep1
        .sales()
        .delete_order(DeleteOrderRequest {
            id: order.id.clone(),
            ..Default::default()
        })
        .await
        .unwrap();
    expect_code(get_order(&o.rep2, &order.id).await, Code::NotFound);
}

/// The ERP's own orders come in by its number: created as a direct draft priced like any,
/// unchanged when re-sent, changed as the status allows (a field sent unchanged is never
/// refused), found by the number; another tenant's ERP gets its own and sees none of ours.
async fn the_erp_upserts_the_orders_it_keeps(mode: Mode) {
    let suite = Suite::start(mode).await;
    let admin = suite.admin().await;
    let o = org::build(&suite, admin.clone(), "erp-orders").await;
    let other = org::other_tenant(&suite, &admin, "erp-orders-other").await;
    let (pump, valve) = catalogue(&admin).await;
    let erp = erp_key(&suite, &admin).await;
    let foreign_erp = erp_key(&suite, &other).await;
    let account = o.rep1.create_account("Wuxi Motors").await;
    let upsert = |session: &Session, order: Order| {
        let session = session.clone();
        async move {
            session
                .sales()
                .upsert_order(UpsertOrderRequest {
                    order: Some(order),
                    request_id: String::new(),
                })
                .await
                .map(|r| r.into_inner())
        }
    };
    // 2 pumps at 100.00 (200.00 + 13% 26.00), 10 valves at 33.33 (333.30 + 6% 20.00).
    let sent = Order {
        external_id: "ERP-SO-8001".into(),
        display_name: "Spare pumps (ERP)".into(),
        account_id: account.id.clone(),
        owner_id: o.rep1.user_id.clone(),
        currency_code: "CNY".into(),
        lines: vec![line(&pump, "2", ""), line(&valve, "10", "")],
        ..Default::default()
    };
    let created = upsert(&erp, sent.clone()).await.unwrap();
    assert_eq!(created.outcome, UpsertOutcome::Created as i32);
    let order = created.order.unwrap();
    assert_eq!(
        (order.status, order.owner_id.as_str(), amount(&order.total)),
        (
            OrderStatus::Draft as i32,
            o.rep1.user_id.as_str(),
            "579.30".to_owned()
        )
    );
    let updates = order_events(&suite, SalesEventType::OrderUpdated, &order.id)
        .await
        .len();
    let again = upsert(&erp, sent.clone()).await.unwrap();
    assert_eq!(again.outcome, UpsertOutcome::Unchanged as i32);
    assert_eq!(again.order.unwrap().etag, order.etag);
    assert_eq!(
        order_events(&suite, SalesEventType::OrderUpdated, &order.id)
            .await
            .len(),
        updates,
        "nothing announced"
    );

    // Two more valves: repriced (399.96 + 24.00).
    let more = Order {
        lines: vec![line(&pump, "2", ""), line(&valve, "12", "")],
        ..sent.clone()
    };
    let changed = upsert(&erp, more.clone()).await.unwrap();
    assert_eq!(changed.outcome, UpsertOutcome::Updated as i32);
    let changed = changed.order.unwrap();
    assert_eq!(
        (changed.id.as_str(), amount(&changed.total)),
        (order.id.as_str(), "649.96".to_owned())
    );

    // The rep finds it by the ERP's number and confirms it; re-sent unchanged it stays as it
    // is; its lines are now fixed, its addresses not.
    let found = o
        .rep1
        .sales()
        .list_orders(ListOrdersRequest {
            filter: "external_id = \"ERP-SO-8001\"".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .orders;
    assert_eq!(
        found.iter().map(|f| f.id.as_str()).collect::<Vec<_>>(),
        [order.id.as_str()]
    );
    let confirmed = confirm_order(&o.rep1, &order.id, "")
        .await
        .unwrap()
        .order
        .unwrap();
    assert_eq!(confirmed.status, OrderStatus::Confirmed as i32);
    let unchanged = upsert(&erp, more.clone()).await.unwrap();
    assert_eq!(unchanged.outcome, UpsertOutcome::Unchanged as i32);
    assert_eq!(unchanged.order.unwrap().etag, confirmed.etag);
    let fixed = upsert(
        &erp,
        Order {
            lines: vec![line(&pump, "3", ""), line(&valve, "12", "")],
            ..more.clone()
        },
    )
    .await
    .unwrap_err();
    assert_eq!(state_reason(&fixed), "ORDER_FIELD_FIXED");
    let moved = upsert(
        &erp,
        Order {
            shipping_address: Some(PostalAddress {
                region_code: "CN".into(),
                locality: "无锡市".into(),
                address_lines: vec!["新吴区 8 号".into()],
                ..Default::default()
            }),
            ..more.clone()
        },
    )
    .await
    .unwrap();
    assert_eq!(moved.outcome, UpsertOutcome::Updated as i32);
    assert_eq!(
        moved.order.unwrap().shipping_address.unwrap().locality,
        "无锡市"
    );

    // Refused: no number, an unknown field value, a rep without the ERP's permission, another
    // tenant naming our customer; that tenant's ERP with the same number gets its own order.
    expect_invalid(
        upsert(
            &erp,
            Order {
                external_id: String::new(),
                ..sent.clone()
            },
        )
        .await,
        "order.external_id",
    );
    expect_invalid(
        upsert(
            &erp,
            Order {
                external_id: "ERP-SO-8002".into(),
                lines: vec![line(&pump, "-1", "")],
                ..sent.clone()
            },
        )
        .await,
        "order.lines[0].quantity",
    );
    expect_code(upsert(&o.rep1, sent.clone()).await, Code::PermissionDenied);
    expect_invalid(upsert(&foreign_erp, sent.clone()).await, "order.account_id");
    let (their_pump, _) = catalogue(&other).await;
    let theirs = upsert(
        &foreign_erp,
        Order {
            account_id: other.create_account("Their Wuxi").await.id,
            owner_id: String::new(),
            lines: vec![line(&their_pump, "1", "")],
            ..sent.clone()
        },
    )
    .await
    .unwrap();
    assert_eq!(theirs.outcome, UpsertOutcome::Created as i32);
    assert_ne!(theirs.order.unwrap().id, order.id);
    expect_code(get_order(&other, &order.id).await, Code::NotFound);

    // Two deliveries of one new order at once make one order.
    let twin = Order {
        external_id: "ERP-SO-8003".into(),
        ..sent.clone()
    };
    let (a, b) = tokio::join!(upsert(&erp, twin.clone()), upsert(&erp, twin.clone()));
    let (a, b) = (a.unwrap(), b.unwrap());
    let mut outcomes = [a.outcome, b.outcome];
    outcomes.sort_unstable();
    assert_eq!(
        outcomes,
        [
            UpsertOutcome::Created as i32,
            UpsertOutcome::Unchanged as i32
        ]
    );
    assert_eq!(a.order.unwrap().id, b.order.unwrap().id);
}

both_modes!(
    an_accepted_quote_becomes_an_order_the_erp_fulfils,
    a_direct_order_is_approved_then_cancelled,
    the_erp_upserts_the_orders_it_keeps
);
