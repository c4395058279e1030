//! The gRPC adapter: decode, call the handlers, encode. No SQL and no rules here.

use tonic::{Request, Response, Status};

use crate::account::Accounts;
use crate::contact::Contacts;
use crate::handlers::{Handlers, Idempotency};
use crm_platform::audit;
use crm_platform::auth::principal;
use crm_platform::error::Error;
use crm_platform::paging;
use crm_proto::contacts::contacts_service_server::ContactsService;
use crm_proto::contacts::*;

/// Implements `crm.contacts.v1.ContactsService`.
#[derive(Debug, Clone)]
pub struct ContactsGrpc {
    handlers: Handlers,
}

impl ContactsGrpc {
    /// Wraps the handlers.
    pub fn new(handlers: Handlers) -> Self {
        Self { handlers }
    }
}

fn mask(mask: Option<prost_types::FieldMask>) -> Vec<String> {
    mask.map(|m| m.paths).unwrap_or_default()
}

/// The full gRPC method name, which scopes idempotency keys.
macro_rules! method {
    ($name:literal) => {
        concat!("/crm.contacts.v1.ContactsService/", $name)
    };
}

#[tonic::async_trait]
impl ContactsService for ContactsGrpc {
    async fn create_account(
        &self,
        request: Request<CreateAccountRequest>,
    ) -> Result<Response<CreateAccountResponse>, Status> {
        let p = principal(&request)?;
        let msg = request.get_ref();
        let idem = Idempotency {
            method: method!("CreateAccount"),
            request_id: &msg.request_id,
            request: msg,
        };
        let input = msg
            .account
            .clone()
            .ok_or_else(|| Error::invalid("account", "is required"))?;
        let response = self
            .handlers
            .create::<Accounts, _, _>(p, idem, input, |account| CreateAccountResponse {
                account: Some(account),
            })
            .await?;
        Ok(Response::new(response))
    }

    async fn get_account(
        &self,
        request: Request<GetAccountRequest>,
    ) -> Result<Response<GetAccountResponse>, Status> {
        let p = principal(&request)?;
        let account = self
            .handlers
            .get::<Accounts>(p, &request.get_ref().id)
            .await?;
        Ok(Response::new(GetAccountResponse {
            account: Some(account),
        }))
    }

    async fn list_accounts(
        &self,
        request: Request<ListAccountsRequest>,
    ) -> Result<Response<ListAccountsResponse>, Status> {
        let p = principal(&request)?;
        let r = request.get_ref();
        let (accounts, next_page_token) = self
            .handlers
            .list::<Accounts>(
                p,
                r.page_size,
                &r.page_token,
                &r.filter,
                &r.order_by,
                r.show_deleted,
            )
            .await?;
        Ok(Response::new(ListAccountsResponse {
            accounts,
            next_page_token,
        }))
    }

    async fn update_account(
        &self,
        request: Request<UpdateAccountRequest>,
    ) -> Result<Response<UpdateAccountResponse>, Status> {
        let p = principal(&request)?;
        let msg = request.get_ref();
        let idem = Idempotency {
            method: method!("UpdateAccount"),
            request_id: &msg.request_id,
            request: msg,
        };
        let input = msg
            .account
            .clone()
            .ok_or_else(|| Error::invalid("account", "is required"))?;
        let response = self
            .handlers
            .update::<Accounts, _, _>(p, idem, input, mask(msg.update_mask.clone()), |account| {
                UpdateAccountResponse {
                    account: Some(account),
                }
            })
            .await?;
        Ok(Response::new(response))
    }

    async fn delete_account(
        &self,
        request: Request<DeleteAccountRequest>,
    ) -> Result<Response<DeleteAccountResponse>, Status> {
        let p = principal(&request)?;
        let msg = request.get_ref();
        let idem = Idempotency {
            method: method!("DeleteAccount"),
            request_id: &msg.request_id,
            request: msg,
        };
        let response = self
            .handlers
            .set_deleted::<Accounts, _, _>(p, idem, &msg.id, &msg.etag, true, |account| {
                DeleteAccountResponse {
                    account: Some(account),
                }
            })
            .await?;
        Ok(Response::new(response))
    }

    async fn undelete_account(
        &self,
        request: Request<UndeleteAccountRequest>,
    ) -> Result<Response<UndeleteAccountResponse>, Status> {
        let p = principal(&request)?;
        let msg = request.get_ref();
        let idem = Idempotency {
            method: method!("UndeleteAccount"),
            request_id: &msg.request_id,
            request: msg,
        };
        let response = self
            .handlers
            .set_deleted::<Accounts, _, _>(p, idem, &msg.id, &msg.etag, false, |account| {
                UndeleteAccountResponse {
                    account: Some(account),
                }
            })
            .await?;
        Ok(Response::new(response))
    }

