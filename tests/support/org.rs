//! A sales organisation to test record-level access against:
//!
//! ```text
//! team "North" (manager: manager) ── rep1
//!   └─ team "North-East"           ── rep2
//! no team                          ── outsider
//! ```

use crm_proto::identity::{
    CreateTeamRequest, CreateTenantRequest, CreateUserRequest, ListRolesRequest, Team, User,
};

use super::clients::Session;
use super::{ADMIN_PASSWORD, Suite};

pub struct Org {
    pub admin: Session,
    pub manager: Session,
    pub rep1: Session,
    pub rep2: Session,
    pub outsider: Session,
}

pub async fn role_id(admin: &Session, name: &str) -> String {
    let roles = admin
        .identity()
        .list_roles(ListRolesRequest {
            page_size: 100,
            page_token: String::new(),
        })
        .await
        .unwrap()
        .into_inner()
        .roles;
    roles
        .into_iter()
        .find(|r| r.display_name == name)
        .expect("built-in role")
        .id
}

/// Asks `caller` to create a user (named after the email, password [`ADMIN_PASSWORD`]).
pub async fn create_user(
    caller: &Session,
    email: &str,
    role_ids: Vec<String>,
    team_ids: Vec<String>,
) -> Result<User, tonic::Status> {
    Ok(caller
        .identity()
        .create_user(CreateUserRequest {
            user: Some(User {
                email: email.into(),
                display_name: email.into(),
                role_ids,
                team_ids,
                ..Default::default()
            }),
            password: ADMIN_PASSWORD.into(),
            request_id: String::new(),
        })
        .await?
        .into_inner()
        .user
        .unwrap())
}

/// Creates a user and signs them in.
pub async fn user(
    suite: &Suite,
    admin: &Session,
    email: &str,
    role: &str,
    teams: &[&str],
) -> Session {
    let role_ids = vec![role_id(admin, role).await];
    let team_ids = teams.iter().map(|t| t.to_string()).collect();
    create_user(admin, email, role_ids, team_ids).await.unwrap();
    Session::login(suite, email, ADMIN_PASSWORD).await.unwrap()
}

async fn team(admin: &Session, name: &str, parent: &str, manager: &str) -> String {
    admin
        .identity()
        .create_team(CreateTeamRequest {
            request_id: String::new(),
            team: Some(Team {
                display_name: name.into(),
                parent_team_id: parent.into(),
                manager_user_id: manager.into(),
                ..Default::default()
            }),
        })
        .await
        .unwrap()
        .into_inner()
        .team
        .unwrap()
        .id
}

/// Builds the organisation in `admin`'s tenant; `tag` keeps emails unique.
pub async fn build(suite: &Suite, admin: Session, tag: &str) -> Org {
    let manager = user(
        suite,
        &admin,
        &format!("manager@{tag}.example"),
        "sales_manager",
        &[],
    )
    .await;
    let north = team(&admin, "North", "", &manager.user_id).await;
    let north_east = team(&admin, "North-East", &north, "").await;
    let rep1 = user(
        suite,
        &admin,
        &format!("rep1@{tag}.example"),
        "sales_rep",
        &[&north],
    )
    .await;
    let rep2 = user(
        suite,
        &admin,
        &format!("rep2@{tag}.example"),
        "sales_rep",
        &[&north_east],
    )
    .await;
    let outsider = user(
        suite,
        &admin,
        &format!("outsider@{tag}.example"),
        "sales_rep",
        &[],
    )
    .await;
    Org {
        admin,
        manager,
        rep1,
        rep2,
        outsider,
    }
}

/// A service desk: a lead (service manager) of the Support team with agent1 in it, and
/// agent2 on no team.
pub struct Desk {
    pub lead: Session,
    pub agent1: Session,
    pub agent2: Session,
}

/// Builds the service desk in `admin`'s tenant; `tag` keeps emails unique.
pub async fn service_desk(suite: &Suite, admin: &Session, tag: &str) -> Desk {
    let email = |who: &str| format!("{who}@{tag}.example");
    let lead = user(suite, admin, &email("lead"), "service_manager", &[]).await;
    let support = team(admin, "Support", "", &lead.user_id).await;
    let agent1 = user(suite, admin, &email("agent1"), "service_agent", &[&support]).await;
    let agent2 = user(suite, admin, &email("agent2"), "service_agent", &[]).await;
    Desk {
        lead,
        agent1,
        agent2,
    }
}

/// Creates a second tenant and signs its admin in.
pub async fn other_tenant(suite: &Suite, platform_admin: &Session, tag: &str) -> Session {
    let email = format!("admin@{tag}.example");
    platform_admin
        .identity()
        .create_tenant(CreateTenantRequest {
            request_id: String::new(),
            display_name: format!("Tenant {tag}"),
            admin_email: email.clone(),
            admin_password: ADMIN_PASSWORD.into(),
            admin_display_name: "Other admin".into(),
            phone_region: String::new(),
        })
        .await
        .unwrap();
    Session::login(suite, &email, ADMIN_PASSWORD).await.unwrap()
}

/// Creates a role of its own for one new user (named after the email) and signs them in.
pub async fn custom_user(
    suite: &Suite,
    admin: &Session,
    email: &str,
    permissions: &[&str],
    scope: crm_proto::identity::DataScope,
) -> Session {
    let role = admin
        .identity()
        .create_role(crm_proto::identity::CreateRoleRequest {
            request_id: String::new(),
            role: Some(crm_proto::identity::Role {
                display_name: format!("role of {email}"),
                permissions: permissions.iter().map(|p| p.to_string()).collect(),
                data_scope: scope as i32,
                ..Default::default()
            }),
        })
        .await
        .unwrap()
        .into_inner()
        .role
        .unwrap();
    create_user(admin, email, vec![role.id], vec![])
        .await
        .unwrap();
    Session::login(suite, email, ADMIN_PASSWORD).await.unwrap()
}

/// The first team a user belongs to.
pub async fn team_of(admin: &Session, user_id: &str) -> String {
    admin
        .identity()
        .get_user(crm_proto::identity::GetUserRequest { id: user_id.into() })
        .await
        .unwrap()
        .into_inner()
        .user
        .unwrap()
        .team_ids[0]
        .clone()
}
