//! Credentials: argon2id password hashes, HS256 access tokens, opaque refresh tokens and
//! API-key secrets. Only hashes of secrets are stored.

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use crm_platform::clock;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use rand::RngCore as _;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crm_platform::error::Error;

/// Issuer and audience of access tokens.
const ISSUER: &str = "crm-gateway";
const AUDIENCE: &str = "crm";
/// Shortest password accepted.
pub const MIN_PASSWORD_LEN: usize = 12;

/// Hashes a password with argon2id and a random salt.
pub fn hash_password(password: &str) -> Result<String, Error> {
    let mut salt = [0u8; 16];
    rand::rng().fill_bytes(&mut salt);
    let salt = SaltString::encode_b64(&salt).map_err(Error::internal)?;
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|hash| hash.to_string())
        .map_err(Error::internal)
}

/// Checks a password against a stored hash.
pub fn verify_password(password: &str, stored: &str) -> bool {
    PasswordHash::new(stored)
        .map(|hash| {
            Argon2::default()
                .verify_password(password.as_bytes(), &hash)
                .is_ok()
        })
        .unwrap_or(false)
}

/// A hash a password never matches, verified for unknown emails so that a wrong email and a
/// wrong password take the same time.
pub fn decoy_hash() -> &'static str {
    static DECOY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DECOY.get_or_init(|| hash_password("decoy password never used").unwrap_or_default())
}

/// Checks a new password's strength.
pub fn check_password(field: &str, password: &str) -> Result<(), Error> {
    if password.chars().count() < MIN_PASSWORD_LEN {
        return Err(Error::invalid(
            field,
            format!("must be at least {MIN_PASSWORD_LEN} characters"),
        ));
    }
    Ok(())
}

/// Access-token claims.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Claims {
    /// User id.
    pub sub: String,
    /// Tenant id.
    pub tid: String,
    /// Issuer.
    pub iss: String,
    /// Audience.
    pub aud: String,
    /// Expiry, seconds since the epoch.
    pub exp: u64,
    /// Issue time, seconds since the epoch.
    pub iat: u64,
    /// Token type; only `access` authenticates calls.
    pub typ: String,
}

/// Issues and verifies access tokens.
#[derive(Clone)]
pub struct AccessTokens {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
    /// Lifetime in seconds.
    pub ttl_secs: u64,
}

impl std::fmt::Debug for AccessTokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AccessTokens(..)")
    }
}

impl AccessTokens {
    /// Creates the codec over the JWT key.
    pub fn new(key: &[u8], ttl_secs: u64) -> Self {
        // An explicit algorithm list, issuer, audience and required claims (RFC 8725).
        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_issuer(&[ISSUER]);
        validation.set_audience(&[AUDIENCE]);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        validation.leeway = 5;
        // Expiry is checked against the platform clock below, not the library's reading of
        // the system clock.
        validation.validate_exp = false;
        Self {
            encoding: EncodingKey::from_secret(key),
            decoding: DecodingKey::from_secret(key),
            validation,
            ttl_secs,
        }
    }

    /// Issues an access token for a user.
    pub fn issue(&self, tenant_id: &str, user_id: &str) -> Result<String, Error> {
        let now = (clock::now_micros() / 1_000_000) as u64;
        let claims = Claims {
            sub: user_id.to_owned(),
            tid: tenant_id.to_owned(),
            iss: ISSUER.to_owned(),
            aud: AUDIENCE.to_owned(),
            exp: now + self.ttl_secs,
            iat: now,
            typ: "access".to_owned(),
        };
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)
            .map_err(Error::internal)
    }

    /// Verifies an access token and returns its claims.
    pub fn verify(&self, token: &str) -> Result<Claims, Error> {
        let claims = jsonwebtoken::decode::<Claims>(token, &self.decoding, &self.validation)
            .map_err(|_| Error::Unauthenticated("invalid or expired access token"))?
            .claims;
        if claims.typ != "access" {
            return Err(Error::Unauthenticated("not an access token"));
        }
        // A token whose life is longer than this gateway issues, or that was issued in the
        // future, was not made by it: refuse it even when its signature holds.
        let now = (clock::now_micros() / 1_000_000) as u64;
        let leeway = self.validation.leeway;
        if claims.exp + leeway < now {
            return Err(Error::Unauthenticated("invalid or expired access token"));
        }
        if claims.iat > now + leeway || claims.exp.saturating_sub(claims.iat) > self.ttl_secs {
            return Err(Error::Unauthenticated("invalid or expired access token"));
        }
        Ok(claims)
    }
}

