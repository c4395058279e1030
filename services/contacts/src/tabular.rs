//! Accounts and contacts as table rows, on the shared rules of [`crm_records::tabular`]:
//! phones and emails as ";" lists, the primary first.

use std::collections::HashMap;

use crm_platform::xlsx::CellKind;
pub use crm_records::tabular::*;

use crate::account::Accounts;
use crate::contact::Contacts;
use crm_platform::error::FieldViolation;
use crm_proto::common::Date;
use crm_proto::contacts::{
    Account, AccountSize, AccountTier, AccountType, Contact, ContactPoint, Gender, IdDocumentType,
};

fn points(text: &str) -> Vec<ContactPoint> {
    list(text)
        .into_iter()
        .enumerate()
        .map(|(i, value)| ContactPoint {
            value,
            label: String::new(),
            primary: i == 0,
        })
        .collect()
}

fn point_values(points: &[ContactPoint]) -> String {
    let mut values: Vec<&ContactPoint> = points.iter().collect();
    values.sort_by_key(|p| !p.primary);
    values
        .iter()
        .map(|p| p.value.as_str())
        .collect::<Vec<_>>()
        .join(";")
}

/// The text field a column fills, and the field's name.
fn contact_text<'a>(c: &'a mut Contact, column: &str) -> Option<(&'static str, &'a mut String)> {
    Some(match column {
        "display_name" => ("display_name", &mut c.display_name),
        "given_name" => ("given_name", &mut c.given_name),
        "family_name" => ("family_name", &mut c.family_name),
        "title" => ("title", &mut c.title),
        "department" => ("department", &mut c.department),
        "account_id" => ("account_id", &mut c.account_id),
        "owner_id" => ("owner_id", &mut c.owner_id),
        "occupation" => ("occupation", &mut c.occupation),
        "notes" => ("notes", &mut c.notes),
        "id_document_number" => ("id_document_number", &mut c.id_document_number),
        "bank_card_number" => ("bank_card_number", &mut c.bank_card_number),
        _ => return None,
    })
}

impl Tabular for Contacts {
    fn redacted_filter(filter: &str) -> String {
        crate::sensitive::redacted_filter(filter)
    }

    const COLUMNS: &'static [&'static str] = &[
        "id",
        "display_name",
        "given_name",
        "family_name",
        "phones",
        "emails",
        "title",
        "department",
        "gender",
        "birthday",
        "account_id",
        "owner_id",
        "occupation",
        "tags",
        "group_ids",
        "region_code",
        "administrative_area",
        "locality",
        "sublocality",
        "postal_code",
        "address_lines",
        "id_document_type",
        "id_document_number",
        "bank_card_number",
        "notes",
    ];

    fn from_row(row: &Row) -> Result<(Contact, Vec<String>), Vec<FieldViolation>> {
        let mut c = Contact::default();
        let mut custom = HashMap::new();
        let mask = read_row(row, &mut custom, |column, value| {
            if let Some((field, slot)) = contact_text(&mut c, column) {
                *slot = value.to_owned();
                return Ok(Some(field));
            }
            Ok(Some(match column {
                "phones" | "phone" => {
                    c.phones = points(value);
                    "phones"
                }
                "emails" | "email" => {
                    c.emails = points(value);
                    "emails"
                }
                "gender" => {
                    c.gender = enum_value("GENDER", value, |s| {
                        Gender::from_str_name(s).map(|g| g as i32)
                    })
                    .ok_or("must be female, male or other")?;
                    "gender"
                }
                "birthday" => {
                    let parts: Vec<i32> = value.split('-').filter_map(|p| p.parse().ok()).collect();
                    let [year, month, day] = parts[..] else {
                        return Err("must be YYYY-MM-DD".to_owned());
                    };
                    c.birthday = Some(Date { year, month, day });
                    "birthday"
                }
                "tags" => {
                    c.tags = list(value);
                    "tags"
                }
                "group_ids" => {
                    c.group_ids = list(value);
                    "group_ids"
                }
                "id_document_type" => {
                    c.id_document_type = enum_value("ID_DOCUMENT_TYPE", value, |s| {
                        IdDocumentType::from_str_name(s).map(|t| t as i32)
                    })
                    .ok_or("must be resident_id, passport or other")?;
                    "id_document_type"
                }
                address if ADDRESS_COLUMNS.contains(&address) => {
                    set_address(&mut c.address, address, value);
                    "address"
                }
                _ => return Ok(None),
            }))
        })?;
        c.custom_fields = custom;
        Ok((c, mask))
    }

    fn to_row(c: &Contact) -> Vec<String> {
        let birthday = c
            .birthday
            .as_ref()
            .map(|d| format!("{:04}-{:02}-{:02}", d.year, d.month, d.day))
            .unwrap_or_default();
        let mut cells = vec![
            c.id.clone(),
            c.display_name.clone(),
            c.given_name.clone(),
            c.family_name.clone(),
            point_values(&c.phones),
            point_values(&c.emails),
            c.title.clone(),
            c.department.clone(),
            enum_text(c.gender().as_str_name(), "GENDER"),
            birthday,
            c.account_id.clone(),
            c.owner_id.clone(),
            c.occupation.clone(),
            join(&c.tags),
            join(&c.group_ids),
        ];
        cells.extend(address_cells(c.address.as_ref()));
        cells.extend([
            enum_text(c.id_document_type().as_str_name(), "ID_DOCUMENT_TYPE"),
            c.id_document_number.clone(),
            c.bank_card_number.clone(),
            c.notes.clone(),
        ]);
        cells
    }

    fn custom(c: &Contact) -> &HashMap<String, String> {
        &c.custom_fields
    }

    fn cell_kind(column: &str) -> CellKind {
        match column {
            "birthday" => CellKind::Date,
            _ => CellKind::Text,
        }
    }
}

