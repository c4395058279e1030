//! A ticket's customer context: the contact and account as the caller sees them in contacts
//! (asked each time as the caller, so a customer out of their reach shows nothing; contacts
//! caches its own reads), and the customer's other tickets in the caller's scope.

use sea_orm::{ColumnTrait, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect};

use crate::entity::ticket::Column;
use crate::ticket::Tickets;
use crm_platform::auth::Principal;
use crm_platform::client::ServiceClient;
use crm_platform::error::Error;
use crm_proto::servicedesk::{GetTicketContextResponse, TicketStatus};
use crm_records::customers;
use crm_records::handlers::Records;
use crm_records::resource::Resource;
use crm_records::store;
use tonic::Status;

/// Most previous tickets shown.
const PREVIOUS: u64 = 20;

/// The context of the ticket `id`, which the caller must see.
pub(crate) async fn of_ticket(
    records: &Records,
    contacts: Option<&ServiceClient>,
    principal: &Principal,
    id: &str,
) -> Result<GetTicketContextResponse, Status> {
    let ticket = records.get::<Tickets>(principal, id).await?;
    let contact = match ticket.contact_id.as_str() {
        "" => None,
        contact_id => customers::fetch_contact(contacts, principal, contact_id).await?,
    };
    let account = match ticket.account_id.as_str() {
        "" => None,
        account_id => customers::fetch_account(contacts, principal, account_id).await?,
    };
    let same_customer = if ticket.account_id.is_empty() {
        Column::ContactId.eq(ticket.contact_id.as_str())
    } else {
        Column::AccountId.eq(ticket.account_id.as_str())
    };
    let customers_tickets = store::scoped::<Tickets>(principal)
        .filter(same_customer)
        .filter(Column::DeleteTime.is_null());
    let previous = customers_tickets
        .clone()
        .filter(Column::Id.ne(ticket.id.as_str()))
        .order_by_desc(Column::CreateTime)
        .order_by_desc(Column::Id)
        .limit(PREVIOUS)
        .all(&records.db)
        .await
        .map_err(Error::from)?;
    let open = customers_tickets
        .filter(
            Column::Status.is_not_in([TicketStatus::Resolved as i32, TicketStatus::Closed as i32]),
        )
        .count(&records.db)
        .await
        .map_err(Error::from)?;
    Ok(GetTicketContextResponse {
        ticket: Some(ticket),
        contact,
        account,
        previous_tickets: previous.iter().map(Tickets::to_proto).collect(),
        open_ticket_count: i32::try_from(open).unwrap_or(i32::MAX),
    })
}
