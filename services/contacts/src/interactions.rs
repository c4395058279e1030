//! Interactions and follow-ups: the calls, emails, meetings, visits, messages and notes of a
//! customer's timeline, and the follow-ups they schedule. Both are visible to whoever can see
//! the customer; a follow-up belongs to its owner and moves with the customer.

use crm_platform::clock;
use sea_orm::sea_query::{Expr, ExprTrait as _};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, ConnectionTrait, DatabaseConnection,
    DatabaseTransaction, EntityTrait, IntoActiveModel, QueryFilter, QueryOrder, QuerySelect,
};

use crate::account::Accounts;
use crate::contact::Contacts;
use crate::entity::contact;
use crate::entity::{follow_up, interaction};
use crate::fields;
use crate::handlers::{Handlers, Idempotency, announce};
use crate::jobs::{Announcement, announce_marked};
use crate::resource::ResourceType;
use crate::store;
use crm_platform::audit;
use crm_platform::auth::Principal;
use crm_platform::error::Error;
use crm_platform::idempotency::{RequestKey, mutate};
use crm_platform::paging::{self, Cursor, SortKey, split_page};
use crm_platform::time::{micros_of, to_timestamp, to_timestamp_opt};
use crm_platform::validate::Violations;
use crm_platform::{etag, field_mask};
use crm_proto::contacts::{
    ContactsEvent, ContactsEventType, FollowUp, FollowUpState, FollowUpView, Interaction,
    InteractionKind, RecordInteractionResponse, contacts_event::Subject,
};

/// Permission to read timelines and follow-ups.
pub const READ: &str = "contacts.interactions.read";
/// Permission to record interactions and change follow-ups.
pub const WRITE: &str = "contacts.interactions.write";
/// How far in the future an interaction's time may lie (clock skew between devices).
const FUTURE_SLACK_MICROS: i64 = 5 * 60 * 1_000_000;
/// Largest page.
const MAX_PAGE_SIZE: u64 = 1000;

/// Checks that the caller may see the live customer `id`.
async fn visible_subject<C: ConnectionTrait>(
    db: &C,
    principal: &Principal,
    kind: ResourceType,
    id: &str,
) -> Result<(), Error> {
    let deleted = match kind {
        ResourceType::Account => store::find::<Accounts, _>(db, principal, id)
            .await?
            .delete_time
            .is_some(),
        ResourceType::Contact => store::find::<Contacts, _>(db, principal, id)
            .await?
            .delete_time
            .is_some(),
    };
    if deleted {
        return Err(Error::precondition(
            "RESOURCE_DELETED",
            format!("{} {id} is deleted", kind.name()),
        ));
    }
    Ok(())
}

fn interaction_proto(m: &interaction::Model) -> Interaction {
    Interaction {
        id: m.id.clone(),
        subject_type: m.subject_kind.clone(),
        subject_id: m.subject_id.clone(),
        kind: m.kind,
        occur_time: Some(to_timestamp(m.occur_time)),
        participant_contact_ids: fields::from_json(&m.participant_contact_ids),
        participant_user_ids: fields::from_json(&m.participant_user_ids),
        summary: m.summary.clone(),
        outcome: m.outcome.clone(),
        owner_id: m.owner_id.clone(),
        next_follow_up_time: None,
        follow_up_id: m.follow_up_id.clone(),
        create_time: Some(to_timestamp(m.create_time)),
    }
}

fn follow_up_proto(m: &follow_up::Model) -> FollowUp {
    FollowUp {
        id: m.id.clone(),
        subject_type: m.subject_kind.clone(),
        subject_id: m.subject_id.clone(),
        interaction_id: m.interaction_id.clone(),
        owner_id: m.owner_id.clone(),
        due_time: Some(to_timestamp(m.due_time)),
        note: m.note.clone(),
        state: m.state,
        close_time: to_timestamp_opt(m.close_time),
        etag: etag::format(m.version),
        create_time: Some(to_timestamp(m.create_time)),
    }
}

