//! List and object columns stored as JSON text (portable between SQLite and PostgreSQL).

use serde::{Deserialize, Serialize};

/// Encodes a list column.
pub fn to_json<T: Serialize>(items: &[T]) -> String {
    serde_json::to_string(items).unwrap_or_else(|_| "[]".to_owned())
}

/// Decodes a list column; a damaged value reads as empty rather than failing every read.
pub fn from_json<T: for<'de> Deserialize<'de>>(column: &str) -> Vec<T> {
    serde_json::from_str(column).unwrap_or_default()
}

/// Encodes an object column (a record's settings or outcome).
pub fn object_to_json<T: Serialize>(value: &T) -> String {
    serde_json::to_string(value).unwrap_or_else(|_| "{}".to_owned())
}

/// Decodes an object column; a damaged or empty value reads as the default.
pub fn object_from_json<T: for<'de> Deserialize<'de> + Default>(column: &str) -> T {
    serde_json::from_str(column).unwrap_or_default()
}
