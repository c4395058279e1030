//! Leads end to end through the gateway: captured by a web form's API key, de-duplicated,
//! scored and assigned by the tenant's rules, worked through their statuses, and converted
//! into an account, a contact and an opportunity, safely retried after a failure between the
//! steps; under the caller's data scope and tenant.

// Helpers panic on purpose: a failed step is a failed test with a clear message.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::support;

use std::collections::BTreeMap;

use tonic::Code;

use crm_proto::contacts::ListAccountsRequest;
use crm_proto::identity::CreateApiKeyRequest;
use crm_proto::sales::*;
use support::clients::{Session, expect_code, expect_invalid, reason, violations};
use support::{Mode, Suite, org};

/// The fault point between the contact and the sales transaction fires once per process.
const CRASH_AFTER_CONTACT: (&str, &str) = ("FAILPOINTS", "lead-conversion-after-contact=1*return");

fn web_lead(name: &str, email: &str, company: &str) -> Lead {
    Lead {
        display_name: name.into(),
        email: email.into(),
        company_name: company.into(),
        source: LeadSource::WebForm as i32,
        ..Default::default()
    }
}

async fn capture(session: &Session, lead: Lead) -> Result<CaptureLeadResponse, tonic::Status> {
    Ok(session
        .sales()
        .capture_lead(CaptureLeadRequest {
            lead: Some(lead),
            request_id: String::new(),
        })
        .await?
        .into_inner())
}

async fn create_lead(session: &Session, lead: Lead) -> Result<Lead, tonic::Status> {
    Ok(session
        .sales()
        .create_lead(CreateLeadRequest {
            lead: Some(lead),
            request_id: String::new(),
            allow_duplicates: false,
        })
        .await?
        .into_inner()
        .lead
        .unwrap())
}

async fn get_lead(session: &Session, id: &str) -> Result<Lead, tonic::Status> {
    Ok(session
        .sales()
        .get_lead(GetLeadRequest { id: id.into() })
        .await?
        .into_inner()
        .lead
        .unwrap())
}

/// Changes the masked fields of a lead.
async fn change(
    session: &Session,
    current: &Lead,
    input: Lead,
    paths: &[&str],
) -> Result<Lead, tonic::Status> {
    Ok(session
        .sales()
        .update_lead(UpdateLeadRequest {
            lead: Some(Lead {
                id: current.id.clone(),
                etag: current.etag.clone(),
                ..input
            }),
            update_mask: Some(prost_types::FieldMask {
                paths: paths.iter().map(|p| p.to_string()).collect(),
            }),
            request_id: String::new(),
            allow_duplicates: false,
        })
        .await?
        .into_inner()
        .lead
        .unwrap())
}

async fn set_status(session: &Session, current: &Lead, status: LeadStatus) -> Lead {
    change(
        session,
        current,
        Lead {
            status: status as i32,
            ..Default::default()
        },
        &["status"],
    )
    .await
    .unwrap()
}

async fn convert(
    session: &Session,
    lead_id: &str,
    opportunity: Option<Opportunity>,
) -> Result<Lead, tonic::Status> {
    Ok(session
        .sales()
        .convert_lead(ConvertLeadRequest {
            lead_id: lead_id.into(),
            account_id: String::new(),
            opportunity,
        })
        .await?
        .into_inner()
        .lead
        .unwrap())
}

async fn set_rules(session: &Session, rules: LeadRules) -> Result<LeadRules, tonic::Status> {
    Ok(session
        .sales()
        .update_lead_rules(UpdateLeadRulesRequest { rules: Some(rules) })
        .await?
        .into_inner()
        .rules
        .unwrap())
}

fn scoring() -> LeadScoring {
    LeadScoring {
        sources: vec![SourcePoints {
            source: LeadSource::WebForm as i32,
            points: 20,
        }],
        fields: vec![
            FieldPoints {
                field: LeadScoredField::Email as i32,
                points: 5,
            },
            FieldPoints {
                field: LeadScoredField::CompanyName as i32,
                points: 10,
            },
        ],
        points_per_interaction: 7,
    }
}

fn assignment(mode: LeadAssignmentMode, users: &[&str]) -> LeadAssignment {
    LeadAssignment {
        mode: mode as i32,
        user_ids: users.iter().map(|u| u.to_string()).collect(),
        territories: Vec::new(),
    }
}

/// A key of `admin`'s tenant that may capture leads and do nothing else.
async fn capture_key(suite: &Suite, admin: &Session) -> Session {
    let key = admin
        .identity()
        .create_api_key(CreateApiKeyRequest {
            display_name: "Web form".into(),
            user_id: String::new(),
            permissions: vec!["sales.leads.capture".into()],
        })
        .await
        .unwrap()
        .into_inner();
    Session::api_key(suite, &key.secret).await
}

