//! Field checks shared by every service; each failure names the field and says why.

use crate::error::FieldViolation;
use crate::normalize::{self, PhoneRegion};

/// Collects violations so a request reports every bad field at once.
#[derive(Debug, Default)]
pub struct Violations(Vec<FieldViolation>);

impl Violations {
    /// Starts an empty collection.
    pub fn new() -> Self {
        Self::default()
    }

    /// Checks that `value` is a defined value of the enum `E` and returns it.
    pub fn enumeration<E: TryFrom<i32>>(&mut self, field: &str, value: i32) -> i32 {
        if E::try_from(value).is_err() {
            self.add(field, format!("{value} is not a defined value"));
        }
        value
    }

    /// Checks that a required enum field is set (not its unspecified zero) and defined.
    pub fn required_enumeration<E: TryFrom<i32>>(&mut self, field: &str, value: i32) -> i32 {
        if value == 0 {
            self.add(field, "is required");
            return value;
        }
        self.enumeration::<E>(field, value)
    }

    /// Records a violation.
    pub fn add(&mut self, field: &str, description: impl Into<String>) {
        self.0.push(FieldViolation {
            field: field.to_owned(),
            description: description.into(),
        });
    }

    /// Refuses a repeated field of more than `max` items, and tells whether it is within the
    /// cap. Callers check this before looking at the items, so an oversized request is
    /// refused at the cost of reading its length.
    pub fn at_most(&mut self, field: &str, len: usize, max: usize) -> bool {
        if len > max {
            self.add(field, format!("at most {max} items, got {len}"));
            return false;
        }
        true
    }

    /// Requires a non-blank value.
    pub fn required(&mut self, field: &str, value: &str) {
        if value.trim().is_empty() {
            self.add(field, "is required");
        }
    }

    /// Limits a value's length in characters.
    pub fn max_chars(&mut self, field: &str, value: &str, max: usize) {
        if value.chars().count() > max {
            self.add(field, format!("must be at most {max} characters"));
        }
    }

    /// Checks an optional email address; returns its normal form (see [`normalize::email`]).
    pub fn email(&mut self, field: &str, value: &str) -> String {
        if value.trim().is_empty() {
            return String::new();
        }
        match normalize::email(value) {
            Ok(email) => email,
            Err(why) => {
                self.add(field, why);
                value.trim().to_owned()
            }
        }
    }

    /// Checks an optional phone number; returns its E.164 form (see [`normalize::phone`]).
    pub fn phone(&mut self, field: &str, value: &str, region: PhoneRegion) -> String {
        if value.trim().is_empty() {
            return String::new();
        }
        match normalize::phone(value, region) {
            Ok(phone) => phone,
            Err(why) => {
                self.add(field, why);
                value.trim().to_owned()
            }
        }
    }

    /// Checks an optional region code for phone numbers; mainland China when empty.
    pub fn phone_region(&mut self, field: &str, code: &str) -> PhoneRegion {
        if code.trim().is_empty() {
            return PhoneRegion::CHINA;
        }
        PhoneRegion::parse(code).unwrap_or_else(|| {
            self.add(
                field,
                "is not a region with a numbering plan: two letters, for example CN, HK or GB",
            );
            PhoneRegion::CHINA
        })
    }

    /// Checks an optional http(s) URL.
    pub fn url(&mut self, field: &str, value: &str) -> String {
        let url = value.trim().to_owned();
        if url.is_empty() {
            return url;
        }
        let rest = url
            .strip_prefix("https://")
            .or_else(|| url.strip_prefix("http://"));
        match rest {
            Some(host) if !host.is_empty() && !host.contains(char::is_whitespace) => {}
            _ => self.add(field, "must be an http:// or https:// URL"),
        }
        url
    }

    /// Returns `Ok` when nothing was recorded.
    pub fn finish(self) -> Result<(), crate::Error> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(crate::Error::InvalidArgument(self.0))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reports_every_bad_field() {
        let mut v = Violations::new();
        assert_eq!(
            v.email("email", " Li.Lei@Example.COM "),
            "li.lei@example.com"
        );
        v.email("email2", "not-an-email");
        v.phone("phone", "+86 138-0013-8000", PhoneRegion::CHINA);
        v.phone("phone2", "call me", PhoneRegion::CHINA);
        v.url("website", "ftp://x");
        v.required("name", "  ");
        let Err(crate::Error::InvalidArgument(violations)) = v.finish() else {
            panic!("expected violations");
        };
        let fields: Vec<_> = violations.iter().map(|v| v.field.as_str()).collect();
        assert_eq!(fields, ["email2", "phone2", "website", "name"]);
    }
}
