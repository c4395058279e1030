//! Accounts: companies and organisations, optionally in a group's parent/subsidiary tree.

use sea_orm::DatabaseTransaction;

use crate::custom_values;
use crate::entity::account::{Column, Entity, Model};
use crate::fields::{self, AddressColumns};
use crate::hierarchy;
use crate::resource::{Action, FieldKind, IndexKey, Resource, WriteContext, customer_hooks};
use crm_platform::auth::Principal;
use crm_platform::error::Error;
use crm_platform::field_mask;
use crm_platform::normalize::{self, PhoneRegion};
use crm_platform::time::{to_timestamp, to_timestamp_opt};
use crm_platform::validate::Violations;
use crm_proto::contacts::{
    Account, AccountSize, AccountTier, AccountType, ContactsEvent, ContactsEventType,
    contacts_event::Subject,
};

/// The account resource.
#[derive(Debug, Clone, Copy)]
pub struct Accounts;

crate::fields::address_columns!(Model);

/// The fields an account update may change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum AccountField {
    DisplayName,
    Industry,
    Website,
    Phone,
    Email,
    Address,
    OwnerId,
    AccountType,
    Size,
    Tier,
    Source,
    ParentId,
    Tags,
    GroupIds,
    Notes,
    CustomFields,
    ExternalId,
}

impl field_mask::Field for AccountField {
    const ALL: &'static [Self] = &[
        AccountField::DisplayName,
        AccountField::Industry,
        AccountField::Website,
        AccountField::Phone,
        AccountField::Email,
        AccountField::Address,
        AccountField::OwnerId,
        AccountField::AccountType,
        AccountField::Size,
        AccountField::Tier,
        AccountField::Source,
        AccountField::ParentId,
        AccountField::Tags,
        AccountField::GroupIds,
        AccountField::Notes,
        AccountField::CustomFields,
        AccountField::ExternalId,
    ];

    fn name(self) -> &'static str {
        match self {
            AccountField::DisplayName => "display_name",
            AccountField::Industry => "industry",
            AccountField::Website => "website",
            AccountField::Phone => "phone",
            AccountField::Email => "email",
            AccountField::Address => "address",
            AccountField::OwnerId => "owner_id",
            AccountField::AccountType => "account_type",
            AccountField::Size => "size",
            AccountField::Tier => "tier",
            AccountField::Source => "source",
            AccountField::ParentId => "parent_id",
            AccountField::Tags => "tags",
            AccountField::GroupIds => "group_ids",
            AccountField::Notes => "notes",
            AccountField::CustomFields => "custom_fields",
            AccountField::ExternalId => "external_id",
        }
    }
}

const OUTPUT_ONLY: &[&str] = &[
    "id",
    "etag",
    "create_time",
    "update_time",
    "delete_time",
    "merged_into_id",
];

