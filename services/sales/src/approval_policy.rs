//! A tenant's approval policy: which documents need approval, at which level. A document
//! needs the highest level among the rules it meets; a quote with a line below cost needs at
//! least level 1 whatever the rules say (selling below cost is a manager's decision).

use rust_decimal::Decimal;
use sea_orm::sea_query::OnConflict;
use sea_orm::{ConnectionTrait, DatabaseTransaction, EntityTrait, IntoActiveModel};
use serde::{Deserialize, Serialize};

use crate::entity::approval_policy;
use crate::exchange::{self, RateBook};
use crate::priced_lines::{self, StoredLine};
use crm_platform::audit;
use crm_platform::auth::Principal;
use crm_platform::clock;
use crm_platform::error::Error;
use crm_platform::etag;
use crm_platform::money::{self, Currency, Money};
use crm_platform::time::to_timestamp_opt;
use crm_platform::validate::Violations;
use crm_proto::sales::{
    ApprovalPolicy, ApprovalRule, ApprovalSubjectKind, SalesEvent, SalesEventType,
    sales_event::Subject,
};
use crm_records::handlers::{Records, announce};
use crm_records::json;

/// Permission to read the policy.
pub(crate) const READ: &str = "sales.approval_policy.read";
/// Permission to replace it.
pub(crate) const WRITE: &str = "sales.approval_policy.write";
/// Most rules a tenant keeps.
const MAX_RULES: usize = 50;
/// The highest level of approval.
pub(crate) const MAX_LEVEL: i32 = 2;

/// One rule as stored: thresholds as decimal text, the amount in the base currency.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct StoredRule {
    pub(crate) subject_kind: i32,
    pub(crate) level: i32,
    #[serde(default)]
    pub(crate) discount_percent_above: String,
    #[serde(default)]
    pub(crate) amount_currency: String,
    #[serde(default)]
    pub(crate) amount_above: String,
}

/// What a document shows the policy: its largest line discount, its total in the base
/// currency, and whether a line is below cost.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Figures {
    pub(crate) kind: ApprovalSubjectKind,
    pub(crate) max_discount_percent: Decimal,
    pub(crate) total_in_base: Money,
    pub(crate) below_cost: bool,
}

/// The level a document needs, and why (reasons people read).
pub(crate) fn required(rules: &[StoredRule], figures: &Figures) -> (i32, Vec<String>) {
    let mut level = 0;
    let mut reasons = Vec::new();
    if figures.below_cost {
        level = 1;
        reasons.push("a line is priced below cost".to_owned());
    }
    for rule in rules
        .iter()
        .filter(|r| r.subject_kind == figures.kind as i32)
    {
        let mut met = Vec::new();
        if !rule.discount_percent_above.is_empty() {
            let limit = money::stored(&rule.discount_percent_above);
            if figures.max_discount_percent > limit {
                met.push(format!(
                    "a discount of {}% is above {}%",
                    figures.max_discount_percent.normalize(),
                    limit.normalize()
                ));
            }
        }
        if !rule.amount_above.is_empty() {
            let limit = money::stored(&rule.amount_above);
            let total = figures.total_in_base;
            if total.amount > limit {
                met.push(format!(
                    "the total of {} {} is above {} {}",
                    total.currency.code(),
                    total.currency.format(total.amount),
                    total.currency.code(),
                    total.currency.format(limit)
                ));
            }
        }
        if !met.is_empty() {
            level = level.max(rule.level);
            reasons.extend(
                met.into_iter()
                    .map(|m| format!("{m} (level {})", rule.level)),
            );
        }
    }
    (level, reasons)
}

/// The level a document of `kind` with these lines and total needs under the tenant's
/// policy on `today`, and why.
pub(crate) async fn assess(
    txn: &DatabaseTransaction,
    tenant_id: &str,
    kind: ApprovalSubjectKind,
    lines: &[StoredLine],
    total: Money,
    today: i32,
) -> Result<(i32, Vec<String>), Error> {
    let rates = RateBook::load(txn, tenant_id).await?;
    let figures = Figures {
        kind,
        max_discount_percent: priced_lines::max_discount(lines),
        total_in_base: rates.to_base(total, today)?,
        below_cost: lines.iter().any(|l| l.below_cost),
    };
    Ok(required(&rules(txn, tenant_id).await?, &figures))
}

