//! List columns stored as JSON text (portable between SQLite and PostgreSQL).

use serde::{Deserialize, Serialize};

/// Encodes a list column.
pub fn to_json<T: Serialize>(items: &[T]) -> String {
    serde_json::to_string(items).unwrap_or_else(|_| "[]".to_owned())
}

/// Decodes a list column; a damaged value reads as empty rather than failing every read.
pub fn from_json<T: for<'de> Deserialize<'de>>(column: &str) -> Vec<T> {
    serde_json::from_str(column).unwrap_or_default()
}
