//! The record machinery every domain service shares, generic over the service's resources and
//! its event type: the [`resource::Resource`] trait a service implements per aggregate, the
//! scoped [`store`] whose every query carries the caller's tenant and data scope, and the
//! record index of labels and duplicate keys. A service crate keeps only its domain.

pub mod bulk;
pub mod contacts_events;
pub mod custom_fields;
pub mod custom_values;
pub mod customers;
pub mod definitions;
pub mod directory;
pub mod duplicates;
pub mod entity;
pub mod export;
pub mod handlers;
pub mod import;
pub mod index;
pub mod jobs;
pub mod json;
pub mod labels;
pub mod numbers;
pub mod ranked;
pub mod relevance;
pub mod resource;
pub mod rpc;
pub mod schema;
pub mod search;
pub mod settings;
pub mod store;
pub mod tabular;

/// A field search finds a record by, with its value.
pub type SearchField = (&'static str, String);
