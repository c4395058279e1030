//! Contacts: people at accounts, and individual customers.

use crm_platform::clock;
use sea_orm::DatabaseTransaction;

use crate::account::{Accounts, enum_name, fill};
use crate::custom_values;
use crate::entity::contact::{Column, Entity, Model};
use crate::fields::{self, AddressColumns, PointKind, StoredPoint};
use crate::resource::{Action, FieldKind, IndexKey, Resource, WriteContext, customer_hooks};
use crate::sensitive;
use crm_platform::auth::Principal;
use crm_platform::error::Error;
use crm_platform::field_mask;
use crm_platform::sealing::DataKeys;
use crm_platform::time::{to_timestamp, to_timestamp_opt};
use crm_platform::validate::Violations;
use crm_proto::common::Date;
use crm_proto::contacts::{
    Contact, ContactsEvent, ContactsEventType, Gender, contacts_event::Subject,
};

/// The contact resource.
#[derive(Debug, Clone, Copy)]
pub struct Contacts;

crate::fields::address_columns!(Model);

/// The fields a contact update may change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ContactField {
    GivenName,
    FamilyName,
    DisplayName,
    Phones,
    Emails,
    Email,
    Phone,
    Title,
    AccountId,
    OwnerId,
    Department,
    Gender,
    Birthday,
    Address,
    RelatedAccountIds,
    Occupation,
    Notes,
    Tags,
    GroupIds,
    CustomFields,
    IdDocumentType,
    IdDocumentNumber,
    BankCardNumber,
}

impl field_mask::Field for ContactField {
    const ALL: &'static [Self] = &[
        ContactField::GivenName,
        ContactField::FamilyName,
        ContactField::DisplayName,
        ContactField::Phones,
        ContactField::Emails,
        ContactField::Email,
        ContactField::Phone,
        ContactField::Title,
        ContactField::AccountId,
        ContactField::OwnerId,
        ContactField::Department,
        ContactField::Gender,
        ContactField::Birthday,
        ContactField::Address,
        ContactField::RelatedAccountIds,
        ContactField::Occupation,
        ContactField::Notes,
        ContactField::Tags,
        ContactField::GroupIds,
        ContactField::CustomFields,
        ContactField::IdDocumentType,
        ContactField::IdDocumentNumber,
        ContactField::BankCardNumber,
    ];

    fn name(self) -> &'static str {
        match self {
            ContactField::GivenName => "given_name",
            ContactField::FamilyName => "family_name",
            ContactField::DisplayName => "display_name",
            ContactField::Phones => "phones",
            ContactField::Emails => "emails",
            ContactField::Email => "email",
            ContactField::Phone => "phone",
            ContactField::Title => "title",
            ContactField::AccountId => "account_id",
            ContactField::OwnerId => "owner_id",
            ContactField::Department => "department",
            ContactField::Gender => "gender",
            ContactField::Birthday => "birthday",
            ContactField::Address => "address",
            ContactField::RelatedAccountIds => "related_account_ids",
            ContactField::Occupation => "occupation",
            ContactField::Notes => "notes",
            ContactField::Tags => "tags",
            ContactField::GroupIds => "group_ids",
            ContactField::CustomFields => "custom_fields",
            ContactField::IdDocumentType => "id_document_type",
            ContactField::IdDocumentNumber => "id_document_number",
            ContactField::BankCardNumber => "bank_card_number",
        }
    }
}
const OUTPUT_ONLY: &[&str] = &[
    "id",
    "etag",
    "create_time",
    "update_time",
    "delete_time",
    "age",
    "merged_into_id",
    "erase_time",
];

/// Sets or clears the sensitive fields a write names; they are checked, then kept sealed.
fn apply_sensitive(
    model: &mut Model,
    input: &Contact,
    fields: &[ContactField],
    keys: &DataKeys,
    v: &mut Violations,
) {
    if fields.contains(&ContactField::IdDocumentNumber) {
        if input.id_document_number.trim().is_empty() {
            model.id_document_type = 0;
            sensitive::store(model, keys, sensitive::Field::IdDocument, None);
        } else {
            let kind = if input.id_document_type != 0 {
                input.id_document_type
            } else {
                model.id_document_type
            };
            if let Some(number) = sensitive::check_id_document(v, kind, &input.id_document_number) {
                model.id_document_type = kind;
                sensitive::store(model, keys, sensitive::Field::IdDocument, Some(&number));
            }
        }
    } else if fields.contains(&ContactField::IdDocumentType) {
        v.add(
            "contact.id_document_type",
            "change it together with id_document_number",
        );
    }
    if fields.contains(&ContactField::BankCardNumber) {
        let number = if input.bank_card_number.trim().is_empty() {
            None
        } else {
            sensitive::check_bank_card(v, &input.bank_card_number)
        };
        if number.is_some() || input.bank_card_number.trim().is_empty() {
            sensitive::store(model, keys, sensitive::Field::BankCard, number.as_deref());
        }
    }
}

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

