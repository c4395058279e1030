//! Opportunities: deals with an account, worked through the stages of a pipeline by their
//! owner. Owner-scoped: the caller's data scope decides who sees one. A stage move is checked
//! against the pipeline (the stage's required fields, a reason to win or lose), takes the
//! stage's probability and is kept in the stage history, all in the write's transaction.

use sea_orm::{ColumnTrait, DatabaseTransaction, EntityTrait, QueryFilter};
use serde::{Deserialize, Serialize};

use crate::entity::opportunity::{Column, Entity, Model};
use crate::entity::pipeline;
use crate::pipeline::{StoredStage, stages};
use crm_platform::auth::Principal;
use crm_platform::clock;
use crm_platform::error::Error;
use crm_platform::field_mask::{self, Field};
use crm_platform::money::{self, Currency, Money};
use crm_platform::time::{day, to_timestamp, to_timestamp_opt};
use crm_platform::validate::Violations;
use crm_proto::sales::{
    Competitor, ContactRole, Opportunity, OpportunityContact, OpportunityRequirement,
    OpportunityStatus, SalesEvent, SalesEventType, StageKind, StageVisit, sales_event::Subject,
};
use crm_records::custom_values;
use crm_records::json;
use crm_records::resource::{AMOUNT_SCALE, Action, FieldKind, Resource, WriteContext};

/// The opportunity resource.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Opportunities;

/// A stored stage visit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Visit {
    /// The stage.
    pub(crate) stage_id: String,
    /// Entered, microseconds.
    pub(crate) enter: i64,
    /// Left, microseconds; `None` for the current stage.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) leave: Option<i64>,
}

/// A person of the deal, as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct StoredContact {
    pub(crate) contact_id: String,
    pub(crate) role: i32,
    #[serde(default)]
    pub(crate) primary: bool,
}

/// A competitor, as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct StoredCompetitor {
    pub(crate) name: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub(crate) note: String,
}

/// Most people on a deal, and most competitors.
const MAX_CONTACTS: usize = 50;
const MAX_COMPETITORS: usize = 20;

/// Checks the people of a deal.
fn contacts(v: &mut Violations, sent: &[OpportunityContact]) -> Vec<StoredContact> {
    if sent.len() > MAX_CONTACTS {
        v.add("opportunity.contacts", "must list at most 50 people");
    }
    let mut seen = std::collections::HashSet::new();
    let mut stored = Vec::with_capacity(sent.len());
    for (i, c) in sent.iter().enumerate() {
        let field = format!("opportunity.contacts[{i}]");
        let id = c.contact_id.trim();
        if id.is_empty() {
            v.add(&format!("{field}.contact_id"), "is required");
        } else if !seen.insert(id.to_owned()) {
            v.add(&format!("{field}.contact_id"), "appears twice");
        }
        if c.role == 0 || ContactRole::try_from(c.role).is_err() {
            v.add(&format!("{field}.role"), "must be a defined role");
        }
        stored.push(StoredContact {
            contact_id: id.to_owned(),
            role: c.role,
            primary: c.primary,
        });
    }
    if stored.iter().filter(|c| c.primary).count() > 1 {
        v.add("opportunity.contacts", "at most one person is primary");
    }
    stored
}

/// Checks the competitors of a deal.
fn competitors(v: &mut Violations, sent: &[Competitor]) -> Vec<StoredCompetitor> {
    if sent.len() > MAX_COMPETITORS {
        v.add(
            "opportunity.competitors",
            "must list at most 20 competitors",
        );
    }
    let mut seen = std::collections::HashSet::new();
    let mut stored = Vec::with_capacity(sent.len());
    for (i, c) in sent.iter().enumerate() {
        let field = format!("opportunity.competitors[{i}]");
        let name = c.display_name.trim().to_owned();
        v.required(&format!("{field}.display_name"), &name);
        v.max_chars(&format!("{field}.display_name"), &name, 100);
        v.max_chars(&format!("{field}.note"), &c.note, 500);
        if !name.is_empty() && !seen.insert(name.to_lowercase()) {
            v.add(&format!("{field}.display_name"), "appears twice");
        }
        stored.push(StoredCompetitor {
            name,
            note: c.note.trim().to_owned(),
        });
    }
    stored
}

