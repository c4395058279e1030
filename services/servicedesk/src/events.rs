//! The service desk event a standard write announces: its type by the write's action, and
//! its subject.

use crm_proto::servicedesk::{ServicedeskEvent, ServicedeskEventType, servicedesk_event::Subject};
use crm_records::resource::Action;

/// The event of `action` on a record, given the record's created, updated, deleted and
/// undeleted types.
pub(crate) fn of_write(
    action: Action,
    types: [ServicedeskEventType; 4],
    subject: Subject,
) -> ServicedeskEvent {
    ServicedeskEvent {
        r#type: action.event_type(types) as i32,
        subject: Some(subject),
        ..Default::default()
    }
}
