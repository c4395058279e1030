//! Custom field definitions: the fields a tenant adds to its accounts or contacts, with a type,
//! whether they are required, and for choices their options. A definition never leaves stored
//! values it no longer accepts: its name and type are fixed, and an option or field a live
//! record still holds cannot be removed.
//!
//! Record writes that set custom values read the definitions under a shared row lock (on
//! PostgreSQL; SQLite writes are serial anyway) and a definition change takes its row's lock
//! before counting uses, so a value cannot slip in between the count and the change.

use sea_orm::sea_query::{Expr, ExprTrait as _, LikeExpr};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseTransaction, DbBackend, EntityTrait,
    IntoActiveModel, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect,
};

use crate::account::Accounts;
use crate::contact::Contacts;
use crate::custom_values::{self, CHOICE_SEPARATOR, INDEX_KIND, prefix_pattern};
use crate::entity::custom_field::{Column, Entity, Model};
use crate::entity::record_index;
use crate::fields;
use crate::handlers::{Handlers, Idempotency, announce};
use crate::resource::{Resource, ResourceType};
use crm_platform::audit;
use crm_platform::auth::Principal;
use crm_platform::error::Error;
use crm_platform::idempotency::{RequestKey, mutate};
use crm_platform::time::{now_micros, to_timestamp};
use crm_platform::validate::Violations;
use crm_platform::{etag, field_mask};
use crm_proto::common::{CustomFieldDefinition, CustomFieldType};
use crm_proto::contacts::{ContactsEvent, ContactsEventType, contacts_event::Subject};

/// Permission to read definitions (everyone who edits records needs them to build forms).
pub const READ: &str = "contacts.custom_fields.read";
/// Permission to define, change and remove custom fields.
pub const WRITE: &str = "contacts.custom_fields.write";
/// Most definitions per tenant and resource type.
pub const MAX_DEFINITIONS: u64 = 100;
/// Most options of a choice field.
const MAX_OPTIONS: usize = 200;

/// The refusal of a write against an old version.
fn stale() -> Error {
    Error::StaleEtag {
        resource: "custom_field",
    }
}

fn to_proto(m: &Model) -> CustomFieldDefinition {
    CustomFieldDefinition {
        id: m.id.clone(),
        resource_type: m.resource_kind.clone(),
        name: m.name.clone(),
        display_name: m.display_name.clone(),
        r#type: m.field_type,
        required: m.required,
        options: fields::from_json(&m.options),
        etag: etag::format(m.version),
        create_time: Some(to_timestamp(m.create_time)),
        update_time: Some(to_timestamp(m.update_time)),
    }
}

fn audit_fields(m: &Model) -> Vec<(&'static str, String)> {
    vec![
        ("name", m.name.clone()),
        ("display_name", m.display_name.clone()),
        ("type", m.field_type.to_string()),
        ("required", m.required.to_string()),
        ("options", m.options.clone()),
    ]
}

fn is_choice(field_type: i32) -> bool {
    matches!(
        CustomFieldType::try_from(field_type),
        Ok(CustomFieldType::SingleChoice | CustomFieldType::MultiChoice)
    )
}

/// A valid field name: a lowercase letter, then lowercase letters, digits or underscores.
fn valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_lowercase())
        && name.len() <= 48
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

/// Checks the options of a choice field and returns them trimmed.
fn check_options(v: &mut Violations, field_type: i32, input: &[String]) -> Vec<String> {
    if !v.at_most("custom_field.options", input.len(), MAX_OPTIONS) {
        return Vec::new();
    }
    let options: Vec<String> = input
        .iter()
        .map(|o| crm_platform::normalize::halfwidth(o.trim()))
        .collect();
    if !is_choice(field_type) {
        if !options.is_empty() {
            v.add("custom_field.options", "only choice fields have options");
        }
        return options;
    }
    if options.is_empty() || options.len() > MAX_OPTIONS {
        v.add(
            "custom_field.options",
            format!("a choice field needs 1 to {MAX_OPTIONS} options"),
        );
    }
    let mut seen = std::collections::HashSet::with_capacity(options.len());
    for (i, option) in options.iter().enumerate() {
        let field = format!("custom_field.options[{i}]");
        if option.is_empty() || option.chars().count() > 100 {
            v.add(&field, "must be 1 to 100 characters");
        } else if option.contains(CHOICE_SEPARATOR) {
            v.add(&field, format!("must not contain `{CHOICE_SEPARATOR}`"));
        } else if !seen.insert(option.to_lowercase()) {
            v.add(&field, "repeats an earlier option");
        }
    }
    options
}

