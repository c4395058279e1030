//! What every service's gRPC adapter shares: the standard mutations wrapped for a request
//! (principal, required body, idempotency), and the import and export streams. An adapter
//! decodes its own messages and calls these; it holds no rules and no SQL.

use tokio_stream::wrappers::ReceiverStream;
use tonic::{Request, Response, Status, Streaming};

use crate::definitions::CustomFieldHost;
use crate::handlers::Upserted;
use crate::handlers::{Idempotency, Records};
use crate::import::{self, ImportSettings, RowReader, Tally};
use crate::resource::Resource;
use crate::tabular::Tabular;
use crm_platform::auth::principal;
use crm_platform::error::Error;
use crm_proto::common::{CustomFieldDefinition, DuplicatePolicy, ExportFormat, ImportOptions};
use crm_proto::{ImportPart, ImportRequest, ImportResponse};

/// The paths of an update mask.
pub fn mask(mask: Option<prost_types::FieldMask>) -> Vec<String> {
    mask.map(|m| m.paths).unwrap_or_default()
}

/// A stream of export bytes, wrapped in the service's response message.
pub type ExportStream<T> =
    std::pin::Pin<Box<dyn tokio_stream::Stream<Item = Result<T, Status>> + Send>>;

/// The mutation a request asks for: its full gRPC method name (which scopes idempotency
/// keys) and the client's request id.
#[derive(Debug, Clone, Copy)]
pub struct Call<'a> {
    /// Full method name.
    pub method: &'static str,
    /// Client-chosen request id, empty for none.
    pub request_id: &'a str,
}

impl<'a> Call<'a> {
    /// The idempotency context of `request`.
    pub fn idempotency<M>(self, request: &'a M) -> Idempotency<'a, M> {
        Idempotency {
            method: self.method,
            request_id: self.request_id,
            request,
        }
    }
}

/// What a create request carries.
#[derive(Debug, Clone)]
pub struct NewRecord<P> {
    /// The record, required.
    pub record: Option<P>,
    /// Save a duplicate anyway (for resources whose keys are not unique).
    pub allow_duplicates: bool,
}

/// What an update request carries.
#[derive(Debug, Clone)]
pub struct Change<P> {
    /// The record with its id, etag and new values, required.
    pub record: Option<P>,
    /// The fields to change.
    pub update_mask: Option<prost_types::FieldMask>,
    /// Save a duplicate anyway (for resources whose keys are not unique).
    pub allow_duplicates: bool,
}

/// The record a delete or undelete names, and the etag the client holds.
#[derive(Debug, Clone, Copy)]
pub struct RecordRef<'a> {
    /// Its id.
    pub id: &'a str,
    /// Checked when set.
    pub etag: &'a str,
}

impl Records {
    /// Creates the record a request carries (see [`Records::create`]).
    pub async fn create_rpc<R: Resource, M: prost::Message, Resp: prost::Message + Default>(
        &self,
        request: &Request<M>,
        call: Call<'_>,
        new: NewRecord<R::Proto>,
        wrap: fn(R::Proto) -> Resp,
    ) -> Result<Response<Resp>, Status> {
        let p = principal(request)?;
        let input = new
            .record
            .ok_or_else(|| Error::invalid(R::KIND, "is required"))?;
        let idem = call.idempotency(request.get_ref());
        let response = self
            .create::<R, _, _>(p, idem, (input, new.allow_duplicates), wrap)
            .await?;
        Ok(Response::new(response))
    }

    /// Creates or changes the record a request carries by its external id (see
    /// [`Records::upsert`]); the response also says which it did.
    pub async fn upsert_rpc<R: Resource, M: prost::Message, Resp: prost::Message + Default>(
        &self,
        request: &Request<M>,
        call: Call<'_>,
        record: Option<R::Proto>,
        wrap: fn(R::Proto, Upserted) -> Resp,
    ) -> Result<Response<Resp>, Status> {
        let p = principal(request)?;
        let input = record.ok_or_else(|| Error::invalid(R::KIND, "is required"))?;
        let idem = call.idempotency(request.get_ref());
        let response = self.upsert::<R, _, _>(p, idem, input, wrap).await?;
        Ok(Response::new(response))
    }

