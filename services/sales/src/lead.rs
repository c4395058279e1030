//! Leads: people who may buy, worked by their owner from new to qualified (or disqualified,
//! with a reason) and then converted. Owner-scoped. An open lead's email and phone are its
//! duplicate keys; a lead that is disqualified or converted no longer blocks a new one. The
//! score follows the tenant's rules and is recomputed in every write's transaction.

use sea_orm::DatabaseTransaction;
use serde::{Deserialize, Serialize};

use crate::entity::lead::{Column, Entity, Model};
use crate::lead_rules::{self, StoredRules};
use crm_platform::audit;
use crm_platform::auth::Principal;
use crm_platform::error::Error;
use crm_platform::field_mask::{self, Field};
use crm_platform::idempotency::{RequestKey, mutate};
use crm_platform::time::{to_timestamp, to_timestamp_opt};
use crm_platform::validate::Violations;
use crm_proto::sales::{
    Lead, LeadConversion, LeadScoredField, LeadSource, LeadStatus, RecordLeadInteractionResponse,
    SalesEvent, SalesEventType, sales_event::Subject,
};
use crm_records::custom_values;
use crm_records::handlers::{self, Idempotency, Records};
use crm_records::json;
use crm_records::resource::{Action, FieldKind, IndexKey, Resource, WriteContext};

/// The lead resource.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Leads;

/// What a conversion made or reused, as stored.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct StoredConversion {
    pub(crate) account_id: String,
    pub(crate) contact_id: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub(crate) opportunity_id: String,
    pub(crate) account_reused: bool,
    pub(crate) contact_reused: bool,
    /// Microseconds.
    pub(crate) time: i64,
}

/// The fields a lead update may change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum LeadField {
    DisplayName,
    CompanyName,
    Title,
    Email,
    Phone,
    Source,
    CampaignId,
    RegionCode,
    OwnerId,
    Status,
    DisqualifyReason,
    Description,
    Tags,
    CustomFields,
}

impl Field for LeadField {
    const ALL: &'static [Self] = &[
        LeadField::DisplayName,
        LeadField::CompanyName,
        LeadField::Title,
        LeadField::Email,
        LeadField::Phone,
        LeadField::Source,
        LeadField::CampaignId,
        LeadField::RegionCode,
        LeadField::OwnerId,
        LeadField::Status,
        LeadField::DisqualifyReason,
        LeadField::Description,
        LeadField::Tags,
        LeadField::CustomFields,
    ];

    fn name(self) -> &'static str {
        match self {
            LeadField::DisplayName => "display_name",
            LeadField::CompanyName => "company_name",
            LeadField::Title => "title",
            LeadField::Email => "email",
            LeadField::Phone => "phone",
            LeadField::Source => "source",
            LeadField::CampaignId => "campaign_id",
            LeadField::RegionCode => "region_code",
            LeadField::OwnerId => "owner_id",
            LeadField::Status => "status",
            LeadField::DisqualifyReason => "disqualify_reason",
            LeadField::Description => "description",
            LeadField::Tags => "tags",
            LeadField::CustomFields => "custom_fields",
        }
    }
}

/// The fields an outside capture may fill: not the owner (a rule picks it), not the status.
pub(crate) const CAPTURED: &[LeadField] = &[
    LeadField::DisplayName,
    LeadField::CompanyName,
    LeadField::Title,
    LeadField::Email,
    LeadField::Phone,
    LeadField::Source,
    LeadField::CampaignId,
    LeadField::RegionCode,
    LeadField::Description,
    LeadField::CustomFields,
];

const OUTPUT_ONLY: &[&str] = &[
    "id",
    "etag",
    "score",
    "interaction_count",
    "conversion",
    "matched_contact_id",
    "create_time",
    "update_time",
    "delete_time",
];

fn status(m: &Model) -> LeadStatus {
    LeadStatus::try_from(m.status).unwrap_or(LeadStatus::Unspecified)
}

/// Whether a lead is still being worked: only open leads are duplicates of a new one, and
/// only they count towards an owner's load.
pub(crate) fn is_open(status: LeadStatus) -> bool {
    matches!(
        status,
        LeadStatus::New | LeadStatus::Contacted | LeadStatus::Qualified
    )
}

