//! Hidden existence, checked the same way for every RPC that takes an id: a caller who may not
//! see a record (in the tenant but outside its data scope, or in another tenant) must be told
//! exactly what a well-formed unknown id gets: the same code, `ErrorInfo.reason`, message (the
//! id masked) and detail keys, or the same answer when the call succeeds.

use std::future::Future;

use tonic::Status;
use tonic_types::StatusExt as _;

use super::clients::Session;

/// What an answer shows its caller, with the asked-for id masked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Shown {
    /// A refusal.
    Refused {
        code: tonic::Code,
        reason: String,
        message: String,
        detail_keys: Vec<String>,
    },
    /// A success, as the RPC's own summary of it.
    Answered(String),
}

/// What `status` shows, with `id` masked in its message and metadata values ignored.
pub fn refusal(status: &Status, id: &str) -> Shown {
    let details = status.get_error_details();
    let mut detail_keys: Vec<String> = Vec::new();
    if let Some(info) = details.error_info() {
        detail_keys.extend(info.metadata.keys().map(|k| format!("info.{k}")));
    }
    if let Some(bad) = details.bad_request() {
        detail_keys.extend(
            bad.field_violations
                .iter()
                .map(|v| format!("field.{}: {}", v.field, v.description.replace(id, "<id>"))),
        );
    }
    if let Some(failure) = details.precondition_failure() {
        detail_keys.extend(
            failure
                .violations
                .iter()
                .map(|v| format!("state.{}", v.r#type)),
        );
    }
    detail_keys.sort();
    Shown::Refused {
        code: status.code(),
        reason: details
            .error_info()
            .map(|i| i.reason.clone())
            .unwrap_or_default(),
        message: if id.is_empty() {
            status.message().to_owned()
        } else {
            status.message().replace(id, "<id>")
        },
        detail_keys,
    }
}

/// One way of asking about a record: who asks, and with which id.
#[derive(Clone)]
pub struct Asker {
    /// Names the case in failures.
    pub label: &'static str,
    pub session: Session,
    pub id: String,
}

/// Calls `rpc` as every asker of `hidden` and as `unknown`, and asserts that each hidden case
/// shows exactly what the unknown id shows. `call` returns the RPC's own summary of a success.
/// Returns what was shown, for the caller to check further (that it is a refusal, say).
pub async fn assert_hidden<F, Fut>(rpc: &str, hidden: &[Asker], unknown: &Asker, call: F) -> Shown
where
    F: Fn(Session, String) -> Fut,
    Fut: Future<Output = Result<String, Status>>,
{
    let shown = |asker: &Asker, result: Result<String, Status>| match result {
        Ok(summary) => Shown::Answered(summary.replace(&asker.id, "<id>")),
        Err(status) => refusal(&status, &asker.id),
    };
    let expected = shown(
        unknown,
        call(unknown.session.clone(), unknown.id.clone()).await,
    );
    for asker in hidden {
        let got = shown(asker, call(asker.session.clone(), asker.id.clone()).await);
        assert_eq!(
            got, expected,
            "{rpc}: {} is told something an unknown id is not",
            asker.label
        );
    }
    expected
}
