//! Idempotent mutations after AIP-155: a retry with the same `request_id` returns the first
//! response and changes nothing. Keys are scoped to (tenant, principal, method), so another
//! caller's key never replays their response; the key row is written in the same transaction
//! as the mutation, so a crash between commit and reply still replays correctly.

use crate::clock;
use std::future::Future;

use sea_orm::{
    ActiveValue::Set, ConnectionTrait, DatabaseConnection, DatabaseTransaction, EntityTrait,
};
use sha2::{Digest, Sha256};

use crate::auth::Principal;
use crate::db::{begin_write, is_unique_violation};
use crate::entity::idempotency_key;
use crate::error::Error;

/// Longest request id accepted.
const MAX_REQUEST_ID_LEN: usize = 64;

/// Identifies one idempotent request.
#[derive(Debug, Clone)]
pub struct RequestKey {
    tenant_id: String,
    principal_id: String,
    method: &'static str,
    request_id: String,
    request_hash: String,
}

impl RequestKey {
    /// Builds the key for a request, or `None` when the client sent no request id.
    pub fn new<M: prost::Message>(
        principal: &Principal,
        method: &'static str,
        request_id: &str,
        request: &M,
    ) -> Result<Option<Self>, Error> {
        if request_id.is_empty() {
            return Ok(None);
        }
        if request_id.len() > MAX_REQUEST_ID_LEN || !request_id.is_ascii() {
            return Err(Error::invalid(
                "request_id",
                format!("must be at most {MAX_REQUEST_ID_LEN} ASCII characters"),
            ));
        }
        let hash = Sha256::digest(request.encode_to_vec());
        Ok(Some(Self {
            tenant_id: principal.tenant_id.clone(),
            principal_id: format!("{}/{}", principal.user_id, principal.client),
            method,
            request_id: request_id.to_owned(),
            request_hash: format!("{hash:x}"),
        }))
    }

    /// Returns the stored response of an earlier identical request, refusing a reused id
    /// with a different payload.
    pub async fn replay<C: ConnectionTrait, R: prost::Message + Default>(
        &self,
        db: &C,
    ) -> Result<Option<R>, Error> {
        let stored = idempotency_key::Entity::find_by_id((
            self.tenant_id.clone(),
            self.principal_id.clone(),
            self.method.to_owned(),
            self.request_id.clone(),
        ))
        .one(db)
        .await?;
        let Some(stored) = stored else {
            return Ok(None);
        };
        if stored.request_hash != self.request_hash {
            return Err(Error::invalid(
                "request_id",
                "already used for a different request",
            ));
        }
        R::decode(stored.response.as_slice())
            .map(Some)
            .map_err(Error::internal)
    }

    /// Stores the response inside the mutation's transaction.
    pub async fn remember<C: ConnectionTrait, R: prost::Message>(
        &self,
        db: &C,
        response: &R,
    ) -> Result<(), Error> {
        idempotency_key::Entity::insert(idempotency_key::ActiveModel {
            tenant_id: Set(self.tenant_id.clone()),
            principal_id: Set(self.principal_id.clone()),
            method: Set(self.method.to_owned()),
            request_id: Set(self.request_id.clone()),
            request_hash: Set(self.request_hash.clone()),
            response: Set(response.encode_to_vec()),
            create_time: Set(clock::now_micros()),
        })
        .exec(db)
        .await?;
        Ok(())
    }
}

/// Forgets request ids answered more than `retention` ago: a retry after that is a new
/// request.
pub async fn purge<C: ConnectionTrait>(
    db: &C,
    retention: std::time::Duration,
) -> Result<u64, Error> {
    use sea_orm::{ColumnTrait, QueryFilter};
    let cutoff = clock::now_micros() - retention.as_micros() as i64;
    let deleted = idempotency_key::Entity::delete_many()
        .filter(idempotency_key::Column::CreateTime.lt(cutoff))
        .exec(db)
        .await?;
    Ok(deleted.rows_affected)
}

/// Runs a mutation in one transaction with its idempotency key: a known key replays the
/// stored response without running `work`; a new key stores the response in the same
/// transaction; a concurrent duplicate that loses the insert race, or fails on what the
/// winner did, replays the winner's.
pub async fn mutate<R, F, Fut>(
    db: &DatabaseConnection,
    key: Option<&RequestKey>,
    work: F,
) -> Result<R, Error>
where
    R: prost::Message + Default,
    F: FnOnce(DatabaseTransaction) -> Fut,
    Fut: Future<Output = Result<(DatabaseTransaction, R), Error>>,
{
    if let Some(key) = key
        && let Some(response) = key.replay(db).await?
    {
        return Ok(response);
    }
    let txn = begin_write(db).await?;
    let (txn, response) = match work(txn).await {
        Ok(done) => done,
        Err(err) => {
            // A racing duplicate may have committed while this one worked, which then saw
            // its effects (a row already deleted) and failed: the retry answers the first.
            if let Some(key) = key
                && let Some(response) = key.replay(db).await?
            {
                return Ok(response);
            }
            return Err(err);
        }
    };
    if let Some(key) = key
        && let Err(err) = key.remember(&txn, &response).await
    {
        drop(txn);
        if is_unique_violation(&err)
            && let Some(response) = key.replay(db).await?
        {
            return Ok(response);
        }
        return Err(err);
    }
    txn.commit().await?;
    Ok(response)
}
