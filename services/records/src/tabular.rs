//! Records as table rows, for import and export: one column per field, by the field's name;
//! lists joined by ";"; enums by their short name ("male", "customer"); custom fields as
//! `custom.<name>` columns. A resource says how its rows read and write ([`Tabular`]); the
//! helpers here are what every resource's rows share.

use std::collections::{BTreeMap, HashMap};

use sea_orm::DatabaseTransaction;

use crate::resource::Resource;
use crm_platform::error::{Error, FieldViolation};
use crm_platform::xlsx::CellKind;
use crm_proto::common::PostalAddress;

/// A row: column name to text.
pub type Row = BTreeMap<String, String>;
/// The prefix of custom field columns.
pub const CUSTOM_PREFIX: &str = "custom.";
/// Separator of list values in a cell.
pub const LIST_SEPARATOR: char = ';';

/// A resource that reads and writes table rows.
pub trait Tabular: Resource {
    /// Its columns, in export order (custom fields follow).
    const COLUMNS: &'static [&'static str];
    /// The record a row describes, and the fields the row gives (an update's mask).
    fn from_row(row: &Row) -> Result<(Self::Proto, Vec<String>), Vec<FieldViolation>>;
    /// A record's cells, in [`Self::COLUMNS`] order.
    fn to_row(proto: &Self::Proto) -> Vec<String>;
    /// Its custom values.
    fn custom(proto: &Self::Proto) -> &HashMap<String, String>;
    /// How a workbook writes one of [`Self::COLUMNS`]: text unless a column says otherwise.
    fn cell_kind(_column: &str) -> CellKind {
        CellKind::Text
    }
    /// A filter as the audit log of an export keeps it: values of sensitive fields
    /// redacted. By default the filter as written.
    fn redacted_filter(filter: &str) -> String {
        filter.to_owned()
    }
    /// Whether the tenant has assignment rules for it, so an import may ask for rows that
    /// name no owner to go by them (`ImportOptions.assign_by_rule`); none by default.
    const ASSIGNED_BY_RULE: bool = false;
    /// Gives each of `records` (new, in row order, within one import batch) the owner the
    /// tenant's rule picks, inside the batch's transaction, as if each were filed on its own
    /// in turn; a tenant without a rule leaves them with the importer.
    fn assign_by_rule<'a>(
        txn: &'a DatabaseTransaction,
        tenant_id: &'a str,
        records: Vec<&'a mut Self::Model>,
    ) -> impl Future<Output = Result<(), Error>> + Send + 'a {
        let _ = (txn, tenant_id, records);
        async { Ok(()) }
    }
}

/// How a workbook writes a custom field's values: numbers, dates and booleans typed, the
/// rest as text.
pub fn custom_cell_kind(field_type: i32) -> CellKind {
    match crm_proto::common::CustomFieldType::try_from(field_type) {
        Ok(
            crm_proto::common::CustomFieldType::Number
            | crm_proto::common::CustomFieldType::Decimal,
        ) => CellKind::Number,
        Ok(crm_proto::common::CustomFieldType::Date) => CellKind::Date,
        Ok(crm_proto::common::CustomFieldType::Boolean) => CellKind::Boolean,
        _ => CellKind::Text,
    }
}

