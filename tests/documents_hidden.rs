//! Hidden existence for every id-taking RPC of quotes, approvals, orders, contracts and
//! payment plans, through the gateway in both modes: another rep of the tenant (outside the
//! owner's scope) and another tenant are told exactly what a well-formed unknown id gets, and
//! the hidden documents do not change.

// Helpers panic on purpose: a failed step is a failed test with a clear message.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::support;

use tonic::Code;

use crm_proto::common::Date;
use crm_proto::sales::*;
use support::cash::erp_key;
use support::clients::{Session, expect_code, expect_invalid};
use support::existence::{Asker, Shown, assert_hidden};
use support::quoting::*;
use support::{Mode, Suite, org};

/// A well-formed id that names nothing.
const UNKNOWN: &str = "01900000-0000-7000-8000-000000000000";

fn refused(shown: Shown) {
    match shown {
        Shown::Refused { code, .. } => assert_eq!(code, Code::NotFound),
        Shown::Answered(summary) => panic!("expected NOT_FOUND, got an answer: {summary}"),
    }
}

fn today(suite: &Suite) -> Option<Date> {
    day_after(suite, 0)
}

/// The etags of everything rep1 holds, to see that nothing changed.
async fn etags(rep: &Session, ids: &Ids) -> Vec<String> {
    let sales = rep.sales();
    vec![
        sales
            .clone()
            .get_quote(GetQuoteRequest {
                id: ids.quote.clone(),
            })
            .await
            .unwrap()
            .into_inner()
            .quote
            .unwrap()
            .etag,
        sales
            .clone()
            .get_order(GetOrderRequest {
                id: ids.order.clone(),
            })
            .await
            .unwrap()
            .into_inner()
            .order
            .unwrap()
            .etag,
        sales
            .clone()
            .get_contract(GetContractRequest {
                id: ids.contract.clone(),
            })
            .await
            .unwrap()
            .into_inner()
            .contract
            .unwrap()
            .etag,
        sales
            .clone()
            .get_payment_plan(GetPaymentPlanRequest {
                id: ids.plan.clone(),
            })
            .await
            .unwrap()
            .into_inner()
            .plan
            .unwrap()
            .etag,
        sales
            .clone()
            .get_approval_request(GetApprovalRequestRequest {
                id: ids.approval.clone(),
            })
            .await
            .unwrap()
            .into_inner()
            .approval_request
            .unwrap()
            .etag,
    ]
}

/// rep1's documents.
struct Ids {
    quote: String,
    pending_quote: String,
    approval: String,
    order: String,
    contract: String,
    plan: String,
}

/// rep1's accepted quote, its confirmed order, the order's signed contract and its plan, and
/// a second quote pending on the manager.
async fn documents(suite: &Suite, admin: &Session, rep1: &Session) -> Ids {
    let (pump, _) = catalogue(admin).await;
    let deal = deal(admin, rep1, "Hidden customer").await;
    let draft = Quote {
        opportunity_id: deal.id.clone(),
        display_name: "Hidden".into(),
        currency_code: "CNY".into(),
        valid_until: day_after(suite, 30),
        lines: vec![line(&pump, "2", "")],
        ..Default::default()
    };
    let quote = create_quote(rep1, draft.clone()).await.unwrap();
    submit_quote(rep1, &quote.id, "").await.unwrap();
    send_quote(rep1, &quote.id).await.unwrap();
    accept_quote(rep1, &quote.id).await.unwrap();
    let order = rep1
        .sales()
        .create_order(CreateOrderRequest {
            order: Some(Order {
                quote_id: quote.id.clone(),
                ..Default::default()
            }),
            request_id: String::new(),
        })
        .await
        .unwrap()
        .into_inner()
        .order
        .unwrap();
    rep1.sales()
        .confirm_order(ConfirmOrderRequest {
            id: order.id.clone(),
            ..Default::default()
        })
        .await
        .unwrap();
    let contract = rep1
        .sales()
        .create_contract(CreateContractRequest {
            contract: Some(Contract {
                order_id: order.id.clone(),
                display_name: "Hidden contract".into(),
                start_date: today(suite),
                end_date: day_after(suite, 90),
                ..Default::default()
            }),
            request_id: String::new(),
        })
        .await
        .unwrap()
        .into_inner()
        .contract
        .unwrap();
    rep1.sales()
        .submit_contract(SubmitContractRequest {
            id: contract.id.clone(),
            ..Default::default()
        })
        .await
        .unwrap();
    rep1.sales()
        .sign_contract(SignContractRequest {
            id: contract.id.clone(),
            sign_date: today(suite),
            ..Default::default()
        })
        .await
        .unwrap();
    let plan = rep1
        .sales()
        .create_payment_plan(CreatePaymentPlanRequest {
            plan: Some(PaymentPlan {
                contract_id: contract.id.clone(),
                instalments: vec![Instalment {
                    due_date: day_after(suite, 30),
                    amount: contract.amount.clone(),
                    ..Default::default()
                }],
                ..Default::default()
            }),
            request_id: String::new(),
        })
        .await
        .unwrap()
        .into_inner()
        .plan
        .unwrap();
    admin
        .sales()
        .update_approval_policy(UpdateApprovalPolicyRequest {
            policy: Some(ApprovalPolicy {
                rules: vec![ApprovalRule {
                    subject_kind: ApprovalSubjectKind::Quote as i32,
                    level: 1,
                    discount_percent_above: "10".into(),
                    amount_above: None,
                }],
                ..Default::default()
            }),
        })
        .await
        .unwrap();
    let pending = create_quote(
        rep1,
        Quote {
            lines: vec![line(&pump, "2", "20")],
            ..draft
        },
    )
    .await
    .unwrap();
    let submitted = submit_when_approvers_known(rep1, &pending.id, "").await;
    Ids {
        quote: quote.id,
        pending_quote: pending.id,
        approval: submitted.approval_request.unwrap().id,
        order: order.id,
        contract: contract.id,
        plan: plan.id,
    }
}

