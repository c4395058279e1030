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

/// The hooks accounts and contacts implement alike as customers: their groups, the open
/// follow-ups that follow their owner on a transfer, and the pool rule on disclosing the
/// owner of a hidden duplicate. Expand inside the `impl Resource` block.
macro_rules! customer_hooks {
    () => {
        async fn check_groups(
            txn: &sea_orm::DatabaseTransaction,
            tenant_id: &str,
            field: &str,
            ids: &[String],
        ) -> Result<(), crm_platform::error::Error> {
            $crate::groups::check_exist(txn, tenant_id, field, ids).await
        }

        async fn after_owner_change(
            txn: &sea_orm::DatabaseTransaction,
            change: $crate::resource::OwnerChange<'_>,
        ) -> Result<(), crm_platform::error::Error> {
            $crate::interactions::reassign_open_follow_ups(
                txn,
                change.tenant_id,
                (Self::KIND, change.id),
                change.from,
                change.to,
            )
            .await
            .map(|_| ())
        }

        async fn discloses_duplicate_owner(
            txn: &sea_orm::DatabaseTransaction,
            tenant_id: &str,
        ) -> Result<bool, crm_platform::error::Error> {
            let rules = $crate::pool::rules(txn, tenant_id, Self::KIND).await?;
            Ok(rules.disclose_duplicate_owner)
        }
    };
}
pub(crate) use customer_hooks;
