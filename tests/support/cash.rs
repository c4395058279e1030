//! The order and receivables helpers the order, contract and quote-to-cash tests share:
//! an ERP key, the calls of an order's life and of its ERP's reports, and the calls of a
//! contract and its payment plan.

use std::time::Duration;

use crm_proto::common::Date;
use crm_proto::identity::CreateApiKeyRequest;
use crm_proto::sales::*;

use super::Suite;
use super::clients::Session;
use super::quoting::{amount, eventually, money};

pub async fn create_order(
    session: &Session,
    order: Order,
    request_id: &str,
) -> Result<Order, tonic::Status> {
    Ok(session
        .sales()
        .create_order(CreateOrderRequest {
            order: Some(order),
            request_id: request_id.into(),
        })
        .await?
        .into_inner()
        .order
        .unwrap())
}

pub async fn get_order(session: &Session, id: &str) -> Result<Order, tonic::Status> {
    Ok(session
        .sales()
        .get_order(GetOrderRequest { id: id.into() })
        .await?
        .into_inner()
        .order
        .unwrap())
}

pub async fn confirm_order(
    session: &Session,
    id: &str,
    request_id: &str,
) -> Result<ConfirmOrderResponse, tonic::Status> {
    Ok(session
        .sales()
        .confirm_order(ConfirmOrderRequest {
            id: id.into(),
            etag: String::new(),
            request_id: request_id.into(),
        })
        .await?
        .into_inner())
}

pub async fn record_shipment(
    erp: &Session,
    external_id: &str,
    number: &str,
    lines: &[(i32, &str)],
) -> Result<RecordShipmentResponse, tonic::Status> {
    Ok(erp
        .sales()
        .record_shipment(RecordShipmentRequest {
            order_id: String::new(),
            order_external_id: external_id.into(),
            shipment: Some(Shipment {
                number: number.into(),
                lines: lines
                    .iter()
                    .map(|(position, quantity)| ShipmentLine {
                        position: *position,
                        quantity: (*quantity).into(),
                    })
                    .collect(),
                carrier: "SF Express".into(),
                tracking_number: format!("SF{number}"),
                ship_time: None,
            }),
        })
        .await?
        .into_inner())
}

pub fn on(year: i32, month: i32, day: i32) -> Option<Date> {
    Some(Date { year, month, day })
}

pub async fn record_invoice(
    erp: &Session,
    order_id: &str,
    number: &str,
    amount: &str,
) -> Result<RecordInvoiceResponse, tonic::Status> {
    Ok(erp
        .sales()
        .record_invoice(RecordInvoiceRequest {
            order_id: order_id.into(),
            order_external_id: String::new(),
            invoice: Some(Invoice {
                number: number.into(),
                amount: money("CNY", amount),
                issue_date: on(2027, 1, 5),
            }),
        })
        .await?
        .into_inner())
}

pub async fn record_payment(
    erp: &Session,
    order_id: &str,
    number: &str,
    (amount, credit): (&str, bool),
) -> Result<RecordPaymentResponse, tonic::Status> {
    Ok(erp
        .sales()
        .record_payment(RecordPaymentRequest {
            order_id: order_id.into(),
            order_external_id: String::new(),
            payment: Some(Payment {
                number: number.into(),
                amount: money("CNY", amount),
                receive_date: on(2027, 1, 10),
                credit,
            }),
        })
        .await?
        .into_inner())
}

/// An API key for the ERP, acting as the tenant's admin: it syncs the customer master and
/// reports on orders.
pub async fn erp_key(suite: &Suite, admin: &Session) -> Session {
    let key = admin
        .identity()
        .create_api_key(CreateApiKeyRequest {
            display_name: "ERP".into(),
            user_id: String::new(),
            permissions: vec![
                "contacts.accounts.read".into(),
                "contacts.accounts.write".into(),
                "sales.orders.read".into(),
                "sales.orders.write".into(),
                "sales.orders.sync".into(),
            ],
        })
        .await
        .unwrap()
        .into_inner();
    Session::api_key(suite, &key.secret).await
}

