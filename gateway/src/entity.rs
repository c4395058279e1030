//! sea-orm entities of the identity store. Lists of ids (a user's roles and teams, a role's
//! or key's permissions) are stored as comma-separated text: they are small, always read
//! whole, and never joined on.

pub mod api_key;
pub mod refresh_token;
pub mod role;
pub mod team;
pub mod tenant;
pub mod user;

/// Splits a stored comma-separated list.
pub fn split(list: &str) -> Vec<String> {
    list.split(',')
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

/// Joins a list for storage.
pub fn join(items: &[String]) -> String {
    items.join(",")
}
