//! Orders: made from an accepted quote (its lines, currency and customer, fixed) or directly
//! (priced like a quote). What may change follows the status: a draft anything, a confirmed
//! order its addresses, ERP number and note, a shipped one its ERP number and note. The ERP's
//! number is unique in the tenant, and a quote gives one order. Moves and the ERP's reports
//! are in `order_flow`.

use rust_decimal::Decimal;
use sea_orm::DatabaseTransaction;
use serde::{Deserialize, Serialize};

use crate::entity::order::{Column, Entity, Model};
use crate::opportunity::Opportunities;
use crate::priced_lines::{self, StoredLine, line_to_proto, sent_lines, totals};
use crate::quote::{self, Quotes};
use crm_platform::auth::Principal;
use crm_platform::clock;
use crm_platform::error::Error;
use crm_platform::field_mask::{self, Field};
use crm_platform::money::{self, Currency, Money};
use crm_platform::time::{day, to_timestamp, to_timestamp_opt};
use crm_platform::validate::Violations;
use crm_proto::common::PostalAddress;
use crm_proto::sales::{
    Invoice, Order, OrderStatus, Payment, QuoteStatus, SalesEvent, SalesEventType, Shipment,
    ShipmentLine, sales_event::Subject,
};
use crm_records::json;
use crm_records::resource::{Action, FieldKind, IndexKey, Resource, WriteContext};
use crm_records::store;

/// The order resource.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Orders;

/// The prefix of order numbers.
const NUMBER_PREFIX: &str = "SO";

/// A line of an order: the priced line and what has shipped of it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct OrderLine {
    #[serde(flatten)]
    pub(crate) line: StoredLine,
    #[serde(default)]
    pub(crate) shipped: String,
}

/// An address as stored.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct StoredAddress {
    #[serde(default)]
    region_code: String,
    #[serde(default)]
    administrative_area: String,
    #[serde(default)]
    locality: String,
    #[serde(default)]
    sublocality: String,
    #[serde(default)]
    postal_code: String,
    #[serde(default)]
    address_lines: Vec<String>,
}

impl StoredAddress {
    fn of(a: Option<&PostalAddress>) -> Self {
        let a = a.cloned().unwrap_or_default();
        Self {
            region_code: a.region_code.trim().to_uppercase(),
            administrative_area: a.administrative_area.trim().to_owned(),
            locality: a.locality.trim().to_owned(),
            sublocality: a.sublocality.trim().to_owned(),
            postal_code: a.postal_code.trim().to_owned(),
            address_lines: a
                .address_lines
                .iter()
                .map(|l| l.trim().to_owned())
                .collect(),
        }
    }

    fn to_proto(&self) -> Option<PostalAddress> {
        (*self != Self::default()).then(|| PostalAddress {
            region_code: self.region_code.clone(),
            administrative_area: self.administrative_area.clone(),
            locality: self.locality.clone(),
            sublocality: self.sublocality.clone(),
            postal_code: self.postal_code.clone(),
            address_lines: self.address_lines.clone(),
        })
    }
}

/// A shipment as stored; two reports of one shipment are the same when these are.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct StoredShipment {
    pub(crate) number: String,
    /// (1-based position, quantity).
    pub(crate) lines: Vec<(i32, String)>,
    pub(crate) ship_time: Option<i64>,
    pub(crate) carrier: String,
    pub(crate) tracking_number: String,
}

/// An invoice as stored.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct StoredInvoice {
    pub(crate) number: String,
    pub(crate) amount: String,
    pub(crate) issue_date: i32,
}

/// A payment as stored: the amount received, and how much of it was kept as credit.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct StoredPayment {
    pub(crate) number: String,
    pub(crate) amount: String,
    pub(crate) receive_date: i32,
    pub(crate) credit: bool,
    #[serde(default)]
    pub(crate) kept_as_credit: String,
}

/// The order's lines.
pub(crate) fn lines(m: &Model) -> Vec<OrderLine> {
    json::from_json(&m.lines)
}

