//! Queues: groups of agents that take the new tickets of some types and categories, each
//! with the rule it assigns by (`assignment`). The tenant's, not an agent's: managers keep
//! them, agents read them.

use std::collections::HashSet;

use serde::{Deserialize, Serialize};

use crate::entity::queue::{Column, Entity, Model};
use crm_platform::error::Error;
use crm_platform::field_mask::{self, Field};
use crm_platform::time::{to_timestamp, to_timestamp_opt};
use crm_platform::validate::Violations;
use crm_proto::servicedesk::{
    AssignmentRule, Queue, QueueMember, ServicedeskEvent, ServicedeskEventType, TicketType,
    servicedesk_event::Subject,
};
use crm_records::json;
use crm_records::resource::{Action, FieldKind, IndexKey, Resource, Scope, WriteContext};

/// The queue resource.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Queues;

/// Most agents in a queue.
const MAX_MEMBERS: usize = 200;
/// Most categories a queue takes.
const MAX_CATEGORIES: usize = 50;
/// Most skills of an agent in a queue.
const MAX_SKILLS: usize = 20;

/// An agent of a queue, as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct StoredMember {
    pub(crate) user_id: String,
    /// Lower case.
    pub(crate) skills: Vec<String>,
}

/// A queue's agents.
pub(crate) fn members(m: &Model) -> Vec<StoredMember> {
    json::from_json(&m.members)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum QueueField {
    DisplayName,
    TicketTypes,
    Categories,
    Rule,
    Members,
    Position,
    KeyAccountOwnerFirst,
}

impl Field for QueueField {
    const ALL: &'static [Self] = &[
        QueueField::DisplayName,
        QueueField::TicketTypes,
        QueueField::Categories,
        QueueField::Rule,
        QueueField::Members,
        QueueField::Position,
        QueueField::KeyAccountOwnerFirst,
    ];

    fn name(self) -> &'static str {
        match self {
            QueueField::DisplayName => "display_name",
            QueueField::TicketTypes => "ticket_types",
            QueueField::Categories => "categories",
            QueueField::Rule => "rule",
            QueueField::Members => "members",
            QueueField::Position => "position",
            QueueField::KeyAccountOwnerFirst => "key_account_owner_first",
        }
    }
}

const OUTPUT_ONLY: &[&str] = &["id", "etag", "create_time", "update_time", "delete_time"];

/// Trimmed, lower-cased labels, each once, checked in `field`.
fn labels(v: &mut Violations, field: &str, values: &[String], max: usize) -> Vec<String> {
    if values.len() > max {
        v.add(field, format!("must list at most {max}"));
    }
    let mut seen = HashSet::new();
    let mut out = Vec::new();
    for (i, value) in values.iter().enumerate() {
        let value = value.trim().to_lowercase();
        let at = format!("{field}[{i}]");
        v.required(&at, &value);
        v.max_chars(&at, &value, 100);
        if !value.is_empty() && seen.insert(value.clone()) {
            out.push(value);
        }
    }
    out
}

fn check_members(v: &mut Violations, input: &[QueueMember]) -> Vec<StoredMember> {
    if input.is_empty() || input.len() > MAX_MEMBERS {
        v.add("queue.members", "must list 1 to 200 agents");
    }
    let mut seen = HashSet::new();
    let mut out = Vec::new();
    for (i, member) in input.iter().enumerate() {
        let field = format!("queue.members[{i}]");
        let user_id = member.user_id.trim().to_owned();
        v.required(&format!("{field}.user_id"), &user_id);
        v.max_chars(&format!("{field}.user_id"), &user_id, 100);
        if !user_id.is_empty() && !seen.insert(user_id.clone()) {
            v.add(&format!("{field}.user_id"), "appears twice");
        }
        let skills = labels(v, &format!("{field}.skills"), &member.skills, MAX_SKILLS);
        out.push(StoredMember { user_id, skills });
    }
    out
}

fn apply(model: &mut Model, input: &Queue, fields: &[QueueField]) -> Result<(), Error> {
    let mut v = Violations::new();
    for field in fields {
        match field {
            QueueField::DisplayName => {
                model.display_name = input.display_name.trim().to_owned();
                v.required("queue.display_name", &model.display_name);
                v.max_chars("queue.display_name", &model.display_name, 100);
            }
            QueueField::TicketTypes => {
                let mut types = Vec::new();
                for (i, t) in input.ticket_types.iter().enumerate() {
                    let field = format!("queue.ticket_types[{i}]");
                    let t = v.required_enumeration::<TicketType>(&field, *t);
                    if t != 0 && !types.contains(&t) {
                        types.push(t);
                    }
                }
                model.ticket_types = json::to_json(&types);
            }
            QueueField::Categories => {
                let categories = labels(
                    &mut v,
                    "queue.categories",
                    &input.categories,
                    MAX_CATEGORIES,
                );
                model.categories = json::to_json(&categories);
            }
            QueueField::Rule => {
                model.rule = v.required_enumeration::<AssignmentRule>("queue.rule", input.rule);
            }
            QueueField::Members => {
                model.members = json::to_json(&check_members(&mut v, &input.members));
            }
            QueueField::Position => {
                if !(0..=1000).contains(&input.position) {
                    v.add("queue.position", "must be from 0 to 1,000");
                }
                model.position = input.position;
            }
            QueueField::KeyAccountOwnerFirst => {
                model.key_account_owner_first = input.key_account_owner_first;
            }
        }
    }
    v.finish()
}

