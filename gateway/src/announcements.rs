//! Identity's events (`crm.identity.v1`): every change of a user's teams or state and of a
//! team, written to the identity store's outbox in the change's transaction, so services
//! that roll figures up by team follow the directory (see `crm_records::directory`). Each
//! event carries its subject's whole state and version.

use sea_orm::{ConnectionTrait, EntityTrait};
use sea_orm_migration::prelude::*;

use crate::entity::{split, team, user};
use crm_platform::error::Error;
use crm_platform::events::{self, Envelope, Origin};
use crm_proto::identity::{
    DirectoryTeam, IdentityEvent, IdentityEventType, Member, identity_event::Subject,
};

/// The actor of changes no user made (bootstrap, the announcement of what existed before).
const SYSTEM_ACTOR: &str = "system";

/// Announces `user`'s teams and state as stored.
pub async fn member<C: ConnectionTrait>(
    db: &C,
    actor_id: &str,
    user: &user::Model,
) -> Result<(), Error> {
    let event = IdentityEvent {
        r#type: IdentityEventType::MemberChanged as i32,
        subject: Some(Subject::Member(Member {
            user_id: user.id.clone(),
            team_ids: split(&user.team_ids),
            active: !user.disabled,
            version: user.version,
        })),
        ..Default::default()
    };
    events::append(db, envelope((&user.tenant_id, actor_id, &user.id), event)).await
}

/// Announces `team` as stored, or its deletion.
pub async fn team<C: ConnectionTrait>(
    db: &C,
    actor_id: &str,
    team: &team::Model,
    deleted: bool,
) -> Result<(), Error> {
    events::append(db, team_event(actor_id, team, deleted)).await
}

/// The event of `team` as stored, or of its deletion (with the deletion's version, one past
/// the last stored).
pub fn team_event(actor_id: &str, team: &team::Model, deleted: bool) -> Envelope {
    let (kind, version) = if deleted {
        (IdentityEventType::TeamDeleted, team.version + 1)
    } else {
        (IdentityEventType::TeamChanged, team.version)
    };
    let event = IdentityEvent {
        r#type: kind as i32,
        subject: Some(Subject::Team(DirectoryTeam {
            team_id: team.id.clone(),
            display_name: team.display_name.clone(),
            parent_team_id: team.parent_team_id.clone(),
            manager_user_id: team.manager_user_id.clone(),
            version,
        })),
        ..Default::default()
    };
    envelope((&team.tenant_id, actor_id, &team.id), event)
}

fn envelope(
    (tenant_id, actor_id, aggregate_id): (&str, &str, &str),
    event: IdentityEvent,
) -> Envelope {
    let origin = Origin {
        tenant_id,
        actor_id,
        aggregate_id,
    };
    events::envelope(origin, event)
}

/// Announces every team and user that existed before identity announced its changes, once,
/// so a follower's directory starts whole.
pub struct AnnounceDirectory;

impl MigrationName for AnnounceDirectory {
    fn name(&self) -> &str {
        "m20261203_000001_announce_directory"
    }
}

// The trait declares `&SchemaManager` without its lifetime; matching it exactly is required.
#[allow(elided_lifetimes_in_paths)]
#[async_trait::async_trait]
impl MigrationTrait for AnnounceDirectory {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        let to_db = |e: Error| DbErr::Custom(e.to_string());
        // A follower keeps any order, so none is needed here.
        for t in team::Entity::find().all(db).await? {
            team(db, SYSTEM_ACTOR, &t, false).await.map_err(to_db)?;
        }
        for u in user::Entity::find().all(db).await? {
            member(db, SYSTEM_ACTOR, &u).await.map_err(to_db)?;
        }
        Ok(())
    }

    async fn down(&self, _manager: &SchemaManager) -> Result<(), DbErr> {
        Ok(())
    }
}
