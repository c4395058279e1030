//! Signed, expiring tokens that carry a few fields to someone who has no account, and bring
//! them back: a survey link for a customer. The fields are readable (base64, not secret);
//! the MAC makes them unforgeable, and the expiry is the platform clock's.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::clock;

/// Why a token is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    /// Not issued with this key for this purpose, or altered.
    Forged,
    /// Genuine, but past its expiry.
    Expired,
}

/// Issues and checks the tokens of one purpose.
#[derive(Clone)]
pub struct SignedTokens {
    key: Vec<u8>,
}

impl std::fmt::Debug for SignedTokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SignedTokens(..)")
    }
}

impl SignedTokens {
    /// Tokens of `purpose` under a key derived from `secret`, so no two purposes accept each
    /// other's tokens.
    pub fn new(secret: &[u8], purpose: &str) -> Self {
        let mut mac = mac(secret);
        mac.update(b"crm signed token v1\0");
        mac.update(purpose.as_bytes());
        Self {
            key: mac.finalize().into_bytes().to_vec(),
        }
    }

    fn tag(&self, payload: &[u8]) -> Vec<u8> {
        let mut mac = mac(&self.key);
        mac.update(payload);
        mac.finalize().into_bytes()[..16].to_vec()
    }

    /// A token carrying `fields` (none may hold a NUL) until `expire_micros`.
    pub fn issue(&self, fields: &[&str], expire_micros: i64) -> String {
        let mut payload = expire_micros.to_string();
        for field in fields {
            payload.push('\0');
            payload.push_str(field);
        }
        let tag = self.tag(payload.as_bytes());
        format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(payload.as_bytes()),
            URL_SAFE_NO_PAD.encode(tag)
        )
    }

    /// The fields of a genuine token, with its expiry, if it has not passed.
    pub fn verify(&self, token: &str) -> Result<(Vec<String>, i64), Refused> {
        let (payload, tag) = token.trim().split_once('.').ok_or(Refused::Forged)?;
        let payload = URL_SAFE_NO_PAD
            .decode(payload)
            .map_err(|_| Refused::Forged)?;
        let tag = URL_SAFE_NO_PAD.decode(tag).map_err(|_| Refused::Forged)?;
        // The whole truncated tag, never a shorter prefix of it.
        if tag.len() != 16 {
            return Err(Refused::Forged);
        }
        let mut mac = mac(&self.key);
        mac.update(&payload);
        mac.verify_truncated_left(&tag)
            .map_err(|_| Refused::Forged)?;
        let text = String::from_utf8(payload).map_err(|_| Refused::Forged)?;
        let mut parts = text.split('\0');
        let expiry: i64 = parts
            .next()
            .and_then(|e| e.parse().ok())
            .ok_or(Refused::Forged)?;
        if clock::now_micros() >= expiry {
            return Err(Refused::Expired);
        }
        Ok((parts.map(str::to_owned).collect(), expiry))
    }
}

fn mac(key: &[u8]) -> Hmac<Sha256> {
    // HMAC accepts keys of any length, so this cannot fail.
    <Hmac<Sha256> as Mac>::new_from_slice(key).unwrap_or_else(|_| unreachable!())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_carry_their_fields_until_they_expire() {
        let surveys = SignedTokens::new(b"secret", "survey");
        let later = clock::now_micros() + 60_000_000;
        let token = surveys.issue(&["tenant-1", "ticket-9"], later);
        assert_eq!(
            surveys.verify(&token),
            Ok((vec!["tenant-1".to_owned(), "ticket-9".to_owned()], later))
        );
        let past = surveys.issue(&["tenant-1", "ticket-9"], clock::now_micros() - 1);
        assert_eq!(surveys.verify(&past), Err(Refused::Expired));
    }

    #[test]
    fn altered_or_foreign_tokens_are_forged() {
        let surveys = SignedTokens::new(b"secret", "survey");
        let later = clock::now_micros() + 60_000_000;
        let token = surveys.issue(&["tenant-1", "ticket-9"], later);
        let other_purpose = SignedTokens::new(b"secret", "invite");
        let other_key = SignedTokens::new(b"another", "survey");
        assert_eq!(other_purpose.verify(&token), Err(Refused::Forged));
        assert_eq!(other_key.verify(&token), Err(Refused::Forged));
        let (payload, tag) = token.split_once('.').unwrap();
        let forged_payload = URL_SAFE_NO_PAD.encode(format!("{later}\0tenant-2\0ticket-9"));
        for forged in [
            format!("{forged_payload}.{tag}"),
            format!("{payload}.{}", URL_SAFE_NO_PAD.encode([0u8; 16])),
            format!("{payload}.{}", &tag[..4]),
            format!("{payload}."),
            payload.to_owned(),
            String::new(),
            "not a token".to_owned(),
        ] {
            assert_eq!(surveys.verify(&forged), Err(Refused::Forged), "{forged}");
        }
    }
}
