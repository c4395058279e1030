//! Custom field definitions, for any resource type of any service: the fields a tenant adds,
//! with a type, whether they are required, and for choices their options. A definition never
//! leaves stored values it no longer accepts: its name and type are fixed, and an option or
//! field a live record still holds cannot be removed.
//!
//! Record writes that set custom values read the definitions under a shared row lock (on
//! PostgreSQL; SQLite writes are serial anyway) and a definition change takes its row's lock
//! before counting uses, so a value cannot slip in between the count and the change. The
//! standard methods on definitions are [`crate::definitions`].

use sea_orm::sea_query::{Expr, ExprTrait as _, LikeExpr};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseTransaction, DbBackend, EntityTrait,
    IntoActiveModel, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect,
};

use crate::custom_values::{self, CHOICE_SEPARATOR, INDEX_KIND, prefix_pattern};
use crate::entity::custom_field::{Column, Entity, Model};
use crate::entity::record_index;
use crate::json;
use crate::resource::Resource;
use crm_platform::error::Error;
use crm_platform::etag;
use crm_platform::time::to_timestamp;
use crm_platform::validate::Violations;
use crm_proto::common::{CustomFieldDefinition, CustomFieldType};

/// Most options of a choice field.
pub const MAX_OPTIONS: usize = 200;

/// The refusal of a write against an old version of a definition.
pub fn stale() -> Error {
    Error::StaleEtag {
        resource: "custom_field",
    }
}

/// The wire form of a definition.
pub fn to_proto(m: &Model) -> CustomFieldDefinition {
    CustomFieldDefinition {
        id: m.id.clone(),
        resource_type: m.resource_kind.clone(),
        name: m.name.clone(),
        display_name: m.display_name.clone(),
        r#type: m.field_type,
        required: m.required,
        options: json::from_json(&m.options),
        etag: etag::format(m.version),
        create_time: Some(to_timestamp(m.create_time)),
        update_time: Some(to_timestamp(m.update_time)),
    }
}

/// The fields an audit entry of a definition compares.
pub fn audit_fields(m: &Model) -> Vec<(&'static str, String)> {
    vec![
        ("name", m.name.clone()),
        ("display_name", m.display_name.clone()),
        ("type", m.field_type.to_string()),
        ("required", m.required.to_string()),
        ("options", m.options.clone()),
    ]
}

/// Whether a field of this type has options.
pub fn is_choice(field_type: i32) -> bool {
    matches!(
        CustomFieldType::try_from(field_type),
        Ok(CustomFieldType::SingleChoice | CustomFieldType::MultiChoice)
    )
}

/// A valid field name: a lowercase letter, then lowercase letters, digits or underscores.
pub fn valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_lowercase())
        && name.len() <= 48
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

/// Checks the options of a choice field and returns them trimmed.
pub fn check_options(v: &mut Violations, field_type: i32, input: &[String]) -> Vec<String> {
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
pub async fn uses<C: ConnectionTrait>(
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
pub async fn strip_deleted<R: Resource>(
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
pub fn contains_key_pattern(name: &str) -> String {
    format!("%{}", prefix_pattern(&format!("\"{name}\":")))
}

/// One definition of the tenant.
pub async fn find<C: ConnectionTrait>(db: &C, tenant_id: &str, id: &str) -> Result<Model, Error> {
    Entity::find()
        .filter(Column::TenantId.eq(tenant_id))
        .filter(Column::Id.eq(id))
        .one(db)
        .await?
        .ok_or_else(|| Error::not_found("custom_field", id))
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
