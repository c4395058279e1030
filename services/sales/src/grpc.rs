//! The gRPC adapter of `crm.sales.v1.SalesService`: decode, call the aggregate or the shared
//! standard methods, wrap. No SQL and no rules here. The standard methods that do nothing of
//! their own are `standard_rpc!` lines.

use tonic::{Request, Response, Status, Streaming};

use crate::approval::{self, Approvals};
use crate::approval_policy;
use crate::contract::Contracts;
use crate::contract_flow;
use crate::custom_fields::SalesFields;
use crate::customers::{self, CustomerKind};
use crate::exchange;
use crate::forecast;
use crate::lead::{self, Leads};
use crate::lead_capture;
use crate::lead_conversion::{self, Conversion};
use crate::lead_rules;
use crate::opportunity::{self, Opportunities};
use crate::order::Orders;
use crate::order_flow::{self, Report};
use crate::pipeline::Pipelines;
use crate::price_list::PriceLists;
use crate::pricing;
use crate::product::Products;
use crate::quote::Quotes;
use crate::quote_flow::{self, Asked, Move};
use crate::receivables::{self, PaymentPlans};
use crate::target::Targets;
use crate::task::Tasks;
use crm_platform::auth::principal;
use crm_platform::client::ServiceClient;
use crm_platform::error::Error;
use crm_proto::sales::sales_service_server::SalesService;
use crm_proto::sales::*;
use crm_records::handlers::Records;
use crm_records::rpc::{self, Call, Change, NewRecord};

/// Implements `crm.sales.v1.SalesService`.
#[derive(Debug, Clone)]
pub(crate) struct SalesGrpc {
    records: Records,
    /// Contacts, asked as the caller whether an opportunity's account is one they see;
    /// `None` when this deployment runs without it.
    contacts: Option<ServiceClient>,
}

impl SalesGrpc {
    /// Wraps the shared handlers and the way to contacts.
    pub(crate) fn new(records: Records, contacts: Option<ServiceClient>) -> Self {
        Self { records, contacts }
    }

    /// Checks, as the caller, the account and the people a deal write names (`named`: the
    /// account, the contacts), before its transaction.
    async fn check_customers(
        &self,
        p: &crm_platform::auth::Principal,
        input: &Opportunity,
        (account, people): (bool, bool),
    ) -> Result<(), Status> {
        let asked = customers::asked(self.contacts.as_ref(), &self.records.cache);
        if account {
            let field = ("opportunity.account_id", input.account_id.trim());
            customers::check_visible(asked, p, CustomerKind::Account, field).await?;
        }
        if people {
            for (i, person) in input.contacts.iter().enumerate() {
                let field = format!("opportunity.contacts[{i}].contact_id");
                let checked = (field.as_str(), person.contact_id.trim());
                customers::check_visible(asked, p, CustomerKind::Contact, checked).await?;
            }
        }
        Ok(())
    }
}

impl SalesGrpc {
    /// Checks, as the caller, the account and the contact a quote, order or contract write
    /// names, before its transaction: only the fields `mask` writes (all on a create).
    async fn check_document_customers<D: NamesCustomers>(
        &self,
        p: &crm_platform::auth::Principal,
        document: Option<&D>,
        mask: Option<&prost_types::FieldMask>,
    ) -> Result<(), Status> {
        let Some(document) = document else {
            return Ok(());
        };
        let (account, contact) = document.customers();
        let asked = customers::asked(self.contacts.as_ref(), &self.records.cache);
        let named = [
            ("account_id", CustomerKind::Account, account.trim()),
            ("contact_id", CustomerKind::Contact, contact.trim()),
        ];
        for (name, kind, id) in named {
            if !id.is_empty() && crm_platform::field_mask::writes(mask, name, true) {
                let field = format!("{}.{name}", D::PREFIX);
                customers::check_visible(asked, p, kind, (&field, id)).await?;
            }
        }
        Ok(())
    }

    /// A quote move's RPC.
    async fn quote_move<M: prost::Message>(
        &self,
        request: &Request<M>,
        asked: quote_flow::Asked<'_>,
        step: quote_flow::Move,
    ) -> Result<(Quote, Option<ApprovalRequest>), Status> {
        let p = principal(request)?;
        Ok(quote_flow::transition(&self.records, p, (asked, request.get_ref()), step).await?)
    }

    /// An order move's RPC.
    async fn order_move<M: prost::Message>(
        &self,
        request: &Request<M>,
        asked: order_flow::Asked<'_>,
        step: order_flow::Move,
    ) -> Result<(Order, Option<ApprovalRequest>), Status> {
        let p = principal(request)?;
        let contacts = self.contacts.as_ref();
        order_flow::transition(&self.records, contacts, p, (asked, request.get_ref()), step).await
    }

    /// An ERP report's RPC.
    async fn erp_report<M>(
        &self,
        request: &Request<M>,
        order: (&str, &str),
        (field, report): (&str, Option<Report>),
    ) -> Result<(Order, i32), Status> {
        let p = principal(request)?;
        let report = report.ok_or_else(|| Error::invalid(field, "is required"))?;
        let (order, outcome) = order_flow::report(&self.records, p, order, report).await?;
        Ok((order, outcome as i32))
    }

    /// A contract move's RPC.
    async fn contract_move<M: prost::Message>(
        &self,
        request: &Request<M>,
        asked: contract_flow::Asked<'_>,
        step: contract_flow::Move<'_>,
    ) -> Result<(Contract, Option<ApprovalRequest>), Status> {
        let p = principal(request)?;
        let call = (asked, request.get_ref());
        Ok(contract_flow::transition(&self.records, p, call, step).await?)
    }
}

/// Permission to read the change history of sales records.
const AUDIT_READ: &str = "sales.audit.read";
/// The record types ListAuditEntries takes.
const AUDITED: &str = "must be one of product, price_list, pipeline, opportunity, task, lead, \
                       target, quote, approval_request, order, contract, payment_plan";

