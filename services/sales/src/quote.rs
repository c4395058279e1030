//! Quotes: a priced offer, one row per revision. Lines are priced in the write's transaction
//! (the product's code, unit and tax rate; the price list's price for the quantity unless the
//! writer sets one), their amounts computed exactly with one rounding rule, and the approval
//! the quote needs assessed against the tenant's policy. Only a draft changes; its status
//! moves through `quote_flow`.

use rust_decimal::Decimal;
use sea_orm::DatabaseTransaction;
use serde::{Deserialize, Serialize};

use crate::approval_policy::{self, Figures};
use crate::entity::quote::{Column, Entity, Model};
use crate::exchange::RateBook;
use crate::opportunity::Opportunities;
use crate::price_list::{self, PriceLists, QUANTITY_DECIMALS};
use crate::pricing;
use crate::product::Products;
use crm_platform::auth::Principal;
use crm_platform::clock;
use crm_platform::error::Error;
use crm_platform::field_mask::{self, Field};
use crm_platform::money::{self, Currency, Money};
use crm_platform::time::{day, to_timestamp, to_timestamp_opt};
use crm_platform::validate::Violations;
use crm_proto::sales::{
    ApprovalSubjectKind, OpportunityStatus, ProductStatus, Quote, QuoteLine, QuoteStatus,
    SalesEvent, SalesEventType, sales_event::Subject,
};
use crm_records::json;
use crm_records::resource::{AMOUNT_SCALE, Action, FieldKind, Resource, WriteContext};
use crm_records::store;

/// The quote resource.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Quotes;

/// Most lines on a quote.
const MAX_LINES: usize = 200;
/// Decimals of a discount percent.
const DISCOUNT_DECIMALS: u32 = 2;
/// The prefix of quote numbers.
const NUMBER_PREFIX: &str = "Q";

/// One line as stored: what the writer sent, then what pricing found and computed (amounts
/// as decimal text in the quote's currency).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct StoredLine {
    pub(crate) product_id: String,
    pub(crate) description: String,
    pub(crate) quantity: String,
    /// The price the writer set; empty for the price list's.
    pub(crate) entered_price: String,
    pub(crate) discount_percent: String,
    #[serde(default)]
    pub(crate) product_code: String,
    #[serde(default)]
    pub(crate) product_name: String,
    #[serde(default)]
    pub(crate) unit: String,
    #[serde(default)]
    pub(crate) tax_rate: String,
    /// The unit price used.
    #[serde(default)]
    pub(crate) unit_price: String,
    #[serde(default)]
    pub(crate) list_price: String,
    #[serde(default)]
    pub(crate) gross: String,
    #[serde(default)]
    pub(crate) discount: String,
    #[serde(default)]
    pub(crate) net: String,
    #[serde(default)]
    pub(crate) tax: String,
    #[serde(default)]
    pub(crate) below_cost: bool,
}

/// A line's amounts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct LineAmounts {
    pub(crate) gross: Decimal,
    pub(crate) discount: Decimal,
    pub(crate) net: Decimal,
    pub(crate) tax: Decimal,
}

/// The one rounding rule: gross = quantity × unit price and net = gross × (1 − discount) are
/// each rounded to the currency's minor units half away from zero; the discount is their
/// difference; tax = net × rate, rounded the same way. A quote's totals are sums of these.
pub(crate) fn line_amounts(
    currency: Currency,
    quantity: Decimal,
    unit_price: Decimal,
    discount_percent: Decimal,
    tax_rate: Decimal,
) -> LineAmounts {
    let exact = quantity * unit_price;
    let gross = currency.round(exact);
    let net =
        currency.round(exact * (Decimal::ONE_HUNDRED - discount_percent) / Decimal::ONE_HUNDRED);
    LineAmounts {
        gross,
        discount: gross - net,
        net,
        tax: currency.round(net * tax_rate),
    }
}

/// A quote's totals: gross, discount, net, tax, total.
pub(crate) fn totals(lines: &[StoredLine]) -> [Decimal; 5] {
    let sum =
        |f: fn(&StoredLine) -> &str| lines.iter().map(|l| money::stored(f(l))).sum::<Decimal>();
    let gross = sum(|l| &l.gross);
    let discount = sum(|l| &l.discount);
    let net = sum(|l| &l.net);
    let tax = sum(|l| &l.tax);
    [gross, discount, net, tax, net + tax]
}

