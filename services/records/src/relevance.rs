//! Related records: the records of one type that share the most informative grams with a
//! piece of text, as a knowledge base suggests articles for a ticket's subject and
//! description. Unlike [`crate::search`], which finds the records holding a short query as a
//! substring, this ranks by what they share, so a sentence finds the articles that treat its
//! matter in other words.
//!
//! The text's grams (those of its lead, a subject, first) are counted in the index, each up
//! to [`COMMON_CAP`] postings: a gram held by that many records says little (the "the" and
//! "您好" of a tenant's texts) and is left out, which also bounds what is read. The rest weigh
//! by rarity, `ln(1 + cap / holders)`. The holders of the rarest [`MAX_LOOKUP_GRAMS`] are
//! the candidates; each is then ranked by the weights of all the grams it holds, twice in its
//! name. Two statements read the index whatever the text's length.

use std::collections::{BTreeSet, HashMap};

use sea_orm::sea_query::{
    Alias, Asterisk, Expr, ExprTrait as _, Query, SelectStatement, UnionType,
};
use sea_orm::{ColumnTrait, Condition, ConnectionTrait, EntityTrait, QueryFilter, QuerySelect};

use crate::entity::search_gram::{Column, Entity};
use crate::handlers::Records;
use crate::resource::{Resource, owner_filter};
use crate::search::record_grams;
use crate::store;
use crm_platform::auth::{OwnerFilter, Principal};
use crm_platform::error::Error;

/// Most grams of a text looked up.
pub const MAX_TEXT_GRAMS: usize = 48;
/// Holders counted per gram; a gram with this many is common and carries no weight.
pub const COMMON_CAP: u64 = 1000;
/// Most grams whose holders are read: the rarest, which say most and cost least.
pub const MAX_LOOKUP_GRAMS: usize = 16;
/// Most records ranked in full (their rows read) per text.
pub const MAX_RANKED: usize = 200;
/// The field whose grams count twice.
const NAME_FIELD: &str = "display_name";

/// One related record.
#[derive(Debug, Clone)]
pub struct Related<M> {
    /// The record.
    pub model: M,
    /// How much of the text's weight the record holds, in percent (0–100).
    pub score: i32,
}

/// The distinct grams of a text to look up: all of its lead's, then its body's spread evenly
/// over it, at most [`MAX_TEXT_GRAMS`].
pub fn text_grams(lead: &str, body: &str) -> Vec<String> {
    let lead: Vec<String> = record_grams(&[("lead", lead.to_owned())])
        .into_iter()
        .collect();
    let seen: BTreeSet<&String> = lead.iter().collect();
    let body: Vec<String> = ordered_grams(body)
        .into_iter()
        .filter(|g| !seen.contains(g))
        .collect();
    let mut grams: Vec<String> = lead.iter().take(MAX_TEXT_GRAMS).cloned().collect();
    let room = MAX_TEXT_GRAMS - grams.len();
    if body.len() <= room {
        grams.extend(body);
    } else if room > 0 {
        let step = body.len() as f64 / room as f64;
        grams.extend((0..room).map(|i| body[(i as f64 * step) as usize].clone()));
    }
    grams
}

/// A text's distinct grams in the order they first appear, so a spread covers all of it.
fn ordered_grams(text: &str) -> Vec<String> {
    let mut seen = BTreeSet::new();
    let mut out = Vec::new();
    for word in text.split_whitespace() {
        for gram in record_grams(&[("body", word.to_owned())]) {
            if seen.insert(gram.clone()) {
                out.push(gram);
            }
        }
    }
    out
}

/// The weight of a gram held by `holders` records, or none when it is common (or held by
/// none).
fn weight(holders: u64) -> Option<f64> {
    (holders > 0 && holders < COMMON_CAP).then(|| (1.0 + COMMON_CAP as f64 / holders as f64).ln())
}

/// The postings of `R` the caller may read, restricted to `grams`.
fn postings<R: Resource>(principal: &Principal, grams: Vec<String>) -> sea_orm::Select<Entity> {
    let mut query = Entity::find()
        .select_only()
        .filter(Column::TenantId.eq(principal.tenant_id.as_str()))
        .filter(Column::RecordKind.eq(R::KIND))
        .filter(Column::Gram.is_in(grams));
    if let OwnerFilter::OneOf(owners) = owner_filter::<R>(principal) {
        query = query.filter(Column::OwnerId.is_in(owners));
    }
    query
}

/// The weight of each of `grams` among the records of `R` the caller reads, in one
/// statement: a capped count per gram, united.
async fn weights<R: Resource, C: ConnectionTrait>(
    db: &C,
    principal: &Principal,
    grams: &[String],
) -> Result<HashMap<String, f64>, Error> {
    let count = |gram: &String| -> SelectStatement {
        let capped = sea_orm::QueryTrait::into_query(
            postings::<R>(principal, vec![gram.clone()])
                .column(Column::RecordId)
                .limit(COMMON_CAP),
        );
        Query::select()
            .expr_as(Expr::val(gram.as_str()), Alias::new("gram"))
            .expr_as(Expr::col(Asterisk).count(), Alias::new("holders"))
            .from_subquery(capped, Alias::new("p"))
            .to_owned()
    };
    let Some((first, rest)) = grams.split_first() else {
        return Ok(HashMap::new());
    };
    let mut united = count(first);
    for gram in rest {
        united.union(UnionType::All, count(gram));
    }
    let backend = db.get_database_backend();
    let rows = db.query_all_raw(backend.build(&united)).await?;
    let mut out = HashMap::with_capacity(rows.len());
    for row in rows {
        let gram: String = row.try_get_by_index(0)?;
        let holders: i64 = row.try_get_by_index(1)?;
        if let Some(w) = weight(u64::try_from(holders).unwrap_or(0)) {
            out.insert(gram, w);
        }
    }
    Ok(out)
}

