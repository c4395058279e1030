//! Who may call what, and see which records: sign-in, tokens, API keys, permissions, data
//! scope (own, team and sub-teams, tenant) and tenant isolation, through the gateway.

// Helpers panic on purpose: a failed step is a failed test with a clear message.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::support;

use tonic::Code;
use tonic::metadata::MetadataValue;

use crm_proto::contacts::*;
use crm_proto::identity::auth_service_client::AuthServiceClient;
use crm_proto::identity::{
    CreateApiKeyRequest, CreateTenantRequest, CreateUserRequest, GetUserRequest,
    ListApiKeysRequest, ListUsersRequest, LoginRequest, LogoutRequest, RefreshTokenRequest,
    RevokeApiKeyRequest, UpdateUserRequest, User, UserState,
};
use support::clients::{Session, expect_code, expect_invalid};
use support::{ADMIN_EMAIL, ADMIN_PASSWORD, Mode, Suite, org};

async fn visible_names(session: &Session, filter: &str) -> Vec<String> {
    let mut names = Vec::new();
    let mut token = String::new();
    loop {
        let page = session
            .contacts()
            .list_contacts(ListContactsRequest {
                page_size: 100,
                page_token: token,
                filter: filter.into(),
                order_by: "display_name".into(),
                show_deleted: false,
            })
            .await
            .unwrap()
            .into_inner();
        names.extend(page.contacts.into_iter().map(|c| c.display_name));
        if page.next_page_token.is_empty() {
            return names;
        }
        token = page.next_page_token;
    }
}

