//! Regression tests for the security review, through the gateway in both modes: nobody grants
//! more than they hold (the matrix of callers and grant paths), sessions that end on token
//! reuse and at an absolute time, forged long-lived tokens, requests with huge lists refused
//! before any work, sign-in throttles that see clients through trusted proxies and let a
//! known client past an attacker, and a private data directory.

// Helpers panic on purpose: a failed step is a failed test with a clear message.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::support;

use std::collections::HashMap;

use tonic::Code;

use crm_proto::common::{CustomFieldDefinition, CustomFieldType};
use crm_proto::contacts::*;
use crm_proto::identity::auth_service_client::AuthServiceClient;
use crm_proto::identity::{
    CreateApiKeyRequest, CreateRoleRequest, CreateTenantRequest, DataScope, LoginRequest,
    LogoutRequest, RefreshTokenRequest, Role, UpdateUserRequest, User, UserState,
};
use support::clients::{Session, expect_code, expect_invalid, reason};
use support::{ADMIN_EMAIL, ADMIN_PASSWORD, Mode, Suite, org};

/// What a grant attempt must give.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    Allowed,
    /// The caller lacks the RPC's permission (the gateway refuses it).
    NoPermission,
    /// The caller may call the RPC but not grant this (GRANT_EXCEEDS_CALLER).
    ExceedsCaller,
}
use Outcome::*;

#[track_caller]
fn check<T: std::fmt::Debug>(what: &str, result: Result<T, tonic::Status>, expected: Outcome) {
    match (expected, result) {
        (Allowed, Ok(_)) => {}
        (Allowed, Err(status)) => panic!("{what}: expected OK, got {status:?}"),
        (NoPermission, result) => {
            let status = expect_code(result, Code::PermissionDenied);
            assert_eq!(reason(&status), "PERMISSION_DENIED", "{what}");
        }
        (ExceedsCaller, result) => {
            let status = expect_code(result, Code::PermissionDenied);
            assert_eq!(
                reason(&status),
                "GRANT_EXCEEDS_CALLER",
                "{what}: {status:?}"
            );
        }
    }
}

async fn create_user(
    caller: &Session,
    email: &str,
    role_ids: Vec<String>,
) -> Result<User, tonic::Status> {
    org::create_user(caller, email, role_ids, vec![]).await
}

async fn update_user(
    caller: &Session,
    user_id: &str,
    change: impl FnOnce(&mut User) -> &'static str,
) -> Result<User, tonic::Status> {
    let mut user = User {
        id: user_id.into(),
        ..Default::default()
    };
    let path = change(&mut user);
    Ok(caller
        .identity()
        .update_user(UpdateUserRequest {
            request_id: String::new(),
            user: Some(user),
            update_mask: Some(prost_types::FieldMask {
                paths: vec![path.into()],
            }),
        })
        .await?
        .into_inner()
        .user
        .unwrap())
}

async fn create_role(
    caller: &Session,
    name: &str,
    permissions: &[&str],
    scope: DataScope,
) -> Result<Role, tonic::Status> {
    Ok(caller
        .identity()
        .create_role(CreateRoleRequest {
            request_id: String::new(),
            role: Some(Role {
                display_name: name.into(),
                permissions: permissions.iter().map(|p| p.to_string()).collect(),
                data_scope: scope as i32,
                ..Default::default()
            }),
        })
        .await?
        .into_inner()
        .role
        .unwrap())
}

async fn create_key(
    caller: &Session,
    user_id: &str,
    permissions: &[&str],
) -> Result<String, tonic::Status> {
    Ok(caller
        .identity()
        .create_api_key(CreateApiKeyRequest {
            display_name: "key".into(),
            user_id: user_id.into(),
            permissions: permissions.iter().map(|p| p.to_string()).collect(),
        })
        .await?
        .into_inner()
        .secret)
}

