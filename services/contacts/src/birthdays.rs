//! Birthdays: which contacts have one in a range of days, and the once-a-year event on the
//! day itself that marketing's journeys act on.
//!
//! A birthday is ranked by its day of the year as `month * 100 + day` (`0101`..`1231`); a
//! range that wraps over the new year ranks the days after the start first.

use sea_orm::sea_query::{Expr, ExprTrait as _, SimpleExpr};
use sea_orm::{
    ColumnTrait, Condition, DatabaseConnection, EntityTrait, Order, QueryFilter, QueryOrder,
    QuerySelect,
};

use crate::contact::Contacts;
use crate::entity::contact::{self, Column};
use crate::handlers::Handlers;
use crate::jobs::{Announcement, announce_marked};
use crate::resource::Resource;
use crate::store;
use crm_platform::auth::Principal;
use crm_platform::error::Error;
use crm_platform::paging::{self, Cursor, SortKey, split_page};
use crm_platform::time::{civil_date, days_in_month};
use crm_platform::validate::Violations;
use crm_proto::common::Date;
use crm_proto::contacts::{Contact, ContactsEvent, ContactsEventType, contacts_event::Subject};

/// Largest page.
const MAX_PAGE_SIZE: u64 = 1000;
/// Offset that moves the days before a wrapping range's start after its end.
const NEXT_YEAR: i64 = 10_000;

/// A day of the year as `month * 100 + day`.
fn day_key(v: &mut Violations, field: &str, date: Option<&Date>) -> i64 {
    let Some(date) = date else {
        v.add(field, "is required");
        return 0;
    };
    let month_ok = (1..=12).contains(&date.month);
    // Year 0 allows 29 February: the range is of days, not dates.
    if !month_ok || date.day < 1 || date.day as u32 > days_in_month(0, date.month as u32) {
        v.add(
            field,
            "must be a real day of the year (month 1-12, day in month)",
        );
    }
    i64::from(date.month * 100 + date.day)
}

/// The birthday's day key as SQL.
fn birthday_key() -> SimpleExpr {
    Expr::col(Column::BirthMonth)
        .mul(100)
        .add(Expr::col(Column::BirthDay))
}

/// The day key ranked in calendar order from `start`: days before it count as next year.
fn rank(start: i64) -> SimpleExpr {
    Expr::case(birthday_key().gte(start), birthday_key())
        .finally(birthday_key().add(NEXT_YEAR))
        .into()
}

/// The rank of a birthday, as [`rank`] computes it in SQL.
fn rank_of(month: i32, day: i32, start: i64) -> i64 {
    let key = i64::from(month * 100 + day);
    if key >= start { key } else { key + NEXT_YEAR }
}

impl Handlers {
    /// The contacts the caller may see with a birthday between `start` and `end`
    /// (inclusive, wrapping over the new year when `end` comes before `start`).
    pub async fn list_birthdays(
        &self,
        principal: &Principal,
        start: Option<&Date>,
        end: Option<&Date>,
        (page_size, page_token): (i32, &str),
    ) -> Result<(Vec<Contact>, String), Error> {
        principal.require(Contacts::READ)?;
        let mut v = Violations::new();
        let start = day_key(&mut v, "start", start);
        let end = day_key(&mut v, "end", end);
        v.finish()?;
        let limit = paging::page_size(page_size, MAX_PAGE_SIZE)?;
        let binding = paging::binding(&[
            "birthdays",
            &principal.tenant_id,
            &principal.user_id,
            &start.to_string(),
            &end.to_string(),
        ]);
        let cursor = self.pages.read(page_token, &binding)?;
        let in_range = if start <= end {
            Condition::all()
                .add(birthday_key().gte(start))
                .add(birthday_key().lte(end))
        } else {
            Condition::any()
                .add(birthday_key().gte(start))
                .add(birthday_key().lte(end))
        };
        let mut query = store::scoped::<Contacts>(principal)
            .filter(Column::DeleteTime.is_null())
            .filter(Column::BirthMonth.gt(0))
            .filter(in_range);
        if let Some(Cursor {
            key: SortKey::Int(after),
            id,
        }) = &cursor
        {
            query = query.filter(
                Condition::any().add(rank(start).gt(*after)).add(
                    Condition::all()
                        .add(rank(start).eq(*after))
                        .add(Column::Id.gt(id.as_str())),
                ),
            );
        } else if cursor.is_some() {
            return Err(Error::invalid("page_token", "belongs to another list"));
        }
        let rows = query
            .order_by(rank(start), Order::Asc)
            .order_by(Column::Id, Order::Asc)
            .limit(limit + 1)
            .all(&self.db)
            .await?;
        let (rows, next) = split_page(rows, limit, |row| Cursor {
            key: SortKey::Int(rank_of(row.birth_month, row.birth_day, start)),
            id: row.id.clone(),
        });
        let token = next
            .map(|c| self.pages.issue(c, &binding))
            .unwrap_or_default();
        Ok((rows.iter().map(Contacts::to_proto).collect(), token))
    }
}

