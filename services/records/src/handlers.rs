//! The standard methods (get, list, create, update, delete, undelete) written once for every
//! resource: permission check, validation, scoped store call, audit entry and outbox event in
//! one transaction, idempotency, cache-aside with invalidation.

use crm_platform::clock;
use std::sync::Arc;

use prost::Message as _;
use sea_orm::{ColumnTrait, DatabaseConnection, DatabaseTransaction, EntityTrait, QueryFilter};

use crate::resource::{Action, Resource, Stamps, WriteContext};
use crate::store::{self, ListQuery, Order};
use crate::{custom_fields, custom_values, index};
use crm_platform::audit;
use crm_platform::auth::Principal;
use crm_platform::cache::Cache;
use crm_platform::error::Error;
use crm_platform::events::{self, Envelope, Relay};
use crm_platform::idempotency::{RequestKey, mutate};
use crm_platform::paging::{self, PageTokens};
use crm_platform::sealing::DataKeys;
use crm_platform::{etag, filter};
use crm_proto::DomainEvent;

/// Largest page a list returns.
const MAX_PAGE_SIZE: u64 = 1000;

/// What the standard methods of one service need.
#[derive(Debug, Clone)]
pub struct Records {
    /// Prefix of the service's cache keys (`contacts:v1`).
    pub cache_prefix: &'static str,
    /// The service's database.
    pub db: DatabaseConnection,
    /// Hot-lookup cache.
    pub cache: Arc<Cache>,
    /// Outbox relay, woken after each commit.
    pub relay: Relay,
    /// Page-token codec.
    pub pages: PageTokens,
    /// Keys of sensitive fields.
    pub keys: DataKeys,
}

/// What a state change makes happen in its transaction (see [`Records::change_state_then`]).
pub type FollowUp<'t> = std::pin::Pin<Box<dyn Future<Output = Result<(), Error>> + Send + 't>>;

/// Gives a closure the signature [`Records::change_state_then`] takes (closures cannot say
/// on their own that their future borrows their arguments).
pub fn follow_up<M, F>(follow: F) -> F
where
    F: for<'t> FnOnce(&'t DatabaseTransaction, &'t M, &'t M) -> FollowUp<'t>,
{
    follow
}

fn no_follow_up<'t, M>(_: &'t DatabaseTransaction, _: &'t M, _: &'t M) -> FollowUp<'t> {
    Box::pin(async { Ok(()) })
}

/// What a state change names: its method (which scopes the idempotency key), the record, the
/// etag the caller holds and the request id.
#[derive(Debug, Clone, Copy)]
pub struct StateChange<'a> {
    /// Full gRPC method name.
    pub method: &'static str,
    /// The record's id.
    pub id: &'a str,
    /// The etag sent, empty for none.
    pub etag: &'a str,
    /// Client-chosen request id, empty for none.
    pub request_id: &'a str,
}

/// A mutation's idempotency context: method name, request id and the request itself.
#[derive(Debug)]
pub struct Idempotency<'a, M> {
    /// Full gRPC method name.
    pub method: &'static str,
    /// Client-chosen request id, empty for none.
    pub request_id: &'a str,
    /// The whole request, hashed to detect a reused id.
    pub request: &'a M,
}

impl Records {
    fn cache_key(&self, kind: &str, tenant_id: &str, id: &str) -> String {
        format!("{}:{kind}:{tenant_id}:{id}", self.cache_prefix)
    }

