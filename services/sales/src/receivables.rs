//! Receivables (回款): a payment plan per contract or order, instalments whose amounts sum
//! exactly to its amount, and the receipts allocated to them oldest instalment first. A
//! receipt is applied once by its number; more than is outstanding is refused unless kept as
//! credit. What is outstanding and overdue is summed per customer or per rep in the caller's
//! scope; the sweep announces each instalment that falls overdue, once (see `jobs`).

use std::collections::BTreeMap;

use rust_decimal::Decimal;
use sea_orm::{ColumnTrait, DatabaseTransaction, QueryFilter};
use serde::{Deserialize, Serialize};

use crate::contract::{self, Contracts};
use crate::entity::payment_plan::{Column, Entity, Model};
use crate::order::{self, Orders};
use crate::order_flow;
use crm_platform::auth::Principal;
use crm_platform::clock;
use crm_platform::error::Error;
use crm_platform::field_mask::{self, Field};
use crm_platform::money::{self, Currency, Money};
use crm_platform::time::{day, to_timestamp, to_timestamp_opt};
use crm_platform::validate::Violations;
use crm_proto::sales::{
    ContractStatus, ErpOutcome, Instalment, InstalmentStatus, OrderStatus, PaymentPlan, Receipt,
    ReceivablesGrouping, ReceivablesLine, SalesEvent, SalesEventType, sales_event::Subject,
};
use crm_records::handlers::{self, Records, announce};
use crm_records::json;
use crm_records::resource::{Action, FieldKind, IndexKey, Resource, WriteContext};
use crm_records::store;

/// The payment plan resource.
#[derive(Debug, Clone, Copy)]
pub(crate) struct PaymentPlans;

/// Most instalments on a plan.
const MAX_INSTALMENTS: usize = 60;

/// An instalment as stored.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct StoredInstalment {
    pub(crate) due_date: i32,
    /// Decimal text; the currency is the plan's.
    pub(crate) amount: String,
    /// The currency the writer sent, checked against the plan's in the write.
    #[serde(default)]
    pub(crate) sent_currency: String,
    /// Whether its falling overdue was announced.
    #[serde(default)]
    pub(crate) overdue_announced: bool,
}

/// A receipt as stored.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct StoredReceipt {
    pub(crate) number: String,
    pub(crate) amount: String,
    pub(crate) receive_date: i32,
    pub(crate) credit: bool,
    #[serde(default)]
    pub(crate) kept_as_credit: String,
}

/// The plan's instalments.
pub(crate) fn instalments(m: &Model) -> Vec<StoredInstalment> {
    json::from_json(&m.instalments)
}

fn receipts(m: &Model) -> Vec<StoredReceipt> {
    json::from_json(&m.receipts)
}

/// What has been received towards the total, and what was kept as credit.
fn received(m: &Model) -> (Decimal, Decimal) {
    let all = receipts(m);
    let credit: Decimal = all.iter().map(|r| money::stored(&r.kept_as_credit)).sum();
    let paid: Decimal = all.iter().map(|r| money::stored(&r.amount)).sum();
    (paid - credit, credit)
}

/// Each instalment with what of the received money falls to it (oldest first) and its status
/// on `today`.
pub(crate) fn allocation(
    m: &Model,
    today: i32,
) -> Vec<(StoredInstalment, Decimal, InstalmentStatus)> {
    let (mut left, _) = received(m);
    instalments(m)
        .into_iter()
        .map(|i| {
            let amount = money::stored(&i.amount);
            let got = left.min(amount);
            left -= got;
            let status = if got >= amount {
                InstalmentStatus::Paid
            } else if i.due_date < today {
                InstalmentStatus::Overdue
            } else if got > Decimal::ZERO {
                InstalmentStatus::PartlyPaid
            } else {
                InstalmentStatus::Open
            };
            (i, got, status)
        })
        .collect()
}

/// The plan's outstanding and overdue amounts on `today`.
pub(crate) fn owed(m: &Model, today: i32) -> (Decimal, Decimal) {
    let mut outstanding = Decimal::ZERO;
    let mut overdue = Decimal::ZERO;
    for (i, got, status) in allocation(m, today) {
        let left = money::stored(&i.amount) - got;
        outstanding += left;
        if status == InstalmentStatus::Overdue {
            overdue += left;
        }
    }
    (outstanding, overdue)
}

