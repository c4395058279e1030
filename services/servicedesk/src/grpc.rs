//! The gRPC adapter: decode, check the customer with contacts, call the shared handlers,
//! encode. No SQL and no rules here.

use tonic::{Request, Response, Status};

use crate::mail_in;
use crate::ticket::Tickets;
use crate::ticket_flow;
use crate::ticket_message;
use crm_platform::auth::{Principal, principal};
use crm_platform::client::ServiceClient;
use crm_platform::error::Error;
use crm_platform::field_mask::writes;
use crm_proto::servicedesk::servicedesk_service_server::ServicedeskService;
use crm_proto::servicedesk::*;
use crm_records::customers::{self, CustomerKind, Customers};
use crm_records::handlers::Records;
use crm_records::rpc::{Call, Change, NewRecord};

/// Permission to read a ticket's change history.
const AUDIT_READ: &str = "servicedesk.audit.read";

/// The full gRPC method name, which scopes idempotency keys.
macro_rules! method {
    ($name:literal) => {
        concat!("/crm.servicedesk.v1.ServicedeskService/", $name)
    };
}

/// Implements `crm.servicedesk.v1.ServicedeskService`.
#[derive(Debug, Clone)]
pub(crate) struct ServicedeskGrpc {
    records: Records,
    contacts: Option<ServiceClient>,
}

impl ServicedeskGrpc {
    /// Wraps the handlers; `contacts` is the way to the contacts service, if deployed.
    pub(crate) fn new(records: Records, contacts: Option<ServiceClient>) -> Self {
        Self { records, contacts }
    }

    /// Checks, as the caller, the contact and account a ticket write names (only those
    /// `mask` writes), before its transaction; a new ticket (`creating`) naming only its
    /// contact takes the contact's account. The service does not follow contacts' events yet, so it keeps no
    /// owners and asks every time.
    async fn check_customer(
        &self,
        p: &Principal,
        ticket: &mut Ticket,
        (mask, creating): (Option<&prost_types::FieldMask>, bool),
    ) -> Result<(), Status> {
        let asked = Customers {
            contacts: self.contacts.as_ref(),
            owners: None,
        };
        let contact_id = ticket.contact_id.trim().to_owned();
        if writes(mask, "contact_id", !contact_id.is_empty()) && !contact_id.is_empty() {
            let contact = customers::fetch_contact(asked.contacts, p, &contact_id)
                .await?
                .ok_or_else(|| {
                    Error::invalid("ticket.contact_id", "is not a live contact you can see")
                })?;
            if creating && ticket.account_id.trim().is_empty() {
                ticket.account_id = contact.account_id;
            }
        }
        let account_id = ticket.account_id.trim().to_owned();
        if writes(mask, "account_id", !account_id.is_empty()) && !account_id.is_empty() {
            let field = ("ticket.account_id", account_id.as_str());
            customers::check_visible(asked, p, CustomerKind::Account, field).await?;
        }
        Ok(())
    }
}

#[tonic::async_trait]
impl ServicedeskService for ServicedeskGrpc {
    async fn create_ticket(
        &self,
        request: Request<CreateTicketRequest>,
    ) -> Result<Response<CreateTicketResponse>, Status> {
        let mut ticket = request.get_ref().ticket.clone();
        if let Some(ticket) = ticket.as_mut() {
            self.check_customer(principal(&request)?, ticket, (None, true))
                .await?;
        }
        let r = request.get_ref();
        let call = Call {
            method: method!("CreateTicket"),
            request_id: &r.request_id,
        };
        let new = NewRecord {
            record: ticket,
            allow_duplicates: false,
        };
        self.records
            .create_rpc::<Tickets, _, _>(&request, call, new, |ticket| CreateTicketResponse {
                ticket: Some(ticket),
            })
            .await
    }

    crm_records::standard_rpc!(get
        get_ticket(GetTicketRequest) -> GetTicketResponse
        { Tickets => ticket } in records);
    crm_records::standard_rpc!(list
        list_tickets(ListTicketsRequest) -> ListTicketsResponse
        { Tickets => tickets } in records);

