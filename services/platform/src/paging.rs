//! List pagination after AIP-158: page sizes with a default and a maximum, and opaque page
//! tokens that carry a keyset cursor, are MACed, and are bound to the caller and the query.
//! A tampered, foreign or stale token is `INVALID_ARGUMENT`, never data.

use crate::clock;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::error::Error;

/// Page size used when the request says 0.
pub const DEFAULT_PAGE_SIZE: u64 = 50;
/// Tokens older than this are refused; clients restart the walk.
const TOKEN_LIFETIME_MICROS: i64 = 3 * 24 * 3600 * 1_000_000;

/// Checks `page_size` against AIP-158: 0 means the default, above `max` is coerced down,
/// negative is invalid.
pub fn page_size(requested: i32, max: u64) -> Result<u64, Error> {
    match requested {
        n if n < 0 => Err(Error::invalid("page_size", "must not be negative")),
        0 => Ok(DEFAULT_PAGE_SIZE.min(max)),
        n => Ok((n as u64).min(max)),
    }
}

/// The sort-key value of the last row of a page.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum SortKey {
    /// An integer column such as a timestamp.
    Int(i64),
    /// A text column such as a name.
    Text(String),
}

/// Where the next page starts: strictly after (`key`, `id`) in the query's order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cursor {
    /// Sort-key value of the last row returned.
    pub key: SortKey,
    /// Id of the last row returned; breaks ties between equal keys.
    pub id: String,
}

/// Cuts a page fetched with `limit + 1` rows down to `limit`, returning the cursor of the
/// next page when there was an extra row (so no count query is needed).
pub fn split_page<T>(
    mut rows: Vec<T>,
    limit: u64,
    cursor_of: impl FnOnce(&T) -> Cursor,
) -> (Vec<T>, Option<Cursor>) {
    if rows.len() as u64 <= limit {
        return (rows, None);
    }
    rows.truncate(limit as usize);
    let next = rows.last().map(cursor_of);
    (rows, next)
}

/// A cursor that orders by id alone (ids are time-ordered UUIDv7).
pub fn id_cursor(id: &str) -> Cursor {
    Cursor {
        key: SortKey::Int(0),
        id: id.to_owned(),
    }
}

#[derive(Serialize, Deserialize)]
struct TokenBody {
    cursor: Cursor,
    binding: String,
    issued_at: i64,
}

/// Encodes and checks page tokens with a secret key.
#[derive(Clone)]
pub struct PageTokens {
    key: Vec<u8>,
}

impl std::fmt::Debug for PageTokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PageTokens(..)")
    }
}

/// Hashes what a token is bound to: the caller and every query parameter but the token.
pub fn binding(parts: &[&str]) -> String {
    let mut hasher = Sha256::new();
    for part in parts {
        hasher.update((part.len() as u64).to_le_bytes());
        hasher.update(part.as_bytes());
    }
    URL_SAFE_NO_PAD.encode(&hasher.finalize()[..12])
}

impl PageTokens {
    /// Creates a codec over a secret key.
    pub fn new(key: &[u8]) -> Self {
        Self { key: key.to_vec() }
    }

    fn mac(&self, payload: &[u8]) -> Vec<u8> {
        // HMAC accepts keys of any length, so this cannot fail.
        let mut mac =
            <Hmac<Sha256> as Mac>::new_from_slice(&self.key).unwrap_or_else(|_| unreachable!());
        mac.update(payload);
        mac.finalize().into_bytes()[..16].to_vec()
    }

    /// Issues the token for the page after `cursor`.
    pub fn issue(&self, cursor: Cursor, binding: &str) -> String {
        let body = TokenBody {
            cursor,
            binding: binding.to_owned(),
            issued_at: clock::now_micros(),
        };
        let payload = serde_json::to_vec(&body).unwrap_or_default();
        let tag = self.mac(&payload);
        format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(payload),
            URL_SAFE_NO_PAD.encode(tag)
        )
    }

    /// Reads a token from the request: `None` for the first page, the cursor otherwise.
    pub fn read(&self, token: &str, binding: &str) -> Result<Option<Cursor>, Error> {
        if token.is_empty() {
            return Ok(None);
        }
        let bad = || {
            Error::invalid(
                "page_token",
                "invalid, expired, or issued for another query or caller",
            )
        };
        let (payload, tag) = token.split_once('.').ok_or_else(bad)?;
        let payload = URL_SAFE_NO_PAD.decode(payload).map_err(|_| bad())?;
        let tag = URL_SAFE_NO_PAD.decode(tag).map_err(|_| bad())?;
        let expected = self.mac(&payload);
        // Constant-time comparison: a timing leak would let a caller forge tags byte by byte.
        if tag.len() != expected.len()
            || tag
                .iter()
                .zip(&expected)
                .fold(0u8, |acc, (a, b)| acc | (a ^ b))
                != 0
        {
            return Err(bad());
        }
        let body: TokenBody = serde_json::from_slice(&payload).map_err(|_| bad())?;
        if body.binding != binding || clock::now_micros() - body.issued_at > TOKEN_LIFETIME_MICROS {
            return Err(bad());
        }
        Ok(Some(body.cursor))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cursor() -> Cursor {
        Cursor {
            key: SortKey::Int(5),
            id: "a".into(),
        }
    }

    #[test]
    fn page_sizes_follow_aip_158() {
        assert_eq!(page_size(0, 1000).unwrap(), 50);
        assert_eq!(page_size(5000, 1000).unwrap(), 1000);
        assert!(page_size(-1, 1000).is_err());
    }

    #[test]
    fn tokens_round_trip_only_for_the_same_binding() {
        let tokens = PageTokens::new(b"k");
        let b = binding(&["t1", "u1", "filter"]);
        let token = tokens.issue(cursor(), &b);
        assert_eq!(tokens.read(&token, &b).unwrap(), Some(cursor()));
        assert!(
            tokens
                .read(&token, &binding(&["t1", "u2", "filter"]))
                .is_err()
        );
        assert!(PageTokens::new(b"other").read(&token, &b).is_err());
        let mut flipped = token.into_bytes();
        flipped[3] ^= 1;
        assert!(tokens.read(&String::from_utf8_lossy(&flipped), &b).is_err());
    }
}
