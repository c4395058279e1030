//! A tenant's base currency and its exchange rates, and conversion into the base currency
//! at the rate of a day (the latest rate on or before it), so forecasts and targets add
//! amounts quoted in many currencies.

use sea_orm::sea_query::OnConflict;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, ConnectionTrait, EntityTrait, IntoActiveModel,
    PaginatorTrait, QueryFilter, QueryOrder, QuerySelect,
};

use crate::entity::{catalog_settings, exchange_rate};
use crm_platform::audit;
use crm_platform::auth::Principal;
use crm_platform::clock;
use crm_platform::error::Error;
use crm_platform::etag;
use crm_platform::idempotency::{RequestKey, mutate};
use crm_platform::money::{self, Currency, Money};
use crm_platform::paging::{self, Cursor, SortKey};
use crm_platform::time::{day, to_timestamp};
use crm_platform::validate::Violations;
use crm_proto::sales::{
    CatalogSettings, ExchangeRate, SalesEvent, SalesEventType, sales_event::Subject,
};
use crm_records::handlers::{Idempotency, Records, announce};

/// Permission to read rates and settings, and to convert.
pub(crate) const READ: &str = "sales.exchange_rates.read";
/// Permission to set rates and the base currency.
pub(crate) const WRITE: &str = "sales.exchange_rates.write";
/// The base currency of a tenant that has not set one: the first market's.
pub(crate) const DEFAULT_BASE: &str = "CNY";
/// Most decimals of a rate.
pub(crate) const RATE_DECIMALS: u32 = 10;
/// Largest page of rates.
const MAX_PAGE_SIZE: u64 = 1000;

/// A tenant's settings: its base currency and the version of its row (0 before any change).
async fn settings<C: ConnectionTrait>(db: &C, tenant_id: &str) -> Result<(Currency, i64), Error> {
    let row = catalog_settings::Entity::find_by_id(tenant_id)
        .one(db)
        .await?;
    let (code, version) = row.map_or((DEFAULT_BASE.to_owned(), 0), |r| {
        (r.base_currency_code, r.version)
    });
    let currency = Currency::parse(&code)
        .ok_or_else(|| Error::internal("a stored base currency is not a currency"))?;
    Ok((currency, version))
}

fn settings_proto(base: Currency, version: i64) -> CatalogSettings {
    CatalogSettings {
        base_currency_code: base.code().to_owned(),
        etag: etag::format(version),
    }
}

fn rate_proto(row: &exchange_rate::Model, base: Currency) -> ExchangeRate {
    ExchangeRate {
        currency_code: row.currency_code.clone(),
        rate: row.rate.clone(),
        effective_date: day::to_wire(row.effective_date),
        base_currency_code: base.code().to_owned(),
        update_time: Some(to_timestamp(row.update_time)),
    }
}

fn event(kind: SalesEventType, subject: Subject) -> SalesEvent {
    SalesEvent {
        r#type: kind as i32,
        subject: Some(subject),
        ..Default::default()
    }
}

/// The caller's tenant's settings.
pub(crate) async fn get_settings(
    records: &Records,
    principal: &Principal,
) -> Result<CatalogSettings, Error> {
    principal.require(READ)?;
    let (base, version) = settings(&records.db, &principal.tenant_id).await?;
    Ok(settings_proto(base, version))
}

