//! The gRPC adapter: decode, check the customer with contacts, call the shared handlers,
//! encode. No SQL and no rules here.

use tonic::{Request, Response, Status};

use crate::article::{self, Articles};
use crate::article_link;
use crate::business_calendar::{self, StoredCalendar};
use crate::customer_context;
use crate::entitlement::Entitlements;
use crate::knowledge;
use crate::mail_in;
use crate::presence;
use crate::quality;
use crate::queue::Queues;
use crate::satisfaction::Surveys;
use crate::sla_policy::{self, StoredPolicy};
use crate::ticket::Tickets;
use crate::ticket_flow;
use crate::ticket_message;
use crm_platform::auth::{Principal, principal};
use crm_platform::client::ServiceClient;
use crm_platform::error::Error;
use crm_platform::field_mask::writes;
use crm_proto::contacts::AccountTier;
use crm_proto::servicedesk::servicedesk_event::Subject;
use crm_proto::servicedesk::servicedesk_service_server::ServicedeskService;
use crm_proto::servicedesk::*;
use crm_records::customers::{self, CustomerKind, Customers};
use crm_records::handlers::{Idempotency, Records};
use crm_records::rpc::{Call, Change, NewRecord, RecordRef};
use crm_records::settings;

/// Permission to read a ticket's change history.
const AUDIT_READ: &str = "servicedesk.audit.read";

/// The full gRPC method name, which scopes idempotency keys.
macro_rules! method {
    ($name:literal) => {
        concat!("/crm.servicedesk.v1.ServicedeskService/", $name)
    };
}

/// The event announcing a tenant's replaced settings.
fn settings_event(subject: Subject) -> ServicedeskEvent {
    let kind = match subject {
        Subject::BusinessCalendar(_) => ServicedeskEventType::BusinessCalendarUpdated,
        _ => ServicedeskEventType::SlaPolicyUpdated,
    };
    ServicedeskEvent {
        r#type: kind as i32,
        subject: Some(subject),
        ..Default::default()
    }
}

/// Implements `crm.servicedesk.v1.ServicedeskService`.
#[derive(Debug, Clone)]
pub(crate) struct ServicedeskGrpc {
    records: Records,
    contacts: Option<ServiceClient>,
    surveys: Surveys,
}

impl ServicedeskGrpc {
    /// Wraps the handlers; `contacts` is the way to the contacts service, if deployed.
    pub(crate) fn new(records: Records, contacts: Option<ServiceClient>, surveys: Surveys) -> Self {
        Self {
            records,
            contacts,
            surveys,
        }
    }

    /// Checks, as the caller, the contact and account a ticket write names (only those
    /// `mask` writes), before its transaction; a new ticket (`creating`) naming only its
    /// contact takes the contact's account. The desk caches no owners (it follows contacts'
    /// merges and erasures, not owner changes), so it asks every time.
    async fn check_customer(
        &self,
        p: &Principal,
        ticket: &mut Ticket,
        (mask, creating): (Option<&prost_types::FieldMask>, bool),
    ) -> Result<(), Status> {
        let asked = Customers {
            contacts: self.contacts.as_ref(),
            owners: None,
        };
        let contact_id = ticket.contact_id.trim().to_owned();
        if writes(mask, "contact_id", !contact_id.is_empty()) && !contact_id.is_empty() {
            let contact = customers::fetch_contact(asked.contacts, p, &contact_id)
                .await?
                .ok_or_else(|| {
                    Error::invalid("ticket.contact_id", "is not a live contact you can see")
                })?;
            if creating && ticket.account_id.trim().is_empty() {
                ticket.account_id = contact.account_id;
            }
        }
        let account_id = ticket.account_id.trim().to_owned();
        if creating {
            // What contacts says, never what the caller sent.
            ticket.key_account_owner_id.clear();
        }
        if creating && !account_id.is_empty() {
            let account = customers::fetch_account(asked.contacts, p, &account_id)
                .await?
                .ok_or_else(|| {
                    Error::invalid("ticket.account_id", "is not a live account you can see")
                })?;
            let key = [AccountTier::Key as i32, AccountTier::Strategic as i32];
            if key.contains(&account.tier) {
                ticket.key_account_owner_id = account.owner_id;
            }
        } else if writes(mask, "account_id", !account_id.is_empty()) && !account_id.is_empty() {
            let field = ("ticket.account_id", account_id.as_str());
            customers::check_visible(asked, p, CustomerKind::Account, field).await?;
        }
        Ok(())
    }
}