/// Checks every field and writes the normalised values into `model`.
fn apply(
    model: &mut Model,
    input: &Account,
    fields: &[AccountField],
    region: PhoneRegion,
) -> Result<(), Error> {
    let mut v = Violations::new();
    for field in fields {
        match field {
            AccountField::DisplayName => {
                v.required("account.display_name", &input.display_name);
                v.max_chars("account.display_name", &input.display_name, 200);
                model.display_name = input.display_name.trim().to_owned();
            }
            AccountField::Industry => {
                v.max_chars("account.industry", &input.industry, 100);
                model.industry = input.industry.trim().to_owned();
            }
            AccountField::Website => {
                v.max_chars("account.website", &input.website, 500);
                model.website = v.url("account.website", &input.website);
            }
            AccountField::Phone => model.phone = v.phone("account.phone", &input.phone, region),
            AccountField::Email => {
                v.max_chars("account.email", &input.email, 320);
                model.email = v.email("account.email", &input.email);
            }
            AccountField::Address => model.set_address(AddressColumns::check(
                &mut v,
                "account.address",
                input.address.as_ref(),
            )),
            // The owner is checked against the caller's scope by the generic handler.
            AccountField::OwnerId => model.owner_id = input.owner_id.clone(),
            AccountField::AccountType => {
                model.account_type =
                    v.enumeration::<AccountType>("account.account_type", input.account_type);
            }
            AccountField::Size => {
                model.size = v.enumeration::<AccountSize>("account.size", input.size);
            }
            AccountField::Tier => {
                model.tier = v.enumeration::<AccountTier>("account.tier", input.tier);
            }
            AccountField::Source => {
                v.max_chars("account.source", &input.source, 100);
                model.source = input.source.trim().to_owned();
            }
            // Existence and cycles are checked against the database by `check_references`.
            AccountField::ParentId => model.parent_id = input.parent_id.trim().to_owned(),
            AccountField::Tags => {
                model.tags = fields::to_json(&fields::tags(&mut v, "account.tags", &input.tags));
            }
            AccountField::GroupIds => {
                model.group_ids =
                    fields::to_json(&fields::ids(&mut v, "account.group_ids", &input.group_ids));
            }
            AccountField::CustomFields => {
                model.custom_fields =
                    custom_values::merge_wire(&model.custom_fields, &input.custom_fields);
            }
            AccountField::Notes => {
                v.max_chars("account.notes", &input.notes, 10_000);
                model.notes = input.notes.clone();
            }
            AccountField::ExternalId => {
                v.max_chars("account.external_id", &input.external_id, 100);
                model.external_id = input.external_id.trim().to_owned();
            }
        }
    }
    v.finish()
}

impl Resource for Accounts {
    type Event = ContactsEvent;
    type Entity = Entity;
    type Model = Model;
    type Active = crate::entity::account::ActiveModel;
    type Proto = Account;

    const KIND: &'static str = "account";
    const READ: &'static str = "contacts.accounts.read";
    const WRITE: &'static str = "contacts.accounts.write";
    const MERGE: &'static str = "contacts.accounts.merge";

    crate::resource::shared_columns!();