/// Every participant contact must be a live contact of the tenant.
async fn check_participants<C: ConnectionTrait>(
    db: &C,
    principal: &Principal,
    ids: &[String],
) -> Result<(), Error> {
    if ids.is_empty() {
        return Ok(());
    }
    // Only contacts the caller may see: another rep's contact is "no such contact", exactly
    // like an id that names nothing.
    let found: Vec<String> = crate::store::scoped::<Contacts>(principal)
        .select_only()
        .column(contact::Column::Id)
        .filter(contact::Column::Id.is_in(ids.iter().map(String::as_str)))
        .filter(contact::Column::DeleteTime.is_null())
        .into_tuple()
        .all(db)
        .await?;
    let mut v = Violations::new();
    for (i, id) in ids.iter().enumerate() {
        if !found.contains(id) {
            v.add(
                &format!("interaction.participant_contact_ids[{i}]"),
                "no such contact",
            );
        }
    }
    v.finish()
}

impl Handlers {
    /// Records an interaction and the follow-up it schedules.
    pub async fn record_interaction<M: prost::Message>(
        &self,
        principal: &Principal,
        idem: Idempotency<'_, M>,
        input: Interaction,
        follow_up_note: &str,
    ) -> Result<RecordInteractionResponse, Error> {
        principal.require(WRITE)?;
        let key = RequestKey::new(principal, idem.method, idem.request_id, idem.request)?;
        let now = clock::now_micros();
        let mut v = Violations::new();
        let kind = ResourceType::parse("interaction.subject_type", &input.subject_type)?;
        if input.subject_id.trim().is_empty() {
            v.add("interaction.subject_id", "is required");
        }
        if !matches!(
            InteractionKind::try_from(input.kind),
            Ok(k) if k != InteractionKind::Unspecified
        ) {
            v.add(
                "interaction.kind",
                "must be a call, email, meeting, visit, message or note",
            );
        }
        v.required("interaction.summary", &input.summary);
        v.max_chars("interaction.summary", &input.summary, 500);
        v.max_chars("interaction.outcome", &input.outcome, 2000);
        v.max_chars("follow_up_note", follow_up_note, 500);
        let occur_time = input.occur_time.as_ref().map(micros_of).unwrap_or(now);
        if occur_time > now + FUTURE_SLACK_MICROS || occur_time < 0 {
            v.add(
                "interaction.occur_time",
                "must not be in the future; schedule future contact as a follow-up",
            );
        }
        let due = input.next_follow_up_time.as_ref().map(micros_of);
        if due.is_some_and(|d| d <= occur_time) {
            v.add(
                "interaction.next_follow_up_time",
                "must be after the interaction",
            );
        }
        let contacts = fields::ids(
            &mut v,
            "interaction.participant_contact_ids",
            &input.participant_contact_ids,
        );
        let users = fields::ids(
            &mut v,
            "interaction.participant_user_ids",
            &input.participant_user_ids,
        );
        v.finish()?;
        let id = uuid::Uuid::now_v7().to_string();
        let follow_up = due.map(|due_time| follow_up::Model {
            id: uuid::Uuid::now_v7().to_string(),
            tenant_id: principal.tenant_id.clone(),
            subject_kind: kind.name().to_owned(),
            subject_id: input.subject_id.trim().to_owned(),
            interaction_id: id.clone(),
            owner_id: principal.user_id.clone(),
            due_time,
            note: follow_up_note.trim().to_owned(),
            state: FollowUpState::Open as i32,
            close_time: None,
            due_notified: false,
            version: 1,
            create_time: now,
            update_time: now,
        });
        let model = interaction::Model {
            id,
            tenant_id: principal.tenant_id.clone(),
            subject_kind: kind.name().to_owned(),
            subject_id: input.subject_id.trim().to_owned(),
            kind: input.kind,
            occur_time,
            participant_contact_ids: fields::to_json(&contacts),
            participant_user_ids: fields::to_json(&users),
            summary: input.summary.trim().to_owned(),
            outcome: input.outcome.trim().to_owned(),
            owner_id: principal.user_id.clone(),
            follow_up_id: follow_up.as_ref().map(|f| f.id.clone()).unwrap_or_default(),
            create_time: now,
        };
        let response = mutate(&self.db, key.as_ref(), |txn| async move {
            visible_subject(&txn, principal, kind, &model.subject_id).await?;
            check_participants(&txn, principal, &contacts).await?;
            model.clone().into_active_model().insert(&txn).await?;
            if let Some(f) = &follow_up {
                f.clone().into_active_model().insert(&txn).await?;
            }
            let mut proto = interaction_proto(&model);
            proto.next_follow_up_time = due.map(to_timestamp);
            audit::record(
                &txn,
                principal,
                kind.name(),
                &model.subject_id,
                "interaction",
                &[audit::Change {
                    field: "interaction".to_owned(),
                    before: String::new(),
                    after: model.id.clone(),
                }],
            )
            .await?;
            let event = ContactsEvent {
                r#type: ContactsEventType::InteractionRecorded as i32,
                subject: Some(Subject::Interaction(proto.clone())),
                ..Default::default()
            };
            announce(
                &txn,
                &principal.tenant_id,
                &principal.user_id,
                event,
                &model.id,
            )
            .await?;
            Ok((
                txn,
                RecordInteractionResponse {
                    interaction: Some(proto),
                    follow_up: follow_up.as_ref().map(follow_up_proto),
                },
            ))
        })
        .await?;
        self.relay.wake();
        Ok(response)
    }

