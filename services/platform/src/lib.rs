//! The CRM's shared runtime. Every cross-cutting concern lives here once: configuration,
//! database connections and platform tables, cache-aside, the transactional outbox and event
//! bus, idempotency, audit trail, the principal and its data scope, pagination and filters,
//! error mapping to gRPC statuses, telemetry and server bootstrap. Service crates hold only
//! their domain.

pub mod audit;
pub mod auth;
pub mod cache;
pub mod calendar;
pub mod client;
pub mod clock;
pub mod config;
pub mod consumer;
pub mod csv;
pub mod db;
pub mod entity;
pub mod error;
pub mod etag;
pub mod events;
pub mod faults;
pub mod field_mask;
pub mod filter;
pub mod housekeeping;
pub mod idempotency;
pub mod idle;
pub mod migration;
pub mod money;
pub mod normalize;
pub mod paging;
pub mod private_files;
pub mod reflection;
pub mod sealing;
pub mod secrets;
pub mod server;
pub mod service;
pub mod signed_token;
pub mod telemetry;
pub mod time;
pub mod validate;
pub mod xlsx;

pub use error::{Error, Result};
