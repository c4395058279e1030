//! The gRPC adapter: decode, call the handlers, encode. No SQL and no rules here.

use tonic::{Request, Response, Status, Streaming};

use crate::account::Accounts;
use crate::bulk::LabelChange;
use crate::contact::Contacts;
use crate::custom_fields::CustomerFields;
use crate::handlers::{Handlers, Idempotency};
use crate::hierarchy;
use crate::pool;
use crate::resource::{Resource, ResourceType as Kind};
use crm_platform::auth::principal;
use crm_platform::error::Error;
use crm_proto::contacts::contacts_service_server::ContactsService;
use crm_proto::contacts::*;
use crm_records::rpc::{self, mask};

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

fn kind(resource_type: &str) -> Result<Kind, Error> {
    Kind::parse("resource_type", resource_type)
}

/// Permission to read the change history of accounts and contacts.
const AUDIT_READ: &str = "contacts.audit.read";

/// The full gRPC method name, which scopes idempotency keys.
macro_rules! method {
    ($name:literal) => {
        concat!("/crm.contacts.v1.ContactsService/", $name)
    };
}

#[tonic::async_trait]
impl ContactsService for ContactsGrpc {
    crm_records::standard_rpc!(create "/crm.contacts.v1.ContactsService/CreateAccount"
        create_account(CreateAccountRequest) -> CreateAccountResponse
        { Accounts => account, duplicates: allow_duplicates } in handlers);

    crm_records::standard_rpc!(get
        get_account(GetAccountRequest) -> GetAccountResponse
        { Accounts => account } in handlers);

    crm_records::standard_rpc!(list
        list_accounts(ListAccountsRequest) -> ListAccountsResponse
        { Accounts => accounts } in handlers);

    crm_records::standard_rpc!(update "/crm.contacts.v1.ContactsService/UpdateAccount"
        update_account(UpdateAccountRequest) -> UpdateAccountResponse
        { Accounts => account, duplicates: allow_duplicates } in handlers);

    crm_records::standard_rpc!(delete "/crm.contacts.v1.ContactsService/DeleteAccount"
        delete_account(DeleteAccountRequest) -> DeleteAccountResponse
        { Accounts => account } in handlers);

    crm_records::standard_rpc!(undelete "/crm.contacts.v1.ContactsService/UndeleteAccount"
        undelete_account(UndeleteAccountRequest) -> UndeleteAccountResponse
        { Accounts => account } in handlers);

    crm_records::standard_rpc!(upsert "/crm.contacts.v1.ContactsService/UpsertAccount"
        upsert_account(UpsertAccountRequest) -> UpsertAccountResponse
        { Accounts => account } in handlers);

    crm_records::standard_rpc!(create "/crm.contacts.v1.ContactsService/CreateContact"
        create_contact(CreateContactRequest) -> CreateContactResponse
        { Contacts => contact, duplicates: allow_duplicates } in handlers);

    crm_records::standard_rpc!(get
        get_contact(GetContactRequest) -> GetContactResponse
        { Contacts => contact } in handlers);

    crm_records::standard_rpc!(list
        list_contacts(ListContactsRequest) -> ListContactsResponse
        { Contacts => contacts } in handlers);

    crm_records::standard_rpc!(update "/crm.contacts.v1.ContactsService/UpdateContact"
        update_contact(UpdateContactRequest) -> UpdateContactResponse
        { Contacts => contact, duplicates: allow_duplicates } in handlers);

    crm_records::standard_rpc!(delete "/crm.contacts.v1.ContactsService/DeleteContact"
        delete_contact(DeleteContactRequest) -> DeleteContactResponse
        { Contacts => contact } in handlers);

    crm_records::standard_rpc!(undelete "/crm.contacts.v1.ContactsService/UndeleteContact"
        undelete_contact(UndeleteContactRequest) -> UndeleteContactResponse
        { Contacts => contact } in handlers);