fn text(v: &mut Violations, field: &str, value: &str, max: usize) -> String {
    v.max_chars(field, value, max);
    value.trim().to_owned()
}

/// Checks every field and writes the normalised values into `model`. `phones` and `emails`
/// replace the lists; `phone` and `email` then set the primary entry.
fn apply(
    model: &mut Model,
    input: &Contact,
    fields: &[ContactField],
    cx: &WriteContext<'_>,
) -> Result<(), Error> {
    let mut v = Violations::new();
    let region = cx.phone_region;
    let mut phones: Vec<StoredPoint> = fields::from_json(&model.phones);
    let mut emails: Vec<StoredPoint> = fields::from_json(&model.emails);
    // Lists first, so a primary value given alongside them wins.
    if fields.contains(&ContactField::Phones) {
        phones = fields::points(
            &mut v,
            "contact.phones",
            PointKind::Phone(region),
            &input.phones,
        );
    }
    if fields.contains(&ContactField::Emails) {
        emails = fields::points(&mut v, "contact.emails", PointKind::Email, &input.emails);
    }
    for field in fields {
        match field {
            ContactField::GivenName => {
                model.given_name = text(&mut v, "contact.given_name", &input.given_name, 100)
            }
            ContactField::FamilyName => {
                model.family_name = text(&mut v, "contact.family_name", &input.family_name, 100)
            }
            ContactField::DisplayName => {
                model.display_name = text(&mut v, "contact.display_name", &input.display_name, 200)
            }
            ContactField::Email => {
                v.max_chars("contact.email", &input.email, 320);
                fields::set_primary(&mut emails, v.email("contact.email", &input.email));
            }
            ContactField::Phone => {
                fields::set_primary(&mut phones, v.phone("contact.phone", &input.phone, region))
            }
            ContactField::Title => model.title = text(&mut v, "contact.title", &input.title, 100),
            ContactField::AccountId => model.account_id = input.account_id.trim().to_owned(),
            ContactField::OwnerId => model.owner_id = input.owner_id.clone(),
            ContactField::Department => {
                model.department = text(&mut v, "contact.department", &input.department, 100)
            }
            ContactField::Gender => {
                model.gender = v.enumeration::<Gender>("contact.gender", input.gender);
            }
            ContactField::Birthday => {
                let (y, m, d) = fields::birthday(
                    &mut v,
                    "contact.birthday",
                    input.birthday.as_ref(),
                    clock::now_micros(),
                );
                (model.birth_year, model.birth_month, model.birth_day) = (y, m, d);
            }
            ContactField::Address => model.set_address(AddressColumns::check(
                &mut v,
                "contact.address",
                input.address.as_ref(),
            )),
            ContactField::RelatedAccountIds => {
                model.related_account_ids = fields::to_json(&fields::ids(
                    &mut v,
                    "contact.related_account_ids",
                    &input.related_account_ids,
                ));
            }
            ContactField::Occupation => {
                model.occupation = text(&mut v, "contact.occupation", &input.occupation, 100)
            }
            ContactField::Notes => {
                v.max_chars("contact.notes", &input.notes, 10_000);
                model.notes = input.notes.clone();
            }
            ContactField::Tags => {
                model.tags = fields::to_json(&fields::tags(&mut v, "contact.tags", &input.tags));
            }
            ContactField::GroupIds => {
                model.group_ids =
                    fields::to_json(&fields::ids(&mut v, "contact.group_ids", &input.group_ids));
            }
            ContactField::CustomFields => {
                model.custom_fields =
                    custom_values::merge_wire(&model.custom_fields, &input.custom_fields);
            }
            // The lists went first; the sensitive fields are sealed below.
            ContactField::Phones
            | ContactField::Emails
            | ContactField::IdDocumentType
            | ContactField::IdDocumentNumber
            | ContactField::BankCardNumber => {}
        }
    }
    set_points(model, &phones, &emails);
    apply_sensitive(model, input, fields, cx.keys, &mut v);
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

/// Stores the point lists and mirrors their primary entries into `phone` and `email`, which
/// the indexed lookups and simple clients read.
fn set_points(model: &mut Model, phones: &[StoredPoint], emails: &[StoredPoint]) {
    model.phone = fields::primary(phones);
    model.email = fields::primary(emails);
    model.phones = fields::to_json(phones);
    model.emails = fields::to_json(emails);
}

fn birthday(m: &Model) -> Option<Date> {
    (m.birth_month != 0).then_some(Date {
        year: m.birth_year,
        month: m.birth_month,
        day: m.birth_day,
    })
}

impl Resource for Contacts {
    type Event = ContactsEvent;
    type Entity = Entity;
    type Model = Model;
    type Active = crate::entity::contact::ActiveModel;
    type Proto = Contact;

    const KIND: &'static str = "contact";
    const READ: &'static str = "contacts.contacts.read";
    const WRITE: &'static str = "contacts.contacts.write";
    const MERGE: &'static str = "contacts.contacts.merge";
    const SENSITIVE_READ: Option<&'static str> = Some(crate::sensitive::READ);

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
            "department" => (Column::Department, FieldKind::Text),
            "occupation" => (Column::Occupation, FieldKind::Text),
            "region_code" => (Column::RegionCode, FieldKind::Text),
            "locality" => (Column::Locality, FieldKind::Text),
            "gender" => (
                Column::Gender,
                FieldKind::Enum(|s| Gender::from_str_name(s).map(|e| e as i32)),
            ),
            "tags" => (Column::Id, FieldKind::Label("tag")),
            "group_ids" => (Column::Id, FieldKind::Label("group")),
            "create_time" => (Column::CreateTime, FieldKind::Time),
            "update_time" => (Column::UpdateTime, FieldKind::Time),
            _ => return None,
        })
    }

    fn to_proto(m: &Model) -> Contact {
        let points = |column: &str| {
            fields::from_json::<StoredPoint>(column)
                .iter()
                .map(StoredPoint::to_proto)
                .collect()
        };
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
            department: m.department.clone(),
            gender: m.gender,
            birthday: birthday(m),
            age: fields::age(
                m.birth_year,
                m.birth_month,
                m.birth_day,
                clock::now_micros(),
            ),
            phones: points(&m.phones),
            emails: points(&m.emails),
            address: Some(m.address().to_proto()),
            related_account_ids: fields::from_json(&m.related_account_ids),
            occupation: m.occupation.clone(),
            notes: m.notes.clone(),
            tags: fields::from_json(&m.tags),
            group_ids: fields::from_json(&m.group_ids),
            merged_into_id: m.merged_into_id.clone(),
            owner_since: Some(to_timestamp(m.owner_since)),
            custom_fields: custom_values::to_wire(&m.custom_fields),
            id_document_type: m.id_document_type,
            id_document_number: m.id_document_masked.clone(),
            bank_card_number: m.bank_card_masked.clone(),
            erase_time: to_timestamp_opt(m.erase_time),
        }
    }

    fn audit_fields(m: &Model) -> Vec<(&'static str, String)> {
        vec![
            ("given_name", m.given_name.clone()),
            ("family_name", m.family_name.clone()),
            ("display_name", m.display_name.clone()),
            ("phones", m.phones.clone()),
            ("emails", m.emails.clone()),
            ("title", m.title.clone()),
            ("account_id", m.account_id.clone()),
            ("owner_id", m.owner_id.clone()),
            ("department", m.department.clone()),
            ("gender", enum_name::<Gender>(m.gender)),
            (
                "birthday",
                birthday(m)
                    .map(|d| format!("{:04}-{:02}-{:02}", d.year, d.month, d.day))
                    .unwrap_or_default(),
            ),
            ("address", m.address().summary()),
            ("related_account_ids", m.related_account_ids.clone()),
            ("occupation", m.occupation.clone()),
            ("notes", m.notes.clone()),
            ("tags", m.tags.clone()),
            ("group_ids", m.group_ids.clone()),
            ("custom_fields", m.custom_fields.clone()),
            // Audit entries never hold sensitive values, only their masked forms.
            ("id_document_number", m.id_document_masked.clone()),
            ("bank_card_number", m.bank_card_masked.clone()),
            ("merged_into_id", m.merged_into_id.clone()),
        ]
    }

    fn is_erased(m: &Model) -> bool {
        m.erase_time.is_some()
    }

    fn has_sensitive(c: &Contact) -> bool {
        !c.id_document_number.is_empty() || !c.bank_card_number.is_empty()
    }

    fn reveal(m: &Model, keys: &DataKeys, proto: &mut Contact) -> Result<(), Error> {
        sensitive::reveal(m, keys, proto)
    }

    fn sensitive_filter(
        keys: &DataKeys,
        tenant_id: &str,
        name: &str,
        value: &str,
    ) -> Option<Result<sea_orm::Condition, Error>> {
        sensitive::filter(keys, tenant_id, name, value)
    }

    fn search_fields(m: &Model) -> Vec<crate::search::SearchField> {
        let mut fields = vec![("display_name", m.display_name.clone())];
        for point in fields::from_json::<StoredPoint>(&m.phones) {
            fields.push(("phone", point.value));
        }
        for point in fields::from_json::<StoredPoint>(&m.emails) {
            fields.push(("email", point.value));
        }
        fields
    }

    fn index_keys(m: &Model) -> Vec<IndexKey> {
        let phones = fields::from_json::<StoredPoint>(&m.phones);
        let emails = fields::from_json::<StoredPoint>(&m.emails);
        phones
            .into_iter()
            .map(|p| IndexKey::new("phone", p.value))
            .chain(emails.into_iter().map(|p| IndexKey::new("email", p.value)))
            .collect()
    }

    fn event(action: Action, proto: Contact, merged_ids: &[String]) -> ContactsEvent {
        let kind = match action {
            Action::Create => ContactsEventType::ContactCreated,
            Action::Update => ContactsEventType::ContactUpdated,
            Action::Delete => ContactsEventType::ContactDeleted,
            Action::Undelete => ContactsEventType::ContactUndeleted,
            Action::Merge => ContactsEventType::ContactMerged,
        };
        ContactsEvent {
            r#type: kind as i32,
            subject: Some(Subject::Contact(proto)),
            merged_ids: merged_ids.to_vec(),
            ..Default::default()
        }
    }

    fn create(
        tenant_id: &str,
        owner_id: String,
        (id, now): (String, i64),
        input: Contact,
        cx: &WriteContext<'_>,
    ) -> Result<Model, Error> {
        let empty = || String::new();
        let mut model = Model {
            id,
            tenant_id: tenant_id.to_owned(),
            owner_id: owner_id.clone(),
            given_name: empty(),
            family_name: empty(),
            display_name: empty(),
            email: empty(),
            phone: empty(),
            title: empty(),
            account_id: empty(),
            department: empty(),
            gender: 0,
            birth_year: 0,
            birth_month: 0,
            birth_day: 0,
            phones: "[]".to_owned(),
            emails: "[]".to_owned(),
            region_code: empty(),
            administrative_area: empty(),
            locality: empty(),
            sublocality: empty(),
            postal_code: empty(),
            address_lines: empty(),
            related_account_ids: "[]".to_owned(),
            occupation: empty(),
            notes: empty(),
            tags: "[]".to_owned(),
            group_ids: "[]".to_owned(),
            merged_into_id: empty(),
            owner_since: now,
            custom_fields: "{}".to_owned(),
            id_document_type: 0,
            id_document_sealed: empty(),
            id_document_hash: empty(),
            id_document_masked: empty(),
            bank_card_sealed: empty(),
            bank_card_hash: empty(),
            bank_card_masked: empty(),
            erase_time: None,
            birthday_announced: 0,
            version: 1,
            create_time: now,
            update_time: now,
            delete_time: None,
        };
        // A create sets the lists, or the single values when no list is given.
        let fields: Vec<ContactField> = <ContactField as field_mask::Field>::ALL
            .iter()
            .copied()
            .filter(|f| match f {
                ContactField::Phone => input.phones.is_empty(),
                ContactField::Email => input.emails.is_empty(),
                _ => true,
            })
            .collect();
        apply(&mut model, &input, &fields, cx)?;
        model.owner_id = owner_id;
        Ok(model)
    }

    fn update(
        current: &Model,
        input: Contact,
        mask: &[String],
        cx: &WriteContext<'_>,
    ) -> Result<Model, Error> {
        let fields = field_mask::resolve_fields(mask, OUTPUT_ONLY, |f| match f {
            ContactField::GivenName => !input.given_name.is_empty(),
            ContactField::FamilyName => !input.family_name.is_empty(),
            ContactField::DisplayName => !input.display_name.is_empty(),
            ContactField::Phones => !input.phones.is_empty(),
            ContactField::Emails => !input.emails.is_empty(),
            ContactField::Email => !input.email.is_empty() && input.emails.is_empty(),
            ContactField::Phone => !input.phone.is_empty() && input.phones.is_empty(),
            ContactField::Title => !input.title.is_empty(),
            ContactField::AccountId => !input.account_id.is_empty(),
            ContactField::OwnerId => !input.owner_id.is_empty(),
            ContactField::Department => !input.department.is_empty(),
            ContactField::Gender => input.gender != 0,
            ContactField::Birthday => input.birthday.is_some(),
            ContactField::Address => input.address.is_some(),
            ContactField::RelatedAccountIds => !input.related_account_ids.is_empty(),
            ContactField::Occupation => !input.occupation.is_empty(),
            ContactField::Notes => !input.notes.is_empty(),
            ContactField::Tags => !input.tags.is_empty(),
            ContactField::GroupIds => !input.group_ids.is_empty(),
            ContactField::CustomFields => !input.custom_fields.is_empty(),
            ContactField::IdDocumentType => input.id_document_type != 0,
            ContactField::IdDocumentNumber => !input.id_document_number.is_empty(),
            ContactField::BankCardNumber => !input.bank_card_number.is_empty(),
        })?;
        let mut next = current.clone();
        apply(&mut next, &input, &fields, cx)?;
        Ok(next)
    }

    customer_hooks!();

    fn keys(input: &Contact) -> (&str, &str, &str) {
        (&input.id, &input.owner_id, &input.etag)
    }

    /// A contact may only point at live accounts the caller can see.
    async fn check_references(
        txn: &DatabaseTransaction,
        principal: &Principal,
        model: &Model,
    ) -> Result<(), Error> {
        crate::groups::check_labels::<Self>(txn, principal, model).await?;
        let related: Vec<String> = fields::from_json(&model.related_account_ids);
        let primary = std::iter::once(("contact.account_id".to_owned(), &model.account_id));
        let others = related
            .iter()
            .enumerate()
            .map(|(i, id)| (format!("contact.related_account_ids[{i}]"), id));
        for (field, id) in primary.chain(others).filter(|(_, id)| !id.is_empty()) {
            match crate::store::find::<Accounts, _>(txn, principal, id).await {
                Ok(account) if account.delete_time.is_none() => {}
                Ok(_) | Err(Error::NotFound { .. }) => {
                    return Err(Error::invalid(field, "no such account, or it is deleted"));
                }
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    fn absorb(survivor: &mut Model, merged: &Model) {
        for (into, from) in [
            (&mut survivor.given_name, &merged.given_name),
            (&mut survivor.family_name, &merged.family_name),
            (&mut survivor.title, &merged.title),
            (&mut survivor.account_id, &merged.account_id),
            (&mut survivor.department, &merged.department),
            (&mut survivor.occupation, &merged.occupation),
        ] {
            fill(into, from);
        }
        if survivor.gender == 0 {
            survivor.gender = merged.gender;
        }
        if survivor.birth_month == 0 {
            (
                survivor.birth_year,
                survivor.birth_month,
                survivor.birth_day,
            ) = (merged.birth_year, merged.birth_month, merged.birth_day);
        }
        if survivor.region_code.is_empty() && survivor.address_lines.is_empty() {
            survivor.set_address(merged.address());
        }
        let union_points = |a: &str, b: &str| {
            let mut list: Vec<StoredPoint> = fields::from_json(a);
            for mut point in fields::from_json::<StoredPoint>(b) {
                if !list.iter().any(|p| p.value == point.value) {
                    point.primary = list.is_empty();
                    list.push(point);
                }
            }
            list
        };
        let phones = union_points(&survivor.phones, &merged.phones);
        let emails = union_points(&survivor.emails, &merged.emails);
        set_points(survivor, &phones, &emails);
        let mut related: Vec<String> = fields::from_json(&survivor.related_account_ids);
        for id in fields::from_json::<String>(&merged.related_account_ids) {
            if !related.contains(&id) && id != survivor.account_id {
                related.push(id);
            }
        }
        if !merged.account_id.is_empty()
            && merged.account_id != survivor.account_id
            && !related.contains(&merged.account_id)
        {
            related.push(merged.account_id.clone());
        }
        survivor.related_account_ids = fields::to_json(&related);
        survivor.notes = fields::join_notes(&survivor.notes, &merged.notes);
        survivor.custom_fields =
            custom_values::absorb(&survivor.custom_fields, &merged.custom_fields);
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
