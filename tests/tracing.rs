//! Distributed tracing: with `OTEL_EXPORTER_OTLP_ENDPOINT` set, each target exports its spans
//! over OTLP, and a caller's W3C trace context flows through the gateway into the service, so
//! one trace holds the whole call.

// Helpers panic on purpose: a failed step is a failed test with a clear message.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::support;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{
    TraceService, TraceServiceServer,
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use tonic::metadata::MetadataValue;

use crm_proto::contacts::*;
use support::{Mode, Suite};

/// (service name, trace id as hex, span name)
type Seen = Arc<Mutex<Vec<(String, String, String)>>>;

#[derive(Clone)]
struct Collector(Seen);

#[tonic::async_trait]
impl TraceService for Collector {
    async fn export(
        &self,
        request: tonic::Request<ExportTraceServiceRequest>,
    ) -> Result<tonic::Response<ExportTraceServiceResponse>, tonic::Status> {
        let mut seen = self.0.lock().unwrap();
        for resource_spans in request.into_inner().resource_spans {
            let service = resource_spans
                .resource
                .iter()
                .flat_map(|r| &r.attributes)
                .find(|kv| kv.key == "service.name")
                .and_then(|kv| kv.value.as_ref())
                .map(|v| format!("{:?}", v.value))
                .unwrap_or_default();
            for scope in resource_spans.scope_spans {
                for span in scope.spans {
                    let trace_id: String =
                        span.trace_id.iter().map(|b| format!("{b:02x}")).collect();
                    seen.push((service.clone(), trace_id, span.name));
                }
            }
        }
        Ok(tonic::Response::new(ExportTraceServiceResponse {
            partial_success: None,
        }))
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_trace_spans_caller_gateway_and_service() {
    let seen: Seen = Arc::default();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let endpoint = format!("http://{}", listener.local_addr().unwrap());
    let collector = Collector(seen.clone());
    tokio::spawn(async move {
        tonic::transport::Server::builder()
            .add_service(TraceServiceServer::new(collector))
            .serve_with_incoming(tokio_stream::wrappers::TcpListenerStream::new(listener))
            .await
    });

    let suite = Suite::start_with(
        Mode::Distributed,
        &[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", &endpoint),
            ("OTEL_BSP_SCHEDULE_DELAY", "100"),
        ],
    )
    .await;
    let admin = suite.admin().await;
    let trace_id = "4bf92f3577b34da6a3ce929d0e0e4736";
    let mut request = tonic::Request::new(ListContactsRequest::default());
    request.metadata_mut().insert(
        "traceparent",
        MetadataValue::try_from(format!("00-{trace_id}-00f067aa0ba902b7-01")).unwrap(),
    );
    admin.contacts().list_contacts(request).await.unwrap();

    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let services: Vec<String> = seen
            .lock()
            .unwrap()
            .iter()
            .filter(|(_, id, _)| id == trace_id)
            .map(|(service, _, _)| service.clone())
            .collect();
        let gateway = services.iter().any(|s| s.contains("crm-gateway"));
        let contacts = services.iter().any(|s| s.contains("crm-contacts"));
        if gateway && contacts {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "trace {trace_id} not exported by both targets: {services:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