    /// A customer's timeline, newest first.
    pub async fn list_interactions(
        &self,
        principal: &Principal,
        subject_type: &str,
        subject_id: &str,
        page_size: i32,
        page_token: &str,
    ) -> Result<(Vec<Interaction>, String), Error> {
        principal.require(READ)?;
        let kind = ResourceType::parse("subject_type", subject_type)?;
        if subject_id.is_empty() {
            return Err(Error::invalid("subject_id", "is required"));
        }
        let limit = paging::page_size(page_size, MAX_PAGE_SIZE)?;
        let binding = paging::binding(&[
            "interactions",
            &principal.tenant_id,
            &principal.user_id,
            kind.name(),
            subject_id,
        ]);
        let cursor = self.pages.read(page_token, &binding)?;
        // Deleted customers keep their history readable.
        match kind {
            ResourceType::Account => {
                store::find::<Accounts, _>(&self.db, principal, subject_id).await?;
            }
            ResourceType::Contact => {
                store::find::<Contacts, _>(&self.db, principal, subject_id).await?;
            }
        }
        let mut query = interaction::Entity::find()
            .filter(interaction::Column::TenantId.eq(principal.tenant_id.as_str()))
            .filter(interaction::Column::SubjectKind.eq(kind.name()))
            .filter(interaction::Column::SubjectId.eq(subject_id))
            .order_by_desc(interaction::Column::OccurTime)
            .order_by_desc(interaction::Column::Id)
            .limit(limit + 1);
        if let Some(cursor) = &cursor {
            query = query.filter(before_cursor(
                interaction::Column::OccurTime,
                interaction::Column::Id,
                cursor,
                true,
            )?);
        }
        let rows = query.all(&self.db).await?;
        let (rows, next) = split_page(rows, limit, |row| Cursor {
            key: SortKey::Int(row.occur_time),
            id: row.id.clone(),
        });
        let token = next
            .map(|c| self.pages.issue(c, &binding))
            .unwrap_or_default();
        Ok((rows.iter().map(interaction_proto).collect(), token))
    }

