//! A contact: a person at an account, or an individual customer.

use sea_orm::entity::prelude::*;

/// One contact row.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "contacts")]
pub struct Model {
    /// UUIDv7.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    /// Tenant; every query filters on it.
    pub tenant_id: String,
    /// Owning user; data scope filters on it.
    pub owner_id: String,
    /// Given name.
    pub given_name: String,
    /// Family name.
    pub family_name: String,
    /// Name shown to people.
    pub display_name: String,
    /// Email address, lowercased.
    pub email: String,
    /// Phone number.
    pub phone: String,
    /// Job title.
    pub title: String,
    /// Account id, empty for an individual customer.
    pub account_id: String,
    /// Department.
    pub department: String,
    /// `Gender` number.
    pub gender: i32,
    /// Birthday year, 0 when unknown.
    pub birth_year: i32,
    /// Birthday month, 0 when no birthday is known.
    pub birth_month: i32,
    /// Birthday day of month, 0 when no birthday is known.
    pub birth_day: i32,
    /// Phones, a JSON array of `{value, label, primary}`; `phone` mirrors the primary one.
    pub phones: String,
    /// Emails, a JSON array like `phones`; `email` mirrors the primary one.
    pub emails: String,
    /// Address: ISO country code.
    pub region_code: String,
    /// Address: province or state.
    pub administrative_area: String,
    /// Address: city.
    pub locality: String,
    /// Address: district.
    pub sublocality: String,
    /// Address: postal code.
    pub postal_code: String,
    /// Address: street lines joined by newlines.
    pub address_lines: String,
    /// Other linked account ids, a JSON array of strings.
    pub related_account_ids: String,
    /// Occupation.
    pub occupation: String,
    /// Free notes.
    pub notes: String,
    /// Tags, a JSON array of strings.
    pub tags: String,
    /// Group ids, a JSON array of strings.
    pub group_ids: String,
    /// The surviving contact after a merge, empty otherwise.
    pub merged_into_id: String,
    /// Since when the current owner holds it (or it is in the pool), microseconds.
    pub owner_since: i64,
    /// Custom values, a JSON object by field name (see `custom_values`).
    pub custom_fields: String,
    /// `IdDocumentType` number.
    pub id_document_type: i32,
    /// Identity document number, sealed (see `sensitive`); empty when none.
    pub id_document_sealed: String,
    /// Keyed hash of the number, for exact-match filters.
    pub id_document_hash: String,
    /// Masked number shown without the permission.
    pub id_document_masked: String,
    /// Bank card number, sealed.
    pub bank_card_sealed: String,
    /// Keyed hash of the card number.
    pub bank_card_hash: String,
    /// Masked card number.
    pub bank_card_masked: String,
    /// When the personal data was erased.
    pub erase_time: Option<i64>,
    /// The last year whose birthday event was sent, 0 before the first.
    pub birthday_announced: i32,
    /// Optimistic-concurrency version; the etag is derived from it.
    pub version: i64,
    /// Microseconds since the epoch.
    pub create_time: i64,
    /// Microseconds since the epoch.
    pub update_time: i64,
    /// Set while soft-deleted.
    pub delete_time: Option<i64>,
}

/// No relations are navigated through sea-orm; queries join explicitly.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
