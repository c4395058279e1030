//! Products: what the tenant sells, by code. Products are the tenant's (every reader of the
//! catalogue sees them all), unique by code and by external id among live products.

use crate::entity::product::{Column, Entity, Model};
use crm_platform::error::Error;
use crm_platform::field_mask::{self, Field};
use crm_platform::money::{self, Money};
use crm_platform::time::{to_timestamp, to_timestamp_opt};
use crm_platform::validate::Violations;
use crm_proto::sales::{Product, ProductStatus, SalesEvent, SalesEventType, sales_event::Subject};
use crm_records::custom_values;
use crm_records::json;
use crm_records::resource::{Action, FieldKind, IndexKey, Resource, Scope, WriteContext};

/// The product resource.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Products;

/// The fields a product update may change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ProductField {
    Code,
    DisplayName,
    Unit,
    Category,
    TaxRate,
    Cost,
    Status,
    Description,
    ExternalId,
    Tags,
    CustomFields,
}

impl Field for ProductField {
    const ALL: &'static [Self] = &[
        ProductField::Code,
        ProductField::DisplayName,
        ProductField::Unit,
        ProductField::Category,
        ProductField::TaxRate,
        ProductField::Cost,
        ProductField::Status,
        ProductField::Description,
        ProductField::ExternalId,
        ProductField::Tags,
        ProductField::CustomFields,
    ];

    fn name(self) -> &'static str {
        match self {
            ProductField::Code => "code",
            ProductField::DisplayName => "display_name",
            ProductField::Unit => "unit",
            ProductField::Category => "category",
            ProductField::TaxRate => "tax_rate",
            ProductField::Cost => "cost",
            ProductField::Status => "status",
            ProductField::Description => "description",
            ProductField::ExternalId => "external_id",
            ProductField::Tags => "tags",
            ProductField::CustomFields => "custom_fields",
        }
    }
}

const OUTPUT_ONLY: &[&str] = &["id", "etag", "create_time", "update_time", "delete_time"];

/// Most decimals of a tax rate (13.125% is 0.13125: five would be needed, none seen).
const TAX_RATE_DECIMALS: u32 = 4;

/// A code, name or id as written: trimmed, at most `max` characters, no control characters.
fn text(v: &mut Violations, field: &str, value: &str, max: usize) -> String {
    let value = value.trim();
    v.max_chars(field, value, max);
    if value.chars().any(char::is_control) {
        v.add(field, "must not contain control characters");
    }
    value.to_owned()
}

/// Checks every field in `fields` and writes the normalised values into `model`.
fn apply(model: &mut Model, input: &Product, fields: &[ProductField]) -> Result<(), Error> {
    let mut v = Violations::new();
    for field in fields {
        match field {
            ProductField::Code => {
                model.code = text(&mut v, "product.code", &input.code, 64);
                v.required("product.code", &model.code);
            }
            ProductField::DisplayName => {
                model.display_name = text(&mut v, "product.display_name", &input.display_name, 200);
                v.required("product.display_name", &model.display_name);
            }
            ProductField::Unit => model.unit = text(&mut v, "product.unit", &input.unit, 20),
            ProductField::Category => {
                model.category = text(&mut v, "product.category", &input.category, 100);
            }
            ProductField::TaxRate => model.tax_rate = tax_rate(&mut v, &input.tax_rate),
            ProductField::Cost => {
                let cost = input.cost.as_ref().filter(|c| !c.amount.trim().is_empty());
                let checked = cost.and_then(|c| Money::check(&mut v, "product.cost", c, None));
                (model.cost_currency, model.cost_amount) = match checked {
                    Some(cost) => (cost.currency.code().to_owned(), cost.amount.to_string()),
                    None => (String::new(), String::new()),
                };
            }
            // Unspecified keeps the status (a new product is active): a system that does not
            // know the field never reactivates what a person took off sale.
            ProductField::Status => match ProductStatus::try_from(input.status) {
                Ok(ProductStatus::Unspecified) => {}
                Ok(status) => model.status = status as i32,
                Err(_) => v.add("product.status", "must be ACTIVE or INACTIVE"),
            },
            ProductField::Description => {
                v.max_chars("product.description", &input.description, 10_000);
                model.description = input.description.clone();
            }
            ProductField::ExternalId => {
                model.external_id = text(&mut v, "product.external_id", &input.external_id, 100);
            }
            ProductField::Tags => {
                model.tags = json::to_json(&crm_records::labels::tags(
                    &mut v,
                    "product.tags",
                    &input.tags,
                ));
            }
            ProductField::CustomFields => {
                model.custom_fields =
                    custom_values::merge_wire(&model.custom_fields, &input.custom_fields);
            }
        }
    }
    v.finish()
}

