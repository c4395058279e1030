//! The contacts service's handlers: the standard methods every service shares
//! ([`crm_records::handlers::Records`]), and what contacts adds in its own modules (pool,
//! merges, interactions, imports and exports, privacy).

use std::ops::Deref;

pub use crm_records::handlers::{
    Idempotency, Records, announce, check_links, check_owner, current, envelope, refuse_deleted,
};

/// The contacts service's handlers over the shared machinery.
#[derive(Debug, Clone)]
pub struct Handlers(pub Records);

impl Deref for Handlers {
    type Target = Records;

    fn deref(&self) -> &Records {
        &self.0
    }
}
