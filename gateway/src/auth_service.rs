//! `crm.identity.v1.AuthService`: sign-in, token refresh and logout.
//!
//! A sign-in starts a session: a family of refresh tokens, each used once, that ends at an
//! absolute time however often it refreshes. Presenting a spent token means a copy is in a
//! second pair of hands, so the whole family is revoked; logout revokes it too.

use crm_platform::clock;
use std::sync::Arc;

use sea_orm::sea_query::Expr;
use sea_orm::{ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter};
use tonic::{Request, Response, Status};

use crate::authn::{ClientKey, Gatekeeper};
use crate::credentials::{decoy_hash, random_secret, secret_hash};
use crate::directory::{user_by_email, user_in_tenant};
use crate::entity::refresh_token;
use crm_platform::error::Error;
use crm_proto::identity::auth_service_server::AuthService;
use crm_proto::identity::*;

/// How long a refresh token lives unused.
const REFRESH_TTL_MICROS: i64 = 30 * 24 * 3600 * 1_000_000;

/// Implements `crm.identity.v1.AuthService`.
#[derive(Debug, Clone)]
pub struct AuthGrpc {
    gatekeeper: Arc<Gatekeeper>,
}

/// The session a refresh token belongs to.
struct Session<'a> {
    tenant_id: &'a str,
    user_id: &'a str,
    /// The family's id; `None` starts a new family named after its first token.
    family_id: Option<&'a str>,
    /// When the session ends, microseconds since the epoch.
    expires_at: i64,
}

impl AuthGrpc {
    /// Creates the service.
    pub fn new(gatekeeper: Arc<Gatekeeper>) -> Self {
        Self { gatekeeper }
    }

    /// Stores the next refresh token of a session and returns it.
    async fn new_refresh_token<C: ConnectionTrait>(
        db: &C,
        session: Session<'_>,
    ) -> Result<String, Error> {
        let token = random_secret();
        let hash = secret_hash(&token);
        let family_id = session.family_id.unwrap_or(&hash).to_owned();
        refresh_token::Entity::insert(refresh_token::ActiveModel {
            token_hash: Set(hash),
            tenant_id: Set(session.tenant_id.to_owned()),
            user_id: Set(session.user_id.to_owned()),
            expires_at: Set((clock::now_micros() + REFRESH_TTL_MICROS).min(session.expires_at)),
            revoked: Set(false),
            family_id: Set(family_id),
            session_expires_at: Set(session.expires_at),
        })
        .exec(db)
        .await?;
        Ok(token)
    }

    /// Revokes every token of a family.
    async fn revoke_family<C: ConnectionTrait>(db: &C, family_id: &str) -> Result<(), Error> {
        refresh_token::Entity::update_many()
            .col_expr(refresh_token::Column::Revoked, Expr::value(true))
            .filter(refresh_token::Column::FamilyId.eq(family_id))
            .exec(db)
            .await?;
        Ok(())
    }
}

/// The family of a stored token; tokens issued before families existed are their own.
fn family_of(stored: &refresh_token::Model) -> &str {
    if stored.family_id.is_empty() {
        &stored.token_hash
    } else {
        &stored.family_id
    }
}

const BAD_CREDENTIALS: Error = Error::Unauthenticated("wrong email or password");
const BAD_REFRESH: Error = Error::Unauthenticated("invalid or expired refresh token");

