//! What the service desk does with the contacts service's events, each applied once through
//! the platform's inbox (`crm_platform::consumer`): a merge of accounts or contacts repoints
//! the tickets that named the merged records at the survivor, and an erased contact takes
//! the customer's own words with it (the ticket's description and the messages the customer
//! wrote), while the ticket itself stays for the desk's figures. Each ticket change is a
//! write of the system actor: a new version, an audit entry and an event, in the inbox's
//! transaction.

use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, DatabaseTransaction, EntityTrait, QueryFilter};

use crate::entity::ticket::{Column, Entity, Model};
use crate::entity::ticket_message;
use crate::ticket::Tickets;
use crm_platform::error::Error;
use crm_platform::events::Envelope;
use crm_proto::servicedesk::TicketMessageKind;
use crm_records::contacts_events::{self, Followed};
use crm_records::customers::CustomerKind;
use crm_records::handlers::Records;
use crm_records::jobs::system_principal;
use crm_records::resource::{Action, Resource};

/// The consumer group (and inbox name) of the service desk.
pub(crate) const SUBSCRIBER: &str = "servicedesk";

/// What an erased customer's words become.
const ERASED: &str = "(erased)";

/// What an event does to each ticket it names.
type TicketChange = Box<dyn Fn(&Model) -> Model + Send + Sync>;

/// Applies contacts' events to the tickets.
#[derive(Debug, Clone)]
pub(crate) struct ContactsEvents {
    /// The desk's records, whose cached tickets a change drops.
    pub(crate) records: Records,
}

impl crm_platform::consumer::Handler for ContactsEvents {
    async fn handle(&self, txn: &DatabaseTransaction, event: &Envelope) -> Result<(), Error> {
        let Some(decoded) = contacts_events::decode(event)? else {
            return Ok(());
        };
        let Some(followed) = contacts_events::followed(&decoded) else {
            return Ok(());
        };
        let tenant_id = event.tenant_id.as_str();
        let (naming, change): (_, TicketChange) = match followed {
            Followed::Merged {
                kind,
                survivor,
                merged,
            } => {
                let column = match kind {
                    CustomerKind::Account => Column::AccountId,
                    CustomerKind::Contact => Column::ContactId,
                };
                let repoint = move |t: &Model| {
                    let mut next = t.clone();
                    match kind {
                        CustomerKind::Account => next.account_id = survivor.clone(),
                        CustomerKind::Contact => next.contact_id = survivor.clone(),
                    }
                    next
                };
                (column.is_in(merged), Box::new(repoint))
            }
            Followed::Erased { contact_id } => {
                erase_messages(txn, tenant_id, &contact_id).await?;
                let erase = |t: &Model| {
                    let mut next = t.clone();
                    next.description = ERASED.to_owned();
                    next
                };
                (Column::ContactId.eq(contact_id), Box::new(erase))
            }
        };
        let found = Entity::find()
            .filter(Column::TenantId.eq(tenant_id))
            .filter(naming)
            .all(txn)
            .await?;
        let principal = system_principal(tenant_id);
        let mut changed = Vec::new();
        for current in found {
            let next = change(&current);
            if next == current {
                continue;
            }
            // Straight to the row: a closed ticket still follows its customer.
            self.records
                .save_change::<Tickets>(txn, &principal, &current, next, Action::Update, &[])
                .await?;
            changed.push(current.id);
        }
        for id in changed {
            self.records.forget(tenant_id, Tickets::KIND, &id).await;
        }
        self.records.relay.wake();
        Ok(())
    }
}

/// The messages the erased contact wrote on their tickets lose their words and files.
async fn erase_messages(
    txn: &DatabaseTransaction,
    tenant_id: &str,
    contact_id: &str,
) -> Result<(), Error> {
    let tickets: Vec<String> = Entity::find()
        .filter(Column::TenantId.eq(tenant_id))
        .filter(Column::ContactId.eq(contact_id))
        .all(txn)
        .await?
        .into_iter()
        .map(|t| t.id)
        .collect();
    ticket_message::Entity::update_many()
        .col_expr(ticket_message::Column::Body, Expr::value(ERASED))
        .col_expr(ticket_message::Column::Attachments, Expr::value("[]"))
        .filter(ticket_message::Column::TenantId.eq(tenant_id))
        .filter(ticket_message::Column::TicketId.is_in(tickets))
        .filter(ticket_message::Column::Kind.eq(TicketMessageKind::CustomerMessage as i32))
        .exec(txn)
        .await?;
    Ok(())
}
