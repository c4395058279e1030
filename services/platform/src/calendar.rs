//! Business time: a tenant's working hours in its own time zone, its public holidays and the
//! weekend days it works instead (the Chinese 调休 make-up days). Service levels count in it:
//! four business hours asked at 17:00 on a Friday fall due on Monday at 12:00.
//!
//! Instants are microseconds since the epoch, like everywhere in the platform; the calendar
//! turns them into local days and back with the IANA rules of `chrono-tz`, so daylight-saving
//! zones count their short and long days right.

use std::collections::BTreeSet;

use chrono::{DateTime, Datelike, Duration, LocalResult, NaiveDate, NaiveTime, TimeZone, Utc};
use chrono_tz::Tz;

/// Minutes in a day: a span ending at 1440 ends at midnight.
pub const DAY_MINUTES: u16 = 1440;

/// How far ahead a due time is looked for: five years of days. A calendar whose week has
/// working hours always finds one long before.
const HORIZON_DAYS: u32 = 5 * 366;

const MINUTE_MICROS: i64 = 60_000_000;

/// Working time of one day, in minutes after local midnight: `[start, end)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Span {
    /// First working minute.
    pub start: u16,
    /// The minute work stops, at most [`DAY_MINUTES`].
    pub end: u16,
}

/// Why a calendar was refused: the field and the reason, for a caller to show.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CalendarError {
    /// The field at fault, relative to the calendar (`time_zone`, `working_hours`).
    pub field: &'static str,
    /// What is wrong.
    pub reason: String,
}

/// A tenant's business calendar.
#[derive(Debug, Clone, PartialEq)]
pub struct BusinessCalendar {
    zone: Tz,
    /// Working spans per weekday, Monday first, sorted and disjoint.
    week: [Vec<Span>; 7],
    holidays: BTreeSet<NaiveDate>,
    make_up_days: BTreeSet<NaiveDate>,
}

impl BusinessCalendar {
    /// A calendar for `zone` (an IANA name such as "Asia/Shanghai"), with the working spans
    /// of each weekday (Monday first), the holidays, and the make-up days: dates that work
    /// although their weekday does not, on the hours of the first weekday that works.
    pub fn new(
        zone: &str,
        mut week: [Vec<Span>; 7],
        holidays: BTreeSet<NaiveDate>,
        make_up_days: BTreeSet<NaiveDate>,
    ) -> Result<Self, CalendarError> {
        let zone: Tz = zone.parse().map_err(|_| CalendarError {
            field: "time_zone",
            reason: format!("{zone:?} is not an IANA time zone such as \"Asia/Shanghai\""),
        })?;
        for spans in &mut week {
            spans.sort();
            let mut previous_end = 0;
            for span in spans.iter() {
                if span.start >= span.end || span.end > DAY_MINUTES {
                    return Err(CalendarError {
                        field: "working_hours",
                        reason: "each span must start before it ends, within one day".to_owned(),
                    });
                }
                if span.start < previous_end {
                    return Err(CalendarError {
                        field: "working_hours",
                        reason: "spans of one weekday must not overlap".to_owned(),
                    });
                }
                previous_end = span.end;
            }
        }
        if week.iter().all(Vec::is_empty) {
            return Err(CalendarError {
                field: "working_hours",
                reason: "at least one weekday must have working hours".to_owned(),
            });
        }
        if let Some(day) = holidays.intersection(&make_up_days).next() {
            return Err(CalendarError {
                field: "make_up_days",
                reason: format!("{day} is a holiday too"),
            });
        }
        Ok(Self {
            zone,
            week,
            holidays,
            make_up_days,
        })
    }

    /// Round the clock in UTC, every day: business time is plain elapsed time. What a tenant
    /// that has set no calendar counts in.
    pub fn around_the_clock() -> Self {
        let all_day = vec![Span {
            start: 0,
            end: DAY_MINUTES,
        }];
        Self {
            zone: Tz::UTC,
            week: std::array::from_fn(|_| all_day.clone()),
            holidays: BTreeSet::new(),
            make_up_days: BTreeSet::new(),
        }
    }