/// The statuses that count as open, as stored.
pub(crate) const OPEN_STATUSES: [LeadStatus; 3] = [
    LeadStatus::New,
    LeadStatus::Contacted,
    LeadStatus::Qualified,
];

/// Whether an update may move a lead from `from` to `to` (conversion has its own RPC).
fn may_move(from: LeadStatus, to: LeadStatus) -> bool {
    use LeadStatus::{Contacted, Disqualified, New, Qualified};
    from == to
        || matches!(
            (from, to),
            (New, Contacted | Qualified | Disqualified)
                | (Contacted, Qualified | Disqualified)
                | (Qualified, Contacted | Disqualified)
                | (Disqualified, New)
        )
}

fn status_name(status: LeadStatus) -> &'static str {
    status.as_str_name()
}

/// Checks every field in `fields` and writes the normalised values into `model`.
fn apply(
    model: &mut Model,
    input: &Lead,
    fields: &[LeadField],
    cx: &WriteContext<'_>,
) -> Result<(), Error> {
    let mut v = Violations::new();
    for field in fields {
        match field {
            LeadField::DisplayName => {
                model.display_name = input.display_name.trim().to_owned();
                v.required("lead.display_name", &model.display_name);
                v.max_chars("lead.display_name", &model.display_name, 200);
            }
            LeadField::CompanyName => {
                model.company_name = input.company_name.trim().to_owned();
                v.max_chars("lead.company_name", &model.company_name, 200);
            }
            LeadField::Title => {
                model.title = input.title.trim().to_owned();
                v.max_chars("lead.title", &model.title, 100);
            }
            LeadField::Email => model.email = v.email("lead.email", &input.email),
            LeadField::Phone => {
                model.phone = v.phone("lead.phone", &input.phone, cx.phone_region);
            }
            LeadField::Source => {
                model.source = v.enumeration::<LeadSource>("lead.source", input.source);
            }
            LeadField::CampaignId => {
                model.campaign_id = input.campaign_id.trim().to_owned();
                v.max_chars("lead.campaign_id", &model.campaign_id, 64);
            }
            LeadField::RegionCode => {
                model.region_code = input.region_code.trim().to_uppercase();
                v.max_chars("lead.region_code", &model.region_code, 16);
            }
            // The owner is checked against the caller's scope by the shared handler.
            LeadField::OwnerId => model.owner_id = input.owner_id.clone(),
            LeadField::Status => {
                let to = LeadStatus::try_from(input.status).unwrap_or(LeadStatus::Unspecified);
                let from = status(model);
                if to == LeadStatus::Unspecified {
                    v.add("lead.status", "is required");
                } else if to == LeadStatus::Converted && from != LeadStatus::Converted {
                    v.add("lead.status", "is set by ConvertLead");
                } else if !may_move(from, to) {
                    v.add(
                        "lead.status",
                        format!(
                            "cannot move from {} to {}",
                            status_name(from),
                            status_name(to)
                        ),
                    );
                } else {
                    model.status = to as i32;
                }
            }
            LeadField::DisqualifyReason => {
                model.disqualify_reason = input.disqualify_reason.trim().to_owned();
                v.max_chars("lead.disqualify_reason", &model.disqualify_reason, 500);
            }
            LeadField::Description => {
                v.max_chars("lead.description", &input.description, 10_000);
                model.description = input.description.clone();
            }
            LeadField::Tags => {
                model.tags =
                    json::to_json(&crm_records::labels::tags(&mut v, "lead.tags", &input.tags));
            }
            LeadField::CustomFields => {
                model.custom_fields =
                    custom_values::merge_wire(&model.custom_fields, &input.custom_fields);
            }
        }
    }
    match status(model) {
        LeadStatus::Disqualified if model.disqualify_reason.is_empty() => {
            v.add("lead.disqualify_reason", "is required to disqualify a lead");
        }
        LeadStatus::Disqualified => {}
        // A recycled lead starts afresh.
        _ => model.disqualify_reason.clear(),
    }
    v.finish()
}

