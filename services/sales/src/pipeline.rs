//! Pipelines: a tenant's sales processes, each an ordered list of stages with a default win
//! probability and the fields an opportunity needs to enter it. Tenant-scoped, unique by
//! name among live pipelines.

use std::collections::HashSet;

use sea_orm::{ColumnTrait, DatabaseTransaction, EntityTrait, PaginatorTrait, QueryFilter};
use serde::{Deserialize, Serialize};

use crate::entity::opportunity;
use crate::entity::pipeline::{Column, Entity, Model};
use crm_platform::auth::Principal;
use crm_platform::error::Error;
use crm_platform::field_mask::{self, Field};
use crm_platform::time::{to_timestamp, to_timestamp_opt};
use crm_platform::validate::Violations;
use crm_proto::sales::{
    OpportunityRequirement, Pipeline, SalesEvent, SalesEventType, Stage, StageKind,
    sales_event::Subject,
};
use crm_records::json;
use crm_records::resource::{Action, FieldKind, IndexKey, Resource, Scope, WriteContext};

/// The pipeline resource.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Pipelines;

/// Most stages of a pipeline.
const MAX_STAGES: usize = 30;

/// A stored stage.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct StoredStage {
    /// Stable id.
    pub(crate) id: String,
    /// Name.
    pub(crate) name: String,
    /// Default win probability in percent.
    pub(crate) probability: i32,
    /// `StageKind` number (open, won or lost).
    pub(crate) kind: i32,
    /// `OpportunityRequirement` numbers.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub(crate) required: Vec<i32>,
}

impl StoredStage {
    /// Open, won or lost.
    pub(crate) fn kind(&self) -> StageKind {
        StageKind::try_from(self.kind).unwrap_or(StageKind::Open)
    }
}

/// The stages of a row, in order.
pub(crate) fn stages(m: &Model) -> Vec<StoredStage> {
    json::from_json(&m.stages)
}

/// The fields a pipeline update may change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PipelineField {
    DisplayName,
    Stages,
    Description,
}

impl Field for PipelineField {
    const ALL: &'static [Self] = &[
        PipelineField::DisplayName,
        PipelineField::Stages,
        PipelineField::Description,
    ];

    fn name(self) -> &'static str {
        match self {
            PipelineField::DisplayName => "display_name",
            PipelineField::Stages => "stages",
            PipelineField::Description => "description",
        }
    }
}

const OUTPUT_ONLY: &[&str] = &["id", "etag", "create_time", "update_time", "delete_time"];

/// Checks the stages sent, keeping the ids of those that have one and giving new ones ids.
fn check_stages(v: &mut Violations, input: &[Stage], current: &[StoredStage]) -> Vec<StoredStage> {
    if !v.at_most("pipeline.stages", input.len(), MAX_STAGES) {
        return Vec::new();
    }
    let mut names = HashSet::with_capacity(input.len());
    let mut ids = HashSet::with_capacity(input.len());
    let mut stored = Vec::with_capacity(input.len());
    for (i, stage) in input.iter().enumerate() {
        let field = format!("pipeline.stages[{i}]");
        let name = stage.display_name.trim().to_owned();
        v.required(&format!("{field}.display_name"), &name);
        v.max_chars(&format!("{field}.display_name"), &name, 100);
        if !name.is_empty() && !names.insert(name.to_lowercase()) {
            v.add(&format!("{field}.display_name"), "is used by another stage");
        }
        let id = if stage.id.is_empty() {
            uuid::Uuid::now_v7().to_string()
        } else if current.iter().any(|s| s.id == stage.id) {
            stage.id.clone()
        } else {
            v.add(
                &format!("{field}.id"),
                "is not a stage of this pipeline; leave it empty for a new one",
            );
            stage.id.clone()
        };
        if !ids.insert(id.clone()) {
            v.add(&format!("{field}.id"), "is listed twice");
        }
        let kind = match StageKind::try_from(stage.kind) {
            Ok(StageKind::Unspecified) => StageKind::Open,
            Ok(kind) => kind,
            Err(_) => {
                v.add(&format!("{field}.kind"), "must be OPEN, WON or LOST");
                StageKind::Open
            }
        };
        let probability_field = format!("{field}.probability");
        match kind {
            StageKind::Won if stage.probability != 100 && stage.probability != 0 => {
                v.add(&probability_field, "a won stage is 100");
            }
            StageKind::Lost if stage.probability != 0 => {
                v.add(&probability_field, "a lost stage is 0")
            }
            _ if !(0..=100).contains(&stage.probability) => {
                v.add(&probability_field, "must be a percentage from 0 to 100");
            }
            _ => {}
        }
        let probability = if kind == StageKind::Won {
            100
        } else {
            stage.probability
        };
        let mut required = Vec::with_capacity(stage.required_fields.len());
        for (j, value) in stage.required_fields.iter().enumerate() {
            match OpportunityRequirement::try_from(*value) {
                Ok(OpportunityRequirement::Unspecified) | Err(_) => v.add(
                    &format!("{field}.required_fields[{j}]"),
                    "must be AMOUNT, EXPECTED_CLOSE_DATE, NEXT_STEP or DESCRIPTION",
                ),
                Ok(_) if required.contains(value) => {}
                Ok(_) => required.push(*value),
            }
        }
        stored.push(StoredStage {
            id,
            name,
            probability,
            kind: kind as i32,
            required,
        });
    }
    let count = |kind: StageKind| stored.iter().filter(|s| s.kind() == kind).count();
    if count(StageKind::Open) == 0 {
        v.add("pipeline.stages", "needs at least one open stage");
    }
    if count(StageKind::Won) != 1 || count(StageKind::Lost) != 1 {
        v.add(
            "pipeline.stages",
            "needs exactly one won and one lost stage",
        );
    }
    stored
}

