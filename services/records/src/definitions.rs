//! The standard methods on custom field definitions (define, list, change, remove), for any
//! service: each change is audited and announced as the service's own event. The rules of
//! definitions and values are [`crate::custom_fields`] and [`crate::custom_values`].

use std::future::Future;

use sea_orm::{
    ActiveModelTrait, ColumnTrait, DatabaseTransaction, EntityTrait, IntoActiveModel, QueryFilter,
};

use crate::custom_fields::*;
use crate::custom_values::{self, MAX_DEFINITIONS};
use crate::entity::custom_field::{Column, Entity, Model};
use crate::handlers::{Idempotency, Records, announce};
use crate::json;
use crm_platform::audit;
use crm_platform::auth::Principal;
use crm_platform::clock;
use crm_platform::error::Error;
use crm_platform::idempotency::{RequestKey, mutate};
use crm_platform::validate::Violations;
use crm_platform::{etag, field_mask};
use crm_proto::CustomFieldEvent;
pub use crm_proto::DefinitionChange;
use crm_proto::common::{CustomFieldDefinition, CustomFieldType};

/// What a service says about its custom fields: who may read and define them, which of its
/// resource types take them, and its event.
pub trait CustomFieldHost: Send + Sync + 'static {
    /// The service's event message (the build implements [`CustomFieldEvent`] for it).
    type Event: CustomFieldEvent;
    /// Permission to read definitions (everyone who edits records needs them for forms).
    const READ: &'static str;
    /// Permission to define, change and remove custom fields.
    const WRITE: &'static str;
    /// The resource type a request names in `field`, if it takes custom fields.
    fn kind(field: &str, value: &str) -> Result<&'static str, Error>;
    /// Drops the values of a removed field `name` from the soft-deleted records of `kind`
    /// (with [`strip_deleted`] on the kind's resource).
    fn strip_deleted<'a>(
        txn: &'a DatabaseTransaction,
        tenant_id: &'a str,
        kind: &'static str,
        name: &'a str,
    ) -> impl Future<Output = Result<(), Error>> + Send + 'a;
}

/// Writes the audit entry and the event of a definition change.
async fn record_change<H: CustomFieldHost>(
    txn: &DatabaseTransaction,
    principal: &Principal,
    action: &str,
    before: Option<&Model>,
    after: &Model,
    change: DefinitionChange,
) -> Result<(), Error> {
    let changes = match before {
        Some(before) => audit::diff(&audit_fields(before), &audit_fields(after)),
        None => audit::created(&audit_fields(after)),
    };
    audit::record(txn, principal, "custom_field", &after.id, action, &changes).await?;
    let event = H::Event::custom_field(change, to_proto(after));
    announce(
        txn,
        &principal.tenant_id,
        &principal.user_id,
        event,
        &after.id,
    )
    .await
}

impl Records {
    /// Defines a custom field.
    pub async fn create_custom_field<H: CustomFieldHost, M: prost::Message>(
        &self,
        principal: &Principal,
        idem: Idempotency<'_, M>,
        input: CustomFieldDefinition,
    ) -> Result<CustomFieldDefinition, Error> {
        principal.require(H::WRITE)?;
        let key = RequestKey::new(principal, idem.method, idem.request_id, idem.request)?;
        let kind = H::kind("custom_field.resource_type", &input.resource_type)?;
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
        let now = clock::now_micros();
        let model = Model {
            id: uuid::Uuid::now_v7().to_string(),
            tenant_id: principal.tenant_id.clone(),
            resource_kind: kind.to_owned(),
            name: input.name.clone(),
            display_name,
            field_type: input.r#type,
            required: input.required,
            options: json::to_json(&options),
            version: 1,
            create_time: now,
            update_time: now,
        };
        let created = mutate(&self.db, key.as_ref(), |txn| async move {
            let lock = format!("{}/custom_fields/{}", principal.tenant_id, kind);
            crm_platform::db::lock_keys(&txn, &[lock]).await?;
            let existing = definitions(&txn, &principal.tenant_id, kind, false).await?;
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
            record_change::<H>(
                &txn,
                principal,
                "create",
                None,
                &model,
                DefinitionChange::Created,
            )
            .await?;
            Ok((txn, to_proto(&model)))
        })
        .await?;
        self.relay.wake();
        Ok(created)
    }

    /// The tenant's definitions for one resource type.
    pub async fn list_custom_fields<H: CustomFieldHost>(
        &self,
        principal: &Principal,
        resource_type: &str,
    ) -> Result<Vec<CustomFieldDefinition>, Error> {
        principal.require(H::READ)?;
        let kind = H::kind("resource_type", resource_type)?;
        let rows = definitions(&self.db, &principal.tenant_id, kind, false).await?;
        Ok(rows.iter().map(to_proto).collect())
    }

    /// Changes the label, `required` and the options of a definition.
    pub async fn update_custom_field<H: CustomFieldHost, M: prost::Message>(
        &self,
        principal: &Principal,
        idem: Idempotency<'_, M>,
        input: CustomFieldDefinition,
        mask: Vec<String>,
    ) -> Result<CustomFieldDefinition, Error> {
        principal.require(H::WRITE)?;
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
                        next.options = json::to_json(&options);
                    }
                    _ => {}
                }
            }
            v.finish()?;
            next.version = current.version + 1;
            next.update_time = clock::now_micros();
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
            let kept: Vec<String> = json::from_json(&next.options);
            for removed in json::from_json::<String>(&current.options) {
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
            record_change::<H>(
                &txn,
                principal,
                "update",
                Some(&current),
                &next,
                DefinitionChange::Updated,
            )
            .await?;
            Ok((txn, to_proto(&next)))
        })
        .await?;
        self.relay.wake();
        Ok(updated)
    }

    /// Removes a definition no live record holds a value of.
    pub async fn delete_custom_field<H: CustomFieldHost, M: prost::Message>(
        &self,
        principal: &Principal,
        idem: Idempotency<'_, M>,
        id: &str,
        sent_etag: &str,
    ) -> Result<(), Error> {
        principal.require(H::WRITE)?;
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
            let kind = H::kind("resource_type", &current.resource_kind)?;
            H::strip_deleted(&txn, &principal.tenant_id, kind, &current.name).await?;
            record_change::<H>(
                &txn,
                principal,
                "delete",
                Some(&current),
                &current,
                DefinitionChange::Deleted,
            )
            .await?;
            Ok((txn, ()))
        })
        .await?;
        self.relay.wake();
        Ok(())
    }
}
