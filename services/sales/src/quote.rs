//! Quotes: a priced offer, one row per revision. Its lines are priced in the write's
//! transaction (`priced_lines`), and the approval it needs is assessed against the tenant's
//! policy. Only a draft changes; its status
//! moves through `quote_flow`.

use rust_decimal::Decimal;
use sea_orm::DatabaseTransaction;

use crate::approval_policy;
use crate::entity::quote::{Column, Entity, Model};
use crate::opportunity::Opportunities;
use crate::priced_lines::{self, StoredLine, line_to_proto, max_discount, sent_lines, totals};
use crm_platform::auth::Principal;
use crm_platform::clock;
use crm_platform::error::Error;
use crm_platform::field_mask::{self, Field};
use crm_platform::money::{Currency, Money};
use crm_platform::time::{day, to_timestamp, to_timestamp_opt};
use crm_platform::validate::Violations;
use crm_proto::sales::{
    ApprovalSubjectKind, Quote, QuoteStatus, SalesEvent, SalesEventType, sales_event::Subject,
};
use crm_records::json;
use crm_records::resource::{Action, FieldKind, Resource, WriteContext};
use crm_records::store;

/// The quote resource.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Quotes;

/// The prefix of quote numbers.
const NUMBER_PREFIX: &str = "Q";

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
                model.lines = json::to_json(&sent_lines(&mut v, "quote", &input.lines, currency));
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

    /// The owner: the deal's when one is named, else the one sent (within the writer's
    /// scope) or the writer.
    fn keys(input: &Quote) -> (&str, &str, &str) {
        (&input.id, &input.owner_id, &input.etag)
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
            let deal =
                Opportunities::live(txn, principal, &next.opportunity_id, "quote.opportunity_id")
                    .await?;
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
        let document = priced_lines::Document {
            prefix: "quote",
            currency: currency(next)?,
            price_list_id: &next.price_list_id,
            today,
        };
        let priced = priced_lines::price(txn, principal, document, lines(next)).await?;
        next.total = store::scaled(totals(&priced)[4])
            .ok_or_else(|| Error::invalid("quote.lines", "the total is too large"))?;
        next.lines = json::to_json(&priced);
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

/// Assesses the approval the quote needs under the tenant's policy on `today`.
pub(crate) async fn assess(
    txn: &DatabaseTransaction,
    m: &mut Model,
    today: i32,
) -> Result<(), Error> {
    let kind = ApprovalSubjectKind::Quote;
    let (level, reasons) =
        approval_policy::assess(txn, &m.tenant_id, kind, &lines(m), total(m)?, today).await?;
    m.approval_level = level;
    m.approval_reasons = json::to_json(&reasons);
    Ok(())
}
