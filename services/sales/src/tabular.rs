//! Products and leads as table rows, on the shared rules of [`crm_records::tabular`]: an
//! ERP's or a spreadsheet's item list, one product a row, found again by its code; a trade
//! show's or a bought list's leads, one person a row, found again by email or phone.

use std::collections::HashMap;

use sea_orm::DatabaseTransaction;

use crate::entity::lead;
use crate::lead::Leads;
use crate::lead_rules;
use crate::product::Products;
use crm_platform::error::{Error, FieldViolation};
use crm_platform::xlsx::CellKind;
use crm_proto::common::Money;
use crm_proto::sales::{Lead, LeadSource, LeadStatus, Product, ProductStatus};
use crm_records::tabular::{Row, Tabular, enum_text, enum_value, join, list, read_row};

/// The text field a column fills, and the field's name.
fn product_text<'a>(p: &'a mut Product, column: &str) -> Option<(&'static str, &'a mut String)> {
    Some(match column {
        "code" => ("code", &mut p.code),
        "display_name" => ("display_name", &mut p.display_name),
        "unit" => ("unit", &mut p.unit),
        "category" => ("category", &mut p.category),
        "tax_rate" => ("tax_rate", &mut p.tax_rate),
        "description" => ("description", &mut p.description),
        "external_id" => ("external_id", &mut p.external_id),
        _ => return None,
    })
}

impl Tabular for Products {
    const COLUMNS: &'static [&'static str] = &[
        "id",
        "code",
        "display_name",
        "unit",
        "category",
        "tax_rate",
        "cost",
        "cost_currency",
        "status",
        "external_id",
        "tags",
        "description",
    ];

    fn from_row(row: &Row) -> Result<(Product, Vec<String>), Vec<FieldViolation>> {
        let mut p = Product::default();
        let mut custom = HashMap::new();
        let mut cost = Money::default();
        let mask = read_row(row, &mut custom, |column, value| {
            if let Some((field, slot)) = product_text(&mut p, column) {
                *slot = value.to_owned();
                return Ok(Some(field));
            }
            Ok(Some(match column {
                "cost" => {
                    cost.amount = value.to_owned();
                    "cost"
                }
                "cost_currency" => {
                    cost.currency_code = value.to_uppercase();
                    "cost"
                }
                "status" => {
                    p.status = enum_value("PRODUCT_STATUS", value, |s| {
                        ProductStatus::from_str_name(s).map(|t| t as i32)
                    })
                    .ok_or("must be active or inactive")?;
                    "status"
                }
                "tags" => {
                    p.tags = list(value);
                    "tags"
                }
                _ => return Ok(None),
            }))
        })?;
        if cost != Money::default() {
            p.cost = Some(cost);
        }
        p.custom_fields = custom;
        Ok((p, mask))
    }

    fn to_row(p: &Product) -> Vec<String> {
        let cost = p.cost.clone().unwrap_or_default();
        vec![
            p.id.clone(),
            p.code.clone(),
            p.display_name.clone(),
            p.unit.clone(),
            p.category.clone(),
            p.tax_rate.clone(),
            cost.amount,
            cost.currency_code,
            enum_text(p.status().as_str_name(), "PRODUCT_STATUS"),
            p.external_id.clone(),
            join(&p.tags),
            p.description.clone(),
        ]
    }

    fn custom(p: &Product) -> &HashMap<String, String> {
        &p.custom_fields
    }

    fn cell_kind(column: &str) -> CellKind {
        match column {
            "cost" | "tax_rate" => CellKind::Number,
            _ => CellKind::Text,
        }
    }
}

/// The text field a column fills, and the field's name.
fn lead_text<'a>(l: &'a mut Lead, column: &str) -> Option<(&'static str, &'a mut String)> {
    Some(match column {
        "display_name" => ("display_name", &mut l.display_name),
        "company_name" => ("company_name", &mut l.company_name),
        "title" => ("title", &mut l.title),
        "email" => ("email", &mut l.email),
        "phone" => ("phone", &mut l.phone),
        "campaign_id" => ("campaign_id", &mut l.campaign_id),
        "region_code" => ("region_code", &mut l.region_code),
        "description" => ("description", &mut l.description),
        _ => return None,
    })
}

