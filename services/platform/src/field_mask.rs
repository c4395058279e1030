//! Update masks after AIP-134: the paths an update may change, checked against an allow-list.

use crate::error::Error;

/// Resolves an update mask to the fields to change. An empty mask means every updatable field
/// the request sets; `*` means every updatable field; output-only and unknown paths are
/// refused by name. A field named twice counts once, and a mask naming more paths than the
/// resource has fields is refused before any is looked at.
pub fn resolve(
    paths: &[String],
    updatable: &[&'static str],
    output_only: &[&str],
    is_set: impl Fn(&str) -> bool,
) -> Result<Vec<&'static str>, Error> {
    if paths.is_empty() {
        return Ok(updatable.iter().copied().filter(|f| is_set(f)).collect());
    }
    let most = updatable.len() + output_only.len();
    if paths.len() > most {
        return Err(Error::invalid(
            "update_mask",
            format!(
                "names {} paths; this resource has {most} fields",
                paths.len()
            ),
        ));
    }
    let mut fields = Vec::with_capacity(paths.len());
    for path in paths {
        if path == "*" {
            return Ok(updatable.to_vec());
        }
        match updatable.iter().find(|f| **f == path.as_str()) {
            Some(field) if fields.contains(field) => {}
            Some(field) => fields.push(*field),
            None if output_only.contains(&path.as_str()) => {
                return Err(Error::invalid(
                    "update_mask",
                    format!("`{path}` is output only"),
                ));
            }
            None => {
                return Err(Error::invalid(
                    "update_mask",
                    format!("`{path}` is not an updatable field"),
                ));
            }
        }
    }
    Ok(fields)
}

/// A resource's updatable fields as an enum, so that every place that handles them matches
/// them exhaustively instead of comparing strings.
pub trait Field: Copy + PartialEq + 'static {
    /// Every updatable field, in the order an update applies them.
    const ALL: &'static [Self];
    /// Its name in masks and errors.
    fn name(self) -> &'static str;
}

/// [`resolve`] for a resource whose updatable fields are an enum.
pub fn resolve_fields<F: Field>(
    paths: &[String],
    output_only: &[&str],
    is_set: impl Fn(F) -> bool,
) -> Result<Vec<F>, Error> {
    let names: Vec<&'static str> = F::ALL.iter().map(|f| f.name()).collect();
    let field_of = |name: &str| F::ALL.iter().copied().find(|f| f.name() == name);
    let resolved = resolve(paths, &names, output_only, |name| {
        field_of(name).is_some_and(&is_set)
    })?;
    Ok(resolved.into_iter().filter_map(field_of).collect())
}

/// Whether a write with `mask` changes `field`; without a mask, whether it is `sent`.
pub fn writes(mask: Option<&prost_types::FieldMask>, field: &str, sent: bool) -> bool {
    match mask {
        Some(mask) if !mask.paths.is_empty() => mask.paths.iter().any(|p| p == field || p == "*"),
        _ => sent,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolves_masks() {
        let updatable = ["name", "email"];
        let set = |f: &str| f == "email";
        assert_eq!(resolve(&[], &updatable, &["id"], set).unwrap(), ["email"]);
        assert_eq!(
            resolve(&["*".into()], &updatable, &["id"], set).unwrap(),
            ["name", "email"]
        );
        assert!(resolve(&["id".into()], &updatable, &["id"], set).is_err());
        assert!(resolve(&["nope".into()], &updatable, &["id"], set).is_err());
        let twice = ["email".to_owned(), "email".to_owned()];
        assert_eq!(
            resolve(&twice, &updatable, &["id"], set).unwrap(),
            ["email"]
        );
        let many = vec!["email".to_owned(); 60_000];
        assert!(resolve(&many, &updatable, &["id"], set).is_err());
    }

    #[derive(Debug, Clone, Copy, PartialEq)]
    enum Person {
        Name,
        Email,
    }

    impl Field for Person {
        const ALL: &'static [Self] = &[Person::Name, Person::Email];
        fn name(self) -> &'static str {
            match self {
                Person::Name => "name",
                Person::Email => "email",
            }
        }
    }

    #[test]
    fn resolves_masks_of_enum_fields() {
        let set = |f: Person| f == Person::Email;
        assert_eq!(resolve_fields(&[], &["id"], set).unwrap(), [Person::Email]);
        let all = resolve_fields(&["*".into()], &["id"], set).unwrap();
        assert_eq!(all, [Person::Name, Person::Email]);
        assert!(resolve_fields::<Person>(&["id".into()], &["id"], set).is_err());
    }
}