impl ServicedeskGrpc {
    /// Deleting or restoring a published article is for publishers: it takes the article
    /// from (or gives it back to) search and suggestions.
    async fn set_article_deleted(
        &self,
        request: &Request<impl prost::Message>,
        call: Call<'_>,
        (record, deleted): (RecordRef<'_>, bool),
    ) -> Result<Article, Status> {
        let p = principal(request)?;
        let found = self.records.get::<Articles>(p, record.id).await?;
        if found.status == ArticleStatus::Published as i32 {
            p.require(article::PUBLISH)?;
        }
        self.records
            .set_deleted_rpc::<Articles, _, _>(request, call, (record, deleted), |a| a)
            .await
            .map(Response::into_inner)
    }

    /// Checks, as the caller, the account an entitlement write names (when `mask` writes
    /// it), before its transaction.
    async fn check_entitled_account(
        &self,
        p: &Principal,
        entitlement: &Entitlement,
        mask: Option<&prost_types::FieldMask>,
    ) -> Result<(), Status> {
        let account_id = entitlement.account_id.trim();
        if writes(mask, "account_id", !account_id.is_empty()) && !account_id.is_empty() {
            let asked = Customers {
                contacts: self.contacts.as_ref(),
                owners: None,
            };
            let field = ("entitlement.account_id", account_id);
            customers::check_visible(asked, p, CustomerKind::Account, field).await?;
        }
        Ok(())
    }
}

#[tonic::async_trait]
impl ServicedeskService for ServicedeskGrpc {
    async fn create_entitlement(
        &self,
        request: Request<CreateEntitlementRequest>,
    ) -> Result<Response<CreateEntitlementResponse>, Status> {
        let r = request.get_ref();
        if let Some(entitlement) = &r.entitlement {
            self.check_entitled_account(principal(&request)?, entitlement, None)
                .await?;
        }
        let call = Call {
            method: method!("CreateEntitlement"),
            request_id: &r.request_id,
        };
        let new = NewRecord {
            record: r.entitlement.clone(),
            allow_duplicates: true,
        };
        self.records
            .create_rpc::<Entitlements, _, _>(&request, call, new, |entitlement| {
                CreateEntitlementResponse {
                    entitlement: Some(entitlement),
                }
            })
            .await
    }

    crm_records::standard_rpc!(get
        get_entitlement(GetEntitlementRequest) -> GetEntitlementResponse
        { Entitlements => entitlement } in records);
    crm_records::standard_rpc!(list
        list_entitlements(ListEntitlementsRequest) -> ListEntitlementsResponse
        { Entitlements => entitlements } in records);

    async fn update_entitlement(
        &self,
        request: Request<UpdateEntitlementRequest>,
    ) -> Result<Response<UpdateEntitlementResponse>, Status> {
        let r = request.get_ref();
        if let Some(entitlement) = &r.entitlement {
            let mask = r.update_mask.as_ref();
            self.check_entitled_account(principal(&request)?, entitlement, mask)
                .await?;
        }
        let call = Call {
            method: method!("UpdateEntitlement"),
            request_id: &r.request_id,
        };
        let change = Change {
            record: r.entitlement.clone(),
            update_mask: r.update_mask.clone(),
            allow_duplicates: true,
        };
        self.records
            .update_rpc::<Entitlements, _, _>(&request, call, change, |entitlement| {
                UpdateEntitlementResponse {
                    entitlement: Some(entitlement),
                }
            })
            .await
    }

    crm_records::standard_rpc!(delete "/crm.servicedesk.v1.ServicedeskService/DeleteEntitlement"
        delete_entitlement(DeleteEntitlementRequest) -> DeleteEntitlementResponse
        { Entitlements => entitlement } in records);

    crm_records::standard_rpc!(create "/crm.servicedesk.v1.ServicedeskService/CreateArticle"
        create_article(CreateArticleRequest) -> CreateArticleResponse
        { Articles => article, duplicates: never } in records);
    crm_records::standard_rpc!(get
        get_article(GetArticleRequest) -> GetArticleResponse
        { Articles => article } in records);
    crm_records::standard_rpc!(list
        list_articles(ListArticlesRequest) -> ListArticlesResponse
        { Articles => articles } in records);
    crm_records::standard_rpc!(update "/crm.servicedesk.v1.ServicedeskService/UpdateArticle"
        update_article(UpdateArticleRequest) -> UpdateArticleResponse
        { Articles => article, duplicates: never } in records);

