//! Search for any service's records: any part of a name, company name, phone number, email
//! address or code, in Chinese or Latin script, ranked, within the caller's data scope.
//!
//! Every live record's searchable text is cut into grams kept in `search_grams`, rewritten in
//! the transaction of every write: two-character windows of Chinese text, three-letter
//! windows of Latin words (whole words when shorter), and four-digit windows of numbers
//! (phones are indexed by their E.164 digits, so "1380013" finds "+86 138 0013 8000"). A
//! query's grams select the records holding all of them; each candidate is then checked for
//! the query as a real substring and scored. Grams are keyed by tenant, gram and owner, so a
//! rep's search reads only their own postings.

use std::collections::BTreeSet;

use sea_orm::sea_query::{Asterisk, Expr, ExprTrait as _, Query};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseTransaction, EntityTrait, QueryFilter, QuerySelect,
    QueryTrait, Set,
};

use crate::entity::search_gram::{ActiveModel, Column, Entity};
use crate::resource::Resource;
use crm_platform::auth::{OwnerFilter, Principal};
use crm_platform::error::Error;
use crm_platform::normalize::halfwidth;

/// Longest query, in characters.
pub const MAX_QUERY_CHARS: usize = 100;
/// Most grams a query looks up; the substring check covers the rest.
pub const MAX_QUERY_GRAMS: usize = 8;
/// Most candidate records read per resource type.
pub const MAX_CANDIDATES: u64 = 1000;
/// Postings counted per gram to find the rarest; a gram with more counts as common.
pub const COUNT_CAP: u64 = 2000;
/// The page size of a search unless the caller sets one.
pub const DEFAULT_PAGE_SIZE: u64 = 20;
/// The largest page of a search.
pub const MAX_PAGE_SIZE: u64 = 100;

pub use crate::SearchField;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Class {
    /// Chinese, Japanese or Korean text: two-character windows.
    Cjk,
    /// A number (a phone, once its separators are gone): four-digit windows.
    Digit,
    /// Anything else between spaces (a Latin word, an email address): three-character
    /// windows, or the whole word when shorter.
    Other,
}

/// Han, kana and hangul: scripts written without spaces, searched by two-character windows.
fn is_cjk(c: char) -> bool {
    matches!(c as u32,
        0x3040..=0x30FF | 0x3400..=0x4DBF | 0x4E00..=0x9FFF | 0xAC00..=0xD7AF
        | 0xF900..=0xFAFF | 0x20000..=0x2FA1F)
}

/// Text as it is compared: halfwidth, lowercase.
pub fn normalize(text: &str) -> String {
    halfwidth(text).to_lowercase()
}

/// Drops the spaces, dashes, dots and brackets between digits, as phone numbers are written
/// ("138 0013-8000" is "13800138000").
fn join_digits(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if matches!(c, ' ' | '-' | '.' | '(' | ')') && out.ends_with(|p: char| p.is_ascii_digit()) {
            let mut j = i;
            while j < chars.len() && matches!(chars[j], ' ' | '-' | '.' | '(' | ')') {
                j += 1;
            }
            if chars.get(j).is_some_and(char::is_ascii_digit) {
                i = j;
                continue;
            }
        }
        out.push(c);
        i += 1;
    }
    out
}

/// The segments of normalised text: words between spaces, split where CJK text meets other
/// text; a number keeps only its digits (a leading "+" goes).
fn segments(text: &str) -> Vec<(Class, String)> {
    let mut out = Vec::new();
    for word in join_digits(text).split_whitespace() {
        let mut current: Option<(Class, String)> = None;
        for c in word.chars() {
            let class = if is_cjk(c) { Class::Cjk } else { Class::Other };
            match &mut current {
                Some((k, segment)) if *k == class => segment.push(c),
                _ => {
                    out.extend(current.take());
                    current = Some((class, c.to_string()));
                }
            }
        }
        out.extend(current);
    }
    for (class, segment) in &mut out {
        let number = segment.strip_prefix('+').unwrap_or(segment);
        if *class == Class::Other
            && !number.is_empty()
            && number.bytes().all(|b| b.is_ascii_digit())
        {
            *segment = number.to_owned();
            *class = Class::Digit;
        }
    }
    out
}

fn windows(run: &str, size: usize) -> impl Iterator<Item = String> + '_ {
    let chars: Vec<char> = run.chars().collect();
    let count = chars.len().saturating_sub(size - 1);
    (0..count).map(move |i| chars[i..i + size].iter().collect())
}

