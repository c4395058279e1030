//! The standard methods (get, list, create, update, delete, undelete) written once for every
//! resource: permission check, validation, scoped store call, audit entry and outbox event in
//! one transaction, idempotency, cache-aside with invalidation.

use std::sync::Arc;

use prost::Message as _;
use sea_orm::DatabaseConnection;

use crate::resource::{Action, Resource};
use crate::store::{self, ListQuery, Order};
use crm_platform::audit;
use crm_platform::auth::Principal;
use crm_platform::cache::Cache;
use crm_platform::error::Error;
use crm_platform::events::{self, Envelope, Relay};
use crm_platform::idempotency::{RequestKey, mutate};
use crm_platform::paging::{self, PageTokens};
use crm_platform::time::{now_micros, to_timestamp};
use crm_platform::{etag, filter};

/// The stream the contacts service publishes on.
pub const EVENT_STREAM: &str = "crm.contacts.v1";
/// Largest page a list returns.
const MAX_PAGE_SIZE: u64 = 1000;

/// What every handler needs.
#[derive(Debug, Clone)]
pub struct Handlers {
    /// The service's database.
    pub db: DatabaseConnection,
    /// Hot-lookup cache.
    pub cache: Arc<Cache>,
    /// Outbox relay, woken after each commit.
    pub relay: Relay,
    /// Page-token codec.
    pub pages: PageTokens,
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

fn cache_key<R: Resource>(tenant_id: &str, id: &str) -> String {
    format!("contacts:v1:{}:{tenant_id}:{id}", R::KIND)
}

impl Handlers {
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
        let key = cache_key::<R>(&principal.tenant_id, id);
        if let Some(found) = self.cached::<R>(principal, &key, id).await {
            return found;
        }
        let _flight = self.cache.single_flight(&key).await;
        if let Some(found) = self.cached::<R>(principal, &key, id).await {
            return found;
        }
        let model = store::find::<R, _>(&self.db, principal, id).await?;
        let proto = R::to_proto(&model);
        self.cache.set(&key, proto.encode_to_vec()).await;
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
        Some(if principal.reaches(R::keys(&proto).1) {
            Ok(proto)
        } else {
            Err(Error::not_found(R::KIND, id))
        })
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
        let order = Order::parse(order_by)?;
        let binding = paging::binding(&[
            R::KIND,
            &principal.tenant_id,
            &principal.user_id,
            filter_text,
            order_by,
            if show_deleted { "deleted" } else { "live" },
        ]);
        let cursor = self.pages.read(page_token, &binding)?;
        let query = ListQuery {
            comparisons,
            order,
            cursor,
            limit,
            show_deleted,
        };
        let (rows, next) = store::list::<R, _>(&self.db, principal, &query).await?;
        let token = next
            .map(|cursor| self.pages.issue(cursor, &binding))
            .unwrap_or_default();
        Ok((rows.iter().map(R::to_proto).collect(), token))
    }

    /// Creates a record owned by the caller, or by `owner_id` if it is within their scope.
    pub async fn create<R: Resource, M: prost::Message, Resp: prost::Message + Default>(
        &self,
        principal: &Principal,
        idem: Idempotency<'_, M>,
        input: R::Proto,
        wrap: fn(R::Proto) -> Resp,
    ) -> Result<Resp, Error> {
        principal.require(R::WRITE)?;
        let key = RequestKey::new(principal, idem.method, idem.request_id, idem.request)?;
        let (_, owner, _) = R::keys(&input);
        let owner_id = if owner.is_empty() {
            principal.user_id.clone()
        } else {
            check_owner::<R>(principal, owner)?;
            owner.to_owned()
        };
        let id = uuid::Uuid::now_v7().to_string();
        let model = R::create(&principal.tenant_id, owner_id, id, now_micros(), input)?;
        let response = mutate(&self.db, key.as_ref(), |txn| async move {
            R::check_references(&txn, principal, &model).await?;
            store::insert::<R, _>(&txn, model.clone()).await?;
            let proto = R::to_proto(&model);
            let changes = audit::created(&R::audit_fields(&model));
            self.record::<R>(&txn, principal, Action::Create, &proto, &changes)
                .await?;
            Ok((txn, wrap(proto)))
        })
        .await?;
        self.relay.wake();
        Ok(response)
    }

