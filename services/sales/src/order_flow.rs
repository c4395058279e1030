//! How an order moves: confirmed (at once, or after its approvers) and handed to the ERP,
//! cancelled before anything ships, delivered, completed once paid; and the ERP's reports of
//! shipments, invoices and payments, each applied once by the ERP's own document number. Each
//! is one transaction, checked against the order's status, audited and announced.

use rust_decimal::Decimal;
use sea_orm::{ColumnTrait, DatabaseTransaction, QueryFilter};
use tonic::Status;

use crate::approval;
use crate::approval_policy;
use crate::customers;
use crate::entity::order::{Column, Model};
use crate::order::{
    self, OrderLine, Orders, StoredInvoice, StoredPayment, StoredShipment, currency,
};
use crate::price_list::QUANTITY_DECIMALS;
use crate::product::Products;
use crate::receivables;
use crm_platform::auth::Principal;
use crm_platform::client::ServiceClient;
use crm_platform::clock;
use crm_platform::error::Error;
use crm_platform::etag;
use crm_platform::idempotency::{RequestKey, mutate};
use crm_platform::money::{self, Money};
use crm_platform::time::{day, micros_of};
use crm_platform::validate::Violations;
use crm_proto::contacts::{Account, Contact};
use crm_proto::sales::{
    ApprovalRequest, ApprovalSubjectKind, ConfirmOrderResponse, ErpOutcome, Invoice, Order,
    OrderHandoff, OrderStatus, Payment, SalesEvent, SalesEventType, Shipment, sales_event::Subject,
};
use crm_records::handlers::{self, Records, announce};
use crm_records::json;
use crm_records::resource::{Action, Resource};
use crm_records::store;

/// A move a client asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Move {
    Confirm,
    Cancel,
    Deliver,
    Complete,
}

impl Move {
    /// The statuses it starts from.
    fn from(self) -> &'static [OrderStatus] {
        match self {
            Move::Confirm => &[OrderStatus::Draft],
            Move::Cancel => &[
                OrderStatus::Draft,
                OrderStatus::PendingApproval,
                OrderStatus::Confirmed,
            ],
            Move::Deliver => &[OrderStatus::Shipped],
            Move::Complete => &[OrderStatus::Delivered],
        }
    }

    fn verb(self) -> &'static str {
        match self {
            Move::Confirm => "confirmed",
            Move::Cancel => "cancelled",
            Move::Deliver => "delivered",
            Move::Complete => "completed",
        }
    }
}

/// Who asks, for which order.
pub(crate) struct Asked<'a> {
    pub(crate) method: &'static str,
    pub(crate) id: &'a str,
    pub(crate) etag: &'a str,
    pub(crate) request_id: &'a str,
    /// Why, for a cancellation.
    pub(crate) reason: &'a str,
}

/// The customer as contacts holds it, for the ERP's hand-off: asked as the caller before the
/// transaction that confirms.
pub(crate) async fn customer(
    contacts: Option<&ServiceClient>,
    principal: &Principal,
    m: &Model,
) -> Result<(Account, Option<Contact>), Status> {
    let hidden = |what: &str| {
        Status::from(Error::wrong_state(
            "CUSTOMER_HIDDEN",
            "order.account_id",
            format!("the order's {what} is deleted or no longer one you can see"),
        ))
    };
    let account = customers::fetch_account(contacts, principal, &m.account_id)
        .await?
        .ok_or_else(|| hidden("account"))?;
    let contact = if m.contact_id.is_empty() {
        None
    } else {
        let found = customers::fetch_contact(contacts, principal, &m.contact_id).await?;
        Some(found.ok_or_else(|| hidden("contact"))?)
    };
    Ok((account, contact))
}

