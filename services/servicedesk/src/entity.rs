//! The service desk's tables.

pub mod article;
pub mod article_revision;
pub mod entitlement;
pub mod queue;
pub mod ticket;
pub mod ticket_article;
pub mod ticket_message;
pub mod ticket_survey;
