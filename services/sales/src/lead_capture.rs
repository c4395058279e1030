//! Leads from outside: a web form, an OA system or a campaign files a lead with a key that
//! may do nothing else. The tenant's assignment rule picks the owner, and a resubmission of
//! an open lead (its email or phone) files nothing new and answers that lead's id.

use crate::lead::{self, CAPTURED, Leads};
use crate::lead_rules;
use crm_platform::auth::Principal;
use crm_platform::clock;
use crm_platform::error::Error;
use crm_platform::idempotency::{RequestKey, mutate};
use crm_proto::sales::{CaptureLeadResponse, Lead};
use crm_records::handlers::{Idempotency, Records};
use crm_records::index;

/// Permission to capture leads, and nothing more.
pub(crate) const CAPTURE: &str = "sales.leads.capture";

/// Files a captured lead, or finds the open lead it repeats.
pub(crate) async fn capture<M: prost::Message>(
    records: &Records,
    principal: &Principal,
    idem: Idempotency<'_, M>,
    input: Lead,
) -> Result<CaptureLeadResponse, Error> {
    principal.require(CAPTURE)?;
    let key = RequestKey::new(principal, idem.method, idem.request_id, idem.request)?;
    let id = uuid::Uuid::now_v7().to_string();
    let mut model = lead::new_model(
        &principal.tenant_id,
        principal.user_id.clone(),
        (id, clock::now_micros()),
        (&input, CAPTURED),
        &records.write_context(principal),
    )?;
    // The adapter's answer from contacts, never the client's.
    model.matched_contact_id = input.matched_contact_id;
    if model.email.is_empty() && model.phone.is_empty() {
        return Err(Error::invalid(
            "lead.email",
            "an email or a phone is required to capture a lead",
        ));
    }
    let response = mutate(&records.db, key.as_ref(), |txn| async move {
        let tenant_id = principal.tenant_id.as_str();
        // Duplicates first: their keys' locks make a resubmission racing its original wait.
        if let Some((existing, _)) = index::find_duplicate::<Leads>(&txn, tenant_id, &model).await?
        {
            let repeated = CaptureLeadResponse {
                lead_id: existing,
                duplicate: true,
            };
            return Ok((txn, repeated));
        }
        let mut model = model;
        if let Some(owner) = lead_rules::assign(&txn, tenant_id, &model.region_code).await? {
            model.owner_id = owner;
        }
        // The rule's choice is the tenant's, not the key's: no scope check on the owner.
        let proto = records
            .insert_checked::<Leads>(&txn, principal, model, true)
            .await?;
        let filed = CaptureLeadResponse {
            lead_id: proto.id,
            duplicate: false,
        };
        Ok((txn, filed))
    })
    .await?;
    records.relay.wake();
    Ok(response)
}
