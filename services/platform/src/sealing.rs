//! Encryption of sensitive fields at rest (AES-256-GCM) and their keyed hashes for exact-match
//! lookups.
//!
//! A sealed value is `v1:<key id>:<base64(nonce ‖ ciphertext)>`: the key id lets keys rotate
//! (new values use the first configured key, old ones still open with theirs). The field's
//! context (tenant and field name) is bound as associated data, so a ciphertext copied to
//! another tenant or field does not open. The keyed hash (HMAC-SHA256 under its own key) of
//! the normalised value finds a record by an exact value without decrypting anything.

use std::collections::HashMap;

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use rand::RngCore as _;
use sha2::Sha256;

use crate::config::ConfigError;
use crate::error::Error;

const VERSION: &str = "v1";
const NONCE_LEN: usize = 12;

/// The data-encryption keys and the lookup-hash key.
#[derive(Clone)]
pub struct DataKeys {
    active: String,
    keys: HashMap<String, Aes256Gcm>,
    lookup_key: Vec<u8>,
}

impl std::fmt::Debug for DataKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "DataKeys(active: {})", self.active)
    }
}

impl DataKeys {
    /// Keys derived from the suite secret: one data key with id `s1`, and the lookup key.
    pub fn derived(data_key: &[u8], lookup_key: Vec<u8>) -> Self {
        let cipher = Aes256Gcm::new_from_slice(data_key).unwrap_or_else(|_| unreachable!());
        Self {
            active: "s1".to_owned(),
            keys: HashMap::from([("s1".to_owned(), cipher)]),
            lookup_key,
        }
    }

    /// Replaces the data keys with `CRM_DATA_KEYS`: `id:base64key,id:base64key`, each key 32
    /// bytes; the first encrypts, all decrypt. The derived key stays available to open
    /// values sealed before the list was configured. The lookup key never changes.
    pub fn with_configured(mut self, list: &str) -> Result<Self, ConfigError> {
        let bad = |why: String| ConfigError(format!("CRM_DATA_KEYS: {why}"));
        let mut first = None;
        for entry in list.split(',').map(str::trim).filter(|e| !e.is_empty()) {
            let (id, encoded) = entry
                .split_once(':')
                .ok_or_else(|| bad(format!("`{entry}` is not id:base64key")))?;
            let valid_id = !id.is_empty()
                && id.len() <= 16
                && id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-');
            if !valid_id {
                return Err(bad(format!(
                    "key id `{id}` must be 1-16 letters, digits or -"
                )));
            }
            let key = STANDARD
                .decode(encoded)
                .ok()
                .filter(|k| k.len() == 32)
                .ok_or_else(|| bad(format!("key `{id}` must be 32 bytes in base64")))?;
            let cipher = Aes256Gcm::new_from_slice(&key).unwrap_or_else(|_| unreachable!());
            self.keys.insert(id.to_owned(), cipher);
            first.get_or_insert_with(|| id.to_owned());
        }
        self.active = first.ok_or_else(|| bad("lists no key".to_owned()))?;
        Ok(self)
    }

    /// The id of the key new values are sealed with.
    pub fn active_key_id(&self) -> &str {
        &self.active
    }

    /// Encrypts `plaintext` for `context` with the active key.
    pub fn seal(&self, context: &str, plaintext: &str) -> String {
        let cipher = &self.keys[&self.active];
        let mut nonce = [0u8; NONCE_LEN];
        rand::rng().fill_bytes(&mut nonce);
        let payload = Payload {
            msg: plaintext.as_bytes(),
            aad: context.as_bytes(),
        };
        // Encryption only fails for messages beyond GCM's 64 GiB limit.
        let sealed = cipher
            .encrypt(Nonce::from_slice(&nonce), payload)
            .unwrap_or_else(|_| unreachable!());
        let mut bytes = nonce.to_vec();
        bytes.extend(sealed);
        format!("{VERSION}:{}:{}", self.active, STANDARD.encode(bytes))
    }

    /// Decrypts a value sealed for `context`.
    pub fn open(&self, context: &str, sealed: &str) -> Result<String, Error> {
        let broken = |why: &str| Error::internal(format!("sealed value cannot be opened: {why}"));
        let mut parts = sealed.splitn(3, ':');
        let (Some(VERSION), Some(key_id), Some(body)) = (parts.next(), parts.next(), parts.next())
        else {
            return Err(broken("unknown format"));
        };
        let cipher = self
            .keys
            .get(key_id)
            .ok_or_else(|| broken("its key is not configured"))?;
        let bytes = STANDARD.decode(body).map_err(|_| broken("bad encoding"))?;
        if bytes.len() < NONCE_LEN {
            return Err(broken("too short"));
        }
        let (nonce, ciphertext) = bytes.split_at(NONCE_LEN);
        let payload = Payload {
            msg: ciphertext,
            aad: context.as_bytes(),
        };
        let plain = cipher
            .decrypt(Nonce::from_slice(nonce), payload)
            .map_err(|_| broken("authentication failed"))?;
        String::from_utf8(plain).map_err(|_| broken("not text"))
    }

    /// The keyed hash of a normalised value in `context`, for exact-match lookups.
    pub fn lookup_hash(&self, context: &str, value: &str) -> String {
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&self.lookup_key)
            .unwrap_or_else(|_| unreachable!());
        mac.update(context.as_bytes());
        mac.update(&[0]);
        mac.update(value.as_bytes());
        mac.finalize()
            .into_bytes()
            .iter()
            .take(16)
            .map(|b| format!("{b:02x}"))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys() -> DataKeys {
        DataKeys::derived(&[7u8; 32], vec![9u8; 32])
    }

    #[test]
    fn sealed_values_open_only_in_their_context() {
        let keys = keys();
        let sealed = keys.seal("t1/bank_card", "6222021234567890");
        assert!(sealed.starts_with("v1:s1:"));
        assert!(!sealed.contains("6222"));
        assert_eq!(
            keys.open("t1/bank_card", &sealed).unwrap(),
            "6222021234567890"
        );
        assert!(keys.open("t2/bank_card", &sealed).is_err());
        assert_ne!(
            sealed,
            keys.seal("t1/bank_card", "6222021234567890"),
            "fresh nonces"
        );
        let mut tampered = sealed.clone();
        tampered.pop();
        tampered.push('A');
        assert!(keys.open("t1/bank_card", &tampered).is_err());
    }

    #[test]
    fn rotated_keys_still_open_old_values() {
        let old = keys();
        let sealed = old.seal("t/id", "X");
        let rotated = old
            .clone()
            .with_configured(&format!("k2:{}", STANDARD.encode([1u8; 32])))
            .unwrap();
        assert_eq!(rotated.active_key_id(), "k2");
        assert_eq!(rotated.open("t/id", &sealed).unwrap(), "X");
        assert!(rotated.seal("t/id", "Y").starts_with("v1:k2:"));
        assert_eq!(
            old.lookup_hash("t/id", "X"),
            rotated.lookup_hash("t/id", "X")
        );
        assert!(keys().with_configured("k2:short").is_err());
        assert!(keys().with_configured("").is_err());
    }
}
