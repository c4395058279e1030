//! Quotes and their approvals end to end through the gateway: a rep prices a deal from the
//! catalogue with line discounts and tax, every figure checked exactly; the tenant's policy
//! sends it to the rep's manager (and, above a second threshold, the manager's manager); the
//! approver decides once; the quote is sent, accepted, rendered, revised and expired by the
//! suite's clock. Other reps and other tenants are refused like strangers.

// Helpers panic on purpose: a failed step is a failed test with a clear message.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::support;

use std::time::Duration;

use tonic::Code;

use crm_proto::common::Money;
use crm_proto::sales::*;
use support::clients::{Session, expect_code, expect_invalid, reason};
use support::quoting::*;
use support::{Mode, Suite, org};

/// A rep's quote: priced exactly, approved by the manager once, sent, accepted, rendered;
/// every bad input and move refused; other reps and tenants see nothing.
async fn a_quote_is_priced_approved_and_accepted(mode: Mode) {
    let suite = Suite::start(mode).await;
    let admin = suite.admin().await;
    let o = org::build(&suite, admin.clone(), "quotes").await;
    let other = org::other_tenant(&suite, &admin, "quotes-other").await;
    let (pump, valve) = catalogue(&admin).await;
    policy(&admin).await;
    let deal = deal(&admin, &o.rep1, "华强电子").await;
    let valid_until = day_after(&suite, 30);
    let draft = Quote {
        opportunity_id: deal.id.clone(),
        display_name: "Pumps for Huaqiang".into(),
        currency_code: "CNY".into(),
        valid_until,
        lines: vec![line(&pump, "12", "5"), line(&valve, "3", "12.5")],
        terms: "30% on order, 70% on delivery".into(),
        ..Default::default()
    };

    // Bad input names the field and writes nothing.
    let bad = |change: fn(&mut Quote)| {
        let mut q = draft.clone();
        change(&mut q);
        q
    };
    type Case = (fn(&mut Quote), &'static str);
    let cases: [Case; 9] = [
        (|q| q.display_name.clear(), "quote.display_name"),
        (|q| q.currency_code = "XYZ".into(), "quote.currency_code"),
        (|q| q.valid_until = None, "quote.valid_until"),
        (
            |q| q.lines[0].quantity = "0".into(),
            "quote.lines[0].quantity",
        ),
        (
            |q| q.lines[1].discount_percent = "100.5".into(),
            "quote.lines[1].discount_percent",
        ),
        (
            |q| q.lines[1].discount_percent = "1.234".into(),
            "quote.lines[1].discount_percent",
        ),
        (
            |q| q.lines[0].unit_price = money("CNY", "99.999"),
            "quote.lines[0].unit_price.amount",
        ),
        (
            |q| q.lines[0].unit_price = money("USD", "99"),
            "quote.lines[0].unit_price.currency_code",
        ),
        (
            |q| q.lines[0].product_id = "no-such-product".into(),
            "quote.lines[0].product_id",
        ),
    ];
    for (change, field) in cases {
        expect_invalid(create_quote(&o.rep1, bad(change)).await, field);
    }
    let past = Quote {
        valid_until: day_after(&suite, -1),
        ..draft.clone()
    };
    expect_invalid(create_quote(&o.rep1, past).await, "quote.valid_until");
    // A deal the rep does not see is refused like none.
    let rep2_deal = self::deal(&admin, &o.rep2, "Rep two's customer").await;
    let theirs = Quote {
        opportunity_id: rep2_deal.id.clone(),
        ..draft.clone()
    };
    expect_invalid(create_quote(&o.rep1, theirs).await, "quote.opportunity_id");
    let listed = o
        .rep1
        .sales()
        .list_quotes(ListQuotesRequest::default())
        .await
        .unwrap()
        .into_inner()
        .quotes;
    assert!(listed.is_empty(), "a refused create wrote {listed:?}");

    // Priced exactly: the pump at its volume break, each line rounded half away from zero.
    let quote = create_quote(&o.rep1, draft.clone()).await.unwrap();
    assert_eq!(
        (
            quote.number.as_str(),
            quote.revision,
            quote.owner_id.as_str()
        ),
        ("Q-000001", 1, o.rep1.user_id.as_str())
    );
    assert_eq!(quote.account_id, deal.account_id);
    assert_eq!(quote.status, QuoteStatus::Draft as i32);
    let figures = |l: &LineItem| {
        [
            amount(&l.unit_price),
            amount(&l.list_price),
            amount(&l.gross_amount),
            amount(&l.discount_amount),
            amount(&l.net_amount),
            amount(&l.tax_amount),
            amount(&l.total_amount),
        ]
    };
    // 12 × 95.00 = 1,140.00; less 5% = 1,083.00; VAT 13% = 140.79.
    assert_eq!(
        figures(&quote.lines[0]),
        [
            "95.00", "95.00", "1140.00", "57.00", "1083.00", "140.79", "1223.79"
        ]
    );
    // 3 × 33.33 = 99.99; less 12.5% = 87.49125 → 87.49; VAT 6% = 5.2494 → 5.25.
    assert_eq!(
        figures(&quote.lines[1]),
        ["33.33", "33.33", "99.99", "12.50", "87.49", "5.25", "92.74"]
    );
    assert_eq!(
        (
            quote.lines[0].product_code.as_str(),
            quote.lines[0].description.as_str()
        ),
        ("PUMP-1", "Booster pump")
    );
    assert_eq!(
        [
            amount(&quote.gross_total),
            amount(&quote.discount_total),
            amount(&quote.net_total),
            amount(&quote.tax_total),
            amount(&quote.total),
        ],
        ["1239.99", "69.50", "1170.49", "146.04", "1316.53"]
    );
    assert_eq!(quote.max_discount_percent, "12.5");
    assert_eq!(quote.approval_level, 1);
    assert_eq!(
        quote.approval_reasons,
        ["a discount of 12.5% is above 10% (level 1)"]
    );

    // Another tenant naming the deal is refused like a stranger's deal.
    expect_invalid(
        create_quote(&other, draft.clone()).await,
        "quote.opportunity_id",
    );
    // Concurrent creates take distinct numbers.
    let (a, b, c) = tokio::join!(
        create_quote(&o.rep1, draft.clone()),
        create_quote(&o.rep1, draft.clone()),
        create_quote(&o.rep1, draft.clone()),
    );
    let mut numbers = vec![a.unwrap(), b.unwrap(), c.unwrap()]
        .into_iter()
        .map(|q| (q.number, q.id))
        .collect::<Vec<_>>();
    numbers.sort();
    let taken: Vec<&str> = numbers.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(taken, ["Q-000002", "Q-000003", "Q-000004"]);
    let list = |session: &Session, filter: &str| {
        let (session, filter) = (session.clone(), filter.to_owned());
        async move {
            session
                .sales()
                .list_quotes(ListQuotesRequest {
                    filter,
                    ..Default::default()
                })
                .await
                .map(|r| r.into_inner().quotes.len())
        }
    };
    assert_eq!(list(&o.rep1, "").await.unwrap(), 4);
    assert_eq!(
        list(&o.manager, "status = QUOTE_STATUS_DRAFT")
            .await
            .unwrap(),
        4
    );
    assert_eq!(list(&o.rep2, "").await.unwrap(), 0);
    assert_eq!(list(&other, "").await.unwrap(), 0);
    expect_invalid(list(&o.rep1, "colour = \"red\"").await, "filter");
    // A spare is deleted and restored by its owner only.
    let spare = numbers[2].1.clone();
    let delete = |session: &Session, deleted: bool| {
        let (session, id) = (session.clone(), spare.clone());
        async move {
            let sales = session.sales();
            if deleted {
                sales
                    .clone()
                    .delete_quote(DeleteQuoteRequest {
                        id,
                        ..Default::default()
                    })
                    .await
                    .map(|_| ())
            } else {
                sales
                    .clone()
                    .undelete_quote(UndeleteQuoteRequest {
                        id,
                        ..Default::default()
                    })
                    .await
                    .map(|_| ())
            }
        }
    };
    for stranger in [&o.rep2, &other] {
        expect_code(delete(stranger, true).await, Code::NotFound);
    }
    delete(&o.rep1, true).await.unwrap();
    expect_code(delete(&o.rep1, true).await, Code::FailedPrecondition);
    for stranger in [&o.rep2, &other] {
        expect_code(delete(stranger, false).await, Code::NotFound);
    }
    delete(&o.rep1, false).await.unwrap();

    // Others do not see it or change it; a stale etag is refused; a draft is not sent.
    for stranger in [&o.rep2, &o.outsider, &other] {
        expect_code(get_quote(stranger, &quote.id).await, Code::NotFound);
        expect_code(submit_quote(stranger, &quote.id, "").await, Code::NotFound);
        let changed = stranger
            .sales()
            .update_quote(UpdateQuoteRequest {
                quote: Some(Quote {
                    id: quote.id.clone(),
                    note: "mine now".into(),
                    ..Default::default()
                }),
                update_mask: None,
                request_id: String::new(),
            })
            .await;
        expect_code(changed, Code::NotFound);
    }
    let recurrency = o
        .rep1
        .sales()
        .update_quote(UpdateQuoteRequest {
            quote: Some(Quote {
                id: quote.id.clone(),
                currency_code: "USD".into(),
                ..Default::default()
            }),
            update_mask: None,
            request_id: String::new(),
        })
        .await;
    expect_invalid(recurrency, "quote.currency_code");
    let stale = o
        .rep1
        .sales()
        .update_quote(UpdateQuoteRequest {
            quote: Some(Quote {
                id: quote.id.clone(),
                etag: "\"999\"".into(),
                note: "call first".into(),
                ..Default::default()
            }),
            update_mask: Some(prost_types::FieldMask {
                paths: vec!["note".into()],
            }),
            request_id: String::new(),
        })
        .await;
    expect_code(stale, Code::Aborted);
    assert_eq!(
        state_reason(&send_quote(&o.rep1, &quote.id).await.unwrap_err()),
        "QUOTE_STATUS"
    );

    // Submitted: pending on the manager; a replay answers the same and opens nothing more.
    let submitted = submit_when_approvers_known(&o.rep1, &quote.id, "submit-once").await;
    let request = submitted.approval_request.clone().unwrap();
    assert_eq!(
        submitted.quote.as_ref().unwrap().status,
        QuoteStatus::PendingApproval as i32
    );
    assert_eq!(request.approver_id, o.manager.user_id);
    assert_eq!(request.steps.len(), 1);
    assert_eq!(request.subject_display_name, "Q-000001 rev 1");
    assert_eq!(amount(&request.amount), "1316.53");
    let replayed = submit_quote(&o.rep1, &quote.id, "submit-once")
        .await
        .unwrap();
    assert_eq!(replayed, submitted);
    let resubmitted = submit_quote(&o.rep1, &quote.id, "submit-twice").await;
    assert_eq!(state_reason(&resubmitted.unwrap_err()), "QUOTE_STATUS");
    let edit = o
        .rep1
        .sales()
        .update_quote(UpdateQuoteRequest {
            quote: Some(Quote {
                id: quote.id.clone(),
                note: "changed".into(),
                ..Default::default()
            }),
            update_mask: None,
            request_id: String::new(),
        })
        .await
        .unwrap_err();
    assert_eq!(state_reason(&edit), "QUOTE_NOT_DRAFT");

    // The inbox is the manager's; the rep follows it but does not decide; strangers see none.
    let waiting = list_approval_inbox(&o.manager).await;
    assert_eq!(
        waiting.iter().map(|r| r.id.as_str()).collect::<Vec<_>>(),
        [request.id.as_str()]
    );
    assert!(list_approval_inbox(&o.rep1).await.is_empty());
    expect_code(
        decide_approval_request(&o.rep1, &request.id, ApprovalDecision::Approve, "", "").await,
        Code::PermissionDenied,
    );
    for stranger in [&o.rep2, &other] {
        let found = stranger
            .sales()
            .get_approval_request(GetApprovalRequestRequest {
                id: request.id.clone(),
            })
            .await;
        expect_code(found, Code::NotFound);
    }
    expect_code(
        decide_approval_request(&other, &request.id, ApprovalDecision::Approve, "", "").await,
        Code::NotFound,
    );
    assert!(list_approval_inbox(&other).await.is_empty());
    let seen = o
        .manager
        .sales()
        .get_approval_request(GetApprovalRequestRequest {
            id: request.id.clone(),
        })
        .await
        .unwrap()
        .into_inner()
        .approval_request
        .unwrap();
    assert_eq!(seen, request);
    let requests = |session: &Session| {
        let (session, filter) = (session.clone(), format!("subject_id = \"{}\"", quote.id));
        async move {
            session
                .sales()
                .list_approval_requests(ListApprovalRequestsRequest {
                    filter,
                    ..Default::default()
                })
                .await
                .map(|r| r.into_inner().approval_requests.len())
        }
    };
    assert_eq!(requests(&o.rep1).await.unwrap(), 1);
    assert_eq!(requests(&o.manager).await.unwrap(), 1);
    assert_eq!(requests(&o.rep2).await.unwrap(), 0);
    assert_eq!(requests(&other).await.unwrap(), 0);
    expect_invalid(
        decide_approval_request(&o.manager, &request.id, ApprovalDecision::Reject, " ", "").await,
        "comment",
    );
    expect_invalid(
        decide_approval_request(
            &o.manager,
            &request.id,
            ApprovalDecision::Unspecified,
            "",
            "",
        )
        .await,
        "decision",
    );

    // Two decisions at once: one wins, the other finds it decided.
    let (a, b) = tokio::join!(
        decide_approval_request(
            &o.manager,
            &request.id,
            ApprovalDecision::Approve,
            "ok",
            "first"
        ),
        decide_approval_request(
            &o.manager,
            &request.id,
            ApprovalDecision::Reject,
            "no",
            "second"
        ),
    );
    let (won, lost) = match (a, b) {
        (Ok(won), Err(lost)) | (Err(lost), Ok(won)) => (won, lost),
        other => panic!("expected one winner, got {other:?}"),
    };
    assert_eq!(state_reason(&lost), "APPROVAL_DECIDED");
    let expected_status = if won.steps[0].decision == ApprovalDecision::Approve as i32 {
        ApprovalStatus::Approved
    } else {
        ApprovalStatus::Rejected
    };
    assert_eq!(won.status, expected_status as i32);
    // The winner's replay answers the same.
    let replay_request = if expected_status == ApprovalStatus::Approved {
        ("first", ApprovalDecision::Approve, "ok")
    } else {
        ("second", ApprovalDecision::Reject, "no")
    };
    let again = decide_approval_request(
        &o.manager,
        &request.id,
        replay_request.1,
        replay_request.2,
        replay_request.0,
    )
    .await
    .unwrap();
    assert_eq!(again, won);
    assert!(list_approval_inbox(&o.manager).await.is_empty());
    let mut current = get_quote(&o.rep1, &quote.id).await.unwrap();
    if expected_status == ApprovalStatus::Rejected {
        // Rejected: back to draft; resubmitted and approved this time.
        assert_eq!(current.status, QuoteStatus::Draft as i32);
        let again = submit_quote(&o.rep1, &quote.id, "").await.unwrap();
        let request = again.approval_request.unwrap();
        decide_approval_request(&o.manager, &request.id, ApprovalDecision::Approve, "ok", "")
            .await
            .unwrap();
        current = get_quote(&o.rep1, &quote.id).await.unwrap();
    }
    assert_eq!(current.status, QuoteStatus::Approved as i32);

    // Sent and accepted; nothing moves it further.
    let sent = send_quote(&o.rep1, &quote.id).await.unwrap();
    assert_eq!(sent.status, QuoteStatus::Sent as i32);
    assert!(sent.send_time.is_some());
    let rejected_without_reason = o
        .rep1
        .sales()
        .reject_quote(RejectQuoteRequest {
            id: quote.id.clone(),
            ..Default::default()
        })
        .await;
    expect_invalid(rejected_without_reason, "reason");
    let accepted = accept_quote(&o.rep1, &quote.id).await.unwrap();
    assert_eq!(accepted.status, QuoteStatus::Accepted as i32);
    assert_eq!(
        state_reason(&accept_quote(&o.rep1, &quote.id).await.unwrap_err()),
        "QUOTE_STATUS"
    );
    let revise = o
        .rep1
        .sales()
        .revise_quote(ReviseQuoteRequest {
            id: quote.id.clone(),
            request_id: String::new(),
        })
        .await
        .unwrap_err();
    assert_eq!(state_reason(&revise), "QUOTE_STATUS");

    // The document carries what a template prints.
    let document = o
        .rep1
        .sales()
        .get_quote_document(GetQuoteDocumentRequest {
            id: quote.id.clone(),
        })
        .await
        .unwrap()
        .into_inner()
        .document
        .unwrap();
    assert_eq!(document.account.unwrap().display_name, "华强电子");
    assert_eq!(
        document
            .lines
            .iter()
            .map(|l| (l.position, l.product_name.as_str()))
            .collect::<Vec<_>>(),
        [(1, "Booster pump"), (2, "Check valve")]
    );
    assert_eq!(document.approvals.len(), 1);
    assert_eq!(document.approvals[0].approver_id, o.manager.user_id);
    assert_eq!(amount(&document.quote.unwrap().total), "1316.53");
    expect_code(
        other
            .sales()
            .get_quote_document(GetQuoteDocumentRequest { id: quote.id })
            .await,
        Code::NotFound,
    );
}

/// Two levels: a total above 500,000 goes to the manager, then the director above; a line
/// below cost needs approval whatever the rules; a rejection returns the quote to draft; a
/// revision supersedes it; a sent quote expires once when the clock passes its day.
async fn levels_revisions_and_expiry(mode: Mode) {
    let suite = Suite::builder(mode)
        .env(&[("CRM_JOBS_INTERVAL_SECS", "1")])
        .start()
        .await;
    let admin = suite.admin().await;
    let o = org::build(&suite, admin.clone(), "levels").await;
    let (pump, _) = catalogue(&admin).await;
    policy(&admin).await;
    // A director above North.
    let director = org::user(
        &suite,
        &admin,
        "director@levels.example",
        "sales_manager",
        &[],
    )
    .await;
    let top = admin
        .identity()
        .create_team(crm_proto::identity::CreateTeamRequest {
            request_id: String::new(),
            team: Some(crm_proto::identity::Team {
                display_name: "Sales".into(),
                manager_user_id: director.user_id.clone(),
                ..Default::default()
            }),
        })
        .await
        .unwrap()
        .into_inner()
        .team
        .unwrap();
    let north_id = org::team_of(&admin, &o.rep1.user_id).await;
    admin
        .identity()
        .update_team(crm_proto::identity::UpdateTeamRequest {
            team: Some(crm_proto::identity::Team {
                id: north_id,
                parent_team_id: top.id.clone(),
                ..Default::default()
            }),
            update_mask: Some(prost_types::FieldMask {
                paths: vec!["parent_team_id".into()],
            }),
            request_id: String::new(),
        })
        .await
        .unwrap();
    // The director's principal now covers North.
    let director = Session::login(&suite, "director@levels.example", support::ADMIN_PASSWORD)
        .await
        .unwrap();

    // rep2 (North-East, no manager of its own) quotes 6,000 pumps below cost.
    let deal = deal(&admin, &o.rep2, "Big plant").await;
    let below_cost = Quote {
        opportunity_id: deal.id.clone(),
        display_name: "Plant".into(),
        currency_code: "CNY".into(),
        valid_until: day_after(&suite, 10),
        lines: vec![LineItem {
            unit_price: money("CNY", "79.99"),
            ..line(&pump, "6000", "")
        }],
        ..Default::default()
    };
    let quote = create_quote(&o.rep2, below_cost).await.unwrap();
    assert!(quote.lines[0].below_cost);
    assert_eq!(amount(&quote.net_total), "479940.00");
    // 479,940.00 + 13% = 542,332.20: above 500,000.
    assert_eq!(amount(&quote.total), "542332.20");
    assert_eq!(quote.approval_level, 2);
    assert_eq!(
        quote.approval_reasons,
        [
            "a line is priced below cost",
            "the total of CNY 542332.20 is above CNY 100000.00 (level 1)",
            "the total of CNY 542332.20 is above CNY 500000.00 (level 2)",
        ]
    );
    // Level 2 has no approver until identity's change of North reaches sales.
    let submitted = submit_when_approvers_known(&o.rep2, &quote.id, "")
        .await
        .approval_request
        .unwrap();
    let approvers: Vec<_> = submitted
        .steps
        .iter()
        .map(|s| s.approver_id.clone())
        .collect();
    assert_eq!(
        approvers,
        [o.manager.user_id.clone(), director.user_id.clone()]
    );
    // The director's step is not yet theirs; the manager approves level 1.
    assert!(list_approval_inbox(&director).await.is_empty());
    let not_yet =
        decide_approval_request(&director, &submitted.id, ApprovalDecision::Approve, "", "").await;
    assert_eq!(
        reason(&expect_code(not_yet, Code::PermissionDenied)),
        "NOT_THE_APPROVER"
    );
    let first = decide_approval_request(
        &o.manager,
        &submitted.id,
        ApprovalDecision::Approve,
        "fine by me",
        "",
    )
    .await
    .unwrap();
    assert_eq!(first.status, ApprovalStatus::Pending as i32);
    assert_eq!(first.approver_id, director.user_id);
    assert_eq!(
        get_quote(&o.rep2, &quote.id).await.unwrap().status,
        QuoteStatus::PendingApproval as i32
    );
    // The director rejects: the quote is a draft again, with the decision on record.
    let rejected = decide_approval_request(
        &director,
        &submitted.id,
        ApprovalDecision::Reject,
        "below cost",
        "",
    )
    .await
    .unwrap();
    assert_eq!(rejected.status, ApprovalStatus::Rejected as i32);
    assert_eq!(rejected.steps[1].comment, "below cost");
    let back = get_quote(&o.rep2, &quote.id).await.unwrap();
    assert_eq!(back.status, QuoteStatus::Draft as i32);

    // Revised: revision 2 of the same number, repriced; the first is superseded.
    let revised = o
        .rep2
        .sales()
        .revise_quote(ReviseQuoteRequest {
            id: quote.id.clone(),
            request_id: "revise-1".into(),
        })
        .await
        .unwrap()
        .into_inner()
        .quote
        .unwrap();
    assert_eq!(
        (revised.number.as_str(), revised.revision),
        (quote.number.as_str(), 2)
    );
    assert_eq!(revised.previous_revision_id, quote.id);
    assert_eq!(revised.status, QuoteStatus::Draft as i32);
    let old = get_quote(&o.rep2, &quote.id).await.unwrap();
    assert_eq!(old.status, QuoteStatus::Superseded as i32);
    assert_eq!(old.superseded_by_id, revised.id);
    let again = o
        .rep2
        .sales()
        .revise_quote(ReviseQuoteRequest {
            id: quote.id.clone(),
            request_id: String::new(),
        })
        .await
        .unwrap_err();
    assert_eq!(state_reason(&again), "QUOTE_SUPERSEDED");
    // The new revision, at list price and 20 pumps, needs no approval.
    let small = o
        .rep2
        .sales()
        .update_quote(UpdateQuoteRequest {
            quote: Some(Quote {
                id: revised.id.clone(),
                lines: vec![line(&pump, "20", "")],
                ..Default::default()
            }),
            update_mask: Some(prost_types::FieldMask {
                paths: vec!["lines".into()],
            }),
            request_id: String::new(),
        })
        .await
        .unwrap()
        .into_inner()
        .quote
        .unwrap();
    // 20 × 95.00 = 1,900.00 + 13% = 2,147.00.
    assert_eq!(amount(&small.total), "2147.00");
    assert_eq!(small.approval_level, 0);
    let approved = submit_quote(&o.rep2, &small.id, "").await.unwrap();
    assert!(approved.approval_request.is_none());
    assert_eq!(approved.quote.unwrap().status, QuoteStatus::Approved as i32);
    send_quote(&o.rep2, &small.id).await.unwrap();

    // Eleven days on, the sweep expires it, once.
    suite
        .advance_clock(Duration::from_micros((11 * DAY) as u64))
        .await;
    let expired = || async {
        suite
            .outbox::<SalesEvent>("sales")
            .await
            .into_iter()
            .filter(|e| e.r#type == SalesEventType::QuoteExpired as i32)
            .filter_map(|e| match e.subject {
                Some(sales_event::Subject::Quote(q)) => Some(q.id),
                _ => None,
            })
            .collect::<Vec<_>>()
    };
    eventually("the quote expiring", || async {
        (!expired().await.is_empty()).then_some(())
    })
    .await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(expired().await, std::slice::from_ref(&small.id));
    let rep2 = Session::login(&suite, "rep2@levels.example", support::ADMIN_PASSWORD)
        .await
        .unwrap();
    let lapsed = eventually("the expiry read back", || async {
        let q = get_quote(&rep2, &small.id).await.unwrap();
        (q.status == QuoteStatus::Expired as i32).then_some(q)
    })
    .await;
    assert!(lapsed.close_time.is_some());
    assert_eq!(
        state_reason(&accept_quote(&rep2, &small.id).await.unwrap_err()),
        "QUOTE_STATUS"
    );
    // The quote's history keeps the rep's steps and the system's expiry; rep1 sees none of it.
    let history = |session: &Session| {
        let session = session.clone();
        let id = small.id.clone();
        async move {
            session
                .sales()
                .list_audit_entries(ListAuditEntriesRequest {
                    resource_type: "quote".into(),
                    resource_id: id,
                    page_size: 50,
                    page_token: String::new(),
                })
                .await
                .map(|r| r.into_inner().entries)
        }
    };
    let entries = history(&rep2).await.unwrap();
    let newest = &entries[0];
    assert_eq!(
        (newest.action.as_str(), newest.actor_id.as_str()),
        ("expire", "system")
    );
    assert!(
        newest
            .changes
            .iter()
            .any(|c| c.field == "status" && c.after == "Expired"),
        "{newest:?}"
    );
    assert!(entries.iter().any(|e| e.actor_id == rep2.user_id));
    let rep1 = Session::login(&suite, "rep1@levels.example", support::ADMIN_PASSWORD)
        .await
        .unwrap();
    expect_code(history(&rep1).await, Code::NotFound);
}

/// The approval policy is the admin's, checked field by field, with its etag.
async fn the_policy_is_checked(mode: Mode) {
    let suite = Suite::start(mode).await;
    let admin = suite.admin().await;
    let o = org::build(&suite, admin.clone(), "policy").await;
    let update = |session: &Session, policy: ApprovalPolicy| {
        let session = session.clone();
        async move {
            session
                .sales()
                .update_approval_policy(UpdateApprovalPolicyRequest {
                    policy: Some(policy),
                })
                .await
        }
    };
    let rule = |level: i32, discount: &str, amount: Option<Money>| ApprovalPolicy {
        rules: vec![ApprovalRule {
            subject_kind: ApprovalSubjectKind::Quote as i32,
            level,
            discount_percent_above: discount.into(),
            amount_above: amount,
        }],
        ..Default::default()
    };
    expect_invalid(
        update(&admin, rule(3, "10", None)).await,
        "policy.rules[0].level",
    );
    expect_invalid(
        update(&admin, rule(1, "120", None)).await,
        "policy.rules[0].discount_percent_above",
    );
    expect_invalid(
        update(&admin, rule(1, "", money("USD", "10"))).await,
        "policy.rules[0].amount_above.currency_code",
    );
    expect_invalid(update(&admin, rule(1, "", None)).await, "policy.rules[0]");
    expect_code(
        update(&o.manager, rule(1, "10", None)).await,
        Code::PermissionDenied,
    );
    let stored = update(&admin, rule(1, "10", None))
        .await
        .unwrap()
        .into_inner()
        .policy
        .unwrap();
    let stale = ApprovalPolicy {
        etag: "\"0\"".into(),
        ..rule(2, "20", None)
    };
    expect_code(update(&admin, stale).await, Code::Aborted);
    let read = o
        .rep1
        .sales()
        .get_approval_policy(GetApprovalPolicyRequest {})
        .await
        .unwrap()
        .into_inner()
        .policy
        .unwrap();
    assert_eq!(read, stored);
    // Another tenant has its own policy: none.
    let other = org::other_tenant(&suite, &admin, "policy-other").await;
    let theirs = other
        .sales()
        .get_approval_policy(GetApprovalPolicyRequest {})
        .await
        .unwrap()
        .into_inner()
        .policy
        .unwrap();
    assert!(theirs.rules.is_empty());
}

both_modes!(
    a_quote_is_priced_approved_and_accepted,
    levels_revisions_and_expiry,
    the_policy_is_checked
);