    fn filter_field(name: &str) -> Option<(Column, FieldKind)> {
        Some(match name {
            "owner_id" => (Column::OwnerId, FieldKind::Id),
            "parent_id" => (Column::ParentId, FieldKind::Id),
            "display_name" => (Column::DisplayName, FieldKind::Text),
            "industry" => (Column::Industry, FieldKind::Text),
            "source" => (Column::Source, FieldKind::Text),
            "external_id" => (Column::ExternalId, FieldKind::Text),
            "email" => (Column::Email, FieldKind::LowercaseText),
            "phone" => (Column::Phone, FieldKind::Text),
            "region_code" => (Column::RegionCode, FieldKind::Text),
            "administrative_area" => (Column::AdministrativeArea, FieldKind::Text),
            "locality" => (Column::Locality, FieldKind::Text),
            "account_type" => (
                Column::AccountType,
                FieldKind::Enum(|s| AccountType::from_str_name(s).map(|e| e as i32)),
            ),
            "size" => (
                Column::Size,
                FieldKind::Enum(|s| AccountSize::from_str_name(s).map(|e| e as i32)),
            ),
            "tier" => (
                Column::Tier,
                FieldKind::Enum(|s| AccountTier::from_str_name(s).map(|e| e as i32)),
            ),
            "tags" => (Column::Id, FieldKind::Label("tag")),
            "group_ids" => (Column::Id, FieldKind::Label("group")),
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
            address: Some(m.address().to_proto()),
            owner_id: m.owner_id.clone(),
            etag: crm_platform::etag::format(m.version),
            create_time: Some(to_timestamp(m.create_time)),
            update_time: Some(to_timestamp(m.update_time)),
            delete_time: to_timestamp_opt(m.delete_time),
            account_type: m.account_type,
            size: m.size,
            tier: m.tier,
            source: m.source.clone(),
            parent_id: m.parent_id.clone(),
            tags: fields::from_json(&m.tags),
            group_ids: fields::from_json(&m.group_ids),
            notes: m.notes.clone(),
            merged_into_id: m.merged_into_id.clone(),
            owner_since: Some(to_timestamp(m.owner_since)),
            custom_fields: custom_values::to_wire(&m.custom_fields),
            external_id: m.external_id.clone(),
        }
    }

    fn audit_fields(m: &Model) -> Vec<(&'static str, String)> {
        vec![
            ("display_name", m.display_name.clone()),
            ("industry", m.industry.clone()),
            ("website", m.website.clone()),
            ("phone", m.phone.clone()),
            ("email", m.email.clone()),
            ("address", m.address().summary()),
            ("owner_id", m.owner_id.clone()),
            ("account_type", enum_name::<AccountType>(m.account_type)),
            ("size", enum_name::<AccountSize>(m.size)),
            ("tier", enum_name::<AccountTier>(m.tier)),
            ("source", m.source.clone()),
            ("parent_id", m.parent_id.clone()),
            ("tags", m.tags.clone()),
            ("group_ids", m.group_ids.clone()),
            ("custom_fields", m.custom_fields.clone()),
            ("notes", m.notes.clone()),
            ("merged_into_id", m.merged_into_id.clone()),
            ("external_id", m.external_id.clone()),
        ]
    }

    fn search_fields(m: &Model) -> Vec<crate::search::SearchField> {
        vec![
            ("display_name", m.display_name.clone()),
            ("phone", m.phone.clone()),
            ("email", m.email.clone()),
            ("website", m.website.clone()),
        ]
    }

    fn index_keys(m: &Model) -> Vec<IndexKey> {
        let mut keys = Vec::with_capacity(3);
        let name = normalize::company_key(&m.display_name);
        if !name.is_empty() {
            keys.push(IndexKey::new("name", name));
        }
        if !m.phone.is_empty() {
            keys.push(IndexKey::new("phone", m.phone.clone()));
        }
        if !m.email.is_empty() {
            keys.push(IndexKey::new("email", m.email.clone()));
        }
        keys
    }

    fn event(action: Action, proto: Account, merged_ids: &[String]) -> ContactsEvent {
        let kind = match action {
            Action::Create => ContactsEventType::AccountCreated,
            Action::Update => ContactsEventType::AccountUpdated,
            Action::Delete => ContactsEventType::AccountDeleted,
            Action::Undelete => ContactsEventType::AccountUndeleted,
            Action::Merge => ContactsEventType::AccountMerged,
        };
        ContactsEvent {
            r#type: kind as i32,
            subject: Some(Subject::Account(proto)),
            merged_ids: merged_ids.to_vec(),
            ..Default::default()
        }
    }

    fn create(
        tenant_id: &str,
        owner_id: String,
        (id, now): (String, i64),
        input: Account,
        cx: &WriteContext<'_>,
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
            account_type: 0,
            size: 0,
            tier: 0,
            source: String::new(),
            parent_id: String::new(),
            tags: "[]".to_owned(),
            group_ids: "[]".to_owned(),
            notes: String::new(),
            merged_into_id: String::new(),
            owner_since: now,
            custom_fields: "{}".to_owned(),
            external_id: String::new(),
            version: 1,
            create_time: now,
            update_time: now,
            delete_time: None,
        };
        apply(
            &mut model,
            &input,
            <AccountField as field_mask::Field>::ALL,
            cx.phone_region,
        )?;
        model.owner_id = owner_id;
        Ok(model)
    }

