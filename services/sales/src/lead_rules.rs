//! A tenant's lead rules: how leads are scored, and who a captured lead goes to (round
//! robin, territory, or the fewest open leads). Assignment takes a tenant-wide lock in the
//! capture's transaction, so concurrent captures see each other's choices and stay fair.

use std::collections::{HashMap, HashSet};

use sea_orm::sea_query::OnConflict;
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseTransaction, EntityTrait, IntoActiveModel, QueryFilter,
    QuerySelect,
};
use serde::{Deserialize, Serialize};

use crate::entity::{lead, lead_rules};
use crate::lead::{Leads, OPEN_STATUSES, score};
use crm_platform::audit;
use crm_platform::auth::Principal;
use crm_platform::clock;
use crm_platform::error::Error;
use crm_platform::etag;
use crm_platform::time::to_timestamp_opt;
use crm_platform::validate::Violations;
use crm_proto::sales::{
    FieldPoints, LeadAssignment, LeadAssignmentMode, LeadRules, LeadScoredField, LeadScoring,
    LeadSource, SalesEvent, SalesEventType, SourcePoints, TerritoryOwner, sales_event::Subject,
};
use crm_records::handlers::{Records, announce};
use crm_records::json;
use crm_records::resource::{Action, Resource};

/// Permission to read the rules.
pub(crate) const READ: &str = "sales.lead_rules.read";
/// Permission to change them.
pub(crate) const WRITE: &str = "sales.lead_rules.write";
/// Most users in an assignment list, and most territories.
const MAX_USERS: usize = 200;
/// The bound of any points value.
const MAX_POINTS: i32 = 1000;

/// Points for a source, as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct StoredSource {
    pub(crate) source: i32,
    pub(crate) points: i32,
}

/// Points for a filled field, as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct StoredField {
    pub(crate) field: i32,
    pub(crate) points: i32,
}

/// The rules, as stored in the tenant's row.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct StoredRules {
    #[serde(default)]
    pub(crate) sources: Vec<StoredSource>,
    #[serde(default)]
    pub(crate) fields: Vec<StoredField>,
    #[serde(default)]
    pub(crate) points_per_interaction: i32,
    #[serde(default)]
    pub(crate) mode: i32,
    #[serde(default)]
    pub(crate) user_ids: Vec<String>,
    /// Region code → user.
    #[serde(default)]
    pub(crate) territories: Vec<(String, String)>,
}

/// The tenant's row, if it has one.
async fn row<C: ConnectionTrait>(
    db: &C,
    tenant_id: &str,
) -> Result<Option<lead_rules::Model>, Error> {
    Ok(lead_rules::Entity::find_by_id(tenant_id).one(db).await?)
}

/// The tenant's rules; none when it has set none.
pub(crate) async fn stored<C: ConnectionTrait>(
    db: &C,
    tenant_id: &str,
) -> Result<StoredRules, Error> {
    Ok(row(db, tenant_id)
        .await?
        .map(|r| json::object_from_json(&r.rules))
        .unwrap_or_default())
}

fn to_proto(rules: &StoredRules, row: Option<&lead_rules::Model>) -> LeadRules {
    LeadRules {
        etag: etag::format(row.map_or(0, |r| r.version)),
        scoring: Some(LeadScoring {
            sources: rules
                .sources
                .iter()
                .map(|s| SourcePoints {
                    source: s.source,
                    points: s.points,
                })
                .collect(),
            fields: rules
                .fields
                .iter()
                .map(|f| FieldPoints {
                    field: f.field,
                    points: f.points,
                })
                .collect(),
            points_per_interaction: rules.points_per_interaction,
        }),
        assignment: Some(LeadAssignment {
            mode: rules.mode,
            user_ids: rules.user_ids.clone(),
            territories: rules
                .territories
                .iter()
                .map(|(region_code, user_id)| TerritoryOwner {
                    region_code: region_code.clone(),
                    user_id: user_id.clone(),
                })
                .collect(),
        }),
        update_time: to_timestamp_opt(row.map(|r| r.update_time)),
    }
}

fn points(v: &mut Violations, field: &str, points: i32) {
    if !(-MAX_POINTS..=MAX_POINTS).contains(&points) {
        v.add(field, "must be from -1,000 to 1,000");
    }
}