/// The stored lines of a quote.
pub(crate) fn lines(m: &Model) -> Vec<StoredLine> {
    json::from_json(&m.lines)
}

/// The quote's currency (checked when it was written).
pub(crate) fn currency(m: &Model) -> Result<Currency, Error> {
    Currency::parse(&m.currency_code)
        .ok_or_else(|| Error::internal(format!("quote {} has no valid currency", m.id)))
}

/// The quote's total.
pub(crate) fn total(m: &Model) -> Result<Money, Error> {
    Ok(Money {
        currency: currency(m)?,
        amount: totals(&lines(m))[4],
    })
}

/// The largest line discount in percent.
fn max_discount(lines: &[StoredLine]) -> Decimal {
    lines
        .iter()
        .map(|l| money::stored(&l.discount_percent))
        .max()
        .unwrap_or_default()
}

/// The fields a quote update may change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum QuoteField {
    OpportunityId,
    AccountId,
    ContactId,
    DisplayName,
    CurrencyCode,
    PriceListId,
    ValidUntil,
    Lines,
    Terms,
    Note,
}

impl Field for QuoteField {
    const ALL: &'static [Self] = &[
        QuoteField::OpportunityId,
        QuoteField::AccountId,
        QuoteField::ContactId,
        QuoteField::DisplayName,
        QuoteField::CurrencyCode,
        QuoteField::PriceListId,
        QuoteField::ValidUntil,
        QuoteField::Lines,
        QuoteField::Terms,
        QuoteField::Note,
    ];

    fn name(self) -> &'static str {
        match self {
            QuoteField::OpportunityId => "opportunity_id",
            QuoteField::AccountId => "account_id",
            QuoteField::ContactId => "contact_id",
            QuoteField::DisplayName => "display_name",
            QuoteField::CurrencyCode => "currency_code",
            QuoteField::PriceListId => "price_list_id",
            QuoteField::ValidUntil => "valid_until",
            QuoteField::Lines => "lines",
            QuoteField::Terms => "terms",
            QuoteField::Note => "note",
        }
    }
}

const OUTPUT_ONLY: &[&str] = &[
    "id",
    "etag",
    "number",
    "revision",
    "previous_revision_id",
    "superseded_by_id",
    "owner_id",
    "status",
    "gross_total",
    "discount_total",
    "net_total",
    "tax_total",
    "total",
    "max_discount_percent",
    "approval_level",
    "approval_reasons",
    "approval_request_id",
    "rejection_reason",
    "send_time",
    "close_time",
    "create_time",
    "update_time",
    "delete_time",
];

/// Checks the sent lines' shape (pricing, which reads the catalogue, comes in the write).
fn sent_lines(
    v: &mut Violations,
    input: &[QuoteLine],
    currency: Option<Currency>,
) -> Vec<StoredLine> {
    if input.len() > MAX_LINES {
        v.add("quote.lines", "must have at most 200 lines");
    }
    let mut stored = Vec::with_capacity(input.len());
    for (i, line) in input.iter().enumerate() {
        let field = |name: &str| format!("quote.lines[{i}].{name}");
        let product_id = line.product_id.trim().to_owned();
        v.required(&field("product_id"), &product_id);
        let description = line.description.trim().to_owned();
        v.max_chars(&field("description"), &description, 500);
        let quantity = money::decimal(v, &field("quantity"), &line.quantity, QUANTITY_DECIMALS);
        if quantity.is_some_and(|q| q <= Decimal::ZERO) {
            v.add(&field("quantity"), "must be positive");
        }
        let mut entered_price = String::new();
        if let (Some(sent), Some(currency)) = (line.unit_price.as_ref(), currency) {
            let name = field("unit_price");
            if !sent.currency_code.is_empty() && sent.currency_code != currency.code() {
                v.add(
                    &format!("{name}.currency_code"),
                    format!("must be {}, the quote's currency", currency.code()),
                );
            } else if let Some(price) = Money::check(v, &name, sent, Some(currency)) {
                entered_price = price.amount.to_string();
            }
        }
        let mut discount_percent = "0".to_owned();
        if !line.discount_percent.trim().is_empty() {
            let name = field("discount_percent");
            if let Some(d) = money::decimal(v, &name, &line.discount_percent, DISCOUNT_DECIMALS) {
                if d < Decimal::ZERO || d > Decimal::ONE_HUNDRED {
                    v.add(&name, "must be from 0 to 100");
                }
                discount_percent = d.normalize().to_string();
            }
        }
        stored.push(StoredLine {
            product_id,
            description,
            quantity: quantity
                .map(|q| q.normalize().to_string())
                .unwrap_or_default(),
            entered_price,
            discount_percent,
            ..Default::default()
        });
    }
    stored
}