    async fn delete_article(
        &self,
        request: Request<DeleteArticleRequest>,
    ) -> Result<Response<DeleteArticleResponse>, Status> {
        let r = request.get_ref();
        let call = Call {
            method: method!("DeleteArticle"),
            request_id: &r.request_id,
        };
        let record = RecordRef {
            id: &r.id,
            etag: &r.etag,
        };
        let article = self
            .set_article_deleted(&request, call, (record, true))
            .await?;
        Ok(Response::new(DeleteArticleResponse {
            article: Some(article),
        }))
    }

    async fn undelete_article(
        &self,
        request: Request<UndeleteArticleRequest>,
    ) -> Result<Response<UndeleteArticleResponse>, Status> {
        let r = request.get_ref();
        let call = Call {
            method: method!("UndeleteArticle"),
            request_id: &r.request_id,
        };
        let record = RecordRef {
            id: &r.id,
            etag: &r.etag,
        };
        let article = self
            .set_article_deleted(&request, call, (record, false))
            .await?;
        Ok(Response::new(UndeleteArticleResponse {
            article: Some(article),
        }))
    }

    async fn list_article_revisions(
        &self,
        request: Request<ListArticleRevisionsRequest>,
    ) -> Result<Response<ListArticleRevisionsResponse>, Status> {
        let p = principal(&request)?;
        let revisions = article::revisions(&self.records, p, &request.get_ref().article_id).await?;
        Ok(Response::new(ListArticleRevisionsResponse { revisions }))
    }

    async fn search_articles(
        &self,
        request: Request<SearchArticlesRequest>,
    ) -> Result<Response<SearchArticlesResponse>, Status> {
        let results =
            knowledge::search(&self.records, principal(&request)?, request.get_ref()).await?;
        Ok(Response::new(SearchArticlesResponse { results }))
    }

    async fn suggest_articles(
        &self,
        request: Request<SuggestArticlesRequest>,
    ) -> Result<Response<SuggestArticlesResponse>, Status> {
        let results =
            knowledge::suggest(&self.records, principal(&request)?, request.get_ref()).await?;
        Ok(Response::new(SuggestArticlesResponse { results }))
    }

    async fn link_ticket_article(
        &self,
        request: Request<LinkTicketArticleRequest>,
    ) -> Result<Response<LinkTicketArticleResponse>, Status> {
        let p = principal(&request)?;
        let asked = (method!("LinkTicketArticle"), request.get_ref());
        let article = article_link::link(&self.records, p, asked).await?;
        Ok(Response::new(LinkTicketArticleResponse {
            article: Some(article),
        }))
    }

    async fn list_ticket_articles(
        &self,
        request: Request<ListTicketArticlesRequest>,
    ) -> Result<Response<ListTicketArticlesResponse>, Status> {
        let p = principal(&request)?;
        let articles =
            article_link::of_ticket(&self.records, p, &request.get_ref().ticket_id).await?;
        Ok(Response::new(ListTicketArticlesResponse { articles }))
    }

    async fn submit_survey(
        &self,
        request: Request<SubmitSurveyRequest>,
    ) -> Result<Response<SubmitSurveyResponse>, Status> {
        let answer = self
            .surveys
            .submit(&self.records, request.get_ref())
            .await?;
        Ok(Response::new(answer))
    }

    async fn get_service_quality(
        &self,
        request: Request<GetServiceQualityRequest>,
    ) -> Result<Response<GetServiceQualityResponse>, Status> {
        let p = principal(&request)?;
        let lines = quality::figures(&self.records, p, request.get_ref()).await?;
        Ok(Response::new(lines))
    }

    async fn create_ticket(
        &self,
        request: Request<CreateTicketRequest>,
    ) -> Result<Response<CreateTicketResponse>, Status> {
        let mut ticket = request.get_ref().ticket.clone();
        if let Some(ticket) = ticket.as_mut() {
            self.check_customer(principal(&request)?, ticket, (None, true))
                .await?;
        }
        let r = request.get_ref();
        let call = Call {
            method: method!("CreateTicket"),
            request_id: &r.request_id,
        };
        let new = NewRecord {
            record: ticket,
            allow_duplicates: false,
        };
        self.records
            .create_rpc::<Tickets, _, _>(&request, call, new, |ticket| CreateTicketResponse {
                ticket: Some(ticket),
            })
            .await
    }

    crm_records::standard_rpc!(get
        get_ticket(GetTicketRequest) -> GetTicketResponse
        { Tickets => ticket } in records);
    crm_records::standard_rpc!(list
        list_tickets(ListTicketsRequest) -> ListTicketsResponse
        { Tickets => tickets } in records);