fn apply(model: &mut Model, input: &Pipeline, fields: &[PipelineField]) -> Result<(), Error> {
    let mut v = Violations::new();
    for field in fields {
        match field {
            PipelineField::DisplayName => {
                model.display_name = input.display_name.trim().to_owned();
                v.required("pipeline.display_name", &model.display_name);
                v.max_chars("pipeline.display_name", &model.display_name, 100);
            }
            PipelineField::Stages => {
                let checked = check_stages(&mut v, &input.stages, &stages(model));
                model.stages = json::to_json(&checked);
            }
            PipelineField::Description => {
                v.max_chars("pipeline.description", &input.description, 2_000);
                model.description = input.description.clone();
            }
        }
    }
    v.finish()
}

fn stage_proto(s: &StoredStage) -> Stage {
    Stage {
        id: s.id.clone(),
        display_name: s.name.clone(),
        probability: s.probability,
        kind: s.kind,
        required_fields: s.required.clone(),
    }
}

impl Resource for Pipelines {
    type Event = SalesEvent;
    type Entity = Entity;
    type Model = Model;
    type Active = crate::entity::pipeline::ActiveModel;
    type Proto = Pipeline;

    const KIND: &'static str = "pipeline";
    const SCOPE: Scope = Scope::Tenant;
    const DUPLICATE_KINDS: &'static [&'static str] = &["name"];
    const KEYS_UNIQUE: bool = true;
    const READ: &'static str = "sales.pipelines.read";
    const WRITE: &'static str = "sales.pipelines.write";
    const MERGE: &'static str = "sales.pipelines.write";

    crm_records::shared_columns!(tags);

    fn filter_field(name: &str) -> Option<(Column, FieldKind)> {
        Some(match name {
            "display_name" => (Column::DisplayName, FieldKind::Text),
            "create_time" => (Column::CreateTime, FieldKind::Time),
            "update_time" => (Column::UpdateTime, FieldKind::Time),
            _ => return None,
        })
    }

    fn to_proto(m: &Model) -> Pipeline {
        Pipeline {
            id: m.id.clone(),
            etag: crm_platform::etag::format(m.version),
            display_name: m.display_name.clone(),
            stages: stages(m).iter().map(stage_proto).collect(),
            description: m.description.clone(),
            create_time: Some(to_timestamp(m.create_time)),
            update_time: Some(to_timestamp(m.update_time)),
            delete_time: to_timestamp_opt(m.delete_time),
        }
    }

    fn audit_fields(m: &Model) -> Vec<(&'static str, String)> {
        vec![
            ("display_name", m.display_name.clone()),
            ("stages", m.stages.clone()),
            ("description", m.description.clone()),
        ]
    }

    fn search_fields(m: &Model) -> Vec<crm_records::SearchField> {
        vec![("display_name", m.display_name.clone())]
    }

    fn index_keys(m: &Model) -> Vec<IndexKey> {
        vec![IndexKey::new("name", m.display_name.to_lowercase())]
    }

    fn event(action: Action, proto: Pipeline, _merged_ids: &[String]) -> SalesEvent {
        let types = [
            SalesEventType::PipelineCreated,
            SalesEventType::PipelineUpdated,
            SalesEventType::PipelineDeleted,
            SalesEventType::PipelineUndeleted,
        ];
        crate::events::of_write(action, types, Subject::Pipeline(proto))
    }

    fn create(
        tenant_id: &str,
        owner_id: String,
        (id, now): (String, i64),
        input: Pipeline,
        _cx: &WriteContext<'_>,
    ) -> Result<Model, Error> {
        let mut model = Model {
            id,
            tenant_id: tenant_id.to_owned(),
            owner_id,
            owner_since: now,
            display_name: String::new(),
            stages: "[]".to_owned(),
            description: String::new(),
            tags: "[]".to_owned(),
            custom_fields: "{}".to_owned(),
            version: 1,
            create_time: now,
            update_time: now,
            delete_time: None,
        };
        apply(&mut model, &input, PipelineField::ALL)?;
        Ok(model)
    }

    fn update(
        current: &Model,
        input: Pipeline,
        mask: &[String],
        _cx: &WriteContext<'_>,
    ) -> Result<Model, Error> {
        let fields = field_mask::resolve_fields(mask, OUTPUT_ONLY, |f| match f {
            PipelineField::DisplayName => !input.display_name.is_empty(),
            PipelineField::Stages => !input.stages.is_empty(),
            PipelineField::Description => !input.description.is_empty(),
        })?;
        let mut next = current.clone();
        apply(&mut next, &input, &fields)?;
        Ok(next)
    }

    fn keys(input: &Pipeline) -> (&str, &str, &str) {
        (&input.id, "", &input.etag)
    }

    /// A stage that live opportunities are in stays: moving them out first is the seller's
    /// decision, not a side effect of editing the pipeline.
    async fn check_references(
        txn: &DatabaseTransaction,
        principal: &Principal,
        model: &Model,
    ) -> Result<(), Error> {
        let kept: Vec<String> = stages(model).into_iter().map(|s| s.id).collect();
        let stranded = opportunity::Entity::find()
            .filter(opportunity::Column::TenantId.eq(principal.tenant_id.as_str()))
            .filter(opportunity::Column::PipelineId.eq(model.id.as_str()))
            .filter(opportunity::Column::DeleteTime.is_null())
            .filter(opportunity::Column::StageId.is_not_in(kept))
            .count(txn)
            .await?;
        if stranded > 0 {
            return Err(Error::precondition(
                "STAGE_IN_USE",
                format!(
                    "{stranded} opportunities are in a stage this change removes; move them first"
                ),
            ));
        }
        Ok(())
    }
}
