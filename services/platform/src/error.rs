//! The one error type services return, and its single mapping to `tonic::Status` with
//! `google.rpc` details (`ErrorInfo` always, `BadRequest` for validation, `RetryInfo` for quotas).

use std::collections::HashMap;
use std::time::Duration;

use tonic::{Code, Status};
use tonic_types::{ErrorDetails, StatusExt};

/// The `ErrorInfo.domain` of every error the suite returns.
pub const ERROR_DOMAIN: &str = "crm.example.com";

/// One invalid field: which one and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldViolation {
    /// Field path as the client wrote it, for example `contact.email`.
    pub field: String,
    /// What is wrong, lowercase and actionable.
    pub description: String,
}

/// Errors a service reports to its callers. The set is deliberately small; each variant maps to
/// exactly one gRPC code.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The request is malformed; each violation names a field. The message summarises the
    /// first one, so logs and tools that show only the message still say what was wrong.
    #[error("{}", summary(.0))]
    InvalidArgument(Vec<FieldViolation>),
    /// The resource does not exist or the caller may not see it (the two are indistinguishable).
    #[error("{resource} not found")]
    NotFound {
        /// Resource type, for example `contact`.
        resource: &'static str,
        /// The id the caller asked for.
        id: String,
    },
    /// A resource with the same identity already exists.
    #[error("{message}")]
    AlreadyExists {
        /// UPPER_SNAKE reason.
        reason: &'static str,
        /// Lowercase explanation.
        message: String,
        /// Machine-readable facts, lowerCamelCase keys.
        metadata: HashMap<String, String>,
    },
    /// The resource is not in a state that allows the call.
    #[error("{message}")]
    FailedPrecondition {
        /// UPPER_SNAKE reason.
        reason: &'static str,
        /// Lowercase explanation.
        message: String,
    },
    /// A field's state does not allow the call (a quote's status does not allow sending it):
    /// `FAILED_PRECONDITION` whose violation names the field.
    #[error("{message}")]
    WrongState {
        /// UPPER_SNAKE reason.
        reason: &'static str,
        /// The field whose state refuses it ("quote.status").
        field: &'static str,
        /// Lowercase explanation.
        message: String,
    },
    /// The caller holds the permission but is not the person the record waits on (another
    /// manager deciding someone else's approval step).
    #[error("{message}")]
    NotTheActor {
        /// UPPER_SNAKE reason.
        reason: &'static str,
        /// Lowercase explanation.
        message: String,
    },
    /// A concurrent change won: the etag the caller sent is stale.
    #[error("{resource} was changed by someone else; get it again and retry")]
    StaleEtag {
        /// Resource type.
        resource: &'static str,
    },
    /// The caller lacks a permission.
    #[error("missing permission {permission}")]
    PermissionDenied {
        /// The permission the call needs.
        permission: String,
    },
    /// The caller tried to grant access it does not hold itself (a role, a permission, a data
    /// scope, or control over a user who holds more).
    #[error("{message}")]
    GrantDenied {
        /// The request field that names the grant.
        field: String,
        /// Lowercase explanation.
        message: String,
    },
    /// The caller is not authenticated.
    #[error("{0}")]
    Unauthenticated(&'static str),
    /// The caller sent too many requests.
    #[error("rate limit exceeded")]
    RateLimited {
        /// When a retry may succeed.
        retry_after: Duration,
    },
    /// A dependency is down; the call may succeed later.
    #[error("service temporarily unavailable")]
    Unavailable(String),
    /// A bug or an unexpected failure; the cause is logged, never sent.
    #[error("internal error")]
    Internal(String),
}

/// `field: why (and N more)`, from the first of `violations`.
fn summary(violations: &[FieldViolation]) -> String {
    let Some(first) = violations.first() else {
        return "invalid argument".to_owned();
    };
    let head = if first.field.is_empty() {
        first.description.clone()
    } else {
        format!("{}: {}", first.field, first.description)
    };
    match violations.len() {
        1 => head,
        n => format!("{head} (and {} more)", n - 1),
    }
}

/// Result alias for service code.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// Builds an `InvalidArgument` error for one field.
    pub fn invalid(field: impl Into<String>, description: impl Into<String>) -> Self {
        Error::InvalidArgument(vec![FieldViolation {
            field: field.into(),
            description: description.into(),
        }])
    }

    /// Builds a `NotFound` error.
    pub fn not_found(resource: &'static str, id: impl Into<String>) -> Self {
        Error::NotFound {
            resource,
            id: id.into(),
        }
    }

    /// Builds a `FailedPrecondition` error.
    pub fn precondition(reason: &'static str, message: impl Into<String>) -> Self {
        Error::FailedPrecondition {
            reason,
            message: message.into(),
        }
    }

    /// Builds a `WrongState` error.
    pub fn wrong_state(
        reason: &'static str,
        field: &'static str,
        message: impl Into<String>,
    ) -> Self {
        Error::WrongState {
            reason,
            field,
            message: message.into(),
        }
    }

    /// Builds an `Internal` error from any displayable cause.
    pub fn internal(cause: impl std::fmt::Display) -> Self {
        Error::Internal(cause.to_string())
    }
}