/// The tenant's rules; none when it has set none.
pub(crate) async fn rules<C: ConnectionTrait>(
    db: &C,
    tenant_id: &str,
) -> Result<Vec<StoredRule>, Error> {
    Ok(approval_policy::Entity::find_by_id(tenant_id)
        .one(db)
        .await?
        .map(|r| json::from_json(&r.rules))
        .unwrap_or_default())
}

fn to_proto(rules: &[StoredRule], row: Option<&approval_policy::Model>) -> ApprovalPolicy {
    ApprovalPolicy {
        etag: etag::format(row.map_or(0, |r| r.version)),
        rules: rules
            .iter()
            .map(|r| ApprovalRule {
                subject_kind: r.subject_kind,
                level: r.level,
                discount_percent_above: r.discount_percent_above.clone(),
                amount_above: Currency::parse(&r.amount_currency).map(|currency| {
                    Money {
                        currency,
                        amount: money::stored(&r.amount_above),
                    }
                    .to_wire()
                }),
            })
            .collect(),
        update_time: to_timestamp_opt(row.map(|r| r.update_time)),
    }
}

/// Checks sent rules against the tenant's base currency and gives their stored form.
fn check(input: &ApprovalPolicy, base: Currency) -> Result<Vec<StoredRule>, Error> {
    let mut v = Violations::new();
    if input.rules.len() > MAX_RULES {
        v.add("policy.rules", "must list at most 50 rules");
    }
    let mut stored = Vec::with_capacity(input.rules.len());
    for (i, rule) in input.rules.iter().enumerate() {
        let field = format!("policy.rules[{i}]");
        let kind = v.enumeration::<ApprovalSubjectKind>(
            &format!("{field}.subject_kind"),
            rule.subject_kind,
        );
        if kind == 0 {
            v.add(&format!("{field}.subject_kind"), "is required");
        }
        if !(1..=MAX_LEVEL).contains(&rule.level) {
            v.add(&format!("{field}.level"), "must be 1 or 2");
        }
        let mut discount = String::new();
        if !rule.discount_percent_above.trim().is_empty() {
            let name = format!("{field}.discount_percent_above");
            if let Some(d) = money::decimal(&mut v, &name, &rule.discount_percent_above, 2) {
                if d < Decimal::ZERO || d > Decimal::ONE_HUNDRED {
                    v.add(&name, "must be from 0 to 100");
                }
                discount = d.normalize().to_string();
            }
        }
        let (mut currency, mut amount) = (String::new(), String::new());
        if let Some(sent) = rule.amount_above.as_ref() {
            let name = format!("{field}.amount_above");
            if !sent.currency_code.is_empty() && sent.currency_code != base.code() {
                v.add(
                    &format!("{name}.currency_code"),
                    format!("must be the base currency, {}", base.code()),
                );
            } else if let Some(m) = Money::check(&mut v, &name, sent, Some(base)) {
                currency = m.currency.code().to_owned();
                amount = m.amount.to_string();
            }
        }
        if discount.is_empty() && amount.is_empty() && rule.amount_above.is_none() {
            v.add(&field, "needs a discount or an amount threshold");
        }
        stored.push(StoredRule {
            subject_kind: kind,
            level: rule.level,
            discount_percent_above: discount,
            amount_currency: currency,
            amount_above: amount,
        });
    }
    v.finish()?;
    Ok(stored)
}

/// The caller's tenant's policy.
pub(crate) async fn get(records: &Records, principal: &Principal) -> Result<ApprovalPolicy, Error> {
    principal.require(READ)?;
    let found = approval_policy::Entity::find_by_id(principal.tenant_id.as_str())
        .one(&records.db)
        .await?;
    let rules: Vec<StoredRule> = found
        .as_ref()
        .map(|r| json::from_json(&r.rules))
        .unwrap_or_default();
    Ok(to_proto(&rules, found.as_ref()))
}

