//! Asking the contacts service, as the caller, whether an account is one they may see. The
//! call is made before the write's transaction (a remote call never holds one open); an
//! account outside the caller's reach is refused exactly like one that does not exist.

use std::time::Duration;

use tonic::{Code, Status};

use crm_platform::auth::Principal;
use crm_platform::client::ServiceClient;
use crm_platform::error::Error;
use crm_proto::contacts::GetAccountRequest;
use crm_proto::contacts::contacts_service_client::ContactsServiceClient;

/// How long contacts has to answer.
const DEADLINE: Duration = Duration::from_secs(5);

/// Checks that `account_id` (sent in `field`) names a live account the caller can see.
pub(crate) async fn check_visible(
    contacts: Option<&ServiceClient>,
    principal: &Principal,
    (field, account_id): (&str, &str),
) -> Result<(), Status> {
    if account_id.is_empty() {
        return Err(Error::invalid(field, "is required").into());
    }
    let Some(contacts) = contacts else {
        return Err(Error::precondition(
            "SERVICE_NOT_DEPLOYED",
            "accounts cannot be checked: the contacts service is not part of this deployment",
        )
        .into());
    };
    let request = GetAccountRequest {
        id: account_id.to_owned(),
    };
    let request = contacts.request(principal, request, DEADLINE)?;
    let hidden = || Error::invalid(field, "is not a live account you can see").into();
    match ContactsServiceClient::new(contacts.channel())
        .get_account(request)
        .await
    {
        Ok(found) => match found.into_inner().account {
            Some(account) if account.delete_time.is_none() => Ok(()),
            _ => Err(hidden()),
        },
        Err(status) if matches!(status.code(), Code::NotFound | Code::InvalidArgument) => {
            Err(hidden())
        }
        Err(status) if matches!(status.code(), Code::Unavailable | Code::DeadlineExceeded) => {
            tracing::warn!(error = %status, "contacts did not answer an account check");
            Err(Status::unavailable(
                "the contacts service is unavailable, so nothing was written; retry",
            ))
        }
        Err(status) => Err(status),
    }
}