/// A new lead: status new, owned by `owner_id`, with the `fields` of `input`.
pub(crate) fn new_model(
    tenant_id: &str,
    owner_id: String,
    (id, now): (String, i64),
    (input, fields): (&Lead, &[LeadField]),
    cx: &WriteContext<'_>,
) -> Result<Model, Error> {
    let mut model = Model {
        id,
        tenant_id: tenant_id.to_owned(),
        owner_id: owner_id.clone(),
        owner_since: now,
        display_name: String::new(),
        company_name: String::new(),
        title: String::new(),
        email: String::new(),
        phone: String::new(),
        source: LeadSource::Unspecified as i32,
        campaign_id: String::new(),
        region_code: String::new(),
        status: LeadStatus::New as i32,
        disqualify_reason: String::new(),
        score: 0,
        interaction_count: 0,
        description: String::new(),
        conversion: String::new(),
        matched_contact_id: String::new(),
        tags: "[]".to_owned(),
        custom_fields: "{}".to_owned(),
        version: 1,
        create_time: now,
        update_time: now,
        delete_time: None,
    };
    let fields: Vec<LeadField> = fields
        .iter()
        .copied()
        .filter(|f| *f != LeadField::Status || input.status != 0)
        .collect();
    apply(&mut model, input, &fields, cx)?;
    if status(&model) != LeadStatus::New {
        return Err(Error::invalid(
            "lead.status",
            "a new lead starts at LEAD_STATUS_NEW",
        ));
    }
    model.owner_id = owner_id;
    Ok(model)
}

/// Whether `field` is filled in `m`.
fn filled(m: &Model, field: LeadScoredField) -> bool {
    match field {
        LeadScoredField::CompanyName => !m.company_name.is_empty(),
        LeadScoredField::Title => !m.title.is_empty(),
        LeadScoredField::Email => !m.email.is_empty(),
        LeadScoredField::Phone => !m.phone.is_empty(),
        LeadScoredField::RegionCode => !m.region_code.is_empty(),
        LeadScoredField::Description => !m.description.trim().is_empty(),
        LeadScoredField::Unspecified => false,
    }
}

/// The score `rules` give `m`: points for its source, for each filled field, and for each
/// recorded interaction.
pub(crate) fn score(rules: &StoredRules, m: &Model) -> i32 {
    let source: i64 = rules
        .sources
        .iter()
        .filter(|s| s.source == m.source)
        .map(|s| i64::from(s.points))
        .sum();
    let fields: i64 = rules
        .fields
        .iter()
        .filter(|f| filled(m, LeadScoredField::try_from(f.field).unwrap_or_default()))
        .map(|f| i64::from(f.points))
        .sum();
    let interactions = i64::from(rules.points_per_interaction) * i64::from(m.interaction_count);
    (source + fields + interactions).clamp(i64::from(i32::MIN), i64::from(i32::MAX)) as i32
}

/// A converted lead is a record of what happened: it no longer changes.
pub(crate) fn refuse_converted(current: &Model) -> Result<(), Error> {
    if status(current) == LeadStatus::Converted {
        return Err(Error::precondition(
            "LEAD_CONVERTED",
            "the lead is converted and no longer changes",
        ));
    }
    Ok(())
}

/// The stored conversion of a converted lead.
pub(crate) fn conversion(m: &Model) -> Option<StoredConversion> {
    (!m.conversion.is_empty()).then(|| json::object_from_json(&m.conversion))
}

impl Resource for Leads {
    type Event = SalesEvent;
    type Entity = Entity;
    type Model = Model;
    type Active = crate::entity::lead::ActiveModel;
    type Proto = Lead;