/// Every built-in role and three narrow custom ones, against every path that grants access.
async fn grants_never_exceed_the_granter(mode: Mode) {
    let suite = Suite::start(mode).await;
    let platform = suite.admin().await;
    let role = |name: &'static str| {
        let platform = platform.clone();
        async move { org::role_id(&platform, name).await }
    };
    let (platform_role, admin_role, manager_role, rep_role) = (
        role("platform_admin").await,
        role("admin").await,
        role("sales_manager").await,
        role("sales_rep").await,
    );
    let tenant_admin = org::user(&suite, &platform, "admin2@grants.example", "admin", &[]).await;
    let manager = org::user(
        &suite,
        &platform,
        "manager@grants.example",
        "sales_manager",
        &[],
    )
    .await;
    let rep = org::user(&suite, &platform, "rep@grants.example", "sales_rep", &[]).await;
    let users_writer = org::custom_user(
        &suite,
        &platform,
        "users@grants.example",
        &["identity.users.read", "identity.users.write"],
        DataScope::Own,
    )
    .await;
    let roles_writer = org::custom_user(
        &suite,
        &platform,
        "roles@grants.example",
        &["identity.roles.write", "contacts.contacts.read"],
        DataScope::Own,
    )
    .await;
    let keys_writer = org::custom_user(
        &suite,
        &platform,
        "keys@grants.example",
        &["identity.api_keys.write", "contacts.contacts.read"],
        DataScope::Own,
    )
    .await;
    let users_writer_role = role("role of users@grants.example").await;

    // CreateUser: a new user may get only roles the creator could hold out itself.
    let callers: [(&str, &Session); 7] = [
        ("platform", &platform),
        ("tenant-admin", &tenant_admin),
        ("users-writer", &users_writer),
        ("roles-writer", &roles_writer),
        ("keys-writer", &keys_writer),
        ("manager", &manager),
        ("rep", &rep),
    ];
    let roles = [
        ("platform_admin", &platform_role),
        ("admin", &admin_role),
        ("sales_manager", &manager_role),
        ("sales_rep", &rep_role),
        ("users-writer-role", &users_writer_role),
    ];
    let expected: HashMap<(&str, &str), Outcome> = [
        (("tenant-admin", "platform_admin"), ExceedsCaller),
        (("users-writer", "platform_admin"), ExceedsCaller),
        (("users-writer", "admin"), ExceedsCaller),
        (("users-writer", "sales_manager"), ExceedsCaller),
        (("users-writer", "sales_rep"), ExceedsCaller),
    ]
    .into();
    for (caller_name, caller) in callers {
        for (role_name, role_id) in roles {
            let outcome = match caller_name {
                "platform" | "tenant-admin" | "users-writer" => expected
                    .get(&(caller_name, role_name))
                    .copied()
                    .unwrap_or(Allowed),
                _ => NoPermission,
            };
            let email = format!("{caller_name}-{role_name}@grants.example");
            let result = create_user(caller, &email, vec![role_id.clone()]).await;
            check(
                &format!("{caller_name} creates a {role_name}"),
                result,
                outcome,
            );
            // A refused grant wrote nothing: the user cannot sign in.
            let signed_in = Session::login(&suite, &email, ADMIN_PASSWORD).await;
            assert_eq!(signed_in.is_ok(), outcome == Allowed, "{email}");
        }
    }

    // UpdateUser: nobody raises themselves, nor changes someone who holds more.
    check(
        "tenant admin makes itself platform admin",
        update_user(&tenant_admin, &tenant_admin.user_id, |u| {
            u.role_ids = vec![admin_role.clone(), platform_role.clone()];
            "role_ids"
        })
        .await,
        ExceedsCaller,
    );
    check(
        "users writer makes itself admin",
        update_user(&users_writer, &users_writer.user_id, |u| {
            u.role_ids = vec![admin_role.clone()];
            "role_ids"
        })
        .await,
        ExceedsCaller,
    );
    check(
        "tenant admin disables the platform admin",
        update_user(&tenant_admin, &platform.user_id, |u| {
            u.state = UserState::Disabled as i32;
            "state"
        })
        .await,
        ExceedsCaller,
    );
    check(
        "users writer renames a rep, who holds more",
        update_user(&users_writer, &rep.user_id, |u| {
            u.display_name = "owned".into();
            "display_name"
        })
        .await,
        ExceedsCaller,
    );
    check(
        "tenant admin promotes a rep to manager",
        update_user(&tenant_admin, &rep.user_id, |u| {
            u.role_ids = vec![manager_role.clone()];
            "role_ids"
        })
        .await,
        Allowed,
    );
    check(
        "a manager changes a rep",
        update_user(&manager, &rep.user_id, |u| {
            u.display_name = "x".into();
            "display_name"
        })
        .await,
        NoPermission,
    );
    // The platform admin is still itself, and the tenant admin still cannot create tenants.
    assert!(
        Session::login(&suite, ADMIN_EMAIL, ADMIN_PASSWORD)
            .await
            .is_ok()
    );
    let create_tenant = tenant_admin
        .identity()
        .create_tenant(CreateTenantRequest {
            request_id: String::new(),
            display_name: "Mine".into(),
            admin_email: "mine@grants.example".into(),
            admin_password: ADMIN_PASSWORD.into(),
            admin_display_name: "Me".into(),
            phone_region: String::new(),
        })
        .await;
    check("tenant admin creates a tenant", create_tenant, NoPermission);

    // CreateRole: permissions held, scope no wider; the platform ones only from `*`.
    for (caller_name, caller, permissions, scope, outcome) in [
        (
            "tenant admin",
            &tenant_admin,
            vec!["*"],
            DataScope::All,
            ExceedsCaller,
        ),
        (
            "tenant admin",
            &tenant_admin,
            vec!["identity.tenants.create"],
            DataScope::Own,
            ExceedsCaller,
        ),
        (
            "tenant admin",
            &tenant_admin,
            vec!["contacts.contacts.read", "identity.users.write"],
            DataScope::All,
            Allowed,
        ),
        ("platform", &platform, vec!["*"], DataScope::All, Allowed),
        (
            "roles writer",
            &roles_writer,
            vec!["contacts.contacts.read"],
            DataScope::All,
            ExceedsCaller,
        ),
        (
            "roles writer",
            &roles_writer,
            vec!["contacts.contacts.read"],
            DataScope::Team,
            ExceedsCaller,
        ),
        (
            "roles writer",
            &roles_writer,
            vec!["contacts.contacts.write"],
            DataScope::Own,
            ExceedsCaller,
        ),
        (
            "roles writer",
            &roles_writer,
            vec!["contacts.contacts.read"],
            DataScope::Own,
            Allowed,
        ),
        (
            "rep",
            &rep,
            vec!["contacts.contacts.read"],
            DataScope::Own,
            NoPermission,
        ),
    ] {
        let name = format!("{caller_name} {permissions:?} {scope:?}");
        let result = create_role(caller, &name, &permissions, scope).await;
        check(
            &format!("{caller_name} creates role {name}"),
            result,
            outcome,
        );
    }

    // CreateApiKey: a key acts as its user, so minting one for someone above is refused.
    for (caller_name, caller, user_id, permissions, outcome) in [
        (
            "keys writer",
            &keys_writer,
            platform.user_id.as_str(),
            vec!["contacts.contacts.read"],
            ExceedsCaller,
        ),
        (
            "keys writer",
            &keys_writer,
            "",
            vec!["contacts.contacts.write"],
            ExceedsCaller,
        ),
        (
            "keys writer",
            &keys_writer,
            "",
            vec!["contacts.contacts.read"],
            Allowed,
        ),
        (
            "tenant admin",
            &tenant_admin,
            platform.user_id.as_str(),
            vec!["contacts.contacts.read"],
            ExceedsCaller,
        ),
        (
            "tenant admin",
            &tenant_admin,
            rep.user_id.as_str(),
            vec!["contacts.contacts.read"],
            Allowed,
        ),
        (
            "rep",
            &rep,
            "",
            vec!["contacts.contacts.read"],
            NoPermission,
        ),
    ] {
        let result = create_key(caller, user_id, &permissions).await;
        check(
            &format!("{caller_name} mints a key as {user_id:?} with {permissions:?}"),
            result,
            outcome,
        );
    }

    // CreateTeam: a team's manager reaches its members' records, so naming one widens that
    // user's reach; only users the caller could manage may be named.
    let teams_writer = org::custom_user(
        &suite,
        &platform,
        "teams@grants.example",
        &["identity.teams.write"],
        DataScope::Own,
    )
    .await;
    for (caller_name, caller, manager, outcome) in [
        (
            "teams writer",
            &teams_writer,
            platform.user_id.as_str(),
            ExceedsCaller,
        ),
        (
            "teams writer",
            &teams_writer,
            rep.user_id.as_str(),
            ExceedsCaller,
        ),
        (
            "teams writer",
            &teams_writer,
            teams_writer.user_id.as_str(),
            Allowed,
        ),
        (
            "tenant admin",
            &tenant_admin,
            platform.user_id.as_str(),
            ExceedsCaller,
        ),
        (
            "tenant admin",
            &tenant_admin,
            manager.user_id.as_str(),
            Allowed,
        ),
        ("rep", &rep, rep.user_id.as_str(), NoPermission),
    ] {
        let result = caller
            .identity()
            .create_team(crm_proto::identity::CreateTeamRequest {
                request_id: String::new(),
                team: Some(crm_proto::identity::Team {
                    display_name: format!("{caller_name} team {manager}"),
                    manager_user_id: manager.into(),
                    ..Default::default()
                }),
            })
            .await;
        check(
            &format!("{caller_name} makes {manager} a manager"),
            result,
            outcome,
        );
    }

    // Another tenant's admin cannot name this tenant's roles, and learns nothing from emails.
    let stranger = org::other_tenant(&suite, &platform, "grants-other").await;
    expect_invalid(
        create_user(
            &stranger,
            "x@grants-other.example",
            vec![admin_role.clone()],
        )
        .await,
        "user.role_ids",
    );
    let here = expect_code(
        create_user(&platform, "rep@grants.example", vec![]).await,
        Code::AlreadyExists,
    );
    let there = expect_code(
        create_user(&stranger, "rep@grants.example", vec![]).await,
        Code::AlreadyExists,
    );
    assert_eq!(reason(&here), "EMAIL_UNAVAILABLE");
    assert_eq!(
        (here.message(), reason(&here)),
        (there.message(), reason(&there))
    );
}

