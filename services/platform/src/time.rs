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

/// Converts a protobuf timestamp to microseconds since the epoch (saturating far outside
/// any real date, so a hostile value cannot overflow).
pub fn micros_of(ts: &prost_types::Timestamp) -> i64 {
    ts.seconds
        .saturating_mul(1_000_000)
        .saturating_add(i64::from(ts.nanos) / 1_000)
}

/// Converts an optional column to an optional protobuf timestamp.
pub fn to_timestamp_opt(micros: Option<i64>) -> Option<prost_types::Timestamp> {
    micros.map(to_timestamp)
}

/// A period `[start, end)` from two required timestamps (each named by its field), the end
/// after the start and at most `max_days` later.
pub fn period(
    (start_field, start): (&str, Option<&prost_types::Timestamp>),
    (end_field, end): (&str, Option<&prost_types::Timestamp>),
    max_days: i64,
) -> Result<(i64, i64), crate::error::Error> {
    let mut v = crate::validate::Violations::new();
    if start.is_none() {
        v.add(start_field, "is required");
    }
    if end.is_none() {
        v.add(end_field, "is required");
    }
    v.finish()?;
    let mut v = crate::validate::Violations::new();
    let (start, end) = (
        start.map(micros_of).unwrap_or_default(),
        end.map(micros_of).unwrap_or_default(),
    );
    if end <= start {
        v.add(end_field, format!("must be after {start_field}"));
    } else if end - start > max_days.saturating_mul(86_400_000_000) {
        v.add(
            end_field,
            format!("must be at most {max_days} days after {start_field}"),
        );
    }
    v.finish()?;
    Ok((start, end))
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

/// A calendar day stored as the number `yyyymmdd` (20261201), so days sort and compare as
/// integers; 0 is no day.
pub mod day {
    use super::{civil_date, days_in_month};
    use crate::validate::Violations;
    use crm_proto::common::Date;

    /// The day of a wire date, checked in `field`: unset (or all zero) is 0, anything else
    /// must be a real day from the year 1900 to 9999.
    pub fn check(v: &mut Violations, field: &str, date: Option<&Date>) -> i32 {
        let Some(date) = date.filter(|d| **d != Date::default()) else {
            return 0;
        };
        let real = (1900..=9999).contains(&date.year)
            && (1..=12).contains(&date.month)
            && date.day >= 1
            && date.day as u32 <= days_in_month(date.year, date.month as u32);
        if !real {
            v.add(field, "must be a real day from the year 1900 on");
            return 0;
        }
        date.year * 10_000 + date.month * 100 + date.day
    }

    /// The wire date of a stored day; `None` for 0.
    pub fn to_wire(day: i32) -> Option<Date> {
        (day != 0).then_some(Date {
            year: day / 10_000,
            month: day / 100 % 100,
            day: day % 100,
        })
    }

    /// The UTC day of a time in microseconds.
    pub fn of_micros(micros: i64) -> i32 {
        let (year, month, day) = civil_date(micros);
        year * 10_000 + month as i32 * 100 + day as i32
    }

    /// Midnight UTC of a stored day, in microseconds (days from the civil date, after Howard
    /// Hinnant's algorithm).
    pub fn to_micros(day: i32) -> i64 {
        let (year, month, date) = (
            i64::from(day / 10_000),
            i64::from(day / 100 % 100),
            i64::from(day % 100),
        );
        let y = if month <= 2 { year - 1 } else { year };
        let era = y.div_euclid(400);
        let year_of_era = y - era * 400;
        let shifted_month = (month + 9) % 12;
        let day_of_year = (153 * shifted_month + 2) / 5 + date - 1;
        let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
        (era * 146_097 + day_of_era - 719_468) * 86_400_000_000
    }

    /// The day `days` after (or, negative, before) `day`.
    pub fn plus(day: i32, days: i64) -> i32 {
        of_micros(to_micros(day) + days * 86_400_000_000)
    }

    /// `2026-12-01`.
    pub fn format(day: i32) -> String {
        if day == 0 {
            return String::new();
        }
        format!(
            "{:04}-{:02}-{:02}",
            day / 10_000,
            day / 100 % 100,
            day % 100
        )
    }

    #[cfg(test)]
    mod tests {
        #[test]
        fn days_move_across_months_years_and_leap_days() {
            assert_eq!(super::to_micros(19_700_101), 0);
            assert_eq!(super::plus(20_240_228, 1), 20_240_229);
            assert_eq!(super::plus(20_241_231, 1), 20_250_101);
            assert_eq!(super::plus(20_270_301, -1), 20_270_228);
            assert_eq!(super::plus(20_270_115, -30), 20_261_216);
        }

        use super::*;

        #[test]
        fn days_round_trip_and_refuse_unreal_dates() {
            let mut v = Violations::new();
            let leap = Date {
                year: 2028,
                month: 2,
                day: 29,
            };
            assert_eq!(check(&mut v, "d", Some(&leap)), 20280229);
            assert_eq!(to_wire(20280229), Some(leap));
            assert_eq!(check(&mut v, "d", None), 0);
            assert!(v.finish().is_ok());
            let mut v = Violations::new();
            let unreal = Date {
                year: 2027,
                month: 2,
                day: 29,
            };
            check(&mut v, "d", Some(&unreal));
            assert!(v.finish().is_err());
            assert_eq!(of_micros(0), 19700101);
            assert_eq!(format(20261201), "2026-12-01");
        }
    }
}
