//! Exporting the accounts or contacts a filtered List returns, as CSV or XLSX, with a column
//! for each custom field. Pages are read with the List query (so the caller's data scope and
//! the masking of sensitive fields apply unchanged) and streamed as they are written.

use tokio::sync::mpsc;
use tonic::Status;

use crate::custom_fields;
use crate::handlers::Handlers;
use crate::sensitive;
use crate::tabular::{CUSTOM_PREFIX, Tabular};
use crm_platform::audit;
use crm_platform::auth::Principal;
use crm_platform::csv;
use crm_platform::error::Error;
use crm_platform::xlsx::{MAX_ROWS, SheetWriter};
use crm_proto::contacts::{ExportFormat, ExportRecordsResponse};

/// Records read per page.
const PAGE: i32 = 1000;
/// Most bytes in one streamed message (well under the 4 MiB message limit).
const CHUNK: usize = 1 << 20;

type Sender = mpsc::Sender<Result<ExportRecordsResponse, Status>>;

/// Sends bytes in messages of at most [`CHUNK`]; false when the client went away.
async fn send(tx: &Sender, bytes: Vec<u8>) -> bool {
    if bytes.len() <= CHUNK {
        return tx
            .send(Ok(ExportRecordsResponse { chunk: bytes }))
            .await
            .is_ok();
    }
    for chunk in bytes.chunks(CHUNK) {
        let message = ExportRecordsResponse {
            chunk: chunk.to_vec(),
        };
        if tx.send(Ok(message)).await.is_err() {
            return false;
        }
    }
    true
}

impl Handlers {
    /// Checks an export request and records it in the audit log; returns the header.
    pub async fn start_export<R: Tabular>(
        &self,
        principal: &Principal,
        filter: &str,
        format: ExportFormat,
    ) -> Result<Vec<String>, Error> {
        principal.require(R::READ)?;
        // The first page checks the filter before anything is streamed.
        self.list::<R>(principal, 1, "", filter, "", false).await?;
        let definitions =
            custom_fields::definitions(&self.db, &principal.tenant_id, R::KIND, false).await?;
        let mut header: Vec<String> = R::COLUMNS.iter().map(|c| (*c).to_owned()).collect();
        header.extend(
            definitions
                .iter()
                .map(|d| format!("{CUSTOM_PREFIX}{}", d.name)),
        );
        let change = audit::Change {
            field: "filter".to_owned(),
            before: String::new(),
            after: format!(
                "{} ({})",
                sensitive::redacted_filter(filter),
                format.as_str_name()
            ),
        };
        audit::record(&self.db, principal, R::KIND, "", "export", &[change]).await?;
        Ok(header)
    }

    /// Streams the file to `tx`; errors after the start travel as the stream's last item.
    pub async fn stream_export<R: Tabular>(
        self,
        principal: Principal,
        filter: String,
        format: ExportFormat,
        header: Vec<String>,
        tx: Sender,
    ) {
        if let Err(e) = self
            .write_export::<R>(&principal, &filter, format, &header, &tx)
            .await
        {
            let _ = tx.send(Err(e.into())).await;
        }
    }

    async fn write_export<R: Tabular>(
        &self,
        principal: &Principal,
        filter: &str,
        format: ExportFormat,
        header: &[String],
        tx: &Sender,
    ) -> Result<(), Error> {
        let custom: Vec<&str> = header
            .iter()
            .filter_map(|h| h.strip_prefix(CUSTOM_PREFIX))
            .collect();
        let cells = |proto: &R::Proto| {
            let mut cells = R::to_row(proto);
            let values = R::custom(proto);
            cells.extend(
                custom
                    .iter()
                    .map(|name| values.get(*name).cloned().unwrap_or_default()),
            );
            cells
        };
        let mut sheet = SheetWriter::new(R::KIND);
        let mut buffer = csv::BOM.to_vec();
        match format {
            ExportFormat::Xlsx => sheet.row(header),
            _ => csv::write_record(&mut buffer, header),
        }
        let mut token = String::new();
        loop {
            let (page, next) = self
                .list::<R>(principal, PAGE, &token, filter, "", false)
                .await?;
            for proto in &page {
                let row = cells(proto);
                match format {
                    ExportFormat::Xlsx => {
                        if sheet.rows() > MAX_ROWS {
                            return Err(Error::precondition(
                                "TOO_MANY_ROWS",
                                "a workbook holds 1,048,575 rows: export CSV or narrow the filter",
                            ));
                        }
                        sheet.row(&row);
                    }
                    _ => csv::write_record(&mut buffer, &row),
                }
            }
            // Each page leaves as soon as it is written, in either format.
            let chunk = match format {
                ExportFormat::Xlsx => sheet.take(),
                _ => std::mem::take(&mut buffer),
            };
            if !send(tx, chunk).await {
                return Ok(());
            }
            if next.is_empty() {
                break;
            }
            token = next;
        }
        if format == ExportFormat::Xlsx {
            send(tx, sheet.finish()).await;
        }
        Ok(())
    }
}