/// Changes the base currency, which only a tenant without exchange rates may do: every rate
/// is into the base, so changing it under them would silently change every conversion.
pub(crate) async fn update_settings<M: prost::Message>(
    records: &Records,
    principal: &Principal,
    idem: Idempotency<'_, M>,
    input: CatalogSettings,
) -> Result<CatalogSettings, Error> {
    principal.require(WRITE)?;
    let key = RequestKey::new(principal, idem.method, idem.request_id, idem.request)?;
    let mut v = Violations::new();
    let base = Currency::check(
        &mut v,
        "settings.base_currency_code",
        &input.base_currency_code,
    );
    let expected = etag::parse("settings.etag", &input.etag)?;
    v.finish()?;
    let base = base.ok_or_else(|| Error::internal("a checked currency is missing"))?;
    let tenant_id = principal.tenant_id.as_str();
    let updated = mutate(&records.db, key.as_ref(), |txn| async move {
        crm_platform::db::lock_keys(&txn, &[format!("{tenant_id}/catalog_settings")]).await?;
        let (current, version) = settings(&txn, tenant_id).await?;
        if expected.is_some_and(|e| e != version) {
            return Err(Error::StaleEtag {
                resource: "catalog_settings",
            });
        }
        if current == base {
            return Ok((txn, settings_proto(current, version)));
        }
        let rates = exchange_rate::Entity::find()
            .filter(exchange_rate::Column::TenantId.eq(tenant_id))
            .count(&txn)
            .await?;
        if rates > 0 {
            return Err(Error::precondition(
                "EXCHANGE_RATES_EXIST",
                format!(
                    "{rates} exchange rates convert into {}; the base currency changes only before any is set",
                    current.code()
                ),
            ));
        }
        let row = catalog_settings::Model {
            tenant_id: tenant_id.to_owned(),
            base_currency_code: base.code().to_owned(),
            version: version + 1,
            update_time: clock::now_micros(),
        };
        catalog_settings::Entity::insert(row.clone().into_active_model())
            .on_conflict(
                OnConflict::column(catalog_settings::Column::TenantId)
                    .update_columns([
                        catalog_settings::Column::BaseCurrencyCode,
                        catalog_settings::Column::Version,
                        catalog_settings::Column::UpdateTime,
                    ])
                    .to_owned(),
            )
            .exec(&txn)
            .await?;
        let change = audit::Change {
            field: "base_currency_code".to_owned(),
            before: current.code().to_owned(),
            after: base.code().to_owned(),
        };
        audit::record(&txn, principal, "catalog_settings", tenant_id, "update", &[change]).await?;
        let proto = settings_proto(base, row.version);
        let subject = Subject::CatalogSettings(proto.clone());
        let announced = event(SalesEventType::CatalogSettingsUpdated, subject);
        announce(&txn, tenant_id, &principal.user_id, announced, tenant_id).await?;
        Ok((txn, proto))
    })
    .await?;
    records.relay.wake();
    Ok(updated)
}

/// Sets the rate of a currency from a day on (replacing the rate of that day, if any).
pub(crate) async fn set_rate<M: prost::Message>(
    records: &Records,
    principal: &Principal,
    idem: Idempotency<'_, M>,
    input: ExchangeRate,
) -> Result<ExchangeRate, Error> {
    principal.require(WRITE)?;
    let key = RequestKey::new(principal, idem.method, idem.request_id, idem.request)?;
    let mut v = Violations::new();
    let currency = Currency::check(&mut v, "exchange_rate.currency_code", &input.currency_code);
    let rate = money::decimal(&mut v, "exchange_rate.rate", &input.rate, RATE_DECIMALS);
    if rate.is_some_and(|r| r <= money::Amount::ZERO) {
        v.add("exchange_rate.rate", "must be positive");
    }
    let effective = day::check(
        &mut v,
        "exchange_rate.effective_date",
        input.effective_date.as_ref(),
    );
    let unset = crm_proto::common::Date::default();
    if input.effective_date.as_ref().is_none_or(|d| *d == unset) {
        v.add("exchange_rate.effective_date", "is required");
    }
    v.finish()?;
    let (Some(currency), Some(rate)) = (currency, rate) else {
        return Err(Error::internal("checked values are missing"));
    };
    let tenant_id = principal.tenant_id.as_str();
    let stored = mutate(&records.db, key.as_ref(), |txn| async move {
        // Serialises with a change of the base currency.
        crm_platform::db::lock_keys(&txn, &[format!("{tenant_id}/catalog_settings")]).await?;
        let (base, _) = settings(&txn, tenant_id).await?;
        if base == currency {
            return Err(Error::invalid(
                "exchange_rate.currency_code",
                format!("{} is the base currency", base.code()),
            ));
        }
        let id = (tenant_id.to_owned(), currency.code().to_owned(), effective);
        let before = exchange_rate::Entity::find_by_id(id).one(&txn).await?;
        let row = exchange_rate::Model {
            tenant_id: tenant_id.to_owned(),
            currency_code: currency.code().to_owned(),
            effective_date: effective,
            rate: rate.to_string(),
            update_time: clock::now_micros(),
        };
        match &before {
            Some(_) => {
                row.clone()
                    .into_active_model()
                    .reset_all()
                    .update(&txn)
                    .await?
            }
            None => row.clone().into_active_model().insert(&txn).await?,
        };
        let change = audit::Change {
            field: "rate".to_owned(),
            before: before.map(|b| b.rate).unwrap_or_default(),
            after: row.rate.clone(),
        };
        let record_id = format!("{}/{}", row.currency_code, day::format(effective));
        audit::record(
            &txn,
            principal,
            "exchange_rate",
            &record_id,
            "set",
            &[change],
        )
        .await?;
        let proto = rate_proto(&row, base);
        let announced = event(
            SalesEventType::ExchangeRateSet,
            Subject::ExchangeRate(proto.clone()),
        );
        announce(&txn, tenant_id, &principal.user_id, announced, &record_id).await?;
        Ok((txn, proto))
    })
    .await?;
    records.relay.wake();
    Ok(stored)
}

