//! What every owner-scoped resource of a service has in common, so the store and the standard
//! methods are written once: tenant, owner, version, timestamps, soft delete, labels, custom
//! values, events and audit.

use std::future::Future;

use sea_orm::{
    ActiveModelBehavior, ActiveModelTrait, DatabaseTransaction, EntityTrait, FromQueryResult,
    IntoActiveModel, ModelTrait,
};

use crm_platform::auth::Principal;
use crm_platform::error::Error;
use crm_platform::normalize::PhoneRegion;
use crm_platform::sealing::DataKeys;
use crm_proto::DomainEvent;

/// A kind of field a filter may compare.
#[derive(Debug, Clone, Copy)]
pub enum FieldKind {
    /// Text: `=`, `!=`, `:` (contains, case-insensitive).
    Text,
    /// Text compared after lowercasing: `=`, `!=`, `:`.
    LowercaseText,
    /// An id: `=`, `!=`.
    Id,
    /// A time (RFC 3339 on the wire): every comparison.
    Time,
    /// An enum, compared by its value name (`tier = ACCOUNT_TIER_KEY`): `=`, `!=`.
    Enum(fn(&str) -> Option<i32>),
    /// A label list in the record index ("tag" or "group"): `=` (has it), `!=` (lacks it).
    Label(&'static str),
}

/// A normalised value a record is found by: a phone, email or company name for duplicate
/// detection, a tag or group for filters.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct IndexKey {
    /// "phone", "email", "name", "tag" or "group".
    pub kind: &'static str,
    /// The normalised value.
    pub value: String,
}

impl IndexKey {
    /// A key.
    pub fn new(kind: &'static str, value: String) -> Self {
        Self { kind, value }
    }
}

/// The index kinds that make two records duplicates of each other.
pub const DUPLICATE_KINDS: &[&str] = &["phone", "email", "name"];

/// A record in another table whose reference a merge moved, so its cached copy is dropped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Repointed {
    /// Resource kind.
    pub kind: &'static str,
    /// Its id.
    pub id: String,
    /// The field that now names the survivor.
    pub field: &'static str,
}

/// A record's tags and group memberships.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Labels {
    /// Tags as written.
    pub tags: Vec<String>,
    /// Group ids.
    pub group_ids: Vec<String>,
}

/// A lifecycle step, for events and audit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Created.
    Create,
    /// Changed.
    Update,
    /// Soft-deleted.
    Delete,
    /// Restored.
    Undelete,
    /// Other records were folded into it.
    Merge,
}

impl Action {
    /// The audit action name.
    pub fn name(self) -> &'static str {
        match self {
            Action::Create => "create",
            Action::Update => "update",
            Action::Delete => "delete",
            Action::Undelete => "undelete",
            Action::Merge => "merge",
        }
    }
}

/// The columns every resource has, for generic queries.
#[derive(Debug, Clone, Copy)]
pub struct Columns<C> {
    /// Primary key.
    pub id: C,
    /// Tenant.
    pub tenant_id: C,
    /// Owner.
    pub owner_id: C,
    /// Since when the owner holds it.
    pub owner_since: C,
    /// Version.
    pub version: C,
    /// Name, the text sort key.
    pub display_name: C,
    /// Creation time.
    pub create_time: C,
    /// Last change time.
    pub update_time: C,
    /// Soft-delete time.
    pub delete_time: C,
    /// Custom values (JSON).
    pub custom_fields: C,
}

/// The stamps every row carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stamps {
    /// Id.
    pub id: String,
    /// Owner.
    pub owner_id: String,
    /// Since when the owner holds it.
    pub owner_since: i64,
    /// Version.
    pub version: i64,
    /// Name.
    pub display_name: String,
    /// Creation time.
    pub create_time: i64,
    /// Last change time.
    pub update_time: i64,
    /// Soft-delete time.
    pub delete_time: Option<i64>,
}

/// What validating a write needs besides its input: the keys that seal sensitive fields and
/// the tenant's region for phone numbers written without their country code.
#[derive(Debug, Clone, Copy)]
pub struct WriteContext<'a> {
    /// Seals and opens sensitive fields.
    pub keys: &'a DataKeys,
    /// Reads numbers that carry no country code.
    pub phone_region: PhoneRegion,
}

/// A record that changed hands, for what else of the service follows its owner.
#[derive(Debug, Clone, Copy)]
pub struct OwnerChange<'a> {
    /// Its tenant.
    pub tenant_id: &'a str,
    /// The record.
    pub id: &'a str,
    /// The owner before.
    pub from: &'a str,
    /// The owner now.
    pub to: &'a str,
}