/// The full gRPC method name, which scopes idempotency keys.
macro_rules! method {
    ($name:literal) => {
        concat!("/crm.sales.v1.SalesService/", $name)
    };
}

/// The resources imports and exports take.
enum TabularKind {
    Product,
    Lead,
}

fn tabular_kind(field: &str, value: &str) -> Result<TabularKind, Error> {
    match value {
        "product" => Ok(TabularKind::Product),
        "lead" => Ok(TabularKind::Lead),
        _ => Err(Error::invalid(field, "must be \"product\" or \"lead\"")),
    }
}

#[tonic::async_trait]
impl SalesService for SalesGrpc {
    crm_records::standard_rpc!(create "/crm.sales.v1.SalesService/CreateProduct"
        create_product(CreateProductRequest) -> CreateProductResponse
        { Products => product, duplicates: never } in records);
    crm_records::standard_rpc!(get
        get_product(GetProductRequest) -> GetProductResponse
        { Products => product } in records);
    crm_records::standard_rpc!(list
        list_products(ListProductsRequest) -> ListProductsResponse
        { Products => products } in records);
    crm_records::standard_rpc!(update "/crm.sales.v1.SalesService/UpdateProduct"
        update_product(UpdateProductRequest) -> UpdateProductResponse
        { Products => product, duplicates: never } in records);
    crm_records::standard_rpc!(delete "/crm.sales.v1.SalesService/DeleteProduct"
        delete_product(DeleteProductRequest) -> DeleteProductResponse
        { Products => product } in records);
    crm_records::standard_rpc!(undelete "/crm.sales.v1.SalesService/UndeleteProduct"
        undelete_product(UndeleteProductRequest) -> UndeleteProductResponse
        { Products => product } in records);

    crm_records::standard_rpc!(upsert "/crm.sales.v1.SalesService/UpsertProduct"
        upsert_product(UpsertProductRequest) -> UpsertProductResponse
        { Products => product } in records);

    crm_records::standard_rpc!(create "/crm.sales.v1.SalesService/CreatePriceList"
        create_price_list(CreatePriceListRequest) -> CreatePriceListResponse
        { PriceLists => price_list, duplicates: never } in records);
    crm_records::standard_rpc!(get
        get_price_list(GetPriceListRequest) -> GetPriceListResponse
        { PriceLists => price_list } in records);
    crm_records::standard_rpc!(list
        list_price_lists(ListPriceListsRequest) -> ListPriceListsResponse
        { PriceLists => price_lists } in records);
    crm_records::standard_rpc!(update "/crm.sales.v1.SalesService/UpdatePriceList"
        update_price_list(UpdatePriceListRequest) -> UpdatePriceListResponse
        { PriceLists => price_list, duplicates: never } in records);
    crm_records::standard_rpc!(delete "/crm.sales.v1.SalesService/DeletePriceList"
        delete_price_list(DeletePriceListRequest) -> DeletePriceListResponse
        { PriceLists => price_list } in records);
    crm_records::standard_rpc!(undelete "/crm.sales.v1.SalesService/UndeletePriceList"
        undelete_price_list(UndeletePriceListRequest) -> UndeletePriceListResponse
        { PriceLists => price_list } in records);

    crm_records::standard_rpc!(upsert "/crm.sales.v1.SalesService/UpsertPriceList"
        upsert_price_list(UpsertPriceListRequest) -> UpsertPriceListResponse
        { PriceLists => price_list } in records);

    crm_records::standard_rpc!(create "/crm.sales.v1.SalesService/CreatePipeline"
        create_pipeline(CreatePipelineRequest) -> CreatePipelineResponse
        { Pipelines => pipeline, duplicates: never } in records);
    crm_records::standard_rpc!(get
        get_pipeline(GetPipelineRequest) -> GetPipelineResponse
        { Pipelines => pipeline } in records);
    crm_records::standard_rpc!(list
        list_pipelines(ListPipelinesRequest) -> ListPipelinesResponse
        { Pipelines => pipelines } in records);
    crm_records::standard_rpc!(update "/crm.sales.v1.SalesService/UpdatePipeline"
        update_pipeline(UpdatePipelineRequest) -> UpdatePipelineResponse
        { Pipelines => pipeline, duplicates: never } in records);
    crm_records::standard_rpc!(delete "/crm.sales.v1.SalesService/DeletePipeline"
        delete_pipeline(DeletePipelineRequest) -> DeletePipelineResponse
        { Pipelines => pipeline } in records);
    crm_records::standard_rpc!(undelete "/crm.sales.v1.SalesService/UndeletePipeline"
        undelete_pipeline(UndeletePipelineRequest) -> UndeletePipelineResponse
        { Pipelines => pipeline } in records);

    async fn create_opportunity(
        &self,
        request: Request<CreateOpportunityRequest>,
    ) -> Result<Response<CreateOpportunityResponse>, Status> {
        let r = request.get_ref();
        let input = r.opportunity.as_ref();
        if let Some(input) = input {
            let p = principal(&request)?;
            self.check_customers(p, input, (true, true)).await?;
        }
        let call = Call {
            method: method!("CreateOpportunity"),
            request_id: &r.request_id,
        };
        let new = NewRecord {
            record: r.opportunity.clone(),
            allow_duplicates: false,
        };
        self.records
            .create_rpc::<Opportunities, _, _>(&request, call, new, |opportunity| {
                CreateOpportunityResponse {
                    opportunity: Some(opportunity),
                }
            })
            .await
    }

    crm_records::standard_rpc!(get
        get_opportunity(GetOpportunityRequest) -> GetOpportunityResponse
        { Opportunities => opportunity } in records);
    crm_records::standard_rpc!(list
        list_opportunities(ListOpportunitiesRequest) -> ListOpportunitiesResponse
        { Opportunities => opportunities } in records);