    async fn create_contact(
        &self,
        request: Request<CreateContactRequest>,
    ) -> Result<Response<CreateContactResponse>, Status> {
        let p = principal(&request)?;
        let msg = request.get_ref();
        let idem = Idempotency {
            method: method!("CreateContact"),
            request_id: &msg.request_id,
            request: msg,
        };
        let input = msg
            .contact
            .clone()
            .ok_or_else(|| Error::invalid("contact", "is required"))?;
        let response = self
            .handlers
            .create::<Contacts, _, _>(p, idem, input, |contact| CreateContactResponse {
                contact: Some(contact),
            })
            .await?;
        Ok(Response::new(response))
    }

    async fn get_contact(
        &self,
        request: Request<GetContactRequest>,
    ) -> Result<Response<GetContactResponse>, Status> {
        let p = principal(&request)?;
        let contact = self
            .handlers
            .get::<Contacts>(p, &request.get_ref().id)
            .await?;
        Ok(Response::new(GetContactResponse {
            contact: Some(contact),
        }))
    }

    async fn list_contacts(
        &self,
        request: Request<ListContactsRequest>,
    ) -> Result<Response<ListContactsResponse>, Status> {
        let p = principal(&request)?;
        let r = request.get_ref();
        let (contacts, next_page_token) = self
            .handlers
            .list::<Contacts>(
                p,
                r.page_size,
                &r.page_token,
                &r.filter,
                &r.order_by,
                r.show_deleted,
            )
            .await?;
        Ok(Response::new(ListContactsResponse {
            contacts,
            next_page_token,
        }))
    }

    async fn update_contact(
        &self,
        request: Request<UpdateContactRequest>,
    ) -> Result<Response<UpdateContactResponse>, Status> {
        let p = principal(&request)?;
        let msg = request.get_ref();
        let idem = Idempotency {
            method: method!("UpdateContact"),
            request_id: &msg.request_id,
            request: msg,
        };
        let input = msg
            .contact
            .clone()
            .ok_or_else(|| Error::invalid("contact", "is required"))?;
        let response = self
            .handlers
            .update::<Contacts, _, _>(p, idem, input, mask(msg.update_mask.clone()), |contact| {
                UpdateContactResponse {
                    contact: Some(contact),
                }
            })
            .await?;
        Ok(Response::new(response))
    }

    async fn delete_contact(
        &self,
        request: Request<DeleteContactRequest>,
    ) -> Result<Response<DeleteContactResponse>, Status> {
        let p = principal(&request)?;
        let msg = request.get_ref();
        let idem = Idempotency {
            method: method!("DeleteContact"),
            request_id: &msg.request_id,
            request: msg,
        };
        let response = self
            .handlers
            .set_deleted::<Contacts, _, _>(p, idem, &msg.id, &msg.etag, true, |contact| {
                DeleteContactResponse {
                    contact: Some(contact),
                }
            })
            .await?;
        Ok(Response::new(response))
    }

    async fn undelete_contact(
        &self,
        request: Request<UndeleteContactRequest>,
    ) -> Result<Response<UndeleteContactResponse>, Status> {
        let p = principal(&request)?;
        let msg = request.get_ref();
        let idem = Idempotency {
            method: method!("UndeleteContact"),
            request_id: &msg.request_id,
            request: msg,
        };
        let response = self
            .handlers
            .set_deleted::<Contacts, _, _>(p, idem, &msg.id, &msg.etag, false, |contact| {
                UndeleteContactResponse {
                    contact: Some(contact),
                }
            })
            .await?;
        Ok(Response::new(response))
    }

    async fn list_audit_entries(
        &self,
        request: Request<ListAuditEntriesRequest>,
    ) -> Result<Response<ListAuditEntriesResponse>, Status> {
        let p = principal(&request)?;
        let r = request.get_ref();
        // The history is visible exactly to those who can see the record.
        match r.resource_type.as_str() {
            "account" => {
                self.handlers.get::<Accounts>(p, &r.resource_id).await?;
            }
            "contact" => {
                self.handlers.get::<Contacts>(p, &r.resource_id).await?;
            }
            _ => return Err(Error::invalid("resource_type", "must be account or contact").into()),
        }
        let limit = paging::page_size(r.page_size, 1000)?;
        let binding = paging::binding(&[
            "audit",
            &p.tenant_id,
            &p.user_id,
            &r.resource_type,
            &r.resource_id,
        ]);
        let cursor = self.handlers.pages.read(&r.page_token, &binding)?;
        let (entries, next) = audit::list(
            &self.handlers.db,
            &p.tenant_id,
            &r.resource_type,
            &r.resource_id,
            cursor,
            limit,
        )
        .await?;
        let next_page_token = next
            .map(|c| self.handlers.pages.issue(c, &binding))
            .unwrap_or_default();
        Ok(Response::new(ListAuditEntriesResponse {
            entries,
            next_page_token,
        }))
    }
}