/// The events of `kind` the sales outbox holds for order `id`.
pub async fn order_events(suite: &Suite, kind: SalesEventType, id: &str) -> Vec<SalesEvent> {
    suite
        .outbox::<SalesEvent>("sales")
        .await
        .into_iter()
        .filter(|e| e.r#type == kind as i32)
        .filter(|e| match &e.subject {
            Some(sales_event::Subject::Order(o)) => o.id == id,
            Some(sales_event::Subject::OrderHandoff(h)) => h.order.as_ref().unwrap().id == id,
            _ => false,
        })
        .collect()
}

pub fn figures(order: &Order) -> [String; 5] {
    [
        amount(&order.total),
        amount(&order.invoiced_total),
        amount(&order.paid_total),
        amount(&order.credit_total),
        OrderStatus::try_from(order.status)
            .unwrap()
            .as_str_name()
            .to_owned(),
    ]
}

pub async fn get_contract(session: &Session, id: &str) -> Result<Contract, tonic::Status> {
    Ok(session
        .sales()
        .get_contract(GetContractRequest { id: id.into() })
        .await?
        .into_inner()
        .contract
        .unwrap())
}

pub async fn submit_contract(
    session: &Session,
    id: &str,
) -> Result<SubmitContractResponse, tonic::Status> {
    Ok(session
        .sales()
        .submit_contract(SubmitContractRequest {
            id: id.into(),
            etag: String::new(),
            request_id: String::new(),
        })
        .await?
        .into_inner())
}

pub async fn sign_contract(
    session: &Session,
    id: &str,
    on: Option<Date>,
) -> Result<Contract, tonic::Status> {
    Ok(session
        .sales()
        .sign_contract(SignContractRequest {
            id: id.into(),
            etag: String::new(),
            request_id: String::new(),
            sign_date: on,
        })
        .await?
        .into_inner()
        .contract
        .unwrap())
}

pub fn instalment(due: Option<Date>, amount: &str) -> Instalment {
    Instalment {
        due_date: due,
        amount: money("CNY", amount),
        ..Default::default()
    }
}

pub async fn create_payment_plan(
    session: &Session,
    plan: PaymentPlan,
) -> Result<PaymentPlan, tonic::Status> {
    Ok(session
        .sales()
        .create_payment_plan(CreatePaymentPlanRequest {
            plan: Some(plan),
            request_id: String::new(),
        })
        .await?
        .into_inner()
        .plan
        .unwrap())
}

pub async fn record_receipt(
    session: &Session,
    plan_id: &str,
    number: &str,
    (amount, credit): (&str, bool),
    on: Option<Date>,
) -> Result<RecordReceiptResponse, tonic::Status> {
    Ok(session
        .sales()
        .record_receipt(RecordReceiptRequest {
            plan_id: plan_id.into(),
            receipt: Some(Receipt {
                number: number.into(),
                amount: money("CNY", amount),
                receive_date: on,
                credit,
            }),
        })
        .await?
        .into_inner())
}

/// (amount, received, status) of each instalment.
pub fn schedule(plan: &PaymentPlan) -> Vec<(String, String, String)> {
    plan.instalments
        .iter()
        .map(|i| {
            (
                amount(&i.amount),
                amount(&i.received),
                InstalmentStatus::try_from(i.status)
                    .unwrap()
                    .as_str_name()
                    .trim_start_matches("INSTALMENT_STATUS_")
                    .to_owned(),
            )
        })
        .collect()
}

pub fn owed(plan: &PaymentPlan) -> [String; 4] {
    [
        amount(&plan.received_total),
        amount(&plan.outstanding),
        amount(&plan.overdue),
        amount(&plan.credit_total),
    ]
}

pub async fn events_of(suite: &Suite, kind: SalesEventType) -> Vec<SalesEvent> {
    suite
        .outbox::<SalesEvent>("sales")
        .await
        .into_iter()
        .filter(|e| e.r#type == kind as i32)
        .collect()
}

/// Waits for `count` events of `kind`, then for any extra a second later.
pub async fn wait_for(suite: &Suite, kind: SalesEventType, count: usize) -> Vec<SalesEvent> {
    eventually(&format!("{count} {kind:?}"), || async {
        (events_of(suite, kind).await.len() >= count).then_some(())
    })
    .await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    events_of(suite, kind).await
}