/// The grams of one segment: what the index stores, and what a query looks up.
fn run_grams(class: Class, run: &str) -> Vec<String> {
    let len = run.chars().count();
    match class {
        Class::Cjk if len >= 2 => windows(run, 2).collect(),
        Class::Digit if len >= 4 => windows(run, 4).collect(),
        Class::Other if len >= 3 => windows(run, 3).collect(),
        // Short words are indexed whole ("li", "wu"); they cannot collide with trigrams.
        Class::Other if len > 0 && run.chars().all(char::is_alphabetic) => vec![run.to_owned()],
        _ => Vec::new(),
    }
}

/// Every gram of a record's searchable fields.
pub fn record_grams(fields: &[SearchField]) -> BTreeSet<String> {
    fields
        .iter()
        .flat_map(|(_, value)| segments(&normalize(value)))
        .flat_map(|(class, run)| run_grams(class, &run))
        .collect()
}

/// A gram of a query and where it sits, so the grams chosen to look up can be ones that do
/// not overlap (two overlapping grams narrow little more than one).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueryGram {
    text: String,
    segment: usize,
    offset: usize,
}

impl QueryGram {
    fn overlaps(&self, other: &QueryGram) -> bool {
        let size = self.text.chars().count();
        self.segment == other.segment && self.offset.abs_diff(other.offset) < size
    }
}

/// The grams a query looks up: at most [`MAX_QUERY_GRAMS`], spread over the query.
pub fn query_grams(query: &str) -> Result<Vec<QueryGram>, Error> {
    let too_short = || {
        Error::invalid(
            "query",
            "give at least 2 Chinese characters, 3 letters or 4 digits",
        )
    };
    if query.chars().count() > MAX_QUERY_CHARS {
        return Err(Error::invalid(
            "query",
            format!("must be at most {MAX_QUERY_CHARS} characters"),
        ));
    }
    let segments = segments(query);
    let mut grams: Vec<QueryGram> = Vec::new();
    for (segment, (class, run)) in segments.iter().enumerate() {
        // A short word is only looked up whole when it is the entire query: inside a longer
        // query it may be the end or start of a longer word.
        if *class == Class::Other && run.chars().count() < 3 && segments.len() > 1 {
            continue;
        }
        for (offset, text) in run_grams(*class, run).into_iter().enumerate() {
            if !grams.iter().any(|g| g.text == text) {
                grams.push(QueryGram {
                    text,
                    segment,
                    offset,
                });
            }
        }
    }
    if grams.is_empty() {
        return Err(too_short());
    }
    if grams.len() > MAX_QUERY_GRAMS {
        let step = grams.len() as f64 / MAX_QUERY_GRAMS as f64;
        let mut spread: Vec<QueryGram> = (0..MAX_QUERY_GRAMS)
            .map(|i| grams[(i as f64 * step) as usize].clone())
            .collect();
        if let Some(last) = grams.last().filter(|l| !spread.contains(l)) {
            spread.push(last.clone());
        }
        grams = spread;
    }
    Ok(grams)
}

/// The grams to intersect, rarest first. When the rarest is rare, it and the next rarest:
/// reading them costs least and leaves few candidates. When every gram is common, three,
/// preferring ones that do not overlap (overlapping grams narrow little more than one).
pub fn choose<'a>(counted: &[(i64, &'a QueryGram)], common: i64) -> Vec<&'a QueryGram> {
    if counted[0].0 < common {
        return counted.iter().take(2).map(|(_, g)| *g).collect();
    }
    let mut chosen: Vec<&QueryGram> = vec![counted[0].1];
    for (_, gram) in &counted[1..] {
        if chosen.len() < 3 && chosen.iter().all(|c| !c.overlaps(gram)) {
            chosen.push(gram);
        }
    }
    for (_, gram) in &counted[1..] {
        if chosen.len() < 3 && !chosen.contains(gram) {
            chosen.push(gram);
        }
    }
    chosen
}

pub fn digits(text: &str) -> String {
    text.chars().filter(char::is_ascii_digit).collect()
}

