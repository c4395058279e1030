//! The end-to-end suites, one module per file beside this one, built as one test binary.
//!
//! One binary rather than one per file: each links the whole suite, and thirty links of it
//! cost minutes of CI and gigabytes of disk. Run one file's tests with
//! `cargo test --test e2e tickets::` (the module path is the file name).

// Tests and their helpers panic on purpose: a failed step is a failed test with a clear message.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[macro_use]
mod support;

mod access;
mod bad_input;
mod catalog;
mod consumers;
mod contracts;
mod coverage;
mod custom_fields;
mod customers;
mod documents_hidden;
mod engagement;
mod existence;
mod forecast;
mod knowledge;
mod leads;
mod operations;
mod orders;
mod outages;
mod pipeline;
mod privacy;
mod queues;
mod quote_to_cash;
mod quotes;
mod records;
mod registry;
mod retries;
mod satisfaction;
mod search;
mod security;
mod sla;
mod teams;
mod tenants;
mod tickets;
mod tracing;
mod transfer;
