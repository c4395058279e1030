//! Tables the machinery owns in each service's database.

pub mod custom_field;
pub mod record_index;
pub mod search_gram;