    /// The time zone's IANA name.
    pub fn zone_name(&self) -> &'static str {
        self.zone.name()
    }

    /// The working spans of `day`: none on a holiday, the first working weekday's on a
    /// make-up day, otherwise its weekday's.
    pub fn spans_on(&self, day: NaiveDate) -> &[Span] {
        if self.holidays.contains(&day) {
            return &[];
        }
        let weekday = &self.week[day.weekday().num_days_from_monday() as usize];
        if weekday.is_empty() && self.make_up_days.contains(&day) {
            return self
                .week
                .iter()
                .find(|spans| !spans.is_empty())
                .map_or(&[], Vec::as_slice);
        }
        weekday
    }

    /// The instant `business` microseconds of working time after `from`; `None` only if the
    /// calendar has no working time in the years ahead (every day a holiday).
    pub fn add(&self, from: i64, business: i64) -> Option<i64> {
        if business <= 0 {
            return Some(from);
        }
        let mut remaining = business;
        let mut day = self.local_day(from);
        for _ in 0..HORIZON_DAYS {
            for (start, end) in self.working_instants(day) {
                if end <= from {
                    continue;
                }
                let begin = start.max(from);
                let available = end - begin;
                if remaining <= available {
                    return Some(begin + remaining);
                }
                remaining -= available;
            }
            day = day.succ_opt()?;
        }
        None
    }

    /// The working time between `from` and `to`, in microseconds; 0 when `to` is not later.
    pub fn between(&self, from: i64, to: i64) -> i64 {
        if to <= from {
            return 0;
        }
        let mut total = 0;
        let mut day = self.local_day(from);
        let last = self.local_day(to);
        while day <= last {
            for (start, end) in self.working_instants(day) {
                let overlap = end.min(to) - start.max(from);
                if overlap > 0 {
                    total += overlap;
                }
            }
            match day.succ_opt() {
                Some(next) => day = next,
                None => break,
            }
        }
        total
    }

    /// The local day `micros` falls on.
    pub fn local_day(&self, micros: i64) -> NaiveDate {
        DateTime::<Utc>::from_timestamp_micros(micros)
            .unwrap_or_default()
            .with_timezone(&self.zone)
            .date_naive()
    }

    /// `day`'s working spans as instants.
    fn working_instants(&self, day: NaiveDate) -> impl Iterator<Item = (i64, i64)> + '_ {
        self.spans_on(day)
            .iter()
            .map(move |span| (self.instant(day, span.start), self.instant(day, span.end)))
    }

    /// The instant of `minute` past local midnight of `day`. A time the clocks skip (spring
    /// forward) is read after the jump; one they repeat (fall back) is its first occurrence.
    fn instant(&self, day: NaiveDate, minute: u16) -> i64 {
        let midnight = day.and_time(NaiveTime::MIN);
        let local = midnight + Duration::minutes(i64::from(minute));
        let resolved = match self.zone.from_local_datetime(&local) {
            LocalResult::Single(t) | LocalResult::Ambiguous(t, _) => Some(t),
            LocalResult::None => self
                .zone
                .from_local_datetime(&(local + Duration::hours(1)))
                .earliest(),
        };
        resolved.map_or_else(
            // Unreachable with the IANA rules (no gap is longer than an hour); count the
            // minute as UTC rather than fail a due time.
            || local.and_utc().timestamp_micros(),
            |t| t.timestamp_micros(),
        )
    }
}

/// Minutes as microseconds.
pub fn minutes(minutes: i64) -> i64 {
    minutes.saturating_mul(MINUTE_MICROS)
}

/// Parses "HH:MM" (00:00 to 24:00) into minutes after midnight.
pub fn parse_minute(text: &str) -> Option<u16> {
    let (h, m) = text.trim().split_once(':')?;
    if h.len() != 2 || m.len() != 2 {
        return None;
    }
    let (h, m): (u16, u16) = (h.parse().ok()?, m.parse().ok()?);
    let minute = h * 60 + m;
    (m < 60 && minute <= DAY_MINUTES).then_some(minute)
}