async fn login(suite: &Suite) -> crm_proto::identity::LoginResponse {
    AuthServiceClient::new(suite.channel().await)
        .login(LoginRequest {
            email: ADMIN_EMAIL.into(),
            password: ADMIN_PASSWORD.into(),
        })
        .await
        .unwrap()
        .into_inner()
}

async fn refresh(suite: &Suite, token: &str) -> Result<String, tonic::Status> {
    Ok(AuthServiceClient::new(suite.channel().await)
        .refresh_token(RefreshTokenRequest {
            refresh_token: token.into(),
        })
        .await?
        .into_inner()
        .refresh_token)
}

/// A spent refresh token coming back means two holders: the whole session ends. Logout ends
/// it too, and other sessions of the same user go on.
async fn reused_refresh_tokens_end_the_session(mode: Mode) {
    let suite = Suite::start(mode).await;
    let first = login(&suite).await.refresh_token;
    let other_session = login(&suite).await.refresh_token;
    let second = refresh(&suite, &first).await.unwrap();
    // The thief replays the first token: refused, and the victim's second one dies with it.
    expect_code(refresh(&suite, &first).await, Code::Unauthenticated);
    expect_code(refresh(&suite, &second).await, Code::Unauthenticated);
    // Another sign-in of the same user is another family.
    let other_next = refresh(&suite, &other_session).await.unwrap();
    // Logout with any token of a session ends all of it.
    let third = refresh(&suite, &other_next).await.unwrap();
    AuthServiceClient::new(suite.channel().await)
        .logout(LogoutRequest {
            refresh_token: other_session.clone(),
        })
        .await
        .unwrap();
    expect_code(refresh(&suite, &third).await, Code::Unauthenticated);
}

