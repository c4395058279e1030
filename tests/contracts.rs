//! Contracts and receivables (回款) end to end through the gateway: an order becomes a
//! contract, approved by the rep's manager, signed and active; its payment plan's
//! instalments sum exactly to its amount; receipts are allocated oldest instalment first,
//! once each by number; the suite's clock makes an instalment overdue and a key date due,
//! each announced once; what is owed is summed per customer and per rep; the contract is
//! renewed. Other reps and other tenants are refused like strangers.

// Helpers panic on purpose: a failed step is a failed test with a clear message.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::support;

use std::time::Duration;

use tonic::Code;

use crm_proto::common::Date;
use crm_proto::sales::*;
use support::cash::*;
use support::clients::{Session, expect_code, expect_invalid, reason};
use support::quoting::*;
use support::{Mode, Suite, org};

/// A confirmed order of rep1's worth 1,329.78 (12 pumps less 5%, 3 valves, with VAT).
async fn confirmed_order(suite: &Suite, admin: &Session, rep: &Session) -> Order {
    let (pump, valve) = catalogue(admin).await;
    let deal = deal(admin, rep, "Huaqiang").await;
    let quote = create_quote(
        rep,
        Quote {
            opportunity_id: deal.id.clone(),
            display_name: "Pumps".into(),
            currency_code: "CNY".into(),
            valid_until: day_after(suite, 30),
            lines: vec![line(&pump, "12", "5"), line(&valve, "3", "")],
            ..Default::default()
        },
    )
    .await
    .unwrap();
    submit_quote(rep, &quote.id, "").await.unwrap();
    send_quote(rep, &quote.id).await.unwrap();
    accept_quote(rep, &quote.id).await.unwrap();
    let order = rep
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
    rep.sales()
        .confirm_order(ConfirmOrderRequest {
            id: order.id.clone(),
            etag: String::new(),
            request_id: String::new(),
        })
        .await
        .unwrap()
        .into_inner()
        .order
        .unwrap()
}

