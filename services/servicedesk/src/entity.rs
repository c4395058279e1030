//! The service desk's tables.

pub mod ticket;
pub mod ticket_message;