impl Resource for Queues {
    type Event = ServicedeskEvent;
    type Entity = Entity;
    type Model = Model;
    type Active = crate::entity::queue::ActiveModel;
    type Proto = Queue;

    const KIND: &'static str = "queue";
    const SCOPE: Scope = Scope::Tenant;
    const DUPLICATE_KINDS: &'static [&'static str] = &["name"];
    const KEYS_UNIQUE: bool = true;
    const READ: &'static str = "servicedesk.queues.read";
    const WRITE: &'static str = "servicedesk.queues.write";
    const MERGE: &'static str = "servicedesk.queues.write";

    crm_records::shared_columns!(tags);

    fn filter_field(name: &str) -> Option<(Column, FieldKind)> {
        Some(match name {
            "display_name" => (Column::DisplayName, FieldKind::Text),
            "rule" => (
                Column::Rule,
                FieldKind::Enum(|s| AssignmentRule::from_str_name(s).map(|e| e as i32)),
            ),
            "create_time" => (Column::CreateTime, FieldKind::Time),
            "update_time" => (Column::UpdateTime, FieldKind::Time),
            _ => return None,
        })
    }

    fn to_proto(m: &Model) -> Queue {
        Queue {
            id: m.id.clone(),
            etag: crm_platform::etag::format(m.version),
            display_name: m.display_name.clone(),
            ticket_types: json::from_json(&m.ticket_types),
            categories: json::from_json(&m.categories),
            rule: m.rule,
            members: members(m)
                .into_iter()
                .map(|s| QueueMember {
                    user_id: s.user_id,
                    skills: s.skills,
                })
                .collect(),
            position: m.position,
            key_account_owner_first: m.key_account_owner_first,
            create_time: Some(to_timestamp(m.create_time)),
            update_time: Some(to_timestamp(m.update_time)),
            delete_time: to_timestamp_opt(m.delete_time),
        }
    }

    fn audit_fields(m: &Model) -> Vec<(&'static str, String)> {
        vec![
            ("display_name", m.display_name.clone()),
            ("ticket_types", m.ticket_types.clone()),
            ("categories", m.categories.clone()),
            (
                "rule",
                crm_platform::audit::enum_name::<AssignmentRule>(m.rule),
            ),
            ("members", m.members.clone()),
            ("position", m.position.to_string()),
            (
                "key_account_owner_first",
                m.key_account_owner_first.to_string(),
            ),
        ]
    }

    fn index_keys(m: &Model) -> Vec<IndexKey> {
        vec![IndexKey::new("name", m.display_name.to_lowercase())]
    }

    fn event(action: Action, proto: Queue, _merged_ids: &[String]) -> ServicedeskEvent {
        let types = [
            ServicedeskEventType::QueueCreated,
            ServicedeskEventType::QueueUpdated,
            ServicedeskEventType::QueueDeleted,
            ServicedeskEventType::QueueUndeleted,
        ];
        crate::events::of_write(action, types, Subject::Queue(proto))
    }

    fn create(
        tenant_id: &str,
        owner_id: String,
        (id, now): (String, i64),
        input: Queue,
        _cx: &WriteContext<'_>,
    ) -> Result<Model, Error> {
        let mut model = Model {
            id,
            tenant_id: tenant_id.to_owned(),
            owner_id,
            owner_since: now,
            display_name: String::new(),
            ticket_types: "[]".to_owned(),
            categories: "[]".to_owned(),
            rule: 0,
            members: "[]".to_owned(),
            position: 0,
            assigned: 0,
            tags: "[]".to_owned(),
            custom_fields: "{}".to_owned(),
            version: 1,
            create_time: now,
            update_time: now,
            delete_time: None,
            key_account_owner_first: false,
        };
        apply(&mut model, &input, QueueField::ALL)?;
        Ok(model)
    }

    fn update(
        current: &Model,
        input: Queue,
        mask: &[String],
        _cx: &WriteContext<'_>,
    ) -> Result<Model, Error> {
        let fields = field_mask::resolve_fields(mask, OUTPUT_ONLY, |f| match f {
            QueueField::DisplayName => !input.display_name.is_empty(),
            QueueField::TicketTypes => !input.ticket_types.is_empty(),
            QueueField::Categories => !input.categories.is_empty(),
            QueueField::Rule => input.rule != 0,
            QueueField::Members => !input.members.is_empty(),
            QueueField::Position => input.position != 0,
            QueueField::KeyAccountOwnerFirst => input.key_account_owner_first,
        })?;
        let mut next = current.clone();
        apply(&mut next, &input, &fields)?;
        Ok(next)
    }

    fn keys(input: &Queue) -> (&str, &str, &str) {
        (&input.id, "", &input.etag)
    }
}