/// The earliest due day of an instalment not paid in full and not yet announced overdue.
pub(crate) fn next_due(m: &Model) -> i32 {
    allocation(m, 0)
        .iter()
        .filter(|(i, got, _)| *got < money::stored(&i.amount) && !i.overdue_announced)
        .map(|(i, _, _)| i.due_date)
        .min()
        .unwrap_or(0)
}

/// The fields a plan update may change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PlanField {
    ContractId,
    OrderId,
    Instalments,
}

impl Field for PlanField {
    const ALL: &'static [Self] = &[
        PlanField::ContractId,
        PlanField::OrderId,
        PlanField::Instalments,
    ];

    fn name(self) -> &'static str {
        match self {
            PlanField::ContractId => "contract_id",
            PlanField::OrderId => "order_id",
            PlanField::Instalments => "instalments",
        }
    }
}

const OUTPUT_ONLY: &[&str] = &[
    "id",
    "etag",
    "account_id",
    "owner_id",
    "display_name",
    "total",
    "receipts",
    "received_total",
    "outstanding",
    "overdue",
    "credit_total",
    "create_time",
    "update_time",
    "delete_time",
];

fn apply(model: &mut Model, input: &PaymentPlan, fields: &[PlanField]) -> Result<(), Error> {
    let mut v = Violations::new();
    for field in fields {
        match field {
            PlanField::ContractId => model.contract_id = input.contract_id.trim().to_owned(),
            PlanField::OrderId => model.order_id = input.order_id.trim().to_owned(),
            PlanField::Instalments => {
                if input.instalments.is_empty() || input.instalments.len() > MAX_INSTALMENTS {
                    v.add("plan.instalments", "must list 1 to 60 instalments");
                }
                let mut stored: Vec<StoredInstalment> = Vec::new();
                for (i, sent) in input.instalments.iter().enumerate() {
                    let field = |name: &str| format!("plan.instalments[{i}].{name}");
                    let due = day::check(&mut v, &field("due_date"), sent.due_date.as_ref());
                    if due == 0 {
                        v.add(&field("due_date"), "is required");
                    } else if stored.last().is_some_and(|p| p.due_date >= due) {
                        v.add(&field("due_date"), "must come after the one before");
                    }
                    let amount = match sent.amount.as_ref() {
                        Some(a) => money::decimal(&mut v, &field("amount.amount"), &a.amount, 4),
                        None => {
                            v.add(&field("amount"), "is required");
                            None
                        }
                    };
                    if amount.is_some_and(|a| a <= Decimal::ZERO) {
                        v.add(&field("amount.amount"), "must be positive");
                    }
                    stored.push(StoredInstalment {
                        due_date: due,
                        amount: amount.map(|a| a.to_string()).unwrap_or_default(),
                        sent_currency: sent
                            .amount
                            .as_ref()
                            .map(|a| a.currency_code.trim().to_owned())
                            .unwrap_or_default(),
                        overdue_announced: false,
                    });
                }
                model.instalments = json::to_json(&stored);
            }
        }
    }
    if model.contract_id.is_empty() == model.order_id.is_empty() {
        v.add("plan.contract_id", "or order_id is required, not both");
    }
    v.finish()
}

impl Resource for PaymentPlans {
    type Event = SalesEvent;
    type Entity = Entity;
    type Model = Model;
    type Active = crate::entity::payment_plan::ActiveModel;
    type Proto = PaymentPlan;