/// How well a record matches, and which field matched best; `None` when the query is not
/// really inside any field. A whole-field match scores 3, a prefix 2, inside 1, times ten,
/// plus 3 for a name and 1 for a phone, email or website.
pub fn score(query: &str, fields: &[SearchField]) -> Option<(i32, &'static str)> {
    let phone_like = query
        .chars()
        .all(|c| c.is_ascii_digit() || matches!(c, ' ' | '-' | '.' | '(' | ')' | '+'));
    let query_digits = digits(query);
    let word_query =
        query.chars().count() < 3 && query.chars().all(|c| c.is_alphabetic() && !is_cjk(c));
    let mut best: Option<(i32, &'static str)> = None;
    for (field, value) in fields {
        let value = normalize(value);
        let (hay, needle) = if phone_like && !query_digits.is_empty() {
            (digits(&value), query_digits.as_str())
        } else {
            (value, query)
        };
        let position = if word_query {
            hay.split(|c: char| !c.is_alphanumeric())
                .position(|w| w == needle)
                .map(|i| if i == 0 { 0 } else { 1 })
        } else {
            hay.find(needle)
        };
        let Some(at) = position else { continue };
        let how = if hay == needle {
            3
        } else if at == 0 {
            2
        } else {
            1
        };
        let weight = if *field == "display_name" { 3 } else { 1 };
        let score = how * 10 + weight;
        if best.is_none_or(|(s, _)| score > s) {
            best = Some((score, field));
        }
    }
    best
}

/// Rewrites the grams of one record (none for a deleted one).
pub async fn sync<R: Resource>(
    txn: &DatabaseTransaction,
    tenant_id: &str,
    model: &R::Model,
) -> Result<(), Error> {
    let stamps = R::stamps(model);
    if !crate::index::is_new(stamps.version) {
        Entity::delete_many()
            .filter(Column::RecordKind.eq(R::KIND))
            .filter(Column::RecordId.eq(stamps.id.as_str()))
            .exec(txn)
            .await?;
    }
    let rows = postings::<R>(tenant_id, model);
    if !rows.is_empty() {
        Entity::insert_many(rows).exec(txn).await?;
    }
    Ok(())
}

/// Writes the grams of many new records in few statements.
pub async fn insert_new_many<R: Resource>(
    txn: &DatabaseTransaction,
    tenant_id: &str,
    models: &[R::Model],
) -> Result<(), Error> {
    let rows: Vec<ActiveModel> = models
        .iter()
        .flat_map(|m| postings::<R>(tenant_id, m))
        .collect();
    for chunk in crm_platform::db::fixed_chunks(&rows, 2048) {
        Entity::insert_many(chunk.to_vec()).exec(txn).await?;
    }
    Ok(())
}

/// The gram rows of one record; none for a deleted one.
fn postings<R: Resource>(tenant_id: &str, model: &R::Model) -> Vec<ActiveModel> {
    let stamps = R::stamps(model);
    if stamps.delete_time.is_some() {
        return Vec::new();
    }
    let record = Posting {
        tenant_id,
        owner_id: &stamps.owner_id,
        kind: R::KIND,
        id: &stamps.id,
    };
    record.rows(&R::search_fields(model))
}

/// Whose grams a set of rows are.
pub struct Posting<'a> {
    /// Tenant.
    pub tenant_id: &'a str,
    /// Owner.
    pub owner_id: &'a str,
    /// "account" or "contact".
    pub kind: &'a str,
    /// Record id.
    pub id: &'a str,
}

impl Posting<'_> {
    /// The gram rows of the record's searchable fields.
    pub fn rows(&self, fields: &[SearchField]) -> Vec<ActiveModel> {
        record_grams(fields)
            .into_iter()
            .map(|gram| ActiveModel {
                tenant_id: Set(self.tenant_id.to_owned()),
                gram: Set(gram),
                owner_id: Set(self.owner_id.to_owned()),
                record_kind: Set(self.kind.to_owned()),
                record_id: Set(self.id.to_owned()),
            })
            .collect()
    }
}