    async fn update_opportunity(
        &self,
        request: Request<UpdateOpportunityRequest>,
    ) -> Result<Response<UpdateOpportunityResponse>, Status> {
        let r = request.get_ref();
        if let Some(input) = &r.opportunity {
            let mask = r.update_mask.as_ref();
            let named = (
                opportunity::names_account(input, mask),
                opportunity::names_contacts(input, mask),
            );
            self.check_customers(principal(&request)?, input, named)
                .await?;
        }
        let call = Call {
            method: method!("UpdateOpportunity"),
            request_id: &r.request_id,
        };
        let change = Change {
            record: r.opportunity.clone(),
            update_mask: r.update_mask.clone(),
            allow_duplicates: false,
        };
        self.records
            .update_rpc::<Opportunities, _, _>(&request, call, change, |opportunity| {
                UpdateOpportunityResponse {
                    opportunity: Some(opportunity),
                }
            })
            .await
    }

    crm_records::standard_rpc!(delete "/crm.sales.v1.SalesService/DeleteOpportunity"
        delete_opportunity(DeleteOpportunityRequest) -> DeleteOpportunityResponse
        { Opportunities => opportunity } in records);
    crm_records::standard_rpc!(undelete "/crm.sales.v1.SalesService/UndeleteOpportunity"
        undelete_opportunity(UndeleteOpportunityRequest) -> UndeleteOpportunityResponse
        { Opportunities => opportunity } in records);

    async fn create_lead(
        &self,
        request: Request<CreateLeadRequest>,
    ) -> Result<Response<CreateLeadResponse>, Status> {
        let r = request.get_ref();
        let call = Call {
            method: method!("CreateLead"),
            request_id: &r.request_id,
        };
        let mut lead = r.lead.clone();
        if let Some(lead) = lead.as_mut() {
            let sent = (lead.email.as_str(), lead.phone.as_str());
            let p = principal(&request)?;
            lead.matched_contact_id =
                customers::matching_contact(self.contacts.as_ref(), p, sent).await;
        }
        let new = NewRecord {
            record: lead,
            allow_duplicates: r.allow_duplicates,
        };
        self.records
            .create_rpc::<Leads, _, _>(&request, call, new, |lead| CreateLeadResponse {
                lead: Some(lead),
            })
            .await
    }

    async fn capture_lead(
        &self,
        request: Request<CaptureLeadRequest>,
    ) -> Result<Response<CaptureLeadResponse>, Status> {
        let p = principal(&request)?;
        let r = request.get_ref();
        let idem = Call {
            method: method!("CaptureLead"),
            request_id: &r.request_id,
        }
        .idempotency(r);
        let mut input = r.lead.clone().unwrap_or_default();
        // A key that may also read contacts (an OA system's, say) has the lead matched with a
        // known customer as an agent's create does; a capture-only key files it unmatched.
        let sent = (input.email.as_str(), input.phone.as_str());
        let matched = customers::matching_contact(self.contacts.as_ref(), p, sent).await;
        input.matched_contact_id = matched;
        let captured = lead_capture::capture(&self.records, p, idem, input).await?;
        Ok(Response::new(captured))
    }

    crm_records::standard_rpc!(get
        get_lead(GetLeadRequest) -> GetLeadResponse
        { Leads => lead } in records);
    crm_records::standard_rpc!(list
        list_leads(ListLeadsRequest) -> ListLeadsResponse
        { Leads => leads } in records);
    crm_records::standard_rpc!(update "/crm.sales.v1.SalesService/UpdateLead"
        update_lead(UpdateLeadRequest) -> UpdateLeadResponse
        { Leads => lead, duplicates: allow_duplicates } in records);
    crm_records::standard_rpc!(delete "/crm.sales.v1.SalesService/DeleteLead"
        delete_lead(DeleteLeadRequest) -> DeleteLeadResponse
        { Leads => lead } in records);
    crm_records::standard_rpc!(undelete "/crm.sales.v1.SalesService/UndeleteLead"
        undelete_lead(UndeleteLeadRequest) -> UndeleteLeadResponse
        { Leads => lead } in records);

    async fn record_lead_interaction(
        &self,
        request: Request<RecordLeadInteractionRequest>,
    ) -> Result<Response<RecordLeadInteractionResponse>, Status> {
        let p = principal(&request)?;
        let r = request.get_ref();
        let idem = Call {
            method: method!("RecordLeadInteraction"),
            request_id: &r.request_id,
        }
        .idempotency(r);
        let lead = lead::record_interaction(&self.records, p, idem, &r.lead_id).await?;
        Ok(Response::new(RecordLeadInteractionResponse {
            lead: Some(lead),
        }))
    }

    async fn convert_lead(
        &self,
        request: Request<ConvertLeadRequest>,
    ) -> Result<Response<ConvertLeadResponse>, Status> {
        let p = principal(&request)?;
        let r = request.get_ref();
        let asked = Conversion {
            lead_id: r.lead_id.trim().to_owned(),
            account_id: r.account_id.trim().to_owned(),
            opportunity: r.opportunity.clone(),
        };
        let lead =
            lead_conversion::convert(&self.records, self.contacts.as_ref(), p, asked).await?;
        Ok(Response::new(ConvertLeadResponse { lead: Some(lead) }))
    }

