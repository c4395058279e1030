//! Contracts: an amount, payment terms and key dates, made from a deal or an order (or
//! directly). Only a draft's terms change. Its key dates (start, end, milestones) are reminded
//! a lead time before they fall, once each, while it is signed or active (see `jobs`).

use rust_decimal::Decimal;
use sea_orm::DatabaseTransaction;
use serde::{Deserialize, Serialize};

use crate::entity::contract::{Column, Entity, Model};
use crate::opportunity::Opportunities;
use crate::order::{self, Orders};
use crm_platform::auth::Principal;
use crm_platform::error::Error;
use crm_platform::field_mask::{self, Field};
use crm_platform::money::{Currency, Money};
use crm_platform::time::{day, to_timestamp, to_timestamp_opt};
use crm_platform::validate::Violations;
use crm_proto::sales::{
    Contract, ContractStatus, KeyDate, OrderStatus, SalesEvent, SalesEventType,
    sales_event::Subject,
};
use crm_records::json;
use crm_records::resource::{AMOUNT_SCALE, Action, FieldKind, Resource, WriteContext};
use crm_records::store;

/// The contract resource.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Contracts;

/// The prefix of contract numbers (合同).
const NUMBER_PREFIX: &str = "HT";
/// Most milestones on a contract.
const MAX_MILESTONES: usize = 50;
/// The lead time of a reminder when none is set, days.
const DEFAULT_LEAD_DAYS: i32 = 30;

/// A key date as stored.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct StoredKeyDate {
    pub(crate) display_name: String,
    pub(crate) date: i32,
    pub(crate) remind_days_before: i32,
}

impl StoredKeyDate {
    /// The key under which its reminder is remembered.
    pub(crate) fn key(&self) -> String {
        format!("{}@{}", self.display_name, self.date)
    }

    /// The day its reminder fires.
    pub(crate) fn remind_on(&self) -> i32 {
        day::plus(self.date, -i64::from(self.remind_days_before))
    }

    pub(crate) fn to_proto(&self) -> KeyDate {
        KeyDate {
            display_name: self.display_name.clone(),
            date: day::to_wire(self.date),
            remind_days_before: self.remind_days_before,
        }
    }
}

/// Every key date of a contract, with its lead time: the start, the end, the milestones.
pub(crate) fn key_dates(m: &Model) -> Vec<StoredKeyDate> {
    let lead = if m.remind_days_before == 0 {
        DEFAULT_LEAD_DAYS
    } else {
        m.remind_days_before
    };
    let mut dates = vec![
        StoredKeyDate {
            display_name: "Start".to_owned(),
            date: m.start_date,
            remind_days_before: lead,
        },
        StoredKeyDate {
            display_name: "End".to_owned(),
            date: m.end_date,
            remind_days_before: lead,
        },
    ];
    for milestone in json::from_json::<StoredKeyDate>(&m.milestones) {
        let days = if milestone.remind_days_before == 0 {
            lead
        } else {
            milestone.remind_days_before
        };
        dates.push(StoredKeyDate {
            remind_days_before: days,
            ..milestone
        });
    }
    dates
}

/// The earliest day a reminder of the contract is still to fire, 0 for none.
pub(crate) fn next_reminder(m: &Model) -> i32 {
    let done: Vec<String> = json::from_json(&m.reminded);
    key_dates(m)
        .iter()
        .filter(|k| !done.contains(&k.key()))
        .map(StoredKeyDate::remind_on)
        .min()
        .unwrap_or(0)
}

/// The contract's amount.
pub(crate) fn amount(m: &Model) -> Result<Money, Error> {
    let currency = Currency::parse(&m.amount_currency)
        .ok_or_else(|| Error::internal(format!("contract {} has no valid currency", m.id)))?;
    Ok(Money {
        currency,
        amount: Decimal::new(m.amount, AMOUNT_SCALE),
    })
}

