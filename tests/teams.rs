//! Teams and roles as a sales organisation changes them, through the gateway in both modes:
//! teams renamed, moved under another parent (never under themselves) and removed once
//! empty; custom roles changed while built-in ones stay; every change conditional on its etag,
//! replayed by its request id, audited, within the caller's grants, and applied on the next
//! call of everyone it touches.

// Helpers panic on purpose: a failed step is a failed test with a clear message.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::support;

use prost_types::FieldMask;
use tonic::Code;

use crm_proto::identity::*;
use support::clients::{Session, expect_code, expect_invalid, reason};
use support::{Mode, Suite, org};

fn mask(path: &str) -> Option<FieldMask> {
    Some(FieldMask {
        paths: vec![path.into()],
    })
}

async fn get_team(session: &Session, id: &str) -> Result<Team, tonic::Status> {
    Ok(session
        .identity()
        .get_team(GetTeamRequest { id: id.into() })
        .await?
        .into_inner()
        .team
        .unwrap())
}

async fn update_team(
    session: &Session,
    team: Team,
    path: &str,
    request_id: &str,
) -> Result<Team, tonic::Status> {
    Ok(session
        .identity()
        .update_team(UpdateTeamRequest {
            team: Some(team),
            update_mask: mask(path),
            request_id: request_id.into(),
        })
        .await?
        .into_inner()
        .team
        .unwrap())
}

async fn update_role(session: &Session, role: Role, path: &str) -> Result<Role, tonic::Status> {
    Ok(session
        .identity()
        .update_role(UpdateRoleRequest {
            role: Some(role),
            update_mask: mask(path),
            request_id: String::new(),
        })
        .await?
        .into_inner()
        .role
        .unwrap())
}

