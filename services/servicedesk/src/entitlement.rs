//! Entitlements: an account's support level over a period of days, the tenant's (not an
//! agent's). A ticket of the account takes the level in force on the day it is filed (the
//! latest started, when several are) in the tenant's calendar, and is held to its targets.

use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder};

use crate::entity::entitlement::{Column, Entity, Model};
use crm_platform::error::Error;
use crm_platform::field_mask::{self, Field};
use crm_platform::time::{day, to_timestamp, to_timestamp_opt};
use crm_platform::validate::Violations;
use crm_proto::servicedesk::{
    Entitlement, ServicedeskEvent, ServicedeskEventType, servicedesk_event::Subject,
};
use crm_records::resource::{Action, FieldKind, Resource, Scope, WriteContext};

/// The entitlement resource.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Entitlements;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum EntitlementField {
    AccountId,
    SupportLevel,
    ContractId,
    StartDate,
    EndDate,
}

impl Field for EntitlementField {
    const ALL: &'static [Self] = &[
        EntitlementField::AccountId,
        EntitlementField::SupportLevel,
        EntitlementField::ContractId,
        EntitlementField::StartDate,
        EntitlementField::EndDate,
    ];

    fn name(self) -> &'static str {
        match self {
            EntitlementField::AccountId => "account_id",
            EntitlementField::SupportLevel => "support_level",
            EntitlementField::ContractId => "contract_id",
            EntitlementField::StartDate => "start_date",
            EntitlementField::EndDate => "end_date",
        }
    }
}

const OUTPUT_ONLY: &[&str] = &["id", "etag", "create_time", "update_time", "delete_time"];

fn apply(model: &mut Model, input: &Entitlement, fields: &[EntitlementField]) -> Result<(), Error> {
    let mut v = Violations::new();
    for field in fields {
        match field {
            EntitlementField::AccountId => {
                model.account_id = input.account_id.trim().to_owned();
                v.required("entitlement.account_id", &model.account_id);
                v.max_chars("entitlement.account_id", &model.account_id, 100);
            }
            EntitlementField::SupportLevel => {
                model.display_name = input.support_level.trim().to_owned();
                v.required("entitlement.support_level", &model.display_name);
                v.max_chars("entitlement.support_level", &model.display_name, 50);
            }
            EntitlementField::ContractId => {
                model.contract_id = input.contract_id.trim().to_owned();
                v.max_chars("entitlement.contract_id", &model.contract_id, 100);
            }
            EntitlementField::StartDate => {
                model.start_day =
                    day::check(&mut v, "entitlement.start_date", input.start_date.as_ref());
                if model.start_day == 0 {
                    v.add("entitlement.start_date", "is required");
                }
            }
            EntitlementField::EndDate => {
                model.end_day = day::check(&mut v, "entitlement.end_date", input.end_date.as_ref());
            }
        }
    }
    if model.end_day != 0 && model.start_day != 0 && model.end_day < model.start_day {
        v.add("entitlement.end_date", "must not be before the start date");
    }
    v.finish()
}

impl Resource for Entitlements {
    type Event = ServicedeskEvent;
    type Entity = Entity;
    type Model = Model;
    type Active = crate::entity::entitlement::ActiveModel;
    type Proto = Entitlement;

