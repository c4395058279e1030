//! Tasks: the steps to take on a deal by a due time. Owner-scoped by who is to do them; the
//! deal must be one the writer sees. Done records when; reopening clears it. The sales sweep
//! announces each open task's due time once (see `jobs`).

use sea_orm::DatabaseTransaction;

use crate::entity::task::{Column, Entity, Model};
use crate::opportunity::Opportunities;
use crm_platform::auth::Principal;
use crm_platform::clock;
use crm_platform::error::Error;
use crm_platform::field_mask::{self, Field};
use crm_platform::time::{micros_of, to_timestamp, to_timestamp_opt};
use crm_platform::validate::Violations;
use crm_proto::sales::{SalesEvent, SalesEventType, Task, TaskStatus, sales_event::Subject};
use crm_records::resource::{Action, FieldKind, Resource, WriteContext};
use crm_records::store;

/// The task resource.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Tasks;

/// The fields a task update may change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TaskField {
    OpportunityId,
    OwnerId,
    DisplayName,
    DueTime,
    Status,
    Note,
}

impl Field for TaskField {
    const ALL: &'static [Self] = &[
        TaskField::OpportunityId,
        TaskField::OwnerId,
        TaskField::DisplayName,
        TaskField::DueTime,
        TaskField::Status,
        TaskField::Note,
    ];

    fn name(self) -> &'static str {
        match self {
            TaskField::OpportunityId => "opportunity_id",
            TaskField::OwnerId => "owner_id",
            TaskField::DisplayName => "display_name",
            TaskField::DueTime => "due_time",
            TaskField::Status => "status",
            TaskField::Note => "note",
        }
    }
}

const OUTPUT_ONLY: &[&str] = &[
    "id",
    "etag",
    "done_time",
    "create_time",
    "update_time",
    "delete_time",
];

fn apply(model: &mut Model, input: &Task, fields: &[TaskField]) -> Result<(), Error> {
    let mut v = Violations::new();
    for field in fields {
        match field {
            TaskField::OpportunityId => {
                model.opportunity_id = input.opportunity_id.trim().to_owned();
                v.required("task.opportunity_id", &model.opportunity_id);
            }
            // The owner is checked against the caller's scope by the shared handler.
            TaskField::OwnerId => model.owner_id = input.owner_id.clone(),
            TaskField::DisplayName => {
                model.display_name = input.display_name.trim().to_owned();
                v.required("task.display_name", &model.display_name);
                v.max_chars("task.display_name", &model.display_name, 200);
            }
            TaskField::DueTime => match input.due_time.as_ref() {
                Some(due) => model.due_time = micros_of(due),
                None => v.add("task.due_time", "is required"),
            },
            TaskField::Status => {
                let status = match TaskStatus::try_from(input.status) {
                    Ok(TaskStatus::Unspecified) => TaskStatus::Open,
                    Ok(status) => status,
                    Err(_) => {
                        v.add("task.status", "must be open or done");
                        TaskStatus::Open
                    }
                };
                model.status = status as i32;
            }
            TaskField::Note => {
                model.note = input.note.trim().to_owned();
                v.max_chars("task.note", &model.note, 2000);
            }
        }
    }
    v.finish()
}

impl Resource for Tasks {
    type Event = SalesEvent;
    type Entity = Entity;
    type Model = Model;
    type Active = crate::entity::task::ActiveModel;
    type Proto = Task;