/// The fields a contract update may change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ContractField {
    OpportunityId,
    OrderId,
    AccountId,
    DisplayName,
    Amount,
    PaymentTerms,
    StartDate,
    EndDate,
    Milestones,
    RemindDaysBefore,
    Note,
}

impl Field for ContractField {
    const ALL: &'static [Self] = &[
        ContractField::OpportunityId,
        ContractField::OrderId,
        ContractField::AccountId,
        ContractField::DisplayName,
        ContractField::Amount,
        ContractField::PaymentTerms,
        ContractField::StartDate,
        ContractField::EndDate,
        ContractField::Milestones,
        ContractField::RemindDaysBefore,
        ContractField::Note,
    ];

    fn name(self) -> &'static str {
        match self {
            ContractField::OpportunityId => "opportunity_id",
            ContractField::OrderId => "order_id",
            ContractField::AccountId => "account_id",
            ContractField::DisplayName => "display_name",
            ContractField::Amount => "amount",
            ContractField::PaymentTerms => "payment_terms",
            ContractField::StartDate => "start_date",
            ContractField::EndDate => "end_date",
            ContractField::Milestones => "milestones",
            ContractField::RemindDaysBefore => "remind_days_before",
            ContractField::Note => "note",
        }
    }
}

const OUTPUT_ONLY: &[&str] = &[
    "id",
    "etag",
    "number",
    "owner_id",
    "status",
    "approval_level",
    "approval_reasons",
    "approval_request_id",
    "previous_contract_id",
    "successor_id",
    "sign_date",
    "termination_reason",
    "create_time",
    "update_time",
    "delete_time",
];

fn lead_days(v: &mut Violations, field: &str, days: i32) {
    if !(0..=365).contains(&days) {
        v.add(field, "must be from 0 to 365 days");
    }
}

fn apply(model: &mut Model, input: &Contract, fields: &[ContractField]) -> Result<(), Error> {
    let mut v = Violations::new();
    for field in fields {
        match field {
            ContractField::OpportunityId => {
                model.opportunity_id = input.opportunity_id.trim().to_owned()
            }
            ContractField::OrderId => model.order_id = input.order_id.trim().to_owned(),
            ContractField::AccountId => model.account_id = input.account_id.trim().to_owned(),
            ContractField::DisplayName => {
                model.display_name = input.display_name.trim().to_owned();
                v.required("contract.display_name", &model.display_name);
                v.max_chars("contract.display_name", &model.display_name, 200);
            }
            ContractField::Amount => match input.amount.as_ref() {
                Some(sent) => {
                    if let Some(m) = Money::check(&mut v, "contract.amount", sent, None) {
                        model.amount_currency = m.currency.code().to_owned();
                        model.amount = store::scaled(m.amount).unwrap_or_default();
                    }
                }
                None => {
                    model.amount_currency.clear();
                    model.amount = 0;
                }
            },
            ContractField::PaymentTerms => {
                model.payment_terms = input.payment_terms.trim().to_owned();
                v.max_chars("contract.payment_terms", &model.payment_terms, 2000);
            }
            ContractField::StartDate => {
                model.start_date =
                    day::check(&mut v, "contract.start_date", input.start_date.as_ref());
            }
            ContractField::EndDate => {
                model.end_date = day::check(&mut v, "contract.end_date", input.end_date.as_ref());
            }
            ContractField::Milestones => {
                if input.milestones.len() > MAX_MILESTONES {
                    v.add("contract.milestones", "must list at most 50 dates");
                }
                let mut stored = Vec::with_capacity(input.milestones.len());
                for (i, m) in input.milestones.iter().enumerate() {
                    let field = |name: &str| format!("contract.milestones[{i}].{name}");
                    let name = m.display_name.trim().to_owned();
                    v.required(&field("display_name"), &name);
                    v.max_chars(&field("display_name"), &name, 200);
                    let date = day::check(&mut v, &field("date"), m.date.as_ref());
                    if date == 0 {
                        v.add(&field("date"), "is required");
                    }
                    lead_days(&mut v, &field("remind_days_before"), m.remind_days_before);
                    stored.push(StoredKeyDate {
                        display_name: name,
                        date,
                        remind_days_before: m.remind_days_before,
                    });
                }
                model.milestones = json::to_json(&stored);
            }
            ContractField::RemindDaysBefore => {
                model.remind_days_before = input.remind_days_before;
                lead_days(
                    &mut v,
                    "contract.remind_days_before",
                    input.remind_days_before,
                );
            }
            ContractField::Note => {
                model.note = input.note.trim().to_owned();
                v.max_chars("contract.note", &model.note, 2000);
            }
        }
    }
    v.finish()
}

