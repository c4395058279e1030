//! The sales service's tables.

pub mod approval_policy;
pub mod approval_request;
pub mod catalog_settings;
pub mod contract;
pub mod exchange_rate;
pub mod lead;
pub mod lead_rules;
pub mod opportunity;
pub mod order;
pub mod payment_plan;
pub mod pipeline;
pub mod price_list;
pub mod product;
pub mod quote;
pub mod target;
pub mod task;
pub use crm_records::entity::{custom_field, record_index, search_gram};
