//! Pipelines and opportunities end to end through the gateway: a tenant's own stages with
//! their probabilities and required fields, stage moves kept in the history, won and lost
//! with a reason, accounts checked with contacts as the caller, and the caller's data scope.

// Helpers panic on purpose: a failed step is a failed test with a clear message.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::support;

use tonic::Code;

use crm_proto::common::{Date, Money};
use crm_proto::sales::*;
use support::clients::{Session, expect_code, expect_invalid, reason};
use support::existence::{Asker, Shown, assert_hidden, refusal};
use support::{Mode, Suite, org};

fn stage(
    name: &str,
    probability: i32,
    kind: StageKind,
    required: &[OpportunityRequirement],
) -> Stage {
    Stage {
        id: String::new(),
        display_name: name.into(),
        probability,
        kind: kind as i32,
        required_fields: required.iter().map(|r| *r as i32).collect(),
    }
}

/// Lead 10% → Proposal 40% (needs an amount and a close date) → Negotiation 70% (needs a
/// next step) → Won / Lost.
fn projects() -> Pipeline {
    use OpportunityRequirement::{Amount, ExpectedCloseDate, NextStep};
    Pipeline {
        display_name: "Projects".into(),
        stages: vec![
            stage("Lead", 10, StageKind::Open, &[]),
            stage(
                "Proposal",
                40,
                StageKind::Open,
                &[Amount, ExpectedCloseDate],
            ),
            stage("Negotiation", 70, StageKind::Open, &[NextStep]),
            stage("Won", 100, StageKind::Won, &[]),
            stage("Lost", 0, StageKind::Lost, &[]),
        ],
        ..Default::default()
    }
}

async fn create_pipeline(session: &Session, input: Pipeline) -> Result<Pipeline, tonic::Status> {
    Ok(session
        .sales()
        .create_pipeline(CreatePipelineRequest {
            pipeline: Some(input),
            request_id: String::new(),
        })
        .await?
        .into_inner()
        .pipeline
        .unwrap())
}

async fn create_opportunity(
    session: &Session,
    input: Opportunity,
) -> Result<Opportunity, tonic::Status> {
    Ok(session
        .sales()
        .create_opportunity(CreateOpportunityRequest {
            opportunity: Some(input),
            request_id: String::new(),
        })
        .await?
        .into_inner()
        .opportunity
        .unwrap())
}

async fn get_opportunity(session: &Session, id: &str) -> Result<Opportunity, tonic::Status> {
    Ok(session
        .sales()
        .get_opportunity(GetOpportunityRequest { id: id.into() })
        .await?
        .into_inner()
        .opportunity
        .unwrap())
}

/// Changes the masked fields of an opportunity.
async fn change(
    session: &Session,
    current: &Opportunity,
    input: Opportunity,
    paths: &[&str],
) -> Result<Opportunity, tonic::Status> {
    Ok(session
        .sales()
        .update_opportunity(UpdateOpportunityRequest {
            opportunity: Some(Opportunity {
                id: current.id.clone(),
                etag: current.etag.clone(),
                ..input
            }),
            update_mask: Some(prost_types::FieldMask {
                paths: paths.iter().map(|p| p.to_string()).collect(),
            }),
            request_id: String::new(),
        })
        .await?
        .into_inner()
        .opportunity
        .unwrap())
}

async fn names(session: &Session, filter: &str) -> Result<Vec<String>, tonic::Status> {
    let mut names: Vec<String> = session
        .sales()
        .list_opportunities(ListOpportunitiesRequest {
            page_size: 100,
            filter: filter.into(),
            ..Default::default()
        })
        .await?
        .into_inner()
        .opportunities
        .into_iter()
        .map(|o| o.display_name)
        .collect();
    names.sort();
    Ok(names)
}

fn stage_id(pipeline: &Pipeline, name: &str) -> String {
    pipeline
        .stages
        .iter()
        .find(|s| s.display_name == name)
        .unwrap()
        .id
        .clone()
}

fn money(code: &str, amount: &str) -> Option<Money> {
    Some(Money {
        currency_code: code.into(),
        amount: amount.into(),
    })
}