/// Returns a new random secret of 32 bytes, hex-encoded.
pub fn random_secret() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// SHA-256 of a high-entropy secret, hex. (Secrets are random, so a slow hash adds nothing.)
pub fn secret_hash(secret: &str) -> String {
    format!("{:x}", Sha256::digest(secret.as_bytes()))
}

/// Compares two hashes in constant time.
pub fn same_hash(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

/// API-key secrets read `crm_<key id>_<secret>`; the id locates the row, the hash checks it.
pub fn split_api_key(full: &str) -> Option<(&str, &str)> {
    let rest = full.strip_prefix("crm_")?;
    let (id, secret) = rest.rsplit_once('_')?;
    (!id.is_empty() && secret.len() == 64).then_some((id, secret))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_verify_only_themselves() {
        let hash = hash_password("correct horse battery").unwrap();
        assert!(verify_password("correct horse battery", &hash));
        assert!(!verify_password("wrong horse battery", &hash));
        assert!(!verify_password("x", "not a hash"));
    }

    #[test]
    fn access_tokens_verify_only_with_their_key() {
        let tokens = AccessTokens::new(b"k1", 60);
        let token = tokens.issue("t", "u").unwrap();
        assert_eq!(tokens.verify(&token).unwrap().sub, "u");
        assert!(AccessTokens::new(b"k2", 60).verify(&token).is_err());
        let mut tampered = token.clone();
        tampered.insert(token.len() / 2, 'x');
        assert!(tokens.verify(&tampered).is_err());
        assert!(tokens.verify("").is_err());
    }

    #[test]
    fn expired_tokens_are_refused() {
        let tokens = AccessTokens::new(b"k", 0);
        let mut claims = tokens.verify(&tokens.issue("t", "u").unwrap()).unwrap();
        claims.exp -= 60;
        let old = jsonwebtoken::encode(
            &Header::new(Algorithm::HS256),
            &claims,
            &EncodingKey::from_secret(b"k"),
        )
        .unwrap();
        assert!(tokens.verify(&old).is_err());
    }

    #[test]
    fn tokens_living_longer_than_issued_are_refused() {
        let tokens = AccessTokens::new(b"k", 60);
        let mut claims = tokens.verify(&tokens.issue("t", "u").unwrap()).unwrap();
        claims.exp += 3600;
        let long = jsonwebtoken::encode(
            &Header::new(Algorithm::HS256),
            &claims,
            &EncodingKey::from_secret(b"k"),
        )
        .unwrap();
        assert!(tokens.verify(&long).is_err());
        claims.exp -= 3600;
        claims.iat += 600;
        claims.exp += 600;
        let future = jsonwebtoken::encode(
            &Header::new(Algorithm::HS256),
            &claims,
            &EncodingKey::from_secret(b"k"),
        )
        .unwrap();
        assert!(tokens.verify(&future).is_err());
    }

    #[test]
    fn api_keys_split_into_id_and_secret() {
        let secret = random_secret();
        let full = format!("crm_abc-123_{secret}");
        assert_eq!(split_api_key(&full), Some(("abc-123", secret.as_str())));
        assert_eq!(split_api_key("crm_abc_short"), None);
        assert_eq!(split_api_key("bearer"), None);
    }
}
