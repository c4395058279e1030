//! The custom fields of products, price lists, leads and opportunities, on the shared standard methods
//! ([`crm_records::definitions`]), announced as sales events.

use sea_orm::DatabaseTransaction;

use crate::lead::Leads;
use crate::opportunity::Opportunities;
use crate::price_list::PriceLists;
use crate::product::Products;
use crm_platform::error::Error;
use crm_proto::sales::SalesEvent;
use crm_records::custom_fields::strip_deleted;
use crm_records::definitions::CustomFieldHost;
use crm_records::resource::Resource;

/// The sales service as the host of custom fields.
#[derive(Debug, Clone, Copy)]
pub(crate) struct SalesFields;

impl CustomFieldHost for SalesFields {
    type Event = SalesEvent;
    const READ: &'static str = "sales.custom_fields.read";
    const WRITE: &'static str = "sales.custom_fields.write";

    fn kind(field: &str, value: &str) -> Result<&'static str, Error> {
        match value {
            "product" => Ok(Products::KIND),
            "price_list" => Ok(PriceLists::KIND),
            "lead" => Ok(Leads::KIND),
            "opportunity" => Ok(Opportunities::KIND),
            _ => Err(Error::invalid(
                field,
                "must be \"product\", \"price_list\", \"lead\" or \"opportunity\"",
            )),
        }
    }

    async fn strip_deleted(
        txn: &DatabaseTransaction,
        tenant_id: &str,
        kind: &'static str,
        name: &str,
    ) -> Result<(), Error> {
        match kind {
            k if k == Products::KIND => strip_deleted::<Products>(txn, tenant_id, name).await,
            k if k == Leads::KIND => strip_deleted::<Leads>(txn, tenant_id, name).await,
            k if k == Opportunities::KIND => {
                strip_deleted::<Opportunities>(txn, tenant_id, name).await
            }
            _ => strip_deleted::<PriceLists>(txn, tenant_id, name).await,
        }
    }
}
