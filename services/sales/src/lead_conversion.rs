//! Converting a qualified lead: an account and a contact in the contacts service (ones the
//! caller sees are reused when they match), then, in one sales transaction, the opportunity
//! and the lead's conversion. The steps in contacts carry request ids derived from the lead,
//! so a retry after a failure between any two steps gets the same account and contact back
//! rather than new ones, and the opportunity exists only if the lead says converted.

use tonic::Status;

use crate::customers::{self, Customer, CustomerKind};
use crate::entity::lead::Model;
use crate::lead::{self, Leads, StoredConversion};
use crate::opportunity::Opportunities;
use crm_platform::auth::Principal;
use crm_platform::client::ServiceClient;
use crm_platform::clock;
use crm_platform::error::Error;
use crm_platform::faults;
use crm_proto::contacts::{Account, Contact};
use crm_proto::sales::{
    Lead, LeadStatus, Opportunity, SalesEvent, SalesEventType, sales_event::Subject,
};
use crm_records::handlers::{self, Records};
use crm_records::json;
use crm_records::resource::{Action, Resource};
use crm_records::store;

/// What a conversion is asked for.
#[derive(Debug, Clone, Default)]
pub(crate) struct Conversion {
    /// The lead.
    pub(crate) lead_id: String,
    /// An account to use instead of the company's.
    pub(crate) account_id: String,
    /// The opportunity to open, if any.
    pub(crate) opportunity: Option<Opportunity>,
}

/// The request id of a conversion's step in contacts: the same for every retry.
fn step_id(lead_id: &str, step: &str) -> String {
    format!("lead-convert-{lead_id}-{step}")
}

/// The account a lead's company becomes.
fn account_of(lead: &Model) -> Account {
    let name = if lead.company_name.is_empty() {
        &lead.display_name
    } else {
        &lead.company_name
    };
    Account {
        display_name: name.clone(),
        owner_id: lead.owner_id.clone(),
        ..Default::default()
    }
}

/// The contact a lead's person becomes.
fn contact_of(lead: &Model, account_id: &str) -> Contact {
    Contact {
        display_name: lead.display_name.clone(),
        title: lead.title.clone(),
        email: lead.email.clone(),
        phone: lead.phone.clone(),
        account_id: account_id.to_owned(),
        owner_id: lead.owner_id.clone(),
        ..Default::default()
    }
}

/// Converts a lead (see the module's description); a converted lead answers as it is.
pub(crate) async fn convert(
    records: &Records,
    contacts: Option<&ServiceClient>,
    principal: &Principal,
    asked: Conversion,
) -> Result<Lead, Status> {
    principal.require(Leads::WRITE)?;
    if asked.opportunity.is_some() {
        principal.require(Opportunities::WRITE)?;
    }
    if asked.lead_id.is_empty() {
        return Err(Error::invalid("lead_id", "is required").into());
    }
    let found = store::find::<Leads, _>(&records.db, principal, &asked.lead_id).await?;
    handlers::refuse_deleted::<Leads>(&Leads::stamps(&found))?;
    if lead::conversion(&found).is_some() {
        return Ok(Leads::to_proto(&found));
    }
    if found.status != LeadStatus::Qualified as i32 {
        return Err(Error::precondition(
            "LEAD_NOT_QUALIFIED",
            "only a qualified lead is converted; qualify it first",
        )
        .into());
    }
    if let Some(deal) = &asked.opportunity
        && deal.pipeline_id.trim().is_empty()
    {
        return Err(Error::invalid("opportunity.pipeline_id", "is required").into());
    }
    let account = if asked.account_id.is_empty() {
        let step = step_id(&found.id, "account");
        customers::account_for(contacts, principal, account_of(&found), step).await?
    } else {
        let field = ("account_id", asked.account_id.as_str());
        let asked_of = customers::asked(contacts, &records.cache);
        customers::check_visible(asked_of, principal, CustomerKind::Account, field).await?;
        Customer {
            id: asked.account_id.clone(),
            reused: true,
        }
    };
    faults::check("lead-conversion-after-account")?;
    let step = step_id(&found.id, "contact");
    let contact = contact_of(&found, &account.id);
    let contact = customers::contact_for(contacts, principal, contact, step).await?;
    faults::check("lead-conversion-after-contact")?;
    let converted = finish(
        records,
        principal,
        (&found, asked.opportunity),
        (account, contact),
    )
    .await?;
    Ok(converted)
}

/// The sales half, in one transaction: the opportunity, if asked, and the lead marked
/// converted. A concurrent conversion that got there first is answered as it stands.
async fn finish(
    records: &Records,
    principal: &Principal,
    (found, deal): (&Model, Option<Opportunity>),
    (account, contact): (Customer, Customer),
) -> Result<Lead, Error> {
    let txn = crm_platform::db::begin_write(&records.db).await?;
    let (current, _) = handlers::current::<Leads>(&txn, principal, &found.id, None).await?;
    if lead::conversion(&current).is_some() {
        return Ok(Leads::to_proto(&current));
    }
    lead::refuse_converted(&current)?;
    if current.status != LeadStatus::Qualified as i32 {
        return Err(Error::precondition(
            "LEAD_NOT_QUALIFIED",
            "the lead changed while it was being converted; it is no longer qualified",
        ));
    }
    let now = clock::now_micros();
    let opportunity_id = match deal {
        Some(deal) => {
            let name = if deal.display_name.trim().is_empty() {
                account_of(&current).display_name
            } else {
                deal.display_name.clone()
            };
            let input = Opportunity {
                display_name: name,
                account_id: account.id.clone(),
                owner_id: String::new(),
                ..deal
            };
            let id = uuid::Uuid::now_v7().to_string();
            let model = Opportunities::create(
                &principal.tenant_id,
                current.owner_id.clone(),
                (id, now),
                input,
                &records.write_context(principal),
            )?;
            records
                .insert_checked::<Opportunities>(&txn, principal, model, false)
                .await?
                .id
        }
        None => String::new(),
    };
    let mut next = current.clone();
    next.status = LeadStatus::Converted as i32;
    next.conversion = json::object_to_json(&StoredConversion {
        account_id: account.id,
        contact_id: contact.id,
        opportunity_id,
        account_reused: account.reused,
        contact_reused: contact.reused,
        time: now,
    });
    let proto = records
        .save_change::<Leads>(&txn, principal, &current, next, Action::Update, &[])
        .await?;
    let converted = SalesEvent {
        r#type: SalesEventType::LeadConverted as i32,
        subject: Some(Subject::Lead(proto.clone())),
        ..Default::default()
    };
    handlers::announce(
        &txn,
        &principal.tenant_id,
        &principal.user_id,
        converted,
        &proto.id,
    )
    .await?;
    txn.commit().await?;
    records.after_write::<Leads>(principal, &found.id).await;
    Ok(proto)
}