/// One page of the tenant's rates (of one currency, if named), by currency and newest day
/// first.
pub(crate) async fn list_rates(
    records: &Records,
    principal: &Principal,
    currency_code: &str,
    (page_size, page_token): (i32, &str),
) -> Result<(Vec<ExchangeRate>, String), Error> {
    principal.require(READ)?;
    let limit = paging::page_size(page_size, MAX_PAGE_SIZE)?;
    let binding = paging::binding(&["exchange_rates", &principal.tenant_id, currency_code]);
    let cursor = records.pages.read(page_token, &binding)?;
    let (base, _) = settings(&records.db, &principal.tenant_id).await?;
    let mut query = exchange_rate::Entity::find()
        .filter(exchange_rate::Column::TenantId.eq(principal.tenant_id.as_str()));
    if !currency_code.is_empty() {
        query = query.filter(exchange_rate::Column::CurrencyCode.eq(currency_code));
    }
    if let Some(Cursor {
        key: SortKey::Int(after_day),
        id: after_currency,
    }) = &cursor
    {
        query = query.filter(
            Condition::any()
                .add(exchange_rate::Column::CurrencyCode.gt(after_currency.as_str()))
                .add(
                    Condition::all()
                        .add(exchange_rate::Column::CurrencyCode.eq(after_currency.as_str()))
                        .add(exchange_rate::Column::EffectiveDate.lt(*after_day)),
                ),
        );
    }
    let rows = query
        .order_by_asc(exchange_rate::Column::CurrencyCode)
        .order_by_desc(exchange_rate::Column::EffectiveDate)
        .limit(limit + 1)
        .all(&records.db)
        .await?;
    let (rows, next) = paging::split_page(rows, limit, |r| Cursor {
        key: SortKey::Int(i64::from(r.effective_date)),
        id: r.currency_code.clone(),
    });
    let token = next
        .map(|c| records.pages.issue(c, &binding))
        .unwrap_or_default();
    Ok((rows.iter().map(|r| rate_proto(r, base)).collect(), token))
}

/// The refusal of a conversion no rate makes.
fn no_rate(from: Currency, base: Currency, on: i32) -> Error {
    Error::precondition(
        "NO_EXCHANGE_RATE",
        format!(
            "no rate converts {} into {} on {}",
            from.code(),
            base.code(),
            day::format(on)
        ),
    )
}

