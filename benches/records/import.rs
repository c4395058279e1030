//! Import throughput: rows per second of an ImportRecords stream through the gateway (every
//! row checked, de-duplicated, indexed, audited and announced), against a plain bulk insert
//! of the same rows' records in the same run.

use std::time::Instant;

use sea_orm::{ActiveModelTrait as _, EntityTrait as _, IntoActiveModel as _};

use crm_contacts::contact::Contacts;
use crm_contacts::resource::{Resource as _, WriteContext};
use crm_contacts::tabular::{Row, Tabular as _};
use crm_platform::normalize::PhoneRegion;
use crm_platform::sealing::DataKeys;
use crm_proto::common::{DuplicatePolicy, ImportOptions};
use crm_proto::contacts::{ImportRecordsRequest, import_records_request::Part};

use crate::support::Suite;
use crate::support::clients::Session;

const HEADER: &str = "display_name,phone,email,tags,title\n";
/// Bytes per streamed message.
const CHUNK: usize = 64 * 1024;

fn rows_text(rows: u64) -> String {
    let mut text = String::from(HEADER);
    for n in 0..rows {
        text.push_str(&format!(
            "Import {n},+86 150{n:08},import{n}@example.com,imported;batch,buyer\n"
        ));
    }
    text
}

/// Imports `rows` rows as `session`; returns rows per second.
pub(crate) async fn through_gateway(session: &Session, rows: u64) -> f64 {
    let text = rows_text(rows);
    let mut messages = vec![ImportRecordsRequest {
        part: Some(Part::Options(ImportOptions {
            resource_type: "contact".into(),
            dry_run: false,
            duplicate_policy: DuplicatePolicy::Skip as i32,
            assign_by_rule: false,
        })),
    }];
    messages.extend(text.as_bytes().chunks(CHUNK).map(|c| ImportRecordsRequest {
        part: Some(Part::Csv(c.to_vec())),
    }));
    let started = Instant::now();
    let response = session
        .contacts()
        .import_records(tokio_stream::iter(messages))
        .await
        .unwrap()
        .into_inner();
    let elapsed = started.elapsed().as_secs_f64();
    assert_eq!(response.created as u64, rows, "{:?}", &response.results[..]);
    rows as f64 / elapsed
}

/// Inserts the same rows' records with plain multi-row INSERTs (no checks, index, audit or
/// events) into another tenant; returns rows per second.
pub(crate) async fn bulk_insert(suite: &Suite, rows: u64) -> f64 {
    let keys = DataKeys::derived(&[1; 32], vec![2; 32]);
    let cx = WriteContext {
        keys: &keys,
        phone_region: PhoneRegion::CHINA,
    };
    let text = rows_text(rows);
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    let models: Vec<_> = lines
        .enumerate()
        .map(|(n, line)| {
            let row: Row = header
                .iter()
                .map(|h| h.to_string())
                .zip(line.split(',').map(str::to_owned))
                .collect();
            let (input, _) = Contacts::from_row(&row).unwrap();
            let id = format!("0190c0c0-0000-7000-8000-{n:012}");
            Contacts::create("bulk-tenant", "bulk-owner".into(), (id, 0), input, &cx).unwrap()
        })
        .collect();
    let db = suite.contacts_db().await;
    let started = Instant::now();
    for batch in models.chunks(500) {
        let active: Vec<crm_contacts::entity::contact::ActiveModel> = batch
            .iter()
            .cloned()
            .map(|m| m.into_active_model().reset_all())
            .collect();
        crm_contacts::entity::contact::Entity::insert_many(active)
            .exec(&db)
            .await
            .unwrap();
    }
    rows as f64 / started.elapsed().as_secs_f64()
}
