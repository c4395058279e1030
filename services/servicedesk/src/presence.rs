//! Who of the tenant's agents is away: queues assign them nothing new. Kept as tenant
//! settings; each change reads and replaces the list under the settings' lock, so two agents
//! marking themselves away at once both land.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use crm_platform::auth::Principal;
use crm_platform::error::Error;
use crm_platform::idempotency::{RequestKey, mutate};
use crm_proto::servicedesk::{
    AgentPresence, ServicedeskEvent, ServicedeskEventType, SetAgentAwayRequest,
    servicedesk_event::Subject,
};
use crm_records::handlers::{Records, announce};
use crm_records::settings::{self, Settings, Stored};

/// Permission to mark another agent away.
const OTHERS: &str = "servicedesk.queues.write";

/// The agents away, as stored.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct StoredPresence {
    #[serde(default)]
    pub(crate) away: BTreeSet<String>,
}

impl Settings for StoredPresence {
    const KIND: &'static str = "agent_presence";
}

fn to_proto(stored: &Stored<StoredPresence>) -> AgentPresence {
    AgentPresence {
        away_user_ids: stored.value.away.iter().cloned().collect(),
        etag: stored.etag(),
    }
}

/// Marks the agent `request` names (the caller when none) away or back.
pub(crate) async fn set_away(
    records: &Records,
    principal: &Principal,
    (method, request): (&'static str, &SetAgentAwayRequest),
) -> Result<AgentPresence, Error> {
    let user_id = match request.user_id.trim() {
        "" => principal.user_id.clone(),
        other => other.to_owned(),
    };
    if user_id != principal.user_id {
        principal.require(OTHERS)?;
    }
    if user_id.chars().count() > 100 {
        return Err(Error::invalid("user_id", "must be at most 100 characters"));
    }
    let key = RequestKey::new(principal, method, &request.request_id, request)?;
    let tenant_id = principal.tenant_id.as_str();
    let presence = mutate(&records.db, key.as_ref(), |txn| async move {
        let stored = settings::modify(&txn, principal, |current: &StoredPresence| {
            let mut next = current.clone();
            if request.away {
                next.away.insert(user_id);
            } else {
                next.away.remove(&user_id);
            }
            next
        })
        .await?;
        let proto = to_proto(&stored);
        let event = ServicedeskEvent {
            r#type: ServicedeskEventType::AgentPresenceUpdated as i32,
            subject: Some(Subject::AgentPresence(proto.clone())),
            ..Default::default()
        };
        announce(&txn, tenant_id, &principal.user_id, event, tenant_id).await?;
        Ok((txn, proto))
    })
    .await?;
    records.relay.wake();
    Ok(presence)
}
