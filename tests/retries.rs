//! Retried mutations, RPC by RPC, through the gateway in both modes: a call sent again with
//! its request id answers exactly as the first time and changes nothing more (no row, audit
//! entry or event is added by the retry).

// Helpers panic on purpose: a failed step is a failed test with a clear message.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::support;

use std::future::Future;

use prost_types::{FieldMask, Timestamp};

use crm_proto::common::{CustomFieldDefinition, CustomFieldType, DuplicatePolicy, ImportOptions};
use crm_proto::contacts::*;
use support::clients::Session;
use support::{Mode, Suite, org};

/// Sends `call` twice under one request id: the answers are equal, and the retry writes
/// nothing to the contacts database. Returns the answer.
async fn replayed<T, F, Fut>(suite: &Suite, rpc: &str, call: F) -> T
where
    T: PartialEq + std::fmt::Debug,
    F: Fn() -> Fut,
    Fut: Future<Output = Result<tonic::Response<T>, tonic::Status>>,
{
    let first = call()
        .await
        .unwrap_or_else(|e| panic!("{rpc}: {e:?}"))
        .into_inner();
    let footprint = suite.contacts_footprint().await;
    let again = call()
        .await
        .unwrap_or_else(|e| panic!("{rpc} retried: {e:?}"))
        .into_inner();
    assert_eq!(first, again, "{rpc}: the retry answers as the first call");
    assert_eq!(
        suite.contacts_footprint().await,
        footprint,
        "{rpc}: the retry wrote nothing"
    );
    first
}

fn id(n: &str) -> String {
    format!("retry-{n}")
}

async fn contact(session: &Session, name: &str) -> Contact {
    session.create_contact(name).await
}

