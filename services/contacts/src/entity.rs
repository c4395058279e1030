//! sea-orm entities of the contacts database.

pub mod account;
pub mod contact;
