//! Price lists: a currency's unit prices, with volume breaks, for a customer tier and a
//! period. Like products they are the tenant's, and another system finds them by external id.

use std::collections::HashSet;

use sea_orm::{ColumnTrait, DatabaseTransaction, EntityTrait, QueryFilter, QuerySelect};
use serde::{Deserialize, Serialize};

use crate::entity::price_list::{Column, Entity, Model};
use crate::entity::product;
use crm_platform::auth::Principal;
use crm_platform::error::Error;
use crm_platform::field_mask::{self, Field};
use crm_platform::money::{self, Amount, Currency, Money};
use crm_platform::time::{day, to_timestamp, to_timestamp_opt};
use crm_platform::validate::Violations;
use crm_proto::contacts::AccountTier;
use crm_proto::sales::{
    PriceList, PriceListEntry, SalesEvent, SalesEventType, VolumeBreak, sales_event::Subject,
};
use crm_records::custom_values;
use crm_records::json;
use crm_records::resource::{Action, FieldKind, IndexKey, Resource, Scope, WriteContext};

/// The price list resource.
#[derive(Debug, Clone, Copy)]
pub(crate) struct PriceLists;

/// Most entries of a list.
pub(crate) const MAX_ENTRIES: usize = 10_000;
/// Most volume breaks of an entry.
pub(crate) const MAX_BREAKS: usize = 20;
/// Most decimals of a quantity.
pub(crate) const QUANTITY_DECIMALS: u32 = 4;

/// A stored entry: amounts as decimal text in the list's currency.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct StoredEntry {
    /// The product.
    pub(crate) product_id: String,
    /// Its base unit price.
    pub(crate) unit_price: String,
    /// Lower prices from a quantity up, ascending.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub(crate) breaks: Vec<StoredBreak>,
}

/// A stored volume break.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct StoredBreak {
    /// The least quantity.
    pub(crate) min_quantity: String,
    /// The unit price from it.
    pub(crate) unit_price: String,
}

/// The fields a price list update may change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PriceListField {
    DisplayName,
    CurrencyCode,
    AccountTier,
    ValidFrom,
    ValidUntil,
    Entries,
    ExternalId,
    Description,
    Tags,
    CustomFields,
}

impl Field for PriceListField {
    const ALL: &'static [Self] = &[
        PriceListField::DisplayName,
        PriceListField::CurrencyCode,
        PriceListField::AccountTier,
        PriceListField::ValidFrom,
        PriceListField::ValidUntil,
        PriceListField::Entries,
        PriceListField::ExternalId,
        PriceListField::Description,
        PriceListField::Tags,
        PriceListField::CustomFields,
    ];

    fn name(self) -> &'static str {
        match self {
            PriceListField::DisplayName => "display_name",
            PriceListField::CurrencyCode => "currency_code",
            PriceListField::AccountTier => "account_tier",
            PriceListField::ValidFrom => "valid_from",
            PriceListField::ValidUntil => "valid_until",
            PriceListField::Entries => "entries",
            PriceListField::ExternalId => "external_id",
            PriceListField::Description => "description",
            PriceListField::Tags => "tags",
            PriceListField::CustomFields => "custom_fields",
        }
    }
}

const OUTPUT_ONLY: &[&str] = &["id", "etag", "create_time", "update_time", "delete_time"];