    /// Changes the masked fields of a record; a stale etag is refused.
    pub async fn update<R: Resource, M: prost::Message, Resp: prost::Message + Default>(
        &self,
        principal: &Principal,
        idem: Idempotency<'_, M>,
        input: R::Proto,
        mask: Vec<String>,
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
            if stamps.delete_time.is_some() {
                return Err(Error::precondition(
                    "RESOURCE_DELETED",
                    format!("{} is deleted; undelete it first", R::KIND),
                ));
            }
            let mut next = R::update(&current, input, &mask)?;
            let owner = R::stamps(&next).owner_id;
            if owner != stamps.owner_id {
                check_owner::<R>(principal, &owner)?;
            }
            R::set_stamps(
                &mut next,
                crate::resource::Stamps {
                    owner_id: owner,
                    version: stamps.version + 1,
                    update_time: now_micros(),
                    ..stamps.clone()
                },
            );
            R::check_references(&txn, principal, &next).await?;
            store::compare_and_set::<R, _>(
                &txn,
                &principal.tenant_id,
                stamps.version,
                next.clone(),
            )
            .await?;
            let changes = audit::diff(&R::audit_fields(&current), &R::audit_fields(&next));
            let proto = R::to_proto(&next);
            self.record::<R>(&txn, principal, Action::Update, &proto, &changes)
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
            let now = now_micros();
            let mut next = current.clone();
            R::set_stamps(
                &mut next,
                crate::resource::Stamps {
                    version: stamps.version + 1,
                    update_time: now,
                    delete_time: deleted.then_some(now),
                    ..stamps.clone()
                },
            );
            store::compare_and_set::<R, _>(
                &txn,
                &principal.tenant_id,
                stamps.version,
                next.clone(),
            )
            .await?;
            let action = if deleted {
                Action::Delete
            } else {
                Action::Undelete
            };
            let proto = R::to_proto(&next);
            self.record::<R>(&txn, principal, action, &proto, &[])
                .await?;
            Ok((txn, wrap(proto)))
        })
        .await?;
        self.after_write::<R>(principal, id).await;
        Ok(response)
    }

    /// Writes the audit entry and the outbox event of a mutation in its transaction.
    async fn record<R: Resource>(
        &self,
        txn: &sea_orm::DatabaseTransaction,
        principal: &Principal,
        action: Action,
        proto: &R::Proto,
        changes: &[audit::Change],
    ) -> Result<(), Error> {
        let id = R::keys(proto).0.to_owned();
        audit::record(txn, principal, R::KIND, &id, action.name(), changes).await?;
        let mut event = R::event(action, proto.clone());
        event.event_id = uuid::Uuid::now_v7().to_string();
        event.tenant_id = principal.tenant_id.clone();
        event.actor_id = principal.user_id.clone();
        event.occur_time = Some(to_timestamp(now_micros()));
        let event_type = event.r#type().as_str_name().to_owned();
        events::append(
            txn,
            Envelope {
                id: event.event_id.clone(),
                stream: EVENT_STREAM.to_owned(),
                tenant_id: principal.tenant_id.clone(),
                event_type,
                aggregate_id: id,
                payload: event.encode_to_vec(),
                trace_context: crm_platform::telemetry::current_traceparent(),
            },
        )
        .await
    }

    /// Wakes the relay and invalidates the cache after a commit. A second invalidation a
    /// moment later removes a stale copy a concurrent reader may have written back between
    /// its database read and its cache fill.
    async fn after_write<R: Resource>(&self, principal: &Principal, id: &str) {
        self.relay.wake();
        let key = cache_key::<R>(&principal.tenant_id, id);
        self.cache.invalidate(&key).await;
        let cache = Arc::clone(&self.cache);
        tokio::spawn(async move {
            tokio::time::sleep(std::time::Duration::from_millis(500)).await;
            cache.invalidate(&key).await;
        });
    }
}

/// Loads the record a mutation applies to and checks the etag the client sent.
async fn current<R: Resource>(
    txn: &sea_orm::DatabaseTransaction,
    principal: &Principal,
    id: &str,
    expected_version: Option<i64>,
) -> Result<(R::Model, crate::resource::Stamps), Error> {
    let current = store::find::<R, _>(txn, principal, id).await?;
    let stamps = R::stamps(&current);
    if expected_version.is_some_and(|v| v != stamps.version) {
        return Err(Error::StaleEtag { resource: R::KIND });
    }
    Ok((current, stamps))
}

/// A new owner must be within the caller's data scope: a rep cannot hand records to, or take
/// them from, people outside it.
fn check_owner<R: Resource>(principal: &Principal, owner_id: &str) -> Result<(), Error> {
    if principal.reaches(owner_id) {
        Ok(())
    } else {
        Err(Error::invalid(
            format!("{}.owner_id", R::KIND),
            "is outside your data scope",
        ))
    }
}