/// The tenant's definitions for one resource type, by name. Inside a record write, pass
/// `lock` so a concurrent definition change waits for the write (and the reverse).
pub async fn definitions<C: ConnectionTrait>(
    db: &C,
    tenant_id: &str,
    kind: &str,
    lock: bool,
) -> Result<Vec<Model>, Error> {
    let mut query = Entity::find()
        .filter(Column::TenantId.eq(tenant_id))
        .filter(Column::ResourceKind.eq(kind))
        .order_by_asc(Column::Name);
    if lock && db.get_database_backend() == DbBackend::Postgres {
        query = query.lock_shared();
    }
    Ok(query.all(db).await?)
}

/// Checks and canonicalises a record's custom values in its write transaction. `previous` is
/// the stored record of an update; values it already had are not re-required unless the
/// update changed custom values.
pub async fn check_record<R: Resource>(
    txn: &DatabaseTransaction,
    tenant_id: &str,
    model: &mut R::Model,
    previous: Option<&R::Model>,
) -> Result<(), Error> {
    if previous.is_some_and(|p| R::custom_json(p) == R::custom_json(model)) {
        return Ok(());
    }
    let definitions = definitions(txn, tenant_id, R::KIND, true).await?;
    check_with::<R>(&definitions, model, previous)
}

/// [`check_record`] against definitions already read under the lock (an import reads them
/// once a batch).
pub fn check_with<R: Resource>(
    definitions: &[Model],
    model: &mut R::Model,
    previous: Option<&R::Model>,
) -> Result<(), Error> {
    let json = R::custom_json(model);
    if previous.is_some_and(|p| R::custom_json(p) == json) {
        return Ok(());
    }
    let checked = custom_values::check(R::KIND, definitions, &json, true)?;
    R::set_custom_json(model, checked);
    Ok(())
}

/// How many live records of the tenant hold `key_value` (or, with `prefix`, any value that
/// starts with it).
async fn uses<C: ConnectionTrait>(
    db: &C,
    tenant_id: &str,
    kind: &str,
    key_value: &str,
    prefix: bool,
) -> Result<u64, Error> {
    let mut query = record_index::Entity::find()
        .filter(record_index::Column::TenantId.eq(tenant_id))
        .filter(record_index::Column::RecordKind.eq(kind))
        .filter(record_index::Column::KeyKind.eq(INDEX_KIND));
    query = if prefix {
        query.filter(
            Expr::col(record_index::Column::KeyValue)
                .like(LikeExpr::new(prefix_pattern(key_value)).escape('\\')),
        )
    } else {
        query.filter(record_index::Column::KeyValue.eq(key_value))
    };
    Ok(query.count(db).await?)
}

/// Drops a removed field's values from soft-deleted records (live ones hold none, or the
/// removal was refused), so a later field of the same name never meets values of another type.
async fn strip_deleted<R: Resource>(
    txn: &DatabaseTransaction,
    tenant_id: &str,
    name: &str,
) -> Result<(), Error> {
    let columns = R::columns();
    let holders = R::Entity::find()
        .filter(columns.tenant_id.eq(tenant_id))
        .filter(columns.delete_time.is_not_null())
        .filter(
            Expr::col(columns.custom_fields)
                .like(LikeExpr::new(contains_key_pattern(name)).escape('\\')),
        )
        .all(txn)
        .await?;
    for mut row in holders {
        let mut values = custom_values::read(&R::custom_json(&row));
        if values.remove(name).is_some() {
            R::set_custom_json(&mut row, custom_values::write(&values));
            let id = R::stamps(&row).id;
            let active: R::Active = row.into_active_model().reset_all();
            R::Entity::update_many()
                .set(active)
                .filter(columns.id.eq(id))
                .exec(txn)
                .await?;
        }
    }
    Ok(())
}

/// `%"name":%`, the stored JSON of records holding a value of `name`.
fn contains_key_pattern(name: &str) -> String {
    format!("%{}", prefix_pattern(&format!("\"{name}\":")))
}

async fn find<C: ConnectionTrait>(db: &C, tenant_id: &str, id: &str) -> Result<Model, Error> {
    Entity::find()
        .filter(Column::TenantId.eq(tenant_id))
        .filter(Column::Id.eq(id))
        .one(db)
        .await?
        .ok_or_else(|| Error::not_found("custom_field", id))
}

