//! Exporting the records a filtered List returns, as CSV or XLSX, with a column
//! for each custom field. Pages are read with the List query (so the caller's data scope and
//! the masking of sensitive fields apply unchanged). CSV is streamed page by page; a workbook
//! is written on a blocking thread in constant memory and streamed as it is compressed.

use tokio::sync::mpsc;

use crate::custom_fields;
use crate::handlers::Records;
use crate::tabular::{CUSTOM_PREFIX, Tabular};
use crm_platform::audit;
use crm_platform::auth::Principal;
use crm_platform::csv;
use crm_platform::error::Error;
use crm_platform::xlsx::{self, Column};
use crm_proto::common::ExportFormat;

/// Records read per page.
const PAGE: i32 = 1000;
/// Most bytes in one streamed message (well under the 4 MiB message limit).
const CHUNK: usize = 1 << 20;

/// Where an export's bytes go: each service wraps them in its own `ExportRecordsResponse`.
pub type Sender = mpsc::Sender<Result<Vec<u8>, Error>>;

/// Sends bytes in messages of at most [`CHUNK`]; false when the client went away.
async fn send(tx: &Sender, bytes: Vec<u8>) -> bool {
    if bytes.len() <= CHUNK {
        return tx.send(Ok(bytes)).await.is_ok();
    }
    for chunk in bytes.chunks(CHUNK) {
        if tx.send(Ok(chunk.to_vec())).await.is_err() {
            return false;
        }
    }
    true
}

/// The custom fields among the columns, by name.
fn custom_names(columns: &[Column]) -> Vec<&str> {
    columns
        .iter()
        .filter_map(|c| c.name.strip_prefix(CUSTOM_PREFIX))
        .collect()
}

/// Writes a workbook's bytes into the response stream, a message per [`CHUNK`]; from the
/// blocking thread that writes the workbook. Fails once the client is gone, which stops it.
struct ChunkWriter {
    tx: Sender,
    buffer: Vec<u8>,
}

impl ChunkWriter {
    fn send(&mut self) -> std::io::Result<()> {
        if self.buffer.is_empty() {
            return Ok(());
        }
        let chunk = std::mem::take(&mut self.buffer);
        self.tx
            .blocking_send(Ok(chunk))
            .map_err(|_| std::io::Error::new(std::io::ErrorKind::BrokenPipe, "client went away"))
    }
}

impl std::io::Write for ChunkWriter {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.buffer.extend_from_slice(bytes);
        if self.buffer.len() >= CHUNK {
            self.send()?;
        }
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.send()
    }
}

impl Records {
    /// Checks an export request and records it in the audit log; returns the columns.
    pub async fn start_export<R: Tabular>(
        &self,
        principal: &Principal,
        filter: &str,
        format: ExportFormat,
    ) -> Result<Vec<Column>, Error> {
        principal.require(R::READ)?;
        // The first page checks the filter before anything is streamed.
        self.list::<R>(principal, 1, "", filter, "", false).await?;
        let definitions =
            custom_fields::definitions(&self.db, &principal.tenant_id, R::KIND, false).await?;
        let mut columns: Vec<Column> = R::COLUMNS
            .iter()
            .map(|c| Column {
                name: (*c).to_owned(),
                kind: R::cell_kind(c),
            })
            .collect();
        columns.extend(definitions.iter().map(|d| Column {
            name: format!("{CUSTOM_PREFIX}{}", d.name),
            kind: crate::tabular::custom_cell_kind(d.field_type),
        }));
        let change = audit::Change {
            field: "filter".to_owned(),
            before: String::new(),
            after: format!("{} ({})", R::redacted_filter(filter), format.as_str_name()),
        };
        audit::record(&self.db, principal, R::KIND, "", "export", &[change]).await?;
        Ok(columns)
    }

    /// Streams the file to `tx`; errors after the start travel as the stream's last item.
    pub async fn stream_export<R: Tabular>(
        self,
        principal: Principal,
        filter: String,
        format: ExportFormat,
        columns: Vec<Column>,
        tx: Sender,
    ) {
        let result = match format {
            ExportFormat::Xlsx => {
                self.write_workbook::<R>(&principal, &filter, columns, &tx)
                    .await
            }
            _ => {
                self.write_csv::<R>(&principal, &filter, &columns, &tx)
                    .await
            }
        };
        if let Err(e) = result {
            let _ = tx.send(Err(e)).await;
        }
    }

    /// One page of the export's rows, and the next page's token (empty after the last).
    async fn export_page<R: Tabular>(
        &self,
        principal: &Principal,
        filter: &str,
        custom: &[&str],
        token: &str,
    ) -> Result<(Vec<Vec<String>>, String), Error> {
        let (page, next) = self
            .list::<R>(principal, PAGE, token, filter, "", false)
            .await?;
        let rows = page
            .iter()
            .map(|proto| {
                let mut cells = R::to_row(proto);
                let values = R::custom(proto);
                cells.extend(
                    custom
                        .iter()
                        .map(|name| values.get(*name).cloned().unwrap_or_default()),
                );
                cells
            })
            .collect();
        Ok((rows, next))
    }

    async fn write_csv<R: Tabular>(
        &self,
        principal: &Principal,
        filter: &str,
        columns: &[Column],
        tx: &Sender,
    ) -> Result<(), Error> {
        let custom = custom_names(columns);
        let mut buffer = csv::BOM.to_vec();
        let mut writer = csv::CsvWriter::new();
        let names: Vec<&str> = columns.iter().map(|c| c.name.as_str()).collect();
        writer.write(&names)?;
        let mut token = String::new();
        loop {
            let (rows, next) = self
                .export_page::<R>(principal, filter, &custom, &token)
                .await?;
            for row in &rows {
                writer.write(row)?;
            }
            buffer.extend(writer.take()?);
            if !send(tx, std::mem::take(&mut buffer)).await || next.is_empty() {
                return Ok(());
            }
            token = next;
        }
    }

    async fn write_workbook<R: Tabular>(
        &self,
        principal: &Principal,
        filter: &str,
        columns: Vec<Column>,
        tx: &Sender,
    ) -> Result<(), Error> {
        let (rows_tx, mut rows_rx) = mpsc::channel::<Vec<String>>(PAGE as usize);
        let writer = ChunkWriter {
            tx: tx.clone(),
            buffer: Vec::with_capacity(CHUNK),
        };
        let sheet_columns = columns.clone();
        let workbook = tokio::task::spawn_blocking(move || {
            let rows = std::iter::from_fn(|| rows_rx.blocking_recv());
            let mut writer = writer;
            let written = xlsx::write_workbook(R::KIND, &sheet_columns, rows, &mut writer);
            // What the archive left in the buffer goes too; a gone client is no error here.
            let _ = std::io::Write::flush(&mut writer);
            written
        });
        let custom = custom_names(&columns);
        let fed = async {
            let mut token = String::new();
            loop {
                let (rows, next) = self
                    .export_page::<R>(principal, filter, &custom, &token)
                    .await?;
                for row in rows {
                    // The workbook's thread stopped (the client went away, or it failed).
                    if rows_tx.send(row).await.is_err() {
                        return Ok(());
                    }
                }
                if next.is_empty() {
                    return Ok::<(), Error>(());
                }
                token = next;
            }
        }
        .await;
        drop(rows_tx);
        let written = workbook.await.map_err(Error::internal)?;
        fed?;
        written.map(|_| ())
    }
}
