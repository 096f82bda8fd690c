//! The one mapping from service errors to GraphQL: user errors into payloads, the rest into
//! top-level errors with `extensions.code`.

use async_graphql::{ErrorExtensions, SimpleObject};
use choso_services::Error;

/// A mistake the user can fix (contract type `UserError`).
#[derive(SimpleObject, Debug, Clone)]
pub struct UserError {
    pub field: Option<Vec<String>>,
    pub message: String,
    pub code: String,
}

impl From<choso_services::UserError> for UserError {
    fn from(e: choso_services::UserError) -> Self {
        UserError {
            field: if e.field.is_empty() {
                None
            } else {
                Some(e.field)
            },
            message: e.message,
            code: e.code,
        }
    }
}

/// Turns a non-user service error into a top-level GraphQL error.
pub fn top_level(e: Error) -> async_graphql::Error {
    let code = e.code();
    let message = if e.is_fault() {
        tracing::error!(error = %e, "request failed");
        match e {
            Error::Unavailable => "The service is temporarily unavailable; try again.".to_string(),
            _ => "Internal error: it has been logged.".to_string(),
        }
    } else {
        match &e {
            Error::Invalid(errs) => errs
                .iter()
                .map(|u| u.message.clone())
                .collect::<Vec<_>>()
                .join(" "),
            Error::Unauthenticated => "Sign in first.".to_string(),
            Error::Forbidden => "You are not allowed to do this.".to_string(),
            other => other.to_string(),
        }
    };
    let retry_after = match e {
        Error::Throttled(secs) => Some(secs),
        _ => None,
    };
    async_graphql::Error::new(message).extend_with(|_, ext| {
        ext.set("code", code);
        if let Some(secs) = retry_after {
            ext.set("retryAfter", secs);
        }
    })
}

/// Splits a service result for a mutation payload: `Ok(Some(v), [])`, `Ok(None, userErrors)`,
/// or a top-level error.
pub fn payload<T>(r: Result<T, Error>) -> async_graphql::Result<(Option<T>, Vec<UserError>)> {
    match r {
        Ok(v) => Ok((Some(v), vec![])),
        Err(Error::Invalid(errs)) => Ok((None, errs.into_iter().map(UserError::from).collect())),
        Err(e) => Err(top_level(e)),
    }
}

/// For queries: any service error becomes a top-level error.
pub trait OrTopLevel<T> {
    fn gql(self) -> async_graphql::Result<T>;
}

impl<T> OrTopLevel<T> for Result<T, Error> {
    fn gql(self) -> async_graphql::Result<T> {
        self.map_err(top_level)
    }
}