    crm_records::standard_rpc!(create "/crm.sales.v1.SalesService/CreateTask"
        create_task(CreateTaskRequest) -> CreateTaskResponse
        { Tasks => task, duplicates: never } in records);
    crm_records::standard_rpc!(get
        get_task(GetTaskRequest) -> GetTaskResponse
        { Tasks => task } in records);
    crm_records::standard_rpc!(list
        list_tasks(ListTasksRequest) -> ListTasksResponse
        { Tasks => tasks } in records);
    crm_records::standard_rpc!(update "/crm.sales.v1.SalesService/UpdateTask"
        update_task(UpdateTaskRequest) -> UpdateTaskResponse
        { Tasks => task, duplicates: never } in records);
    crm_records::standard_rpc!(delete "/crm.sales.v1.SalesService/DeleteTask"
        delete_task(DeleteTaskRequest) -> DeleteTaskResponse
        { Tasks => task } in records);
    crm_records::standard_rpc!(undelete "/crm.sales.v1.SalesService/UndeleteTask"
        undelete_task(UndeleteTaskRequest) -> UndeleteTaskResponse
        { Tasks => task } in records);
    crm_records::standard_rpc!(create "/crm.sales.v1.SalesService/CreateTarget"
        create_target(CreateTargetRequest) -> CreateTargetResponse
        { Targets => target, duplicates: never } in records);
    crm_records::standard_rpc!(get
        get_target(GetTargetRequest) -> GetTargetResponse
        { Targets => target } in records);
    crm_records::standard_rpc!(list
        list_targets(ListTargetsRequest) -> ListTargetsResponse
        { Targets => targets } in records);
    crm_records::standard_rpc!(update "/crm.sales.v1.SalesService/UpdateTarget"
        update_target(UpdateTargetRequest) -> UpdateTargetResponse
        { Targets => target, duplicates: never } in records);
    crm_records::standard_rpc!(delete "/crm.sales.v1.SalesService/DeleteTarget"
        delete_target(DeleteTargetRequest) -> DeleteTargetResponse
        { Targets => target } in records);
    crm_records::standard_rpc!(undelete "/crm.sales.v1.SalesService/UndeleteTarget"
        undelete_target(UndeleteTargetRequest) -> UndeleteTargetResponse
        { Targets => target } in records);

    async fn get_forecast(
        &self,
        request: Request<GetForecastRequest>,
    ) -> Result<Response<GetForecastResponse>, Status> {
        let p = principal(&request)?;
        let answer = forecast::forecast(&self.records, p, request.get_ref()).await?;
        Ok(Response::new(answer))
    }

    async fn get_lead_rules(
        &self,
        request: Request<GetLeadRulesRequest>,
    ) -> Result<Response<GetLeadRulesResponse>, Status> {
        let rules = lead_rules::get(&self.records, principal(&request)?).await?;
        Ok(Response::new(GetLeadRulesResponse { rules: Some(rules) }))
    }

    async fn update_lead_rules(
        &self,
        request: Request<UpdateLeadRulesRequest>,
    ) -> Result<Response<UpdateLeadRulesResponse>, Status> {
        let p = principal(&request)?;
        let input = request.get_ref().rules.clone().unwrap_or_default();
        let (rules, rescored) = lead_rules::update(&self.records, p, input).await?;
        Ok(Response::new(UpdateLeadRulesResponse {
            rules: Some(rules),
            rescored_leads: i32::try_from(rescored.len()).unwrap_or(i32::MAX),
        }))
    }

    async fn create_quote(
        &self,
        request: Request<CreateQuoteRequest>,
    ) -> Result<Response<CreateQuoteResponse>, Status> {
        let r = request.get_ref();
        self.check_document_customers(principal(&request)?, r.quote.as_ref(), None)
            .await?;
        let call = Call {
            method: method!("CreateQuote"),
            request_id: &r.request_id,
        };
        let new = NewRecord {
            record: r.quote.clone(),
            allow_duplicates: false,
        };
        self.records
            .create_rpc::<Quotes, _, _>(&request, call, new, |quote| CreateQuoteResponse {
                quote: Some(quote),
            })
            .await
    }

    crm_records::standard_rpc!(get
        get_quote(GetQuoteRequest) -> GetQuoteResponse
        { Quotes => quote } in records);
    crm_records::standard_rpc!(list
        list_quotes(ListQuotesRequest) -> ListQuotesResponse
        { Quotes => quotes } in records);

    async fn update_quote(
        &self,
        request: Request<UpdateQuoteRequest>,
    ) -> Result<Response<UpdateQuoteResponse>, Status> {
        let r = request.get_ref();
        self.check_document_customers(
            principal(&request)?,
            r.quote.as_ref(),
            r.update_mask.as_ref(),
        )
        .await?;
        let call = Call {
            method: method!("UpdateQuote"),
            request_id: &r.request_id,
        };
        let change = Change {
            record: r.quote.clone(),
            update_mask: r.update_mask.clone(),
            allow_duplicates: false,
        };
        self.records
            .update_rpc::<Quotes, _, _>(&request, call, change, |quote| UpdateQuoteResponse {
                quote: Some(quote),
            })
            .await
    }

    crm_records::standard_rpc!(delete "/crm.sales.v1.SalesService/DeleteQuote"
        delete_quote(DeleteQuoteRequest) -> DeleteQuoteResponse
        { Quotes => quote } in records);
    crm_records::standard_rpc!(undelete "/crm.sales.v1.SalesService/UndeleteQuote"
        undelete_quote(UndeleteQuoteRequest) -> UndeleteQuoteResponse
        { Quotes => quote } in records);

    async fn submit_quote(
        &self,
        request: Request<SubmitQuoteRequest>,
    ) -> Result<Response<SubmitQuoteResponse>, Status> {
        let r = request.get_ref();
        let asked = Asked {
            method: method!("SubmitQuote"),
            id: &r.id,
            etag: &r.etag,
            request_id: &r.request_id,
            reason: "",
        };
        let (quote, approval_request) = self.quote_move(&request, asked, Move::Submit).await?;
        Ok(Response::new(SubmitQuoteResponse {
            quote: Some(quote),
            approval_request,
        }))
    }

    async fn send_quote(
        &self,
        request: Request<SendQuoteRequest>,
    ) -> Result<Response<SendQuoteResponse>, Status> {
        let r = request.get_ref();
        let asked = Asked {
            method: method!("SendQuote"),
            id: &r.id,
            etag: &r.etag,
            request_id: &r.request_id,
            reason: "",
        };
        let (quote, _) = self.quote_move(&request, asked, Move::Send).await?;
        Ok(Response::new(SendQuoteResponse { quote: Some(quote) }))
    }

