//! Time helpers. Timestamps are stored as microseconds since the Unix epoch (a portable
//! BIGINT on SQLite and PostgreSQL) and sent as `google.protobuf.Timestamp`.
//!
//! "Now" is the platform clock's: [`crate::clock::now_micros`].

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

/// The UTC calendar date `(year, month, day)` of a time in microseconds since the epoch.
pub fn civil_date(micros: i64) -> (i32, u32, u32) {
    // Howard Hinnant's days-to-civil algorithm: exact for the proleptic Gregorian calendar.
    let days = micros.div_euclid(86_400_000_000);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = (yoe + era * 400 + i64::from(month <= 2)) as i32;
    (year, month, day)
}

/// Days in `month` of `year`; a year of 0 (unknown) allows 29 February.
pub fn days_in_month(year: i32, month: u32) -> u32 {
    match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if year == 0 || (year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)) => 29,
        2 => 28,
        _ => 0,
    }
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

    #[test]
    fn civil_dates() {
        assert_eq!(civil_date(0), (1970, 1, 1));
        assert_eq!(civil_date(1_700_000_000_000_000), (2023, 11, 14));
        assert_eq!(civil_date(951_782_400_000_000), (2000, 2, 29));
        assert_eq!(civil_date(-1), (1969, 12, 31));
        assert_eq!(days_in_month(2024, 2), 29);
        assert_eq!(days_in_month(1900, 2), 28);
        assert_eq!(days_in_month(0, 2), 29);
    }
}