/// An owner-scoped, soft-deletable, versioned resource of a service.
pub trait Resource: Send + Sync + 'static {
    /// The sea-orm entity.
    type Entity: EntityTrait<Model = Self::Model, ActiveModel = Self::Active>;
    /// Its row.
    type Model: ModelTrait<Entity = Self::Entity>
        + FromQueryResult
        + IntoActiveModel<Self::Active>
        + Clone
        + Send
        + Sync;
    /// Its active model.
    type Active: ActiveModelTrait<Entity = Self::Entity> + ActiveModelBehavior + Send;
    /// Its wire form.
    type Proto: prost::Message + Default + Clone + 'static;
    /// The service's event message.
    type Event: DomainEvent;

    /// Resource type name, as in errors, audit and cache keys.
    const KIND: &'static str;
    /// Permission to read.
    const READ: &'static str;
    /// Permission to create, change and delete.
    const WRITE: &'static str;
    /// Permission to merge duplicates (besides [`Self::WRITE`]): a merge deletes records and
    /// moves what refers to them, so it is granted apart.
    const MERGE: &'static str;
    /// Permission to see its sensitive fields unmasked and to filter on them; `None` when it
    /// has none.
    const SENSITIVE_READ: Option<&'static str> = None;

    /// The shared columns.
    fn columns() -> Columns<<Self::Entity as EntityTrait>::Column>;
    /// The shared stamps of a row.
    fn stamps(model: &Self::Model) -> Stamps;
    /// Replaces the shared stamps of a row.
    fn set_stamps(model: &mut Self::Model, stamps: Stamps);
    /// A filterable field.
    fn filter_field(name: &str) -> Option<(<Self::Entity as EntityTrait>::Column, FieldKind)>;
    /// The wire form of a row.
    fn to_proto(model: &Self::Model) -> Self::Proto;
    /// The field values an audit entry compares.
    fn audit_fields(model: &Self::Model) -> Vec<(&'static str, String)>;
    /// The duplicate-detection keys of a live row (labels are indexed from [`Self::labels`]).
    fn index_keys(model: &Self::Model) -> Vec<IndexKey>;
    /// The fields search finds a record by, with their values.
    fn search_fields(model: &Self::Model) -> Vec<crate::SearchField>;
    /// Tags and groups.
    fn labels(model: &Self::Model) -> Labels;
    /// Replaces tags and groups.
    fn set_labels(model: &mut Self::Model, labels: &Labels);
    /// The tenant of a row.
    fn tenant_of(model: &Self::Model) -> String;
    /// Custom values (a JSON object of the tenant's custom fields).
    fn custom_json(model: &Self::Model) -> String;
    /// Replaces the custom values.
    fn set_custom_json(model: &mut Self::Model, json: String);
    /// Marks a row as merged into `survivor_id`.
    fn set_merged_into(model: &mut Self::Model, survivor_id: &str);
    /// Fills the survivor's empty fields from a merged row and unions its lists (labels are
    /// merged by the caller).
    fn absorb(survivor: &mut Self::Model, merged: &Self::Model);
    /// Moves references to `from_id` in other rows of this service onto `to_id`.
    fn repoint<'a>(
        txn: &'a DatabaseTransaction,
        tenant_id: &'a str,
        from_id: &'a str,
        to_id: &'a str,
    ) -> impl Future<Output = Result<Vec<Repointed>, Error>> + Send + 'a {
        let _ = (txn, tenant_id, from_id, to_id);
        async { Ok(Vec::new()) }
    }
    /// The event announcing `action` on `proto`; for a merge, `merged_ids` are the records
    /// folded into it.
    fn event(action: Action, proto: Self::Proto, merged_ids: &[String]) -> Self::Event;

    /// Builds a new row from a create request, validating every field.
    fn create(
        tenant_id: &str,
        owner_id: String,
        id_and_time: (String, i64),
        input: Self::Proto,
        cx: &WriteContext<'_>,
    ) -> Result<Self::Model, Error>;
    /// Applies the masked fields of an update request to a copy of `current`.
    fn update(
        current: &Self::Model,
        input: Self::Proto,
        mask: &[String],
        cx: &WriteContext<'_>,
    ) -> Result<Self::Model, Error>;
    /// Whether its personal data was erased: such a tombstone never comes back.
    fn is_erased(model: &Self::Model) -> bool {
        let _ = model;
        false
    }
    /// Whether the wire form shows masked sensitive values.
    fn has_sensitive(proto: &Self::Proto) -> bool {
        let _ = proto;
        false
    }
    /// Shows the sensitive fields of `proto` unmasked (for callers allowed to see them).
    fn reveal(model: &Self::Model, keys: &DataKeys, proto: &mut Self::Proto) -> Result<(), Error> {
        let _ = (model, keys, proto);
        Ok(())
    }
    /// An exact-match filter on a sensitive field, by its keyed hash; `None` when `name` is
    /// not one.
    fn sensitive_filter(
        keys: &DataKeys,
        tenant_id: &str,
        name: &str,
        value: &str,
    ) -> Option<Result<sea_orm::Condition, Error>> {
        let _ = (keys, tenant_id, name, value);
        None
    }
    /// The id, owner and etag of a wire form (what a client sent, or a cached copy).
    fn keys(proto: &Self::Proto) -> (&str, &str, &str);
    /// Whether the tenant lets a writer learn who owns a record the writer cannot see but
    /// would duplicate (so two reps do not chase one customer); by default it does not.
    fn discloses_duplicate_owner<'a>(
        txn: &'a DatabaseTransaction,
        tenant_id: &'a str,
    ) -> impl Future<Output = Result<bool, Error>> + Send + 'a {
        let _ = (txn, tenant_id);
        async { Ok(false) }
    }
    /// Checks that `ids` name groups of the tenant, reported on `field`. By default a
    /// resource has no groups, so any id is refused.
    fn check_groups<'a>(
        txn: &'a DatabaseTransaction,
        tenant_id: &'a str,
        field: &'a str,
        ids: &'a [String],
    ) -> impl Future<Output = Result<(), Error>> + Send + 'a {
        let _ = (txn, tenant_id);
        async move {
            if ids.is_empty() {
                Ok(())
            } else {
                Err(Error::invalid(field, "this resource has no groups"))
            }
        }
    }
    /// Moves what follows a record's owner (open follow-ups, say) when it changes hands in a
    /// transfer, inside the transfer's transaction.
    fn after_owner_change<'a>(
        txn: &'a DatabaseTransaction,
        change: OwnerChange<'a>,
    ) -> impl Future<Output = Result<(), Error>> + Send + 'a {
        let _ = (txn, change);
        async { Ok(()) }
    }
    /// Checks references to other records (inside the write's transaction).
    fn check_references<'a>(
        txn: &'a DatabaseTransaction,
        principal: &'a Principal,
        model: &'a Self::Model,
    ) -> impl Future<Output = Result<(), Error>> + Send + 'a;
}

