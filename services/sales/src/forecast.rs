//! The forecast of a period: per rep, their targets, what they won (deals whose close day, in
//! the caller's offset from UTC, falls in the period) and their open pipeline expected to
//! close in it, weighted by each deal's probability; and the total over everyone the caller's
//! data scope reaches. All in the tenant's base currency (see `ForecastLine` in the
//! contract for the conversion and rounding rule).

use std::collections::BTreeMap;

use rust_decimal::{Decimal, RoundingStrategy};
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, FromQueryResult, QueryFilter, QuerySelect};

use crate::entity::{opportunity, target};
use crate::exchange::RateBook;
use crate::opportunity::Opportunities;
use crate::target::{self as targets, Targets};
use crm_platform::auth::Principal;
use crm_platform::error::Error;
use crm_platform::money::{Currency, Money};
use crm_platform::time::{day, parse_rfc3339_micros};
use crm_platform::validate::Violations;
use crm_proto::sales::{ForecastLine, GetForecastRequest, GetForecastResponse, OpportunityStatus};
use crm_records::directory::Directory;
use crm_records::entity::directory_team;
use crm_records::handlers::Records;
use crm_records::resource::{AMOUNT_SCALE, Resource, reaches};
use crm_records::store;

/// Microseconds in a day.
const DAY_MICROS: i64 = 86_400_000_000;

/// One rep's sums, exact until they are shown.
#[derive(Debug, Clone, Default)]
struct Sums {
    target_amount: Decimal,
    target_deals: i64,
    has_amount_target: bool,
    won: Decimal,
    won_deals: i64,
    pipeline: Decimal,
    weighted: Decimal,
    open_deals: i64,
}

impl Sums {
    fn add(&mut self, other: &Sums) {
        self.target_amount += other.target_amount;
        self.target_deals += other.target_deals;
        self.has_amount_target |= other.has_amount_target;
        self.add_deals(other);
    }

    /// Adds another's deals but not their targets: a team is held to its own target.
    fn add_deals(&mut self, other: &Sums) {
        self.won += other.won;
        self.won_deals += other.won_deals;
        self.pipeline += other.pipeline;
        self.weighted += other.weighted;
        self.open_deals += other.open_deals;
    }

    /// Adds a target's amount (converted at its period's first day) and deal count.
    fn add_target(&mut self, t: &target::Model, book: &RateBook, start: i32) -> Result<(), Error> {
        if let Some(amount) = targets::amount(t) {
            self.target_amount += book.to_base(amount, start)?.amount;
            self.has_amount_target = true;
        }
        self.target_deals += i64::from(t.deal_count);
        Ok(())
    }

    fn line(&self, owner_id: String, base: Currency) -> ForecastLine {
        let money = |amount: Decimal| {
            Some(
                Money {
                    currency: base,
                    amount: base.round(amount),
                }
                .to_wire(),
            )
        };
        let count = |n: i64| i32::try_from(n).unwrap_or(i32::MAX);
        let won = base.round(self.won);
        ForecastLine {
            owner_id,
            target_amount: money(self.target_amount),
            target_deal_count: count(self.target_deals),
            won_amount: money(self.won),
            won_deal_count: count(self.won_deals),
            pipeline_amount: money(self.pipeline),
            weighted_amount: money(self.weighted),
            open_deal_count: count(self.open_deals),
            amount_attainment_percent: percent(won, base.round(self.target_amount))
                .filter(|_| self.has_amount_target)
                .unwrap_or_default(),
            count_attainment_percent: percent(
                Decimal::from(self.won_deals),
                Decimal::from(self.target_deals),
            )
            .unwrap_or_default(),
            team_id: String::new(),
            team_display_name: String::new(),
        }
    }
}

/// `part` of `whole` in percent with two decimals, half away from zero; `None` of nothing.
fn percent(part: Decimal, whole: Decimal) -> Option<String> {
    if whole.is_zero() {
        return None;
    }
    let mut shown = (part * Decimal::ONE_HUNDRED / whole)
        .round_dp_with_strategy(2, RoundingStrategy::MidpointAwayFromZero);
    shown.rescale(2);
    Some(shown.to_string())
}

/// Won deals of one owner, currency and local close day.
#[derive(Debug, FromQueryResult)]
struct WonGroup {
    owner_id: String,
    amount_currency: String,
    /// Days since the epoch, in the caller's offset.
    day_number: i64,
    deals: i64,
    /// The sum of the stored amounts (ten-thousandths) as text: PostgreSQL widens it past
    /// 64 bits, and text reads alike from both databases.
    total: Option<String>,
}

impl WonGroup {
    fn amount(&self) -> Option<Money> {
        stored_sum(&self.amount_currency, self.total.as_deref())
    }
}