    async fn accept_quote(
        &self,
        request: Request<AcceptQuoteRequest>,
    ) -> Result<Response<AcceptQuoteResponse>, Status> {
        let r = request.get_ref();
        let asked = Asked {
            method: method!("AcceptQuote"),
            id: &r.id,
            etag: &r.etag,
            request_id: &r.request_id,
            reason: "",
        };
        let (quote, _) = self.quote_move(&request, asked, Move::Accept).await?;
        Ok(Response::new(AcceptQuoteResponse { quote: Some(quote) }))
    }

    async fn reject_quote(
        &self,
        request: Request<RejectQuoteRequest>,
    ) -> Result<Response<RejectQuoteResponse>, Status> {
        let r = request.get_ref();
        let asked = Asked {
            method: method!("RejectQuote"),
            id: &r.id,
            etag: &r.etag,
            request_id: &r.request_id,
            reason: &r.reason,
        };
        let (quote, _) = self.quote_move(&request, asked, Move::Reject).await?;
        Ok(Response::new(RejectQuoteResponse { quote: Some(quote) }))
    }

    async fn revise_quote(
        &self,
        request: Request<ReviseQuoteRequest>,
    ) -> Result<Response<ReviseQuoteResponse>, Status> {
        let p = principal(&request)?;
        let r = request.get_ref();
        let asked = (method!("ReviseQuote"), r.id.as_str(), r.request_id.as_str());
        let quote = quote_flow::revise(&self.records, p, asked, r).await?;
        Ok(Response::new(ReviseQuoteResponse { quote: Some(quote) }))
    }

    async fn get_quote_document(
        &self,
        request: Request<GetQuoteDocumentRequest>,
    ) -> Result<Response<GetQuoteDocumentResponse>, Status> {
        let p = principal(&request)?;
        let id = &request.get_ref().id;
        let document = quote_flow::document(&self.records, self.contacts.as_ref(), p, id).await?;
        Ok(Response::new(GetQuoteDocumentResponse {
            document: Some(document),
        }))
    }

    crm_records::standard_rpc!(get
        get_approval_request(GetApprovalRequestRequest) -> GetApprovalRequestResponse
        { Approvals => approval_request } in records);

    async fn list_approval_requests(
        &self,
        request: Request<ListApprovalRequestsRequest>,
    ) -> Result<Response<ListApprovalRequestsResponse>, Status> {
        let p = principal(&request)?;
        let r = request.get_ref();
        let (approval_requests, next_page_token) = self
            .records
            .list::<Approvals>(p, r.page_size, &r.page_token, &r.filter, &r.order_by, false)
            .await?;
        Ok(Response::new(ListApprovalRequestsResponse {
            approval_requests,
            next_page_token,
        }))
    }

    async fn list_approval_inbox(
        &self,
        request: Request<ListApprovalInboxRequest>,
    ) -> Result<Response<ListApprovalInboxResponse>, Status> {
        let p = principal(&request)?;
        let r = request.get_ref();
        let (approval_requests, next_page_token) =
            approval::inbox(&self.records, p, r.page_size, &r.page_token).await?;
        Ok(Response::new(ListApprovalInboxResponse {
            approval_requests,
            next_page_token,
        }))
    }

    async fn decide_approval_request(
        &self,
        request: Request<DecideApprovalRequestRequest>,
    ) -> Result<Response<DecideApprovalRequestResponse>, Status> {
        let p = principal(&request)?;
        let method = method!("DecideApprovalRequest");
        let contacts = self.contacts.as_ref();
        let decided =
            approval::decide(&self.records, contacts, p, method, request.get_ref()).await?;
        Ok(Response::new(DecideApprovalRequestResponse {
            approval_request: Some(decided),
        }))
    }

    async fn get_approval_policy(
        &self,
        request: Request<GetApprovalPolicyRequest>,
    ) -> Result<Response<GetApprovalPolicyResponse>, Status> {
        let policy = approval_policy::get(&self.records, principal(&request)?).await?;
        Ok(Response::new(GetApprovalPolicyResponse {
            policy: Some(policy),
        }))
    }

    async fn update_approval_policy(
        &self,
        request: Request<UpdateApprovalPolicyRequest>,
    ) -> Result<Response<UpdateApprovalPolicyResponse>, Status> {
        let p = principal(&request)?;
        let input = request.get_ref().policy.clone().unwrap_or_default();
        let policy = approval_policy::update(&self.records, p, input).await?;
        Ok(Response::new(UpdateApprovalPolicyResponse {
            policy: Some(policy),
        }))
    }

    async fn create_order(
        &self,
        request: Request<CreateOrderRequest>,
    ) -> Result<Response<CreateOrderResponse>, Status> {
        let r = request.get_ref();
        self.check_document_customers(principal(&request)?, r.order.as_ref(), None)
            .await?;
        let call = Call {
            method: method!("CreateOrder"),
            request_id: &r.request_id,
        };
        let new = NewRecord {
            record: r.order.clone(),
            allow_duplicates: false,
        };
        self.records
            .create_rpc::<Orders, _, _>(&request, call, new, |order| CreateOrderResponse {
                order: Some(order),
            })
            .await
    }

    crm_records::standard_rpc!(get
        get_order(GetOrderRequest) -> GetOrderResponse
        { Orders => order } in records);
    crm_records::standard_rpc!(list
        list_orders(ListOrdersRequest) -> ListOrdersResponse
        { Orders => orders } in records);

    async fn update_order(
        &self,
        request: Request<UpdateOrderRequest>,
    ) -> Result<Response<UpdateOrderResponse>, Status> {
        let r = request.get_ref();
        self.check_document_customers(
            principal(&request)?,
            r.order.as_ref(),
            r.update_mask.as_ref(),
        )
        .await?;
        let call = Call {
            method: method!("UpdateOrder"),
            request_id: &r.request_id,
        };
        let change = Change {
            record: r.order.clone(),
            update_mask: r.update_mask.clone(),
            allow_duplicates: false,
        };
        self.records
            .update_rpc::<Orders, _, _>(&request, call, change, |order| UpdateOrderResponse {
                order: Some(order),
            })
            .await
    }

