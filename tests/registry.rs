//! One registry of services drives every way the suite runs: `crm up`, `crm serve`, the
//! gateway's routes and this harness. A scenario starts only the targets it needs, and what
//! is not deployed is absent, not broken.

// Helpers panic on purpose: a failed step is a failed test with a clear message.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::support;

use tonic::Code;
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;

use crm_proto::contacts::ListContactsRequest;
use crm_proto::identity::{DeactivateUserRequest, GetUserRequest, UserState};
use support::clients::{expect_code, reason};
use support::{Mode, Suite, org};

/// The health of `service` as the process serving it reports it: the gateway for its own
/// services and for everything under `crm up`, the service's own process under `crm serve`.
async fn serving(suite: &Suite, service: &str) -> Result<ServingStatus, tonic::Status> {
    let owner = crm::registry::services()
        .iter()
        .find(|m| m.grpc_services().contains(&service))
        .and_then(|m| suite.service_addr(m.name()));
    let channel = match owner {
        Some(addr) => tonic::transport::Endpoint::from_shared(format!("http://{addr}"))
            .unwrap()
            .connect()
            .await
            .unwrap(),
        None => suite.channel().await,
    };
    let response = HealthClient::new(channel)
        .check(HealthCheckRequest {
            service: service.into(),
        })
        .await?;
    Ok(response.into_inner().status())
}

/// The whole registry: every registered service is deployed, reported healthy through the
/// gateway, and reached by its routes.
async fn every_registered_service_runs(mode: Mode) {
    let suite = Suite::start(mode).await;
    let admin = suite.admin().await;
    assert!(!crm::registry::services().is_empty());
    for module in crm::registry::services() {
        for service in module.grpc_services() {
            assert_eq!(
                serving(&suite, service).await.unwrap(),
                ServingStatus::Serving,
                "{service}"
            );
        }
        if mode == Mode::Distributed {
            assert!(suite.service_addr(module.name()).is_some());
        }
    }
    admin.contact_names("").await.unwrap();
}

/// A gateway started alone signs people in and runs identity; the services it was not given
/// answer as absent, and a call that needs one is refused before it changes anything.
async fn a_gateway_alone_serves_identity(mode: Mode) {
    let suite = Suite::builder(mode).services(&[]).start().await;
    let admin = suite.admin().await;
    let o = org::build(&suite, admin.clone(), "alone").await;
    assert_eq!(
        serving(&suite, "crm.identity.v1.IdentityService")
            .await
            .unwrap(),
        ServingStatus::Serving
    );
    for module in crm::registry::services() {
        for service in module.grpc_services() {
            expect_code(serving(&suite, service).await, Code::NotFound);
        }
    }
    expect_code(
        admin
            .contacts()
            .list_contacts(ListContactsRequest::default())
            .await,
        Code::Unimplemented,
    );
    let refused = expect_code(
        admin
            .identity()
            .deactivate_user(DeactivateUserRequest {
                user_id: o.rep1.user_id.clone(),
                successor_user_id: o.rep2.user_id.clone(),
                request_id: String::new(),
            })
            .await,
        Code::FailedPrecondition,
    );
    assert_eq!(reason(&refused), "SERVICE_NOT_DEPLOYED");
    let rep1 = admin
        .identity()
        .get_user(GetUserRequest {
            id: o.rep1.user_id.clone(),
        })
        .await
        .unwrap()
        .into_inner()
        .user
        .unwrap();
    assert_eq!(rep1.state, UserState::Active as i32);
    if mode == Mode::Distributed {
        assert!(suite.database_name("contacts").is_none());
        assert!(suite.database_name("gateway").is_some());
    } else {
        assert!(!suite.data_dir.join("contacts.db").exists());
    }
}

both_modes!(
    every_registered_service_runs,
    a_gateway_alone_serves_identity
);
