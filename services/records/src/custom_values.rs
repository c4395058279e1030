//! Custom field values: their text form on the wire, their stored form, their checks against
//! the tenant's definitions, and the record-index keys that filters find them by.
//!
//! A record keeps its values as a JSON object by field name; a multi-choice value is a list,
//! every other value its canonical text ("12.5", "2026-11-23", "true"). Index keys are
//! `name=value`, lowercased text, or for canonical numbers a fixed-width digit string that
//! sorts in numeric order, so range filters on numbers compare keys.

use std::collections::{BTreeMap, HashMap};

use sea_orm::sea_query::{Expr, ExprTrait as _, LikeExpr, Query};
use sea_orm::{ColumnTrait, Condition};
use serde::{Deserialize, Serialize};

use crate::entity::custom_field::Model as Definition;
use crate::entity::record_index;
use crate::json;
use crate::resource::{IndexKey, Resource};
use crm_platform::error::Error;
use crm_platform::filter::{Comparison, Op};
use crm_platform::time::days_in_month;
use crm_platform::validate::Violations;
use crm_proto::common::CustomFieldType;

/// The record-index kind of custom values.
pub const INDEX_KIND: &str = "custom";
/// Most custom fields a tenant defines per resource type.
pub const MAX_DEFINITIONS: u64 = 100;
/// Separator of a multi-choice value's options on the wire.
pub const CHOICE_SEPARATOR: char = ';';
/// Longest text value, in characters.
pub const MAX_TEXT: usize = 200;
/// Largest whole part of a number or decimal (15 digits).
const MAX_WHOLE: i128 = 999_999_999_999_999;
/// Digits after the point a decimal keeps.
const SCALE_DIGITS: usize = 6;
const SCALE: i128 = 1_000_000;
/// Added to scaled numbers so every index key is a non-negative fixed-width integer.
const KEY_OFFSET: i128 = 10_i128.pow(22);

/// One stored value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Stored {
    /// Canonical text of a single value.
    One(String),
    /// The options of a multi-choice value, in definition order.
    Many(Vec<String>),
}

impl Stored {
    /// The wire text.
    pub fn to_text(&self) -> String {
        match self {
            Stored::One(text) => text.clone(),
            Stored::Many(options) => options.join(&CHOICE_SEPARATOR.to_string()),
        }
    }
}

/// A record's values by field name.
pub type Values = BTreeMap<String, Stored>;

/// Reads a record's stored values.
pub fn read(json: &str) -> Values {
    serde_json::from_str(json).unwrap_or_default()
}

/// Writes a record's values.
pub fn write(values: &Values) -> String {
    serde_json::to_string(values).unwrap_or_else(|_| "{}".to_owned())
}

/// The wire map of stored values.
pub fn to_wire(json: &str) -> HashMap<String, String> {
    read(json)
        .into_iter()
        .map(|(name, value)| (name, value.to_text()))
        .collect()
}

/// Sets the values a request gives over the stored ones (an empty value clears one); they are
/// checked and made canonical by [`check`] before the write.
pub fn merge_wire(json: &str, input: &HashMap<String, String>) -> String {
    let mut values = read(json);
    for (name, text) in input {
        if text.trim().is_empty() {
            values.remove(name);
        } else {
            values.insert(name.clone(), Stored::One(text.clone()));
        }
    }
    write(&values)
}

/// Keeps the survivor's values and adds the merged record's others.
pub fn absorb(survivor: &str, merged: &str) -> String {
    let mut values = read(survivor);
    for (name, value) in read(merged) {
        values.entry(name).or_insert(value);
    }
    write(&values)
}