/// The score of one record: the share of the text's weight it holds, and its rank, which
/// counts the grams of its name twice.
fn rank(weights: &HashMap<String, f64>, fields: &[crate::SearchField]) -> (i32, f64) {
    let name: Vec<crate::SearchField> = fields
        .iter()
        .filter(|(f, _)| *f == NAME_FIELD)
        .cloned()
        .collect();
    let in_name = record_grams(&name);
    let held = record_grams(fields);
    let total: f64 = weights.values().sum();
    let mut share = 0.0;
    let mut rank = 0.0;
    for (gram, w) in weights {
        if held.contains(gram) {
            share += w;
            rank += if in_name.contains(gram) { 2.0 * w } else { *w };
        }
    }
    let score = if total > 0.0 {
        (100.0 * share / total).round() as i32
    } else {
        0
    };
    (score, rank)
}

impl Records {
    /// The live records of `R` the caller sees, meeting `condition`, that share most with the
    /// text (`lead`, then `body`), best first: at most `limit`, each holding at least
    /// `min_score` percent of the text's weight. A text with nothing specific to look up
    /// relates to nothing.
    pub async fn related<R: Resource>(
        &self,
        principal: &Principal,
        (lead, body): (&str, &str),
        condition: Condition,
        (limit, min_score): (usize, i32),
    ) -> Result<Vec<Related<R::Model>>, Error> {
        let grams = text_grams(lead, body);
        let weights = weights::<R, _>(&self.db, principal, &grams).await?;
        if weights.is_empty() {
            return Ok(Vec::new());
        }
        // The candidates come from the rarest grams; their rank then counts every gram.
        let mut by_weight: Vec<(&String, f64)> = weights.iter().map(|(g, w)| (g, *w)).collect();
        by_weight.sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| a.0.cmp(b.0)));
        let informative: Vec<String> = by_weight
            .into_iter()
            .take(MAX_LOOKUP_GRAMS)
            .map(|(g, _)| g.clone())
            .collect();
        let held: Vec<(String, String)> = postings::<R>(principal, informative)
            .column(Column::RecordId)
            .column(Column::Gram)
            .into_tuple()
            .all(&self.db)
            .await?;
        let mut sums: HashMap<String, f64> = HashMap::new();
        for (id, gram) in held {
            *sums.entry(id).or_default() += weights.get(&gram).copied().unwrap_or_default();
        }
        let mut best: Vec<(String, f64)> = sums.into_iter().collect();
        best.sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        best.truncate(MAX_RANKED);
        let columns = R::columns();
        let rows = store::scoped::<R>(principal)
            .filter(columns.id.is_in(best.into_iter().map(|(id, _)| id)))
            .filter(columns.delete_time.is_null())
            .filter(condition)
            .all(&self.db)
            .await?;
        let mut ranked: Vec<(i32, f64, String, R::Model)> = rows
            .into_iter()
            .map(|row| {
                let (score, rank) = rank(&weights, &R::search_fields(&row));
                (score, rank, R::stamps(&row).id, row)
            })
            .filter(|(score, ..)| *score >= std::cmp::max(min_score, 1))
            .collect();
        ranked.sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| a.2.cmp(&b.2)));
        ranked.truncate(limit);
        Ok(ranked
            .into_iter()
            .map(|(score, _, _, model)| Related { model, score })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_text_looks_up_its_lead_first_and_spreads_over_the_rest() {
        let grams = text_grams("打印机", "");
        assert_eq!(grams, ["印机", "打印"]);
        let long: String = (0..200).map(|i| format!("w{i:03}x ")).collect();
        let grams = text_grams("printer offline", &long);
        assert_eq!(grams.len(), MAX_TEXT_GRAMS);
        for lead in ["pri", "off", "lin"] {
            assert!(grams.contains(&lead.to_owned()), "{lead} in {grams:?}");
        }
        assert!(
            grams.contains(&"000".to_owned()),
            "the body's start: {grams:?}"
        );
        assert!(
            grams.iter().any(|g| g.starts_with("19")),
            "the body's end: {grams:?}"
        );
        assert!(text_grams("?", "!").is_empty());
    }

    #[test]
    fn common_grams_weigh_nothing_and_rare_ones_most() {
        assert_eq!(weight(0), None);
        assert_eq!(weight(COMMON_CAP), None);
        let rare = weight(1).unwrap();
        let usual = weight(500).unwrap();
        assert!(rare > 3.0 * usual, "{rare} vs {usual}");
    }

    #[test]
    fn names_count_twice_in_the_rank_not_in_the_score() {
        let weights: HashMap<String, f64> =
            [("打印".to_owned(), 2.0), ("网络".to_owned(), 2.0)].into();
        let titled = [
            ("display_name", "打印机说明".to_owned()),
            ("body", "无".to_owned()),
        ];
        let inside = [
            ("display_name", "说明".to_owned()),
            ("body", "打印机说明".to_owned()),
        ];
        let (score_titled, rank_titled) = rank(&weights, &titled);
        let (score_inside, rank_inside) = rank(&weights, &inside);
        assert_eq!((score_titled, score_inside), (50, 50));
        assert!(rank_titled > rank_inside);
        let both = [("display_name", "打印机网络".to_owned())];
        assert_eq!(rank(&weights, &both).0, 100);
    }
}
