//! Targets: what a rep, or a team, is to win in a calendar month, quarter or year, as an
//! amount in the tenant's base currency and a number of deals. Owner-scoped: a rep's target
//! by the rep (a rep reads their own, a manager sets and reads the team's), a team's by the
//! team's manager as the directory of teams names them (`crm_records::directory`), so whoever
//! reaches the manager reaches the team's target. One live target per rep or team and period.

use sea_orm::{ColumnTrait, DatabaseTransaction, EntityTrait, QueryFilter};

use crate::entity::target::{Column, Entity, Model};
use crate::exchange;
use crm_platform::auth::Principal;
use crm_platform::error::Error;
use crm_platform::field_mask::{self, Field};
use crm_platform::money::{self, Currency, Money};
use crm_platform::time::{day, days_in_month, to_timestamp, to_timestamp_opt};
use crm_platform::validate::Violations;
use crm_proto::sales::{
    PeriodKind, SalesEvent, SalesEventType, Target, TargetPeriod, sales_event::Subject,
};
use crm_records::entity::directory_team;
use crm_records::resource::{
    AMOUNT_SCALE, Action, FieldKind, IndexKey, Resource, WriteContext, reaches,
};

/// The target resource.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Targets;

/// Permission to read targets and forecasts.
pub(crate) const READ: &str = "sales.targets.read";

/// The fields a target update may change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TargetField {
    Amount,
    DealCount,
}

impl Field for TargetField {
    const ALL: &'static [Self] = &[TargetField::Amount, TargetField::DealCount];

    fn name(self) -> &'static str {
        match self {
            TargetField::Amount => "amount",
            TargetField::DealCount => "deal_count",
        }
    }
}

/// Set by the server, or fixed for the target's life.
const OUTPUT_ONLY: &[&str] = &[
    "id",
    "etag",
    "owner_id",
    "team_id",
    "period",
    "display_name",
    "create_time",
    "update_time",
    "delete_time",
];

/// A checked period: its kind, first and last day (`yyyymmdd`), and its name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Period {
    pub(crate) kind: PeriodKind,
    pub(crate) start: i32,
    pub(crate) end: i32,
    pub(crate) name: String,
}

/// Checks a period sent in `field`: a defined kind and a start on its first day.
pub(crate) fn period(v: &mut Violations, field: &str, sent: Option<&TargetPeriod>) -> Period {
    let Some(sent) = sent else {
        v.add(field, "is required");
        return Period {
            kind: PeriodKind::Unspecified,
            start: 0,
            end: 0,
            name: String::new(),
        };
    };
    let kind = PeriodKind::try_from(sent.kind).unwrap_or(PeriodKind::Unspecified);
    if kind == PeriodKind::Unspecified {
        v.add(&format!("{field}.kind"), "must be a month, quarter or year");
    }
    let start = day::check(v, &format!("{field}.start"), sent.start.as_ref());
    let (year, month, first) = (start / 10_000, (start / 100) % 100, start % 100);
    let months = match kind {
        PeriodKind::Month => 1,
        PeriodKind::Quarter => 3,
        PeriodKind::Year | PeriodKind::Unspecified => 12,
    };
    let aligned = first == 1 && (month - 1) % months == 0;
    if start == 0 {
        v.add(&format!("{field}.start"), "is required");
    } else if !aligned {
        v.add(
            &format!("{field}.start"),
            "must be the first day of the period",
        );
    }
    let last_month = (month + months - 1).clamp(1, 12);
    let last =
        i32::try_from(days_in_month(year, u32::try_from(last_month).unwrap_or(1))).unwrap_or(31);
    let name = match kind {
        PeriodKind::Month => format!("{year}-{month:02}"),
        PeriodKind::Quarter => format!("{year}-Q{}", (month - 1) / 3 + 1),
        PeriodKind::Year | PeriodKind::Unspecified => format!("{year}"),
    };
    Period {
        kind,
        start,
        end: year * 10_000 + last_month * 100 + last,
        name,
    }
}

/// The stored amount of a target, when it has one.
pub(crate) fn amount(m: &Model) -> Option<Money> {
    let currency = Currency::parse(&m.amount_currency)?;
    Some(Money {
        currency,
        amount: money::Amount::new(m.amount?, AMOUNT_SCALE),
    })
}