/// Applies `step` to an order; answers the order and the approval request a confirmation
/// opened.
pub(crate) async fn transition<M: prost::Message>(
    records: &Records,
    contacts: Option<&ServiceClient>,
    principal: &Principal,
    (asked, request): (Asked<'_>, &M),
    step: Move,
) -> Result<(Order, Option<ApprovalRequest>), Status> {
    principal.require(Orders::WRITE)?;
    if asked.id.is_empty() {
        return Err(Error::invalid("id", "is required").into());
    }
    let reason = asked.reason.trim();
    if step == Move::Cancel {
        let mut v = Violations::new();
        v.required("reason", reason);
        v.max_chars("reason", reason, 2000);
        v.finish()?;
    }
    let expected = etag::parse("etag", asked.etag)?;
    let key = RequestKey::new(principal, asked.method, asked.request_id, request)?;
    let hand_off = if step == Move::Confirm {
        let found = store::find::<Orders, _>(&records.db, principal, asked.id).await?;
        Some(customer(contacts, principal, &found).await?)
    } else {
        None
    };
    // Every move stores its answer (for a replay) in the confirmation's response shape.
    let answer = mutate(&records.db, key.as_ref(), |txn| async move {
        let (current, stamps) =
            handlers::current::<Orders>(&txn, principal, asked.id, expected).await?;
        handlers::refuse_deleted::<Orders>(&stamps)?;
        if !step.from().iter().any(|s| *s as i32 == current.status) {
            return Err(wrong_status(&current, step.verb()));
        }
        let mut next = current.clone();
        let mut opened = None;
        let now = clock::now_micros();
        match step {
            Move::Confirm => {
                if current.quote_id.is_empty() {
                    let today = day::of_micros(now);
                    let kind = ApprovalSubjectKind::Order;
                    let (level, reasons) = approval_policy::assess(
                        &txn,
                        &current.tenant_id,
                        kind,
                        &order::priced(&current),
                        order::total(&current)?,
                        today,
                    )
                    .await?;
                    next.approval_level = level;
                    next.approval_reasons = json::to_json(&reasons);
                }
                if next.approval_level > 0 {
                    let approvers = approval::approvers(
                        &txn,
                        &principal.tenant_id,
                        &next.owner_id,
                        next.approval_level,
                    )
                    .await?;
                    let subject = approval::Document {
                        kind: ApprovalSubjectKind::Order,
                        id: next.id.clone(),
                        version: next.version,
                        display_name: next.number.clone(),
                        owner_id: next.owner_id.clone(),
                        amount: order::total(&next)?,
                        reasons: next.approval_reasons.clone(),
                    };
                    let request =
                        approval::open(records, &txn, principal, subject, approvers).await?;
                    next.status = OrderStatus::PendingApproval as i32;
                    next.approval_request_id = request.id.clone();
                    opened = Some(request);
                } else {
                    let customer = hand_off
                        .clone()
                        .ok_or_else(|| Error::internal("a confirmation has no customer"))?;
                    let saved =
                        confirmed(records, &txn, principal, (&current, next), customer).await?;
                    return Ok((
                        txn,
                        ConfirmOrderResponse {
                            order: Some(saved),
                            approval_request: None,
                        },
                    ));
                }
            }
            Move::Cancel => {
                if !json::from_json::<StoredShipment>(&current.shipments).is_empty() {
                    return Err(wrong_status(&current, "cancelled (it has shipped)"));
                }
                approval::cancel(records, &txn, principal, &current.approval_request_id).await?;
                next.status = OrderStatus::Cancelled as i32;
                next.cancel_reason = reason.to_owned();
                next.close_time = Some(now);
            }
            Move::Deliver => next.status = OrderStatus::Delivered as i32,
            Move::Complete => {
                let (_, paid, _) = order::received(&current);
                let total = order::total(&current)?;
                if paid < total.amount {
                    let c = total.currency;
                    return Err(Error::wrong_state(
                        "ORDER_UNPAID",
                        "order.paid_total",
                        format!(
                            "order {} has {} {} of {} {} paid; it completes once paid in full",
                            current.number,
                            c.code(),
                            c.format(paid),
                            c.code(),
                            c.format(total.amount)
                        ),
                    ));
                }
                next.status = OrderStatus::Completed as i32;
                next.close_time = Some(now);
            }
        }
        let saved = records
            .save_change::<Orders>(&txn, principal, &current, next, Action::Update, &[])
            .await?;
        if step == Move::Cancel {
            let event = order_event(SalesEventType::OrderCancelled, saved.clone());
            announce(
                &txn,
                &principal.tenant_id,
                &principal.user_id,
                event,
                &saved.id,
            )
            .await?;
        }
        Ok((
            txn,
            ConfirmOrderResponse {
                order: Some(saved),
                approval_request: opened,
            },
        ))
    })
    .await?;
    records.after_write::<Orders>(principal, asked.id).await;
    let order = answer
        .order
        .ok_or_else(|| Error::internal("a move answered no order"))?;
    Ok((order, answer.approval_request))
}

fn order_event(kind: SalesEventType, order: Order) -> SalesEvent {
    SalesEvent {
        r#type: kind as i32,
        subject: Some(Subject::Order(order)),
        ..Default::default()
    }
}

/// The refusal of a move the order's status does not allow.
fn wrong_status(m: &Model, verb: &str) -> Error {
    Error::wrong_state(
        "ORDER_STATUS",
        "order.status",
        format!(
            "order {} is {}; it cannot be {verb}",
            m.number,
            crm_platform::audit::enum_name::<OrderStatus>(m.status)
        ),
    )
}

/// Confirms an order in `txn` and hands it to the ERP: ORDER_CONFIRMED carries the order, the
/// customer and the products of its lines.
pub(crate) async fn confirmed(
    records: &Records,
    txn: &DatabaseTransaction,
    principal: &Principal,
    (current, mut next): (&Model, Model),
    (account, contact): (Account, Option<Contact>),
) -> Result<Order, Error> {
    next.status = OrderStatus::Confirmed as i32;
    next.confirm_time = Some(clock::now_micros());
    let saved = records
        .save_change::<Orders>(txn, principal, current, next, Action::Update, &[])
        .await?;
    let mut products = Vec::new();
    for line in order::priced(current) {
        if products
            .iter()
            .any(|p: &crm_proto::sales::Product| p.id == line.product_id)
        {
            continue;
        }
        let product = store::find::<Products, _>(txn, principal, &line.product_id).await?;
        products.push(Products::to_proto(&product));
    }
    let event = SalesEvent {
        r#type: SalesEventType::OrderConfirmed as i32,
        subject: Some(Subject::OrderHandoff(OrderHandoff {
            order: Some(saved.clone()),
            account: Some(account),
            contact,
            products,
        })),
        ..Default::default()
    };
    announce(
        txn,
        &principal.tenant_id,
        &principal.user_id,
        event,
        &saved.id,
    )
    .await?;
    Ok(saved)
}

/// What the ERP reports.
#[derive(Debug, Clone)]
pub(crate) enum Report {
    Shipment(Shipment),
    Invoice(Invoice),
    Payment(Payment),
}

/// Applies an ERP report to the order named by id or by the ERP's number, once: a report
/// whose document number the order already holds with the same content changes nothing; with
/// other content it is refused.
pub(crate) async fn report(
    records: &Records,
    principal: &Principal,
    (order_id, external_id): (&str, &str),
    report: Report,
) -> Result<(Order, ErpOutcome), Error> {
    principal.require("sales.orders.sync")?;
    let id = resolve(records, principal, order_id.trim(), external_id.trim()).await?;
    let txn = crm_platform::db::begin_write(&records.db).await?;
    crm_platform::db::lock_keys(&txn, &[format!("{}/order/{id}", principal.tenant_id)]).await?;
    let (current, stamps) = handlers::current::<Orders>(&txn, principal, &id, None).await?;
    handlers::refuse_deleted::<Orders>(&stamps)?;
    let currency = currency(&current)?;
    let mut next = current.clone();
    let payment = match &report {
        Report::Payment(p) => Some(p.clone()),
        _ => None,
    };
    let (applied, kind) = match report {
        Report::Shipment(s) => (ship(&mut next, &s)?, SalesEventType::OrderShipped),
        Report::Invoice(i) => (
            invoice(&mut next, &i, currency)?,
            SalesEventType::OrderInvoiced,
        ),
        Report::Payment(p) => (pay(&mut next, &p, currency)?, SalesEventType::OrderPaid),
    };
    if !applied {
        return Ok((Orders::to_proto(&current), ErpOutcome::Unchanged));
    }
    let saved = records
        .save_change::<Orders>(&txn, principal, &current, next, Action::Update, &[])
        .await?;
    // The order's plan, when it has one, receives the same money under the same number.
    let mut plan = None;
    if let Some(p) = payment {
        let received = receivables::Received {
            number: p.number.trim().to_owned(),
            amount: p
                .amount
                .as_ref()
                .map(|m| money::stored(&m.amount))
                .unwrap_or_default(),
            receive_date: day::check(&mut Violations::new(), "", p.receive_date.as_ref()),
            credit: p.credit,
        };
        plan = receivables::receive_for_order(records, &txn, principal, &id, received).await?;
    }
    let event = order_event(kind, saved.clone());
    announce(
        &txn,
        &principal.tenant_id,
        &principal.user_id,
        event,
        &saved.id,
    )
    .await?;
    txn.commit().await?;
    records.after_write::<Orders>(principal, &id).await;
    if let Some(plan_id) = plan {
        records
            .after_write::<crate::receivables::PaymentPlans>(principal, &plan_id)
            .await;
    }
    Ok((saved, ErpOutcome::Applied))
}

/// The id of the order named by id, or by the ERP's number.
async fn resolve(
    records: &Records,
    principal: &Principal,
    order_id: &str,
    external_id: &str,
) -> Result<String, Error> {
    match (order_id.is_empty(), external_id.is_empty()) {
        (false, _) => Ok(order_id.to_owned()),
        (true, false) => store::scoped::<Orders>(principal)
            .filter(Column::ExternalId.eq(external_id))
            .filter(Column::DeleteTime.is_null())
            .one(&records.db)
            .await?
            .map(|m| m.id)
            .ok_or_else(|| Error::not_found(Orders::KIND, external_id)),
        (true, true) => Err(Error::invalid(
            "order_id",
            "or order_external_id is required",
        )),
    }
}

/// Whether the order already holds a document of this number: the same (`Ok(true)`), or
/// another under the same number (refused).
pub(crate) fn seen<T: PartialEq>(
    held: &[T],
    number: impl Fn(&T) -> &str,
    sent: &T,
) -> Result<bool, Error> {
    match held.iter().find(|h| number(h) == number(sent)) {
        Some(h) if h == sent => Ok(true),
        Some(_) => Err(Error::AlreadyExists {
            reason: "ERP_DOCUMENT_CONFLICT",
            message: format!(
                "document {} was reported before with other content",
                number(sent)
            ),
            metadata: [("number".to_owned(), number(sent).to_owned())].into(),
        }),
        None => Ok(false),
    }
}

/// The statuses in which the ERP reports on an order.
fn refuse_unless_live(m: &Model, verb: &str) -> Result<(), Error> {
    let live = [
        OrderStatus::Confirmed,
        OrderStatus::PartiallyShipped,
        OrderStatus::Shipped,
        OrderStatus::Delivered,
        OrderStatus::Completed,
    ];
    if live.iter().any(|s| *s as i32 == m.status) {
        return Ok(());
    }
    Err(wrong_status(m, verb))
}

/// Records a shipment; returns whether it was new.
fn ship(next: &mut Model, sent: &Shipment) -> Result<bool, Error> {
    let mut v = Violations::new();
    let number = sent.number.trim().to_owned();
    v.required("shipment.number", &number);
    v.max_chars("shipment.number", &number, 100);
    v.max_chars("shipment.carrier", sent.carrier.trim(), 100);
    v.max_chars("shipment.tracking_number", sent.tracking_number.trim(), 100);
    if sent.lines.is_empty() {
        v.add("shipment.lines", "needs at least one line");
    }
    let mut lines = order::lines(next);
    let mut shipped = Vec::with_capacity(sent.lines.len());
    for (i, line) in sent.lines.iter().enumerate() {
        let field = format!("shipment.lines[{i}]");
        let quantity_field = format!("{field}.quantity");
        let quantity = money::decimal(&mut v, &quantity_field, &line.quantity, QUANTITY_DECIMALS);
        if quantity.is_some_and(|q| q <= Decimal::ZERO) {
            v.add(&quantity_field, "must be positive");
        }
        let position = usize::try_from(line.position).unwrap_or(0);
        if position == 0 || position > lines.len() {
            v.add(&format!("{field}.position"), "names no line of the order");
        }
        if let Some(q) = quantity {
            shipped.push((line.position, q.normalize().to_string()));
        }
    }
    v.finish()?;
    let stored = StoredShipment {
        number,
        lines: shipped,
        ship_time: sent.ship_time.as_ref().map(micros_of),
        carrier: sent.carrier.trim().to_owned(),
        tracking_number: sent.tracking_number.trim().to_owned(),
    };
    let mut held: Vec<StoredShipment> = json::from_json(&next.shipments);
    if seen(&held, |s| &s.number, &stored)? {
        return Ok(false);
    }
    let shippable = [OrderStatus::Confirmed, OrderStatus::PartiallyShipped];
    if !shippable.iter().any(|s| *s as i32 == next.status) {
        return Err(wrong_status(next, "shipped"));
    }
    let mut v = Violations::new();
    for (i, (position, quantity)) in stored.lines.iter().enumerate() {
        let line: &mut OrderLine = &mut lines[usize::try_from(*position - 1).unwrap_or(0)];
        let ordered = money::stored(&line.line.quantity);
        let after = money::stored(&line.shipped) + money::stored(quantity);
        if after > ordered {
            v.add(
                &format!("shipment.lines[{i}].quantity"),
                format!(
                    "is more than is left to ship on line {position} ({} of {})",
                    (ordered - money::stored(&line.shipped)).normalize(),
                    ordered.normalize()
                ),
            );
        }
        line.shipped = after.normalize().to_string();
    }
    v.finish()?;
    let all = lines
        .iter()
        .all(|l| money::stored(&l.shipped) >= money::stored(&l.line.quantity));
    next.status = if all {
        OrderStatus::Shipped
    } else {
        OrderStatus::PartiallyShipped
    } as i32;
    next.lines = json::to_json(&lines);
    held.push(stored);
    next.shipments = json::to_json(&held);
    Ok(true)
}

/// Checks a reported amount in the order's currency.
pub(crate) fn amount_of(
    v: &mut Violations,
    field: &str,
    sent: Option<&crm_proto::common::Money>,
    currency: money::Currency,
) -> Option<Decimal> {
    let Some(sent) = sent else {
        v.add(field, "is required");
        return None;
    };
    if !sent.currency_code.is_empty() && sent.currency_code != currency.code() {
        v.add(
            &format!("{field}.currency_code"),
            format!("must be {}, the order's currency", currency.code()),
        );
        return None;
    }
    let checked = Money::check(v, field, sent, Some(currency))?;
    if checked.amount <= Decimal::ZERO {
        v.add(&format!("{field}.amount"), "must be positive");
        return None;
    }
    Some(checked.amount)
}

/// Records an invoice; returns whether it was new.
fn invoice(next: &mut Model, sent: &Invoice, currency: money::Currency) -> Result<bool, Error> {
    let mut v = Violations::new();
    let number = sent.number.trim().to_owned();
    v.required("invoice.number", &number);
    v.max_chars("invoice.number", &number, 100);
    let amount = amount_of(&mut v, "invoice.amount", sent.amount.as_ref(), currency);
    let issue_date = day::check(&mut v, "invoice.issue_date", sent.issue_date.as_ref());
    v.finish()?;
    let amount = amount.unwrap_or_default();
    let stored = StoredInvoice {
        number,
        amount: amount.to_string(),
        issue_date,
    };
    let mut held: Vec<StoredInvoice> = json::from_json(&next.invoices);
    if seen(&held, |i| &i.number, &stored)? {
        return Ok(false);
    }
    refuse_unless_live(next, "invoiced")?;
    let (invoiced, _, _) = order::received(next);
    let total = order::total(next)?.amount;
    if invoiced + amount > total {
        return Err(Error::invalid(
            "invoice.amount.amount",
            format!(
                "is more than is left to invoice ({} {})",
                currency.code(),
                currency.format(total - invoiced)
            ),
        ));
    }
    held.push(stored);
    next.invoices = json::to_json(&held);
    Ok(true)
}

/// Records a payment; returns whether it was new. An over-payment is refused unless flagged
/// as credit, when the excess is kept apart as the customer's credit.
fn pay(next: &mut Model, sent: &Payment, currency: money::Currency) -> Result<bool, Error> {
    let mut v = Violations::new();
    let number = sent.number.trim().to_owned();
    v.required("payment.number", &number);
    v.max_chars("payment.number", &number, 100);
    let amount = amount_of(&mut v, "payment.amount", sent.amount.as_ref(), currency);
    let receive_date = day::check(&mut v, "payment.receive_date", sent.receive_date.as_ref());
    v.finish()?;
    let amount = amount.unwrap_or_default();
    let (_, paid, _) = order::received(next);
    let outstanding = order::total(next)?.amount - paid;
    let excess = (amount - outstanding).max(Decimal::ZERO);
    let stored = StoredPayment {
        number,
        amount: amount.to_string(),
        receive_date,
        credit: sent.credit,
        kept_as_credit: excess.to_string(),
    };
    let mut held: Vec<StoredPayment> = json::from_json(&next.payments);
    let same_number = held.iter().find(|p| p.number == stored.number).cloned();
    if let Some(before) = same_number {
        // The credit kept depends on what was outstanding then, not now.
        let sent_again = StoredPayment {
            kept_as_credit: before.kept_as_credit.clone(),
            ..stored.clone()
        };
        return seen(&held, |p| &p.number, &sent_again).map(|_| false);
    }
    refuse_unless_live(next, "paid")?;
    if excess > Decimal::ZERO && !sent.credit {
        return Err(Error::invalid(
            "payment.amount.amount",
            format!(
                "is more than the outstanding {} {}; flag it as credit to keep the excess",
                currency.code(),
                currency.format(outstanding)
            ),
        ));
    }
    held.push(stored);
    next.payments = json::to_json(&held);
    Ok(true)
}

/// The hand-off customer of an order whose approval is being decided, asked before the
/// decision's transaction.
pub(crate) async fn customer_of(
    records: &Records,
    contacts: Option<&ServiceClient>,
    principal: &Principal,
    order_id: &str,
) -> Result<(Account, Option<Contact>), Status> {
    let found = store::find::<Orders, _>(&records.db, principal, order_id).await?;
    customer(contacts, principal, &found).await
}

/// Finishes an order's approval in `txn`: approved confirms it (the hand-off), rejected sends
/// it back to draft.
pub(crate) async fn decided(
    records: &Records,
    txn: &DatabaseTransaction,
    principal: &Principal,
    (document, approve): (&Model, bool),
    customer: Option<(Account, Option<Contact>)>,
) -> Result<(), Error> {
    let mut next = document.clone();
    if approve {
        let customer =
            customer.ok_or_else(|| Error::internal("an order's approval has no customer"))?;
        confirmed(records, txn, principal, (document, next), customer).await?;
    } else {
        next.status = OrderStatus::Draft as i32;
        records
            .save_change::<Orders>(txn, principal, document, next, Action::Update, &[])
            .await?;
    }
    Ok(())
}
