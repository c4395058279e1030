//! Tags and id lists as people send them: trimmed, without repeats, within their limits.

use std::collections::HashSet;

use crm_platform::normalize;
use crm_platform::validate::Violations;

/// Most tags a record carries.
pub const MAX_TAGS: usize = 50;
/// Longest tag, in characters.
const MAX_TAG_CHARS: usize = 50;
/// Most ids one list field names.
const MAX_IDS: usize = 50;

/// Trims tags, drops empty ones and repeats (ignoring case, the first spelling wins) and
/// checks their count and length.
pub fn tags(v: &mut Violations, field: &str, input: &[String]) -> Vec<String> {
    if !v.at_most(field, input.len(), MAX_TAGS) {
        return Vec::new();
    }
    let mut out: Vec<String> = Vec::with_capacity(input.len());
    let mut seen = HashSet::with_capacity(input.len());
    for tag in input {
        let tag = normalize::halfwidth(tag.trim());
        if tag.is_empty() {
            continue;
        }
        if tag.chars().count() > MAX_TAG_CHARS {
            v.add(
                field,
                format!("tag `{tag}` is longer than {MAX_TAG_CHARS} characters"),
            );
            continue;
        }
        if seen.insert(tag.to_lowercase()) {
            out.push(tag);
        }
    }
    out
}

/// Trims ids and drops empty ones and repeats; checks the count.
pub fn ids(v: &mut Violations, field: &str, input: &[String]) -> Vec<String> {
    if !v.at_most(field, input.len(), MAX_IDS) {
        return Vec::new();
    }
    unique_ids(input)
}

/// Trimmed, non-empty ids without repeats, in their first order; linear in the input.
pub fn unique_ids(input: &[String]) -> Vec<String> {
    let mut seen = HashSet::with_capacity(input.len());
    input
        .iter()
        .map(|id| id.trim())
        .filter(|id| !id.is_empty() && seen.insert(*id))
        .map(str::to_owned)
        .collect()
}