/// The canonical stored form of `text` for a field, or why it does not fit.
pub fn canonical(def: &Definition, text: &str) -> Result<Stored, String> {
    let text = crm_platform::normalize::halfwidth(text.trim());
    let options: Vec<String> = json::from_json(&def.options);
    // Looked up by their lowercase form, so a value of many parts costs one lookup a part.
    let by_lowercase: std::collections::HashMap<String, &String> =
        options.iter().map(|o| (o.to_lowercase(), o)).collect();
    let option = |wanted: &str| {
        by_lowercase
            .get(&wanted.to_lowercase())
            .map(|o| (*o).clone())
            .ok_or_else(|| format!("`{wanted}` is not one of its options"))
    };
    let one = match CustomFieldType::try_from(def.field_type) {
        Ok(CustomFieldType::Text) => {
            if text.chars().count() > MAX_TEXT {
                return Err(format!("must be at most {MAX_TEXT} characters"));
            }
            text
        }
        Ok(CustomFieldType::Number) => {
            let scaled = parse_decimal(&text).filter(|n| n % SCALE == 0);
            format_decimal(scaled.ok_or("must be a whole number of at most 15 digits")?)
        }
        Ok(CustomFieldType::Decimal) => format_decimal(parse_decimal(&text).ok_or(
            "must be a decimal number with at most 15 digits before the point and 6 after",
        )?),
        Ok(CustomFieldType::Date) => parse_date(&text).ok_or("must be a date as YYYY-MM-DD")?,
        Ok(CustomFieldType::Boolean) => match text.to_lowercase().as_str() {
            "true" => "true".to_owned(),
            "false" => "false".to_owned(),
            _ => return Err("must be true or false".to_owned()),
        },
        Ok(CustomFieldType::SingleChoice) => option(&text)?,
        Ok(CustomFieldType::MultiChoice) => {
            let mut chosen = std::collections::HashSet::new();
            for part in text.split(CHOICE_SEPARATOR).map(str::trim) {
                if !part.is_empty() {
                    chosen.insert(option(part)?);
                }
            }
            let in_order = options
                .iter()
                .filter(|o| chosen.contains(*o))
                .cloned()
                .collect();
            return Ok(Stored::Many(in_order));
        }
        Ok(CustomFieldType::Unspecified) | Err(_) => return Err("has no known type".to_owned()),
    };
    Ok(Stored::One(one))
}

/// A decimal scaled by 10^6, or `None` when it is not a number within the limits.
fn parse_decimal(text: &str) -> Option<i128> {
    let (negative, digits) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text.strip_prefix('+').unwrap_or(text)),
    };
    let (whole, fraction) = digits.split_once('.').unwrap_or((digits, ""));
    let all_digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if whole.is_empty() || !all_digits(whole) || !all_digits(fraction) {
        return None;
    }
    let fraction = fraction.trim_end_matches('0');
    if fraction.len() > SCALE_DIGITS || whole.trim_start_matches('0').len() > 15 {
        return None;
    }
    let whole: i128 = whole.parse().ok()?;
    let fraction: i128 = format!("{fraction:0<6}").parse().ok()?;
    if whole > MAX_WHOLE {
        return None;
    }
    let scaled = whole * SCALE + fraction;
    Some(if negative { -scaled } else { scaled })
}

/// The canonical text of a scaled decimal: no leading zeros, no trailing fractional zeros.
fn format_decimal(scaled: i128) -> String {
    let sign = if scaled < 0 { "-" } else { "" };
    let abs = scaled.abs();
    let (whole, fraction) = (abs / SCALE, abs % SCALE);
    if fraction == 0 {
        format!("{sign}{whole}")
    } else {
        let fraction = format!("{fraction:06}");
        format!("{sign}{whole}.{}", fraction.trim_end_matches('0'))
    }
}

fn parse_date(text: &str) -> Option<String> {
    let mut parts = text.splitn(3, '-');
    let year: i32 = parts.next()?.parse().ok()?;
    let month: u32 = parts.next()?.parse().ok()?;
    let day: u32 = parts.next()?.parse().ok()?;
    let valid = (1..=9999).contains(&year)
        && (1..=12).contains(&month)
        && day >= 1
        && day <= days_in_month(year, month);
    valid.then(|| format!("{year:04}-{month:02}-{day:02}"))
}

/// The index form of one value: a sortable key for canonical numbers, lowercased text
/// otherwise. Both sides of a filter go through it, so they always agree.
fn index_value(text: &str) -> String {
    match parse_decimal(text) {
        Some(scaled) if format_decimal(scaled) == text => {
            format!("#{:023}", scaled + KEY_OFFSET)
        }
        _ => text.to_lowercase(),
    }
}

/// The record-index keys of a record's values.
pub fn index_keys(json: &str) -> Vec<IndexKey> {
    let key =
        |name: &str, text: &str| IndexKey::new(INDEX_KIND, format!("{name}={}", index_value(text)));
    read(json)
        .iter()
        .flat_map(|(name, value)| match value {
            Stored::One(text) => vec![key(name, text)],
            Stored::Many(options) => options.iter().map(|o| key(name, o)).collect(),
        })
        .collect()
}

