//! Accounts: companies and organisations.

use sea_orm::DatabaseTransaction;

use crate::entity::account::{Column, Entity, Model};
use crate::resource::{Action, FieldKind, Resource};
use crm_platform::auth::Principal;
use crm_platform::error::Error;
use crm_platform::field_mask;
use crm_platform::time::{to_timestamp, to_timestamp_opt};
use crm_platform::validate::Violations;
use crm_proto::common::PostalAddress;
use crm_proto::contacts::{Account, ContactsEvent, ContactsEventType, contacts_event::Subject};

/// The account resource.
#[derive(Debug, Clone, Copy)]
pub struct Accounts;

const UPDATABLE: &[&str] = &[
    "display_name",
    "industry",
    "website",
    "phone",
    "email",
    "address",
    "owner_id",
];
const OUTPUT_ONLY: &[&str] = &["id", "etag", "create_time", "update_time", "delete_time"];

/// Checks every field and writes the normalised values into `model`.
fn apply(model: &mut Model, input: &Account, fields: &[&str]) -> Result<(), Error> {
    let mut v = Violations::new();
    for field in fields {
        match *field {
            "display_name" => {
                v.required("account.display_name", &input.display_name);
                v.max_chars("account.display_name", &input.display_name, 200);
                model.display_name = input.display_name.trim().to_owned();
            }
            "industry" => {
                v.max_chars("account.industry", &input.industry, 100);
                model.industry = input.industry.trim().to_owned();
            }
            "website" => {
                v.max_chars("account.website", &input.website, 500);
                model.website = v.url("account.website", &input.website);
            }
            "phone" => model.phone = v.phone("account.phone", &input.phone),
            "email" => {
                v.max_chars("account.email", &input.email, 320);
                model.email = v.email("account.email", &input.email);
            }
            "address" => {
                let address = input.address.clone().unwrap_or_default();
                if !address.region_code.is_empty()
                    && (address.region_code.len() != 2
                        || !address.region_code.chars().all(|c| c.is_ascii_alphabetic()))
                {
                    v.add(
                        "account.address.region_code",
                        "must be an ISO 3166-1 alpha-2 code such as CN",
                    );
                }
                for (name, value) in [
                    ("administrative_area", &address.administrative_area),
                    ("locality", &address.locality),
                    ("sublocality", &address.sublocality),
                    ("postal_code", &address.postal_code),
                ] {
                    v.max_chars(&format!("account.address.{name}"), value, 200);
                }
                let lines = address.address_lines.join("\n");
                v.max_chars("account.address.address_lines", &lines, 1000);
                model.region_code = address.region_code.to_ascii_uppercase();
                model.administrative_area = address.administrative_area;
                model.locality = address.locality;
                model.sublocality = address.sublocality;
                model.postal_code = address.postal_code;
                model.address_lines = lines;
            }
            // The owner is checked against the caller's scope by the generic handler.
            "owner_id" => model.owner_id = input.owner_id.clone(),
            _ => {}
        }
    }
    v.finish()
}

impl Resource for Accounts {
    type Entity = Entity;
    type Model = Model;
    type Active = crate::entity::account::ActiveModel;
    type Proto = Account;

    const KIND: &'static str = "account";
    const READ: &'static str = "contacts.accounts.read";
    const WRITE: &'static str = "contacts.accounts.write";

    crate::resource::shared_columns!();

    fn filter_field(name: &str) -> Option<(Column, FieldKind)> {
        Some(match name {
            "owner_id" => (Column::OwnerId, FieldKind::Id),
            "display_name" => (Column::DisplayName, FieldKind::Text),
            "industry" => (Column::Industry, FieldKind::Text),
            "email" => (Column::Email, FieldKind::LowercaseText),
            "phone" => (Column::Phone, FieldKind::Text),
            "region_code" => (Column::RegionCode, FieldKind::Text),
            "create_time" => (Column::CreateTime, FieldKind::Time),
            "update_time" => (Column::UpdateTime, FieldKind::Time),
            _ => return None,
        })
    }