async fn accounts_named(session: &Session, name: &str) -> usize {
    session
        .contacts()
        .list_accounts(ListAccountsRequest {
            filter: format!("display_name = \"{name}\""),
            page_size: 100,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .accounts
        .len()
}

async fn pipeline(admin: &Session) -> Pipeline {
    let stage = |name: &str, probability: i32, kind: StageKind| Stage {
        display_name: name.into(),
        probability,
        kind: kind as i32,
        ..Default::default()
    };
    admin
        .sales()
        .create_pipeline(CreatePipelineRequest {
            pipeline: Some(Pipeline {
                display_name: "New business".into(),
                stages: vec![
                    stage("Discovery", 20, StageKind::Open),
                    stage("Won", 100, StageKind::Won),
                    stage("Lost", 0, StageKind::Lost),
                ],
                ..Default::default()
            }),
            request_id: String::new(),
        })
        .await
        .unwrap()
        .into_inner()
        .pipeline
        .unwrap()
}

/// A web-form lead captured with an API key, scored, assigned by round robin, worked to
/// qualified and converted, the conversion failing once between its steps and then
/// finished by a retry with no second account and no orphan opportunity.
async fn a_captured_lead_is_scored_assigned_and_converted(mode: Mode) {
    let suite = Suite::builder(mode)
        .env(&[CRASH_AFTER_CONTACT])
        .start()
        .await;
    let admin = suite.admin().await;
    let o = org::build(&suite, admin.clone(), "leads").await;
    let other = org::other_tenant(&suite, &admin, "leads-other").await;
    let deals = pipeline(&admin).await;

    // The rules are the admin's, checked field by field.
    let bad = set_rules(
        &admin,
        LeadRules {
            scoring: Some(LeadScoring {
                points_per_interaction: 5000,
                ..scoring()
            }),
            assignment: Some(assignment(LeadAssignmentMode::Territory, &[])),
            ..Default::default()
        },
    )
    .await;
    let bad = expect_code(bad, Code::InvalidArgument);
    assert_eq!(
        violations(&bad),
        [
            "rules.scoring.points_per_interaction",
            "rules.assignment.territories"
        ]
    );
    let rules = LeadRules {
        scoring: Some(scoring()),
        assignment: Some(assignment(
            LeadAssignmentMode::RoundRobin,
            &[&o.rep1.user_id, &o.rep2.user_id],
        )),
        ..Default::default()
    };
    expect_code(
        set_rules(&o.rep1, rules.clone()).await,
        Code::PermissionDenied,
    );
    let stored = set_rules(&admin, rules.clone()).await.unwrap();
    let stale = LeadRules {
        etag: "\"1\"".into(),
        ..stored.clone()
    };
    set_rules(&admin, stored.clone()).await.unwrap();
    expect_code(set_rules(&admin, stale).await, Code::Aborted);
    let seen = o
        .rep1
        .sales()
        .get_lead_rules(GetLeadRulesRequest {})
        .await
        .unwrap()
        .into_inner()
        .rules
        .unwrap();
    assert_eq!(seen.scoring, rules.scoring);
    let theirs = other
        .sales()
        .get_lead_rules(GetLeadRulesRequest {})
        .await
        .unwrap()
        .into_inner()
        .rules
        .unwrap();
    assert_eq!(
        theirs.scoring.unwrap().sources,
        [],
        "rules stay in their tenant"
    );

    // The web form's key files leads and nothing else.
    let form = capture_key(&suite, &admin).await;
    let first = capture(&form, web_lead("王伟", "wang.wei@huaqiang.cn", "华强电子"))
        .await
        .unwrap();
    assert!(!first.duplicate);
    let second = capture(&form, web_lead("Li Na", "li.na@example.cn", ""))
        .await
        .unwrap();
    let again = capture(&form, web_lead("王伟", "Wang.Wei@HUAQIANG.cn", "华强电子"))
        .await
        .unwrap();
    assert_eq!(
        (again.lead_id.as_str(), again.duplicate),
        (first.lead_id.as_str(), true),
        "a resubmission files nothing new"
    );
    expect_invalid(
        capture(&form, web_lead("Nobody", "", "")).await,
        "lead.email",
    );
    expect_invalid(
        capture(&form, web_lead("Bad", "not-an-email", "")).await,
        "lead.email",
    );
    expect_code(
        get_lead(&form, &first.lead_id).await,
        Code::PermissionDenied,
    );
    expect_code(
        create_lead(&form, web_lead("x", "x@example.cn", "")).await,
        Code::PermissionDenied,
    );

    // Round robin gave the first to rep1 and the second to rep2; each sees only their own.
    let lead = get_lead(&o.rep1, &first.lead_id).await.unwrap();
    assert_eq!(lead.owner_id, o.rep1.user_id);
    assert_eq!(lead.status, LeadStatus::New as i32);
    assert_eq!(lead.score, 20 + 5 + 10, "web form, email, company");
    let other_lead = get_lead(&o.rep2, &second.lead_id).await.unwrap();
    assert_eq!(other_lead.owner_id, o.rep2.user_id);
    assert_eq!(other_lead.score, 20 + 5);
    for (session, id) in [
        (&o.rep2, &first.lead_id),
        (&o.rep1, &second.lead_id),
        (&other, &first.lead_id),
    ] {
        expect_code(get_lead(session, id).await, Code::NotFound);
    }
    let hottest = admin
        .sales()
        .list_leads(ListLeadsRequest {
            order_by: "score desc".into(),
            filter: "score >= 25".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .leads;
    let ids: Vec<&str> = hottest.iter().map(|l| l.id.as_str()).collect();
    assert_eq!(ids, [first.lead_id.as_str(), second.lead_id.as_str()]);
    expect_invalid(
        admin
            .sales()
            .list_leads(ListLeadsRequest {
                order_by: "email".into(),
                ..Default::default()
            })
            .await,
        "order_by",
    );

    // An interaction makes a new lead contacted and adds its points.
    let contacted = o
        .rep1
        .sales()
        .record_lead_interaction(RecordLeadInteractionRequest {
            lead_id: lead.id.clone(),
            request_id: "call-1".into(),
        })
        .await
        .unwrap()
        .into_inner()
        .lead
        .unwrap();
    assert_eq!(contacted.status, LeadStatus::Contacted as i32);
    assert_eq!((contacted.interaction_count, contacted.score), (1, 42));
    expect_code(
        o.rep2
            .sales()
            .record_lead_interaction(RecordLeadInteractionRequest {
                lead_id: lead.id.clone(),
                request_id: String::new(),
            })
            .await,
        Code::NotFound,
    );

    // Every move the status machine does not allow is refused with its field.
    for (status, field) in [
        (LeadStatus::New, "lead.status"),
        (LeadStatus::Converted, "lead.status"),
        (LeadStatus::Disqualified, "lead.disqualify_reason"),
    ] {
        let moved = change(
            &o.rep1,
            &contacted,
            Lead {
                status: status as i32,
                ..Default::default()
            },
            &["status"],
        )
        .await;
        expect_invalid(moved, field);
    }
    let not_yet = expect_code(
        convert(&o.rep1, &contacted.id, None).await,
        Code::FailedPrecondition,
    );
    assert_eq!(reason(&not_yet), "LEAD_NOT_QUALIFIED");
    let qualified = set_status(&o.rep1, &contacted, LeadStatus::Qualified).await;
    expect_code(
        change(
            &o.rep1,
            &contacted,
            Lead {
                title: "CTO".into(),
                ..Default::default()
            },
            &["title"],
        )
        .await,
        Code::Aborted,
    );

    // The conversion fails once between the contact and the sales transaction (the fault
    // point), leaving the lead qualified; the retry finishes it with the same customers.
    let deal = Opportunity {
        pipeline_id: deals.id.clone(),
        ..Default::default()
    };
    expect_code(
        convert(&o.rep2, &qualified.id, Some(deal.clone())).await,
        Code::NotFound,
    );
    expect_code(
        convert(&o.rep1, &qualified.id, Some(deal.clone())).await,
        Code::Unavailable,
    );
    let after_crash = get_lead(&o.rep1, &qualified.id).await.unwrap();
    assert_eq!(after_crash.status, LeadStatus::Qualified as i32);
    assert!(after_crash.conversion.is_none());
    let opportunities = |session: Session| async move {
        session
            .sales()
            .list_opportunities(ListOpportunitiesRequest::default())
            .await
            .unwrap()
            .into_inner()
            .opportunities
    };
    assert!(
        opportunities(o.rep1.clone()).await.is_empty(),
        "no orphan opportunity"
    );
    assert_eq!(accounts_named(&o.rep1, "华强电子").await, 1);

    let converted = convert(&o.rep1, &qualified.id, Some(deal.clone()))
        .await
        .unwrap();
    assert_eq!(converted.status, LeadStatus::Converted as i32);
    let conversion = converted.conversion.clone().unwrap();
    assert_eq!(
        accounts_named(&o.rep1, "华强电子").await,
        1,
        "no second account"
    );
    let account = o.rep1.get_account(&conversion.account_id).await;
    assert_eq!(account.owner_id, o.rep1.user_id);
    let contact = o.rep1.get_contact(&conversion.contact_id).await;
    assert_eq!(
        (contact.display_name.as_str(), contact.account_id.as_str()),
        ("王伟", conversion.account_id.as_str())
    );
    assert_eq!(contact.email, "wang.wei@huaqiang.cn");
    let opened = opportunities(o.rep1.clone()).await;
    assert_eq!(opened.len(), 1);
    assert_eq!(opened[0].id, conversion.opportunity_id);
    assert_eq!(
        (
            opened[0].display_name.as_str(),
            opened[0].account_id.as_str()
        ),
        ("华强电子", conversion.account_id.as_str())
    );
    assert_eq!(opened[0].owner_id, o.rep1.user_id);
    // Converting again answers the conversion; a converted lead no longer changes.
    let twice = convert(&o.rep1, &qualified.id, Some(deal.clone()))
        .await
        .unwrap();
    assert_eq!(twice.conversion, converted.conversion);
    assert_eq!(opportunities(o.rep1.clone()).await.len(), 1);
    let frozen = expect_code(
        change(
            &o.rep1,
            &converted,
            Lead {
                title: "CTO".into(),
                ..Default::default()
            },
            &["title"],
        )
        .await,
        Code::FailedPrecondition,
    );
    assert_eq!(reason(&frozen), "LEAD_CONVERTED");
    // A converted lead no longer blocks its email.
    capture(&form, web_lead("王伟", "wang.wei@huaqiang.cn", "华强电子"))
        .await
        .map(|r| assert!(!r.duplicate))
        .unwrap();

    // A lead from a company the rep already has reuses its account.
    let known = o.rep2.create_account("Acme Robotics").await;
    let acme = create_lead(
        &o.rep2,
        web_lead("Bob", "bob@acme.example", "Acme Robotics"),
    )
    .await
    .unwrap();
    let acme = set_status(&o.rep2, &acme, LeadStatus::Qualified).await;
    let reused = convert(&o.rep2, &acme.id, None).await.unwrap();
    let conversion = reused.conversion.unwrap();
    assert_eq!(conversion.account_id, known.id);
    assert!(conversion.account_reused && !conversion.contact_reused);
    assert_eq!(conversion.opportunity_id, "");

    // The events tell reporting and marketing what happened.
    let events: Vec<SalesEvent> = suite.outbox("sales").await;
    let kinds: Vec<i32> = events.iter().map(|e| e.r#type).collect();
    for kind in [
        SalesEventType::LeadRulesUpdated,
        SalesEventType::LeadCreated,
        SalesEventType::LeadUpdated,
        SalesEventType::LeadConverted,
        SalesEventType::OpportunityCreated,
    ] {
        assert!(kinds.contains(&(kind as i32)), "no {kind:?} event");
    }
}

/// Leads created by agents: each bad field named, duplicates of open leads refused unless
/// allowed, disqualified with a reason and recycled, stale etags and replays, rescoring
/// when the rules change, and the caller's scope and tenant on every RPC.
async fn agents_work_their_leads(mode: Mode) {
    let suite = Suite::start(mode).await;
    let admin = suite.admin().await;
    let o = org::build(&suite, admin.clone(), "worked").await;
    let other = org::other_tenant(&suite, &admin, "worked-other").await;
    let phone_lead = |name: &str, phone: &str| Lead {
        display_name: name.into(),
        phone: phone.into(),
        source: LeadSource::Event as i32,
        ..Default::default()
    };
    for (input, field) in [
        (phone_lead("", "13800138000"), "lead.display_name"),
        (phone_lead("x", "12"), "lead.phone"),
        (
            Lead {
                source: 99,
                ..phone_lead("x", "")
            },
            "lead.source",
        ),
        (
            Lead {
                status: LeadStatus::Qualified as i32,
                ..phone_lead("x", "")
            },
            "lead.status",
        ),
        (
            Lead {
                owner_id: o.rep2.user_id.clone(),
                ..phone_lead("x", "")
            },
            "lead.owner_id",
        ),
    ] {
        expect_invalid(create_lead(&o.rep1, input).await, field);
    }
    let lead = create_lead(&o.rep1, phone_lead("Zhang San", "138 0013 8000"))
        .await
        .unwrap();
    assert_eq!(lead.phone, "+8613800138000");
    assert_eq!(
        (lead.owner_id.as_str(), lead.score),
        (o.rep1.user_id.as_str(), 0)
    );
    let taken = expect_code(
        create_lead(&o.rep2, phone_lead("Zhang", "+86 138 0013 8000")).await,
        Code::AlreadyExists,
    );
    assert_eq!(reason(&taken), "DUPLICATE_RECORD");
    // The manager sees the team's leads; another tenant does not.
    assert_eq!(get_lead(&o.manager, &lead.id).await.unwrap(), lead);
    expect_code(get_lead(&o.outsider, &lead.id).await, Code::NotFound);
    expect_code(get_lead(&other, &lead.id).await, Code::NotFound);
    for session in [&o.rep2, &other] {
        expect_code(
            change(
                session,
                &lead,
                Lead {
                    title: "x".into(),
                    ..Default::default()
                },
                &["title"],
            )
            .await,
            Code::NotFound,
        );
        expect_code(
            session
                .sales()
                .delete_lead(DeleteLeadRequest {
                    id: lead.id.clone(),
                    ..Default::default()
                })
                .await,
            Code::NotFound,
        );
    }

    // A lead of a person who is already a customer says so, to whoever sees the customer.
    let customer = o
        .rep1
        .contacts()
        .create_contact(crm_proto::contacts::CreateContactRequest {
            contact: Some(crm_proto::contacts::Contact {
                display_name: "Known buyer".into(),
                email: "buyer@known.cn".into(),
                ..Default::default()
            }),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .contact
        .unwrap();
    let email_lead = |name: &str| Lead {
        display_name: name.into(),
        email: "Buyer@Known.cn".into(),
        ..Default::default()
    };
    let unseen = create_lead(&o.rep2, email_lead("Seen by rep2"))
        .await
        .unwrap();
    assert_eq!(
        unseen.matched_contact_id, "",
        "rep2 cannot see rep1's customer"
    );
    o.rep2
        .sales()
        .delete_lead(DeleteLeadRequest {
            id: unseen.id.clone(),
            ..Default::default()
        })
        .await
        .unwrap();
    let known = create_lead(
        &o.rep1,
        Lead {
            matched_contact_id: "forged".into(),
            ..email_lead("Seen by rep1")
        },
    )
    .await
    .unwrap();
    assert_eq!(known.matched_contact_id, customer.id);
    // Captured leads: a key that may also read contacts has them matched; a capture-only key
    // files them unmatched (it may read nothing).
    let contact_of = |name: &str, email: &str| crm_proto::contacts::CreateContactRequest {
        contact: Some(crm_proto::contacts::Contact {
            display_name: name.into(),
            email: email.into(),
            ..Default::default()
        }),
        ..Default::default()
    };
    let oa_buyer = o
        .rep1
        .contacts()
        .create_contact(contact_of("OA buyer", "oa@known.cn"))
        .await
        .unwrap()
        .into_inner()
        .contact
        .unwrap();
    o.rep1
        .contacts()
        .create_contact(contact_of("Form buyer", "form@known.cn"))
        .await
        .unwrap();
    let oa_key = admin
        .identity()
        .create_api_key(CreateApiKeyRequest {
            display_name: "OA system".into(),
            user_id: String::new(),
            permissions: vec![
                "sales.leads.capture".into(),
                "contacts.contacts.read".into(),
            ],
        })
        .await
        .unwrap()
        .into_inner();
    let oa = Session::api_key(&suite, &oa_key.secret).await;
    let form = capture_key(&suite, &admin).await;
    let captured_match = |session: Session, email: &'static str| {
        let admin = admin.clone();
        async move {
            let lead = Lead {
                display_name: "Captured".into(),
                email: email.into(),
                ..Default::default()
            };
            let filed = capture(&session, lead).await.unwrap();
            assert!(!filed.duplicate);
            get_lead(&admin, &filed.lead_id)
                .await
                .unwrap()
                .matched_contact_id
        }
    };
    assert_eq!(captured_match(oa, "oa@known.cn").await, oa_buyer.id);
    assert_eq!(captured_match(form, "form@known.cn").await, "");

    // Disqualified with a reason, it frees its phone; recycled, it starts afresh.
    let dropped = change(
        &o.rep1,
        &lead,
        Lead {
            status: LeadStatus::Disqualified as i32,
            disqualify_reason: "No budget this year".into(),
            ..Default::default()
        },
        &["status", "disqualify_reason"],
    )
    .await
    .unwrap();
    let twin = create_lead(&o.rep2, phone_lead("Zhang", "+8613800138000"))
        .await
        .unwrap();
    expect_invalid(
        change(
            &o.rep1,
            &dropped,
            Lead {
                status: LeadStatus::Qualified as i32,
                ..Default::default()
            },
            &["status"],
        )
        .await,
        "lead.status",
    );
    // Recycled, it is open again, and the open twin makes it a duplicate until it goes.
    let recycle = change(
        &o.rep1,
        &dropped,
        Lead {
            status: LeadStatus::New as i32,
            ..Default::default()
        },
        &["status"],
    )
    .await;
    expect_code(recycle, Code::AlreadyExists);
    o.rep2
        .sales()
        .delete_lead(DeleteLeadRequest {
            id: twin.id.clone(),
            ..Default::default()
        })
        .await
        .unwrap();
    let recycled = set_status(&o.rep1, &dropped, LeadStatus::New).await;
    assert_eq!(recycled.disqualify_reason, "");

    // A stale etag is refused; a replayed request answers its first result.
    expect_code(
        change(
            &o.rep1,
            &lead,
            Lead {
                title: "x".into(),
                ..Default::default()
            },
            &["title"],
        )
        .await,
        Code::Aborted,
    );
    let replay = |title: &'static str| {
        let session = o.rep1.clone();
        let id = recycled.id.clone();
        async move {
            session
                .sales()
                .update_lead(UpdateLeadRequest {
                    lead: Some(Lead {
                        id,
                        title: title.into(),
                        ..Default::default()
                    }),
                    update_mask: Some(prost_types::FieldMask {
                        paths: vec!["title".into()],
                    }),
                    request_id: "retitle".into(),
                    allow_duplicates: false,
                })
                .await
        }
    };
    let titled = replay("Purchasing").await.unwrap().into_inner();
    assert_eq!(replay("Purchasing").await.unwrap().into_inner(), titled);
    expect_code(replay("Other").await, Code::InvalidArgument);

    // New rules rescore the open leads at once.
    let rescored = admin
        .sales()
        .update_lead_rules(UpdateLeadRulesRequest {
            rules: Some(LeadRules {
                scoring: Some(LeadScoring {
                    sources: vec![SourcePoints {
                        source: LeadSource::Event as i32,
                        points: 15,
                    }],
                    fields: vec![FieldPoints {
                        field: LeadScoredField::Phone as i32,
                        points: 3,
                    }],
                    points_per_interaction: 0,
                }),
                ..Default::default()
            }),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        rescored.rescored_leads, 1,
        "only Zhang's score moves: the deleted twin is not rescored, the known buyer's stays 0"
    );
    assert_eq!(get_lead(&o.rep1, &lead.id).await.unwrap().score, 18);
    let current = get_lead(&o.rep1, &lead.id).await.unwrap();
    let delete = |etag: &str, request_id: &str| {
        let session = o.rep1.clone();
        let request = DeleteLeadRequest {
            id: lead.id.clone(),
            etag: etag.into(),
            request_id: request_id.into(),
        };
        async move { session.sales().delete_lead(request).await }
    };
    expect_invalid(delete("junk", "").await, "etag");
    expect_code(delete(&lead.etag, "").await, Code::Aborted);
    let deleted = delete(&current.etag, "drop-zhang")
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        delete(&current.etag, "drop-zhang")
            .await
            .unwrap()
            .into_inner(),
        deleted,
        "a replayed delete answers the first"
    );
    let deleted = deleted.lead.unwrap();
    assert!(deleted.delete_time.is_some());
    expect_code(get_lead(&o.rep2, &lead.id).await, Code::NotFound);
    let undelete = |session: &Session, etag: &str| {
        let session = session.clone();
        let request = UndeleteLeadRequest {
            id: lead.id.clone(),
            etag: etag.into(),
            request_id: "restore-zhang".into(),
        };
        async move { session.sales().undelete_lead(request).await }
    };
    expect_code(undelete(&o.rep2, "").await, Code::NotFound);
    expect_code(undelete(&other, "").await, Code::NotFound);
    expect_invalid(undelete(&o.rep1, "junk").await, "etag");
    let restored = undelete(&o.rep1, &deleted.etag).await.unwrap().into_inner();
    assert_eq!(
        undelete(&o.rep1, &deleted.etag).await.unwrap().into_inner(),
        restored,
        "a replayed undelete answers the first"
    );
    let restored = restored.lead.unwrap();
    assert!(restored.delete_time.is_none());
}

/// Concurrent captures under each rule: round robin hands out exact turns, least-open
/// evens the load, territories go to their owners.
async fn concurrent_captures_are_assigned_fairly(mode: Mode) {
    let suite = Suite::start(mode).await;
    let admin = suite.admin().await;
    let o = org::build(&suite, admin.clone(), "fair").await;
    let team = [&o.rep1.user_id, &o.rep2.user_id, &o.manager.user_id];
    let form = capture_key(&suite, &admin).await;
    let burst = |tag: &'static str, count: usize, region: &'static str| {
        let form = form.clone();
        async move {
            let mut captures = tokio::task::JoinSet::new();
            for i in 0..count {
                let form = form.clone();
                captures.spawn(async move {
                    let lead = Lead {
                        region_code: region.into(),
                        ..web_lead(&format!("{tag} {i}"), &format!("{tag}{i}@example.cn"), "")
                    };
                    capture(&form, lead).await.unwrap().lead_id
                });
            }
            captures.join_all().await
        }
    };
    let owners = |ids: Vec<String>| {
        let admin = admin.clone();
        async move {
            let mut counts: BTreeMap<String, usize> = BTreeMap::new();
            for id in ids {
                *counts
                    .entry(get_lead(&admin, &id).await.unwrap().owner_id)
                    .or_default() += 1;
            }
            counts
        }
    };
    let rules = |assignment: LeadAssignment| LeadRules {
        scoring: Some(scoring()),
        assignment: Some(assignment),
        ..Default::default()
    };
    let users: Vec<&str> = team.iter().map(|u| u.as_str()).collect();

    set_rules(
        &admin,
        rules(assignment(LeadAssignmentMode::RoundRobin, &users)),
    )
    .await
    .unwrap();
    let counts = owners(burst("rr", 30, "").await).await;
    assert_eq!(
        counts.values().copied().collect::<Vec<_>>(),
        [10, 10, 10],
        "{counts:?}"
    );

    // Least open: rep1 disqualifies four, so four captures bring rep1 back to ten, and three
    // more, all tied, go one to each in list order.
    let mine = admin
        .sales()
        .list_leads(ListLeadsRequest {
            filter: format!("owner_id = \"{}\"", o.rep1.user_id),
            page_size: 4,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .leads;
    for lead in &mine {
        change(
            &o.rep1,
            lead,
            Lead {
                status: LeadStatus::Disqualified as i32,
                disqualify_reason: "Student".into(),
                ..Default::default()
            },
            &["status", "disqualify_reason"],
        )
        .await
        .unwrap();
    }
    set_rules(
        &admin,
        rules(assignment(LeadAssignmentMode::LeastOpen, &users)),
    )
    .await
    .unwrap();
    let counts = owners(burst("lo", 7, "").await).await;
    let rep1 = counts.get(&o.rep1.user_id).copied().unwrap_or_default();
    let others: usize = counts.values().sum::<usize>() - rep1;
    assert_eq!((rep1, others), (5, 2), "{counts:?}");

    // Territories: Guangdong is rep2's; elsewhere falls back to taking turns.
    let mut by_region = assignment(LeadAssignmentMode::Territory, &[&o.rep1.user_id]);
    by_region.territories = vec![TerritoryOwner {
        region_code: "cn-gd".into(),
        user_id: o.rep2.user_id.clone(),
    }];
    set_rules(&admin, rules(by_region)).await.unwrap();
    let counts = owners(burst("gd", 5, "CN-GD").await).await;
    assert_eq!(counts.get(&o.rep2.user_id), Some(&5), "{counts:?}");
    let counts = owners(burst("sh", 3, "CN-SH").await).await;
    assert_eq!(counts.get(&o.rep1.user_id), Some(&3), "{counts:?}");
}

/// Imports `body` (CSV) through `session` with `options`.
async fn import_file(
    session: &Session,
    options: crm_proto::common::ImportOptions,
    body: &str,
) -> Result<ImportRecordsResponse, tonic::Status> {
    let messages = vec![
        ImportRecordsRequest {
            part: Some(import_records_request::Part::Options(options)),
        },
        ImportRecordsRequest {
            part: Some(import_records_request::Part::Csv(body.as_bytes().to_vec())),
        },
    ];
    session
        .sales()
        .import_records(tokio_stream::iter(messages))
        .await
        .map(|r| r.into_inner())
}

/// A trade show's list imported by a rep: each row a lead of theirs, source "import"
/// unless the file says, duplicates of open leads skipped or updated as asked, bad rows named
/// by column; exported back with status and score, only what the caller sees.
async fn leads_are_imported_and_exported(mode: Mode) {
    use crm_proto::common::{DuplicatePolicy, ExportFormat, ImportOptions};
    let suite = Suite::start(mode).await;
    let admin = suite.admin().await;
    let o = org::build(&suite, admin.clone(), "lead-files").await;
    set_rules(
        &admin,
        LeadRules {
            scoring: Some(scoring()),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let csv = "display_name,company_name,email,phone,source,region_code,status,score\n\
               Liu Yang,Suzhou Valves,liu@suzhouvalves.cn,,,CN-JS,qualified,99\n\
               Ma Rui,,ma.rui@example.cn,13900139000,event,CN-ZJ,,\n\
               Bad Phone,,,12,,,,\n\
               Bad Source,,bad@example.cn,,tv,,,\n";
    let import = |session: Session, policy: DuplicatePolicy, body: &'static str| async move {
        let options = ImportOptions {
            resource_type: "lead".into(),
            dry_run: false,
            duplicate_policy: policy as i32,
            assign_by_rule: false,
        };
        import_file(&session, options, body).await
    };
    let summary = import(o.rep1.clone(), DuplicatePolicy::Skip, csv)
        .await
        .unwrap();
    assert_eq!(
        (summary.rows, summary.created, summary.failed),
        (4, 2, 2),
        "{summary:?}"
    );
    let failed: Vec<(i64, Vec<String>)> = summary
        .results
        .iter()
        .filter(|r| !r.errors.is_empty())
        .map(|r| (r.row, r.errors.iter().map(|e| e.column.clone()).collect()))
        .collect();
    assert_eq!(
        failed,
        [
            (3, vec!["phone".to_owned()]),
            (4, vec!["source".to_owned()])
        ]
    );
    let mine = o
        .rep1
        .sales()
        .list_leads(ListLeadsRequest {
            order_by: "display_name".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .leads;
    let seen: Vec<(&str, i32, i32, i32)> = mine
        .iter()
        .map(|l| (l.display_name.as_str(), l.source, l.status, l.score))
        .collect();
    assert_eq!(
        seen,
        [
            (
                "Liu Yang",
                LeadSource::Import as i32,
                LeadStatus::New as i32,
                15
            ),
            (
                "Ma Rui",
                LeadSource::Event as i32,
                LeadStatus::New as i32,
                5
            ),
        ],
        "the file's status and score are the server's to set"
    );
    assert!(mine.iter().all(|l| l.owner_id == o.rep1.user_id));
    let again = import(o.rep1.clone(), DuplicatePolicy::Skip, csv)
        .await
        .unwrap();
    assert_eq!((again.created, again.skipped), (0, 2), "{again:?}");
    // Another rep's file of the same people files nothing over rep1's open leads.
    let theirs = import(o.outsider.clone(), DuplicatePolicy::Skip, csv)
        .await
        .unwrap();
    assert_eq!((theirs.created, theirs.skipped), (0, 2), "{theirs:?}");

    let export = |session: Session| async move {
        let mut stream = session
            .sales()
            .export_records(ExportRecordsRequest {
                resource_type: "lead".into(),
                filter: String::new(),
                format: ExportFormat::Csv as i32,
            })
            .await
            .unwrap()
            .into_inner();
        let mut bytes = Vec::new();
        while let Some(chunk) = stream.message().await.unwrap() {
            bytes.extend(chunk.chunk);
        }
        String::from_utf8(bytes).unwrap()
    };
    let text = export(o.rep1.clone()).await;
    let mut lines = text.trim_start_matches('\u{feff}').lines();
    assert_eq!(
        lines.next().unwrap(),
        "id,display_name,company_name,title,email,phone,source,campaign_id,region_code,status,score,tags,description"
    );
    assert_eq!(lines.count(), 2);
    let theirs = export(o.rep2.clone()).await;
    assert_eq!(
        theirs.trim_start_matches('\u{feff}').lines().count(),
        1,
        "only the header"
    );

    // A manager's list distributed by the tenant's round-robin rule, in row order, taking
    // up the turns where captures left them; a resource without rules refuses the option.
    set_rules(
        &admin,
        LeadRules {
            scoring: Some(scoring()),
            assignment: Some(assignment(
                LeadAssignmentMode::RoundRobin,
                &[&o.rep1.user_id, &o.rep2.user_id],
            )),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let by_rule = |session: &Session, resource_type: &str, dry_run: bool, body: &'static str| {
        let session = session.clone();
        let options = ImportOptions {
            resource_type: resource_type.into(),
            dry_run,
            duplicate_policy: DuplicatePolicy::Skip as i32,
            assign_by_rule: true,
        };
        async move { import_file(&session, options, body).await }
    };
    let fair = "display_name,email\n\
                Fair 1,fair1@example.cn\n\
                Fair 2,fair2@example.cn\n\
                Liu Yang,liu@suzhouvalves.cn\n\
                Fair 3,fair3@example.cn\n\
                Fair 4,fair4@example.cn\n";
    // A dry run takes no turn.
    let rehearsed = by_rule(&o.manager, "lead", true, fair).await.unwrap();
    assert_eq!(
        (rehearsed.created, rehearsed.skipped),
        (4, 1),
        "{rehearsed:?}"
    );
    let spread = by_rule(&o.manager, "lead", false, fair).await.unwrap();
    assert_eq!((spread.created, spread.skipped), (4, 1), "{spread:?}");
    let owners: Vec<(String, String)> = o
        .manager
        .sales()
        .list_leads(ListLeadsRequest {
            order_by: "display_name".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .leads
        .into_iter()
        .filter(|l| l.display_name.starts_with("Fair"))
        .map(|l| (l.display_name, l.owner_id))
        .collect();
    let (rep1, rep2) = (o.rep1.user_id.clone(), o.rep2.user_id.clone());
    assert_eq!(
        owners,
        [
            ("Fair 1".to_owned(), rep1.clone()),
            ("Fair 2".to_owned(), rep2.clone()),
            ("Fair 3".to_owned(), rep1),
            ("Fair 4".to_owned(), rep2),
        ],
        "the duplicate row took no turn"
    );
    expect_invalid(
        by_rule(&admin, "product", false, "code,display_name\nP-1,Valve\n").await,
        "options.assign_by_rule",
    );
}

/// Two conversions of one lead at once (a double click, a client's retry racing the first
/// call) make one account, one contact and one deal; both callers get that conversion.
async fn concurrent_conversions_make_one_customer(mode: Mode) {
    let suite = Suite::start(mode).await;
    let admin = suite.admin().await;
    let o = org::build(&suite, admin.clone(), "double").await;
    let deals = pipeline(&admin).await;
    let lead = create_lead(&o.rep1, web_lead("Deng", "deng@twice.cn", "Twice Trading"))
        .await
        .unwrap();
    let lead = set_status(&o.rep1, &lead, LeadStatus::Qualified).await;
    let deal = Opportunity {
        pipeline_id: deals.id.clone(),
        ..Default::default()
    };
    let mut racing = tokio::task::JoinSet::new();
    for _ in 0..2 {
        let (rep, id, deal) = (o.rep1.clone(), lead.id.clone(), deal.clone());
        racing.spawn(async move { convert(&rep, &id, Some(deal)).await });
    }
    let answers = racing.join_all().await;
    // A loser may be told to retry (ABORTED, the winner's commit came first); it never
    // makes a second customer, and its retry answers the winner's conversion.
    let mut conversions = Vec::new();
    for answer in answers {
        match answer {
            Ok(converted) => conversions.push(converted.conversion.unwrap()),
            Err(status) => {
                assert_eq!(status.code(), Code::Aborted, "{status:?}");
                let again = convert(&o.rep1, &lead.id, Some(deal.clone()))
                    .await
                    .unwrap();
                conversions.push(again.conversion.unwrap());
            }
        }
    }
    assert_eq!(conversions[0], conversions[1]);
    assert_eq!(accounts_named(&o.rep1, "Twice Trading").await, 1);
    let opened = o
        .rep1
        .sales()
        .list_opportunities(ListOpportunitiesRequest::default())
        .await
        .unwrap()
        .into_inner()
        .opportunities;
    assert_eq!(opened.len(), 1, "one deal");
}

/// Waits until `check` holds (sales applies contacts' events asynchronously).
async fn eventually<F, Fut>(what: &str, check: F)
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while !check().await {
        assert!(std::time::Instant::now() < deadline, "never: {what}");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

/// Contacts' merges and erasures reach sales through its inbox: the opportunities and the
/// lead conversion of a merged account name the survivor, and the lead of an erased
/// contact loses its personal data; each event changes each record once.
async fn merges_and_erasures_reach_sales(mode: Mode) {
    use crm_proto::contacts::{ErasePersonalDataRequest, MergeAccountsRequest};
    let suite = Suite::start(mode).await;
    let admin = suite.admin().await;
    let o = org::build(&suite, admin.clone(), "follow").await;
    let deals = pipeline(&admin).await;
    let survivor = o.rep1.create_account("Huaqiang Electronics").await;
    let lead = create_lead(&o.rep1, web_lead("Zhou", "zhou@huaqiang.cn", "华强电子"))
        .await
        .unwrap();
    let lead = set_status(&o.rep1, &lead, LeadStatus::Qualified).await;
    let deal = Opportunity {
        pipeline_id: deals.id.clone(),
        ..Default::default()
    };
    let converted = convert(&o.rep1, &lead.id, Some(deal)).await.unwrap();
    let conversion = converted.conversion.clone().unwrap();
    let merged_away = conversion.account_id.clone();

    o.manager
        .contacts()
        .merge_accounts(MergeAccountsRequest {
            survivor_id: survivor.id.clone(),
            survivor_etag: String::new(),
            merged_ids: vec![merged_away.clone()],
            request_id: String::new(),
        })
        .await
        .unwrap();
    let opportunity_id = conversion.opportunity_id.clone();
    eventually("the opportunity names the surviving account", || {
        let rep1 = o.rep1.clone();
        let (id, survivor) = (opportunity_id.clone(), survivor.id.clone());
        async move {
            let found = rep1
                .sales()
                .get_opportunity(GetOpportunityRequest { id })
                .await
                .unwrap()
                .into_inner()
                .opportunity
                .unwrap();
            found.account_id == survivor
        }
    })
    .await;
    let repointed = get_lead(&o.rep1, &lead.id).await.unwrap();
    assert_eq!(repointed.conversion.unwrap().account_id, survivor.id);

    admin
        .contacts()
        .erase_personal_data(ErasePersonalDataRequest {
            contact_id: conversion.contact_id.clone(),
            request_id: String::new(),
        })
        .await
        .unwrap();
    eventually("the converted lead loses its personal data", || {
        let rep1 = o.rep1.clone();
        let id = lead.id.clone();
        async move {
            let found = get_lead(&rep1, &id).await.unwrap();
            found.display_name == "(erased)" && found.email.is_empty()
        }
    })
    .await;
    let events: Vec<SalesEvent> = suite.outbox("sales").await;
    let moved = events
        .iter()
        .filter(|e| e.r#type == SalesEventType::OpportunityUpdated as i32)
        .filter(|e| match &e.subject {
            Some(sales_event::Subject::Opportunity(o)) => o.id == opportunity_id,
            _ => false,
        })
        .count();
    assert_eq!(moved, 1, "the merge moved the opportunity once");
    let conversions = events
        .iter()
        .filter(|e| e.r#type == SalesEventType::LeadConverted as i32)
        .filter(|e| match &e.subject {
            Some(sales_event::Subject::Lead(l)) => l.id == lead.id,
            _ => false,
        })
        .count();
    assert_eq!(
        conversions, 1,
        "the repoint and the erasure are updates, not conversions"
    );
}

both_modes!(
    a_captured_lead_is_scored_assigned_and_converted,
    agents_work_their_leads,
    concurrent_captures_are_assigned_fairly,
    merges_and_erasures_reach_sales,
    leads_are_imported_and_exported,
    concurrent_conversions_make_one_customer
);

/// With contacts down a conversion answers UNAVAILABLE and writes nothing. Distributed
/// only: embedded, contacts runs in the one process and cannot be down while the suite is up.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn contacts_down_means_no_conversion() {
    let suite = Suite::start(Mode::Distributed).await;
    let admin = suite.admin().await;
    let o = org::build(&suite, admin.clone(), "lead-outage").await;
    let lead = create_lead(&o.rep1, web_lead("Chen", "chen@example.cn", "Chen Trading"))
        .await
        .unwrap();
    let lead = set_status(&o.rep1, &lead, LeadStatus::Qualified).await;
    suite.kill_service("contacts");
    let refused = expect_code(convert(&o.rep1, &lead.id, None).await, Code::Unavailable);
    assert!(
        refused.message().contains("nothing was written"),
        "{refused:?}"
    );
    assert_eq!(get_lead(&o.rep1, &lead.id).await.unwrap(), lead);
}
