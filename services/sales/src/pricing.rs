//! What a quantity of a product costs a customer: the applicable price list (its currency,
//! the customer's tier before every tier, valid on the day, the latest to start), then the
//! entry's volume break for the quantity.

use sea_orm::{ColumnTrait, Condition, ConnectionTrait, QueryFilter, QueryOrder};

use crate::entity::price_list::{Column, Model};
use crate::price_list::{self, PriceLists, QUANTITY_DECIMALS};
use crate::product::Products;
use crm_platform::auth::Principal;
use crm_platform::clock;
use crm_platform::error::Error;
use crm_platform::money::{self, Amount, Currency, Money};
use crm_platform::time::day;
use crm_platform::validate::Violations;
use crm_proto::contacts::AccountTier;
use crm_proto::sales::{QuotePriceRequest, QuotePriceResponse};
use crm_records::handlers::Records;
use crm_records::resource::Resource;
use crm_records::store;

/// The price a request asks for.
pub(crate) async fn quote(
    records: &Records,
    principal: &Principal,
    r: &QuotePriceRequest,
) -> Result<QuotePriceResponse, Error> {
    principal.require(PriceLists::READ)?;
    let mut v = Violations::new();
    if r.product_id.is_empty() {
        v.add("product_id", "is required");
    }
    let quantity = if r.quantity.trim().is_empty() {
        Some(Amount::ONE)
    } else {
        money::decimal(&mut v, "quantity", &r.quantity, QUANTITY_DECIMALS)
    };
    if quantity.is_some_and(|q| q <= Amount::ZERO) {
        v.add("quantity", "must be positive");
    }
    let currency = Currency::check(&mut v, "currency_code", &r.currency_code);
    let tier = v.enumeration::<AccountTier>("account_tier", r.account_tier);
    let on = match day::check(&mut v, "date", r.date.as_ref()) {
        0 => day::of_micros(clock::now_micros()),
        on => on,
    };
    v.finish()?;
    let (Some(quantity), Some(currency)) = (quantity, currency) else {
        return Err(Error::internal("checked values are missing"));
    };
    // The product must be one the caller may read, exactly as GetProduct would answer.
    principal.require(Products::READ)?;
    let product = store::find::<Products, _>(&records.db, principal, &r.product_id).await?;
    if product.delete_time.is_some() {
        return Err(Error::not_found(Products::KIND, &r.product_id));
    }
    let lists = applicable(&records.db, principal, currency, tier, on).await?;
    let found = lists.iter().find_map(|list| {
        price_list::entries(list)
            .into_iter()
            .find(|e| e.product_id == r.product_id)
            .map(|entry| (list, entry))
    });
    let Some((list, entry)) = found else {
        return Err(Error::precondition(
            "NO_PRICE",
            format!(
                "no {} price list valid on {} prices product {}",
                currency.code(),
                day::format(on),
                r.product_id
            ),
        ));
    };
    let (unit, min_quantity) = price_list::unit_price(&entry, quantity);
    let money = |amount| Money { currency, amount }.to_wire();
    Ok(QuotePriceResponse {
        price_list_id: list.id.clone(),
        unit_price: Some(money(unit)),
        amount: Some(money(currency.round(unit * quantity))),
        min_quantity: min_quantity.map(|q| q.to_string()).unwrap_or_default(),
    })
}

/// The live lists in `currency` valid on `on` for `tier`, best first: the tier's own before
/// those for every tier, then the latest to start, then the newest.
pub(crate) async fn applicable<C: ConnectionTrait>(
    db: &C,
    principal: &Principal,
    currency: Currency,
    tier: i32,
    on: i32,
) -> Result<Vec<Model>, Error> {
    let tiers = if tier == 0 { vec![0] } else { vec![tier, 0] };
    let mut lists = store::scoped::<PriceLists>(principal)
        .filter(Column::DeleteTime.is_null())
        .filter(Column::CurrencyCode.eq(currency.code()))
        .filter(Column::AccountTier.is_in(tiers))
        .filter(
            Condition::any()
                .add(Column::ValidFrom.eq(0))
                .add(Column::ValidFrom.lte(on)),
        )
        .filter(
            Condition::any()
                .add(Column::ValidUntil.eq(0))
                .add(Column::ValidUntil.gte(on)),
        )
        .order_by_desc(Column::ValidFrom)
        .order_by_desc(Column::CreateTime)
        .all(db)
        .await?;
    // Stable: within each tier the database's order stays.
    lists.sort_by_key(|l| l.account_tier == 0);
    Ok(lists)
}