/// The tenant's base currency.
pub(crate) async fn base_currency<C: ConnectionTrait>(
    db: &C,
    tenant_id: &str,
) -> Result<Currency, Error> {
    Ok(settings(db, tenant_id).await?.0)
}

/// Every rate of a tenant, read once, to convert many amounts (a forecast's deals) without
/// a query each.
#[derive(Debug, Clone)]
pub(crate) struct RateBook {
    /// The base currency.
    pub(crate) base: Currency,
    /// Each currency's rates by effective day, oldest first.
    rates: std::collections::HashMap<String, Vec<(i32, rust_decimal::Decimal)>>,
}

impl RateBook {
    /// Reads the tenant's base currency and rates.
    pub(crate) async fn load<C: ConnectionTrait>(db: &C, tenant_id: &str) -> Result<Self, Error> {
        let base = base_currency(db, tenant_id).await?;
        let rows = exchange_rate::Entity::find()
            .filter(exchange_rate::Column::TenantId.eq(tenant_id))
            .order_by_asc(exchange_rate::Column::EffectiveDate)
            .all(db)
            .await?;
        let mut rates: std::collections::HashMap<String, Vec<_>> = Default::default();
        for row in rows {
            let rate = money::stored(&row.rate);
            rates
                .entry(row.currency_code)
                .or_default()
                .push((row.effective_date, rate));
        }
        Ok(Self { base, rates })
    }

    /// `money` in the base currency at the latest rate on or before `on`, rounded to the
    /// base currency's minor units, exactly as [`to_base`] converts it.
    pub(crate) fn to_base(&self, money: Money, on: i32) -> Result<Money, Error> {
        if money.currency == self.base {
            return Ok(money);
        }
        let rate = self
            .rates
            .get(money.currency.code())
            .and_then(|rates| rates.iter().rev().find(|(day, _)| *day <= on))
            .map(|(_, rate)| *rate)
            .ok_or_else(|| no_rate(money.currency, self.base, on))?;
        Ok(Money {
            currency: self.base,
            amount: self.base.round(money.amount * rate),
        })
    }
}

/// `money` in the base currency at the rate of `on` (a `yyyymmdd` day), and the rate used
/// (none when it was in the base currency already).
pub(crate) async fn to_base<C: ConnectionTrait>(
    db: &C,
    tenant_id: &str,
    money: Money,
    on: i32,
) -> Result<(Money, Option<ExchangeRate>), Error> {
    let (base, _) = settings(db, tenant_id).await?;
    if money.currency == base {
        return Ok((money, None));
    }
    let rate = exchange_rate::Entity::find()
        .filter(exchange_rate::Column::TenantId.eq(tenant_id))
        .filter(exchange_rate::Column::CurrencyCode.eq(money.currency.code()))
        .filter(exchange_rate::Column::EffectiveDate.lte(on))
        .order_by_desc(exchange_rate::Column::EffectiveDate)
        .one(db)
        .await?
        .ok_or_else(|| no_rate(money.currency, base, on))?;
    let converted = Money {
        currency: base,
        amount: base.round(money.amount * money::stored(&rate.rate)),
    };
    Ok((converted, Some(rate_proto(&rate, base))))
}

/// Converts an amount the caller sends into the base currency.
pub(crate) async fn convert(
    records: &Records,
    principal: &Principal,
    money: Option<&crm_proto::common::Money>,
    date: Option<&crm_proto::common::Date>,
) -> Result<(Money, Option<ExchangeRate>), Error> {
    principal.require(READ)?;
    let mut v = Violations::new();
    let wire = money.cloned().unwrap_or_default();
    let money = Money::check(&mut v, "money", &wire, None);
    let on = match day::check(&mut v, "date", date) {
        0 => day::of_micros(clock::now_micros()),
        on => on,
    };
    v.finish()?;
    let money = money.ok_or_else(|| Error::internal("a checked amount is missing"))?;
    to_base(&records.db, &principal.tenant_id, money, on).await
}
