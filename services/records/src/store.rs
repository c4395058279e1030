//! Queries over a service's resources. Every query is filtered by the caller's tenant and data
//! scope here, in the service, whatever the gateway already checked: a record outside the
//! scope behaves exactly like a record that does not exist.

use sea_orm::sea_query::{Expr, ExprTrait as _, Func, LikeExpr, Query};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, ConnectionTrait, EntityTrait, IntoActiveModel,
    QueryFilter, QueryOrder, QuerySelect, QueryTrait, Select,
};

use crate::entity::record_index;
use crate::resource::{AMOUNT_SCALE, FieldKind, Resource};
use crm_platform::auth::{OwnerFilter, Principal};
use crm_platform::error::Error;
use crm_platform::filter::{Comparison, Op};
use crm_platform::paging::{Cursor, SortKey, split_page};
use crm_platform::time::parse_rfc3339_micros;

/// A sortable column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SortField {
    /// `create_time`
    CreateTime,
    /// `update_time`
    UpdateTime,
    /// `display_name`
    DisplayName,
    /// An integer field the resource declares ([`Resource::sort_field`]).
    Declared(&'static str),
}

/// A validated `order_by`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Order {
    /// The column.
    pub field: SortField,
    /// Newest or last first.
    pub descending: bool,
}

impl Order {
    /// Parses `order_by`: a shared sortable field or one of `declared`
    /// ([`Resource::SORTABLE`]), optionally followed by `desc` or `asc`. Empty means
    /// `create_time desc`.
    pub fn parse(order_by: &str, declared: &'static [&'static str]) -> Result<Self, Error> {
        let words: Vec<&str> = order_by.split_whitespace().collect();
        let (field, direction) = match words.as_slice() {
            [] => {
                return Ok(Self {
                    field: SortField::CreateTime,
                    descending: true,
                });
            }
            [field] => (*field, "asc"),
            [field, direction] => (*field, *direction),
            _ => {
                return Err(Error::invalid(
                    "order_by",
                    "expected one field and an optional direction",
                ));
            }
        };
        let field = match field {
            "create_time" => SortField::CreateTime,
            "update_time" => SortField::UpdateTime,
            "display_name" => SortField::DisplayName,
            other => match declared.iter().find(|name| **name == other) {
                Some(name) => SortField::Declared(name),
                None => {
                    return Err(Error::invalid(
                        "order_by",
                        format!("cannot sort by `{other}`"),
                    ));
                }
            },
        };
        let descending = match direction {
            "desc" => true,
            "asc" => false,
            other => {
                return Err(Error::invalid(
                    "order_by",
                    format!("unknown direction `{other}`"),
                ));
            }
        };
        Ok(Self { field, descending })
    }
}

/// A scoped list request.
#[derive(Debug, Clone)]
pub struct ListQuery {
    /// Parsed filter on the record's own fields.
    pub comparisons: Vec<Comparison>,
    /// Further conditions (custom fields), already resolved.
    pub conditions: Vec<Condition>,
    /// Sort order.
    pub order: Order,
    /// Start after this row.
    pub cursor: Option<Cursor>,
    /// Page size.
    pub limit: u64,
    /// Include soft-deleted rows.
    pub show_deleted: bool,
}

pub fn scoped<R: Resource>(principal: &Principal) -> Select<R::Entity> {
    let columns = R::columns();
    let query = R::Entity::find().filter(columns.tenant_id.eq(principal.tenant_id.as_str()));
    match crate::resource::owner_filter::<R>(principal) {
        OwnerFilter::Any => query,
        OwnerFilter::OneOf(owners) => query.filter(columns.owner_id.is_in(owners)),
    }
}