    fn to_proto(m: &Model) -> Account {
        Account {
            id: m.id.clone(),
            display_name: m.display_name.clone(),
            industry: m.industry.clone(),
            website: m.website.clone(),
            phone: m.phone.clone(),
            email: m.email.clone(),
            address: Some(PostalAddress {
                region_code: m.region_code.clone(),
                administrative_area: m.administrative_area.clone(),
                locality: m.locality.clone(),
                sublocality: m.sublocality.clone(),
                postal_code: m.postal_code.clone(),
                address_lines: m
                    .address_lines
                    .split('\n')
                    .filter(|l| !l.is_empty())
                    .map(str::to_owned)
                    .collect(),
            }),
            owner_id: m.owner_id.clone(),
            etag: crm_platform::etag::format(m.version),
            create_time: Some(to_timestamp(m.create_time)),
            update_time: Some(to_timestamp(m.update_time)),
            delete_time: to_timestamp_opt(m.delete_time),
        }
    }

    fn audit_fields(m: &Model) -> Vec<(&'static str, String)> {
        vec![
            ("display_name", m.display_name.clone()),
            ("industry", m.industry.clone()),
            ("website", m.website.clone()),
            ("phone", m.phone.clone()),
            ("email", m.email.clone()),
            (
                "address",
                [
                    m.region_code.as_str(),
                    &m.administrative_area,
                    &m.locality,
                    &m.sublocality,
                    &m.postal_code,
                    &m.address_lines,
                ]
                .iter()
                .filter(|p| !p.is_empty())
                .copied()
                .collect::<Vec<_>>()
                .join(", "),
            ),
            ("owner_id", m.owner_id.clone()),
        ]
    }

    fn event(action: Action, proto: Account) -> ContactsEvent {
        let kind = match action {
            Action::Create => ContactsEventType::AccountCreated,
            Action::Update => ContactsEventType::AccountUpdated,
            Action::Delete => ContactsEventType::AccountDeleted,
            Action::Undelete => ContactsEventType::AccountUndeleted,
        };
        ContactsEvent {
            r#type: kind as i32,
            subject: Some(Subject::Account(proto)),
            ..Default::default()
        }
    }

    fn create(
        tenant_id: &str,
        owner_id: String,
        id: String,
        now: i64,
        input: Account,
    ) -> Result<Model, Error> {
        let mut model = Model {
            id,
            tenant_id: tenant_id.to_owned(),
            owner_id: owner_id.clone(),
            display_name: String::new(),
            industry: String::new(),
            website: String::new(),
            phone: String::new(),
            email: String::new(),
            region_code: String::new(),
            administrative_area: String::new(),
            locality: String::new(),
            sublocality: String::new(),
            postal_code: String::new(),
            address_lines: String::new(),
            version: 1,
            create_time: now,
            update_time: now,
            delete_time: None,
        };
        apply(&mut model, &input, UPDATABLE)?;
        model.owner_id = owner_id;
        Ok(model)
    }

    fn update(current: &Model, input: Account, mask: &[String]) -> Result<Model, Error> {
        let fields = field_mask::resolve(mask, UPDATABLE, OUTPUT_ONLY, |f| match f {
            "display_name" => !input.display_name.is_empty(),
            "industry" => !input.industry.is_empty(),
            "website" => !input.website.is_empty(),
            "phone" => !input.phone.is_empty(),
            "email" => !input.email.is_empty(),
            "address" => input.address.is_some(),
            "owner_id" => !input.owner_id.is_empty(),
            _ => false,
        })?;
        let mut next = current.clone();
        apply(&mut next, &input, &fields)?;
        Ok(next)
    }

    fn keys(input: &Account) -> (&str, &str, &str) {
        (&input.id, &input.owner_id, &input.etag)
    }

    async fn check_references(
        _txn: &DatabaseTransaction,
        _principal: &Principal,
        _model: &Model,
    ) -> Result<(), Error> {
        Ok(())
    }
}
