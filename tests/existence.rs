//! Hidden existence through the gateway in both modes, for every RPC of contacts and identity
//! that takes an id: a record outside the caller's scope, or in another tenant, answers exactly
//! like a well-formed id that names nothing (code, reason, message, detail keys), and nothing
//! about the hidden record changes.

// Helpers panic on purpose: a failed step is a failed test with a clear message.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::support;

use prost_types::{FieldMask, Timestamp};
use tonic::Code;

use crm_proto::common::{CustomFieldDefinition, CustomFieldType};
use crm_proto::contacts::*;
use crm_proto::identity::{
    CreateApiKeyRequest, CreateTeamRequest, GetUserRequest, RevokeApiKeyRequest, Team,
    UpdateUserRequest, User,
};
use support::clients::Session;
use support::existence::{Asker, Shown, assert_hidden};
use support::{Mode, Suite, org};

fn mask(path: &str) -> Option<FieldMask> {
    Some(FieldMask {
        paths: vec![path.into()],
    })
}

async fn account(session: &Session, name: &str) -> Account {
    session
        .contacts()
        .create_account(CreateAccountRequest {
            account: Some(Account {
                display_name: name.into(),
                ..Default::default()
            }),
            request_id: String::new(),
            allow_duplicates: true,
        })
        .await
        .unwrap()
        .into_inner()
        .account
        .unwrap()
}

/// An interaction on `subject_id` (a contact) that leaves an open follow-up; returns its id.
async fn follow_up_on(session: &Session, subject_id: &str) -> String {
    session
        .contacts()
        .record_interaction(RecordInteractionRequest {
            interaction: Some(Interaction {
                subject_type: "contact".into(),
                subject_id: subject_id.into(),
                kind: InteractionKind::Call as i32,
                occur_time: Some(Timestamp {
                    seconds: 1_700_000_000,
                    nanos: 0,
                }),
                summary: "first call".into(),
                next_follow_up_time: Some(Timestamp {
                    seconds: 4_000_000_000,
                    nanos: 0,
                }),
                ..Default::default()
            }),
            follow_up_note: "call back".into(),
            request_id: String::new(),
        })
        .await
        .unwrap()
        .into_inner()
        .interaction
        .unwrap()
        .follow_up_id
}

fn asked(label: &'static str, session: &Session, id: &str) -> Asker {
    Asker {
        label,
        session: session.clone(),
        id: id.to_owned(),
    }
}

/// A refusal, not a success, is what every hidden case shares here.
#[track_caller]
fn refused(shown: Shown, code: Code) {
    match shown {
        Shown::Refused { code: got, .. } => assert_eq!(got, code),
        Shown::Answered(summary) => panic!("expected {code:?}, got an answer: {summary}"),
    }
}