/// Checks sent rules and gives their stored form.
fn check(input: &LeadRules) -> Result<StoredRules, Error> {
    let mut v = Violations::new();
    let scoring = input.scoring.clone().unwrap_or_default();
    let assignment = input.assignment.clone().unwrap_or_default();
    let mut seen = HashSet::new();
    for (i, s) in scoring.sources.iter().enumerate() {
        let field = format!("rules.scoring.sources[{i}]");
        if s.source == 0 || LeadSource::try_from(s.source).is_err() {
            v.add(&format!("{field}.source"), "must be a defined source");
        } else if !seen.insert(s.source) {
            v.add(&format!("{field}.source"), "appears twice");
        }
        points(&mut v, &format!("{field}.points"), s.points);
    }
    let mut seen = HashSet::new();
    for (i, f) in scoring.fields.iter().enumerate() {
        let field = format!("rules.scoring.fields[{i}]");
        if f.field == 0 || LeadScoredField::try_from(f.field).is_err() {
            v.add(&format!("{field}.field"), "must be a defined field");
        } else if !seen.insert(f.field) {
            v.add(&format!("{field}.field"), "appears twice");
        }
        points(&mut v, &format!("{field}.points"), f.points);
    }
    points(
        &mut v,
        "rules.scoring.points_per_interaction",
        scoring.points_per_interaction,
    );
    let mode = v.enumeration::<LeadAssignmentMode>("rules.assignment.mode", assignment.mode);
    let user_ids: Vec<String> = assignment
        .user_ids
        .iter()
        .map(|u| u.trim().to_owned())
        .collect();
    if user_ids.len() > MAX_USERS {
        v.add("rules.assignment.user_ids", "must list at most 200 users");
    }
    let mut seen = HashSet::new();
    for (i, user) in user_ids.iter().enumerate() {
        if user.is_empty() {
            v.add(&format!("rules.assignment.user_ids[{i}]"), "is empty");
        } else if !seen.insert(user) {
            v.add(&format!("rules.assignment.user_ids[{i}]"), "appears twice");
        }
    }
    let takes_turns = [
        LeadAssignmentMode::RoundRobin as i32,
        LeadAssignmentMode::LeastOpen as i32,
    ];
    if takes_turns.contains(&mode) && user_ids.is_empty() {
        v.add("rules.assignment.user_ids", "is required for this mode");
    }
    if assignment.territories.len() > MAX_USERS {
        v.add(
            "rules.assignment.territories",
            "must list at most 200 territories",
        );
    }
    let mut territories = Vec::with_capacity(assignment.territories.len());
    let mut seen = HashSet::new();
    for (i, t) in assignment.territories.iter().enumerate() {
        let field = format!("rules.assignment.territories[{i}]");
        let region = t.region_code.trim().to_uppercase();
        let user = t.user_id.trim().to_owned();
        v.required(&format!("{field}.region_code"), &region);
        v.required(&format!("{field}.user_id"), &user);
        if !region.is_empty() && !seen.insert(region.clone()) {
            v.add(&format!("{field}.region_code"), "appears twice");
        }
        territories.push((region, user));
    }
    if mode == LeadAssignmentMode::Territory as i32 && territories.is_empty() {
        v.add("rules.assignment.territories", "is required for this mode");
    }
    v.finish()?;
    Ok(StoredRules {
        sources: scoring
            .sources
            .iter()
            .map(|s| StoredSource {
                source: s.source,
                points: s.points,
            })
            .collect(),
        fields: scoring
            .fields
            .iter()
            .map(|f| StoredField {
                field: f.field,
                points: f.points,
            })
            .collect(),
        points_per_interaction: scoring.points_per_interaction,
        mode,
        user_ids,
        territories,
    })
}

/// The caller's tenant's rules.
pub(crate) async fn get(records: &Records, principal: &Principal) -> Result<LeadRules, Error> {
    principal.require(READ)?;
    let found = row(&records.db, &principal.tenant_id).await?;
    let rules = found
        .as_ref()
        .map(|r| json::object_from_json(&r.rules))
        .unwrap_or_default();
    Ok(to_proto(&rules, found.as_ref()))
}

/// The lock every write of a tenant's rules or assignments takes first.
fn lock_key(tenant_id: &str) -> String {
    format!("{tenant_id}/lead_rules")
}

