//! The service desk's tables.

pub mod entitlement;
pub mod queue;
pub mod ticket;
pub mod ticket_message;