async fn every_id_taking_rpc_hides_what_the_caller_may_not_see(mode: Mode) {
    let suite = Suite::start(mode).await;
    let admin = suite.admin().await;
    let o = org::build(&suite, admin.clone(), "exist").await;
    let platform = suite.admin().await;
    let stranger = org::other_tenant(&suite, &platform, "exist-other").await;
    let officer = org::custom_user(
        &suite,
        &admin,
        "officer@exist.example",
        &[
            "contacts.contacts.read",
            "contacts.contacts.write",
            "contacts.privacy.admin",
        ],
        crm_proto::identity::DataScope::Own,
    )
    .await;
    let unknown = uuid::Uuid::now_v7().to_string();

    // The outsider's records, which rep1 (and the manager of rep1's teams) may not see.
    let theirs = o.outsider.create_contact("Outsider's customer").await;
    let their_account = account(&o.outsider, "Outsider's company").await;
    let their_follow_up = follow_up_on(&o.outsider, &theirs.id).await;
    // rep1's own, which another tenant may not see.
    let ours = o.rep1.create_contact("Rep's customer").await;
    let our_account = account(&o.rep1, "Rep's company").await;
    let our_follow_up = follow_up_on(&o.rep1, &ours.id).await;

    let contact_cases = |caller: &Session| {
        vec![
            asked("same tenant, outside scope", caller, &theirs.id),
            asked("another tenant", &stranger, &ours.id),
        ]
    };
    let account_cases = |caller: &Session| {
        vec![
            asked("same tenant, outside scope", caller, &their_account.id),
            asked("another tenant", &stranger, &our_account.id),
        ]
    };
    let rep = &o.rep1;
    let nobody = asked("unknown id", rep, &unknown);

    // Standard methods.
    let shown = assert_hidden(
        "GetContact",
        &contact_cases(rep),
        &nobody,
        |s, id| async move {
            s.contacts()
                .get_contact(GetContactRequest { id })
                .await
                .map(|_| "found".into())
        },
    )
    .await;
    refused(shown, Code::NotFound);
    let shown = assert_hidden(
        "GetAccount",
        &account_cases(rep),
        &nobody,
        |s, id| async move {
            s.contacts()
                .get_account(GetAccountRequest { id })
                .await
                .map(|_| "found".into())
        },
    )
    .await;
    refused(shown, Code::NotFound);
    let shown = assert_hidden(
        "UpdateContact",
        &contact_cases(rep),
        &nobody,
        |s, id| async move {
            s.contacts()
                .update_contact(UpdateContactRequest {
                    contact: Some(Contact {
                        id,
                        title: "Taken over".into(),
                        ..Default::default()
                    }),
                    update_mask: mask("title"),
                    request_id: String::new(),
                    allow_duplicates: true,
                })
                .await
                .map(|_| "updated".into())
        },
    )
    .await;
    refused(shown, Code::NotFound);
    let shown = assert_hidden(
        "UpdateAccount",
        &account_cases(rep),
        &nobody,
        |s, id| async move {
            s.contacts()
                .update_account(UpdateAccountRequest {
                    account: Some(Account {
                        id,
                        industry: "taken over".into(),
                        ..Default::default()
                    }),
                    update_mask: mask("industry"),
                    request_id: String::new(),
                    allow_duplicates: true,
                })
                .await
                .map(|_| "updated".into())
        },
    )
    .await;
    refused(shown, Code::NotFound);
    let shown = assert_hidden(
        "DeleteContact",
        &contact_cases(rep),
        &nobody,
        |s, id| async move {
            s.contacts()
                .delete_contact(DeleteContactRequest {
                    id,
                    ..Default::default()
                })
                .await
                .map(|_| "deleted".into())
        },
    )
    .await;
    refused(shown, Code::NotFound);
    let shown = assert_hidden(
        "DeleteAccount",
        &account_cases(rep),
        &nobody,
        |s, id| async move {
            s.contacts()
                .delete_account(DeleteAccountRequest {
                    id,
                    ..Default::default()
                })
                .await
                .map(|_| "deleted".into())
        },
    )
    .await;
    refused(shown, Code::NotFound);
    let shown = assert_hidden(
        "UndeleteContact",
        &contact_cases(rep),
        &nobody,
        |s, id| async move {
            s.contacts()
                .undelete_contact(UndeleteContactRequest {
                    id,
                    ..Default::default()
                })
                .await
                .map(|_| "undeleted".into())
        },
    )
    .await;
    refused(shown, Code::NotFound);
    let shown = assert_hidden(
        "UndeleteAccount",
        &account_cases(rep),
        &nobody,
        |s, id| async move {
            s.contacts()
                .undelete_account(UndeleteAccountRequest {
                    id,
                    ..Default::default()
                })
                .await
                .map(|_| "undeleted".into())
        },
    )
    .await;
    refused(shown, Code::NotFound);

    // References to a record from a new one.
    let shown = assert_hidden(
        "CreateContact(account_id)",
        &account_cases(rep),
        &nobody,
        |s, id| async move {
            s.contacts()
                .create_contact(CreateContactRequest {
                    contact: Some(Contact {
                        display_name: "Linked".into(),
                        account_id: id,
                        ..Default::default()
                    }),
                    allow_duplicates: true,
                    request_id: String::new(),
                })
                .await
                .map(|_| "created".into())
        },
    )
    .await;
    refused(shown, Code::InvalidArgument);
    let shown = assert_hidden(
        "CreateAccount(parent_id)",
        &account_cases(rep),
        &nobody,
        |s, id| async move {
            s.contacts()
                .create_account(CreateAccountRequest {
                    account: Some(Account {
                        display_name: "Subsidiary".into(),
                        parent_id: id,
                        ..Default::default()
                    }),
                    request_id: String::new(),
                    allow_duplicates: true,
                })
                .await
                .map(|_| "created".into())
        },
    )
    .await;
    refused(shown, Code::InvalidArgument);

    // Reading around a record.
    let shown = assert_hidden(
        "GetAccountHierarchy",
        &account_cases(rep),
        &nobody,
        |s, id| async move {
            s.contacts()
                .get_account_hierarchy(GetAccountHierarchyRequest { id })
                .await
                .map(|_| "found".into())
        },
    )
    .await;
    refused(shown, Code::NotFound);
    let shown = assert_hidden(
        "ListAuditEntries",
        &contact_cases(rep),
        &nobody,
        |s, id| async move {
            s.contacts()
                .list_audit_entries(ListAuditEntriesRequest {
                    resource_type: "contact".into(),
                    resource_id: id,
                    ..Default::default()
                })
                .await
                .map(|r| format!("{} entries", r.into_inner().entries.len()))
        },
    )
    .await;
    refused(shown, Code::NotFound);
    let shown = assert_hidden(
        "ListInteractions",
        &contact_cases(rep),
        &nobody,
        |s, id| async move {
            s.contacts()
                .list_interactions(ListInteractionsRequest {
                    subject_type: "contact".into(),
                    subject_id: id,
                    ..Default::default()
                })
                .await
                .map(|r| format!("{} interactions", r.into_inner().interactions.len()))
        },
    )
    .await;
    refused(shown, Code::NotFound);
    // Follow-ups by owner: an owner the caller cannot reach has none to show, whoever it is.
    let owners = [
        asked("same tenant, outside scope", rep, &o.outsider.user_id),
        asked("another tenant", &stranger, &o.rep1.user_id),
    ];
    let shown = assert_hidden("ListFollowUps", &owners, &nobody, |s, id| async move {
        s.contacts()
            .list_follow_ups(ListFollowUpsRequest {
                owner_id: id,
                ..Default::default()
            })
            .await
            .map(|r| format!("{} follow-ups", r.into_inner().follow_ups.len()))
    })
    .await;
    assert_eq!(shown, Shown::Answered("0 follow-ups".into()));

    // Writing around a record.
    let shown = assert_hidden(
        "RecordInteraction(subject)",
        &contact_cases(rep),
        &nobody,
        |s, id| async move {
            s.contacts()
                .record_interaction(RecordInteractionRequest {
                    interaction: Some(Interaction {
                        subject_type: "contact".into(),
                        subject_id: id,
                        kind: InteractionKind::Note as i32,
                        summary: "noted".into(),
                        ..Default::default()
                    }),
                    ..Default::default()
                })
                .await
                .map(|_| "recorded".into())
        },
    )
    .await;
    refused(shown, Code::NotFound);
    let own_subject = ours.id.clone();
    let strangers_subject = stranger.create_contact("Stranger's customer").await.id;
    let participants = [
        asked("same tenant, outside scope", rep, &theirs.id),
        asked("another tenant", &stranger, &ours.id),
    ];
    let shown = assert_hidden(
        "RecordInteraction(participants)",
        &participants,
        &nobody,
        |s: Session, id| {
            let subject = if s.tenant_id == o.rep1.tenant_id {
                own_subject.clone()
            } else {
                strangers_subject.clone()
            };
            async move {
                s.contacts()
                    .record_interaction(RecordInteractionRequest {
                        interaction: Some(Interaction {
                            subject_type: "contact".into(),
                            subject_id: subject,
                            kind: InteractionKind::Meeting as i32,
                            summary: "met".into(),
                            participant_contact_ids: vec![id],
                            ..Default::default()
                        }),
                        ..Default::default()
                    })
                    .await
                    .map(|_| "recorded".into())
            }
        },
    )
    .await;
    refused(shown, Code::InvalidArgument);
    let follow_ups = [
        asked("same tenant, outside scope", rep, &their_follow_up),
        asked("another tenant", &stranger, &our_follow_up),
    ];
    let shown = assert_hidden("UpdateFollowUp", &follow_ups, &nobody, |s, id| async move {
        s.contacts()
            .update_follow_up(UpdateFollowUpRequest {
                follow_up: Some(FollowUp {
                    id,
                    note: "mine now".into(),
                    ..Default::default()
                }),
                update_mask: mask("note"),
                request_id: String::new(),
            })
            .await
            .map(|_| "updated".into())
    })
    .await;
    refused(shown, Code::NotFound);

    // Batch and ownership calls.
    let shown = assert_hidden(
        "BatchModifyLabels",
        &contact_cases(rep),
        &nobody,
        |s, id| async move {
            s.contacts()
                .batch_modify_labels(BatchModifyLabelsRequest {
                    resource_type: "contact".into(),
                    ids: vec![id],
                    add_tags: vec!["mine".into()],
                    ..Default::default()
                })
                .await
                .map(|r| format!("{} changed", r.into_inner().updated_count))
        },
    )
    .await;
    refused(shown, Code::NotFound);
    let rep_id = o.rep1.user_id.clone();
    let shown = assert_hidden(
        "TransferOwnership",
        &contact_cases(rep),
        &nobody,
        |s, id| {
            let to = rep_id.clone();
            async move {
                s.contacts()
                    .transfer_ownership(TransferOwnershipRequest {
                        resource_type: "contact".into(),
                        ids: vec![id],
                        to_owner_id: to,
                        ..Default::default()
                    })
                    .await
                    .map(|r| format!("{} moved", r.into_inner().transferred_count))
            }
        },
    )
    .await;
    refused(shown, Code::NotFound);
    let shown = assert_hidden(
        "ReleaseToPool",
        &contact_cases(rep),
        &nobody,
        |s, id| async move {
            s.contacts()
                .release_to_pool(ReleaseToPoolRequest {
                    resource_type: "contact".into(),
                    ids: vec![id],
                    reason: "not mine".into(),
                    request_id: String::new(),
                })
                .await
                .map(|r| format!("{} released", r.into_inner().released_count))
        },
    )
    .await;
    refused(shown, Code::NotFound);
    let shown = assert_hidden(
        "ClaimFromPool",
        &contact_cases(rep),
        &nobody,
        |s, id| async move {
            s.contacts()
                .claim_from_pool(ClaimFromPoolRequest {
                    resource_type: "contact".into(),
                    id,
                    request_id: String::new(),
                })
                .await
                .map(|_| "claimed".into())
        },
    )
    .await;
    refused(shown, Code::NotFound);

    // Merges, by a manager (reps may not merge), either side of the merge.
    let manager_own = o.rep1.create_contact("Team's customer").await;
    let manager_survivor = manager_own.id.clone();
    let merge_cases = [
        asked("same tenant, outside scope", &o.manager, &theirs.id),
        asked("another tenant", &stranger, &ours.id),
    ];
    let manager_nobody = asked("unknown id", &o.manager, &unknown);
    let strangers_own = stranger.create_contact("Stranger's twin").await.id;
    let shown = assert_hidden(
        "MergeContacts(merged)",
        &merge_cases,
        &manager_nobody,
        |s: Session, id| {
            let survivor = if s.tenant_id == o.rep1.tenant_id {
                manager_survivor.clone()
            } else {
                strangers_own.clone()
            };
            async move {
                s.contacts()
                    .merge_contacts(MergeContactsRequest {
                        survivor_id: survivor,
                        merged_ids: vec![id],
                        ..Default::default()
                    })
                    .await
                    .map(|_| "merged".into())
            }
        },
    )
    .await;
    refused(shown, Code::NotFound);
    let merged_away = o.rep1.create_contact("Team's twin").await.id;
    let strangers_twin = stranger.create_contact("Stranger's other twin").await.id;
    let shown = assert_hidden(
        "MergeContacts(survivor)",
        &merge_cases,
        &manager_nobody,
        |s: Session, id| {
            let merged = if s.tenant_id == o.rep1.tenant_id {
                merged_away.clone()
            } else {
                strangers_twin.clone()
            };
            async move {
                s.contacts()
                    .merge_contacts(MergeContactsRequest {
                        survivor_id: id,
                        merged_ids: vec![merged],
                        ..Default::default()
                    })
                    .await
                    .map(|_| "merged".into())
            }
        },
    )
    .await;
    refused(shown, Code::NotFound);
    let shown = assert_hidden(
        "MergeAccounts",
        &[
            asked("same tenant, outside scope", &o.manager, &their_account.id),
            asked("another tenant", &stranger, &our_account.id),
        ],
        &manager_nobody,
        |s: Session, id| async move {
            let survivor = account(&s, "Survivor company").await.id;
            s.contacts()
                .merge_accounts(MergeAccountsRequest {
                    survivor_id: survivor,
                    merged_ids: vec![id],
                    ..Default::default()
                })
                .await
                .map(|_| "merged".into())
        },
    )
    .await;
    refused(shown, Code::NotFound);

    // Personal-data rights, by a privacy officer whose scope is their own records.
    let privacy_cases = [
        asked("same tenant, outside scope", &officer, &theirs.id),
        asked("another tenant", &stranger, &ours.id),
    ];
    let officer_nobody = asked("unknown id", &officer, &unknown);
    let shown = assert_hidden(
        "ExportPersonalData",
        &privacy_cases,
        &officer_nobody,
        |s, id| async move {
            s.contacts()
                .export_personal_data(ExportPersonalDataRequest { contact_id: id })
                .await
                .map(|_| "exported".into())
        },
    )
    .await;
    refused(shown, Code::NotFound);
    let shown = assert_hidden(
        "ErasePersonalData",
        &privacy_cases,
        &officer_nobody,
        |s, id| async move {
            s.contacts()
                .erase_personal_data(ErasePersonalDataRequest {
                    contact_id: id,
                    request_id: String::new(),
                })
                .await
                .map(|_| "erased".into())
        },
    )
    .await;
    refused(shown, Code::NotFound);

    // Tenant-wide definitions: hidden from other tenants.
    let group = admin
        .contacts()
        .create_group(CreateGroupRequest {
            group: Some(Group {
                display_name: "Key accounts".into(),
                ..Default::default()
            }),
            request_id: String::new(),
        })
        .await
        .unwrap()
        .into_inner()
        .group
        .unwrap();
    let admin_nobody = asked("unknown id", &admin, &unknown);
    let shown = assert_hidden(
        "DeleteGroup",
        &[asked("another tenant", &stranger, &group.id)],
        &admin_nobody,
        |s, id| async move {
            s.contacts()
                .delete_group(DeleteGroupRequest {
                    id,
                    request_id: String::new(),
                })
                .await
                .map(|_| "deleted".into())
        },
    )
    .await;
    refused(shown, Code::NotFound);
    let field = admin
        .contacts()
        .create_custom_field(CreateCustomFieldRequest {
            custom_field: Some(CustomFieldDefinition {
                resource_type: "contact".into(),
                name: "segment".into(),
                display_name: "Segment".into(),
                r#type: CustomFieldType::Text as i32,
                ..Default::default()
            }),
            request_id: String::new(),
        })
        .await
        .unwrap()
        .into_inner()
        .custom_field
        .unwrap();
    let shown = assert_hidden(
        "UpdateCustomField",
        &[asked("another tenant", &stranger, &field.id)],
        &admin_nobody,
        |s, id| async move {
            s.contacts()
                .update_custom_field(UpdateCustomFieldRequest {
                    custom_field: Some(CustomFieldDefinition {
                        id,
                        display_name: "Mine".into(),
                        ..Default::default()
                    }),
                    update_mask: mask("display_name"),
                    request_id: String::new(),
                })
                .await
                .map(|_| "updated".into())
        },
    )
    .await;
    refused(shown, Code::NotFound);
    let shown = assert_hidden(
        "DeleteCustomField",
        &[asked("another tenant", &stranger, &field.id)],
        &admin_nobody,
        |s, id| async move {
            s.contacts()
                .delete_custom_field(DeleteCustomFieldRequest {
                    id,
                    ..Default::default()
                })
                .await
                .map(|_| "deleted".into())
        },
    )
    .await;
    refused(shown, Code::NotFound);

    // Identity: users, keys and teams of another tenant.
    let user_cases = [asked("another tenant", &stranger, &o.rep1.user_id)];
    let platform_nobody = asked("unknown id", &platform, &unknown);
    let shown = assert_hidden(
        "GetUser",
        &user_cases,
        &platform_nobody,
        |s, id| async move {
            s.identity()
                .get_user(GetUserRequest { id })
                .await
                .map(|_| "found".into())
        },
    )
    .await;
    refused(shown, Code::NotFound);
    let shown = assert_hidden(
        "UpdateUser",
        &user_cases,
        &platform_nobody,
        |s, id| async move {
            s.identity()
                .update_user(UpdateUserRequest {
                    request_id: String::new(),
                    user: Some(User {
                        id,
                        display_name: "Mine".into(),
                        ..Default::default()
                    }),
                    update_mask: mask("display_name"),
                })
                .await
                .map(|_| "updated".into())
        },
    )
    .await;
    refused(shown, Code::NotFound);
    let shown = assert_hidden(
        "DeactivateUser",
        &user_cases,
        &platform_nobody,
        |s, id| async move {
            let successor_user_id = s.user_id.clone();
            s.identity()
                .deactivate_user(crm_proto::identity::DeactivateUserRequest {
                    user_id: id,
                    successor_user_id,
                    request_id: String::new(),
                })
                .await
                .map(|_| "deactivated".into())
        },
    )
    .await;
    refused(shown, Code::NotFound);
    let shown = assert_hidden(
        "CreateApiKey(user_id)",
        &user_cases,
        &platform_nobody,
        |s, id| async move {
            s.identity()
                .create_api_key(CreateApiKeyRequest {
                    display_name: "as them".into(),
                    user_id: id,
                    permissions: vec!["contacts.contacts.read".into()],
                })
                .await
                .map(|_| "minted".into())
        },
    )
    .await;
    refused(shown, Code::NotFound);
    let key = platform
        .identity()
        .create_api_key(CreateApiKeyRequest {
            display_name: "ERP".into(),
            user_id: String::new(),
            permissions: vec!["contacts.contacts.read".into()],
        })
        .await
        .unwrap()
        .into_inner()
        .api_key
        .unwrap();
    let shown = assert_hidden(
        "RevokeApiKey",
        &[asked("another tenant", &stranger, &key.id)],
        &platform_nobody,
        |s, id| async move {
            s.identity()
                .revoke_api_key(RevokeApiKeyRequest { id })
                .await
                .map(|_| "revoked".into())
        },
    )
    .await;
    refused(shown, Code::NotFound);
    let shown = assert_hidden(
        "IdentityService.ListAuditEntries",
        &user_cases,
        &platform_nobody,
        |s, id| async move {
            s.identity()
                .list_audit_entries(crm_proto::identity::ListAuditEntriesRequest {
                    resource_type: "user".into(),
                    resource_id: id,
                    ..Default::default()
                })
                .await
                .map(|r| format!("{} entries", r.into_inner().entries.len()))
        },
    )
    .await;
    assert_eq!(shown, Shown::Answered("0 entries".into()));
    let team = platform
        .identity()
        .create_team(CreateTeamRequest {
            request_id: String::new(),
            team: Some(Team {
                display_name: "Hidden team".into(),
                ..Default::default()
            }),
        })
        .await
        .unwrap()
        .into_inner()
        .team
        .unwrap();
    let team_cases = [asked("another tenant", &stranger, &team.id)];
    let shown = assert_hidden(
        "GetTeam",
        &team_cases,
        &platform_nobody,
        |s, id| async move {
            s.identity()
                .get_team(crm_proto::identity::GetTeamRequest { id })
                .await
                .map(|_| "found".into())
        },
    )
    .await;
    refused(shown, Code::NotFound);
    let shown = assert_hidden(
        "UpdateTeam",
        &team_cases,
        &platform_nobody,
        |s, id| async move {
            s.identity()
                .update_team(crm_proto::identity::UpdateTeamRequest {
                    team: Some(Team {
                        id,
                        display_name: "Mine".into(),
                        ..Default::default()
                    }),
                    update_mask: mask("display_name"),
                    request_id: String::new(),
                })
                .await
                .map(|_| "updated".into())
        },
    )
    .await;
    refused(shown, Code::NotFound);
    let shown = assert_hidden(
        "DeleteTeam",
        &team_cases,
        &platform_nobody,
        |s, id| async move {
            s.identity()
                .delete_team(crm_proto::identity::DeleteTeamRequest {
                    id,
                    ..Default::default()
                })
                .await
                .map(|_| "deleted".into())
        },
    )
    .await;
    refused(shown, Code::NotFound);
    // A tenant admin changes only their own tenant.
    let our_tenant = platform
        .identity()
        .get_tenant(crm_proto::identity::GetTenantRequest {})
        .await
        .unwrap()
        .into_inner()
        .tenant
        .unwrap();
    let tenant_cases = [asked("another tenant", &stranger, &our_tenant.id)];
    let shown = assert_hidden(
        "UpdateTenant",
        &tenant_cases,
        &platform_nobody,
        |s, id| async move {
            s.identity()
                .update_tenant(crm_proto::identity::UpdateTenantRequest {
                    tenant: Some(crm_proto::identity::Tenant {
                        id,
                        display_name: "Mine".into(),
                        ..Default::default()
                    }),
                    update_mask: mask("display_name"),
                    request_id: String::new(),
                })
                .await
                .map(|_| "updated".into())
        },
    )
    .await;
    refused(shown, Code::NotFound);
    let role = org::role_id(&platform, "sales_rep").await;
    let role_cases = [asked("another tenant", &stranger, &role)];
    // A user of another tenant's roles or teams is refused as for ids that name nothing.
    for (rpc, roles) in [
        ("CreateUser(role_ids)", true),
        ("CreateUser(team_ids)", false),
    ] {
        let cases = if roles {
            vec![asked("another tenant", &stranger, &role)]
        } else {
            vec![asked("another tenant", &stranger, &team.id)]
        };
        let shown = assert_hidden(rpc, &cases, &platform_nobody, |s, id| async move {
            let (role_ids, team_ids) = if roles {
                (vec![id], vec![])
            } else {
                (vec![], vec![id])
            };
            org::create_user(&s, "new@exist-users.example", role_ids, team_ids)
                .await
                .map(|_| "created".into())
        })
        .await;
        refused(shown, Code::InvalidArgument);
    }
    let shown = assert_hidden(
        "GetRole",
        &role_cases,
        &platform_nobody,
        |s, id| async move {
            s.identity()
                .get_role(crm_proto::identity::GetRoleRequest { id })
                .await
                .map(|_| "found".into())
        },
    )
    .await;
    refused(shown, Code::NotFound);
    let shown = assert_hidden(
        "UpdateRole",
        &role_cases,
        &platform_nobody,
        |s, id| async move {
            s.identity()
                .update_role(crm_proto::identity::UpdateRoleRequest {
                    role: Some(crm_proto::identity::Role {
                        id,
                        display_name: "Mine".into(),
                        ..Default::default()
                    }),
                    update_mask: mask("display_name"),
                    request_id: String::new(),
                })
                .await
                .map(|_| "updated".into())
        },
    )
    .await;
    refused(shown, Code::NotFound);
    for (rpc, field) in [("parent", true), ("manager", false)] {
        let shown = assert_hidden(
            "CreateTeam",
            &user_cases,
            &platform_nobody,
            |s, id| async move {
                let mut team = Team {
                    display_name: format!("{rpc} {id}"),
                    ..Default::default()
                };
                if field {
                    team.parent_team_id = id;
                } else {
                    team.manager_user_id = id;
                }
                s.identity()
                    .create_team(CreateTeamRequest {
                        team: Some(team),
                        request_id: String::new(),
                    })
                    .await
                    .map(|_| "created".into())
            },
        )
        .await;
        refused(shown, Code::InvalidArgument);
    }

    // None of it touched the hidden records.
    let still = o.outsider.get_contact(&theirs.id).await;
    assert_eq!(
        still.etag, theirs.etag,
        "the outsider's contact is unchanged"
    );
    assert!(still.tags.is_empty() && still.owner_id == o.outsider.user_id);
    let ours_now = o.rep1.get_contact(&ours.id).await;
    assert_eq!(ours_now.etag, ours.etag, "rep1's contact is unchanged");
}

both_modes!(every_id_taking_rpc_hides_what_the_caller_may_not_see);