/// Replaces the rules and rescores the tenant's open leads, in one transaction; returns the
/// rules as stored and the ids of the leads whose score changed.
pub(crate) async fn update(
    records: &Records,
    principal: &Principal,
    input: LeadRules,
) -> Result<(LeadRules, Vec<String>), Error> {
    principal.require(WRITE)?;
    let rules = check(&input)?;
    let expected = etag::parse("rules.etag", &input.etag)?;
    let tenant_id = principal.tenant_id.as_str();
    let txn = crm_platform::db::begin_write(&records.db).await?;
    crm_platform::db::lock_keys(&txn, &[lock_key(tenant_id)]).await?;
    let current = row(&txn, tenant_id).await?;
    let version = current.as_ref().map_or(0, |r| r.version);
    if expected.is_some_and(|e| e != version) {
        return Err(Error::StaleEtag {
            resource: "lead_rules",
        });
    }
    let before: StoredRules = current
        .as_ref()
        .map(|r| json::object_from_json(&r.rules))
        .unwrap_or_default();
    let next = lead_rules::Model {
        tenant_id: tenant_id.to_owned(),
        rules: json::object_to_json(&rules),
        assigned: current.as_ref().map_or(0, |r| r.assigned),
        version: version + 1,
        update_time: clock::now_micros(),
    };
    lead_rules::Entity::insert(next.clone().into_active_model())
        .on_conflict(
            OnConflict::column(lead_rules::Column::TenantId)
                .update_columns([
                    lead_rules::Column::Rules,
                    lead_rules::Column::Version,
                    lead_rules::Column::UpdateTime,
                ])
                .to_owned(),
        )
        .exec(&txn)
        .await?;
    let rescored = rescore(&txn, principal, &rules).await?;
    let change = audit::Change {
        field: "rules".to_owned(),
        before: json::object_to_json(&before),
        after: next.rules.clone(),
    };
    audit::record(
        &txn,
        principal,
        "lead_rules",
        tenant_id,
        "update",
        &[change],
    )
    .await?;
    let proto = to_proto(&rules, Some(&next));
    let event = SalesEvent {
        r#type: SalesEventType::LeadRulesUpdated as i32,
        subject: Some(Subject::LeadRules(proto.clone())),
        ..Default::default()
    };
    announce(&txn, tenant_id, &principal.user_id, event, tenant_id).await?;
    txn.commit().await?;
    records.relay.wake();
    for id in &rescored {
        records
            .forget(
                tenant_id,
                <Leads as crm_records::resource::Resource>::KIND,
                id,
            )
            .await;
    }
    Ok((proto, rescored))
}

/// Gives every open lead of the tenant the score `rules` give it, as a new version with its
/// `LEAD_UPDATED` event (the change itself is audited once, on the rules); returns the ids
/// whose score changed.
async fn rescore(
    txn: &DatabaseTransaction,
    principal: &Principal,
    rules: &StoredRules,
) -> Result<Vec<String>, Error> {
    let tenant_id = principal.tenant_id.as_str();
    let open: Vec<i32> = OPEN_STATUSES.iter().map(|s| *s as i32).collect();
    let leads = lead::Entity::find()
        .filter(lead::Column::TenantId.eq(tenant_id))
        .filter(lead::Column::Status.is_in(open))
        .filter(lead::Column::DeleteTime.is_null())
        .all(txn)
        .await?;
    let now = clock::now_micros();
    let mut changed = Vec::new();
    for current in leads {
        let next = lead::Model {
            score: score(rules, &current),
            version: current.version + 1,
            update_time: now,
            ..current.clone()
        };
        if next.score == current.score {
            continue;
        }
        lead::Entity::update_many()
            .col_expr(lead::Column::Score, next.score.into())
            .col_expr(lead::Column::Version, next.version.into())
            .col_expr(lead::Column::UpdateTime, now.into())
            .filter(lead::Column::Id.eq(current.id.as_str()))
            .filter(lead::Column::Version.eq(current.version))
            .exec(txn)
            .await?;
        let event = Leads::event(Action::Update, Leads::to_proto(&next), &[]);
        announce(txn, tenant_id, &principal.user_id, event, &next.id).await?;
        changed.push(next.id);
    }
    Ok(changed)
}

/// The owner the tenant's rule gives a captured lead from `region_code`, or `None` when the
/// tenant has no assignment rule. Takes the tenant's lead-rules lock for the rest of `txn`,
/// so concurrent captures are assigned one after another.
pub(crate) async fn assign(
    txn: &DatabaseTransaction,
    tenant_id: &str,
    region_code: &str,
) -> Result<Option<String>, Error> {
    let mut owners = assign_many(txn, tenant_id, &[region_code]).await?;
    Ok(owners.pop().flatten())
}