fn apply(model: &mut Model, input: &Quote, fields: &[QuoteField]) -> Result<(), Error> {
    let mut v = Violations::new();
    // The currency first: the lines' prices are checked in it.
    if fields.contains(&QuoteField::CurrencyCode) {
        model.currency_code = input.currency_code.trim().to_owned();
        Currency::check(&mut v, "quote.currency_code", &model.currency_code);
    }
    for field in fields {
        match field {
            QuoteField::OpportunityId => {
                model.opportunity_id = input.opportunity_id.trim().to_owned()
            }
            QuoteField::AccountId => model.account_id = input.account_id.trim().to_owned(),
            QuoteField::ContactId => model.contact_id = input.contact_id.trim().to_owned(),
            QuoteField::DisplayName => {
                model.display_name = input.display_name.trim().to_owned();
                v.required("quote.display_name", &model.display_name);
                v.max_chars("quote.display_name", &model.display_name, 200);
            }
            QuoteField::CurrencyCode => {}
            QuoteField::PriceListId => model.price_list_id = input.price_list_id.trim().to_owned(),
            QuoteField::ValidUntil => {
                model.valid_until =
                    day::check(&mut v, "quote.valid_until", input.valid_until.as_ref());
                if model.valid_until == 0 {
                    v.add("quote.valid_until", "is required");
                }
            }
            QuoteField::Lines => {
                let currency = Currency::parse(&model.currency_code);
                model.lines = json::to_json(&sent_lines(&mut v, &input.lines, currency));
            }
            QuoteField::Terms => {
                model.terms = input.terms.trim().to_owned();
                v.max_chars("quote.terms", &model.terms, 4000);
            }
            QuoteField::Note => {
                model.note = input.note.trim().to_owned();
                v.max_chars("quote.note", &model.note, 2000);
            }
        }
    }
    if model.opportunity_id.is_empty() && model.account_id.is_empty() {
        v.add(
            "quote.account_id",
            "is required when no opportunity is named",
        );
    }
    v.finish()
}

/// A line's amount as wire money.
fn wire(currency: Option<Currency>, text: &str) -> Option<crm_proto::common::Money> {
    let currency = currency?;
    (!text.is_empty()).then(|| {
        Money {
            currency,
            amount: money::stored(text),
        }
        .to_wire()
    })
}

/// A stored line on the wire.
pub(crate) fn line_to_proto(currency: Option<Currency>, l: &StoredLine) -> QuoteLine {
    let total = money::stored(&l.net) + money::stored(&l.tax);
    QuoteLine {
        product_id: l.product_id.clone(),
        description: l.description.clone(),
        quantity: l.quantity.clone(),
        unit_price: wire(currency, &l.unit_price),
        discount_percent: l.discount_percent.clone(),
        product_code: l.product_code.clone(),
        unit: l.unit.clone(),
        tax_rate: l.tax_rate.clone(),
        list_price: wire(currency, &l.list_price),
        gross_amount: wire(currency, &l.gross),
        discount_amount: wire(currency, &l.discount),
        net_amount: wire(currency, &l.net),
        tax_amount: wire(currency, &l.tax),
        total_amount: wire(currency, &total.to_string()),
        below_cost: l.below_cost,
    }
}

impl Resource for Quotes {
    type Event = SalesEvent;
    type Entity = Entity;
    type Model = Model;
    type Active = crate::entity::quote::ActiveModel;
    type Proto = Quote;

