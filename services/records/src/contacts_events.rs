//! What contacts' events ask of a service that names its customers: records merged into a
//! survivor, and a contact erased. Each service applies them to its own rows through the
//! platform's inbox (`crm_platform::consumer`), once each.

use prost::Message as _;

use crate::customers::CustomerKind;
use crm_platform::error::Error;
use crm_platform::events::Envelope;
use crm_proto::contacts::{ContactsEvent, ContactsEventType, contacts_event::Subject};

/// The stream contacts publishes on.
pub const STREAM: &str = "crm.contacts.v1";

/// What an event of contacts asks of a service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Followed {
    /// Records of `kind` named by `merged` now live on as `survivor`.
    Merged {
        /// Accounts or contacts.
        kind: CustomerKind,
        /// The surviving record.
        survivor: String,
        /// The records folded into it.
        merged: Vec<String>,
    },
    /// The contact's personal data was erased.
    Erased {
        /// The contact.
        contact_id: String,
    },
}

/// Contacts' event in `envelope`; `None` for another stream's.
pub fn decode(envelope: &Envelope) -> Result<Option<ContactsEvent>, Error> {
    if envelope.stream != STREAM {
        return Ok(None);
    }
    ContactsEvent::decode(envelope.payload.as_slice())
        .map(Some)
        .map_err(|e| Error::internal(format!("a contacts event does not decode: {e}")))
}

/// What `event` asks of a service, if anything.
pub fn followed(event: &ContactsEvent) -> Option<Followed> {
    let kind = ContactsEventType::try_from(event.r#type).ok()?;
    match (kind, event.subject.as_ref()?) {
        (ContactsEventType::AccountMerged, Subject::Account(survivor)) => Some(Followed::Merged {
            kind: CustomerKind::Account,
            survivor: survivor.id.clone(),
            merged: event.merged_ids.clone(),
        }),
        (ContactsEventType::ContactMerged, Subject::Contact(survivor)) => Some(Followed::Merged {
            kind: CustomerKind::Contact,
            survivor: survivor.id.clone(),
            merged: event.merged_ids.clone(),
        }),
        (ContactsEventType::ContactErased, Subject::Contact(erased)) => Some(Followed::Erased {
            contact_id: erased.id.clone(),
        }),
        _ => None,
    }
}

/// The customer records `event` says changed (owner, deletion, merge, erasure), for a
/// service that caches what it learnt about them.
pub fn changed_customers(event: &ContactsEvent) -> Vec<(CustomerKind, String)> {
    let (kind, id) = match event.subject.as_ref() {
        Some(Subject::Account(a)) => (CustomerKind::Account, a.id.clone()),
        Some(Subject::Contact(c)) => (CustomerKind::Contact, c.id.clone()),
        _ => return Vec::new(),
    };
    std::iter::once(id)
        .chain(event.merged_ids.iter().cloned())
        .map(|id| (kind, id))
        .collect()
}