    const KIND: &'static str = "payment_plan";
    const DUPLICATE_KINDS: &'static [&'static str] = &["plan_subject"];
    const KEYS_UNIQUE: bool = true;
    const READ: &'static str = "sales.receivables.read";
    const WRITE: &'static str = "sales.receivables.write";
    const MERGE: &'static str = "sales.receivables.write";

    crm_records::shared_columns!(tags);

    fn filter_field(name: &str) -> Option<(Column, FieldKind)> {
        Some(match name {
            "contract_id" => (Column::ContractId, FieldKind::Id),
            "order_id" => (Column::OrderId, FieldKind::Id),
            "account_id" => (Column::AccountId, FieldKind::Id),
            "owner_id" => (Column::OwnerId, FieldKind::Id),
            "create_time" => (Column::CreateTime, FieldKind::Time),
            "update_time" => (Column::UpdateTime, FieldKind::Time),
            _ => return None,
        })
    }

    fn index_keys(m: &Model) -> Vec<IndexKey> {
        let subject = if m.contract_id.is_empty() {
            format!("order:{}", m.order_id)
        } else {
            format!("contract:{}", m.contract_id)
        };
        vec![IndexKey::new("plan_subject", subject)]
    }

    fn to_proto(m: &Model) -> PaymentPlan {
        let currency = Currency::parse(&m.currency_code);
        let money = |amount: Decimal| currency.map(|currency| Money { currency, amount }.to_wire());
        let today = day::of_micros(clock::now_micros());
        let (paid, credit) = received(m);
        let (outstanding, overdue) = owed(m, today);
        PaymentPlan {
            id: m.id.clone(),
            etag: crm_platform::etag::format(m.version),
            contract_id: m.contract_id.clone(),
            order_id: m.order_id.clone(),
            account_id: m.account_id.clone(),
            owner_id: m.owner_id.clone(),
            display_name: m.display_name.clone(),
            total: money(money::stored(&m.total)),
            instalments: allocation(m, today)
                .into_iter()
                .map(|(i, got, status)| Instalment {
                    due_date: day::to_wire(i.due_date),
                    amount: money(money::stored(&i.amount)),
                    received: money(got),
                    status: status as i32,
                })
                .collect(),
            receipts: receipts(m)
                .iter()
                .map(|r| Receipt {
                    number: r.number.clone(),
                    amount: money(money::stored(&r.amount)),
                    receive_date: day::to_wire(r.receive_date),
                    credit: r.credit,
                })
                .collect(),
            received_total: money(paid),
            outstanding: money(outstanding),
            overdue: money(overdue),
            credit_total: money(credit),
            create_time: Some(to_timestamp(m.create_time)),
            update_time: Some(to_timestamp(m.update_time)),
            delete_time: to_timestamp_opt(m.delete_time),
        }
    }

    fn audit_fields(m: &Model) -> Vec<(&'static str, String)> {
        vec![
            ("contract_id", m.contract_id.clone()),
            ("order_id", m.order_id.clone()),
            ("total", format!("{} {}", m.currency_code, m.total)),
            ("instalments", m.instalments.clone()),
            ("receipts", m.receipts.clone()),
        ]
    }

    fn event(action: Action, proto: PaymentPlan, _merged_ids: &[String]) -> SalesEvent {
        let types = [
            SalesEventType::PaymentPlanCreated,
            SalesEventType::PaymentPlanUpdated,
            SalesEventType::PaymentPlanUpdated,
            SalesEventType::PaymentPlanUpdated,
        ];
        crate::events::of_write(action, types, Subject::PaymentPlan(proto))
    }

    fn create(
        tenant_id: &str,
        owner_id: String,
        (id, now): (String, i64),
        input: PaymentPlan,
        _cx: &WriteContext<'_>,
    ) -> Result<Model, Error> {
        let mut model = Model {
            id,
            tenant_id: tenant_id.to_owned(),
            owner_id,
            owner_since: now,
            display_name: String::new(),
            contract_id: String::new(),
            order_id: String::new(),
            account_id: String::new(),
            currency_code: String::new(),
            total: "0".to_owned(),
            instalments: "[]".to_owned(),
            receipts: "[]".to_owned(),
            next_due: 0,
            tags: "[]".to_owned(),
            custom_fields: "{}".to_owned(),
            version: 1,
            create_time: now,
            update_time: now,
            delete_time: None,
        };
        apply(&mut model, &input, PlanField::ALL)?;
        Ok(model)
    }

    fn update(
        current: &Model,
        input: PaymentPlan,
        mask: &[String],
        _cx: &WriteContext<'_>,
    ) -> Result<Model, Error> {
        let fields = field_mask::resolve_fields(mask, OUTPUT_ONLY, |f| match f {
            PlanField::ContractId => !input.contract_id.is_empty(),
            PlanField::OrderId => !input.order_id.is_empty(),
            PlanField::Instalments => !input.instalments.is_empty(),
        })?;
        if let Some(fixed) = fields.iter().find(|f| **f != PlanField::Instalments) {
            return Err(Error::invalid(
                format!("plan.{}", fixed.name()),
                "is fixed for the plan's life",
            ));
        }
        if !receipts(current).is_empty() {
            return Err(Error::wrong_state(
                "PLAN_HAS_RECEIPTS",
                "plan.receipts",
                "money was received against the plan; its instalments no longer change",
            ));
        }
        let mut next = current.clone();
        apply(&mut next, &input, &fields)?;
        Ok(next)
    }

    /// The owner is the contract's or order's (set in the write); cached reads check it.
    fn keys(input: &PaymentPlan) -> (&str, &str, &str) {
        (&input.id, &input.owner_id, &input.etag)
    }

    /// The contract or order must be one the writer sees, signed or confirmed; it gives the
    /// customer, the owner, the currency and the total the instalments must sum to exactly.
    async fn before_write(
        txn: &DatabaseTransaction,
        principal: &Principal,
        current: Option<&Model>,
        next: &mut Model,
    ) -> Result<(), Error> {
        if current.is_none() {
            let (total, account, owner, name) = subject(txn, principal, next).await?;
            next.currency_code = total.currency.code().to_owned();
            next.total = total.amount.to_string();
            next.account_id = account;
            next.owner_id = owner;
            next.display_name = format!("{name} plan");
        }
        let currency = Currency::parse(&next.currency_code)
            .ok_or_else(|| Error::internal("a plan has no valid currency"))?;
        let mut v = Violations::new();
        let mut sum = Decimal::ZERO;
        for (i, instalment) in instalments(next).iter().enumerate() {
            let field = format!("plan.instalments[{i}].amount");
            if !instalment.sent_currency.is_empty() && instalment.sent_currency != currency.code() {
                v.add(
                    &format!("{field}.currency_code"),
                    format!("must be {}, the plan's currency", currency.code()),
                );
            }
            let amount = money::stored(&instalment.amount);
            if amount.normalize().scale() > currency.minor_units() {
                v.add(
                    &format!("{field}.amount"),
                    format!("has more decimals than {} allows", currency.code()),
                );
            }
            sum += amount;
        }
        v.finish()?;
        let total = money::stored(&next.total);
        if sum != total {
            return Err(Error::invalid(
                "plan.instalments",
                format!(
                    "sum to {} {}, not the total {} {}",
                    currency.code(),
                    currency.format(sum),
                    currency.code(),
                    currency.format(total)
                ),
            ));
        }
        next.next_due = next_due(next);
        Ok(())
    }
}

