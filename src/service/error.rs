use crate::db::StorageError;
use crate::domain::RuleViolation;

/// Why a use case did not give its result. The GraphQL layer maps each
/// variant to one `extensions.code`.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    #[error("forbidden: {0}")]
    Forbidden(&'static str),
    #[error("{0} not found")]
    NotFound(&'static str),
    #[error(transparent)]
    Rule(#[from] RuleViolation),
    #[error("the database is unavailable")]
    Unavailable(#[source] StorageError),
    #[error("internal error")]
    Internal(#[source] StorageError),
}

impl From<StorageError> for ServiceError {
    fn from(error: StorageError) -> Self {
        match error {
            StorageError::Rule(violation) => ServiceError::Rule(violation),
            StorageError::Unavailable(_) => ServiceError::Unavailable(error),
            other => ServiceError::Internal(other),
        }
    }
}
