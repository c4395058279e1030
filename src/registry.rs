//! Every domain service of the suite. `crm up` starts them all in this order; `crm serve`,
//! `crm migrate` and `crm keys` take their names as targets; the gateway routes to each at
//! its `CRM_<NAME>_URL`; the test harness starts what a scenario asks for. Adding a service
//! to the suite is adding its registration here.

use crm_platform::service::ServiceModule;

static SERVICES: &[&dyn ServiceModule] = &[
    &crm_contacts::module::MODULE,
    &crm_sales::module::MODULE,
    &crm_servicedesk::module::MODULE,
];

/// The registered services.
pub fn services() -> &'static [&'static dyn ServiceModule] {
    SERVICES
}

/// The service of this name.
pub fn find(name: &str) -> Option<&'static dyn ServiceModule> {
    SERVICES.iter().copied().find(|m| m.name() == name)
}
