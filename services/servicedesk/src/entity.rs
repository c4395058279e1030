//! The service desk's tables.

pub mod ticket;
