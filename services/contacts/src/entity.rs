//! sea-orm entities of the contacts database.

pub mod account;
pub mod contact;
pub mod contact_group;
pub mod record_index;