    /// Follow-ups of one owner in the caller's scope (the caller by default), earliest due
    /// first. An owner outside the caller's scope, unknown, or of another tenant has none the
    /// caller may see: the list is empty, alike in all three cases.
    pub async fn list_follow_ups(
        &self,
        principal: &Principal,
        owner_id: &str,
        view: FollowUpView,
        utc_offset_minutes: i32,
        (page_size, page_token): (i32, &str),
    ) -> Result<(Vec<FollowUp>, String), Error> {
        principal.require(READ)?;
        let owner = if owner_id.is_empty() {
            principal.user_id.as_str()
        } else {
            owner_id
        };
        if !(-14 * 60..=14 * 60).contains(&utc_offset_minutes) {
            return Err(Error::invalid(
                "utc_offset_minutes",
                "must be between -840 and 840",
            ));
        }
        let limit = paging::page_size(page_size, MAX_PAGE_SIZE)?;
        if !principal.reaches(owner) {
            return Ok((Vec::new(), String::new()));
        }
        let binding = paging::binding(&[
            "follow_ups",
            &principal.tenant_id,
            &principal.user_id,
            owner,
            view.as_str_name(),
            &utc_offset_minutes.to_string(),
        ]);
        let cursor = self.pages.read(page_token, &binding)?;
        let now = clock::now_micros();
        let mut query = follow_up::Entity::find()
            .filter(follow_up::Column::TenantId.eq(principal.tenant_id.as_str()))
            .filter(follow_up::Column::OwnerId.eq(owner));
        if view != FollowUpView::All {
            query = query.filter(follow_up::Column::State.eq(FollowUpState::Open as i32));
        }
        match view {
            FollowUpView::DueToday => {
                let end = end_of_local_day(now, utc_offset_minutes);
                query = query.filter(follow_up::Column::DueTime.lt(end));
            }
            FollowUpView::Overdue => query = query.filter(follow_up::Column::DueTime.lt(now)),
            FollowUpView::Unspecified | FollowUpView::All => {}
        }
        if let Some(cursor) = &cursor {
            query = query.filter(before_cursor(
                follow_up::Column::DueTime,
                follow_up::Column::Id,
                cursor,
                false,
            )?);
        }
        let rows = query
            .order_by_asc(follow_up::Column::DueTime)
            .order_by_asc(follow_up::Column::Id)
            .limit(limit + 1)
            .all(&self.db)
            .await?;
        let (rows, next) = split_page(rows, limit, |row| Cursor {
            key: SortKey::Int(row.due_time),
            id: row.id.clone(),
        });
        let token = next
            .map(|c| self.pages.issue(c, &binding))
            .unwrap_or_default();
        Ok((rows.iter().map(follow_up_proto).collect(), token))
    }