fn apply(model: &mut Model, input: &Target, fields: &[TargetField]) -> Result<(), Error> {
    let mut v = Violations::new();
    for field in fields {
        match field {
            TargetField::Amount => {
                let sent = input
                    .amount
                    .as_ref()
                    .filter(|a| !a.amount.trim().is_empty());
                let checked = sent.and_then(|a| Money::check(&mut v, "target.amount", a, None));
                (model.amount_currency, model.amount) = match checked {
                    Some(m) => (
                        m.currency.code().to_owned(),
                        crm_records::store::scaled(m.amount),
                    ),
                    None => (String::new(), None),
                };
                if model.amount.is_some_and(|a| a < 0) {
                    v.add("target.amount.amount", "must not be negative");
                }
            }
            TargetField::DealCount => {
                if !(0..=100_000).contains(&input.deal_count) {
                    v.add("target.deal_count", "must be from 0 to 100,000");
                }
                model.deal_count = input.deal_count;
            }
        }
    }
    if model.amount.is_none() && model.deal_count == 0 {
        v.add("target.amount", "a target needs an amount or a deal count");
    }
    v.finish()
}

impl Resource for Targets {
    type Event = SalesEvent;
    type Entity = Entity;
    type Model = Model;
    type Active = crate::entity::target::ActiveModel;
    type Proto = Target;

    const KIND: &'static str = "target";
    const DUPLICATE_KINDS: &'static [&'static str] = &["period"];
    const KEYS_UNIQUE: bool = true;
    const READ: &'static str = READ;
    const WRITE: &'static str = "sales.targets.write";
    const MERGE: &'static str = "sales.targets.write";

    crm_records::shared_columns!(tags);

    fn filter_field(name: &str) -> Option<(Column, FieldKind)> {
        Some(match name {
            "owner_id" => (Column::OwnerId, FieldKind::Id),
            "team_id" => (Column::TeamId, FieldKind::Id),
            "display_name" => (Column::DisplayName, FieldKind::Text),
            "period_kind" => (
                Column::PeriodKind,
                FieldKind::Enum(|s| PeriodKind::from_str_name(s).map(|e| e as i32)),
            ),
            "period_start" => (Column::PeriodStart, FieldKind::Day),
            "create_time" => (Column::CreateTime, FieldKind::Time),
            "update_time" => (Column::UpdateTime, FieldKind::Time),
            _ => return None,
        })
    }

    fn to_proto(m: &Model) -> Target {
        Target {
            id: m.id.clone(),
            etag: crm_platform::etag::format(m.version),
            owner_id: m.owner_id.clone(),
            period: Some(TargetPeriod {
                kind: m.period_kind,
                start: day::to_wire(m.period_start),
            }),
            amount: amount(m).map(Money::to_wire),
            deal_count: m.deal_count,
            display_name: m.display_name.clone(),
            create_time: Some(to_timestamp(m.create_time)),
            update_time: Some(to_timestamp(m.update_time)),
            delete_time: to_timestamp_opt(m.delete_time),
            team_id: m.team_id.clone(),
        }
    }

    fn audit_fields(m: &Model) -> Vec<(&'static str, String)> {
        let amount = amount(m)
            .map(|a| format!("{} {}", a.currency.code(), a.currency.format(a.amount)))
            .unwrap_or_default();
        vec![
            ("owner_id", m.owner_id.clone()),
            ("team_id", m.team_id.clone()),
            ("period", m.display_name.clone()),
            ("amount", amount),
            ("deal_count", m.deal_count.to_string()),
        ]
    }

    /// One live target per rep, or team, and period.
    fn index_keys(m: &Model) -> Vec<IndexKey> {
        let holder = if m.team_id.is_empty() {
            m.owner_id.clone()
        } else {
            format!("team:{}", m.team_id)
        };
        let key = format!("{holder}/{}/{}", m.period_kind, m.period_start);
        vec![IndexKey::new("period", key)]
    }

    fn event(action: Action, proto: Target, _merged_ids: &[String]) -> SalesEvent {
        let types = [
            SalesEventType::TargetCreated,
            SalesEventType::TargetUpdated,
            SalesEventType::TargetDeleted,
            SalesEventType::TargetUndeleted,
        ];
        crate::events::of_write(action, types, Subject::Target(proto))
    }

    fn create(
        tenant_id: &str,
        owner_id: String,
        (id, now): (String, i64),
        input: Target,
        _cx: &WriteContext<'_>,
    ) -> Result<Model, Error> {
        let mut v = Violations::new();
        let period = period(&mut v, "target.period", input.period.as_ref());
        let team_id = input.team_id.trim().to_owned();
        if !team_id.is_empty() && !input.owner_id.trim().is_empty() {
            v.add(
                "target.owner_id",
                "must be empty for a team's target: the team's manager holds it",
            );
        }
        let mut model = Model {
            id,
            tenant_id: tenant_id.to_owned(),
            owner_id,
            owner_since: now,
            display_name: period.name,
            period_kind: period.kind as i32,
            period_start: period.start,
            period_end: period.end,
            amount_currency: String::new(),
            amount: None,
            deal_count: 0,
            tags: "[]".to_owned(),
            custom_fields: "{}".to_owned(),
            version: 1,
            create_time: now,
            update_time: now,
            delete_time: None,
            team_id,
        };
        let applied = apply(&mut model, &input, TargetField::ALL);
        v.finish().and(applied)?;
        Ok(model)
    }

    fn update(
        current: &Model,
        input: Target,
        mask: &[String],
        _cx: &WriteContext<'_>,
    ) -> Result<Model, Error> {
        let fields = field_mask::resolve_fields(mask, OUTPUT_ONLY, |f| match f {
            TargetField::Amount => input.amount.is_some(),
            TargetField::DealCount => input.deal_count != 0,
        })?;
        let mut next = current.clone();
        apply(&mut next, &input, &fields)?;
        Ok(next)
    }

    fn keys(input: &Target) -> (&str, &str, &str) {
        (&input.id, &input.owner_id, &input.etag)
    }

    /// A target's amount is in the tenant's base currency, read in the write's transaction; a
    /// new team's target goes to the team's manager.
    async fn before_write(
        txn: &DatabaseTransaction,
        principal: &Principal,
        current: Option<&Model>,
        next: &mut Model,
    ) -> Result<(), Error> {
        if current.is_none() && !next.team_id.is_empty() {
            next.owner_id = team_manager(txn, principal, &next.team_id).await?;
        }
        let base = exchange::base_currency(txn, &principal.tenant_id).await?;
        if next.amount.is_some() && next.amount_currency != base.code() {
            return Err(Error::invalid(
                "target.amount.currency_code",
                format!("must be the base currency, {}", base.code()),
            ));
        }
        Ok(())
    }
}

