//! Signed-in sessions and the assertions tests use on statuses.

use tonic::metadata::MetadataValue;
use tonic::service::Interceptor;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::Channel;
use tonic::{Code, Request, Status};
use tonic_types::StatusExt as _;

use crm_proto::contacts::contacts_service_client::ContactsServiceClient;
use crm_proto::identity::LoginRequest;
use crm_proto::identity::auth_service_client::AuthServiceClient;
use crm_proto::identity::identity_service_client::IdentityServiceClient;
use crm_proto::sales::sales_service_client::SalesServiceClient;
use crm_proto::servicedesk::servicedesk_service_client::ServicedeskServiceClient;

use super::Suite;

/// Adds one credential header to every call.
#[derive(Clone, Debug)]
pub struct Credential {
    header: &'static str,
    value: MetadataValue<tonic::metadata::Ascii>,
}

impl Credential {
    /// A bearer token.
    pub fn bearer(token: &str) -> Self {
        Credential {
            header: "authorization",
            value: format!("Bearer {token}").parse().unwrap(),
        }
    }
}

impl Interceptor for Credential {
    fn call(&mut self, mut request: Request<()>) -> Result<Request<()>, Status> {
        request
            .metadata_mut()
            .insert(self.header, self.value.clone());
        Ok(request)
    }
}

/// A caller: a channel to the gateway and a credential.
#[derive(Clone, Debug)]
pub struct Session {
    pub channel: Channel,
    pub credential: Credential,
    pub user_id: String,
    pub tenant_id: String,
}

impl Session {
    /// Signs in with email and password.
    pub async fn login(suite: &Suite, email: &str, password: &str) -> Result<Session, Status> {
        let channel = suite.channel().await;
        let response = AuthServiceClient::new(channel.clone())
            .login(LoginRequest {
                email: email.into(),
                password: password.into(),
            })
            .await?
            .into_inner();
        Ok(Session {
            channel,
            credential: Credential {
                header: "authorization",
                value: format!("Bearer {}", response.access_token).parse().unwrap(),
            },
            user_id: response.user_id,
            tenant_id: response.tenant_id,
        })
    }

    /// A session that authenticates with an API key.
    pub async fn api_key(suite: &Suite, secret: &str) -> Session {
        Session {
            channel: suite.channel().await,
            credential: Credential {
                header: "x-api-key",
                value: secret.parse().unwrap(),
            },
            user_id: String::new(),
            tenant_id: String::new(),
        }
    }

    /// Creates a contact with just a display name.
    pub async fn create_contact(&self, name: &str) -> crm_proto::contacts::Contact {
        use crm_proto::contacts::{Contact, CreateContactRequest};
        self.contacts()
            .create_contact(CreateContactRequest {
                allow_duplicates: false,
                contact: Some(Contact {
                    display_name: name.into(),
                    ..Default::default()
                }),
                request_id: String::new(),
            })
            .await
            .unwrap()
            .into_inner()
            .contact
            .unwrap()
    }

    /// Creates a contact of an account, with just a display name.
    pub async fn create_contact_of(
        &self,
        name: &str,
        account_id: &str,
    ) -> crm_proto::contacts::Contact {
        use crm_proto::contacts::{Contact, CreateContactRequest};
        self.contacts()
            .create_contact(CreateContactRequest {
                allow_duplicates: false,
                contact: Some(Contact {
                    display_name: name.into(),
                    account_id: account_id.into(),
                    ..Default::default()
                }),
                request_id: String::new(),
            })
            .await
            .unwrap()
            .into_inner()
            .contact
            .unwrap()
    }

    /// Creates an account with just a display name.
    pub async fn create_account(&self, name: &str) -> crm_proto::contacts::Account {
        use crm_proto::contacts::{Account, CreateAccountRequest};
        self.contacts()
            .create_account(CreateAccountRequest {
                account: Some(Account {
                    display_name: name.into(),
                    ..Default::default()
                }),
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner()
            .account
            .unwrap()
    }

    /// A contact the caller can see.
    pub async fn get_contact(&self, id: &str) -> crm_proto::contacts::Contact {
        self.contacts()
            .get_contact(crm_proto::contacts::GetContactRequest { id: id.into() })
            .await
            .unwrap()
            .into_inner()
            .contact
            .unwrap()
    }

    /// An account the caller can see.
    pub async fn get_account(&self, id: &str) -> crm_proto::contacts::Account {
        self.contacts()
            .get_account(crm_proto::contacts::GetAccountRequest { id: id.into() })
            .await
            .unwrap()
            .into_inner()
            .account
            .unwrap()
    }

    /// The contacts a filtered List returns (the first 1,000).
    pub async fn list_contacts(
        &self,
        filter: &str,
    ) -> Result<Vec<crm_proto::contacts::Contact>, Status> {
        Ok(self
            .contacts()
            .list_contacts(crm_proto::contacts::ListContactsRequest {
                page_size: 1000,
                filter: filter.into(),
                ..Default::default()
            })
            .await?
            .into_inner()
            .contacts)
    }

    /// The display names of those contacts, sorted.
    pub async fn contact_names(&self, filter: &str) -> Result<Vec<String>, Status> {
        let mut names: Vec<String> = self
            .list_contacts(filter)
            .await?
            .into_iter()
            .map(|c| c.display_name)
            .collect();
        names.sort();
        Ok(names)
    }

    pub fn contacts(&self) -> ContactsServiceClient<InterceptedService<Channel, Credential>> {
        ContactsServiceClient::with_interceptor(self.channel.clone(), self.credential.clone())
    }

    pub fn sales(&self) -> SalesServiceClient<InterceptedService<Channel, Credential>> {
        SalesServiceClient::with_interceptor(self.channel.clone(), self.credential.clone())
    }

    pub fn servicedesk(&self) -> ServicedeskServiceClient<InterceptedService<Channel, Credential>> {
        ServicedeskServiceClient::with_interceptor(self.channel.clone(), self.credential.clone())
    }

    pub fn identity(&self) -> IdentityServiceClient<InterceptedService<Channel, Credential>> {
        IdentityServiceClient::with_interceptor(self.channel.clone(), self.credential.clone())
    }
}

/// Asserts a call failed with `code`, returning the status for more checks.
#[track_caller]
pub fn expect_code<T: std::fmt::Debug>(result: Result<T, Status>, code: Code) -> Status {
    match result {
        Ok(value) => panic!("expected {code:?}, got OK: {value:?}"),
        Err(status) => {
            assert_eq!(status.code(), code, "unexpected status: {status:?}");
            status
        }
    }
}

/// Asserts an `INVALID_ARGUMENT` naming `field` among its violations.
#[track_caller]
pub fn expect_invalid<T: std::fmt::Debug>(result: Result<T, Status>, field: &str) {
    let status = expect_code(result, Code::InvalidArgument);
    let fields = violations(&status);
    assert!(
        fields.iter().any(|f| f == field),
        "expected a violation on {field}, got {fields:?}"
    );
    assert_eq!(reason(&status), "INVALID_ARGUMENT");
}

/// The fields an `INVALID_ARGUMENT` names, in order.
pub fn violations(status: &Status) -> Vec<String> {
    status
        .get_error_details()
        .bad_request()
        .map(|b| b.field_violations.iter().map(|v| v.field.clone()).collect())
        .unwrap_or_default()
}

/// The `ErrorInfo.reason` of a status.
pub fn reason(status: &Status) -> String {
    status
        .get_error_details()
        .error_info()
        .map(|i| i.reason.clone())
        .unwrap_or_default()
}