/// However often it refreshes, a session ends at its absolute limit (here: at once).
async fn sessions_end_at_their_limit(mode: Mode) {
    let suite = Suite::start_with(mode, &[("CRM_SESSION_MAX_DAYS", "0")]).await;
    let signed_in = login(&suite).await;
    let status = expect_code(
        refresh(&suite, &signed_in.refresh_token).await,
        Code::Unauthenticated,
    );
    assert_eq!(status.message(), "invalid or expired refresh token");
}

/// A token signed with the right key but living longer than the gateway issues (as whoever
/// stole the key would mint) is refused.
async fn long_lived_tokens_are_refused(mode: Mode) {
    let suite = Suite::start(mode).await;
    let admin = suite.admin().await;
    let keys = crm_platform::config::Secrets::derive(support::SECRET.as_bytes());
    let ten_years =
        crm_gateway::credentials::AccessTokens::new(keys.jwt_key().unwrap(), 10 * 365 * 86_400)
            .issue(&admin.tenant_id, &admin.user_id)
            .unwrap();
    let mut forged = admin.clone();
    forged.credential = support::clients::Credential::bearer(&ten_years);
    let status = expect_code(forged.list_contacts("").await, Code::Unauthenticated);
    assert_eq!(status.message(), "invalid or expired access token");
    // The same key with the gateway's own lifetime is accepted: only the lifetime was wrong.
    let fair = crm_gateway::credentials::AccessTokens::new(keys.jwt_key().unwrap(), 900)
        .issue(&admin.tenant_id, &admin.user_id)
        .unwrap();
    forged.credential = support::clients::Credential::bearer(&fair);
    forged.list_contacts("").await.unwrap();
}

