//! Tables the machinery owns in each service's database.

pub mod custom_field;
pub mod directory_team;
pub mod directory_user;
pub mod document_number;
pub mod record_index;
pub mod search_gram;
pub mod tenant_setting;
