//! `crm.identity.v1.AuthService`: sign-in, token refresh and logout.

use std::sync::Arc;

use sea_orm::sea_query::Expr;
use sea_orm::{ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter};
use tonic::{Request, Response, Status};

use crate::authn::Gatekeeper;
use crate::credentials::{decoy_hash, random_secret, secret_hash, verify_password};
use crate::directory::{user_by_email, user_in_tenant};
use crate::entity::refresh_token;
use crm_platform::error::Error;
use crm_platform::time::now_micros;
use crm_proto::identity::auth_service_server::AuthService;
use crm_proto::identity::*;

/// How long a refresh token lives.
const REFRESH_TTL_MICROS: i64 = 30 * 24 * 3600 * 1_000_000;

/// Implements `crm.identity.v1.AuthService`.
#[derive(Debug, Clone)]
pub struct AuthGrpc {
    gatekeeper: Arc<Gatekeeper>,
}

impl AuthGrpc {
    /// Creates the service.
    pub fn new(gatekeeper: Arc<Gatekeeper>) -> Self {
        Self { gatekeeper }
    }

    /// Stores a new refresh token for a user and returns it.
    async fn new_refresh_token<C: sea_orm::ConnectionTrait>(
        db: &C,
        tenant_id: &str,
        user_id: &str,
    ) -> Result<String, Error> {
        let token = random_secret();
        refresh_token::Entity::insert(refresh_token::ActiveModel {
            token_hash: Set(secret_hash(&token)),
            tenant_id: Set(tenant_id.to_owned()),
            user_id: Set(user_id.to_owned()),
            expires_at: Set(now_micros() + REFRESH_TTL_MICROS),
            revoked: Set(false),
        })
        .exec(db)
        .await?;
        Ok(token)
    }
}

const BAD_CREDENTIALS: Error = Error::Unauthenticated("wrong email or password");

#[tonic::async_trait]
impl AuthService for AuthGrpc {
    async fn login(
        &self,
        request: Request<LoginRequest>,
    ) -> Result<Response<LoginResponse>, Status> {
        let r = request.into_inner();
        // Checked before the password, so a locked-out guesser learns nothing either way.
        let account = r.email.trim().to_lowercase();
        if let Err(retry_after) = self.gatekeeper.sign_in_per_account.check(&account) {
            tracing::info!("sign-in attempts for one account over the limit");
            return Err(Error::RateLimited { retry_after }.into());
        }
        let db = &self.gatekeeper.db;
        let user = user_by_email(db, &r.email).await?;
        // Verify against a decoy for unknown emails so both failures take the same time.
        let hash = user
            .as_ref()
            .map_or(decoy_hash(), |u| u.password_hash.as_str());
        let password_ok = verify_password(&r.password, hash);
        let Some(user) = user.filter(|u| password_ok && !u.disabled) else {
            tracing::info!("login refused");
            return Err(BAD_CREDENTIALS.into());
        };
        let access_token = self.gatekeeper.tokens.issue(&user.tenant_id, &user.id)?;
        let refresh_token = Self::new_refresh_token(db, &user.tenant_id, &user.id).await?;
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
        const BAD: Error = Error::Unauthenticated("invalid or expired refresh token");
        let r = request.into_inner();
        let txn = crm_platform::db::begin_write(&self.gatekeeper.db).await?;
        let hash = secret_hash(&r.refresh_token);
        // Marking it used in the same statement that checks it makes each token single-use,
        // even under concurrent refreshes.
        let used = refresh_token::Entity::update_many()
            .col_expr(refresh_token::Column::Revoked, Expr::value(true))
            .filter(refresh_token::Column::TokenHash.eq(hash.as_str()))
            .filter(refresh_token::Column::Revoked.eq(false))
            .filter(refresh_token::Column::ExpiresAt.gt(now_micros()))
            .exec(&txn)
            .await
            .map_err(Error::from)?;
        if used.rows_affected != 1 {
            return Err(BAD.into());
        }
        let stored = refresh_token::Entity::find_by_id(hash)
            .one(&txn)
            .await
            .map_err(Error::from)?
            .ok_or(BAD)?;
        let user = user_in_tenant(&txn, &stored.tenant_id, &stored.user_id)
            .await
            .map_err(|_| BAD)?;
        if user.disabled {
            return Err(BAD.into());
        }
        let refresh_token = Self::new_refresh_token(&txn, &user.tenant_id, &user.id).await?;
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
        refresh_token::Entity::update_many()
            .col_expr(refresh_token::Column::Revoked, Expr::value(true))
            .filter(refresh_token::Column::TokenHash.eq(hash))
            .exec(&self.gatekeeper.db)
            .await
            .map_err(Error::from)?;
        Ok(Response::new(LogoutResponse {}))
    }
}