/// The order's priced lines alone.
pub(crate) fn priced(m: &Model) -> Vec<StoredLine> {
    lines(m).into_iter().map(|l| l.line).collect()
}

/// The order's currency (checked when it was written).
pub(crate) fn currency(m: &Model) -> Result<Currency, Error> {
    Currency::parse(&m.currency_code)
        .ok_or_else(|| Error::internal(format!("order {} has no valid currency", m.id)))
}

/// The order's total.
pub(crate) fn total(m: &Model) -> Result<Money, Error> {
    Ok(Money {
        currency: currency(m)?,
        amount: totals(&priced(m))[4],
    })
}

/// The sums of the invoices, of the payments up to the total, and of the credit kept.
pub(crate) fn received(m: &Model) -> (Decimal, Decimal, Decimal) {
    let invoiced = json::from_json::<StoredInvoice>(&m.invoices)
        .iter()
        .map(|i| money::stored(&i.amount))
        .sum();
    let payments: Vec<StoredPayment> = json::from_json(&m.payments);
    let credit: Decimal = payments
        .iter()
        .map(|p| money::stored(&p.kept_as_credit))
        .sum();
    let paid: Decimal = payments.iter().map(|p| money::stored(&p.amount)).sum();
    (invoiced, paid - credit, credit)
}

/// The fields an order update may change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum OrderField {
    QuoteId,
    OpportunityId,
    AccountId,
    ContactId,
    DisplayName,
    CurrencyCode,
    PriceListId,
    Lines,
    ShippingAddress,
    BillingAddress,
    ExternalId,
    Note,
}

impl Field for OrderField {
    const ALL: &'static [Self] = &[
        OrderField::QuoteId,
        OrderField::OpportunityId,
        OrderField::AccountId,
        OrderField::ContactId,
        OrderField::DisplayName,
        OrderField::CurrencyCode,
        OrderField::PriceListId,
        OrderField::Lines,
        OrderField::ShippingAddress,
        OrderField::BillingAddress,
        OrderField::ExternalId,
        OrderField::Note,
    ];

    fn name(self) -> &'static str {
        match self {
            OrderField::QuoteId => "quote_id",
            OrderField::OpportunityId => "opportunity_id",
            OrderField::AccountId => "account_id",
            OrderField::ContactId => "contact_id",
            OrderField::DisplayName => "display_name",
            OrderField::CurrencyCode => "currency_code",
            OrderField::PriceListId => "price_list_id",
            OrderField::Lines => "lines",
            OrderField::ShippingAddress => "shipping_address",
            OrderField::BillingAddress => "billing_address",
            OrderField::ExternalId => "external_id",
            OrderField::Note => "note",
        }
    }
}

const OUTPUT_ONLY: &[&str] = &[
    "id",
    "etag",
    "number",
    "owner_id",
    "status",
    "net_total",
    "tax_total",
    "total",
    "invoiced_total",
    "paid_total",
    "credit_total",
    "shipments",
    "invoices",
    "payments",
    "cancel_reason",
    "approval_level",
    "approval_reasons",
    "approval_request_id",
    "confirm_time",
    "close_time",
    "create_time",
    "update_time",
    "delete_time",
];

/// The fields each status still lets change.
fn changeable(status: i32) -> &'static [OrderField] {
    use OrderField::*;
    match OrderStatus::try_from(status) {
        Ok(OrderStatus::Draft) => OrderField::ALL,
        Ok(OrderStatus::PendingApproval) => &[Note],
        Ok(OrderStatus::Confirmed) => &[ShippingAddress, BillingAddress, ExternalId, Note],
        _ => &[ExternalId, Note],
    }
}

