//! A small, strict subset of AIP-160 filters: comparisons joined by `AND`.
//!
//! `owner_id = "u1" AND display_name : "acme" AND create_time > "2026-01-01T00:00:00Z"`
//!
//! Services translate the parsed comparisons against an allow-list of fields; anything else
//! is `INVALID_ARGUMENT` on the `filter` field. The caller's data scope is applied outside the
//! filter, so no filter can widen what a caller sees.

use crate::error::Error;

/// Longest filter accepted, in bytes.
const MAX_FILTER_LEN: usize = 2_000;
/// Most comparisons in one filter.
const MAX_COMPARISONS: usize = 16;

/// A comparison operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    /// `=`
    Eq,
    /// `!=`
    Ne,
    /// `<`
    Lt,
    /// `<=`
    Le,
    /// `>`
    Gt,
    /// `>=`
    Ge,
    /// `:` (has / contains, case-insensitive for text)
    Has,
}

/// One `field op value` comparison.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Comparison {
    /// Field name as written.
    pub field: String,
    /// Operator.
    pub op: Op,
    /// Value, unquoted.
    pub value: String,
}

impl Op {
    /// The operator as written.
    pub fn as_str(self) -> &'static str {
        match self {
            Op::Eq => "=",
            Op::Ne => "!=",
            Op::Lt => "<",
            Op::Le => "<=",
            Op::Gt => ">",
            Op::Ge => ">=",
            Op::Has => ":",
        }
    }
}

/// Writes comparisons back as a filter that parses to the same comparisons.
pub fn render(comparisons: &[Comparison]) -> String {
    comparisons
        .iter()
        .map(|c| {
            let value = c.value.replace('\\', "\\\\").replace('"', "\\\"");
            format!("{} {} \"{value}\"", c.field, c.op.as_str())
        })
        .collect::<Vec<_>>()
        .join(" AND ")
}

fn invalid(why: impl Into<String>) -> Error {
    Error::invalid("filter", why)
}

/// Parses a filter into its comparisons; an empty filter has none.
pub fn parse(filter: &str) -> Result<Vec<Comparison>, Error> {
    if filter.len() > MAX_FILTER_LEN {
        return Err(invalid(format!("longer than {MAX_FILTER_LEN} bytes")));
    }
    let tokens = tokenize(filter)?;
    let mut out = Vec::new();
    let mut rest = tokens.as_slice();
    while !rest.is_empty() {
        let [Token::Word(field), Token::Op(op), value, tail @ ..] = rest else {
            return Err(invalid("expected `field operator value`"));
        };
        let value = match value {
            Token::Word(v) | Token::Quoted(v) => v.clone(),
            Token::Op(_) => return Err(invalid("expected a value after the operator")),
        };
        // Dots name nested fields (`custom.segment`).
        let is_name = |part: &str| {
            !part.is_empty() && part.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        };
        if !field.split('.').all(is_name) {
            return Err(invalid(format!("`{field}` is not a field name")));
        }
        out.push(Comparison {
            field: field.clone(),
            op: *op,
            value,
        });
        rest = match tail {
            [] => &[],
            [Token::Word(and), tail @ ..] if and == "AND" && !tail.is_empty() => tail,
            _ => return Err(invalid("comparisons must be joined by AND")),
        };
        if out.len() > MAX_COMPARISONS {
            return Err(invalid(format!("more than {MAX_COMPARISONS} comparisons")));
        }
    }
    Ok(out)
}

#[derive(Debug)]
enum Token {
    Word(String),
    Quoted(String),
    Op(Op),
}

fn tokenize(input: &str) -> Result<Vec<Token>, Error> {
    let mut tokens = Vec::new();
    let mut chars = input.chars().peekable();
    while let Some(&c) = chars.peek() {
        match c {
            c if c.is_whitespace() => {
                chars.next();
            }
            '"' => {
                chars.next();
                let mut value = String::new();
                loop {
                    match chars.next() {
                        Some('"') => break,
                        Some('\\') => match chars.next() {
                            Some(escaped) => value.push(escaped),
                            None => return Err(invalid("unterminated string")),
                        },
                        Some(ch) => value.push(ch),
                        None => return Err(invalid("unterminated string")),
                    }
                }
                tokens.push(Token::Quoted(value));
            }
            '=' | ':' => {
                chars.next();
                tokens.push(Token::Op(if c == '=' { Op::Eq } else { Op::Has }));
            }
            '!' | '<' | '>' => {
                chars.next();
                let with_eq = chars.peek() == Some(&'=');
                if with_eq {
                    chars.next();
                }
                tokens.push(Token::Op(match (c, with_eq) {
                    ('!', true) => Op::Ne,
                    ('<', false) => Op::Lt,
                    ('<', true) => Op::Le,
                    ('>', false) => Op::Gt,
                    ('>', true) => Op::Ge,
                    _ => return Err(invalid("unknown operator `!`")),
                }));
            }
            '(' | ')' => return Err(invalid("parentheses are not supported")),
            _ => {
                let mut word = String::new();
                while let Some(&ch) = chars.peek() {
                    if ch.is_whitespace() || "=:!<>\"()".contains(ch) {
                        break;
                    }
                    word.push(ch);
                    chars.next();
                }
                tokens.push(Token::Word(word));
            }
        }
    }
    Ok(tokens)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_conjunctions_of_comparisons() {
        let parsed =
            parse(r#"owner_id = "u1" AND display_name : "Acme \"Ltd\"" AND n >= 3"#).unwrap();
        assert_eq!(parsed.len(), 3);
        assert_eq!(parsed[1].op, Op::Has);
        assert_eq!(parsed[1].value, "Acme \"Ltd\"");
        assert_eq!(parsed[2].op, Op::Ge);
        assert!(parse("").unwrap().is_empty());
        assert_eq!(
            parse("custom.segment = x").unwrap()[0].field,
            "custom.segment"
        );
    }

    #[test]
    fn rejects_what_it_does_not_understand() {
        for bad in [
            "owner_id",
            "a = ",
            "a = 1 OR b = 2",
            "a = 1 AND",
            "(a = 1)",
            "a = \"open",
            "a..b = 1",
            "a. = 1",
            ".a = 1",
            "a ! 1",
        ] {
            assert!(parse(bad).is_err(), "{bad}");
        }
        assert!(parse(&"a = 1 AND ".repeat(300)).is_err());
    }
}