impl From<sea_orm::DbErr> for Error {
    fn from(err: sea_orm::DbErr) -> Self {
        use sea_orm::{DbErr, RuntimeErr};
        // A database that cannot be reached, or that rolled a transaction back to resolve a
        // conflict, is a fault the caller may retry (UNAVAILABLE); anything else is a bug
        // (INTERNAL).
        let retryable = match &err {
            DbErr::ConnectionAcquire(_) | DbErr::Conn(_) => true,
            DbErr::Exec(RuntimeErr::SqlxError(e)) | DbErr::Query(RuntimeErr::SqlxError(e)) => {
                match e.as_ref() {
                    sea_orm::sqlx::Error::Io(_)
                    | sea_orm::sqlx::Error::PoolTimedOut
                    | sea_orm::sqlx::Error::PoolClosed
                    | sea_orm::sqlx::Error::WorkerCrashed => true,
                    // SQLSTATE classes 08 (connection), 40 (transaction rollback: deadlock,
                    // serialization failure), 53 (insufficient resources) and 57 (operator
                    // intervention: shutdown, crash, not yet accepting connections).
                    sea_orm::sqlx::Error::Database(db) => db.code().is_some_and(|code| {
                        ["08", "40", "53", "57"].iter().any(|c| code.starts_with(c))
                    }),
                    _ => false,
                }
            }
            _ => false,
        };
        if retryable {
            Error::Unavailable(err.to_string())
        } else {
            Error::Internal(err.to_string())
        }
    }
}

impl From<Error> for Status {
    fn from(err: Error) -> Self {
        let message = err.to_string();
        let mut details = ErrorDetails::new();
        let mut metadata = HashMap::new();
        let (code, reason) = match err {
            Error::InvalidArgument(violations) => {
                for v in violations {
                    details.add_bad_request_violation(v.field, v.description);
                }
                (Code::InvalidArgument, "INVALID_ARGUMENT")
            }
            Error::NotFound { resource, id } => {
                metadata.insert("resource".to_owned(), resource.to_owned());
                metadata.insert("id".to_owned(), id);
                (Code::NotFound, "NOT_FOUND")
            }
            Error::AlreadyExists {
                reason,
                metadata: facts,
                ..
            } => {
                metadata = facts;
                (Code::AlreadyExists, reason)
            }
            Error::FailedPrecondition { reason, .. } => {
                details.add_precondition_failure_violation(reason, "state", message.clone());
                (Code::FailedPrecondition, reason)
            }
            Error::WrongState { reason, field, .. } => {
                details.add_precondition_failure_violation(reason, field, message.clone());
                metadata.insert("field".to_owned(), field.to_owned());
                (Code::FailedPrecondition, reason)
            }
            Error::NotTheActor { reason, .. } => (Code::PermissionDenied, reason),
            Error::StaleEtag { resource } => {
                metadata.insert("resource".to_owned(), resource.to_owned());
                (Code::Aborted, "STALE_ETAG")
            }
            Error::PermissionDenied { permission } => {
                metadata.insert("permission".to_owned(), permission);
                (Code::PermissionDenied, "PERMISSION_DENIED")
            }
            Error::GrantDenied { field, .. } => {
                metadata.insert("field".to_owned(), field);
                (Code::PermissionDenied, "GRANT_EXCEEDS_CALLER")
            }
            Error::Unauthenticated(_) => (Code::Unauthenticated, "UNAUTHENTICATED"),
            Error::RateLimited { retry_after } => {
                details.set_retry_info(Some(retry_after));
                (Code::ResourceExhausted, "RATE_LIMITED")
            }
            Error::Unavailable(cause) => {
                tracing::warn!(cause = %cause, "dependency unavailable");
                (Code::Unavailable, "UNAVAILABLE")
            }
            Error::Internal(cause) => {
                tracing::error!(cause = %cause, "internal error");
                (Code::Internal, "INTERNAL")
            }
        };
        details.set_error_info(reason, ERROR_DOMAIN, metadata);
        Status::with_error_details(code, message, details)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validation_errors_carry_field_violations_and_reason() {
        let status = Status::from(Error::invalid("contact.email", "not an email address"));
        assert_eq!(status.code(), Code::InvalidArgument);
        let details = status.get_error_details();
        let bad = details.bad_request().expect("bad request details");
        assert_eq!(bad.field_violations[0].field, "contact.email");
        assert_eq!(
            details.error_info().expect("error info").reason,
            "INVALID_ARGUMENT"
        );
        assert_eq!(status.message(), "contact.email: not an email address");
        let several = Error::InvalidArgument(
            ["a", "b", "c"]
                .iter()
                .map(|f| FieldViolation {
                    field: (*f).to_owned(),
                    description: "is required".to_owned(),
                })
                .collect(),
        );
        assert_eq!(
            Status::from(several).message(),
            "a: is required (and 2 more)"
        );
    }

    #[test]
    fn internal_causes_never_reach_the_caller() {
        let status = Status::from(Error::internal("relation \"contacts\" does not exist"));
        assert_eq!(status.code(), Code::Internal);
        assert!(!status.message().contains("relation"));
    }
}