    /// Reschedules, completes, cancels or reopens a follow-up.
    pub async fn update_follow_up<M: prost::Message>(
        &self,
        principal: &Principal,
        idem: Idempotency<'_, M>,
        input: FollowUp,
        mask: Vec<String>,
    ) -> Result<FollowUp, Error> {
        principal.require(WRITE)?;
        let key = RequestKey::new(principal, idem.method, idem.request_id, idem.request)?;
        if input.id.is_empty() {
            return Err(Error::invalid("follow_up.id", "is required"));
        }
        let expected = etag::parse("follow_up.etag", &input.etag)?;
        let fields = field_mask::resolve(
            &mask,
            &["due_time", "note", "state"],
            &[
                "id",
                "etag",
                "subject_type",
                "subject_id",
                "interaction_id",
                "owner_id",
                "close_time",
                "create_time",
            ],
            |f| match f {
                "due_time" => input.due_time.is_some(),
                "note" => !input.note.is_empty(),
                "state" => input.state != 0,
                _ => false,
            },
        )?;
        let mut v = Violations::new();
        v.max_chars("follow_up.note", &input.note, 500);
        let state = FollowUpState::try_from(input.state).ok();
        if fields.contains(&"state") && matches!(state, None | Some(FollowUpState::Unspecified)) {
            v.add("follow_up.state", "must be open, done or cancelled");
        }
        if fields.contains(&"due_time") && input.due_time.is_none() {
            v.add("follow_up.due_time", "is required");
        }
        v.finish()?;
        mutate(&self.db, key.as_ref(), |txn| async move {
            let current = follow_up::Entity::find()
                .filter(follow_up::Column::TenantId.eq(principal.tenant_id.as_str()))
                .filter(follow_up::Column::Id.eq(input.id.as_str()))
                .one(&txn)
                .await?
                .filter(|f| principal.reaches(&f.owner_id))
                .ok_or_else(|| Error::not_found("follow_up", input.id.clone()))?;
            if expected.is_some_and(|v| v != current.version) {
                return Err(Error::StaleEtag {
                    resource: "follow_up",
                });
            }
            let now = clock::now_micros();
            let mut next = current.clone();
            for field in &fields {
                match *field {
                    "due_time" => {
                        next.due_time = input.due_time.as_ref().map(micros_of).unwrap_or_default();
                        next.due_notified = false;
                    }
                    "note" => next.note = input.note.trim().to_owned(),
                    "state" => {
                        next.state = input.state;
                        next.close_time =
                            (input.state != FollowUpState::Open as i32).then_some(now);
                        if input.state == FollowUpState::Open as i32 {
                            next.due_notified = next.due_time <= now;
                        }
                    }
                    _ => {}
                }
            }
            next.version = current.version + 1;
            next.update_time = now;
            let result = follow_up::Entity::update_many()
                .set(next.clone().into_active_model().reset_all())
                .filter(follow_up::Column::Id.eq(current.id.as_str()))
                .filter(follow_up::Column::Version.eq(current.version))
                .exec(&txn)
                .await?;
            if result.rows_affected != 1 {
                return Err(Error::StaleEtag {
                    resource: "follow_up",
                });
            }
            let describe = |f: &follow_up::Model| {
                vec![
                    ("due_time", f.due_time.to_string()),
                    ("note", f.note.clone()),
                    ("state", f.state.to_string()),
                ]
            };
            let changes = audit::diff(&describe(&current), &describe(&next));
            audit::record(&txn, principal, "follow_up", &next.id, "update", &changes).await?;
            Ok((txn, follow_up_proto(&next)))
        })
        .await
    }
}

/// Keyset condition for (time, id) pages.
fn before_cursor<Col: ColumnTrait>(
    time: Col,
    id: Col,
    cursor: &Cursor,
    descending: bool,
) -> Result<Condition, Error> {
    let SortKey::Int(key) = cursor.key else {
        return Err(Error::invalid("page_token", "belongs to another list"));
    };
    let (beyond, tie) = if descending {
        (time.lt(key), id.lt(cursor.id.as_str()))
    } else {
        (time.gt(key), id.gt(cursor.id.as_str()))
    };
    Ok(Condition::any()
        .add(beyond)
        .add(Condition::all().add(time.eq(key)).add(tie)))
}

/// The first microsecond after the local day containing `now`.
fn end_of_local_day(now: i64, utc_offset_minutes: i32) -> i64 {
    const DAY: i64 = 86_400_000_000;
    let offset = i64::from(utc_offset_minutes) * 60_000_000;
    let local = now + offset;
    local.div_euclid(DAY) * DAY + DAY - offset
}

/// Moves the open follow-ups of one customer from its old owner to its new one.
pub async fn reassign_open_follow_ups(
    txn: &DatabaseTransaction,
    tenant_id: &str,
    (kind, id): (&str, &str),
    from_owner: &str,
    to_owner: &str,
) -> Result<u64, Error> {
    let now = clock::now_micros();
    let result = follow_up::Entity::update_many()
        .col_expr(follow_up::Column::OwnerId, Expr::value(to_owner))
        .col_expr(
            follow_up::Column::Version,
            Expr::col(follow_up::Column::Version).add(1),
        )
        .col_expr(follow_up::Column::UpdateTime, Expr::value(now))
        .filter(follow_up::Column::TenantId.eq(tenant_id))
        .filter(follow_up::Column::SubjectKind.eq(kind))
        .filter(follow_up::Column::SubjectId.eq(id))
        .filter(follow_up::Column::OwnerId.eq(from_owner))
        .filter(follow_up::Column::State.eq(FollowUpState::Open as i32))
        .exec(txn)
        .await?;
    Ok(result.rows_affected)
}