    async fn update_ticket(
        &self,
        request: Request<UpdateTicketRequest>,
    ) -> Result<Response<UpdateTicketResponse>, Status> {
        let mut ticket = request.get_ref().ticket.clone();
        let mask = request.get_ref().update_mask.clone();
        if let Some(ticket) = ticket.as_mut() {
            self.check_customer(principal(&request)?, ticket, (mask.as_ref(), false))
                .await?;
        }
        let r = request.get_ref();
        let call = Call {
            method: method!("UpdateTicket"),
            request_id: &r.request_id,
        };
        let change = Change {
            record: ticket,
            update_mask: mask,
            allow_duplicates: false,
        };
        self.records
            .update_rpc::<Tickets, _, _>(&request, call, change, |ticket| UpdateTicketResponse {
                ticket: Some(ticket),
            })
            .await
    }

    crm_records::standard_rpc!(delete "/crm.servicedesk.v1.ServicedeskService/DeleteTicket"
        delete_ticket(DeleteTicketRequest) -> DeleteTicketResponse
        { Tickets => ticket } in records);
    crm_records::standard_rpc!(undelete "/crm.servicedesk.v1.ServicedeskService/UndeleteTicket"
        undelete_ticket(UndeleteTicketRequest) -> UndeleteTicketResponse
        { Tickets => ticket } in records);

    async fn change_ticket_status(
        &self,
        request: Request<ChangeTicketStatusRequest>,
    ) -> Result<Response<ChangeTicketStatusResponse>, Status> {
        let p = principal(&request)?;
        let asked = (method!("ChangeTicketStatus"), request.get_ref());
        let ticket = ticket_flow::change_status(&self.records, p, asked).await?;
        Ok(Response::new(ChangeTicketStatusResponse {
            ticket: Some(ticket),
        }))
    }

    async fn add_ticket_message(
        &self,
        request: Request<AddTicketMessageRequest>,
    ) -> Result<Response<AddTicketMessageResponse>, Status> {
        let p = principal(&request)?;
        let asked = (method!("AddTicketMessage"), request.get_ref());
        let message = ticket_message::add(&self.records, p, asked).await?;
        Ok(Response::new(AddTicketMessageResponse {
            message: Some(message),
        }))
    }

    async fn list_ticket_messages(
        &self,
        request: Request<ListTicketMessagesRequest>,
    ) -> Result<Response<ListTicketMessagesResponse>, Status> {
        let p = principal(&request)?;
        let r = request.get_ref();
        let page = (
            r.ticket_id.as_str(),
            r.page_size,
            r.page_token.as_str(),
            r.public_only,
        );
        let (messages, next_page_token) = ticket_message::list(&self.records, p, page).await?;
        Ok(Response::new(ListTicketMessagesResponse {
            messages,
            next_page_token,
        }))
    }

    async fn ingest_email(
        &self,
        request: Request<IngestEmailRequest>,
    ) -> Result<Response<IngestEmailResponse>, Status> {
        let p = principal(&request)?;
        let answer =
            mail_in::ingest(&self.records, self.contacts.as_ref(), p, request.get_ref()).await?;
        Ok(Response::new(answer))
    }

    async fn list_audit_entries(
        &self,
        request: Request<ListAuditEntriesRequest>,
    ) -> Result<Response<ListAuditEntriesResponse>, Status> {
        let p = principal(&request)?;
        let r = request.get_ref();
        if r.resource_type != "ticket" {
            return Err(Error::invalid("resource_type", "must be \"ticket\"").into());
        }
        let page = (r.resource_id.as_str(), r.page_size, &*r.page_token);
        let (entries, next_page_token) =
            self.records.history::<Tickets>(p, AUDIT_READ, page).await?;
        Ok(Response::new(ListAuditEntriesResponse {
            entries,
            next_page_token,
        }))
    }
}
