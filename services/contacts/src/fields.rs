//! Field shapes accounts and contacts share: postal addresses, label lists (tags, group ids,
//! linked ids) kept as JSON arrays in a text column, contact points, enums and dates.

use serde::{Deserialize, Serialize};

use crm_platform::normalize::PhoneRegion;
use crm_platform::time::{civil_date, days_in_month};
use crm_platform::validate::Violations;
use crm_proto::common::{Date, PostalAddress};
use crm_proto::contacts::ContactPoint;

/// Most phones or emails a contact carries.
const MAX_POINTS: usize = 10;

/// The six address columns both tables carry.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AddressColumns {
    /// ISO 3166-1 alpha-2, uppercase.
    pub region_code: String,
    /// Province or state.
    pub administrative_area: String,
    /// City.
    pub locality: String,
    /// District.
    pub sublocality: String,
    /// Postal code.
    pub postal_code: String,
    /// Street lines joined by newlines.
    pub address_lines: String,
}

impl AddressColumns {
    /// Checks an address from a request (`field` is its path, e.g. `account.address`).
    pub fn check(v: &mut Violations, field: &str, address: Option<&PostalAddress>) -> Self {
        let address = address.cloned().unwrap_or_default();
        let region = address.region_code.trim();
        if !region.is_empty()
            && (region.len() != 2 || !region.chars().all(|c| c.is_ascii_alphabetic()))
        {
            v.add(
                &format!("{field}.region_code"),
                "must be an ISO 3166-1 alpha-2 code such as CN",
            );
        }
        for (name, value) in [
            ("administrative_area", &address.administrative_area),
            ("locality", &address.locality),
            ("sublocality", &address.sublocality),
            ("postal_code", &address.postal_code),
        ] {
            v.max_chars(&format!("{field}.{name}"), value, 200);
        }
        let lines = address
            .address_lines
            .iter()
            .map(|l| l.trim())
            .filter(|l| !l.is_empty())
            .collect::<Vec<_>>()
            .join("\n");
        v.max_chars(&format!("{field}.address_lines"), &lines, 1000);
        Self {
            region_code: region.to_ascii_uppercase(),
            administrative_area: address.administrative_area.trim().to_owned(),
            locality: address.locality.trim().to_owned(),
            sublocality: address.sublocality.trim().to_owned(),
            postal_code: address.postal_code.trim().to_owned(),
            address_lines: lines,
        }
    }

    /// The wire form.
    pub fn to_proto(&self) -> PostalAddress {
        PostalAddress {
            region_code: self.region_code.clone(),
            administrative_area: self.administrative_area.clone(),
            locality: self.locality.clone(),
            sublocality: self.sublocality.clone(),
            postal_code: self.postal_code.clone(),
            address_lines: self
                .address_lines
                .split('\n')
                .filter(|l| !l.is_empty())
                .map(str::to_owned)
                .collect(),
        }
    }

    /// One line for audit entries and exports.
    pub fn summary(&self) -> String {
        [
            self.region_code.as_str(),
            &self.administrative_area,
            &self.locality,
            &self.sublocality,
            &self.postal_code,
            &self.address_lines.replace('\n', " "),
        ]
        .iter()
        .filter(|p| !p.is_empty())
        .copied()
        .collect::<Vec<_>>()
        .join(", ")
    }
}

/// Implements `address()` and `set_address()` on a model with the six address columns.
macro_rules! address_columns {
    ($model:ty) => {
        impl $model {
            /// The address columns.
            pub fn address(&self) -> $crate::fields::AddressColumns {
                $crate::fields::AddressColumns {
                    region_code: self.region_code.clone(),
                    administrative_area: self.administrative_area.clone(),
                    locality: self.locality.clone(),
                    sublocality: self.sublocality.clone(),
                    postal_code: self.postal_code.clone(),
                    address_lines: self.address_lines.clone(),
                }
            }

            /// Replaces the address columns.
            pub fn set_address(&mut self, a: $crate::fields::AddressColumns) {
                self.region_code = a.region_code;
                self.administrative_area = a.administrative_area;
                self.locality = a.locality;
                self.sublocality = a.sublocality;
                self.postal_code = a.postal_code;
                self.address_lines = a.address_lines;
            }
        }
    };
}
pub(crate) use address_columns;

pub use crm_records::json::{from_json, to_json};

pub use crm_records::labels::{MAX_TAGS, ids, tags, unique_ids};

/// A stored phone or email.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredPoint {
    /// Normalised value.
    pub value: String,
    /// Label.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub label: String,
    /// The primary entry.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub primary: bool,
}

impl StoredPoint {
    /// The wire form.
    pub fn to_proto(&self) -> ContactPoint {
        ContactPoint {
            value: self.value.clone(),
            label: self.label.clone(),
            primary: self.primary,
        }
    }
}

/// What a contact point holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PointKind {
    /// A phone number, normalised to E.164; one without its country code is read in the
    /// region's numbering plan.
    Phone(PhoneRegion),
    /// An email address, lowercased.
    Email,
}