/// Open deals of one owner, currency, expected close day and probability.
#[derive(Debug, FromQueryResult)]
struct OpenGroup {
    owner_id: String,
    amount_currency: String,
    expected_close_date: i32,
    probability: i32,
    deals: i64,
    total: Option<String>,
}

/// A summed stored amount as money; none when the deals had no amount.
fn stored_sum(currency: &str, total: Option<&str>) -> Option<Money> {
    let currency = Currency::parse(currency)?;
    let mut amount: Decimal = total?.trim().parse().ok()?;
    amount.set_scale(AMOUNT_SCALE).ok()?;
    Some(Money { currency, amount })
}

/// The first microsecond of a `yyyymmdd` day at `offset_minutes` from UTC.
fn local_midnight(yyyymmdd: i32, offset_minutes: i32) -> i64 {
    let text = format!(
        "{:04}-{:02}-{:02}T00:00:00Z",
        yyyymmdd / 10_000,
        (yyyymmdd / 100) % 100,
        yyyymmdd % 100
    );
    parse_rfc3339_micros(&text).unwrap_or_default() - i64::from(offset_minutes) * 60_000_000
}

/// The forecast of the period `request` names, within the caller's data scope.
pub(crate) async fn forecast(
    records: &Records,
    principal: &Principal,
    request: &GetForecastRequest,
) -> Result<GetForecastResponse, Error> {
    principal.require(targets::READ)?;
    principal.require(Opportunities::READ)?;
    let mut v = Violations::new();
    let period = targets::period(&mut v, "period", request.period.as_ref());
    let offset = request.utc_offset_minutes;
    if !(-840..=840).contains(&offset) {
        v.add("utc_offset_minutes", "must be from -840 to 840");
    }
    v.finish()?;
    let owner = request.owner_id.trim();
    if !owner.is_empty() && !reaches::<Opportunities>(principal, owner) {
        return Err(Error::invalid("owner_id", "is outside your data scope"));
    }
    let db = &records.db;
    let directory = Directory::load(db, &principal.tenant_id).await?;
    let (mut teams, people) = teams_shown(&directory, principal, request.team_id.trim())?;
    if !owner.is_empty() {
        // One rep's figures are no team's.
        teams.clear();
    }
    let book = RateBook::load(db, &principal.tenant_id).await?;
    let mut sums: BTreeMap<String, Sums> = BTreeMap::new();

    let targets_of_period = || {
        store::scoped::<Targets>(principal)
            .filter(target::Column::PeriodKind.eq(period.kind as i32))
            .filter(target::Column::PeriodStart.eq(period.start))
            .filter(target::Column::DeleteTime.is_null())
    };
    let mut rep_targets = targets_of_period().filter(target::Column::TeamId.eq(""));
    if !owner.is_empty() {
        rep_targets = rep_targets.filter(target::Column::OwnerId.eq(owner));
    }
    if let Some(people) = &people {
        rep_targets = rep_targets.filter(target::Column::OwnerId.is_in(people));
    }
    for t in rep_targets.all(db).await? {
        let line = sums.entry(t.owner_id.clone()).or_default();
        line.add_target(&t, &book, period.start)?;
    }

    let deals_in_scope = || {
        let mut select = store::scoped::<Opportunities>(principal)
            .filter(opportunity::Column::DeleteTime.is_null());
        if !owner.is_empty() {
            select = select.filter(opportunity::Column::OwnerId.eq(owner));
        }
        if let Some(people) = &people {
            select = select.filter(opportunity::Column::OwnerId.is_in(people));
        }
        select
    };
    let from = local_midnight(period.start, offset);
    let until = local_midnight(period.end, offset) + DAY_MICROS;
    let offset_micros = i64::from(offset) * 60_000_000;
    // Summed in the database by owner, currency and local close day: a few rows per rep
    // and day, however many deals.
    let won: Vec<WonGroup> = deals_in_scope()
        .select_only()
        .column(opportunity::Column::OwnerId)
        .column(opportunity::Column::AmountCurrency)
        .column_as(
            Expr::cust(format!("(close_time + {offset_micros}) / {DAY_MICROS}")),
            "day_number",
        )
        .column_as(Expr::cust("COUNT(*)"), "deals")
        .column_as(Expr::cust("CAST(SUM(amount) AS TEXT)"), "total")
        .filter(opportunity::Column::Status.eq(OpportunityStatus::Won as i32))
        .filter(opportunity::Column::CloseTime.gte(from))
        .filter(opportunity::Column::CloseTime.lt(until))
        .group_by(opportunity::Column::OwnerId)
        .group_by(opportunity::Column::AmountCurrency)
        .group_by(Expr::cust("day_number"))
        .into_model::<WonGroup>()
        .all(db)
        .await?;
    for group in won {
        let line = sums.entry(group.owner_id.clone()).or_default();
        line.won_deals += group.deals;
        if let Some(amount) = group.amount() {
            let day = day::of_micros(group.day_number * DAY_MICROS);
            line.won += book.to_base(amount, day)?.amount;
        }
    }
    let open: Vec<OpenGroup> = deals_in_scope()
        .select_only()
        .column(opportunity::Column::OwnerId)
        .column(opportunity::Column::AmountCurrency)
        .column(opportunity::Column::ExpectedCloseDate)
        .column(opportunity::Column::Probability)
        .column_as(Expr::cust("COUNT(*)"), "deals")
        .column_as(Expr::cust("CAST(SUM(amount) AS TEXT)"), "total")
        .filter(opportunity::Column::Status.eq(OpportunityStatus::Open as i32))
        .filter(opportunity::Column::ExpectedCloseDate.gte(period.start))
        .filter(opportunity::Column::ExpectedCloseDate.lte(period.end))
        .group_by(opportunity::Column::OwnerId)
        .group_by(opportunity::Column::AmountCurrency)
        .group_by(opportunity::Column::ExpectedCloseDate)
        .group_by(opportunity::Column::Probability)
        .into_model::<OpenGroup>()
        .all(db)
        .await?;
    for group in open {
        let line = sums.entry(group.owner_id.clone()).or_default();
        line.open_deals += group.deals;
        if let Some(amount) = stored_sum(&group.amount_currency, group.total.as_deref()) {
            let converted = book.to_base(amount, group.expected_close_date)?.amount;
            line.pipeline += converted;
            line.weighted += converted * Decimal::from(group.probability) / Decimal::ONE_HUNDRED;
        }
    }

    // A team's line: its people's deals within the caller's scope, against its own target.
    let mut team_sums: BTreeMap<&str, Sums> = BTreeMap::new();
    let team_ids: Vec<&str> = teams.iter().map(|t| t.team_id.as_str()).collect();
    if !team_ids.is_empty() {
        let team_targets = targets_of_period().filter(target::Column::TeamId.is_in(team_ids));
        for t in team_targets.all(db).await? {
            if let Some(team) = teams.iter().find(|team| team.team_id == t.team_id) {
                let line = team_sums.entry(team.team_id.as_str()).or_default();
                line.add_target(&t, &book, period.start)?;
            }
        }
    }
    let team_lines = teams
        .iter()
        .map(|team| {
            let mut line = team_sums.remove(team.team_id.as_str()).unwrap_or_default();
            for person in directory.rollup(&team.team_id) {
                if let Some(theirs) = sums.get(&person) {
                    line.add_deals(theirs);
                }
            }
            ForecastLine {
                team_id: team.team_id.clone(),
                team_display_name: team.display_name.clone(),
                ..line.line(String::new(), book.base)
            }
        })
        .collect();

    let mut total = Sums::default();
    let lines = sums
        .into_iter()
        .map(|(owner_id, line)| {
            total.add(&line);
            line.line(owner_id, book.base)
        })
        .collect();
    Ok(GetForecastResponse {
        lines,
        total: Some(total.line(String::new(), book.base)),
        base_currency_code: book.base.code().to_owned(),
        team_lines,
    })
}