    fn update(
        current: &Model,
        input: Account,
        mask: &[String],
        cx: &WriteContext<'_>,
    ) -> Result<Model, Error> {
        let fields = field_mask::resolve_fields(mask, OUTPUT_ONLY, |f| match f {
            AccountField::DisplayName => !input.display_name.is_empty(),
            AccountField::Industry => !input.industry.is_empty(),
            AccountField::Website => !input.website.is_empty(),
            AccountField::Phone => !input.phone.is_empty(),
            AccountField::Email => !input.email.is_empty(),
            AccountField::Address => input.address.is_some(),
            AccountField::OwnerId => !input.owner_id.is_empty(),
            AccountField::AccountType => input.account_type != 0,
            AccountField::Size => input.size != 0,
            AccountField::Tier => input.tier != 0,
            AccountField::Source => !input.source.is_empty(),
            AccountField::ParentId => !input.parent_id.is_empty(),
            AccountField::Tags => !input.tags.is_empty(),
            AccountField::GroupIds => !input.group_ids.is_empty(),
            AccountField::CustomFields => !input.custom_fields.is_empty(),
            AccountField::Notes => !input.notes.is_empty(),
            AccountField::ExternalId => !input.external_id.is_empty(),
        })?;
        let mut next = current.clone();
        apply(&mut next, &input, &fields, cx.phone_region)?;
        Ok(next)
    }

    customer_hooks!();

    fn keys(input: &Account) -> (&str, &str, &str) {
        (&input.id, &input.owner_id, &input.etag)
    }

    /// What an ERP's customer master holds; the owner, labels and notes are the CRM's own.
    const UPSERT_FIELDS: &'static [&'static str] = &[
        "display_name",
        "industry",
        "website",
        "phone",
        "email",
        "address",
        "account_type",
        "size",
        "tier",
    ];

    fn external_id_column() -> Option<Column> {
        Some(Column::ExternalId)
    }

    fn external_id(input: &Account) -> &str {
        input.external_id.trim()
    }

    /// The survivor of a merge answers to the merged account's ERP number (if it has none of
    /// its own), so the ERP's next upsert lands on it.
    fn release_on_merge(gone: &mut Model) {
        gone.external_id.clear();
    }

    /// A parent must be a live account the caller can see, and never the account itself or
    /// one of its subsidiaries.
    async fn check_references(
        txn: &DatabaseTransaction,
        principal: &Principal,
        model: &Model,
    ) -> Result<(), Error> {
        crate::groups::check_labels::<Self>(txn, principal, model).await?;
        hierarchy::check_parent(txn, principal, model).await
    }

    fn absorb(survivor: &mut Model, merged: &Model) {
        for (into, from) in [
            (&mut survivor.industry, &merged.industry),
            (&mut survivor.website, &merged.website),
            (&mut survivor.phone, &merged.phone),
            (&mut survivor.email, &merged.email),
            (&mut survivor.source, &merged.source),
            (&mut survivor.external_id, &merged.external_id),
        ] {
            fill(into, from);
        }
        if survivor.region_code.is_empty() && survivor.address_lines.is_empty() {
            survivor.set_address(merged.address());
        }
        for (into, from) in [
            (&mut survivor.account_type, merged.account_type),
            (&mut survivor.size, merged.size),
            (&mut survivor.tier, merged.tier),
        ] {
            if *into == 0 {
                *into = from;
            }
        }
        // The survivor keeps its own place in a group's tree (taking the merged account's
        // parent could close a cycle), unless its parent was the merged account itself.
        if survivor.parent_id == merged.id {
            survivor.parent_id = merged.parent_id.clone();
        }
        survivor.notes = fields::join_notes(&survivor.notes, &merged.notes);
        survivor.custom_fields =
            custom_values::absorb(&survivor.custom_fields, &merged.custom_fields);
    }

    async fn repoint(
        txn: &DatabaseTransaction,
        tenant_id: &str,
        from_id: &str,
        to_id: &str,
    ) -> Result<Vec<crate::resource::Repointed>, Error> {
        crate::merge::repoint_account(txn, tenant_id, from_id, to_id).await
    }
}

/// Fills an empty text field from another record.
pub(crate) fn fill(into: &mut String, from: &str) {
    if into.is_empty() {
        from.clone_into(into);
    }
}

pub(crate) use crm_platform::audit::enum_name;