/// Every id-taking document RPC answers another rep and another tenant like an unknown id.
async fn documents_hide_what_the_caller_may_not_see(mode: Mode) {
    let suite = Suite::start(mode).await;
    let admin = suite.admin().await;
    let o = org::build(&suite, admin.clone(), "hidden-docs").await;
    let other = org::other_tenant(&suite, &admin, "hidden-docs-other").await;
    let ids = documents(&suite, &admin, &o.rep1).await;
    let before = etags(&o.rep1, &ids).await;
    let cases = |id: &str| {
        vec![
            Asker {
                label: "another rep",
                session: o.rep2.clone(),
                id: id.to_owned(),
            },
            Asker {
                label: "another tenant",
                session: other.clone(),
                id: id.to_owned(),
            },
        ]
    };
    let nobody = Asker {
        label: "an unknown id",
        session: o.rep2.clone(),
        id: UNKNOWN.to_owned(),
    };
    let sign_date = today(&suite);
    let later = day_after(&suite, 5);

    macro_rules! hidden {
        ($rpc:literal, $id:expr, |$s:ident, $i:ident| $call:expr) => {
            refused(
                assert_hidden(
                    $rpc,
                    &cases($id),
                    &nobody,
                    |$s: Session, $i: String| async move { $call.await.map(|_| "answered".to_owned()) },
                )
                .await,
            );
        };
    }

    hidden!("GetQuote", &ids.quote, |s, id| s
        .sales()
        .get_quote(GetQuoteRequest { id }));
    hidden!("UpdateQuote", &ids.pending_quote, |s, id| s
        .sales()
        .update_quote(UpdateQuoteRequest {
            quote: Some(Quote {
                id,
                note: "taken over".into(),
                ..Default::default()
            }),
            update_mask: None,
            request_id: String::new(),
        }));
    hidden!("DeleteQuote", &ids.quote, |s, id| s.sales().delete_quote(
        DeleteQuoteRequest {
            id,
            ..Default::default()
        }
    ));
    hidden!("UndeleteQuote", &ids.quote, |s, id| s
        .sales()
        .undelete_quote(UndeleteQuoteRequest {
            id,
            ..Default::default()
        }));
    hidden!("SubmitQuote", &ids.pending_quote, |s, id| s
        .sales()
        .submit_quote(SubmitQuoteRequest {
            id,
            ..Default::default()
        }));
    hidden!("SendQuote", &ids.quote, |s, id| s.sales().send_quote(
        SendQuoteRequest {
            id,
            ..Default::default()
        }
    ));
    hidden!("AcceptQuote", &ids.quote, |s, id| s.sales().accept_quote(
        AcceptQuoteRequest {
            id,
            ..Default::default()
        }
    ));
    hidden!("RejectQuote", &ids.quote, |s, id| s.sales().reject_quote(
        RejectQuoteRequest {
            id,
            reason: "too dear".into(),
            ..Default::default()
        }
    ));
    hidden!("ReviseQuote", &ids.pending_quote, |s, id| s
        .sales()
        .revise_quote(ReviseQuoteRequest {
            id,
            request_id: String::new(),
        }));
    hidden!("GetQuoteDocument", &ids.quote, |s, id| s
        .sales()
        .get_quote_document(GetQuoteDocumentRequest { id }));
    hidden!("GetApprovalRequest", &ids.approval, |s, id| s
        .sales()
        .get_approval_request(GetApprovalRequestRequest { id }));
    // Deciding takes a permission reps lack, so the tenant's admin of elsewhere asks.
    let elsewhere = vec![Asker {
        label: "another tenant",
        session: other.clone(),
        id: ids.approval.clone(),
    }];
    let unknown_there = Asker {
        label: "an unknown id there",
        session: other.clone(),
        id: UNKNOWN.to_owned(),
    };
    refused(
        assert_hidden(
            "DecideApprovalRequest",
            &elsewhere,
            &unknown_there,
            |s, id| async move {
                s.sales()
                    .decide_approval_request(DecideApprovalRequestRequest {
                        id,
                        decision: ApprovalDecision::Reject as i32,
                        comment: "no".into(),
                        request_id: String::new(),
                    })
                    .await
                    .map(|_| "answered".to_owned())
            },
        )
        .await,
    );
    hidden!("GetOrder", &ids.order, |s, id| s
        .sales()
        .get_order(GetOrderRequest { id }));
    hidden!("UpdateOrder", &ids.order, |s, id| s.sales().update_order(
        UpdateOrderRequest {
            order: Some(Order {
                id,
                note: "taken over".into(),
                ..Default::default()
            }),
            update_mask: None,
            request_id: String::new(),
        }
    ));
    hidden!("DeleteOrder", &ids.order, |s, id| s.sales().delete_order(
        DeleteOrderRequest {
            id,
            ..Default::default()
        }
    ));
    hidden!("UndeleteOrder", &ids.order, |s, id| s
        .sales()
        .undelete_order(UndeleteOrderRequest {
            id,
            ..Default::default()
        }));
    hidden!("ConfirmOrder", &ids.order, |s, id| s.sales().confirm_order(
        ConfirmOrderRequest {
            id,
            ..Default::default()
        }
    ));
    hidden!("CancelOrder", &ids.order, |s, id| s.sales().cancel_order(
        CancelOrderRequest {
            id,
            reason: "changed mind".into(),
            ..Default::default()
        }
    ));
    hidden!("DeliverOrder", &ids.order, |s, id| s.sales().deliver_order(
        DeliverOrderRequest {
            id,
            ..Default::default()
        }
    ));
    hidden!("CompleteOrder", &ids.order, |s, id| s
        .sales()
        .complete_order(CompleteOrderRequest {
            id,
            ..Default::default()
        }));
    hidden!("GetContract", &ids.contract, |s, id| s
        .sales()
        .get_contract(GetContractRequest { id }));
    hidden!("UpdateContract", &ids.contract, |s, id| s
        .sales()
        .update_contract(UpdateContractRequest {
            contract: Some(Contract {
                id,
                note: "taken over".into(),
                ..Default::default()
            }),
            update_mask: None,
            request_id: String::new(),
        }));
    hidden!("DeleteContract", &ids.contract, |s, id| s
        .sales()
        .delete_contract(DeleteContractRequest {
            id,
            ..Default::default()
        }));
    hidden!("UndeleteContract", &ids.contract, |s, id| s
        .sales()
        .undelete_contract(UndeleteContractRequest {
            id,
            ..Default::default()
        }));
    hidden!("SubmitContract", &ids.contract, |s, id| s
        .sales()
        .submit_contract(SubmitContractRequest {
            id,
            ..Default::default()
        }));
    hidden!("SignContract", &ids.contract, |s, id| s
        .sales()
        .sign_contract(SignContractRequest {
            id,
            sign_date,
            ..Default::default()
        }));
    hidden!("CloseContract", &ids.contract, |s, id| s
        .sales()
        .close_contract(CloseContractRequest {
            id,
            terminate: true,
            reason: "taken over".into(),
            ..Default::default()
        }));
    hidden!("RenewContract", &ids.contract, |s, id| s
        .sales()
        .renew_contract(RenewContractRequest {
            id,
            request_id: String::new(),
        }));
    hidden!("GetPaymentPlan", &ids.plan, |s, id| s
        .sales()
        .get_payment_plan(GetPaymentPlanRequest { id }));
    hidden!("UpdatePaymentPlan", &ids.plan, |s, id| s
        .sales()
        .update_payment_plan(UpdatePaymentPlanRequest {
            plan: Some(PaymentPlan {
                id,
                instalments: vec![Instalment {
                    due_date: later,
                    amount: money("CNY", "1"),
                    ..Default::default()
                }],
                ..Default::default()
            }),
            update_mask: None,
            request_id: String::new(),
        }));
    hidden!("RecordReceipt", &ids.plan, |s, id| s
        .sales()
        .record_receipt(RecordReceiptRequest {
            plan_id: id,
            receipt: Some(Receipt {
                number: "BANK-X".into(),
                amount: money("CNY", "1"),
                receive_date: sign_date,
                credit: false,
            }),
        }));

    // The ERP's reports: another tenant's key is told what an unknown order gets.
    let foreign_erp = erp_key(&suite, &other).await;
    let foreign = vec![Asker {
        label: "another tenant's ERP",
        session: foreign_erp.clone(),
        id: ids.order.clone(),
    }];
    let unknown_order = Asker {
        label: "an unknown order",
        session: foreign_erp,
        id: UNKNOWN.to_owned(),
    };
    let shipment = || Shipment {
        number: "DN-X".into(),
        lines: vec![ShipmentLine {
            position: 1,
            quantity: "1".into(),
        }],
        ..Default::default()
    };
    refused(
        assert_hidden(
            "RecordShipment",
            &foreign,
            &unknown_order,
            |s, id| async move {
                s.sales()
                    .record_shipment(RecordShipmentRequest {
                        order_id: id,
                        order_external_id: String::new(),
                        shipment: Some(shipment()),
                    })
                    .await
                    .map(|_| "answered".to_owned())
            },
        )
        .await,
    );
    refused(
        assert_hidden(
            "RecordInvoice",
            &foreign,
            &unknown_order,
            |s, id| async move {
                s.sales()
                    .record_invoice(RecordInvoiceRequest {
                        order_id: id,
                        order_external_id: String::new(),
                        invoice: Some(Invoice {
                            number: "INV-X".into(),
                            amount: money("CNY", "1"),
                            issue_date: None,
                        }),
                    })
                    .await
                    .map(|_| "answered".to_owned())
            },
        )
        .await,
    );
    refused(
        assert_hidden(
            "RecordPayment",
            &foreign,
            &unknown_order,
            |s, id| async move {
                s.sales()
                    .record_payment(RecordPaymentRequest {
                        order_id: id,
                        order_external_id: String::new(),
                        payment: Some(Payment {
                            number: "PAY-X".into(),
                            amount: money("CNY", "1"),
                            receive_date: None,
                            credit: false,
                        }),
                    })
                    .await
                    .map(|_| "answered".to_owned())
            },
        )
        .await,
    );

    assert_eq!(
        etags(&o.rep1, &ids).await,
        before,
        "a hidden document changed"
    );
}

