//! sea-orm entities of the contacts database.

pub mod account;
pub mod contact;
pub mod contact_group;
pub use crm_records::entity::custom_field;
pub mod follow_up;
pub mod interaction;
pub mod pool_rule;
pub use crm_records::entity::record_index;
pub use crm_records::entity::search_gram;
