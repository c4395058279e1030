//! Money: an exact decimal amount (`rust_decimal`) in an ISO 4217 currency whose minor units
//! (CNY 2, JPY 0, KWD 3) come from the standard's table (`iso_currency`). Amounts on the
//! wire are decimal strings, never floats.
//!
//! One rounding rule everywhere: a computed amount is rounded to its currency's minor units
//! half away from zero (0.125 CNY is 0.13, 0.124 is 0.12), as Chinese invoicing rounds
//! (四舍五入). Entered amounts are never rounded: one with more decimals than its currency has
//! is refused.

use std::str::FromStr;

use rust_decimal::{Decimal, RoundingStrategy};

use crate::validate::Violations;
use crm_proto::common::Money as WireMoney;

pub use rust_decimal::Decimal as Amount;

/// Largest magnitude of an amount, a quantity or a rate: far beyond any price, and safe to
/// multiply twice within the 28 digits of a decimal.
const MAX_MAGNITUDE: i64 = 1_000_000_000_000;

/// An ISO 4217 currency with minor units.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Currency(iso_currency::Currency);

impl Currency {
    /// The currency of a code such as "CNY", if the standard defines it with minor units
    /// (so not gold or test codes). Codes are upper case.
    pub fn parse(code: &str) -> Option<Self> {
        let currency = iso_currency::Currency::from_code(code)?;
        currency.exponent()?;
        Some(Self(currency))
    }

    /// Checks a code given in `field`.
    pub fn check(v: &mut Violations, field: &str, code: &str) -> Option<Self> {
        if code.is_empty() {
            v.add(field, "is required");
            return None;
        }
        let found = Self::parse(code);
        if found.is_none() {
            v.add(
                field,
                format!("`{code}` is not an ISO 4217 currency code such as CNY"),
            );
        }
        found
    }

    /// The code.
    pub fn code(self) -> &'static str {
        self.0.code()
    }

    /// Its minor units: decimals an amount may have.
    pub fn minor_units(self) -> u32 {
        u32::from(self.0.exponent().unwrap_or(2))
    }

    /// `amount` rounded to the minor units, half away from zero.
    pub fn round(self, amount: Decimal) -> Decimal {
        amount.round_dp_with_strategy(self.minor_units(), RoundingStrategy::MidpointAwayFromZero)
    }

    /// `amount` as text with exactly the currency's decimals ("12.50", JPY "1200").
    pub fn format(self, amount: Decimal) -> String {
        let mut shown = self.round(amount);
        shown.rescale(self.minor_units());
        shown.to_string()
    }
}

/// An amount in a currency.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Money {
    /// The currency.
    pub currency: Currency,
    /// The exact amount.
    pub amount: Decimal,
}

impl Money {
    /// The wire form, with exactly the currency's decimals.
    pub fn to_wire(self) -> WireMoney {
        WireMoney {
            currency_code: self.currency.code().to_owned(),
            amount: self.currency.format(self.amount),
        }
    }

    /// Checks an entered amount in `field` (`<field>.currency_code`, `<field>.amount`): an
    /// ISO 4217 code, or `default` when it is empty and one is given; a decimal of at most
    /// the currency's minor units; not negative.
    pub fn check(
        v: &mut Violations,
        field: &str,
        wire: &WireMoney,
        default: Option<Currency>,
    ) -> Option<Self> {
        let code_field = format!("{field}.currency_code");
        let currency = match (wire.currency_code.as_str(), default) {
            ("", Some(currency)) => Some(currency),
            (code, Some(currency)) if code == currency.code() => Some(currency),
            (code, Some(currency)) => {
                v.add(
                    &code_field,
                    format!(
                        "must be {} (the list's currency), got `{code}`",
                        currency.code()
                    ),
                );
                None
            }
            (code, None) => Currency::check(v, &code_field, code),
        }?;
        let amount_field = format!("{field}.amount");
        let amount = decimal(v, &amount_field, &wire.amount, currency.minor_units())?;
        if amount.is_sign_negative() && !amount.is_zero() {
            v.add(&amount_field, "must not be negative");
            return None;
        }
        Some(Self { currency, amount })
    }
}

