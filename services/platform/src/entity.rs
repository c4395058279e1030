//! sea-orm entities of the platform's tables.

pub mod audit_log;
pub mod idempotency_key;
pub mod inbox;
pub mod outbox;
