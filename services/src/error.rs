//! The one error type of choso-services.
//!
//! `Error::Invalid` carries user errors (something the caller can fix: a bad phone, a taken
//! slug); the GraphQL layer turns them into `userErrors` entries and the web handlers into
//! messages next to form fields. `Unauthenticated`/`Forbidden`/`NotFound` are access errors.
//! Everything else is a fault: logged with the request id and shown as a generic message.

use crate::text::TextError;

/// Something the user can fix, with a stable SCREAMING_SNAKE code.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct UserError {
    /// Path to the input field, e.g. `["input", "email"]`; empty when not about one field.
    pub field: Vec<String>,
    pub message: String,
    pub code: String,
}

impl UserError {
    pub fn new(field: &[&str], code: &str, message: impl Into<String>) -> Self {
        UserError {
            field: field.iter().map(|s| s.to_string()).collect(),
            message: message.into(),
            code: code.to_string(),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("invalid input: {0:?}")]
    Invalid(Vec<UserError>),
    #[error("authentication required")]
    Unauthenticated,
    #[error("not allowed")]
    Forbidden,
    #[error("{0} not found")]
    NotFound(&'static str),
    #[error("the service is temporarily unavailable")]
    Unavailable,
    /// The shop's request budget is spent; retry after this many seconds.
    #[error("too many requests for this shop; retry in {0} s")]
    Throttled(u64),
    #[error("database error: {0}")]
    Db(sqlx::Error),
    /// A failure on the order writer's own SQLite connection (`sqlite_direct`).
    #[error("database error: {0}")]
    Sqlite(crate::sqlite_direct::Failure),
    #[error("internal error: {0}")]
    Internal(String),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// A single user error.
    pub fn user(field: &[&str], code: &str, message: impl Into<String>) -> Self {
        Error::Invalid(vec![UserError::new(field, code, message)])
    }

    /// A text parse error reported against an input field.
    pub fn text(field: &[&str], e: TextError) -> Self {
        Error::user(field, e.code(), e.to_string())
    }

    /// A stable code for access and fault errors (top-level GraphQL `extensions.code`).
    pub fn code(&self) -> &'static str {
        match self {
            Error::Invalid(_) => "BAD_USER_INPUT",
            Error::Unauthenticated => "UNAUTHENTICATED",
            Error::Forbidden => "FORBIDDEN",
            Error::NotFound(_) => "NOT_FOUND",
            Error::Unavailable => "UNAVAILABLE",
            Error::Throttled(_) => "THROTTLED",
            Error::Db(_) | Error::Sqlite(_) | Error::Internal(_) => "INTERNAL",
        }
    }

    /// True for faults that must be logged rather than shown.
    pub fn is_fault(&self) -> bool {
        matches!(
            self,
            Error::Db(_) | Error::Sqlite(_) | Error::Internal(_) | Error::Unavailable
        )
    }

    /// The unique-constraint name, if this is a unique violation (to turn races into user
    /// errors: `SLUG_TAKEN`, `EMAIL_TAKEN`).
    pub fn unique_violation(&self) -> Option<String> {
        match self {
            Error::Db(sqlx::Error::Database(e)) if e.is_unique_violation() => Some(
                e.constraint()
                    .map(str::to_string)
                    .unwrap_or_else(|| e.message().to_string()),
            ),
            Error::Sqlite(f) if f.is_unique_violation() => Some(f.message.clone()),
            _ => None,
        }
    }
}

impl From<crate::sqlite_direct::Failure> for Error {
    fn from(f: crate::sqlite_direct::Failure) -> Self {
        if f.is_unavailable() {
            tracing::warn!(error = %f, "database unavailable");
            Error::Unavailable
        } else {
            Error::Sqlite(f)
        }
    }
}

impl From<sqlx::Error> for Error {
    fn from(e: sqlx::Error) -> Self {
        if crate::db::is_unavailable(&e) {
            tracing::warn!(error = %e, "database unavailable");
            Error::Unavailable
        } else {
            Error::Db(e)
        }
    }
}

impl From<TextError> for Error {
    fn from(e: TextError) -> Self {
        Error::user(&[], e.code(), e.to_string())
    }
}
