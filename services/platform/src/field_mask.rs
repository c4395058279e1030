//! Update masks after AIP-134: the paths an update may change, checked against an allow-list.

use crate::error::Error;

/// Resolves an update mask to the fields to change. An empty mask means every updatable field
/// the request sets; `*` means every updatable field; output-only and unknown paths are
/// refused by name.
pub fn resolve(
    paths: &[String],
    updatable: &[&'static str],
    output_only: &[&str],
    is_set: impl Fn(&str) -> bool,
) -> Result<Vec<&'static str>, Error> {
    if paths.is_empty() {
        return Ok(updatable.iter().copied().filter(|f| is_set(f)).collect());
    }
    let mut fields = Vec::with_capacity(paths.len());
    for path in paths {
        if path == "*" {
            return Ok(updatable.to_vec());
        }
        match updatable.iter().find(|f| **f == path.as_str()) {
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
    }
}
