//! Contacts: people at accounts, and individual customers.

use sea_orm::DatabaseTransaction;

use crate::account::Accounts;
use crate::entity::contact::{Column, Entity, Model};
use crate::resource::{Action, FieldKind, Resource};
use crm_platform::auth::Principal;
use crm_platform::error::Error;
use crm_platform::field_mask;
use crm_platform::time::{to_timestamp, to_timestamp_opt};
use crm_platform::validate::Violations;
use crm_proto::contacts::{Contact, ContactsEvent, ContactsEventType, contacts_event::Subject};

/// The contact resource.
#[derive(Debug, Clone, Copy)]
pub struct Contacts;

const UPDATABLE: &[&str] = &[
    "given_name",
    "family_name",
    "display_name",
    "email",
    "phone",
    "title",
    "account_id",
    "owner_id",
];
const OUTPUT_ONLY: &[&str] = &["id", "etag", "create_time", "update_time", "delete_time"];

/// Derives a display name: "Given Family" for Latin names, family name first without a
/// space for CJK names (王小明), as people write them.
pub fn derive_display_name(given: &str, family: &str) -> String {
    let latin = given.is_ascii() && family.is_ascii();
    match (given.is_empty(), family.is_empty()) {
        (true, _) => family.to_owned(),
        (_, true) => given.to_owned(),
        _ if latin => format!("{given} {family}"),
        _ => format!("{family}{given}"),
    }
}

fn apply(model: &mut Model, input: &Contact, fields: &[&str]) -> Result<(), Error> {
    let mut v = Violations::new();
    for field in fields {
        match *field {
            "given_name" => {
                v.max_chars("contact.given_name", &input.given_name, 100);
                model.given_name = input.given_name.trim().to_owned();
            }
            "family_name" => {
                v.max_chars("contact.family_name", &input.family_name, 100);
                model.family_name = input.family_name.trim().to_owned();
            }
            "display_name" => {
                v.max_chars("contact.display_name", &input.display_name, 200);
                model.display_name = input.display_name.trim().to_owned();
            }
            "email" => {
                v.max_chars("contact.email", &input.email, 320);
                model.email = v.email("contact.email", &input.email);
            }
            "phone" => model.phone = v.phone("contact.phone", &input.phone),
            "title" => {
                v.max_chars("contact.title", &input.title, 100);
                model.title = input.title.trim().to_owned();
            }
            "account_id" => model.account_id = input.account_id.trim().to_owned(),
            "owner_id" => model.owner_id = input.owner_id.clone(),
            _ => {}
        }
    }
    if model.display_name.is_empty() {
        model.display_name = derive_display_name(&model.given_name, &model.family_name);
    }
    if model.display_name.is_empty() {
        v.add(
            "contact.display_name",
            "a contact needs a display name, a given name or a family name",
        );
    }
    v.finish()
}

impl Resource for Contacts {
    type Entity = Entity;
    type Model = Model;
    type Active = crate::entity::contact::ActiveModel;
    type Proto = Contact;

    const KIND: &'static str = "contact";
    const READ: &'static str = "contacts.contacts.read";
    const WRITE: &'static str = "contacts.contacts.write";

    crate::resource::shared_columns!();

    fn filter_field(name: &str) -> Option<(Column, FieldKind)> {
        Some(match name {
            "owner_id" => (Column::OwnerId, FieldKind::Id),
            "account_id" => (Column::AccountId, FieldKind::Id),
            "display_name" => (Column::DisplayName, FieldKind::Text),
            "given_name" => (Column::GivenName, FieldKind::Text),
            "family_name" => (Column::FamilyName, FieldKind::Text),
            "email" => (Column::Email, FieldKind::LowercaseText),
            "phone" => (Column::Phone, FieldKind::Text),
            "title" => (Column::Title, FieldKind::Text),
            "create_time" => (Column::CreateTime, FieldKind::Time),
            "update_time" => (Column::UpdateTime, FieldKind::Time),
            _ => return None,
        })
    }