/// The owners the tenant's rule gives new leads from `regions`, in order, as if each were
/// filed on its own in turn (an import batch's leads); `None` each when the tenant has no
/// rule. Takes the tenant's lead-rules lock for the rest of `txn`.
pub(crate) async fn assign_many(
    txn: &DatabaseTransaction,
    tenant_id: &str,
    regions: &[&str],
) -> Result<Vec<Option<String>>, Error> {
    crm_platform::db::lock_keys(txn, &[lock_key(tenant_id)]).await?;
    let Some(current) = row(txn, tenant_id).await? else {
        return Ok(vec![None; regions.len()]);
    };
    let rules: StoredRules = json::object_from_json(&current.rules);
    let mode = LeadAssignmentMode::try_from(rules.mode).unwrap_or_default();
    if mode == LeadAssignmentMode::Unspecified || regions.is_empty() {
        return Ok(vec![None; regions.len()]);
    }
    let mut open = if mode == LeadAssignmentMode::LeastOpen {
        open_counts(txn, tenant_id, &rules.user_ids).await?
    } else {
        HashMap::new()
    };
    let first_turn = usize::try_from(current.assigned).unwrap_or_default();
    let owners = regions
        .iter()
        .enumerate()
        .map(|(nth, region_code)| {
            let territory = rules
                .territories
                .iter()
                .find(|(region, _)| region == region_code)
                .map(|(_, user)| user.clone());
            match mode {
                LeadAssignmentMode::Territory if territory.is_some() => territory,
                LeadAssignmentMode::LeastOpen => {
                    // The fewest open leads, counting the ones just given; ties go to the
                    // first listed.
                    let user = rules
                        .user_ids
                        .iter()
                        .min_by_key(|user| open.get(*user).copied().unwrap_or_default())
                        .cloned();
                    if let Some(user) = &user {
                        *open.entry(user.clone()).or_default() += 1;
                    }
                    user
                }
                // Round-robin, and a territory's fallback: every lead placed takes a turn.
                _ => rules
                    .user_ids
                    .get((first_turn + nth) % rules.user_ids.len().max(1))
                    .cloned(),
            }
        })
        .collect();
    // Every lead the rule placed counts, as each capture did before.
    let assigned = current.assigned + i64::try_from(regions.len()).unwrap_or(i64::MAX);
    lead_rules::Entity::update_many()
        .col_expr(lead_rules::Column::Assigned, assigned.into())
        .filter(lead_rules::Column::TenantId.eq(tenant_id))
        .exec(txn)
        .await?;
    Ok(owners)
}

/// The open leads of each of `users`.
async fn open_counts(
    txn: &DatabaseTransaction,
    tenant_id: &str,
    users: &[String],
) -> Result<HashMap<String, i64>, Error> {
    let open: Vec<i32> = OPEN_STATUSES.iter().map(|s| *s as i32).collect();
    let counts: Vec<(String, i64)> = lead::Entity::find()
        .select_only()
        .column(lead::Column::OwnerId)
        .column_as(lead::Column::Id.count(), "open")
        .filter(lead::Column::TenantId.eq(tenant_id))
        .filter(lead::Column::OwnerId.is_in(users.iter().map(String::as_str)))
        .filter(lead::Column::Status.is_in(open))
        .filter(lead::Column::DeleteTime.is_null())
        .group_by(lead::Column::OwnerId)
        .into_tuple()
        .all(txn)
        .await?;
    Ok(counts.into_iter().collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules_are_checked_field_by_field() {
        let input = LeadRules {
            scoring: Some(LeadScoring {
                sources: vec![
                    SourcePoints {
                        source: LeadSource::WebForm as i32,
                        points: 10,
                    },
                    SourcePoints {
                        source: LeadSource::WebForm as i32,
                        points: 2000,
                    },
                ],
                ..Default::default()
            }),
            assignment: Some(LeadAssignment {
                mode: LeadAssignmentMode::RoundRobin as i32,
                ..Default::default()
            }),
            ..Default::default()
        };
        let Err(Error::InvalidArgument(violations)) = check(&input) else {
            panic!("bad rules were accepted");
        };
        let fields: Vec<&str> = violations.iter().map(|v| v.field.as_str()).collect();
        assert_eq!(
            fields,
            [
                "rules.scoring.sources[1].source",
                "rules.scoring.sources[1].points",
                "rules.assignment.user_ids"
            ]
        );
    }
}