/// Cancels the open follow-ups of one customer (it went to the pool).
pub async fn cancel_open_follow_ups(
    txn: &DatabaseTransaction,
    tenant_id: &str,
    (kind, id): (&str, &str),
) -> Result<u64, Error> {
    let now = clock::now_micros();
    let result = follow_up::Entity::update_many()
        .col_expr(
            follow_up::Column::State,
            Expr::value(FollowUpState::Cancelled as i32),
        )
        .col_expr(follow_up::Column::CloseTime, Expr::value(now))
        .col_expr(
            follow_up::Column::Version,
            Expr::col(follow_up::Column::Version).add(1),
        )
        .col_expr(follow_up::Column::UpdateTime, Expr::value(now))
        .filter(follow_up::Column::TenantId.eq(tenant_id))
        .filter(follow_up::Column::SubjectKind.eq(kind))
        .filter(follow_up::Column::SubjectId.eq(id))
        .filter(follow_up::Column::State.eq(FollowUpState::Open as i32))
        .exec(txn)
        .await?;
    Ok(result.rows_affected)
}

/// Everything recorded about one customer: its timeline, newest first, and its follow-ups.
pub(crate) async fn held_about<C: ConnectionTrait>(
    db: &C,
    tenant_id: &str,
    kind: &str,
    id: &str,
) -> Result<(Vec<Interaction>, Vec<FollowUp>), Error> {
    let interactions = interaction::Entity::find()
        .filter(interaction::Column::TenantId.eq(tenant_id))
        .filter(interaction::Column::SubjectKind.eq(kind))
        .filter(interaction::Column::SubjectId.eq(id))
        .order_by_desc(interaction::Column::OccurTime)
        .all(db)
        .await?;
    let follow_ups = follow_up::Entity::find()
        .filter(follow_up::Column::TenantId.eq(tenant_id))
        .filter(follow_up::Column::SubjectKind.eq(kind))
        .filter(follow_up::Column::SubjectId.eq(id))
        .order_by_asc(follow_up::Column::DueTime)
        .all(db)
        .await?;
    Ok((
        interactions.iter().map(interaction_proto).collect(),
        follow_ups.iter().map(follow_up_proto).collect(),
    ))
}

/// The text left where erased personal data was.
pub const ERASED: &str = "[erased]";

/// Erases what interactions and follow-ups say about a contact: the texts of its timeline,
/// its follow-up notes (open ones are cancelled), and its place among other interactions'
/// participants. Who recorded what, and when, stays.
pub(crate) async fn erase_contact(
    txn: &DatabaseTransaction,
    tenant_id: &str,
    contact_id: &str,
) -> Result<(), Error> {
    interaction::Entity::update_many()
        .col_expr(interaction::Column::Summary, Expr::value(ERASED))
        .col_expr(interaction::Column::Outcome, Expr::value(""))
        .filter(interaction::Column::TenantId.eq(tenant_id))
        .filter(interaction::Column::SubjectKind.eq("contact"))
        .filter(interaction::Column::SubjectId.eq(contact_id))
        .exec(txn)
        .await?;
    // Follow-up notes were recorded in the follow-ups' own audit entries.
    let follow_ups: Vec<String> = follow_up::Entity::find()
        .select_only()
        .column(follow_up::Column::Id)
        .filter(follow_up::Column::TenantId.eq(tenant_id))
        .filter(follow_up::Column::SubjectKind.eq("contact"))
        .filter(follow_up::Column::SubjectId.eq(contact_id))
        .into_tuple()
        .all(txn)
        .await?;
    audit::redact_all(txn, tenant_id, "follow_up", &follow_ups).await?;
    follow_up::Entity::update_many()
        .col_expr(follow_up::Column::Note, Expr::value(""))
        .col_expr(
            follow_up::Column::Version,
            Expr::col(follow_up::Column::Version).add(1),
        )
        .filter(follow_up::Column::TenantId.eq(tenant_id))
        .filter(follow_up::Column::SubjectKind.eq("contact"))
        .filter(follow_up::Column::SubjectId.eq(contact_id))
        .exec(txn)
        .await?;
    cancel_open_follow_ups(txn, tenant_id, ("contact", contact_id)).await?;
    let pattern = format!("%\"{contact_id}\"%");
    let mentioning = interaction::Entity::find()
        .filter(interaction::Column::TenantId.eq(tenant_id))
        .filter(interaction::Column::ParticipantContactIds.like(pattern))
        .all(txn)
        .await?;
    for row in mentioning {
        let mut ids: Vec<String> = fields::from_json(&row.participant_contact_ids);
        ids.retain(|id| id != contact_id);
        interaction::Entity::update_many()
            .col_expr(
                interaction::Column::ParticipantContactIds,
                Expr::value(fields::to_json(&ids)),
            )
            .filter(interaction::Column::Id.eq(row.id.as_str()))
            .exec(txn)
            .await?;
    }
    Ok(())
}