/// A tax rate: a fraction from 0 to 1; empty is 0.
fn tax_rate(v: &mut Violations, text: &str) -> String {
    if text.trim().is_empty() {
        return "0".to_owned();
    }
    match money::decimal(v, "product.tax_rate", text, TAX_RATE_DECIMALS) {
        Some(rate) if rate.is_sign_negative() || rate > money::Amount::ONE => {
            v.add(
                "product.tax_rate",
                "must be a fraction from 0 to 1, such as 0.13",
            );
            String::new()
        }
        Some(rate) => rate.to_string(),
        None => String::new(),
    }
}

impl Products {
    /// The stored cost, when one is known.
    pub(crate) fn cost(m: &Model) -> Option<Money> {
        let currency = money::Currency::parse(&m.cost_currency)?;
        Some(Money {
            currency,
            amount: money::stored(&m.cost_amount),
        })
    }
}

impl Resource for Products {
    type Event = SalesEvent;
    type Entity = Entity;
    type Model = Model;
    type Active = crate::entity::product::ActiveModel;
    type Proto = Product;

    const KIND: &'static str = "product";
    const SCOPE: Scope = Scope::Tenant;
    const DUPLICATE_KINDS: &'static [&'static str] = &["code", "external_id"];
    const KEYS_UNIQUE: bool = true;
    const READ: &'static str = "sales.products.read";
    const WRITE: &'static str = "sales.products.write";
    const MERGE: &'static str = "sales.products.write";
    const UPSERT_FIELDS: &'static [&'static str] = &[
        "code",
        "display_name",
        "unit",
        "category",
        "tax_rate",
        "cost",
        "status",
        "description",
        "custom_fields",
    ];

    crm_records::shared_columns!(tags);

    fn filter_field(name: &str) -> Option<(Column, FieldKind)> {
        Some(match name {
            "code" => (Column::Code, FieldKind::Text),
            "display_name" => (Column::DisplayName, FieldKind::Text),
            "unit" => (Column::Unit, FieldKind::Text),
            "category" => (Column::Category, FieldKind::Text),
            "external_id" => (Column::ExternalId, FieldKind::Text),
            "status" => (
                Column::Status,
                FieldKind::Enum(|s| ProductStatus::from_str_name(s).map(|e| e as i32)),
            ),
            "tags" => (Column::Id, FieldKind::Label("tag")),
            "create_time" => (Column::CreateTime, FieldKind::Time),
            "update_time" => (Column::UpdateTime, FieldKind::Time),
            _ => return None,
        })
    }

    fn to_proto(m: &Model) -> Product {
        Product {
            id: m.id.clone(),
            etag: crm_platform::etag::format(m.version),
            code: m.code.clone(),
            display_name: m.display_name.clone(),
            unit: m.unit.clone(),
            category: m.category.clone(),
            tax_rate: m.tax_rate.clone(),
            cost: Products::cost(m).map(Money::to_wire),
            status: m.status,
            description: m.description.clone(),
            external_id: m.external_id.clone(),
            tags: json::from_json(&m.tags),
            custom_fields: custom_values::to_wire(&m.custom_fields),
            create_time: Some(to_timestamp(m.create_time)),
            update_time: Some(to_timestamp(m.update_time)),
            delete_time: to_timestamp_opt(m.delete_time),
        }
    }

    fn audit_fields(m: &Model) -> Vec<(&'static str, String)> {
        let cost = Products::cost(m)
            .map(|c| format!("{} {}", c.currency.code(), c.currency.format(c.amount)))
            .unwrap_or_default();
        vec![
            ("code", m.code.clone()),
            ("display_name", m.display_name.clone()),
            ("unit", m.unit.clone()),
            ("category", m.category.clone()),
            ("tax_rate", m.tax_rate.clone()),
            ("cost", cost),
            (
                "status",
                crm_platform::audit::enum_name::<ProductStatus>(m.status),
            ),
            ("description", m.description.clone()),
            ("external_id", m.external_id.clone()),
            ("tags", m.tags.clone()),
            ("custom_fields", m.custom_fields.clone()),
        ]
    }

    fn search_fields(m: &Model) -> Vec<crm_records::SearchField> {
        vec![
            ("code", m.code.clone()),
            ("display_name", m.display_name.clone()),
            ("category", m.category.clone()),
        ]
    }

    fn index_keys(m: &Model) -> Vec<IndexKey> {
        let mut keys = vec![IndexKey::new("code", m.code.to_lowercase())];
        if !m.external_id.is_empty() {
            keys.push(IndexKey::new("external_id", m.external_id.clone()));
        }
        keys
    }

    fn event(action: Action, proto: Product, _merged_ids: &[String]) -> SalesEvent {
        let types = [
            SalesEventType::ProductCreated,
            SalesEventType::ProductUpdated,
            SalesEventType::ProductDeleted,
            SalesEventType::ProductUndeleted,
        ];
        crate::events::of_write(action, types, Subject::Product(proto))
    }

    fn create(
        tenant_id: &str,
        owner_id: String,
        (id, now): (String, i64),
        input: Product,
        _cx: &WriteContext<'_>,
    ) -> Result<Model, Error> {
        let mut model = Model {
            id,
            tenant_id: tenant_id.to_owned(),
            owner_id,
            owner_since: now,
            code: String::new(),
            display_name: String::new(),
            unit: String::new(),
            category: String::new(),
            tax_rate: "0".to_owned(),
            cost_currency: String::new(),
            cost_amount: String::new(),
            status: ProductStatus::Active as i32,
            description: String::new(),
            external_id: String::new(),
            tags: "[]".to_owned(),
            custom_fields: "{}".to_owned(),
            version: 1,
            create_time: now,
            update_time: now,
            delete_time: None,
        };
        apply(&mut model, &input, ProductField::ALL)?;
        Ok(model)
    }

    fn update(
        current: &Model,
        input: Product,
        mask: &[String],
        _cx: &WriteContext<'_>,
    ) -> Result<Model, Error> {
        let fields = field_mask::resolve_fields(mask, OUTPUT_ONLY, |f| match f {
            ProductField::Code => !input.code.is_empty(),
            ProductField::DisplayName => !input.display_name.is_empty(),
            ProductField::Unit => !input.unit.is_empty(),
            ProductField::Category => !input.category.is_empty(),
            ProductField::TaxRate => !input.tax_rate.is_empty(),
            ProductField::Cost => input.cost.is_some(),
            ProductField::Status => input.status != 0,
            ProductField::Description => !input.description.is_empty(),
            ProductField::ExternalId => !input.external_id.is_empty(),
            ProductField::Tags => !input.tags.is_empty(),
            ProductField::CustomFields => !input.custom_fields.is_empty(),
        })?;
        let mut next = current.clone();
        apply(&mut next, &input, &fields)?;
        Ok(next)
    }

    fn keys(input: &Product) -> (&str, &str, &str) {
        (&input.id, "", &input.etag)
    }

    fn external_id_column() -> Option<Column> {
        Some(Column::ExternalId)
    }

    fn external_id(input: &Product) -> &str {
        input.external_id.trim()
    }
}
