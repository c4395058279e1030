//! Tables the machinery owns in each service's database.

pub mod record_index;