    const KIND: &'static str = "lead";
    const DUPLICATE_KINDS: &'static [&'static str] = &["email", "phone"];
    const SORTABLE: &'static [&'static str] = &["score"];
    const READ: &'static str = "sales.leads.read";
    const WRITE: &'static str = "sales.leads.write";
    const MERGE: &'static str = "sales.leads.write";

    crm_records::shared_columns!(tags);

    fn filter_field(name: &str) -> Option<(Column, FieldKind)> {
        Some(match name {
            "display_name" => (Column::DisplayName, FieldKind::Text),
            "company_name" => (Column::CompanyName, FieldKind::Text),
            "email" => (Column::Email, FieldKind::LowercaseText),
            "phone" => (Column::Phone, FieldKind::Text),
            "owner_id" => (Column::OwnerId, FieldKind::Id),
            "campaign_id" => (Column::CampaignId, FieldKind::Id),
            "region_code" => (Column::RegionCode, FieldKind::Text),
            "source" => (
                Column::Source,
                FieldKind::Enum(|s| LeadSource::from_str_name(s).map(|e| e as i32)),
            ),
            "status" => (
                Column::Status,
                FieldKind::Enum(|s| LeadStatus::from_str_name(s).map(|e| e as i32)),
            ),
            "score" => (Column::Score, FieldKind::Int),
            "tags" => (Column::Id, FieldKind::Label("tag")),
            "create_time" => (Column::CreateTime, FieldKind::Time),
            "update_time" => (Column::UpdateTime, FieldKind::Time),
            _ => return None,
        })
    }

    fn sort_value(m: &Model, _field: &str) -> i64 {
        i64::from(m.score)
    }

    fn to_proto(m: &Model) -> Lead {
        Lead {
            id: m.id.clone(),
            etag: crm_platform::etag::format(m.version),
            display_name: m.display_name.clone(),
            company_name: m.company_name.clone(),
            title: m.title.clone(),
            email: m.email.clone(),
            phone: m.phone.clone(),
            source: m.source,
            campaign_id: m.campaign_id.clone(),
            region_code: m.region_code.clone(),
            owner_id: m.owner_id.clone(),
            status: m.status,
            disqualify_reason: m.disqualify_reason.clone(),
            score: m.score,
            interaction_count: m.interaction_count,
            description: m.description.clone(),
            conversion: conversion(m).map(|c| LeadConversion {
                account_id: c.account_id,
                contact_id: c.contact_id,
                opportunity_id: c.opportunity_id,
                account_reused: c.account_reused,
                contact_reused: c.contact_reused,
                convert_time: Some(to_timestamp(c.time)),
            }),
            matched_contact_id: m.matched_contact_id.clone(),
            tags: json::from_json(&m.tags),
            custom_fields: custom_values::to_wire(&m.custom_fields),
            create_time: Some(to_timestamp(m.create_time)),
            update_time: Some(to_timestamp(m.update_time)),
            delete_time: to_timestamp_opt(m.delete_time),
        }
    }

    fn audit_fields(m: &Model) -> Vec<(&'static str, String)> {
        vec![
            ("display_name", m.display_name.clone()),
            ("company_name", m.company_name.clone()),
            ("title", m.title.clone()),
            ("email", m.email.clone()),
            ("phone", m.phone.clone()),
            ("source", audit::enum_name::<LeadSource>(m.source)),
            ("campaign_id", m.campaign_id.clone()),
            ("region_code", m.region_code.clone()),
            ("status", audit::enum_name::<LeadStatus>(m.status)),
            ("disqualify_reason", m.disqualify_reason.clone()),
            ("score", m.score.to_string()),
            ("interaction_count", m.interaction_count.to_string()),
            ("description", m.description.clone()),
            ("conversion", m.conversion.clone()),
            ("tags", m.tags.clone()),
            ("custom_fields", m.custom_fields.clone()),
        ]
    }

    fn search_fields(m: &Model) -> Vec<crm_records::SearchField> {
        vec![
            ("display_name", m.display_name.clone()),
            ("company_name", m.company_name.clone()),
        ]
    }

    /// Only an open lead blocks another with its email or phone.
    fn index_keys(m: &Model) -> Vec<IndexKey> {
        if !is_open(status(m)) {
            return Vec::new();
        }
        [("email", &m.email), ("phone", &m.phone)]
            .into_iter()
            .filter(|(_, value)| !value.is_empty())
            .map(|(kind, value)| IndexKey::new(kind, value.clone()))
            .collect()
    }

    /// A conversion is an update; its own `LEAD_CONVERTED` follows in the same transaction
    /// (see `lead_conversion`).
    fn event(action: Action, proto: Lead, _merged_ids: &[String]) -> SalesEvent {
        let types = [
            SalesEventType::LeadCreated,
            SalesEventType::LeadUpdated,
            SalesEventType::LeadDeleted,
            SalesEventType::LeadUndeleted,
        ];
        crate::events::of_write(action, types, Subject::Lead(proto))
    }

    /// `matched_contact_id` is the adapter's answer from contacts, never the client's.
    fn create(
        tenant_id: &str,
        owner_id: String,
        stamp: (String, i64),
        input: Lead,
        cx: &WriteContext<'_>,
    ) -> Result<Model, Error> {
        let mut model = new_model(tenant_id, owner_id, stamp, (&input, LeadField::ALL), cx)?;
        model.matched_contact_id = input.matched_contact_id;
        Ok(model)
    }

    fn update(
        current: &Model,
        input: Lead,
        mask: &[String],
        cx: &WriteContext<'_>,
    ) -> Result<Model, Error> {
        refuse_converted(current)?;
        let fields = field_mask::resolve_fields(mask, OUTPUT_ONLY, |f| match f {
            LeadField::DisplayName => !input.display_name.is_empty(),
            LeadField::CompanyName => !input.company_name.is_empty(),
            LeadField::Title => !input.title.is_empty(),
            LeadField::Email => !input.email.is_empty(),
            LeadField::Phone => !input.phone.is_empty(),
            LeadField::Source => input.source != 0,
            LeadField::CampaignId => !input.campaign_id.is_empty(),
            LeadField::RegionCode => !input.region_code.is_empty(),
            LeadField::OwnerId => !input.owner_id.is_empty(),
            LeadField::Status => input.status != 0,
            LeadField::DisqualifyReason => !input.disqualify_reason.is_empty(),
            LeadField::Description => !input.description.is_empty(),
            LeadField::Tags => !input.tags.is_empty(),
            LeadField::CustomFields => !input.custom_fields.is_empty(),
        })?;
        let mut next = current.clone();
        apply(&mut next, &input, &fields, cx)?;
        Ok(next)
    }

    fn keys(input: &Lead) -> (&str, &str, &str) {
        (&input.id, &input.owner_id, &input.etag)
    }

    /// The score, from the tenant's rules read in the write's transaction.
    async fn before_write(
        txn: &DatabaseTransaction,
        principal: &Principal,
        _current: Option<&Model>,
        next: &mut Model,
    ) -> Result<(), Error> {
        let rules = lead_rules::stored(txn, &principal.tenant_id).await?;
        next.score = score(&rules, next);
        Ok(())
    }
}

