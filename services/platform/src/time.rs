//! Wall-clock helpers. Timestamps are stored as microseconds since the Unix epoch (a portable
//! BIGINT on SQLite and PostgreSQL) and sent as `google.protobuf.Timestamp`.

use std::time::{SystemTime, UNIX_EPOCH};

/// Returns the current time in microseconds since the Unix epoch.
pub fn now_micros() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_micros() as i64)
        .unwrap_or_default()
}

/// Converts microseconds since the epoch to a protobuf timestamp.
pub fn to_timestamp(micros: i64) -> prost_types::Timestamp {
    prost_types::Timestamp {
        seconds: micros.div_euclid(1_000_000),
        nanos: (micros.rem_euclid(1_000_000) * 1_000) as i32,
    }
}

/// Converts an optional column to an optional protobuf timestamp.
pub fn to_timestamp_opt(micros: Option<i64>) -> Option<prost_types::Timestamp> {
    micros.map(to_timestamp)
}

/// Parses an RFC 3339 time, as filters write it, into microseconds since the epoch.
pub fn parse_rfc3339_micros(text: &str) -> Option<i64> {
    let ts: prost_types::Timestamp = text.parse().ok()?;
    Some(ts.seconds * 1_000_000 + i64::from(ts.nanos) / 1_000)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_round_trip_through_micros() {
        let ts = to_timestamp(1_700_000_000_123_456);
        assert_eq!(ts.seconds, 1_700_000_000);
        assert_eq!(ts.nanos, 123_456_000);
        assert_eq!(
            parse_rfc3339_micros("2023-11-14T22:13:20.123456Z"),
            Some(1_700_000_000_123_456)
        );
    }
}