/// The teams whose lines the caller is shown, and, when the request names a team, the
/// people whose lines it narrows to. A named team must be one the caller is shown.
fn teams_shown<'d>(
    directory: &'d Directory,
    principal: &Principal,
    team_id: &str,
) -> Result<(Vec<&'d directory_team::Model>, Option<Vec<String>>), Error> {
    let reached = directory.teams_reached(principal);
    if team_id.is_empty() {
        return Ok((reached, None));
    }
    if !reached.iter().any(|t| t.team_id == team_id) {
        return Err(Error::invalid("team_id", "names no team you lead"));
    }
    let below = directory.subtree(team_id);
    let teams = reached
        .into_iter()
        .filter(|t| below.contains(&t.team_id.as_str()))
        .collect();
    Ok((teams, Some(directory.rollup(team_id).into_iter().collect())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attainment_is_a_percentage_with_two_decimals() {
        let p = |a: i64, b: i64| percent(Decimal::from(a), Decimal::from(b));
        assert_eq!(p(5, 8).as_deref(), Some("62.50"));
        assert_eq!(p(1, 3).as_deref(), Some("33.33"));
        assert_eq!(p(2, 3).as_deref(), Some("66.67"));
        assert_eq!(p(3, 0), None);
    }

    #[test]
    fn a_local_day_starts_at_its_offset() {
        let utc = local_midnight(20270101, 0);
        assert_eq!(local_midnight(20270101, 480), utc - 8 * 3_600_000_000);
    }
}
