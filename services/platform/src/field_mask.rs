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
}