/// The checks every written draft passes: its dates and amount.
fn check_terms(model: &Model) -> Result<(), Error> {
    let mut v = Violations::new();
    if model.start_date == 0 {
        v.add("contract.start_date", "is required");
    }
    if model.end_date == 0 {
        v.add("contract.end_date", "is required");
    } else if model.end_date < model.start_date {
        v.add("contract.end_date", "must not be before the start date");
    }
    if model.amount_currency.is_empty() && model.order_id.is_empty() {
        v.add("contract.amount", "is required unless an order gives it");
    }
    if model.opportunity_id.is_empty() && model.order_id.is_empty() && model.account_id.is_empty() {
        v.add(
            "contract.account_id",
            "is required when no opportunity or order is named",
        );
    }
    v.finish()
}

impl Resource for Contracts {
    type Event = SalesEvent;
    type Entity = Entity;
    type Model = Model;
    type Active = crate::entity::contract::ActiveModel;
    type Proto = Contract;

    const KIND: &'static str = "contract";
    const DUPLICATE_KINDS: &'static [&'static str] = &[];
    const SORTABLE: &'static [&'static str] = &["amount", "end_date"];
    const READ: &'static str = "sales.contracts.read";
    const WRITE: &'static str = "sales.contracts.write";
    const MERGE: &'static str = "sales.contracts.write";

    crm_records::shared_columns!(tags);

    fn filter_field(name: &str) -> Option<(Column, FieldKind)> {
        Some(match name {
            "number" => (Column::Number, FieldKind::Text),
            "opportunity_id" => (Column::OpportunityId, FieldKind::Id),
            "order_id" => (Column::OrderId, FieldKind::Id),
            "account_id" => (Column::AccountId, FieldKind::Id),
            "owner_id" => (Column::OwnerId, FieldKind::Id),
            "display_name" => (Column::DisplayName, FieldKind::Text),
            "status" => (
                Column::Status,
                FieldKind::Enum(|s| ContractStatus::from_str_name(s).map(|e| e as i32)),
            ),
            "amount" => (Column::Amount, FieldKind::Amount),
            "end_date" => (Column::EndDate, FieldKind::Day),
            "create_time" => (Column::CreateTime, FieldKind::Time),
            "update_time" => (Column::UpdateTime, FieldKind::Time),
            _ => return None,
        })
    }

    fn sort_value(m: &Model, field: &str) -> i64 {
        match field {
            "end_date" => i64::from(m.end_date),
            _ => m.amount,
        }
    }

    fn to_proto(m: &Model) -> Contract {
        Contract {
            id: m.id.clone(),
            etag: crm_platform::etag::format(m.version),
            number: m.number.clone(),
            opportunity_id: m.opportunity_id.clone(),
            order_id: m.order_id.clone(),
            account_id: m.account_id.clone(),
            owner_id: m.owner_id.clone(),
            display_name: m.display_name.clone(),
            amount: amount(m).ok().map(Money::to_wire),
            payment_terms: m.payment_terms.clone(),
            start_date: day::to_wire(m.start_date),
            end_date: day::to_wire(m.end_date),
            milestones: json::from_json::<StoredKeyDate>(&m.milestones)
                .iter()
                .map(StoredKeyDate::to_proto)
                .collect(),
            remind_days_before: m.remind_days_before,
            status: m.status,
            approval_level: m.approval_level,
            approval_reasons: json::from_json(&m.approval_reasons),
            approval_request_id: m.approval_request_id.clone(),
            previous_contract_id: m.previous_contract_id.clone(),
            successor_id: m.successor_id.clone(),
            sign_date: day::to_wire(m.sign_date),
            termination_reason: m.termination_reason.clone(),
            note: m.note.clone(),
            create_time: Some(to_timestamp(m.create_time)),
            update_time: Some(to_timestamp(m.update_time)),
            delete_time: to_timestamp_opt(m.delete_time),
        }
    }

    fn audit_fields(m: &Model) -> Vec<(&'static str, String)> {
        let shown = amount(m)
            .map(|a| format!("{} {}", a.currency.code(), a.currency.format(a.amount)))
            .unwrap_or_default();
        vec![
            ("number", m.number.clone()),
            ("opportunity_id", m.opportunity_id.clone()),
            ("order_id", m.order_id.clone()),
            ("account_id", m.account_id.clone()),
            ("owner_id", m.owner_id.clone()),
            ("display_name", m.display_name.clone()),
            ("amount", shown),
            ("payment_terms", m.payment_terms.clone()),
            ("start_date", day::format(m.start_date)),
            ("end_date", day::format(m.end_date)),
            ("milestones", m.milestones.clone()),
            (
                "status",
                crm_platform::audit::enum_name::<ContractStatus>(m.status),
            ),
            ("sign_date", day::format(m.sign_date)),
            ("successor_id", m.successor_id.clone()),
            ("termination_reason", m.termination_reason.clone()),
            ("note", m.note.clone()),
        ]
    }

    fn event(action: Action, proto: Contract, _merged_ids: &[String]) -> SalesEvent {
        let types = [
            SalesEventType::ContractCreated,
            SalesEventType::ContractUpdated,
            SalesEventType::ContractDeleted,
            SalesEventType::ContractUndeleted,
        ];
        crate::events::of_write(action, types, Subject::Contract(proto))
    }

    fn create(
        tenant_id: &str,
        owner_id: String,
        (id, now): (String, i64),
        input: Contract,
        _cx: &WriteContext<'_>,
    ) -> Result<Model, Error> {
        let mut model = Model {
            id,
            tenant_id: tenant_id.to_owned(),
            owner_id,
            owner_since: now,
            display_name: String::new(),
            number: String::new(),
            opportunity_id: String::new(),
            order_id: String::new(),
            account_id: String::new(),
            amount_currency: String::new(),
            amount: 0,
            payment_terms: String::new(),
            start_date: 0,
            end_date: 0,
            milestones: "[]".to_owned(),
            remind_days_before: 0,
            reminded: "[]".to_owned(),
            next_reminder: 0,
            status: ContractStatus::Draft as i32,
            approval_level: 0,
            approval_reasons: "[]".to_owned(),
            approval_request_id: String::new(),
            previous_contract_id: String::new(),
            successor_id: String::new(),
            sign_date: 0,
            termination_reason: String::new(),
            note: String::new(),
            tags: "[]".to_owned(),
            custom_fields: "{}".to_owned(),
            version: 1,
            create_time: now,
            update_time: now,
            delete_time: None,
        };
        apply(&mut model, &input, ContractField::ALL)?;
        check_terms(&model)?;
        Ok(model)
    }

    fn update(
        current: &Model,
        input: Contract,
        mask: &[String],
        _cx: &WriteContext<'_>,
    ) -> Result<Model, Error> {
        let fields = field_mask::resolve_fields(mask, OUTPUT_ONLY, |f| match f {
            ContractField::OpportunityId => !input.opportunity_id.is_empty(),
            ContractField::OrderId => !input.order_id.is_empty(),
            ContractField::AccountId => !input.account_id.is_empty(),
            ContractField::DisplayName => !input.display_name.is_empty(),
            ContractField::Amount => input.amount.is_some(),
            ContractField::PaymentTerms => !input.payment_terms.is_empty(),
            ContractField::StartDate => input.start_date.is_some(),
            ContractField::EndDate => input.end_date.is_some(),
            ContractField::Milestones => !input.milestones.is_empty(),
            ContractField::RemindDaysBefore => input.remind_days_before != 0,
            ContractField::Note => !input.note.is_empty(),
        })?;
        let terms = fields.iter().any(|f| *f != ContractField::Note);
        if terms && current.status != ContractStatus::Draft as i32 {
            return Err(Error::wrong_state(
                "CONTRACT_NOT_DRAFT",
                "contract.status",
                format!(
                    "contract {} is {}; only a draft's terms change",
                    current.number,
                    crm_platform::audit::enum_name::<ContractStatus>(current.status)
                ),
            ));
        }
        let mut next = current.clone();
        apply(&mut next, &input, &fields)?;
        check_terms(&next)?;
        Ok(next)
    }

    /// The owner: the order's or deal's when one is named, else the one sent (within the
    /// writer's scope) or the writer.
    fn keys(input: &Contract) -> (&str, &str, &str) {
        (&input.id, &input.owner_id, &input.etag)
    }

    /// Only a draft is deleted.
    fn check_delete(m: &Model, deleted: bool) -> Result<(), Error> {
        if deleted && m.status != ContractStatus::Draft as i32 {
            return Err(Error::wrong_state(
                "CONTRACT_STATUS",
                "contract.status",
                format!("contract {} is not a draft; terminate it instead", m.number),
            ));
        }
        Ok(())
    }

    /// The deal and the order must be ones the writer sees (they give the account, the owner
    /// and, for an order, the amount); a new contract takes the tenant's next number; the
    /// next reminder day is kept for the sweep.
    async fn before_write(
        txn: &DatabaseTransaction,
        principal: &Principal,
        current: Option<&Model>,
        next: &mut Model,
    ) -> Result<(), Error> {
        if !next.order_id.is_empty() && current.is_none_or(|c| c.order_id != next.order_id) {
            let hidden =
                || Error::invalid("contract.order_id", "is not a confirmed order you can see");
            let found = store::find::<Orders, _>(txn, principal, &next.order_id)
                .await
                .map_err(|e| match e {
                    Error::NotFound { .. } => hidden(),
                    other => other,
                })?;
            let unconfirmed = [
                OrderStatus::Draft as i32,
                OrderStatus::PendingApproval as i32,
                OrderStatus::Cancelled as i32,
            ];
            if found.delete_time.is_some() || unconfirmed.contains(&found.status) {
                return Err(hidden());
            }
            next.account_id = found.account_id.clone();
            if next.opportunity_id.is_empty() {
                next.opportunity_id = found.opportunity_id.clone();
            }
            if next.amount_currency.is_empty() {
                let total = order::total(&found)?;
                next.amount_currency = total.currency.code().to_owned();
                next.amount = store::scaled(total.amount).unwrap_or_default();
            }
            if current.is_none() {
                next.owner_id = found.owner_id.clone();
            }
        }
        if !next.opportunity_id.is_empty()
            && current.is_none_or(|c| c.opportunity_id != next.opportunity_id)
        {
            let field = "contract.opportunity_id";
            let deal = Opportunities::live(txn, principal, &next.opportunity_id, field).await?;
            if !next.account_id.is_empty() && next.account_id != deal.account_id {
                return Err(Error::invalid(
                    "contract.account_id",
                    "must be the opportunity's account",
                ));
            }
            next.account_id = deal.account_id;
            if current.is_none() && next.order_id.is_empty() {
                next.owner_id = deal.owner_id;
            }
        }
        if next.number.is_empty() {
            let number = crm_records::numbers::next(txn, &principal.tenant_id, Self::KIND).await?;
            next.number = crm_records::numbers::format(NUMBER_PREFIX, number);
        }
        next.next_reminder = next_reminder(next);
        Ok(())
    }
}
