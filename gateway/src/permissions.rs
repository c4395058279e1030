//! The built-in roles every tenant starts with, and the gateway's reading of who may call an
//! RPC. That is declared by each RPC in its contract (`option (crm.common.v1.access)`) and
//! compiled into `crm_proto::access`; an RPC that is not there is refused, and one without
//! the option does not build.

use crm_platform::auth::DataScope;
use crm_proto::access::Access;

/// RPCs anyone may call without credentials: those whose contract says so, and the
/// standard health and reflection services.
pub fn is_public(path: &str) -> bool {
    required(path) == Some(Access::Public)
        || path.starts_with("/grpc.health.v1.Health/")
        || path.starts_with("/grpc.reflection.v1.ServerReflection/")
        || path.starts_with("/grpc.reflection.v1alpha.ServerReflection/")
}

/// The public RPCs of the contracts, which all take a credential of some kind (a password,
/// a refresh token, a customer's survey token) and are rate-limited per client address so
/// nobody can guess one at speed. (Health and reflection are not: probes must always get
/// through.)
pub fn is_sign_in(path: &str) -> bool {
    required(path) == Some(Access::Public)
}

/// What calling the RPC at `path` takes, or `None` for an unknown RPC.
pub fn required(path: &str) -> Option<Access> {
    crm_proto::access::of(path)
}

/// Every permission a tenant admin holds (all but platform-level ones).
pub const TENANT_ADMIN: &[&str] = &[
    "identity.tenants.write",
    "identity.users.read",
    "identity.users.write",
    "identity.teams.read",
    "identity.teams.write",
    "identity.roles.read",
    "identity.roles.write",
    "identity.api_keys.read",
    "identity.api_keys.write",
    "identity.audit.read",
    "contacts.accounts.read",
    "contacts.accounts.write",
    "contacts.accounts.merge",
    "contacts.contacts.read",
    "contacts.contacts.write",
    "contacts.contacts.merge",
    "contacts.audit.read",
    "contacts.groups.read",
    "contacts.groups.write",
    "contacts.interactions.read",
    "contacts.interactions.write",
    "contacts.pool.use",
    "contacts.pool.admin",
    "contacts.custom_fields.read",
    "contacts.custom_fields.write",
    "contacts.sensitive.read",
    "contacts.privacy.admin",
    "sales.products.read",
    "sales.products.write",
    "sales.price_lists.read",
    "sales.price_lists.write",
    "sales.exchange_rates.read",
    "sales.exchange_rates.write",
    "sales.custom_fields.read",
    "sales.custom_fields.write",
    "sales.audit.read",
    "sales.pipelines.read",
    "sales.pipelines.write",
    "sales.opportunities.read",
    "sales.opportunities.write",
    "sales.leads.read",
    "sales.leads.write",
    "sales.leads.capture",
    "sales.lead_rules.read",
    "sales.lead_rules.write",
    "sales.targets.read",
    "sales.targets.write",
    "sales.quotes.read",
    "sales.quotes.write",
    "sales.approvals.read",
    "sales.approvals.decide",
    "sales.approval_policy.read",
    "sales.approval_policy.write",
    "sales.orders.read",
    "sales.orders.write",
    "sales.orders.sync",
    "sales.contracts.read",
    "sales.contracts.write",
    "sales.receivables.read",
    "sales.receivables.write",
    "servicedesk.tickets.read",
    "servicedesk.tickets.write",
    "servicedesk.audit.read",
    "servicedesk.mail.ingest",
    "servicedesk.settings.read",
    "servicedesk.settings.write",
    "servicedesk.entitlements.read",
    "servicedesk.entitlements.write",
    "servicedesk.queues.read",
    "servicedesk.queues.write",
    "servicedesk.kb.read",
    "servicedesk.kb.write",
    "servicedesk.kb.publish",
    "servicedesk.quality.read",
];

const SALES: &[&str] = &[
    "contacts.accounts.read",
    "contacts.accounts.write",
    "contacts.contacts.read",
    "contacts.contacts.write",
    "contacts.audit.read",
    "contacts.groups.read",
    "contacts.interactions.read",
    "contacts.interactions.write",
    "contacts.pool.use",
    "contacts.custom_fields.read",
    // Sellers read the catalogue; who maintains it is the tenant's choice (a custom role).
    "sales.products.read",
    "sales.price_lists.read",
    "sales.exchange_rates.read",
    "sales.custom_fields.read",
    // Sellers work their deals through the tenant's pipelines.
    "sales.pipelines.read",
    "sales.opportunities.read",
    "sales.opportunities.write",
    // Sellers work their leads; the tenant's scoring and assignment rules are the admin's.
    "sales.leads.read",
    "sales.leads.write",
    "sales.lead_rules.read",
    // Sellers read their targets and forecast; managers set their team's.
    "sales.targets.read",
    "sales.audit.read",
    // Sellers quote their deals and follow their approvals; the tenant's policy is the admin's.
    "sales.quotes.read",
    "sales.quotes.write",
    "sales.approvals.read",
    "sales.approval_policy.read",
    // Sellers take their customers' orders; the ERP (a key with sales.orders.sync) reports
    // shipments, invoices and payments.
    "sales.orders.read",
    "sales.orders.write",
    // Sellers keep their contracts and follow their customers' payments (回款).
    "sales.contracts.read",
    "sales.contracts.write",
    "sales.receivables.read",
    "sales.receivables.write",
];