#[tonic::async_trait]
impl AuthService for AuthGrpc {
    async fn login(
        &self,
        request: Request<LoginRequest>,
    ) -> Result<Response<LoginResponse>, Status> {
        let client = request
            .extensions()
            .get::<ClientKey>()
            .cloned()
            .unwrap_or_default()
            .0;
        let r = request.into_inner();
        // Checked before the password, so a locked-out guesser learns nothing either way.
        let account = r.email.trim().to_lowercase();
        if let Err(retry_after) = self.gatekeeper.sign_in.check(&account, &client) {
            tracing::info!("sign-in attempts for one account over the limit");
            return Err(Error::RateLimited { retry_after }.into());
        }
        let db = &self.gatekeeper.db;
        let user = user_by_email(db, &r.email).await?;
        // Verify against a decoy for unknown emails so both failures take the same time.
        let hash = user
            .as_ref()
            .map_or(decoy_hash(), |u| u.password_hash.as_str());
        let password_ok = self.gatekeeper.passwords.verify(&r.password, hash).await?;
        let Some(user) = user.filter(|u| password_ok && !u.disabled) else {
            tracing::info!("login refused");
            return Err(BAD_CREDENTIALS.into());
        };
        self.gatekeeper.sign_in.succeeded(&account, &client);
        let access_token = self.gatekeeper.tokens.issue(&user.tenant_id, &user.id)?;
        let session = Session {
            tenant_id: &user.tenant_id,
            user_id: &user.id,
            family_id: None,
            expires_at: clock::now_micros() + self.gatekeeper.session_max_secs as i64 * 1_000_000,
        };
        let refresh_token = Self::new_refresh_token(db, session).await?;
        Ok(Response::new(LoginResponse {
            access_token,
            refresh_token,
            expires_in_seconds: self.gatekeeper.tokens.ttl_secs as i64,
            user_id: user.id,
            tenant_id: user.tenant_id,
        }))
    }

    async fn refresh_token(
        &self,
        request: Request<RefreshTokenRequest>,
    ) -> Result<Response<RefreshTokenResponse>, Status> {
        let r = request.into_inner();
        let hash = secret_hash(&r.refresh_token);
        let txn = crm_platform::db::begin_write(&self.gatekeeper.db).await?;
        let stored = refresh_token::Entity::find_by_id(hash.as_str())
            .one(&txn)
            .await
            .map_err(Error::from)?
            .ok_or(BAD_REFRESH)?;
        // Marking it used in the same statement that checks it makes each token single-use,
        // even under concurrent refreshes: the loser sees a spent token.
        let used = refresh_token::Entity::update_many()
            .col_expr(refresh_token::Column::Revoked, Expr::value(true))
            .filter(refresh_token::Column::TokenHash.eq(hash.as_str()))
            .filter(refresh_token::Column::Revoked.eq(false))
            .exec(&txn)
            .await
            .map_err(Error::from)?;
        if used.rows_affected != 1 {
            // A spent token came back: whoever holds the family's live token may be a thief.
            Self::revoke_family(&txn, family_of(&stored)).await?;
            txn.commit().await.map_err(Error::from)?;
            tracing::warn!(
                user_id = %stored.user_id,
                "spent refresh token presented; its session is revoked"
            );
            return Err(BAD_REFRESH.into());
        }
        let now = clock::now_micros();
        let session_end = if stored.session_expires_at == 0 {
            now + self.gatekeeper.session_max_secs as i64 * 1_000_000
        } else {
            stored.session_expires_at
        };
        if stored.expires_at <= now || session_end <= now {
            txn.commit().await.map_err(Error::from)?;
            return Err(BAD_REFRESH.into());
        }
        let user = user_in_tenant(&txn, &stored.tenant_id, &stored.user_id)
            .await
            .map_err(|_| BAD_REFRESH)?;
        if user.disabled {
            return Err(BAD_REFRESH.into());
        }
        let session = Session {
            tenant_id: &user.tenant_id,
            user_id: &user.id,
            family_id: Some(family_of(&stored)),
            expires_at: session_end,
        };
        let refresh_token = Self::new_refresh_token(&txn, session).await?;
        txn.commit().await.map_err(Error::from)?;
        Ok(Response::new(RefreshTokenResponse {
            access_token: self.gatekeeper.tokens.issue(&user.tenant_id, &user.id)?,
            refresh_token,
            expires_in_seconds: self.gatekeeper.tokens.ttl_secs as i64,
        }))
    }

    async fn logout(
        &self,
        request: Request<LogoutRequest>,
    ) -> Result<Response<LogoutResponse>, Status> {
        let hash = secret_hash(&request.into_inner().refresh_token);
        let db = &self.gatekeeper.db;
        let stored = refresh_token::Entity::find_by_id(hash)
            .one(db)
            .await
            .map_err(Error::from)?;
        // Logging out ends the session: every token of the sign-in, not only this one.
        if let Some(stored) = stored {
            Self::revoke_family(db, family_of(&stored)).await?;
        }
        Ok(Response::new(LogoutResponse {}))
    }
}