/// Checks the entries of a list in `currency`.
fn check_entries(
    v: &mut Violations,
    entries: &[PriceListEntry],
    currency: Option<Currency>,
) -> Vec<StoredEntry> {
    if !v.at_most("price_list.entries", entries.len(), MAX_ENTRIES) {
        return Vec::new();
    }
    let mut seen = HashSet::with_capacity(entries.len());
    let mut stored = Vec::with_capacity(entries.len());
    for (i, entry) in entries.iter().enumerate() {
        let field = format!("price_list.entries[{i}]");
        let product_id = entry.product_id.trim().to_owned();
        if product_id.is_empty() {
            v.add(&format!("{field}.product_id"), "is required");
        } else if !seen.insert(product_id.clone()) {
            v.add(&format!("{field}.product_id"), "is listed twice");
        }
        let price = |v: &mut Violations, name: &str, wire: Option<&crm_proto::common::Money>| {
            let wire = wire.cloned().unwrap_or_default();
            let checked = currency.and_then(|c| Money::check(v, name, &wire, Some(c)));
            checked.map(|m| m.amount.to_string()).unwrap_or_default()
        };
        let unit_price = price(v, &format!("{field}.unit_price"), entry.unit_price.as_ref());
        let breaks_field = format!("{field}.volume_breaks");
        if !v.at_most(&breaks_field, entry.volume_breaks.len(), MAX_BREAKS) {
            continue;
        }
        let mut breaks = Vec::with_capacity(entry.volume_breaks.len());
        let mut last: Option<Amount> = None;
        for (j, volume) in entry.volume_breaks.iter().enumerate() {
            let field = format!("{breaks_field}[{j}]");
            let quantity_field = format!("{field}.min_quantity");
            let quantity =
                money::decimal(v, &quantity_field, &volume.min_quantity, QUANTITY_DECIMALS);
            match quantity {
                Some(q) if q <= Amount::ZERO => v.add(&quantity_field, "must be positive"),
                Some(q) if last.is_some_and(|l| q <= l) => {
                    v.add(&quantity_field, "must be above the previous break's")
                }
                _ => {}
            }
            last = quantity.or(last);
            breaks.push(StoredBreak {
                min_quantity: quantity.map(|q| q.to_string()).unwrap_or_default(),
                unit_price: price(
                    v,
                    &format!("{field}.unit_price"),
                    volume.unit_price.as_ref(),
                ),
            });
        }
        stored.push(StoredEntry {
            product_id,
            unit_price,
            breaks,
        });
    }
    stored
}

/// The stored entries of a row.
pub(crate) fn entries(m: &Model) -> Vec<StoredEntry> {
    json::from_json(&m.entries)
}

/// The wire form of stored entries in `currency`.
fn wire_entries(stored: &[StoredEntry], currency: Option<Currency>) -> Vec<PriceListEntry> {
    let money = |text: &str| {
        currency.map(|currency| {
            Money {
                currency,
                amount: money::stored(text),
            }
            .to_wire()
        })
    };
    stored
        .iter()
        .map(|e| PriceListEntry {
            product_id: e.product_id.clone(),
            unit_price: money(&e.unit_price),
            volume_breaks: e
                .breaks
                .iter()
                .map(|b| VolumeBreak {
                    min_quantity: b.min_quantity.clone(),
                    unit_price: money(&b.unit_price),
                })
                .collect(),
        })
        .collect()
}

/// Checks every field in `fields` and writes the normalised values into `model`.
fn apply(model: &mut Model, input: &PriceList, fields: &[PriceListField]) -> Result<(), Error> {
    let mut v = Violations::new();
    for field in fields {
        match field {
            PriceListField::DisplayName => {
                model.display_name = input.display_name.trim().to_owned();
                v.required("price_list.display_name", &model.display_name);
                v.max_chars("price_list.display_name", &model.display_name, 200);
            }
            PriceListField::CurrencyCode => {
                let code = input.currency_code.trim();
                Currency::check(&mut v, "price_list.currency_code", code);
                model.currency_code = code.to_owned();
            }
            PriceListField::AccountTier => {
                model.account_tier =
                    v.enumeration::<AccountTier>("price_list.account_tier", input.account_tier);
            }
            PriceListField::ValidFrom => {
                model.valid_from =
                    day::check(&mut v, "price_list.valid_from", input.valid_from.as_ref());
            }
            PriceListField::ValidUntil => {
                model.valid_until =
                    day::check(&mut v, "price_list.valid_until", input.valid_until.as_ref());
            }
            PriceListField::Entries => {
                let currency = Currency::parse(&model.currency_code);
                model.entries = json::to_json(&check_entries(&mut v, &input.entries, currency));
            }
            PriceListField::ExternalId => {
                model.external_id = input.external_id.trim().to_owned();
                v.max_chars("price_list.external_id", &model.external_id, 100);
            }
            PriceListField::Description => {
                v.max_chars("price_list.description", &input.description, 10_000);
                model.description = input.description.clone();
            }
            PriceListField::Tags => {
                model.tags = json::to_json(&crm_records::labels::tags(
                    &mut v,
                    "price_list.tags",
                    &input.tags,
                ));
            }
            PriceListField::CustomFields => {
                model.custom_fields =
                    custom_values::merge_wire(&model.custom_fields, &input.custom_fields);
            }
        }
    }
    // A new currency must fit the prices already listed (yen have no decimals).
    let currency_changed = fields.contains(&PriceListField::CurrencyCode)
        && !fields.contains(&PriceListField::Entries);
    if currency_changed && let Some(currency) = Currency::parse(&model.currency_code) {
        let fits = |text: &str| money::stored(text).normalize().scale() <= currency.minor_units();
        let all_fit = entries(model)
            .iter()
            .all(|e| fits(&e.unit_price) && e.breaks.iter().all(|b| fits(&b.unit_price)));
        if !all_fit {
            v.add(
                "price_list.currency_code",
                format!(
                    "the listed prices do not fit {}: send the entries too",
                    currency.code()
                ),
            );
        }
    }
    if model.valid_from != 0 && model.valid_until != 0 && model.valid_until < model.valid_from {
        v.add("price_list.valid_until", "must not be before valid_from");
    }
    v.finish()
}