/// The live rows of `owner_id` the caller may see, oldest first, at most `limit`.
pub async fn owned_by<R: Resource, C: ConnectionTrait>(
    db: &C,
    principal: &Principal,
    owner_id: &str,
    limit: u64,
) -> Result<Vec<R::Model>, Error> {
    let columns = R::columns();
    Ok(scoped::<R>(principal)
        .filter(columns.owner_id.eq(owner_id))
        .filter(columns.delete_time.is_null())
        .order_by_asc(columns.id)
        .limit(limit)
        .all(db)
        .await?)
}

/// The ids of the live rows the caller may see, as a subquery.
pub fn visible_ids<R: Resource>(principal: &Principal) -> sea_orm::sea_query::SelectStatement {
    let columns = R::columns();
    scoped::<R>(principal)
        .select_only()
        .column(columns.id)
        .filter(columns.delete_time.is_null())
        .into_query()
}

/// Returns the row with `id` if the caller may see it (deleted rows included).
pub async fn find<R: Resource, C: ConnectionTrait>(
    db: &C,
    principal: &Principal,
    id: &str,
) -> Result<R::Model, Error> {
    scoped::<R>(principal)
        .filter(R::columns().id.eq(id))
        .one(db)
        .await?
        .ok_or_else(|| Error::not_found(R::KIND, id))
}

/// Returns one page and the cursor of the next one.
pub async fn list<R: Resource, C: ConnectionTrait>(
    db: &C,
    principal: &Principal,
    query: &ListQuery,
) -> Result<(Vec<R::Model>, Option<Cursor>), Error> {
    let columns = R::columns();
    let mut select = scoped::<R>(principal);
    if !query.show_deleted {
        select = select.filter(columns.delete_time.is_null());
    }
    for comparison in &query.comparisons {
        select = select.filter(condition::<R>(&principal.tenant_id, comparison)?);
    }
    for condition in &query.conditions {
        select = select.filter(condition.clone());
    }
    let declared = match query.order.field {
        SortField::Declared(name) => R::filter_field(name).map(|(column, _)| (column, name)),
        _ => None,
    };
    let sort_column = match (query.order.field, declared) {
        (_, Some((column, _))) => column,
        (SortField::UpdateTime, _) => columns.update_time,
        (SortField::DisplayName, _) => columns.display_name,
        (SortField::CreateTime | SortField::Declared(_), _) => columns.create_time,
    };
    if let Some(cursor) = &query.cursor {
        select = select.filter(after_cursor(
            sort_column,
            columns.id,
            cursor,
            query.order.descending,
        )?);
    }
    select = if query.order.descending {
        select.order_by_desc(sort_column).order_by_desc(columns.id)
    } else {
        select.order_by_asc(sort_column).order_by_asc(columns.id)
    };
    let rows = select.limit(query.limit + 1).all(db).await?;
    Ok(split_page(rows, query.limit, |row| {
        let stamps = R::stamps(row);
        let key = match (query.order.field, declared) {
            (_, Some((_, name))) => SortKey::Int(R::sort_value(row, name)),
            (SortField::UpdateTime, _) => SortKey::Int(stamps.update_time),
            (SortField::DisplayName, _) => SortKey::Text(stamps.display_name),
            (SortField::CreateTime | SortField::Declared(_), _) => SortKey::Int(stamps.create_time),
        };
        Cursor { key, id: stamps.id }
    }))
}

/// Keyset condition: rows strictly after (key, id) in the query's order, so concurrent inserts
/// never make a walk skip or repeat a row.
fn after_cursor<Col: ColumnTrait>(
    sort: Col,
    id: Col,
    cursor: &Cursor,
    descending: bool,
) -> Result<Condition, Error> {
    let key: sea_orm::Value = match &cursor.key {
        SortKey::Int(v) => (*v).into(),
        SortKey::Text(v) => v.clone().into(),
    };
    let (beyond, tie) = if descending {
        (sort.lt(key.clone()), id.lt(cursor.id.as_str()))
    } else {
        (sort.gt(key.clone()), id.gt(cursor.id.as_str()))
    };
    Ok(Condition::any()
        .add(beyond)
        .add(Condition::all().add(sort.eq(key)).add(tie)))
}