/// The fields an opportunity update may change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum OpportunityField {
    DisplayName,
    AccountId,
    OwnerId,
    PipelineId,
    StageId,
    Amount,
    ExpectedCloseDate,
    Probability,
    Description,
    NextStep,
    NextStepDueTime,
    CloseReason,
    Contacts,
    Competitors,
    Tags,
    CustomFields,
}

impl Field for OpportunityField {
    const ALL: &'static [Self] = &[
        OpportunityField::DisplayName,
        OpportunityField::AccountId,
        OpportunityField::OwnerId,
        OpportunityField::PipelineId,
        OpportunityField::StageId,
        OpportunityField::Amount,
        OpportunityField::ExpectedCloseDate,
        OpportunityField::Probability,
        OpportunityField::Description,
        OpportunityField::NextStep,
        OpportunityField::NextStepDueTime,
        OpportunityField::CloseReason,
        OpportunityField::Contacts,
        OpportunityField::Competitors,
        OpportunityField::Tags,
        OpportunityField::CustomFields,
    ];

    fn name(self) -> &'static str {
        match self {
            OpportunityField::DisplayName => "display_name",
            OpportunityField::AccountId => "account_id",
            OpportunityField::OwnerId => "owner_id",
            OpportunityField::PipelineId => "pipeline_id",
            OpportunityField::StageId => "stage_id",
            OpportunityField::Amount => "amount",
            OpportunityField::ExpectedCloseDate => "expected_close_date",
            OpportunityField::Probability => "probability",
            OpportunityField::Description => "description",
            OpportunityField::NextStep => "next_step",
            OpportunityField::NextStepDueTime => "next_step_due_time",
            OpportunityField::CloseReason => "close_reason",
            OpportunityField::Contacts => "contacts",
            OpportunityField::Competitors => "competitors",
            OpportunityField::Tags => "tags",
            OpportunityField::CustomFields => "custom_fields",
        }
    }
}

const OUTPUT_ONLY: &[&str] = &[
    "id",
    "etag",
    "status",
    "stage_history",
    "close_time",
    "create_time",
    "update_time",
    "delete_time",
];

impl Opportunities {
    /// The live, not lost deal of this id the writer sees; refused in `field` otherwise (a
    /// deal out of reach reads like none).
    pub(crate) async fn live(
        txn: &sea_orm::DatabaseTransaction,
        principal: &crm_platform::auth::Principal,
        id: &str,
        field: &'static str,
    ) -> Result<Model, Error> {
        let hidden = || Error::invalid(field, "is not a live opportunity you can see");
        let deal = crm_records::store::find::<Opportunities, _>(txn, principal, id)
            .await
            .map_err(|e| match e {
                Error::NotFound { .. } => hidden(),
                other => other,
            })?;
        if deal.delete_time.is_some() {
            return Err(hidden());
        }
        if deal.status == OpportunityStatus::Lost as i32 {
            return Err(Error::invalid(field, "is a lost opportunity"));
        }
        Ok(deal)
    }
}

/// The stored amount of an opportunity, when it has one.
pub(crate) fn amount(m: &Model) -> Option<Money> {
    let currency = Currency::parse(&m.amount_currency)?;
    Some(Money {
        currency,
        amount: money::Amount::new(m.amount?, AMOUNT_SCALE),
    })
}