/// Whether `input` sends `field` with another value than `current` holds. Lines compare by
/// what a writer sends (product, description, quantity, price set, discount), not by what
/// pricing derived from it.
fn changes(current: &Model, input: &Order, field: OrderField) -> bool {
    let differs = |sent: &str, held: &str| sent.trim() != held;
    let address_differs = |sent: Option<&PostalAddress>, held: &str| {
        StoredAddress::of(sent) != json::object_from_json::<StoredAddress>(held)
    };
    match field {
        OrderField::QuoteId => differs(&input.quote_id, &current.quote_id),
        OrderField::OpportunityId => differs(&input.opportunity_id, &current.opportunity_id),
        OrderField::AccountId => differs(&input.account_id, &current.account_id),
        OrderField::ContactId => differs(&input.contact_id, &current.contact_id),
        OrderField::DisplayName => differs(&input.display_name, &current.display_name),
        OrderField::CurrencyCode => differs(&input.currency_code, &current.currency_code),
        OrderField::PriceListId => differs(&input.price_list_id, &current.price_list_id),
        OrderField::ExternalId => differs(&input.external_id, &current.external_id),
        OrderField::Note => differs(&input.note, &current.note),
        OrderField::ShippingAddress => {
            address_differs(input.shipping_address.as_ref(), &current.shipping_address)
        }
        OrderField::BillingAddress => {
            address_differs(input.billing_address.as_ref(), &current.billing_address)
        }
        OrderField::Lines => {
            // Invalid lines differ from any stored ones; `apply` reports them.
            let mut ignored = Violations::new();
            let currency = Currency::parse(&current.currency_code);
            let sent = sent_lines(&mut ignored, "order", &input.lines, currency);
            let held = priced(current);
            let same = |s: &StoredLine, h: &StoredLine| {
                // Pricing names a line without a description after its product.
                let description = if s.description.is_empty() {
                    &h.product_name
                } else {
                    &s.description
                };
                (&s.product_id, description, &s.quantity, &s.entered_price)
                    == (&h.product_id, &h.description, &h.quantity, &h.entered_price)
                    && s.discount_percent == h.discount_percent
            };
            sent.len() != held.len() || sent.iter().zip(&held).any(|(s, h)| !same(s, h))
        }
    }
}

fn apply(model: &mut Model, input: &Order, fields: &[OrderField]) -> Result<(), Error> {
    let mut v = Violations::new();
    if fields.contains(&OrderField::CurrencyCode) {
        model.currency_code = input.currency_code.trim().to_owned();
    }
    for field in fields {
        match field {
            OrderField::QuoteId => model.quote_id = input.quote_id.trim().to_owned(),
            OrderField::OpportunityId => {
                model.opportunity_id = input.opportunity_id.trim().to_owned()
            }
            OrderField::AccountId => model.account_id = input.account_id.trim().to_owned(),
            OrderField::ContactId => model.contact_id = input.contact_id.trim().to_owned(),
            OrderField::DisplayName => {
                model.display_name = input.display_name.trim().to_owned();
                v.max_chars("order.display_name", &model.display_name, 200);
            }
            OrderField::CurrencyCode => {}
            OrderField::PriceListId => model.price_list_id = input.price_list_id.trim().to_owned(),
            OrderField::Lines => {
                let currency = Currency::parse(&model.currency_code);
                let sent = sent_lines(&mut v, "order", &input.lines, currency);
                let lines: Vec<OrderLine> = sent
                    .into_iter()
                    .map(|line| OrderLine {
                        line,
                        shipped: "0".to_owned(),
                    })
                    .collect();
                model.lines = json::to_json(&lines);
            }
            OrderField::ShippingAddress => {
                model.shipping_address =
                    json::object_to_json(&StoredAddress::of(input.shipping_address.as_ref()))
            }
            OrderField::BillingAddress => {
                model.billing_address =
                    json::object_to_json(&StoredAddress::of(input.billing_address.as_ref()))
            }
            OrderField::ExternalId => {
                model.external_id = input.external_id.trim().to_owned();
                v.max_chars("order.external_id", &model.external_id, 100);
            }
            OrderField::Note => {
                model.note = input.note.trim().to_owned();
                v.max_chars("order.note", &model.note, 2000);
            }
        }
    }
    v.finish()
}

/// A stored line on the wire, with what has shipped.
fn order_line_to_proto(currency: Option<Currency>, l: &OrderLine) -> crm_proto::sales::LineItem {
    crm_proto::sales::LineItem {
        shipped_quantity: l.shipped.clone(),
        ..line_to_proto(currency, &l.line)
    }
}