/// The index key of one option or value of field `name`, for in-use checks.
pub fn index_key(name: &str, text: &str) -> String {
    format!("{name}={}", index_value(text))
}

/// Checks a record's values against the definitions, makes them canonical and, when
/// `require` (a create, or an update that changed custom values), demands required ones.
/// Errors name `<kind>.custom_fields[<name>]`.
pub fn check(
    kind: &str,
    definitions: &[Definition],
    json: &str,
    require: bool,
) -> Result<String, Error> {
    let given = read(json);
    let mut v = Violations::new();
    // No resource type has more definitions than this: a longer map is refused before any
    // value is read.
    let cap = MAX_DEFINITIONS as usize;
    if !v.at_most(&format!("{kind}.custom_fields"), given.len(), cap) {
        return v.finish().map(|()| String::new());
    }
    let mut values = Values::new();
    for (name, value) in given {
        let field = format!("{kind}.custom_fields[{name}]");
        let Some(def) = definitions.iter().find(|d| d.name == name) else {
            v.add(&field, "is not a defined custom field");
            continue;
        };
        match canonical(def, &value.to_text()) {
            Ok(Stored::Many(options)) if options.is_empty() => {}
            Ok(Stored::One(text)) if text.is_empty() => {}
            Ok(stored) => {
                values.insert(name, stored);
            }
            Err(why) => v.add(&field, why),
        }
    }
    if require {
        for def in definitions.iter().filter(|d| d.required) {
            if !values.contains_key(&def.name) {
                v.add(
                    &format!("{kind}.custom_fields[{}]", def.name),
                    "is required",
                );
            }
        }
    }
    v.finish()?;
    Ok(write(&values))
}

/// The name of a filter field on custom values (`custom.<name>`), if it is one.
pub fn filter_name(field: &str) -> Option<&str> {
    field.strip_prefix("custom.")
}

/// A filter comparison on a custom field as a condition on the record's id.
pub fn condition<R: Resource>(
    tenant_id: &str,
    def: &Definition,
    comparison: &Comparison,
) -> Result<Condition, Error> {
    let invalid = |why: String| Error::invalid("filter", why);
    let field = &comparison.field;
    let value =
        canonical(def, &comparison.value).map_err(|why| invalid(format!("`{field}`: {why}")))?;
    let texts = match value {
        Stored::One(text) => vec![text],
        Stored::Many(options) => options,
    };
    let [text] = texts.as_slice() else {
        return Err(invalid(format!("`{field}` compares one option at a time")));
    };
    let key = index_key(&def.name, text);
    let carriers = Query::select()
        .column(record_index::Column::RecordId)
        .from(record_index::Entity)
        .and_where(record_index::Column::TenantId.eq(tenant_id))
        .and_where(record_index::Column::RecordKind.eq(R::KIND))
        .and_where(record_index::Column::KeyKind.eq(INDEX_KIND))
        .to_owned();
    let matching = |condition: sea_orm::sea_query::SimpleExpr| {
        let mut query = carriers.clone();
        query.and_where(condition);
        query
    };
    let ranged = matches!(
        CustomFieldType::try_from(def.field_type),
        Ok(CustomFieldType::Number | CustomFieldType::Decimal | CustomFieldType::Date)
    );
    let of_field = || {
        Expr::col(record_index::Column::KeyValue)
            .like(LikeExpr::new(prefix_pattern(&format!("{}=", def.name))).escape('\\'))
    };
    let id = R::columns().id;
    let column = || Expr::col(record_index::Column::KeyValue);
    Ok(match comparison.op {
        Op::Eq | Op::Has => Condition::all().add(id.in_subquery(matching(column().eq(key)))),
        Op::Ne => Condition::all().add(id.not_in_subquery(matching(column().eq(key)))),
        op if ranged => {
            let bound = match op {
                Op::Lt => column().lt(key),
                Op::Le => column().lte(key),
                Op::Gt => column().gt(key),
                _ => column().gte(key),
            };
            Condition::all().add(id.in_subquery(matching(bound.and(of_field()))))
        }
        _ => {
            return Err(invalid(format!(
                "`{field}` supports `=`, `!=` and `:`; ranges need a number, decimal or date"
            )));
        }
    })
}