/// Formats minutes after midnight as "HH:MM".
pub fn format_minute(minute: u16) -> String {
    format!("{:02}:{:02}", minute / 60, minute % 60)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 09:00–12:00 and 13:30–18:00 on weekdays, in Shanghai.
    fn shanghai(holidays: &[(i32, u32, u32)], make_up: &[(i32, u32, u32)]) -> BusinessCalendar {
        let day = vec![
            Span {
                start: 540,
                end: 720,
            },
            Span {
                start: 810,
                end: 1080,
            },
        ];
        let week = std::array::from_fn(|i| if i < 5 { day.clone() } else { Vec::new() });
        let dates = |list: &[(i32, u32, u32)]| {
            list.iter()
                .map(|&(y, m, d)| NaiveDate::from_ymd_opt(y, m, d).unwrap())
                .collect()
        };
        BusinessCalendar::new("Asia/Shanghai", week, dates(holidays), dates(make_up)).unwrap()
    }

    /// Microseconds of a local Shanghai time (UTC+8, no daylight saving).
    fn cst(y: i32, mo: u32, d: u32, h: u32, mi: u32) -> i64 {
        chrono_tz::Asia::Shanghai
            .with_ymd_and_hms(y, mo, d, h, mi, 0)
            .unwrap()
            .timestamp_micros()
    }

    #[test]
    fn due_times_walk_through_nights_lunches_weekends_holidays_and_make_up_days() {
        // 2025's National Day and Mid-Autumn holiday: 1 to 8 October, with Sunday 28
        // September and Saturday 11 October worked instead. 2026-12-04 is a Friday.
        let cal = shanghai(
            &(1..=8).map(|d| (2025, 10, d)).collect::<Vec<_>>(),
            &[(2025, 9, 28), (2025, 10, 11)],
        );
        let cases: &[(&str, i64, i64, i64)] = &[
            // (what, from, business minutes, due)
            (
                "within the morning",
                cst(2026, 12, 3, 9, 0),
                60,
                cst(2026, 12, 3, 10, 0),
            ),
            (
                "over lunch",
                cst(2026, 12, 3, 11, 30),
                60,
                cst(2026, 12, 3, 14, 0),
            ),
            (
                "asked at night, counted from the morning",
                cst(2026, 12, 2, 22, 0),
                30,
                cst(2026, 12, 3, 9, 30),
            ),
            (
                "Friday afternoon into Monday",
                cst(2026, 12, 4, 17, 0),
                240,
                cst(2026, 12, 7, 12, 0),
            ),
            (
                "asked on Saturday",
                cst(2026, 12, 5, 10, 0),
                60,
                cst(2026, 12, 7, 10, 0),
            ),
            (
                "an exact span end stays on that day",
                cst(2026, 12, 3, 9, 0),
                180,
                cst(2026, 12, 3, 12, 0),
            ),
            (
                "Friday into the make-up Sunday",
                cst(2025, 9, 26, 17, 0),
                120,
                cst(2025, 9, 28, 10, 0),
            ),
            (
                "over the whole holiday",
                cst(2025, 9, 30, 17, 0),
                120,
                cst(2025, 10, 9, 10, 0),
            ),
            (
                "a whole working day is 7.5 hours",
                cst(2026, 12, 3, 9, 0),
                450,
                cst(2026, 12, 3, 18, 0),
            ),
            (
                "nothing to add",
                cst(2026, 12, 5, 3, 0),
                0,
                cst(2026, 12, 5, 3, 0),
            ),
        ];
        for &(what, from, mins, due) in cases {
            assert_eq!(cal.add(from, minutes(mins)), Some(due), "{what}");
            if mins > 0 {
                assert_eq!(cal.between(from, due), minutes(mins), "{what}: between");
            }
        }
    }

    #[test]
    fn business_time_between_counts_only_working_spans() {
        let cal = shanghai(&[(2026, 12, 8)], &[]);
        // Friday 17:00 to Wednesday 10:00 with Tuesday a holiday: 1 h + 7.5 h + 1 h.
        let from = cst(2026, 12, 4, 17, 0);
        let to = cst(2026, 12, 9, 10, 0);
        assert_eq!(cal.between(from, to), minutes(60 + 450 + 60));
        assert_eq!(cal.between(to, from), 0);
        assert_eq!(
            cal.between(cst(2026, 12, 5, 0, 0), cst(2026, 12, 6, 23, 59)),
            0
        );
    }

    #[test]
    fn daylight_saving_zones_count_local_hours() {
        // New York springs forward on Sunday 8 March 2026: 09:00–17:00 local is 14:00–22:00
        // UTC before and 13:00–21:00 UTC after.
        let day = vec![Span {
            start: 540,
            end: 1020,
        }];
        let week = std::array::from_fn(|_| day.clone());
        let cal = BusinessCalendar::new("America/New_York", week, BTreeSet::new(), BTreeSet::new())
            .unwrap();
        let utc = |d: u32, h: u32| {
            Utc.with_ymd_and_hms(2026, 3, d, h, 0, 0)
                .unwrap()
                .timestamp_micros()
        };
        // Saturday 7 March 16:00 EST (21:00 UTC) plus 2 h: one hour that day, then from
        // Sunday 09:00 EDT (13:00 UTC, the clocks moved at 02:00) to 10:00 EDT = 14:00 UTC.
        assert_eq!(cal.add(utc(7, 21), minutes(120)), Some(utc(8, 14)));
        assert_eq!(cal.between(utc(7, 21), utc(8, 14)), minutes(120));
    }

    #[test]
    fn around_the_clock_is_elapsed_time() {
        let cal = BusinessCalendar::around_the_clock();
        let from = cst(2026, 12, 5, 23, 10);
        assert_eq!(cal.add(from, minutes(1000)), Some(from + minutes(1000)));
        assert_eq!(cal.between(from, from + minutes(77)), minutes(77));
    }

    #[test]
    fn refuses_what_cannot_be_a_calendar() {
        let none: [Vec<Span>; 7] = Default::default();
        let err = |zone: &str, week: [Vec<Span>; 7]| {
            BusinessCalendar::new(zone, week, BTreeSet::new(), BTreeSet::new())
                .unwrap_err()
                .field
        };
        let one = |start, end| {
            let mut week: [Vec<Span>; 7] = Default::default();
            week[0] = vec![Span { start, end }];
            week
        };
        assert_eq!(err("Mars/Olympus", one(540, 600)), "time_zone");
        assert_eq!(err("Asia/Shanghai", none), "working_hours");
        assert_eq!(err("Asia/Shanghai", one(600, 540)), "working_hours");
        assert_eq!(err("Asia/Shanghai", one(0, 1441)), "working_hours");
        let mut overlapping = one(540, 720);
        overlapping[0].push(Span {
            start: 700,
            end: 800,
        });
        assert_eq!(err("Asia/Shanghai", overlapping), "working_hours");
        let day = NaiveDate::from_ymd_opt(2026, 10, 10).unwrap();
        let both = BusinessCalendar::new(
            "Asia/Shanghai",
            one(540, 600),
            BTreeSet::from([day]),
            BTreeSet::from([day]),
        );
        assert_eq!(both.unwrap_err().field, "make_up_days");
    }

    #[test]
    fn minutes_of_the_day_parse_and_format() {
        assert_eq!(parse_minute("09:30"), Some(570));
        assert_eq!(parse_minute("24:00"), Some(1440));
        for bad in ["9:30", "24:01", "12:60", "noon", "", "-1:00"] {
            assert_eq!(parse_minute(bad), None, "{bad}");
        }
        assert_eq!(format_minute(570), "09:30");
    }
}
