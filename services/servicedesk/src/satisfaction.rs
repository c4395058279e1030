//! Satisfaction surveys. Resolving a ticket sends its customer a survey: a row kept with the
//! agent and queue it is counted for, and an invitation announced with a signed token that
//! names the ticket and expires (a mailer sends it as a link). The customer answers with the
//! token alone, through a public RPC, once per ticket: a second answer is refused in the
//! database (the answer is written only while none is). A ticket resolved again after a
//! reopening is surveyed again unless it was answered. CSAT is summed in `quality`.

use sea_orm::sea_query::OnConflict;
use sea_orm::{ActiveValue::Set, ColumnTrait, DatabaseTransaction, EntityTrait, QueryFilter};

use crate::entity::ticket::Model as Ticket;
use crate::entity::ticket_survey::{ActiveModel, Column, Entity, Model};
use crate::ticket::Tickets;
use crm_platform::audit::{self, Change};
use crm_platform::auth::Principal;
use crm_platform::clock;
use crm_platform::error::Error;
use crm_platform::signed_token::{Refused, SignedTokens};
use crm_platform::time::{to_timestamp, to_timestamp_opt};
use crm_platform::validate::Violations;
use crm_proto::servicedesk::{
    SatisfactionSurvey, ServicedeskEvent, ServicedeskEventType, SubmitSurveyRequest,
    SubmitSurveyResponse, SurveyInvitation, TicketStatus, servicedesk_event::Subject,
};
use crm_records::handlers::{Records, announce};
use crm_records::resource::Resource;

/// How long a customer may answer.
pub(crate) const ANSWER_DAYS: i64 = 14;
/// The actor of an answer in the ticket's history and the event.
const CUSTOMER_ACTOR: &str = "customer";
const DAY_MICROS: i64 = 86_400_000_000;

/// Issues and checks survey tokens.
#[derive(Debug, Clone)]
pub(crate) struct Surveys {
    tokens: SignedTokens,
}

impl Surveys {
    /// Survey tokens under a key derived from `secret`.
    pub(crate) fn new(secret: &[u8]) -> Self {
        Self {
            tokens: SignedTokens::new(secret, "servicedesk survey"),
        }
    }

    /// In a status change's transaction: a ticket just resolved sends its survey, unless it
    /// was answered before.
    pub(crate) async fn on_status_change(
        &self,
        txn: &DatabaseTransaction,
        principal: &Principal,
        (before, after): (&Ticket, &Ticket),
    ) -> Result<(), Error> {
        let resolved = TicketStatus::Resolved as i32;
        if after.status != resolved || before.status == resolved {
            return Ok(());
        }
        let key = (after.tenant_id.clone(), after.id.clone());
        let answered = Entity::find_by_id(key)
            .one(txn)
            .await?
            .is_some_and(|s| s.answer_time.is_some());
        if answered {
            return Ok(());
        }
        let now = clock::now_micros();
        let expire = now + ANSWER_DAYS * DAY_MICROS;
        let row = ActiveModel {
            tenant_id: Set(after.tenant_id.clone()),
            ticket_id: Set(after.id.clone()),
            agent_id: Set(after.owner_id.clone()),
            queue_id: Set(after.queue_id.clone()),
            score: Set(0),
            comment: Set(String::new()),
            send_time: Set(now),
            expire_time: Set(expire),
            answer_time: Set(None),
        };
        Entity::insert(row)
            .on_conflict(
                OnConflict::columns([Column::TenantId, Column::TicketId])
                    .update_columns([
                        Column::AgentId,
                        Column::QueueId,
                        Column::SendTime,
                        Column::ExpireTime,
                    ])
                    .to_owned(),
            )
            .exec(txn)
            .await?;
        let invitation = SurveyInvitation {
            ticket_id: after.id.clone(),
            ticket_number: after.number.clone(),
            contact_id: after.contact_id.clone(),
            account_id: after.account_id.clone(),
            token: self.tokens.issue(&[&after.tenant_id, &after.id], expire),
            expire_time: Some(to_timestamp(expire)),
        };
        let event = ServicedeskEvent {
            r#type: ServicedeskEventType::SurveyRequested as i32,
            subject: Some(Subject::SurveyInvitation(invitation)),
            ..Default::default()
        };
        announce(
            txn,
            &principal.tenant_id,
            &principal.user_id,
            event,
            &after.id,
        )
        .await
    }