/// Replaces the policy, audited and announced, in one transaction.
pub(crate) async fn update(
    records: &Records,
    principal: &Principal,
    input: ApprovalPolicy,
) -> Result<ApprovalPolicy, Error> {
    principal.require(WRITE)?;
    let expected = etag::parse("policy.etag", &input.etag)?;
    let tenant_id = principal.tenant_id.as_str();
    let txn = crm_platform::db::begin_write(&records.db).await?;
    crm_platform::db::lock_keys(&txn, &[format!("{tenant_id}/approval_policy")]).await?;
    let base = exchange::base_currency(&txn, tenant_id).await?;
    let rules = check(&input, base)?;
    let current = approval_policy::Entity::find_by_id(tenant_id)
        .one(&txn)
        .await?;
    let version = current.as_ref().map_or(0, |r| r.version);
    if expected.is_some_and(|e| e != version) {
        return Err(Error::StaleEtag {
            resource: "approval_policy",
        });
    }
    let next = approval_policy::Model {
        tenant_id: tenant_id.to_owned(),
        rules: json::to_json(&rules),
        version: version + 1,
        update_time: clock::now_micros(),
    };
    approval_policy::Entity::insert(next.clone().into_active_model())
        .on_conflict(
            OnConflict::column(approval_policy::Column::TenantId)
                .update_columns([
                    approval_policy::Column::Rules,
                    approval_policy::Column::Version,
                    approval_policy::Column::UpdateTime,
                ])
                .to_owned(),
        )
        .exec(&txn)
        .await?;
    let change = audit::Change {
        field: "rules".to_owned(),
        before: current.map(|r| r.rules).unwrap_or_else(|| "[]".to_owned()),
        after: next.rules.clone(),
    };
    audit::record(
        &txn,
        principal,
        "approval_policy",
        tenant_id,
        "update",
        &[change],
    )
    .await?;
    let proto = to_proto(&rules, Some(&next));
    let event = SalesEvent {
        r#type: SalesEventType::ApprovalPolicyUpdated as i32,
        subject: Some(Subject::ApprovalPolicy(proto.clone())),
        ..Default::default()
    };
    announce(&txn, tenant_id, &principal.user_id, event, tenant_id).await?;
    txn.commit().await?;
    records.relay.wake();
    Ok(proto)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cny(amount: &str) -> Money {
        Money {
            currency: Currency::parse("CNY").unwrap(),
            amount: amount.parse().unwrap(),
        }
    }

    fn rule(level: i32, discount: &str, amount: &str) -> StoredRule {
        StoredRule {
            subject_kind: ApprovalSubjectKind::Quote as i32,
            level,
            discount_percent_above: discount.to_owned(),
            amount_currency: if amount.is_empty() { "" } else { "CNY" }.to_owned(),
            amount_above: amount.to_owned(),
        }
    }

    #[test]
    fn the_highest_level_met_is_required() {
        let rules = [
            rule(1, "10", ""),
            rule(1, "", "100000"),
            rule(2, "", "500000"),
        ];
        let figures = |discount: &str, total: &str, below_cost| Figures {
            kind: ApprovalSubjectKind::Quote,
            max_discount_percent: discount.parse().unwrap(),
            total_in_base: cny(total),
            below_cost,
        };
        assert_eq!(required(&rules, &figures("10", "100000", false)).0, 0);
        let (level, reasons) = required(&rules, &figures("10.01", "99999.99", false));
        assert_eq!(level, 1);
        assert_eq!(reasons, ["a discount of 10.01% is above 10% (level 1)"]);
        assert_eq!(required(&rules, &figures("0", "100000.01", false)).0, 1);
        assert_eq!(required(&rules, &figures("15", "500000.01", false)).0, 2);
        let (level, reasons) = required(&[], &figures("0", "1", true));
        assert_eq!((level, reasons.len()), (1, 1));
    }
}