/// Lists far past their caps are refused before any item is looked at, naming the field,
/// and write nothing.
async fn oversized_lists_are_refused_at_once(mode: Mode) {
    let suite = Suite::start(mode).await;
    let admin = suite.admin().await;
    let many = |prefix: &str| {
        (0..60_000)
            .map(|i| format!("{prefix}{i}"))
            .collect::<Vec<_>>()
    };
    let contact = |c: Contact| CreateContactRequest {
        contact: Some(Contact {
            display_name: "Huge".into(),
            ..c
        }),
        allow_duplicates: true,
        request_id: String::new(),
    };
    let mut api = admin.contacts();
    let footprint = suite.contacts_footprint().await;
    expect_invalid(
        api.create_contact(contact(Contact {
            tags: many("t"),
            ..Default::default()
        }))
        .await,
        "contact.tags",
    );
    expect_invalid(
        api.create_contact(contact(Contact {
            phones: (0..60_000)
                .map(|i| ContactPoint {
                    value: format!("+86 138 {i:08}"),
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        }))
        .await,
        "contact.phones",
    );
    expect_invalid(
        api.create_contact(contact(Contact {
            related_account_ids: many("a"),
            ..Default::default()
        }))
        .await,
        "contact.related_account_ids",
    );
    expect_invalid(
        api.create_contact(contact(Contact {
            custom_fields: many("f").into_iter().map(|k| (k, "v".to_owned())).collect(),
            ..Default::default()
        }))
        .await,
        "contact.custom_fields",
    );
    assert!(admin.list_contacts("").await.unwrap().is_empty());
    assert_eq!(suite.contacts_footprint().await, footprint);
    expect_invalid(
        api.batch_modify_labels(BatchModifyLabelsRequest {
            resource_type: "contact".into(),
            ids: many("id"),
            add_tags: vec!["x".into()],
            ..Default::default()
        })
        .await,
        "ids",
    );
    expect_invalid(
        api.create_custom_field(CreateCustomFieldRequest {
            custom_field: Some(CustomFieldDefinition {
                resource_type: "contact".into(),
                name: "huge".into(),
                display_name: "Huge".into(),
                r#type: CustomFieldType::MultiChoice as i32,
                options: many("o"),
                ..Default::default()
            }),
            request_id: String::new(),
        })
        .await,
        "custom_field.options",
    );
    let permissions = many("p");
    let permissions: Vec<&str> = permissions.iter().map(String::as_str).collect();
    expect_invalid(
        create_role(&admin, "huge", &permissions, DataScope::Own).await,
        "role.permissions",
    );
    expect_invalid(
        create_user(&admin, "huge@security.example", many("r")).await,
        "user.role_ids",
    );
    // A mask naming one field 60,000 times would repeat its checks (and their queries).
    let masked = admin
        .identity()
        .update_user(UpdateUserRequest {
            request_id: String::new(),
            user: Some(User {
                id: admin.user_id.clone(),
                role_ids: vec!["r".into()],
                ..Default::default()
            }),
            update_mask: Some(prost_types::FieldMask {
                paths: vec!["role_ids".into(); 60_000],
            }),
        })
        .await;
    expect_invalid(masked, "update_mask");
    let contact = admin.create_contact("Masked").await;
    expect_invalid(
        api.update_contact(UpdateContactRequest {
            contact: Some(Contact {
                id: contact.id,
                display_name: "x".into(),
                ..Default::default()
            }),
            update_mask: Some(prost_types::FieldMask {
                paths: vec!["display_name".into(); 60_000],
            }),
            request_id: String::new(),
            allow_duplicates: false,
        })
        .await,
        "update_mask",
    );
    // The service is still answering.
    admin.list_contacts("").await.unwrap();
}

fn xff(request: &mut tonic::Request<LoginRequest>, address: &str) {
    request
        .metadata_mut()
        .insert("x-forwarded-for", address.parse().unwrap());
}

async fn login_from(
    suite: &Suite,
    address: &str,
    password: &str,
) -> Result<crm_proto::identity::LoginResponse, tonic::Status> {
    let mut request = tonic::Request::new(LoginRequest {
        email: ADMIN_EMAIL.into(),
        password: password.into(),
    });
    // What the client wrote, then what the trusted ingress appended: the right-most counts.
    xff(&mut request, &format!("6.6.6.6, {address}"));
    Ok(AuthServiceClient::new(suite.channel().await)
        .login(request)
        .await?
        .into_inner())
}

/// Behind a trusted proxy each client has its own sign-in budget (an IPv6 /64 is one
/// client), and guessing from many addresses cannot lock out a client that signed in before.
async fn sign_in_limits_see_clients_through_proxies(mode: Mode) {
    let suite = Suite::start_with(
        mode,
        &[
            ("CRM_TRUSTED_PROXIES", "127.0.0.0/8,::1"),
            ("CRM_SIGN_IN_LIMIT_PER_MIN", "3"),
        ],
    )
    .await;
    let home = "198.51.100.10";
    login_from(&suite, home, ADMIN_PASSWORD).await.unwrap();
    let wrong = "not the password!";
    for _ in 0..2 {
        expect_code(
            login_from(&suite, "203.0.113.1", wrong).await,
            Code::Unauthenticated,
        );
    }
    expect_code(
        login_from(&suite, "203.0.113.1", wrong).await,
        Code::Unauthenticated,
    );
    expect_code(
        login_from(&suite, "203.0.113.1", wrong).await,
        Code::ResourceExhausted,
    );
    // Another client is not held back by the first one's guesses.
    expect_code(
        login_from(&suite, "203.0.113.2", wrong).await,
        Code::Unauthenticated,
    );
    for _ in 0..3 {
        expect_code(
            login_from(&suite, "2001:db8:5:6::1", wrong).await,
            Code::Unauthenticated,
        );
    }
    expect_code(
        login_from(&suite, "2001:db8:5:6::ffff", wrong).await,
        Code::ResourceExhausted,
    );
    // Guessing from many addresses runs into the account's limit …
    let mut exhausted = false;
    for i in 0..40 {
        let result = login_from(&suite, &format!("192.0.2.{i}"), wrong).await;
        if result
            .as_ref()
            .is_err_and(|s| s.code() == Code::ResourceExhausted)
        {
            exhausted = true;
            break;
        }
        expect_code(result, Code::Unauthenticated);
    }
    assert!(exhausted, "the account-wide limit holds");
    expect_code(
        login_from(&suite, "192.0.2.200", ADMIN_PASSWORD).await,
        Code::ResourceExhausted,
    );
    // … which the admin's own client passes with the right password.
    login_from(&suite, home, ADMIN_PASSWORD).await.unwrap();
}

/// Each pod may hold only its own keys (`crm keys --target`): the suite works end to end on
/// them, a service accepts only principals addressed to it, and keys of another target do
/// not start.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn targets_run_on_their_own_keys() {
    use crm_platform::auth::{DataScope as Scope, PRINCIPAL_HEADER, Principal};
    let suite = Suite::start_with_target_keys().await;
    let admin = suite.admin().await;
    // Data keys and page tokens work from the contacts service's own keys.
    let mut api = admin.contacts();
    for name in ["Ma Lin", "Zhao Yi"] {
        api.create_contact(CreateContactRequest {
            contact: Some(Contact {
                display_name: name.into(),
                bank_card_number: "4111 1111 1111 1111".into(),
                ..Default::default()
            }),
            allow_duplicates: true,
            request_id: String::new(),
        })
        .await
        .unwrap();
    }
    let first = api
        .list_contacts(ListContactsRequest {
            page_size: 1,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(first.contacts[0].bank_card_number, "4111111111111111");
    let second = api
        .list_contacts(ListContactsRequest {
            page_size: 1,
            page_token: first.next_page_token,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(second.contacts.len(), 1);

    // Straight to the contacts port: only a principal addressed to contacts is accepted.
    let signer = crm_platform::config::Secrets::derive(support::SECRET.as_bytes())
        .principal_signer()
        .unwrap();
    let principal = Principal {
        tenant_id: admin.tenant_id.clone(),
        user_id: admin.user_id.clone(),
        client: "user".into(),
        permissions: vec!["*".into()],
        scope: Scope::All,
        team_member_ids: vec![],
        phone_region: String::new(),
        expires_at: 0,
        delegations: Vec::new(),
    };
    let channel = tonic::transport::Endpoint::from_shared(format!(
        "http://{}",
        suite.service_addr("contacts").unwrap()
    ))
    .unwrap()
    .connect()
    .await
    .unwrap();
    let mut direct =
        crm_proto::contacts::contacts_service_client::ContactsServiceClient::new(channel);
    let list = |token: String| {
        let mut request = tonic::Request::new(ListContactsRequest::default());
        request
            .metadata_mut()
            .insert(PRINCIPAL_HEADER, token.parse().unwrap());
        request
    };
    for path in [
        "/crm.sales.v1.SalesService/ListOrders",
        "/crm.identity.v1.IdentityService/GetUser",
    ] {
        let token = signer.codec_for(path).sign(&principal);
        expect_code(
            direct.list_contacts(list(token)).await,
            Code::Unauthenticated,
        );
    }
    let addressed = signer
        .codec_for("/crm.contacts.v1.ContactsService/ListContacts")
        .sign(&principal);
    assert_eq!(
        direct
            .list_contacts(list(addressed))
            .await
            .unwrap()
            .into_inner()
            .contacts
            .len(),
        2
    );

    // The gateway will not run on a service's keys.
    let out = support::crm(&suite.data_dir, &[])
        .env_remove("CRM_SECRET")
        .env("CRM_TARGET_KEYS", support::target_keys_of("contacts"))
        .env("CRM_DATABASE_URL", "postgres://127.0.0.1:1/none")
        .env("CRM_REDIS_URL", "redis://127.0.0.1:1")
        .env("CRM_CONTACTS_URL", "http://127.0.0.1:1")
        .args(["serve", "--target", "gateway"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(64));
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(
        said.contains("do not include the access-token key"),
        "{said}"
    );
}

/// `crm up` keeps its master secret and databases readable by its own user only.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn embedded_data_is_private() {
    use std::os::unix::fs::PermissionsExt as _;
    let suite = Suite::start(Mode::Embedded).await;
    // The secret comes from CRM_SECRET in the suites; a start without it writes the file.
    let dir = suite.data_dir.clone();
    let mode =
        |path: &std::path::Path| std::fs::metadata(path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&dir), 0o700);
    for name in ["gateway.db", "contacts.db"] {
        assert_eq!(mode(&dir.join(name)), 0o600, "{name}");
    }
    let data_dir = suite.stop();
    let mut cmd = support::crm(&data_dir, &[]);
    cmd.env_remove("CRM_SECRET")
        .arg("up")
        .env("CRM_LISTEN_ADDR", "127.0.0.1:0");
    let (process, _) = support::process::Watched::spawn_crm(cmd, "gateway");
    assert_eq!(mode(&data_dir.join("secret.key")), 0o600);
    for entry in std::fs::read_dir(&data_dir).unwrap().flatten() {
        assert_eq!(
            mode(&entry.path()) & 0o077,
            0,
            "{} is private",
            entry.path().display()
        );
    }
    process.stop();
    let _ = std::fs::remove_dir_all(&data_dir);
}

both_modes!(
    grants_never_exceed_the_granter,
    reused_refresh_tokens_end_the_session,
    sessions_end_at_their_limit,
    long_lived_tokens_are_refused,
    oversized_lists_are_refused_at_once,
    sign_in_limits_see_clients_through_proxies,
);