/// The contract or order a new plan is for: (its amount, account, owner, number).
async fn subject(
    txn: &DatabaseTransaction,
    principal: &Principal,
    plan: &Model,
) -> Result<(Money, String, String, String), Error> {
    if !plan.contract_id.is_empty() {
        let hidden = || Error::invalid("plan.contract_id", "is not a signed contract you can see");
        let found = store::find::<Contracts, _>(txn, principal, &plan.contract_id)
            .await
            .map_err(|e| match e {
                Error::NotFound { .. } => hidden(),
                other => other,
            })?;
        let signed = [ContractStatus::Signed as i32, ContractStatus::Active as i32];
        if found.delete_time.is_some() || !signed.contains(&found.status) {
            return Err(hidden());
        }
        return Ok((
            contract::amount(&found)?,
            found.account_id,
            found.owner_id,
            found.number,
        ));
    }
    let hidden = || Error::invalid("plan.order_id", "is not a confirmed order you can see");
    let found = store::find::<Orders, _>(txn, principal, &plan.order_id)
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
    Ok((
        order::total(&found)?,
        found.account_id,
        found.owner_id,
        found.number,
    ))
}

/// Records a receipt against a plan, once by its number.
pub(crate) async fn record_receipt(
    records: &Records,
    principal: &Principal,
    plan_id: &str,
    sent: Option<&Receipt>,
) -> Result<(PaymentPlan, ErpOutcome), Error> {
    principal.require(PaymentPlans::WRITE)?;
    let mut v = Violations::new();
    v.required("plan_id", plan_id);
    let Some(sent) = sent else {
        v.add("receipt", "is required");
        v.finish()?;
        return Err(Error::internal("a missing receipt passed its check"));
    };
    let number = sent.number.trim().to_owned();
    v.required("receipt.number", &number);
    v.max_chars("receipt.number", &number, 100);
    let receive_date = day::check(&mut v, "receipt.receive_date", sent.receive_date.as_ref());
    if receive_date == 0 {
        v.add("receipt.receive_date", "is required");
    }
    v.finish()?;
    let txn = crm_platform::db::begin_write(&records.db).await?;
    crm_platform::db::lock_keys(
        &txn,
        &[format!("{}/payment_plan/{plan_id}", principal.tenant_id)],
    )
    .await?;
    let (current, stamps) =
        handlers::current::<PaymentPlans>(&txn, principal, plan_id, None).await?;
    handlers::refuse_deleted::<PaymentPlans>(&stamps)?;
    let currency = Currency::parse(&current.currency_code)
        .ok_or_else(|| Error::internal("a plan has no valid currency"))?;
    let mut v = Violations::new();
    let amount = order_flow::amount_of(&mut v, "receipt.amount", sent.amount.as_ref(), currency);
    v.finish()?;
    let receipt = Received {
        number,
        amount: amount.unwrap_or_default(),
        receive_date,
        credit: sent.credit,
    };
    let outcome = apply_receipt(records, &txn, principal, &current, receipt).await?;
    txn.commit().await?;
    records
        .after_write::<PaymentPlans>(principal, plan_id)
        .await;
    Ok(outcome)
}

