//! Bad input, RPC by RPC, through the gateway in both modes: every request below is refused
//! with `INVALID_ARGUMENT` naming the field at fault, and none of them writes anything.

// Helpers panic on purpose: a failed step is a failed test with a clear message.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::support;

use std::future::Future;
use std::pin::Pin;

use crm_proto::common::Date;
use crm_proto::contacts::*;
use crm_proto::identity::{
    CreateApiKeyRequest, ListApiKeysRequest, ListRolesRequest, ListTeamsRequest, ListUsersRequest,
};
use support::clients::{Session, violations};
use support::{Mode, Suite};

type Call = Pin<Box<dyn Future<Output = Result<(), tonic::Status>> + Send>>;

/// A call on an owned client, so the future outlives the expression that made it.
macro_rules! call {
    ($client:expr, $method:ident, $request:expr) => {{
        let mut client = $client;
        let request = $request;
        async move { client.$method(request).await }
    }};
}

/// One refused request: the RPC, the call, and the field it must name.
fn case<T: Send + 'static>(
    rpc: &'static str,
    field: &'static str,
    call: impl Future<Output = Result<T, tonic::Status>> + Send + 'static,
) -> (&'static str, &'static str, Call) {
    (rpc, field, Box::pin(async move { call.await.map(|_| ()) }))
}