/// Checks an entered decimal in `field`: plain digits with an optional sign and point (no
/// exponent, no grouping), at most `max_decimals` decimals, at most 10^12 in magnitude.
pub fn decimal(v: &mut Violations, field: &str, text: &str, max_decimals: u32) -> Option<Decimal> {
    let text = text.trim();
    if text.is_empty() {
        v.add(field, "is required");
        return None;
    }
    let plain = text
        .strip_prefix('-')
        .unwrap_or(text)
        .chars()
        .all(|c| c.is_ascii_digit() || c == '.');
    let Some(value) = plain.then(|| Decimal::from_str(text).ok()).flatten() else {
        v.add(
            field,
            format!("`{text}` is not a decimal number such as 12.50"),
        );
        return None;
    };
    if value.abs() > Decimal::from(MAX_MAGNITUDE) {
        v.add(field, "is too large");
        return None;
    }
    if value.normalize().scale() > max_decimals {
        v.add(field, format!("has more than {max_decimals} decimals"));
        return None;
    }
    Some(value.normalize())
}

/// A stored decimal (written by this service, so known good); zero if it is not one.
pub fn stored(text: &str) -> Decimal {
    Decimal::from_str(text).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wire(code: &str, amount: &str) -> WireMoney {
        WireMoney {
            currency_code: code.into(),
            amount: amount.into(),
        }
    }

    #[test]
    fn minor_units_follow_the_standard() {
        let cny = Currency::parse("CNY").unwrap();
        let jpy = Currency::parse("JPY").unwrap();
        assert_eq!((cny.minor_units(), jpy.minor_units()), (2, 0));
        assert_eq!(Currency::parse("KWD").unwrap().minor_units(), 3);
        assert!(Currency::parse("XAU").is_none(), "gold has no minor units");
        assert!(Currency::parse("cny").is_none() && Currency::parse("ABC").is_none());
        assert_eq!(cny.format(Decimal::from(12)), "12.00");
        assert_eq!(jpy.format(Decimal::from_str("1200").unwrap()), "1200");
    }

    #[test]
    fn rounding_is_half_away_from_zero() {
        let cny = Currency::parse("CNY").unwrap();
        let round = |s: &str| cny.format(Decimal::from_str(s).unwrap());
        assert_eq!(round("0.125"), "0.13");
        assert_eq!(round("0.124"), "0.12");
        assert_eq!(round("-0.125"), "-0.13");
        let jpy = Currency::parse("JPY").unwrap();
        assert_eq!(jpy.format(Decimal::from_str("100.5").unwrap()), "101");
    }

    #[test]
    fn entered_amounts_are_exact_or_refused() {
        let mut v = Violations::new();
        let ok = Money::check(&mut v, "cost", &wire("CNY", "12.5"), None).unwrap();
        assert_eq!(ok.to_wire().amount, "12.50");
        assert!(v.finish().is_ok());
        for (code, amount, field) in [
            ("CNY", "12.505", "cost.amount"),
            ("JPY", "1.5", "cost.amount"),
            ("CNY", "1e3", "cost.amount"),
            ("CNY", "1,000", "cost.amount"),
            ("CNY", "-1", "cost.amount"),
            ("CNY", "", "cost.amount"),
            ("RMB", "1", "cost.currency_code"),
            ("", "1", "cost.currency_code"),
        ] {
            let mut v = Violations::new();
            assert!(Money::check(&mut v, "cost", &wire(code, amount), None).is_none());
            let error = v.finish().unwrap_err().to_string();
            assert!(error.contains(field), "{code} {amount}: {error}");
        }
        let cny = Currency::parse("CNY");
        let mut v = Violations::new();
        assert!(Money::check(&mut v, "price", &wire("", "3"), cny).is_some());
        assert!(Money::check(&mut v, "price", &wire("USD", "3"), cny).is_none());
    }
}
