//! The permission each RPC needs, and the built-in roles every tenant starts with.
//! An RPC missing from the table is refused: new RPCs must be classified before anyone can
//! call them.

use crm_platform::auth::DataScope;

/// RPCs anyone may call without credentials.
pub fn is_public(path: &str) -> bool {
    matches!(
        path,
        "/crm.identity.v1.AuthService/Login"
            | "/crm.identity.v1.AuthService/RefreshToken"
            | "/crm.identity.v1.AuthService/Logout"
    ) || path.starts_with("/grpc.health.v1.Health/")
        || path.starts_with("/grpc.reflection.v1.ServerReflection/")
        || path.starts_with("/grpc.reflection.v1alpha.ServerReflection/")
}

/// The public RPCs that take credentials, which are rate-limited per client address so
/// nobody can guess passwords or tokens at speed. (Health and reflection are not: probes
/// must always get through.)
pub fn is_sign_in(path: &str) -> bool {
    path.starts_with("/crm.identity.v1.AuthService/")
}

/// What an authenticated RPC requires.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Requirement {
    /// Any authenticated caller.
    Authenticated,
    /// One permission.
    Permission(&'static str),
    /// At least one of these; the service checks the one the request's resource type needs.
    AnyOf(&'static [&'static str]),
}

const ANY_CONTACTS_READ: &[&str] = &["contacts.accounts.read", "contacts.contacts.read"];
const ANY_CONTACTS_WRITE: &[&str] = &["contacts.accounts.write", "contacts.contacts.write"];
const POOL_READ: &[&str] = &["contacts.pool.use", "contacts.pool.admin"];

/// The requirement of an RPC path, or `None` for an unknown RPC.
pub fn required(path: &str) -> Option<Requirement> {
    let (service, method) = path.strip_prefix('/')?.split_once('/')?;
    let permission = match service {
        "crm.identity.v1.IdentityService" => match method {
            "GetCurrentUser" => return Some(Requirement::Authenticated),
            "CreateTenant" => "identity.tenants.create",
            // Everyone reads their own tenant's name and settings.
            "GetTenant" => return Some(Requirement::Authenticated),
            "UpdateTenant" => "identity.tenants.write",
            "GetUser" | "ListUsers" => "identity.users.read",
            "CreateUser" | "UpdateUser" | "DeactivateUser" => "identity.users.write",
            "ListTeams" | "GetTeam" => "identity.teams.read",
            "CreateTeam" | "UpdateTeam" | "DeleteTeam" => "identity.teams.write",
            "ListRoles" | "GetRole" => "identity.roles.read",
            "CreateRole" | "UpdateRole" => "identity.roles.write",
            "ListApiKeys" => "identity.api_keys.read",
            "CreateApiKey" | "RevokeApiKey" => "identity.api_keys.write",
            "ListAuditEntries" => "identity.audit.read",
            _ => return None,
        },
        "crm.contacts.v1.ContactsService" => match method {
            "GetAccount" | "ListAccounts" => "contacts.accounts.read",
            "CreateAccount" | "UpdateAccount" | "DeleteAccount" | "UndeleteAccount" => {
                "contacts.accounts.write"
            }
            "GetContact" | "ListContacts" | "ListBirthdays" => "contacts.contacts.read",
            "CreateContact" | "UpdateContact" | "DeleteContact" | "UndeleteContact" => {
                "contacts.contacts.write"
            }
            "ListAuditEntries" => "contacts.audit.read",
            "GetAccountHierarchy" => "contacts.accounts.read",
            "MergeAccounts" => "contacts.accounts.merge",
            "MergeContacts" => "contacts.contacts.merge",
            "ListGroups" => "contacts.groups.read",
            "ListCustomFields" => "contacts.custom_fields.read",
            "ExportPersonalData" | "ErasePersonalData" => "contacts.privacy.admin",
            "CreateCustomField" | "UpdateCustomField" | "DeleteCustomField" => {
                "contacts.custom_fields.write"
            }
            "CreateGroup" | "DeleteGroup" => "contacts.groups.write",
            "ListInteractions" | "ListFollowUps" => "contacts.interactions.read",
            "RecordInteraction" | "UpdateFollowUp" => "contacts.interactions.write",
            "ListPool" | "ClaimFromPool" => "contacts.pool.use",
            "UpdatePoolRules" => "contacts.pool.admin",
            "GetPoolRules" => return Some(Requirement::AnyOf(POOL_READ)),
            "FindDuplicates" | "SearchCustomers" | "ExportRecords" => {
                return Some(Requirement::AnyOf(ANY_CONTACTS_READ));
            }
            "BatchModifyLabels" | "TransferOwnership" | "ReleaseToPool" | "ImportRecords" => {
                return Some(Requirement::AnyOf(ANY_CONTACTS_WRITE));
            }
            _ => return None,
        },
        _ => return None,
    };
    Some(Requirement::Permission(permission))
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
];

/// Managers also merge their team's duplicates: a merge deletes records and moves what
/// refers to them, a data-quality decision above a rep's.
const MANAGER_EXTRA: &[&str] = &[
    "identity.users.read",
    "identity.teams.read",
    "contacts.groups.write",
    "contacts.accounts.merge",
    "contacts.contacts.merge",
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

/// The built-in roles: admin (whole tenant), sales manager (their teams), sales rep (own).
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
                    assert!(is_public(&path) || required(&path).is_some(), "{path}");
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
            Some(Requirement::Permission("contacts.contacts.read"))
        );
        assert_eq!(
            required("/crm.contacts.v1.ContactsService/DropTables"),
            None
        );
        assert!(is_public("/crm.identity.v1.AuthService/Login"));
        assert!(!is_public("/crm.identity.v1.IdentityService/CreateTenant"));
    }
}