/// Writes the audit entry and the event of a definition change.
async fn record_change(
    txn: &DatabaseTransaction,
    principal: &Principal,
    action: &str,
    before: Option<&Model>,
    after: &Model,
    event_type: ContactsEventType,
) -> Result<(), Error> {
    let changes = match before {
        Some(before) => audit::diff(&audit_fields(before), &audit_fields(after)),
        None => audit::created(&audit_fields(after)),
    };
    audit::record(txn, principal, "custom_field", &after.id, action, &changes).await?;
    let event = ContactsEvent {
        r#type: event_type as i32,
        subject: Some(Subject::CustomField(to_proto(after))),
        ..Default::default()
    };
    announce(
        txn,
        &principal.tenant_id,
        &principal.user_id,
        event,
        &after.id,
    )
    .await
}

impl Handlers {
    /// Defines a custom field.
    pub async fn create_custom_field<M: prost::Message>(
        &self,
        principal: &Principal,
        idem: Idempotency<'_, M>,
        input: CustomFieldDefinition,
    ) -> Result<CustomFieldDefinition, Error> {
        principal.require(WRITE)?;
        let key = RequestKey::new(principal, idem.method, idem.request_id, idem.request)?;
        let kind = ResourceType::parse("custom_field.resource_type", &input.resource_type)?;
        let mut v = Violations::new();
        if !valid_name(&input.name) {
            v.add(
                "custom_field.name",
                "must be a lowercase letter, then up to 47 lowercase letters, digits or `_`",
            );
        }
        let display_name = input.display_name.trim().to_owned();
        v.required("custom_field.display_name", &display_name);
        v.max_chars("custom_field.display_name", &display_name, 100);
        let type_ok = CustomFieldType::try_from(input.r#type)
            .is_ok_and(|t| t != CustomFieldType::Unspecified);
        if !type_ok {
            v.add("custom_field.type", "must be a defined type");
        }
        let options = check_options(&mut v, input.r#type, &input.options);
        v.finish()?;
        let now = now_micros();
        let model = Model {
            id: uuid::Uuid::now_v7().to_string(),
            tenant_id: principal.tenant_id.clone(),
            resource_kind: kind.name().to_owned(),
            name: input.name.clone(),
            display_name,
            field_type: input.r#type,
            required: input.required,
            options: fields::to_json(&options),
            version: 1,
            create_time: now,
            update_time: now,
        };
        let created = mutate(&self.db, key.as_ref(), |txn| async move {
            let lock = format!("{}/custom_fields/{}", principal.tenant_id, kind.name());
            crm_platform::db::lock_keys(&txn, &[lock]).await?;
            let existing = definitions(&txn, &principal.tenant_id, kind.name(), false).await?;
            if let Some(taken) = existing.iter().find(|d| d.name == model.name) {
                return Err(Error::AlreadyExists {
                    reason: "CUSTOM_FIELD_EXISTS",
                    message: format!("a custom field named `{}` exists", taken.name),
                    metadata: [("id".to_owned(), taken.id.clone())].into(),
                });
            }
            if existing.len() as u64 >= MAX_DEFINITIONS {
                return Err(Error::precondition(
                    "TOO_MANY_CUSTOM_FIELDS",
                    format!("a resource type has at most {MAX_DEFINITIONS} custom fields"),
                ));
            }
            model.clone().into_active_model().insert(&txn).await?;
            record_change(
                &txn,
                principal,
                "create",
                None,
                &model,
                ContactsEventType::CustomFieldCreated,
            )
            .await?;
            Ok((txn, to_proto(&model)))
        })
        .await?;
        self.relay.wake();
        Ok(created)
    }

    /// The tenant's definitions for one resource type.
    pub async fn list_custom_fields(
        &self,
        principal: &Principal,
        resource_type: &str,
    ) -> Result<Vec<CustomFieldDefinition>, Error> {
        principal.require(READ)?;
        let kind = ResourceType::parse("resource_type", resource_type)?;
        let rows = definitions(&self.db, &principal.tenant_id, kind.name(), false).await?;
        Ok(rows.iter().map(to_proto).collect())
    }

    /// Changes the label, `required` and the options of a definition.
    pub async fn update_custom_field<M: prost::Message>(
        &self,
        principal: &Principal,
        idem: Idempotency<'_, M>,
        input: CustomFieldDefinition,
        mask: Vec<String>,
    ) -> Result<CustomFieldDefinition, Error> {
        principal.require(WRITE)?;
        let key = RequestKey::new(principal, idem.method, idem.request_id, idem.request)?;
        if input.id.is_empty() {
            return Err(Error::invalid("custom_field.id", "is required"));
        }
        let expected = etag::parse("custom_field.etag", &input.etag)?;
        let changed = field_mask::resolve(
            &mask,
            &["display_name", "required", "options"],
            &[
                "id",
                "etag",
                "resource_type",
                "name",
                "type",
                "create_time",
                "update_time",
            ],
            |f| match f {
                "display_name" => !input.display_name.is_empty(),
                "options" => !input.options.is_empty(),
                _ => false,
            },
        )?;
        let updated = mutate(&self.db, key.as_ref(), |txn| async move {
            let current = find(&txn, &principal.tenant_id, &input.id).await?;
            if expected.is_some_and(|v| v != current.version) {
                return Err(stale());
            }
            let mut next = current.clone();
            let mut v = Violations::new();
            for field in &changed {
                match *field {
                    "display_name" => {
                        next.display_name = input.display_name.trim().to_owned();
                        v.required("custom_field.display_name", &next.display_name);
                        v.max_chars("custom_field.display_name", &next.display_name, 100);
                    }
                    "required" => next.required = input.required,
                    "options" => {
                        let options = check_options(&mut v, current.field_type, &input.options);
                        next.options = fields::to_json(&options);
                    }
                    _ => {}
                }
            }
            v.finish()?;
            next.version = current.version + 1;
            next.update_time = now_micros();
            // Taking the row first makes record writes holding the old options finish, so the
            // counts below see their values.
            let result = Entity::update_many()
                .set(next.clone().into_active_model().reset_all())
                .filter(Column::Id.eq(current.id.as_str()))
                .filter(Column::Version.eq(current.version))
                .exec(&txn)
                .await?;
            if result.rows_affected != 1 {
                return Err(stale());
            }
            let kept: Vec<String> = fields::from_json(&next.options);
            for removed in fields::from_json::<String>(&current.options) {
                if kept.contains(&removed) {
                    continue;
                }
                let key = custom_values::index_key(&current.name, &removed);
                let count = uses(&txn, &principal.tenant_id, &current.resource_kind, &key, false)
                    .await?;
                if count > 0 {
                    return Err(Error::precondition(
                        "OPTION_IN_USE",
                        format!(
                            "option `{removed}` of `{}` is held by {count} records; change them first",
                            current.name
                        ),
                    ));
                }
            }
            record_change(
                &txn,
                principal,
                "update",
                Some(&current),
                &next,
                ContactsEventType::CustomFieldUpdated,
            )
            .await?;
            Ok((txn, to_proto(&next)))
        })
        .await?;
        self.relay.wake();
        Ok(updated)
    }

    /// Removes a definition no live record holds a value of.
    pub async fn delete_custom_field<M: prost::Message>(
        &self,
        principal: &Principal,
        idem: Idempotency<'_, M>,
        id: &str,
        sent_etag: &str,
    ) -> Result<(), Error> {
        principal.require(WRITE)?;
        let key = RequestKey::new(principal, idem.method, idem.request_id, idem.request)?;
        if id.is_empty() {
            return Err(Error::invalid("id", "is required"));
        }
        let expected = etag::parse("etag", sent_etag)?;
        mutate(&self.db, key.as_ref(), |txn| async move {
            let current = find(&txn, &principal.tenant_id, id).await?;
            if expected.is_some_and(|v| v != current.version) {
                return Err(stale());
            }
            let result = Entity::delete_many()
                .filter(Column::Id.eq(id))
                .filter(Column::Version.eq(current.version))
                .exec(&txn)
                .await?;
            if result.rows_affected != 1 {
                return Err(stale());
            }
            let prefix = format!("{}=", current.name);
            let count = uses(
                &txn,
                &principal.tenant_id,
                &current.resource_kind,
                &prefix,
                true,
            )
            .await?;
            if count > 0 {
                return Err(Error::precondition(
                    "CUSTOM_FIELD_IN_USE",
                    format!(
                        "{count} records hold a value of `{}`; clear them first",
                        current.name
                    ),
                ));
            }
            match ResourceType::parse("resource_type", &current.resource_kind)? {
                ResourceType::Account => {
                    strip_deleted::<Accounts>(&txn, &principal.tenant_id, &current.name).await?
                }
                ResourceType::Contact => {
                    strip_deleted::<Contacts>(&txn, &principal.tenant_id, &current.name).await?
                }
            }
            record_change(
                &txn,
                principal,
                "delete",
                Some(&current),
                &current,
                ContactsEventType::CustomFieldDeleted,
            )
            .await?;
            Ok((txn, ()))
        })
        .await?;
        self.relay.wake();
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_lowercase_identifiers() {
        for good in ["segment", "vip_level2", "a"] {
            assert!(valid_name(good), "{good}");
        }
        for bad in [
            "",
            "2nd",
            "Segment",
            "has space",
            "dash-ed",
            &"x".repeat(49),
        ] {
            assert!(!valid_name(bad), "{bad}");
        }
    }
}
