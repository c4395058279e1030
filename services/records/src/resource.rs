//! What every owner-scoped resource of a service has in common, so the store and the standard
//! methods are written once: tenant, owner, version, timestamps, soft delete, labels, custom
//! values, events and audit.

use std::future::Future;

use sea_orm::{
    ActiveModelBehavior, ActiveModelTrait, DatabaseTransaction, EntityTrait, FromQueryResult,
    IntoActiveModel, ModelTrait,
};

use crm_platform::auth::{OwnerFilter, Principal};
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
    /// A calendar day stored as `yyyymmdd` (`2027-03-01` on the wire), 0 for none: every
    /// comparison, none of which a record without a day meets.
    Day,
    /// An exact amount stored in ten-thousandths (see [`AMOUNT_SCALE`]), `NULL` while
    /// unknown, written as a decimal (`10000.50`): every comparison, none of which an
    /// unknown amount meets.
    Amount,
    /// A whole number (a lead's score): every comparison.
    Int,
}

/// Stored amounts are whole ten-thousandths: every currency's minor units fit (KWD has 3),
/// and 10^12 units stay far inside an `i64`.
pub const AMOUNT_SCALE: u32 = 4;

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

/// The index kinds that make two customers duplicates of each other.
pub const CUSTOMER_KEYS: &[&str] = &["phone", "email", "name"];

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

    /// The event type of this step, from a resource's created, updated, deleted and
    /// undeleted types (a merge announces an update).
    pub fn event_type<T>(self, [created, updated, deleted, undeleted]: [T; 4]) -> T {
        match self {
            Action::Create => created,
            Action::Update | Action::Merge => updated,
            Action::Delete => deleted,
            Action::Undelete => undeleted,
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

/// Who of a tenant sees a resource's records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// Records belong to an owner; the caller's data scope (own, team, all) decides which
    /// they see: customers, leads, opportunities, tickets.
    Owner,
    /// Records are the tenant's, seen by everyone holding the read permission: products,
    /// price lists, pipelines, queues. The owner column keeps who created the record.
    Tenant,
}

/// The owners whose records of `R` the caller sees.
pub fn owner_filter<R: Resource>(principal: &Principal) -> OwnerFilter {
    match R::SCOPE {
        Scope::Owner => principal.owner_filter(),
        Scope::Tenant => OwnerFilter::Any,
    }
}

/// Whether the caller sees a record of `R` held by `owner_id`.
pub fn reaches<R: Resource>(principal: &Principal, owner_id: &str) -> bool {
    match R::SCOPE {
        Scope::Owner => principal.reaches(owner_id),
        Scope::Tenant => true,
    }
}

/// A soft-deletable, versioned resource of a service, owner- or tenant-scoped.
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
    /// Who of the tenant sees its records.
    const SCOPE: Scope = Scope::Owner;
    /// The index kinds of [`Self::index_keys`] that make two records duplicates of each other.
    const DUPLICATE_KINDS: &'static [&'static str] = CUSTOMER_KEYS;
    /// Whether a duplicate is always refused (a product code names one product), rather than
    /// allowed when the writer says so (two customers may share a switchboard number).
    const KEYS_UNIQUE: bool = false;
    /// Integer filter fields a list may also sort by, beyond `create_time`, `update_time` and
    /// `display_name` (a lead's score); [`Self::sort_value`] reads them.
    const SORTABLE: &'static [&'static str] = &[];
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

    /// Refuses deleting (`deleted`) or restoring a record its state protects (a confirmed
    /// order the ERP is fulfilling); every record may by default.
    fn check_delete(_model: &Self::Model, _deleted: bool) -> Result<(), Error> {
        Ok(())
    }

    /// The shared columns.
    fn columns() -> Columns<<Self::Entity as EntityTrait>::Column>;
    /// The shared stamps of a row.
    fn stamps(model: &Self::Model) -> Stamps;
    /// Replaces the shared stamps of a row.
    fn set_stamps(model: &mut Self::Model, stamps: Stamps);
    /// A filterable field.
    fn filter_field(name: &str) -> Option<(<Self::Entity as EntityTrait>::Column, FieldKind)>;
    /// The value in a row of a field of [`Self::SORTABLE`].
    fn sort_value(_model: &Self::Model, _field: &str) -> i64 {
        0
    }
    /// The wire form of a row.
    fn to_proto(model: &Self::Model) -> Self::Proto;
    /// The field values an audit entry compares.
    fn audit_fields(model: &Self::Model) -> Vec<(&'static str, String)>;
    /// The duplicate-detection keys of a live row (labels are indexed from [`Self::labels`]);
    /// none by default.
    fn index_keys(model: &Self::Model) -> Vec<IndexKey> {
        let _ = model;
        Vec::new()
    }
    /// The fields search finds a record by, with their values; none (not searched) by
    /// default.
    fn search_fields(model: &Self::Model) -> Vec<crate::SearchField> {
        let _ = model;
        Vec::new()
    }
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
    /// Marks a row as merged into `survivor_id`; only resources that merge keep it.
    fn set_merged_into(model: &mut Self::Model, survivor_id: &str) {
        let _ = (model, survivor_id);
    }
    /// Clears what a merged row must give up to its survivor: keys that name one record (an
    /// ERP's customer number), which the survivor takes over in [`Self::absorb`].
    fn release_on_merge(model: &mut Self::Model) {
        let _ = model;
    }
    /// Fills the survivor's empty fields from a merged row and unions its lists (labels are
    /// merged by the caller); only resources that merge do anything.
    fn absorb(survivor: &mut Self::Model, merged: &Self::Model) {
        let _ = (survivor, merged);
    }
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
    /// The column of the id another system (an ERP's item code) knows a record by, for
    /// upserts; `None` when the resource has none.
    fn external_id_column() -> Option<<Self::Entity as EntityTrait>::Column> {
        None
    }
    /// The external id of a wire form.
    fn external_id(proto: &Self::Proto) -> &str {
        let _ = proto;
        ""
    }
    /// The fields an upsert writes: every field the other system owns.
    const UPSERT_FIELDS: &'static [&'static str] = &[];
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
    /// Derives what a write takes from other rows of the service (an opportunity's stage
    /// history and probability from its pipeline), checking them, inside the write's
    /// transaction; `current` is the stored row of an update, `None` for a create.
    fn before_write<'a>(
        txn: &'a DatabaseTransaction,
        principal: &'a Principal,
        current: Option<&'a Self::Model>,
        next: &'a mut Self::Model,
    ) -> impl Future<Output = Result<(), Error>> + Send + 'a {
        let _ = (txn, principal, current, next);
        async { Ok(()) }
    }
    /// Checks references to other records (inside the write's transaction); none by default.
    fn check_references<'a>(
        txn: &'a DatabaseTransaction,
        principal: &'a Principal,
        model: &'a Self::Model,
    ) -> impl Future<Output = Result<(), Error>> + Send + 'a {
        let _ = (txn, principal, model);
        async { Ok(()) }
    }
}

/// Implements the shared-column methods of [`Resource`] for an entity whose shared columns
/// carry the shared names (`id`, `owner_id`, `version`, `tags`, ...). Expand inside the
/// `impl Resource` block, with the entity's `Column` and `Model` in scope. `shared_columns!()`
/// is for customers (tags, group ids, merges); `shared_columns!(tags)` for records that are
/// labelled with tags only and never merged.
#[macro_export]
macro_rules! shared_columns {
    () => {
        $crate::shared_columns!(@stamps);

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
    };
    (tags) => {
        $crate::shared_columns!(@stamps);

        fn labels(m: &Model) -> $crate::resource::Labels {
            $crate::resource::Labels {
                tags: $crate::json::from_json(&m.tags),
                group_ids: Vec::new(),
            }
        }

        fn set_labels(m: &mut Model, labels: &$crate::resource::Labels) {
            m.tags = $crate::json::to_json(&labels.tags);
        }
    };
    (@stamps) => {
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