    async fn list_audit_entries(
        &self,
        request: Request<ListAuditEntriesRequest>,
    ) -> Result<Response<ListAuditEntriesResponse>, Status> {
        let p = principal(&request)?;
        let r = request.get_ref();
        let page = (r.resource_id.as_str(), r.page_size, &*r.page_token);
        let records = &self.handlers.0;
        let (entries, next_page_token) = match kind(&r.resource_type)? {
            Kind::Account => records.history::<Accounts>(p, AUDIT_READ, page).await?,
            Kind::Contact => records.history::<Contacts>(p, AUDIT_READ, page).await?,
        };
        Ok(Response::new(ListAuditEntriesResponse {
            entries,
            next_page_token,
        }))
    }

    async fn get_account_hierarchy(
        &self,
        request: Request<GetAccountHierarchyRequest>,
    ) -> Result<Response<GetAccountHierarchyResponse>, Status> {
        let p = principal(&request)?;
        p.require(Accounts::READ)?;
        let id = &request.get_ref().id;
        if id.is_empty() {
            return Err(Error::invalid("id", "is required").into());
        }
        let (ancestors, descendants) = hierarchy::hierarchy(&self.handlers.db, p, id).await?;
        Ok(Response::new(GetAccountHierarchyResponse {
            ancestors,
            descendants,
        }))
    }

    async fn create_group(
        &self,
        request: Request<CreateGroupRequest>,
    ) -> Result<Response<CreateGroupResponse>, Status> {
        let p = principal(&request)?;
        let r = request.get_ref();
        let input = r
            .group
            .clone()
            .ok_or_else(|| Error::invalid("group", "is required"))?;
        let idem = Idempotency {
            method: method!("CreateGroup"),
            request_id: &r.request_id,
            request: r,
        };
        let group = self.handlers.create_group(p, idem, input).await?;
        Ok(Response::new(CreateGroupResponse { group: Some(group) }))
    }

    async fn list_groups(
        &self,
        request: Request<ListGroupsRequest>,
    ) -> Result<Response<ListGroupsResponse>, Status> {
        let groups = self.handlers.list_groups(principal(&request)?).await?;
        Ok(Response::new(ListGroupsResponse { groups }))
    }

    async fn delete_group(
        &self,
        request: Request<DeleteGroupRequest>,
    ) -> Result<Response<DeleteGroupResponse>, Status> {
        let p = principal(&request)?;
        let r = request.get_ref();
        let idem = Idempotency {
            method: "/crm.contacts.v1.ContactsService/DeleteGroup",
            request_id: &r.request_id,
            request: r,
        };
        Ok(Response::new(
            self.handlers.delete_group(p, idem, &r.id).await?,
        ))
    }

    async fn batch_modify_labels(
        &self,
        request: Request<BatchModifyLabelsRequest>,
    ) -> Result<Response<BatchModifyLabelsResponse>, Status> {
        let p = principal(&request)?;
        let r = request.get_ref();
        let change = LabelChange {
            add_tags: r.add_tags.clone(),
            remove_tags: r.remove_tags.clone(),
            add_group_ids: r.add_group_ids.clone(),
            remove_group_ids: r.remove_group_ids.clone(),
        };
        let idem = Idempotency {
            method: method!("BatchModifyLabels"),
            request_id: &r.request_id,
            request: r,
        };
        let updated_count = match kind(&r.resource_type)? {
            Kind::Account => {
                self.handlers
                    .modify_labels::<Accounts, _>(p, idem, &r.ids, change)
                    .await?
            }
            Kind::Contact => {
                self.handlers
                    .modify_labels::<Contacts, _>(p, idem, &r.ids, change)
                    .await?
            }
        };
        Ok(Response::new(BatchModifyLabelsResponse { updated_count }))
    }

    async fn transfer_ownership(
        &self,
        request: Request<TransferOwnershipRequest>,
    ) -> Result<Response<TransferOwnershipResponse>, Status> {
        let p = principal(&request)?;
        let r = request.get_ref();
        let idem = Idempotency {
            method: method!("TransferOwnership"),
            request_id: &r.request_id,
            request: r,
        };
        let (from, to) = (r.from_owner_id.as_str(), r.to_owner_id.as_str());
        let transferred_count = match kind(&r.resource_type)? {
            Kind::Account => {
                self.handlers
                    .transfer::<Accounts, _>(p, idem, &r.ids, from, to)
                    .await?
            }
            Kind::Contact => {
                self.handlers
                    .transfer::<Contacts, _>(p, idem, &r.ids, from, to)
                    .await?
            }
        };
        Ok(Response::new(TransferOwnershipResponse {
            transferred_count,
        }))
    }

