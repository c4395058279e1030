//! Service desk helpers: tickets filed, read, moved and listed through the gateway.

use crm_proto::servicedesk::*;

use super::clients::Session;

pub async fn create_ticket(session: &Session, ticket: Ticket) -> Result<Ticket, tonic::Status> {
    Ok(session
        .servicedesk()
        .create_ticket(CreateTicketRequest {
            ticket: Some(ticket),
            request_id: String::new(),
        })
        .await?
        .into_inner()
        .ticket
        .unwrap())
}

pub async fn get_ticket(session: &Session, id: &str) -> Result<Ticket, tonic::Status> {
    Ok(session
        .servicedesk()
        .get_ticket(GetTicketRequest { id: id.into() })
        .await?
        .into_inner()
        .ticket
        .unwrap())
}

/// Moves a ticket with no etag and no request id.
pub async fn move_to(
    session: &Session,
    id: &str,
    status: TicketStatus,
    comment: &str,
) -> Result<Ticket, tonic::Status> {
    Ok(session
        .servicedesk()
        .change_ticket_status(ChangeTicketStatusRequest {
            id: id.into(),
            etag: String::new(),
            status: status as i32,
            comment: comment.into(),
            request_id: String::new(),
        })
        .await?
        .into_inner()
        .ticket
        .unwrap())
}

pub fn repair(contact_id: &str) -> Ticket {
    Ticket {
        r#type: TicketType::Repair as i32,
        channel: TicketChannel::Phone as i32,
        subject: "水泵漏水 / the pump leaks".into(),
        description: "Bought in March; water under the pump since Monday.".into(),
        contact_id: contact_id.into(),
        ..Default::default()
    }
}
