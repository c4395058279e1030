//! The custom fields of products and price lists, on the shared standard methods
//! ([`crm_records::definitions`]), announced as sales events.

use sea_orm::DatabaseTransaction;

use crate::price_list::PriceLists;
use crate::product::Products;
use crm_platform::error::Error;
use crm_proto::common::CustomFieldDefinition;
use crm_proto::sales::{SalesEvent, SalesEventType, sales_event::Subject};
use crm_records::custom_fields::strip_deleted;
use crm_records::definitions::{CustomFieldHost, DefinitionChange};
use crm_records::resource::Resource;

/// The sales service as the host of custom fields.
#[derive(Debug, Clone, Copy)]
pub struct CatalogFields;

impl CustomFieldHost for CatalogFields {
    type Event = SalesEvent;
    const READ: &'static str = "sales.custom_fields.read";
    const WRITE: &'static str = "sales.custom_fields.write";

    fn kind(field: &str, value: &str) -> Result<&'static str, Error> {
        match value {
            "product" => Ok(Products::KIND),
            "price_list" => Ok(PriceLists::KIND),
            _ => Err(Error::invalid(
                field,
                "must be \"product\" or \"price_list\"",
            )),
        }
    }

    fn event(change: DefinitionChange, definition: CustomFieldDefinition) -> SalesEvent {
        let event_type = match change {
            DefinitionChange::Created => SalesEventType::CustomFieldCreated,
            DefinitionChange::Updated => SalesEventType::CustomFieldUpdated,
            DefinitionChange::Deleted => SalesEventType::CustomFieldDeleted,
        };
        SalesEvent {
            r#type: event_type as i32,
            subject: Some(Subject::CustomField(definition)),
            ..Default::default()
        }
    }

    async fn strip_deleted(
        txn: &DatabaseTransaction,
        tenant_id: &str,
        kind: &'static str,
        name: &str,
    ) -> Result<(), Error> {
        if kind == Products::KIND {
            strip_deleted::<Products>(txn, tenant_id, name).await
        } else {
            strip_deleted::<PriceLists>(txn, tenant_id, name).await
        }
    }
}