    async fn update_ticket(
        &self,
        request: Request<UpdateTicketRequest>,
    ) -> Result<Response<UpdateTicketResponse>, Status> {
        let mut ticket = request.get_ref().ticket.clone();
        let mask = request.get_ref().update_mask.clone();
        if let Some(ticket) = ticket.as_mut() {
            self.check_customer(principal(&request)?, ticket, (mask.as_ref(), false))
                .await?;
        }
        let r = request.get_ref();
        let call = Call {
            method: method!("UpdateTicket"),
            request_id: &r.request_id,
        };
        let change = Change {
            record: ticket,
            update_mask: mask,
            allow_duplicates: false,
        };
        self.records
            .update_rpc::<Tickets, _, _>(&request, call, change, |ticket| UpdateTicketResponse {
                ticket: Some(ticket),
            })
            .await
    }

    crm_records::standard_rpc!(delete "/crm.servicedesk.v1.ServicedeskService/DeleteTicket"
        delete_ticket(DeleteTicketRequest) -> DeleteTicketResponse
        { Tickets => ticket } in records);
    crm_records::standard_rpc!(undelete "/crm.servicedesk.v1.ServicedeskService/UndeleteTicket"
        undelete_ticket(UndeleteTicketRequest) -> UndeleteTicketResponse
        { Tickets => ticket } in records);

    async fn change_ticket_status(
        &self,
        request: Request<ChangeTicketStatusRequest>,
    ) -> Result<Response<ChangeTicketStatusResponse>, Status> {
        let p = principal(&request)?;
        let asked = (method!("ChangeTicketStatus"), request.get_ref());
        let ticket = ticket_flow::change_status(&self.records, &self.surveys, p, asked).await?;
        Ok(Response::new(ChangeTicketStatusResponse {
            ticket: Some(ticket),
        }))
    }

    async fn get_ticket_context(
        &self,
        request: Request<GetTicketContextRequest>,
    ) -> Result<Response<GetTicketContextResponse>, Status> {
        let p = principal(&request)?;
        let id = request.get_ref().id.as_str();
        let context =
            customer_context::of_ticket(&self.records, self.contacts.as_ref(), p, id).await?;
        Ok(Response::new(context))
    }

    async fn reassign_ticket(
        &self,
        request: Request<ReassignTicketRequest>,
    ) -> Result<Response<ReassignTicketResponse>, Status> {
        let p = principal(&request)?;
        let asked = (method!("ReassignTicket"), request.get_ref());
        let ticket = ticket_flow::reassign(&self.records, p, asked).await?;
        Ok(Response::new(ReassignTicketResponse {
            ticket: Some(ticket),
        }))
    }

    crm_records::standard_rpc!(create "/crm.servicedesk.v1.ServicedeskService/CreateQueue"
        create_queue(CreateQueueRequest) -> CreateQueueResponse
        { Queues => queue, duplicates: never } in records);
    crm_records::standard_rpc!(get
        get_queue(GetQueueRequest) -> GetQueueResponse
        { Queues => queue } in records);
    crm_records::standard_rpc!(list
        list_queues(ListQueuesRequest) -> ListQueuesResponse
        { Queues => queues } in records);
    crm_records::standard_rpc!(update "/crm.servicedesk.v1.ServicedeskService/UpdateQueue"
        update_queue(UpdateQueueRequest) -> UpdateQueueResponse
        { Queues => queue, duplicates: never } in records);
    crm_records::standard_rpc!(delete "/crm.servicedesk.v1.ServicedeskService/DeleteQueue"
        delete_queue(DeleteQueueRequest) -> DeleteQueueResponse
        { Queues => queue } in records);

    async fn set_agent_away(
        &self,
        request: Request<SetAgentAwayRequest>,
    ) -> Result<Response<SetAgentAwayResponse>, Status> {
        let p = principal(&request)?;
        let asked = (method!("SetAgentAway"), request.get_ref());
        let presence = presence::set_away(&self.records, p, asked).await?;
        Ok(Response::new(SetAgentAwayResponse {
            presence: Some(presence),
        }))
    }

    async fn add_ticket_message(
        &self,
        request: Request<AddTicketMessageRequest>,
    ) -> Result<Response<AddTicketMessageResponse>, Status> {
        let p = principal(&request)?;
        let asked = (method!("AddTicketMessage"), request.get_ref());
        let message = ticket_message::add(&self.records, p, asked).await?;
        Ok(Response::new(AddTicketMessageResponse {
            message: Some(message),
        }))
    }