/// Order → contract (approved, signed, active) → plan → partial receipts → overdue → paid;
/// key dates reminded once; receivables per customer and rep; renewal.
async fn an_order_is_contracted_planned_and_paid(mode: Mode) {
    let suite = Suite::builder(mode)
        .env(&[("CRM_JOBS_INTERVAL_SECS", "1")])
        .start()
        .await;
    let admin = suite.admin().await;
    let o = org::build(&suite, admin.clone(), "contracts").await;
    let other = org::other_tenant(&suite, &admin, "contracts-other").await;
    let order = confirmed_order(&suite, &admin, &o.rep1).await;
    admin
        .sales()
        .update_approval_policy(UpdateApprovalPolicyRequest {
            policy: Some(ApprovalPolicy {
                rules: vec![ApprovalRule {
                    subject_kind: ApprovalSubjectKind::Contract as i32,
                    level: 1,
                    discount_percent_above: String::new(),
                    amount_above: money("CNY", "1000"),
                }],
                ..Default::default()
            }),
        })
        .await
        .unwrap();

    // The contract takes the order's customer, owner and total.
    let draft = Contract {
        order_id: order.id.clone(),
        display_name: "Supply agreement".into(),
        payment_terms: "30% on signing, 70% within 30 days".into(),
        start_date: day_after(&suite, 0),
        end_date: day_after(&suite, 364),
        milestones: vec![KeyDate {
            display_name: "Delivery".into(),
            date: day_after(&suite, 20),
            remind_days_before: 5,
        }],
        remind_days_before: 10,
        ..Default::default()
    };
    let bad = |change: fn(&mut Contract)| {
        let mut c = draft.clone();
        change(&mut c);
        c
    };
    let create = |c: Contract| {
        let rep = o.rep1.clone();
        async move {
            rep.sales()
                .create_contract(CreateContractRequest {
                    contract: Some(c),
                    request_id: String::new(),
                })
                .await
                .map(|r| r.into_inner().contract.unwrap())
        }
    };
    expect_invalid(
        create(bad(|c| c.end_date = day_after_fixed(c, -1))).await,
        "contract.end_date",
    );
    expect_invalid(
        create(bad(|c| c.display_name.clear())).await,
        "contract.display_name",
    );
    expect_invalid(
        create(bad(|c| c.milestones[0].date = None)).await,
        "contract.milestones[0].date",
    );
    expect_invalid(
        create(bad(|c| c.remind_days_before = 400)).await,
        "contract.remind_days_before",
    );
    let theirs = Contract {
        order_id: String::new(),
        account_id: o.rep2.create_account("Not yours").await.id,
        amount: money("CNY", "10"),
        ..draft.clone()
    };
    expect_invalid(create(theirs).await, "contract.account_id");
    let contract = create(draft.clone()).await.unwrap();
    assert_eq!(contract.number, "HT-000001");
    assert_eq!(contract.account_id, order.account_id);
    assert_eq!(contract.owner_id, o.rep1.user_id);
    assert_eq!(amount(&contract.amount), "1329.78");
    for stranger in [&o.rep2, &other] {
        expect_code(get_contract(stranger, &contract.id).await, Code::NotFound);
        expect_code(
            submit_contract(stranger, &contract.id).await,
            Code::NotFound,
        );
    }
    // Not signed before approval; approved by the manager; signed; active from today.
    let early = sign_contract(&o.rep1, &contract.id, day_after(&suite, 0))
        .await
        .unwrap_err();
    assert_eq!(state_reason(&early), "CONTRACT_STATUS");
    let submitted = eventually("the approvers in the directory", || async {
        match submit_contract(&o.rep1, &contract.id).await {
            Ok(answer) => Some(answer),
            Err(status) if reason(&status) == "NO_APPROVER" => None,
            Err(status) => panic!("submit: {status:?}"),
        }
    })
    .await;
    assert_eq!(
        submitted.contract.unwrap().status,
        ContractStatus::InApproval as i32
    );
    let request = submitted.approval_request.unwrap();
    assert_eq!(request.subject_kind, ApprovalSubjectKind::Contract as i32);
    decide_approval_request(&o.manager, &request.id, ApprovalDecision::Approve, "ok", "")
        .await
        .unwrap();
    expect_invalid(
        sign_contract(&o.rep1, &contract.id, day_after(&suite, 1)).await,
        "sign_date",
    );
    expect_invalid(
        sign_contract(&o.rep1, &contract.id, None).await,
        "sign_date",
    );
    let signed = sign_contract(&o.rep1, &contract.id, day_after(&suite, 0))
        .await
        .unwrap();
    assert_eq!(signed.status, ContractStatus::Active as i32);
    let terms = o
        .rep1
        .sales()
        .update_contract(UpdateContractRequest {
            contract: Some(Contract {
                id: contract.id.clone(),
                payment_terms: "changed".into(),
                ..Default::default()
            }),
            update_mask: None,
            request_id: String::new(),
        })
        .await
        .unwrap_err();
    assert_eq!(state_reason(&terms), "CONTRACT_NOT_DRAFT");

    // The plan: three instalments that must sum exactly to 1,329.78.
    let plan_of = |amounts: [&str; 3]| PaymentPlan {
        contract_id: contract.id.clone(),
        instalments: vec![
            instalment(day_after(&suite, 0), amounts[0]),
            instalment(day_after(&suite, 30), amounts[1]),
            instalment(day_after(&suite, 60), amounts[2]),
        ],
        ..Default::default()
    };
    let short = create_payment_plan(&o.rep1, plan_of(["398.93", "465.42", "465.42"])).await;
    let status = expect_code(short, Code::InvalidArgument);
    assert!(status.message().contains("1329.77"), "{status:?}");
    expect_invalid(
        create_payment_plan(&o.rep1, plan_of(["398.935", "465.42", "465.425"])).await,
        "plan.instalments[0].amount.amount",
    );
    let unordered = PaymentPlan {
        instalments: vec![
            instalment(day_after(&suite, 30), "664.89"),
            instalment(day_after(&suite, 0), "664.89"),
        ],
        ..plan_of(["0", "0", "0"])
    };
    expect_invalid(
        create_payment_plan(&o.rep1, unordered).await,
        "plan.instalments[1].due_date",
    );
    expect_invalid(
        create_payment_plan(&o.rep2, plan_of(["398.93", "465.42", "465.43"])).await,
        "plan.contract_id",
    );
    let plan = create_payment_plan(&o.rep1, plan_of(["398.93", "465.42", "465.43"]))
        .await
        .unwrap();
    assert_eq!(plan.display_name, "HT-000001 plan");
    assert_eq!(amount(&plan.total), "1329.78");
    expect_code(
        create_payment_plan(&o.rep1, plan_of(["398.93", "465.42", "465.43"])).await,
        Code::AlreadyExists,
    );

    // Receipts: the deposit and part of the second, once each by number.
    let today = day_after(&suite, 0);
    let first = record_receipt(&o.rep1, &plan.id, "BANK-1", ("398.93", false), today)
        .await
        .unwrap();
    assert_eq!(first.outcome, ErpOutcome::Applied as i32);
    let second = record_receipt(&o.rep1, &plan.id, "BANK-2", ("200", false), today)
        .await
        .unwrap();
    let after = second.plan.unwrap();
    assert_eq!(
        schedule(&after),
        [
            ("398.93".into(), "398.93".into(), "PAID".into()),
            ("465.42".into(), "200.00".into(), "PARTLY_PAID".into()),
            ("465.43".into(), "0.00".into(), "OPEN".into()),
        ]
    );
    assert_eq!(owed(&after), ["598.93", "730.85", "0.00", "0.00"]);
    let replay = record_receipt(&o.rep1, &plan.id, "BANK-2", ("200", false), today)
        .await
        .unwrap();
    assert_eq!(replay.outcome, ErpOutcome::Unchanged as i32);
    assert_eq!(replay.plan.unwrap().etag, after.etag);
    expect_code(
        record_receipt(&o.rep1, &plan.id, "BANK-2", ("201", false), today).await,
        Code::AlreadyExists,
    );
    expect_invalid(
        record_receipt(&o.rep1, &plan.id, "BANK-3", ("730.86", false), today).await,
        "receipt.amount.amount",
    );
    expect_invalid(
        record_receipt(&o.rep1, &plan.id, "BANK-3", ("1", false), None).await,
        "receipt.receive_date",
    );
    expect_code(
        record_receipt(&other, &plan.id, "BANK-3", ("1", false), today).await,
        Code::NotFound,
    );
    let locked = o
        .rep1
        .sales()
        .update_payment_plan(UpdatePaymentPlanRequest {
            plan: Some(PaymentPlan {
                id: plan.id.clone(),
                instalments: vec![instalment(day_after(&suite, 5), "1329.78")],
                ..Default::default()
            }),
            update_mask: None,
            request_id: String::new(),
        })
        .await
        .unwrap_err();
    assert_eq!(state_reason(&locked), "PLAN_HAS_RECEIPTS");

    // What is owed: per customer and per rep, in scope.
    let receivables = |session: &Session, group_by: ReceivablesGrouping| {
        let session = session.clone();
        async move {
            session
                .sales()
                .get_receivables(GetReceivablesRequest {
                    group_by: group_by as i32,
                })
                .await
                .unwrap()
                .into_inner()
                .lines
        }
    };
    let by_customer = receivables(&o.rep1, ReceivablesGrouping::Customer).await;
    assert_eq!(by_customer.len(), 1);
    assert_eq!(by_customer[0].account_id, order.account_id);
    assert_eq!(amount(&by_customer[0].outstanding), "730.85");
    let by_rep = receivables(&o.manager, ReceivablesGrouping::Owner).await;
    assert_eq!(by_rep.len(), 1);
    assert_eq!(by_rep[0].owner_id, o.rep1.user_id);
    assert!(
        receivables(&o.rep2, ReceivablesGrouping::Customer)
            .await
            .is_empty()
    );
    assert!(
        receivables(&other, ReceivablesGrouping::Owner)
            .await
            .is_empty()
    );

    // 31 days on: the second instalment is overdue, once; the delivery milestone and, later,
    // nothing else is reminded yet but it.
    suite.advance_clock(Duration::from_secs(31 * 86_400)).await;
    let overdue = wait_for(&suite, SalesEventType::InstalmentOverdue, 1).await;
    assert_eq!(overdue.len(), 1);
    let Some(sales_event::Subject::InstalmentOverdue(late)) = &overdue[0].subject else {
        panic!("no instalment");
    };
    assert_eq!(late.position, 2);
    let reminders = wait_for(&suite, SalesEventType::ContractKeyDateDue, 1).await;
    let names: Vec<_> = reminders
        .iter()
        .filter_map(|e| match &e.subject {
            Some(sales_event::Subject::ContractReminder(r)) => {
                Some(r.key_date.as_ref().unwrap().display_name.clone())
            }
            _ => None,
        })
        .collect();
    assert_eq!(names, ["Start", "Delivery"]);
    let rep1 = Session::login(&suite, "rep1@contracts.example", support::ADMIN_PASSWORD)
        .await
        .unwrap();
    let late_plan = rep1
        .sales()
        .get_payment_plan(GetPaymentPlanRequest {
            id: plan.id.clone(),
        })
        .await
        .unwrap()
        .into_inner()
        .plan
        .unwrap();
    assert_eq!(owed(&late_plan), ["598.93", "730.85", "265.42", "0.00"]);
    assert_eq!(schedule(&late_plan)[1].2, "OVERDUE");

    // Paid in full, with an over-payment kept as credit.
    let paid = record_receipt(
        &rep1,
        &plan.id,
        "BANK-3",
        ("800", true),
        day_after(&suite, 0),
    )
    .await
    .unwrap()
    .plan
    .unwrap();
    assert_eq!(owed(&paid), ["1329.78", "0.00", "0.00", "69.15"]);
    assert!(schedule(&paid).iter().all(|s| s.2 == "PAID"));
    assert_eq!(
        events_of(&suite, SalesEventType::PaymentReceived)
            .await
            .len(),
        3
    );

    // Renewed: the successor starts the day after the end, for as long, as a draft.
    let renewed = rep1
        .sales()
        .renew_contract(RenewContractRequest {
            id: contract.id.clone(),
            request_id: "renew-1".into(),
        })
        .await
        .unwrap()
        .into_inner()
        .contract
        .unwrap();
    assert_eq!(renewed.previous_contract_id, contract.id);
    assert_eq!(renewed.status, ContractStatus::Draft as i32);
    assert_eq!(renewed.number, "HT-000002");
    let end = contract.end_date.unwrap();
    let start = renewed.start_date.unwrap();
    assert_eq!(
        crm_platform::time::day::plus(end.year * 10_000 + end.month * 100 + end.day, 1),
        start.year * 10_000 + start.month * 100 + start.day
    );
    assert_eq!(
        get_contract(&rep1, &contract.id)
            .await
            .unwrap()
            .successor_id,
        renewed.id
    );
    let twice = rep1
        .sales()
        .renew_contract(RenewContractRequest {
            id: contract.id.clone(),
            request_id: String::new(),
        })
        .await
        .unwrap_err();
    assert_eq!(state_reason(&twice), "CONTRACT_RENEWED");
    // Terminated with a reason; a draft successor is deleted.
    let terminate = |reason: &str| {
        let rep1 = rep1.clone();
        let id = contract.id.clone();
        let reason = reason.to_owned();
        async move {
            rep1.sales()
                .close_contract(CloseContractRequest {
                    id,
                    etag: String::new(),
                    request_id: String::new(),
                    terminate: true,
                    reason,
                })
                .await
        }
    };
    expect_invalid(terminate("").await, "reason");
    let ended = terminate("customer moved")
        .await
        .unwrap()
        .into_inner()
        .contract
        .unwrap();
    assert_eq!(ended.status, ContractStatus::Terminated as i32);
    rep1.sales()
        .delete_contract(DeleteContractRequest {
            id: renewed.id.clone(),
            ..Default::default()
        })
        .await
        .unwrap();
}

/// The day before `contract`'s start, for a contract ending before it starts.
fn day_after_fixed(contract: &Contract, days: i32) -> Option<Date> {
    let start = contract.start_date.unwrap();
    let day = crm_platform::time::day::plus(
        start.year * 10_000 + start.month * 100 + start.day,
        i64::from(days),
    );
    crm_platform::time::day::to_wire(day)
}

both_modes!(an_order_is_contracted_planned_and_paid);