/// The records of one type holding the query's rarest grams (the substring check does
/// the rest). Counting each gram's postings up to a cap first keeps the work bounded:
/// two rare grams are intersected alone; a query made only of common grams ("james
/// smith") intersects three that do not overlap, which narrow about as well as all.
pub async fn candidates<R: Resource, C: ConnectionTrait>(
    db: &C,
    principal: &Principal,
    grams: &[QueryGram],
) -> Result<Vec<String>, Error> {
    let postings = |grams: Vec<&str>| {
        let mut query = Entity::find()
            .select_only()
            .column(Column::RecordId)
            .filter(Column::TenantId.eq(principal.tenant_id.as_str()))
            .filter(Column::RecordKind.eq(R::KIND))
            .filter(Column::Gram.is_in(grams));
        if let OwnerFilter::OneOf(owners) = crate::resource::owner_filter::<R>(principal) {
            query = query.filter(Column::OwnerId.is_in(owners));
        }
        query
    };
    let mut counted = Vec::with_capacity(grams.len());
    for gram in grams {
        let capped = postings(vec![gram.text.as_str()])
            .limit(COUNT_CAP)
            .into_query();
        let count = Query::select()
            .expr(Expr::col(Asterisk).count())
            .from_subquery(capped, "postings")
            .to_owned();
        let backend = db.get_database_backend();
        let count: i64 = match db.query_one_raw(backend.build(&count)).await? {
            Some(row) => row.try_get_by_index(0)?,
            None => 0,
        };
        if count == 0 {
            return Ok(Vec::new());
        }
        counted.push((count, gram));
    }
    counted.sort_by_key(|(count, gram)| (*count, gram.segment, gram.offset));
    let chosen: Vec<&str> = choose(&counted, COUNT_CAP as i64)
        .into_iter()
        .map(|g| g.text.as_str())
        .collect();
    let needed = chosen.len() as i64;
    Ok(postings(chosen)
        .group_by(Column::RecordId)
        .having(Expr::col(Column::Gram).count().eq(needed))
        .limit(MAX_CANDIDATES)
        .into_tuple()
        .all(db)
        .await?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(pairs: &[(&'static str, &str)]) -> Vec<SearchField> {
        pairs.iter().map(|(f, v)| (*f, v.to_string())).collect()
    }

    #[test]
    fn grams_cover_each_script() {
        let grams = record_grams(&fields(&[
            ("display_name", "深圳华强电子有限公司"),
            ("phone", "+8613800138000"),
            ("email", "Li.Na@Acme.com"),
        ]));
        for gram in ["华强", "深圳", "1380", "0013", "li.", "a@a", "com"] {
            assert!(grams.contains(gram), "{gram} in {grams:?}");
        }
        assert!(!grams.contains("华"), "single characters are not indexed");
        let names = record_grams(&fields(&[("display_name", "Li Na 王小明")]));
        assert!(names.contains("li") && names.contains("na") && names.contains("小明"));
    }

    #[test]
    fn queries_need_enough_to_look_up() {
        let texts = |q: &str| -> Vec<String> {
            query_grams(q)
                .unwrap()
                .into_iter()
                .map(|g| g.text)
                .collect()
        };
        assert_eq!(texts("华强"), ["华强"]);
        assert_eq!(texts("138 0013"), ["1380", "3800", "8001", "0013"]);
        assert_eq!(texts("li"), ["li"]);
        for short in ["华", "13", "", "-"] {
            assert!(query_grams(short).is_err(), "{short}");
        }
        assert!(query_grams(&"a".repeat(101)).is_err());
        assert!(
            query_grams(&"abcdefghijklmnopqrstuvwxyz".repeat(3))
                .unwrap()
                .len()
                <= 9
        );
    }

    #[test]
    fn common_queries_intersect_grams_that_do_not_overlap() {
        let grams = query_grams("james smith").unwrap();
        let chosen = |counted: &[(i64, &QueryGram)]| -> Vec<String> {
            choose(counted, 2000)
                .iter()
                .map(|g| g.text.clone())
                .collect()
        };
        // Every gram common: "jam", then the first that does not overlap it, then the rest.
        let counted: Vec<(i64, &QueryGram)> = grams.iter().map(|g| (5000, g)).collect();
        assert_eq!(chosen(&counted), ["jam", "smi", "ame"]);
        // A rare gram is paired with the next rarest.
        let mut counted = counted;
        counted[1].0 = 10;
        counted[2].0 = 20;
        counted.sort_by_key(|(c, g)| (*c, g.segment, g.offset));
        assert_eq!(chosen(&counted), ["ame", "mes"]);
    }

    #[test]
    fn scores_prefer_whole_names() {
        let company = fields(&[("display_name", "深圳华强电子有限公司")]);
        let exact = fields(&[("display_name", "华强")]);
        let phone = fields(&[("display_name", "Zhang"), ("phone", "+8613800138000")]);
        assert_eq!(score("华强", &company), Some((13, "display_name")));
        assert_eq!(score("华强", &exact), Some((33, "display_name")));
        assert_eq!(score("138 0013", &phone), Some((11, "phone")));
        assert_eq!(score("8613800138000", &phone), Some((31, "phone")));
        assert_eq!(score("华强电器", &company), None);
        let word = fields(&[("display_name", "Li Na"), ("email", "alice@x.com")]);
        assert_eq!(score("li", &word), Some((23, "display_name")));
        assert_eq!(score("li", &fields(&[("display_name", "Alice")])), None);
    }
}