    async fn list_ticket_messages(
        &self,
        request: Request<ListTicketMessagesRequest>,
    ) -> Result<Response<ListTicketMessagesResponse>, Status> {
        let p = principal(&request)?;
        let r = request.get_ref();
        let page = (
            r.ticket_id.as_str(),
            r.page_size,
            r.page_token.as_str(),
            r.public_only,
        );
        let (messages, next_page_token) = ticket_message::list(&self.records, p, page).await?;
        Ok(Response::new(ListTicketMessagesResponse {
            messages,
            next_page_token,
        }))
    }

    async fn ingest_email(
        &self,
        request: Request<IngestEmailRequest>,
    ) -> Result<Response<IngestEmailResponse>, Status> {
        let p = principal(&request)?;
        let answer =
            mail_in::ingest(&self.records, self.contacts.as_ref(), p, request.get_ref()).await?;
        Ok(Response::new(answer))
    }

    async fn get_business_calendar(
        &self,
        request: Request<GetBusinessCalendarRequest>,
    ) -> Result<Response<GetBusinessCalendarResponse>, Status> {
        let p = principal(&request)?;
        p.require(sla_policy::SETTINGS_READ)?;
        let stored = settings::load::<StoredCalendar, _>(&self.records.db, &p.tenant_id).await?;
        Ok(Response::new(GetBusinessCalendarResponse {
            calendar: Some(business_calendar::to_proto(&stored)),
        }))
    }

    async fn update_business_calendar(
        &self,
        request: Request<UpdateBusinessCalendarRequest>,
    ) -> Result<Response<UpdateBusinessCalendarResponse>, Status> {
        let p = principal(&request)?;
        p.require(sla_policy::SETTINGS_WRITE)?;
        let r = request.get_ref();
        let input = r.calendar.clone().unwrap_or_default();
        let value = business_calendar::check(&input)?;
        let idem = Idempotency {
            method: method!("UpdateBusinessCalendar"),
            request_id: &r.request_id,
            request: r,
        };
        let calendar = settings::put(
            &self.records,
            (p, sla_policy::SETTINGS_WRITE),
            idem,
            ("calendar.etag", &input.etag, value),
            settings::Shown {
                wire: business_calendar::to_proto,
                event: |c| settings_event(Subject::BusinessCalendar(c)),
            },
        )
        .await?;
        Ok(Response::new(UpdateBusinessCalendarResponse {
            calendar: Some(calendar),
        }))
    }

    async fn get_sla_policy(
        &self,
        request: Request<GetSlaPolicyRequest>,
    ) -> Result<Response<GetSlaPolicyResponse>, Status> {
        let p = principal(&request)?;
        p.require(sla_policy::SETTINGS_READ)?;
        let stored = settings::load::<StoredPolicy, _>(&self.records.db, &p.tenant_id).await?;
        Ok(Response::new(GetSlaPolicyResponse {
            policy: Some(sla_policy::to_proto(&stored)),
        }))
    }

    async fn update_sla_policy(
        &self,
        request: Request<UpdateSlaPolicyRequest>,
    ) -> Result<Response<UpdateSlaPolicyResponse>, Status> {
        let p = principal(&request)?;
        p.require(sla_policy::SETTINGS_WRITE)?;
        let r = request.get_ref();
        let input = r.policy.clone().unwrap_or_default();
        let value = sla_policy::check(&input)?;
        let idem = Idempotency {
            method: method!("UpdateSlaPolicy"),
            request_id: &r.request_id,
            request: r,
        };
        let policy = settings::put(
            &self.records,
            (p, sla_policy::SETTINGS_WRITE),
            idem,
            ("policy.etag", &input.etag, value),
            settings::Shown {
                wire: sla_policy::to_proto,
                event: |p| settings_event(Subject::SlaPolicy(p)),
            },
        )
        .await?;
        Ok(Response::new(UpdateSlaPolicyResponse {
            policy: Some(policy),
        }))
    }

    async fn list_audit_entries(
        &self,
        request: Request<ListAuditEntriesRequest>,
    ) -> Result<Response<ListAuditEntriesResponse>, Status> {
        let p = principal(&request)?;
        let r = request.get_ref();
        if r.resource_type != "ticket" {
            return Err(Error::invalid("resource_type", "must be \"ticket\"").into());
        }
        let page = (r.resource_id.as_str(), r.page_size, &*r.page_token);
        let (entries, next_page_token) =
            self.records.history::<Tickets>(p, AUDIT_READ, page).await?;
        Ok(Response::new(ListAuditEntriesResponse {
            entries,
            next_page_token,
        }))
    }
}
