//! Priced lines, as quotes and orders carry them: what the writer sends (a product, a
//! quantity, optionally a unit price and a discount), priced in the write's transaction from
//! the catalogue (the product's code, unit and tax rate; the price list's price for the
//! quantity unless the writer sets one), with the amounts computed under one rounding rule
//! and a flag on a line priced below cost.

use rust_decimal::Decimal;
use sea_orm::DatabaseTransaction;
use serde::{Deserialize, Serialize};

use crate::exchange::RateBook;
use crate::price_list::{self, PriceLists, QUANTITY_DECIMALS};
use crate::pricing;
use crate::product::Products;
use crm_platform::auth::Principal;
use crm_platform::error::Error;
use crm_platform::money::{self, Currency, Money};
use crm_platform::time::day;
use crm_platform::validate::Violations;
use crm_proto::sales::{LineItem, ProductStatus};
use crm_records::store;

/// Most lines on a document.
const MAX_LINES: usize = 200;
/// Decimals of a discount percent.
const DISCOUNT_DECIMALS: u32 = 2;

/// The document the lines are priced for.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Document<'a> {
    /// The message name its fields are reported under ("quote").
    pub(crate) prefix: &'a str,
    /// Its currency.
    pub(crate) currency: Currency,
    /// The price list it asks for, empty for the applicable one.
    pub(crate) price_list_id: &'a str,
    /// The day prices are taken on.
    pub(crate) today: i32,
}

/// One line as stored: what the writer sent, then what pricing found and computed (amounts
/// as decimal text in the document's currency).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct StoredLine {
    pub(crate) product_id: String,
    pub(crate) description: String,
    pub(crate) quantity: String,
    /// The price the writer set; empty for the price list's.
    pub(crate) entered_price: String,
    pub(crate) discount_percent: String,
    #[serde(default)]
    pub(crate) product_code: String,
    #[serde(default)]
    pub(crate) product_name: String,
    #[serde(default)]
    pub(crate) unit: String,
    #[serde(default)]
    pub(crate) tax_rate: String,
    /// The unit price used.
    #[serde(default)]
    pub(crate) unit_price: String,
    #[serde(default)]
    pub(crate) list_price: String,
    #[serde(default)]
    pub(crate) gross: String,
    #[serde(default)]
    pub(crate) discount: String,
    #[serde(default)]
    pub(crate) net: String,
    #[serde(default)]
    pub(crate) tax: String,
    #[serde(default)]
    pub(crate) below_cost: bool,
}

/// A line's amounts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct LineAmounts {
    pub(crate) gross: Decimal,
    pub(crate) discount: Decimal,
    pub(crate) net: Decimal,
    pub(crate) tax: Decimal,
}

/// The one rounding rule: gross = quantity × unit price and net = gross × (1 − discount) are
/// each rounded to the currency's minor units half away from zero; the discount is their
/// difference; tax = net × rate, rounded the same way. A document's totals are sums of these.
pub(crate) fn line_amounts(
    currency: Currency,
    quantity: Decimal,
    unit_price: Decimal,
    discount_percent: Decimal,
    tax_rate: Decimal,
) -> LineAmounts {
    let exact = quantity * unit_price;
    let gross = currency.round(exact);
    let net =
        currency.round(exact * (Decimal::ONE_HUNDRED - discount_percent) / Decimal::ONE_HUNDRED);
    LineAmounts {
        gross,
        discount: gross - net,
        net,
        tax: currency.round(net * tax_rate),
    }
}

/// A document's totals: gross, discount, net, tax, total.
pub(crate) fn totals(lines: &[StoredLine]) -> [Decimal; 5] {
    let sum =
        |f: fn(&StoredLine) -> &str| lines.iter().map(|l| money::stored(f(l))).sum::<Decimal>();
    let gross = sum(|l| &l.gross);
    let discount = sum(|l| &l.discount);
    let net = sum(|l| &l.net);
    let tax = sum(|l| &l.tax);
    [gross, discount, net, tax, net + tax]
}

/// The largest line discount in percent.
pub(crate) fn max_discount(lines: &[StoredLine]) -> Decimal {
    lines
        .iter()
        .map(|l| money::stored(&l.discount_percent))
        .max()
        .unwrap_or_default()
}