/// Checks every field in `fields` and writes the normalised values into `model`.
fn apply(model: &mut Model, input: &Opportunity, fields: &[OpportunityField]) -> Result<(), Error> {
    let mut v = Violations::new();
    for field in fields {
        match field {
            OpportunityField::DisplayName => {
                model.display_name = input.display_name.trim().to_owned();
                v.required("opportunity.display_name", &model.display_name);
                v.max_chars("opportunity.display_name", &model.display_name, 200);
            }
            // Visibility is asked of contacts before the transaction (see `accounts`).
            OpportunityField::AccountId => {
                model.account_id = input.account_id.trim().to_owned();
                v.required("opportunity.account_id", &model.account_id);
            }
            // The owner is checked against the caller's scope by the shared handler.
            OpportunityField::OwnerId => model.owner_id = input.owner_id.clone(),
            OpportunityField::PipelineId => {
                model.pipeline_id = input.pipeline_id.trim().to_owned();
                v.required("opportunity.pipeline_id", &model.pipeline_id);
            }
            OpportunityField::StageId => model.stage_id = input.stage_id.trim().to_owned(),
            OpportunityField::Amount => {
                let sent = input
                    .amount
                    .as_ref()
                    .filter(|a| !a.amount.trim().is_empty());
                let checked =
                    sent.and_then(|a| Money::check(&mut v, "opportunity.amount", a, None));
                (model.amount_currency, model.amount) = match checked {
                    Some(m) => (
                        m.currency.code().to_owned(),
                        crm_records::store::scaled(m.amount),
                    ),
                    None => (String::new(), None),
                };
            }
            OpportunityField::ExpectedCloseDate => {
                model.expected_close_date = day::check(
                    &mut v,
                    "opportunity.expected_close_date",
                    input.expected_close_date.as_ref(),
                );
            }
            OpportunityField::Probability => {
                if !(0..=100).contains(&input.probability) {
                    v.add(
                        "opportunity.probability",
                        "must be a percentage from 0 to 100",
                    );
                }
                model.probability = input.probability;
            }
            OpportunityField::Description => {
                v.max_chars("opportunity.description", &input.description, 10_000);
                model.description = input.description.clone();
            }
            OpportunityField::NextStep => {
                model.next_step = input.next_step.trim().to_owned();
                v.max_chars("opportunity.next_step", &model.next_step, 500);
            }
            OpportunityField::NextStepDueTime => {
                model.next_step_due_time = input
                    .next_step_due_time
                    .as_ref()
                    .map(crm_platform::time::micros_of);
            }
            OpportunityField::CloseReason => {
                model.close_reason = input.close_reason.trim().to_owned();
                v.max_chars("opportunity.close_reason", &model.close_reason, 500);
            }
            OpportunityField::Contacts => {
                model.contacts = json::to_json(&contacts(&mut v, &input.contacts));
            }
            OpportunityField::Competitors => {
                model.competitors = json::to_json(&competitors(&mut v, &input.competitors));
            }
            OpportunityField::Tags => {
                model.tags = json::to_json(&crm_records::labels::tags(
                    &mut v,
                    "opportunity.tags",
                    &input.tags,
                ));
            }
            OpportunityField::CustomFields => {
                model.custom_fields =
                    custom_values::merge_wire(&model.custom_fields, &input.custom_fields);
            }
        }
    }
    if model.next_step_due_time.is_some() && model.next_step.is_empty() {
        v.add(
            "opportunity.next_step",
            "is required when the next step has a due time",
        );
    }
    v.finish()
}

/// Whether `model` has what `requirement` asks for.
fn has(model: &Model, requirement: OpportunityRequirement) -> bool {
    match requirement {
        OpportunityRequirement::Amount => model.amount.is_some(),
        OpportunityRequirement::ExpectedCloseDate => model.expected_close_date != 0,
        OpportunityRequirement::NextStep => !model.next_step.is_empty(),
        OpportunityRequirement::Description => !model.description.trim().is_empty(),
        OpportunityRequirement::Unspecified => true,
    }
}

/// The field a requirement names.
fn requirement_field(requirement: OpportunityRequirement) -> &'static str {
    match requirement {
        OpportunityRequirement::Amount => "opportunity.amount",
        OpportunityRequirement::ExpectedCloseDate => "opportunity.expected_close_date",
        OpportunityRequirement::NextStep => "opportunity.next_step",
        OpportunityRequirement::Description | OpportunityRequirement::Unspecified => {
            "opportunity.description"
        }
    }
}

