//! The contacts service's resources on the shared machinery ([`crm_records::resource`]):
//! accounts and contacts, and the resource types a request names.

use crm_platform::error::Error;
pub use crm_records::resource::*;
pub(crate) use crm_records::shared_columns;

/// The two resource types a `resource_type` or `subject_type` field names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResourceType {
    /// An account.
    Account,
    /// A contact.
    Contact,
}

impl ResourceType {
    /// Parses the field `field` (named in the error).
    pub fn parse(field: &str, value: &str) -> Result<Self, Error> {
        match value {
            "account" => Ok(Self::Account),
            "contact" => Ok(Self::Contact),
            _ => Err(Error::invalid(field, "must be \"account\" or \"contact\"")),
        }
    }

    /// The stored name.
    pub fn name(self) -> &'static str {
        match self {
            Self::Account => "account",
            Self::Contact => "contact",
        }
    }
}