    async fn upsert_order(
        &self,
        request: Request<UpsertOrderRequest>,
    ) -> Result<Response<UpsertOrderResponse>, Status> {
        let r = request.get_ref();
        self.check_document_customers(principal(&request)?, r.order.as_ref(), None)
            .await?;
        let call = Call {
            method: method!("UpsertOrder"),
            request_id: &r.request_id,
        };
        self.records
            .upsert_rpc::<Orders, _, _>(&request, call, r.order.clone(), |order, done| {
                UpsertOrderResponse {
                    order: Some(order),
                    outcome: done.wire(),
                }
            })
            .await
    }

    crm_records::standard_rpc!(delete "/crm.sales.v1.SalesService/DeleteOrder"
        delete_order(DeleteOrderRequest) -> DeleteOrderResponse
        { Orders => order } in records);
    crm_records::standard_rpc!(undelete "/crm.sales.v1.SalesService/UndeleteOrder"
        undelete_order(UndeleteOrderRequest) -> UndeleteOrderResponse
        { Orders => order } in records);

    async fn confirm_order(
        &self,
        request: Request<ConfirmOrderRequest>,
    ) -> Result<Response<ConfirmOrderResponse>, Status> {
        let r = request.get_ref();
        let asked = order_flow::Asked {
            method: method!("ConfirmOrder"),
            id: &r.id,
            etag: &r.etag,
            request_id: &r.request_id,
            reason: "",
        };
        let (order, approval_request) = self
            .order_move(&request, asked, order_flow::Move::Confirm)
            .await?;
        Ok(Response::new(ConfirmOrderResponse {
            order: Some(order),
            approval_request,
        }))
    }

    async fn cancel_order(
        &self,
        request: Request<CancelOrderRequest>,
    ) -> Result<Response<CancelOrderResponse>, Status> {
        let r = request.get_ref();
        let asked = order_flow::Asked {
            method: method!("CancelOrder"),
            id: &r.id,
            etag: &r.etag,
            request_id: &r.request_id,
            reason: &r.reason,
        };
        let (order, _) = self
            .order_move(&request, asked, order_flow::Move::Cancel)
            .await?;
        Ok(Response::new(CancelOrderResponse { order: Some(order) }))
    }

    async fn deliver_order(
        &self,
        request: Request<DeliverOrderRequest>,
    ) -> Result<Response<DeliverOrderResponse>, Status> {
        let r = request.get_ref();
        let asked = order_flow::Asked {
            method: method!("DeliverOrder"),
            id: &r.id,
            etag: &r.etag,
            request_id: &r.request_id,
            reason: "",
        };
        let (order, _) = self
            .order_move(&request, asked, order_flow::Move::Deliver)
            .await?;
        Ok(Response::new(DeliverOrderResponse { order: Some(order) }))
    }

    async fn complete_order(
        &self,
        request: Request<CompleteOrderRequest>,
    ) -> Result<Response<CompleteOrderResponse>, Status> {
        let r = request.get_ref();
        let asked = order_flow::Asked {
            method: method!("CompleteOrder"),
            id: &r.id,
            etag: &r.etag,
            request_id: &r.request_id,
            reason: "",
        };
        let (order, _) = self
            .order_move(&request, asked, order_flow::Move::Complete)
            .await?;
        Ok(Response::new(CompleteOrderResponse { order: Some(order) }))
    }

    async fn record_shipment(
        &self,
        request: Request<RecordShipmentRequest>,
    ) -> Result<Response<RecordShipmentResponse>, Status> {
        let r = request.get_ref();
        let order = (r.order_id.as_str(), r.order_external_id.as_str());
        let report = ("shipment", r.shipment.clone().map(Report::Shipment));
        let (order, outcome) = self.erp_report(&request, order, report).await?;
        Ok(Response::new(RecordShipmentResponse {
            order: Some(order),
            outcome,
        }))
    }

    async fn record_invoice(
        &self,
        request: Request<RecordInvoiceRequest>,
    ) -> Result<Response<RecordInvoiceResponse>, Status> {
        let r = request.get_ref();
        let order = (r.order_id.as_str(), r.order_external_id.as_str());
        let report = ("invoice", r.invoice.clone().map(Report::Invoice));
        let (order, outcome) = self.erp_report(&request, order, report).await?;
        Ok(Response::new(RecordInvoiceResponse {
            order: Some(order),
            outcome,
        }))
    }

    async fn record_payment(
        &self,
        request: Request<RecordPaymentRequest>,
    ) -> Result<Response<RecordPaymentResponse>, Status> {
        let r = request.get_ref();
        let order = (r.order_id.as_str(), r.order_external_id.as_str());
        let report = ("payment", r.payment.clone().map(Report::Payment));
        let (order, outcome) = self.erp_report(&request, order, report).await?;
        Ok(Response::new(RecordPaymentResponse {
            order: Some(order),
            outcome,
        }))
    }

    async fn create_contract(
        &self,
        request: Request<CreateContractRequest>,
    ) -> Result<Response<CreateContractResponse>, Status> {
        let r = request.get_ref();
        self.check_document_customers(principal(&request)?, r.contract.as_ref(), None)
            .await?;
        let call = Call {
            method: method!("CreateContract"),
            request_id: &r.request_id,
        };
        let new = NewRecord {
            record: r.contract.clone(),
            allow_duplicates: false,
        };
        self.records
            .create_rpc::<Contracts, _, _>(&request, call, new, |contract| CreateContractResponse {
                contract: Some(contract),
            })
            .await
    }

    crm_records::standard_rpc!(get
        get_contract(GetContractRequest) -> GetContractResponse
        { Contracts => contract } in records);
    crm_records::standard_rpc!(list
        list_contracts(ListContractsRequest) -> ListContractsResponse
        { Contracts => contracts } in records);