/// Moves a merged customer's timeline and follow-ups onto the survivor.
pub async fn repoint(
    txn: &DatabaseTransaction,
    tenant_id: &str,
    kind: &str,
    from_id: &str,
    to_id: &str,
) -> Result<(), Error> {
    interaction::Entity::update_many()
        .col_expr(interaction::Column::SubjectId, Expr::value(to_id))
        .filter(interaction::Column::TenantId.eq(tenant_id))
        .filter(interaction::Column::SubjectKind.eq(kind))
        .filter(interaction::Column::SubjectId.eq(from_id))
        .exec(txn)
        .await?;
    follow_up::Entity::update_many()
        .col_expr(follow_up::Column::SubjectId, Expr::value(to_id))
        .col_expr(
            follow_up::Column::Version,
            Expr::col(follow_up::Column::Version).add(1),
        )
        .filter(follow_up::Column::TenantId.eq(tenant_id))
        .filter(follow_up::Column::SubjectKind.eq(kind))
        .filter(follow_up::Column::SubjectId.eq(from_id))
        .exec(txn)
        .await?;
    Ok(())
}

/// Announces every open follow-up that has fallen due and was not announced yet, at most
/// `batch` at a time; returns how many. Safe to run on every replica at once: a follow-up
/// is marked in the same transaction as its event, and only by the run that flips the mark.
pub async fn announce_due(db: &DatabaseConnection, now: i64, batch: u64) -> Result<u64, Error> {
    let due = follow_up::Entity::find()
        .filter(follow_up::Column::State.eq(FollowUpState::Open as i32))
        .filter(follow_up::Column::DueNotified.eq(false))
        .filter(follow_up::Column::DueTime.lte(now))
        .order_by_asc(follow_up::Column::DueTime)
        .limit(batch)
        .all(db)
        .await?;
    let announcements = due
        .into_iter()
        .map(|row| Announcement {
            mark: follow_up::Entity::update_many()
                .col_expr(follow_up::Column::DueNotified, Expr::value(true))
                .filter(follow_up::Column::Id.eq(row.id.as_str()))
                .filter(follow_up::Column::DueNotified.eq(false)),
            tenant_id: row.tenant_id.clone(),
            aggregate_id: row.id.clone(),
            change: None,
            event: ContactsEvent {
                r#type: ContactsEventType::FollowUpDue as i32,
                subject: Some(Subject::FollowUp(follow_up_proto(&row))),
                ..Default::default()
            },
        })
        .collect();
    announce_marked(db, announcements).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn local_days_end_at_local_midnight() {
        // 2023-11-14T22:13:20Z is already 15 November in China (UTC+8).
        let now = 1_700_000_000_000_000;
        let end_utc = end_of_local_day(now, 0);
        assert_eq!(end_utc, 1_700_006_400_000_000); // 2023-11-15T00:00Z
        let end_china = end_of_local_day(now, 480);
        assert_eq!(
            end_china,
            1_700_006_400_000_000 + 86_400_000_000 - 8 * 3_600_000_000
        );
    }
}