impl Resource for Orders {
    type Event = SalesEvent;
    type Entity = Entity;
    type Model = Model;
    type Active = crate::entity::order::ActiveModel;
    type Proto = Order;

    const KIND: &'static str = "order";
    const DUPLICATE_KINDS: &'static [&'static str] = &["external_id", "quote"];
    const KEYS_UNIQUE: bool = true;
    const SORTABLE: &'static [&'static str] = &["total"];
    const READ: &'static str = "sales.orders.read";
    const WRITE: &'static str = "sales.orders.write";
    const MERGE: &'static str = "sales.orders.write";

    crm_records::shared_columns!(tags);

    fn filter_field(name: &str) -> Option<(Column, FieldKind)> {
        Some(match name {
            "number" => (Column::Number, FieldKind::Text),
            "quote_id" => (Column::QuoteId, FieldKind::Id),
            "opportunity_id" => (Column::OpportunityId, FieldKind::Id),
            "account_id" => (Column::AccountId, FieldKind::Id),
            "owner_id" => (Column::OwnerId, FieldKind::Id),
            "external_id" => (Column::ExternalId, FieldKind::Id),
            "display_name" => (Column::DisplayName, FieldKind::Text),
            "currency_code" => (Column::CurrencyCode, FieldKind::Id),
            "status" => (
                Column::Status,
                FieldKind::Enum(|s| OrderStatus::from_str_name(s).map(|e| e as i32)),
            ),
            "total" => (Column::Total, FieldKind::Amount),
            "create_time" => (Column::CreateTime, FieldKind::Time),
            "update_time" => (Column::UpdateTime, FieldKind::Time),
            _ => return None,
        })
    }

    fn sort_value(m: &Model, _field: &str) -> i64 {
        m.total
    }

    fn index_keys(m: &Model) -> Vec<IndexKey> {
        let mut keys = Vec::new();
        if !m.external_id.is_empty() {
            keys.push(IndexKey::new("external_id", m.external_id.clone()));
        }
        if !m.quote_id.is_empty() {
            keys.push(IndexKey::new("quote", m.quote_id.clone()));
        }
        keys
    }

    fn to_proto(m: &Model) -> Order {
        let currency = Currency::parse(&m.currency_code);
        let stored = lines(m);
        let priced: Vec<StoredLine> = stored.iter().map(|l| l.line.clone()).collect();
        let [_, _, net, tax, total] = totals(&priced);
        let (invoiced, paid, credit) = received(m);
        let money = |amount: Decimal| currency.map(|currency| Money { currency, amount }.to_wire());
        let address = |text: &str| json::object_from_json::<StoredAddress>(text).to_proto();
        Order {
            id: m.id.clone(),
            etag: crm_platform::etag::format(m.version),
            number: m.number.clone(),
            quote_id: m.quote_id.clone(),
            opportunity_id: m.opportunity_id.clone(),
            account_id: m.account_id.clone(),
            contact_id: m.contact_id.clone(),
            owner_id: m.owner_id.clone(),
            display_name: m.display_name.clone(),
            currency_code: m.currency_code.clone(),
            price_list_id: m.price_list_id.clone(),
            lines: stored
                .iter()
                .map(|l| order_line_to_proto(currency, l))
                .collect(),
            shipping_address: address(&m.shipping_address),
            billing_address: address(&m.billing_address),
            external_id: m.external_id.clone(),
            status: m.status,
            net_total: money(net),
            tax_total: money(tax),
            total: money(total),
            invoiced_total: money(invoiced),
            paid_total: money(paid),
            credit_total: money(credit),
            shipments: json::from_json::<StoredShipment>(&m.shipments)
                .iter()
                .map(|s| Shipment {
                    number: s.number.clone(),
                    lines: s
                        .lines
                        .iter()
                        .map(|(position, quantity)| ShipmentLine {
                            position: *position,
                            quantity: quantity.clone(),
                        })
                        .collect(),
                    ship_time: to_timestamp_opt(s.ship_time),
                    carrier: s.carrier.clone(),
                    tracking_number: s.tracking_number.clone(),
                })
                .collect(),
            invoices: json::from_json::<StoredInvoice>(&m.invoices)
                .iter()
                .map(|i| Invoice {
                    number: i.number.clone(),
                    amount: money(money::stored(&i.amount)),
                    issue_date: day::to_wire(i.issue_date),
                })
                .collect(),
            payments: json::from_json::<StoredPayment>(&m.payments)
                .iter()
                .map(|p| Payment {
                    number: p.number.clone(),
                    amount: money(money::stored(&p.amount)),
                    receive_date: day::to_wire(p.receive_date),
                    credit: p.credit,
                })
                .collect(),
            note: m.note.clone(),
            cancel_reason: m.cancel_reason.clone(),
            approval_level: m.approval_level,
            approval_reasons: json::from_json(&m.approval_reasons),
            approval_request_id: m.approval_request_id.clone(),
            confirm_time: to_timestamp_opt(m.confirm_time),
            close_time: to_timestamp_opt(m.close_time),
            create_time: Some(to_timestamp(m.create_time)),
            update_time: Some(to_timestamp(m.update_time)),
            delete_time: to_timestamp_opt(m.delete_time),
        }
    }

    fn audit_fields(m: &Model) -> Vec<(&'static str, String)> {
        vec![
            ("number", m.number.clone()),
            ("quote_id", m.quote_id.clone()),
            ("opportunity_id", m.opportunity_id.clone()),
            ("account_id", m.account_id.clone()),
            ("contact_id", m.contact_id.clone()),
            ("owner_id", m.owner_id.clone()),
            ("display_name", m.display_name.clone()),
            ("lines", m.lines.clone()),
            ("shipping_address", m.shipping_address.clone()),
            ("billing_address", m.billing_address.clone()),
            ("external_id", m.external_id.clone()),
            (
                "status",
                crm_platform::audit::enum_name::<OrderStatus>(m.status),
            ),
            ("shipments", m.shipments.clone()),
            ("invoices", m.invoices.clone()),
            ("payments", m.payments.clone()),
            ("note", m.note.clone()),
            ("cancel_reason", m.cancel_reason.clone()),
        ]
    }

    fn event(action: Action, proto: Order, _merged_ids: &[String]) -> SalesEvent {
        let types = [
            SalesEventType::OrderCreated,
            SalesEventType::OrderUpdated,
            SalesEventType::OrderDeleted,
            SalesEventType::OrderUndeleted,
        ];
        crate::events::of_write(action, types, Subject::Order(proto))
    }

    fn create(
        tenant_id: &str,
        owner_id: String,
        (id, now): (String, i64),
        input: Order,
        _cx: &WriteContext<'_>,
    ) -> Result<Model, Error> {
        let mut model = Model {
            id,
            tenant_id: tenant_id.to_owned(),
            owner_id,
            owner_since: now,
            display_name: String::new(),
            number: String::new(),
            quote_id: String::new(),
            opportunity_id: String::new(),
            account_id: String::new(),
            contact_id: String::new(),
            currency_code: String::new(),
            price_list_id: String::new(),
            lines: "[]".to_owned(),
            shipping_address: "{}".to_owned(),
            billing_address: "{}".to_owned(),
            external_id: String::new(),
            status: OrderStatus::Draft as i32,
            total: 0,
            approval_level: 0,
            approval_reasons: "[]".to_owned(),
            approval_request_id: String::new(),
            shipments: "[]".to_owned(),
            invoices: "[]".to_owned(),
            payments: "[]".to_owned(),
            note: String::new(),
            cancel_reason: String::new(),
            confirm_time: None,
            close_time: None,
            tags: "[]".to_owned(),
            custom_fields: "{}".to_owned(),
            version: 1,
            create_time: now,
            update_time: now,
            delete_time: None,
        };
        // An order from a quote takes its lines, currency and customer from the quote.
        let fields: &[OrderField] = if input.quote_id.trim().is_empty() {
            OrderField::ALL
        } else {
            &[
                OrderField::QuoteId,
                OrderField::DisplayName,
                OrderField::ShippingAddress,
                OrderField::BillingAddress,
                OrderField::Note,
            ]
        };
        apply(&mut model, &input, fields)?;
        let mut v = Violations::new();
        if model.quote_id.is_empty() {
            v.required("order.display_name", &model.display_name);
            Currency::check(&mut v, "order.currency_code", &model.currency_code);
            if model.opportunity_id.is_empty() && model.account_id.is_empty() {
                v.add(
                    "order.account_id",
                    "is required when no quote or opportunity is named",
                );
            }
            if lines(&model).is_empty() {
                v.add("order.lines", "needs at least one line");
            }
        }
        v.finish()?;
        Ok(model)
    }

    fn update(
        current: &Model,
        input: Order,
        mask: &[String],
        _cx: &WriteContext<'_>,
    ) -> Result<Model, Error> {
        let fields = field_mask::resolve_fields(mask, OUTPUT_ONLY, |f| match f {
            OrderField::QuoteId => !input.quote_id.is_empty(),
            OrderField::OpportunityId => !input.opportunity_id.is_empty(),
            OrderField::AccountId => !input.account_id.is_empty(),
            OrderField::ContactId => !input.contact_id.is_empty(),
            OrderField::DisplayName => !input.display_name.is_empty(),
            OrderField::CurrencyCode => !input.currency_code.is_empty(),
            OrderField::PriceListId => !input.price_list_id.is_empty(),
            OrderField::Lines => !input.lines.is_empty(),
            OrderField::ShippingAddress => input.shipping_address.is_some(),
            OrderField::BillingAddress => input.billing_address.is_some(),
            OrderField::ExternalId => !input.external_id.is_empty(),
            OrderField::Note => !input.note.is_empty(),
        })?;
        // A field sent with the value it holds changes nothing, so neither the order's life
        // nor its status refuses it: an ERP re-sends its whole order, a client echoes the
        // fixed fields back.
        let fields: Vec<OrderField> = fields
            .into_iter()
            .filter(|f| changes(current, &input, *f))
            .collect();
        let fixed = if current.quote_id.is_empty() {
            &[OrderField::QuoteId, OrderField::CurrencyCode][..]
        } else {
            &[
                OrderField::QuoteId,
                OrderField::OpportunityId,
                OrderField::AccountId,
                OrderField::ContactId,
                OrderField::CurrencyCode,
                OrderField::PriceListId,
                OrderField::Lines,
            ][..]
        };
        if let Some(field) = fields.iter().find(|f| fixed.contains(f)) {
            return Err(Error::invalid(
                format!("order.{}", field.name()),
                "is fixed for the order's life (an order from a quote keeps the quote's)",
            ));
        }
        let allowed = changeable(current.status);
        if let Some(field) = fields.iter().find(|f| !allowed.contains(f)) {
            return Err(Error::wrong_state(
                "ORDER_FIELD_FIXED",
                "order.status",
                format!(
                    "order {} is {}; its {} no longer changes",
                    current.number,
                    crm_platform::audit::enum_name::<OrderStatus>(current.status),
                    field.name()
                ),
            ));
        }
        let mut next = current.clone();
        apply(&mut next, &input, &fields)?;
        Ok(next)
    }

    /// The owner: the quote's or deal's when one is named, else the one sent (within the
    /// writer's scope) or the writer.
    fn keys(input: &Order) -> (&str, &str, &str) {
        (&input.id, &input.owner_id, &input.etag)
    }

    /// Only a draft or a cancelled order is deleted: a confirmed one is the ERP's to fulfil.
    fn check_delete(m: &Model, deleted: bool) -> Result<(), Error> {
        let removable = [OrderStatus::Draft as i32, OrderStatus::Cancelled as i32];
        if deleted && !removable.contains(&m.status) {
            return Err(Error::wrong_state(
                "ORDER_STATUS",
                "order.status",
                format!(
                    "order {} is {}; cancel it before deleting it",
                    m.number,
                    crm_platform::audit::enum_name::<OrderStatus>(m.status)
                ),
            ));
        }
        Ok(())
    }

    fn external_id_column() -> Option<Column> {
        Some(Column::ExternalId)
    }

    fn external_id(input: &Order) -> &str {
        input.external_id.trim()
    }

    /// What an ERP holds of an order it keeps under its own number: the customer, the lines and
    /// the addresses. The deal, the quote and the owner are the CRM's.
    const UPSERT_FIELDS: &'static [&'static str] = &[
        "account_id",
        "contact_id",
        "display_name",
        "currency_code",
        "price_list_id",
        "lines",
        "shipping_address",
        "billing_address",
        "note",
    ];

    /// A new order from a quote takes it (accepted, one the writer sees); a direct one checks
    /// its deal and prices its lines, again on every change while a draft. A new order takes
    /// the tenant's next number.
    async fn before_write(
        txn: &DatabaseTransaction,
        principal: &Principal,
        current: Option<&Model>,
        next: &mut Model,
    ) -> Result<(), Error> {
        if current.is_none() && !next.quote_id.is_empty() {
            take_quote(txn, principal, next).await?;
        } else if current.is_none_or(|c| c.status == OrderStatus::Draft as i32)
            && next.quote_id.is_empty()
        {
            if !next.opportunity_id.is_empty()
                && current.is_none_or(|c| c.opportunity_id != next.opportunity_id)
            {
                let field = "order.opportunity_id";
                let deal = Opportunities::live(txn, principal, &next.opportunity_id, field).await?;
                if !next.account_id.is_empty() && next.account_id != deal.account_id {
                    return Err(Error::invalid(
                        "order.account_id",
                        "must be the opportunity's account",
                    ));
                }
                next.account_id = deal.account_id;
                if current.is_none() {
                    next.owner_id = deal.owner_id;
                }
            }
            let document = priced_lines::Document {
                prefix: "order",
                currency: currency(next)?,
                price_list_id: &next.price_list_id,
                today: day::of_micros(clock::now_micros()),
            };
            let priced = priced_lines::price(txn, principal, document, priced(next)).await?;
            let lines: Vec<OrderLine> = priced
                .into_iter()
                .map(|line| OrderLine {
                    line,
                    shipped: "0".to_owned(),
                })
                .collect();
            next.lines = json::to_json(&lines);
        }
        next.total = store::scaled(totals(&priced(next))[4])
            .ok_or_else(|| Error::invalid("order.lines", "the total is too large"))?;
        if next.number.is_empty() {
            let number = crm_records::numbers::next(txn, &principal.tenant_id, Self::KIND).await?;
            next.number = crm_records::numbers::format(NUMBER_PREFIX, number);
        }
        Ok(())
    }
}

/// Fills a new order from its accepted quote.
async fn take_quote(
    txn: &DatabaseTransaction,
    principal: &Principal,
    next: &mut Model,
) -> Result<(), Error> {
    let hidden = || Error::invalid("order.quote_id", "is not an accepted quote you can see");
    let found = store::find::<Quotes, _>(txn, principal, &next.quote_id)
        .await
        .map_err(|e| match e {
            Error::NotFound { .. } => hidden(),
            other => other,
        })?;
    if found.delete_time.is_some() || found.status != QuoteStatus::Accepted as i32 {
        return Err(hidden());
    }
    next.opportunity_id = found.opportunity_id.clone();
    next.account_id = found.account_id.clone();
    next.contact_id = found.contact_id.clone();
    next.currency_code = found.currency_code.clone();
    next.price_list_id = found.price_list_id.clone();
    next.owner_id = found.owner_id.clone();
    if next.display_name.is_empty() {
        next.display_name = found.display_name.clone();
    }
    let lines: Vec<OrderLine> = quote::lines(&found)
        .into_iter()
        .map(|line| OrderLine {
            line,
            shipped: "0".to_owned(),
        })
        .collect();
    next.lines = json::to_json(&lines);
    Ok(())
}