/// The status a stage gives.
fn status_of(stage: &StoredStage) -> OpportunityStatus {
    match stage.kind() {
        StageKind::Won => OpportunityStatus::Won,
        StageKind::Lost => OpportunityStatus::Lost,
        StageKind::Open | StageKind::Unspecified => OpportunityStatus::Open,
    }
}

/// Enters `next` into `stage`: checks what the stage asks for, takes its probability,
/// closes or reopens the deal, and records the visit.
fn enter(next: &mut Model, stage: &StoredStage, now: i64) -> Result<(), Error> {
    let mut v = Violations::new();
    for requirement in &stage.required {
        let requirement = OpportunityRequirement::try_from(*requirement)
            .unwrap_or(OpportunityRequirement::Unspecified);
        if !has(next, requirement) {
            v.add(
                requirement_field(requirement),
                format!("is required to enter the stage \"{}\"", stage.name),
            );
        }
    }
    let status = status_of(stage);
    if status != OpportunityStatus::Open && next.close_reason.is_empty() {
        v.add(
            "opportunity.close_reason",
            format!("is required to enter the stage \"{}\"", stage.name),
        );
    }
    v.finish()?;
    next.stage_id = stage.id.clone();
    next.probability = stage.probability;
    next.status = status as i32;
    if status == OpportunityStatus::Open {
        next.close_time = None;
        next.close_reason = String::new();
    } else {
        next.close_time = Some(now);
    }
    let mut history: Vec<Visit> = json::from_json(&next.stage_history);
    if let Some(last) = history.last_mut().filter(|last| last.leave.is_none()) {
        last.leave = Some(now);
    }
    history.push(Visit {
        stage_id: stage.id.clone(),
        enter: now,
        leave: None,
    });
    next.stage_history = json::to_json(&history);
    Ok(())
}

impl Resource for Opportunities {
    type Event = SalesEvent;
    type Entity = Entity;
    type Model = Model;
    type Active = crate::entity::opportunity::ActiveModel;
    type Proto = Opportunity;

