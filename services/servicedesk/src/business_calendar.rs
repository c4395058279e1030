//! The tenant's business calendar, which service levels count in: kept as tenant settings,
//! checked field by field, and turned into the platform's `BusinessCalendar`.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use crm_platform::calendar::{self, BusinessCalendar as Calendar, CalendarError, Span};
use crm_platform::error::Error;
use crm_platform::time::{day, to_timestamp_opt};
use crm_platform::validate::Violations;
use crm_proto::servicedesk::{BusinessCalendar, Weekday, WorkingHours};
use crm_records::settings::{Settings, Stored};

/// Most holidays a calendar lists (a few years of them).
const MAX_HOLIDAYS: usize = 400;
/// Most make-up days.
const MAX_MAKE_UP_DAYS: usize = 100;
/// Most working spans in a week.
const MAX_SPANS: usize = 70;

/// One working span as stored: weekday 1 (Monday) to 7, minutes after midnight.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct StoredSpan {
    weekday: i32,
    start: u16,
    end: u16,
}

/// The calendar as stored; the default (no time zone) counts round the clock in UTC.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct StoredCalendar {
    #[serde(default)]
    time_zone: String,
    #[serde(default)]
    hours: Vec<StoredSpan>,
    /// Days as `yyyymmdd`.
    #[serde(default)]
    holidays: Vec<i32>,
    #[serde(default)]
    make_up_days: Vec<i32>,
}

impl Settings for StoredCalendar {
    const KIND: &'static str = "business_calendar";
}

fn naive(day: i32) -> Option<NaiveDate> {
    NaiveDate::from_ymd_opt(day / 10_000, (day / 100 % 100) as u32, (day % 100) as u32)
}

impl StoredCalendar {
    /// The calendar to count in.
    pub(crate) fn calendar(&self) -> Calendar {
        if self.time_zone.is_empty() {
            return Calendar::around_the_clock();
        }
        // A stored calendar was checked when it was set; should it fail now (a zone the
        // time-zone database dropped), counting round the clock is the safe reading.
        self.build()
            .unwrap_or_else(|_| Calendar::around_the_clock())
    }

    fn build(&self) -> Result<Calendar, CalendarError> {
        let mut week: [Vec<Span>; 7] = Default::default();
        for span in &self.hours {
            if let Some(day) = week.get_mut((span.weekday - 1) as usize) {
                day.push(Span {
                    start: span.start,
                    end: span.end,
                });
            }
        }
        let dates = |days: &[i32]| days.iter().filter_map(|d| naive(*d)).collect();
        Calendar::new(
            &self.time_zone,
            week,
            dates(&self.holidays),
            dates(&self.make_up_days),
        )
    }
}

/// Checks a sent calendar and gives its stored form.
pub(crate) fn check(input: &BusinessCalendar) -> Result<StoredCalendar, Error> {
    let mut v = Violations::new();
    let time_zone = input.time_zone.trim().to_owned();
    v.required("calendar.time_zone", &time_zone);
    if input.working_hours.len() > MAX_SPANS {
        v.add("calendar.working_hours", "must list at most 70 spans");
    }
    let mut hours = Vec::with_capacity(input.working_hours.len());
    for (i, span) in input.working_hours.iter().enumerate() {
        let field = format!("calendar.working_hours[{i}]");
        let weekday = v.required_enumeration::<Weekday>(&format!("{field}.weekday"), span.weekday);
        let start = calendar::parse_minute(&span.start);
        let end = calendar::parse_minute(&span.end);
        if start.is_none() {
            v.add(&format!("{field}.start"), "must be a time \"HH:MM\"");
        }
        if end.is_none() {
            v.add(
                &format!("{field}.end"),
                "must be a time \"HH:MM\" up to \"24:00\"",
            );
        }
        if let (Some(start), Some(end)) = (start, end) {
            if start >= end {
                v.add(&format!("{field}.end"), "must be after the start");
            }
            hours.push(StoredSpan {
                weekday,
                start,
                end,
            });
        }
    }
    let days = |v: &mut Violations, field: &str, list: &[crm_proto::common::Date], max| {
        if list.len() > max {
            v.add(field, format!("must list at most {max} days"));
        }
        let mut days: Vec<i32> = list
            .iter()
            .enumerate()
            .map(|(i, d)| day::check(v, &format!("{field}[{i}]"), Some(d)))
            .filter(|d| *d != 0)
            .collect();
        days.sort_unstable();
        days.dedup();
        days
    };
    let holidays = days(&mut v, "calendar.holidays", &input.holidays, MAX_HOLIDAYS);
    let make_up_days = days(
        &mut v,
        "calendar.make_up_days",
        &input.make_up_days,
        MAX_MAKE_UP_DAYS,
    );
    v.finish()?;
    let stored = StoredCalendar {
        time_zone,
        hours,
        holidays,
        make_up_days,
    };
    // What only the whole calendar can say: the zone, overlaps, a week without work.
    stored
        .build()
        .map_err(|e| Error::invalid(format!("calendar.{}", e.field), e.reason))?;
    Ok(stored)
}

/// The wire form of a stored calendar.
pub(crate) fn to_proto(stored: &Stored<StoredCalendar>) -> BusinessCalendar {
    let value = &stored.value;
    BusinessCalendar {
        time_zone: if value.time_zone.is_empty() {
            "UTC".to_owned()
        } else {
            value.time_zone.clone()
        },
        working_hours: if value.time_zone.is_empty() {
            (1..=7)
                .map(|weekday| WorkingHours {
                    weekday,
                    start: "00:00".to_owned(),
                    end: "24:00".to_owned(),
                })
                .collect()
        } else {
            value
                .hours
                .iter()
                .map(|span| WorkingHours {
                    weekday: span.weekday,
                    start: calendar::format_minute(span.start),
                    end: calendar::format_minute(span.end),
                })
                .collect()
        },
        holidays: value
            .holidays
            .iter()
            .filter_map(|d| day::to_wire(*d))
            .collect(),
        make_up_days: value
            .make_up_days
            .iter()
            .filter_map(|d| day::to_wire(*d))
            .collect(),
        etag: stored.etag(),
        update_time: to_timestamp_opt(stored.update_time),
    }
}