async fn audit_actions(admin: &Session, kind: &str, id: &str) -> Vec<String> {
    admin
        .identity()
        .list_audit_entries(ListAuditEntriesRequest {
            resource_type: kind.into(),
            resource_id: id.into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .entries
        .into_iter()
        .map(|e| e.action)
        .collect()
}

async fn teams_change_with_the_organisation(mode: Mode) {
    let suite = Suite::start(mode).await;
    let admin = suite.admin().await;
    let o = org::build(&suite, admin.clone(), "teams").await;
    let north = org::team_of(&admin, &o.rep1.user_id).await;
    let north_east = org::team_of(&admin, &o.rep2.user_id).await;
    for session in [&o.rep1, &o.rep2, &o.manager] {
        session
            .create_contact(&format!("Customer of {}", session.user_id))
            .await;
    }

    // A director's new top team: before North moves under it, the director reaches nobody.
    let director = org::user(
        &suite,
        &admin,
        "director@teams.example",
        "sales_manager",
        &[],
    )
    .await;
    let sales = admin
        .identity()
        .create_team(CreateTeamRequest {
            request_id: String::new(),
            team: Some(Team {
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
    assert!(director.list_contacts("").await.unwrap().is_empty());
    let before = get_team(&admin, &north).await.unwrap();
    assert_eq!(before.manager_user_id, o.manager.user_id);
    let moved = update_team(
        &admin,
        Team {
            id: north.clone(),
            parent_team_id: sales.id.clone(),
            etag: before.etag.clone(),
            ..Default::default()
        },
        "parent_team_id",
        "move-north",
    )
    .await
    .unwrap();
    assert_eq!(moved.parent_team_id, sales.id);
    assert_ne!(moved.etag, before.etag);
    // On the next call the director reaches North and North-East, and their manager too.
    let seen = director.list_contacts("").await.unwrap();
    assert_eq!(seen.len(), 3, "{seen:?}");
    // The same request id replays the move; a stale etag is refused.
    let replayed = update_team(
        &admin,
        Team {
            id: north.clone(),
            parent_team_id: sales.id.clone(),
            etag: before.etag.clone(),
            ..Default::default()
        },
        "parent_team_id",
        "move-north",
    )
    .await
    .unwrap();
    assert_eq!(replayed, moved);
    let stale = expect_code(
        update_team(
            &admin,
            Team {
                id: north.clone(),
                display_name: "North (old)".into(),
                etag: before.etag.clone(),
                ..Default::default()
            },
            "display_name",
            "",
        )
        .await,
        Code::Aborted,
    );
    assert_eq!(reason(&stale), "STALE_ETAG");

    // No team goes under itself or one of its sub-teams; unknown parents are named.
    for (team, parent) in [
        (&sales.id, &north_east),
        (&north, &north),
        (&sales.id, &north),
    ] {
        expect_invalid(
            update_team(
                &admin,
                Team {
                    id: team.clone(),
                    parent_team_id: parent.clone(),
                    ..Default::default()
                },
                "parent_team_id",
                "",
            )
            .await,
            "team.parent_team_id",
        );
    }
    expect_invalid(
        update_team(
            &admin,
            Team {
                id: north.clone(),
                parent_team_id: uuid::Uuid::now_v7().to_string(),
                ..Default::default()
            },
            "parent_team_id",
            "",
        )
        .await,
        "team.parent_team_id",
    );
    let renamed = update_team(
        &admin,
        Team {
            id: north.clone(),
            display_name: "North China".into(),
            ..Default::default()
        },
        "display_name",
        "",
    )
    .await
    .unwrap();
    assert_eq!(renamed.display_name, "North China");
    assert_eq!(
        audit_actions(&admin, "team", &north).await,
        ["update", "update", "create"]
    );

    // Only empty teams go: first the members move, then the team is removed.
    for id in [&north_east, &sales.id] {
        let refused = expect_code(
            admin
                .identity()
                .delete_team(DeleteTeamRequest {
                    id: id.clone(),
                    ..Default::default()
                })
                .await,
            Code::FailedPrecondition,
        );
        assert_eq!(reason(&refused), "TEAM_IN_USE");
    }
    admin
        .identity()
        .update_user(UpdateUserRequest {
            request_id: String::new(),
            user: Some(User {
                id: o.rep2.user_id.clone(),
                team_ids: vec![north.clone()],
                ..Default::default()
            }),
            update_mask: mask("team_ids"),
        })
        .await
        .unwrap();
    admin
        .identity()
        .delete_team(DeleteTeamRequest {
            id: north_east.clone(),
            ..Default::default()
        })
        .await
        .unwrap();
    expect_code(get_team(&admin, &north_east).await, Code::NotFound);
    let listed = admin
        .identity()
        .list_teams(ListTeamsRequest::default())
        .await
        .unwrap()
        .into_inner()
        .teams;
    assert!(listed.iter().any(|t| t.id == north));
    assert!(listed.iter().all(|t| t.id != north_east));
    assert_eq!(
        audit_actions(&admin, "team", &north_east).await[0],
        "delete"
    );
    // rep2 is now in North: the manager still reaches them.
    assert_eq!(o.manager.list_contacts("").await.unwrap().len(), 3);

    // A teams writer makes manager only someone it could manage itself.
    let writer = org::custom_user(
        &suite,
        &admin,
        "teams@teams.example",
        &["identity.teams.write", "identity.teams.read"],
        DataScope::Own,
    )
    .await;
    let refused = expect_code(
        update_team(
            &writer,
            Team {
                id: north.clone(),
                manager_user_id: o.manager.user_id.clone(),
                ..Default::default()
            },
            "manager_user_id",
            "",
        )
        .await,
        Code::PermissionDenied,
    );
    assert_eq!(reason(&refused), "GRANT_EXCEEDS_CALLER");
    update_team(
        &writer,
        Team {
            id: north.clone(),
            manager_user_id: writer.user_id.clone(),
            ..Default::default()
        },
        "manager_user_id",
        "",
    )
    .await
    .unwrap();

    // Reps may not change teams; another tenant finds none of them.
    expect_code(
        update_team(
            &o.rep1,
            Team {
                id: north.clone(),
                display_name: "Mine".into(),
                ..Default::default()
            },
            "display_name",
            "",
        )
        .await,
        Code::PermissionDenied,
    );
    let platform = suite.admin().await;
    let stranger = org::other_tenant(&suite, &platform, "teams-other").await;
    expect_code(get_team(&stranger, &north).await, Code::NotFound);
    expect_code(
        stranger
            .identity()
            .delete_team(DeleteTeamRequest {
                id: sales.id.clone(),
                ..Default::default()
            })
            .await,
        Code::NotFound,
    );
}

async fn custom_roles_change_and_built_in_ones_stay(mode: Mode) {
    let suite = Suite::start(mode).await;
    let admin = suite.admin().await;
    let viewer_role = admin
        .identity()
        .create_role(CreateRoleRequest {
            request_id: String::new(),
            role: Some(Role {
                display_name: "Viewer".into(),
                permissions: vec!["contacts.contacts.read".into()],
                data_scope: DataScope::All as i32,
                ..Default::default()
            }),
        })
        .await
        .unwrap()
        .into_inner()
        .role
        .unwrap();
    assert!(!viewer_role.built_in);
    let viewer = support::org::create_user(
        &admin,
        "viewer@roles.example",
        vec![viewer_role.id.clone()],
        vec![],
    )
    .await
    .unwrap();
    let viewer = Session::login(&suite, &viewer.email, support::ADMIN_PASSWORD)
        .await
        .unwrap();
    expect_code(
        viewer
            .contacts()
            .create_contact(crm_proto::contacts::CreateContactRequest {
                contact: Some(crm_proto::contacts::Contact {
                    display_name: "Not yet".into(),
                    ..Default::default()
                }),
                ..Default::default()
            })
            .await,
        Code::PermissionDenied,
    );

    // The role gains write: its holder may create on their next call.
    let widened = update_role(
        &admin,
        Role {
            id: viewer_role.id.clone(),
            etag: viewer_role.etag.clone(),
            permissions: vec![
                "contacts.contacts.read".into(),
                "contacts.contacts.write".into(),
            ],
            ..Default::default()
        },
        "permissions",
    )
    .await
    .unwrap();
    assert_eq!(widened.permissions.len(), 2);
    viewer.create_contact("Now allowed").await;
    let stale = expect_code(
        update_role(
            &admin,
            Role {
                id: viewer_role.id.clone(),
                etag: viewer_role.etag.clone(),
                display_name: "Reader".into(),
                ..Default::default()
            },
            "display_name",
        )
        .await,
        Code::Aborted,
    );
    assert_eq!(reason(&stale), "STALE_ETAG");
    let taken = expect_code(
        update_role(
            &admin,
            Role {
                id: viewer_role.id.clone(),
                display_name: "admin".into(),
                ..Default::default()
            },
            "display_name",
        )
        .await,
        Code::AlreadyExists,
    );
    assert_eq!(reason(&taken), "ROLE_NAME_TAKEN");
    assert_eq!(
        audit_actions(&admin, "role", &viewer_role.id).await,
        ["update", "create"]
    );

    // Built-in roles follow the release.
    let rep_role = org::role_id(&admin, "sales_rep").await;
    let built_in = admin
        .identity()
        .get_role(GetRoleRequest {
            id: rep_role.clone(),
        })
        .await
        .unwrap()
        .into_inner()
        .role
        .unwrap();
    assert!(built_in.built_in);
    let refused = expect_code(
        update_role(
            &admin,
            Role {
                id: rep_role,
                permissions: vec!["contacts.contacts.read".into()],
                ..Default::default()
            },
            "permissions",
        )
        .await,
        Code::FailedPrecondition,
    );
    assert_eq!(reason(&refused), "BUILT_IN_ROLE");

    // A roles writer grants only what it holds, and leaves roles above it alone.
    let writer = org::custom_user(
        &suite,
        &admin,
        "roles@roles.example",
        &["identity.roles.write", "contacts.contacts.read"],
        DataScope::Own,
    )
    .await;
    let small = writer
        .identity()
        .create_role(CreateRoleRequest {
            request_id: String::new(),
            role: Some(Role {
                display_name: "Small".into(),
                permissions: vec!["contacts.contacts.read".into()],
                data_scope: DataScope::Own as i32,
                ..Default::default()
            }),
        })
        .await
        .unwrap()
        .into_inner()
        .role
        .unwrap();
    for (role, path, change) in [
        (
            &small,
            "permissions",
            Role {
                permissions: vec!["contacts.contacts.write".into()],
                ..Default::default()
            },
        ),
        (
            &small,
            "data_scope",
            Role {
                data_scope: DataScope::All as i32,
                ..Default::default()
            },
        ),
        (
            &widened,
            "display_name",
            Role {
                display_name: "Taken over".into(),
                ..Default::default()
            },
        ),
    ] {
        let attempt = update_role(
            &writer,
            Role {
                id: role.id.clone(),
                ..change
            },
            path,
        )
        .await;
        let status = expect_code(attempt, Code::PermissionDenied);
        assert_eq!(reason(&status), "GRANT_EXCEEDS_CALLER", "{path}");
    }
    update_role(
        &writer,
        Role {
            id: small.id.clone(),
            display_name: "Small readers".into(),
            ..Default::default()
        },
        "display_name",
    )
    .await
    .unwrap();

    // Another tenant finds none of these roles.
    let platform = suite.admin().await;
    let stranger = org::other_tenant(&suite, &platform, "roles-other").await;
    expect_code(
        stranger
            .identity()
            .get_role(GetRoleRequest {
                id: small.id.clone(),
            })
            .await,
        Code::NotFound,
    );
    expect_code(
        update_role(
            &stranger,
            Role {
                id: small.id.clone(),
                display_name: "Mine".into(),
                ..Default::default()
            },
            "display_name",
        )
        .await,
        Code::NotFound,
    );
}

async fn deactivate(
    session: &Session,
    user_id: &str,
    successor_user_id: &str,
    request_id: &str,
) -> Result<DeactivateUserResponse, tonic::Status> {
    Ok(session
        .identity()
        .deactivate_user(DeactivateUserRequest {
            user_id: user_id.into(),
            successor_user_id: successor_user_id.into(),
            request_id: request_id.into(),
        })
        .await?
        .into_inner())
}

/// A rep who leaves is disabled and their customers go to a successor in one call, which is
/// checked whole before anything changes, refused to whoever may not make it, replayed by
/// its request id, and finished by a plain retry.
async fn leavers_hand_their_customers_over(mode: Mode) {
    let suite = Suite::start(mode).await;
    let admin = suite.admin().await;
    let o = org::build(&suite, admin.clone(), "leavers").await;
    let stranger = org::other_tenant(&suite, &admin, "leavers-other").await;
    let (leaver, successor) = (o.rep1.user_id.clone(), o.rep2.user_id.clone());
    let first = o.rep1.create_contact("Leaver first").await;
    let second = o.rep1.create_contact("Leaver second").await;
    let account = o.rep1.create_account("Leaver Ltd").await;
    let kept = o.rep2.create_contact("Successor own").await;
    let theirs = stranger.create_contact("Other tenant").await;

    // Each bad input names its field, and nothing changes.
    for (user, next, field) in [
        ("", successor.as_str(), "user_id"),
        (leaver.as_str(), "", "successor_user_id"),
        (leaver.as_str(), leaver.as_str(), "successor_user_id"),
        (admin.user_id.as_str(), successor.as_str(), "user_id"),
        (
            leaver.as_str(),
            stranger.user_id.as_str(),
            "successor_user_id",
        ),
        (
            leaver.as_str(),
            "0190c0c0-0000-7000-8000-000000000000",
            "successor_user_id",
        ),
    ] {
        expect_invalid(deactivate(&admin, user, next, "").await, field);
    }
    // Another tenant's user answers as an unknown id, from either side.
    for (session, user, next) in [
        (&admin, stranger.user_id.as_str(), successor.as_str()),
        (
            &admin,
            "0190c0c0-0000-7000-8000-000000000000",
            successor.as_str(),
        ),
        (&stranger, leaver.as_str(), stranger.user_id.as_str()),
    ] {
        expect_code(deactivate(session, user, next, "").await, Code::NotFound);
    }
    // Reps and managers may not; nor may a user admin who could not move the customers.
    let users_only = org::custom_user(
        &suite,
        &admin,
        "users@leavers.example",
        &["identity.users.read", "identity.users.write"],
        DataScope::All,
    )
    .await;
    for refused in [&o.rep2, &o.manager, &users_only] {
        expect_code(
            deactivate(refused, &leaver, &successor, "").await,
            Code::PermissionDenied,
        );
    }
    // A user admin of team scope, in no team, holding all a rep holds, reaches neither rep.
    let rep_role = crm_gateway::permissions::built_in_roles()
        .into_iter()
        .find(|r| r.name == "sales_rep")
        .unwrap();
    let narrow_permissions: Vec<String> = ["identity.users.read", "identity.users.write"]
        .into_iter()
        .chain(rep_role.permissions)
        .map(str::to_owned)
        .collect();
    let narrow = org::custom_user(
        &suite,
        &admin,
        "narrow@leavers.example",
        &narrow_permissions
            .iter()
            .map(String::as_str)
            .collect::<Vec<_>>(),
        DataScope::Team,
    )
    .await;
    expect_invalid(
        deactivate(&narrow, &leaver, &successor, "").await,
        "user_id",
    );
    // A disabled successor cannot take over.
    let outsider_id = o.outsider.user_id.clone();
    admin
        .identity()
        .update_user(UpdateUserRequest {
            user: Some(User {
                id: outsider_id.clone(),
                state: UserState::Disabled as i32,
                ..Default::default()
            }),
            update_mask: mask("state"),
            request_id: String::new(),
        })
        .await
        .unwrap();
    expect_invalid(
        deactivate(&admin, &leaver, &outsider_id, "").await,
        "successor_user_id",
    );
    // None of that touched the leaver, who still works.
    assert_eq!(
        o.rep1.contact_names("").await.unwrap(),
        ["Leaver first", "Leaver second"]
    );

    let done = deactivate(&admin, &leaver, &successor, "leaver-1")
        .await
        .unwrap();
    assert_eq!(
        (done.transferred_accounts, done.transferred_contacts),
        (1, 2)
    );
    let user = done.user.clone().unwrap();
    assert_eq!(user.state, UserState::Disabled as i32);
    // The leaver's tokens stop at once.
    expect_code(o.rep1.contact_names("").await, Code::Unauthenticated);
    // The successor has every customer, with the leaver's history kept.
    assert_eq!(
        o.rep2.contact_names("").await.unwrap(),
        ["Leaver first", "Leaver second", "Successor own"]
    );
    assert_eq!(o.rep2.get_account(&account.id).await.owner_id, successor);
    let history = admin
        .contacts()
        .list_audit_entries(crm_proto::contacts::ListAuditEntriesRequest {
            resource_type: "contact".into(),
            resource_id: first.id.clone(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .entries;
    let handed = history
        .iter()
        .find(|e| e.changes.iter().any(|c| c.field == "owner_id"))
        .expect("the transfer is in the contact's history");
    assert_eq!(handed.actor_id, admin.user_id);
    let change = handed
        .changes
        .iter()
        .find(|c| c.field == "owner_id")
        .unwrap();
    assert_eq!(
        (change.before.as_str(), change.after.as_str()),
        (leaver.as_str(), successor.as_str())
    );
    assert!(
        audit_actions(&admin, "user", &leaver)
            .await
            .contains(&"update".to_owned()),
        "the deactivation is in the user's history"
    );

    // The same request id answers the same; a plain retry finds nothing left to move.
    assert_eq!(
        deactivate(&admin, &leaver, &successor, "leaver-1")
            .await
            .unwrap(),
        done
    );
    let again = deactivate(&admin, &leaver, &successor, "").await.unwrap();
    assert_eq!(
        (again.transferred_accounts, again.transferred_contacts),
        (0, 0)
    );
    assert_eq!(again.user.unwrap().etag, user.etag);
    // Nothing of the other tenant moved.
    let there = stranger.get_contact(&theirs.id).await;
    assert_eq!(there.owner_id, stranger.user_id);
    let _ = (second, kept);
}

both_modes!(
    teams_change_with_the_organisation,
    custom_roles_change_and_built_in_ones_stay,
    leavers_hand_their_customers_over
);