    /// What validating `principal`'s writes needs.
    pub fn write_context(&self, principal: &Principal) -> WriteContext<'_> {
        WriteContext {
            keys: &self.keys,
            phone_region: principal.phone_region(),
        }
    }

    /// Returns one record the caller may see, from the cache when possible.
    pub async fn get<R: Resource>(
        &self,
        principal: &Principal,
        id: &str,
    ) -> Result<R::Proto, Error> {
        principal.require(R::READ)?;
        if id.is_empty() {
            return Err(Error::invalid("id", "is required"));
        }
        // The cache holds masked copies only: a caller who may see sensitive values reads a
        // record that has some from the database.
        let reveal = R::SENSITIVE_READ.is_some_and(|p| principal.has(p));
        let usable = |found: &Result<R::Proto, Error>| {
            !(reveal && found.as_ref().is_ok_and(R::has_sensitive))
        };
        let key = self.cache_key(R::KIND, &principal.tenant_id, id);
        if let Some(found) = self.cached::<R>(principal, &key, id).await.filter(usable) {
            return found;
        }
        let _flight = self.cache.single_flight(&key).await;
        if let Some(found) = self.cached::<R>(principal, &key, id).await.filter(usable) {
            return found;
        }
        let model = store::find::<R, _>(&self.db, principal, id).await?;
        let mut proto = R::to_proto(&model);
        self.cache.set(&key, proto.encode_to_vec()).await;
        if reveal {
            R::reveal(&model, &self.keys, &mut proto)?;
        }
        Ok(proto)
    }

    /// A cached copy, checked against the caller's scope exactly like a database read.
    async fn cached<R: Resource>(
        &self,
        principal: &Principal,
        key: &str,
        id: &str,
    ) -> Option<Result<R::Proto, Error>> {
        let bytes = self.cache.get(key).await?;
        let proto = R::Proto::decode(bytes.as_slice()).ok()?;
        Some(
            if crate::resource::reaches::<R>(principal, R::keys(&proto).1) {
                Ok(proto)
            } else {
                Err(Error::not_found(R::KIND, id))
            },
        )
    }

    /// Returns one page of records the caller may see, and the next page's token.
    pub async fn list<R: Resource>(
        &self,
        principal: &Principal,
        page_size: i32,
        page_token: &str,
        filter_text: &str,
        order_by: &str,
        show_deleted: bool,
    ) -> Result<(Vec<R::Proto>, String), Error> {
        principal.require(R::READ)?;
        let limit = paging::page_size(page_size, MAX_PAGE_SIZE)?;
        let comparisons = filter::parse(filter_text)?;
        let order = Order::parse(order_by, R::SORTABLE)?;
        let binding = paging::binding(&[
            R::KIND,
            &principal.tenant_id,
            &principal.user_id,
            filter_text,
            order_by,
            if show_deleted { "deleted" } else { "live" },
        ]);
        let cursor = self.pages.read(page_token, &binding)?;
        let (custom, comparisons): (Vec<_>, Vec<_>) = comparisons
            .into_iter()
            .partition(|c| custom_values::filter_name(&c.field).is_some());
        let mut conditions = Vec::with_capacity(custom.len());
        let mut own = Vec::with_capacity(comparisons.len());
        for comparison in comparisons {
            match R::sensitive_filter(
                &self.keys,
                &principal.tenant_id,
                &comparison.field,
                &comparison.value,
            ) {
                // Matching a value is reading it: looped over guesses, an exact match
                // recovers a masked number digit by digit.
                Some(_) if !R::SENSITIVE_READ.is_some_and(|p| principal.has(p)) => {
                    return Err(Error::PermissionDenied {
                        permission: R::SENSITIVE_READ.unwrap_or_default().to_owned(),
                    });
                }
                Some(_) if comparison.op != crm_platform::filter::Op::Eq => {
                    return Err(Error::invalid(
                        "filter",
                        format!("`{}` supports `=` only", comparison.field),
                    ));
                }
                Some(condition) => conditions.push(condition?),
                None => own.push(comparison),
            }
        }
        let comparisons = own;
        if !custom.is_empty() {
            let definitions =
                custom_fields::definitions(&self.db, &principal.tenant_id, R::KIND, false).await?;
            for comparison in &custom {
                let name = custom_values::filter_name(&comparison.field).unwrap_or_default();
                let def = definitions.iter().find(|d| d.name == name).ok_or_else(|| {
                    Error::invalid("filter", format!("unknown field `{}`", comparison.field))
                })?;
                conditions.push(custom_values::condition::<R>(
                    &principal.tenant_id,
                    def,
                    comparison,
                )?);
            }
        }
        let query = ListQuery {
            comparisons,
            conditions,
            order,
            cursor,
            limit,
            show_deleted,
        };
        let (rows, next) = store::list::<R, _>(&self.db, principal, &query).await?;
        let token = next
            .map(|cursor| self.pages.issue(cursor, &binding))
            .unwrap_or_default();
        let reveal = R::SENSITIVE_READ.is_some_and(|p| principal.has(p));
        let mut protos = Vec::with_capacity(rows.len());
        for row in &rows {
            let mut proto = R::to_proto(row);
            if reveal {
                R::reveal(row, &self.keys, &mut proto)?;
            }
            protos.push(proto);
        }
        Ok((protos, token))
    }

    /// One page of sets of visible records sharing a phone, email or company name.
    pub async fn find_duplicates<R: Resource>(
        &self,
        principal: &Principal,
        page_size: i32,
        page_token: &str,
    ) -> Result<(Vec<crm_proto::common::DuplicateSet>, String), Error> {
        principal.require(R::READ)?;
        let limit = paging::page_size(page_size, 500)?;
        let binding = paging::binding(&[
            "duplicates",
            R::KIND,
            &principal.tenant_id,
            &principal.user_id,
        ]);
        let cursor = self.pages.read(page_token, &binding)?;
        let (sets, next) =
            crate::duplicates::find_sets::<R, _>(&self.db, principal, limit, cursor).await?;
        let token = next
            .map(|cursor| self.pages.issue(cursor, &binding))
            .unwrap_or_default();
        Ok((sets, token))
    }

    /// Creates a record owned by the caller, or by `owner_id` if it is within their scope.
    /// A record sharing a phone, email or company name with another is refused unless
    /// `allow_duplicates`.
    pub async fn create<R: Resource, M: prost::Message, Resp: prost::Message + Default>(
        &self,
        principal: &Principal,
        idem: Idempotency<'_, M>,
        (input, allow_duplicates): (R::Proto, bool),
        wrap: fn(R::Proto) -> Resp,
    ) -> Result<Resp, Error> {
        principal.require(R::WRITE)?;
        let key = RequestKey::new(principal, idem.method, idem.request_id, idem.request)?;
        let owner_id = owner_of_new::<R>(principal, &input)?;
        let id = uuid::Uuid::now_v7().to_string();
        let model = R::create(
            &principal.tenant_id,
            owner_id,
            (id, clock::now_micros()),
            input,
            &self.write_context(principal),
        )?;
        let response = mutate(&self.db, key.as_ref(), |txn| async move {
            let proto = self
                .insert_checked::<R>(&txn, principal, model, allow_duplicates)
                .await?;
            Ok((txn, wrap(proto)))
        })
        .await?;
        self.relay.wake();
        Ok(response)
    }

    /// Checks a new row the way a create does (the resource's own checks, custom values,
    /// links, and duplicates unless `allow_duplicates`) and inserts it, in `txn`: for a write
    /// that creates a record as one of its steps.
    pub async fn insert_checked<R: Resource>(
        &self,
        txn: &DatabaseTransaction,
        principal: &Principal,
        mut model: R::Model,
        allow_duplicates: bool,
    ) -> Result<R::Proto, Error> {
        R::before_write(txn, principal, None, &mut model).await?;
        custom_fields::check_record::<R>(txn, &principal.tenant_id, &mut model, None).await?;
        check_links::<R>(txn, principal, &model).await?;
        if !allow_duplicates || R::KEYS_UNIQUE {
            refuse_duplicate::<R>(txn, principal, &model).await?;
        }
        self.insert_new::<R>(txn, principal, &model).await
    }

    /// Changes the masked fields of a record; a stale etag is refused. A change that makes the
    /// record share a phone, email or company name with another is refused unless
    /// `allow_duplicates`.
    pub async fn update<R: Resource, M: prost::Message, Resp: prost::Message + Default>(
        &self,
        principal: &Principal,
        idem: Idempotency<'_, M>,
        (input, mask, allow_duplicates): (R::Proto, Vec<String>, bool),
        wrap: fn(R::Proto) -> Resp,
    ) -> Result<Resp, Error> {
        principal.require(R::WRITE)?;
        let key = RequestKey::new(principal, idem.method, idem.request_id, idem.request)?;
        let (id, _, sent_etag) = R::keys(&input);
        let id = id.to_owned();
        let cache_id = id.clone();
        if id.is_empty() {
            return Err(Error::invalid(format!("{}.id", R::KIND), "is required"));
        }
        let expected = etag::parse(&format!("{}.etag", R::KIND), sent_etag)?;
        let response = mutate(&self.db, key.as_ref(), |txn| async move {
            let (current, stamps) = current::<R>(&txn, principal, &id, expected).await?;
            refuse_deleted::<R>(&stamps)?;
            let mut next = R::update(&current, input, &mask, &self.write_context(principal))?;
            R::before_write(&txn, principal, Some(&current), &mut next).await?;
            custom_fields::check_record::<R>(&txn, &principal.tenant_id, &mut next, Some(&current))
                .await?;
            let owner = R::stamps(&next).owner_id;
            if owner != stamps.owner_id {
                check_owner::<R>(principal, &owner)?;
            }
            check_links::<R>(&txn, principal, &next).await?;
            let keys_changed =
                index::duplicate_keys::<R>(&next) != index::duplicate_keys::<R>(&current);
            if keys_changed && (!allow_duplicates || R::KEYS_UNIQUE) {
                refuse_duplicate::<R>(&txn, principal, &next).await?;
            }
            let proto = self
                .save_change::<R>(&txn, principal, &current, next, Action::Update, &[])
                .await?;
            Ok((txn, wrap(proto)))
        })
        .await?;
        self.after_write::<R>(principal, &cache_id).await;
        Ok(response)
    }

    /// Soft-deletes (`deleted = true`) or restores a record; a stale etag is refused.
    pub async fn set_deleted<R: Resource, M: prost::Message, Resp: prost::Message + Default>(
        &self,
        principal: &Principal,
        idem: Idempotency<'_, M>,
        id: &str,
        sent_etag: &str,
        deleted: bool,
        wrap: fn(R::Proto) -> Resp,
    ) -> Result<Resp, Error> {
        principal.require(R::WRITE)?;
        let key = RequestKey::new(principal, idem.method, idem.request_id, idem.request)?;
        if id.is_empty() {
            return Err(Error::invalid("id", "is required"));
        }
        let expected = etag::parse("etag", sent_etag)?;
        let response = mutate(&self.db, key.as_ref(), |txn| async move {
            let (current, stamps) = current::<R>(&txn, principal, id, expected).await?;
            if R::is_erased(&current) {
                return Err(Error::precondition(
                    "RESOURCE_ERASED",
                    format!("{} {id} was erased and cannot change", R::KIND),
                ));
            }
            match (deleted, stamps.delete_time.is_some()) {
                (true, true) => {
                    return Err(Error::precondition(
                        "RESOURCE_DELETED",
                        format!("{} is already deleted", R::KIND),
                    ));
                }
                (false, false) => {
                    return Err(Error::AlreadyExists {
                        reason: "RESOURCE_NOT_DELETED",
                        message: format!("{} is not deleted", R::KIND),
                        metadata: [("id".to_owned(), id.to_owned())].into(),
                    });
                }
                _ => {}
            }
            R::check_delete(&current, deleted)?;
            let mut next = current.clone();
            R::set_stamps(
                &mut next,
                Stamps {
                    delete_time: deleted.then(clock::now_micros),
                    ..stamps.clone()
                },
            );
            // A restored record must not share a unique key (a product code) with a record
            // created while it was deleted.
            if !deleted && R::KEYS_UNIQUE {
                refuse_duplicate::<R>(&txn, principal, &next).await?;
            }
            let action = if deleted {
                Action::Delete
            } else {
                Action::Undelete
            };
            let proto = self
                .save_change::<R>(&txn, principal, &current, next, action, &[])
                .await?;
            Ok((txn, wrap(proto)))
        })
        .await?;
        self.after_write::<R>(principal, id).await;
        Ok(response)
    }

    /// Moves a record to another state (a ticket resolved): one transaction with the
    /// request's idempotency key, on the current row under the caller's scope and the etag
    /// they sent, refused while deleted; `step` checks the move against the current row and
    /// returns the next one, saved with its audit entry and event.
    pub async fn change_state<R, M, Resp>(
        &self,
        principal: &Principal,
        (asked, request): (StateChange<'_>, &M),
        step: impl FnOnce(&R::Model) -> Result<R::Model, Error> + Send,
        wrap: fn(R::Proto) -> Resp,
    ) -> Result<Resp, Error>
    where
        R: Resource,
        M: prost::Message,
        Resp: prost::Message + Default,
    {
        let nothing = no_follow_up::<R::Model>;
        self.change_state_then::<R, M, Resp>(principal, (asked, request), (step, nothing), wrap)
            .await
    }

    /// [`Self::change_state`], then `follow` in the same transaction with the row before and
    /// after the move (as `step` returned it): what else the move makes happen (a resolved
    /// ticket's survey), kept or lost with it.
    pub async fn change_state_then<R, M, Resp>(
        &self,
        principal: &Principal,
        (asked, request): (StateChange<'_>, &M),
        (step, follow): (
            impl FnOnce(&R::Model) -> Result<R::Model, Error> + Send,
            impl for<'t> FnOnce(&'t DatabaseTransaction, &'t R::Model, &'t R::Model) -> FollowUp<'t>
            + Send,
        ),
        wrap: fn(R::Proto) -> Resp,
    ) -> Result<Resp, Error>
    where
        R: Resource,
        M: prost::Message,
        Resp: prost::Message + Default,
    {
        principal.require(R::WRITE)?;
        if asked.id.is_empty() {
            return Err(Error::invalid("id", "is required"));
        }
        let expected = etag::parse("etag", asked.etag)?;
        let key = RequestKey::new(principal, asked.method, asked.request_id, request)?;
        let response = mutate(&self.db, key.as_ref(), |txn| async move {
            let (current, stamps) = current::<R>(&txn, principal, asked.id, expected).await?;
            refuse_deleted::<R>(&stamps)?;
            let mut next = step(&current)?;
            R::before_write(&txn, principal, Some(&current), &mut next).await?;
            let stepped = next.clone();
            let proto = self
                .save_change::<R>(&txn, principal, &current, next, Action::Update, &[])
                .await?;
            follow(&txn, &current, &stepped).await?;
            Ok((txn, wrap(proto)))
        })
        .await?;
        self.after_write::<R>(principal, asked.id).await;
        Ok(response)
    }

    /// Inserts a checked new row with its index entries, audit entry and event, in `txn`.
    pub async fn insert_new<R: Resource>(
        &self,
        txn: &DatabaseTransaction,
        principal: &Principal,
        model: &R::Model,
    ) -> Result<R::Proto, Error> {
        store::insert::<R, _>(txn, model.clone()).await?;
        index::sync::<R>(txn, &principal.tenant_id, model).await?;
        let proto = R::to_proto(model);
        let changes = audit::created(&R::audit_fields(model));
        self.record::<R>(txn, principal, Action::Create, &proto, &changes, &[])
            .await?;
        Ok(proto)
    }

    /// Inserts many checked new rows with their index entries, audit entries and events, in
    /// few statements (imports).
    pub async fn insert_new_many<R: Resource>(
        &self,
        txn: &DatabaseTransaction,
        principal: &Principal,
        models: &[R::Model],
    ) -> Result<(), Error> {
        if models.is_empty() {
            return Ok(());
        }
        store::insert_many::<R, _>(txn, models).await?;
        index::insert_new_many::<R>(txn, &principal.tenant_id, models).await?;
        let protos: Vec<R::Proto> = models.iter().map(R::to_proto).collect();
        let entries = models
            .iter()
            .zip(&protos)
            .map(|(model, proto)| audit::Entry {
                resource_type: R::KIND,
                resource_id: R::keys(proto).0,
                action: Action::Create.name(),
                changes: audit::created(&R::audit_fields(model)),
            })
            .collect();
        audit::record_many(txn, principal, entries).await?;
        let envelopes = protos
            .iter()
            .map(|proto| {
                let id = R::keys(proto).0;
                let event = R::event(Action::Create, proto.clone(), &[]);
                envelope(&principal.tenant_id, &principal.user_id, event, id)
            })
            .collect();
        events::append_many(txn, envelopes).await
    }

    /// Saves a changed row under optimistic concurrency (a new version and update time; a
    /// concurrent writer makes it fail with ABORTED), rewrites its record index, and writes
    /// the audit entry of the changed fields and the event, all in `txn`.
    pub async fn save_change<R: Resource>(
        &self,
        txn: &DatabaseTransaction,
        principal: &Principal,
        current: &R::Model,
        mut next: R::Model,
        action: Action,
        merged_ids: &[String],
    ) -> Result<R::Proto, Error> {
        let before = R::stamps(current);
        let stamps = R::stamps(&next);
        let now = clock::now_micros();
        let owner_since = if stamps.owner_id == before.owner_id {
            stamps.owner_since
        } else {
            now
        };
        let version = before.version;
        R::set_stamps(
            &mut next,
            Stamps {
                version: version + 1,
                update_time: now,
                owner_since,
                ..stamps
            },
        );
        store::compare_and_set::<R, _>(txn, &principal.tenant_id, version, next.clone()).await?;
        index::sync::<R>(txn, &principal.tenant_id, &next).await?;
        let changes = audit::diff(&R::audit_fields(current), &R::audit_fields(&next));
        let proto = R::to_proto(&next);
        self.record::<R>(txn, principal, action, &proto, &changes, merged_ids)
            .await?;
        Ok(proto)
    }

    /// Writes the audit entry and the outbox event of a mutation in its transaction.
    pub async fn record<R: Resource>(
        &self,
        txn: &DatabaseTransaction,
        principal: &Principal,
        action: Action,
        proto: &R::Proto,
        changes: &[audit::Change],
        merged_ids: &[String],
    ) -> Result<(), Error> {
        let id = R::keys(proto).0.to_owned();
        audit::record(txn, principal, R::KIND, &id, action.name(), changes).await?;
        let event = R::event(action, proto.clone(), merged_ids);
        announce(txn, &principal.tenant_id, &principal.user_id, event, &id).await
    }

    /// Wakes the relay and invalidates the cache after a commit. A second invalidation a
    /// moment later removes a stale copy a concurrent reader may have written back between
    /// its database read and its cache fill.
    pub async fn after_write<R: Resource>(&self, principal: &Principal, id: &str) {
        self.relay.wake();
        self.forget(&principal.tenant_id, R::KIND, id).await;
    }

    /// Drops the cached copy of a record, now and again a moment later.
    pub async fn forget(&self, tenant_id: &str, kind: &str, id: &str) {
        let key = self.cache_key(kind, tenant_id, id);
        self.cache.invalidate(&key).await;
        let cache = Arc::clone(&self.cache);
        tokio::spawn(async move {
            tokio::time::sleep(std::time::Duration::from_millis(500)).await;
            cache.invalidate(&key).await;
        });
    }
}