async fn every_mutation_replays_its_first_answer(mode: Mode) {
    let suite = Suite::start(mode).await;
    let admin = suite.admin().await;
    let o = org::build(&suite, admin.clone(), "retries").await;
    let rep = &o.rep1;

    let account = replayed(&suite, "CreateAccount", || {
        let mut api = rep.contacts();
        async move {
            api.create_account(CreateAccountRequest {
                account: Some(Account {
                    display_name: "Retry Trading".into(),
                    ..Default::default()
                }),
                request_id: id("create-account"),
                allow_duplicates: false,
            })
            .await
        }
    })
    .await
    .account
    .unwrap();
    let deleted = replayed(&suite, "DeleteAccount", || {
        let mut api = rep.contacts();
        let id_ = account.id.clone();
        async move {
            api.delete_account(DeleteAccountRequest {
                id: id_,
                etag: String::new(),
                request_id: id("delete-account"),
            })
            .await
        }
    })
    .await;
    assert!(deleted.account.unwrap().delete_time.is_some());
    replayed(&suite, "UndeleteAccount", || {
        let mut api = rep.contacts();
        let id_ = account.id.clone();
        async move {
            api.undelete_account(UndeleteAccountRequest {
                id: id_,
                etag: String::new(),
                request_id: id("undelete-account"),
            })
            .await
        }
    })
    .await;

    let customer = contact(rep, "Retry Customer").await;
    rep.contacts()
        .delete_contact(DeleteContactRequest {
            id: customer.id.clone(),
            etag: String::new(),
            request_id: String::new(),
        })
        .await
        .unwrap();
    replayed(&suite, "UndeleteContact", || {
        let mut api = rep.contacts();
        let id_ = customer.id.clone();
        async move {
            api.undelete_contact(UndeleteContactRequest {
                id: id_,
                etag: String::new(),
                request_id: id("undelete-contact"),
            })
            .await
        }
    })
    .await;

    let group = replayed(&suite, "CreateGroup", || {
        let mut api = o.manager.contacts();
        async move {
            api.create_group(CreateGroupRequest {
                group: Some(Group {
                    display_name: "Retry group".into(),
                    ..Default::default()
                }),
                request_id: id("create-group"),
            })
            .await
        }
    })
    .await
    .group
    .unwrap();
    replayed(&suite, "BatchModifyLabels", || {
        let mut api = rep.contacts();
        let ids = vec![customer.id.clone()];
        let groups = vec![group.id.clone()];
        async move {
            api.batch_modify_labels(BatchModifyLabelsRequest {
                resource_type: "contact".into(),
                ids,
                add_tags: vec!["retried".into()],
                add_group_ids: groups,
                request_id: id("labels"),
                ..Default::default()
            })
            .await
        }
    })
    .await;

    let interaction = replayed(&suite, "RecordInteraction", || {
        let mut api = rep.contacts();
        let subject = customer.id.clone();
        async move {
            api.record_interaction(RecordInteractionRequest {
                interaction: Some(Interaction {
                    subject_type: "contact".into(),
                    subject_id: subject,
                    kind: InteractionKind::Call as i32,
                    occur_time: Some(Timestamp {
                        seconds: 1_700_000_000,
                        nanos: 0,
                    }),
                    summary: "called once".into(),
                    next_follow_up_time: Some(Timestamp {
                        seconds: 4_000_000_000,
                        nanos: 0,
                    }),
                    ..Default::default()
                }),
                follow_up_note: "call back".into(),
                request_id: id("interaction"),
            })
            .await
        }
    })
    .await
    .interaction
    .unwrap();
    replayed(&suite, "UpdateFollowUp", || {
        let mut api = rep.contacts();
        let follow_up = interaction.follow_up_id.clone();
        async move {
            api.update_follow_up(UpdateFollowUpRequest {
                follow_up: Some(FollowUp {
                    id: follow_up,
                    note: "call back twice".into(),
                    ..Default::default()
                }),
                update_mask: Some(FieldMask {
                    paths: vec!["note".into()],
                }),
                request_id: id("follow-up"),
            })
            .await
        }
    })
    .await;

    let handed = contact(rep, "Handed over").await;
    let to = o.rep2.user_id.clone();
    replayed(&suite, "TransferOwnership", || {
        let mut api = o.manager.contacts();
        let ids = vec![handed.id.clone()];
        let to = to.clone();
        async move {
            api.transfer_ownership(TransferOwnershipRequest {
                resource_type: "contact".into(),
                ids,
                to_owner_id: to,
                request_id: id("transfer"),
                ..Default::default()
            })
            .await
        }
    })
    .await;
    let released = contact(rep, "Released").await;
    replayed(&suite, "ReleaseToPool", || {
        let mut api = rep.contacts();
        let ids = vec![released.id.clone()];
        async move {
            api.release_to_pool(ReleaseToPoolRequest {
                resource_type: "contact".into(),
                ids,
                reason: "no budget".into(),
                request_id: id("release"),
            })
            .await
        }
    })
    .await;

    let survivor = replayed(&suite, "CreateAccount (survivor)", || {
        let mut api = rep.contacts();
        async move {
            api.create_account(CreateAccountRequest {
                account: Some(Account {
                    display_name: "Merged Trading".into(),
                    ..Default::default()
                }),
                request_id: id("survivor"),
                allow_duplicates: false,
            })
            .await
        }
    })
    .await
    .account
    .unwrap();
    replayed(&suite, "MergeAccounts", || {
        let mut api = o.manager.contacts();
        let survivor = survivor.id.clone();
        let merged = vec![account.id.clone()];
        async move {
            api.merge_accounts(MergeAccountsRequest {
                survivor_id: survivor,
                merged_ids: merged,
                request_id: id("merge-accounts"),
                ..Default::default()
            })
            .await
        }
    })
    .await;

    let field = replayed(&suite, "CreateCustomField", || {
        let mut api = admin.contacts();
        async move {
            api.create_custom_field(CreateCustomFieldRequest {
                custom_field: Some(CustomFieldDefinition {
                    resource_type: "contact".into(),
                    name: "retried".into(),
                    display_name: "Retried".into(),
                    r#type: CustomFieldType::Text as i32,
                    ..Default::default()
                }),
                request_id: id("custom-field"),
            })
            .await
        }
    })
    .await
    .custom_field
    .unwrap();
    replayed(&suite, "DeleteCustomField", || {
        let mut api = admin.contacts();
        let field_id = field.id.clone();
        async move {
            api.delete_custom_field(DeleteCustomFieldRequest {
                id: field_id,
                etag: String::new(),
                request_id: id("delete-field"),
            })
            .await
        }
    })
    .await;

    // An import is a stream without a request id: sending the same file again with the skip
    // policy skips every row the first run created, and writes no record.
    let import = || {
        let mut api = rep.contacts();
        async move {
            api.import_records(tokio_stream::iter(vec![
                ImportRecordsRequest {
                    part: Some(import_records_request::Part::Options(ImportOptions {
                        resource_type: "contact".into(),
                        dry_run: false,
                        duplicate_policy: DuplicatePolicy::Skip as i32,
                        assign_by_rule: false,
                    })),
                },
                ImportRecordsRequest {
                    part: Some(import_records_request::Part::Csv(
                        b"display_name,phone\r\nImported A,13700000001\r\nImported B,13700000002\r\n"
                            .to_vec(),
                    )),
                },
            ]))
            .await
            .unwrap()
            .into_inner()
        }
    };
    let first = import().await;
    assert_eq!(first.created, 2);
    let before = rep.list_contacts("").await.unwrap().len();
    let again = import().await;
    assert_eq!((again.created, again.skipped), (0, 2), "{again:?}");
    assert_eq!(rep.list_contacts("").await.unwrap().len(), before);

    // Setting the same pool rules again, and revoking a revoked key, change nothing more.
    let rules = || {
        let mut api = admin.contacts();
        async move {
            api.update_pool_rules(UpdatePoolRulesRequest {
                rules: Some(PoolRules {
                    resource_type: "contact".into(),
                    return_after_days: 30,
                    max_owned_per_rep: 100,
                    disclose_duplicate_owner: true,
                }),
            })
            .await
        }
    };
    replayed(&suite, "UpdatePoolRules", rules).await;
    let key = admin
        .identity()
        .create_api_key(crm_proto::identity::CreateApiKeyRequest {
            display_name: "Revoked twice".into(),
            user_id: String::new(),
            permissions: vec!["contacts.contacts.read".into()],
        })
        .await
        .unwrap()
        .into_inner()
        .api_key
        .unwrap();
    replayed(&suite, "RevokeApiKey", || {
        let mut api = admin.identity();
        let key_id = key.id.clone();
        async move {
            api.revoke_api_key(crm_proto::identity::RevokeApiKeyRequest { id: key_id })
                .await
        }
    })
    .await;
    let history = admin
        .identity()
        .list_audit_entries(crm_proto::identity::ListAuditEntriesRequest {
            resource_type: "api_key".into(),
            resource_id: key.id.clone(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .entries;
    let actions: Vec<&str> = history.iter().map(|e| e.action.as_str()).collect();
    assert_eq!(actions, ["revoke", "create"], "revoked once");

    // A group removed twice under one request id: the retry answers OK, not NOT_FOUND.
    let doomed = o
        .manager
        .contacts()
        .create_group(CreateGroupRequest {
            group: Some(Group {
                display_name: "Doomed".into(),
                ..Default::default()
            }),
            request_id: String::new(),
        })
        .await
        .unwrap()
        .into_inner()
        .group
        .unwrap();
    replayed(&suite, "DeleteGroup", || {
        let mut api = o.manager.contacts();
        let group_id = doomed.id.clone();
        async move {
            api.delete_group(DeleteGroupRequest {
                id: group_id,
                request_id: id("delete-group"),
            })
            .await
        }
    })
    .await;

    // Identity creates and updates under a request id: one tenant, team, role and change.
    let tenant = replayed(&suite, "CreateTenant", || {
        let mut api = admin.identity();
        async move {
            api.create_tenant(crm_proto::identity::CreateTenantRequest {
                display_name: "Retried Ltd".into(),
                admin_email: "admin@retried.example".into(),
                admin_password: support::ADMIN_PASSWORD.into(),
                admin_display_name: "Admin".into(),
                request_id: id("tenant"),
                phone_region: "HK".into(),
            })
            .await
        }
    })
    .await;
    assert!(tenant.tenant.is_some());
    let created_team = replayed(&suite, "CreateTeam", || {
        let mut api = admin.identity();
        async move {
            api.create_team(crm_proto::identity::CreateTeamRequest {
                team: Some(crm_proto::identity::Team {
                    display_name: "Created once".into(),
                    ..Default::default()
                }),
                request_id: id("team"),
            })
            .await
        }
    })
    .await;
    let teams = admin
        .identity()
        .list_teams(crm_proto::identity::ListTeamsRequest::default())
        .await
        .unwrap()
        .into_inner()
        .teams;
    assert_eq!(
        teams
            .iter()
            .filter(|t| t.display_name == "Created once")
            .count(),
        1
    );
    replayed(&suite, "CreateRole", || {
        let mut api = admin.identity();
        async move {
            api.create_role(crm_proto::identity::CreateRoleRequest {
                role: Some(crm_proto::identity::Role {
                    display_name: "Created once".into(),
                    permissions: vec!["contacts.contacts.read".into()],
                    data_scope: crm_proto::identity::DataScope::Own as i32,
                    ..Default::default()
                }),
                request_id: id("role"),
            })
            .await
        }
    })
    .await;
    let team_id = created_team.team.unwrap().id;
    replayed(&suite, "UpdateUser", || {
        let mut api = admin.identity();
        let user = crm_proto::identity::User {
            id: o.rep2.user_id.clone(),
            team_ids: vec![team_id.clone()],
            ..Default::default()
        };
        async move {
            api.update_user(crm_proto::identity::UpdateUserRequest {
                user: Some(user),
                update_mask: Some(FieldMask {
                    paths: vec!["team_ids".into()],
                }),
                request_id: id("user"),
            })
            .await
        }
    })
    .await;

    // Identity: a role changed twice under one request id changes once.
    let role = admin
        .identity()
        .create_role(crm_proto::identity::CreateRoleRequest {
            request_id: String::new(),
            role: Some(crm_proto::identity::Role {
                display_name: "Retried role".into(),
                permissions: vec!["contacts.contacts.read".into()],
                data_scope: crm_proto::identity::DataScope::Own as i32,
                ..Default::default()
            }),
        })
        .await
        .unwrap()
        .into_inner()
        .role
        .unwrap();
    let changed = replayed(&suite, "UpdateRole", || {
        let mut api = admin.identity();
        let role = crm_proto::identity::Role {
            id: role.id.clone(),
            etag: role.etag.clone(),
            display_name: "Retried role, renamed".into(),
            ..Default::default()
        };
        async move {
            api.update_role(crm_proto::identity::UpdateRoleRequest {
                role: Some(role),
                update_mask: Some(FieldMask {
                    paths: vec!["display_name".into()],
                }),
                request_id: id("update-role"),
            })
            .await
        }
    })
    .await;
    assert_ne!(changed.role.unwrap().etag, role.etag);

    // Identity: a team removed twice under one request id is removed once, answered alike.
    let team = admin
        .identity()
        .create_team(crm_proto::identity::CreateTeamRequest {
            request_id: String::new(),
            team: Some(crm_proto::identity::Team {
                display_name: "Short-lived".into(),
                ..Default::default()
            }),
        })
        .await
        .unwrap()
        .into_inner()
        .team
        .unwrap();
    replayed(&suite, "DeleteTeam", || {
        let mut api = admin.identity();
        let team_id = team.id.clone();
        async move {
            api.delete_team(crm_proto::identity::DeleteTeamRequest {
                id: team_id,
                etag: String::new(),
                request_id: id("delete-team"),
            })
            .await
        }
    })
    .await;
}

both_modes!(every_mutation_replays_its_first_answer);