fn condition<R: Resource>(tenant_id: &str, comparison: &Comparison) -> Result<Condition, Error> {
    let Some((column, kind)) = R::filter_field(&comparison.field) else {
        return Err(Error::invalid(
            "filter",
            format!("unknown field `{}`", comparison.field),
        ));
    };
    let unsupported = || {
        Error::invalid(
            "filter",
            format!("operator not supported for `{}`", comparison.field),
        )
    };
    let condition = match kind {
        FieldKind::Enum(parse) => {
            let value = parse(&comparison.value).ok_or_else(|| {
                Error::invalid(
                    "filter",
                    format!(
                        "`{}` is not a value of `{}`",
                        comparison.value, comparison.field
                    ),
                )
            })?;
            match comparison.op {
                Op::Eq => Condition::all().add(column.eq(value)),
                Op::Ne => Condition::all().add(column.ne(value)),
                _ => return Err(unsupported()),
            }
        }
        FieldKind::Label(label) => {
            let value = if label == "tag" {
                comparison.value.trim().to_lowercase()
            } else {
                comparison.value.trim().to_owned()
            };
            let carriers = Query::select()
                .column(record_index::Column::RecordId)
                .from(record_index::Entity)
                .and_where(record_index::Column::TenantId.eq(tenant_id))
                .and_where(record_index::Column::RecordKind.eq(R::KIND))
                .and_where(record_index::Column::KeyKind.eq(label))
                .and_where(record_index::Column::KeyValue.eq(value))
                .to_owned();
            match comparison.op {
                Op::Eq | Op::Has => Condition::all().add(column.in_subquery(carriers)),
                Op::Ne => Condition::all().add(column.not_in_subquery(carriers)),
                _ => return Err(unsupported()),
            }
        }
        FieldKind::Text | FieldKind::LowercaseText | FieldKind::Id => {
            let value = if matches!(kind, FieldKind::LowercaseText) {
                comparison.value.to_lowercase()
            } else {
                comparison.value.clone()
            };
            match comparison.op {
                Op::Eq => Condition::all().add(column.eq(value)),
                Op::Ne => Condition::all().add(column.ne(value)),
                Op::Has if !matches!(kind, FieldKind::Id) => Condition::all().add(
                    Expr::expr(Func::lower(Expr::col(column)))
                        .like(LikeExpr::new(contains_pattern(&value.to_lowercase())).escape('\\')),
                ),
                _ => return Err(unsupported()),
            }
        }
        FieldKind::Time | FieldKind::Day | FieldKind::Amount | FieldKind::Int => {
            let value = ordered_value(kind, &comparison.value).ok_or_else(|| {
                let expected = match kind {
                    FieldKind::Time => "an RFC 3339 time",
                    FieldKind::Day => "a day such as 2027-03-01",
                    FieldKind::Int => "a whole number",
                    _ => "a decimal number such as 10000.50",
                };
                Error::invalid("filter", format!("`{}` needs {expected}", comparison.field))
            })?;
            let compared = Condition::all().add(match comparison.op {
                Op::Eq => column.eq(value),
                Op::Ne => column.ne(value),
                Op::Lt => column.lt(value),
                Op::Le => column.lte(value),
                Op::Gt => column.gt(value),
                Op::Ge => column.gte(value),
                Op::Has => return Err(unsupported()),
            });
            // A record without a day (stored as 0) has no place before or after any day.
            if matches!(kind, FieldKind::Day) {
                compared.add(column.ne(0))
            } else {
                compared
            }
        }
    };
    Ok(condition)
}