/// Appends `event` to the outbox in `txn` (see [`crm_platform::events::envelope`]).
pub async fn announce<E: DomainEvent>(
    txn: &DatabaseTransaction,
    tenant_id: &str,
    actor_id: &str,
    event: E,
    aggregate_id: &str,
) -> Result<(), Error> {
    events::append(txn, envelope(tenant_id, actor_id, event, aggregate_id)).await
}

/// The outbox envelope of an event, stamped as [`announce`] says.
pub fn envelope<E: DomainEvent>(
    tenant_id: &str,
    actor_id: &str,
    event: E,
    aggregate_id: &str,
) -> Envelope {
    events::envelope(
        events::Origin {
            tenant_id,
            actor_id,
            aggregate_id,
        },
        event,
    )
}

/// Checks a row's references to other records, as the resource defines them.
pub async fn check_links<R: Resource>(
    txn: &DatabaseTransaction,
    principal: &Principal,
    model: &R::Model,
) -> Result<(), Error> {
    refuse_taken_external_id::<R>(txn, principal, model).await?;
    R::check_references(txn, principal, model).await
}

/// An external id names one record of the tenant, deleted ones included (an upsert restores
/// a deleted record rather than creating a second), so another system's key always leads back
/// to one record. The holder is named only if the writer can see it.
async fn refuse_taken_external_id<R: Resource>(
    txn: &DatabaseTransaction,
    principal: &Principal,
    model: &R::Model,
) -> Result<(), Error> {
    let Some(column) = R::external_id_column() else {
        return Ok(());
    };
    let proto = R::to_proto(model);
    let external_id = R::external_id(&proto);
    if external_id.is_empty() {
        return Ok(());
    }
    let lock = format!("{}/{}/external/{external_id}", principal.tenant_id, R::KIND);
    crm_platform::db::lock_keys(txn, &[lock]).await?;
    let columns = R::columns();
    let id = R::stamps(model).id;
    let holder = R::Entity::find()
        .filter(columns.tenant_id.eq(principal.tenant_id.as_str()))
        .filter(column.eq(external_id))
        .filter(columns.id.ne(id.as_str()))
        .one(txn)
        .await?;
    let Some(holder) = holder else {
        return Ok(());
    };
    let holder_id = R::stamps(&holder).id;
    let mut metadata: std::collections::HashMap<String, String> = [
        ("field".to_owned(), format!("{}.external_id", R::KIND)),
        ("external_id".to_owned(), external_id.to_owned()),
    ]
    .into();
    if let index::Existing::Visible(id) = index::as_seen_by::<R>(txn, principal, &holder_id).await?
    {
        metadata.insert("duplicate_id".to_owned(), id);
    }
    Err(Error::AlreadyExists {
        reason: "EXTERNAL_ID_TAKEN",
        message: format!(
            "another {} has the external id {external_id}; upsert by it instead",
            R::KIND
        ),
        metadata,
    })
}