    fn to_proto(m: &Model) -> Contact {
        Contact {
            id: m.id.clone(),
            given_name: m.given_name.clone(),
            family_name: m.family_name.clone(),
            display_name: m.display_name.clone(),
            email: m.email.clone(),
            phone: m.phone.clone(),
            title: m.title.clone(),
            account_id: m.account_id.clone(),
            owner_id: m.owner_id.clone(),
            etag: crm_platform::etag::format(m.version),
            create_time: Some(to_timestamp(m.create_time)),
            update_time: Some(to_timestamp(m.update_time)),
            delete_time: to_timestamp_opt(m.delete_time),
        }
    }

    fn audit_fields(m: &Model) -> Vec<(&'static str, String)> {
        vec![
            ("given_name", m.given_name.clone()),
            ("family_name", m.family_name.clone()),
            ("display_name", m.display_name.clone()),
            ("email", m.email.clone()),
            ("phone", m.phone.clone()),
            ("title", m.title.clone()),
            ("account_id", m.account_id.clone()),
            ("owner_id", m.owner_id.clone()),
        ]
    }

    fn event(action: Action, proto: Contact) -> ContactsEvent {
        let kind = match action {
            Action::Create => ContactsEventType::ContactCreated,
            Action::Update => ContactsEventType::ContactUpdated,
            Action::Delete => ContactsEventType::ContactDeleted,
            Action::Undelete => ContactsEventType::ContactUndeleted,
        };
        ContactsEvent {
            r#type: kind as i32,
            subject: Some(Subject::Contact(proto)),
            ..Default::default()
        }
    }

    fn create(
        tenant_id: &str,
        owner_id: String,
        id: String,
        now: i64,
        input: Contact,
    ) -> Result<Model, Error> {
        let mut model = Model {
            id,
            tenant_id: tenant_id.to_owned(),
            owner_id: owner_id.clone(),
            given_name: String::new(),
            family_name: String::new(),
            display_name: String::new(),
            email: String::new(),
            phone: String::new(),
            title: String::new(),
            account_id: String::new(),
            version: 1,
            create_time: now,
            update_time: now,
            delete_time: None,
        };
        apply(&mut model, &input, UPDATABLE)?;
        model.owner_id = owner_id;
        Ok(model)
    }

    fn update(current: &Model, input: Contact, mask: &[String]) -> Result<Model, Error> {
        let fields = field_mask::resolve(mask, UPDATABLE, OUTPUT_ONLY, |f| match f {
            "given_name" => !input.given_name.is_empty(),
            "family_name" => !input.family_name.is_empty(),
            "display_name" => !input.display_name.is_empty(),
            "email" => !input.email.is_empty(),
            "phone" => !input.phone.is_empty(),
            "title" => !input.title.is_empty(),
            "account_id" => !input.account_id.is_empty(),
            "owner_id" => !input.owner_id.is_empty(),
            _ => false,
        })?;
        let mut next = current.clone();
        apply(&mut next, &input, &fields)?;
        Ok(next)
    }

    fn keys(input: &Contact) -> (&str, &str, &str) {
        (&input.id, &input.owner_id, &input.etag)
    }

    /// A contact may only point at a live account the caller can see.
    async fn check_references(
        txn: &DatabaseTransaction,
        principal: &Principal,
        model: &Model,
    ) -> Result<(), Error> {
        if model.account_id.is_empty() {
            return Ok(());
        }
        match crate::store::find::<Accounts, _>(txn, principal, &model.account_id).await {
            Ok(account) if account.delete_time.is_none() => Ok(()),
            Ok(_) | Err(Error::NotFound { .. }) => Err(Error::invalid(
                "contact.account_id",
                "no such account, or it is deleted",
            )),
            Err(e) => Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_names_follow_the_script() {
        assert_eq!(derive_display_name("Ada", "Lovelace"), "Ada Lovelace");
        assert_eq!(derive_display_name("小明", "王"), "王小明");
        assert_eq!(derive_display_name("", "王"), "王");
    }
}