/// The ids of a page's records.
fn ids_of<T>(records: &[T], id: impl Fn(&T) -> &str) -> Vec<String> {
    records.iter().map(|r| id(r).to_owned()).collect()
}

/// Lists show each caller what they reach and nothing of another tenant; a create naming
/// another's document is refused as if it did not exist; each tenant keeps its own policy; a
/// deleted draft order comes back.
async fn lists_and_creates_keep_to_the_callers_reach(mode: Mode) {
    let suite = Suite::start(mode).await;
    let admin = suite.admin().await;
    let o = org::build(&suite, admin.clone(), "reach-docs").await;
    let other = org::other_tenant(&suite, &admin, "reach-docs-other").await;
    let ids = documents(&suite, &admin, &o.rep1).await;
    let lists = |session: &Session, filter: &str| {
        let (sales, filter) = (session.sales(), filter.to_owned());
        async move {
            let orders = sales
                .clone()
                .list_orders(ListOrdersRequest {
                    filter: filter.clone(),
                    ..Default::default()
                })
                .await?
                .into_inner()
                .orders;
            let contracts = sales
                .clone()
                .list_contracts(ListContractsRequest {
                    filter: filter.clone(),
                    ..Default::default()
                })
                .await?
                .into_inner()
                .contracts;
            let plans = sales
                .clone()
                .list_payment_plans(ListPaymentPlansRequest {
                    filter,
                    ..Default::default()
                })
                .await?
                .into_inner()
                .plans;
            Ok::<_, tonic::Status>([
                ids_of(&orders, |r| &r.id),
                ids_of(&contracts, |r| &r.id),
                ids_of(&plans, |r| &r.id),
            ])
        }
    };
    let mine = [
        vec![ids.order.clone()],
        vec![ids.contract.clone()],
        vec![ids.plan.clone()],
    ];
    for reaches in [&o.rep1, &o.manager, &admin] {
        assert_eq!(lists(reaches, "").await.unwrap(), mine);
    }
    let none: [Vec<String>; 3] = Default::default();
    for stranger in [&o.rep2, &other] {
        assert_eq!(lists(stranger, "").await.unwrap(), none);
    }
    assert_eq!(
        lists(&o.rep1, &format!("owner_id = \"{}\"", o.rep1.user_id))
            .await
            .unwrap(),
        mine
    );
    expect_invalid(lists(&o.rep1, "colour = \"red\"").await, "filter");

    // Creates naming another tenant's quote, order or contract are refused like unknown ids.
    let sales = other.sales();
    expect_invalid(
        sales
            .clone()
            .create_order(CreateOrderRequest {
                order: Some(Order {
                    quote_id: ids.quote.clone(),
                    ..Default::default()
                }),
                request_id: String::new(),
            })
            .await,
        "order.quote_id",
    );
    expect_invalid(
        sales
            .clone()
            .create_contract(CreateContractRequest {
                contract: Some(Contract {
                    order_id: ids.order.clone(),
                    display_name: "Not theirs".into(),
                    start_date: today(&suite),
                    end_date: day_after(&suite, 30),
                    ..Default::default()
                }),
                request_id: String::new(),
            })
            .await,
        "contract.order_id",
    );
    expect_invalid(
        sales
            .clone()
            .create_payment_plan(CreatePaymentPlanRequest {
                plan: Some(PaymentPlan {
                    contract_id: ids.contract.clone(),
                    instalments: vec![Instalment {
                        due_date: day_after(&suite, 30),
                        amount: money("CNY", "1"),
                        ..Default::default()
                    }],
                    ..Default::default()
                }),
                request_id: String::new(),
            })
            .await,
        "plan.contract_id",
    );

    // Another tenant's policy is its own.
    let policy = |session: &Session| {
        let sales = session.sales();
        async move {
            sales
                .clone()
                .get_approval_policy(GetApprovalPolicyRequest {})
                .await
                .unwrap()
                .into_inner()
                .policy
                .unwrap()
                .rules
        }
    };
    let ours = policy(&admin).await;
    sales
        .clone()
        .update_approval_policy(UpdateApprovalPolicyRequest {
            policy: Some(ApprovalPolicy {
                rules: vec![ApprovalRule {
                    subject_kind: ApprovalSubjectKind::Order as i32,
                    level: 1,
                    discount_percent_above: "1".into(),
                    amount_above: None,
                }],
                ..Default::default()
            }),
        })
        .await
        .unwrap();
    assert_eq!(policy(&admin).await, ours);
    assert_eq!(policy(&other).await.len(), 1);

    // A draft order deleted by mistake is restored; another tenant cannot restore it.
    let pump = admin
        .sales()
        .list_products(ListProductsRequest {
            filter: "code = \"PUMP-1\"".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .products
        .remove(0)
        .id;
    let account = o.rep1.create_account("Restored customer").await;
    let draft = o
        .rep1
        .sales()
        .create_order(CreateOrderRequest {
            order: Some(Order {
                display_name: "Spare".into(),
                account_id: account.id,
                currency_code: "CNY".into(),
                lines: vec![line(&pump, "1", "")],
                ..Default::default()
            }),
            request_id: String::new(),
        })
        .await
        .unwrap()
        .into_inner()
        .order
        .unwrap();
    o.rep1
        .sales()
        .delete_order(DeleteOrderRequest {
            id: draft.id.clone(),
            ..Default::default()
        })
        .await
        .unwrap();
    let undelete = |session: &Session| {
        let (sales, id) = (session.sales(), draft.id.clone());
        async move {
            sales
                .clone()
                .undelete_order(UndeleteOrderRequest {
                    id,
                    ..Default::default()
                })
                .await
        }
    };
    expect_code(undelete(&other).await, Code::NotFound);
    expect_code(undelete(&o.rep2).await, Code::NotFound);
    let back = undelete(&o.rep1).await.unwrap().into_inner().order.unwrap();
    assert!(back.delete_time.is_none());
}

both_modes!(
    documents_hide_what_the_caller_may_not_see,
    lists_and_creates_keep_to_the_callers_reach
);