impl Resource for PriceLists {
    type Event = SalesEvent;
    type Entity = Entity;
    type Model = Model;
    type Active = crate::entity::price_list::ActiveModel;
    type Proto = PriceList;

    const KIND: &'static str = "price_list";
    const SCOPE: Scope = Scope::Tenant;
    const DUPLICATE_KINDS: &'static [&'static str] = &["external_id"];
    const KEYS_UNIQUE: bool = true;
    const READ: &'static str = "sales.price_lists.read";
    const WRITE: &'static str = "sales.price_lists.write";
    const MERGE: &'static str = "sales.price_lists.write";
    const UPSERT_FIELDS: &'static [&'static str] = &[
        "display_name",
        "currency_code",
        "account_tier",
        "valid_from",
        "valid_until",
        "entries",
        "description",
        "custom_fields",
    ];

    crm_records::shared_columns!(tags);

    fn filter_field(name: &str) -> Option<(Column, FieldKind)> {
        Some(match name {
            "display_name" => (Column::DisplayName, FieldKind::Text),
            "currency_code" => (Column::CurrencyCode, FieldKind::Text),
            "external_id" => (Column::ExternalId, FieldKind::Text),
            "account_tier" => (
                Column::AccountTier,
                FieldKind::Enum(|s| AccountTier::from_str_name(s).map(|e| e as i32)),
            ),
            "tags" => (Column::Id, FieldKind::Label("tag")),
            "create_time" => (Column::CreateTime, FieldKind::Time),
            "update_time" => (Column::UpdateTime, FieldKind::Time),
            _ => return None,
        })
    }

    fn to_proto(m: &Model) -> PriceList {
        PriceList {
            id: m.id.clone(),
            etag: crm_platform::etag::format(m.version),
            display_name: m.display_name.clone(),
            currency_code: m.currency_code.clone(),
            account_tier: m.account_tier,
            valid_from: day::to_wire(m.valid_from),
            valid_until: day::to_wire(m.valid_until),
            entries: wire_entries(&entries(m), Currency::parse(&m.currency_code)),
            external_id: m.external_id.clone(),
            description: m.description.clone(),
            tags: json::from_json(&m.tags),
            custom_fields: custom_values::to_wire(&m.custom_fields),
            create_time: Some(to_timestamp(m.create_time)),
            update_time: Some(to_timestamp(m.update_time)),
            delete_time: to_timestamp_opt(m.delete_time),
        }
    }

    fn audit_fields(m: &Model) -> Vec<(&'static str, String)> {
        vec![
            ("display_name", m.display_name.clone()),
            ("currency_code", m.currency_code.clone()),
            (
                "account_tier",
                crm_platform::audit::enum_name::<AccountTier>(m.account_tier),
            ),
            ("valid_from", day::format(m.valid_from)),
            ("valid_until", day::format(m.valid_until)),
            ("entries", m.entries.clone()),
            ("external_id", m.external_id.clone()),
            ("description", m.description.clone()),
            ("tags", m.tags.clone()),
            ("custom_fields", m.custom_fields.clone()),
        ]
    }

    fn search_fields(m: &Model) -> Vec<crm_records::SearchField> {
        vec![("display_name", m.display_name.clone())]
    }

    fn index_keys(m: &Model) -> Vec<IndexKey> {
        if m.external_id.is_empty() {
            Vec::new()
        } else {
            vec![IndexKey::new("external_id", m.external_id.clone())]
        }
    }

    fn event(action: Action, proto: PriceList, _merged_ids: &[String]) -> SalesEvent {
        let types = [
            SalesEventType::PriceListCreated,
            SalesEventType::PriceListUpdated,
            SalesEventType::PriceListDeleted,
            SalesEventType::PriceListUndeleted,
        ];
        crate::events::of_write(action, types, Subject::PriceList(proto))
    }

    fn create(
        tenant_id: &str,
        owner_id: String,
        (id, now): (String, i64),
        input: PriceList,
        _cx: &WriteContext<'_>,
    ) -> Result<Model, Error> {
        let mut model = Model {
            id,
            tenant_id: tenant_id.to_owned(),
            owner_id,
            owner_since: now,
            display_name: String::new(),
            currency_code: String::new(),
            account_tier: 0,
            valid_from: 0,
            valid_until: 0,
            entries: "[]".to_owned(),
            external_id: String::new(),
            description: String::new(),
            tags: "[]".to_owned(),
            custom_fields: "{}".to_owned(),
            version: 1,
            create_time: now,
            update_time: now,
            delete_time: None,
        };
        apply(&mut model, &input, PriceListField::ALL)?;
        Ok(model)
    }

    fn update(
        current: &Model,
        input: PriceList,
        mask: &[String],
        _cx: &WriteContext<'_>,
    ) -> Result<Model, Error> {
        let fields = field_mask::resolve_fields(mask, OUTPUT_ONLY, |f| match f {
            PriceListField::DisplayName => !input.display_name.is_empty(),
            PriceListField::CurrencyCode => !input.currency_code.is_empty(),
            PriceListField::AccountTier => input.account_tier != 0,
            PriceListField::ValidFrom => input.valid_from.is_some(),
            PriceListField::ValidUntil => input.valid_until.is_some(),
            PriceListField::Entries => !input.entries.is_empty(),
            PriceListField::ExternalId => !input.external_id.is_empty(),
            PriceListField::Description => !input.description.is_empty(),
            PriceListField::Tags => !input.tags.is_empty(),
            PriceListField::CustomFields => !input.custom_fields.is_empty(),
        })?;
        let mut next = current.clone();
        apply(&mut next, &input, &fields)?;
        Ok(next)
    }

    fn keys(input: &PriceList) -> (&str, &str, &str) {
        (&input.id, "", &input.etag)
    }

    fn external_id_column() -> Option<Column> {
        Some(Column::ExternalId)
    }

    fn external_id(input: &PriceList) -> &str {
        input.external_id.trim()
    }

    /// Every listed product is a live product of the tenant.
    async fn check_references(
        txn: &DatabaseTransaction,
        principal: &Principal,
        model: &Model,
    ) -> Result<(), Error> {
        let listed = entries(model);
        let mut live = HashSet::with_capacity(listed.len());
        let ids: Vec<&str> = listed.iter().map(|e| e.product_id.as_str()).collect();
        for chunk in ids.chunks(1000) {
            let found: Vec<String> = product::Entity::find()
                .select_only()
                .column(product::Column::Id)
                .filter(product::Column::TenantId.eq(principal.tenant_id.as_str()))
                .filter(product::Column::Id.is_in(chunk.iter().copied()))
                .filter(product::Column::DeleteTime.is_null())
                .into_tuple()
                .all(txn)
                .await?;
            live.extend(found);
        }
        let mut v = Violations::new();
        for (i, entry) in listed.iter().enumerate() {
            if !live.contains(&entry.product_id) {
                v.add(
                    &format!("price_list.entries[{i}].product_id"),
                    "is not a live product of the tenant",
                );
            }
        }
        v.finish()
    }
}