/// A receipt as checked.
pub(crate) struct Received {
    pub(crate) number: String,
    pub(crate) amount: Decimal,
    pub(crate) receive_date: i32,
    pub(crate) credit: bool,
}

/// Applies a checked receipt to a plan in `txn`, once by its number (a replay with the same
/// content is `UNCHANGED`, other content is refused), announcing it.
async fn apply_receipt(
    records: &Records,
    txn: &DatabaseTransaction,
    principal: &Principal,
    current: &Model,
    receipt: Received,
) -> Result<(PaymentPlan, ErpOutcome), Error> {
    let currency = Currency::parse(&current.currency_code)
        .ok_or_else(|| Error::internal("a plan has no valid currency"))?;
    let (paid, _) = received(current);
    let outstanding = money::stored(&current.total) - paid;
    let excess = (receipt.amount - outstanding).max(Decimal::ZERO);
    let stored = StoredReceipt {
        number: receipt.number,
        amount: receipt.amount.to_string(),
        receive_date: receipt.receive_date,
        credit: receipt.credit,
        kept_as_credit: excess.to_string(),
    };
    let mut held = receipts(current);
    if let Some(before) = held.iter().find(|r| r.number == stored.number).cloned() {
        // The credit kept depends on what was outstanding then, not now.
        let again = StoredReceipt {
            kept_as_credit: before.kept_as_credit.clone(),
            ..stored
        };
        order_flow::seen(&held, |r| &r.number, &again)?;
        return Ok((PaymentPlans::to_proto(current), ErpOutcome::Unchanged));
    }
    if excess > Decimal::ZERO && !receipt.credit {
        return Err(Error::invalid(
            "receipt.amount.amount",
            format!(
                "is more than the outstanding {} {}; flag it as credit to keep the excess",
                currency.code(),
                currency.format(outstanding)
            ),
        ));
    }
    held.push(stored);
    let mut next = current.clone();
    next.receipts = json::to_json(&held);
    next.next_due = next_due(&next);
    let saved = records
        .save_change::<PaymentPlans>(txn, principal, current, next, Action::Update, &[])
        .await?;
    let event = SalesEvent {
        r#type: SalesEventType::PaymentReceived as i32,
        subject: Some(Subject::PaymentPlan(saved.clone())),
        ..Default::default()
    };
    announce(
        txn,
        &principal.tenant_id,
        &principal.user_id,
        event,
        &saved.id,
    )
    .await?;
    Ok((saved, ErpOutcome::Applied))
}

