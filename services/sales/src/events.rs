//! The sales event a standard write announces: its type by the write's action, and its
//! subject.

use crm_proto::sales::{SalesEvent, SalesEventType, sales_event::Subject};
use crm_records::resource::Action;

/// The event of `action` on a record, given the record's created, updated, deleted and
/// undeleted types (a merge announces an update).
pub(crate) fn of_write(action: Action, types: [SalesEventType; 4], subject: Subject) -> SalesEvent {
    let kind = action.event_type(types);
    SalesEvent {
        r#type: kind as i32,
        subject: Some(subject),
        ..Default::default()
    }
}