/// The birthdays celebrated on a local day: its own, and 29 February's on 28 February of a
/// year without one.
fn celebrated_on(year: i32, month: u32, day: u32) -> Vec<(i32, i32)> {
    let mut days = vec![(month as i32, day as i32)];
    if (month, day) == (2, 28) && days_in_month(year, 2) == 28 {
        days.push((2, 29));
    }
    days
}

/// Announces today's birthdays (the local day at `utc_offset_minutes` from UTC) that were
/// not announced this year yet, at most `batch` at a time; returns how many. Safe on every
/// replica at once: a contact is marked in the same transaction as its event, and only by
/// the run whose compare-and-set moves its mark to this year.
pub async fn announce_today(
    db: &DatabaseConnection,
    now: i64,
    utc_offset_minutes: i32,
    batch: u64,
) -> Result<u64, Error> {
    let (year, month, day) = civil_date(now + i64::from(utc_offset_minutes) * 60_000_000);
    let mut days = Condition::any();
    for (m, d) in celebrated_on(year, month, day) {
        days = days.add(Column::BirthMonth.eq(m).and(Column::BirthDay.eq(d)));
    }
    let due = contact::Entity::find()
        .filter(days)
        .filter(Column::DeleteTime.is_null())
        .filter(Column::BirthdayAnnounced.lt(year))
        .limit(batch)
        .all(db)
        .await?;
    let announcements = due
        .into_iter()
        .map(|row| Announcement {
            mark: contact::Entity::update_many()
                .col_expr(Column::BirthdayAnnounced, Expr::value(year))
                .filter(Column::Id.eq(row.id.as_str()))
                .filter(Column::BirthdayAnnounced.lt(year)),
            tenant_id: row.tenant_id.clone(),
            aggregate_id: row.id.clone(),
            change: None,
            event: ContactsEvent {
                r#type: ContactsEventType::ContactBirthday as i32,
                subject: Some(Subject::Contact(Contacts::to_proto(&row))),
                ..Default::default()
            },
        })
        .collect();
    announce_marked(db, announcements).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn leap_day_birthdays_fall_on_28_february_in_common_years() {
        assert_eq!(celebrated_on(2026, 2, 28), vec![(2, 28), (2, 29)]);
        assert_eq!(celebrated_on(2028, 2, 28), vec![(2, 28)]);
        assert_eq!(celebrated_on(2028, 2, 29), vec![(2, 29)]);
        assert_eq!(celebrated_on(2026, 3, 1), vec![(3, 1)]);
    }

    #[test]
    fn wrapping_ranges_rank_the_new_year_last() {
        assert_eq!(rank_of(12, 30, 1220), 1230);
        assert_eq!(rank_of(1, 2, 1220), 10_102);
    }

    #[test]
    fn days_of_the_year_are_checked() {
        let mut v = Violations::new();
        let date = |month, day| Date {
            year: 0,
            month,
            day,
        };
        assert_eq!(day_key(&mut v, "start", Some(&date(2, 29))), 229);
        assert!(v.finish().is_ok());
        for bad in [date(2, 30), date(13, 1), date(4, 0)] {
            let mut v = Violations::new();
            day_key(&mut v, "start", Some(&bad));
            assert!(v.finish().is_err(), "{bad:?}");
        }
    }
}