/// Agents of the service desk work their tickets for the customers they reach in contacts,
/// and file the callers they do not find.
const SERVICE: &[&str] = &[
    "contacts.accounts.read",
    "contacts.accounts.write",
    "contacts.contacts.read",
    "contacts.contacts.write",
    "contacts.interactions.read",
    "contacts.interactions.write",
    "servicedesk.tickets.read",
    "servicedesk.tickets.write",
    "servicedesk.audit.read",
    // Agents see the calendar, service levels and entitlements their tickets are held to.
    "servicedesk.settings.read",
    "servicedesk.entitlements.read",
    "servicedesk.queues.read",
    // Agents read the knowledge base and draft articles; publishing is the managers'.
    "servicedesk.kb.read",
    "servicedesk.kb.write",
];

/// Service managers also see who is on their teams, and set the desk's calendar and service
/// levels.
const SERVICE_MANAGER_EXTRA: &[&str] = &[
    "identity.users.read",
    "identity.teams.read",
    "servicedesk.settings.write",
    "servicedesk.entitlements.write",
    "servicedesk.queues.write",
    "servicedesk.kb.publish",
    "servicedesk.quality.read",
];

/// Managers also merge their team's duplicates: a merge deletes records and moves what
/// refers to them, a data-quality decision above a rep's.
const MANAGER_EXTRA: &[&str] = &[
    "identity.users.read",
    "identity.teams.read",
    "contacts.groups.write",
    "contacts.accounts.merge",
    "contacts.contacts.merge",
    "sales.targets.write",
    "sales.approvals.decide",
];

/// A role every tenant is created with.
#[derive(Debug, Clone)]
pub struct BuiltInRole {
    /// Role name.
    pub name: &'static str,
    /// Its permissions.
    pub permissions: Vec<&'static str>,
    /// Its data scope.
    pub scope: DataScope,
}

/// The built-in roles: admin (whole tenant), sales and service managers (their teams), sales
/// reps and service agents (their own).
pub fn built_in_roles() -> Vec<BuiltInRole> {
    vec![
        BuiltInRole {
            name: "admin",
            permissions: TENANT_ADMIN.to_vec(),
            scope: DataScope::All,
        },
        BuiltInRole {
            name: "sales_manager",
            permissions: SALES.iter().chain(MANAGER_EXTRA).copied().collect(),
            scope: DataScope::Team,
        },
        BuiltInRole {
            name: "sales_rep",
            permissions: SALES.to_vec(),
            scope: DataScope::Own,
        },
        BuiltInRole {
            name: "service_manager",
            permissions: SERVICE
                .iter()
                .chain(SERVICE_MANAGER_EXTRA)
                .copied()
                .collect(),
            scope: DataScope::Team,
        },
        BuiltInRole {
            name: "service_agent",
            permissions: SERVICE.to_vec(),
            scope: DataScope::Own,
        },
    ]
}

/// Tells whether a role of this name is one every tenant starts with, which follows the
/// release and cannot be changed.
pub fn is_built_in(name: &str) -> bool {
    name == "platform_admin" || built_in_roles().iter().any(|r| r.name == name)
}

/// Tells whether `permission` names something the suite knows (or is the `*` wildcard).
pub fn is_known(permission: &str) -> bool {
    permission == "*"
        || permission == "identity.tenants.create"
        || TENANT_ADMIN.contains(&permission)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_rpc_in_the_contracts_is_classified() {
        use prost::Message as _;
        let set = prost_types::FileDescriptorSet::decode(crm_proto::FILE_DESCRIPTOR_SET).unwrap();
        let mut checked = 0;
        for file in &set.file {
            for service in &file.service {
                for method in &service.method {
                    let path = format!("/{}.{}/{}", file.package(), service.name(), method.name());
                    if let Some(access) = required(&path) {
                        for permission in match access {
                            Access::Permission(p) => vec![p],
                            Access::AnyOf(any) => any.to_vec(),
                            Access::Public | Access::Authenticated => vec![],
                        } {
                            // A permission nobody can hold would make the RPC unreachable.
                            assert!(is_known(permission), "{path}: {permission}");
                        }
                    } else {
                        panic!("{path} has no access rule");
                    }
                    checked += 1;
                }
            }
        }
        assert!(checked > 20);
    }

    #[test]
    fn unknown_rpcs_are_refused() {
        assert_eq!(
            required("/crm.contacts.v1.ContactsService/GetContact"),
            Some(Access::Permission("contacts.contacts.read"))
        );
        assert_eq!(
            required("/crm.contacts.v1.ContactsService/DropTables"),
            None
        );
        assert!(is_public("/crm.identity.v1.AuthService/Login"));
        assert!(!is_public("/crm.identity.v1.IdentityService/CreateTenant"));
    }
}