    async fn find_duplicates(
        &self,
        request: Request<FindDuplicatesRequest>,
    ) -> Result<Response<FindDuplicatesResponse>, Status> {
        let p = principal(&request)?;
        let r = request.get_ref();
        let (sets, next_page_token) = match kind(&r.resource_type)? {
            Kind::Account => {
                self.handlers
                    .find_duplicates::<Accounts>(p, r.page_size, &r.page_token)
                    .await?
            }
            Kind::Contact => {
                self.handlers
                    .find_duplicates::<Contacts>(p, r.page_size, &r.page_token)
                    .await?
            }
        };
        Ok(Response::new(FindDuplicatesResponse {
            sets,
            next_page_token,
        }))
    }

    async fn merge_accounts(
        &self,
        request: Request<MergeAccountsRequest>,
    ) -> Result<Response<MergeAccountsResponse>, Status> {
        let p = principal(&request)?;
        let r = request.get_ref();
        let idem = Idempotency {
            method: method!("MergeAccounts"),
            request_id: &r.request_id,
            request: r,
        };
        let keys = (
            r.survivor_id.as_str(),
            r.survivor_etag.as_str(),
            r.merged_ids.as_slice(),
        );
        let response = self
            .handlers
            .merge::<Accounts, _, _>(p, idem, keys, |account| MergeAccountsResponse {
                account: Some(account),
            })
            .await?;
        Ok(Response::new(response))
    }

    async fn merge_contacts(
        &self,
        request: Request<MergeContactsRequest>,
    ) -> Result<Response<MergeContactsResponse>, Status> {
        let p = principal(&request)?;
        let r = request.get_ref();
        let idem = Idempotency {
            method: method!("MergeContacts"),
            request_id: &r.request_id,
            request: r,
        };
        let keys = (
            r.survivor_id.as_str(),
            r.survivor_etag.as_str(),
            r.merged_ids.as_slice(),
        );
        let response = self
            .handlers
            .merge::<Contacts, _, _>(p, idem, keys, |contact| MergeContactsResponse {
                contact: Some(contact),
            })
            .await?;
        Ok(Response::new(response))
    }

    async fn record_interaction(
        &self,
        request: Request<RecordInteractionRequest>,
    ) -> Result<Response<RecordInteractionResponse>, Status> {
        let p = principal(&request)?;
        let r = request.get_ref();
        let input = r
            .interaction
            .clone()
            .ok_or_else(|| Error::invalid("interaction", "is required"))?;
        let idem = Idempotency {
            method: method!("RecordInteraction"),
            request_id: &r.request_id,
            request: r,
        };
        let response = self
            .handlers
            .record_interaction(p, idem, input, &r.follow_up_note)
            .await?;
        Ok(Response::new(response))
    }

    async fn list_interactions(
        &self,
        request: Request<ListInteractionsRequest>,
    ) -> Result<Response<ListInteractionsResponse>, Status> {
        let r = request.get_ref();
        let (interactions, next_page_token) = self
            .handlers
            .list_interactions(
                principal(&request)?,
                &r.subject_type,
                &r.subject_id,
                r.page_size,
                &r.page_token,
            )
            .await?;
        Ok(Response::new(ListInteractionsResponse {
            interactions,
            next_page_token,
        }))
    }

    async fn list_follow_ups(
        &self,
        request: Request<ListFollowUpsRequest>,
    ) -> Result<Response<ListFollowUpsResponse>, Status> {
        let r = request.get_ref();
        let view = FollowUpView::try_from(r.view)
            .map_err(|_| Error::invalid("view", "is not a defined view"))?;
        let (follow_ups, next_page_token) = self
            .handlers
            .list_follow_ups(
                principal(&request)?,
                &r.owner_id,
                view,
                r.utc_offset_minutes,
                (r.page_size, &r.page_token),
            )
            .await?;
        Ok(Response::new(ListFollowUpsResponse {
            follow_ups,
            next_page_token,
        }))
    }

