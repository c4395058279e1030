//! The tenant's teams and who belongs to them, as identity announces them on
//! `crm.identity.v1`, kept in the database of each service that rolls figures up by team
//! (sales' team targets and forecast; servicedesk's team queues next). Identity stays the one
//! source: a follower only applies its events, each carrying its subject's whole state and
//! version, and keeps the highest version per user and team, so a replayed, duplicated or
//! late event changes nothing. Data scope is not decided here (the signed principal decides
//! it); this says which team is which.

use std::collections::{BTreeSet, HashMap, HashSet};

use prost::Message as _;
use sea_orm::sea_query::{Expr, OnConflict};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter};
use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

use crate::entity::{directory_team, directory_user};
use crm_platform::auth::{DataScope, Principal};
use crm_platform::error::Error;
use crm_platform::events::Envelope;
use crm_proto::identity::{IdentityEvent, IdentityEventType, identity_event::Subject};

/// The stream identity publishes the directory on.
pub const STREAM: &str = "crm.identity.v1";

/// What an applied event changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// A user's teams or state.
    Member { user_id: String },
    /// A team's name, parent or manager, or its deletion.
    Team {
        team_id: String,
        manager_user_id: String,
        deleted: bool,
    },
}

/// Applies one identity event in the caller's (the inbox's) transaction. Answers what
/// changed, or `None` for another stream's event or one older than what is held.
pub async fn apply<C: ConnectionTrait>(db: &C, event: &Envelope) -> Result<Option<Change>, Error> {
    if event.stream != STREAM {
        return Ok(None);
    }
    let decoded = IdentityEvent::decode(event.payload.as_slice())
        .map_err(|e| Error::internal(format!("an identity event does not decode: {e}")))?;
    let kind = IdentityEventType::try_from(decoded.r#type).unwrap_or_default();
    let tenant_id = event.tenant_id.clone();
    match decoded.subject {
        Some(Subject::Member(member)) => {
            let row = directory_user::ActiveModel::from(directory_user::Model {
                user_id: member.user_id.clone(),
                tenant_id,
                team_ids: serde_json::to_string(&member.team_ids).unwrap_or_default(),
                active: member.active,
                version: member.version,
            });
            let newer = OnConflict::column(directory_user::Column::UserId)
                .update_columns([
                    directory_user::Column::TeamIds,
                    directory_user::Column::Active,
                    directory_user::Column::Version,
                ])
                .action_and_where(
                    Expr::col((directory_user::Entity, directory_user::Column::Version))
                        .lt(member.version),
                )
                .to_owned();
            let applied = directory_user::Entity::insert(row)
                .on_conflict(newer)
                .exec_without_returning(db)
                .await?;
            Ok((applied > 0).then_some(Change::Member {
                user_id: member.user_id,
            }))
        }
        Some(Subject::Team(team)) => {
            let deleted = kind == IdentityEventType::TeamDeleted;
            let row = directory_team::ActiveModel::from(directory_team::Model {
                team_id: team.team_id.clone(),
                tenant_id,
                display_name: team.display_name,
                parent_team_id: team.parent_team_id,
                manager_user_id: team.manager_user_id.clone(),
                deleted,
                version: team.version,
            });
            let newer = OnConflict::column(directory_team::Column::TeamId)
                .update_columns([
                    directory_team::Column::DisplayName,
                    directory_team::Column::ParentTeamId,
                    directory_team::Column::ManagerUserId,
                    directory_team::Column::Deleted,
                    directory_team::Column::Version,
                ])
                .action_and_where(
                    Expr::col((directory_team::Entity, directory_team::Column::Version))
                        .lt(team.version),
                )
                .to_owned();
            let applied = directory_team::Entity::insert(row)
                .on_conflict(newer)
                .exec_without_returning(db)
                .await?;
            Ok((applied > 0).then_some(Change::Team {
                team_id: team.team_id,
                manager_user_id: team.manager_user_id,
                deleted,
            }))
        }
        None => Ok(None),
    }
}

/// A tenant's live teams and their members, read at once (a tenant has tens of teams and
/// hundreds of users, so a rollup reads it whole rather than walking the tree in SQL).
#[derive(Debug, Clone, Default)]
pub struct Directory {
    teams: HashMap<String, directory_team::Model>,
    /// Team id → the users who belong to it directly.
    members: HashMap<String, Vec<String>>,
    /// User → their teams, in identity's order.
    teams_of: HashMap<String, Vec<String>>,
    /// Users identity has deactivated.
    inactive: HashSet<String>,
}

impl Directory {
    /// Reads the tenant's directory.
    pub async fn load<C: ConnectionTrait>(db: &C, tenant_id: &str) -> Result<Self, Error> {
        let teams = directory_team::Entity::find()
            .filter(directory_team::Column::TenantId.eq(tenant_id))
            .filter(directory_team::Column::Deleted.eq(false))
            .all(db)
            .await?;
        let users = directory_user::Entity::find()
            .filter(directory_user::Column::TenantId.eq(tenant_id))
            .all(db)
            .await?;
        let mut members: HashMap<String, Vec<String>> = HashMap::new();
        let mut teams_of = HashMap::new();
        let mut inactive = HashSet::new();
        for user in users {
            let team_ids: Vec<String> = serde_json::from_str(&user.team_ids).unwrap_or_default();
            for team_id in &team_ids {
                members
                    .entry(team_id.clone())
                    .or_default()
                    .push(user.user_id.clone());
            }
            if !user.active {
                inactive.insert(user.user_id.clone());
            }
            teams_of.insert(user.user_id, team_ids);
        }
        Ok(Self {
            teams: teams.into_iter().map(|t| (t.team_id.clone(), t)).collect(),
            members,
            teams_of,
            inactive,
        })
    }

    /// The live team of this id.
    pub fn team(&self, team_id: &str) -> Option<&directory_team::Model> {
        self.teams.get(team_id)
    }

    /// The team and every team below it, the team first (a cycle, which identity refuses,
    /// would end the walk rather than loop).
    pub fn subtree(&self, team_id: &str) -> Vec<&str> {
        let Some(root) = self.teams.get(team_id) else {
            return Vec::new();
        };
        let mut found = vec![root.team_id.as_str()];
        let mut next = 0;
        while let Some(parent) = found.get(next).copied() {
            let mut children: Vec<&str> = self
                .teams
                .values()
                .filter(|t| t.parent_team_id == parent)
                .map(|t| t.team_id.as_str())
                .filter(|id| !found.contains(id))
                .collect();
            children.sort_unstable();
            found.extend(children);
            next += 1;
        }
        found
    }

    /// Whose figures a team's rollup counts: the members of the team and of every team
    /// below it, with the managers of those teams (as identity's data scope counts them).
    pub fn rollup(&self, team_id: &str) -> BTreeSet<String> {
        let mut people = BTreeSet::new();
        for id in self.subtree(team_id) {
            if let Some(team) = self.teams.get(id)
                && !team.manager_user_id.is_empty()
            {
                people.insert(team.manager_user_id.clone());
            }
            people.extend(self.members.get(id).into_iter().flatten().cloned());
        }
        people
    }

    /// The active managers above a user, nearest first: walking up from the user's first live
    /// team, each team's manager who is neither the user nor already named. The chain an
    /// approval or an escalation climbs (a team without a manager passes to its parent).
    pub fn managers_above(&self, user_id: &str) -> Vec<String> {
        let start = self
            .teams_of
            .get(user_id)
            .into_iter()
            .flatten()
            .find_map(|id| self.teams.get(id));
        let mut chain: Vec<String> = Vec::new();
        let mut visited = HashSet::new();
        let mut next = start;
        while let Some(team) = next {
            if !visited.insert(team.team_id.as_str()) {
                break;
            }
            let manager = &team.manager_user_id;
            if !manager.is_empty()
                && manager != user_id
                && !self.inactive.contains(manager)
                && !chain.contains(manager)
            {
                chain.push(manager.clone());
            }
            next = self.teams.get(&team.parent_team_id);
        }
        chain
    }

    /// The teams whose rollups the caller is shown, sorted by name: every team for a
    /// tenant-wide scope; otherwise the teams they manage and every team below those.
    pub fn teams_reached(&self, principal: &Principal) -> Vec<&directory_team::Model> {
        let mut ids: BTreeSet<&str> = BTreeSet::new();
        if principal.scope == DataScope::All {
            ids.extend(self.teams.keys().map(String::as_str));
        } else {
            for team in self.teams.values() {
                if team.manager_user_id == principal.user_id {
                    ids.extend(self.subtree(&team.team_id));
                }
            }
        }
        let mut teams: Vec<_> = ids.iter().filter_map(|id| self.teams.get(*id)).collect();
        teams.sort_by(|a, b| {
            (a.display_name.as_str(), a.team_id.as_str())
                .cmp(&(b.display_name.as_str(), b.team_id.as_str()))
        });
        teams
    }
}

/// Creates the directory's tables in a service's database.
pub struct DirectoryTables;

impl MigrationName for DirectoryTables {
    fn name(&self) -> &str {
        "m20261203_000001_create_directory_tables"
    }
}

// The trait declares `&SchemaManager` without its lifetime; matching it exactly is required.
#[allow(elided_lifetimes_in_paths)]
#[async_trait::async_trait]
impl MigrationTrait for DirectoryTables {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table("directory_users")
                    .if_not_exists()
                    .col(string("user_id").primary_key())
                    .col(string("tenant_id"))
                    .col(text("team_ids"))
                    .col(boolean("active"))
                    .col(big_integer("version"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table("directory_teams")
                    .if_not_exists()
                    .col(string("team_id").primary_key())
                    .col(string("tenant_id"))
                    .col(string("display_name"))
                    .col(string("parent_team_id"))
                    .col(string("manager_user_id"))
                    .col(boolean("deleted"))
                    .col(big_integer("version"))
                    .to_owned(),
            )
            .await?;
        crate::schema::create_indexes(
            manager,
            &[
                (
                    "directory_users_by_tenant",
                    "directory_users",
                    &["tenant_id"],
                ),
                (
                    "directory_teams_by_tenant",
                    "directory_teams",
                    &["tenant_id"],
                ),
            ],
        )
        .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        crate::schema::drop_tables(manager, &["directory_teams", "directory_users"]).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn team(id: &str, parent: &str, manager: &str) -> directory_team::Model {
        directory_team::Model {
            team_id: id.to_owned(),
            tenant_id: "t".to_owned(),
            display_name: id.to_uppercase(),
            parent_team_id: parent.to_owned(),
            manager_user_id: manager.to_owned(),
            deleted: false,
            version: 1,
        }
    }

    fn directory() -> Directory {
        let teams = [
            team("sales", "", "director"),
            team("east", "sales", "lead-east"),
            team("west", "sales", ""),
            team("east-shanghai", "east", "lead-sh"),
        ];
        let members = [
            ("east", vec!["rep1".to_owned(), "rep2".to_owned()]),
            ("east-shanghai", vec!["rep3".to_owned()]),
            ("west", vec!["rep4".to_owned()]),
        ];
        let mut teams_of: HashMap<String, Vec<String>> = HashMap::new();
        for (team, people) in &members {
            for person in people {
                teams_of
                    .entry(person.clone())
                    .or_default()
                    .push((*team).to_owned());
            }
        }
        teams_of.insert("lead-east".to_owned(), vec!["east".to_owned()]);
        Directory {
            teams: teams.into_iter().map(|t| (t.team_id.clone(), t)).collect(),
            members: members
                .into_iter()
                .map(|(t, m)| (t.to_owned(), m))
                .collect(),
            teams_of,
            inactive: HashSet::new(),
        }
    }

    #[test]
    fn the_managers_above_a_user_climb_the_tree() {
        let mut d = directory();
        assert_eq!(
            d.managers_above("rep3"),
            ["lead-sh", "lead-east", "director"]
        );
        // A team without a manager passes to its parent's.
        assert_eq!(d.managers_above("rep4"), ["director"]);
        // A manager is not their own approver.
        assert_eq!(d.managers_above("lead-east"), ["director"]);
        d.inactive.insert("lead-sh".to_owned());
        assert_eq!(d.managers_above("rep3"), ["lead-east", "director"]);
        assert!(d.managers_above("nobody").is_empty());
    }

    #[test]
    fn a_rollup_counts_the_team_below_and_its_managers() {
        let d = directory();
        let east: Vec<_> = d.rollup("east").into_iter().collect();
        assert_eq!(east, ["lead-east", "lead-sh", "rep1", "rep2", "rep3"]);
        assert_eq!(d.rollup("sales").len(), 7);
        assert!(d.rollup("gone").is_empty());
        assert_eq!(d.subtree("east"), ["east", "east-shanghai"]);
    }

    fn team_event(version: i64, manager: &str, kind: IdentityEventType) -> Envelope {
        let event = IdentityEvent {
            r#type: kind as i32,
            subject: Some(Subject::Team(crm_proto::identity::DirectoryTeam {
                team_id: "east".into(),
                display_name: "East".into(),
                manager_user_id: manager.into(),
                version,
                ..Default::default()
            })),
            ..Default::default()
        };
        Envelope {
            id: format!("e{version}{manager}"),
            stream: STREAM.into(),
            tenant_id: "t".into(),
            event_type: kind.as_str_name().into(),
            aggregate_id: "east".into(),
            payload: event.encode_to_vec(),
            trace_context: None,
        }
    }

    #[tokio::test]
    async fn the_highest_version_wins_whatever_the_order() {
        let db = sea_orm::Database::connect("sqlite::memory:").await.unwrap();
        let manager = SchemaManager::new(&db);
        DirectoryTables.up(&manager).await.unwrap();
        let changed = |manager: &str| Change::Team {
            team_id: "east".into(),
            manager_user_id: manager.into(),
            deleted: false,
        };
        let v2 = team_event(2, "lead-b", IdentityEventType::TeamChanged);
        assert_eq!(apply(&db, &v2).await.unwrap(), Some(changed("lead-b")));
        // A replay and a late older version change nothing.
        assert_eq!(apply(&db, &v2).await.unwrap(), None);
        let v1 = team_event(1, "lead-a", IdentityEventType::TeamChanged);
        assert_eq!(apply(&db, &v1).await.unwrap(), None);
        let d = Directory::load(&db, "t").await.unwrap();
        assert_eq!(d.team("east").unwrap().manager_user_id, "lead-b");
        // The deletion leaves a tombstone an older event cannot bring back.
        let gone = team_event(3, "lead-b", IdentityEventType::TeamDeleted);
        assert!(apply(&db, &gone).await.unwrap().is_some());
        assert_eq!(apply(&db, &v2).await.unwrap(), None);
        assert!(
            Directory::load(&db, "t")
                .await
                .unwrap()
                .team("east")
                .is_none()
        );
        // Another stream's event is not the directory's.
        let other = Envelope {
            stream: "crm.contacts.v1".into(),
            ..v1
        };
        assert_eq!(apply(&db, &other).await.unwrap(), None);
    }

    #[test]
    fn a_manager_reaches_the_teams_they_lead_and_those_below() {
        let d = directory();
        let mut p = crate::jobs::system_principal("t");
        p.user_id = "lead-east".to_owned();
        p.scope = DataScope::Team;
        let names: Vec<_> = d
            .teams_reached(&p)
            .iter()
            .map(|t| t.team_id.as_str())
            .collect();
        assert_eq!(names, ["east", "east-shanghai"]);
        p.user_id = "rep1".to_owned();
        assert!(d.teams_reached(&p).is_empty());
        p.scope = DataScope::All;
        assert_eq!(d.teams_reached(&p).len(), 4);
    }
}
