//! The rules of the team tree: a team's parent is a team of the same tenant that is not the
//! team itself nor one of its descendants, and a team is removed only once nobody is in it.

use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter};

use crate::entity::{split, team, user};
use crm_platform::error::Error;

/// Checks that `parent_id` may become the parent of `team_id`: it exists in the tenant, and
/// walking up from it never meets `team_id` (which would make a cycle).
pub async fn check_parent<C: ConnectionTrait>(
    db: &C,
    tenant_id: &str,
    team_id: &str,
    parent_id: &str,
) -> Result<(), Error> {
    const FIELD: &str = "team.parent_team_id";
    if parent_id.is_empty() {
        return Ok(());
    }
    let teams = team::Entity::find()
        .filter(team::Column::TenantId.eq(tenant_id))
        .all(db)
        .await?;
    let parent_of = |id: &str| {
        teams
            .iter()
            .find(|t| t.id == id)
            .map(|t| t.parent_team_id.as_str())
    };
    if parent_of(parent_id).is_none() {
        return Err(Error::invalid(
            FIELD,
            "names an id that does not exist in this tenant",
        ));
    }
    // The walk is bounded by the number of teams, so a damaged tree cannot loop it.
    let mut at = parent_id;
    for _ in 0..=teams.len() {
        if at == team_id {
            return Err(Error::invalid(
                FIELD,
                "would put the team under itself or one of its sub-teams",
            ));
        }
        match parent_of(at) {
            Some(next) if !next.is_empty() => at = next,
            _ => return Ok(()),
        }
    }
    Ok(())
}

/// Refuses to remove a team that still has sub-teams or members.
pub async fn check_empty<C: ConnectionTrait>(
    db: &C,
    tenant_id: &str,
    team_id: &str,
) -> Result<(), Error> {
    let children = team::Entity::find()
        .filter(team::Column::TenantId.eq(tenant_id))
        .filter(team::Column::ParentTeamId.eq(team_id))
        .one(db)
        .await?;
    if children.is_some() {
        return Err(Error::precondition(
            "TEAM_IN_USE",
            "the team has sub-teams: move or remove them first",
        ));
    }
    // Team lists are short text columns, read whole (see the entity module).
    let members = user::Entity::find()
        .filter(user::Column::TenantId.eq(tenant_id))
        .filter(user::Column::TeamIds.contains(team_id))
        .all(db)
        .await?;
    if members
        .iter()
        .any(|u| split(&u.team_ids).iter().any(|t| t == team_id))
    {
        return Err(Error::precondition(
            "TEAM_IN_USE",
            "the team has members: move them to other teams first",
        ));
    }
    Ok(())
}