    const KIND: &'static str = "entitlement";
    const SCOPE: Scope = Scope::Tenant;
    const DUPLICATE_KINDS: &'static [&'static str] = &[];
    const READ: &'static str = "servicedesk.entitlements.read";
    const WRITE: &'static str = "servicedesk.entitlements.write";
    const MERGE: &'static str = "servicedesk.entitlements.write";

    crm_records::shared_columns!(tags);

    fn filter_field(name: &str) -> Option<(Column, FieldKind)> {
        Some(match name {
            "account_id" => (Column::AccountId, FieldKind::Id),
            "support_level" => (Column::DisplayName, FieldKind::Text),
            "contract_id" => (Column::ContractId, FieldKind::Id),
            "create_time" => (Column::CreateTime, FieldKind::Time),
            "update_time" => (Column::UpdateTime, FieldKind::Time),
            _ => return None,
        })
    }

    fn to_proto(m: &Model) -> Entitlement {
        Entitlement {
            id: m.id.clone(),
            etag: crm_platform::etag::format(m.version),
            account_id: m.account_id.clone(),
            support_level: m.display_name.clone(),
            contract_id: m.contract_id.clone(),
            start_date: day::to_wire(m.start_day),
            end_date: day::to_wire(m.end_day),
            create_time: Some(to_timestamp(m.create_time)),
            update_time: Some(to_timestamp(m.update_time)),
            delete_time: to_timestamp_opt(m.delete_time),
        }
    }

    fn audit_fields(m: &Model) -> Vec<(&'static str, String)> {
        vec![
            ("account_id", m.account_id.clone()),
            ("support_level", m.display_name.clone()),
            ("contract_id", m.contract_id.clone()),
            ("start_date", day::format(m.start_day)),
            ("end_date", day::format(m.end_day)),
        ]
    }

    fn event(action: Action, proto: Entitlement, _merged_ids: &[String]) -> ServicedeskEvent {
        let types = [
            ServicedeskEventType::EntitlementCreated,
            ServicedeskEventType::EntitlementUpdated,
            ServicedeskEventType::EntitlementDeleted,
            ServicedeskEventType::EntitlementUndeleted,
        ];
        crate::events::of_write(action, types, Subject::Entitlement(proto))
    }

    fn create(
        tenant_id: &str,
        owner_id: String,
        (id, now): (String, i64),
        input: Entitlement,
        _cx: &WriteContext<'_>,
    ) -> Result<Model, Error> {
        let mut model = Model {
            id,
            tenant_id: tenant_id.to_owned(),
            owner_id,
            owner_since: now,
            display_name: String::new(),
            account_id: String::new(),
            contract_id: String::new(),
            start_day: 0,
            end_day: 0,
            tags: "[]".to_owned(),
            custom_fields: "{}".to_owned(),
            version: 1,
            create_time: now,
            update_time: now,
            delete_time: None,
        };
        apply(&mut model, &input, EntitlementField::ALL)?;
        Ok(model)
    }

    fn update(
        current: &Model,
        input: Entitlement,
        mask: &[String],
        _cx: &WriteContext<'_>,
    ) -> Result<Model, Error> {
        let fields = field_mask::resolve_fields(mask, OUTPUT_ONLY, |f| match f {
            EntitlementField::AccountId => !input.account_id.is_empty(),
            EntitlementField::SupportLevel => !input.support_level.is_empty(),
            EntitlementField::ContractId => !input.contract_id.is_empty(),
            EntitlementField::StartDate => input.start_date.is_some(),
            EntitlementField::EndDate => input.end_date.is_some(),
        })?;
        let mut next = current.clone();
        apply(&mut next, &input, &fields)?;
        Ok(next)
    }

    fn keys(input: &Entitlement) -> (&str, &str, &str) {
        (&input.id, "", &input.etag)
    }
}

/// The support level of `account_id` in force on `today` (`yyyymmdd`): the latest started
/// of its live entitlements covering the day; empty when none does.
pub(crate) async fn level_on<C: ConnectionTrait>(
    db: &C,
    (tenant_id, account_id): (&str, &str),
    today: i32,
) -> Result<String, Error> {
    if account_id.is_empty() {
        return Ok(String::new());
    }
    let found = Entity::find()
        .filter(Column::TenantId.eq(tenant_id))
        .filter(Column::AccountId.eq(account_id))
        .filter(Column::DeleteTime.is_null())
        .filter(Column::StartDay.lte(today))
        .filter(
            sea_orm::Condition::any()
                .add(Column::EndDay.eq(0))
                .add(Column::EndDay.gte(today)),
        )
        .order_by_desc(Column::StartDay)
        .one(db)
        .await?;
    Ok(found.map(|e| e.display_name).unwrap_or_default())
}