/// Pipelines are the tenant's and validate their stages.
async fn pipelines_validate_their_stages(mode: Mode) {
    let suite = Suite::start(mode).await;
    let admin = suite.admin().await;
    let o = org::build(&suite, admin.clone(), "pipelines").await;
    let other = org::other_tenant(&suite, &admin, "pipelines-other").await;
    let created = create_pipeline(&admin, projects()).await.unwrap();
    assert_eq!(created.stages.len(), 5);
    assert!(created.stages.iter().all(|s| !s.id.is_empty()));
    assert_eq!(
        created.stages[0].kind,
        StageKind::Open as i32,
        "unspecified is open"
    );
    let bad = |edit: fn(&mut Pipeline)| {
        let mut p = projects();
        p.display_name = "Bad".into();
        edit(&mut p);
        p
    };
    for (input, field) in [
        (bad(|p| p.display_name.clear()), "pipeline.display_name"),
        (
            bad(|p| p.stages.retain(|s| s.kind != StageKind::Won as i32)),
            "pipeline.stages",
        ),
        (
            bad(|p| {
                p.stages
                    .retain(|s| s.kind == StageKind::Won as i32 || s.kind == StageKind::Lost as i32)
            }),
            "pipeline.stages",
        ),
        (
            bad(|p| p.stages[1].display_name = "lead".into()),
            "pipeline.stages[1].display_name",
        ),
        (
            bad(|p| p.stages[1].probability = 120),
            "pipeline.stages[1].probability",
        ),
        (
            bad(|p| p.stages[4].probability = 10),
            "pipeline.stages[4].probability",
        ),
        (
            bad(|p| p.stages[0].required_fields = vec![0]),
            "pipeline.stages[0].required_fields[0]",
        ),
        (bad(|p| p.stages[0].kind = 9), "pipeline.stages[0].kind"),
        (
            bad(|p| p.stages[0].id = "not-a-stage".into()),
            "pipeline.stages[0].id",
        ),
    ] {
        expect_invalid(create_pipeline(&admin, input).await, field);
    }
    let taken = expect_code(
        create_pipeline(
            &admin,
            Pipeline {
                display_name: "PROJECTS".into(),
                ..projects()
            },
        )
        .await,
        Code::AlreadyExists,
    );
    assert_eq!(reason(&taken), "DUPLICATE_RECORD");
    // Every seller reads the tenant's pipelines; only the admin shapes them.
    for seller in [&o.rep1, &o.manager] {
        let seen = seller
            .sales()
            .get_pipeline(GetPipelineRequest {
                id: created.id.clone(),
            })
            .await
            .unwrap()
            .into_inner()
            .pipeline
            .unwrap();
        assert_eq!(seen, created);
        expect_code(
            create_pipeline(
                seller,
                Pipeline {
                    display_name: "Mine".into(),
                    ..projects()
                },
            )
            .await,
            Code::PermissionDenied,
        );
    }
    expect_code(
        other
            .sales()
            .get_pipeline(GetPipelineRequest {
                id: created.id.clone(),
            })
            .await,
        Code::NotFound,
    );
    let listed = other
        .sales()
        .list_pipelines(ListPipelinesRequest::default())
        .await
        .unwrap()
        .into_inner()
        .pipelines;
    assert!(listed.is_empty());
    // A renamed stage keeps its id when sent back with it.
    let mut renamed = created.clone();
    renamed.stages[0].display_name = "Qualified lead".into();
    let updated = admin
        .sales()
        .update_pipeline(UpdatePipelineRequest {
            pipeline: Some(renamed),
            update_mask: Some(prost_types::FieldMask {
                paths: vec!["stages".into()],
            }),
            request_id: String::new(),
        })
        .await
        .unwrap()
        .into_inner()
        .pipeline
        .unwrap();
    assert_eq!(updated.stages[0].id, created.stages[0].id);
    assert_eq!(updated.stages[0].display_name, "Qualified lead");
}