fn cases(s: &Session) -> Vec<(&'static str, &'static str, Call)> {
    let c = || s.contacts();
    let i = || s.identity();
    let bad_etag = "not an etag".to_owned();
    vec![
        case(
            "DeleteAccount",
            "etag",
            call!(
                c(),
                delete_account,
                DeleteAccountRequest {
                    id: "0190a0a0-0000-7000-8000-000000000000".into(),
                    etag: bad_etag.clone(),
                    request_id: String::new(),
                }
            ),
        ),
        case(
            "UndeleteAccount",
            "etag",
            call!(
                c(),
                undelete_account,
                UndeleteAccountRequest {
                    id: "0190a0a0-0000-7000-8000-000000000000".into(),
                    etag: bad_etag.clone(),
                    request_id: String::new(),
                }
            ),
        ),
        case(
            "DeleteContact",
            "etag",
            call!(
                c(),
                delete_contact,
                DeleteContactRequest {
                    id: "0190a0a0-0000-7000-8000-000000000000".into(),
                    etag: bad_etag.clone(),
                    request_id: String::new(),
                }
            ),
        ),
        case(
            "UndeleteContact",
            "etag",
            call!(
                c(),
                undelete_contact,
                UndeleteContactRequest {
                    id: "0190a0a0-0000-7000-8000-000000000000".into(),
                    etag: bad_etag,
                    request_id: String::new(),
                }
            ),
        ),
        case(
            "GetAccountHierarchy",
            "id",
            call!(
                c(),
                get_account_hierarchy,
                GetAccountHierarchyRequest { id: String::new() }
            ),
        ),
        case(
            "CreateGroup",
            "group.display_name",
            call!(
                c(),
                create_group,
                CreateGroupRequest {
                    group: Some(Group::default()),
                    request_id: String::new(),
                }
            ),
        ),
        case(
            "FindDuplicates",
            "resource_type",
            call!(
                c(),
                find_duplicates,
                FindDuplicatesRequest {
                    resource_type: "lead".into(),
                    ..Default::default()
                }
            ),
        ),
        case(
            "MergeAccounts",
            "survivor_id",
            call!(c(), merge_accounts, MergeAccountsRequest::default()),
        ),
        case(
            "RecordInteraction",
            "interaction.subject_type",
            call!(
                c(),
                record_interaction,
                RecordInteractionRequest {
                    interaction: Some(Interaction {
                        subject_type: "lead".into(),
                        subject_id: "x".into(),
                        kind: InteractionKind::Call as i32,
                        summary: "called".into(),
                        ..Default::default()
                    }),
                    ..Default::default()
                }
            ),
        ),
        case(
            "ListInteractions",
            "subject_type",
            call!(
                c(),
                list_interactions,
                ListInteractionsRequest {
                    subject_type: "lead".into(),
                    subject_id: "x".into(),
                    ..Default::default()
                }
            ),
        ),
        case(
            "ListFollowUps",
            "utc_offset_minutes",
            call!(
                c(),
                list_follow_ups,
                ListFollowUpsRequest {
                    utc_offset_minutes: 9_999,
                    ..Default::default()
                }
            ),
        ),
        case(
            "UpdateFollowUp",
            "follow_up.id",
            call!(
                c(),
                update_follow_up,
                UpdateFollowUpRequest {
                    follow_up: Some(FollowUp::default()),
                    ..Default::default()
                }
            ),
        ),
        case(
            "ReleaseToPool",
            "ids",
            call!(
                c(),
                release_to_pool,
                ReleaseToPoolRequest {
                    resource_type: "contact".into(),
                    ..Default::default()
                }
            ),
        ),
        case(
            "ClaimFromPool",
            "id",
            call!(
                c(),
                claim_from_pool,
                ClaimFromPoolRequest {
                    resource_type: "contact".into(),
                    ..Default::default()
                }
            ),
        ),
        case(
            "UpdatePoolRules",
            "rules.return_after_days",
            call!(
                c(),
                update_pool_rules,
                UpdatePoolRulesRequest {
                    rules: Some(PoolRules {
                        resource_type: "contact".into(),
                        return_after_days: -1,
                        ..Default::default()
                    }),
                }
            ),
        ),
        case(
            "ListBirthdays",
            "start",
            call!(
                c(),
                list_birthdays,
                ListBirthdaysRequest {
                    start: Some(Date {
                        year: 0,
                        month: 13,
                        day: 1,
                    }),
                    end: Some(Date {
                        year: 0,
                        month: 1,
                        day: 1,
                    }),
                    ..Default::default()
                }
            ),
        ),
        case(
            "ListCustomFields",
            "resource_type",
            call!(
                c(),
                list_custom_fields,
                ListCustomFieldsRequest {
                    resource_type: "lead".into(),
                }
            ),
        ),
        case(
            "SearchCustomers",
            "query",
            call!(c(), search_customers, SearchCustomersRequest::default()),
        ),
        case(
            "ErasePersonalData",
            "contact_id",
            call!(
                c(),
                erase_personal_data,
                ErasePersonalDataRequest::default()
            ),
        ),
        case(
            "ListUsers",
            "page_size",
            call!(
                i(),
                list_users,
                ListUsersRequest {
                    page_size: -1,
                    ..Default::default()
                }
            ),
        ),
        case(
            "ListTeams",
            "page_size",
            call!(
                i(),
                list_teams,
                ListTeamsRequest {
                    page_size: -1,
                    ..Default::default()
                }
            ),
        ),
        case(
            "ListRoles",
            "page_size",
            call!(
                i(),
                list_roles,
                ListRolesRequest {
                    page_size: -1,
                    ..Default::default()
                }
            ),
        ),
        case(
            "ListApiKeys",
            "page_size",
            call!(
                i(),
                list_api_keys,
                ListApiKeysRequest {
                    page_size: -1,
                    ..Default::default()
                }
            ),
        ),
        case(
            "RevokeApiKey",
            "id",
            call!(
                i(),
                revoke_api_key,
                crm_proto::identity::RevokeApiKeyRequest { id: String::new() }
            ),
        ),
        case(
            "CreateApiKey",
            "permissions",
            call!(
                i(),
                create_api_key,
                CreateApiKeyRequest {
                    display_name: "ERP".into(),
                    ..Default::default()
                }
            ),
        ),
    ]
}

async fn every_rpc_names_the_bad_field(mode: Mode) {
    let suite = Suite::start(mode).await;
    let admin = suite.admin().await;
    let footprint = suite.contacts_footprint().await;
    let mut wrong = Vec::new();
    for (rpc, field, call) in cases(&admin) {
        match call.await {
            Err(status) if status.code() == tonic::Code::InvalidArgument => {
                let named = violations(&status);
                if !named.iter().any(|f| f == field) {
                    wrong.push(format!("{rpc}: expected {field}, named {named:?}"));
                }
            }
            other => wrong.push(format!("{rpc}: expected INVALID_ARGUMENT, got {other:?}")),
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    assert_eq!(
        suite.contacts_footprint().await,
        footprint,
        "nothing written"
    );
}

both_modes!(every_rpc_names_the_bad_field);