    const KIND: &'static str = "task";
    const DUPLICATE_KINDS: &'static [&'static str] = &[];
    const SORTABLE: &'static [&'static str] = &["due_time"];
    const READ: &'static str = "sales.opportunities.read";
    const WRITE: &'static str = "sales.opportunities.write";
    const MERGE: &'static str = "sales.opportunities.write";

    crm_records::shared_columns!(tags);

    fn filter_field(name: &str) -> Option<(Column, FieldKind)> {
        Some(match name {
            "opportunity_id" => (Column::OpportunityId, FieldKind::Id),
            "owner_id" => (Column::OwnerId, FieldKind::Id),
            "display_name" => (Column::DisplayName, FieldKind::Text),
            "status" => (
                Column::Status,
                FieldKind::Enum(|s| TaskStatus::from_str_name(s).map(|e| e as i32)),
            ),
            "due_time" => (Column::DueTime, FieldKind::Time),
            "create_time" => (Column::CreateTime, FieldKind::Time),
            "update_time" => (Column::UpdateTime, FieldKind::Time),
            _ => return None,
        })
    }

    fn sort_value(m: &Model, _field: &str) -> i64 {
        m.due_time
    }

    fn to_proto(m: &Model) -> Task {
        Task {
            id: m.id.clone(),
            etag: crm_platform::etag::format(m.version),
            opportunity_id: m.opportunity_id.clone(),
            owner_id: m.owner_id.clone(),
            display_name: m.display_name.clone(),
            due_time: Some(to_timestamp(m.due_time)),
            status: m.status,
            done_time: to_timestamp_opt(m.done_time),
            note: m.note.clone(),
            create_time: Some(to_timestamp(m.create_time)),
            update_time: Some(to_timestamp(m.update_time)),
            delete_time: to_timestamp_opt(m.delete_time),
        }
    }

    fn audit_fields(m: &Model) -> Vec<(&'static str, String)> {
        vec![
            ("opportunity_id", m.opportunity_id.clone()),
            ("owner_id", m.owner_id.clone()),
            ("display_name", m.display_name.clone()),
            ("due_time", m.due_time.to_string()),
            (
                "status",
                crm_platform::audit::enum_name::<TaskStatus>(m.status),
            ),
            ("note", m.note.clone()),
        ]
    }

    fn event(action: Action, proto: Task, _merged_ids: &[String]) -> SalesEvent {
        let types = [
            SalesEventType::TaskCreated,
            SalesEventType::TaskUpdated,
            SalesEventType::TaskDeleted,
            SalesEventType::TaskUndeleted,
        ];
        crate::events::of_write(action, types, Subject::Task(proto))
    }

    fn create(
        tenant_id: &str,
        owner_id: String,
        (id, now): (String, i64),
        input: Task,
        _cx: &WriteContext<'_>,
    ) -> Result<Model, Error> {
        let mut model = Model {
            id,
            tenant_id: tenant_id.to_owned(),
            owner_id: owner_id.clone(),
            owner_since: now,
            display_name: String::new(),
            opportunity_id: String::new(),
            due_time: 0,
            status: TaskStatus::Open as i32,
            done_time: None,
            note: String::new(),
            reminded: None,
            tags: "[]".to_owned(),
            custom_fields: "{}".to_owned(),
            version: 1,
            create_time: now,
            update_time: now,
            delete_time: None,
        };
        apply(&mut model, &input, TaskField::ALL)?;
        model.owner_id = owner_id;
        Ok(model)
    }

    fn update(
        current: &Model,
        input: Task,
        mask: &[String],
        _cx: &WriteContext<'_>,
    ) -> Result<Model, Error> {
        let fields = field_mask::resolve_fields(mask, OUTPUT_ONLY, |f| match f {
            TaskField::OpportunityId => !input.opportunity_id.is_empty(),
            TaskField::OwnerId => !input.owner_id.is_empty(),
            TaskField::DisplayName => !input.display_name.is_empty(),
            TaskField::DueTime => input.due_time.is_some(),
            TaskField::Status => input.status != 0,
            TaskField::Note => !input.note.is_empty(),
        })?;
        let mut next = current.clone();
        apply(&mut next, &input, &fields)?;
        Ok(next)
    }

    fn keys(input: &Task) -> (&str, &str, &str) {
        (&input.id, &input.owner_id, &input.etag)
    }

    /// The deal must be a live one the writer sees (read in the write's transaction, under
    /// the writer's scope); done records when, reopening clears it.
    async fn before_write(
        txn: &DatabaseTransaction,
        principal: &Principal,
        current: Option<&Model>,
        next: &mut Model,
    ) -> Result<(), Error> {
        if current.is_none_or(|c| c.opportunity_id != next.opportunity_id) {
            let hidden = || {
                Error::invalid(
                    "task.opportunity_id",
                    "is not a live opportunity you can see",
                )
            };
            let deal = store::find::<Opportunities, _>(txn, principal, &next.opportunity_id)
                .await
                .map_err(|e| match e {
                    Error::NotFound { .. } => hidden(),
                    other => other,
                })?;
            if deal.delete_time.is_some() {
                return Err(hidden());
            }
        }
        let done = next.status == TaskStatus::Done as i32;
        match (done, next.done_time) {
            (true, None) => next.done_time = Some(clock::now_micros()),
            (false, Some(_)) => next.done_time = None,
            _ => {}
        }
        Ok(())
    }
}