/// The manager who holds a team's target: the team must exist, have a manager, and be led
/// by someone in the caller's data scope (a team out of reach reads like no team).
async fn team_manager(
    txn: &DatabaseTransaction,
    principal: &Principal,
    team_id: &str,
) -> Result<String, Error> {
    let team = directory_team::Entity::find_by_id(team_id)
        .filter(directory_team::Column::TenantId.eq(principal.tenant_id.as_str()))
        .filter(directory_team::Column::Deleted.eq(false))
        .one(txn)
        .await?;
    let manager = team.map(|t| t.manager_user_id).unwrap_or_default();
    if manager.is_empty() || !reaches::<Targets>(principal, &manager) {
        return Err(Error::invalid(
            "target.team_id",
            "names no team with a manager you reach",
        ));
    }
    Ok(manager)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crm_proto::common::Date;

    fn checked(kind: PeriodKind, (year, month, day): (i32, i32, i32)) -> (Period, bool) {
        let mut v = Violations::new();
        let sent = TargetPeriod {
            kind: kind as i32,
            start: Some(Date { year, month, day }),
        };
        let p = period(&mut v, "period", Some(&sent));
        (p, v.finish().is_ok())
    }

    #[test]
    fn periods_start_on_their_first_day_and_end_on_their_last() {
        let (q1, ok) = checked(PeriodKind::Quarter, (2027, 1, 1));
        assert!(ok);
        assert_eq!(
            (q1.start, q1.end, q1.name.as_str()),
            (20270101, 20270331, "2027-Q1")
        );
        let (feb, _) = checked(PeriodKind::Month, (2028, 2, 1));
        assert_eq!((feb.end, feb.name.as_str()), (20280229, "2028-02"));
        let (year, _) = checked(PeriodKind::Year, (2027, 1, 1));
        assert_eq!(year.end, 20271231);
        assert!(!checked(PeriodKind::Quarter, (2027, 2, 1)).1);
        assert!(!checked(PeriodKind::Month, (2027, 2, 2)).1);
        assert!(!checked(PeriodKind::Unspecified, (2027, 1, 1)).1);
    }
}