/// `value%` with LIKE's wildcards escaped.
pub fn prefix_pattern(value: &str) -> String {
    let mut pattern = String::with_capacity(value.len() + 1);
    for ch in value.chars() {
        if matches!(ch, '%' | '_' | '\\') {
            pattern.push('\\');
        }
        pattern.push(ch);
    }
    pattern.push('%');
    pattern
}

#[cfg(test)]
mod tests {
    use super::*;

    fn def(field_type: CustomFieldType, options: &[&str]) -> Definition {
        Definition {
            id: "f".into(),
            tenant_id: "t".into(),
            resource_kind: "contact".into(),
            name: "f".into(),
            display_name: "F".into(),
            field_type: field_type as i32,
            required: false,
            options: json::to_json(options),
            version: 1,
            create_time: 0,
            update_time: 0,
        }
    }

    fn one(text: &str) -> Result<Stored, String> {
        Ok(Stored::One(text.to_owned()))
    }

    #[test]
    fn values_take_their_canonical_form() {
        let number = def(CustomFieldType::Number, &[]);
        assert_eq!(canonical(&number, " +042 "), one("42"));
        assert_eq!(canonical(&number, "-7"), one("-7"));
        assert!(canonical(&number, "1.5").is_err());
        assert!(canonical(&number, "1e3").is_err());
        assert!(canonical(&number, "1234567890123456").is_err());
        let decimal = def(CustomFieldType::Decimal, &[]);
        assert_eq!(canonical(&decimal, "12.50"), one("12.5"));
        assert_eq!(canonical(&decimal, "-0.000001"), one("-0.000001"));
        assert_eq!(canonical(&decimal, "３.0"), one("3"));
        assert!(canonical(&decimal, "0.0000001").is_err());
        assert!(canonical(&decimal, ".5").is_err());
        let date = def(CustomFieldType::Date, &[]);
        assert_eq!(canonical(&date, "2024-2-29"), one("2024-02-29"));
        assert!(canonical(&date, "2023-02-29").is_err());
        assert!(canonical(&date, "yesterday").is_err());
        let boolean = def(CustomFieldType::Boolean, &[]);
        assert_eq!(canonical(&boolean, "TRUE"), one("true"));
        assert!(canonical(&boolean, "yes").is_err());
        let single = def(CustomFieldType::SingleChoice, &["Retail", "零售"]);
        assert_eq!(canonical(&single, "retail"), one("Retail"));
        assert!(canonical(&single, "wholesale").is_err());
        let multi = def(CustomFieldType::MultiChoice, &["wechat", "email", "phone"]);
        assert_eq!(
            canonical(&multi, "phone; wechat;phone"),
            Ok(Stored::Many(vec!["wechat".into(), "phone".into()]))
        );
        assert!(canonical(&multi, "fax").is_err());
        let text = def(CustomFieldType::Text, &[]);
        assert!(canonical(&text, &"x".repeat(MAX_TEXT + 1)).is_err());
    }

    #[test]
    fn number_keys_sort_numerically() {
        let keys: Vec<String> = ["-1000", "-2.5", "0", "0.25", "3", "20", "999999999999999"]
            .iter()
            .map(|n| index_value(n))
            .collect();
        let mut sorted = keys.clone();
        sorted.sort();
        assert_eq!(keys, sorted);
        assert!(keys.iter().all(|k| k.len() == keys[0].len()));
        // Text that only looks like a number keeps its text form.
        assert_eq!(index_value("007"), "007");
        assert_eq!(index_value("Retail"), "retail");
    }

    #[test]
    fn wire_values_merge_over_stored_ones() {
        let stored = write(&Values::from([
            ("a".into(), Stored::One("1".into())),
            ("b".into(), Stored::Many(vec!["x".into(), "y".into()])),
        ]));
        assert_eq!(to_wire(&stored)["b"], "x;y");
        let input = HashMap::from([("a".to_owned(), String::new()), ("c".into(), "z".into())]);
        let merged = read(&merge_wire(&stored, &input));
        assert!(!merged.contains_key("a"));
        assert_eq!(merged["c"], Stored::One("z".into()));
    }
}