/// The stored form of a time, day, amount or number a filter compares with.
fn ordered_value(kind: FieldKind, text: &str) -> Option<i64> {
    match kind {
        FieldKind::Time => parse_rfc3339_micros(text),
        FieldKind::Int => text.trim().parse().ok(),
        FieldKind::Day => {
            let mut parts = text.trim().splitn(3, '-');
            let (year, month, day) = (parts.next()?, parts.next()?, parts.next()?);
            let date = crm_proto::common::Date {
                year: year.parse().ok()?,
                month: month.parse().ok()?,
                day: day.parse().ok()?,
            };
            let mut v = crm_platform::validate::Violations::new();
            let day = crm_platform::time::day::check(&mut v, "filter", Some(&date));
            (v.finish().is_ok() && day != 0).then_some(i64::from(day))
        }
        _ => {
            let mut v = crm_platform::validate::Violations::new();
            let amount = crm_platform::money::decimal(&mut v, "filter", text, AMOUNT_SCALE)?;
            scaled(amount)
        }
    }
}

/// An amount in the stored ten-thousandths.
pub fn scaled(amount: crm_platform::money::Amount) -> Option<i64> {
    let mut scaled = amount * crm_platform::money::Amount::from(10_i64.pow(AMOUNT_SCALE));
    scaled.rescale(0);
    i64::try_from(scaled).ok()
}

/// `%value%` with LIKE's wildcards escaped, so a filter matches its text literally.
fn contains_pattern(value: &str) -> String {
    let mut pattern = String::with_capacity(value.len() + 2);
    pattern.push('%');
    for ch in value.chars() {
        if matches!(ch, '%' | '_' | '\\') {
            pattern.push('\\');
        }
        pattern.push(ch);
    }
    pattern.push('%');
    pattern
}

/// Inserts new rows in chunks that keep within PostgreSQL's 65,535 parameters a statement.
pub async fn insert_many<R: Resource, C: ConnectionTrait>(
    db: &C,
    models: &[R::Model],
) -> Result<(), Error> {
    for chunk in crm_platform::db::fixed_chunks(models, 256) {
        let rows: Vec<R::Active> = chunk
            .iter()
            .map(|m| m.clone().into_active_model().reset_all())
            .collect();
        R::Entity::insert_many(rows).exec(db).await?;
    }
    Ok(())
}

/// Inserts a new row.
pub async fn insert<R: Resource, C: ConnectionTrait>(db: &C, model: R::Model) -> Result<(), Error> {
    let active: R::Active = model.into_active_model().reset_all();
    R::Entity::insert(active).exec(db).await?;
    Ok(())
}

/// Writes `model` only if the stored version is still `expected_version`; otherwise a
/// concurrent writer won and the caller gets `ABORTED`.
pub async fn compare_and_set<R: Resource, C: ConnectionTrait>(
    db: &C,
    tenant_id: &str,
    expected_version: i64,
    model: R::Model,
) -> Result<(), Error> {
    let columns = R::columns();
    let id = R::stamps(&model).id;
    let active: R::Active = model.into_active_model().reset_all();
    let result = R::Entity::update_many()
        .set(active)
        .filter(columns.id.eq(id))
        .filter(columns.tenant_id.eq(tenant_id))
        .filter(columns.version.eq(expected_version))
        .exec(db)
        .await?;
    if result.rows_affected == 1 {
        Ok(())
    } else {
        Err(Error::StaleEtag { resource: R::KIND })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn like_wildcards_are_literal() {
        assert_eq!(contains_pattern("50%_a\\b"), "%50\\%\\_a\\\\b%");
    }

    #[test]
    fn order_by_is_allow_listed() {
        assert_eq!(Order::parse("", &[]).unwrap().field, SortField::CreateTime);
        assert!(Order::parse("display_name desc", &[]).unwrap().descending);
        assert!(Order::parse("owner_id", &[]).is_err());
        assert!(Order::parse("display_name sideways", &[]).is_err());
        assert!(Order::parse("score desc", &[]).is_err());
        let by_score = Order::parse("score desc", &["score"]).unwrap();
        assert_eq!(by_score.field, SortField::Declared("score"));
    }
}
