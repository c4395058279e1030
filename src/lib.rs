//! The suite's registry of domain services, read by the `crm` binary and the test harness.

pub mod registry;
