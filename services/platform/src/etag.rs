//! Etags derived from the row version (RFC 7232 quoted strings).

use crate::error::Error;

/// Formats a version as an etag.
pub fn format(version: i64) -> String {
    format!("\"{version}\"")
}

/// Parses an etag the client sent back; empty means "no check".
pub fn parse(field: &str, etag: &str) -> Result<Option<i64>, Error> {
    if etag.is_empty() {
        return Ok(None);
    }
    let inner = etag.trim_start_matches("W/").trim_matches('"');
    inner
        .parse()
        .map(Some)
        .map_err(|_| Error::invalid(field, "is not an etag this service issued"))
}