/// The text field a column fills, and the field's name.
fn account_text<'a>(a: &'a mut Account, column: &str) -> Option<(&'static str, &'a mut String)> {
    Some(match column {
        "display_name" => ("display_name", &mut a.display_name),
        "industry" => ("industry", &mut a.industry),
        "website" => ("website", &mut a.website),
        "phone" => ("phone", &mut a.phone),
        "email" => ("email", &mut a.email),
        "source" => ("source", &mut a.source),
        "parent_id" => ("parent_id", &mut a.parent_id),
        "owner_id" => ("owner_id", &mut a.owner_id),
        "notes" => ("notes", &mut a.notes),
        _ => return None,
    })
}

impl Tabular for Accounts {
    fn redacted_filter(filter: &str) -> String {
        crate::sensitive::redacted_filter(filter)
    }

    const COLUMNS: &'static [&'static str] = &[
        "id",
        "display_name",
        "industry",
        "website",
        "phone",
        "email",
        "account_type",
        "size",
        "tier",
        "source",
        "parent_id",
        "owner_id",
        "tags",
        "group_ids",
        "region_code",
        "administrative_area",
        "locality",
        "sublocality",
        "postal_code",
        "address_lines",
        "notes",
    ];

    fn from_row(row: &Row) -> Result<(Account, Vec<String>), Vec<FieldViolation>> {
        let mut a = Account::default();
        let mut custom = HashMap::new();
        let mask = read_row(row, &mut custom, |column, value| {
            if let Some((field, slot)) = account_text(&mut a, column) {
                *slot = value.to_owned();
                return Ok(Some(field));
            }
            Ok(Some(match column {
                "account_type" => {
                    a.account_type = enum_value("ACCOUNT_TYPE", value, |s| {
                        AccountType::from_str_name(s).map(|t| t as i32)
                    })
                    .ok_or("must be prospect, customer, partner, supplier or competitor")?;
                    "account_type"
                }
                "size" => {
                    a.size = enum_value("ACCOUNT_SIZE", value, |s| {
                        AccountSize::from_str_name(s).map(|t| t as i32)
                    })
                    .ok_or("must be micro, small, medium, large or enterprise")?;
                    "size"
                }
                "tier" => {
                    a.tier = enum_value("ACCOUNT_TIER", value, |s| {
                        AccountTier::from_str_name(s).map(|t| t as i32)
                    })
                    .ok_or("must be strategic, key, standard or low")?;
                    "tier"
                }
                "tags" => {
                    a.tags = list(value);
                    "tags"
                }
                "group_ids" => {
                    a.group_ids = list(value);
                    "group_ids"
                }
                address if ADDRESS_COLUMNS.contains(&address) => {
                    set_address(&mut a.address, address, value);
                    "address"
                }
                _ => return Ok(None),
            }))
        })?;
        a.custom_fields = custom;
        Ok((a, mask))
    }

    fn to_row(a: &Account) -> Vec<String> {
        let mut cells = vec![
            a.id.clone(),
            a.display_name.clone(),
            a.industry.clone(),
            a.website.clone(),
            a.phone.clone(),
            a.email.clone(),
            enum_text(a.account_type().as_str_name(), "ACCOUNT_TYPE"),
            enum_text(a.size().as_str_name(), "ACCOUNT_SIZE"),
            enum_text(a.tier().as_str_name(), "ACCOUNT_TIER"),
            a.source.clone(),
            a.parent_id.clone(),
            a.owner_id.clone(),
            join(&a.tags),
            join(&a.group_ids),
        ];
        cells.extend(address_cells(a.address.as_ref()));
        cells.push(a.notes.clone());
        cells
    }

    fn custom(a: &Account) -> &HashMap<String, String> {
        &a.custom_fields
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(cells: &[(&str, &str)]) -> Row {
        cells
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn contact_rows_round_trip() {
        let (contact, mask) = Contacts::from_row(&row(&[
            ("display_name", "王小明"),
            ("phone", "13800138000; 010 8888 6666"),
            ("gender", "Male"),
            ("birthday", "1990-05-01"),
            ("tags", "vip;local"),
            ("locality", "深圳"),
            ("custom.segment", "Retail"),
            ("email", ""),
        ]))
        .unwrap();
        assert_eq!(contact.phones.len(), 2);
        assert!(contact.phones[0].primary);
        assert_eq!(contact.gender, Gender::Male as i32);
        assert_eq!(contact.custom_fields["segment"], "Retail");
        assert!(mask.contains(&"address".to_owned()) && !mask.contains(&"emails".to_owned()));
        let cells = Contacts::to_row(&contact);
        assert_eq!(cells.len(), Contacts::COLUMNS.len());
        assert_eq!(cells[8], "male");
        assert_eq!(cells[9], "1990-05-01");
    }

    #[test]
    fn bad_cells_name_their_columns() {
        let errors = Contacts::from_row(&row(&[
            ("gender", "x"),
            ("birthday", "May 1st"),
            ("shoe_size", "42"),
        ]))
        .unwrap_err();
        let columns: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(columns, ["birthday", "gender", "shoe_size"]);
        assert_eq!(
            Accounts::to_row(&Account::default()).len(),
            Accounts::COLUMNS.len()
        );
    }
}