    async fn update_contract(
        &self,
        request: Request<UpdateContractRequest>,
    ) -> Result<Response<UpdateContractResponse>, Status> {
        let r = request.get_ref();
        self.check_document_customers(
            principal(&request)?,
            r.contract.as_ref(),
            r.update_mask.as_ref(),
        )
        .await?;
        let call = Call {
            method: method!("UpdateContract"),
            request_id: &r.request_id,
        };
        let change = Change {
            record: r.contract.clone(),
            update_mask: r.update_mask.clone(),
            allow_duplicates: false,
        };
        self.records
            .update_rpc::<Contracts, _, _>(&request, call, change, |contract| {
                UpdateContractResponse {
                    contract: Some(contract),
                }
            })
            .await
    }

    crm_records::standard_rpc!(delete "/crm.sales.v1.SalesService/DeleteContract"
        delete_contract(DeleteContractRequest) -> DeleteContractResponse
        { Contracts => contract } in records);
    crm_records::standard_rpc!(undelete "/crm.sales.v1.SalesService/UndeleteContract"
        undelete_contract(UndeleteContractRequest) -> UndeleteContractResponse
        { Contracts => contract } in records);

    async fn submit_contract(
        &self,
        request: Request<SubmitContractRequest>,
    ) -> Result<Response<SubmitContractResponse>, Status> {
        let r = request.get_ref();
        let asked = contract_flow::Asked {
            method: method!("SubmitContract"),
            id: &r.id,
            etag: &r.etag,
            request_id: &r.request_id,
        };
        let (contract, approval_request) = self
            .contract_move(&request, asked, contract_flow::Move::Submit)
            .await?;
        Ok(Response::new(SubmitContractResponse {
            contract: Some(contract),
            approval_request,
        }))
    }

    async fn sign_contract(
        &self,
        request: Request<SignContractRequest>,
    ) -> Result<Response<SignContractResponse>, Status> {
        let r = request.get_ref();
        let asked = contract_flow::Asked {
            method: method!("SignContract"),
            id: &r.id,
            etag: &r.etag,
            request_id: &r.request_id,
        };
        let step = contract_flow::Move::Sign(r.sign_date.as_ref());
        let (contract, _) = self.contract_move(&request, asked, step).await?;
        Ok(Response::new(SignContractResponse {
            contract: Some(contract),
        }))
    }

    async fn close_contract(
        &self,
        request: Request<CloseContractRequest>,
    ) -> Result<Response<CloseContractResponse>, Status> {
        let r = request.get_ref();
        let asked = contract_flow::Asked {
            method: method!("CloseContract"),
            id: &r.id,
            etag: &r.etag,
            request_id: &r.request_id,
        };
        let step = if r.terminate {
            contract_flow::Move::Terminate(&r.reason)
        } else {
            contract_flow::Move::Complete
        };
        let (contract, _) = self.contract_move(&request, asked, step).await?;
        Ok(Response::new(CloseContractResponse {
            contract: Some(contract),
        }))
    }

    async fn renew_contract(
        &self,
        request: Request<RenewContractRequest>,
    ) -> Result<Response<RenewContractResponse>, Status> {
        let p = principal(&request)?;
        let r = request.get_ref();
        let asked = (
            method!("RenewContract"),
            r.id.as_str(),
            r.request_id.as_str(),
        );
        let contract = contract_flow::renew(&self.records, p, asked, r).await?;
        Ok(Response::new(RenewContractResponse {
            contract: Some(contract),
        }))
    }

    crm_records::standard_rpc!(create "/crm.sales.v1.SalesService/CreatePaymentPlan"
        create_payment_plan(CreatePaymentPlanRequest) -> CreatePaymentPlanResponse
        { PaymentPlans => plan, duplicates: never } in records);
    crm_records::standard_rpc!(get
        get_payment_plan(GetPaymentPlanRequest) -> GetPaymentPlanResponse
        { PaymentPlans => plan } in records);
    crm_records::standard_rpc!(list
        list_payment_plans(ListPaymentPlansRequest) -> ListPaymentPlansResponse
        { PaymentPlans => plans } in records);
    crm_records::standard_rpc!(update "/crm.sales.v1.SalesService/UpdatePaymentPlan"
        update_payment_plan(UpdatePaymentPlanRequest) -> UpdatePaymentPlanResponse
        { PaymentPlans => plan, duplicates: never } in records);

    async fn record_receipt(
        &self,
        request: Request<RecordReceiptRequest>,
    ) -> Result<Response<RecordReceiptResponse>, Status> {
        let p = principal(&request)?;
        let r = request.get_ref();
        let (plan, outcome) =
            receivables::record_receipt(&self.records, p, &r.plan_id, r.receipt.as_ref()).await?;
        Ok(Response::new(RecordReceiptResponse {
            plan: Some(plan),
            outcome: outcome as i32,
        }))
    }

    async fn get_receivables(
        &self,
        request: Request<GetReceivablesRequest>,
    ) -> Result<Response<GetReceivablesResponse>, Status> {
        let p = principal(&request)?;
        let lines = receivables::summary(&self.records, p, request.get_ref().group_by).await?;
        Ok(Response::new(GetReceivablesResponse { lines }))
    }

    async fn search_products(
        &self,
        request: Request<SearchProductsRequest>,
    ) -> Result<Response<SearchProductsResponse>, Status> {
        let p = principal(&request)?;
        p.require(<Products as crm_records::resource::Resource>::READ)?;
        let r = request.get_ref();
        let query =
            self.records
                .search_query(p, &r.query, "product", (r.page_size, &r.page_token))?;
        let mut hits = Vec::new();
        self.records
            .collect_hits::<Products, _>(p, &query, &mut hits, |product, score, field| {
                ProductMatch {
                    product: Some(product),
                    score,
                    matched_field: field.to_owned(),
                }
            })
            .await?;
        let (results, next_page_token) = self.records.page_hits(&query, hits)?;
        Ok(Response::new(SearchProductsResponse {
            results,
            next_page_token,
        }))
    }

    async fn quote_price(
        &self,
        request: Request<QuotePriceRequest>,
    ) -> Result<Response<QuotePriceResponse>, Status> {
        let quoted = pricing::quote(&self.records, principal(&request)?, request.get_ref()).await?;
        Ok(Response::new(quoted))
    }