/// Refuses a row that shares a duplicate-detection key with another live record of the
/// tenant, naming that record only if the caller can see it.
async fn refuse_duplicate<R: Resource>(
    txn: &DatabaseTransaction,
    principal: &Principal,
    model: &R::Model,
) -> Result<(), Error> {
    match index::find_duplicate::<R>(txn, &principal.tenant_id, model).await? {
        Some((existing, key)) => {
            let existing = index::as_seen_by::<R>(txn, principal, &existing).await?;
            Err(index::duplicate_error::<R>(existing, key))
        }
        None => Ok(()),
    }
}

/// A deleted record cannot change until it is restored.
pub fn refuse_deleted<R: Resource>(stamps: &Stamps) -> Result<(), Error> {
    if stamps.delete_time.is_some() {
        return Err(Error::precondition(
            "RESOURCE_DELETED",
            format!("{} is deleted; undelete it first", R::KIND),
        ));
    }
    Ok(())
}

/// Loads the record a mutation applies to and checks the etag the client sent.
pub async fn current<R: Resource>(
    txn: &DatabaseTransaction,
    principal: &Principal,
    id: &str,
    expected_version: Option<i64>,
) -> Result<(R::Model, Stamps), Error> {
    let current = store::find::<R, _>(txn, principal, id).await?;
    let stamps = R::stamps(&current);
    if expected_version.is_some_and(|v| v != stamps.version) {
        return Err(Error::StaleEtag { resource: R::KIND });
    }
    Ok((current, stamps))
}