/// Checks the sent lines' shape (pricing, which reads the catalogue, comes in the write).
pub(crate) fn sent_lines(
    v: &mut Violations,
    prefix: &str,
    input: &[LineItem],
    currency: Option<Currency>,
) -> Vec<StoredLine> {
    if input.len() > MAX_LINES {
        v.add(&format!("{prefix}.lines"), "must have at most 200 lines");
    }
    let mut stored = Vec::with_capacity(input.len());
    for (i, line) in input.iter().enumerate() {
        let field = |name: &str| format!("{prefix}.lines[{i}].{name}");
        let product_id = line.product_id.trim().to_owned();
        v.required(&field("product_id"), &product_id);
        let description = line.description.trim().to_owned();
        v.max_chars(&field("description"), &description, 500);
        let quantity = money::decimal(v, &field("quantity"), &line.quantity, QUANTITY_DECIMALS);
        if quantity.is_some_and(|q| q <= Decimal::ZERO) {
            v.add(&field("quantity"), "must be positive");
        }
        let mut entered_price = String::new();
        if let (Some(sent), Some(currency)) = (line.unit_price.as_ref(), currency) {
            let name = field("unit_price");
            if !sent.currency_code.is_empty() && sent.currency_code != currency.code() {
                v.add(
                    &format!("{name}.currency_code"),
                    format!("must be {}, the document's currency", currency.code()),
                );
            } else if let Some(price) = Money::check(v, &name, sent, Some(currency)) {
                entered_price = price.amount.to_string();
            }
        }
        let mut discount_percent = "0".to_owned();
        if !line.discount_percent.trim().is_empty() {
            let name = field("discount_percent");
            if let Some(d) = money::decimal(v, &name, &line.discount_percent, DISCOUNT_DECIMALS) {
                if d < Decimal::ZERO || d > Decimal::ONE_HUNDRED {
                    v.add(&name, "must be from 0 to 100");
                }
                discount_percent = d.normalize().to_string();
            }
        }
        stored.push(StoredLine {
            product_id,
            description,
            quantity: quantity
                .map(|q| q.normalize().to_string())
                .unwrap_or_default(),
            entered_price,
            discount_percent,
            ..Default::default()
        });
    }
    stored
}

/// A line's amount as wire money.
fn wire(currency: Option<Currency>, text: &str) -> Option<crm_proto::common::Money> {
    let currency = currency?;
    (!text.is_empty()).then(|| {
        Money {
            currency,
            amount: money::stored(text),
        }
        .to_wire()
    })
}

/// A stored line on the wire.
pub(crate) fn line_to_proto(currency: Option<Currency>, l: &StoredLine) -> LineItem {
    let total = money::stored(&l.net) + money::stored(&l.tax);
    LineItem {
        product_id: l.product_id.clone(),
        description: l.description.clone(),
        quantity: l.quantity.clone(),
        unit_price: wire(currency, &l.unit_price),
        discount_percent: l.discount_percent.clone(),
        product_code: l.product_code.clone(),
        unit: l.unit.clone(),
        tax_rate: l.tax_rate.clone(),
        list_price: wire(currency, &l.list_price),
        gross_amount: wire(currency, &l.gross),
        discount_amount: wire(currency, &l.discount),
        net_amount: wire(currency, &l.net),
        tax_amount: wire(currency, &l.tax),
        total_amount: wire(currency, &total.to_string()),
        below_cost: l.below_cost,
        shipped_quantity: String::new(),
    }
}