/// An opportunity taken through a custom pipeline to won and reopened, every invalid move
/// refused with its field, under the caller's data scope.
async fn opportunities_move_through_the_stages(mode: Mode) {
    let suite = Suite::start(mode).await;
    let admin = suite.admin().await;
    let o = org::build(&suite, admin.clone(), "deals").await;
    let other = org::other_tenant(&suite, &admin, "deals-other").await;
    let pipeline = create_pipeline(&admin, projects()).await.unwrap();
    let account = o.rep1.create_account("深圳华强电子有限公司").await;
    let rep2_account = o.rep2.create_account("Rep two's customer").await;
    let foreign_account = other.create_account("Their customer").await;
    let deal = |name: &str, account_id: &str| Opportunity {
        display_name: name.into(),
        account_id: account_id.into(),
        pipeline_id: pipeline.id.clone(),
        ..Default::default()
    };

    let created = create_opportunity(&o.rep1, deal("Line 3 automation", &account.id))
        .await
        .unwrap();
    assert_eq!(
        created.stage_id,
        stage_id(&pipeline, "Lead"),
        "a new deal starts in the first stage"
    );
    assert_eq!(
        (created.probability, created.status),
        (10, OpportunityStatus::Open as i32)
    );
    assert_eq!(created.owner_id, o.rep1.user_id);
    assert_eq!(created.stage_history.len(), 1);
    assert!(created.stage_history[0].leave_time.is_none());

    // The account must be one the caller sees in contacts: another rep's and another
    // tenant's are refused exactly like one that does not exist.
    let unknown = "0190f5f1-0000-7000-8000-000000000000";
    let not_there = expect_code(
        create_opportunity(&o.rep1, deal("x", unknown)).await,
        Code::InvalidArgument,
    );
    for hidden in [&rep2_account.id, &foreign_account.id] {
        let refused = expect_code(
            create_opportunity(&o.rep1, deal("x", hidden)).await,
            Code::InvalidArgument,
        );
        assert_eq!(refusal(&refused, hidden), refusal(&not_there, unknown));
    }
    for (input, field) in [
        (deal("", &account.id), "opportunity.display_name"),
        (deal("x", ""), "opportunity.account_id"),
        (
            Opportunity {
                pipeline_id: unknown.into(),
                ..deal("x", &account.id)
            },
            "opportunity.pipeline_id",
        ),
        (
            Opportunity {
                stage_id: unknown.into(),
                ..deal("x", &account.id)
            },
            "opportunity.stage_id",
        ),
        (
            Opportunity {
                amount: money("CNY", "1.001"),
                ..deal("x", &account.id)
            },
            "opportunity.amount.amount",
        ),
        (
            Opportunity {
                probability: 101,
                ..deal("x", &account.id)
            },
            "opportunity.probability",
        ),
        (
            Opportunity {
                expected_close_date: Some(Date {
                    year: 2027,
                    month: 2,
                    day: 30,
                }),
                ..deal("x", &account.id)
            },
            "opportunity.expected_close_date",
        ),
        (
            Opportunity {
                owner_id: o.rep2.user_id.clone(),
                ..deal("x", &account.id)
            },
            "opportunity.owner_id",
        ),
    ] {
        expect_invalid(create_opportunity(&o.rep1, input).await, field);
    }
    // Entering a stage needs what the stage asks for.
    let proposal = stage_id(&pipeline, "Proposal");
    let to_proposal = Opportunity {
        stage_id: proposal.clone(),
        ..Default::default()
    };
    let missing = expect_code(
        change(&o.rep1, &created, to_proposal.clone(), &["stage_id"]).await,
        Code::InvalidArgument,
    );
    let fields = support::clients::violations(&missing);
    assert_eq!(
        fields,
        ["opportunity.amount", "opportunity.expected_close_date"]
    );
    let proposed = change(
        &o.rep1,
        &created,
        Opportunity {
            amount: money("CNY", "120000"),
            expected_close_date: Some(Date {
                year: 2027,
                month: 6,
                day: 30,
            }),
            ..to_proposal
        },
        &["stage_id", "amount", "expected_close_date"],
    )
    .await
    .unwrap();
    assert_eq!(
        (proposed.probability, proposed.amount.clone()),
        (40, money("CNY", "120000.00"))
    );
    assert_eq!(proposed.stage_history.len(), 2);
    assert!(
        proposed.stage_history[0].leave_time.is_some()
            && proposed.stage_history[1].leave_time.is_none()
    );
    // The rep may adjust the probability of an open deal.
    let adjusted = change(
        &o.rep1,
        &proposed,
        Opportunity {
            probability: 55,
            ..Default::default()
        },
        &["probability"],
    )
    .await
    .unwrap();
    assert_eq!(adjusted.probability, 55);
    expect_code(
        change(
            &o.rep1,
            &proposed,
            Opportunity {
                probability: 60,
                ..Default::default()
            },
            &["probability"],
        )
        .await,
        Code::Aborted,
    );

    // Two concurrent stage moves from one version: one wins, the other re-reads.
    let negotiation = stage_id(&pipeline, "Negotiation");
    let move_to = |name: &'static str| {
        let (rep, current, negotiation) = (o.rep1.clone(), adjusted.clone(), negotiation.clone());
        tokio::spawn(async move {
            let input = Opportunity {
                stage_id: negotiation,
                next_step: name.into(),
                ..Default::default()
            };
            change(&rep, &current, input, &["stage_id", "next_step"]).await
        })
    };
    let (a, b) = (
        move_to("call the plant manager"),
        move_to("send the revised offer"),
    );
    let results = [a.await.unwrap(), b.await.unwrap()];
    assert_eq!(
        results.iter().filter(|r| r.is_ok()).count(),
        1,
        "{results:?}"
    );
    assert!(
        results
            .iter()
            .any(|r| matches!(r, Err(s) if s.code() == Code::Aborted))
    );
    let negotiating = get_opportunity(&o.rep1, &created.id).await.unwrap();
    assert_eq!(
        (negotiating.probability, negotiating.stage_history.len()),
        (70, 3)
    );

    // Won needs a reason; a won deal's probability is fixed; reopening clears the reason.
    let won_stage = stage_id(&pipeline, "Won");
    let to_won = Opportunity {
        stage_id: won_stage.clone(),
        ..Default::default()
    };
    expect_invalid(
        change(&o.rep1, &negotiating, to_won.clone(), &["stage_id"]).await,
        "opportunity.close_reason",
    );
    let won = change(
        &o.rep1,
        &negotiating,
        Opportunity {
            close_reason: "best delivery time".into(),
            ..to_won
        },
        &["stage_id", "close_reason"],
    )
    .await
    .unwrap();
    assert_eq!(
        (won.status, won.probability),
        (OpportunityStatus::Won as i32, 100)
    );
    assert!(won.close_time.is_some());
    expect_invalid(
        change(
            &o.rep1,
            &won,
            Opportunity {
                probability: 80,
                ..Default::default()
            },
            &["probability"],
        )
        .await,
        "opportunity.probability",
    );
    let reopened = change(
        &o.rep1,
        &won,
        Opportunity {
            stage_id: negotiation.clone(),
            ..Default::default()
        },
        &["stage_id"],
    )
    .await
    .unwrap();
    assert_eq!(
        (reopened.status, reopened.close_reason.as_str()),
        (OpportunityStatus::Open as i32, "")
    );
    assert!(reopened.close_time.is_none());
    assert_eq!(reopened.stage_history.len(), 5);

    // Lists filter by stage, amount, close date and status, within the caller's scope.
    let small = create_opportunity(&o.rep2, deal("Spare parts", &rep2_account.id))
        .await
        .unwrap();
    assert_eq!(names(&o.rep1, "").await.unwrap(), ["Line 3 automation"]);
    assert_eq!(names(&o.rep2, "").await.unwrap(), ["Spare parts"]);
    assert_eq!(
        names(&o.manager, "").await.unwrap(),
        ["Line 3 automation", "Spare parts"]
    );
    let stage_filter = format!("stage_id = \"{negotiation}\"");
    assert_eq!(
        names(&o.manager, &stage_filter).await.unwrap(),
        ["Line 3 automation"]
    );
    assert_eq!(
        names(&o.manager, "amount >= 100000 AND currency_code = \"CNY\"")
            .await
            .unwrap(),
        ["Line 3 automation"]
    );
    assert_eq!(
        names(&o.manager, "expected_close_date < 2027-07-01")
            .await
            .unwrap(),
        ["Line 3 automation"]
    );
    assert_eq!(
        names(&o.manager, "status = OPPORTUNITY_STATUS_OPEN")
            .await
            .unwrap(),
        ["Line 3 automation", "Spare parts"]
    );
    expect_invalid(names(&o.manager, "amount >= lots").await, "filter");
    expect_invalid(
        names(&o.manager, "expected_close_date < 2027-13-01").await,
        "filter",
    );
    assert!(names(&other, "").await.unwrap().is_empty());

    // Another rep, another tenant: answered exactly like an unknown id.
    let hidden = [
        Asker {
            label: "another rep",
            session: o.rep2.clone(),
            id: created.id.clone(),
        },
        Asker {
            label: "another tenant",
            session: other.clone(),
            id: created.id.clone(),
        },
    ];
    let unknown_asker = Asker {
        label: "unknown id",
        session: o.rep1.clone(),
        id: unknown.into(),
    };
    for rpc in [
        "GetOpportunity",
        "UpdateOpportunity",
        "DeleteOpportunity",
        "ListAuditEntries",
    ] {
        let shown = assert_hidden(
            rpc,
            &hidden,
            &unknown_asker,
            |s: Session, id: String| async move {
                let mut sales = s.sales();
                match rpc {
                    "GetOpportunity" => get_opportunity(&s, &id).await.map(|o| o.id),
                    "UpdateOpportunity" => sales
                        .update_opportunity(UpdateOpportunityRequest {
                            opportunity: Some(Opportunity {
                                id,
                                next_step: "x".into(),
                                ..Default::default()
                            }),
                            ..Default::default()
                        })
                        .await
                        .map(|_| "updated".to_owned()),
                    "DeleteOpportunity" => sales
                        .delete_opportunity(DeleteOpportunityRequest {
                            id,
                            ..Default::default()
                        })
                        .await
                        .map(|_| "deleted".to_owned()),
                    _ => sales
                        .list_audit_entries(ListAuditEntriesRequest {
                            resource_type: "opportunity".into(),
                            resource_id: id,
                            ..Default::default()
                        })
                        .await
                        .map(|r| r.into_inner().entries.len().to_string()),
                }
            },
        )
        .await;
        assert!(
            matches!(
                shown,
                Shown::Refused {
                    code: Code::NotFound,
                    ..
                }
            ),
            "{rpc}: {shown:?}"
        );
    }

    // A stage with live deals in it stays in the pipeline.
    let mut fewer = pipeline.clone();
    fewer.stages.retain(|s| s.display_name != "Negotiation");
    let in_use = expect_code(
        admin
            .sales()
            .update_pipeline(UpdatePipelineRequest {
                pipeline: Some(fewer),
                update_mask: Some(prost_types::FieldMask {
                    paths: vec!["stages".into()],
                }),
                request_id: String::new(),
            })
            .await,
        Code::FailedPrecondition,
    );
    assert_eq!(reason(&in_use), "STAGE_IN_USE");

    // A replayed create answers the first; the history and the events tell the story.
    let once = |request_id: &'static str| {
        let (rep, input) = (o.rep2.clone(), deal("Service contract", &rep2_account.id));
        async move {
            rep.sales()
                .create_opportunity(CreateOpportunityRequest {
                    opportunity: Some(input),
                    request_id: request_id.into(),
                })
                .await
                .unwrap()
                .into_inner()
                .opportunity
                .unwrap()
        }
    };
    assert_eq!(
        once("service-contract").await,
        once("service-contract").await
    );
    assert_eq!(
        names(&o.rep2, "").await.unwrap(),
        ["Service contract", "Spare parts"]
    );
    let history = o
        .rep1
        .sales()
        .list_audit_entries(ListAuditEntriesRequest {
            resource_type: "opportunity".into(),
            resource_id: created.id.clone(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .entries;
    let stage_changes = history
        .iter()
        .filter(|e| e.changes.iter().any(|c| c.field == "stage_id"))
        .count();
    assert_eq!(stage_changes, 5, "the create and four moves: {history:?}");
    let events: Vec<i32> = suite
        .outbox::<SalesEvent>("sales")
        .await
        .into_iter()
        .filter(|e| matches!(&e.subject, Some(sales_event::Subject::Opportunity(x)) if x.id == created.id))
        .map(|e| e.r#type)
        .collect();
    assert_eq!(
        events.first(),
        Some(&(SalesEventType::OpportunityCreated as i32))
    );
    assert_eq!(events.len(), 6);
    let _ = small;
}

/// With contacts gone, a write that must check an account answers UNAVAILABLE and writes
/// nothing; reads of what sales holds go on. Distributed only: under `crm up` contacts runs
/// in the one process and cannot be down while the suite is up.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn contacts_down_means_unavailable_and_nothing_written() {
    let suite = Suite::start(Mode::Distributed).await;
    let admin = suite.admin().await;
    let pipeline = create_pipeline(&admin, projects()).await.unwrap();
    let account = admin.create_account("Acme").await;
    let first = create_opportunity(
        &admin,
        Opportunity {
            display_name: "Before".into(),
            account_id: account.id.clone(),
            pipeline_id: pipeline.id.clone(),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let unchecked = admin.create_account("Never checked").await;
    suite.kill_service("contacts");
    let refused = expect_code(
        create_opportunity(
            &admin,
            Opportunity {
                display_name: "During".into(),
                account_id: unchecked.id.clone(),
                pipeline_id: pipeline.id.clone(),
                ..Default::default()
            },
        )
        .await,
        Code::Unavailable,
    );
    assert!(
        refused.message().contains("nothing was written"),
        "{refused:?}"
    );
    assert_eq!(names(&admin, "").await.unwrap(), ["Before"]);
    // An account sales has a fresh answer for needs no call: its owner is cached.
    create_opportunity(
        &admin,
        Opportunity {
            display_name: "Known account".into(),
            account_id: account.id.clone(),
            pipeline_id: pipeline.id.clone(),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    assert_eq!(
        get_opportunity(&admin, &first.id)
            .await
            .unwrap()
            .display_name,
        "Before"
    );
}

/// Deleting and restoring pipelines and opportunities: replays, bad etags, another tenant,
/// another rep, and a deleted pipeline taking no new deals.
async fn pipelines_and_opportunities_come_and_go(mode: Mode) {
    let suite = Suite::start(mode).await;
    let admin = suite.admin().await;
    let o = org::build(&suite, admin.clone(), "lifecycle").await;
    let other = org::other_tenant(&suite, &admin, "lifecycle-other").await;
    let create_once = |request_id: &'static str| {
        let admin = admin.clone();
        async move {
            admin
                .sales()
                .create_pipeline(CreatePipelineRequest {
                    pipeline: Some(projects()),
                    request_id: request_id.into(),
                })
                .await
                .unwrap()
                .into_inner()
                .pipeline
                .unwrap()
        }
    };
    let pipeline = create_once("projects").await;
    assert_eq!(create_once("projects").await, pipeline);
    expect_invalid(
        admin
            .sales()
            .list_pipelines(ListPipelinesRequest {
                filter: "stages = 1".into(),
                ..Default::default()
            })
            .await,
        "filter",
    );
    let rename = |session: Session, etag: String, request_id: &'static str| {
        let id = pipeline.id.clone();
        async move {
            session
                .sales()
                .update_pipeline(UpdatePipelineRequest {
                    pipeline: Some(Pipeline {
                        id,
                        etag,
                        display_name: "Key projects".into(),
                        ..Default::default()
                    }),
                    update_mask: None,
                    request_id: request_id.into(),
                })
                .await
                .map(|r| r.into_inner().pipeline.unwrap())
        }
    };
    expect_code(
        rename(other.clone(), String::new(), "").await,
        Code::NotFound,
    );
    let renamed = rename(admin.clone(), pipeline.etag.clone(), "rename")
        .await
        .unwrap();
    assert_eq!(
        rename(admin.clone(), pipeline.etag.clone(), "rename")
            .await
            .unwrap(),
        renamed
    );
    expect_code(
        rename(admin.clone(), pipeline.etag.clone(), "").await,
        Code::Aborted,
    );

    let account = o.rep1.create_account("Acme").await;
    let deal = Opportunity {
        display_name: "Acme rollout".into(),
        account_id: account.id.clone(),
        pipeline_id: pipeline.id.clone(),
        ..Default::default()
    };
    let opportunity = create_opportunity(&o.rep1, deal.clone()).await.unwrap();
    let delete_once = |session: Session, id: String, etag: &'static str| async move {
        session
            .sales()
            .delete_opportunity(DeleteOpportunityRequest {
                id,
                etag: etag.into(),
                request_id: "delete-acme".into(),
            })
            .await
            .map(|r| r.into_inner().opportunity.unwrap())
    };
    expect_invalid(
        delete_once(o.rep1.clone(), opportunity.id.clone(), "junk").await,
        "etag",
    );
    let deleted = delete_once(o.rep1.clone(), opportunity.id.clone(), "")
        .await
        .unwrap();
    assert!(deleted.delete_time.is_some());
    assert_eq!(
        delete_once(o.rep1.clone(), opportunity.id.clone(), "")
            .await
            .unwrap(),
        deleted
    );
    assert!(names(&o.rep1, "").await.unwrap().is_empty());
    let restore = |session: Session, etag: String| {
        let id = opportunity.id.clone();
        async move {
            session
                .sales()
                .undelete_opportunity(UndeleteOpportunityRequest {
                    id,
                    etag,
                    request_id: String::new(),
                })
                .await
                .map(|r| r.into_inner().opportunity.unwrap())
        }
    };
    for outsider in [&o.rep2, &other] {
        expect_code(
            restore(outsider.clone(), String::new()).await,
            Code::NotFound,
        );
    }
    expect_invalid(restore(o.rep1.clone(), "\"x\"".into()).await, "etag");
    let back = restore(o.rep1.clone(), deleted.etag.clone()).await.unwrap();
    assert!(back.delete_time.is_none());

    // A deleted pipeline takes no new deals; restored, it does again.
    let remove = |session: Session| {
        let id = pipeline.id.clone();
        async move {
            session
                .sales()
                .delete_pipeline(DeletePipelineRequest {
                    id,
                    etag: String::new(),
                    request_id: "remove-projects".into(),
                })
                .await
                .map(|r| r.into_inner().pipeline.unwrap())
        }
    };
    expect_code(remove(o.manager.clone()).await, Code::PermissionDenied);
    expect_code(remove(other.clone()).await, Code::NotFound);
    let removed = remove(admin.clone()).await.unwrap();
    assert_eq!(
        remove(admin.clone()).await.unwrap(),
        removed,
        "a replay answers the first delete"
    );
    expect_invalid(
        create_opportunity(&o.rep1, deal.clone()).await,
        "opportunity.pipeline_id",
    );
    let undelete = |session: Session, etag: String| {
        let id = pipeline.id.clone();
        async move {
            session
                .sales()
                .undelete_pipeline(UndeletePipelineRequest {
                    id,
                    etag,
                    request_id: String::new(),
                })
                .await
        }
    };
    expect_code(undelete(other.clone(), String::new()).await, Code::NotFound);
    expect_invalid(undelete(admin.clone(), "junk".into()).await, "etag");
    undelete(admin.clone(), removed.etag.clone()).await.unwrap();
    create_opportunity(&o.rep1, deal).await.unwrap();
    assert_eq!(
        names(&o.rep1, "").await.unwrap(),
        ["Acme rollout", "Acme rollout"]
    );
}

/// A deal names its people with their roles and its competitors; each person must be a
/// contact the caller sees, and an account handed to another rep stops being the old
/// owner's to name as soon as sales hears of the transfer.
async fn deals_name_their_people_and_competitors(mode: Mode) {
    use crm_proto::contacts::TransferOwnershipRequest;
    let suite = Suite::start(mode).await;
    let admin = suite.admin().await;
    let o = org::build(&suite, admin.clone(), "people").await;
    let pipeline = create_pipeline(&admin, projects()).await.unwrap();
    let account = o.rep1.create_account("Ningbo Port Logistics").await;
    let buyer = o.rep1.create_contact("Sun Li").await;
    let engineer = o.rep1.create_contact("Guo Jing").await;
    let theirs = o.rep2.create_contact("Rep two's contact").await;
    let person = |id: &str, role: ContactRole, primary: bool| OpportunityContact {
        contact_id: id.into(),
        role: role as i32,
        primary,
    };
    let rival = |name: &str| Competitor {
        display_name: name.into(),
        note: String::new(),
    };
    let deal = |contacts: Vec<OpportunityContact>, competitors: Vec<Competitor>| Opportunity {
        display_name: "Cranes".into(),
        account_id: account.id.clone(),
        pipeline_id: pipeline.id.clone(),
        contacts,
        competitors,
        ..Default::default()
    };
    let created = create_opportunity(
        &o.rep1,
        deal(
            vec![
                person(&buyer.id, ContactRole::EconomicBuyer, true),
                person(&engineer.id, ContactRole::TechnicalEvaluator, false),
            ],
            vec![Competitor {
                display_name: "Konecranes".into(),
                note: "5% cheaper, longer delivery".into(),
            }],
        ),
    )
    .await
    .unwrap();
    assert_eq!(created.contacts.len(), 2);
    assert_eq!(created.contacts[0].role, ContactRole::EconomicBuyer as i32);
    assert_eq!(created.competitors[0].note, "5% cheaper, longer delivery");
    let unknown = "0190f5f1-0000-7000-8000-000000000000";
    for (input, field) in [
        (
            deal(vec![person(&theirs.id, ContactRole::User, false)], vec![]),
            "opportunity.contacts[0].contact_id",
        ),
        (
            deal(vec![person(unknown, ContactRole::User, false)], vec![]),
            "opportunity.contacts[0].contact_id",
        ),
        (
            deal(
                vec![person(&buyer.id, ContactRole::Unspecified, false)],
                vec![],
            ),
            "opportunity.contacts[0].role",
        ),
        (
            deal(
                vec![
                    person(&buyer.id, ContactRole::User, false),
                    person(&buyer.id, ContactRole::Champion, false),
                ],
                vec![],
            ),
            "opportunity.contacts[1].contact_id",
        ),
        (
            deal(
                vec![
                    person(&buyer.id, ContactRole::User, true),
                    person(&engineer.id, ContactRole::Champion, true),
                ],
                vec![],
            ),
            "opportunity.contacts",
        ),
        (
            deal(vec![], vec![rival("")]),
            "opportunity.competitors[0].display_name",
        ),
        (
            deal(vec![], vec![rival("ABB"), rival("abb")]),
            "opportunity.competitors[1].display_name",
        ),
    ] {
        expect_invalid(create_opportunity(&o.rep1, input).await, field);
    }
    // People are replaced as a list.
    let changed = change(
        &o.rep1,
        &created,
        Opportunity {
            contacts: vec![person(&engineer.id, ContactRole::Champion, true)],
            ..Default::default()
        },
        &["contacts"],
    )
    .await
    .unwrap();
    assert_eq!(
        changed.contacts,
        [person(&engineer.id, ContactRole::Champion, true)]
    );

    // Handed to rep2, the account is no longer rep1's to name (once sales hears of it).
    o.manager
        .contacts()
        .transfer_ownership(TransferOwnershipRequest {
            resource_type: "account".into(),
            ids: vec![account.id.clone()],
            to_owner_id: o.rep2.user_id.clone(),
            ..Default::default()
        })
        .await
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let attempt = create_opportunity(&o.rep1, deal(vec![], vec![])).await;
        if attempt.is_err() {
            expect_invalid(attempt, "opportunity.account_id");
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the transfer never reached sales"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

/// The deals whose next step sales announced as due, in order.
async fn reminders(suite: &Suite) -> Vec<String> {
    suite
        .outbox::<SalesEvent>("sales")
        .await
        .into_iter()
        .filter(|e| e.r#type == SalesEventType::OpportunityNextStepDue as i32)
        .filter_map(|e| match e.subject {
            Some(sales_event::Subject::Opportunity(o)) => Some(o.display_name),
            _ => None,
        })
        .collect()
}

/// Waits for `count` reminders, then a little longer, and gives what was announced: later
/// sweeps must announce nothing more.
async fn wait_for_reminders(suite: &Suite, count: usize) -> Vec<String> {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while reminders(suite).await.len() < count {
        assert!(std::time::Instant::now() < deadline, "no reminder came");
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    tokio::time::sleep(std::time::Duration::from_secs(2)).await;
    reminders(suite).await
}

/// The next step of an open deal is announced once when it falls due, again for a new due
/// time, and never for a closed deal; the suite's clock is moved to get there.
async fn next_steps_are_reminded_once(mode: Mode) {
    const DAY: u64 = 86_400;
    let suite = Suite::builder(mode)
        .env(&[("CRM_JOBS_INTERVAL_SECS", "1")])
        .start()
        .await;
    let admin = suite.admin().await;
    let pipeline = create_pipeline(&admin, projects()).await.unwrap();
    let account = admin.create_account("Wuxi Motors").await;
    let in_days = |days: u64| {
        let micros = suite.now_micros() + (days * DAY * 1_000_000) as i64;
        Some(crm_platform::time::to_timestamp(micros))
    };
    let deal = |name: &str| Opportunity {
        display_name: name.into(),
        account_id: account.id.clone(),
        pipeline_id: pipeline.id.clone(),
        next_step: "Send the quote".into(),
        next_step_due_time: in_days(2),
        ..Default::default()
    };
    expect_invalid(
        create_opportunity(
            &admin,
            Opportunity {
                next_step: String::new(),
                ..deal("No step")
            },
        )
        .await,
        "opportunity.next_step",
    );
    let open = create_opportunity(&admin, deal("Open deal")).await.unwrap();
    let closed = create_opportunity(&admin, deal("Closed deal"))
        .await
        .unwrap();
    change(
        &admin,
        &closed,
        Opportunity {
            stage_id: stage_id(&pipeline, "Lost"),
            close_reason: "Budget cut".into(),
            ..Default::default()
        },
        &["stage_id", "close_reason"],
    )
    .await
    .unwrap();
    assert!(reminders(&suite).await.is_empty());
    suite
        .advance_clock(std::time::Duration::from_secs(3 * DAY))
        .await;
    assert_eq!(wait_for_reminders(&suite, 1).await, ["Open deal"]);
    // A new due time is a new reminder.
    let admin = suite.admin().await;
    let current = admin
        .sales()
        .get_opportunity(GetOpportunityRequest {
            id: open.id.clone(),
        })
        .await
        .unwrap()
        .into_inner()
        .opportunity
        .unwrap();
    change(
        &admin,
        &current,
        Opportunity {
            next_step_due_time: in_days(1),
            ..Default::default()
        },
        &["next_step_due_time"],
    )
    .await
    .unwrap();
    suite
        .advance_clock(std::time::Duration::from_secs(2 * DAY))
        .await;
    assert_eq!(
        wait_for_reminders(&suite, 2).await,
        ["Open deal", "Open deal"]
    );
}

async fn create_task(session: &Session, task: Task) -> Result<Task, tonic::Status> {
    Ok(session
        .sales()
        .create_task(CreateTaskRequest {
            task: Some(task),
            request_id: String::new(),
        })
        .await?
        .into_inner()
        .task
        .unwrap())
}

async fn update_task(
    session: &Session,
    current: &Task,
    input: Task,
    paths: &[&str],
) -> Result<Task, tonic::Status> {
    Ok(session
        .sales()
        .update_task(UpdateTaskRequest {
            task: Some(Task {
                id: current.id.clone(),
                etag: current.etag.clone(),
                ..input
            }),
            update_mask: Some(prost_types::FieldMask {
                paths: paths.iter().map(|p| p.to_string()).collect(),
            }),
            request_id: String::new(),
        })
        .await?
        .into_inner()
        .task
        .unwrap())
}

/// The tasks of a deal: each bad field named, the deal one the writer sees, done and
/// reopened, listed by due time, another rep and another tenant refused, replays answered,
/// and an open task announced once when it falls due (a done one never).
async fn deals_have_tasks_that_fall_due(mode: Mode) {
    const DAY: u64 = 86_400;
    let suite = Suite::builder(mode)
        .env(&[("CRM_JOBS_INTERVAL_SECS", "1")])
        .start()
        .await;
    let admin = suite.admin().await;
    let o = org::build(&suite, admin.clone(), "tasks").await;
    let other = org::other_tenant(&suite, &admin, "tasks-other").await;
    let pipeline = create_pipeline(&admin, projects()).await.unwrap();
    let deal_of = |session: &Session, account: String| {
        let session = session.clone();
        let pipeline_id = pipeline.id.clone();
        async move {
            create_opportunity(
                &session,
                Opportunity {
                    display_name: "Deal".into(),
                    account_id: account,
                    pipeline_id,
                    ..Default::default()
                },
            )
            .await
            .unwrap()
        }
    };
    let mine = deal_of(&o.rep1, o.rep1.create_account("Xiamen Air Parts").await.id).await;
    let theirs = deal_of(&o.rep2, o.rep2.create_account("Rep two's").await.id).await;
    let in_days = |days: u64| {
        let micros = suite.now_micros() + (days * DAY * 1_000_000) as i64;
        Some(crm_platform::time::to_timestamp(micros))
    };
    let task = |name: &str, days: u64| Task {
        opportunity_id: mine.id.clone(),
        display_name: name.into(),
        due_time: in_days(days),
        ..Default::default()
    };
    for (input, field) in [
        (task("", 2), "task.display_name"),
        (
            Task {
                due_time: None,
                ..task("x", 2)
            },
            "task.due_time",
        ),
        (
            Task {
                opportunity_id: theirs.id.clone(),
                ..task("x", 2)
            },
            "task.opportunity_id",
        ),
        (
            Task {
                opportunity_id: "0190f5f1-0000-7000-8000-000000000000".into(),
                ..task("x", 2)
            },
            "task.opportunity_id",
        ),
        (
            Task {
                owner_id: o.rep2.user_id.clone(),
                ..task("x", 2)
            },
            "task.owner_id",
        ),
        (
            Task {
                status: 7,
                ..task("x", 2)
            },
            "task.status",
        ),
    ] {
        expect_invalid(create_task(&o.rep1, input).await, field);
    }
    let quote = create_task(&o.rep1, task("Send the quote", 2))
        .await
        .unwrap();
    let visit = create_task(&o.rep1, task("Visit the plant", 1))
        .await
        .unwrap();
    assert_eq!(
        (quote.status, quote.owner_id.as_str()),
        (TaskStatus::Open as i32, o.rep1.user_id.as_str())
    );
    let get = |session: &Session, id: &str| {
        let session = session.clone();
        let id = id.to_owned();
        async move {
            session
                .sales()
                .get_task(GetTaskRequest { id })
                .await
                .map(|r| r.into_inner().task.unwrap())
        }
    };
    assert_eq!(get(&o.manager, &quote.id).await.unwrap(), quote);
    expect_code(get(&o.rep2, &quote.id).await, Code::NotFound);
    expect_code(get(&other, &quote.id).await, Code::NotFound);
    let listed = o
        .rep1
        .sales()
        .list_tasks(ListTasksRequest {
            filter: format!(
                "opportunity_id = \"{}\" AND status = TASK_STATUS_OPEN",
                mine.id
            ),
            order_by: "due_time".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .tasks;
    let names: Vec<&str> = listed.iter().map(|t| t.display_name.as_str()).collect();
    assert_eq!(
        names,
        ["Visit the plant", "Send the quote"],
        "soonest first"
    );

    // Done records when; reopened, it is open again; a stale etag is refused.
    let done = update_task(
        &o.rep1,
        &visit,
        Task {
            status: TaskStatus::Done as i32,
            ..Default::default()
        },
        &["status"],
    )
    .await
    .unwrap();
    assert!(done.done_time.is_some());
    expect_code(
        update_task(
            &o.rep1,
            &visit,
            Task {
                note: "late".into(),
                ..Default::default()
            },
            &["note"],
        )
        .await,
        Code::Aborted,
    );
    expect_code(
        update_task(
            &o.rep2,
            &done,
            Task {
                note: "mine now".into(),
                ..Default::default()
            },
            &["note"],
        )
        .await,
        Code::NotFound,
    );

    // Due: the open task is announced once; the done one never.
    suite
        .advance_clock(std::time::Duration::from_secs(3 * DAY))
        .await;
    let due = || async {
        suite
            .outbox::<SalesEvent>("sales")
            .await
            .into_iter()
            .filter(|e| e.r#type == SalesEventType::TaskDue as i32)
            .filter_map(|e| match e.subject {
                Some(sales_event::Subject::Task(t)) => Some(t.display_name),
                _ => None,
            })
            .collect::<Vec<_>>()
    };
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while due().await.is_empty() {
        assert!(std::time::Instant::now() < deadline, "no task fell due");
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    tokio::time::sleep(std::time::Duration::from_secs(2)).await;
    assert_eq!(due().await, ["Send the quote"]);

    // Deleted and restored, each replayed by its request id.
    let rep1 = Session::login(&suite, "rep1@tasks.example", support::ADMIN_PASSWORD)
        .await
        .unwrap();
    let other = Session::login(&suite, "admin@tasks-other.example", support::ADMIN_PASSWORD)
        .await
        .unwrap();
    let current = get(&rep1, &quote.id).await.unwrap();
    let delete = || {
        let request = DeleteTaskRequest {
            id: quote.id.clone(),
            etag: current.etag.clone(),
            request_id: "drop-quote".into(),
        };
        let session = rep1.clone();
        async move { session.sales().delete_task(request).await }
    };
    let junk = DeleteTaskRequest {
        id: quote.id.clone(),
        etag: "junk".into(),
        request_id: String::new(),
    };
    expect_invalid(rep1.sales().delete_task(junk).await, "etag");
    let deleted = delete().await.unwrap().into_inner();
    assert_eq!(delete().await.unwrap().into_inner(), deleted);
    let junk = UndeleteTaskRequest {
        id: quote.id.clone(),
        etag: "junk".into(),
        request_id: String::new(),
    };
    expect_invalid(rep1.sales().undelete_task(junk).await, "etag");
    let deleted = deleted.task.unwrap();
    expect_code(
        other
            .sales()
            .undelete_task(UndeleteTaskRequest {
                id: quote.id.clone(),
                ..Default::default()
            })
            .await,
        Code::NotFound,
    );
    let restored = rep1
        .sales()
        .undelete_task(UndeleteTaskRequest {
            id: quote.id.clone(),
            etag: deleted.etag.clone(),
            request_id: String::new(),
        })
        .await
        .unwrap()
        .into_inner()
        .task
        .unwrap();
    assert!(restored.delete_time.is_none());
}

both_modes!(
    pipelines_validate_their_stages,
    pipelines_and_opportunities_come_and_go,
    opportunities_move_through_the_stages,
    deals_name_their_people_and_competitors,
    next_steps_are_reminded_once,
    deals_have_tasks_that_fall_due
);