/// Who owns a new record: the caller, or the owner the input names if the caller may hand
/// records to them.
fn owner_of_new<R: Resource>(principal: &Principal, input: &R::Proto) -> Result<String, Error> {
    let (_, owner, _) = R::keys(input);
    if owner.is_empty() {
        return Ok(principal.user_id.clone());
    }
    check_owner::<R>(principal, owner)?;
    Ok(owner.to_owned())
}

/// A new owner must be within the caller's data scope: a rep cannot hand records to, or take
/// them from, people outside it.
pub fn check_owner<R: Resource>(principal: &Principal, owner_id: &str) -> Result<(), Error> {
    if crate::resource::reaches::<R>(principal, owner_id) {
        Ok(())
    } else {
        Err(Error::invalid(
            format!("{}.owner_id", R::KIND),
            "is outside your data scope",
        ))
    }
}

/// What an upsert by external id did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Upserted {
    /// No record had the external id: one was created.
    Created,
    /// The record with the external id was changed (and restored if it was deleted).
    Updated,
    /// The record already held every value sent: nothing was written.
    Unchanged,
}

impl Upserted {
    /// The `crm.common.v1.UpsertOutcome` number.
    pub fn wire(self) -> i32 {
        use crm_proto::common::UpsertOutcome;
        let outcome = match self {
            Self::Created => UpsertOutcome::Created,
            Self::Updated => UpsertOutcome::Updated,
            Self::Unchanged => UpsertOutcome::Unchanged,
        };
        outcome as i32
    }
}