/// The values of a list cell.
pub fn list(text: &str) -> Vec<String> {
    text.split(LIST_SEPARATOR)
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

/// A list as one cell.
pub fn join(items: &[String]) -> String {
    items.join(&LIST_SEPARATOR.to_string())
}

/// An enum value by short name ("male") or full name ("GENDER_MALE"), any case.
pub fn enum_value(prefix: &str, text: &str, parse: fn(&str) -> Option<i32>) -> Option<i32> {
    let upper = text.trim().to_uppercase();
    parse(&upper).or_else(|| parse(&format!("{prefix}_{upper}")))
}

/// The short lowercase name of an enum value, empty when unset.
pub fn enum_text(full: &str, prefix: &str) -> String {
    full.strip_prefix(prefix)
        .and_then(|s| s.strip_prefix('_'))
        .filter(|s| *s != "UNSPECIFIED")
        .unwrap_or_default()
        .to_lowercase()
}

/// The file column a record field path comes from, as a spreadsheet user wrote it: for
/// `kind` contact, `contact.emails[0].value` is `emails`, `contact.custom_fields[segment]`
/// is `custom.segment`, `contact.address.locality` is `locality`.
pub fn column_of(kind: &str, path: &str) -> String {
    let path = path
        .strip_prefix(kind)
        .and_then(|rest| rest.strip_prefix('.'))
        .unwrap_or(path);
    if let Some(name) = path
        .strip_prefix("custom_fields[")
        .and_then(|rest| rest.strip_suffix(']'))
    {
        return format!("{CUSTOM_PREFIX}{name}");
    }
    let path = path.strip_prefix("address.").unwrap_or(path);
    let end = path.find(['[', '.']).unwrap_or(path.len());
    path[..end].to_owned()
}

/// The columns of a postal address.
pub const ADDRESS_COLUMNS: &[&str] = &[
    "region_code",
    "administrative_area",
    "locality",
    "sublocality",
    "postal_code",
    "address_lines",
];

/// Sets one address column of a record being read.
pub fn set_address(address: &mut Option<PostalAddress>, column: &str, value: &str) {
    let a = address.get_or_insert_with(PostalAddress::default);
    let value = value.to_owned();
    match column {
        "region_code" => a.region_code = value,
        "administrative_area" => a.administrative_area = value,
        "locality" => a.locality = value,
        "sublocality" => a.sublocality = value,
        "postal_code" => a.postal_code = value,
        _ => a.address_lines = vec![value],
    }
}

/// A postal address as its columns' cells.
pub fn address_cells(address: Option<&PostalAddress>) -> Vec<String> {
    let a = address.cloned().unwrap_or_default();
    vec![
        a.region_code,
        a.administrative_area,
        a.locality,
        a.sublocality,
        a.postal_code,
        a.address_lines.join(" "),
    ]
}

/// Walks a row's non-empty cells: custom columns into `custom`, the rest to `set`, which
/// returns the field the column fills (for the mask) or `None` for an unknown column.
pub fn read_row(
    row: &Row,
    custom: &mut HashMap<String, String>,
    mut set: impl FnMut(&str, &str) -> Result<Option<&'static str>, String>,
) -> Result<Vec<String>, Vec<FieldViolation>> {
    let mut mask = Vec::new();
    let mut errors = Vec::new();
    for (column, value) in row {
        let value = value.trim();
        // Exports carry the id; an import finds records by their duplicates instead.
        if value.is_empty() || column == "id" {
            continue;
        }
        if let Some(name) = column.strip_prefix(CUSTOM_PREFIX) {
            custom.insert(name.to_owned(), value.to_owned());
            if !mask.iter().any(|m| m == "custom_fields") {
                mask.push("custom_fields".to_owned());
            }
            continue;
        }
        match set(column, value) {
            Ok(Some(field)) => {
                if !mask.iter().any(|m| m == field) {
                    mask.push(field.to_owned());
                }
            }
            Ok(None) => errors.push(FieldViolation {
                field: column.clone(),
                description: "is not a column of this resource".to_owned(),
            }),
            Err(why) => errors.push(FieldViolation {
                field: column.clone(),
                description: why,
            }),
        }
    }
    if errors.is_empty() {
        Ok(mask)
    } else {
        Err(errors)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn field_paths_map_to_the_columns_of_the_file() {
        for (kind, path, column) in [
            ("contact", "contact.emails[0].value", "emails"),
            ("contact", "contact.phones[2].label", "phones"),
            (
                "contact",
                "contact.custom_fields[segment]",
                "custom.segment",
            ),
            ("contact", "contact.address.locality", "locality"),
            ("account", "account.display_name", "display_name"),
            ("contact", "contact.birthday", "birthday"),
            ("product", "product.code", "code"),
            ("contact", "", ""),
        ] {
            assert_eq!(column_of(kind, path), column, "{path}");
        }
    }
}