    async fn update_follow_up(
        &self,
        request: Request<UpdateFollowUpRequest>,
    ) -> Result<Response<UpdateFollowUpResponse>, Status> {
        let p = principal(&request)?;
        let r = request.get_ref();
        let input = r
            .follow_up
            .clone()
            .ok_or_else(|| Error::invalid("follow_up", "is required"))?;
        let idem = Idempotency {
            method: method!("UpdateFollowUp"),
            request_id: &r.request_id,
            request: r,
        };
        let follow_up = self
            .handlers
            .update_follow_up(p, idem, input, mask(r.update_mask.clone()))
            .await?;
        Ok(Response::new(UpdateFollowUpResponse {
            follow_up: Some(follow_up),
        }))
    }

    async fn release_to_pool(
        &self,
        request: Request<ReleaseToPoolRequest>,
    ) -> Result<Response<ReleaseToPoolResponse>, Status> {
        let p = principal(&request)?;
        let r = request.get_ref();
        let idem = Idempotency {
            method: method!("ReleaseToPool"),
            request_id: &r.request_id,
            request: r,
        };
        let released_count = match kind(&r.resource_type)? {
            Kind::Account => {
                self.handlers
                    .release::<Accounts, _>(p, idem, &r.ids, &r.reason)
                    .await?
            }
            Kind::Contact => {
                self.handlers
                    .release::<Contacts, _>(p, idem, &r.ids, &r.reason)
                    .await?
            }
        };
        Ok(Response::new(ReleaseToPoolResponse { released_count }))
    }

    async fn claim_from_pool(
        &self,
        request: Request<ClaimFromPoolRequest>,
    ) -> Result<Response<ClaimFromPoolResponse>, Status> {
        let p = principal(&request)?;
        let r = request.get_ref();
        let idem = Idempotency {
            method: method!("ClaimFromPool"),
            request_id: &r.request_id,
            request: r,
        };
        let response = match kind(&r.resource_type)? {
            Kind::Account => {
                self.handlers
                    .claim::<Accounts, _, _>(p, idem, &r.id, |account| ClaimFromPoolResponse {
                        account: Some(account),
                        contact: None,
                    })
                    .await?
            }
            Kind::Contact => {
                self.handlers
                    .claim::<Contacts, _, _>(p, idem, &r.id, |contact| ClaimFromPoolResponse {
                        account: None,
                        contact: Some(contact),
                    })
                    .await?
            }
        };
        Ok(Response::new(response))
    }

    async fn list_pool(
        &self,
        request: Request<ListPoolRequest>,
    ) -> Result<Response<ListPoolResponse>, Status> {
        let p = principal(&request)?;
        p.require(pool::USE)?;
        let r = request.get_ref();
        let pool = pool::pool_view(p);
        let mut response = ListPoolResponse::default();
        let query = (
            r.page_size,
            r.page_token.as_str(),
            r.filter.as_str(),
            r.order_by.as_str(),
        );
        match kind(&r.resource_type)? {
            Kind::Account => {
                (response.accounts, response.next_page_token) = self
                    .handlers
                    .list::<Accounts>(&pool, query.0, query.1, query.2, query.3, false)
                    .await?;
            }
            Kind::Contact => {
                (response.contacts, response.next_page_token) = self
                    .handlers
                    .list::<Contacts>(&pool, query.0, query.1, query.2, query.3, false)
                    .await?;
            }
        }
        Ok(Response::new(response))
    }

    async fn get_pool_rules(
        &self,
        request: Request<GetPoolRulesRequest>,
    ) -> Result<Response<GetPoolRulesResponse>, Status> {
        let p = principal(&request)?;
        if p.require(pool::ADMIN).is_err() {
            p.require(pool::USE)?;
        }
        let kind = kind(&request.get_ref().resource_type)?;
        let rules = pool::rules(&self.handlers.db, &p.tenant_id, kind.name()).await?;
        Ok(Response::new(GetPoolRulesResponse { rules: Some(rules) }))
    }