/// Prices every line on `today`: the product's facts, the unit price (entered, or the price
/// list's for the quantity), the amounts, and whether the net unit price is below cost.
pub(crate) async fn price(
    txn: &DatabaseTransaction,
    principal: &Principal,
    document: Document<'_>,
    mut priced: Vec<StoredLine>,
) -> Result<Vec<StoredLine>, Error> {
    let Document {
        prefix,
        currency,
        price_list_id,
        today,
    } = document;
    let list_field = format!("{prefix}.price_list_id");
    let lists = if price_list_id.is_empty() {
        pricing::applicable(txn, principal, currency, 0, today).await?
    } else {
        let hidden = || Error::invalid(&list_field, "is not a live price list you can see");
        let list = store::find::<PriceLists, _>(txn, principal, price_list_id)
            .await
            .map_err(|e| match e {
                Error::NotFound { .. } => hidden(),
                other => other,
            })?;
        if list.delete_time.is_some() {
            return Err(hidden());
        }
        if list.currency_code != currency.code() {
            return Err(Error::invalid(
                &list_field,
                format!(
                    "is in {}, not the document's {}",
                    list.currency_code,
                    currency.code()
                ),
            ));
        }
        let valid = (list.valid_from == 0 || list.valid_from <= today)
            && (list.valid_until == 0 || list.valid_until >= today);
        if !valid {
            return Err(Error::invalid(&list_field, "is not valid today"));
        }
        vec![list]
    };
    let rates = RateBook::load(txn, &principal.tenant_id).await?;
    let mut v = Violations::new();
    for (i, line) in priced.iter_mut().enumerate() {
        let field = format!("{prefix}.lines[{i}].product_id");
        let product = match store::find::<Products, _>(txn, principal, &line.product_id).await {
            Ok(p) if p.delete_time.is_none() && p.status == ProductStatus::Active as i32 => p,
            Ok(_) | Err(Error::NotFound { .. }) => {
                v.add(&field, "is not a live, active product");
                continue;
            }
            Err(other) => return Err(other),
        };
        let quantity = money::stored(&line.quantity);
        let listed = lists.iter().find_map(|list| {
            price_list::entries(list)
                .into_iter()
                .find(|e| e.product_id == line.product_id)
                .map(|entry| price_list::unit_price(&entry, quantity).0)
        });
        let unit_price = match (line.entered_price.is_empty(), listed) {
            (false, _) => money::stored(&line.entered_price),
            (true, Some(listed)) => listed,
            (true, None) => {
                v.add(
                    &format!("{prefix}.lines[{i}].unit_price"),
                    format!(
                        "is required: no {} price list valid on {} prices product {}",
                        currency.code(),
                        day::format(today),
                        product.code
                    ),
                );
                continue;
            }
        };
        let discount = money::stored(&line.discount_percent);
        let tax_rate = money::stored(&product.tax_rate);
        let amounts = line_amounts(currency, quantity, unit_price, discount, tax_rate);
        let net_unit = unit_price * (Decimal::ONE_HUNDRED - discount) / Decimal::ONE_HUNDRED;
        line.below_cost = match Products::cost(&product) {
            Some(cost) => below(
                &rates,
                Money {
                    currency,
                    amount: net_unit,
                },
                cost,
                today,
            )?,
            None => false,
        };
        if line.description.is_empty() {
            line.description = product.display_name.clone();
        }
        line.product_code = product.code.clone();
        line.product_name = product.display_name.clone();
        line.unit = product.unit.clone();
        line.tax_rate = product.tax_rate.clone();
        line.unit_price = unit_price.to_string();
        line.list_price = listed.map(|l| l.to_string()).unwrap_or_default();
        line.gross = amounts.gross.to_string();
        line.discount = amounts.discount.to_string();
        line.net = amounts.net.to_string();
        line.tax = amounts.tax.to_string();
    }
    v.finish()?;
    Ok(priced)
}

/// Whether `price` is below `cost`: compared as they are in one currency, else both in the
/// base currency at the day's rates.
fn below(rates: &RateBook, price: Money, cost: Money, on: i32) -> Result<bool, Error> {
    if price.currency == cost.currency {
        return Ok(price.amount < cost.amount);
    }
    let exact = |m: Money| -> Result<Decimal, Error> {
        if m.currency == rates.base {
            return Ok(m.amount);
        }
        // One unit converted, so a price in yen is not rounded away before the comparison.
        let rate = rates.to_base(
            Money {
                currency: m.currency,
                amount: Decimal::from(1_000_000),
            },
            on,
        )?;
        Ok(m.amount * rate.amount / Decimal::from(1_000_000))
    };
    Ok(exact(price)? < exact(cost)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(text: &str) -> Decimal {
        text.parse().unwrap()
    }

    #[test]
    fn lines_round_half_away_from_zero_in_the_currency() {
        let cny = Currency::parse("CNY").unwrap();
        // 3 × 33.335 = 100.005 → 100.01; less 10% = 90.0045 → 90.00; tax 13% = 11.70.
        let a = line_amounts(cny, d("3"), d("33.335"), d("10"), d("0.13"));
        assert_eq!(
            (a.gross, a.discount, a.net, a.tax),
            (d("100.01"), d("10.01"), d("90.00"), d("11.70"))
        );
        let jpy = Currency::parse("JPY").unwrap();
        // 7 × 150 = 1050; less 5% = 997.5 → 998; tax 10% = 99.8 → 100.
        let a = line_amounts(jpy, d("7"), d("150"), d("5"), d("0.1"));
        assert_eq!(
            (a.gross, a.discount, a.net, a.tax),
            (d("1050"), d("52"), d("998"), d("100"))
        );
    }

    #[test]
    fn totals_are_sums_of_rounded_lines() {
        let line = |gross: &str, discount: &str, net: &str, tax: &str| StoredLine {
            gross: gross.into(),
            discount: discount.into(),
            net: net.into(),
            tax: tax.into(),
            ..Default::default()
        };
        let t = totals(&[
            line("100.01", "10.01", "90.00", "11.70"),
            line("0.01", "0", "0.01", "0"),
        ]);
        assert_eq!(
            t,
            [d("100.02"), d("10.01"), d("90.01"), d("11.70"), d("101.71")]
        );
    }
}
