//! The standard methods on the custom fields of accounts and contacts, announced as contacts
//! events. The rules of definitions and values are the shared machinery's
//! ([`crm_records::custom_fields`], [`crm_records::custom_values`]).

use sea_orm::{
    ActiveModelTrait, ColumnTrait, DatabaseTransaction, EntityTrait, IntoActiveModel, QueryFilter,
};

use crate::account::Accounts;
use crate::contact::Contacts;
use crate::custom_values;
use crate::entity::custom_field::{Column, Entity, Model};
use crate::fields;
use crate::handlers::{Handlers, Idempotency, announce};
use crate::resource::ResourceType;
use crm_platform::audit;
use crm_platform::auth::Principal;
use crm_platform::clock;
use crm_platform::error::Error;
use crm_platform::idempotency::{RequestKey, mutate};
use crm_platform::validate::Violations;
use crm_platform::{etag, field_mask};
use crm_proto::common::{CustomFieldDefinition, CustomFieldType};
use crm_proto::contacts::{ContactsEvent, ContactsEventType, contacts_event::Subject};
pub use crm_records::custom_fields::*;

/// Permission to read definitions (everyone who edits records needs them to build forms).
pub const READ: &str = "contacts.custom_fields.read";
/// Permission to define, change and remove custom fields.
pub const WRITE: &str = "contacts.custom_fields.write";
pub use crate::custom_values::MAX_DEFINITIONS;
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
        let now = clock::now_micros();
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