/// `m` without the personal data of the person it was about (their contact was erased):
/// the record of the lead and its conversion stay, for the pipeline's history.
pub(crate) fn erased(m: &Model) -> Model {
    Model {
        display_name: ERASED_NAME.to_owned(),
        title: String::new(),
        email: String::new(),
        phone: String::new(),
        description: String::new(),
        custom_fields: "{}".to_owned(),
        ..m.clone()
    }
}

/// The name an erased lead keeps.
pub(crate) const ERASED_NAME: &str = "(erased)";

/// Counts one interaction with a lead the caller sees: a new lead becomes contacted, and the
/// score follows.
pub(crate) async fn record_interaction<M: prost::Message>(
    records: &Records,
    principal: &Principal,
    idem: Idempotency<'_, M>,
    lead_id: &str,
) -> Result<Lead, Error> {
    principal.require(Leads::WRITE)?;
    if lead_id.is_empty() {
        return Err(Error::invalid("lead_id", "is required"));
    }
    let key = RequestKey::new(principal, idem.method, idem.request_id, idem.request)?;
    let response = mutate(&records.db, key.as_ref(), |txn| async move {
        let (current, stamps) = handlers::current::<Leads>(&txn, principal, lead_id, None).await?;
        handlers::refuse_deleted::<Leads>(&stamps)?;
        refuse_converted(&current)?;
        let mut next = current.clone();
        next.interaction_count = next.interaction_count.saturating_add(1);
        if status(&next) == LeadStatus::New {
            next.status = LeadStatus::Contacted as i32;
        }
        Leads::before_write(&txn, principal, Some(&current), &mut next).await?;
        let proto = records
            .save_change::<Leads>(&txn, principal, &current, next, Action::Update, &[])
            .await?;
        Ok((txn, RecordLeadInteractionResponse { lead: Some(proto) }))
    })
    .await?;
    records.after_write::<Leads>(principal, lead_id).await;
    Ok(response.lead.unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_move_only_forward_or_to_recycle() {
        use LeadStatus::{Contacted, Converted, Disqualified, New, Qualified};
        assert!(may_move(New, Contacted));
        assert!(may_move(Contacted, Qualified));
        assert!(may_move(Qualified, Disqualified));
        assert!(may_move(Disqualified, New));
        assert!(!may_move(Qualified, New));
        assert!(!may_move(Disqualified, Qualified));
        assert!(!may_move(Converted, New));
        assert!(!may_move(New, Converted));
    }
}