/// Normalises a list of phones or emails: every value checked (`field[i].value`), repeats of
/// the same normalised value dropped, exactly one primary (the first marked, else the first).
pub fn points(
    v: &mut Violations,
    field: &str,
    kind: PointKind,
    input: &[ContactPoint],
) -> Vec<StoredPoint> {
    if !v.at_most(field, input.len(), MAX_POINTS) {
        return Vec::new();
    }
    let mut out: Vec<StoredPoint> = Vec::with_capacity(input.len());
    for (i, point) in input.iter().enumerate() {
        if point.value.trim().is_empty() {
            continue;
        }
        let path = format!("{field}[{i}].value");
        let value = match kind {
            PointKind::Phone(region) => v.phone(&path, &point.value, region),
            PointKind::Email => {
                v.max_chars(&path, &point.value, 320);
                v.email(&path, &point.value)
            }
        };
        v.max_chars(&format!("{field}[{i}].label"), &point.label, 30);
        if let Some(existing) = out.iter_mut().find(|p| p.value == value) {
            existing.primary |= point.primary;
            continue;
        }
        out.push(StoredPoint {
            value,
            label: point.label.trim().to_owned(),
            primary: point.primary,
        });
    }
    let primary = out.iter().position(|p| p.primary).unwrap_or(0);
    for (i, point) in out.iter_mut().enumerate() {
        point.primary = i == primary;
    }
    out
}

/// The primary value of a point list, empty when there is none.
pub fn primary(points: &[StoredPoint]) -> String {
    points
        .iter()
        .find(|p| p.primary)
        .map(|p| p.value.clone())
        .unwrap_or_default()
}

/// Makes `value` the primary entry: it replaces the current primary value, or is added first
/// to an empty list. An empty value removes the primary entry.
pub fn set_primary(points: &mut Vec<StoredPoint>, value: String) {
    points.retain(|p| p.value != value || p.primary);
    match (points.iter().position(|p| p.primary), value.is_empty()) {
        (Some(i), true) => {
            points.remove(i);
            if let Some(first) = points.first_mut() {
                first.primary = true;
            }
        }
        (Some(i), false) => points[i].value = value,
        (None, true) => {}
        (None, false) => points.insert(
            0,
            StoredPoint {
                value,
                label: String::new(),
                primary: true,
            },
        ),
    }
}

/// Keeps both records' notes after a merge.
pub fn join_notes(survivor: &str, merged: &str) -> String {
    match (survivor.trim().is_empty(), merged.trim().is_empty()) {
        (_, true) => survivor.to_owned(),
        (true, false) => merged.to_owned(),
        (false, false) => format!("{survivor}\n\n{merged}"),
    }
}

/// Checks a birthday: a real date, the year 0 (unknown) or between 1900 and this year.
pub fn birthday(v: &mut Violations, field: &str, date: Option<&Date>, now: i64) -> (i32, i32, i32) {
    let Some(date) = date.filter(|d| *d != &Date::default()) else {
        return (0, 0, 0);
    };
    let (this_year, _, _) = civil_date(now);
    let month_ok = (1..=12).contains(&date.month);
    let day_ok =
        month_ok && date.day >= 1 && date.day as u32 <= days_in_month(date.year, date.month as u32);
    let year_ok = date.year == 0 || (1900..=this_year).contains(&date.year);
    if !(month_ok && day_ok && year_ok) {
        v.add(
            field,
            "must be a real date with a year from 1900 to this year, or year 0 when unknown",
        );
    }
    (date.year, date.month, date.day)
}

/// Whole years from a birthday to `now`; 0 when the year is unknown.
pub fn age(year: i32, month: i32, day: i32, now: i64) -> i32 {
    if year == 0 || month == 0 {
        return 0;
    }
    let (y, m, d) = civil_date(now);
    let had_birthday = (m as i32, d as i32) >= (month, day);
    (y - year - i32::from(!had_birthday)).max(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn point(value: &str, primary: bool) -> ContactPoint {
        ContactPoint {
            value: value.into(),
            label: String::new(),
            primary,
        }
    }

    #[test]
    fn points_have_one_primary_and_no_repeats() {
        let mut v = Violations::new();
        let stored = points(
            &mut v,
            "contact.phones",
            PointKind::Phone(PhoneRegion::CHINA),
            &[
                point("138 0013 8000", false),
                point("+86 13800138000", true),
                point("+1 415 555 0100", true),
            ],
        );
        assert!(v.finish().is_ok());
        assert_eq!(stored.len(), 2);
        assert!(stored[0].primary && !stored[1].primary);
        assert_eq!(primary(&stored), "+8613800138000");
    }

    #[test]
    fn set_primary_replaces_or_adds() {
        let mut list = vec![];
        set_primary(&mut list, "a@x.com".into());
        assert_eq!(primary(&list), "a@x.com");
        set_primary(&mut list, "b@x.com".into());
        assert_eq!(list.len(), 1);
        assert_eq!(primary(&list), "b@x.com");
        set_primary(&mut list, String::new());
        assert!(list.is_empty());
    }

    #[test]
    fn tags_fold_case_and_width() {
        let mut v = Violations::new();
        let t = tags(
            &mut v,
            "tags",
            &[
                "VIP".into(),
                " vip ".into(),
                "ＶＩＰ".into(),
                "".into(),
                "本地".into(),
            ],
        );
        assert_eq!(t, ["VIP", "本地"]);
    }

    #[test]
    fn ages_count_whole_years() {
        let now = 1_700_000_000_000_000; // 2023-11-14
        assert_eq!(age(1990, 11, 14, now), 33);
        assert_eq!(age(1990, 11, 15, now), 32);
        assert_eq!(age(0, 11, 15, now), 0);
        let mut v = Violations::new();
        birthday(
            &mut v,
            "b",
            Some(&Date {
                year: 2023,
                month: 2,
                day: 29,
            }),
            now,
        );
        assert!(v.finish().is_err());
        let mut v = Violations::new();
        birthday(
            &mut v,
            "b",
            Some(&Date {
                year: 0,
                month: 2,
                day: 29,
            }),
            now,
        );
        assert!(v.finish().is_ok());
    }
}