/// The price of `quantity` of one entry: the break with the highest quantity up to it, or
/// the base price; and that break's quantity.
pub(crate) fn unit_price(entry: &StoredEntry, quantity: Amount) -> (Amount, Option<Amount>) {
    entry
        .breaks
        .iter()
        .map(|b| (money::stored(&b.min_quantity), money::stored(&b.unit_price)))
        .filter(|(min, _)| *min <= quantity)
        .max_by_key(|(min, _)| *min)
        .map_or((money::stored(&entry.unit_price), None), |(min, price)| {
            (price, Some(min))
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::str::FromStr;

    #[test]
    fn the_highest_break_reached_applies() {
        let entry = StoredEntry {
            product_id: "p".into(),
            unit_price: "10.00".into(),
            breaks: vec![
                StoredBreak {
                    min_quantity: "10".into(),
                    unit_price: "9.50".into(),
                },
                StoredBreak {
                    min_quantity: "100".into(),
                    unit_price: "8.00".into(),
                },
            ],
        };
        let at = |q: &str| unit_price(&entry, Amount::from_str(q).unwrap());
        assert_eq!(at("1").0.to_string(), "10.00");
        assert_eq!(at("10").0.to_string(), "9.50");
        assert_eq!(at("99.9999").0.to_string(), "9.50");
        assert_eq!(at("100").1.map(|q| q.to_string()), Some("100".to_owned()));
    }
}