async fn sign_in_and_bad_credentials(mode: Mode) {
    let suite = Suite::start(mode).await;
    let mut auth = AuthServiceClient::new(suite.channel().await);
    let ok = auth
        .login(LoginRequest {
            email: ADMIN_EMAIL.into(),
            password: ADMIN_PASSWORD.into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert!(!ok.access_token.is_empty() && !ok.refresh_token.is_empty());
    assert!(ok.expires_in_seconds > 0);

    for (email, password) in [
        (ADMIN_EMAIL, "wrong password!!"),
        ("nobody@example.com", ADMIN_PASSWORD),
        ("", ""),
    ] {
        let status = expect_code(
            auth.login(LoginRequest {
                email: email.into(),
                password: password.into(),
            })
            .await,
            Code::Unauthenticated,
        );
        assert_eq!(
            status.message(),
            "wrong email or password",
            "no hint which part was wrong"
        );
    }

    // No token, a garbage token, and a forged principal header are all refused.
    let channel = suite.channel().await;
    let mut anonymous =
        crm_proto::contacts::contacts_service_client::ContactsServiceClient::new(channel.clone());
    expect_code(
        anonymous
            .list_contacts(ListContactsRequest::default())
            .await,
        Code::Unauthenticated,
    );
    let mut forged = tonic::Request::new(ListContactsRequest::default());
    forged.metadata_mut().insert(
        "x-crm-principal",
        MetadataValue::from_static("eyJ0ZW5hbnRfaWQiOiJ4In0.AAAA"),
    );
    expect_code(anonymous.list_contacts(forged).await, Code::Unauthenticated);
    let mut garbage = tonic::Request::new(ListContactsRequest::default());
    garbage.metadata_mut().insert(
        "authorization",
        MetadataValue::from_static("Bearer not-a-token"),
    );
    expect_code(
        anonymous.list_contacts(garbage).await,
        Code::Unauthenticated,
    );

    // Refresh rotates: the new pair works, the old refresh token does not.
    let refreshed = auth
        .refresh_token(RefreshTokenRequest {
            refresh_token: ok.refresh_token.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    assert!(!refreshed.access_token.is_empty());
    expect_code(
        auth.refresh_token(RefreshTokenRequest {
            refresh_token: ok.refresh_token,
        })
        .await,
        Code::Unauthenticated,
    );
    auth.logout(LogoutRequest {
        refresh_token: refreshed.refresh_token.clone(),
    })
    .await
    .unwrap();
    expect_code(
        auth.refresh_token(RefreshTokenRequest {
            refresh_token: refreshed.refresh_token,
        })
        .await,
        Code::Unauthenticated,
    );

    // Health checking answers without credentials.
    let mut health = tonic_health::pb::health_client::HealthClient::new(channel);
    let serving = health
        .check(tonic_health::pb::HealthCheckRequest {
            service: "crm.identity.v1.AuthService".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        serving.status,
        tonic_health::pb::health_check_response::ServingStatus::Serving as i32
    );
}

async fn data_scope_and_tenant_isolation(mode: Mode) {
    let suite = Suite::start(mode).await;
    let admin = suite.admin().await;
    let o = org::build(&suite, admin.clone(), "scope").await;
    let by_rep1 = o.rep1.create_contact("Rep1 customer").await;
    o.rep2.create_contact("Rep2 customer").await;
    let by_outsider = o.outsider.create_contact("Outsider customer").await;
    o.manager.create_contact("Manager customer").await;

    // Own scope: a rep sees only their own records.
    assert_eq!(visible_names(&o.rep1, "").await, ["Rep1 customer"]);
    // Team scope: the manager sees their team and its sub-team, not the outsider.
    assert_eq!(
        visible_names(&o.manager, "").await,
        ["Manager customer", "Rep1 customer", "Rep2 customer"]
    );
    // Tenant scope: the admin sees everything.
    assert_eq!(visible_names(&o.admin, "").await.len(), 4);
    // A hostile filter cannot widen the scope.
    let outsider_filter = format!("owner_id = \"{}\"", o.outsider.user_id);
    assert!(visible_names(&o.rep1, &outsider_filter).await.is_empty());
    assert!(visible_names(&o.manager, &outsider_filter).await.is_empty());

    // Outside the scope, a record answers exactly like one that does not exist.
    let mut rep1 = o.rep1.contacts();
    let foreign = expect_code(
        rep1.get_contact(GetContactRequest {
            id: by_outsider.id.clone(),
        })
        .await,
        Code::NotFound,
    );
    let missing = expect_code(
        rep1.get_contact(GetContactRequest {
            id: "0190a0a0-0000-7000-8000-000000000000".into(),
        })
        .await,
        Code::NotFound,
    );
    assert_eq!(foreign.message(), missing.message());
    let update = UpdateContactRequest {
        allow_duplicates: false,
        contact: Some(Contact {
            id: by_outsider.id.clone(),
            title: "Hijacked".into(),
            ..Default::default()
        }),
        update_mask: None,
        request_id: String::new(),
    };
    expect_code(rep1.update_contact(update).await, Code::NotFound);
    expect_code(
        rep1.delete_contact(DeleteContactRequest {
            id: by_outsider.id.clone(),
            ..Default::default()
        })
        .await,
        Code::NotFound,
    );
    expect_code(
        rep1.list_audit_entries(ListAuditEntriesRequest {
            resource_type: "contact".into(),
            resource_id: by_outsider.id.clone(),
            ..Default::default()
        })
        .await,
        Code::NotFound,
    );
    // A rep cannot hand a record to someone outside their scope.
    expect_invalid(
        rep1.update_contact(UpdateContactRequest {
            allow_duplicates: false,
            contact: Some(Contact {
                id: by_rep1.id.clone(),
                owner_id: o.outsider.user_id.clone(),
                ..Default::default()
            }),
            update_mask: Some(prost_types::FieldMask {
                paths: vec!["owner_id".into()],
            }),
            request_id: String::new(),
        })
        .await,
        "contact.owner_id",
    );
    // The manager may reassign within the team; the record then leaves rep1's view.
    o.manager
        .contacts()
        .update_contact(UpdateContactRequest {
            allow_duplicates: false,
            contact: Some(Contact {
                id: by_rep1.id.clone(),
                owner_id: o.rep2.user_id.clone(),
                ..Default::default()
            }),
            update_mask: Some(prost_types::FieldMask {
                paths: vec!["owner_id".into()],
            }),
            request_id: String::new(),
        })
        .await
        .unwrap();
    expect_code(
        rep1.get_contact(GetContactRequest {
            id: by_rep1.id.clone(),
        })
        .await,
        Code::NotFound,
    );
    assert!(visible_names(&o.rep1, "").await.is_empty());

    // Another tenant sees nothing: not by id, not in lists, not through filters.
    let other = org::other_tenant(&suite, &admin, "tenant-b").await;
    let mut other_contacts = other.contacts();
    expect_code(
        other_contacts
            .get_contact(GetContactRequest {
                id: by_rep1.id.clone(),
            })
            .await,
        Code::NotFound,
    );
    expect_code(
        other_contacts
            .undelete_contact(UndeleteContactRequest {
                id: by_rep1.id.clone(),
                ..Default::default()
            })
            .await,
        Code::NotFound,
    );
    assert!(visible_names(&other, "").await.is_empty());
    assert!(
        visible_names(&other, &format!("owner_id = \"{}\"", o.rep2.user_id))
            .await
            .is_empty()
    );
    // And another tenant's admin cannot read this tenant's users.
    expect_code(
        other
            .identity()
            .get_user(GetUserRequest {
                id: o.rep1.user_id.clone(),
            })
            .await,
        Code::NotFound,
    );
}

async fn permissions_api_keys_and_disabled_users(mode: Mode) {
    let suite = Suite::start(mode).await;
    let admin = suite.admin().await;
    let o = org::build(&suite, admin.clone(), "perm").await;

    // A rep holds no identity permissions.
    expect_code(
        o.rep1
            .identity()
            .list_users(ListUsersRequest::default())
            .await,
        Code::PermissionDenied,
    );
    expect_code(
        o.rep1
            .identity()
            .create_tenant(CreateTenantRequest::default())
            .await,
        Code::PermissionDenied,
    );
    // A tenant admin cannot create tenants either (that is the platform admin's).
    let other = org::other_tenant(&suite, &admin, "perm-b").await;
    expect_code(
        other
            .identity()
            .create_tenant(CreateTenantRequest::default())
            .await,
        Code::PermissionDenied,
    );
    // Nobody grants what they do not hold.
    expect_code(
        o.rep1
            .identity()
            .create_api_key(CreateApiKeyRequest {
                display_name: "sneaky".into(),
                user_id: String::new(),
                permissions: vec!["identity.users.write".into()],
            })
            .await,
        Code::PermissionDenied,
    );

    // A read-only API key for rep1: reads work, writes are refused, revocation ends it.
    o.rep1.create_contact("Keyed customer").await;
    let key = o
        .rep1
        .identity()
        .create_api_key(CreateApiKeyRequest {
            display_name: "ERP sync".into(),
            user_id: String::new(),
            permissions: vec!["contacts.contacts.read".into()],
        })
        .await;
    // Reps lack identity.api_keys.write, so the admin issues the key for rep1.
    expect_code(key, Code::PermissionDenied);
    let key = admin
        .identity()
        .create_api_key(CreateApiKeyRequest {
            display_name: "ERP sync".into(),
            user_id: o.rep1.user_id.clone(),
            permissions: vec!["contacts.contacts.read".into()],
        })
        .await
        .unwrap()
        .into_inner();
    assert!(key.secret.starts_with("crm_"));
    let machine = Session::api_key(&suite, &key.secret).await;
    assert_eq!(
        visible_names(&machine, "").await,
        ["Keyed customer"],
        "the key acts as rep1"
    );
    expect_code(
        machine
            .contacts()
            .create_contact(CreateContactRequest {
                allow_duplicates: false,
                contact: Some(Contact {
                    display_name: "x".into(),
                    ..Default::default()
                }),
                request_id: String::new(),
            })
            .await,
        Code::PermissionDenied,
    );
    let listed = admin
        .identity()
        .list_api_keys(ListApiKeysRequest::default())
        .await
        .unwrap()
        .into_inner();
    assert!(
        listed
            .api_keys
            .iter()
            .any(|k| k.id == key.api_key.as_ref().unwrap().id)
    );
    admin
        .identity()
        .revoke_api_key(RevokeApiKeyRequest {
            id: key.api_key.unwrap().id,
        })
        .await
        .unwrap();
    expect_code(
        machine
            .contacts()
            .list_contacts(ListContactsRequest::default())
            .await,
        Code::Unauthenticated,
    );
    let wrong = Session::api_key(&suite, &format!("crm_x_{}", "0".repeat(64))).await;
    expect_code(
        wrong
            .contacts()
            .list_contacts(ListContactsRequest::default())
            .await,
        Code::Unauthenticated,
    );

    // Disabling a user stops their existing token at once.
    o.rep2
        .contacts()
        .list_contacts(ListContactsRequest::default())
        .await
        .unwrap();
    let user = admin
        .identity()
        .get_user(GetUserRequest {
            id: o.rep2.user_id.clone(),
        })
        .await
        .unwrap()
        .into_inner()
        .user
        .unwrap();
    admin
        .identity()
        .update_user(UpdateUserRequest {
            request_id: String::new(),
            user: Some(User {
                id: user.id.clone(),
                state: UserState::Disabled as i32,
                etag: user.etag.clone(),
                ..Default::default()
            }),
            update_mask: Some(prost_types::FieldMask {
                paths: vec!["state".into()],
            }),
        })
        .await
        .unwrap();
    expect_code(
        o.rep2
            .contacts()
            .list_contacts(ListContactsRequest::default())
            .await,
        Code::Unauthenticated,
    );
    expect_code(
        Session::login(&suite, "rep2@perm.example", ADMIN_PASSWORD).await,
        Code::Unauthenticated,
    );
    // A stale etag on a user update is refused.
    expect_code(
        admin
            .identity()
            .update_user(UpdateUserRequest {
                request_id: String::new(),
                user: Some(User {
                    id: user.id,
                    display_name: "x".into(),
                    etag: user.etag,
                    ..Default::default()
                }),
                update_mask: Some(prost_types::FieldMask {
                    paths: vec!["display_name".into()],
                }),
            })
            .await,
        Code::Aborted,
    );
    // Identity input is validated with field details.
    expect_invalid(
        admin
            .identity()
            .create_user(CreateUserRequest {
                user: Some(User {
                    email: "not-an-email".into(),
                    display_name: "X".into(),
                    ..Default::default()
                }),
                password: ADMIN_PASSWORD.into(),
                request_id: String::new(),
            })
            .await,
        "user.email",
    );
    expect_invalid(
        admin
            .identity()
            .create_user(CreateUserRequest {
                user: Some(User {
                    email: "short@perm.example".into(),
                    display_name: "X".into(),
                    ..Default::default()
                }),
                password: "short".into(),
                request_id: String::new(),
            })
            .await,
        "password",
    );
    let taken = expect_code(
        admin
            .identity()
            .create_user(CreateUserRequest {
                user: Some(User {
                    email: "REP1@perm.example".into(),
                    display_name: "Dup".into(),
                    ..Default::default()
                }),
                password: ADMIN_PASSWORD.into(),
                request_id: String::new(),
            })
            .await,
        Code::AlreadyExists,
    );
    assert_eq!(support::clients::reason(&taken), "EMAIL_UNAVAILABLE");
}

async fn accounts_are_scoped_like_contacts(mode: Mode) {
    let suite = Suite::start(mode).await;
    let admin = suite.admin().await;
    let o = org::build(&suite, admin.clone(), "accounts").await;
    let create = |session: &Session, name: &str| {
        let mut api = session.contacts();
        let name = name.to_owned();
        async move {
            api.create_account(CreateAccountRequest {
                allow_duplicates: false,
                account: Some(Account {
                    display_name: name,
                    ..Default::default()
                }),
                request_id: String::new(),
            })
            .await
            .unwrap()
            .into_inner()
            .account
            .unwrap()
        }
    };
    let mine = create(&o.rep1, "Rep1 Ltd").await;
    let theirs = create(&o.outsider, "Outsider Ltd").await;
    let mut rep1 = o.rep1.contacts();

    let listed = rep1
        .list_accounts(ListAccountsRequest::default())
        .await
        .unwrap()
        .into_inner()
        .accounts;
    assert_eq!(
        listed.iter().map(|a| a.id.as_str()).collect::<Vec<_>>(),
        [mine.id.as_str()]
    );
    expect_code(
        rep1.get_account(GetAccountRequest {
            id: theirs.id.clone(),
        })
        .await,
        Code::NotFound,
    );
    expect_code(
        rep1.update_account(UpdateAccountRequest {
            allow_duplicates: false,
            account: Some(Account {
                id: theirs.id.clone(),
                industry: "hijacked".into(),
                ..Default::default()
            }),
            update_mask: None,
            request_id: String::new(),
        })
        .await,
        Code::NotFound,
    );
    expect_code(
        rep1.delete_account(DeleteAccountRequest {
            id: theirs.id.clone(),
            ..Default::default()
        })
        .await,
        Code::NotFound,
    );
    expect_code(
        rep1.undelete_account(UndeleteAccountRequest {
            id: theirs.id.clone(),
            ..Default::default()
        })
        .await,
        Code::NotFound,
    );
    // A contact cannot be linked to an account its owner may not see.
    expect_invalid(
        rep1.create_contact(CreateContactRequest {
            allow_duplicates: false,
            contact: Some(Contact {
                display_name: "Linked".into(),
                account_id: theirs.id.clone(),
                ..Default::default()
            }),
            request_id: String::new(),
        })
        .await,
        "contact.account_id",
    );
    // The manager sees the team's account, not the outsider's; the admin sees both.
    let manager = o
        .manager
        .contacts()
        .list_accounts(ListAccountsRequest::default())
        .await
        .unwrap()
        .into_inner()
        .accounts;
    assert_eq!(
        manager.iter().map(|a| a.id.as_str()).collect::<Vec<_>>(),
        [mine.id.as_str()]
    );
    assert_eq!(
        o.admin
            .contacts()
            .list_accounts(ListAccountsRequest::default())
            .await
            .unwrap()
            .into_inner()
            .accounts
            .len(),
        2
    );

    // Another tenant sees nothing.
    let other = org::other_tenant(&suite, &admin, "accounts-b").await;
    let mut other = other.contacts();
    expect_code(
        other
            .get_account(GetAccountRequest {
                id: mine.id.clone(),
            })
            .await,
        Code::NotFound,
    );
    expect_code(
        other
            .delete_account(DeleteAccountRequest {
                id: mine.id.clone(),
                ..Default::default()
            })
            .await,
        Code::NotFound,
    );
    assert!(
        other
            .list_accounts(ListAccountsRequest::default())
            .await
            .unwrap()
            .into_inner()
            .accounts
            .is_empty()
    );
}

/// A manager's principal names every member they reach; a large team must still get through
/// the hop from the gateway to the service.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_manager_of_a_large_team_reaches_all_of_it() {
    let suite = Suite::start(Mode::Distributed).await;
    let admin = suite.admin().await;
    let o = org::build(&suite, admin.clone(), "large").await;
    let team_of_rep1 = org::team_of(&admin, &o.rep1.user_id).await;
    // 400 more reps in the manager's team, inserted directly: hashing 400 passwords is not
    // what is under test.
    let sql = format!(
        "insert into users (id, tenant_id, email, display_name, password_hash, role_ids, team_ids, disabled, version, create_time, update_time) \
         select 'member-' || n || '-' || md5(n::text), '{tenant}', 'member' || n || '@large.example', 'Member ' || n, 'x', '', '{team}', false, 1, 0, 0 \
         from generate_series(1, 400) as n",
        tenant = admin.tenant_id,
        team = team_of_rep1,
    );
    let database = suite.database_name("gateway").unwrap();
    let status = std::process::Command::new(support::find_pg_bin("psql"))
        .args([
            "-q",
            "-h",
            "127.0.0.1",
            "-p",
            &support::postgres().port.to_string(),
            "-U",
            "postgres",
            "-d",
            &database,
            "-c",
            &sql,
        ])
        .status()
        .unwrap();
    assert!(status.success());
    o.rep1.create_contact("Rep1 customer").await;
    // The first, a middle and the last of the new members own a customer each, so the
    // manager's reach is shown to span the whole list, not only its head.
    let contacts_db = suite.database_name("contacts").unwrap();
    support::psql_db(
        &contacts_db,
        &format!(
            "insert into contacts (id, tenant_id, owner_id, given_name, family_name, display_name, \
             email, phone, title, account_id, version, create_time, update_time) \
             select 'large-' || n, '{tenant}', 'member-' || n || '-' || md5(n::text), '', '', \
             'Member ' || n || ' customer', '', '', '', '', 1, 0, 0 \
             from unnest(array[1, 200, 400]) as n",
            tenant = admin.tenant_id
        ),
    )
    .unwrap();
    // The manager signs in afresh so the gateway resolves the grown team.
    let manager = Session::login(&suite, "manager@large.example", support::ADMIN_PASSWORD)
        .await
        .unwrap();
    let mut seen = visible_names(&manager, "").await;
    seen.sort();
    assert_eq!(
        seen,
        [
            "Member 1 customer",
            "Member 200 customer",
            "Member 400 customer",
            "Rep1 customer"
        ]
    );
    // A rep of the same team reaches only their own.
    assert_eq!(visible_names(&o.rep1, "").await, ["Rep1 customer"]);
}

async fn teams_and_roles_validate_and_stay_in_their_tenant(mode: Mode) {
    use crm_proto::identity::{
        CreateRoleRequest, CreateTeamRequest, DataScope, ListRolesRequest, ListTeamsRequest, Role,
        Team,
    };

    let suite = Suite::start(mode).await;
    let admin = suite.admin().await;
    let mut identity = admin.identity();
    let role = |name: &str, permissions: &[&str]| CreateRoleRequest {
        request_id: String::new(),
        role: Some(Role {
            display_name: name.into(),
            permissions: permissions.iter().map(|p| p.to_string()).collect(),
            data_scope: DataScope::Team as i32,
            ..Default::default()
        }),
    };
    let created = identity
        .create_role(role("key_account_manager", &["contacts.accounts.read"]))
        .await
        .unwrap()
        .into_inner()
        .role
        .unwrap();
    assert_eq!(created.data_scope, DataScope::Team as i32);
    let taken = expect_code(
        identity.create_role(role("key_account_manager", &[])).await,
        Code::AlreadyExists,
    );
    assert_eq!(support::clients::reason(&taken), "ROLE_NAME_TAKEN");
    expect_invalid(
        identity
            .create_role(role("x", &["contacts.everything"]))
            .await,
        "role.permissions",
    );
    expect_invalid(
        identity.create_role(role(" ", &[])).await,
        "role.display_name",
    );
    expect_invalid(
        identity.create_role(CreateRoleRequest::default()).await,
        "role",
    );

    let team = |name: &str, parent: &str| CreateTeamRequest {
        request_id: String::new(),
        team: Some(Team {
            display_name: name.into(),
            parent_team_id: parent.into(),
            ..Default::default()
        }),
    };
    let north = identity
        .create_team(team("North", ""))
        .await
        .unwrap()
        .into_inner()
        .team
        .unwrap();
    expect_invalid(
        identity.create_team(team("", "")).await,
        "team.display_name",
    );
    expect_invalid(
        identity.create_team(team("Orphan", "no-such-team")).await,
        "team.parent_team_id",
    );

    // A tenant admin grants only what they hold: not the platform's tenant creation.
    let other = org::other_tenant(&suite, &admin, "teams-b").await;
    expect_code(
        other
            .identity()
            .create_role(role("tenant_maker", &["identity.tenants.create"]))
            .await,
        Code::PermissionDenied,
    );
    // Another tenant sees none of this tenant's teams and roles, and cannot build on them.
    let own_team = other
        .identity()
        .create_team(CreateTeamRequest {
            request_id: String::new(),
            team: Some(Team {
                display_name: "Their team".into(),
                ..Default::default()
            }),
        })
        .await
        .unwrap()
        .into_inner()
        .team
        .unwrap();
    let theirs = other
        .identity()
        .list_teams(ListTeamsRequest::default())
        .await
        .unwrap()
        .into_inner()
        .teams;
    // Their own team is listed (so the check below looks at something) and ours are not.
    assert!(
        theirs.iter().any(|t| t.id == own_team.id),
        "the other tenant lists its own team"
    );
    assert!(theirs.iter().all(|t| t.id != north.id));
    let roles = other
        .identity()
        .list_roles(ListRolesRequest::default())
        .await
        .unwrap()
        .into_inner()
        .roles;
    assert!(
        !roles.is_empty(),
        "the other tenant lists its built-in roles"
    );
    assert!(roles.iter().all(|r| r.id != created.id));
    expect_invalid(
        other
            .identity()
            .create_team(team("Hijack", &north.id))
            .await,
        "team.parent_team_id",
    );
}

async fn identity_calls_know_their_caller_and_their_tenant(mode: Mode) {
    use crm_proto::identity::{DataScope, GetCurrentUserRequest};

    let suite = Suite::start(mode).await;
    let admin = suite.admin().await;
    let o = org::build(&suite, admin.clone(), "whoami").await;

    // Who am I: the caller, their effective permissions and widest scope.
    let me = o
        .manager
        .identity()
        .get_current_user(GetCurrentUserRequest {})
        .await
        .unwrap()
        .into_inner();
    assert_eq!(me.user.unwrap().id, o.manager.user_id);
    assert_eq!(me.data_scope, DataScope::Team as i32);
    assert!(
        me.permissions
            .iter()
            .any(|p| p == "contacts.contacts.write")
    );
    assert!(!me.permissions.iter().any(|p| p == "identity.users.write"));
    let rep = o
        .rep1
        .identity()
        .get_current_user(GetCurrentUserRequest {})
        .await
        .unwrap()
        .into_inner();
    assert_eq!(rep.data_scope, DataScope::Own as i32);

    // Tenant creation names every bad field.
    let bad = CreateTenantRequest {
        request_id: String::new(),
        display_name: " ".into(),
        admin_email: "not-an-email".into(),
        admin_password: ADMIN_PASSWORD.into(),
        admin_display_name: String::new(),
        phone_region: "XX".into(),
    };
    for field in [
        "display_name",
        "admin_email",
        "admin_display_name",
        "phone_region",
    ] {
        expect_invalid(admin.identity().create_tenant(bad.clone()).await, field);
    }
    expect_invalid(
        admin
            .identity()
            .create_tenant(CreateTenantRequest {
                request_id: String::new(),
                display_name: "Short".into(),
                admin_email: "short@whoami.example".into(),
                admin_password: "short".into(),
                admin_display_name: "Short".into(),
                phone_region: String::new(),
            })
            .await,
        "admin_password",
    );

    // A retried CreateUser with the same request id creates one user.
    let request = CreateUserRequest {
        user: Some(User {
            email: "retried@whoami.example".into(),
            display_name: "Retried".into(),
            ..Default::default()
        }),
        password: ADMIN_PASSWORD.into(),
        request_id: "create-user-1".into(),
    };
    let first = admin
        .identity()
        .create_user(request.clone())
        .await
        .unwrap()
        .into_inner()
        .user
        .unwrap();
    let again = admin
        .identity()
        .create_user(request)
        .await
        .unwrap()
        .into_inner()
        .user
        .unwrap();
    assert_eq!(first.id, again.id);

    // Another tenant's admin can neither change this tenant's users nor revoke its keys.
    let key = admin
        .identity()
        .create_api_key(CreateApiKeyRequest {
            display_name: "Mobile backend".into(),
            user_id: String::new(),
            permissions: vec!["contacts.contacts.read".into()],
        })
        .await
        .unwrap()
        .into_inner()
        .api_key
        .unwrap();
    let other = org::other_tenant(&suite, &admin, "whoami-b").await;
    expect_code(
        other
            .identity()
            .update_user(UpdateUserRequest {
                request_id: String::new(),
                user: Some(User {
                    id: first.id.clone(),
                    state: UserState::Disabled as i32,
                    ..Default::default()
                }),
                update_mask: Some(prost_types::FieldMask {
                    paths: vec!["state".into()],
                }),
            })
            .await,
        Code::NotFound,
    );
    expect_code(
        other
            .identity()
            .revoke_api_key(RevokeApiKeyRequest { id: key.id.clone() })
            .await,
        Code::NotFound,
    );
    let theirs = other
        .identity()
        .list_users(ListUsersRequest::default())
        .await
        .unwrap()
        .into_inner()
        .users;
    assert!(!theirs.is_empty(), "the other tenant lists its own admin");
    assert!(theirs.iter().all(|u| u.tenant_id == other.tenant_id));
    let listed = admin
        .identity()
        .list_api_keys(ListApiKeysRequest::default())
        .await
        .unwrap()
        .into_inner()
        .api_keys;
    assert!(!listed.iter().find(|k| k.id == key.id).unwrap().revoked);
}

both_modes!(
    identity_calls_know_their_caller_and_their_tenant,
    teams_and_roles_validate_and_stay_in_their_tenant,
    accounts_are_scoped_like_contacts,
    sign_in_and_bad_credentials,
    data_scope_and_tenant_isolation,
    permissions_api_keys_and_disabled_users,
);