impl Records {
    /// Creates or changes the record another system knows by `R::external_id(input)`, with
    /// every field of [`Resource::UPSERT_FIELDS`] as sent. Sending the same values again
    /// writes nothing, so a system that re-sends its whole catalogue changes only what
    /// changed. A deleted record that is sent again is restored.
    pub async fn upsert<R: Resource, M: prost::Message, Resp: prost::Message + Default>(
        &self,
        principal: &Principal,
        idem: Idempotency<'_, M>,
        input: R::Proto,
        wrap: fn(R::Proto, Upserted) -> Resp,
    ) -> Result<Resp, Error> {
        principal.require(R::WRITE)?;
        let key = RequestKey::new(principal, idem.method, idem.request_id, idem.request)?;
        let field = format!("{}.external_id", R::KIND);
        let Some(column) = R::external_id_column() else {
            return Err(Error::invalid(field, "this resource has no external id"));
        };
        let external_id = R::external_id(&input).to_owned();
        if external_id.is_empty() {
            return Err(Error::invalid(field, "is required"));
        }
        let owner_id = owner_of_new::<R>(principal, &input)?;
        let changed_id = std::sync::OnceLock::new();
        let changed = &changed_id;
        let response = mutate(&self.db, key.as_ref(), |txn| async move {
            let lock = format!("{}/{}/external/{external_id}", principal.tenant_id, R::KIND);
            crm_platform::db::lock_keys(&txn, &[lock]).await?;
            let found = store::scoped::<R>(principal)
                .filter(column.eq(external_id.as_str()))
                .one(&txn)
                .await?;
            let Some(current) = found else {
                let id = uuid::Uuid::now_v7().to_string();
                let mut model = R::create(
                    &principal.tenant_id,
                    owner_id,
                    (id, clock::now_micros()),
                    input,
                    &self.write_context(principal),
                )?;
                R::before_write(&txn, principal, None, &mut model).await?;
                custom_fields::check_record::<R>(&txn, &principal.tenant_id, &mut model, None)
                    .await?;
                check_links::<R>(&txn, principal, &model).await?;
                refuse_duplicate::<R>(&txn, principal, &model).await?;
                let proto = self.insert_new::<R>(&txn, principal, &model).await?;
                return Ok((txn, wrap(proto, Upserted::Created)));
            };
            if R::is_erased(&current) {
                return Err(Error::precondition(
                    "RESOURCE_ERASED",
                    format!(
                        "{} {} was erased and cannot change",
                        R::KIND,
                        R::stamps(&current).id
                    ),
                ));
            }
            let mask: Vec<String> = R::UPSERT_FIELDS.iter().map(|f| (*f).to_owned()).collect();
            let mut next = R::update(&current, input, &mask, &self.write_context(principal))?;
            R::before_write(&txn, principal, Some(&current), &mut next).await?;
            custom_fields::check_record::<R>(&txn, &principal.tenant_id, &mut next, Some(&current))
                .await?;
            let mut stamps = R::stamps(&next);
            let deleted = stamps.delete_time.is_some();
            let same = R::audit_fields(&next) == R::audit_fields(&current)
                && R::custom_json(&next) == R::custom_json(&current)
                && R::labels(&next) == R::labels(&current);
            if same && !deleted {
                return Ok((txn, wrap(R::to_proto(&current), Upserted::Unchanged)));
            }
            stamps.delete_time = None;
            R::set_stamps(&mut next, stamps);
            check_links::<R>(&txn, principal, &next).await?;
            if deleted || index::duplicate_keys::<R>(&next) != index::duplicate_keys::<R>(&current)
            {
                refuse_duplicate::<R>(&txn, principal, &next).await?;
            }
            let _ = changed.set(R::stamps(&next).id);
            let action = if deleted {
                Action::Undelete
            } else {
                Action::Update
            };
            let proto = self
                .save_change::<R>(&txn, principal, &current, next, action, &[])
                .await?;
            Ok((txn, wrap(proto, Upserted::Updated)))
        })
        .await?;
        match changed_id.get() {
            Some(id) => self.after_write::<R>(principal, id).await,
            None => self.relay.wake(),
        }
        Ok(response)
    }
}

impl Records {
    /// One page of a record's change history, newest first. The history is visible exactly
    /// to those who can see the record (and hold `permission`, the service's audit reading):
    /// anyone else is answered as if the record did not exist.
    pub async fn history<R: Resource>(
        &self,
        principal: &Principal,
        permission: &str,
        (resource_id, page_size, page_token): (&str, i32, &str),
    ) -> Result<(Vec<crm_proto::common::AuditEntry>, String), Error> {
        principal.require(permission)?;
        self.get::<R>(principal, resource_id).await?;
        let page = audit::HistoryPage {
            resource_type: R::KIND,
            resource_id,
            page_size,
            page_token,
        };
        audit::history(&self.db, &self.pages, principal, page, MAX_PAGE_SIZE).await
    }
}