    async fn get_catalog_settings(
        &self,
        request: Request<GetCatalogSettingsRequest>,
    ) -> Result<Response<GetCatalogSettingsResponse>, Status> {
        let settings = exchange::get_settings(&self.records, principal(&request)?).await?;
        Ok(Response::new(GetCatalogSettingsResponse {
            settings: Some(settings),
        }))
    }

    async fn update_catalog_settings(
        &self,
        request: Request<UpdateCatalogSettingsRequest>,
    ) -> Result<Response<UpdateCatalogSettingsResponse>, Status> {
        let p = principal(&request)?;
        let r = request.get_ref();
        let input = r
            .settings
            .clone()
            .ok_or_else(|| Error::invalid("settings", "is required"))?;
        let idem = Call {
            method: method!("UpdateCatalogSettings"),
            request_id: &r.request_id,
        }
        .idempotency(r);
        let settings = exchange::update_settings(&self.records, p, idem, input).await?;
        Ok(Response::new(UpdateCatalogSettingsResponse {
            settings: Some(settings),
        }))
    }

    async fn set_exchange_rate(
        &self,
        request: Request<SetExchangeRateRequest>,
    ) -> Result<Response<SetExchangeRateResponse>, Status> {
        let p = principal(&request)?;
        let r = request.get_ref();
        let input = r
            .exchange_rate
            .clone()
            .ok_or_else(|| Error::invalid("exchange_rate", "is required"))?;
        let idem = Call {
            method: method!("SetExchangeRate"),
            request_id: &r.request_id,
        }
        .idempotency(r);
        let rate = exchange::set_rate(&self.records, p, idem, input).await?;
        Ok(Response::new(SetExchangeRateResponse {
            exchange_rate: Some(rate),
        }))
    }

    async fn list_exchange_rates(
        &self,
        request: Request<ListExchangeRatesRequest>,
    ) -> Result<Response<ListExchangeRatesResponse>, Status> {
        let r = request.get_ref();
        let page = (r.page_size, r.page_token.as_str());
        let (exchange_rates, next_page_token) =
            exchange::list_rates(&self.records, principal(&request)?, &r.currency_code, page)
                .await?;
        Ok(Response::new(ListExchangeRatesResponse {
            exchange_rates,
            next_page_token,
        }))
    }

    async fn convert_money(
        &self,
        request: Request<ConvertMoneyRequest>,
    ) -> Result<Response<ConvertMoneyResponse>, Status> {
        let r = request.get_ref();
        let (money, exchange_rate) = exchange::convert(
            &self.records,
            principal(&request)?,
            r.money.as_ref(),
            r.date.as_ref(),
        )
        .await?;
        Ok(Response::new(ConvertMoneyResponse {
            money: Some(money.to_wire()),
            exchange_rate,
        }))
    }

    crm_records::custom_field_rpcs!(SalesFields, "/crm.sales.v1.SalesService/", records);

    async fn list_audit_entries(
        &self,
        request: Request<ListAuditEntriesRequest>,
    ) -> Result<Response<ListAuditEntriesResponse>, Status> {
        let p = principal(&request)?;
        let r = request.get_ref();
        let page = (r.resource_id.as_str(), r.page_size, &*r.page_token);
        // Each record's history shows to exactly those who see the record.
        macro_rules! history_of {
            ($($kind:ty),* $(,)?) => {
                match r.resource_type.as_str() {
                    $(kind if kind == <$kind as crm_records::resource::Resource>::KIND => {
                        self.records.history::<$kind>(p, AUDIT_READ, page).await?
                    })*
                    _ => return Err(Error::invalid("resource_type", AUDITED).into()),
                }
            };
        }
        let (entries, next_page_token) = history_of!(
            Products,
            PriceLists,
            Pipelines,
            Opportunities,
            Tasks,
            Leads,
            Targets,
            Quotes,
            Approvals,
            Orders,
            Contracts,
            PaymentPlans,
        );
        Ok(Response::new(ListAuditEntriesResponse {
            entries,
            next_page_token,
        }))
    }

    async fn import_records(
        &self,
        request: Request<Streaming<ImportRecordsRequest>>,
    ) -> Result<Response<ImportRecordsResponse>, Status> {
        let p = principal(&request)?.clone();
        let mut stream = request.into_inner();
        let (options, settings) = rpc::import_options(&mut stream).await?;
        let response = match tabular_kind("options.resource_type", &options.resource_type)? {
            TabularKind::Product => {
                self.records
                    .import_stream::<Products, _, _>(&p, settings, stream)
                    .await?
            }
            TabularKind::Lead => {
                self.records
                    .import_stream::<Leads, _, _>(&p, settings, stream)
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
        let wrap = |chunk| ExportRecordsResponse { chunk };
        let selected = (r.filter, r.format);
        let stream = match tabular_kind("resource_type", &r.resource_type)? {
            TabularKind::Product => {
                self.records
                    .export_stream::<Products, _>(p, selected, wrap)
                    .await?
            }
            TabularKind::Lead => {
                self.records
                    .export_stream::<Leads, _>(p, selected, wrap)
                    .await?
            }
        };
        Ok(Response::new(stream))
    }
}

/// A document that names its customer: the message name its fields are reported under, and
/// the account and contact ids it sends.
trait NamesCustomers {
    const PREFIX: &'static str;
    fn customers(&self) -> (&str, &str);
}

impl NamesCustomers for Quote {
    const PREFIX: &'static str = "quote";
    fn customers(&self) -> (&str, &str) {
        (&self.account_id, &self.contact_id)
    }
}

impl NamesCustomers for Order {
    const PREFIX: &'static str = "order";
    fn customers(&self) -> (&str, &str) {
        (&self.account_id, &self.contact_id)
    }
}

/// A contract names an account only.
impl NamesCustomers for Contract {
    const PREFIX: &'static str = "contract";
    fn customers(&self) -> (&str, &str) {
        (&self.account_id, "")
    }
}