    const KIND: &'static str = "opportunity";
    const DUPLICATE_KINDS: &'static [&'static str] = &[];
    const READ: &'static str = "sales.opportunities.read";
    const WRITE: &'static str = "sales.opportunities.write";
    const MERGE: &'static str = "sales.opportunities.write";

    crm_records::shared_columns!(tags);

    fn filter_field(name: &str) -> Option<(Column, FieldKind)> {
        Some(match name {
            "display_name" => (Column::DisplayName, FieldKind::Text),
            "owner_id" => (Column::OwnerId, FieldKind::Id),
            "account_id" => (Column::AccountId, FieldKind::Id),
            "pipeline_id" => (Column::PipelineId, FieldKind::Id),
            "stage_id" => (Column::StageId, FieldKind::Id),
            "status" => (
                Column::Status,
                FieldKind::Enum(|s| OpportunityStatus::from_str_name(s).map(|e| e as i32)),
            ),
            "amount" => (Column::Amount, FieldKind::Amount),
            "currency_code" => (Column::AmountCurrency, FieldKind::Text),
            "expected_close_date" => (Column::ExpectedCloseDate, FieldKind::Day),
            "tags" => (Column::Id, FieldKind::Label("tag")),
            "create_time" => (Column::CreateTime, FieldKind::Time),
            "update_time" => (Column::UpdateTime, FieldKind::Time),
            _ => return None,
        })
    }

    fn to_proto(m: &Model) -> Opportunity {
        let history: Vec<Visit> = json::from_json(&m.stage_history);
        Opportunity {
            id: m.id.clone(),
            etag: crm_platform::etag::format(m.version),
            display_name: m.display_name.clone(),
            account_id: m.account_id.clone(),
            owner_id: m.owner_id.clone(),
            pipeline_id: m.pipeline_id.clone(),
            stage_id: m.stage_id.clone(),
            amount: amount(m).map(Money::to_wire),
            expected_close_date: day::to_wire(m.expected_close_date),
            probability: m.probability,
            description: m.description.clone(),
            next_step: m.next_step.clone(),
            close_reason: m.close_reason.clone(),
            status: m.status,
            stage_history: history
                .iter()
                .map(|visit| StageVisit {
                    stage_id: visit.stage_id.clone(),
                    enter_time: Some(to_timestamp(visit.enter)),
                    leave_time: to_timestamp_opt(visit.leave),
                })
                .collect(),
            close_time: to_timestamp_opt(m.close_time),
            tags: json::from_json(&m.tags),
            custom_fields: custom_values::to_wire(&m.custom_fields),
            create_time: Some(to_timestamp(m.create_time)),
            update_time: Some(to_timestamp(m.update_time)),
            delete_time: to_timestamp_opt(m.delete_time),
            contacts: json::from_json::<StoredContact>(&m.contacts)
                .into_iter()
                .map(|c| OpportunityContact {
                    contact_id: c.contact_id,
                    role: c.role,
                    primary: c.primary,
                })
                .collect(),
            next_step_due_time: to_timestamp_opt(m.next_step_due_time),
            competitors: json::from_json::<StoredCompetitor>(&m.competitors)
                .into_iter()
                .map(|c| Competitor {
                    display_name: c.name,
                    note: c.note,
                })
                .collect(),
        }
    }

    fn audit_fields(m: &Model) -> Vec<(&'static str, String)> {
        let amount = amount(m)
            .map(|a| format!("{} {}", a.currency.code(), a.currency.format(a.amount)))
            .unwrap_or_default();
        vec![
            ("display_name", m.display_name.clone()),
            ("account_id", m.account_id.clone()),
            ("owner_id", m.owner_id.clone()),
            ("pipeline_id", m.pipeline_id.clone()),
            ("stage_id", m.stage_id.clone()),
            ("amount", amount),
            ("expected_close_date", day::format(m.expected_close_date)),
            ("probability", m.probability.to_string()),
            ("description", m.description.clone()),
            ("next_step", m.next_step.clone()),
            (
                "next_step_due_time",
                m.next_step_due_time
                    .map(|t| t.to_string())
                    .unwrap_or_default(),
            ),
            ("close_reason", m.close_reason.clone()),
            ("contacts", m.contacts.clone()),
            ("competitors", m.competitors.clone()),
            ("tags", m.tags.clone()),
            ("custom_fields", m.custom_fields.clone()),
        ]
    }

    fn search_fields(m: &Model) -> Vec<crm_records::SearchField> {
        vec![("display_name", m.display_name.clone())]
    }

    fn event(action: Action, proto: Opportunity, _merged_ids: &[String]) -> SalesEvent {
        let types = [
            SalesEventType::OpportunityCreated,
            SalesEventType::OpportunityUpdated,
            SalesEventType::OpportunityDeleted,
            SalesEventType::OpportunityUndeleted,
        ];
        crate::events::of_write(action, types, Subject::Opportunity(proto))
    }

    fn create(
        tenant_id: &str,
        owner_id: String,
        (id, now): (String, i64),
        input: Opportunity,
        _cx: &WriteContext<'_>,
    ) -> Result<Model, Error> {
        let mut model = Model {
            id,
            tenant_id: tenant_id.to_owned(),
            owner_id: owner_id.clone(),
            owner_since: now,
            display_name: String::new(),
            account_id: String::new(),
            pipeline_id: String::new(),
            stage_id: String::new(),
            status: OpportunityStatus::Open as i32,
            amount_currency: String::new(),
            amount: None,
            expected_close_date: 0,
            probability: 0,
            description: String::new(),
            next_step: String::new(),
            close_reason: String::new(),
            close_time: None,
            stage_history: "[]".to_owned(),
            contacts: "[]".to_owned(),
            competitors: "[]".to_owned(),
            next_step_due_time: None,
            next_step_reminded: None,
            tags: "[]".to_owned(),
            custom_fields: "{}".to_owned(),
            version: 1,
            create_time: now,
            update_time: now,
            delete_time: None,
        };
        apply(&mut model, &input, OpportunityField::ALL)?;
        model.owner_id = owner_id;
        Ok(model)
    }

    fn update(
        current: &Model,
        input: Opportunity,
        mask: &[String],
        _cx: &WriteContext<'_>,
    ) -> Result<Model, Error> {
        let fields = field_mask::resolve_fields(mask, OUTPUT_ONLY, |f| match f {
            OpportunityField::DisplayName => !input.display_name.is_empty(),
            OpportunityField::AccountId => !input.account_id.is_empty(),
            OpportunityField::OwnerId => !input.owner_id.is_empty(),
            OpportunityField::PipelineId => !input.pipeline_id.is_empty(),
            OpportunityField::StageId => !input.stage_id.is_empty(),
            OpportunityField::Amount => input.amount.is_some(),
            OpportunityField::ExpectedCloseDate => input.expected_close_date.is_some(),
            OpportunityField::Probability => input.probability != 0,
            OpportunityField::Description => !input.description.is_empty(),
            OpportunityField::NextStep => !input.next_step.is_empty(),
            OpportunityField::NextStepDueTime => input.next_step_due_time.is_some(),
            OpportunityField::CloseReason => !input.close_reason.is_empty(),
            OpportunityField::Contacts => !input.contacts.is_empty(),
            OpportunityField::Competitors => !input.competitors.is_empty(),
            OpportunityField::Tags => !input.tags.is_empty(),
            OpportunityField::CustomFields => !input.custom_fields.is_empty(),
        })?;
        let mut next = current.clone();
        apply(&mut next, &input, &fields)?;
        Ok(next)
    }

    fn keys(input: &Opportunity) -> (&str, &str, &str) {
        (&input.id, &input.owner_id, &input.etag)
    }

    /// The pipeline and stage: a stage move (or the first stage of a new opportunity) is
    /// checked and recorded here, where the pipeline is read in the write's transaction.
    async fn before_write(
        txn: &DatabaseTransaction,
        principal: &Principal,
        current: Option<&Model>,
        next: &mut Model,
    ) -> Result<(), Error> {
        let found = pipeline::Entity::find_by_id(next.pipeline_id.as_str())
            .filter(pipeline::Column::TenantId.eq(principal.tenant_id.as_str()))
            .filter(pipeline::Column::DeleteTime.is_null())
            .one(txn)
            .await?
            .ok_or_else(|| {
                Error::invalid(
                    "opportunity.pipeline_id",
                    "is not a live pipeline of the tenant",
                )
            })?;
        let stages = stages(&found);
        let stage = if next.stage_id.is_empty() {
            stages.first()
        } else {
            stages.iter().find(|s| s.id == next.stage_id)
        }
        .ok_or_else(|| Error::invalid("opportunity.stage_id", "is not a stage of the pipeline"))?;
        let moved =
            current.is_none_or(|c| c.stage_id != stage.id || c.pipeline_id != next.pipeline_id);
        if moved {
            return enter(next, stage, clock::now_micros());
        }
        let closed = status_of(stage) != OpportunityStatus::Open;
        if closed && current.is_some_and(|c| c.probability != next.probability) {
            return Err(Error::invalid(
                "opportunity.probability",
                "is fixed once the deal is won or lost",
            ));
        }
        if closed && next.close_reason.is_empty() {
            return Err(Error::invalid(
                "opportunity.close_reason",
                "a won or lost deal keeps its reason",
            ));
        }
        Ok(())
    }
}

/// Whether a write changes the account an opportunity names (asked of contacts first).
pub(crate) fn names_account(input: &Opportunity, mask: Option<&prost_types::FieldMask>) -> bool {
    crm_platform::field_mask::writes(mask, "account_id", !input.account_id.is_empty())
}

/// Whether a write sets the people of a deal (asked of contacts first).
pub(crate) fn names_contacts(input: &Opportunity, mask: Option<&prost_types::FieldMask>) -> bool {
    crm_platform::field_mask::writes(mask, "contacts", !input.contacts.is_empty())
}