    async fn update_pool_rules(
        &self,
        request: Request<UpdatePoolRulesRequest>,
    ) -> Result<Response<UpdatePoolRulesResponse>, Status> {
        let p = principal(&request)?;
        let rules = request
            .get_ref()
            .rules
            .clone()
            .ok_or_else(|| Error::invalid("rules", "is required"))?;
        let kind = Kind::parse("rules.resource_type", &rules.resource_type)?;
        let rules = self.handlers.set_pool_rules(p, kind.name(), &rules).await?;
        Ok(Response::new(UpdatePoolRulesResponse {
            rules: Some(rules),
        }))
    }

    async fn list_birthdays(
        &self,
        request: Request<ListBirthdaysRequest>,
    ) -> Result<Response<ListBirthdaysResponse>, Status> {
        let r = request.get_ref();
        let (contacts, next_page_token) = self
            .handlers
            .list_birthdays(
                principal(&request)?,
                r.start.as_ref(),
                r.end.as_ref(),
                (r.page_size, &r.page_token),
            )
            .await?;
        Ok(Response::new(ListBirthdaysResponse {
            contacts,
            next_page_token,
        }))
    }

    crm_records::custom_field_rpcs!(
        CustomerFields,
        "/crm.contacts.v1.ContactsService/",
        handlers
    );

    async fn search_customers(
        &self,
        request: Request<SearchCustomersRequest>,
    ) -> Result<Response<SearchCustomersResponse>, Status> {
        let r = request.get_ref();
        let (results, next_page_token) = self
            .handlers
            .search_customers(
                principal(&request)?,
                &r.query,
                &r.resource_type,
                (r.page_size, &r.page_token),
            )
            .await?;
        Ok(Response::new(SearchCustomersResponse {
            results,
            next_page_token,
        }))
    }

    async fn export_personal_data(
        &self,
        request: Request<ExportPersonalDataRequest>,
    ) -> Result<Response<ExportPersonalDataResponse>, Status> {
        let export = self
            .handlers
            .export_personal_data(principal(&request)?, &request.get_ref().contact_id)
            .await?;
        Ok(Response::new(export))
    }

    async fn erase_personal_data(
        &self,
        request: Request<ErasePersonalDataRequest>,
    ) -> Result<Response<ErasePersonalDataResponse>, Status> {
        let p = principal(&request)?;
        let r = request.get_ref();
        let idem = Idempotency {
            method: method!("ErasePersonalData"),
            request_id: &r.request_id,
            request: r,
        };
        let contact = self
            .handlers
            .erase_personal_data(p, idem, &r.contact_id)
            .await?;
        Ok(Response::new(ErasePersonalDataResponse {
            contact: Some(contact),
        }))
    }

    async fn import_records(
        &self,
        request: Request<Streaming<ImportRecordsRequest>>,
    ) -> Result<Response<ImportRecordsResponse>, Status> {
        let p = principal(&request)?.clone();
        let mut stream = request.into_inner();
        let (options, settings) = rpc::import_options(&mut stream).await?;
        let records = &self.handlers.0;
        let response = match Kind::parse("options.resource_type", &options.resource_type)? {
            Kind::Account => {
                records
                    .import_stream::<Accounts, _, _>(&p, settings, stream)
                    .await?
            }
            Kind::Contact => {
                records
                    .import_stream::<Contacts, _, _>(&p, settings, stream)
                    .await?
            }
        };
        Ok(Response::new(response))
    }

    type ExportRecordsStream = rpc::ExportStream<ExportRecordsResponse>;

    async fn export_records(
        &self,
        request: Request<ExportRecordsRequest>,
    ) -> Result<Response<Self::ExportRecordsStream>, Status> {
        let p = principal(&request)?.clone();
        let r = request.into_inner();
        let records = &self.handlers.0;
        let wrap = |chunk| ExportRecordsResponse { chunk };
        let export = (r.filter, r.format);
        let stream = match Kind::parse("resource_type", &r.resource_type)? {
            Kind::Account => {
                records
                    .export_stream::<Accounts, _>(p, export, wrap)
                    .await?
            }
            Kind::Contact => {
                records
                    .export_stream::<Contacts, _>(p, export, wrap)
                    .await?
            }
        };
        Ok(Response::new(stream))
    }
}