    /// Takes a customer's answer: the token says whose; once per ticket.
    pub(crate) async fn submit(
        &self,
        records: &Records,
        request: &SubmitSurveyRequest,
    ) -> Result<SubmitSurveyResponse, Error> {
        let forged = Error::Unauthenticated("the survey token is not valid");
        let (fields, _expire) = match self.tokens.verify(&request.token) {
            Ok(found) => found,
            Err(Refused::Forged) => return Err(forged),
            Err(Refused::Expired) => {
                return Err(Error::precondition(
                    "SURVEY_EXPIRED",
                    "this survey has closed: it can no longer be answered",
                ));
            }
        };
        let [tenant_id, ticket_id] = fields.as_slice() else {
            return Err(forged);
        };
        let mut v = Violations::new();
        if !(1..=5).contains(&request.score) {
            v.add("score", "must be from 1 to 5");
        }
        let comment = request.comment.trim().to_owned();
        v.max_chars("comment", &comment, 2000);
        v.finish()?;
        let txn = crm_platform::db::begin_write(&records.db).await?;
        let Some(survey) = Entity::find_by_id((tenant_id.clone(), ticket_id.clone()))
            .one(&txn)
            .await?
        else {
            return Err(forged);
        };
        let now = clock::now_micros();
        let answered = Entity::update_many()
            .set(ActiveModel {
                score: Set(request.score),
                comment: Set(comment.clone()),
                answer_time: Set(Some(now)),
                ..Default::default()
            })
            .filter(Column::TenantId.eq(tenant_id.as_str()))
            .filter(Column::TicketId.eq(ticket_id.as_str()))
            .filter(Column::AnswerTime.is_null())
            .exec(&txn)
            .await?;
        if answered.rows_affected != 1 {
            return Err(Error::AlreadyExists {
                reason: "SURVEY_ANSWERED",
                message: "this survey has already been answered".to_owned(),
                metadata: Default::default(),
            });
        }
        let ticket = crate::entity::ticket::Entity::find_by_id(ticket_id.clone())
            .filter(crate::entity::ticket::Column::TenantId.eq(tenant_id.as_str()))
            .one(&txn)
            .await?
            .ok_or(forged)?;
        let customer = Principal {
            user_id: CUSTOMER_ACTOR.to_owned(),
            client: "survey".to_owned(),
            ..crm_records::jobs::system_principal(tenant_id)
        };
        let change = Change {
            field: "survey_score".to_owned(),
            before: String::new(),
            after: request.score.to_string(),
        };
        audit::record(
            &txn,
            &customer,
            Tickets::KIND,
            ticket_id,
            "survey",
            &[change],
        )
        .await?;
        let answer = Model {
            score: request.score,
            comment,
            answer_time: Some(now),
            ..survey
        };
        let event = ServicedeskEvent {
            r#type: ServicedeskEventType::SurveyAnswered as i32,
            subject: Some(Subject::Survey(to_proto(&answer))),
            ..Default::default()
        };
        announce(&txn, tenant_id, CUSTOMER_ACTOR, event, ticket_id).await?;
        txn.commit().await?;
        records.relay.wake();
        Ok(SubmitSurveyResponse {
            ticket_number: ticket.number,
        })
    }
}

fn to_proto(m: &Model) -> SatisfactionSurvey {
    SatisfactionSurvey {
        ticket_id: m.ticket_id.clone(),
        agent_id: m.agent_id.clone(),
        queue_id: m.queue_id.clone(),
        score: m.score,
        comment: m.comment.clone(),
        send_time: Some(to_timestamp(m.send_time)),
        answer_time: to_timestamp_opt(m.answer_time),
    }
}
