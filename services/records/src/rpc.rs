//! What every service's gRPC adapter shares: the standard mutations wrapped for a request
//! (principal, required body, idempotency), and the import and export streams. An adapter
//! decodes its own messages and calls these; it holds no rules and no SQL.

use tokio_stream::wrappers::ReceiverStream;
use tonic::{Request, Response, Status, Streaming};

use crate::handlers::{Idempotency, Records};
use crate::import::{self, ImportSettings, ImportSummary, RowReader, Tally};
use crate::resource::Resource;
use crate::tabular::Tabular;
use crm_platform::auth::principal;
use crm_platform::error::Error;
use crm_proto::common::{DuplicatePolicy, ExportFormat, ImportOptions, ImportRows};

/// The paths of an update mask.
pub fn mask(mask: Option<prost_types::FieldMask>) -> Vec<String> {
    mask.map(|m| m.paths).unwrap_or_default()
}

/// One message of an import stream, as every service's `ImportRecordsRequest` carries it.
#[derive(Debug)]
pub enum ImportPart {
    /// The first message.
    Options(ImportOptions),
    /// The next bytes of a CSV file.
    Csv(Vec<u8>),
    /// Structured rows.
    Rows(ImportRows),
}

/// Reads one message of a service's import stream as the shared [`ImportPart`].
pub type ReadPart<M> = fn(M) -> Option<ImportPart>;

/// A stream of export bytes, wrapped in the service's response message.
pub type ExportStream<T> =
    std::pin::Pin<Box<dyn tokio_stream::Stream<Item = Result<T, Status>> + Send>>;

impl Records {
    /// Creates the record a request carries (see [`Records::create`]).
    pub async fn create_rpc<R: Resource, M: prost::Message, Resp: prost::Message + Default>(
        &self,
        request: &Request<M>,
        (method, request_id): (&'static str, &str),
        (input, allow_duplicates): (Option<R::Proto>, bool),
        wrap: fn(R::Proto) -> Resp,
    ) -> Result<Response<Resp>, Status> {
        let p = principal(request)?;
        let input = input.ok_or_else(|| Error::invalid(R::KIND, "is required"))?;
        let idem = Idempotency {
            method,
            request_id,
            request: request.get_ref(),
        };
        let response = self
            .create::<R, _, _>(p, idem, (input, allow_duplicates), wrap)
            .await?;
        Ok(Response::new(response))
    }

    /// Changes the record a request carries (see [`Records::update`]).
    pub async fn update_rpc<R: Resource, M: prost::Message, Resp: prost::Message + Default>(
        &self,
        request: &Request<M>,
        (method, request_id): (&'static str, &str),
        (input, update_mask, allow_duplicates): (
            Option<R::Proto>,
            Option<prost_types::FieldMask>,
            bool,
        ),
        wrap: fn(R::Proto) -> Resp,
    ) -> Result<Response<Resp>, Status> {
        let p = principal(request)?;
        let input = input.ok_or_else(|| Error::invalid(R::KIND, "is required"))?;
        let idem = Idempotency {
            method,
            request_id,
            request: request.get_ref(),
        };
        let response = self
            .update::<R, _, _>(p, idem, (input, mask(update_mask), allow_duplicates), wrap)
            .await?;
        Ok(Response::new(response))
    }

    /// Deletes or restores the record a request names (see [`Records::set_deleted`]).
    pub async fn set_deleted_rpc<R: Resource, M: prost::Message, Resp: prost::Message + Default>(
        &self,
        request: &Request<M>,
        method: &'static str,
        (id, etag, request_id): (&str, &str, &str),
        deleted: bool,
        wrap: fn(R::Proto) -> Resp,
    ) -> Result<Response<Resp>, Status> {
        let p = principal(request)?;
        let idem = Idempotency {
            method,
            request_id,
            request: request.get_ref(),
        };
        let response = self
            .set_deleted::<R, _, _>(p, idem, id, etag, deleted, wrap)
            .await?;
        Ok(Response::new(response))
    }

    /// Reads an import stream after its options: CSV chunks or structured rows, numbered
    /// from 1, imported a batch at a time.
    pub async fn import_stream<R: Tabular, M: prost::Message + Default>(
        &self,
        principal: &crm_platform::auth::Principal,
        settings: ImportSettings,
        (mut stream, part): (Streaming<M>, ReadPart<M>),
    ) -> Result<ImportSummary, Status> {
        let mut tally = Tally::new(R::KIND);
        let mut rows = RowReader::default();
        let mut batch = Vec::with_capacity(import::BATCH_ROWS);
        while let Some(message) = stream.message().await? {
            match part(message) {
                Some(ImportPart::Csv(bytes)) => rows.csv(&bytes, &mut batch)?,
                Some(ImportPart::Rows(structured)) => {
                    rows.structured(structured.rows, &mut batch)?
                }
                _ => return Err(Error::invalid("part", "options come once, first").into()),
            }
            import::check_row_count(rows.rows_read())?;
            // One message may carry thousands of short rows: each batch stays one bounded
            // transaction however the client chunks its file.
            while batch.len() >= import::BATCH_ROWS {
                let rest = batch.split_off(import::BATCH_ROWS);
                let full = std::mem::replace(&mut batch, rest);
                self.import_batch::<R>(principal, settings, full, &mut tally)
                    .await?;
            }
        }
        rows.finish(&mut batch);
        import::check_row_count(rows.rows_read())?;
        for chunk in batch.chunks(import::BATCH_ROWS) {
            self.import_batch::<R>(principal, settings, chunk.to_vec(), &mut tally)
                .await?;
        }
        Ok(tally.finish(settings.dry_run))
    }

    /// Checks an export and streams its file in the service's response messages.
    pub async fn export_stream<R: Tabular, T: Send + 'static>(
        &self,
        principal: crm_platform::auth::Principal,
        (filter, format): (String, i32),
        wrap: fn(Vec<u8>) -> T,
    ) -> Result<ExportStream<T>, Status> {
        let format = ExportFormat::try_from(format)
            .map_err(|_| Error::invalid("format", "must be CSV or XLSX"))?;
        let header = self.start_export::<R>(&principal, &filter, format).await?;
        let (tx, rx) = tokio::sync::mpsc::channel(4);
        tokio::spawn(
            self.clone()
                .stream_export::<R>(principal, filter, format, header, tx),
        );
        let chunks = tokio_stream::StreamExt::map(ReceiverStream::new(rx), move |bytes| {
            bytes.map(wrap).map_err(Status::from)
        });
        Ok(Box::pin(chunks))
    }
}

/// The options an import stream opens with, and how its rows are written.
pub async fn import_options<M: prost::Message + Default>(
    stream: &mut Streaming<M>,
    part: ReadPart<M>,
) -> Result<(ImportOptions, ImportSettings), Status> {
    let Some(ImportPart::Options(options)) = stream.message().await?.and_then(part) else {
        return Err(Error::invalid("options", "the first message must carry the options").into());
    };
    let policy = DuplicatePolicy::try_from(options.duplicate_policy)
        .ok()
        .filter(|p| *p != DuplicatePolicy::Unspecified)
        .ok_or_else(|| {
            Error::invalid("options.duplicate_policy", "must be skip, update or create")
        })?;
    let settings = ImportSettings {
        dry_run: options.dry_run,
        policy,
    };
    Ok((options, settings))
}