/// Applies a payment the ERP reported on an order to the plan that collects the order's
/// money, when there is one, in the report's transaction: the plan's receipts are the order's
/// payments.
pub(crate) async fn receive_for_order(
    records: &Records,
    txn: &DatabaseTransaction,
    principal: &Principal,
    order_id: &str,
    receipt: Received,
) -> Result<Option<String>, Error> {
    let Some(plan) = plan_collecting(txn, principal, order_id).await? else {
        return Ok(None);
    };
    apply_receipt(records, txn, principal, &plan, receipt).await?;
    Ok(Some(plan.id))
}

/// The plan an order's payments go to: the order's own, else the plan of the signed or active
/// contract made from the order (the earliest, if several are), since a contract's money
/// arrives as the ERP's payments on its order.
async fn plan_collecting(
    txn: &DatabaseTransaction,
    principal: &Principal,
    order_id: &str,
) -> Result<Option<Model>, Error> {
    use crate::entity::contract::Column as ContractColumn;
    use sea_orm::QueryOrder;
    let own = store::scoped::<PaymentPlans>(principal)
        .filter(Column::OrderId.eq(order_id))
        .filter(Column::DeleteTime.is_null())
        .one(txn)
        .await?;
    if own.is_some() {
        return Ok(own);
    }
    let collecting = [ContractStatus::Signed as i32, ContractStatus::Active as i32];
    let contracts = store::scoped::<Contracts>(principal)
        .filter(ContractColumn::OrderId.eq(order_id))
        .filter(ContractColumn::Status.is_in(collecting))
        .filter(ContractColumn::DeleteTime.is_null())
        .order_by_asc(ContractColumn::CreateTime)
        .all(txn)
        .await?;
    for contract in contracts {
        let plan = store::scoped::<PaymentPlans>(principal)
            .filter(Column::ContractId.eq(contract.id.as_str()))
            .filter(Column::DeleteTime.is_null())
            .one(txn)
            .await?;
        if plan.is_some() {
            return Ok(plan);
        }
    }
    Ok(None)
}

/// What is outstanding and overdue in the caller's scope, per customer or rep and currency,
/// largest first.
pub(crate) async fn summary(
    records: &Records,
    principal: &Principal,
    grouping: i32,
) -> Result<Vec<ReceivablesLine>, Error> {
    principal.require(PaymentPlans::READ)?;
    let mut v = Violations::new();
    let grouping = v.enumeration::<ReceivablesGrouping>("group_by", grouping);
    v.finish()?;
    let by_owner = grouping == ReceivablesGrouping::Owner as i32;
    let plans = store::scoped::<PaymentPlans>(principal)
        .filter(Column::DeleteTime.is_null())
        .all(&records.db)
        .await?;
    let today = day::of_micros(clock::now_micros());
    let mut sums: BTreeMap<(String, String), (Decimal, Decimal, i32)> = BTreeMap::new();
    for plan in &plans {
        let who = if by_owner {
            &plan.owner_id
        } else {
            &plan.account_id
        };
        let (outstanding, overdue) = owed(plan, today);
        let entry = sums
            .entry((who.clone(), plan.currency_code.clone()))
            .or_default();
        entry.0 += outstanding;
        entry.1 += overdue;
        entry.2 += 1;
    }
    let mut lines: Vec<ReceivablesLine> = sums
        .into_iter()
        .filter_map(|((who, code), (outstanding, overdue, count))| {
            let currency = Currency::parse(&code)?;
            let money = |amount| Some(Money { currency, amount }.to_wire());
            let (account_id, owner_id) = if by_owner {
                (String::new(), who)
            } else {
                (who, String::new())
            };
            Some(ReceivablesLine {
                account_id,
                owner_id,
                outstanding: money(outstanding),
                overdue: money(overdue),
                plan_count: count,
            })
        })
        .collect();
    lines.sort_by(|a, b| {
        let amount = |l: &ReceivablesLine| {
            l.outstanding
                .as_ref()
                .map(|m| money::stored(&m.amount))
                .unwrap_or_default()
        };
        amount(b).cmp(&amount(a))
    });
    Ok(lines)
}