    const KIND: &'static str = "quote";
    const DUPLICATE_KINDS: &'static [&'static str] = &[];
    const SORTABLE: &'static [&'static str] = &["total"];
    const READ: &'static str = "sales.quotes.read";
    const WRITE: &'static str = "sales.quotes.write";
    const MERGE: &'static str = "sales.quotes.write";

    crm_records::shared_columns!(tags);

    fn filter_field(name: &str) -> Option<(Column, FieldKind)> {
        Some(match name {
            "number" => (Column::Number, FieldKind::Text),
            "opportunity_id" => (Column::OpportunityId, FieldKind::Id),
            "account_id" => (Column::AccountId, FieldKind::Id),
            "owner_id" => (Column::OwnerId, FieldKind::Id),
            "display_name" => (Column::DisplayName, FieldKind::Text),
            "currency_code" => (Column::CurrencyCode, FieldKind::Id),
            "status" => (
                Column::Status,
                FieldKind::Enum(|s| QuoteStatus::from_str_name(s).map(|e| e as i32)),
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

    fn to_proto(m: &Model) -> Quote {
        let currency = Currency::parse(&m.currency_code);
        let stored = lines(m);
        let [gross, discount, net, tax, total] = totals(&stored);
        let money = |amount: Decimal| currency.map(|currency| Money { currency, amount }.to_wire());
        Quote {
            id: m.id.clone(),
            etag: crm_platform::etag::format(m.version),
            number: m.number.clone(),
            revision: m.revision,
            previous_revision_id: m.previous_revision_id.clone(),
            superseded_by_id: m.superseded_by_id.clone(),
            opportunity_id: m.opportunity_id.clone(),
            account_id: m.account_id.clone(),
            contact_id: m.contact_id.clone(),
            owner_id: m.owner_id.clone(),
            display_name: m.display_name.clone(),
            currency_code: m.currency_code.clone(),
            price_list_id: m.price_list_id.clone(),
            valid_until: day::to_wire(m.valid_until),
            lines: stored.iter().map(|l| line_to_proto(currency, l)).collect(),
            terms: m.terms.clone(),
            note: m.note.clone(),
            status: m.status,
            gross_total: money(gross),
            discount_total: money(discount),
            net_total: money(net),
            tax_total: money(tax),
            total: money(total),
            max_discount_percent: max_discount(&stored).normalize().to_string(),
            approval_level: m.approval_level,
            approval_reasons: json::from_json(&m.approval_reasons),
            approval_request_id: m.approval_request_id.clone(),
            rejection_reason: m.rejection_reason.clone(),
            send_time: to_timestamp_opt(m.send_time),
            close_time: to_timestamp_opt(m.close_time),
            create_time: Some(to_timestamp(m.create_time)),
            update_time: Some(to_timestamp(m.update_time)),
            delete_time: to_timestamp_opt(m.delete_time),
        }
    }

    fn audit_fields(m: &Model) -> Vec<(&'static str, String)> {
        let total = total(m)
            .map(|t| format!("{} {}", t.currency.code(), t.currency.format(t.amount)))
            .unwrap_or_default();
        vec![
            ("number", format!("{} rev {}", m.number, m.revision)),
            ("opportunity_id", m.opportunity_id.clone()),
            ("account_id", m.account_id.clone()),
            ("contact_id", m.contact_id.clone()),
            ("owner_id", m.owner_id.clone()),
            ("display_name", m.display_name.clone()),
            ("price_list_id", m.price_list_id.clone()),
            ("valid_until", day::format(m.valid_until)),
            ("lines", m.lines.clone()),
            ("total", total),
            ("terms", m.terms.clone()),
            ("note", m.note.clone()),
            (
                "status",
                crm_platform::audit::enum_name::<QuoteStatus>(m.status),
            ),
            ("approval_level", m.approval_level.to_string()),
            ("superseded_by_id", m.superseded_by_id.clone()),
            ("rejection_reason", m.rejection_reason.clone()),
        ]
    }

    fn event(action: Action, proto: Quote, _merged_ids: &[String]) -> SalesEvent {
        let types = [
            SalesEventType::QuoteCreated,
            SalesEventType::QuoteUpdated,
            SalesEventType::QuoteDeleted,
            SalesEventType::QuoteUndeleted,
        ];
        crate::events::of_write(action, types, Subject::Quote(proto))
    }

    fn create(
        tenant_id: &str,
        owner_id: String,
        (id, now): (String, i64),
        input: Quote,
        _cx: &WriteContext<'_>,
    ) -> Result<Model, Error> {
        let mut model = Model {
            id,
            tenant_id: tenant_id.to_owned(),
            owner_id,
            owner_since: now,
            display_name: String::new(),
            number: String::new(),
            revision: 1,
            previous_revision_id: String::new(),
            superseded_by_id: String::new(),
            opportunity_id: String::new(),
            account_id: String::new(),
            contact_id: String::new(),
            currency_code: String::new(),
            price_list_id: String::new(),
            valid_until: 0,
            lines: "[]".to_owned(),
            terms: String::new(),
            note: String::new(),
            status: QuoteStatus::Draft as i32,
            total: 0,
            approval_level: 0,
            approval_reasons: "[]".to_owned(),
            approval_request_id: String::new(),
            rejection_reason: String::new(),
            send_time: None,
            close_time: None,
            tags: "[]".to_owned(),
            custom_fields: "{}".to_owned(),
            version: 1,
            create_time: now,
            update_time: now,
            delete_time: None,
        };
        apply(&mut model, &input, QuoteField::ALL)?;
        Ok(model)
    }

    fn update(
        current: &Model,
        input: Quote,
        mask: &[String],
        _cx: &WriteContext<'_>,
    ) -> Result<Model, Error> {
        let fields = field_mask::resolve_fields(mask, OUTPUT_ONLY, |f| match f {
            QuoteField::OpportunityId => !input.opportunity_id.is_empty(),
            QuoteField::AccountId => !input.account_id.is_empty(),
            QuoteField::ContactId => !input.contact_id.is_empty(),
            QuoteField::DisplayName => !input.display_name.is_empty(),
            QuoteField::CurrencyCode => !input.currency_code.is_empty(),
            QuoteField::PriceListId => !input.price_list_id.is_empty(),
            QuoteField::ValidUntil => input.valid_until.is_some(),
            QuoteField::Lines => !input.lines.is_empty(),
            QuoteField::Terms => !input.terms.is_empty(),
            QuoteField::Note => !input.note.is_empty(),
        })?;
        if fields.contains(&QuoteField::CurrencyCode)
            && input.currency_code.trim() != current.currency_code
        {
            return Err(Error::invalid(
                "quote.currency_code",
                "is fixed for the quote's life; start a new quote for another currency",
            ));
        }
        let mut next = current.clone();
        apply(&mut next, &input, &fields)?;
        Ok(next)
    }

    /// The owner is the server's (the deal's owner, or the creator).
    fn keys(input: &Quote) -> (&str, &str, &str) {
        (&input.id, "", &input.etag)
    }

    /// Only a draft changes. The deal must be one the writer sees and not lost (it gives the
    /// account and the owner); a new quote takes the tenant's next number; the lines are
    /// priced and the approval assessed.
    async fn before_write(
        txn: &DatabaseTransaction,
        principal: &Principal,
        current: Option<&Model>,
        next: &mut Model,
    ) -> Result<(), Error> {
        if let Some(current) = current
            && current.status != QuoteStatus::Draft as i32
        {
            return Err(not_draft(current));
        }
        let today = day::of_micros(clock::now_micros());
        if next.valid_until < today && current.is_none_or(|c| c.valid_until != next.valid_until) {
            return Err(Error::invalid(
                "quote.valid_until",
                format!("must not be before today, {}", day::format(today)),
            ));
        }
        if !next.opportunity_id.is_empty()
            && current.is_none_or(|c| c.opportunity_id != next.opportunity_id)
        {
            let deal = open_deal(txn, principal, &next.opportunity_id).await?;
            if !next.account_id.is_empty() && next.account_id != deal.account_id {
                return Err(Error::invalid(
                    "quote.account_id",
                    "must be the opportunity's account",
                ));
            }
            next.account_id = deal.account_id;
            if current.is_none() {
                next.owner_id = deal.owner_id;
            }
        }
        if next.number.is_empty() {
            let number = crm_records::numbers::next(txn, &principal.tenant_id, Self::KIND).await?;
            next.number = crm_records::numbers::format(NUMBER_PREFIX, number);
        }
        price(txn, principal, next, today).await?;
        assess(txn, next, today).await
    }
}

/// The refusal of a change to a quote that is no longer a draft.
pub(crate) fn not_draft(m: &Model) -> Error {
    Error::wrong_state(
        "QUOTE_NOT_DRAFT",
        "quote.status",
        format!(
            "quote {} is {}; only a draft changes (revise it for a new draft)",
            m.number,
            crm_platform::audit::enum_name::<QuoteStatus>(m.status)
        ),
    )
}

/// The live, not lost deal of this id the writer sees.
async fn open_deal(
    txn: &DatabaseTransaction,
    principal: &Principal,
    id: &str,
) -> Result<crate::entity::opportunity::Model, Error> {
    let hidden = || {
        Error::invalid(
            "quote.opportunity_id",
            "is not a live opportunity you can see",
        )
    };
    let deal = store::find::<Opportunities, _>(txn, principal, id)
        .await
        .map_err(|e| match e {
            Error::NotFound { .. } => hidden(),
            other => other,
        })?;
    if deal.delete_time.is_some() {
        return Err(hidden());
    }
    if deal.status == OpportunityStatus::Lost as i32 {
        return Err(Error::invalid(
            "quote.opportunity_id",
            "is a lost opportunity",
        ));
    }
    Ok(deal)
}

/// Prices every line on `today`: the product's facts, the unit price (entered, or the price
/// list's for the quantity), the amounts, and whether the net unit price is below cost.
async fn price(
    txn: &DatabaseTransaction,
    principal: &Principal,
    next: &mut Model,
    today: i32,
) -> Result<(), Error> {
    let currency = currency(next)?;
    let lists = if next.price_list_id.is_empty() {
        pricing::applicable(txn, principal, currency, 0, today).await?
    } else {
        let hidden = || {
            Error::invalid(
                "quote.price_list_id",
                "is not a live price list you can see",
            )
        };
        let list = store::find::<PriceLists, _>(txn, principal, &next.price_list_id)
            .await
            .map_err(|e| match e {
                Error::NotFound { .. } => hidden(),
                other => other,
            })?;
        if list.delete_time.is_some() {
            return Err(hidden());
        }
        if list.currency_code != currency.code() {
            return Err(Error::invalid(
                "quote.price_list_id",
                format!(
                    "is in {}, not the quote's {}",
                    list.currency_code,
                    currency.code()
                ),
            ));
        }
        let valid = (list.valid_from == 0 || list.valid_from <= today)
            && (list.valid_until == 0 || list.valid_until >= today);
        if !valid {
            return Err(Error::invalid("quote.price_list_id", "is not valid today"));
        }
        vec![list]
    };
    let rates = RateBook::load(txn, &principal.tenant_id).await?;
    let mut priced = lines(next);
    let mut v = Violations::new();
    for (i, line) in priced.iter_mut().enumerate() {
        let field = format!("quote.lines[{i}].product_id");
        let product = match store::find::<Products, _>(txn, principal, &line.product_id).await {
            Ok(p) if p.delete_time.is_none() && p.status == ProductStatus::Active as i32 => p,
            Ok(_) | Err(Error::NotFound { .. }) => {
                v.add(&field, "is not a live, active product");
                continue;
            }
            Err(other) => return Err(other),
        };
        let quantity = money::stored(&line.quantity);
        let listed = lists.iter().find_map(|list| {
            price_list::entries(list)
                .into_iter()
                .find(|e| e.product_id == line.product_id)
                .map(|entry| price_list::unit_price(&entry, quantity).0)
        });
        let unit_price = match (line.entered_price.is_empty(), listed) {
            (false, _) => money::stored(&line.entered_price),
            (true, Some(listed)) => listed,
            (true, None) => {
                v.add(
                    &format!("quote.lines[{i}].unit_price"),
                    format!(
                        "is required: no {} price list valid on {} prices product {}",
                        currency.code(),
                        day::format(today),
                        product.code
                    ),
                );
                continue;
            }
        };
        let discount = money::stored(&line.discount_percent);
        let tax_rate = money::stored(&product.tax_rate);
        let amounts = line_amounts(currency, quantity, unit_price, discount, tax_rate);
        let net_unit = unit_price * (Decimal::ONE_HUNDRED - discount) / Decimal::ONE_HUNDRED;
        line.below_cost = match Products::cost(&product) {
            Some(cost) => below(
                &rates,
                Money {
                    currency,
                    amount: net_unit,
                },
                cost,
                today,
            )?,
            None => false,
        };
        if line.description.is_empty() {
            line.description = product.display_name.clone();
        }
        line.product_code = product.code.clone();
        line.product_name = product.display_name.clone();
        line.unit = product.unit.clone();
        line.tax_rate = product.tax_rate.clone();
        line.unit_price = unit_price.to_string();
        line.list_price = listed.map(|l| l.to_string()).unwrap_or_default();
        line.gross = amounts.gross.to_string();
        line.discount = amounts.discount.to_string();
        line.net = amounts.net.to_string();
        line.tax = amounts.tax.to_string();
    }
    v.finish()?;
    next.lines = json::to_json(&priced);
    let total = totals(&priced)[4];
    next.total = store::scaled(total)
        .ok_or_else(|| Error::invalid("quote.lines", "the total is too large"))?;
    debug_assert_eq!(AMOUNT_SCALE, 4);
    Ok(())
}

/// Whether `price` is below `cost`: compared as they are in one currency, else both in the
/// base currency at the day's rates.
fn below(rates: &RateBook, price: Money, cost: Money, on: i32) -> Result<bool, Error> {
    if price.currency == cost.currency {
        return Ok(price.amount < cost.amount);
    }
    let exact = |m: Money| -> Result<Decimal, Error> {
        if m.currency == rates.base {
            return Ok(m.amount);
        }
        // One unit converted, so a price in yen is not rounded away before the comparison.
        let rate = rates.to_base(
            Money {
                currency: m.currency,
                amount: Decimal::from(1_000_000),
            },
            on,
        )?;
        Ok(m.amount * rate.amount / Decimal::from(1_000_000))
    };
    Ok(exact(price)? < exact(cost)?)
}

/// Assesses the approval the quote needs under the tenant's policy on `today`.
pub(crate) async fn assess(
    txn: &DatabaseTransaction,
    m: &mut Model,
    today: i32,
) -> Result<(), Error> {
    let stored = lines(m);
    let rates = RateBook::load(txn, &m.tenant_id).await?;
    let total = total(m)?;
    let figures = Figures {
        kind: ApprovalSubjectKind::Quote,
        max_discount_percent: max_discount(&stored),
        total_in_base: rates.to_base(total, today)?,
        below_cost: stored.iter().any(|l| l.below_cost),
    };
    let rules = approval_policy::rules(txn, &m.tenant_id).await?;
    let (level, reasons) = approval_policy::required(&rules, &figures);
    m.approval_level = level;
    m.approval_reasons = json::to_json(&reasons);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(text: &str) -> Decimal {
        text.parse().unwrap()
    }

    #[test]
    fn lines_round_half_away_from_zero_in_the_currency() {
        let cny = Currency::parse("CNY").unwrap();
        // 3 × 33.335 = 100.005 → 100.01; less 10% = 90.0045 → 90.00; tax 13% = 11.70.
        let a = line_amounts(cny, d("3"), d("33.335"), d("10"), d("0.13"));
        assert_eq!(
            (a.gross, a.discount, a.net, a.tax),
            (d("100.01"), d("10.01"), d("90.00"), d("11.70"))
        );
        let jpy = Currency::parse("JPY").unwrap();
        // 7 × 150 = 1050; less 5% = 997.5 → 998; tax 10% = 99.8 → 100.
        let a = line_amounts(jpy, d("7"), d("150"), d("5"), d("0.1"));
        assert_eq!(
            (a.gross, a.discount, a.net, a.tax),
            (d("1050"), d("52"), d("998"), d("100"))
        );
    }

    #[test]
    fn totals_are_sums_of_rounded_lines() {
        let line = |gross: &str, discount: &str, net: &str, tax: &str| StoredLine {
            gross: gross.into(),
            discount: discount.into(),
            net: net.into(),
            tax: tax.into(),
            ..Default::default()
        };
        let t = totals(&[
            line("100.01", "10.01", "90.00", "11.70"),
            line("0.01", "0", "0.01", "0"),
        ]);
        assert_eq!(
            t,
            [d("100.02"), d("10.01"), d("90.01"), d("11.70"), d("101.71")]
        );
    }
}