/// Lead columns an export writes and an import leaves to the server.
const SET_BY_SERVER: &[&str] = &["status", "score"];

impl Tabular for Leads {
    const COLUMNS: &'static [&'static str] = &[
        "id",
        "display_name",
        "company_name",
        "title",
        "email",
        "phone",
        "source",
        "campaign_id",
        "region_code",
        "status",
        "score",
        "tags",
        "description",
    ];

    /// An imported lead's source is "import" unless a column says where it came from; its
    /// status and score are the server's (an export's columns read back are ignored).
    fn from_row(row: &Row) -> Result<(Lead, Vec<String>), Vec<FieldViolation>> {
        let mut l = Lead {
            source: LeadSource::Import as i32,
            ..Default::default()
        };
        let mut custom = HashMap::new();
        let written: Row = row
            .iter()
            .filter(|(column, _)| !SET_BY_SERVER.contains(&column.as_str()))
            .map(|(column, value)| (column.clone(), value.clone()))
            .collect();
        let mut mask = read_row(&written, &mut custom, |column, value| {
            if let Some((field, slot)) = lead_text(&mut l, column) {
                *slot = value.to_owned();
                return Ok(Some(field));
            }
            Ok(Some(match column {
                "source" => {
                    l.source = enum_value("LEAD_SOURCE", value, |s| {
                        LeadSource::from_str_name(s).map(|t| t as i32)
                    })
                    .ok_or("is not a lead source, for example web_form, event or referral")?;
                    "source"
                }
                "tags" => {
                    l.tags = list(value);
                    "tags"
                }
                _ => return Ok(None),
            }))
        })?;
        if !mask.iter().any(|f| f == "source") {
            mask.push("source".to_owned());
        }
        l.custom_fields = custom;
        Ok((l, mask))
    }

    fn to_row(l: &Lead) -> Vec<String> {
        let status = LeadStatus::try_from(l.status).unwrap_or_default();
        let source = LeadSource::try_from(l.source).unwrap_or_default();
        vec![
            l.id.clone(),
            l.display_name.clone(),
            l.company_name.clone(),
            l.title.clone(),
            l.email.clone(),
            l.phone.clone(),
            enum_text(source.as_str_name(), "LEAD_SOURCE"),
            l.campaign_id.clone(),
            l.region_code.clone(),
            enum_text(status.as_str_name(), "LEAD_STATUS"),
            l.score.to_string(),
            join(&l.tags),
            l.description.clone(),
        ]
    }

    fn custom(l: &Lead) -> &HashMap<String, String> {
        &l.custom_fields
    }

    fn cell_kind(column: &str) -> CellKind {
        match column {
            "score" => CellKind::Number,
            _ => CellKind::Text,
        }
    }

    const ASSIGNED_BY_RULE: bool = true;

    /// The lead assignment rule, as for captured leads.
    async fn assign_by_rule(
        txn: &DatabaseTransaction,
        tenant_id: &str,
        records: Vec<&mut lead::Model>,
    ) -> Result<(), Error> {
        let regions: Vec<&str> = records.iter().map(|l| l.region_code.as_str()).collect();
        let owners = lead_rules::assign_many(txn, tenant_id, &regions).await?;
        for (record, owner) in records.into_iter().zip(owners) {
            if let Some(owner) = owner {
                record.owner_id = owner;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn product_rows_round_trip() {
        let row: Row = [
            ("code", "P-100"),
            ("display_name", "不锈钢泵"),
            ("cost", "1200.5"),
            ("cost_currency", "cny"),
            ("status", "Inactive"),
            ("tags", "pump;steel"),
            ("custom.grade", "A"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        let (product, mask) = Products::from_row(&row).unwrap();
        assert_eq!(product.cost.as_ref().unwrap().currency_code, "CNY");
        assert_eq!(product.status, ProductStatus::Inactive as i32);
        assert!(mask.contains(&"cost".to_owned()) && mask.contains(&"custom_fields".to_owned()));
        let cells = Products::to_row(&product);
        assert_eq!(cells.len(), Products::COLUMNS.len());
        assert_eq!(cells[8], "inactive");
        let bad: Row = [("status", "gone"), ("colour", "red")]
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let errors = Products::from_row(&bad).unwrap_err();
        let columns: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(columns, ["colour", "status"]);
    }
}