    /// Changes the record a request carries (see [`Records::update`]).
    pub async fn update_rpc<R: Resource, M: prost::Message, Resp: prost::Message + Default>(
        &self,
        request: &Request<M>,
        call: Call<'_>,
        change: Change<R::Proto>,
        wrap: fn(R::Proto) -> Resp,
    ) -> Result<Response<Resp>, Status> {
        let p = principal(request)?;
        let input = change
            .record
            .ok_or_else(|| Error::invalid(R::KIND, "is required"))?;
        let idem = call.idempotency(request.get_ref());
        let changed = (input, mask(change.update_mask), change.allow_duplicates);
        let response = self.update::<R, _, _>(p, idem, changed, wrap).await?;
        Ok(Response::new(response))
    }

    /// Deletes or restores the record a request names (see [`Records::set_deleted`]).
    pub async fn set_deleted_rpc<R: Resource, M: prost::Message, Resp: prost::Message + Default>(
        &self,
        request: &Request<M>,
        call: Call<'_>,
        (record, deleted): (RecordRef<'_>, bool),
        wrap: fn(R::Proto) -> Resp,
    ) -> Result<Response<Resp>, Status> {
        let p = principal(request)?;
        let idem = call.idempotency(request.get_ref());
        let response = self
            .set_deleted::<R, _, _>(p, idem, record.id, record.etag, deleted, wrap)
            .await?;
        Ok(Response::new(response))
    }

    /// Defines the custom field a request carries (see [`Records::create_custom_field`]).
    pub async fn create_custom_field_rpc<H: CustomFieldHost, M: prost::Message>(
        &self,
        request: &Request<M>,
        call: Call<'_>,
        definition: Option<CustomFieldDefinition>,
    ) -> Result<CustomFieldDefinition, Status> {
        let p = principal(request)?;
        let input = definition.ok_or_else(|| Error::invalid("custom_field", "is required"))?;
        let idem = call.idempotency(request.get_ref());
        Ok(self.create_custom_field::<H, _>(p, idem, input).await?)
    }

    /// Changes the custom field a request carries (see [`Records::update_custom_field`]).
    pub async fn update_custom_field_rpc<H: CustomFieldHost, M: prost::Message>(
        &self,
        request: &Request<M>,
        call: Call<'_>,
        (definition, update_mask): (
            Option<CustomFieldDefinition>,
            Option<prost_types::FieldMask>,
        ),
    ) -> Result<CustomFieldDefinition, Status> {
        let p = principal(request)?;
        let input = definition.ok_or_else(|| Error::invalid("custom_field", "is required"))?;
        let idem = call.idempotency(request.get_ref());
        Ok(self
            .update_custom_field::<H, _>(p, idem, input, mask(update_mask))
            .await?)
    }

    /// Removes the custom field a request names (see [`Records::delete_custom_field`]).
    pub async fn delete_custom_field_rpc<H: CustomFieldHost, M: prost::Message>(
        &self,
        request: &Request<M>,
        call: Call<'_>,
        definition: RecordRef<'_>,
    ) -> Result<(), Status> {
        let p = principal(request)?;
        let idem = call.idempotency(request.get_ref());
        Ok(self
            .delete_custom_field::<H, _>(p, idem, definition.id, definition.etag)
            .await?)
    }

    /// Reads an import stream after its options: CSV chunks or structured rows, numbered
    /// from 1, imported a batch at a time; answers the service's response.
    pub async fn import_stream<R: Tabular, M: ImportRequest, Resp: ImportResponse>(
        &self,
        principal: &crm_platform::auth::Principal,
        settings: ImportSettings,
        mut stream: Streaming<M>,
    ) -> Result<Resp, Status> {
        let mut tally = Tally::new(R::KIND);
        let mut rows = RowReader::default();
        let mut batch = Vec::with_capacity(import::BATCH_ROWS);
        while let Some(message) = stream.message().await? {
            match message.into_part() {
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
        Ok(Resp::from_summary(tally.finish(settings.dry_run)))
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
pub async fn import_options<M: ImportRequest>(
    stream: &mut Streaming<M>,
) -> Result<(ImportOptions, ImportSettings), Status> {
    let Some(ImportPart::Options(options)) = stream.message().await?.and_then(M::into_part) else {
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
        assign_by_rule: options.assign_by_rule,
    };
    Ok((options, settings))
}

/// The four custom-field RPCs of a service's gRPC adapter (Create, List, Update and
/// DeleteCustomField), which every service's contract declares with the same messages:
/// expand inside the service's `#[tonic::async_trait] impl`, with the service's messages in
/// scope, naming its [`CustomFieldHost`], its full service name with a trailing slash (which
/// scopes idempotency keys) and the adapter's field holding the `Records`.
///
/// The methods are written in the form `async_trait` gives the trait's (a boxed future over
/// the `'async_trait` lifetime), since that attribute does not reach into macro expansions.
#[macro_export]
macro_rules! custom_field_rpcs {
    ($host:ty, $service:literal, $records:ident) => {
        $crate::custom_field_rpcs!(@rpc create_custom_field, CreateCustomFieldRequest, CreateCustomFieldResponse, |this, request| {
            let r = request.get_ref();
            let call = $crate::rpc::Call { method: concat!($service, "CreateCustomField"), request_id: &r.request_id };
            let definition = r.custom_field.clone();
            let custom_field = this.$records.create_custom_field_rpc::<$host, _>(&request, call, definition).await?;
            Ok(tonic::Response::new(CreateCustomFieldResponse { custom_field: Some(custom_field) }))
        });
        $crate::custom_field_rpcs!(@rpc list_custom_fields, ListCustomFieldsRequest, ListCustomFieldsResponse, |this, request| {
            let principal = crm_platform::auth::principal(&request)?;
            let kind = &request.get_ref().resource_type;
            let custom_fields = this.$records.list_custom_fields::<$host>(principal, kind).await?;
            Ok(tonic::Response::new(ListCustomFieldsResponse { custom_fields }))
        });
        $crate::custom_field_rpcs!(@rpc update_custom_field, UpdateCustomFieldRequest, UpdateCustomFieldResponse, |this, request| {
            let r = request.get_ref();
            let call = $crate::rpc::Call { method: concat!($service, "UpdateCustomField"), request_id: &r.request_id };
            let change = (r.custom_field.clone(), r.update_mask.clone());
            let custom_field = this.$records.update_custom_field_rpc::<$host, _>(&request, call, change).await?;
            Ok(tonic::Response::new(UpdateCustomFieldResponse { custom_field: Some(custom_field) }))
        });
        $crate::custom_field_rpcs!(@rpc delete_custom_field, DeleteCustomFieldRequest, DeleteCustomFieldResponse, |this, request| {
            let r = request.get_ref();
            let call = $crate::rpc::Call { method: concat!($service, "DeleteCustomField"), request_id: &r.request_id };
            let definition = $crate::rpc::RecordRef { id: &r.id, etag: &r.etag };
            this.$records.delete_custom_field_rpc::<$host, _>(&request, call, definition).await?;
            Ok(tonic::Response::new(DeleteCustomFieldResponse {}))
        });
    };
    (@rpc $name:ident, $request:ident, $response:ident, |$this:ident, $req:ident| $body:block) => {
        $crate::rpc_method!($name, $request, $response, |$this, $req| $body);
    };
}

/// One method of a `#[tonic::async_trait]` service trait, written in the form the attribute
/// gives it (a boxed future over the `'async_trait` lifetime), for macros that expand inside
/// such an impl: the attribute does not reach into their expansions.
#[macro_export]
macro_rules! rpc_method {
    ($name:ident, $request:ident, $response:ident, |$this:ident, $req:ident| $body:block) => {
        fn $name<'life0, 'async_trait>(
            &'life0 self,
            $req: tonic::Request<$request>,
        ) -> ::core::pin::Pin<
            Box<
                dyn ::core::future::Future<
                        Output = Result<tonic::Response<$response>, tonic::Status>,
                    > + ::core::marker::Send
                    + 'async_trait,
            >,
        >
        where
            'life0: 'async_trait,
            Self: 'async_trait,
        {
            let $this = self;
            Box::pin(async move { $body })
        }
    };
}

/// A standard method of one resource in a service's gRPC adapter, over the shared handlers:
/// expand inside the service's `#[tonic::async_trait] impl`, with its messages in scope. Each
/// names the method, its request and response messages, the resource and the response's
/// field, and the adapter's field holding the `Records`; writes also name the full method
/// (it scopes idempotency keys).
///
/// ```ignore
/// crm_records::standard_rpc!(get get_lead(GetLeadRequest) -> GetLeadResponse { Leads => lead } in records);
/// crm_records::standard_rpc!(list list_leads(ListLeadsRequest) -> ListLeadsResponse { Leads => leads } in records);
/// crm_records::standard_rpc!(create "/crm.sales.v1.SalesService/CreateLead" create_lead(CreateLeadRequest)
///     -> CreateLeadResponse { Leads => lead, duplicates: allow_duplicates } in records);
/// ```
#[macro_export]
macro_rules! standard_rpc {
    (get $name:ident($request:ident) -> $response:ident { $resource:ty => $field:ident } in $records:ident) => {
        $crate::rpc_method!($name, $request, $response, |this, request| {
            let principal = crm_platform::auth::principal(&request)?;
            let found = this.$records.get::<$resource>(principal, &request.get_ref().id).await?;
            Ok(tonic::Response::new($response { $field: Some(found) }))
        });
    };
    (list $name:ident($request:ident) -> $response:ident { $resource:ty => $field:ident } in $records:ident) => {
        $crate::rpc_method!($name, $request, $response, |this, request| {
            let r = request.get_ref();
            let principal = crm_platform::auth::principal(&request)?;
            let query = (r.page_size, &r.page_token, &r.filter, &r.order_by, r.show_deleted);
            let (page, next_page_token) = this
                .$records
                .list::<$resource>(principal, query.0, query.1, query.2, query.3, query.4)
                .await?;
            Ok(tonic::Response::new($response { $field: page, next_page_token }))
        });
    };
    (create $method:literal $name:ident($request:ident) -> $response:ident { $resource:ty => $field:ident, duplicates: $allow:tt } in $records:ident) => {
        $crate::rpc_method!($name, $request, $response, |this, request| {
            let r = request.get_ref();
            let call = $crate::rpc::Call { method: $method, request_id: &r.request_id };
            let new = $crate::rpc::NewRecord {
                record: r.$field.clone(),
                allow_duplicates: $crate::standard_rpc!(@allow r, $allow),
            };
            this.$records
                .create_rpc::<$resource, _, _>(&request, call, new, |record| $response {
                    $field: Some(record),
                })
                .await
        });
    };
    (update $method:literal $name:ident($request:ident) -> $response:ident { $resource:ty => $field:ident, duplicates: $allow:tt } in $records:ident) => {
        $crate::rpc_method!($name, $request, $response, |this, request| {
            let r = request.get_ref();
            let call = $crate::rpc::Call { method: $method, request_id: &r.request_id };
            let change = $crate::rpc::Change {
                record: r.$field.clone(),
                update_mask: r.update_mask.clone(),
                allow_duplicates: $crate::standard_rpc!(@allow r, $allow),
            };
            this.$records
                .update_rpc::<$resource, _, _>(&request, call, change, |record| $response {
                    $field: Some(record),
                })
                .await
        });
    };
    (upsert $method:literal $name:ident($request:ident) -> $response:ident { $resource:ty => $field:ident } in $records:ident) => {
        $crate::rpc_method!($name, $request, $response, |this, request| {
            let r = request.get_ref();
            let call = $crate::rpc::Call { method: $method, request_id: &r.request_id };
            this.$records
                .upsert_rpc::<$resource, _, _>(&request, call, r.$field.clone(), |record, done| {
                    $response { $field: Some(record), outcome: done.wire() }
                })
                .await
        });
    };
    (delete $method:literal $name:ident($request:ident) -> $response:ident { $resource:ty => $field:ident } in $records:ident) => {
        $crate::standard_rpc!(@deleted true, $method, $name, $request, $response, $resource, $field, $records);
    };
    (undelete $method:literal $name:ident($request:ident) -> $response:ident { $resource:ty => $field:ident } in $records:ident) => {
        $crate::standard_rpc!(@deleted false, $method, $name, $request, $response, $resource, $field, $records);
    };
    (@deleted $deleted:literal, $method:literal, $name:ident, $request:ident, $response:ident, $resource:ty, $field:ident, $records:ident) => {
        $crate::rpc_method!($name, $request, $response, |this, request| {
            let r = request.get_ref();
            let call = $crate::rpc::Call { method: $method, request_id: &r.request_id };
            let record = $crate::rpc::RecordRef { id: &r.id, etag: &r.etag };
            this.$records
                .set_deleted_rpc::<$resource, _, _>(&request, call, (record, $deleted), |record| {
                    $response { $field: Some(record) }
                })
                .await
        });
    };
    (@allow $r:ident, allow_duplicates) => { $r.allow_duplicates };
    (@allow $r:ident, never) => { false };
}
