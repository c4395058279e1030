//! The CRM's protobuf contracts: messages, clients and servers generated from `proto/crm`.
#![allow(missing_docs, unreachable_pub, clippy::all)]

/// Encoded `FileDescriptorSet` of every CRM proto, for server reflection.
pub const FILE_DESCRIPTOR_SET: &[u8] = tonic::include_file_descriptor_set!("crm_descriptor");

/// Who may call each RPC, generated from the `(crm.common.v1.access)` option every RPC
/// declares in its contract.
pub mod access {
    /// What calling an RPC takes.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub enum Access {
        /// Nothing: the RPCs that sign in.
        Public,
        /// Any signed-in caller.
        Authenticated,
        /// One permission.
        Permission(&'static str),
        /// At least one of these; the service checks the one the request's resource type
        /// needs.
        AnyOf(&'static [&'static str]),
    }

    include!(concat!(env!("OUT_DIR"), "/access.rs"));
}

/// `crm.*` packages.
pub mod crm {
    /// `crm.common.*`.
    pub mod common {
        /// `crm.common.v1`: shared types.
        pub mod v1 {
            tonic::include_proto!("crm.common.v1");
        }
    }
    /// `crm.identity.*`.
    pub mod identity {
        /// `crm.identity.v1`: tenants, users, teams, roles, API keys and sign-in.
        pub mod v1 {
            tonic::include_proto!("crm.identity.v1");
        }
    }
    /// `crm.contacts.*`.
    pub mod contacts {
        /// `crm.contacts.v1`: accounts and contacts.
        pub mod v1 {
            tonic::include_proto!("crm.contacts.v1");
        }
    }
    /// `crm.servicedesk.*`.
    pub mod servicedesk {
        /// `crm.servicedesk.v1`: tickets.
        pub mod v1 {
            tonic::include_proto!("crm.servicedesk.v1");
        }
    }
    /// `crm.sales.*`.
    pub mod sales {
        /// `crm.sales.v1`: the catalogue (products, price lists, exchange rates).
        pub mod v1 {
            tonic::include_proto!("crm.sales.v1");
        }
    }
}

/// What stamps a domain event before it is written to the outbox.
#[derive(Debug, Clone, PartialEq)]
pub struct EventStamp {
    /// A fresh id; consumers deduplicate on it.
    pub event_id: String,
    /// The tenant of the subject.
    pub tenant_id: String,
    /// Who caused it.
    pub actor_id: String,
    /// When it was committed.
    pub occur_time: prost_types::Timestamp,
}

/// A service's domain event as its contract declares it: the `<Service>Event` message of
/// `crm.<service>.v1`, published on the stream named after the package. The build implements
/// it for every such message, and refuses one without the stamps.
pub trait DomainEvent: prost::Message + Default + Clone + Send + Sync + 'static {
    /// The stream it is published on (`crm.contacts.v1`).
    const STREAM: &'static str;
    /// Its type's name, as consumers and the outbox see it (`CONTACT_CREATED`).
    fn type_name(&self) -> &'static str;
    /// Its id.
    fn event_id(&self) -> &str;
    /// Sets the stamps.
    fn stamp(&mut self, stamp: EventStamp);
}

/// A change to a custom field definition.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DefinitionChange {
    /// Defined.
    Created,
    /// Label, `required` or options changed.
    Updated,
    /// Removed.
    Deleted,
}

/// A service's event that announces custom field changes (one with a `custom_field`
/// subject); the build implements it for each.
pub trait CustomFieldEvent: DomainEvent {
    /// The event announcing `change` of `definition`.
    fn custom_field(change: DefinitionChange, definition: common::CustomFieldDefinition) -> Self;
}

include!(concat!(env!("OUT_DIR"), "/events.rs"));

/// One message of an import stream, as every service's `ImportRecordsRequest` carries it.
#[derive(Debug)]
pub enum ImportPart {
    /// The first message.
    Options(common::ImportOptions),
    /// The next bytes of a CSV file.
    Csv(Vec<u8>),
    /// Structured rows.
    Rows(common::ImportRows),
}

/// What an import did, as every service's `ImportRecordsResponse` says it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ImportTotals {
    /// Rows read.
    pub rows: i64,
    /// Records created.
    pub created: i64,
    /// Records updated.
    pub updated: i64,
    /// Rows skipped as duplicates.
    pub skipped: i64,
    /// Rows refused.
    pub failed: i64,
    /// Every row not simply created, in row order.
    pub results: Vec<common::ImportRowResult>,
    /// Whether nothing was written.
    pub dry_run: bool,
}

/// A service's `ImportRecordsRequest`; the build implements it for each.
pub trait ImportRequest: prost::Message + Default + Send + 'static {
    /// The shared reading of the message.
    fn into_part(self) -> Option<ImportPart>;
}

/// A service's `ImportRecordsResponse`; the build implements it for each.
pub trait ImportResponse: prost::Message + Default {
    /// The response saying `totals`.
    fn from_summary(totals: ImportTotals) -> Self;
}

include!(concat!(env!("OUT_DIR"), "/imports.rs"));

pub use crm::common::v1 as common;
pub use crm::contacts::v1 as contacts;
pub use crm::identity::v1 as identity;
pub use crm::sales::v1 as sales;
pub use crm::servicedesk::v1 as servicedesk;