/// Implements [`Resource::columns`], [`Resource::stamps`] and [`Resource::set_stamps`] for an
/// entity whose shared columns carry the shared names (`id`, `owner_id`, `version`, ...).
/// Expand inside the `impl Resource` block, with the entity's `Column` and `Model` in scope.
#[macro_export]
macro_rules! shared_columns {
    () => {
        fn columns() -> $crate::resource::Columns<Column> {
            $crate::resource::Columns {
                id: Column::Id,
                tenant_id: Column::TenantId,
                owner_id: Column::OwnerId,
                owner_since: Column::OwnerSince,
                version: Column::Version,
                display_name: Column::DisplayName,
                create_time: Column::CreateTime,
                update_time: Column::UpdateTime,
                delete_time: Column::DeleteTime,
                custom_fields: Column::CustomFields,
            }
        }

        fn tenant_of(m: &Model) -> String {
            m.tenant_id.clone()
        }

        fn custom_json(m: &Model) -> String {
            m.custom_fields.clone()
        }

        fn set_custom_json(m: &mut Model, json: String) {
            m.custom_fields = json;
        }

        fn stamps(m: &Model) -> $crate::resource::Stamps {
            $crate::resource::Stamps {
                id: m.id.clone(),
                owner_id: m.owner_id.clone(),
                owner_since: m.owner_since,
                version: m.version,
                display_name: m.display_name.clone(),
                create_time: m.create_time,
                update_time: m.update_time,
                delete_time: m.delete_time,
            }
        }

        fn labels(m: &Model) -> $crate::resource::Labels {
            $crate::resource::Labels {
                tags: $crate::json::from_json(&m.tags),
                group_ids: $crate::json::from_json(&m.group_ids),
            }
        }

        fn set_labels(m: &mut Model, labels: &$crate::resource::Labels) {
            m.tags = $crate::json::to_json(&labels.tags);
            m.group_ids = $crate::json::to_json(&labels.group_ids);
        }

        fn set_merged_into(m: &mut Model, survivor_id: &str) {
            m.merged_into_id = survivor_id.to_owned();
        }

        fn set_stamps(m: &mut Model, s: $crate::resource::Stamps) {
            m.id = s.id;
            m.owner_id = s.owner_id;
            m.owner_since = s.owner_since;
            m.version = s.version;
            m.create_time = s.create_time;
            m.update_time = s.update_time;
            m.delete_time = s.delete_time;
        }
    };
}
